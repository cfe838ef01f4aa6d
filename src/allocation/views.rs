//! Requests and shipments as the API answers them and the audit trail summarises them:
//! made from a fresh plan, or from the stored rows.
//!
//! Invariants: per line, `shortfall = requested − reserved`; a pick is listed under the
//! line it fills, in the order the picks were made; a shipment line's `discrepancy` is
//! `received − shipped` once delivered.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::Priority;
use super::db::{LineRow, PickRow, RequestRow, ShipmentLineRow, ShipmentRow};
use super::request::{RequestStatus, ShipmentStatus};
use crate::ids::{IncidentId, LotId, RequestId, ShipmentId, WarehouseId};
use crate::planner::{Pick, Plan, PlanLine};

/// A plan line's explanation as JSON text: written once, straight from the planner's
/// entries, then answered and stored as it is. (A `Value` tree costs a map with a key
/// string per field of every entry; at 500 warehouses that was a third of a preview's
/// time in the service.)
pub type Explanation = Box<RawValue>;

/// Quantity drawn from one lot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PickView {
    /// Warehouse id.
    pub warehouse_id: WarehouseId,
    /// Warehouse code.
    pub warehouse_code: String,
    /// Lot id.
    pub lot_id: LotId,
    /// Lot code.
    pub lot_code: String,
    /// Lot expiry.
    pub expires_on: Option<NaiveDate>,
    /// Quantity (base units).
    pub qty: i64,
    /// Handling + travel minutes from the warehouse to the incident.
    pub eta_minutes: f64,
    /// Road km.
    pub distance_km: Option<f64>,
    /// Arrives after the incident's delivery target (the hours within which the first
    /// batch must arrive: county 6 h, city 8 h, province 10 h unless set).
    pub misses_target: bool,
    /// Arrives after the delivery target or after `needed_by`.
    pub late: bool,
}

/// One (merged) line of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineView {
    /// SKU.
    pub sku: String,
    /// Requested.
    pub requested: i64,
    /// Reserved (or dispatched).
    pub reserved: i64,
    /// requested − reserved.
    pub shortfall: i64,
    /// Picks, nearest warehouse first, first-expiry-first-out within a warehouse.
    pub picks: Vec<PickView>,
    /// Warehouses holding the item that were not (fully) used, each with its reason:
    /// unreachable, inside_affected_area, inactive, outside_service_radius (a community
    /// point farther from the incident than its radius), reserve_level,
    /// expired_or_short_dated, quarantined, fully_reserved or not_needed.
    #[schema(value_type = Vec<Object>)]
    pub explanation: Explanation,
}

/// One line of a shipment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentLineView {
    /// Lot.
    pub lot_id: LotId,
    /// Lot code.
    pub lot_code: String,
    /// SKU.
    pub sku: String,
    /// Shipped.
    pub qty: i64,
    /// Received (after delivery).
    pub received_qty: Option<i64>,
    /// received − shipped, after delivery (negative: missing).
    pub discrepancy: Option<i64>,
}

/// The stock one warehouse sent for a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentView {
    /// Id.
    pub id: ShipmentId,
    /// Request.
    pub request_id: RequestId,
    /// Source warehouse.
    pub warehouse_id: WarehouseId,
    /// Its code.
    pub warehouse_code: String,
    /// `in_transit` or `delivered`.
    #[schema(value_type = String)]
    pub status: ShipmentStatus,
    /// Left.
    pub dispatched_at: DateTime<Utc>,
    /// Arrived.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Delivery note.
    pub delivery_note: Option<String>,
    /// Lines.
    pub lines: Vec<ShipmentLineView>,
}

/// An allocation request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestView {
    /// Id.
    pub id: RequestId,
    /// Incident.
    pub incident_id: IncidentId,
    /// Priority.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether affected warehouses may supply.
    pub include_affected_warehouses: bool,
    /// reserved, partially_reserved, unfilled, dispatched or cancelled.
    #[schema(value_type = String)]
    pub status: RequestStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Dispatched.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// Cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Lines.
    pub lines: Vec<LineView>,
    /// Shipments (after dispatch).
    pub shipments: Vec<ShipmentView>,
}

/// A plan that reserves nothing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewView {
    /// Incident.
    pub incident_id: IncidentId,
    /// reserved, partially_reserved or unfilled: what a request would get now.
    #[schema(value_type = String)]
    pub status: RequestStatus,
    /// Lines.
    pub lines: Vec<LineView>,
}

/// A request in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestSummary {
    /// Id.
    pub id: RequestId,
    /// Incident.
    pub incident_id: IncidentId,
    /// Priority.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Status.
    #[schema(value_type = String)]
    pub status: RequestStatus,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<RequestRow> for RequestSummary {
    fn from(r: RequestRow) -> RequestSummary {
        RequestSummary {
            id: r.id,
            incident_id: r.incident_id,
            priority: r.priority,
            status: r.status,
            needed_by: r.needed_by,
            created_at: r.created_at,
        }
    }
}

impl From<&Pick> for PickView {
    fn from(p: &Pick) -> PickView {
        PickView {
            warehouse_id: WarehouseId(p.warehouse_id),
            warehouse_code: p.warehouse_code.clone(),
            lot_id: LotId(p.lot_id),
            lot_code: p.lot_code.clone(),
            expires_on: p.expires_on,
            qty: p.qty,
            eta_minutes: p.eta_minutes,
            distance_km: p.distance_km,
            misses_target: p.misses_target,
            late: p.late,
        }
    }
}

impl From<PickRow> for PickView {
    fn from(p: PickRow) -> PickView {
        PickView {
            warehouse_id: p.warehouse_id,
            warehouse_code: p.warehouse_code,
            lot_id: p.lot_id,
            lot_code: p.lot_code,
            expires_on: p.expires_on,
            qty: p.qty,
            eta_minutes: p.eta_minutes,
            distance_km: p.distance_km,
            misses_target: p.misses_target,
            late: p.late,
        }
    }
}

/// The explanation of a plan line, as stored and answered.
pub fn explanation(line: &PlanLine) -> serde_json::Result<Explanation> {
    serde_json::value::to_raw_value(&line.explanation)
}

/// The lines of a fresh plan.
pub fn plan_lines(plan: &Plan) -> serde_json::Result<Vec<LineView>> {
    plan.lines
        .iter()
        .map(|l| {
            Ok(LineView {
                sku: l.sku.clone(),
                requested: l.requested,
                reserved: l.reserved,
                shortfall: l.shortfall,
                picks: l.picks.iter().map(PickView::from).collect(),
                explanation: explanation(l)?,
            })
        })
        .collect()
}

/// The request as stored, from its rows.
pub fn request_view(
    r: RequestRow,
    lines: Vec<LineRow>,
    picks: Vec<PickRow>,
    ships: Vec<ShipmentRow>,
    ship_lines: Vec<ShipmentLineRow>,
) -> RequestView {
    let mut by_line: BTreeMap<i32, Vec<PickView>> = BTreeMap::new();
    for p in picks {
        by_line.entry(p.line_no).or_default().push(p.into());
    }
    RequestView {
        id: r.id,
        incident_id: r.incident_id,
        priority: r.priority,
        needed_by: r.needed_by,
        include_affected_warehouses: r.include_affected_warehouses,
        status: r.status,
        created_at: r.created_at,
        updated_at: r.updated_at,
        dispatched_at: r.dispatched_at,
        cancelled_at: r.cancelled_at,
        lines: lines
            .into_iter()
            .map(|l| LineView {
                picks: by_line.remove(&l.line_no).unwrap_or_default(),
                sku: l.sku,
                requested: l.requested,
                reserved: l.reserved,
                shortfall: l.requested - l.reserved,
                explanation: l.explanation.0,
            })
            .collect(),
        shipments: shipment_views(ships, ship_lines),
    }
}

/// Shipments as answered, each with its lines.
pub fn shipment_views(ships: Vec<ShipmentRow>, lines: Vec<ShipmentLineRow>) -> Vec<ShipmentView> {
    let mut by_ship: HashMap<ShipmentId, Vec<ShipmentLineView>> = HashMap::new();
    for l in lines {
        by_ship
            .entry(l.shipment_id)
            .or_default()
            .push(ShipmentLineView {
                lot_id: l.lot_id,
                lot_code: l.lot_code,
                sku: l.sku,
                qty: l.qty,
                received_qty: l.received_qty,
                discrepancy: l.received_qty.map(|r| r - l.qty),
            });
    }
    ships
        .into_iter()
        .map(|s| ShipmentView {
            lines: by_ship.remove(&s.id).unwrap_or_default(),
            id: s.id,
            request_id: s.request_id,
            warehouse_id: s.warehouse_id,
            warehouse_code: s.warehouse_code,
            status: s.status,
            dispatched_at: s.dispatched_at,
            delivered_at: s.delivered_at,
            delivery_note: s.delivery_note,
        })
        .collect()
}

impl RequestView {
    /// What the audit trail keeps of a request: what was asked and what stock it holds.
    /// The planner's explanation stays on the request lines, out of the audit chain, to
    /// keep events small (every one is hashed by the chainer, under the chain-head lock).
    pub fn audit_summary(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "incident_id": self.incident_id,
            "priority": self.priority,
            "status": self.status,
            "lines": self.lines.iter().map(|l| serde_json::json!({
                "sku": l.sku,
                "requested": l.requested,
                "reserved": l.reserved,
                "picks": l.picks.iter().map(|p| serde_json::json!({
                    "warehouse_code": p.warehouse_code,
                    "lot_id": p.lot_id,
                    "qty": p.qty,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "shipments": self.shipments.iter().map(|s| serde_json::json!({
                "id": s.id,
                "warehouse_code": s.warehouse_code,
                "status": s.status,
            })).collect::<Vec<_>>(),
        })
    }
}
