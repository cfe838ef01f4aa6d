//! Clerk stock operations: receipts (by SKU and by GS1 scan), scan decoding, issues, pick
//! suggestions, adjustments, quarantine, reserve levels, the stock card and the movement
//! log; bad input, idempotent retries, warehouse scope, concurrency and the ledger
//! invariant.

use std::sync::Arc;

use chrono::{Datelike, Days, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, wait_for_listeners};

const WH: &str = "JM-JH-RC";
const OTHER_WH: &str = "DG-HM-01";
/// Expires; shelf life 365 days, at least 60 left on receipt; GTIN 06975301011120.
const WATER: &str = "WATER-5L";
const WATER_GTIN: &str = "06975301011120";
/// Never expires.
const TENT: &str = "TENT-12M2-SGL";

fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn in_days(n: u64) -> NaiveDate {
    today() + Days::new(n)
}

fn yymmdd(d: NaiveDate) -> String {
    format!("{:02}{:02}{:02}", d.year() % 100, d.month(), d.day())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::now_v7().simple().to_string()[20..])
}

/// Posts a receipt of `qty` units of a new WATER lot that expires in `days` days.
async fn receive_water(app: &TestApp, clerk: &str, days: u64) -> (u16, Value) {
    let body = json!({"lines": [{"sku": WATER, "lot_code": unique("POLICY"),
                                 "expires_on": in_days(days).to_string(), "qty": 10}]});
    app.post(&format!("/api/v1/warehouses/{WH}/receipts"), clerk, &body)
        .await
}

#[tokio::test]
async fn a_changed_shelf_life_policy_applies_to_the_next_receipt_although_the_item_was_cached() {
    // Arrange: the process listens for catalogue changes and has WATER (at least 60 days
    // left on receipt) in its cache from a first receipt.
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    wait_for_listeners(&app, 1).await;
    let (status, body) = receive_water(&app, &clerk, 90).await;
    assert_eq!(status, 201, "{body}");

    // Act: an operator raises the minimum to 120 days with plain SQL.
    sqlx::query("update items set min_remaining_days = 120 where sku = $1")
        .bind(WATER)
        .execute(&app.pool)
        .await
        .expect("raise the minimum");

    // Assert: a 90-day lot is refused once the notification is in (polled for at most
    // five seconds), and a 150-day lot is taken.
    let mut seen = Vec::new();
    for _ in 0..500 {
        let (status, problem) = receive_water(&app, &clerk, 90).await;
        seen.push(status);
        if status == 422 {
            assert_problem(status, &problem, 422, "/lines/0/expires_on");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen.last(),
        Some(&422),
        "the old policy still applies: {seen:?}"
    );
    let (status, body) = receive_water(&app, &clerk, 150).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn receipts_use_the_cached_item_which_is_why_item_changes_notify() {
    // Arrange: WATER is cached (two receipts: the first may have read the database just
    // as the listener subscribed, and then is not stored); then the catalogue's
    // notification trigger is switched off.
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    wait_for_listeners(&app, 1).await;
    for _ in 0..2 {
        let (status, body) = receive_water(&app, &clerk, 90).await;
        assert_eq!(status, 201, "{body}");
    }
    sqlx::query("alter table items disable trigger items_notify")
        .execute(&app.pool)
        .await
        .expect("disable trigger");

    // Act: a policy change the service is not told about.
    sqlx::query("update items set min_remaining_days = 120 where sku = $1")
        .bind(WATER)
        .execute(&app.pool)
        .await
        .expect("raise the minimum");

    // Assert: the cached policy still applies (the database's would refuse).
    let (status, body) = receive_water(&app, &clerk, 90).await;
    assert_eq!(status, 201, "{body}");
}

async fn ledger_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from stock_movements")
        .fetch_one(&app.pool)
        .await
        .expect("count ledger")
}

async fn audit_events(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&app.pool)
        .await
        .expect("count audit events")
}

async fn lot_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from stock_lots")
        .fetch_one(&app.pool)
        .await
        .expect("count lots")
}

async fn audit_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&app.pool)
        .await
        .expect("count audit")
}

/// (on_hand, reserved, status) of a lot.
async fn lot_state(app: &TestApp, lot: &str) -> (i64, i64, String) {
    sqlx::query_as("select on_hand, reserved, status from stock_lots where id = $1::uuid")
        .bind(lot)
        .fetch_one(&app.pool)
        .await
        .expect("lot")
}

/// Asserts that every lot's balances equal the sums of its ledger rows, and nothing is
/// negative.
async fn assert_ledger_invariant(app: &TestApp) {
    let bad: Vec<(Uuid, i64, i64, i64, i64)> = sqlx::query_as(
        "select l.id, l.on_hand, l.reserved, coalesce(sum(m.qty), 0)::bigint, coalesce(sum(m.reserved_delta), 0)::bigint
           from stock_lots l left join stock_movements m on m.lot_id = l.id
          group by l.id
         having l.on_hand <> coalesce(sum(m.qty), 0) or l.reserved <> coalesce(sum(m.reserved_delta), 0)
             or l.on_hand < 0 or l.reserved < 0 or l.reserved > l.on_hand",
    )
    .fetch_all(&app.pool)
    .await
    .expect("invariant query");
    assert!(bad.is_empty(), "lots off their ledger: {bad:?}");
}

fn receipt_line(sku: &str, lot: &str, expires: Option<NaiveDate>, qty: i64) -> Value {
    json!({"sku": sku, "lot_code": lot, "expires_on": expires, "qty": qty,
           "source": "donor", "donor": "Bay Area Charity Fund", "note": "test"})
}

/// Receives `lines` at `warehouse` as `token`, expecting 201; the response body.
async fn receive_lines(app: &TestApp, token: &str, warehouse: &str, lines: &[Value]) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/warehouses/{warehouse}/receipts"),
            token,
            &json!({ "lines": lines }),
        )
        .await;
    assert_eq!(status, 201, "receive: {body}");
    body
}

/// Receives one lot and returns its id.
async fn receive(app: &TestApp, token: &str, sku: &str, qty: i64) -> String {
    let expires = (sku == WATER).then(|| in_days(300));
    let line = receipt_line(sku, &unique("T"), expires, qty);
    let body = receive_lines(app, token, WH, &[line]).await;
    body["lines"][0]["lot_id"]
        .as_str()
        .expect("lot id")
        .to_owned()
}

/// Reserves `qty` of `lot` through the ledger, as allocation would.
async fn reserve(app: &TestApp, lot: &str, qty: i64) {
    sqlx::query(
        "insert into stock_movements (lot_id, kind, qty, reserved_delta, actor_id) values ($1::uuid, 'reserve', 0, $2, '00000000-0000-0000-0000-000000000001')",
    )
    .bind(lot)
    .bind(qty)
    .execute(&app.pool)
    .await
    .expect("reserve");
}

async fn issue(app: &TestApp, token: &str, lot: &str, qty: i64) -> (u16, Value) {
    app.post(
        &format!("/api/v1/warehouses/{WH}/issues"),
        token,
        &json!({"lines": [{"lot_id": lot, "qty": qty, "reason": "shelter"}]}),
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_receipt_by_sku_creates_the_lot_and_books_one_ledger_row_and_one_audit_event() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let (ledger, audit) = (ledger_rows(&app).await, audit_rows(&app).await);
    let lot_code = unique("NEW");
    // Act
    let (status, body) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &json!({"lines": [receipt_line(WATER, &lot_code, Some(in_days(200)), 50)]}),
        )
        .await;
    // Assert
    assert_eq!(status, 201, "{body}");
    let line = &body["lines"][0];
    assert_eq!(line["created"], true);
    assert_eq!(line["on_hand"], 50);
    assert_eq!(line["status"], "available");
    let lot = line["lot_id"].as_str().expect("lot");
    assert_eq!(lot_state(&app, lot).await, (50, 0, "available".into()));
    let (source, donor): (String, Option<String>) =
        sqlx::query_as("select source, donor from stock_lots where id = $1::uuid")
            .bind(lot)
            .fetch_one(&app.pool)
            .await
            .expect("lot");
    assert_eq!(
        (source.as_str(), donor.as_deref()),
        ("donor", Some("Bay Area Charity Fund"))
    );
    assert_eq!(ledger_rows(&app).await, ledger + 1);
    assert_eq!(audit_rows(&app).await, audit + 1);
    assert_ledger_invariant(&app).await;
}

#[tokio::test]
async fn a_receipt_by_gs1_scan_matches_the_gtin_and_a_second_receipt_adds_to_the_lot() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot_code = unique("S");
    let expiry = in_days(250);
    let scan = format!("]C101{WATER_GTIN}17{}10{lot_code}", yymmdd(expiry));
    // Act
    let (s1, first) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &json!({"lines": [{"gs1": scan, "qty": 30}]}),
        )
        .await;
    let bracketed = format!("(01){WATER_GTIN}(17){}(10){lot_code}", yymmdd(expiry));
    let (s2, second) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &json!({"lines": [{"gs1": bracketed, "sku": WATER, "lot_code": lot_code, "qty": 12}]}),
        )
        .await;
    // Assert
    assert_eq!(s1, 201, "{first}");
    assert_eq!(s2, 201, "{second}");
    assert_eq!(first["lines"][0]["sku"], WATER);
    assert_eq!(first["lines"][0]["expires_on"], expiry.to_string());
    assert_eq!(second["lines"][0]["created"], false);
    assert_eq!(second["lines"][0]["lot_id"], first["lines"][0]["lot_id"]);
    assert_eq!(second["lines"][0]["on_hand"], 42);
    let lot = first["lines"][0]["lot_id"].as_str().expect("lot");
    assert_eq!(lot_state(&app, lot).await.0, 42);
    assert_ledger_invariant(&app).await;
}

#[tokio::test]
async fn the_same_lot_code_with_another_expiry_is_a_409_naming_both_dates() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot_code = unique("E");
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let line = receipt_line(WATER, &lot_code, Some(in_days(200)), 5);
    receive_lines(&app, &clerk, WH, &[line]).await;
    let ledger = ledger_rows(&app).await;
    // Act
    let (status, body) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [receipt_line(WATER, &lot_code, Some(in_days(210)), 5)]}),
        )
        .await;
    // Assert
    assert_problem(status, &body, 409, "/lines/0/expires_on");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&in_days(200).to_string()) && detail.contains(&in_days(210).to_string()),
        "{detail}"
    );
    assert_eq!(body["expires_on_on_record"], in_days(200).to_string());
    assert_eq!(ledger_rows(&app).await, ledger);
}

#[tokio::test]
async fn expired_stock_is_refused_unless_received_into_quarantine() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let expired = today() - Days::new(3);
    let lot_code = unique("X");
    // Act
    let (refused, problem) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [receipt_line(WATER, &lot_code, Some(expired), 5)]}),
        )
        .await;
    let mut line = receipt_line(WATER, &lot_code, Some(expired), 5);
    line["quarantine"] = json!(true);
    let (held, body) = app.post(&path, &clerk, &json!({"lines": [line]})).await;
    // Assert
    assert_problem(refused, &problem, 422, "/lines/0/expires_on");
    assert_eq!(held, 201, "{body}");
    assert_eq!(body["lines"][0]["status"], "quarantined");
    let lot = body["lines"][0]["lot_id"].as_str().expect("lot");
    assert_eq!(lot_state(&app, lot).await, (5, 0, "quarantined".into()));
}

#[tokio::test]
async fn every_bad_receipt_line_is_a_problem_naming_the_field_and_writes_nothing() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let good = receipt_line(WATER, &unique("G"), Some(in_days(200)), 5);
    let exp = yymmdd(in_days(200));
    let with = |patch: Value| {
        let mut line = receipt_line(WATER, &unique("B"), Some(in_days(200)), 5);
        for (k, v) in patch.as_object().expect("patch") {
            if v.is_null() {
                line.as_object_mut().expect("line").remove(k);
            } else {
                line[k] = v.clone();
            }
        }
        line
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("unknown SKU", json!({"lines": [with(json!({"sku": "NO-SUCH-SKU"}))]}), 422, "/lines/0/sku"),
        (
            "unknown GTIN",
            json!({"lines": [with(json!({"sku": null, "gs1": format!("(01)09506000134352(17){exp}")}))]}),
            422,
            "/lines/0/gs1",
        ),
        (
            "bad GTIN check digit",
            json!({"lines": [with(json!({"sku": null, "gs1": "(01)06975301011121"}))]}),
            422,
            "/lines/0/gs1",
        ),
        ("zero qty", json!({"lines": [with(json!({"qty": 0}))]}), 422, "/lines/0/qty"),
        ("negative qty", json!({"lines": [with(json!({"qty": -4}))]}), 422, "/lines/0/qty"),
        ("missing qty", json!({"lines": [with(json!({"qty": null}))]}), 422, "/lines/0/qty"),
        (
            "qty overflowing i64",
            serde_json::from_str(&format!(
                r#"{{"lines": [{{"sku": "{WATER}", "lot_code": "OVF", "expires_on": "{}", "qty": 99999999999999999999}}]}}"#,
                in_days(200)
            ))
            .expect("json"),
            422,
            "/lines/0/qty",
        ),
        ("malformed date", json!({"lines": [with(json!({"expires_on": "2027-02-30"}))]}), 422, "/lines/0/expires_on"),
        (
            "expiry before production",
            json!({"lines": [with(json!({"production_date": today().to_string(), "expires_on": (today() - Days::new(1)).to_string(), "quarantine": true}))]}),
            422,
            "/lines/0/expires_on",
        ),
        ("short-dated", json!({"lines": [with(json!({"expires_on": in_days(30).to_string()}))]}), 422, "/lines/0/expires_on"),
        ("missing expiry", json!({"lines": [with(json!({"expires_on": null}))]}), 422, "/lines/0/expires_on"),
        (
            "expiry on a non-expiring item",
            json!({"lines": [with(json!({"sku": TENT}))]}),
            422,
            "/lines/0/expires_on",
        ),
        (
            "scan disagrees with lot_code",
            json!({"lines": [with(json!({"gs1": format!("(01){WATER_GTIN}(10)OTHER")}))]}),
            422,
            "/lines/0/lot_code",
        ),
        (
            "scan is another item than sku",
            json!({"lines": [with(json!({"sku": "WATER-CASE-550", "gs1": format!("(01){WATER_GTIN}")}))]}),
            422,
            "/lines/0/sku",
        ),
        ("unknown field", json!({"lines": [with(json!({"colour": "blue"}))]}), 422, "/lines/0/colour"),
        ("bad source", json!({"lines": [with(json!({"source": "stolen"}))]}), 422, "/lines/0/source"),
        ("no lines", json!({"lines": []}), 422, "/lines"),
        ("second line bad", json!({"lines": [good, with(json!({"qty": 0}))]}), 422, "/lines/1/qty"),
    ];
    let (ledger, lots, audit) = (
        ledger_rows(&app).await,
        lot_rows(&app).await,
        audit_rows(&app).await,
    );
    for (name, body, expected, pointer) in cases {
        // Act
        let (status, problem) = app.post(&path, &clerk, &body).await;
        // Assert
        assert_eq!(status, expected, "{name}: {problem}");
        assert_problem(status, &problem, expected, pointer);
    }
    assert_eq!(ledger_rows(&app).await, ledger, "no ledger rows written");
    assert_eq!(lot_rows(&app).await, lots, "no lots written");
    assert_eq!(audit_rows(&app).await, audit, "no audit events written");
}

#[tokio::test]
async fn a_scan_count_stands_in_for_qty_and_a_disagreeing_qty_is_refused() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let lot_code = unique("C");
    let scan = format!(
        "(01){WATER_GTIN}(17){}(10){lot_code}(30)24",
        yymmdd(in_days(200))
    );
    let ledger = ledger_rows(&app).await;
    // Act
    let (bad, problem) = app
        .post(&path, &clerk, &json!({"lines": [{"gs1": scan, "qty": 25}]}))
        .await;
    let (ok, body) = app
        .post(&path, &clerk, &json!({"lines": [{"gs1": scan}]}))
        .await;
    // Assert
    assert_problem(bad, &problem, 422, "/lines/0/qty");
    assert_eq!(ok, 201, "{body}");
    assert_eq!(body["lines"][0]["qty"], 24);
    assert_eq!(ledger_rows(&app).await, ledger + 1);
}

#[tokio::test]
async fn a_receipt_that_would_overflow_the_lot_balance_is_refused() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let lot_code = unique("O");
    let line = receipt_line(TENT, &lot_code, None, i64::MAX);
    receive_lines(&app, &clerk, WH, &[line]).await;
    let ledger = ledger_rows(&app).await;
    // Act
    let (status, problem) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [receipt_line(TENT, &lot_code, None, 1)]}),
        )
        .await;
    // Assert
    assert_problem(status, &problem, 422, "/lines/0/qty");
    assert_eq!(ledger_rows(&app).await, ledger);
}

#[tokio::test]
async fn receiving_into_a_quarantined_lot_keeps_it_quarantined_and_quarantine_true_holds_an_existing_lot()
 {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let held = unique("Q");
    let open = unique("A");
    let mut line = receipt_line(TENT, &held, None, 5);
    line["quarantine"] = json!(true);
    receive_lines(&app, &clerk, WH, &[line]).await;
    receive_lines(&app, &clerk, WH, &[receipt_line(TENT, &open, None, 5)]).await;
    // Act
    let (a, more) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [receipt_line(TENT, &held, None, 2)]}),
        )
        .await;
    let mut hold = receipt_line(TENT, &open, None, 2);
    hold["quarantine"] = json!(true);
    let (b, held_now) = app.post(&path, &clerk, &json!({"lines": [hold]})).await;
    // Assert
    assert_eq!(a, 201, "{more}");
    assert_eq!(more["lines"][0]["status"], "quarantined");
    assert_eq!(b, 201, "{held_now}");
    assert_eq!(held_now["lines"][0]["status"], "quarantined");
    let open_id = held_now["lines"][0]["lot_id"].as_str().expect("lot");
    assert_eq!(lot_state(&app, open_id).await, (7, 0, "quarantined".into()));
}

#[tokio::test]
async fn a_production_date_in_the_future_is_refused() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let mut line = receipt_line(WATER, &unique("P"), Some(in_days(300)), 5);
    line["production_date"] = json!(in_days(2));
    // Act
    let (status, problem) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &json!({ "lines": [line] }),
        )
        .await;
    // Assert
    assert_problem(status, &problem, 422, "/lines/0/production_date");
}

#[tokio::test]
async fn malformed_json_is_a_400_and_writes_nothing() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let ledger = ledger_rows(&app).await;
    // Act
    let res = app
        .client
        .post(app.url(&format!("/api/v1/warehouses/{WH}/receipts")))
        .bearer_auth(&clerk)
        .header("content-type", "application/json")
        .body("{\"lines\": [")
        .send()
        .await
        .expect("send");
    let (status, body) = crate::helpers::read(res).await;
    // Assert
    assert_problem(status, &body, 400, "");
    assert_eq!(ledger_rows(&app).await, ledger);
}

#[tokio::test]
async fn a_clerk_of_another_warehouse_gets_403_and_nothing_is_written() {
    // Arrange
    let app = TestApp::demo().await;
    let ours = app.token("clerk", &[WH]).await;
    let theirs = app.token("clerk", &[OTHER_WH]).await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let lot = receive(&app, &ours, TENT, 10).await;
    let ledger = ledger_rows(&app).await;
    // Act
    let (s1, b1) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &theirs,
            &json!({"lines": [receipt_line(TENT, "L1", None, 5)]}),
        )
        .await;
    let (s2, b2) = issue(&app, &theirs, &lot, 1).await;
    let (s3, b3) = issue(&app, &dispatcher, &lot, 1).await;
    let (s4, b4) = app
        .post(
            &format!("/api/v1/lots/{lot}/quarantine"),
            &theirs,
            &json!({"reason": "x"}),
        )
        .await;
    // Assert
    for (s, b) in [(s1, b1), (s2, b2), (s3, b3), (s4, b4)] {
        assert_problem(s, &b, 403, "");
    }
    assert_eq!(ledger_rows(&app).await, ledger);
    assert_eq!(lot_state(&app, &lot).await, (10, 0, "available".into()));
}

#[tokio::test]
async fn a_clerk_of_another_warehouse_gets_403_before_their_body_is_read() {
    // Arrange: a clerk of OTHER_WH, and bodies that would be a 400 (not JSON) or a 422
    // (JSON of the wrong shape) from a clerk of WH.
    let app = TestApp::demo().await;
    let theirs = app.token("clerk", &[OTHER_WH]).await;
    let ledger = ledger_rows(&app).await;
    let bodies = [
        ("application/json", "{"),
        ("application/json", "{\"lines\": 7, \"bogus\": true}"),
        ("text/plain", "lines"),
    ];
    let mut answers = Vec::new();
    // Act
    for op in ["receipts", "issues", "adjustments", "counts"] {
        for (content_type, body) in bodies {
            let res = app
                .client
                .post(app.url(&format!("/api/v1/warehouses/{WH}/{op}")))
                .bearer_auth(&theirs)
                .header("content-type", content_type)
                .header("Idempotency-Key", "")
                .body(body)
                .send()
                .await
                .expect("send");
            let (status, problem) = crate::helpers::read(res).await;
            answers.push((op, body, status, problem));
        }
    }
    // Assert
    for (op, body, status, problem) in answers {
        assert_eq!(status, 403, "{op} with {body}: {problem}");
        assert_problem(status, &problem, 403, "");
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains(WH)),
            "{op}: the refusal names the warehouse: {problem}"
        );
    }
    assert_eq!(ledger_rows(&app).await, ledger);
}

#[tokio::test]
async fn a_clerk_of_the_warehouse_still_gets_400_and_422_for_a_bad_body() {
    // Arrange
    let app = TestApp::demo().await;
    let ours = app.token("clerk", &[WH]).await;
    let mut answers = Vec::new();
    // Act
    for op in ["receipts", "issues", "adjustments", "counts"] {
        for (body, expected) in [("{", 400), ("{\"skus\": 7, \"lines\": 7}", 422)] {
            let res = app
                .client
                .post(app.url(&format!("/api/v1/warehouses/{WH}/{op}")))
                .bearer_auth(&ours)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send");
            let (status, problem) = crate::helpers::read(res).await;
            answers.push((op, expected, status, problem));
        }
    }
    // Assert
    for (op, expected, status, problem) in answers {
        assert_eq!(status, expected, "{op}: {problem}");
        assert_problem(status, &problem, expected, "");
    }
}

#[tokio::test]
async fn a_clerk_naming_no_warehouse_gets_404_before_their_body_is_read() {
    // Arrange
    let app = TestApp::demo().await;
    let ours = app.token("clerk", &[WH]).await;
    // Act
    let (status, problem) = app
        .post(
            "/api/v1/warehouses/NO-SUCH-WH/issues",
            &ours,
            &json!({"lines": "not a list"}),
        )
        .await;
    // Assert
    assert_problem(status, &problem, 404, "");
}

// ---------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_retried_receipt_replays_the_first_response_and_a_reused_key_is_a_422() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let body = json!({"lines": [receipt_line(WATER, &unique("I"), Some(in_days(200)), 7)]});
    let key = Uuid::new_v4().to_string();
    // Act
    let first = app
        .send(reqwest::Method::POST, &path, &clerk, &body, Some(&key))
        .await;
    let ledger = ledger_rows(&app).await;
    let retry = app
        .send(reqwest::Method::POST, &path, &clerk, &body, Some(&key))
        .await;
    let other = json!({"lines": [receipt_line(WATER, &unique("I"), Some(in_days(200)), 8)]});
    let reused = app
        .send(reqwest::Method::POST, &path, &clerk, &other, Some(&key))
        .await;
    // Assert
    assert_eq!(first.0, 201, "{}", first.1);
    assert_eq!(retry, first, "the retry replays the first response");
    assert_eq!(ledger_rows(&app).await, ledger, "no second effect");
    assert_problem(reused.0, &reused.1, 422, "Idempotency-Key");
    let lot = first.1["lines"][0]["lot_id"].as_str().expect("lot");
    assert_eq!(lot_state(&app, lot).await.0, 7);
    let keys: Vec<Option<String>> =
        sqlx::query_scalar("select idempotency_key from stock_movements where lot_id = $1::uuid")
            .bind(lot)
            .fetch_all(&app.pool)
            .await
            .expect("keys");
    assert_eq!(keys, vec![Some(key)]);
}

#[tokio::test]
async fn a_key_older_than_24_hours_is_free_for_a_new_request() {
    // Arrange: an issue made with a key, whose key row is then aged past 24 hours.
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let path = format!("/api/v1/warehouses/{WH}/issues");
    let key = Uuid::new_v4().to_string();
    let first = app
        .send(
            reqwest::Method::POST,
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "shelter"}]}),
            Some(&key),
        )
        .await;
    sqlx::query(
        "update idempotency_keys set created_at = now() - interval '25 hours' where key = $1",
    )
    .bind(&key)
    .execute(&app.pool)
    .await
    .expect("age the key");
    // Act: the same key with a different body, then a retry of that.
    let body = json!({"lines": [{"lot_id": lot, "qty": 3, "reason": "shelter"}]});
    let second = app
        .send(reqwest::Method::POST, &path, &clerk, &body, Some(&key))
        .await;
    let retry = app
        .send(reqwest::Method::POST, &path, &clerk, &body, Some(&key))
        .await;
    // Assert: the aged key was claimed again, and the new claim replays as usual.
    assert_eq!(first.0, 201, "{}", first.1);
    assert_eq!(second.0, 201, "{}", second.1);
    assert_ne!(second.1["id"], first.1["id"], "a new operation");
    assert_eq!(retry, second, "the retry replays the second response");
    assert_eq!(lot_state(&app, &lot).await.0, 10 - 1 - 3);
}

#[tokio::test]
async fn a_retried_issue_takes_the_stock_once() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let path = format!("/api/v1/warehouses/{WH}/issues");
    let body = json!({"lines": [{"lot_id": lot, "qty": 4, "reason": "shelter"}]});
    // Act
    let a = app
        .send(reqwest::Method::POST, &path, &clerk, &body, Some("issue-1"))
        .await;
    let b = app
        .send(reqwest::Method::POST, &path, &clerk, &body, Some("issue-1"))
        .await;
    // Assert
    assert_eq!(a.0, 201, "{}", a.1);
    assert_eq!(a, b);
    assert_eq!(lot_state(&app, &lot).await.0, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_one_key_book_once_and_all_get_the_first_answer() {
    // Arrange: a lot of tents on record, and a keyed issue and a keyed receipt into that
    // lot, each sent by 12 clients at once with the same key (a client retrying on
    // timeouts while its first attempt still runs).
    let app = Arc::new(TestApp::demo().await);
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 100).await;
    let code: String = sqlx::query_scalar("select lot_code from stock_lots where id = $1::uuid")
        .bind(&lot)
        .fetch_one(&app.pool)
        .await
        .expect("lot code");
    let issue = (
        format!("/api/v1/warehouses/{WH}/issues"),
        json!({"lines": [{"lot_id": lot, "qty": 7, "reason": "shelter"}]}),
    );
    let receipt = (
        format!("/api/v1/warehouses/{WH}/receipts"),
        json!({"lines": [receipt_line(TENT, &code, None, 5)]}),
    );
    let events_before = audit_events(&app).await;

    // Act
    let mut answers = Vec::new();
    for (i, (path, body)) in [issue, receipt].into_iter().enumerate() {
        let key = format!("burst-{i}-{}", Uuid::now_v7());
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (app, clerk, path, body, key) = (
                app.clone(),
                clerk.clone(),
                path.clone(),
                body.clone(),
                key.clone(),
            );
            tasks.push(tokio::spawn(async move {
                app.send(reqwest::Method::POST, &path, &clerk, &body, Some(&key))
                    .await
            }));
        }
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.expect("client"));
        }
        answers.push(got);
    }

    // Assert: each command booked once, with one audit event, and every client got the
    // same answer.
    for got in &answers {
        let first = &got[0];
        assert_eq!(first.0, 201, "{}", first.1);
        for other in got {
            assert_eq!(other, first, "every retry gets the first answer");
        }
        let rows: i64 =
            sqlx::query_scalar("select count(*) from stock_movements where ref_id = $1::uuid")
                .bind(first.1["id"].as_str().expect("operation id"))
                .fetch_one(&app.pool)
                .await
                .expect("ledger rows");
        assert_eq!(rows, 1);
    }
    assert_eq!(lot_state(&app, &lot).await.0, 100 - 7 + 5);
    assert_eq!(audit_events(&app).await, events_before + 2);
    assert_ledger_invariant(&app).await;
}

// ---------------------------------------------------------------------------------------
// Scans
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn decoding_a_scan_returns_its_fields_and_catalogue_item_or_says_what_is_wrong() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let expiry = in_days(100);
    let scan = format!("]d2\u{1d}01{WATER_GTIN}17{}10ABC\u{1d}3012", yymmdd(expiry));
    // Act
    let (ok, decoded) = app
        .post("/api/v1/scans/decode", &auditor, &json!({ "scan": scan }))
        .await;
    let (bad, problem) = app
        .post(
            "/api/v1/scans/decode",
            &auditor,
            &json!({"scan": "(01)06975301011121"}),
        )
        .await;
    // Assert
    assert_eq!(ok, 200, "{decoded}");
    assert_eq!(decoded["gtin"], WATER_GTIN);
    assert_eq!(decoded["item"]["sku"], WATER);
    assert_eq!(decoded["lot_code"], "ABC");
    assert_eq!(decoded["expires_on"], expiry.to_string());
    assert_eq!(decoded["count"], 12);
    assert_problem(bad, &problem, 422, "/scan");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("check digit"),
        "{problem}"
    );
}

// ---------------------------------------------------------------------------------------
// Issues and pick suggestions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_issue_takes_stock_and_refuses_more_than_is_available_with_the_available_quantity() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 20).await;
    reserve(&app, &lot, 5).await;
    // Act
    let (ok, body) = issue(&app, &clerk, &lot, 8).await;
    let ledger = ledger_rows(&app).await;
    let (over, problem) = issue(&app, &clerk, &lot, 8).await;
    // Assert
    assert_eq!(ok, 201, "{body}");
    assert_eq!(body["lines"][0]["on_hand"], 12);
    assert_eq!(body["lines"][0]["available"], 7);
    assert_problem(over, &problem, 409, "/lines/0/qty");
    assert_eq!(problem["available"], 7);
    assert_eq!(ledger_rows(&app).await, ledger);
    assert_eq!(lot_state(&app, &lot).await, (12, 5, "available".into()));
}

/// The ledger rows and the audit event an operation wrote, as the auditor sees them:
/// (lot, kind, qty, on hand after, reason) per row, and the event's action and `after`.
async fn booked(app: &TestApp, op: &str) -> (Vec<(Uuid, String, i64, i64, String)>, Value) {
    let rows = sqlx::query_as(
        "select lot_id, kind, qty, on_hand_after, reason from stock_movements
          where ref_id = $1::uuid order by id",
    )
    .bind(op)
    .fetch_all(&app.pool)
    .await
    .expect("ledger rows");
    let event: (String, Value) =
        sqlx::query_as("select action, after from audit_events where entity_id = $1")
            .bind(op)
            .fetch_one(&app.pool)
            .await
            .expect("audit event");
    (rows, json!({"action": event.0, "after": event.1}))
}

#[tokio::test]
async fn a_receipt_into_lots_on_record_without_a_key_books_what_it_books_with_a_key() {
    // Arrange: two lots of water on record; one receipt goes without an Idempotency-Key
    // (one statement), the other with one (the transaction that claims the key).
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let expires = Some(in_days(300));
    let (a, b) = (unique("A"), unique("B"));
    receive_lines(&app, &clerk, WH, &[receipt_line(WATER, &a, expires, 10)]).await;
    receive_lines(&app, &clerk, WH, &[receipt_line(WATER, &b, expires, 10)]).await;
    let path = format!("/api/v1/warehouses/{WH}/receipts");
    let body = |lot: &str| json!({"lines": [receipt_line(WATER, lot, expires, 4), receipt_line(WATER, lot, expires, 6)]});
    // Act
    let (s1, plain) = app.post(&path, &clerk, &body(&a)).await;
    let (s2, keyed) = app
        .send(reqwest::Method::POST, &path, &clerk, &body(&b), Some("r-1"))
        .await;
    // Assert: the same answer, ledger and audit event, but for the lot.
    assert_eq!((s1, s2), (201, 201), "{plain} {keyed}");
    let strip = |mut v: Value| {
        v["id"] = Value::Null;
        for l in v["lines"].as_array_mut().expect("lines") {
            for f in ["lot_id", "lot_code", "movement_id"] {
                l[f] = Value::Null;
            }
        }
        v
    };
    assert_eq!(strip(plain.clone()), strip(keyed.clone()));
    assert_eq!(plain["lines"][1]["on_hand"], 20);
    assert_eq!(plain["lines"][1]["created"], false);
    let (rows_a, event_a) = booked(&app, plain["id"].as_str().expect("id")).await;
    let (rows_b, event_b) = booked(&app, keyed["id"].as_str().expect("id")).await;
    let shape = |rows: &[(Uuid, String, i64, i64, String)]| {
        rows.iter()
            .map(|r| (r.1.clone(), r.2, r.3, r.4.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&rows_a), shape(&rows_b));
    assert_eq!(
        shape(&rows_a),
        vec![
            ("receipt".to_owned(), 4, 14, "donor".to_owned()),
            ("receipt".to_owned(), 6, 20, "donor".to_owned())
        ]
    );
    assert_eq!(event_a["after"]["lines"][0]["lot_code"], a.as_str());
    assert_eq!(event_b["after"]["lines"][0]["lot_code"], b.as_str());
    let strip_codes = |mut e: Value| {
        for l in e["after"]["lines"].as_array_mut().expect("lines") {
            l["lot_code"] = Value::Null;
        }
        e
    };
    assert_eq!(strip_codes(event_a), strip_codes(event_b));
}

#[tokio::test]
async fn a_receipt_that_also_names_a_new_or_quarantined_lot_is_received_whole() {
    // Arrange: a lot on record, and a quarantined one.
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let expires = Some(in_days(300));
    let (known, held, new) = (unique("K"), unique("Q"), unique("N"));
    receive_lines(
        &app,
        &clerk,
        WH,
        &[receipt_line(WATER, &known, expires, 10)],
    )
    .await;
    let held_id = receive_lines(&app, &clerk, WH, &[receipt_line(WATER, &held, expires, 10)]).await
        ["lines"][0]["lot_id"]
        .as_str()
        .expect("lot")
        .to_owned();
    let (s, body) = app
        .post(
            &format!("/api/v1/lots/{held_id}/quarantine"),
            &clerk,
            &json!({"reason": "water damage"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let ledger = ledger_rows(&app).await;
    // Act
    let body = receive_lines(
        &app,
        &clerk,
        WH,
        &[
            receipt_line(WATER, &known, expires, 1),
            receipt_line(WATER, &new, expires, 2),
            receipt_line(WATER, &held, expires, 3),
        ],
    )
    .await;
    // Assert: every line booked once, the new lot created, the held lot still held.
    let lines = body["lines"].as_array().expect("lines");
    let got: Vec<(bool, &str, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["created"].as_bool().expect("created"),
                l["status"].as_str().expect("status"),
                l["on_hand"].as_i64().expect("on hand"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (false, "available", 11),
            (true, "available", 2),
            (false, "quarantined", 13)
        ]
    );
    assert_eq!(ledger_rows(&app).await, ledger + 3);
    assert_eq!(
        lot_state(&app, &held_id).await,
        (13, 0, "quarantined".into())
    );
    assert_ledger_invariant(&app).await;
}

#[tokio::test]
async fn an_issue_without_a_key_books_what_the_same_issue_with_a_key_books() {
    // Arrange: two lots of the same stock; one issue goes without an Idempotency-Key
    // (one statement), the other with one (the transaction that claims the key).
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let (a, b) = (
        receive(&app, &clerk, TENT, 20).await,
        receive(&app, &clerk, TENT, 20).await,
    );
    let path = format!("/api/v1/warehouses/{WH}/issues");
    let body = |lot: &str| {
        json!({"lines": [{"lot_id": lot, "qty": 3, "reason": "shelter"},
                         {"lot_id": lot, "qty": 5, "reason": "shelter", "note": "second truck"}]})
    };
    // Act
    let (s1, plain) = app.post(&path, &clerk, &body(&a)).await;
    let (s2, keyed) = app
        .send(reqwest::Method::POST, &path, &clerk, &body(&b), Some("k-1"))
        .await;
    // Assert: the same answer, ledger and audit event, but for the lot.
    assert_eq!((s1, s2), (201, 201), "{plain} {keyed}");
    let strip = |mut v: Value, lot: &str| {
        v["id"] = Value::Null;
        for l in v["lines"].as_array_mut().expect("lines") {
            assert_eq!(l["lot_id"], lot);
            for f in ["lot_id", "lot_code", "movement_id"] {
                l[f] = Value::Null;
            }
        }
        v
    };
    assert_eq!(strip(plain.clone(), &a), strip(keyed.clone(), &b));
    assert_eq!(plain["lines"][1]["on_hand"], 12);
    let (rows_a, event_a) = booked(&app, plain["id"].as_str().expect("id")).await;
    let (rows_b, event_b) = booked(&app, keyed["id"].as_str().expect("id")).await;
    let lots = |rows: &[(Uuid, String, i64, i64, String)]| {
        rows.iter()
            .map(|r| (r.1.clone(), r.2, r.3, r.4.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(lots(&rows_a), lots(&rows_b));
    assert_eq!(
        lots(&rows_a),
        vec![
            ("issue".to_owned(), -3, 17, "shelter".to_owned()),
            ("issue".to_owned(), -5, 12, "shelter".to_owned())
        ]
    );
    let lines = |e: &Value| e["after"]["lines"].as_array().expect("lines").len();
    assert_eq!((lines(&event_a), lines(&event_b)), (2, 2));
    assert_eq!(event_a["action"], "stock.issue");
    assert_eq!(event_a["after"]["lines"][1]["qty"], -5);
    assert_eq!(event_a["after"]["lines"][1]["lot_id"], a);
    assert_eq!(event_b["after"]["lines"][1]["lot_id"], b);
    let (s, chain) = app
        .get("/api/v1/audit/verify", &app.token("auditor", &[]).await)
        .await;
    assert_eq!(s, 200, "{chain}");
    assert_eq!(chain["ok"], true, "{chain}");
}

#[tokio::test]
async fn two_lines_on_one_lot_that_together_take_more_than_is_available_write_nothing() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let (ledger, audit) = (ledger_rows(&app).await, audit_rows(&app).await);
    // Act: each line alone fits; together they do not.
    let (status, problem) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/issues"),
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 6, "reason": "shelter"},
                              {"lot_id": lot, "qty": 6, "reason": "shelter"}]}),
        )
        .await;
    // Assert: the second line is named, with what the first left of the lot.
    assert_problem(status, &problem, 409, "/lines/1/qty");
    assert_eq!(problem["available"], 4);
    assert_eq!(ledger_rows(&app).await, ledger);
    assert_eq!(audit_rows(&app).await, audit);
    assert_eq!(lot_state(&app, &lot).await, (10, 0, "available".into()));
}

#[tokio::test]
async fn issues_refuse_quarantined_foreign_unknown_and_expired_lots_and_bad_quantities() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let other_clerk = app.token("clerk", &[OTHER_WH]).await;
    let held = receive(&app, &clerk, TENT, 10).await;
    let (s, _) = app
        .post(
            &format!("/api/v1/lots/{held}/quarantine"),
            &clerk,
            &json!({"reason": "water damage"}),
        )
        .await;
    assert_eq!(s, 200);
    let line = receipt_line(TENT, "F1", None, 5);
    let foreign = receive_lines(&app, &other_clerk, OTHER_WH, &[line]).await;
    let foreign = foreign["lines"][0]["lot_id"]
        .as_str()
        .expect("lot")
        .to_owned();
    let expired: String = sqlx::query_scalar(
        "select l.id::text from stock_lots l join warehouses w on w.id = l.warehouse_id
          where w.code = $1 and l.expires_on < current_date - 2 and l.on_hand > l.reserved
            and l.status = 'available' limit 1",
    )
    .bind(WH)
    .fetch_one(&app.pool)
    .await
    .expect("an expired demo lot");
    let fresh = receive(&app, &clerk, TENT, 10).await;
    let ledger = ledger_rows(&app).await;
    let cases: Vec<(&str, String, i64, u16, &str)> = vec![
        ("quarantined", held.clone(), 1, 409, "/lines/0/lot_id"),
        ("other warehouse", foreign, 1, 422, "/lines/0/lot_id"),
        (
            "unknown lot",
            Uuid::now_v7().to_string(),
            1,
            422,
            "/lines/0/lot_id",
        ),
        ("expired", expired, 1, 422, "/lines/0/lot_id"),
        ("zero", fresh.clone(), 0, 422, "/lines/0/qty"),
        ("negative", fresh.clone(), -3, 422, "/lines/0/qty"),
    ];
    for (name, lot, qty, expected, pointer) in cases {
        // Act
        let (status, problem) = issue(&app, &clerk, &lot, qty).await;
        // Assert
        assert_eq!(status, expected, "{name}: {problem}");
        assert_problem(status, &problem, expected, pointer);
    }
    let (status, problem) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/issues"),
            &clerk,
            &json!({"lines": [{"lot_id": "not-a-uuid", "qty": 1, "reason": "x"}]}),
        )
        .await;
    assert_problem(status, &problem, 422, "/lines/0/lot_id");
    assert_eq!(ledger_rows(&app).await, ledger);
}

#[tokio::test]
async fn two_lines_on_one_lot_are_checked_together() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let path = format!("/api/v1/warehouses/{WH}/issues");
    // Act
    let (status, problem) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 6, "reason": "a"}, {"lot_id": lot, "qty": 6, "reason": "b"}]}),
        )
        .await;
    // Assert
    assert_problem(status, &problem, 409, "/lines/1/qty");
    assert_eq!(problem["available"], 4);
    assert_eq!(lot_state(&app, &lot).await.0, 10);
}

#[tokio::test]
async fn the_pick_suggestion_is_first_expiry_first_out_over_usable_lots_with_the_shortfall() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let early = unique("EARLY");
    let late = unique("LATE");
    let lines = [
        receipt_line(WATER, &late, Some(in_days(340)), 7),
        receipt_line(WATER, &early, Some(in_days(70)), 5),
    ];
    receive_lines(&app, &clerk, WH, &lines).await;
    // Act
    let (status, body) = app
        .get(
            &format!("/api/v1/warehouses/{WH}/pick-suggestion?sku={WATER}&qty=100000000"),
            &clerk,
        )
        .await;
    // Assert
    assert_eq!(status, 200, "{body}");
    let picks = body["picks"].as_array().expect("picks");
    let ids: Vec<String> = picks
        .iter()
        .map(|p| p["lot_id"].as_str().expect("id").to_owned())
        .collect();
    let rows: Vec<(String, Option<NaiveDate>, String, i64)> = sqlx::query_as(
        "select id::text, expires_on, status, on_hand - reserved from stock_lots where id::text = any($1)",
    )
    .bind(&ids)
    .fetch_all(&app.pool)
    .await
    .expect("lots");
    assert_eq!(rows.len(), ids.len());
    let expiry_of = |id: &str| rows.iter().find(|r| r.0 == id).expect("row").1;
    let expiries: Vec<NaiveDate> = ids
        .iter()
        .map(|id| expiry_of(id).expect("water expires"))
        .collect();
    assert!(expiries.windows(2).all(|w| w[0] <= w[1]), "{expiries:?}");
    assert!(expiries.iter().all(|d| *d >= today()), "no expired lot");
    assert!(
        rows.iter().all(|r| r.2 == "available"),
        "no quarantined lot"
    );
    let picked: i64 = picks.iter().map(|p| p["qty"].as_i64().expect("qty")).sum();
    assert_eq!(
        picked + body["shortfall"].as_i64().expect("shortfall"),
        100_000_000
    );
    let early_id: String =
        sqlx::query_scalar("select id::text from stock_lots where lot_code = $1")
            .bind(&early)
            .fetch_one(&app.pool)
            .await
            .expect("early");
    let late_id: String = sqlx::query_scalar("select id::text from stock_lots where lot_code = $1")
        .bind(&late)
        .fetch_one(&app.pool)
        .await
        .expect("late");
    let at = |id: &str| ids.iter().position(|i| i == id).expect("picked");
    assert!(at(&early_id) < at(&late_id));
}

// ---------------------------------------------------------------------------------------
// Adjustments and quarantine
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn adjustments_move_stock_both_ways_and_refuse_taking_reserved_stock() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let path = format!("/api/v1/warehouses/{WH}/adjustments");
    // Act
    let (found, b1) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 3, "reason": "found", "note": "behind pallet"}]}),
        )
        .await;
    let (damaged, b2) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": -5, "reason": "damaged"}]}),
        )
        .await;
    let ledger = ledger_rows(&app).await;
    let (over, p1) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": -9, "reason": "lost"}]}),
        )
        .await;
    let (zero, p2) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 0, "reason": "lost"}]}),
        )
        .await;
    let (other, p3) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "other"}]}),
        )
        .await;
    let (bad_reason, p4) = app
        .post(
            &path,
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "stolen"}]}),
        )
        .await;
    // Assert
    assert_eq!(found, 201, "{b1}");
    assert_eq!(damaged, 201, "{b2}");
    assert_eq!(b2["lines"][0]["on_hand"], 8);
    assert_problem(over, &p1, 409, "/lines/0/qty");
    assert_eq!(p1["available"], 8);
    assert_problem(zero, &p2, 422, "/lines/0/qty");
    assert_problem(other, &p3, 422, "/lines/0/note");
    assert_problem(bad_reason, &p4, 422, "/lines/0/reason");
    assert_eq!(ledger_rows(&app).await, ledger);
    assert_eq!(lot_state(&app, &lot).await.0, 8);
    let reasons: Vec<(String, String)> = sqlx::query_as(
        "select kind, reason from stock_movements where lot_id = $1::uuid order by id",
    )
    .bind(&lot)
    .fetch_all(&app.pool)
    .await
    .expect("rows");
    assert_eq!(
        reasons[1..],
        [
            ("adjustment".to_owned(), "found".to_owned()),
            ("adjustment".to_owned(), "damaged".to_owned())
        ]
    );
}

#[tokio::test]
async fn quarantine_and_release_flip_the_status_with_audited_before_and_after() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    // Act
    let (q, qb) = app
        .post(
            &format!("/api/v1/lots/{lot}/quarantine"),
            &clerk,
            &json!({"reason": "mould found"}),
        )
        .await;
    let (again, problem) = app
        .post(
            &format!("/api/v1/lots/{lot}/quarantine"),
            &clerk,
            &json!({"reason": "mould found"}),
        )
        .await;
    let (r, rb) = app
        .post(
            &format!("/api/v1/lots/{lot}/release"),
            &clerk,
            &json!({"reason": "inspected, fine"}),
        )
        .await;
    // Assert
    assert_eq!(q, 200, "{qb}");
    assert_eq!(qb["status"], "quarantined");
    assert_problem(again, &problem, 409, "");
    assert_eq!(r, 200, "{rb}");
    assert_eq!(lot_state(&app, &lot).await.2, "available");
    let events: Vec<(String, Value, Value)> = sqlx::query_as(
        "select action, before, after from audit_events where entity_kind = 'lot' and entity_id = $1 order by seq",
    )
    .bind(&lot)
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "stock.quarantine", "{events:?}");
    assert_eq!(events[0].1["status"], "available", "{events:?}");
    assert_eq!(events[0].2["status"], "quarantined");
    assert_eq!(events[0].2["reason"], "mould found");
    assert_eq!(events[1].0, "stock.release");
}

#[tokio::test]
async fn a_lot_with_reserved_stock_cannot_be_quarantined() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    reserve(&app, &lot, 2).await;
    // Act
    let (status, problem) = app
        .post(
            &format!("/api/v1/lots/{lot}/quarantine"),
            &clerk,
            &json!({"reason": "x"}),
        )
        .await;
    // Assert
    assert_problem(status, &problem, 409, "");
    assert_eq!(problem["reserved"], 2);
    assert_eq!(lot_state(&app, &lot).await, (10, 2, "available".into()));
}

// ---------------------------------------------------------------------------------------
// Reserve levels
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_set_reserve_levels_zero_removes_one_and_others_may_only_read() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let clerk = app.token("clerk", &[WH]).await;
    let path = format!("/api/v1/warehouses/{WH}/reserve-levels");
    // Act
    let set = app
        .send(
            reqwest::Method::PUT,
            &path,
            &admin,
            &json!([{"sku": WATER, "min_qty": 40}, {"sku": TENT, "min_qty": 3}]),
            None,
        )
        .await;
    let cleared = app
        .send(
            reqwest::Method::PUT,
            &path,
            &admin,
            &json!([{"sku": TENT, "min_qty": 0}]),
            None,
        )
        .await;
    let by_clerk = app
        .send(
            reqwest::Method::PUT,
            &path,
            &clerk,
            &json!([{"sku": TENT, "min_qty": 1}]),
            None,
        )
        .await;
    let negative = app
        .send(
            reqwest::Method::PUT,
            &path,
            &admin,
            &json!([{"sku": TENT, "min_qty": -1}]),
            None,
        )
        .await;
    let unknown = app
        .send(
            reqwest::Method::PUT,
            &path,
            &admin,
            &json!([{"sku": "NOPE", "min_qty": 1}]),
            None,
        )
        .await;
    let (read, levels) = app.get(&path, &clerk).await;
    // Assert
    assert_eq!(set.0, 200, "{}", set.1);
    assert_eq!(cleared.0, 200, "{}", cleared.1);
    assert_problem(by_clerk.0, &by_clerk.1, 403, "");
    assert_problem(negative.0, &negative.1, 422, "/0/min_qty");
    assert_problem(unknown.0, &unknown.1, 422, "/0/sku");
    assert_eq!(read, 200);
    let levels = levels.as_array().expect("levels");
    assert!(
        levels
            .iter()
            .any(|l| l["sku"] == WATER && l["min_qty"] == 40)
    );
    assert!(!levels.iter().any(|l| l["sku"] == TENT));
    let stored: Option<i64> = sqlx::query_scalar(
        "select r.min_qty from reserve_levels r join items i on i.id = r.item_id join warehouses w on w.id = r.warehouse_id where w.code = $1 and i.sku = $2",
    )
    .bind(WH)
    .bind(WATER)
    .fetch_optional(&app.pool)
    .await
    .expect("level");
    assert_eq!(stored, Some(40));
}

// ---------------------------------------------------------------------------------------
// Stock card and movement log
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_stock_card_lists_every_movement_with_actor_balances_and_request_id() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let (s, _) = issue(&app, &clerk, &lot, 4).await;
    assert_eq!(s, 201);
    // Act
    let (status, card) = app.get(&format!("/api/v1/lots/{lot}/card"), &clerk).await;
    // Assert
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["lot"]["on_hand"], 6);
    let moves = card["movements"].as_array().expect("movements");
    assert_eq!(moves.len(), 2);
    assert_eq!(moves[0]["kind"], "receipt");
    assert_eq!(moves[0]["on_hand_after"], 10);
    assert_eq!(moves[1]["kind"], "issue");
    assert_eq!(moves[1]["qty"], -4);
    assert_eq!(moves[1]["on_hand_after"], 6);
    assert_eq!(moves[1]["reason"], "shelter");
    assert!(
        moves[1]["actor"]
            .as_str()
            .expect("actor")
            .starts_with("clerk-")
    );
    assert!(moves[1]["request_id"].is_string(), "{}", moves[1]);
}

#[tokio::test]
async fn the_movement_log_filters_and_pages_with_a_cursor() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 50).await;
    for _ in 0..5 {
        let (s, _) = issue(&app, &clerk, &lot, 1).await;
        assert_eq!(s, 201);
    }
    // Act: issues of that lot, two per page
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path =
            format!("/api/v1/movements?warehouse={WH}&sku={TENT}&lot={lot}&kind=issue&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.get(&path, &clerk).await;
        assert_eq!(status, 200, "{page}");
        for m in page["items"].as_array().expect("items") {
            assert_eq!(m["kind"], "issue");
            seen.push(m["id"].as_i64().expect("id"));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let (bad, problem) = app.get("/api/v1/movements?kind=theft", &clerk).await;
    let (future, empty) = app
        .get("/api/v1/movements?from=2100-01-01T00:00:00Z", &clerk)
        .await;
    // Assert
    assert_eq!(seen.len(), 5);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_problem(bad, &problem, 400, "kind");
    assert_eq!(future, 200);
    assert_eq!(empty["items"].as_array().expect("items").len(), 0);
}

// ---------------------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------------------

/// Adds a community depot in Zhongshan with `code`, straight into the database (there is
/// no API for creating warehouses); its id.
async fn add_depot(app: &TestApp, code: &str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into warehouses (id, code, name_zh, name_en, lat, lon, city, district, tier)
         values ($1, $2, '石岐社区储备点', 'Shiqi community depot', 22.5176, 113.3926, 'Zhongshan', 'Shiqi', 'community')",
    )
    .bind(id)
    .bind(code)
    .execute(&app.pool)
    .await
    .expect("insert warehouse");
    id
}

#[tokio::test]
async fn a_warehouse_keeps_its_id_and_code_for_good_and_is_never_deleted() {
    // Arrange: the service has resolved WH's code (src/warehouses/ids.rs keeps it).
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let unused = add_depot(&app, "ZS-SQ-T1").await;
    // Act
    let recode = sqlx::query("update warehouses set code = 'JM-JH-RC2' where code = $1")
        .bind(WH)
        .execute(&app.pool)
        .await;
    let new_id = sqlx::query("update warehouses set id = gen_random_uuid() where id = $1")
        .bind(unused)
        .execute(&app.pool)
        .await;
    let delete = sqlx::query("delete from warehouses where id = $1")
        .bind(unused)
        .execute(&app.pool)
        .await;
    let truncate = sqlx::query("truncate warehouses cascade")
        .execute(&app.pool)
        .await;
    let retimed = sqlx::query(
        "update warehouses set handling_minutes = 45, status = 'inactive' where id = $1",
    )
    .bind(unused)
    .execute(&app.pool)
    .await;
    let (issued, body) = issue(&app, &clerk, &lot, 4).await;
    // Assert
    for (what, r) in [
        ("recode", &recode),
        ("new id", &new_id),
        ("delete", &delete),
        ("truncate", &truncate),
    ] {
        let err = r.as_ref().expect_err(what).to_string();
        assert!(err.contains("cannot"), "{what}: {err}");
    }
    assert_eq!(
        retimed
            .expect("other columns stay editable")
            .rows_affected(),
        1
    );
    assert_eq!(issued, 201, "{body}");
    assert_eq!(body["warehouse"], WH);
    assert_eq!(lot_state(&app, &lot).await.0, 6);
    let codes: i64 =
        sqlx::query_scalar("select count(*) from warehouses where code in ($1, 'ZS-SQ-T1')")
            .bind(WH)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(codes, 2);
}

#[tokio::test]
async fn a_warehouse_added_while_the_service_runs_takes_writes_at_once() {
    // Arrange: a clerk writes to a code that names no warehouse yet.
    let app = TestApp::demo().await;
    let line = receipt_line(TENT, &unique("T"), None, 3);
    let early_clerk = app.token("clerk", &[WH]).await;
    let (before, problem) = app
        .post(
            "/api/v1/warehouses/ZS-SQ-T2/receipts",
            &early_clerk,
            &json!({ "lines": [&line] }),
        )
        .await;
    // Act
    let id = add_depot(&app, "ZS-SQ-T2").await;
    let clerk = app.token("clerk", &["ZS-SQ-T2"]).await;
    let body = receive_lines(&app, &clerk, "ZS-SQ-T2", &[line]).await;
    // Assert
    assert_eq!(before, 404, "{problem}");
    assert_eq!(body["warehouse"], "ZS-SQ-T2");
    let lot = body["lines"][0]["lot_id"].as_str().expect("lot id");
    let (warehouse, on_hand): (Uuid, i64) =
        sqlx::query_as("select warehouse_id, on_hand from stock_lots where id = $1::uuid")
            .bind(lot)
            .fetch_one(&app.pool)
            .await
            .expect("lot");
    assert_eq!((warehouse, on_hand), (id, 3));
}

#[tokio::test]
async fn direct_sql_cannot_update_or_delete_ledger_rows_even_as_superuser_in_replica_mode() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let lot = receive(&app, &clerk, TENT, 10).await;
    let mut conn = app.pool.acquire().await.expect("conn");
    let superuser: bool =
        sqlx::query_scalar("select rolsuper from pg_roles where rolname = current_user")
            .fetch_one(&mut *conn)
            .await
            .expect("role");
    // Act
    let update = sqlx::query("update stock_movements set qty = qty + 1 where lot_id = $1::uuid")
        .bind(&lot)
        .execute(&mut *conn)
        .await;
    let delete = sqlx::query("delete from stock_movements where lot_id = $1::uuid")
        .bind(&lot)
        .execute(&mut *conn)
        .await;
    let truncate = sqlx::query("truncate stock_movements cascade")
        .execute(&mut *conn)
        .await;
    let balance = sqlx::query("update stock_lots set on_hand = 999 where id = $1::uuid")
        .bind(&lot)
        .execute(&mut *conn)
        .await;
    let replica = if superuser {
        sqlx::query("set session_replication_role = replica")
            .execute(&mut *conn)
            .await
            .expect("replica mode");
        let r = sqlx::query("delete from stock_movements where lot_id = $1::uuid")
            .bind(&lot)
            .execute(&mut *conn)
            .await;
        sqlx::query("set session_replication_role = origin")
            .execute(&mut *conn)
            .await
            .expect("origin mode");
        Some(r)
    } else {
        None
    };
    // Assert
    assert!(update.is_err(), "update must fail");
    assert!(delete.is_err(), "delete must fail");
    assert!(truncate.is_err(), "truncate must fail");
    assert!(balance.is_err(), "balances move only through the ledger");
    if let Some(r) = replica {
        assert!(
            r.is_err(),
            "replica mode must not bypass the ledger triggers"
        );
    }
    drop(conn);
    assert_eq!(lot_state(&app, &lot).await.0, 10);
    assert_ledger_invariant(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_clients_issuing_from_three_lots_never_lose_or_invent_stock() {
    // Arrange
    let app = Arc::new(TestApp::demo().await);
    let clerk = app.token("clerk", &[WH]).await;
    let mut lots = Vec::new();
    for _ in 0..3 {
        lots.push(receive(&app, &clerk, TENT, 1_000).await);
    }
    let start: Vec<i64> = vec![1_000; 3];
    // Act: 32 clients, 12 issues each of 1..=40 units from a random lot
    let mut tasks = Vec::new();
    for client in 0..32u64 {
        let app = app.clone();
        let clerk = clerk.clone();
        let lots = lots.clone();
        tasks.push(tokio::spawn(async move {
            let mut seed =
                0x9E37_79B9_7F4A_7C15u64 ^ (client + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let mut issued = [0i64; 3];
            for _ in 0..12 {
                let which = (next() % 3) as usize;
                let qty = (next() % 40 + 1) as i64;
                let (status, body) = issue(&app, &clerk, &lots[which], qty).await;
                match status {
                    201 => issued[which] += qty,
                    409 => assert!(body["available"].is_i64(), "{body}"),
                    other => panic!("unexpected {other}: {body}"),
                }
            }
            issued
        }));
    }
    let mut issued = [0i64; 3];
    for t in tasks {
        let part = t.await.expect("client");
        for i in 0..3 {
            issued[i] += part[i];
        }
    }
    // Assert
    for (i, lot) in lots.iter().enumerate() {
        let (on_hand, reserved, _) = lot_state(&app, lot).await;
        assert!(on_hand >= 0 && reserved == 0);
        assert_eq!(issued[i], start[i] - on_hand, "lot {i}");
        let ledger: i64 = sqlx::query_scalar(
            "select coalesce(sum(qty), 0)::bigint from stock_movements where lot_id = $1::uuid",
        )
        .bind(lot)
        .fetch_one(&app.pool)
        .await
        .expect("sum");
        assert_eq!(ledger, on_hand);
    }
    assert!(issued.iter().sum::<i64>() > 0);
    assert_ledger_invariant(&app).await;
}

// ---------------------------------------------------------------------------------------
// Property: random operation sequences keep the ledger invariant
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Receive(usize, i64),
    Issue(usize, i64),
    Adjust(usize, i64),
    Quarantine(usize),
    Release(usize),
}

fn op_strategy() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..2usize, 1..60i64).prop_map(|(l, q)| Op::Receive(l, q)),
        (0..2usize, 1..80i64).prop_map(|(l, q)| Op::Issue(l, q)),
        (0..2usize, -80..60i64).prop_map(|(l, q)| Op::Adjust(l, q)),
        (0..2usize).prop_map(Op::Quarantine),
        (0..2usize).prop_map(Op::Release),
    ]
}

#[test]
fn random_operation_sequences_through_the_api_keep_every_lot_equal_to_its_ledger() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(TestApp::demo());
    let clerk = rt.block_on(app.token("clerk", &[WH]));
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op_strategy(), 1..25), |ops| {
            rt.block_on(async {
                // Two fresh lots per case, with a model of their balances and status.
                let mut lots = Vec::new();
                for _ in 0..2 {
                    lots.push(receive(&app, &clerk, TENT, 20).await);
                }
                let mut model = [(20i64, false); 2];
                for op in &ops {
                    let (status, body, expected) = match *op {
                        Op::Receive(l, q) => {
                            let code: String = sqlx::query_scalar(
                                "select lot_code from stock_lots where id = $1::uuid",
                            )
                            .bind(&lots[l])
                            .fetch_one(&app.pool)
                            .await
                            .expect("code");
                            let (s, b) = app
                                .post(
                                    &format!("/api/v1/warehouses/{WH}/receipts"),
                                    &clerk,
                                    &json!({"lines": [receipt_line(TENT, &code, None, q)]}),
                                )
                                .await;
                            model[l].0 += q;
                            (s, b, 201)
                        }
                        Op::Issue(l, q) => {
                            let (s, b) = issue(&app, &clerk, &lots[l], q).await;
                            let expected = if model[l].1 || q > model[l].0 {
                                409
                            } else {
                                model[l].0 -= q;
                                201
                            };
                            (s, b, expected)
                        }
                        Op::Adjust(l, q) => {
                            let (s, b) = app
                                .post(
                                    &format!("/api/v1/warehouses/{WH}/adjustments"),
                                    &clerk,
                                    &json!({"lines": [{"lot_id": lots[l], "qty": q, "reason": "count_correction"}]}),
                                )
                                .await;
                            let expected = if q == 0 {
                                422
                            } else if model[l].0 + q < 0 {
                                409
                            } else {
                                model[l].0 += q;
                                201
                            };
                            (s, b, expected)
                        }
                        Op::Quarantine(l) | Op::Release(l) => {
                            let quarantine = matches!(op, Op::Quarantine(_));
                            let verb = if quarantine { "quarantine" } else { "release" };
                            let (s, b) = app
                                .post(
                                    &format!("/api/v1/lots/{}/{verb}", lots[l]),
                                    &clerk,
                                    &json!({"reason": "property test"}),
                                )
                                .await;
                            let expected = if model[l].1 == quarantine {
                                409
                            } else {
                                model[l].1 = quarantine;
                                200
                            };
                            (s, b, expected)
                        }
                    };
                    prop_assert_eq!(status, expected, "{:?}: {}", op, body);
                    for (i, lot) in lots.iter().enumerate() {
                        let (on_hand, _, st) = lot_state(&app, lot).await;
                        prop_assert_eq!(on_hand, model[i].0);
                        prop_assert_eq!(st == "quarantined", model[i].1);
                    }
                    assert_ledger_invariant(&app).await;
                }
                Ok(())
            })
        })
        .expect("property holds");
}
