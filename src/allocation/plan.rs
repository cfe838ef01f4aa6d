//! Between the stored stock and the planner, pure: the snapshot as read (typed rows,
//! which `db::planner_snapshot` decodes), the planner's input made from it, and a plan made
//! into the rows a request stores and what it takes from each lot and cell.
//!
//! Invariants: a plan's lines pair with the demand's lines by position (the planner keeps
//! one line per distinct SKU, in order of first appearance, and a [`Demand`] has one per
//! item already), so every pick belongs to a known item and request line; the takes are
//! exactly the picks, summed per lot and per (warehouse, item) cell.

use chrono::NaiveDate;
use geo::{Distance, Haversine, Intersects, MultiPolygon, Point};
use uuid::Uuid;

use super::db::{LotAsk, StockAsk};
use super::request::{Demand, DemandedItem, Refusal};
use super::views::Explanation;
use crate::ids::{IncidentId, LotId, WarehouseId};
use crate::incidents::IncidentStatus;
use crate::planner::{CellDraw, LotState, Plan, PlanLine, WarehouseState};
use crate::routing::Travel;
use crate::rules::{Takes, arrival, required_expiry};

/// Where an incident is and whether it takes requests.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPlace {
    /// Open or closed.
    pub status: IncidentStatus,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// The affected area, if any.
    pub affected_area: Option<MultiPolygon<f64>>,
    /// Hours within which the first batch must arrive.
    pub delivery_target_hours: i32,
}

/// A warehouse as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotWarehouse {
    /// Id.
    pub id: WarehouseId,
    /// Code.
    pub code: String,
    /// Whether it is active.
    pub active: bool,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Handling minutes before a truck leaves.
    pub handling_minutes: i32,
    /// Whether it is a community point (tier `community`): it supplies only incidents
    /// within the configured radius.
    pub community: bool,
    /// Its reserve levels for the requested items.
    pub reserve_levels: Vec<ReserveLevel>,
}

/// A warehouse's reserve level for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveLevel {
    /// The item's SKU.
    pub sku: String,
    /// Units a non-critical request leaves available.
    pub level: i64,
}

/// A lot that holds stock, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotLot {
    /// Id.
    pub id: LotId,
    /// Warehouse.
    pub warehouse_id: WarehouseId,
    /// Item SKU.
    pub sku: String,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// On hand.
    pub on_hand: i64,
    /// Reserved.
    pub reserved: i64,
    /// Quarantined lots are never picked.
    pub quarantined: bool,
}

/// Who asks the incident for a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// A new request or a preview: the incident must be open. `pointer` names the field
    /// that gave its id.
    New {
        /// `incident_id` (path) or `/incident_id` (body).
        pointer: &'static str,
    },
    /// A stored request being replanned: its incident, open or not.
    Stored,
}

/// The incident a plan is for, as read: it must exist and, for new demand, be open.
pub fn incident_for(
    place: Option<IncidentPlace>,
    id: IncidentId,
    intake: Intake,
) -> Result<IncidentPlace, Refusal> {
    match (place, intake) {
        (None, _) => Err(Refusal::NoIncident(id)),
        (Some(p), Intake::New { pointer }) if p.status != IncidentStatus::Open => {
            Err(Refusal::IncidentClosed { id, pointer })
        }
        (Some(p), _) => Ok(p),
    }
}

/// Where the warehouses are, in the order given (for the router).
pub fn points(warehouses: &[SnapshotWarehouse]) -> Vec<Point<f64>> {
    warehouses
        .iter()
        .map(|w| Point::new(w.lon, w.lat))
        .collect()
}

/// The planner's warehouses: each with its ETA (handling + travel; `None` when there is
/// no route), whether it lies in the incident's affected area, its straight-line
/// distance to the incident (at `incident`, `(lat, lon)`), the service radius of a
/// community point (`community_radius_km`), and its reserve levels. `travel` is per
/// warehouse, in the same order.
pub fn warehouse_states(
    warehouses: Vec<SnapshotWarehouse>,
    travel: Vec<Option<Travel>>,
    area: Option<&MultiPolygon<f64>>,
    incident: (f64, f64),
    community_radius_km: f64,
) -> Vec<WarehouseState> {
    let at = Point::new(incident.1, incident.0);
    warehouses
        .into_iter()
        .zip(travel)
        .map(|(w, t)| WarehouseState {
            id: w.id.0,
            in_affected_area: area.is_some_and(|a| a.intersects(&Point::new(w.lon, w.lat))),
            service_radius_km: w.community.then_some(community_radius_km),
            incident_km: Some(Haversine.distance(Point::new(w.lon, w.lat), at) / 1000.0),
            code: w.code,
            active: w.active,
            eta_minutes: t.map(|t| f64::from(w.handling_minutes) + t.minutes),
            distance_km: t.map(|t| t.km),
            reserve_levels: w
                .reserve_levels
                .into_iter()
                .map(|r| (r.sku, r.level))
                .collect(),
        })
        .collect()
}

/// The cells whose stock a plan reads: every warehouse × every demanded item, with the
/// date lots must still be usable on at arrival (the planner's own rule:
/// `rules::arrival`, then `rules::required_expiry`).
pub fn stock_ask(
    warehouses: &[WarehouseState],
    demand: &Demand,
    now: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
) -> StockAsk {
    let mut ask = StockAsk::default();
    let today = now.with_timezone(&tz).date_naive();
    for w in warehouses {
        let arrival = arrival(now, w.eta_minutes, tz);
        for line in &demand.lines {
            ask.counted_from
                .push(required_expiry(today, line.item.min_remaining_days.max(0)));
            ask.warehouse_id.push(w.id);
            ask.item_id.push(line.item.id.0);
            ask.sku.push(line.item.sku.clone());
            ask.arrives.push(arrival.is_some());
            ask.required.push(
                arrival.and_then(|(_, date)| {
                    required_expiry(date, line.item.min_remaining_days.max(0))
                }),
            );
        }
    }
    ask
}

/// The cells whose lots a plan reads: those it draws from (`draws`), each with its
/// required date from `ask` and its draw.
pub fn lot_ask(ask: &StockAsk, draws: &[CellDraw]) -> LotAsk {
    let mut lots = LotAsk::default();
    for d in draws {
        let Some(i) = (0..ask.sku.len())
            .find(|&i| ask.warehouse_id[i] == d.warehouse_id && ask.sku[i] == d.sku)
        else {
            continue; // the planner draws only from cells it was given
        };
        lots.warehouse_id.push(d.warehouse_id);
        lots.item_id.push(ask.item_id[i]);
        lots.sku.push(d.sku.clone());
        lots.required.push(ask.required[i]);
        lots.qty.push(d.qty);
    }
    lots
}

/// The planner's lots.
pub fn lot_states(lots: Vec<SnapshotLot>) -> Vec<LotState> {
    lots.into_iter()
        .map(|l| LotState {
            id: l.id.0,
            warehouse_id: l.warehouse_id.0,
            sku: l.sku,
            lot_code: l.lot_code,
            expires_on: l.expires_on,
            on_hand: l.on_hand,
            reserved: l.reserved,
            quarantined: l.quarantined,
        })
        .collect()
}

/// Each plan line with the demand line it fills.
pub fn paired<'a>(
    plan: &'a Plan,
    demand: &'a Demand,
) -> impl Iterator<Item = (&'a PlanLine, &'a DemandedItem)> {
    debug_assert!(
        plan.lines.len() == demand.lines.len()
            && plan
                .lines
                .iter()
                .zip(&demand.lines)
                .all(|(p, d)| p.sku == d.item.sku),
        "the planner keeps one line per demanded item, in order"
    );
    plan.lines.iter().zip(&demand.lines)
}

/// What `plan` takes from each lot and each (warehouse, item) cell.
pub fn takes(plan: &Plan, demand: &Demand) -> Takes {
    let mut takes = Takes::default();
    for (line, wanted) in paired(plan, demand) {
        for p in &line.picks {
            takes.add(p.lot_id, p.warehouse_id, wanted.item.id.0, p.qty);
        }
    }
    takes
}

/// Request lines to write, as parallel columns. On a new request they are inserted; on a
/// replanned one, `reserved` is added to the stored line's and `explanation` replaces
/// its own.
#[derive(Debug, Default)]
pub struct NewLines {
    /// Positions.
    pub line_no: Vec<i32>,
    /// Items.
    pub item_id: Vec<Uuid>,
    /// SKUs.
    pub sku: Vec<String>,
    /// Requested.
    pub requested: Vec<i64>,
    /// Reserved by this plan.
    pub reserved: Vec<i64>,
    /// Explanations of this plan.
    pub explanation: Vec<Explanation>,
}

/// New picks, as parallel columns, in the order they are made.
#[derive(Debug, Default)]
pub struct NewPicks {
    /// Line positions.
    pub line_no: Vec<i32>,
    /// Lots.
    pub lot_id: Vec<Uuid>,
    /// Warehouses.
    pub warehouse_id: Vec<Uuid>,
    /// Quantities.
    pub qty: Vec<i64>,
    /// ETAs.
    pub eta_minutes: Vec<f64>,
    /// Road km.
    pub distance_km: Vec<Option<f64>>,
    /// Late flags.
    pub late: Vec<bool>,
    /// Whether each pick arrives after the delivery target.
    pub misses_target: Vec<bool>,
}

/// What a plan reserves: units per lot, in lot id order (the order the lots are locked
/// in).
#[derive(Debug, Default)]
pub struct NewReservations {
    /// Lots.
    pub lot_id: Vec<Uuid>,
    /// Units reserved.
    pub qty: Vec<i64>,
}

/// What a plan takes from each (warehouse, item) cell, as parallel columns.
#[derive(Debug, Default)]
pub struct CellTakes {
    /// Warehouses.
    pub warehouse_id: Vec<Uuid>,
    /// Items.
    pub item_id: Vec<Uuid>,
    /// Units taken from the cell.
    pub qty: Vec<i64>,
    /// The day the cells' reserve floors are measured on (the plan's date: see
    /// `rules::level_stock`). A reservation with cells and no day is refused.
    pub counted_on: Option<NaiveDate>,
}

impl From<&Takes> for NewReservations {
    fn from(t: &Takes) -> NewReservations {
        NewReservations {
            lot_id: t.per_lot.keys().copied().collect(),
            qty: t.per_lot.values().copied().collect(),
        }
    }
}

impl CellTakes {
    /// What `t` takes per cell, with floors measured on `today`.
    pub fn of(t: &Takes, today: NaiveDate) -> CellTakes {
        CellTakes {
            warehouse_id: t.per_cell.keys().map(|c| c.0).collect(),
            item_id: t.per_cell.keys().map(|c| c.1).collect(),
            qty: t.per_cell.values().copied().collect(),
            counted_on: Some(today),
        }
    }
}

/// What a plan writes: its lines (one per demand line, with `explanations` in the same
/// order), its picks, its reservations and what it takes from each cell.
#[derive(Debug, Default)]
pub struct PlanRows {
    /// Request lines.
    pub lines: NewLines,
    /// Picks.
    pub picks: NewPicks,
    /// Reservations per lot.
    pub reserve: NewReservations,
    /// Takes per cell.
    pub cells: CellTakes,
}

/// The rows of `plan` for `demand`.
pub fn plan_rows(plan: &Plan, demand: &Demand, explanations: Vec<Explanation>) -> PlanRows {
    let mut rows = PlanRows::default();
    for ((line, wanted), explanation) in paired(plan, demand).zip(explanations) {
        let l = &mut rows.lines;
        l.line_no.push(wanted.line_no);
        l.item_id.push(wanted.item.id.0);
        l.sku.push(line.sku.clone());
        l.requested.push(line.requested);
        l.reserved.push(line.reserved);
        l.explanation.push(explanation);
        for p in &line.picks {
            let r = &mut rows.picks;
            r.line_no.push(wanted.line_no);
            r.lot_id.push(p.lot_id);
            r.warehouse_id.push(p.warehouse_id);
            r.qty.push(p.qty);
            r.eta_minutes.push(p.eta_minutes);
            r.distance_km.push(p.distance_km);
            r.late.push(p.late);
            r.misses_target.push(p.misses_target);
        }
    }
    let takes = takes(plan, demand);
    rows.reserve = NewReservations::from(&takes);
    rows.cells = CellTakes::of(&takes, plan.today);
    rows
}

#[cfg(test)]
mod tests;
