//! HTTP handlers for allocation requests: plan and reserve, preview, replan, dispatch,
//! deliver, cancel, and reads.
//!
//! The reservation path: read the snapshot and ETAs and run the pure planner with no lock
//! held; then, in ONE transaction, lock the lots of the cells the plan draws from (id order),
//! re-check what the planner assumed (availability, quarantine, reserve floors), and write
//! ledger rows, request rows and one audit event. A plan that lost a race is dropped and made
//! again from fresh stock; the last attempt plans under the locks, so it always succeeds.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use geo::{Intersects, Point};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Priority, db};
use crate::app::AppState;
use crate::audit;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query, idempotency};
use crate::ids::{IncidentId, ItemId, LotId, RequestId, ShipmentId, WarehouseId};
use crate::incidents::parse_area;
use crate::planner::{
    self, DemandLine, ItemPolicy, LotState, Plan, PlanInput, Snapshot, WarehouseState,
};
use crate::stock::db::{self as stock_db, Movement, insert_movements};
use crate::stock::item_cache::ItemPolicies;

/// Optimistic attempts before the last one, which plans under the locks.
const OPTIMISTIC_ATTEMPTS: usize = 2;

/// Most lines a request may have.
const MAX_LINES: usize = 200;

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(super::network::routes())
        .routes(routes!(create_request))
        .routes(routes!(preview_allocation))
        .routes(routes!(list_requests))
        .routes(routes!(get_request))
        .routes(routes!(dispatch_request))
        .routes(routes!(cancel_request))
        .routes(routes!(replan_request))
        .routes(routes!(get_shipment))
        .routes(routes!(deliver_shipment))
}

/// One requested line.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// Item SKU.
    pub sku: String,
    /// Quantity in the item's base unit (> 0).
    pub qty: i64,
}

/// Body of `POST /api/v1/incidents/{id}/requests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// critical, high or normal. Only critical may draw below reserve levels.
    pub priority: Priority,
    /// When the supplies must arrive; picks arriving later are marked `late`.
    pub needed_by: Option<DateTime<Utc>>,
    /// What is needed; lines of the same SKU are merged.
    pub lines: Vec<LineBody>,
    /// Let warehouses inside the affected area supply (default false).
    #[serde(default)]
    pub include_affected_warehouses: bool,
}

/// Body of `POST /api/v1/allocation/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// The incident.
    pub incident_id: IncidentId,
    /// critical, high or normal.
    pub priority: Priority,
    /// When the supplies must arrive.
    pub needed_by: Option<DateTime<Utc>>,
    /// What is needed.
    pub lines: Vec<LineBody>,
    /// Let warehouses inside the affected area supply.
    #[serde(default)]
    pub include_affected_warehouses: bool,
}

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
    /// Arrives after `needed_by`.
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
    /// unreachable, inside_affected_area, inactive, reserve_level, expired_or_short_dated,
    /// quarantined, fully_reserved or not_needed.
    #[schema(value_type = Vec<Object>)]
    pub explanation: Value,
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
    pub status: String,
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
    pub priority: String,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether affected warehouses may supply.
    pub include_affected_warehouses: bool,
    /// reserved, partially_reserved, unfilled, dispatched or cancelled.
    pub status: String,
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
    pub status: String,
    /// Lines.
    pub lines: Vec<LineView>,
}

fn status_name(s: planner::PlanStatus) -> &'static str {
    match s {
        planner::PlanStatus::Reserved => "reserved",
        planner::PlanStatus::PartiallyReserved => "partially_reserved",
        planner::PlanStatus::Unfilled => "unfilled",
    }
}

fn plan_lines(plan: &Plan) -> AppResult<Vec<LineView>> {
    plan.lines
        .iter()
        .map(|l| {
            Ok(LineView {
                sku: l.sku.clone(),
                requested: l.requested,
                reserved: l.reserved,
                shortfall: l.shortfall,
                picks: l
                    .picks
                    .iter()
                    .map(|p| PickView {
                        warehouse_id: WarehouseId(p.warehouse_id),
                        warehouse_code: p.warehouse_code.clone(),
                        lot_id: LotId(p.lot_id),
                        lot_code: p.lot_code.clone(),
                        expires_on: p.expires_on,
                        qty: p.qty,
                        eta_minutes: p.eta_minutes,
                        distance_km: p.distance_km,
                        late: p.late,
                    })
                    .collect(),
                explanation: serde_json::to_value(&l.explanation).map_err(anyhow::Error::from)?,
            })
        })
        .collect()
}

/// The request as stored, with lines, picks and shipments.
pub async fn load_view(conn: &mut PgConnection, id: RequestId) -> AppResult<RequestView> {
    let r = db::request(conn, id, false)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no allocation request with id {id}")))?;
    let lines = db::lines(conn, id).await?;
    let picks = db::picks(conn, id).await?;
    let (ships, ship_lines) = db::shipments(conn, Some(id), None).await?;
    let mut by_line: BTreeMap<i32, Vec<PickView>> = BTreeMap::new();
    for p in picks {
        by_line.entry(p.line_no).or_default().push(PickView {
            warehouse_id: p.warehouse_id,
            warehouse_code: p.warehouse_code,
            lot_id: p.lot_id,
            lot_code: p.lot_code,
            expires_on: p.expires_on,
            qty: p.qty,
            eta_minutes: p.eta_minutes,
            distance_km: p.distance_km,
            late: p.late,
        });
    }
    Ok(RequestView {
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
                explanation: l.explanation,
            })
            .collect(),
        shipments: shipment_views(ships, ship_lines),
    })
}

/// One shipment as the API shows it; `None` when there is no such shipment.
async fn shipment_view(conn: &mut PgConnection, id: ShipmentId) -> AppResult<Option<ShipmentView>> {
    let (ships, lines) = db::shipments(conn, None, Some(id)).await?;
    Ok(shipment_views(ships, lines).pop())
}

fn shipment_views(
    ships: Vec<db::ShipmentRow>,
    lines: Vec<db::ShipmentLineRow>,
) -> Vec<ShipmentView> {
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

/// What the audit trail keeps of a request: what was asked and what stock it holds. The
/// planner's explanation stays on the request lines, out of the audit chain, to keep
/// events small (every one is hashed at commit, under the chain-head lock).
fn audit_summary(view: &RequestView) -> Value {
    serde_json::json!({
        "id": view.id,
        "incident_id": view.incident_id,
        "priority": view.priority,
        "status": view.status,
        "lines": view.lines.iter().map(|l| serde_json::json!({
            "sku": l.sku,
            "requested": l.requested,
            "reserved": l.reserved,
            "picks": l.picks.iter().map(|p| serde_json::json!({
                "warehouse_code": p.warehouse_code,
                "lot_id": p.lot_id,
                "qty": p.qty,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "shipments": view.shipments.iter().map(|s| serde_json::json!({
            "id": s.id,
            "warehouse_code": s.warehouse_code,
            "status": s.status,
        })).collect::<Vec<_>>(),
    })
}

/// A validated request, ready to plan.
struct Demand {
    lines: Vec<DemandLine>,
    /// The catalogue items the lines name.
    items: Vec<stock_db::ItemPolicy>,
    priority: Priority,
    needed_by: Option<DateTime<Utc>>,
    include_affected: bool,
}

impl Demand {
    fn item_ids(&self) -> Vec<Uuid> {
        self.items.iter().map(|i| i.id.0).collect()
    }

    fn item_of(&self, sku: &str) -> AppResult<ItemId> {
        self.items
            .iter()
            .find(|i| i.sku == sku)
            .map(|i| i.id)
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("planned SKU {sku} was not requested"))
            })
    }
}

async fn validate_demand(
    items: &ItemPolicies,
    conn: &mut PgConnection,
    lines: &[LineBody],
    priority: Priority,
    needed_by: Option<DateTime<Utc>>,
    include_affected: bool,
) -> AppResult<Demand> {
    if lines.is_empty() {
        return Err(AppError::invalid(
            "/lines",
            "a request needs at least one line",
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(AppError::invalid(
            "/lines",
            format!("a request may have at most {MAX_LINES} lines"),
        ));
    }
    for (i, l) in lines.iter().enumerate() {
        if l.qty <= 0 {
            return Err(AppError::invalid(
                format!("/lines/{i}/qty"),
                "qty must be greater than 0",
            ));
        }
    }
    let skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
    let items = items.named(conn, &skus, &[]).await?;
    for (i, l) in lines.iter().enumerate() {
        if !items.iter().any(|it| it.sku == l.sku) {
            return Err(AppError::invalid(
                format!("/lines/{i}/sku"),
                format!("unknown SKU `{}`", l.sku),
            ));
        }
    }
    // Merged quantities must fit in i64.
    let mut totals: HashMap<&str, i64> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        let t = totals.entry(l.sku.as_str()).or_insert(0);
        *t = t
            .checked_add(l.qty)
            .ok_or_else(|| AppError::invalid(format!("/lines/{i}/qty"), "quantity too large"))?;
    }
    Ok(Demand {
        lines: lines
            .iter()
            .map(|l| DemandLine {
                sku: l.sku.clone(),
                qty: l.qty,
            })
            .collect(),
        items,
        priority,
        needed_by,
        include_affected,
    })
}

/// Reads the incident, network, warehouses, reserve levels and lots (one round trip), and
/// plans. Holds no lock of its own; in the last attempt the caller has already locked the
/// lots. With `open_at`, the incident must exist (else 404) and be open (else a 409 naming
/// that field); without, it is a stored request's own.
async fn plan_now(
    state: &AppState,
    conn: &mut PgConnection,
    incident_id: IncidentId,
    open_at: Option<&str>,
    demand: &Demand,
    lines: &[DemandLine],
) -> AppResult<Plan> {
    let snapshot = db::planner_snapshot(conn, &demand.item_ids(), incident_id).await?;
    let incident = match (snapshot.incident, open_at) {
        (None, Some(_)) => {
            return Err(AppError::not_found(format!(
                "no incident with id {incident_id}"
            )));
        }
        (None, None) => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "request without incident {incident_id}"
            )));
        }
        (Some(i), Some(pointer)) if i.status != "open" => {
            return Err(AppError::conflict(
                pointer,
                format!("incident {incident_id} is closed; it takes no new requests"),
                Some(serde_json::json!({ "incident_status": i.status })),
            ));
        }
        (Some(i), _) => i,
    };
    let (net, closed) = super::network::network_from(state, conn, snapshot.network).await?;
    let lots = snapshot.lots;
    let (warehouses, levels): (Vec<db::WarehouseRow>, Vec<Vec<(String, i64)>>) =
        snapshot.warehouses.into_iter().unzip();
    let points: Vec<Point<f64>> = warehouses
        .iter()
        .map(|w| Point::new(w.lon, w.lat))
        .collect();
    let to = Point::new(incident.lon, incident.lat);
    let travel = net.travel_times(to, &points, &closed, &state.settings.snap);
    let area = incident
        .affected_area
        .as_ref()
        .map(|a| parse_area(a, "/affected_area", false))
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored affected area: {e}")))?;
    let states: Vec<WarehouseState> = warehouses
        .iter()
        .zip(travel)
        .zip(&points)
        .zip(levels)
        .map(|(((w, t), p), levels)| WarehouseState {
            id: w.id.0,
            code: w.code.clone(),
            active: w.status == "active",
            eta_minutes: t.map(|t| f64::from(w.handling_minutes) + t.minutes),
            distance_km: t.map(|t| t.km),
            in_affected_area: area.as_ref().is_some_and(|a| a.intersects(p)),
            reserve_levels: levels,
        })
        .collect();
    let lots = lots
        .into_iter()
        .map(|l| LotState {
            id: l.id.0,
            warehouse_id: l.warehouse_id.0,
            sku: l.sku,
            lot_code: l.lot_code,
            expires_on: l.expires_on,
            on_hand: l.on_hand,
            reserved: l.reserved,
            quarantined: l.status == "quarantined",
        })
        .collect();
    let items = demand
        .items
        .iter()
        .map(|i| ItemPolicy {
            sku: i.sku.clone(),
            min_remaining_days: i.min_remaining_days,
        })
        .collect();
    let snapshot = Snapshot::new(items, states, lots);
    let input = PlanInput {
        lines,
        priority: demand.priority.planner(),
        needed_by: demand.needed_by,
        include_affected_warehouses: demand.include_affected,
        now: Utc::now(),
        tz: state.settings.tz,
    };
    Ok(planner::plan(&input, &snapshot))
}

/// Locks the cells the plan draws from and re-checks what the planner assumed. `false`: the
/// plan lost a race and must be made again.
async fn still_holds(conn: &mut PgConnection, plan: &Plan, demand: &Demand) -> AppResult<bool> {
    let mut per_lot: BTreeMap<LotId, i64> = BTreeMap::new();
    let mut per_cell: BTreeMap<(WarehouseId, ItemId), i64> = BTreeMap::new();
    for line in &plan.lines {
        let item = demand.item_of(&line.sku)?;
        for p in &line.picks {
            *per_lot.entry(LotId(p.lot_id)).or_default() += p.qty;
            *per_cell
                .entry((WarehouseId(p.warehouse_id), item))
                .or_default() += p.qty;
        }
    }
    if per_lot.is_empty() {
        return Ok(true);
    }
    let cells: Vec<(WarehouseId, ItemId)> = per_cell.keys().copied().collect();
    let locked = db::lock_cells(conn, &cells).await?;
    let mut cell_available: HashMap<(WarehouseId, ItemId), i64> = HashMap::new();
    let mut levels: HashMap<(WarehouseId, ItemId), i64> = HashMap::new();
    for lot in &locked {
        let available = (lot.on_hand - lot.reserved).max(0);
        levels.insert((lot.warehouse_id, lot.item_id), lot.level);
        if lot.status == "available" {
            *cell_available
                .entry((lot.warehouse_id, lot.item_id))
                .or_default() += available;
        }
        if let Some(&want) = per_lot.get(&lot.id)
            && (lot.status != "available" || available < want)
        {
            return Ok(false);
        }
    }
    if locked
        .iter()
        .filter(|l| per_lot.contains_key(&l.id))
        .count()
        != per_lot.len()
    {
        return Ok(false);
    }
    if demand.priority != Priority::Critical {
        for (cell, taken) in &per_cell {
            let level = levels.get(cell).copied().unwrap_or(0).max(0);
            let available = cell_available.get(cell).copied().unwrap_or(0);
            if available - taken < level {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The pick rows of `plan`, and what it takes from each lot (lot id order).
fn pick_rows(
    plan: &Plan,
    line_no_of: &HashMap<String, i32>,
) -> AppResult<(db::NewPicks, BTreeMap<LotId, i64>)> {
    let mut per_lot: BTreeMap<LotId, i64> = BTreeMap::new();
    let mut rows = db::NewPicks::default();
    for line in &plan.lines {
        let line_no = line_no_of
            .get(&line.sku)
            .copied()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no line for {}", line.sku)))?;
        for p in &line.picks {
            *per_lot.entry(LotId(p.lot_id)).or_default() += p.qty;
            rows.line_no.push(line_no);
            rows.lot_id.push(p.lot_id);
            rows.warehouse_id.push(p.warehouse_id);
            rows.qty.push(p.qty);
            rows.eta_minutes.push(p.eta_minutes);
            rows.distance_km.push(p.distance_km);
            rows.late.push(p.late);
        }
    }
    Ok((rows, per_lot))
}

/// Appends one reserve row per lot, in lot id order, in one statement.
async fn reserve_lots(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    request: RequestId,
    per_lot: BTreeMap<LotId, i64>,
) -> AppResult<()> {
    let movements: Vec<Movement<'_>> = per_lot
        .into_iter()
        .map(|(lot, qty)| movement(actor, origin, request, lot, "reserve", 0, qty))
        .collect();
    insert_movements(conn, &movements).await?;
    Ok(())
}

fn fill_status(lines: &[(i64, i64)]) -> &'static str {
    if lines.iter().all(|(req, res)| res >= req) {
        "reserved"
    } else if lines.iter().any(|(_, res)| *res > 0) {
        "partially_reserved"
    } else {
        "unfilled"
    }
}

/// Ask for supplies for an incident: plans and reserves in one go.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/requests", tag = "allocation", request_body = CreateRequest,
    params(("id" = String, Path, description = "Incident id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 201, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(incident_id): Path<IncidentId>,
    cmd: Command<CreateRequest>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let body = &cmd.body;
    let mut conn = state.writes.acquire().await?;
    let demand = validate_demand(
        &state.item_policies,
        &mut conn,
        &body.lines,
        body.priority,
        body.needed_by,
        body.include_affected_warehouses,
    )
    .await?;
    let mut first_attempt = 0;
    if origin.idempotency_key.is_none() {
        // The optimistic attempts of a request without a key: plan from what the reads
        // see, then one statement locks the plan's cells, re-checks them and writes the
        // request, its reservations and its audit event only if the plan still holds
        // (db::insert_request_if_available). No transaction spans a round trip.
        for attempt in 0..OPTIMISTIC_ATTEMPTS {
            let plan = plan_now(
                &state,
                &mut conn,
                incident_id,
                Some("incident_id"),
                &demand,
                &demand.lines,
            )
            .await?;
            let (staged, written) =
                write_plan(&mut conn, &actor, &origin, &demand, incident_id, &plan).await?;
            if let Some(stamps) = written {
                return Ok((StatusCode::CREATED, Json(staged.into_view(stamps))).into_response());
            }
            tracing::info!(attempt, "allocation plan lost a race; replanning");
            metrics::counter!("allocation_replans_total", "operation" => "request").increment(1);
        }
        first_attempt = OPTIMISTIC_ATTEMPTS;
    }

    for attempt in first_attempt..=OPTIMISTIC_ATTEMPTS {
        let last = attempt == OPTIMISTIC_ATTEMPTS;
        // Each attempt is one transaction: it reads and plans (taking no lock), then locks,
        // re-checks and writes. The last locks every lot of the items before it plans.
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let mut early = None;
        if !last {
            early = Some(
                plan_now(
                    &state,
                    &mut tx,
                    incident_id,
                    Some("incident_id"),
                    &demand,
                    &demand.lines,
                )
                .await?,
            );
        }
        if let Some(replay) =
            crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
        {
            return Ok(replay);
        }
        // plan_now checked the incident open. A request racing with its closure is
        // accepted as if it came first; no lock on the incident is needed for stock safety.
        let plan = match early {
            Some(plan) => plan,
            None => {
                db::lock_all_lots_of(&mut tx, &demand.item_ids()).await?;
                plan_now(
                    &state,
                    &mut tx,
                    incident_id,
                    Some("incident_id"),
                    &demand,
                    &demand.lines,
                )
                .await?
            }
        };
        // The same statement as above, in this transaction: it locks the plan's cells
        // (already ours in the last attempt) and re-checks the plan under the locks.
        let (staged, written) =
            write_plan(&mut tx, &actor, &origin, &demand, incident_id, &plan).await?;
        let Some(stamps) = written else {
            tx.rollback().await?;
            tracing::info!(attempt, "allocation plan lost a race; replanning");
            metrics::counter!("allocation_replans_total", "operation" => "request").increment(1);
            continue;
        };
        // Exactly what was written: the plan passed every re-check under the locks.
        let view = staged.into_view(stamps);
        return idempotency::finish_recorded(
            tx,
            actor.id,
            origin.idempotency_key.as_deref(),
            StatusCode::CREATED,
            view,
        )
        .await;
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "the locked attempt did not hold"
    )))
}

/// Stages `plan` as a new request and writes it, with its audit event, through
/// `db::insert_request_if_available` on `conn`: the staged request, and its stamps, or
/// `None` when the plan no longer held and nothing was written.
async fn write_plan(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    demand: &Demand,
    incident_id: IncidentId,
    plan: &Plan,
) -> AppResult<(StagedRequest, Option<db::Stamps>)> {
    let staged = stage_request(plan, demand, incident_id)?;
    let event = audit::db::pending_event(actor, origin, staged.change());
    let written = db::insert_request_if_available(
        conn,
        &db::NewRequest {
            id: staged.view.id,
            incident_id,
            priority: demand.priority.as_str(),
            needed_by: demand.needed_by,
            include_affected_warehouses: demand.include_affected,
            status: status_name(plan.status),
            created_by: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
        },
        &staged.rows,
        &staged.picks,
        &staged.reserve,
        &staged.cells,
        demand.priority != Priority::Critical,
        &event,
    )
    .await?;
    Ok((staged, written))
}

/// A planned request, ready to write: its answer (without its time stamps, and with the
/// lines' explanations lent to `rows`), and its rows.
struct StagedRequest {
    view: RequestView,
    rows: db::NewLines,
    picks: db::NewPicks,
    reserve: db::NewReservations,
    cells: db::CellTakes,
}

impl StagedRequest {
    /// The audit record of the request.
    fn change(&self) -> audit::Change<'static> {
        audit::Change {
            action: "allocation.request",
            entity_kind: "allocation_request",
            entity_id: self.view.id.to_string(),
            before: None,
            after: Some(audit_summary(&self.view)),
        }
    }

    /// The answer, once the rows are written with these stamps.
    fn into_view(mut self, stamps: db::Stamps) -> RequestView {
        for (line, explanation) in self.view.lines.iter_mut().zip(self.rows.explanation) {
            line.explanation = explanation;
        }
        self.view.created_at = stamps.created_at;
        self.view.updated_at = stamps.updated_at;
        self.view
    }
}

/// The rows and the answer of a new request carrying `plan`.
fn stage_request(
    plan: &Plan,
    demand: &Demand,
    incident_id: IncidentId,
) -> AppResult<StagedRequest> {
    let id = RequestId::new();
    let mut lines = plan_lines(plan)?;
    let mut line_no_of = HashMap::new();
    let mut rows = db::NewLines::default();
    for (i, (line, view)) in plan.lines.iter().zip(&mut lines).enumerate() {
        let line_no = i as i32;
        line_no_of.insert(line.sku.clone(), line_no);
        rows.line_no.push(line_no);
        rows.item_id.push(demand.item_of(&line.sku)?.0);
        rows.sku.push(line.sku.clone());
        rows.requested.push(line.requested);
        rows.reserved.push(line.reserved);
        // Lent to the insert, given back by `into_view` (no copy of the tree).
        rows.explanation.push(std::mem::take(&mut view.explanation));
    }
    let (picks, per_lot) = pick_rows(plan, &line_no_of)?;
    let mut per_cell: BTreeMap<(WarehouseId, ItemId), i64> = BTreeMap::new();
    for line in &plan.lines {
        let item = demand.item_of(&line.sku)?;
        for p in &line.picks {
            *per_cell
                .entry((WarehouseId(p.warehouse_id), item))
                .or_default() += p.qty;
        }
    }
    let now = Utc::now();
    Ok(StagedRequest {
        view: RequestView {
            id,
            incident_id,
            priority: demand.priority.as_str().to_owned(),
            needed_by: demand.needed_by,
            include_affected_warehouses: demand.include_affected,
            status: status_name(plan.status).to_owned(),
            created_at: now,
            updated_at: now,
            dispatched_at: None,
            cancelled_at: None,
            lines,
            shipments: vec![],
        },
        rows,
        picks,
        reserve: db::NewReservations {
            lot_id: per_lot.keys().map(|l| l.0).collect(),
            qty: per_lot.values().copied().collect(),
        },
        cells: db::CellTakes {
            warehouse_id: per_cell.keys().map(|c| c.0.0).collect(),
            item_id: per_cell.keys().map(|c| c.1.0).collect(),
            qty: per_cell.values().copied().collect(),
        },
    })
}

/// What a request would get now, reserving nothing.
#[utoipa::path(post, path = "/api/v1/allocation/preview", tag = "allocation", request_body = PreviewRequest,
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = PreviewView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn preview_allocation(
    State(state): State<AppState>,
    actor: Actor,
    Json(body): Json<PreviewRequest>,
) -> AppResult<Json<PreviewView>> {
    actor.require(&[Role::Dispatcher])?;
    let mut conn = state.pool.acquire().await?;
    let demand = validate_demand(
        &state.item_policies,
        &mut conn,
        &body.lines,
        body.priority,
        body.needed_by,
        body.include_affected_warehouses,
    )
    .await?;
    let plan = plan_now(
        &state,
        &mut conn,
        body.incident_id,
        Some("/incident_id"),
        &demand,
        &demand.lines,
    )
    .await?;
    Ok(Json(PreviewView {
        incident_id: body.incident_id,
        status: status_name(plan.status).to_owned(),
        lines: plan_lines(&plan)?,
    }))
}

/// Filters for `GET /api/v1/requests`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestFilter {
    /// Incident id.
    pub incident: Option<IncidentId>,
    /// reserved, partially_reserved, unfilled, dispatched or cancelled.
    pub status: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A request in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestSummary {
    /// Id.
    pub id: RequestId,
    /// Incident.
    pub incident_id: IncidentId,
    /// Priority.
    pub priority: String,
    /// Status.
    pub status: String,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// List allocation requests, oldest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "allocation", params(RequestFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<RequestSummary>), (status = 400, body = Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<RequestFilter>,
) -> AppResult<Json<Page<RequestSummary>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<RequestId> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    if let Some(s) = &filter.status
        && ![
            "reserved",
            "partially_reserved",
            "unfilled",
            "dispatched",
            "cancelled",
        ]
        .contains(&s.as_str())
    {
        return Err(AppError::bad_request(
            "status",
            format!("unknown status `{s}`"),
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let rows = db::list_requests(
        &mut conn,
        filter.incident,
        filter.status.as_deref(),
        after,
        limit + 1,
    )
    .await?;
    let rows: Vec<RequestSummary> = rows
        .into_iter()
        .map(|r| RequestSummary {
            id: r.id,
            incident_id: r.incident_id,
            priority: r.priority,
            status: r.status,
            needed_by: r.needed_by,
            created_at: r.created_at,
        })
        .collect();
    Ok(Json(pagination::page(rows, limit, |r| r.id)))
}

/// One allocation request with its lines, picks and shipments.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = [])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<RequestId>,
) -> AppResult<Json<RequestView>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(load_view(&mut conn, id).await?))
}

/// One shipment with its lines: what left which warehouse, and, once delivered, what
/// arrived. For the depot or team receiving it, who may hold only the shipment id.
#[utoipa::path(get, path = "/api/v1/shipments/{id}", tag = "allocation",
    params(("id" = String, Path, description = "Shipment id")),
    security(("bearer" = [])),
    responses((status = 200, body = ShipmentView), (status = 404, body = Problem)))]
pub async fn get_shipment(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<ShipmentId>,
) -> AppResult<Json<ShipmentView>> {
    let mut conn = state.pool.acquire().await?;
    shipment_view(&mut conn, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no shipment with id {id}")))
}

/// Locks a request and checks it may still change; a dispatched or cancelled one is a 409.
async fn lock_changeable(
    conn: &mut PgConnection,
    id: RequestId,
    what: &str,
) -> AppResult<db::RequestRow> {
    let r = db::request(conn, id, true)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no allocation request with id {id}")))?;
    if r.status == "dispatched" || r.status == "cancelled" {
        return Err(AppError::conflict(
            "id",
            format!("cannot {what} a request that is {}", r.status),
            Some(serde_json::json!({ "request_status": r.status })),
        ));
    }
    Ok(r)
}

fn movement<'a>(
    actor: &Actor,
    origin: &'a Origin,
    request: RequestId,
    lot: LotId,
    kind: &'a str,
    qty: i64,
    reserved_delta: i64,
) -> Movement<'a> {
    Movement {
        lot,
        kind,
        qty,
        reserved_delta,
        reason: None,
        note: None,
        ref_kind: Some("allocation_request"),
        ref_id: Some(request.0),
        actor: actor.id,
        request_id: origin.request_id.as_deref(),
        idempotency_key: origin.idempotency_key.as_deref(),
    }
}

async fn lock_lots(conn: &mut PgConnection, held: &[(LotId, WarehouseId, i64)]) -> AppResult<()> {
    let ids: Vec<LotId> = held.iter().map(|h| h.0).collect();
    db::lock_lots(conn, &ids).await?;
    Ok(())
}

async fn finish_change(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &Actor,
    origin: &Origin,
    id: RequestId,
    action: &str,
    before: Value,
) -> AppResult<Response> {
    let view = load_view(&mut tx, id).await?;
    crate::audit::http::finish_command(
        tx,
        actor,
        origin,
        audit::Change {
            action,
            entity_kind: "allocation_request",
            entity_id: id.to_string(),
            before: Some(before),
            after: Some(audit_summary(&view)),
        },
        StatusCode::OK,
        &view,
    )
    .await
}

/// Issue the reserved stock: one shipment per source warehouse, in one transaction.
#[utoipa::path(post, path = "/api/v1/requests/{id}/dispatch", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn dispatch_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let mut tx = state.writes.begin().await?;
    let fingerprint = format!("POST /api/v1/requests/{id}/dispatch");
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &fingerprint).await?
    {
        return Ok(replay);
    }
    let r = lock_changeable(&mut tx, id, "dispatch").await?;
    let before = serde_json::json!({ "status": r.status });
    let held = db::held_per_lot(&mut tx, id).await?;
    if held.is_empty() {
        return Err(AppError::conflict(
            "id",
            "nothing is reserved for this request; replan it first",
            None,
        ));
    }
    lock_lots(&mut tx, &held).await?;
    let movements: Vec<Movement<'_>> = held
        .iter()
        .map(|(lot, _, qty)| movement(&actor, &origin, id, *lot, "dispatch", -qty, -qty))
        .collect();
    insert_movements(&mut tx, &movements).await?;
    // One shipment per source warehouse, all written in one statement.
    let mut shipments: BTreeMap<WarehouseId, ShipmentId> = BTreeMap::new();
    let mut lines = db::NewShipmentLines::default();
    for (lot, warehouse, qty) in &held {
        let shipment = *shipments.entry(*warehouse).or_insert_with(ShipmentId::new);
        lines.shipment_id.push(shipment.0);
        lines.lot_id.push(lot.0);
        lines.qty.push(*qty);
    }
    db::insert_shipments(&mut tx, id, &shipments, &lines).await?;
    db::mark_dispatched(&mut tx, id).await?;
    finish_change(tx, &actor, &origin, id, "allocation.dispatch", before).await
}

/// Release a request's reservations. Only before dispatch.
#[utoipa::path(post, path = "/api/v1/requests/{id}/cancel", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let mut tx = state.writes.begin().await?;
    let fingerprint = format!("POST /api/v1/requests/{id}/cancel");
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &fingerprint).await?
    {
        return Ok(replay);
    }
    let r = lock_changeable(&mut tx, id, "cancel").await?;
    let before = serde_json::json!({ "status": r.status });
    let held = db::held_per_lot(&mut tx, id).await?;
    lock_lots(&mut tx, &held).await?;
    let movements: Vec<Movement<'_>> = held
        .iter()
        .map(|(lot, _, qty)| movement(&actor, &origin, id, *lot, "release", 0, -qty))
        .collect();
    insert_movements(&mut tx, &movements).await?;
    db::mark_cancelled(&mut tx, id).await?;
    finish_change(tx, &actor, &origin, id, "allocation.cancel", before).await
}

/// Try to fill a request's shortfall from the stock available now.
#[utoipa::path(post, path = "/api/v1/requests/{id}/replan", tag = "allocation",
    params(("id" = String, Path, description = "Request id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RequestView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn replan_request(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<RequestId>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let fingerprint = format!("POST /api/v1/requests/{id}/replan");
    for attempt in 0..=OPTIMISTIC_ATTEMPTS {
        let last = attempt == OPTIMISTIC_ATTEMPTS;
        let mut conn = state.pool.acquire().await?;
        let r = db::request(&mut conn, id, false)
            .await?
            .ok_or_else(|| AppError::not_found(format!("no allocation request with id {id}")))?;
        let lines = db::lines(&mut conn, id).await?;
        let priority = Priority::parse(&r.priority)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored priority {}", r.priority)))?;
        let demand = Demand {
            lines: lines
                .iter()
                .filter(|l| l.requested > l.reserved)
                .map(|l| DemandLine {
                    sku: l.sku.clone(),
                    qty: l.requested - l.reserved,
                })
                .collect(),
            items: state
                .item_policies
                .named(
                    &mut conn,
                    &lines.iter().map(|l| l.sku.clone()).collect::<Vec<_>>(),
                    &[],
                )
                .await?,
            priority,
            needed_by: r.needed_by,
            include_affected: r.include_affected_warehouses,
        };
        let early = if last || demand.lines.is_empty() {
            None
        } else {
            Some(
                plan_now(
                    &state,
                    &mut conn,
                    r.incident_id,
                    None,
                    &demand,
                    &demand.lines,
                )
                .await?,
            )
        };
        drop(conn);

        let mut tx = state.writes.begin().await?;
        if let Some(replay) =
            crate::audit::http::claim_key(&mut tx, &actor, &origin, &fingerprint).await?
        {
            return Ok(replay);
        }
        let locked = lock_changeable(&mut tx, id, "replan").await?;
        let now_lines = db::lines(&mut tx, id).await?;
        if locked.updated_at != r.updated_at
            || now_lines
                .iter()
                .map(|l| l.reserved)
                .ne(lines.iter().map(|l| l.reserved))
        {
            tx.rollback().await?;
            continue; // changed since we read it
        }
        let before = serde_json::json!({ "status": r.status, "reserved": lines.iter().map(|l| (l.sku.clone(), l.reserved)).collect::<Vec<_>>() });
        let plan = match early {
            Some(plan) => Some(plan),
            None if demand.lines.is_empty() => None,
            None => {
                db::lock_all_lots_of(&mut tx, &demand.item_ids()).await?;
                Some(plan_now(&state, &mut tx, r.incident_id, None, &demand, &demand.lines).await?)
            }
        };
        if let Some(plan) = &plan {
            if !still_holds(&mut tx, plan, &demand).await? {
                tx.rollback().await?;
                metrics::counter!("allocation_replans_total", "operation" => "replan").increment(1);
                continue;
            }
            let line_no_of: HashMap<String, i32> =
                lines.iter().map(|l| (l.sku.clone(), l.line_no)).collect();
            for line in &plan.lines {
                let explanation =
                    serde_json::to_value(&line.explanation).map_err(anyhow::Error::from)?;
                db::add_line_reservation(
                    &mut tx,
                    id,
                    line_no_of.get(&line.sku).copied().unwrap_or(-1),
                    line.reserved,
                    &explanation,
                )
                .await?;
            }
            let (picks, per_lot) = pick_rows(plan, &line_no_of)?;
            db::insert_picks(&mut tx, id, &picks).await?;
            reserve_lots(&mut tx, &actor, &origin, id, per_lot).await?;
        }
        let totals: Vec<(i64, i64)> = db::lines(&mut tx, id)
            .await?
            .iter()
            .map(|l| (l.requested, l.reserved))
            .collect();
        db::set_request_status(&mut tx, id, fill_status(&totals)).await?;
        return finish_change(tx, &actor, &origin, id, "allocation.replan", before).await;
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "the locked replan did not hold"
    )))
}

/// What arrived of one lot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    /// The lot.
    pub lot_id: LotId,
    /// Quantity received, from 0 to the quantity shipped.
    pub received_qty: i64,
}

/// Body of `POST /api/v1/shipments/{id}/deliver`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverShipment {
    /// Lots that did not arrive in full; lots not listed arrived as shipped.
    #[serde(default)]
    pub lines: Vec<ReceivedLine>,
    /// What happened (damage, shortages …), at most 1000 characters; required when less
    /// arrived than was shipped.
    pub note: Option<String>,
}

/// Confirm what arrived, with discrepancies.
#[utoipa::path(post, path = "/api/v1/shipments/{id}/deliver", tag = "allocation", request_body = DeliverShipment,
    params(("id" = String, Path, description = "Shipment id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = ShipmentView), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn deliver_shipment(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<ShipmentId>,
    cmd: Command<DeliverShipment>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let mut tx = state.writes.begin().await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let status = db::lock_shipment_status(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no shipment with id {id}")))?;
    if status != "in_transit" {
        return Err(AppError::conflict(
            "id",
            "this shipment was already delivered",
            None,
        ));
    }
    let (_, lines) = db::shipments(&mut tx, None, Some(id)).await?;
    let mut short = false;
    for (i, l) in cmd.body.lines.iter().enumerate() {
        let Some(shipped) = lines.iter().find(|s| s.lot_id == l.lot_id) else {
            return Err(AppError::invalid(
                format!("/lines/{i}/lot_id"),
                "this lot is not in the shipment",
            ));
        };
        if cmd.body.lines[..i].iter().any(|o| o.lot_id == l.lot_id) {
            return Err(AppError::invalid(
                format!("/lines/{i}/lot_id"),
                "this lot is listed twice; give one line per lot",
            ));
        }
        if !(0..=shipped.qty).contains(&l.received_qty) {
            return Err(AppError::invalid(
                format!("/lines/{i}/received_qty"),
                format!(
                    "received_qty must be between 0 and the {} shipped, got {}",
                    shipped.qty, l.received_qty
                ),
            ));
        }
        short |= l.received_qty < shipped.qty;
    }
    let note = cmd
        .body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if short && note.is_none() {
        return Err(AppError::invalid(
            "/note",
            "less arrived than was shipped: say in the note what happened to the rest",
        ));
    }
    if note.is_some_and(|n| n.chars().count() > 1000) {
        return Err(AppError::invalid("/note", "at most 1000 characters"));
    }
    for s in &lines {
        let received = cmd
            .body
            .lines
            .iter()
            .find(|l| l.lot_id == s.lot_id)
            .map_or(s.qty, |l| l.received_qty);
        db::set_received(&mut tx, id, s.lot_id, received).await?;
    }
    db::mark_delivered(&mut tx, id, note).await?;
    let view = shipment_view(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("shipment vanished")))?;
    let body = serde_json::to_value(&view).map_err(anyhow::Error::from)?;
    crate::audit::http::finish_command(
        tx,
        &actor,
        &origin,
        audit::Change {
            action: "shipment.deliver",
            entity_kind: "shipment",
            entity_id: id.to_string(),
            before: Some(serde_json::json!({ "status": status })),
            after: Some(body.clone()),
        },
        StatusCode::OK,
        body,
    )
    .await
}
