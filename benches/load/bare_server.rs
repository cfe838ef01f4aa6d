//! The floor of the stack for one issue: an axum server that runs the SQL of
//! `POST /api/v1/warehouses/{code}/issues` (one line of one unit, no Idempotency-Key)
//! through the service's own functions (`stock::db::apply_checked_movements`,
//! `audit::db::pending_event`), on a sqlx pool set up like the service's write pool, and
//! nothing else: no authentication, no request JSON, no rules, no access log.
//! `BENCH_BARE=1 benches/load/stock_ops.sh` runs it beside pgbench
//! (benches/load/issue.sql) and the real service, so that a run shows how much of the
//! service/pgbench gap is the stack itself (HTTP in, one sqlx round trip per statement,
//! the connection's return to its pool) and how much is the service's own work.
//!
//! A second route runs the SQL of an allocation request as benches/load/allocation.sql
//! does, for `benches/load/allocation.sh`.
//!
//! Usage: `DATABASE_URL=… bare_server LISTEN ACTOR_ID CANON stock ITEM_ID WAREHOUSE_ID`
//! (the lots `PGB-<n>` that stock_ops.sh makes, one per client; route `POST /issue/{n}`
//! for client `n`), or `… allocate INCIDENT_ID
//! WAREHOUSE_ID EXPLANATION` (the `bench_skus` and bulk lots of allocation.sh; route
//! `POST /allocate/{n}`, SKUs taken in turn).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use stockpile::audit::Change;
use stockpile::audit::db as audit_db;
use stockpile::auth::{Actor, Role};
use stockpile::http::{Ctx, Path};
use stockpile::ids::{UserId, WarehouseId};
use stockpile::stock::db as stock_db;
use uuid::Uuid;

struct Bench {
    pool: PgPool,
    lots: Vec<Uuid>,
    actor: Actor,
    canon: String,
    /// Allocation: the bench SKUs (item id, SKU), the incident, the depot the picks come
    /// from, a stored explanation.
    items: Vec<(Uuid, String)>,
    incident: Uuid,
    warehouse: Uuid,
    explanation: serde_json::Value,
    requests: AtomicU64,
}

type Failure = (StatusCode, String);

fn failed(e: sqlx::Error) -> Failure {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// The service's statement, through the service's own function: an issue of one unit
/// without an Idempotency-Key (`stock::db::apply_checked_movements`, src/stock/db.rs),
/// with its audit event made as the service makes it (`audit::db::pending_event`).
async fn issue(State(b): State<Arc<Bench>>, Path(n): Path<usize>) -> Result<String, Failure> {
    let lot = *b
        .lots
        .get(n)
        .ok_or((StatusCode::NOT_FOUND, "no such lot".into()))?;
    let ctx = Ctx {
        request_id: Some(Uuid::new_v4().to_string()),
        idempotency_key: None,
    };
    let op = Uuid::now_v7();
    let change = Change {
        action: "stock.issue",
        entity_kind: "issue",
        entity_id: op.to_string(),
        before: None,
        after: Some(serde_json::json!({"warehouse": "JM-JH-RC", "lines": [
            {"lot_id": lot, "qty": -1, "reason": "load test"}]})),
    };
    let event = audit_db::pending_event(&b.actor, &ctx, change);
    let batch = stock_db::CheckedMovements {
        warehouse: WarehouseId(b.warehouse),
        lots: &[lot],
        deltas: &[-1],
        reasons: &["load test"],
        notes: &[None],
        kind: "issue",
        ref_id: op,
        actor: b.actor.id,
        request_id: ctx.request_id.as_deref(),
        issue: true,
        today: chrono::Utc::now().date_naive(),
    };
    let mut conn = b.pool.acquire().await.map_err(failed)?;
    let applied = stock_db::apply_checked_movements(&mut conn, &batch, &event)
        .await
        .map_err(failed)?;
    let on_hand = applied
        .first()
        .ok_or((StatusCode::CONFLICT, "the issue was refused".into()))?
        .on_hand;
    Ok(on_hand.to_string())
}

/// An allocation request's SQL, statement for statement as benches/load/allocation.sql
/// runs it (one line of one unit, priority high, the bench SKUs in turn).
async fn allocate(State(b): State<Arc<Bench>>, Path(_n): Path<usize>) -> Result<String, Failure> {
    // The service knows the items from its item cache, with no statement.
    let n = b.requests.fetch_add(1, Ordering::Relaxed) as usize;
    let (item_id, sku) = b.items[n % b.items.len()].clone();
    let mut conn = b.pool.acquire().await.map_err(failed)?;
    sqlx::query(
        "select id, name, kind, lat, lon, affected_area, population, started_at, status, created_at, updated_at
           from incidents where id = $1",
    )
    .bind(b.incident)
    .fetch_one(&mut *conn)
    .await
    .map_err(failed)?;
    drop(conn);
    let mut tx = b.pool.begin().await.map_err(failed)?;
    sqlx::query(
        "select (select max(id) from road_networks) as version,
                coalesce((select jsonb_agg(jsonb_build_object('edge_ids', edge_ids, 'area', area) order by id)
                            from road_closures
                           where starts_at <= now() and (ends_at is null or ends_at > now())),
                         '[]'::jsonb) as closures",
    )
    .fetch_one(&mut *tx)
    .await
    .map_err(failed)?;
    sqlx::query(
        "select w.id, w.code, w.status, w.lat, w.lon, w.handling_minutes,
                coalesce((select jsonb_agg(jsonb_build_array(i.sku, r.min_qty))
                            from reserve_levels r join items i on i.id = r.item_id
                           where r.warehouse_id = w.id and r.item_id = any($1)), '[]'::jsonb) as levels
           from warehouses w order by w.code",
    )
    .bind(vec![item_id])
    .fetch_all(&mut *tx)
    .await
    .map_err(failed)?;
    sqlx::query(
        "select l.id, l.warehouse_id, i.sku, l.lot_code, l.expires_on, l.on_hand, l.reserved, l.status
           from stock_lots l join items i on i.id = l.item_id
          where l.item_id = any($1) and l.on_hand > 0
          order by l.id",
    )
    .bind(vec![item_id])
    .fetch_all(&mut *tx)
    .await
    .map_err(failed)?;
    sqlx::query(
        "select l.id, l.warehouse_id, l.item_id, l.on_hand, l.reserved, l.status, coalesce(r.min_qty, 0) as level
           from stock_lots l
           left join reserve_levels r on r.warehouse_id = l.warehouse_id and r.item_id = l.item_id
          where (l.warehouse_id, l.item_id) in (select * from unnest($1::uuid[], $2::uuid[]))
          order by l.id
            for update of l",
    )
    .bind(vec![b.warehouse])
    .bind(vec![item_id])
    .fetch_all(&mut *tx)
    .await
    .map_err(failed)?;
    let row = sqlx::query(
        "with pick as (
             select id as lot_id from stock_lots
              where warehouse_id = $1 and item_id = $2 and status = 'available' and on_hand - reserved > 0
              order by expires_on nulls last, lot_code limit 1
         ), r as (
             insert into allocation_requests (id, incident_id, priority, needed_by, include_affected_warehouses, status, created_by)
             values (gen_random_uuid(), $3, 'high', null, false, 'reserved', $4)
             returning id, created_at, updated_at
         ), l as (
             insert into allocation_request_lines (request_id, line_no, item_id, sku, requested, reserved, explanation)
             select r.id, 0, $2, $5, 1, 1, $6 from r
         ), p as (
             insert into allocation_picks (request_id, line_no, lot_id, warehouse_id, qty, eta_minutes, distance_km, late)
             select r.id, 0, pick.lot_id, $1, 1, 33.5, 3.4, false from r, pick
         ), m as (
             insert into stock_movements (lot_id, kind, qty, reserved_delta, ref_kind, ref_id,
                                          actor_id, request_id, idempotency_key)
             select lot_id, 'reserve', 0, qty, 'allocation_request', (select id from r), $4,
                    gen_random_uuid()::text, null
               from unnest(array[(select lot_id from pick)]::uuid[], array[1]::int8[]) with ordinality as t(lot_id, qty, n)
              order by n
         )
         select r.id as rid, pick.lot_id, r.created_at, r.updated_at from r, pick",
    )
    .bind(b.warehouse)
    .bind(item_id)
    .bind(b.incident)
    .bind(b.actor.id.0)
    .bind(&sku)
    .bind(&b.explanation)
    .fetch_one(&mut *tx)
    .await
    .map_err(failed)?;
    let (rid, lot): (Uuid, Uuid) = (row.get("rid"), row.get("lot_id"));
    sqlx::query(
        "insert into audit_pending (canon, at, actor_id, actor_username, action, entity_kind,
                                    entity_id, request_id, idempotency_key, before, after)
         values ($1, now(), $2, 'bench-dispatcher', 'allocation.request', 'allocation_request', $3::text,
                 gen_random_uuid()::text, null, null, $4)",
    )
    .bind(&b.canon)
    .bind(b.actor.id.0)
    .bind(rid)
    .bind(serde_json::json!({"id": rid, "incident_id": b.incident, "priority": "high",
        "status": "reserved", "lines": [{"sku": sku, "requested": 1, "reserved": 1,
        "picks": [{"warehouse_code": "JM-XH-01", "lot_id": lot, "qty": 1}]}]}))
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok(rid.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(4).map(String::as_str);
    if !(mode == Some("stock") && args.len() == 7 || mode == Some("allocate") && args.len() == 8) {
        eprintln!(
            "usage: DATABASE_URL=… bare_server LISTEN ACTOR_ID CANON stock ITEM_ID WAREHOUSE_ID\n       \
             DATABASE_URL=… bare_server LISTEN ACTOR_ID CANON allocate INCIDENT_ID WAREHOUSE_ID EXPLANATION"
        );
        std::process::exit(2);
    }
    let url = std::env::var("DATABASE_URL")?;
    // As the service's write pool (src/db/mod.rs): generic plans, no ping on checkout.
    let options = url
        .parse::<PgConnectOptions>()?
        .options([("plan_cache_mode", "force_generic_plan")]);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    let warehouse: Uuid = args[6].parse()?;
    let mut bench = Bench {
        pool,
        lots: vec![],
        actor: Actor {
            id: UserId(args[2].parse()?),
            username: if mode == Some("stock") {
                "bench-clerk"
            } else {
                "bench-dispatcher"
            }
            .into(),
            role: if mode == Some("stock") {
                Role::Clerk
            } else {
                Role::Dispatcher
            },
            warehouses: vec![],
        },
        canon: args[3].clone(),
        items: vec![],
        incident: Uuid::nil(),
        warehouse,
        explanation: serde_json::Value::Null,
        requests: AtomicU64::new(0),
    };
    let app = if mode == Some("stock") {
        bench.lots = sqlx::query_scalar(
            "select id from stock_lots where item_id = $1 and warehouse_id = $2 and lot_code like 'PGB-%'
              order by substr(lot_code, 5)::int",
        )
        .bind(args[5].parse::<Uuid>()?)
        .bind(warehouse)
        .fetch_all(&bench.pool)
        .await?;
        Router::new().route("/issue/{n}", post(issue))
    } else {
        bench.items = sqlx::query_as("select item_id, sku from bench_skus order by n")
            .fetch_all(&bench.pool)
            .await?;
        bench.incident = args[5].parse()?;
        bench.explanation = serde_json::from_str(&args[7])?;
        Router::new().route("/allocate/{n}", post(allocate))
    };
    let app = app.with_state(Arc::new(bench));
    let listener = tokio::net::TcpListener::bind(&args[1]).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
