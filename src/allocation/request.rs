//! The rules of an allocation request, pure (no I/O, no clock): what a valid demand is,
//! the request's and the shipment's statuses with their transitions, what a request's
//! lines make its status, how the stock it holds groups into shipments, and what a
//! delivery may say.
//!
//! Invariants: a [`Demand`] has 1 to [`MAX_LINES`] lines, one per item (same-SKU lines
//! merged in order of first appearance), each with a positive quantity that fits in
//! `i64`; a dispatched or cancelled request never changes again; a shipment is delivered
//! once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Priority;
use crate::error::AppError;
use crate::ids::{IncidentId, ItemId, LotId, RequestId, ShipmentId, WarehouseId};
use crate::planner::{self, DemandLine, ItemPolicy, PlanStatus};

/// Most lines a request may have.
pub const MAX_LINES: usize = 200;

/// Longest delivery note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// Why the allocation domain refuses a command. Each converts into the problem document
/// (status, pointer and text) the API has always given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request has no lines.
    #[error("a request needs at least one line")]
    NoLines,
    /// The request has more than [`MAX_LINES`] lines.
    #[error("a request may have at most {MAX_LINES} lines")]
    TooManyLines,
    /// Line `0` asks for zero or less.
    #[error("qty must be greater than 0")]
    QtyNotPositive(usize),
    /// Line `0` names a SKU the catalogue does not have.
    #[error("unknown SKU `{1}`")]
    UnknownSku(usize, String),
    /// Line `0` names a retired item: it is no longer requested.
    #[error("item `{1}` is retired: it can no longer be requested")]
    RetiredSku(usize, String),
    /// The lines of one SKU, up to line `0`, add up beyond `i64`.
    #[error("quantity too large")]
    QtyTooLarge(usize),
    /// No incident with this id.
    #[error("no incident with id {0}")]
    NoIncident(IncidentId),
    /// The incident is closed; `pointer` names the field that gave its id.
    #[error("incident {id} is closed; it takes no new requests")]
    IncidentClosed {
        /// The incident.
        id: IncidentId,
        /// `incident_id` (path) or `/incident_id` (body).
        pointer: &'static str,
    },
    /// No request with this id.
    #[error("no allocation request with id {0}")]
    NoRequest(RequestId),
    /// The request is dispatched or cancelled: it can no longer change.
    #[error("cannot {} a request that is {}", .change.verb(), .status.as_str())]
    Final {
        /// What was asked.
        change: Change,
        /// Its status.
        status: RequestStatus,
    },
    /// Dispatch of a request that holds nothing.
    #[error("nothing is reserved for this request; replan it first")]
    NothingReserved,
    /// No shipment with this id.
    #[error("no shipment with id {0}")]
    NoShipment(ShipmentId),
    /// The shipment was already delivered.
    #[error("this shipment was already delivered")]
    AlreadyDelivered,
    /// Delivery line `0` names a lot the shipment does not carry.
    #[error("this lot is not in the shipment")]
    LotNotShipped(usize),
    /// Delivery line `0` names a lot an earlier line named.
    #[error("this lot is listed twice; give one line per lot")]
    LotListedTwice(usize),
    /// Delivery line `index` received more than was shipped, or less than 0.
    #[error("received_qty must be between 0 and the {shipped} shipped, got {received}")]
    ReceivedOutOfRange {
        /// The delivery line.
        index: usize,
        /// Shipped of its lot.
        shipped: i64,
        /// What it says arrived.
        received: i64,
    },
    /// Less arrived than was shipped, and the note does not say why.
    #[error("less arrived than was shipped: say in the note what happened to the rest")]
    ShortWithoutNote,
    /// The delivery note is longer than [`MAX_NOTE_CHARS`].
    #[error("at most 1000 characters")]
    NoteTooLong,
    /// Every attempt lost a race, the last one too (which plans under the lots' locks,
    /// so only a concurrent change of a reserve level or of the request can do that).
    #[error("the request collided with a concurrent change; retry it")]
    Contended,
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> AppError {
        let detail = r.to_string();
        match r {
            Refusal::NoLines | Refusal::TooManyLines => AppError::invalid("/lines", detail),
            Refusal::QtyNotPositive(i) | Refusal::QtyTooLarge(i) => {
                AppError::invalid(format!("/lines/{i}/qty"), detail)
            }
            Refusal::UnknownSku(i, _) | Refusal::RetiredSku(i, _) => {
                AppError::invalid(format!("/lines/{i}/sku"), detail)
            }
            Refusal::NoIncident(_) | Refusal::NoRequest(_) | Refusal::NoShipment(_) => {
                AppError::not_found(detail)
            }
            Refusal::IncidentClosed { pointer, .. } => AppError::conflict(
                pointer,
                detail,
                Some(serde_json::json!({ "incident_status": "closed" })),
            ),
            Refusal::Final { status, .. } => AppError::conflict(
                "id",
                detail,
                Some(serde_json::json!({ "request_status": status.as_str() })),
            ),
            Refusal::NothingReserved | Refusal::AlreadyDelivered => {
                AppError::conflict("id", detail, None)
            }
            Refusal::LotNotShipped(i) | Refusal::LotListedTwice(i) => {
                AppError::invalid(format!("/lines/{i}/lot_id"), detail)
            }
            Refusal::ReceivedOutOfRange { index, .. } => {
                AppError::invalid(format!("/lines/{index}/received_qty"), detail)
            }
            Refusal::ShortWithoutNote | Refusal::NoteTooLong => AppError::invalid("/note", detail),
            Refusal::Contended => AppError::Conflict {
                detail,
                errors: vec![],
                extra: None,
            },
        }
    }
}

/// A request's status, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RequestStatus {
    /// Every line is reserved in full.
    Reserved,
    /// Some, not all, of the demand is reserved.
    PartiallyReserved,
    /// Nothing is reserved.
    Unfilled,
    /// The reserved stock left in shipments. Final.
    Dispatched,
    /// The reservations were released. Final.
    Cancelled,
}

/// A change asked of a stored request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Fill the shortfall from the stock available now.
    Replan,
    /// Ship what is reserved.
    Dispatch,
    /// Release what is reserved.
    Cancel,
}

impl Change {
    /// The verb, as problem texts say it.
    pub fn verb(self) -> &'static str {
        match self {
            Change::Replan => "replan",
            Change::Dispatch => "dispatch",
            Change::Cancel => "cancel",
        }
    }
}

impl RequestStatus {
    /// Every status, in the order the API lists them.
    pub const ALL: [RequestStatus; 5] = [
        RequestStatus::Reserved,
        RequestStatus::PartiallyReserved,
        RequestStatus::Unfilled,
        RequestStatus::Dispatched,
        RequestStatus::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Reserved => "reserved",
            RequestStatus::PartiallyReserved => "partially_reserved",
            RequestStatus::Unfilled => "unfilled",
            RequestStatus::Dispatched => "dispatched",
            RequestStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<RequestStatus> {
        RequestStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// What the lines make a request's status, each line as (requested, reserved): all
    /// reserved, some, or none.
    pub fn of_fill(lines: impl IntoIterator<Item = (i64, i64)> + Clone) -> RequestStatus {
        if lines.clone().into_iter().all(|(req, res)| res >= req) {
            RequestStatus::Reserved
        } else if lines.into_iter().any(|(_, res)| res > 0) {
            RequestStatus::PartiallyReserved
        } else {
            RequestStatus::Unfilled
        }
    }

    /// The status a new request gets from its plan.
    pub fn of_plan(s: PlanStatus) -> RequestStatus {
        match s {
            PlanStatus::Reserved => RequestStatus::Reserved,
            PlanStatus::PartiallyReserved => RequestStatus::PartiallyReserved,
            PlanStatus::Unfilled => RequestStatus::Unfilled,
        }
    }

    /// Whether the request is over: dispatched or cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, RequestStatus::Dispatched | RequestStatus::Cancelled)
    }

    /// The status after `change`, once applied: `None` for a replan, whose status comes
    /// from the lines it fills ([`RequestStatus::of_fill`]). A final request refuses
    /// every change.
    pub fn after(self, change: Change) -> Result<Option<RequestStatus>, Refusal> {
        if self.is_final() {
            return Err(Refusal::Final {
                change,
                status: self,
            });
        }
        Ok(match change {
            Change::Replan => None,
            Change::Dispatch => Some(RequestStatus::Dispatched),
            Change::Cancel => Some(RequestStatus::Cancelled),
        })
    }
}

/// A shipment's status, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// On its way.
    InTransit,
    /// Arrived; what arrived is recorded. Final.
    Delivered,
}

impl ShipmentStatus {
    /// The status after a delivery: only a shipment in transit can be delivered.
    pub fn deliver(self) -> Result<ShipmentStatus, Refusal> {
        match self {
            ShipmentStatus::InTransit => Ok(ShipmentStatus::Delivered),
            ShipmentStatus::Delivered => Err(Refusal::AlreadyDelivered),
        }
    }
}

/// A catalogue item as a request needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownItem {
    /// Item.
    pub id: ItemId,
    /// SKU.
    pub sku: String,
    /// Days of shelf life a lot must still have on arrival.
    pub min_remaining_days: i32,
    /// Retired: a new request may not name it (a stored request's lines still plan).
    pub retired: bool,
}

/// What is asked of one item: the merged lines of its SKU, or what a stored line still
/// lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandedItem {
    /// The request line it fills (its position; new requests number them from 0).
    pub line_no: i32,
    /// The item.
    pub item: KnownItem,
    /// Units wanted (> 0).
    pub qty: i64,
}

/// A request ready to plan: every line names a known item once, with a positive quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    /// One per item, in order of first appearance.
    pub lines: Vec<DemandedItem>,
    /// Priority.
    pub priority: Priority,
    /// When the supplies must arrive.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether warehouses inside the affected area may supply.
    pub include_affected: bool,
}

/// The form of a request's lines, before the catalogue is asked: 1 to [`MAX_LINES`]
/// lines, each of a positive quantity.
pub fn check_lines(qtys: &[i64]) -> Result<(), Refusal> {
    if qtys.is_empty() {
        return Err(Refusal::NoLines);
    }
    if qtys.len() > MAX_LINES {
        return Err(Refusal::TooManyLines);
    }
    match qtys.iter().position(|&q| q <= 0) {
        Some(i) => Err(Refusal::QtyNotPositive(i)),
        None => Ok(()),
    }
}

/// The refusal of a request whose item `sku` was retired after [`Demand::new`] saw it
/// active (the database refused its lines: migration 230): the first of `given` (the
/// lines as the client gave them, SKU and qty) that names it, as [`Demand::new`] names
/// it. `None` when no line names it.
pub fn retired_in_flight(given: &[(String, i64)], sku: &str) -> Option<Refusal> {
    given
        .iter()
        .position(|(s, _)| s == sku)
        .map(|i| Refusal::RetiredSku(i, sku.to_owned()))
}

impl Demand {
    /// A new request's demand from its lines (SKU, qty), which [`check_lines`] accepted,
    /// and the catalogue items they name: every SKU known; the lines of one SKU merged
    /// in order of first appearance, numbered from 0, their sum within `i64`.
    pub fn new(
        lines: &[(&str, i64)],
        items: &[KnownItem],
        priority: Priority,
        needed_by: Option<DateTime<Utc>>,
        include_affected: bool,
    ) -> Result<Demand, Refusal> {
        // Every SKU must be known before any sum is checked.
        let mut known = Vec::with_capacity(lines.len());
        for (i, &(sku, qty)) in lines.iter().enumerate() {
            let item = items
                .iter()
                .find(|it| it.sku == sku)
                .ok_or_else(|| Refusal::UnknownSku(i, sku.to_owned()))?;
            if item.retired {
                return Err(Refusal::RetiredSku(i, sku.to_owned()));
            }
            known.push((item, qty));
        }
        let mut merged: Vec<DemandedItem> = Vec::new();
        for (i, (item, qty)) in known.into_iter().enumerate() {
            match merged.iter_mut().find(|d| d.item.id == item.id) {
                Some(d) => d.qty = d.qty.checked_add(qty).ok_or(Refusal::QtyTooLarge(i))?,
                None => merged.push(DemandedItem {
                    line_no: i32::try_from(merged.len()).unwrap_or(i32::MAX),
                    item: item.clone(),
                    qty,
                }),
            }
        }
        Ok(Demand {
            lines: merged,
            priority,
            needed_by,
            include_affected,
        })
    }

    /// The item ids, for the snapshot.
    pub fn item_ids(&self) -> Vec<uuid::Uuid> {
        self.lines.iter().map(|l| l.item.id.0).collect()
    }

    /// The planner's lines (one per item, so the planner merges nothing).
    pub fn planner_lines(&self) -> Vec<DemandLine> {
        self.lines
            .iter()
            .map(|l| DemandLine {
                sku: l.item.sku.clone(),
                qty: l.qty,
            })
            .collect()
    }

    /// The planner's item policies.
    pub fn policies(&self) -> Vec<ItemPolicy> {
        self.lines
            .iter()
            .map(|l| ItemPolicy {
                sku: l.item.sku.clone(),
                min_remaining_days: l.item.min_remaining_days,
            })
            .collect()
    }

    /// The planner's priority.
    pub fn planner_priority(&self) -> planner::Priority {
        self.priority.planner()
    }

    /// Whether reserve levels apply: to every request that is not critical.
    pub fn levels_apply(&self) -> bool {
        self.priority != Priority::Critical
    }
}

/// What a stored request holds of one lot, from the lot's warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The lot.
    pub lot: LotId,
    /// Its warehouse.
    pub warehouse: WarehouseId,
    /// Units held.
    pub qty: i64,
}

/// What a dispatch ships: one shipment per source warehouse (in warehouse id order),
/// each with its lots (in the order held). Nothing held: nothing to dispatch.
pub fn group_shipments(held: &[Held]) -> Result<BTreeMap<WarehouseId, Vec<(LotId, i64)>>, Refusal> {
    if held.is_empty() {
        return Err(Refusal::NothingReserved);
    }
    let mut shipments: BTreeMap<WarehouseId, Vec<(LotId, i64)>> = BTreeMap::new();
    for h in held {
        shipments
            .entry(h.warehouse)
            .or_default()
            .push((h.lot, h.qty));
    }
    Ok(shipments)
}

/// What a delivery says arrived of one lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The lot.
    pub lot: LotId,
    /// Units that arrived.
    pub qty: i64,
}

/// A checked delivery: what arrived of every shipped lot, and the note (trimmed; `None`
/// when blank).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Per shipped lot, in the shipment's order: the lot and what arrived of it.
    pub received: Vec<(LotId, i64)>,
    /// What happened.
    pub note: Option<String>,
}

/// Checks a delivery of a shipment that carried `shipped` (lot, qty): each line names a
/// shipped lot, once, with 0 to the shipped quantity; a note of at most
/// [`MAX_NOTE_CHARS`] says what happened when less arrived. Lots not listed arrived as
/// shipped.
pub fn check_delivery(
    shipped: &[(LotId, i64)],
    lines: &[Received],
    note: Option<&str>,
) -> Result<Delivery, Refusal> {
    let mut short = false;
    for (i, l) in lines.iter().enumerate() {
        let Some(&(_, qty)) = shipped.iter().find(|(lot, _)| *lot == l.lot) else {
            return Err(Refusal::LotNotShipped(i));
        };
        if lines[..i].iter().any(|o| o.lot == l.lot) {
            return Err(Refusal::LotListedTwice(i));
        }
        if !(0..=qty).contains(&l.qty) {
            return Err(Refusal::ReceivedOutOfRange {
                index: i,
                shipped: qty,
                received: l.qty,
            });
        }
        short |= l.qty < qty;
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if short && note.is_none() {
        return Err(Refusal::ShortWithoutNote);
    }
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(Refusal::NoteTooLong);
    }
    Ok(Delivery {
        received: shipped
            .iter()
            .map(|&(lot, qty)| {
                let got = lines.iter().find(|l| l.lot == lot).map_or(qty, |l| l.qty);
                (lot, got)
            })
            .collect(),
        note: note.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests;
