//! What the planner reads of large stock is written twice: once in Rust
//! (`planner::cell_stock`, the statement of what a cell gives the planner: its totals,
//! its short-dated stock on arrival, its usable lots in FEFO order cut at the demand),
//! and once in SQL (`allocation::db::planner_cells` and `planner_lots`, over the totals
//! the database keeps in `stock_cells` and `stock_cell_changes`, the short-dated cut-offs and
//! `stock_fefo_lots`).
//! This differential property test proves they agree: on random lots (on hand, reserved,
//! quarantined, expiry or none), changed again after they were stored, with the kept
//! totals compacted at random points (so that both the compacted rows and the pending
//! changes count), random minimum remaining days (so that a cell's stored short-dated
//! cut-off differs from the date asked) and random arrival dates and demands, the
//! statement returns exactly what `cell_stock` computes from the lots as stored.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Days, NaiveDate, Timelike, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sqlx::PgPool;
use stockpile::allocation::db::{LotAsk, StockAsk, planner_cells, planner_lots};
use stockpile::planner::{CellStock, cell_stock};
use stockpile::rules::LotState;
use uuid::Uuid;

use crate::helpers::TestApp;

const CASES: u32 = 96;

#[derive(Debug, Clone)]
struct LotSpec {
    on_hand: i64,
    reserved: i64,
    quarantined: bool,
    /// Days from today; `None`: never expires.
    expires: Option<i64>,
    /// Units issued after it was stored (up to what is not reserved).
    issue: i64,
    /// Whether its quarantine flips after it was stored.
    flip: bool,
}

#[derive(Debug, Clone)]
struct Case {
    min_days: i32,
    /// Per cell (2 warehouses × 1 item): its lots.
    cells: Vec<Vec<LotSpec>>,
    /// Compact the kept totals after storing, after changing, or neither.
    compact: (bool, bool),
    /// Per cell: arrival (days from today) or unreachable, and the demand.
    asks: Vec<(Option<i64>, i64)>,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let lot = (
        0..=20i64,
        prop_oneof![Just(0i64), 0..=20i64],
        prop::bool::weighted(0.2),
        prop::option::weighted(0.85, -10..40i64),
        prop_oneof![Just(0i64), 0..=8i64],
        prop::bool::weighted(0.15),
    )
        .prop_map(|(on_hand, r, quarantined, expires, issue, flip)| LotSpec {
            on_hand,
            reserved: r.min(on_hand),
            quarantined,
            expires,
            issue,
            flip,
        });
    (
        0..20i32,
        prop::collection::vec(prop::collection::vec(lot, 0..=6), 2),
        (any::<bool>(), any::<bool>()),
        prop::collection::vec((prop::option::weighted(0.85, 0..3i64), 0..=60i64), 2),
    )
        .prop_map(|(min_days, cells, compact, asks)| Case {
            min_days,
            cells,
            compact,
            asks,
        })
}

async fn today(pool: &PgPool) -> NaiveDate {
    sqlx::query_scalar("select current_date")
        .fetch_one(pool)
        .await
        .expect("today")
}

fn day(today: NaiveDate, offset: i64) -> NaiveDate {
    if offset >= 0 {
        today + Days::new(offset as u64)
    } else {
        today - Days::new(offset.unsigned_abs())
    }
}

/// The service's day (its default time zone): what its own compaction passes, so the
/// test's compactions and the app's agree on every cell's cut-off.
fn service_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

async fn compact(pool: &PgPool) {
    stockpile::stock::cells::compact(pool, service_today())
        .await
        .expect("compact");
}

/// Stores the case's lots, then changes them, compacting where the case says; returns
/// the item and its SKU.
async fn store(pool: &PgPool, warehouses: &[Uuid], case: &Case, n: usize) -> (Uuid, String) {
    let item = Uuid::now_v7();
    let sku = format!("CELLS-{n}");
    sqlx::query(
        "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, shelf_life_days, min_remaining_days)
         values ($1, $2, '测试', 'Differential item', '1-01', '件', 'piece', 720, $3)",
    )
    .bind(item)
    .bind(&sku)
    .bind(case.min_days)
    .execute(pool)
    .await
    .expect("item");
    let today = today(pool).await;
    let mut ids = Vec::new();
    for (c, lots) in case.cells.iter().enumerate() {
        for (i, l) in lots.iter().enumerate() {
            let id = Uuid::now_v7();
            ids.push((id, l));
            sqlx::query(
                "insert into stock_lots (id, warehouse_id, item_id, lot_code, expires_on, received_on)
                 values ($1, $2, $3, $4, $5, current_date - 30)",
            )
            .bind(id)
            .bind(warehouses[c])
            .bind(item)
            // Few distinct codes per cell, so that FEFO ties on expiry fall to the code.
            .bind(format!("C{}", i % 3))
            .bind(l.expires.map(|d| day(today, d)))
            .execute(pool)
            .await
            .map(|_| ())
            .or_else(|e| match e {
                // Two lots with one code in a cell: keep the first.
                sqlx::Error::Database(d) if d.is_unique_violation() => Ok(()),
                e => Err(e),
            })
            .expect("lot");
        }
    }
    let mut tx = pool.begin().await.expect("begin");
    for &(id, l) in &ids {
        for (kind, qty, reserved) in [("receipt", l.on_hand, 0), ("reserve", 0, l.reserved)] {
            if qty + reserved > 0 {
                sqlx::query(
                    "insert into stock_movements (lot_id, kind, qty, reserved_delta, actor_id)
                     select $1, $2, $3, $4, '00000000-0000-0000-0000-000000000001'
                      where exists (select 1 from stock_lots where id = $1)",
                )
                .bind(id)
                .bind(kind)
                .bind(qty)
                .bind(reserved)
                .execute(&mut *tx)
                .await
                .expect("movement");
            }
        }
        if l.quarantined {
            sqlx::query("update stock_lots set status = 'quarantined' where id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .expect("quarantine");
        }
    }
    tx.commit().await.expect("commit");
    if case.compact.0 {
        compact(pool).await;
    }
    for &(id, l) in &ids {
        let issue = l.issue.min(l.on_hand - l.reserved);
        if issue > 0 {
            sqlx::query(
                "insert into stock_movements (lot_id, kind, qty, actor_id)
                 select $1, 'adjustment', $2, '00000000-0000-0000-0000-000000000001'
                  where exists (select 1 from stock_lots where id = $1)",
            )
            .bind(id)
            .bind(-issue)
            .execute(pool)
            .await
            .expect("issue");
        }
        if l.flip {
            sqlx::query(
                "update stock_lots set status = case status when 'quarantined' then 'available' else 'quarantined' end
                  where id = $1",
            )
            .bind(id)
            .execute(pool)
            .await
            .expect("flip");
        }
    }
    if case.compact.1 {
        compact(pool).await;
    }
    (item, sku)
}

/// The case's lots as stored, per warehouse.
async fn lots_of(pool: &PgPool, warehouse: Uuid, item: Uuid, sku: &str) -> Vec<LotState> {
    let rows: Vec<(Uuid, String, Option<NaiveDate>, i64, i64, bool)> = sqlx::query_as(
        "select id, lot_code, expires_on, on_hand, reserved, status = 'quarantined'
           from stock_lots where warehouse_id = $1 and item_id = $2",
    )
    .bind(warehouse)
    .bind(item)
    .fetch_all(pool)
    .await
    .expect("lots");
    rows.into_iter()
        .map(
            |(id, lot_code, expires_on, on_hand, reserved, quarantined)| LotState {
                id,
                warehouse_id: warehouse,
                sku: sku.to_owned(),
                lot_code,
                expires_on,
                on_hand,
                reserved,
                quarantined,
            },
        )
        .collect()
}

#[test]
fn the_stock_the_planner_reads_is_exactly_cell_stock_of_the_lots() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(TestApp::demo());
    let warehouses: Vec<Uuid> = rt.block_on(async {
        sqlx::query_scalar("select id from warehouses order by code limit 2")
            .fetch_all(&app.pool)
            .await
            .expect("warehouses")
    });
    let n = AtomicUsize::new(0);
    let (with_lots, cut_short) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&case_strategy(), |case| {
            rt.block_on(async {
                let k = n.fetch_add(1, Ordering::Relaxed);
                let (item, sku) = store(&app.pool, &warehouses, &case, k).await;
                let today = today(&app.pool).await;

                let mut ask = StockAsk::default();
                let mut lot_ask = LotAsk::default();
                let mut expected_cells: Vec<CellStock> = Vec::new();
                let mut expected_lots: Vec<Vec<LotState>> = Vec::new();
                for (c, &(arrival, demand)) in case.asks.iter().enumerate() {
                    let required = arrival
                        .map(|a| stockpile::rules::required_expiry(day(today, a), case.min_days));
                    ask.warehouse_id.push(warehouses[c]);
                    ask.item_id.push(item);
                    ask.sku.push(sku.clone());
                    ask.arrives.push(required.is_some());
                    ask.required.push(required.flatten());
                    let lots = lots_of(&app.pool, warehouses[c], item, &sku).await;
                    let counted_from = stockpile::rules::required_expiry(today, case.min_days);
                    ask.counted_from.push(counted_from);
                    let (cell, cut) =
                        cell_stock(warehouses[c], &sku, &lots, required, counted_from, demand);
                    if cell.held > 0 {
                        let usable = lots
                            .iter()
                            .filter(|l| stockpile::rules::lot_usable(l, required.flatten()).is_ok())
                            .count();
                        if cut.len() < usable && required.is_some() {
                            cut_short.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Some(required) = required {
                            lot_ask.warehouse_id.push(warehouses[c]);
                            lot_ask.item_id.push(item);
                            lot_ask.sku.push(sku.clone());
                            lot_ask.required.push(required);
                            lot_ask.qty.push(demand);
                        }
                        expected_cells.push(cell);
                        expected_lots.push(cut);
                    }
                }
                let mut conn = app.pool.acquire().await.expect("conn");
                let cells = planner_cells(&mut conn, &ask).await.expect("planner_cells");
                let lots = planner_lots(&mut conn, &lot_ask)
                    .await
                    .expect("planner_lots");
                prop_assert_eq!(&cells, &expected_cells);
                let mut got: Vec<Vec<LotState>> = vec![Vec::new(); expected_cells.len()];
                for l in stockpile::allocation::plan::lot_states(lots) {
                    let c = expected_cells
                        .iter()
                        .position(|c| c.warehouse_id == l.warehouse_id)
                        .expect("a lot of a cell that holds stock");
                    got[c].push(l);
                }
                prop_assert_eq!(&got, &expected_lots);
                if expected_lots.iter().any(|l| !l.is_empty()) {
                    with_lots.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .expect("planner_cells and planner_lots return cell_stock of the lots");
    // The cases exercised what they are for: cells with usable lots, and cuts.
    let (with_lots, cut_short) = (with_lots.into_inner(), cut_short.into_inner());
    assert!(
        with_lots > CASES as usize / 4,
        "{with_lots} cases had usable lots"
    );
    assert!(cut_short > 0, "no case cut a cell's lots at its demand");
}

/// A compaction that moves a cell's short-dated cut-off while receipts commit must keep
/// the cell's short-dated figure exact: a receipt committed between the compaction's
/// fold and its move was once counted twice (migration
/// `stock_cells_compact_snapshot`). Compactions run back to back while fresh cells
/// receive short-dated stock; afterwards each cell's figure equals its lots'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_dated_stock_stays_exact_while_compactions_race_receipts() {
    // Arrange
    let app = TestApp::demo().await;
    let warehouse: Uuid = sqlx::query_scalar("select id from warehouses where code = 'JM-JH-RC'")
        .fetch_one(&app.pool)
        .await
        .expect("warehouse");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compactor = {
        let (pool, stop) = (app.pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut runs = 0u64;
            while !stop.load(Ordering::Relaxed) {
                compact(&pool).await;
                runs += 1;
            }
            runs
        })
    };

    // Act: fresh cells (an item that must keep 30 days) each receive a lot expiring in
    // 10 days: short-dated from the first compaction that sets the cell's cut-off.
    const ROUNDS: usize = 300;
    let mut items = Vec::with_capacity(ROUNDS);
    for n in 0..ROUNDS {
        let item = Uuid::now_v7();
        sqlx::query(
            "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, shelf_life_days, min_remaining_days)
             values ($1, $2, '测试', 'Race item', '1-01', '件', 'piece', 720, 30)",
        )
        .bind(item)
        .bind(format!("RACE-{n}"))
        .execute(&app.pool)
        .await
        .expect("item");
        let lot = Uuid::now_v7();
        sqlx::query(
            "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, received_on)
             values ($1, $2, $3, 'R', current_date + 10, current_date)",
        )
        .bind(lot)
        .bind(item)
        .bind(warehouse)
        .execute(&app.pool)
        .await
        .expect("lot");
        sqlx::query(
            "insert into stock_movements (lot_id, kind, qty, actor_id)
             values ($1, 'receipt', 7, '00000000-0000-0000-0000-000000000001')",
        )
        .bind(lot)
        .execute(&app.pool)
        .await
        .expect("receipt");
        items.push(item);
    }
    stop.store(true, Ordering::Relaxed);
    let runs = compactor.await.expect("compactor");
    compact(&app.pool).await;
    compact(&app.pool).await;

    // Assert: every cell's kept short-dated figure is its 7 units, nothing pending.
    let wrong: Vec<(Uuid, i64)> = sqlx::query_as(
        "select c.item_id, c.short_available from stock_cells c
          where c.item_id = any($1) and c.warehouse_id = $2
            and (c.short_available <> 7 or c.short_before <> $3::date + 30)",
    )
    .bind(&items)
    .bind(warehouse)
    .bind(service_today())
    .fetch_all(&app.pool)
    .await
    .expect("cells");
    println!("{runs} compactions raced {ROUNDS} receipts");
    assert!(runs > 10, "the compactions ran: {runs}");
    assert!(
        wrong.is_empty(),
        "{} cells count short-dated stock wrongly: {wrong:?}",
        wrong.len()
    );
}

/// The serving process moves every cell's short-dated cut-off to the deployment's day
/// (its `--tz`) + the item's minimum remaining days: the date the planner asks, so that
/// reading a cell's short-dated stock needs no probe of its lots. PostgreSQL's
/// `current_date` is the session's zone's day; here the deployment's zone is chosen so
/// that its day differs from UTC's now, whatever the hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_moves_cut_offs_to_the_deployments_day() {
    // Arrange: a deployment 12 hours behind UTC before noon UTC, 14 ahead after.
    let now = Utc::now();
    let tz: chrono_tz::Tz = if now.hour() < 12 {
        chrono_tz::Etc::GMTPlus12
    } else {
        chrono_tz::Etc::GMTMinus14
    };
    let settings = stockpile::config::Settings {
        tz,
        ..Default::default()
    };
    let today = settings.today();
    assert_ne!(today, now.date_naive(), "the zone's day differs from UTC's");

    // Act: the app's own compaction runs every second.
    let app = TestApp::demo_with(settings).await;
    let left = poll_until(
        |n| n == 0,
        || {
            scalar(
                &app.pool,
                "select count(*) from stock_cells c join items i on i.id = c.item_id
              where c.short_before <> $1::date + greatest(i.min_remaining_days, 0)",
                Some(today),
            )
        },
    )
    .await;

    // Assert
    let cells: i64 = sqlx::query_scalar("select count(*) from stock_cells")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert!(cells > 100, "the demo has cells: {cells}");
    assert_eq!(
        left, 0,
        "cells whose cut-off is not {today} + the item's days"
    );
}

const PENDING: &str = "select count(*) from stock_cell_changes";
const VACUUMS: &str =
    "select vacuum_count from pg_stat_user_tables where relname = 'stock_cell_changes'";

/// A count read by `sql` (with `day` as `$1` when given).
async fn scalar(pool: &PgPool, sql: &'static str, day: Option<NaiveDate>) -> i64 {
    let query = sqlx::query_scalar(sql);
    let query = match day {
        Some(day) => query.bind(day),
        None => query,
    };
    query.fetch_one(pool).await.expect(sql)
}

/// Reads `read` every 100 ms until `done` holds or 10 s have passed; the last value read.
async fn poll_until<F, Fut>(done: impl Fn(i64) -> bool, read: F) -> i64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = i64>,
{
    let mut value = read().await;
    for _ in 0..100 {
        if done(value) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        value = read().await;
    }
    value
}

/// The serving process vacuums `stock_cell_changes` once it has folded
/// `stock::cells::VACUUM_AFTER` changes: the queue's dead rows and their index entries
/// go within seconds of a burst, not at autovacuum's next visit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compactor_vacuums_the_change_queue_after_a_burst() {
    // Arrange: the app's compactor has folded what the demo left pending.
    let app = TestApp::demo().await;
    poll_until(|n| n == 0, || scalar(&app.pool, PENDING, None)).await;
    tokio::time::sleep(stockpile::stock::cells::COMPACT_EVERY * 2).await;
    let before = scalar(&app.pool, VACUUMS, None).await;
    let lot: Uuid = sqlx::query_scalar("select id from stock_lots order by id limit 1")
        .fetch_one(&app.pool)
        .await
        .expect("lot");

    // Act: a burst of lot changes, one queued change each.
    let burst = stockpile::stock::cells::VACUUM_AFTER + 500;
    sqlx::query(
        "insert into stock_movements (lot_id, kind, qty, actor_id)
         select $1, 'receipt', 1, '00000000-0000-0000-0000-000000000001'
           from generate_series(1, $2)",
    )
    .bind(lot)
    .bind(burst)
    .execute(&app.pool)
    .await
    .expect("burst");

    // Assert: folded, then vacuumed, within a few compaction ticks.
    let after = poll_until(|n| n > before, || scalar(&app.pool, VACUUMS, None)).await;
    let pending = scalar(&app.pool, PENDING, None).await;
    assert!(
        after > before,
        "no vacuum after {burst} changes ({before} → {after})"
    );
    assert!(pending < burst, "the burst was folded: {pending} pending");
}

/// The rows an `explain (analyze, format json)` plan node and its children handled: the
/// rows each returned and each filter removed, over all their loops.
fn rows_handled(node: &serde_json::Value) -> f64 {
    let num = |key: &str| {
        node.get(key)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    let loops = num("Actual Loops");
    let own =
        (num("Actual Rows") + num("Rows Removed by Filter") + num("Rows Removed by Join Filter"))
            * loops;
    let children = node
        .get("Plans")
        .and_then(serde_json::Value::as_array)
        .map_or(0.0, |plans| plans.iter().map(rows_handled).sum());
    own + children
}

/// The cell read (`stock_cells_state`, migration 330) handles rows in proportion to the
/// cells asked and the changes pending, even when its prepared plan was made while the
/// change queue was empty, as it is after every compaction and vacuum. A semi-join of the
/// changes to the asked cells, planned then, ran as a nested loop over both: in a stream
/// of requests its time climbed with every change queued until the next vacuum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cell_read_stays_linear_when_planned_on_an_empty_change_queue() {
    // Arrange: the queue folded and vacuumed; a plan made now, kept for the session.
    let app = TestApp::demo().await;
    poll_until(|n| n == 0, || scalar(&app.pool, PENDING, None)).await;
    let mut conn = app.pool.acquire().await.expect("connection");
    sqlx::raw_sql("vacuum stock_cell_changes")
        .execute(&mut *conn)
        .await
        .expect("vacuumed");
    sqlx::raw_sql(
        "set plan_cache_mode = force_generic_plan;
         prepare cell_read (uuid[], uuid[], date[], date[]) as
             select * from stock_cells_state($1, $2, $3, $4);",
    )
    .execute(&mut *conn)
    .await
    .expect("prepared");
    let (items, warehouses, dates, cells): (String, String, String, i64) = sqlx::query_as(
        "select array_agg(i.id)::text, array_agg(w.id)::text,
                array_agg(current_date + i.min_remaining_days + 1)::text, count(*)
           from warehouses w, items i where i.sku = 'MASK-MEDICAL'",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("the cells of an item at every warehouse");
    let read = format!("execute cell_read('{items}', '{warehouses}', '{dates}', '{dates}')");
    // The arrays are the database's own text of uuids and dates.
    sqlx::raw_sql(sqlx::AssertSqlSafe(read.clone()))
        .execute(&mut *conn)
        .await
        .expect("planned on an empty queue");

    // Act: 1,500 changes pending on the item's cells (in a transaction never committed,
    // so the app's compactor leaves them), read through the plan made before them.
    let changes = 1_500_i64;
    sqlx::raw_sql("begin")
        .execute(&mut *conn)
        .await
        .expect("begin");
    sqlx::query(
        "with cells as (
             select s.item_id, s.warehouse_id, row_number() over (order by s.warehouse_id) as k,
                    count(*) over () as n
               from stock_cells s join items i on i.id = s.item_id and i.sku = 'MASK-MEDICAL')
         insert into stock_cell_changes (item_id, warehouse_id, expires_on, on_hand, reserved,
                                         quarantined)
         select c.item_id, c.warehouse_id, current_date + (g % 30)::int, 0, 0, 0
           from generate_series(1, $1) g join cells c on c.k = g % c.n + 1",
    )
    .bind(changes)
    .execute(&mut *conn)
    .await
    .expect("changes queued");
    let plan: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "explain (analyze, format json) {read}"
    )))
    .fetch_one(&mut *conn)
    .await
    .expect("explained");
    sqlx::raw_sql("rollback")
        .execute(&mut *conn)
        .await
        .expect("rollback");

    // Assert: the rows handled stay within a constant times the rows there are to read
    // (a product of the two would be ~160,000 here).
    let handled = rows_handled(&plan[0]["Plan"]);
    let bound = 20.0 * (cells + changes) as f64;
    assert!(
        handled <= bound,
        "{handled} rows handled for {cells} cells and {changes} changes (bound {bound})"
    );
}
