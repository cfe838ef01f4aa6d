//! A retirement and the receipts and requests in flight for its item: the database makes
//! them wait for each other (migration 230), so that no receipt or request of the item
//! commits after its retirement, whatever the services' item caches still say. Stock of a
//! retired item can still be issued.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, wait_for_listeners};

const WH: &str = "JM-JH-RC";
const WATER: &str = "WATER-5L";
const WATER_GTIN: &str = "06975301011120";

fn in_days(n: u64) -> String {
    (Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + Days::new(n))
    .to_string()
}

fn receipt_line(lot_code: &str) -> Value {
    json!({"sku": WATER, "lot_code": lot_code, "expires_on": in_days(300), "qty": 1})
}

/// Waits until `n` backends of the test database wait for a lock.
async fn until_blocked(app: &TestApp, n: i64) {
    for _ in 0..1000 {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("activity");
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waiting: Vec<String> = sqlx::query_scalar(
        "select query from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("activity");
    panic!("{n} statements never waited for the retirement; waiting: {waiting:?}");
}

async fn receipts_of_water(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "select count(*) from stock_movements m join stock_lots l on l.id = m.lot_id
           join items i on i.id = l.item_id where i.sku = $1 and m.kind = 'receipt'",
    )
    .bind(WATER)
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn receipts_and_a_request_in_flight_behind_a_retirement_are_refused_naming_their_line() {
    // Arrange: a lot on record (the one-statement receipt), an incident, and every
    // service cache sure that WATER is active.
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &[WH]).await;
    let dispatcher = app.token("dispatcher", &[]).await;
    wait_for_listeners(&app, 1).await;
    let receipts = format!("/api/v1/warehouses/{WH}/receipts");
    let (warm, body) = app
        .post(
            &receipts,
            &clerk,
            &json!({"lines": [receipt_line("RACE-OLD")]}),
        )
        .await;
    assert_eq!(warm, 201, "{body}");
    let (_, incident) = app
        .post(
            "/api/v1/incidents",
            &dispatcher,
            &json!({"name": "Flood", "kind": "flood", "point": {"lat": 22.46, "lon": 113.03}}),
        )
        .await;
    let requests = format!(
        "/api/v1/incidents/{}/requests",
        incident["id"].as_str().expect("incident")
    );
    let before = receipts_of_water(&app).await;
    let scan = format!(
        "(01){WATER_GTIN}(17){}(10)RACE-NEW",
        &in_days(300).replace('-', "")[2..]
    );

    // Act: retire WATER as the retire command does, and keep it uncommitted while a
    // receipt into the lot on record, a receipt by scan into a new lot and a request
    // arrive; then commit.
    let mut retire = sqlx::PgConnection::connect_with(&app.options)
        .await
        .expect("connect");
    let mut tx = retire.begin().await.expect("begin");
    sqlx::query("select id from items where sku = $1 for update")
        .bind(WATER)
        .execute(&mut *tx)
        .await
        .expect("lock the item");
    sqlx::query("update items set status = 'retired', updated_at = now() where sku = $1")
        .bind(WATER)
        .execute(&mut *tx)
        .await
        .expect("retire");
    let into_lot = {
        let (url, clerk) = (app.url(&receipts), clerk.clone());
        tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(clerk)
                .json(&json!({"lines": [receipt_line("RACE-OLD")]}))
                .send()
                .await
                .expect("send");
            crate::helpers::read(res).await
        })
    };
    let by_scan = {
        let (url, clerk, scan) = (app.url(&receipts), clerk.clone(), scan.clone());
        tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(clerk)
                .header("Idempotency-Key", Uuid::now_v7().to_string())
                .json(&json!({"lines": [{"gs1": scan, "qty": 2}]}))
                .send()
                .await
                .expect("send");
            crate::helpers::read(res).await
        })
    };
    let request = {
        let (url, dispatcher) = (app.url(&requests), dispatcher.clone());
        tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(dispatcher)
                .json(&json!({"priority": "critical", "lines": [
                    {"sku": "MASK-MEDICAL", "qty": 1},
                    {"sku": WATER, "qty": 1},
                ]}))
                .send()
                .await
                .expect("send");
            crate::helpers::read(res).await
        })
    };
    until_blocked(&app, 3).await;
    tx.commit().await.expect("commit the retirement");
    let (s1, p1) = into_lot.await.expect("receipt into the lot");
    let (s2, p2) = by_scan.await.expect("receipt by scan");
    let (s3, p3) = request.await.expect("request");

    // Assert
    assert_problem(s1, &p1, 422, "/lines/0/sku");
    assert_problem(s2, &p2, 422, "/lines/0/gs1");
    assert_problem(s3, &p3, 422, "/lines/1/sku");
    for p in [&p1, &p2, &p3] {
        assert!(
            p["detail"].as_str().is_some_and(|d| d.contains(WATER)),
            "{p}"
        );
    }
    assert_eq!(receipts_of_water(&app).await, before, "no receipt written");
    let lines: i64 =
        sqlx::query_scalar("select count(*) from allocation_request_lines where sku = $1")
            .bind(WATER)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(lines, 0, "no request line written");
    let new_lots: i64 =
        sqlx::query_scalar("select count(*) from stock_lots where lot_code = 'RACE-NEW'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(new_lots, 0, "nothing of the refused receipt is left");
}

#[tokio::test]
async fn receipts_racing_a_retirement_never_commit_after_it_and_its_stock_can_still_be_issued() {
    // Arrange: a lot of WATER on record.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let clerk = app.token("clerk", &[WH]).await;
    wait_for_listeners(&app, 1).await;
    let receipts = app.url(&format!("/api/v1/warehouses/{WH}/receipts"));
    let (warm, body) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &json!({"lines": [receipt_line("RACE-OLD")]}),
        )
        .await;
    assert_eq!(warm, 201, "{body}");
    let lot = body["lines"][0]["lot_id"].clone();
    let started = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Act: eight clients receive WATER as fast as they can (into the lot on record and
    // into new lots, some with an Idempotency-Key) while an admin retires it, and go on
    // for a while after the retirement is answered.
    let mut clients = Vec::new();
    for c in 0..8 {
        let (url, clerk, stop) = (receipts.clone(), clerk.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut sent: Vec<(Duration, u16, Value)> = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let line = if n % 2 == 0 {
                    receipt_line("RACE-OLD")
                } else {
                    receipt_line(&format!("RACE-{c}-{n}"))
                };
                let mut req = http
                    .post(&url)
                    .bearer_auth(&clerk)
                    .json(&json!({"lines": [line]}));
                if n % 3 == 0 {
                    req = req.header("Idempotency-Key", Uuid::now_v7().to_string());
                }
                let at = started.elapsed();
                let (status, body) = crate::helpers::read(req.send().await.expect("send")).await;
                sent.push((at, status, body));
            }
            sent
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (retired, item) = app
        .post(
            &format!("/api/v1/items/{WATER}/retire"),
            &admin,
            &json!({"reason": "replaced by 10 L"}),
        )
        .await;
    let answered = started.elapsed();
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = Vec::new();
    for c in clients {
        sent.extend(c.await.expect("client"));
    }
    let (issued, issue) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/issues"),
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "shelter"}]}),
        )
        .await;

    // Assert: every answer is a receipt or a refusal naming the line; every receipt sent
    // after the retirement was answered is refused; and in commit order (the audit
    // chain) every receipt of WATER comes before the retirement.
    assert_eq!(retired, 200, "{item}");
    let accepted = sent.iter().filter(|(_, s, _)| *s == 201).count();
    let refused = sent.iter().filter(|(_, s, _)| *s == 422).count();
    for (_, status, body) in &sent {
        if *status != 201 {
            assert_problem(*status, body, 422, "/lines/0/sku");
        }
    }
    let late: Vec<&Value> = sent
        .iter()
        .filter(|(at, s, _)| *at > answered && *s == 201)
        .map(|(_, _, b)| b)
        .collect();
    assert!(
        late.is_empty(),
        "receipts accepted after the retirement: {late:?}"
    );
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
    stockpile::audit::chain::drain(&app.pool)
        .await
        .expect("chain the pending events");
    let retired_at: i64 = sqlx::query_scalar(
        "select seq from audit_events where action = 'item.retire' and entity_id = $1",
    )
    .bind(WATER)
    .fetch_one(&app.pool)
    .await
    .expect("the retirement's event");
    let (receipts_after, last_receipt): (i64, Option<i64>) = sqlx::query_as(
        "select count(*) filter (where a.seq > $2), max(a.seq)
           from audit_events a
          where a.action = 'stock.receipt'
            and a.entity_id in (select m.ref_id::text from stock_movements m
                                  join stock_lots l on l.id = m.lot_id
                                  join items i on i.id = l.item_id
                                 where i.sku = $1 and m.kind = 'receipt')",
    )
    .bind(WATER)
    .bind(retired_at)
    .fetch_one(&app.pool)
    .await
    .expect("receipts in commit order");
    assert_eq!(
        receipts_after, 0,
        "receipts committed after the retirement (seq {retired_at}); the last is {last_receipt:?}"
    );
    let movements: i64 = sqlx::query_scalar(
        "select count(*) from stock_movements m join stock_lots l on l.id = m.lot_id
           join items i on i.id = l.item_id where i.sku = $1 and m.kind = 'receipt'
            and m.ref_id::text not in (select entity_id from audit_events where action = 'stock.receipt')",
    )
    .bind(WATER)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(movements, 0, "every receipt has its audit event");
    assert_eq!(
        issued, 201,
        "a retired item's stock is still issued: {issue}"
    );
}
