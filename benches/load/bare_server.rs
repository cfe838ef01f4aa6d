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
//! A second route runs the SQL of an allocation request without an Idempotency-Key, as
//! benches/load/allocation.sql does, for `benches/load/allocation.sh`: the plan's reads,
//! then the service's `allocation::db::insert_request_if_available`.
//!
//! Usage: `DATABASE_URL=… bare_server LISTEN ACTOR_ID stock ITEM_ID WAREHOUSE_ID`
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
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use stockpile::allocation::db as alloc_db;
use stockpile::audit::db as audit_db;
use stockpile::audit::{Change, Origin};
use stockpile::auth::{Actor, Role};
use stockpile::http::Path;
use stockpile::ids::{IncidentId, RequestId, UserId, WarehouseId};
use stockpile::stock::db as stock_db;
use uuid::Uuid;

struct Bench {
    pool: PgPool,
    lots: Vec<Uuid>,
    actor: Actor,
    /// Allocation: the bench SKUs (item id, SKU), the incident, the depot the picks come
    /// from, a stored explanation.
    items: Vec<(Uuid, String)>,
    incident: Uuid,
    warehouse: Uuid,
    explanation: Box<serde_json::value::RawValue>,
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
    let origin = Origin {
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
    let event = audit_db::pending_event(&b.actor, &origin, change);
    let batch = stock_db::CheckedMovements {
        warehouse: WarehouseId(b.warehouse),
        lots: &[lot],
        deltas: &[-1],
        reasons: &["load test"],
        notes: &[None],
        op: stockpile::stock::movement::LotOp::Issue,
        ref_id: op,
        actor: b.actor.id,
        request_id: origin.request_id.as_deref(),
        idempotency_key: None,
        claim: None,
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

/// An allocation request's SQL, statement for statement as the service runs it without
/// an Idempotency-Key (one line of one unit, priority high, the bench SKUs in turn): the
/// three reads the plan needs (the service's own `allocation::db::planner_places`: the
/// incident, network, warehouses and levels; `allocation::db::planner_cells`: each
/// warehouse's totals, arriving today; `allocation::db::planner_lots`: the bench depot's
/// first usable lot), then the service's own
/// `allocation::db::insert_request_if_available`, drawing first expiry first from the
/// bench depot's lots that the lots read returned.
async fn allocate(State(b): State<Arc<Bench>>, Path(_n): Path<usize>) -> Result<String, Failure> {
    // The service knows the items from its item cache, with no statement.
    let n = b.requests.fetch_add(1, Ordering::Relaxed) as usize;
    let (item_id, sku) = b.items[n % b.items.len()].clone();
    let mut conn = b.pool.acquire().await.map_err(failed)?;
    let places = alloc_db::planner_places(&mut conn, &[item_id], IncidentId(b.incident))
        .await
        .map_err(failed)?;
    let today = chrono::Utc::now().date_naive();
    let mut ask = alloc_db::StockAsk::default();
    for w in &places.warehouses {
        ask.warehouse_id.push(w.id.0);
        ask.item_id.push(item_id);
        ask.sku.push(sku.clone());
        ask.arrives.push(true);
        ask.required.push(Some(today));
    }
    alloc_db::planner_cells(&mut conn, &ask)
        .await
        .map_err(failed)?;
    let draw = alloc_db::LotAsk {
        warehouse_id: vec![b.warehouse],
        item_id: vec![item_id],
        sku: vec![sku.clone()],
        required: vec![Some(today)],
        qty: vec![1],
    };
    let lots = alloc_db::planner_lots(&mut conn, &draw)
        .await
        .map_err(failed)?;
    let lot: Uuid = lots
        .iter()
        .filter(|l| l.warehouse_id.0 == b.warehouse && !l.quarantined && l.on_hand > l.reserved)
        .min_by_key(|l| {
            (
                l.expires_on.unwrap_or(chrono::NaiveDate::MAX),
                l.lot_code.clone(),
            )
        })
        .map(|l| l.id.0)
        .ok_or((StatusCode::CONFLICT, "no stock left".into()))?;
    let id = RequestId::new();
    let origin = Origin {
        request_id: Some(Uuid::new_v4().to_string()),
        idempotency_key: None,
    };
    let event = audit_db::pending_event(
        &b.actor,
        &origin,
        Change {
            action: "allocation.request",
            entity_kind: "allocation_request",
            entity_id: id.to_string(),
            before: None,
            after: Some(
                serde_json::json!({"id": id, "incident_id": b.incident, "priority": "high",
                "status": "reserved", "lines": [{"sku": sku, "requested": 1, "reserved": 1,
                "picks": [{"warehouse_code": "JM-XH-01", "lot_id": lot, "qty": 1}]}],
                "shipments": []}),
            ),
        },
    );
    let stamps = alloc_db::insert_request_if_available(
        &mut conn,
        &alloc_db::NewRequest {
            id,
            incident_id: IncidentId(b.incident),
            priority: "high",
            needed_by: None,
            include_affected_warehouses: false,
            status: "reserved",
            created_by: b.actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: None,
        },
        &alloc_db::NewLines {
            line_no: vec![0],
            item_id: vec![item_id],
            sku: vec![sku],
            requested: vec![1],
            reserved: vec![1],
            explanation: vec![b.explanation.clone()],
        },
        &alloc_db::NewPicks {
            line_no: vec![0],
            lot_id: vec![lot],
            warehouse_id: vec![b.warehouse],
            qty: vec![1],
            eta_minutes: vec![33.5],
            distance_km: vec![Some(3.4)],
            late: vec![false],
            misses_target: vec![false],
        },
        &alloc_db::NewReservations {
            lot_id: vec![lot],
            qty: vec![1],
        },
        &alloc_db::CellTakes {
            warehouse_id: vec![b.warehouse],
            item_id: vec![item_id],
            qty: vec![1],
            counted_on: Some(chrono::Utc::now().date_naive()),
        },
        true,
        &event,
    )
    .await
    .map_err(failed)?
    .ok_or((StatusCode::CONFLICT, "the plan no longer held".into()))?;
    Ok(stamps.created_at.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(3).map(String::as_str);
    if !(mode == Some("stock") && args.len() == 6 || mode == Some("allocate") && args.len() == 7) {
        eprintln!(
            "usage: DATABASE_URL=… bare_server LISTEN ACTOR_ID stock ITEM_ID WAREHOUSE_ID\n       \
             DATABASE_URL=… bare_server LISTEN ACTOR_ID allocate INCIDENT_ID WAREHOUSE_ID EXPLANATION"
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
    let warehouse: Uuid = args[5].parse()?;
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
        items: vec![],
        incident: Uuid::nil(),
        warehouse,
        explanation: Box::default(),
        requests: AtomicU64::new(0),
    };
    let app = if mode == Some("stock") {
        bench.lots = sqlx::query_scalar(
            "select id from stock_lots where item_id = $1 and warehouse_id = $2 and lot_code like 'PGB-%'
              order by substr(lot_code, 5)::int",
        )
        .bind(args[4].parse::<Uuid>()?)
        .bind(warehouse)
        .fetch_all(&bench.pool)
        .await?;
        Router::new().route("/issue/{n}", post(issue))
    } else {
        bench.items = sqlx::query_as("select item_id, sku from bench_skus order by n")
            .fetch_all(&bench.pool)
            .await?;
        bench.incident = args[4].parse()?;
        bench.explanation = serde_json::value::RawValue::from_string(args[6].clone())?;
        Router::new().route("/allocate/{n}", post(allocate))
    };
    let app = app.with_state(Arc::new(bench));
    let listener = tokio::net::TcpListener::bind(&args[1]).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
