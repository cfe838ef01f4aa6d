//! SQL for allocation: the stock snapshot the planner reads, the locks and re-checks of the
//! reservation transaction, and requests, picks and shipments.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::network_db::NetworkNow;
use crate::ids::{IncidentId, ItemId, LotId, RequestId, ShipmentId, UserId, WarehouseId};

/// A warehouse as the planner needs it.
#[derive(Debug, Clone)]
pub struct WarehouseRow {
    /// Id.
    pub id: WarehouseId,
    /// Code.
    pub code: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Handling minutes before a truck leaves.
    pub handling_minutes: i32,
}

/// A lot as the planner needs it.
#[derive(Debug, Clone)]
pub struct LotRow {
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
    /// `available` or `quarantined`.
    pub status: String,
}

/// What the planner reads for these items and `incident`, in one statement (one round
/// trip): where the incident is and whether it is open, the network in use and the
/// closures in force now, every warehouse by code with its
/// reserve levels (SKU, level) for these items, and their lots that hold stock, by id.
/// Its rows are warehouses (part 0), reserve levels (part 1), lots (part 2) and the
/// network with the incident (part 3, one row), each part using the columns it needs.
pub async fn planner_snapshot(
    conn: &mut PgConnection,
    items: &[Uuid],
    incident: IncidentId,
) -> Result<PlannerSnapshot, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select 0 as "part!", w.id as "warehouse_id: WarehouseId", w.code, w.status, w.lat, w.lon,
                  w.handling_minutes, null::uuid as "lot_id: LotId", null::text as sku, null::text as lot_code,
                  null::date as expires_on, null::int8 as qty, null::int8 as reserved, null::jsonb as closures,
                  null::jsonb as area
             from warehouses w
           union all
           select 1, r.warehouse_id, null, null, null, null, null, null, i.sku, null, null, r.min_qty, null, null, null
             from reserve_levels r join items i on i.id = r.item_id
            where r.item_id = any($1)
           union all
           select 2, l.warehouse_id, null, l.status, null, null, null, l.id, i.sku, l.lot_code, l.expires_on,
                  l.on_hand, l.reserved, null, null
             from stock_lots l join items i on i.id = l.item_id
            where l.item_id = any($1) and l.on_hand > 0
           union all
           select 3, null, null, inc.status, inc.lat, inc.lon, null, null, null, null, null,
                  (select max(id) from road_networks),  null,
                  coalesce((select jsonb_agg(jsonb_build_object('edge_ids', edge_ids, 'area', area) order by id)
                              from road_closures
                             where starts_at <= now() and (ends_at is null or ends_at > now())),
                           '[]'::jsonb),
                  inc.affected_area
             from (select) as one left join incidents inc on inc.id = $2
            order by 1, 3, 8"#,
        items,
        incident as IncidentId
    )
    .fetch_all(conn)
    .await?;
    let mut snapshot = PlannerSnapshot {
        incident: None,
        network: NetworkNow {
            version: None,
            closures: Value::Array(vec![]),
        },
        warehouses: Vec::new(),
        lots: Vec::new(),
    };
    let mut index: std::collections::HashMap<WarehouseId, usize> = Default::default();
    for r in rows {
        match (r.part, r.warehouse_id) {
            (0, Some(id)) => {
                index.insert(id, snapshot.warehouses.len());
                snapshot.warehouses.push((
                    WarehouseRow {
                        id,
                        code: r.code.unwrap_or_default(),
                        status: r.status.unwrap_or_default(),
                        lat: r.lat.unwrap_or_default(),
                        lon: r.lon.unwrap_or_default(),
                        handling_minutes: r.handling_minutes.unwrap_or_default(),
                    },
                    Vec::new(),
                ));
            }
            (1, Some(id)) => {
                if let (Some(&i), Some(sku), Some(level)) = (index.get(&id), r.sku, r.qty) {
                    snapshot.warehouses[i].1.push((sku, level));
                }
            }
            (2, Some(warehouse_id)) => {
                if let (Some(id), Some(sku), Some(lot_code), Some(on_hand), Some(reserved)) =
                    (r.lot_id, r.sku, r.lot_code, r.qty, r.reserved)
                {
                    snapshot.lots.push(LotRow {
                        id,
                        warehouse_id,
                        sku,
                        lot_code,
                        expires_on: r.expires_on,
                        on_hand,
                        reserved,
                        status: r.status.unwrap_or_default(),
                    });
                }
            }
            (3, _) => {
                snapshot.network = NetworkNow {
                    version: r.qty,
                    closures: r.closures.unwrap_or(Value::Array(vec![])),
                };
                if let (Some(status), Some(lat), Some(lon)) = (r.status, r.lat, r.lon) {
                    snapshot.incident = Some(IncidentPlace {
                        status,
                        lat,
                        lon,
                        affected_area: r.area,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(snapshot)
}

/// Where an incident is, as the planner needs it.
#[derive(Debug, Clone)]
pub struct IncidentPlace {
    /// `open` or `closed`.
    pub status: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// GeoJSON Polygon or MultiPolygon of the affected area.
    pub affected_area: Option<Value>,
}

/// What [`planner_snapshot`] read.
#[derive(Debug, Clone)]
pub struct PlannerSnapshot {
    /// The incident; `None` when there is no incident with that id.
    pub incident: Option<IncidentPlace>,
    /// The network in use and the closures in force.
    pub network: NetworkNow,
    /// Every warehouse, by code, with its reserve levels (SKU, level) for the items.
    pub warehouses: Vec<(WarehouseRow, Vec<(String, i64)>)>,
    /// The items' lots that hold stock, by id.
    pub lots: Vec<LotRow>,
}

/// Locks every lot of these items, in id order (the last-resort, fully serialised attempt).
pub async fn lock_all_lots_of(conn: &mut PgConnection, items: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        "select id from stock_lots where item_id = any($1) order by id for update",
        items
    )
    .fetch_all(conn)
    .await?;
    Ok(())
}

/// A locked lot's balance, with the reserve level of its (warehouse, item) cell.
#[derive(Debug, Clone)]
pub struct LockedLot {
    /// Id.
    pub id: LotId,
    /// Warehouse.
    pub warehouse_id: WarehouseId,
    /// Item.
    pub item_id: ItemId,
    /// On hand.
    pub on_hand: i64,
    /// Reserved.
    pub reserved: i64,
    /// Status.
    pub status: String,
    /// The cell's reserve level (0 when none is set).
    pub level: i64,
}

/// Locks every lot of the given (warehouse, item) cells, in id order, and returns their
/// balances. Whole cells are locked because a reserve-level floor spans all lots of a cell.
pub async fn lock_cells(
    conn: &mut PgConnection,
    cells: &[(WarehouseId, ItemId)],
) -> Result<Vec<LockedLot>, sqlx::Error> {
    let warehouses: Vec<Uuid> = cells.iter().map(|c| c.0.0).collect();
    let items: Vec<Uuid> = cells.iter().map(|c| c.1.0).collect();
    sqlx::query_as!(
        LockedLot,
        r#"select l.id as "id: LotId", l.warehouse_id as "warehouse_id: WarehouseId",
                  l.item_id as "item_id: ItemId", l.on_hand, l.reserved, l.status,
                  coalesce(r.min_qty, 0) as "level!"
             from stock_lots l
             left join reserve_levels r on r.warehouse_id = l.warehouse_id and r.item_id = l.item_id
            where (l.warehouse_id, l.item_id) in (select * from unnest($1::uuid[], $2::uuid[]))
            order by l.id
              for update of l"#,
        &warehouses,
        &items
    )
    .fetch_all(conn)
    .await
}

/// Locks the lots with these ids (`for update`, in id order).
pub async fn lock_lots(conn: &mut PgConnection, ids: &[LotId]) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|l| l.0).collect();
    sqlx::query_scalar!(
        "select id from stock_lots where id = any($1) order by id for update",
        &ids
    )
    .fetch_all(conn)
    .await?;
    Ok(())
}

/// New request lines, as parallel columns.
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
    /// Reserved.
    pub reserved: Vec<i64>,
    /// Explanations.
    pub explanation: Vec<Value>,
}

/// New picks, as parallel columns.
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
}

/// Inserts picks in one statement, keeping their order in the pick ids.
pub async fn insert_picks(
    conn: &mut PgConnection,
    request: RequestId,
    p: &NewPicks,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into allocation_picks (request_id, line_no, lot_id, warehouse_id, qty, eta_minutes, distance_km, late)
         select $1, line_no, lot_id, warehouse_id, qty, eta, km, late
           from unnest($2::int4[], $3::uuid[], $4::uuid[], $5::int8[], $6::float8[], $7::float8[], $8::bool[])
                with ordinality as t(line_no, lot_id, warehouse_id, qty, eta, km, late, n)
          order by n",
        request as RequestId,
        &p.line_no,
        &p.lot_id,
        &p.warehouse_id,
        &p.qty,
        &p.eta_minutes,
        &p.distance_km as &[Option<f64>],
        &p.late
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A new request's own row.
#[derive(Debug)]
pub struct NewRequest<'a> {
    /// Id.
    pub id: RequestId,
    /// Incident.
    pub incident_id: IncidentId,
    /// Priority.
    pub priority: &'a str,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether affected warehouses may supply.
    pub include_affected_warehouses: bool,
    /// Status.
    pub status: &'a str,
    /// Who asked.
    pub created_by: UserId,
    /// The HTTP request's id, for its ledger rows.
    pub request_id: Option<&'a str>,
    /// The HTTP request's idempotency key, for its ledger rows.
    pub idempotency_key: Option<&'a str>,
}

/// What a new request reserves: units per lot, in lot id order (the order the lots were
/// locked in).
#[derive(Debug, Default)]
pub struct NewReservations {
    /// Lots.
    pub lot_id: Vec<Uuid>,
    /// Units reserved.
    pub qty: Vec<i64>,
}

/// When a request was stored.
#[derive(Debug, Clone, Copy)]
pub struct Stamps {
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// What a new request takes from each (warehouse, item) cell, as parallel columns.
#[derive(Debug, Default)]
pub struct CellTakes {
    /// Warehouses.
    pub warehouse_id: Vec<Uuid>,
    /// Items.
    pub item_id: Vec<Uuid>,
    /// Units taken from the cell.
    pub qty: Vec<i64>,
}

/// Inserts a request with its lines and picks, appends its `reserve` ledger rows and
/// records `event`, in one statement (foreign keys are checked at its end, so the rows may
/// refer to each other) that first locks every lot of the plan's cells in id order and
/// writes only if the plan still holds on them: each picked lot is available (not
/// quarantined) with at least what the plan takes from it, and, when `check_levels` (a
/// request that is not critical), what stays available in each cell is at least the
/// cell's reserve level. The same checks as `allocation::http::still_holds`, made by
/// PostgreSQL under the locks, so that no lock is held across a round trip; the ledger
/// trigger then raises the lots' reserved quantities, and the balance checks refuse the
/// whole statement if any would break. Outside a transaction it is its own.
///
/// Returns the request's stamps, or `None` when the plan no longer holds and nothing
/// was written: the caller plans again.
#[allow(clippy::too_many_arguments)]
pub async fn insert_request_if_available(
    conn: &mut PgConnection,
    r: &NewRequest<'_>,
    l: &NewLines,
    p: &NewPicks,
    reserve: &NewReservations,
    cells: &CellTakes,
    check_levels: bool,
    event: &crate::audit::Event,
) -> Result<Option<Stamps>, sqlx::Error> {
    sqlx::query_as!(
        Stamps,
        r#"with locked as (
             select l.id, l.warehouse_id, l.item_id, l.on_hand, l.reserved, l.status,
                    coalesce(lv.min_qty, 0) as level
               from stock_lots l
               left join reserve_levels lv on lv.warehouse_id = l.warehouse_id and lv.item_id = l.item_id
              where (l.warehouse_id, l.item_id) in (select * from unnest($25::uuid[], $26::uuid[]))
              order by l.id
                for update of l),
         verdict as (
             select not exists (
                        select 1 from unnest($21::uuid[], $22::int8[]) as w(lot_id, qty)
                          left join locked k on k.id = w.lot_id
                         where k.id is null or k.status <> 'available'
                            or greatest(k.on_hand - k.reserved, 0) < w.qty)
                    and (not $27 or not exists (
                        select 1 from unnest($25::uuid[], $26::uuid[], $28::int8[]) as c(warehouse_id, item_id, taken)
                         where (select coalesce(sum(greatest(k.on_hand - k.reserved, 0))
                                                  filter (where k.status = 'available'), 0)
                                  from locked k
                                 where k.warehouse_id = c.warehouse_id and k.item_id = c.item_id) - c.taken
                               < (select greatest(coalesce(max(k.level), 0), 0)
                                    from locked k
                                   where k.warehouse_id = c.warehouse_id and k.item_id = c.item_id)))
                    as ok),
         r as (
             insert into allocation_requests (id, incident_id, priority, needed_by,
                                              include_affected_warehouses, status, created_by)
             select $1, $2, $3, $4, $5, $6, $7 where (select ok from verdict)
             returning created_at, updated_at
         ), l as (
             insert into allocation_request_lines (request_id, line_no, item_id, sku, requested, reserved, explanation)
             select $1, * from unnest($8::int4[], $9::uuid[], $10::text[], $11::int8[], $12::int8[], $13::jsonb[])
              where (select ok from verdict)
         ), p as (
             insert into allocation_picks (request_id, line_no, lot_id, warehouse_id, qty, eta_minutes, distance_km, late)
             select $1, line_no, lot_id, warehouse_id, qty, eta, km, late
               from unnest($14::int4[], $15::uuid[], $16::uuid[], $17::int8[], $18::float8[], $19::float8[], $20::bool[])
                    with ordinality as t(line_no, lot_id, warehouse_id, qty, eta, km, late, n)
              where (select ok from verdict)
              order by n
         ), m as (
             insert into stock_movements (lot_id, kind, qty, reserved_delta, ref_kind, ref_id,
                                          actor_id, request_id, idempotency_key)
             select lot_id, 'reserve', 0, qty, 'allocation_request', $1, $7, $23, $24
               from unnest($21::uuid[], $22::int8[]) with ordinality as t(lot_id, qty, n)
              where (select ok from verdict)
              order by n
         ), event as (
             insert into audit_pending (event)
             select $29
              where (select ok from verdict)
         )
         select created_at, updated_at from r"#,
        r.id as RequestId,
        r.incident_id as IncidentId,
        r.priority,
        r.needed_by,
        r.include_affected_warehouses,
        r.status,
        r.created_by as UserId,
        &l.line_no,
        &l.item_id,
        &l.sku,
        &l.requested,
        &l.reserved,
        &l.explanation,
        &p.line_no,
        &p.lot_id,
        &p.warehouse_id,
        &p.qty,
        &p.eta_minutes,
        &p.distance_km as &[Option<f64>],
        &p.late,
        &reserve.lot_id,
        &reserve.qty,
        r.request_id,
        r.idempotency_key,
        &cells.warehouse_id,
        &cells.item_id,
        check_levels,
        &cells.qty,
        event.pending_json(),
    )
    .fetch_optional(conn)
    .await
}

/// New shipment lines, as parallel columns.
#[derive(Debug, Default)]
pub struct NewShipmentLines {
    /// Shipments.
    pub shipment_id: Vec<Uuid>,
    /// Lots.
    pub lot_id: Vec<Uuid>,
    /// Quantities.
    pub qty: Vec<i64>,
}

/// Inserts the shipments of `request` (one per source warehouse) and their lines in one
/// statement.
pub async fn insert_shipments(
    conn: &mut PgConnection,
    request: RequestId,
    shipments: &BTreeMap<WarehouseId, ShipmentId>,
    lines: &NewShipmentLines,
) -> Result<(), sqlx::Error> {
    let warehouses: Vec<Uuid> = shipments.keys().map(|w| w.0).collect();
    let ids: Vec<Uuid> = shipments.values().map(|s| s.0).collect();
    sqlx::query!(
        "with s as (
             insert into shipments (id, request_id, warehouse_id)
             select id, $1, warehouse_id from unnest($2::uuid[], $3::uuid[]) as t(id, warehouse_id)
         )
         insert into shipment_lines (shipment_id, lot_id, qty)
         select * from unnest($4::uuid[], $5::uuid[], $6::int8[])",
        request as RequestId,
        &ids,
        &warehouses,
        &lines.shipment_id,
        &lines.lot_id,
        &lines.qty
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored request.
#[derive(Debug, Clone)]
pub struct RequestRow {
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
    /// Status.
    pub status: String,
    /// Who.
    pub created_by: UserId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Dispatched.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// Cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// One request; `lock` takes the row lock (always before any lot lock).
pub async fn request(
    conn: &mut PgConnection,
    id: RequestId,
    lock: bool,
) -> Result<Option<RequestRow>, sqlx::Error> {
    if lock {
        sqlx::query_as!(
            RequestRow,
            r#"select id as "id: RequestId", incident_id as "incident_id: IncidentId", priority, needed_by,
                      include_affected_warehouses, status, created_by as "created_by: UserId", created_at,
                      updated_at, dispatched_at, cancelled_at
                 from allocation_requests where id = $1 for update"#,
            id as RequestId
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            RequestRow,
            r#"select id as "id: RequestId", incident_id as "incident_id: IncidentId", priority, needed_by,
                      include_affected_warehouses, status, created_by as "created_by: UserId", created_at,
                      updated_at, dispatched_at, cancelled_at
                 from allocation_requests where id = $1"#,
            id as RequestId
        )
        .fetch_optional(conn)
        .await
    }
}

/// Requests, filtered, in id order.
pub async fn list_requests(
    conn: &mut PgConnection,
    incident: Option<IncidentId>,
    status: Option<&str>,
    after: Option<RequestId>,
    limit: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    sqlx::query_as!(
        RequestRow,
        r#"select id as "id: RequestId", incident_id as "incident_id: IncidentId", priority, needed_by,
                  include_affected_warehouses, status, created_by as "created_by: UserId", created_at,
                  updated_at, dispatched_at, cancelled_at
             from allocation_requests
            where ($1::uuid is null or incident_id = $1) and ($2::text is null or status = $2)
              and ($3::uuid is null or id > $3)
            order by id limit $4"#,
        incident as Option<IncidentId>,
        status,
        after as Option<RequestId>,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Marks a request dispatched, now.
pub async fn mark_dispatched(conn: &mut PgConnection, id: RequestId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update allocation_requests set status = 'dispatched', dispatched_at = now(), updated_at = now() where id = $1",
        id as RequestId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a request cancelled, now.
pub async fn mark_cancelled(conn: &mut PgConnection, id: RequestId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update allocation_requests set status = 'cancelled', cancelled_at = now(), updated_at = now() where id = $1",
        id as RequestId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets a request's status (`reserved`, `partially_reserved` or `unfilled`) and its updated time.
pub async fn set_request_status(
    conn: &mut PgConnection,
    id: RequestId,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update allocation_requests set status = $2, updated_at = now() where id = $1",
        id as RequestId,
        status
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored request line.
#[derive(Debug, Clone)]
pub struct LineRow {
    /// Position.
    pub line_no: i32,
    /// Item.
    pub item_id: ItemId,
    /// SKU.
    pub sku: String,
    /// Requested.
    pub requested: i64,
    /// Reserved (or dispatched).
    pub reserved: i64,
    /// Explanation of the latest plan.
    pub explanation: Value,
}

/// The lines of a request.
pub async fn lines(conn: &mut PgConnection, id: RequestId) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as!(
        LineRow,
        r#"select line_no, item_id as "item_id: ItemId", sku, requested, reserved, explanation
             from allocation_request_lines where request_id = $1 order by line_no"#,
        id as RequestId
    )
    .fetch_all(conn)
    .await
}

/// Adds `reserved` to a request line's reservation and stores the explanation of the plan
/// that made it.
pub async fn add_line_reservation(
    conn: &mut PgConnection,
    id: RequestId,
    line_no: i32,
    reserved: i64,
    explanation: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update allocation_request_lines set reserved = reserved + $3, explanation = $4
                      where request_id = $1 and line_no = $2",
        id as RequestId,
        line_no,
        reserved,
        explanation
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored pick with its lot and warehouse facts.
#[derive(Debug, Clone)]
pub struct PickRow {
    /// Line.
    pub line_no: i32,
    /// Warehouse.
    pub warehouse_id: WarehouseId,
    /// Warehouse code.
    pub warehouse_code: String,
    /// Lot.
    pub lot_id: LotId,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// Quantity.
    pub qty: i64,
    /// ETA.
    pub eta_minutes: f64,
    /// Road km.
    pub distance_km: Option<f64>,
    /// Late against needed_by.
    pub late: bool,
}

/// The picks of a request, in the order they were made.
pub async fn picks(conn: &mut PgConnection, id: RequestId) -> Result<Vec<PickRow>, sqlx::Error> {
    sqlx::query_as!(
        PickRow,
        r#"select p.line_no, p.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  p.lot_id as "lot_id: LotId", l.lot_code, l.expires_on, p.qty, p.eta_minutes,
                  p.distance_km, p.late
             from allocation_picks p
             join stock_lots l on l.id = p.lot_id
             join warehouses w on w.id = p.warehouse_id
            where p.request_id = $1 order by p.id"#,
        id as RequestId
    )
    .fetch_all(conn)
    .await
}

/// Σ picked per lot, in lot id order (what the request holds in the ledger).
pub async fn held_per_lot(
    conn: &mut PgConnection,
    id: RequestId,
) -> Result<Vec<(LotId, WarehouseId, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select lot_id as "lot_id: LotId", warehouse_id as "warehouse_id: WarehouseId", sum(qty)::bigint as "qty!"
             from allocation_picks where request_id = $1 group by lot_id, warehouse_id order by lot_id"#,
        id as RequestId
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.lot_id, r.warehouse_id, r.qty))
        .collect())
}

/// A shipment line with its lot facts.
#[derive(Debug, Clone)]
pub struct ShipmentLineRow {
    /// Shipment.
    pub shipment_id: ShipmentId,
    /// Lot.
    pub lot_id: LotId,
    /// Lot code.
    pub lot_code: String,
    /// SKU.
    pub sku: String,
    /// Shipped.
    pub qty: i64,
    /// Received, once delivered.
    pub received_qty: Option<i64>,
}

/// A shipment.
#[derive(Debug, Clone)]
pub struct ShipmentRow {
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
    /// Note given on delivery.
    pub delivery_note: Option<String>,
}

/// Shipments of a request, or one shipment.
pub async fn shipments(
    conn: &mut PgConnection,
    request: Option<RequestId>,
    shipment: Option<ShipmentId>,
) -> Result<(Vec<ShipmentRow>, Vec<ShipmentLineRow>), sqlx::Error> {
    let ships = sqlx::query_as!(
        ShipmentRow,
        r#"select s.id as "id: ShipmentId", s.request_id as "request_id: RequestId",
                  s.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code, s.status,
                  s.dispatched_at, s.delivered_at, s.delivery_note
             from shipments s join warehouses w on w.id = s.warehouse_id
            where ($1::uuid is null or s.request_id = $1) and ($2::uuid is null or s.id = $2)
            order by w.code"#,
        request as Option<RequestId>,
        shipment as Option<ShipmentId>
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = ships.iter().map(|s| s.id.0).collect();
    let lines = sqlx::query_as!(
        ShipmentLineRow,
        r#"select sl.shipment_id as "shipment_id: ShipmentId", sl.lot_id as "lot_id: LotId", l.lot_code,
                  i.sku, sl.qty, sl.received_qty
             from shipment_lines sl
             join stock_lots l on l.id = sl.lot_id
             join items i on i.id = l.item_id
            where sl.shipment_id = any($1)
            order by sl.shipment_id, sl.lot_id"#,
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok((ships, lines))
}

/// Locks a shipment and returns its status; `None` when there is no such shipment.
pub async fn lock_shipment_status(
    conn: &mut PgConnection,
    id: ShipmentId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select status from shipments where id = $1 for update",
        id as ShipmentId
    )
    .fetch_optional(conn)
    .await
}

/// Records what arrived of one lot of a shipment.
pub async fn set_received(
    conn: &mut PgConnection,
    id: ShipmentId,
    lot: LotId,
    received: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update shipment_lines set received_qty = $3 where shipment_id = $1 and lot_id = $2",
        id as ShipmentId,
        lot as LotId,
        received
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a shipment delivered, now, with the note given on delivery.
pub async fn mark_delivered(
    conn: &mut PgConnection,
    id: ShipmentId,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update shipments set status = 'delivered', delivered_at = now(), delivery_note = $2 where id = $1",
        id as ShipmentId,
        note
    )
    .execute(conn)
    .await?;
    Ok(())
}
