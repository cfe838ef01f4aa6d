//! The transfer and count use cases called directly, as the CLI or a message adapter
//! would: no HTTP, no idempotency key. They keep the ledger, the audit trail and the
//! refusals the HTTP API shows; a claim that answers ends a command before it writes.

use std::ops::ControlFlow;

use sqlx::PgConnection;
use stockpile::audit::{Change, Origin};
use stockpile::auth::Actor;
use stockpile::error::AppError;
use stockpile::ids::LotId;
use stockpile::transfers::cases::{self as transfers, ReceiveCmd, SendCmd};
use stockpile::transfers::{ReceivedLine, SendLine, TransferStatus};
use stockpile::warehouses::ids::WarehouseIds;
use uuid::Uuid;

use crate::helpers::{TestApp, audit_count};

const SRC: &str = "JM-JH-RC";
const DST: &str = "JM-PJ-01";

/// A fresh lot of any item at `warehouse` holding `qty`, through a `seed` ledger row.
async fn lot_at(app: &TestApp, warehouse: &str, qty: i64) -> LotId {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into stock_lots (id, item_id, warehouse_id, lot_code, received_on, source)
         select $1, (select id from items order by sku limit 1), w.id, $2, current_date, 'supplier'
           from warehouses w where w.code = $3",
    )
    .bind(id)
    .bind(format!("UC-{}", &id.simple().to_string()[20..]))
    .bind(warehouse)
    .execute(&app.pool)
    .await
    .expect("insert lot");
    let mut conn = app.pool.acquire().await.expect("conn");
    stockpile::stock::db::insert_movement(
        &mut conn,
        &stockpile::stock::db::Movement {
            lot: id.into(),
            kind: "seed",
            qty,
            reserved_delta: 0,
            reason: None,
            note: None,
            ref_kind: None,
            ref_id: None,
            actor: stockpile::ids::SYSTEM_USER,
            request_id: None,
            idempotency_key: None,
        },
    )
    .await
    .expect("seed row");
    id.into()
}

async fn on_hand(app: &TestApp, lot: LotId) -> i64 {
    sqlx::query_scalar("select on_hand from stock_lots where id = $1")
        .bind(lot.0)
        .fetch_one(&app.pool)
        .await
        .expect("lot")
}

/// A claim for a caller without idempotency keys: never answers.
async fn no_key(_: &mut PgConnection) -> Result<Option<()>, AppError> {
    Ok(None)
}

/// Send `qty` of `lot` from SRC to DST.
fn send_cmd(lot: LotId, qty: i64, note: Option<&str>) -> SendCmd {
    SendCmd {
        from: SRC.into(),
        to: DST.into(),
        lines: vec![SendLine { lot, qty }],
        note: note.map(str::to_owned),
    }
}

/// What a command did, when no claim answered.
fn done<D>(outcome: ControlFlow<(), D>) -> D {
    let ControlFlow::Continue(done) = outcome else {
        panic!("no claim answered")
    };
    done
}

/// Records a command's audit event the way a caller without keys does, and commits.
async fn record_and_commit(mut tx: sqlx::Transaction<'_, sqlx::Postgres>, change: Change<'_>) {
    let (actor, origin) = (Actor::system(), Origin::cli());
    stockpile::audit::db::record(&mut tx, &actor, &origin, change)
        .await
        .expect("audit");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn a_transfer_sent_and_received_through_the_use_cases_moves_the_stock_once() {
    // Arrange
    let app = TestApp::demo().await;
    let (actor, origin, warehouses) = (Actor::system(), Origin::cli(), WarehouseIds::default());
    let lot = lot_at(&app, SRC, 10).await;
    let cmd = send_cmd(lot, 4, Some("by the CLI"));

    // Act: send, then receive 3 of the 4 as damaged.
    let mut tx = app.pool.begin().await.expect("tx");
    let sent = transfers::send(&mut tx, &actor, &origin, &warehouses, cmd, no_key)
        .await
        .expect("sent");
    let sent = done(sent);
    record_and_commit(tx, sent.change).await;
    let sent = sent.answer;
    let id = serde_json::from_value(sent["id"].clone()).expect("id");
    let mut tx = app.pool.begin().await.expect("tx");
    let report = ReceiveCmd {
        lines: vec![ReceivedLine {
            lot,
            received_qty: 3,
            reason: Some(stockpile::transfers::DiscrepancyReason::Damaged),
        }],
        note: None,
    };
    let today = chrono::Utc::now().date_naive();
    let received = transfers::receive(&mut tx, &actor, &origin, id, report, today, no_key)
        .await
        .expect("received");
    let received = done(received);
    record_and_commit(tx, received.change).await;
    let received = received.answer;

    // Assert
    assert_eq!(sent["status"], "in_transit");
    assert_eq!(sent["in_transit_qty"], 4);
    assert_eq!(received["status"], "received");
    assert_eq!(received["lines"][0]["discrepancy_reason"], "damaged");
    assert_eq!(on_hand(&app, lot).await, 6, "4 left the source once");
    let mut conn = app.pool.acquire().await.expect("conn");
    let read = transfers::get(&mut conn, id).await.expect("the transfer");
    assert_eq!(read.status, TransferStatus::Received);
    let listed = transfers::list(
        &mut conn,
        Some(DST),
        Some(TransferStatus::Received),
        None,
        10,
    )
    .await
    .expect("list");
    assert!(listed.iter().any(|t| t.id == id), "listed as received");
    let in_transit = transfers::list(
        &mut conn,
        Some(DST),
        Some(TransferStatus::InTransit),
        None,
        10,
    )
    .await
    .expect("list");
    assert!(
        in_transit.iter().all(|t| t.id != id),
        "no longer in transit"
    );
    assert_eq!(audit_count(&app, "transfer.send").await, 1);
    assert_eq!(audit_count(&app, "transfer.receive").await, 1);
}

#[tokio::test]
async fn a_claim_that_answers_ends_the_command_before_it_writes() {
    // Arrange
    let app = TestApp::demo().await;
    let (actor, origin, warehouses) = (Actor::system(), Origin::cli(), WarehouseIds::default());
    let lot = lot_at(&app, SRC, 10).await;
    let cmd = send_cmd(lot, 4, None);
    let replay = async |_: &mut PgConnection| Ok(Some("the earlier answer"));

    // Act
    let mut tx = app.pool.begin().await.expect("tx");
    let outcome = transfers::send(&mut tx, &actor, &origin, &warehouses, cmd, replay)
        .await
        .expect("replayed");
    tx.commit().await.expect("commit");

    // Assert
    assert!(matches!(outcome, ControlFlow::Break("the earlier answer")));
    assert_eq!(on_hand(&app, lot).await, 10, "nothing left the lot");
}

#[tokio::test]
async fn the_use_case_refuses_what_the_api_refuses_with_the_same_pointer() {
    // Arrange
    let app = TestApp::demo().await;
    let (actor, origin, warehouses) = (Actor::system(), Origin::cli(), WarehouseIds::default());
    let lot = lot_at(&app, SRC, 5).await;
    let cmd = send_cmd(lot, 6, None);

    // Act
    let mut tx = app.pool.begin().await.expect("tx");
    let err = transfers::send(&mut tx, &actor, &origin, &warehouses, cmd, no_key)
        .await
        .expect_err("more than available");

    // Assert
    let AppError::Conflict { errors, extra, .. } = err else {
        panic!("a conflict, got {err:?}")
    };
    assert_eq!(errors[0].pointer, "/lines/0/qty");
    assert_eq!(extra.expect("facts")["available"], 5);
}

#[tokio::test]
async fn a_count_opened_recorded_and_posted_through_the_use_cases_books_the_variance() {
    use stockpile::counts::Counted;
    use stockpile::counts::cases as counts;

    // Arrange
    let app = TestApp::demo().await;
    let (actor, origin, warehouses) = (Actor::system(), Origin::cli(), WarehouseIds::default());
    let lot = lot_at(&app, SRC, 10).await;
    let sku: String = sqlx::query_scalar(
        "select i.sku from items i join stock_lots l on l.item_id = i.id where l.id = $1",
    )
    .bind(lot.0)
    .fetch_one(&app.pool)
    .await
    .expect("sku");
    // Act: open over the SKU, count 7 of the 10, post.
    let mut tx = app.pool.begin().await.expect("tx");
    let opened = counts::open(&mut tx, &actor, &warehouses, SRC, Some(vec![sku]), no_key)
        .await
        .expect("opened");
    let opened = done(opened);
    record_and_commit(tx, opened.change).await;
    let opened = opened.answer;
    let id = serde_json::from_value(opened["id"].clone()).expect("id");
    let mut tx = app.pool.begin().await.expect("tx");
    let lines = vec![Counted { lot, qty: 7 }];
    let recorded = counts::record(&mut tx, &actor, id, lines, no_key)
        .await
        .expect("recorded");
    record_and_commit(tx, done(recorded).change).await;
    let mut tx = app.pool.begin().await.expect("tx");
    let posted = counts::post(&mut tx, &actor, &origin, id, None, no_key)
        .await
        .expect("posted");
    let posted = done(posted);
    record_and_commit(tx, posted.change).await;
    let posted = posted.answer;

    // Assert
    assert_eq!(opened["status"], "open");
    assert_eq!(posted["status"], "posted");
    assert_eq!(on_hand(&app, lot).await, 7);
    assert_eq!(audit_count(&app, "count.post").await, 1);
    let mut tx = app.pool.begin().await.expect("tx");
    let again = counts::cancel(&mut tx, &actor, id, "too late", no_key)
        .await
        .expect_err("posted");
    assert_eq!(again.to_string(), "the count is already posted");
}
