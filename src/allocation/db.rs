//! SQL for allocation: the stock snapshot the planner reads, the one statement that locks,
//! re-checks and writes a plan, the locks of dispatch and cancel, and requests, picks and
//! shipments.

use chrono::{DateTime, NaiveDate, Utc};
use geo::MultiPolygon;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::Priority;
pub use super::plan::{CellTakes, NewLines, NewPicks, NewReservations};
use super::plan::{IncidentPlace, ReserveLevel, SnapshotLot, SnapshotWarehouse};
use super::request::{Held, RequestStatus, ShipmentStatus};
use super::views::Explanation;
use crate::ids::{IncidentId, ItemId, LotId, RequestId, ShipmentId, UserId, WarehouseId};
use crate::incidents::{IncidentStatus, parse_area};
use crate::network::db::NetworkNow;
use crate::planner::CellStock;

/// Where the planner plans, for these items and `incident`, in one statement (one round
/// trip): where the incident is and whether it is open, the network in use and the
/// closures in force now, every warehouse by code, and the reserve levels of these items.
/// The stock comes next, from [`planner_cells`] and [`planner_lots`], once the caller
/// knows when each warehouse's supplies would arrive.
///
/// One row of named, typed columns: the incident's and the network's as scalars, and
/// each other part as one array per field, in the part's order (binary arrays: no JSON to
/// build or parse on this per-request read). An unexpected shape (parts whose arrays
/// differ in length, a null where a value belongs, an unknown incident status, a stored
/// area that is not a polygon) is an error, never a default.
pub async fn planner_places(
    conn: &mut PgConnection,
    items: &[Uuid],
    incident: IncidentId,
) -> Result<PlannerPlaces, sqlx::Error> {
    let r = sqlx::query!(
        r#"select inc.status as "incident_status?", inc.lat as "incident_lat?",
                  inc.lon as "incident_lon?", inc.affected_area as "incident_area?",
                  inc.delivery_target_hours as "incident_target_hours?",
                  (select max(id) from road_networks) as "network_version?",
                  coalesce((select jsonb_agg(jsonb_build_object('edge_ids', edge_ids, 'area', area) order by id)
                              from road_closures
                             where starts_at <= now() and (ends_at is null or ends_at > now())),
                           '[]'::jsonb) as "closures!",
                  w.id as "warehouse_id!: Vec<WarehouseId>", w.code as "warehouse_code!",
                  w.active as "warehouse_active!", w.lat as "warehouse_lat!", w.lon as "warehouse_lon!",
                  w.handling_minutes as "warehouse_handling_minutes!",
                  w.tier as "warehouse_tier!",
                  lv.warehouse_id as "level_warehouse_id!: Vec<WarehouseId>", lv.sku as "level_sku!",
                  lv.qty as "level_qty!"
             from (select) as one
             left join incidents inc on inc.id = $2
            cross join (select coalesce(array_agg(id), '{}') as id, coalesce(array_agg(code), '{}') as code,
                               coalesce(array_agg(status = 'active'), '{}') as active,
                               coalesce(array_agg(lat), '{}') as lat, coalesce(array_agg(lon), '{}') as lon,
                               coalesce(array_agg(handling_minutes), '{}') as handling_minutes,
                               coalesce(array_agg(tier), '{}') as tier
                          from (select * from warehouses order by code) w) w
            cross join (select coalesce(array_agg(r.warehouse_id), '{}') as warehouse_id,
                               coalesce(array_agg(i.sku), '{}') as sku, coalesce(array_agg(r.min_qty), '{}') as qty
                          from reserve_levels r join items i on i.id = r.item_id
                         where r.item_id = any($1)) lv"#,
        items,
        incident as IncidentId
    )
    .fetch_one(conn)
    .await?;

    let incident = match (
        r.incident_status,
        r.incident_lat,
        r.incident_lon,
        r.incident_target_hours,
    ) {
        (Some(status), Some(lat), Some(lon), Some(hours)) => Some(IncidentPlace {
            status: incident_status(&status)?,
            lat,
            lon,
            affected_area: r.incident_area.as_ref().map(stored_area).transpose()?,
            delivery_target_hours: hours,
        }),
        (None, None, None, None) => None,
        _ => return Err(shape("an incident row with a null column")),
    };

    same_len(
        "warehouse",
        &[
            r.warehouse_id.len(),
            r.warehouse_code.len(),
            r.warehouse_active.len(),
            r.warehouse_lat.len(),
            r.warehouse_lon.len(),
            r.warehouse_handling_minutes.len(),
            r.warehouse_tier.len(),
        ],
    )?;
    let mut warehouses: Vec<SnapshotWarehouse> = r
        .warehouse_id
        .into_iter()
        .zip(r.warehouse_code)
        .zip(r.warehouse_active)
        .zip(r.warehouse_lat.into_iter().zip(r.warehouse_lon))
        .zip(
            r.warehouse_handling_minutes
                .into_iter()
                .zip(r.warehouse_tier),
        )
        .map(
            |((((id, code), active), (lat, lon)), (handling_minutes, tier))| SnapshotWarehouse {
                id,
                code,
                active,
                lat,
                lon,
                handling_minutes,
                community: tier == "community",
                reserve_levels: Vec::new(),
            },
        )
        .collect();

    same_len(
        "reserve level",
        &[
            r.level_warehouse_id.len(),
            r.level_sku.len(),
            r.level_qty.len(),
        ],
    )?;
    for ((warehouse, sku), level) in r
        .level_warehouse_id
        .into_iter()
        .zip(r.level_sku)
        .zip(r.level_qty)
    {
        let w = warehouses
            .iter_mut()
            .find(|w| w.id == warehouse)
            .ok_or_else(|| shape("a reserve level of a warehouse it did not read"))?;
        w.reserve_levels.push(ReserveLevel { sku, level });
    }

    Ok(PlannerPlaces {
        incident,
        network: NetworkNow {
            version: r.network_version,
            closures: r.closures,
        },
        warehouses,
    })
}

/// The stock totals of the cells `ask` names that hold stock, in one statement: each
/// cell's totals (kept by the database: migration `stock_cells`) and its short-dated
/// stock on arrival. Exactly the totals of [`crate::planner::cell_stock`], as the
/// differential test in `tests/api/differential_stock_cells.rs` proves; its cost
/// follows the cells, not the lots.
pub async fn planner_cells(
    conn: &mut PgConnection,
    ask: &StockAsk,
) -> Result<Vec<CellStock>, sqlx::Error> {
    let r = sqlx::query!(
        r#"with
         -- The dates of the short-dated stock asked, as arrays in the order of the cells:
         -- before arrival (`required`; none for an unreachable cell, whose lots are not
         -- probed) and before `counted_from` (today's, for the reserve level).
         asked as (
             select array_agg(case when t.arrives then coalesce(t.required, 'infinity') end
                              order by t.n) as before,
                    array_agg(coalesce(t.counted_from, 'infinity') order by t.n) as counted_from
               from unnest($4::bool[], $5::date[], $6::date[]) with ordinality
                        as t(arrives, required, counted_from, n))
         -- Each cell that holds stock, by its position `n` in the arrays: its totals and
         -- short-dated stock (migration 330; inlined by PostgreSQL), sorted once in a
         -- subquery with nothing after it to reorder the rows (an aggregate's own ORDER
         -- BY sorts again, once for each of the eight). The arrays stay aligned whatever
         -- the order: one aggregation reads every row once.
         select coalesce(array_agg(warehouse_id), '{}') as "warehouse_id!: Vec<Uuid>",
                coalesce(array_agg(sku), '{}') as "sku!: Vec<String>",
                coalesce(array_agg(on_hand + quarantined), '{}') as "held!: Vec<i64>",
                coalesce(array_agg(quarantined), '{}') as "quarantined!: Vec<i64>",
                coalesce(array_agg(on_hand - reserved), '{}') as "available!: Vec<i64>",
                coalesce(array_agg(reserved), '{}') as "reserved!: Vec<i64>",
                coalesce(array_agg(short), '{}') as "short!: Vec<i64>",
                coalesce(array_agg(short_today), '{}') as "short_today!: Vec<i64>"
           from (select ($1::uuid[])[s.n] as warehouse_id, ($3::text[])[s.n] as sku,
                        s.on_hand, s.reserved, s.quarantined,
                        case when ($4::bool[])[s.n] then s.short else 0 end as short,
                        s.also_short as short_today
                   from asked a
                  cross join lateral stock_cells_state($2::uuid[], $1::uuid[], a.before,
                                                       a.counted_from) s
                  where s.on_hand + s.quarantined > 0
                  order by s.n) c"#,
        &ask.warehouse_id,
        &ask.item_id,
        &ask.sku,
        &ask.arrives,
        &ask.required as &[Option<NaiveDate>],
        &ask.counted_from as &[Option<NaiveDate>],
    )
    .fetch_one(conn)
    .await?;
    same_len(
        "cell",
        &[
            r.warehouse_id.len(),
            r.sku.len(),
            r.held.len(),
            r.quarantined.len(),
            r.available.len(),
            r.reserved.len(),
            r.short.len(),
            r.short_today.len(),
        ],
    )?;
    Ok(r.warehouse_id
        .into_iter()
        .zip(r.sku)
        .zip(r.held.into_iter().zip(r.quarantined))
        .zip(r.available.into_iter().zip(r.reserved))
        .zip(r.short.into_iter().zip(r.short_today))
        .map(
            |(
                (((warehouse_id, sku), (held, quarantined)), (available, reserved)),
                (short_dated, short_dated_today),
            )| CellStock {
                warehouse_id,
                sku,
                held,
                quarantined,
                available,
                reserved,
                short_dated,
                short_dated_today,
            },
        )
        .collect())
}

/// The lots a plan picks from, in one statement: for each cell `ask` names, its lots
/// usable on arrival (not quarantined, with stock not yet promised, expiring on or after
/// the required date or never) in FEFO order, up to and including the first at which
/// they cover the cell's draw (`stock_fefo_lots`). Exactly the lots of
/// [`crate::planner::cell_stock`] with the draw as demand (the differential test in
/// `tests/api/differential_stock_cells.rs`); it reads the lots it returns and no others.
pub async fn planner_lots(
    conn: &mut PgConnection,
    ask: &LotAsk,
) -> Result<Vec<SnapshotLot>, sqlx::Error> {
    let r = sqlx::query!(
        r#"with
         cells as (
             select * from unnest($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::int8[])
                        with ordinality as t(warehouse_id, item_id, sku, required, qty, n)),
         lots as (
             select c.n, l.k, l.id, c.warehouse_id, c.sku, l.lot_code, l.expires_on, l.on_hand, l.reserved
               from cells c
              cross join lateral stock_fefo_lots(c.item_id, c.warehouse_id, c.required, c.qty)
                         with ordinality as l(id, lot_code, expires_on, on_hand, reserved, k))
         select coalesce(array_agg(id order by n, k), '{}') as "id!: Vec<LotId>",
                coalesce(array_agg(warehouse_id order by n, k), '{}') as "warehouse_id!: Vec<WarehouseId>",
                coalesce(array_agg(sku order by n, k), '{}') as "sku!: Vec<String>",
                coalesce(array_agg(lot_code order by n, k), '{}') as "lot_code!: Vec<String>",
                coalesce(array_agg(expires_on order by n, k), '{}') as "expires_on!: Vec<Option<NaiveDate>>",
                coalesce(array_agg(on_hand order by n, k), '{}') as "on_hand!: Vec<i64>",
                coalesce(array_agg(reserved order by n, k), '{}') as "reserved!: Vec<i64>"
           from lots"#,
        &ask.warehouse_id,
        &ask.item_id,
        &ask.sku,
        &ask.required as &[Option<NaiveDate>],
        &ask.qty,
    )
    .fetch_one(conn)
    .await?;
    same_len(
        "lot",
        &[
            r.id.len(),
            r.warehouse_id.len(),
            r.sku.len(),
            r.lot_code.len(),
            r.expires_on.len(),
            r.on_hand.len(),
            r.reserved.len(),
        ],
    )?;
    Ok(r.id
        .into_iter()
        .zip(r.warehouse_id)
        .zip(r.sku.into_iter().zip(r.lot_code))
        .zip(r.expires_on)
        .zip(r.on_hand.into_iter().zip(r.reserved))
        .map(
            |((((id, warehouse_id), (sku, lot_code)), expires_on), (on_hand, reserved))| {
                SnapshotLot {
                    id,
                    warehouse_id,
                    sku,
                    lot_code,
                    expires_on,
                    on_hand,
                    reserved,
                    quarantined: false,
                }
            },
        )
        .collect())
}

/// The cells a plan draws from, for [`planner_lots`], as parallel columns.
#[derive(Debug, Default)]
pub struct LotAsk {
    /// Warehouses.
    pub warehouse_id: Vec<Uuid>,
    /// Items.
    pub item_id: Vec<Uuid>,
    /// Their SKUs.
    pub sku: Vec<String>,
    /// The date lots must still be usable on (`None`: only lots that never expire).
    pub required: Vec<Option<NaiveDate>>,
    /// What the plan draws from the cell.
    pub qty: Vec<i64>,
}

/// The cells [`planner_cells`] reads, as parallel columns: one per (warehouse, item),
/// with whether and when its supplies would arrive.
#[derive(Debug, Default)]
pub struct StockAsk {
    /// Warehouses.
    pub warehouse_id: Vec<Uuid>,
    /// Items.
    pub item_id: Vec<Uuid>,
    /// Their SKUs.
    pub sku: Vec<String>,
    /// Whether the warehouse has an arrival date (it is reachable).
    pub arrives: Vec<bool>,
    /// The date lots must still be usable on (`rules::required_expiry` of the arrival
    /// date); `None` with `arrives` when that is beyond the calendar.
    pub required: Vec<Option<NaiveDate>>,
    /// The date a lot must still be usable on to count toward the reserve level
    /// (`rules::required_expiry` of today); `None` when beyond the calendar.
    pub counted_from: Vec<Option<NaiveDate>>,
}

/// A snapshot of a shape [`planner_places`], [`planner_cells`] or [`planner_lots`] does
/// not expect.
fn shape(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("planner snapshot: {what}").into())
}

/// Checks that the columns of one part are arrays of the same length.
fn same_len(part: &str, lens: &[usize]) -> Result<(), sqlx::Error> {
    if lens.windows(2).all(|w| w[0] == w[1]) {
        Ok(())
    } else {
        Err(shape(&format!(
            "{part} columns of different lengths {lens:?}"
        )))
    }
}

/// An incident status as stored.
fn incident_status(s: &str) -> Result<IncidentStatus, sqlx::Error> {
    match s {
        "open" => Ok(IncidentStatus::Open),
        "closed" => Ok(IncidentStatus::Closed),
        other => Err(shape(&format!("incident status {other:?}"))),
    }
}

/// A stored affected area: a GeoJSON Polygon, validated when it was stored.
fn stored_area(area: &Value) -> Result<MultiPolygon<f64>, sqlx::Error> {
    parse_area(area, "/affected_area", false).map_err(|e| shape(&format!("affected area: {e}")))
}

/// What [`planner_places`] read.
#[derive(Debug, Clone)]
pub struct PlannerPlaces {
    /// The incident; `None` when there is no incident with that id.
    pub incident: Option<IncidentPlace>,
    /// The network in use and the closures in force.
    pub network: NetworkNow,
    /// Every warehouse, by code, with its reserve levels for the items.
    pub warehouses: Vec<SnapshotWarehouse>,
}

/// Locks every cell of these items (their `stock_cells` rows, in key order), then every
/// lot of them (in id order): the last-resort, fully serialised attempt. The order is the
/// reservation statement's, cells before lots.
pub async fn lock_all_stock_of(conn: &mut PgConnection, items: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        "select version from stock_cells where item_id = any($1)
          order by item_id, warehouse_id for update",
        items
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        "select id from stock_lots where item_id = any($1) order by id for update",
        items
    )
    .fetch_all(conn)
    .await?;
    Ok(())
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

/// A request's own row, as a plan writes it.
#[derive(Debug)]
pub struct NewRequest<'a> {
    /// Id.
    pub id: RequestId,
    /// Incident.
    pub incident_id: IncidentId,
    /// Priority (`Priority::as_str`).
    pub priority: &'a str,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether affected warehouses may supply.
    pub include_affected_warehouses: bool,
    /// Status after the plan (`RequestStatus::as_str`).
    pub status: &'a str,
    /// Who asked (a replanned request keeps its own).
    pub created_by: UserId,
    /// The HTTP request's id, for the ledger rows.
    pub request_id: Option<&'a str>,
    /// The HTTP request's idempotency key, for the ledger rows.
    pub idempotency_key: Option<&'a str>,
}

/// When a request was stored, and last changed.
#[derive(Debug, Clone, Copy)]
pub struct Stamps {
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// Everything [`write_plan_if_available`] writes.
#[derive(Debug)]
pub struct PlanWrite<'a> {
    /// The request: inserted when new; when it exists (a replan), only its status and
    /// updated time are set.
    pub request: &'a NewRequest<'a>,
    /// Who writes: the ledger rows' actor.
    pub actor: UserId,
    /// Its lines: inserted when new; on a stored line, `reserved` is added to the line's
    /// and `explanation` replaces its own.
    pub lines: &'a NewLines,
    /// New picks, inserted in this order.
    pub picks: &'a NewPicks,
    /// Units reserved per lot, in lot id order: one `reserve` ledger row each.
    pub reserve: &'a NewReservations,
    /// Units taken per (warehouse, item) cell: the cells to lock and re-check.
    pub cells: &'a CellTakes,
    /// Whether reserve levels apply (the request is not critical).
    pub levels_apply: bool,
    /// The audit event, when this statement records it (`audit::Event::pending_json`).
    pub event: Option<&'a crate::audit::Event>,
}

/// Writes a plan in ONE statement, if it still holds: when reserve levels apply it locks
/// the plan's (warehouse, item) cells (their `stock_cells` rows, in key order), then the
/// lots it reserves (in id order), re-checks the plan, and only then writes the request
/// and its lines, the picks, one `reserve` ledger row per lot and the audit event. The
/// re-check is [`crate::rules::plan_holds`] stated in SQL (the differential property test
/// in `tests/api/differential_allocation.rs` proves they accept the same plans): every
/// reserved lot is among the locked ones, not quarantined, with at least what the plan
/// takes from it available; and, when levels apply, every cell keeps at least its
/// reserve level available. A cell's available stock comes from the totals the
/// database keeps (migration `stock_cells`) as of the statement's snapshot; the cell's
/// lock and its `version`, which every such statement bumps, make that exact: if another
/// reservation drew from the cell after the snapshot, the versions differ and the plan
/// does not hold (the caller replans). So the statement locks a row per cell and per
/// reserved lot, however many lots the cells hold. (A clerk's issue is not bound by
/// reserve levels, as before: one that commits after the snapshot comes after this
/// reservation.) The ledger trigger then raises the lots' reserved
/// quantities, and the balance checks refuse the whole statement if any would break.
/// Foreign keys are checked at its end, so the rows may refer to each other. Outside a
/// transaction it is its own; inside one, it keeps the locks to the end.
///
/// Returns the request's stamps, or `None` when the plan no longer holds and nothing
/// was written: the caller plans again.
pub async fn write_plan_if_available(
    conn: &mut PgConnection,
    w: &PlanWrite<'_>,
) -> Result<Option<Stamps>, sqlx::Error> {
    let (r, l, p) = (w.request, w.lines, w.picks);
    let explanations: Vec<&str> = l.explanation.iter().map(|e| e.get()).collect();
    sqlx::query_as!(
        Stamps,
        r#"with
         -- The inputs, in parameter order.
         new_request as (
             select $1::uuid as id, $2::uuid as incident_id, $3::text as priority,
                    $4::timestamptz as needed_by, $5::bool as include_affected_warehouses,
                    $6::text as status, $7::uuid as created_by),
         ledger as (
             select $8::uuid as actor_id, $9::text as request_id, $10::text as idempotency_key),
         new_lines as (
             select * from unnest($11::int4[], $12::uuid[], $13::text[], $14::int8[], $15::int8[],
                                  $16::text[])
                        as t(line_no, item_id, sku, requested, reserved, explanation)),
         new_picks as (
             select * from unnest($17::int4[], $18::uuid[], $19::uuid[], $20::int8[], $21::float8[],
                                  $22::float8[], $23::bool[], $32::bool[])
                        with ordinality as t(line_no, lot_id, warehouse_id, qty, eta_minutes,
                                             distance_km, late, misses_target, n)),
         new_reservations as (
             select * from unnest($24::uuid[], $25::int8[]) with ordinality as t(lot_id, qty, n)),
         cell_takes as (
             select * from unnest($26::uuid[], $27::uuid[], $28::int8[])
                        with ordinality as t(warehouse_id, item_id, taken, k)),
         rule as (select $29::bool as levels_apply, $31::date as today),
         new_event as (select $30::jsonb as event),

         -- When reserve levels apply, lock the plan's cells (their stock_cells rows, in
         -- key order, before any lot: the InitPlan in `locked` runs first), and see
         -- whether another reservation drew from one since this statement's snapshot.
         cell_rows as (
             select s.item_id, s.warehouse_id, s.version
               from stock_cells s
              where (select levels_apply from rule)
                and (s.warehouse_id, s.item_id) in (select warehouse_id, item_id from cell_takes)
              order by s.item_id, s.warehouse_id
                for update),
         cell_seen as (
             select s.item_id, s.warehouse_id, s.version
               from stock_cells s
              where (s.warehouse_id, s.item_id) in (select warehouse_id, item_id from cell_takes)),
         -- Lock the plan's lots, in id order, and re-check the plan on them.
         locked as (
             select l.id, l.warehouse_id, l.item_id, l.on_hand, l.reserved,
                    l.status = 'quarantined' as quarantined,
                    greatest(l.on_hand - l.reserved, 0) as available
               from stock_lots l
              where l.id in (select lot_id from new_reservations)
                and (l.warehouse_id, l.item_id) in (select warehouse_id, item_id from cell_takes)
                and (select count(*) from cell_rows) >= 0
              order by l.id
                for update of l),
         -- The cells and the day their floors count from, as arrays in `k` order.
         cell_asks as (
             select array_agg(c.item_id order by c.k) as item_id,
                    array_agg(c.warehouse_id order by c.k) as warehouse_id,
                    array_agg($31::date + greatest(i.min_remaining_days, 0) order by c.k) as counted_from
               from cell_takes c join items i on i.id = c.item_id),
         -- Each cell's stock that counts toward its reserve level (`rules::level_stock`:
         -- Σ available of its non-quarantined lots still usable for the item's minimum
         -- remaining days from today) from the totals the database keeps, as of this
         -- statement's snapshot: with the cell locked and its version unmoved, no
         -- reservation drew from it since.
         cells as (
             select c.taken,
                    st.on_hand - st.reserved - st.short as available,
                    greatest(coalesce(lv.min_qty, 0), 0) as level
               from cell_asks a
               -- The planner's read of the cells (migration 330). Inlined: its arguments
               -- are columns, not subqueries.
              cross join lateral stock_cells_state(a.item_id, a.warehouse_id, a.counted_from,
                                                   a.counted_from) st
               join cell_takes c on c.k = st.n
               left join reserve_levels lv on lv.warehouse_id = c.warehouse_id and lv.item_id = c.item_id),
         verdict as (
             select not exists (select 1
                                  from new_reservations w left join locked k on k.id = w.lot_id
                                 where k.id is null or k.quarantined or k.available < w.qty)
                    and (not (select levels_apply from rule)
                         or not exists (select 1 from cell_takes)
                         or ((select today from rule) is not null
                             and not exists (select 1 from cells where available - taken < level)
                             and (select count(*) from cell_rows)
                                 = (select count(*) from (select distinct warehouse_id, item_id from cell_takes) d)
                             and not exists (select 1 from cell_rows r
                                               join cell_seen s on s.item_id = r.item_id
                                                               and s.warehouse_id = r.warehouse_id
                                              where s.version <> r.version)))
                    as ok),
         bump as (
             update stock_cells s set version = s.version + 1
               from cell_rows r
              where s.item_id = r.item_id and s.warehouse_id = r.warehouse_id
                and (select ok from verdict)),

         -- Write only if it holds.
         request as (
             insert into allocation_requests (id, incident_id, priority, needed_by,
                                              include_affected_warehouses, status, created_by)
             select id, incident_id, priority, needed_by, include_affected_warehouses, status, created_by
               from new_request
              where (select ok from verdict)
                 on conflict (id) do update set status = excluded.status, updated_at = now()
             returning created_at, updated_at),
         lines as (
             insert into allocation_request_lines (request_id, line_no, item_id, sku, requested,
                                                   reserved, explanation)
             select (select id from new_request), line_no, item_id, sku, requested, reserved,
                    explanation::json
               from new_lines
              where (select ok from verdict)
                 on conflict (request_id, line_no) do update
                set reserved = allocation_request_lines.reserved + excluded.reserved,
                    explanation = excluded.explanation),
         picks as (
             insert into allocation_picks (request_id, line_no, lot_id, warehouse_id, qty, eta_minutes,
                                           distance_km, late, misses_target)
             select (select id from new_request), line_no, lot_id, warehouse_id, qty, eta_minutes,
                    distance_km, late, misses_target
               from new_picks
              where (select ok from verdict)
              order by n),
         reservations as (
             insert into stock_movements (lot_id, kind, qty, reserved_delta, ref_kind, ref_id,
                                          actor_id, request_id, idempotency_key)
             select w.lot_id, 'reserve', 0, w.qty, 'allocation_request', (select id from new_request),
                    g.actor_id, g.request_id, g.idempotency_key
               from new_reservations w, ledger g
              where (select ok from verdict)
              order by w.n),
         event as (
             insert into audit_pending (event)
             select event from new_event where event is not null and (select ok from verdict))
         select created_at, updated_at from request"#,
        r.id as RequestId,
        r.incident_id as IncidentId,
        r.priority,
        r.needed_by,
        r.include_affected_warehouses,
        r.status,
        r.created_by as UserId,
        w.actor as UserId,
        r.request_id,
        r.idempotency_key,
        &l.line_no,
        &l.item_id,
        &l.sku,
        &l.requested,
        &l.reserved,
        &explanations as &[&str],
        &p.line_no,
        &p.lot_id,
        &p.warehouse_id,
        &p.qty,
        &p.eta_minutes,
        &p.distance_km as &[Option<f64>],
        &p.late,
        &w.reserve.lot_id,
        &w.reserve.qty,
        &w.cells.warehouse_id,
        &w.cells.item_id,
        &w.cells.qty,
        w.levels_apply,
        w.event.map(|e| e.pending_json()) as Option<Value>,
        w.cells.counted_on,
        &p.misses_target,
    )
    .fetch_optional(conn)
    .await
}

/// [`write_plan_if_available`] for a new request with its audit event, written by its
/// creator (the form the keyless path, the load bench and the statement's own tests
/// use): `check_levels` is whether reserve levels apply.
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
    write_plan_if_available(
        conn,
        &PlanWrite {
            request: r,
            actor: r.created_by,
            lines: l,
            picks: p,
            reserve,
            cells,
            levels_apply: check_levels,
            event: Some(event),
        },
    )
    .await
}

/// Inserts the shipments of `request` (one per source warehouse, with their ids) and their
/// lines (shipment, lot, qty) in one statement.
pub async fn insert_shipments(
    conn: &mut PgConnection,
    request: RequestId,
    shipments: &[(ShipmentId, WarehouseId)],
    lines: &[(ShipmentId, LotId, i64)],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = shipments.iter().map(|s| s.0.0).collect();
    let warehouses: Vec<Uuid> = shipments.iter().map(|s| s.1.0).collect();
    let line_shipments: Vec<Uuid> = lines.iter().map(|l| l.0.0).collect();
    let lots: Vec<Uuid> = lines.iter().map(|l| l.1.0).collect();
    let qtys: Vec<i64> = lines.iter().map(|l| l.2).collect();
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
        &line_shipments,
        &lots,
        &qtys
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
    pub priority: Priority,
    /// Needed by.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether affected warehouses may supply.
    pub include_affected_warehouses: bool,
    /// Status.
    pub status: RequestStatus,
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
            r#"select id as "id: RequestId", incident_id as "incident_id: IncidentId",
                      priority as "priority: Priority", needed_by, include_affected_warehouses,
                      status as "status: RequestStatus", created_by as "created_by: UserId", created_at,
                      updated_at, dispatched_at, cancelled_at
                 from allocation_requests where id = $1 for update"#,
            id as RequestId
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            RequestRow,
            r#"select id as "id: RequestId", incident_id as "incident_id: IncidentId",
                      priority as "priority: Priority", needed_by, include_affected_warehouses,
                      status as "status: RequestStatus", created_by as "created_by: UserId", created_at,
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
    status: Option<RequestStatus>,
    after: Option<RequestId>,
    limit: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    sqlx::query_as!(
        RequestRow,
        r#"select id as "id: RequestId", incident_id as "incident_id: IncidentId",
                  priority as "priority: Priority", needed_by, include_affected_warehouses,
                  status as "status: RequestStatus", created_by as "created_by: UserId", created_at,
                  updated_at, dispatched_at, cancelled_at
             from allocation_requests
            where ($1::uuid is null or incident_id = $1) and ($2::text is null or status = $2)
              and ($3::uuid is null or id > $3)
            order by id limit $4"#,
        incident as Option<IncidentId>,
        status.map(RequestStatus::as_str),
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
    pub explanation: Json<Explanation>,
}

/// The lines of a request.
pub async fn lines(conn: &mut PgConnection, id: RequestId) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as!(
        LineRow,
        r#"select line_no, item_id as "item_id: ItemId", sku, requested, reserved,
                  explanation as "explanation: Json<Explanation>"
             from allocation_request_lines where request_id = $1 order by line_no"#,
        id as RequestId
    )
    .fetch_all(conn)
    .await
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
    /// Arrives after the incident's delivery target.
    pub misses_target: bool,
    /// Late against the delivery target or needed_by.
    pub late: bool,
}

/// The picks of a request, in the order they were made.
pub async fn picks(conn: &mut PgConnection, id: RequestId) -> Result<Vec<PickRow>, sqlx::Error> {
    sqlx::query_as!(
        PickRow,
        r#"select p.line_no, p.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  p.lot_id as "lot_id: LotId", l.lot_code, l.expires_on, p.qty, p.eta_minutes,
                  p.distance_km, p.misses_target, p.late
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
) -> Result<Vec<Held>, sqlx::Error> {
    sqlx::query_as!(
        Held,
        r#"select lot_id as "lot: LotId", warehouse_id as "warehouse: WarehouseId", sum(qty)::bigint as "qty!"
             from allocation_picks where request_id = $1 group by lot_id, warehouse_id order by lot_id"#,
        id as RequestId
    )
    .fetch_all(conn)
    .await
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
    /// In transit or delivered.
    pub status: ShipmentStatus,
    /// Left.
    pub dispatched_at: DateTime<Utc>,
    /// Arrived.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Note given on delivery.
    pub delivery_note: Option<String>,
}

/// Shipments of a request, or one shipment, with their lines.
pub async fn shipments(
    conn: &mut PgConnection,
    request: Option<RequestId>,
    shipment: Option<ShipmentId>,
) -> Result<(Vec<ShipmentRow>, Vec<ShipmentLineRow>), sqlx::Error> {
    let ships = sqlx::query_as!(
        ShipmentRow,
        r#"select s.id as "id: ShipmentId", s.request_id as "request_id: RequestId",
                  s.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  s.status as "status: ShipmentStatus", s.dispatched_at, s.delivered_at, s.delivery_note
             from shipments s join warehouses w on w.id = s.warehouse_id
            where ($1::uuid is null or s.request_id = $1) and ($2::uuid is null or s.id = $2)
            order by w.code"#,
        request as Option<RequestId>,
        shipment as Option<ShipmentId>
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<ShipmentId> = ships.iter().map(|s| s.id).collect();
    let lines = shipment_lines(conn, &ids).await?;
    Ok((ships, lines))
}

/// The lines of these shipments, by shipment and lot.
pub async fn shipment_lines(
    conn: &mut PgConnection,
    ids: &[ShipmentId],
) -> Result<Vec<ShipmentLineRow>, sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|s| s.0).collect();
    sqlx::query_as!(
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
    .fetch_all(conn)
    .await
}

/// Locks a shipment and reads it; `None` when there is no such shipment.
pub async fn lock_shipment(
    conn: &mut PgConnection,
    id: ShipmentId,
) -> Result<Option<ShipmentRow>, sqlx::Error> {
    sqlx::query_as!(
        ShipmentRow,
        r#"select s.id as "id: ShipmentId", s.request_id as "request_id: RequestId",
                  s.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  s.status as "status: ShipmentStatus", s.dispatched_at, s.delivered_at, s.delivery_note
             from shipments s join warehouses w on w.id = s.warehouse_id
            where s.id = $1
              for update of s"#,
        id as ShipmentId
    )
    .fetch_optional(conn)
    .await
}

/// Records a shipment delivered, now: what arrived of each of its lots, and the note
/// given on delivery. Returns when.
pub async fn mark_delivered(
    conn: &mut PgConnection,
    id: ShipmentId,
    received: &[(LotId, i64)],
    note: Option<&str>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let lots: Vec<Uuid> = received.iter().map(|r| r.0.0).collect();
    let qtys: Vec<i64> = received.iter().map(|r| r.1).collect();
    sqlx::query_scalar!(
        "with lines as (
             update shipment_lines sl set received_qty = r.qty
               from unnest($2::uuid[], $3::int8[]) as r(lot_id, qty)
              where sl.shipment_id = $1 and sl.lot_id = r.lot_id
         )
         update shipments set status = 'delivered', delivered_at = now(), delivery_note = $4
          where id = $1
         returning delivered_at as \"delivered_at!\"",
        id as ShipmentId,
        &lots,
        &qtys,
        note
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_of_an_unexpected_shape_is_an_error() {
        assert!(same_len("lot", &[3, 3, 3]).is_ok());
        assert!(same_len("lot", &[]).is_ok());
        let e = same_len("lot", &[3, 2, 3]).expect_err("shifted");
        assert!(
            e.to_string().contains("lot columns of different lengths"),
            "{e}"
        );
        assert_eq!(incident_status("open").ok(), Some(IncidentStatus::Open));
        assert_eq!(incident_status("closed").ok(), Some(IncidentStatus::Closed));
        assert!(incident_status("").is_err());
        assert!(
            stored_area(&serde_json::json!({"type": "Point", "coordinates": [113, 22]})).is_err()
        );
    }
}
