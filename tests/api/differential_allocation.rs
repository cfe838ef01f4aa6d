//! The plan re-check is written twice: once in Rust (`rules::plan_holds`, the single
//! statement of the rule) and once in SQL (the `verdict` of
//! `allocation::db::write_plan_if_available`, which runs under the locks inside
//! PostgreSQL). This differential property test proves they agree: on random lots per
//! (warehouse, item) cell (on hand, reserved, quarantined, expiry: fresh, short-dated or
//! expired for the item's random minimum remaining days), random reserve levels and
//! random plans (takes that may exceed what is available, lots that are not in the cells
//! the plan names, lots that do not exist), critical or not, the statement writes
//! exactly when `plan_holds` accepts, and when it refuses, it writes nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use sqlx::PgPool;
use stockpile::allocation::db::{self, NewLines, NewPicks, NewRequest, PlanWrite};
use stockpile::allocation::plan::{CellTakes, NewReservations};
use stockpile::audit::Origin;
use stockpile::auth::Actor;
use stockpile::ids::{IncidentId, RequestId};
use stockpile::rules::{LockedLot, Takes, plan_holds};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Random cases; each makes fresh items, so the cells of one case are its own.
const CASES: u32 = 128;

#[derive(Debug, Clone)]
struct LotSpec {
    on_hand: i64,
    reserved: i64,
    quarantined: bool,
    /// Days from today; `None`: never expires.
    expires_in: Option<i64>,
}

#[derive(Debug, Clone)]
struct CellSpec {
    level: Option<i64>,
    lots: Vec<LotSpec>,
}

#[derive(Debug, Clone)]
struct TakeSpec {
    /// Index into the case's lots (modulo their count); 15 names a lot that does not exist.
    lot: usize,
    qty: i64,
    /// Attribute the take to this cell (modulo the cell count) instead of the lot's own.
    elsewhere: Option<usize>,
}

#[derive(Debug, Clone)]
struct Case {
    items: usize,
    warehouses: usize,
    /// The first `items × warehouses` are used.
    cells: Vec<CellSpec>,
    takes: Vec<TakeSpec>,
    critical: bool,
    /// The items' minimum remaining days.
    min_days: i32,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    // Small takes from larger lots, so that a plan often fails for one reason only.
    let lot = (
        0..=20i64,
        prop_oneof![Just(0i64), 0..=20i64],
        prop::bool::weighted(0.2),
        prop_oneof![Just(None), (-3i64..=40).prop_map(Some)],
    )
        .prop_map(|(on_hand, r, q, expires_in)| LotSpec {
            on_hand,
            reserved: r.min(on_hand),
            quarantined: q,
            expires_in,
        });
    let cell = (
        prop::option::weighted(0.5, 0..=15i64),
        prop::collection::vec(lot, 0..=3),
    )
        .prop_map(|(level, lots)| CellSpec { level, lots });
    let take = (0..16usize, 1..=6i64, prop::option::weighted(0.1, 0..4usize)).prop_map(
        |(lot, qty, elsewhere)| TakeSpec {
            lot,
            qty,
            elsewhere,
        },
    );
    (
        1..=2usize,
        1..=2usize,
        prop::collection::vec(cell, 4),
        prop::collection::vec(take, 0..=3),
        any::<bool>(),
        0..=20i32,
    )
        .prop_map(
            |(items, warehouses, cells, takes, critical, min_days)| Case {
                items,
                warehouses,
                cells,
                takes,
                critical,
                min_days,
            },
        )
}

/// One lot of a case, as the model knows it.
#[derive(Debug, Clone)]
struct ModelLot {
    id: Uuid,
    cell: usize,
    spec: LotSpec,
}

/// The case written to the database: its cells' (warehouse, item) and its lots.
struct Stored {
    cells: Vec<(Uuid, Uuid)>,
    lots: Vec<ModelLot>,
}

async fn store(pool: &PgPool, warehouses: &[Uuid], case: &Case, n: usize) -> Stored {
    let mut items = Vec::new();
    for i in 0..case.items {
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, shelf_life_days, min_remaining_days)
             values ($1, $2, '测试', 'Differential item', '1-01', '件', 'piece', 720, $3)",
        )
        .bind(id)
        .bind(format!("DIFF-{n}-{i}"))
        .bind(case.min_days)
        .execute(pool)
        .await
        .expect("item");
        items.push(id);
    }
    let cells: Vec<(Uuid, Uuid)> = (0..case.items * case.warehouses)
        .map(|k| (warehouses[k % case.warehouses], items[k / case.warehouses]))
        .collect();
    let mut lots = Vec::new();
    for (k, spec) in case.cells.iter().take(cells.len()).enumerate() {
        for l in &spec.lots {
            lots.push(ModelLot {
                id: Uuid::now_v7(),
                cell: k,
                spec: l.clone(),
            });
        }
        if let Some(level) = spec.level {
            sqlx::query(
                "insert into reserve_levels (warehouse_id, item_id, min_qty) values ($1, $2, $3)",
            )
            .bind(cells[k].0)
            .bind(cells[k].1)
            .bind(level)
            .execute(pool)
            .await
            .expect("level");
        }
    }
    let ids: Vec<Uuid> = lots.iter().map(|l| l.id).collect();
    let ws: Vec<Uuid> = lots.iter().map(|l| cells[l.cell].0).collect();
    let its: Vec<Uuid> = lots.iter().map(|l| cells[l.cell].1).collect();
    let codes: Vec<String> = (0..lots.len()).map(|i| format!("D{i}")).collect();
    let expires: Vec<Option<i32>> = lots
        .iter()
        .map(|l| l.spec.expires_in.map(|d| d as i32))
        .collect();
    sqlx::query(
        "insert into stock_lots (id, warehouse_id, item_id, lot_code, expires_on, received_on)
         select id, w, i, code, current_date + d, current_date - 400
           from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int4[]) as t(id, w, i, code, d)",
    )
    .bind(&ids)
    .bind(&ws)
    .bind(&its)
    .bind(&codes)
    .bind(&expires)
    .execute(pool)
    .await
    .expect("lots");
    let on_hand: Vec<i64> = lots.iter().map(|l| l.spec.on_hand).collect();
    let reserved: Vec<i64> = lots.iter().map(|l| l.spec.reserved).collect();
    for (kind, qty, delta) in [("receipt", &on_hand, false), ("reserve", &reserved, true)] {
        sqlx::query(
            "insert into stock_movements (lot_id, kind, qty, reserved_delta, actor_id)
             select lot, $2, case when $3 then 0 else q end, case when $3 then q else 0 end,
                    '00000000-0000-0000-0000-000000000001'
               from unnest($1::uuid[], $4::int8[]) as t(lot, q) where q > 0",
        )
        .bind(&ids)
        .bind(kind)
        .bind(delta)
        .bind(qty)
        .execute(pool)
        .await
        .expect("movements");
    }
    let held: Vec<Uuid> = lots
        .iter()
        .filter(|l| l.spec.quarantined)
        .map(|l| l.id)
        .collect();
    sqlx::query("update stock_lots set status = 'quarantined' where id = any($1)")
        .bind(&held)
        .execute(pool)
        .await
        .expect("quarantine");
    Stored { cells, lots }
}

/// What the database holds that a write would change: requests, ledger rows, request
/// events (chained or still pending), and Σ reserved over the case's lots.
async fn fingerprint(pool: &PgPool, lots: &[Uuid]) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "select (select count(*) from allocation_requests), (select count(*) from stock_movements),
                (select count(*) from audit_events where action = 'allocation.request')
                + (select count(*) from audit_pending where action = 'allocation.request'),
                (select coalesce(sum(reserved), 0)::int8 from stock_lots where id = any($1))",
    )
    .bind(lots)
    .fetch_one(pool)
    .await
    .expect("fingerprint")
}

#[test]
fn the_sql_verdict_writes_a_plan_exactly_when_plan_holds_accepts_it() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(TestApp::demo());
    let (warehouses, incident) = rt.block_on(async {
        let warehouses: Vec<Uuid> =
            sqlx::query_scalar("select id from warehouses order by code limit 2")
                .fetch_all(&app.pool)
                .await
                .expect("warehouses");
        let incident = Uuid::now_v7();
        sqlx::query(
            "insert into incidents (id, name, kind, lat, lon, started_at, created_by)
             values ($1, 'Differential', 'other', 22.5, 113.5, now(), '00000000-0000-0000-0000-000000000001')",
        )
        .bind(incident)
        .execute(&app.pool)
        .await
        .expect("incident");
        (warehouses, incident)
    });
    let (accepted, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let n = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });

    runner
        .run(&case_strategy(), |case| {
            rt.block_on(async {
                // Arrange: the case's cells and lots, and its plan as takes.
                let k = n.fetch_add(1, Ordering::Relaxed);
                let stored = store(&app.pool, &warehouses, &case, k).await;
                let today: chrono::NaiveDate = sqlx::query_scalar("select current_date")
                    .fetch_one(&app.pool)
                    .await
                    .expect("today");
                let mut takes = Takes::default();
                let mut picks: Vec<(Uuid, usize, i64)> = Vec::new(); // lot, cell, qty
                for t in &case.takes {
                    let (lot, own_cell) = match stored.lots.len() {
                        0 => (Uuid::now_v7(), 0),
                        _ if t.lot == 15 => (Uuid::now_v7(), 0),
                        len => {
                            let l = &stored.lots[t.lot % len];
                            (l.id, l.cell)
                        }
                    };
                    let cell = t.elsewhere.map_or(own_cell, |c| c % stored.cells.len());
                    let (w, i) = stored.cells[cell];
                    takes.add(lot, w, i, t.qty);
                    picks.push((lot, cell, t.qty));
                }
                let locked: Vec<LockedLot> = stored
                    .lots
                    .iter()
                    .filter(|l| takes.per_cell.contains_key(&stored.cells[l.cell]))
                    .map(|l| LockedLot {
                        id: l.id,
                        warehouse_id: stored.cells[l.cell].0,
                        item_id: stored.cells[l.cell].1,
                        on_hand: l.spec.on_hand,
                        reserved: l.spec.reserved,
                        quarantined: l.spec.quarantined,
                        expires_on: l
                            .spec
                            .expires_in
                            .map(|d| today + chrono::TimeDelta::days(d)),
                        min_remaining_days: case.min_days,
                        level: case.cells[l.cell].level.unwrap_or(0),
                    })
                    .collect();
                let expected = plan_holds(&locked, &takes, case.critical, today);

                // The plan's rows: one line per item it takes from, one pick per take.
                let mut line_items: Vec<Uuid> = Vec::new();
                let mut lines = NewLines::default();
                let mut rows = NewPicks::default();
                for &(lot, cell, qty) in &picks {
                    let (w, item) = stored.cells[cell];
                    let line_no = match line_items.iter().position(|&i| i == item) {
                        Some(p) => p,
                        None => {
                            line_items.push(item);
                            lines.line_no.push(line_items.len() as i32 - 1);
                            lines.item_id.push(item);
                            lines.sku.push(format!("DIFF-{k}"));
                            lines.requested.push(0);
                            lines.reserved.push(0);
                            lines.explanation.push(
                                serde_json::value::RawValue::from_string("[]".into())
                                    .expect("json"),
                            );
                            line_items.len() - 1
                        }
                    };
                    lines.requested[line_no] += qty;
                    lines.reserved[line_no] += qty;
                    rows.line_no.push(line_no as i32);
                    rows.lot_id.push(lot);
                    rows.warehouse_id.push(w);
                    rows.qty.push(qty);
                    rows.eta_minutes.push(30.0);
                    rows.distance_km.push(Some(1.0));
                    rows.late.push(false);
                    rows.misses_target.push(false);
                }
                let actor = Actor::system();
                let origin = Origin {
                    request_id: Some(format!("differential-{k}")),
                    idempotency_key: None,
                };
                let id = RequestId::new();
                let event = stockpile::audit::db::pending_event(
                    &actor,
                    &origin,
                    stockpile::audit::Change {
                        action: "allocation.request",
                        entity_kind: "allocation_request",
                        entity_id: id.to_string(),
                        before: None,
                        after: Some(json!({ "id": id })),
                    },
                );
                let request = NewRequest {
                    id,
                    incident_id: IncidentId(incident),
                    priority: if case.critical { "critical" } else { "normal" },
                    needed_by: None,
                    include_affected_warehouses: false,
                    status: "reserved",
                    created_by: actor.id,
                    request_id: origin.request_id.as_deref(),
                    idempotency_key: None,
                };
                let case_lots: Vec<Uuid> = stored.lots.iter().map(|l| l.id).collect();
                let before = fingerprint(&app.pool, &case_lots).await;

                // Act
                let mut conn = app.pool.acquire().await.expect("connection");
                let written = db::write_plan_if_available(
                    &mut conn,
                    &PlanWrite {
                        request: &request,
                        actor: actor.id,
                        lines: &lines,
                        picks: &rows,
                        reserve: &NewReservations::from(&takes),
                        cells: &CellTakes::of(&takes, today),
                        levels_apply: !case.critical,
                        event: Some(&event),
                    },
                )
                .await;
                drop(conn);

                // Assert
                let written = written.map_err(|e| {
                    TestCaseError::fail(format!("the statement failed: {e} (expected {expected})"))
                })?;
                prop_assert_eq!(written.is_some(), expected, "SQL wrote: {:?}", written);
                let after = fingerprint(&app.pool, &case_lots).await;
                if expected {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let taken: i64 = takes.per_lot.values().sum();
                    prop_assert_eq!(
                        after,
                        (
                            before.0 + 1,
                            before.1 + takes.per_lot.len() as i64,
                            before.2 + 1,
                            before.3 + taken
                        )
                    );
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                    prop_assert_eq!(after, before, "a refused plan wrote something");
                }
                Ok(())
            })
        })
        .expect("the SQL verdict and rules::plan_holds agree");
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    println!("differential allocation verdict: {accepted} plans written, {refused} refused");
    assert!(
        accepted >= CASES as usize / 8 && refused >= CASES as usize / 8,
        "both outcomes are exercised: {accepted} written, {refused} refused"
    );
}
