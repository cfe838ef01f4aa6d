//! Differential property tests: the one-statement stock commands state the stock rules
//! again in SQL, and here they are held to the Rust rules on random lots and requests.
//!
//! - `stock::db::apply_checked_movements` (issues and adjustments) writes exactly when
//!   `stock::movement::check` accepts, with the balances it predicts, and writes nothing
//!   (no ledger row, no audit event, no balance) when it refuses.
//! - `stock::db::receive_into_existing_lots` writes exactly when
//!   `stock::receipt::into_existing_lots` accepts, likewise.
//!
//! Each case arranges its lots inside a transaction on one fresh database, runs the
//! statement there, reads what it wrote, and rolls back, so every case starts from the
//! same empty state. proptest is synchronous: each case blocks on the database from a
//! multi-threaded runtime (`block_in_place`).

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use stockpile::audit::{Change, Origin};
use stockpile::auth::Actor;
use stockpile::ids::{ItemId, LotId, WarehouseId};
use stockpile::stock::db::{self, CheckedMovements, ExistingLotReceipt, KeyClaim};
use stockpile::stock::movement::{self, LotOp, MovementLine};
use stockpile::stock::receipt::{self, Arrival};
use stockpile::stock::{Balances, LockedLot, LotStatus};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Cases per property.
const CASES: u32 = 128;

const TODAY: &str = "2026-11-27";
const ITEMS: [Uuid; 2] = [Uuid::from_u128(0xA1), Uuid::from_u128(0xA2)];
const WAREHOUSES: [Uuid; 2] = [Uuid::from_u128(0xB1), Uuid::from_u128(0xB2)];
/// The warehouse every request is made in; lots of the other one are foreign.
const HOME: &str = "DIFF-HOME";

fn today() -> NaiveDate {
    TODAY.parse().expect("date")
}

/// Two items and two warehouses on an empty, migrated database.
async fn arrange_catalogue(conn: &mut PgConnection) {
    for sql in [
        "insert into categories (code, name_zh, name_en) values ('99', '测试', 'Test')",
        "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en)
         values ('00000000-0000-0000-0000-0000000000a1', 'DIFF-ONE', '一', 'One', '99', '件', 'piece'),
                ('00000000-0000-0000-0000-0000000000a2', 'DIFF-TWO', '二', 'Two', '99', '件', 'piece')",
        "insert into warehouses (id, code, name_zh, name_en, lat, lon, city, district, tier)
         values ('00000000-0000-0000-0000-0000000000b1', 'DIFF-HOME', '家', 'Home', 22.5, 113.9, 'Shenzhen', null, 'city'),
                ('00000000-0000-0000-0000-0000000000b2', 'DIFF-AWAY', '外', 'Away', 22.3, 114.1, 'Hong Kong', null, 'city')",
    ] {
        sqlx::query(sql).execute(&mut *conn).await.expect(sql);
    }
}

/// A lot to arrange: its place, status, expiry and balances.
#[derive(Debug, Clone)]
struct LotSpec {
    item: usize,
    warehouse: usize,
    code: &'static str,
    quarantined: bool,
    /// Days from today; `None`: never expires.
    expiry: Option<i64>,
    on_hand: i64,
    reserved: i64,
}

fn quantity_on_hand() -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(0i64),
        6 => 1i64..80,
        2 => (i64::MAX - 40)..=i64::MAX,
    ]
}

fn lot_spec(codes: &'static [&'static str]) -> impl Strategy<Value = LotSpec> {
    (
        0usize..2,
        prop_oneof![7 => Just(0usize), 1 => Just(1usize)],
        prop::sample::select(codes),
        prop::bool::weighted(0.15),
        prop_oneof![2 => Just(None), 1 => (-2i64..=2).prop_map(Some)],
        quantity_on_hand(),
        prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        0i64..30,
    )
        .prop_map(
            |(item, warehouse, code, quarantined, expiry, on_hand, mode, r)| LotSpec {
                item,
                warehouse,
                code,
                quarantined,
                expiry,
                on_hand,
                // Nothing, a little, or all but a little of it reserved.
                reserved: match mode {
                    0 => 0,
                    1 => r.min(on_hand),
                    _ => on_hand - r.min(on_hand),
                },
            },
        )
}

/// Inserts `specs` (one lot per item, warehouse and code: later duplicates are dropped)
/// and books their balances through the ledger, as the service does.
async fn arrange_lots(conn: &mut PgConnection, specs: &[LotSpec]) -> Vec<LockedLot> {
    let mut lots: Vec<LockedLot> = Vec::new();
    for s in specs {
        let (item, warehouse) = (ItemId(ITEMS[s.item]), WarehouseId(WAREHOUSES[s.warehouse]));
        if lots
            .iter()
            .any(|l| l.item_id == item && l.warehouse_id == warehouse && l.lot_code == s.code)
        {
            continue;
        }
        let lot = LockedLot {
            id: LotId::new(),
            item_id: item,
            sku: if s.item == 0 { "DIFF-ONE" } else { "DIFF-TWO" }.to_owned(),
            warehouse_id: warehouse,
            lot_code: s.code.to_owned(),
            expires_on: s.expiry.map(|d| today() + chrono::TimeDelta::days(d)),
            on_hand: s.on_hand,
            reserved: s.reserved,
            status: if s.quarantined {
                LotStatus::Quarantined
            } else {
                LotStatus::Available
            },
        };
        sqlx::query(
            "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, status, received_on)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(lot.id.0)
        .bind(item.0)
        .bind(warehouse.0)
        .bind(&lot.lot_code)
        .bind(lot.expires_on)
        .bind(lot.status.as_str())
        .bind(today())
        .execute(&mut *conn)
        .await
        .expect("insert lot");
        sqlx::query(
            "insert into stock_movements (lot_id, kind, qty, reserved_delta, actor_id)
             select $1, k, q, r, '00000000-0000-0000-0000-000000000001'
               from (values ('seed', $2::bigint, 0::bigint), ('reserve', 0, $3)) as t(k, q, r)
              where q <> 0 or r <> 0
              order by k desc",
        )
        .bind(lot.id.0)
        .bind(lot.on_hand)
        .bind(lot.reserved)
        .execute(&mut *conn)
        .await
        .expect("book the lot's balances");
        lots.push(lot);
    }
    lots
}

/// What a statement left behind: each lot's balances, and the ledger rows, audit
/// events and claimed Idempotency-Keys in the database.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    balances: Vec<(LotId, Balances)>,
    movements: i64,
    events: i64,
    keys: i64,
}

async fn written(conn: &mut PgConnection, lots: &[LockedLot]) -> Written {
    let mut balances = Vec::new();
    for l in lots {
        let (on_hand, reserved): (i64, i64) =
            sqlx::query_as("select on_hand, reserved from stock_lots where id = $1")
                .bind(l.id.0)
                .fetch_one(&mut *conn)
                .await
                .expect("lot");
        balances.push((l.id, Balances { on_hand, reserved }));
    }
    let (movements, events, keys): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from stock_movements), (select count(*) from audit_pending),
                (select count(*) from idempotency_keys)",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("counts");
    Written {
        balances,
        movements,
        events,
        keys,
    }
}

/// A fresh key for a keyed case (`Some` flag), to claim with the effect.
fn fresh_key(flag: Option<&str>) -> Option<String> {
    flag.map(|k| format!("{k}-{}", Uuid::now_v7()))
}

/// The claim of `key`, if any, as a keyed request's statement makes it.
fn claim(key: &Option<String>) -> Option<KeyClaim<'static>> {
    key.as_ref().map(|_| KeyClaim {
        fingerprint: "differential",
        status: 201,
        warehouse: HOME,
    })
}

/// The movement ids of the answer stored under the system user's `key`.
async fn answered_movements(conn: &mut PgConnection, key: &str) -> Vec<i64> {
    let body: serde_json::Value = sqlx::query_scalar(
        "select response_body from idempotency_keys where user_id = $1 and key = $2",
    )
    .bind(Actor::system().id.0)
    .bind(key)
    .fetch_one(&mut *conn)
    .await
    .expect("the stored answer");
    body["lines"]
        .as_array()
        .expect("answer lines")
        .iter()
        .map(|l| l["movement_id"].as_i64().expect("movement id"))
        .collect()
}

/// Keys of the ledger rows written after row `after`.
async fn keys_after(conn: &mut PgConnection, after: i64) -> Vec<Option<String>> {
    sqlx::query_scalar("select idempotency_key from stock_movements where id > $1 order by id")
        .bind(after)
        .fetch_all(&mut *conn)
        .await
        .expect("keys")
}

async fn last_movement(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar("select coalesce(max(id), 0) from stock_movements")
        .fetch_one(&mut *conn)
        .await
        .expect("last movement")
}

/// Balances as they are before, with each written line's applied in order.
fn predicted(before: &Written, lines: &[(LotId, Balances)]) -> Vec<(LotId, Balances)> {
    before
        .balances
        .iter()
        .map(|&(id, b)| {
            let last = lines.iter().rev().find(|(lot, _)| *lot == id);
            (id, last.map_or(b, |&(_, after)| after))
        })
        .collect()
}

fn event(action: &'static str, key: Option<&str>) -> stockpile::audit::Event {
    let origin = Origin {
        request_id: Some("differential".into()),
        idempotency_key: key.map(str::to_owned),
    };
    let change = Change {
        action,
        entity_kind: "differential",
        entity_id: Uuid::now_v7().to_string(),
        before: None,
        after: Some(json!({})),
    };
    stockpile::audit::db::pending_event(&Actor::system(), &origin, change)
}

/// Runs `case` on `CASES` random inputs, each inside a transaction on `app`'s database
/// that is rolled back afterwards; returns how many cases passed.
fn run_cases<S, F>(app: &TestApp, strategy: S, case: F) -> u32
where
    S: Strategy,
    S::Value: Clone + std::fmt::Debug,
    F: AsyncFn(&mut PgConnection, S::Value) -> Result<(), TestCaseError>,
{
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let passed = std::cell::Cell::new(0);
    let outcome = runner.run(&strategy, |input| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let mut conn = app.pool.acquire().await.expect("connection");
                let mut tx = conn.begin().await.expect("begin");
                let result = case(&mut *tx, input).await;
                tx.rollback().await.expect("rollback");
                passed.set(passed.get() + u32::from(result.is_ok()));
                result
            })
        })
    });
    if let Err(e) = outcome {
        panic!("the SQL and the Rust rules disagree: {e}");
    }
    passed.get()
}

/// An issue or adjustment as generated: which op, which lots, which lines.
#[derive(Debug, Clone)]
struct MovementCase {
    op: LotOp,
    lots: Vec<LotSpec>,
    /// (index into the lots, or past them for a lot that does not exist; signed change)
    lines: Vec<(usize, i64)>,
    key: Option<&'static str>,
}

fn issue_qty() -> impl Strategy<Value = i64> {
    prop_oneof![10 => 1i64..12, 1 => (i64::MAX - 30)..=i64::MAX]
}

fn adjustment_qty() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => (-30i64..30).prop_map(|q| if q == 0 { 1 } else { q }),
        1 => (i64::MAX - 30)..=i64::MAX,
        1 => i64::MIN..=(i64::MIN + 30),
    ]
}

fn movement_case() -> impl Strategy<Value = MovementCase> {
    const CODES: &[&str] = &["L1", "L2", "L3", "L4"];
    // One code per lot, so that every lot generated is arranged.
    let lots = prop::collection::vec(lot_spec(CODES), 1..=4).prop_map(|mut lots| {
        for (lot, code) in lots.iter_mut().zip(CODES) {
            lot.code = code;
        }
        lots
    });
    (
        prop::bool::ANY,
        lots,
        prop::option::of(Just("k-differential")),
    )
        .prop_flat_map(|(issue, lots, key)| {
            let n = lots.len();
            let qty = if issue {
                issue_qty().prop_map(|q| -q).boxed()
            } else {
                adjustment_qty().boxed()
            };
            // Mostly lots on record; now and then one that does not exist.
            let lot = prop_oneof![20 => 0..n, 1 => Just(n)];
            let lines = prop::collection::vec((lot, qty), 1..=3);
            (Just(issue), Just(lots), lines, Just(key))
        })
        .prop_map(|(issue, lots, lines, key)| MovementCase {
            op: if issue { LotOp::Issue } else { LotOp::Adjust },
            lots,
            lines,
            key,
        })
}

async fn movement_agrees(conn: &mut PgConnection, c: MovementCase) -> Result<(), TestCaseError> {
    let lots = arrange_lots(conn, &c.lots).await;
    let lines: Vec<MovementLine> = c
        .lines
        .iter()
        .map(|&(i, delta)| MovementLine {
            lot: lots.get(i).map_or_else(LotId::new, |l| l.id),
            delta,
            reason: "differential".into(),
            note: None,
        })
        .collect();
    let home = (WarehouseId(WAREHOUSES[0]), HOME);
    let rust = movement::check(c.op, home, today(), &lines, &lots);

    let key = fresh_key(c.key);
    let before = written(conn, &lots).await;
    let last = last_movement(conn).await;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.lot.0).collect();
    let deltas: Vec<i64> = lines.iter().map(|l| l.delta).collect();
    let reasons: Vec<&str> = lines.iter().map(|l| l.reason.as_str()).collect();
    let notes: Vec<Option<&str>> = vec![None; lines.len()];
    let batch = CheckedMovements {
        warehouse: home.0,
        lots: &ids,
        deltas: &deltas,
        reasons: &reasons,
        notes: &notes,
        op: c.op,
        ref_id: Uuid::now_v7(),
        actor: Actor::system().id,
        request_id: Some("differential"),
        idempotency_key: key.as_deref(),
        claim: claim(&key),
        today: today(),
    };
    let sql = db::apply_checked_movements(conn, &batch, &event(c.op.action(), key.as_deref()))
        .await
        .map_err(|e| TestCaseError::fail(format!("the statement failed: {e}")))?;
    let after = written(conn, &lots).await;

    match rust {
        Ok(checked) => {
            prop_assert_eq!(sql.len(), lines.len(), "Rust accepts, the SQL refused");
            let expected: Vec<(LotId, Balances)> =
                checked.iter().map(|c| (c.lot.id, c.balances)).collect();
            let got: Vec<(LotId, Balances)> = sql
                .iter()
                .map(|m| {
                    let b = Balances {
                        on_hand: m.on_hand,
                        reserved: m.reserved,
                    };
                    (m.lot_id, b)
                })
                .collect();
            prop_assert_eq!(&got, &expected, "per-line balances");
            prop_assert_eq!(&after.balances, &predicted(&before, &expected));
            prop_assert_eq!(after.movements, before.movements + lines.len() as i64);
            prop_assert_eq!(after.events, before.events + 1);
            let keys = keys_after(conn, last).await;
            prop_assert!(keys.iter().all(|k| *k == key), "{:?}", keys);
            // A keyed statement claimed its key, with the answer naming its rows.
            prop_assert_eq!(after.keys, before.keys + i64::from(key.is_some()));
            if let Some(key) = &key {
                let ids: Vec<i64> = sql.iter().map(|m| m.movement_id).collect();
                prop_assert_eq!(answered_movements(conn, key).await, ids);
            }
        }
        Err(refusal) => {
            prop_assert!(
                sql.is_empty(),
                "the SQL wrote what Rust refuses: {}",
                refusal
            );
            prop_assert_eq!(&after, &before, "a refused statement wrote something");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issue_and_adjustment_statement_accepts_exactly_what_the_rust_rules_accept() {
    // Arrange
    let app = TestApp::empty().await;
    let mut conn = app.pool.acquire().await.expect("connection");
    arrange_catalogue(&mut conn).await;
    drop(conn);
    // Act and assert, case by case.
    let ran = run_cases(&app, movement_case(), movement_agrees);
    assert_eq!(ran, CASES);
}

/// What a generated receipt line names.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// The item and code of one of the arranged lots (by index).
    Lot(usize),
    /// An item and a code, which may name no lot.
    Named(usize, &'static str),
}

/// A receipt as generated: lots on record and lines, each arriving available.
#[derive(Debug, Clone)]
struct ReceiptCase {
    lots: Vec<LotSpec>,
    /// (what it names, expiry: the lot's when `None`, else days from today or none, qty)
    lines: Vec<(Target, Option<Option<i64>>, i64)>,
    key: Option<&'static str>,
}

fn receipt_case() -> impl Strategy<Value = ReceiptCase> {
    const CODES: &[&str] = &["A", "B", "C"];
    const LINE_CODES: &[&str] = &["A", "B", "C", "D"];
    (
        prop::collection::vec(lot_spec(CODES), 1..=4),
        prop::option::of(Just("k-differential")),
    )
        .prop_flat_map(|(lots, key)| {
            let target = prop_oneof![
                8 => (0..lots.len()).prop_map(Target::Lot),
                1 => (0usize..2, prop::sample::select(LINE_CODES))
                    .prop_map(|(item, code)| Target::Named(item, code)),
            ];
            let expiry = prop_oneof![
                12 => Just(None),
                1 => Just(Some(None)),
                1 => (-2i64..=2).prop_map(|d| Some(Some(d))),
            ];
            let qty = prop_oneof![8 => 1i64..30, 1 => (i64::MAX - 30)..=i64::MAX];
            let lines = prop::collection::vec((target, expiry, qty), 1..=4);
            (Just(lots), lines, Just(key))
        })
        .prop_map(|(lots, lines, key)| ReceiptCase { lots, lines, key })
}

async fn receipt_agrees(conn: &mut PgConnection, c: ReceiptCase) -> Result<(), TestCaseError> {
    let lots = arrange_lots(conn, &c.lots).await;
    let home = WarehouseId(WAREHOUSES[0]);
    let at_home: Vec<LockedLot> = lots
        .iter()
        .filter(|l| l.warehouse_id == home)
        .cloned()
        .collect();
    let arrivals: Vec<Arrival<'_>> = c
        .lines
        .iter()
        .map(|&(target, expiry, qty)| {
            let (item, code) = match target {
                Target::Lot(i) => (c.lots[i].item, c.lots[i].code),
                Target::Named(item, code) => (item, code),
            };
            let item = ItemId(ITEMS[item]);
            let on_record = at_home
                .iter()
                .find(|l| l.item_id == item && l.lot_code == code)
                .and_then(|l| l.expires_on);
            Arrival {
                item,
                lot_code: code,
                expires_on: match expiry {
                    None => on_record,
                    Some(days) => days.map(|d| today() + chrono::TimeDelta::days(d)),
                },
                qty,
                status: LotStatus::Available,
            }
        })
        .collect();
    let rust = receipt::into_existing_lots(&arrivals, &at_home);

    let key = fresh_key(c.key);
    let before = written(conn, &lots).await;
    let last = last_movement(conn).await;
    let items: Vec<Uuid> = arrivals.iter().map(|a| a.item.0).collect();
    let codes: Vec<String> = arrivals.iter().map(|a| a.lot_code.to_owned()).collect();
    let expiries: Vec<Option<NaiveDate>> = arrivals.iter().map(|a| a.expires_on).collect();
    let qtys: Vec<i64> = arrivals.iter().map(|a| a.qty).collect();
    let sources = vec!["supplier"; arrivals.len()];
    let notes: Vec<Option<&str>> = vec![None; arrivals.len()];
    let r = ExistingLotReceipt {
        warehouse: home,
        items: &items,
        lot_codes: &codes,
        expires_on: &expiries,
        qtys: &qtys,
        sources: &sources,
        notes: &notes,
        ref_id: Uuid::now_v7(),
        actor: Actor::system().id,
        request_id: Some("differential"),
        idempotency_key: key.as_deref(),
        claim: claim(&key),
    };
    let sql = db::receive_into_existing_lots(conn, &r, &event("stock.receipt", key.as_deref()))
        .await
        .map_err(|e| TestCaseError::fail(format!("the statement failed: {e}")))?;
    let after = written(conn, &lots).await;

    match rust {
        Some(balances) => {
            prop_assert_eq!(sql.len(), arrivals.len(), "Rust accepts, the SQL refused");
            let targets: Vec<LotId> = arrivals
                .iter()
                .filter_map(|a| {
                    at_home
                        .iter()
                        .find(|l| l.item_id == a.item && l.lot_code == a.lot_code)
                        .map(|l| l.id)
                })
                .collect();
            let expected: Vec<(LotId, Balances)> = targets.into_iter().zip(balances).collect();
            let got: Vec<(LotId, Balances)> = sql
                .iter()
                .map(|m| {
                    let b = Balances {
                        on_hand: m.on_hand,
                        reserved: m.reserved,
                    };
                    (m.lot_id, b)
                })
                .collect();
            prop_assert_eq!(&got, &expected, "per-line balances");
            prop_assert_eq!(&after.balances, &predicted(&before, &expected));
            prop_assert_eq!(after.movements, before.movements + arrivals.len() as i64);
            prop_assert_eq!(after.events, before.events + 1);
            let keys = keys_after(conn, last).await;
            prop_assert!(keys.iter().all(|k| *k == key), "{:?}", keys);
            // A keyed statement claimed its key, with the answer naming its rows.
            prop_assert_eq!(after.keys, before.keys + i64::from(key.is_some()));
            if let Some(key) = &key {
                let ids: Vec<i64> = sql.iter().map(|m| m.movement_id).collect();
                prop_assert_eq!(answered_movements(conn, key).await, ids);
            }
        }
        None => {
            prop_assert!(
                sql.is_empty(),
                "the SQL wrote a receipt Rust sends the long way"
            );
            prop_assert_eq!(&after, &before, "a refused statement wrote something");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receipt_statement_accepts_exactly_what_the_rust_rules_accept() {
    // Arrange
    let app = TestApp::empty().await;
    let mut conn = app.pool.acquire().await.expect("connection");
    arrange_catalogue(&mut conn).await;
    drop(conn);
    // Act and assert, case by case.
    let ran = run_cases(&app, receipt_case(), receipt_agrees);
    assert_eq!(ran, CASES);
}

/// The ledger rows of operation `op`: (kind, qty, idempotency key).
async fn rows_of(app: &TestApp, op: &serde_json::Value) -> Vec<(String, i64, Option<String>)> {
    sqlx::query_as(
        "select kind, qty, idempotency_key from stock_movements where ref_id = $1::uuid order by id",
    )
    .bind(op["id"].as_str().expect("operation id"))
    .fetch_all(&app.pool)
    .await
    .expect("ledger rows")
}

#[tokio::test]
async fn keyed_issues_adjustments_and_receipts_keep_their_key_on_the_ledger_and_replay() {
    // Arrange: a lot of tents on record.
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &["JM-JH-RC"]).await;
    let code = format!("KEYED-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let receipts = "/api/v1/warehouses/JM-JH-RC/receipts";
    let line = json!({"sku": "TENT-12M2-SGL", "lot_code": code, "qty": 10});
    let (s, first) = app.post(receipts, &clerk, &json!({"lines": [line]})).await;
    assert_eq!(s, 201, "{first}");
    let lot = first["lines"][0]["lot_id"].clone();
    let post = |path: &'static str, body: serde_json::Value, key: &'static str| {
        let (app, clerk) = (&app, &clerk);
        async move {
            app.send(reqwest::Method::POST, path, clerk, &body, Some(key))
                .await
        }
    };
    let receipt = json!({"lines": [line, line]});
    let issue = json!({"lines": [{"lot_id": lot, "qty": 3, "reason": "shelter"}]});
    let adjust = json!({"lines": [{"lot_id": lot, "qty": -2, "reason": "damaged"}]});
    let issues = "/api/v1/warehouses/JM-JH-RC/issues";
    let adjustments = "/api/v1/warehouses/JM-JH-RC/adjustments";

    // Act: each keyed command, then its retry.
    let (s1, received) = post(receipts, receipt.clone(), "k-receipt").await;
    let (s2, issued) = post(issues, issue.clone(), "k-issue").await;
    let (s3, adjusted) = post(adjustments, adjust.clone(), "k-adjust").await;
    let retries = [
        post(receipts, receipt, "k-receipt").await,
        post(issues, issue, "k-issue").await,
        post(adjustments, adjust, "k-adjust").await,
    ];

    // Assert: booked once, each row carrying its request's key, and replayed as answered.
    assert_eq!(
        (s1, s2, s3),
        (201, 201, 201),
        "{received} {issued} {adjusted}"
    );
    let key = |k: &str| Some(k.to_owned());
    assert_eq!(
        rows_of(&app, &received).await,
        vec![
            ("receipt".into(), 10, key("k-receipt")),
            ("receipt".into(), 10, key("k-receipt"))
        ]
    );
    assert_eq!(
        rows_of(&app, &issued).await,
        vec![("issue".into(), -3, key("k-issue"))]
    );
    assert_eq!(
        rows_of(&app, &adjusted).await,
        vec![("adjustment".into(), -2, key("k-adjust"))]
    );
    assert_eq!(adjusted["lines"][0]["on_hand"], 25);
    for ((status, body), first) in retries.iter().zip([&received, &issued, &adjusted]) {
        assert_eq!((*status, body), (201, first));
    }
    let on_hand: i64 = sqlx::query_scalar("select on_hand from stock_lots where id = $1::uuid")
        .bind(lot.as_str().expect("lot id"))
        .fetch_one(&app.pool)
        .await
        .expect("lot");
    assert_eq!(on_hand, 25);
}
