//! The audit trail: chain verification finds tampering, the event query pages by seq,
//! exports are complete, carry manifests that match the chain, and are themselves
//! audited, and every mutating operation in the OpenAPI document leaves one event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use stockpile::audit::{self, Change, Origin};
use stockpile::auth::Actor;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem};

// ---------------------------------------------------------------- helpers

/// Appends `n` plain events (no stock moved) with `audit::db::record`, as a module would,
/// and chains them, as the CLI does.
async fn add_events(app: &TestApp, n: usize) {
    let mut tx = app.pool.begin().await.expect("begin");
    for i in 0..n {
        audit::db::record(
            &mut tx,
            &Actor::system(),
            &Origin::cli(),
            Change {
                action: "test.event",
                entity_kind: "test",
                entity_id: format!("t{i}"),
                before: None,
                after: Some(json!({ "i": i })),
            },
        )
        .await
        .expect("record");
    }
    tx.commit().await.expect("commit");
    audit::chain::drain(&app.pool).await.expect("chain");
}

/// Runs `sql` as the superuser with the append-only triggers disabled.
async fn tamper(app: &TestApp, sql: &'static str) {
    let mut tx = app.pool.begin().await.expect("begin");
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("disable triggers (needs a superuser)");
    sqlx::query(sql).execute(&mut *tx).await.expect("tamper");
    tx.commit().await.expect("commit");
}

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&app.pool)
        .await
        .expect("count events")
}

/// A GET returning status, headers and raw bytes.
async fn fetch(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_owned()
}

/// The `key=value` facts of a CSV `#manifest` line.
fn csv_manifest(line: &str) -> HashMap<String, String> {
    let rest = line
        .trim_end()
        .strip_prefix("#manifest,")
        .unwrap_or_else(|| panic!("not a manifest line: {line}"));
    rest.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// JSON lines of a JSONL export: the data rows and the manifest.
fn jsonl(body: &[u8]) -> (Vec<Value>, Value) {
    let text = std::str::from_utf8(body).expect("utf8");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let last = lines.pop().expect("a manifest line");
    assert!(
        last.get("manifest").is_some(),
        "last line is the manifest: {last}"
    );
    (lines, last["manifest"].clone())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn hash_of(app: &TestApp, seq: i64) -> String {
    sqlx::query_scalar("select hash from audit_events where seq = $1")
        .bind(seq)
        .fetch_one(&app.pool)
        .await
        .expect("hash")
}

// ---------------------------------------------------------------- verification

#[tokio::test]
async fn the_demo_chain_verifies_and_every_seed_movement_is_covered_by_its_event() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 3).await;
    let movements: i64 = sqlx::query_scalar("select count(*) from stock_movements")
        .fetch_one(&app.pool)
        .await
        .expect("count");

    // Act
    let (status, body) = app.get("/api/v1/audit/verify", &auditor).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["events_checked"], 4);
    assert_eq!(body["first_broken_seq"], Value::Null);
    assert_eq!(body["movements_checked"], movements);
    assert!(movements > 1000, "the demo data has thousands of lots");
}

#[tokio::test]
async fn an_edited_event_is_found_at_its_seq() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 4).await;
    tamper(
        &app,
        r#"update audit_events set after = '{"i": 99}' where seq = 3"#,
    )
    .await;

    // Act
    let (status, body) = app.get("/api/v1/audit/verify", &auditor).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["first_broken_seq"], 3, "{body}");
    assert!(
        body["reason"].as_str().unwrap_or("").contains("edited"),
        "{body}"
    );
}

#[tokio::test]
async fn a_deleted_event_is_found_as_a_gap() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    add_events(&app, 4).await;
    tamper(&app, "delete from audit_events where seq = 2").await;

    // Act
    let (status, body) = app.get("/api/v1/audit/verify", &admin).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["first_broken_seq"], 2, "{body}");
    assert!(
        body["reason"].as_str().unwrap_or("").contains("missing"),
        "{body}"
    );
}

#[tokio::test]
async fn a_deleted_last_event_is_found_against_the_chain_head() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 4).await;
    tamper(&app, "delete from audit_events where seq = 5").await;

    // Act
    let (_, body) = app.get("/api/v1/audit/verify", &auditor).await;

    // Assert
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["first_broken_seq"], 5, "{body}");
}

#[tokio::test]
async fn two_swapped_events_are_found_at_the_first_of_them() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 4).await;
    tamper(
        &app,
        "update audit_events a
            set at = b.at, actor_id = b.actor_id, actor_username = b.actor_username,
                action = b.action, entity_kind = b.entity_kind, entity_id = b.entity_id,
                request_id = b.request_id, idempotency_key = b.idempotency_key,
                before = b.before, after = b.after, prev_hash = b.prev_hash, hash = b.hash
           from audit_events b
          where (a.seq, b.seq) in ((3, 4), (4, 3))",
    )
    .await;

    // Act
    let (_, body) = app.get("/api/v1/audit/verify", &auditor).await;

    // Assert
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["first_broken_seq"], 3, "{body}");
}

#[tokio::test]
async fn a_ledger_movement_without_its_audit_event_is_found() {
    // Arrange: a movement inserted behind the service's back (inserts are allowed).
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let id: i64 = sqlx::query_scalar(
        "insert into stock_movements (lot_id, kind, qty, reason, actor_id)
         select id, 'adjustment', 1, 'sneaky', '00000000-0000-0000-0000-000000000001'
           from stock_lots order by id limit 1
         returning id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("insert movement");
    add_events(&app, 2).await;

    // Act
    let (_, body) = app.get("/api/v1/audit/verify", &auditor).await;

    // Assert: the chain itself is intact, the ledger link is not.
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["first_broken_seq"], Value::Null, "{body}");
    assert_eq!(body["first_broken_movement_id"], id, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no audit event"),
        "{body}"
    );
}

#[tokio::test]
async fn only_auditors_and_admins_may_verify_query_or_export() {
    // Arrange
    let app = TestApp::demo().await;
    let clerk = app.token("clerk", &["JM-JH-RC"]).await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let before = event_count(&app).await;

    // Act / Assert
    for token in [&clerk, &dispatcher] {
        for path in [
            "/api/v1/audit/verify",
            "/api/v1/audit/events",
            "/api/v1/exports/movements",
            "/api/v1/exports/audit-events",
            "/api/v1/exports/stock-as-of?at=2026-01-01T00:00:00Z",
        ] {
            let (status, body) = app.get(path, token).await;
            assert_problem(status, &body, 403, "");
        }
    }
    assert_eq!(
        event_count(&app).await,
        before,
        "a refused export is not recorded"
    );
}

/// A database URL for the test database, for the `stockpile` CLI.
pub(crate) fn cli_url(app: &TestApp) -> String {
    let o = &app.options;
    let db = o.get_database().unwrap_or(&app.db_name);
    match o.get_socket() {
        Some(sock) => format!(
            "postgres://{}@{}:{}/{db}",
            o.get_username(),
            sock.display().to_string().replace('/', "%2F"),
            o.get_port()
        ),
        None => format!(
            "postgres://{}@{}:{}/{db}",
            o.get_username(),
            o.get_host(),
            o.get_port()
        ),
    }
}

pub(crate) async fn cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stockpile"))
        .arg("--database-url")
        .arg(cli_url(app))
        .args(args)
        .output()
        .await
        .expect("run the stockpile CLI")
}

#[tokio::test]
async fn the_cli_verifies_the_chain_and_exports_with_an_audited_manifest() {
    // Arrange
    let app = TestApp::demo().await;
    add_events(&app, 2).await;
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from stock_movements m join stock_lots l on l.id = m.lot_id
           join warehouses w on w.id = l.warehouse_id where w.code = 'JM-JH-RC'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");

    // Act
    let verified = cli(&app, &["audit", "verify"]).await;
    let exported = cli(
        &app,
        &[
            "export",
            "movements",
            "--warehouse",
            "JM-JH-RC",
            "--format",
            "csv",
        ],
    )
    .await;
    let refused = cli(
        &app,
        &[
            "export",
            "movements",
            "--from",
            "2026-02-01T00:00:00Z",
            "--to",
            "2026-01-01T00:00:00Z",
        ],
    )
    .await;
    tamper(&app, "delete from audit_events where seq = 2").await;
    let broken = cli(&app, &["audit", "verify"]).await;

    // Assert
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let v: Value = serde_json::from_slice(&verified.stdout).expect("verify prints JSON");
    assert_eq!(v["ok"], true);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let text = String::from_utf8(exported.stdout).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as i64, expected + 2, "header, rows, manifest");
    let m = csv_manifest(lines[lines.len() - 1]);
    assert_eq!(m["rows"], expected.to_string());
    let (action, actor, request_id): (String, String, Option<String>) = sqlx::query_as(
        "select action, actor_username, request_id from audit_events where seq = $1",
    )
    .bind(m["export_event_seq"].parse::<i64>().expect("seq"))
    .fetch_one(&app.pool)
    .await
    .expect("export event");
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("export.movements", "system")
    );
    assert!(request_id.unwrap_or_default().starts_with("cli-"));
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("`from` must not be after `to`"));
    assert!(!broken.status.success());
    let b: Value = serde_json::from_slice(&broken.stdout).expect("verify prints JSON");
    assert_eq!(b["first_broken_seq"], 2);
}

// ---------------------------------------------------------------- event query

#[tokio::test]
async fn events_page_by_seq_with_a_cursor_and_filter_by_action_and_entity() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 5).await;

    // Act: walk pages of two.
    let mut seqs = Vec::new();
    let mut path = "/api/v1/audit/events?limit=2".to_owned();
    loop {
        let (status, body) = app.get(&path, &auditor).await;
        assert_eq!(status, 200, "{body}");
        for e in body["items"].as_array().expect("items") {
            seqs.push(e["seq"].as_i64().expect("seq"));
        }
        match body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit/events?limit=2&cursor={c}"),
            None => break,
        }
    }
    let (_, by_action) = app.get("/api/v1/audit/events?action=test.", &auditor).await;
    let (_, by_entity) = app
        .get("/api/v1/audit/events?entity=test:t3&actor=system", &auditor)
        .await;
    let (_, seed) = app
        .get("/api/v1/audit/events?entity=dataset", &auditor)
        .await;

    // Assert
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(by_action["items"].as_array().map(Vec::len), Some(5));
    let one = by_entity["items"].as_array().expect("items");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["after"], json!({"i": 3}));
    assert_eq!(seed["items"][0]["action"], "seed.load");
    assert_eq!(seed["items"][0]["hash"], hash_of(&app, 1).await);
}

#[tokio::test]
async fn event_query_rejects_a_window_that_ends_before_it_starts_and_bad_times() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;

    // Act
    let (s1, b1) = app
        .get(
            "/api/v1/audit/events?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &auditor,
        )
        .await;
    let (s2, b2) = app.get("/api/v1/audit/events?to=yesterday", &auditor).await;

    // Assert
    assert_problem(s1, &b1, 422, "from");
    assert_problem(s2, &b2, 400, "to");
}

// ---------------------------------------------------------------- exports

#[tokio::test]
async fn a_movements_export_has_every_matching_row_and_a_manifest_that_matches_the_chain() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 2).await;
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from stock_movements m join stock_lots l on l.id = m.lot_id
           join warehouses w on w.id = l.warehouse_id where w.code = 'JM-JH-RC'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");

    // Act
    let (status, headers, body) = fetch(
        &app,
        "/api/v1/exports/movements?warehouse=JM-JH-RC&format=csv",
        &auditor,
    )
    .await;

    // Assert: rows
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/csv"));
    let text = String::from_utf8(body).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("id,created_at,kind,warehouse,sku"));
    let data = &lines[1..lines.len() - 1];
    assert_eq!(data.len() as i64, expected);
    assert!(data.iter().all(|l| l.contains(",JM-JH-RC,")));
    // Assert: manifest = headers = database
    let m = csv_manifest(lines[lines.len() - 1]);
    assert_eq!(m["rows"], expected.to_string());
    assert_eq!(m["audit_seq_to"], header(&headers, "x-audit-seq-to"));
    assert_eq!(m["audit_seq_from"], header(&headers, "x-audit-seq-from"));
    assert_eq!(m["audit_last_hash"], header(&headers, "x-audit-last-hash"));
    let seq_to: i64 = m["audit_seq_to"].parse().expect("seq");
    assert_eq!(m["audit_last_hash"], hash_of(&app, seq_to).await);
    // Assert: the export is itself audited, before the rows it covers
    let export_seq: i64 = m["export_event_seq"].parse().expect("seq");
    assert_eq!(
        header(&headers, "x-audit-export-seq"),
        export_seq.to_string()
    );
    assert_eq!(export_seq, 4, "seed + 2 test events + the export");
    assert!(export_seq <= seq_to);
    let (action, actor, after): (String, String, Value) =
        sqlx::query_as("select action, actor_username, after from audit_events where seq = $1")
            .bind(export_seq)
            .fetch_one(&app.pool)
            .await
            .expect("export event");
    assert_eq!(action, "export.movements");
    assert!(actor.starts_with("auditor-"));
    assert_eq!(after["filters"]["warehouse"], "JM-JH-RC");
    assert_eq!(after["format"], "csv");
    let (_, verified) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(verified["ok"], true, "{verified}");
}

#[tokio::test]
async fn an_audit_events_export_in_jsonl_recomputes_to_the_chain_and_includes_itself() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    add_events(&app, 3).await;

    // Act
    let (status, headers, body) =
        fetch(&app, "/api/v1/exports/audit-events?format=jsonl", &admin).await;

    // Assert
    assert_eq!(status, 200);
    let (rows, manifest) = jsonl(&body);
    assert_eq!(rows.len(), 5, "seed + 3 + the export's own event");
    assert_eq!(manifest["rows"], 5);
    assert_eq!(manifest["audit_seq_from"], 1);
    assert_eq!(manifest["audit_seq_to"], 5);
    assert_eq!(manifest["export_event_seq"], 5);
    assert_eq!(
        header(&headers, "x-audit-last-hash"),
        hash_of(&app, 5).await
    );
    assert_eq!(rows[4]["action"], "export.audit_events");
    // A recipient can recompute every hash from the file alone.
    let mut prev = audit::genesis_hash();
    for r in &rows {
        let e = audit::Event {
            seq: r["seq"].as_i64().expect("seq"),
            at: r["at"].as_str().expect("at").parse().expect("time"),
            actor_id: r["actor_id"]
                .as_str()
                .expect("actor")
                .parse()
                .expect("uuid"),
            actor_username: r["actor_username"].as_str().expect("u").to_owned(),
            action: r["action"].as_str().expect("a").to_owned(),
            entity_kind: r["entity_kind"].as_str().expect("k").to_owned(),
            entity_id: r["entity_id"].as_str().expect("i").to_owned(),
            request_id: r["request_id"].as_str().map(str::to_owned),
            idempotency_key: r["idempotency_key"].as_str().map(str::to_owned),
            before: (!r["before"].is_null()).then(|| r["before"].clone()),
            after: (!r["after"].is_null()).then(|| r["after"].clone()),
        };
        assert_eq!(r["prev_hash"], prev);
        prev = e.hash(&prev);
        assert_eq!(r["hash"], prev, "event {} recomputes", e.seq);
    }
    assert_eq!(manifest["audit_last_hash"], prev);
}

#[tokio::test]
async fn a_filtered_audit_events_export_names_the_seq_range_of_the_events_it_holds() {
    // Arrange: seed (1), three test events (2..=4), then the export's own event (5).
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    add_events(&app, 3).await;

    // Act
    let (status, headers, body) = fetch(
        &app,
        "/api/v1/exports/audit-events?action=test.event&format=csv&hxl=true",
        &auditor,
    )
    .await;
    let (_, _, none) = fetch(
        &app,
        "/api/v1/exports/audit-events?action=nothing.here",
        &auditor,
    )
    .await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-audit-seq-from"), "2");
    assert_eq!(header(&headers, "x-audit-seq-to"), "4");
    assert_eq!(
        header(&headers, "x-audit-last-hash"),
        hash_of(&app, 4).await
    );
    assert_eq!(header(&headers, "x-audit-export-seq"), "5");
    let text = String::from_utf8(body).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("#meta+seq,#date,"));
    assert_eq!(
        lines.len(),
        2 + 3 + 1,
        "header, hashtags, three events, manifest"
    );
    let m = csv_manifest(lines[5]);
    assert_eq!(
        (m["rows"].as_str(), m["audit_seq_from"].as_str()),
        ("3", "2")
    );
    let empty = String::from_utf8(none).expect("utf8");
    let m = csv_manifest(empty.lines().last().expect("manifest"));
    assert_eq!(m["rows"], "0");
    assert_eq!(m["audit_last_hash"], audit::genesis_hash());
}

#[tokio::test]
async fn csv_with_bom_and_hxl_starts_with_the_mark_and_a_hashtag_row_and_keeps_chinese_text() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;

    // Act
    let (status, _, body) = fetch(
        &app,
        "/api/v1/exports/movements?sku=TENT-12M2-SGL&bom=true&hxl=true",
        &auditor,
    )
    .await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(&body[..3], b"\xef\xbb\xbf", "UTF-8 byte-order mark");
    let text = String::from_utf8(body[3..].to_vec()).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("id,created_at,"));
    assert!(
        lines[1].starts_with("#meta+id,#date+created,"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
    assert!(lines[2].contains("救灾帐篷"), "{}", lines[2]);
    let m = csv_manifest(lines[lines.len() - 1]);
    let rows: i64 = sqlx::query_scalar(
        "select count(*) from stock_movements m join stock_lots l on l.id = m.lot_id
           join items i on i.id = l.item_id where i.sku = 'TENT-12M2-SGL'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(m["rows"], rows.to_string());
    assert_eq!(
        lines.len() as i64,
        rows + 3,
        "header, hashtags, rows, manifest"
    );
}

#[tokio::test]
async fn an_xlsx_export_opens_with_a_reader_and_has_a_manifest_sheet() {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let expected: i64 = sqlx::query_scalar("select count(*) from stock_movements")
        .fetch_one(&app.pool)
        .await
        .expect("count");

    // Act
    let (status, headers, body) =
        fetch(&app, "/api/v1/exports/movements?format=xlsx", &auditor).await;

    // Assert
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").contains("spreadsheetml"));
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(body)).expect("open xlsx");
    assert_eq!(wb.sheet_names(), vec!["movements", "manifest"]);
    let data = wb.worksheet_range("movements").expect("data sheet");
    assert_eq!(
        data.height() as i64,
        expected + 1,
        "header plus one row per movement"
    );
    assert_eq!(data.get((0, 0)), Some(&Data::String("id".into())));
    assert!(matches!(data.get((1, 0)), Some(Data::Float(id)) if *id >= 1.0));
    assert_eq!(
        data.get((1, 5)).map(|d| d.to_string().is_empty()),
        Some(false)
    );
    let manifest = wb.worksheet_range("manifest").expect("manifest sheet");
    let facts: HashMap<String, String> = manifest
        .rows()
        .map(|r| (r[0].to_string(), r[1].to_string()))
        .collect();
    assert_eq!(facts["rows"], expected.to_string());
    assert_eq!(
        facts["audit_last_hash"],
        header(&headers, "x-audit-last-hash")
    );
    assert_eq!(
        facts["export_event_seq"],
        header(&headers, "x-audit-export-seq")
    );
    assert_eq!(facts["format"], "xlsx");
}

#[tokio::test]
async fn bad_export_input_is_a_problem_and_neither_exports_nor_audits() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let before = event_count(&app).await;
    let future = rfc3339(Utc::now() + chrono::Duration::hours(1));

    // Act / Assert
    let cases: Vec<(String, u16, &str)> = vec![
        (
            "/api/v1/exports/movements?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z".into(),
            422,
            "from",
        ),
        (
            "/api/v1/exports/movements?from=last-tuesday".into(),
            400,
            "from",
        ),
        ("/api/v1/exports/movements?format=pdf".into(), 400, "format"),
        (
            "/api/v1/exports/movements?warehouse=NOPE".into(),
            400,
            "warehouse",
        ),
        (
            "/api/v1/exports/audit-events?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z".into(),
            422,
            "from",
        ),
        (
            "/api/v1/exports/audit-events?format=xls".into(),
            400,
            "format",
        ),
        (
            format!("/api/v1/exports/stock-as-of?at={future}"),
            422,
            "at",
        ),
        (
            "/api/v1/exports/stock-as-of?at=2026-13-01".into(),
            400,
            "at",
        ),
        ("/api/v1/exports/stock-as-of".into(), 400, "at"),
    ];
    for (path, status, pointer) in cases {
        let (s, body) = app.get(&path, &auditor).await;
        assert_problem(s, &body, status, pointer);
    }
    assert_eq!(event_count(&app).await, before, "no export was recorded");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_export_leaves_no_transaction_or_query_behind() {
    // Arrange: enough rows that the export cannot finish into socket buffers, spread
    // over every lot (the ledger trigger always applies them, and 200,000 updates of one
    // lot row would be quadratic).
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    sqlx::query(
        "insert into stock_movements (lot_id, kind, qty, actor_id)
         select l.id, 'receipt', 1, '00000000-0000-0000-0000-000000000001'
           from stock_lots l cross join generate_series(1, 35)",
    )
    .execute(&app.pool)
    .await
    .expect("bulk movements");

    // Act: read one chunk, then hang up.
    let mut res = app
        .client
        .get(app.url("/api/v1/exports/movements?format=jsonl"))
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.expect("read").expect("a first chunk");
    assert!(!first.is_empty());
    drop(res);

    // Assert: the export's snapshot transaction ends soon after.
    let mut lingering: i64 = -1;
    for _ in 0..100 {
        lingering = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid()
                and (state like 'idle in transaction%'
                     or (state = 'active' and query like '%from stock_movements m%'))",
        )
        .fetch_one(&app.pool)
        .await
        .expect("activity");
        if lingering == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(lingering, 0, "the export's transaction and query are gone");
    let (status, _, body) = fetch(
        &app,
        "/api/v1/exports/stock-as-of?at=2026-01-01T00:00:00Z",
        &auditor,
    )
    .await;
    assert_eq!(status, 200, "the service still exports");
    assert!(String::from_utf8_lossy(&body).contains("#manifest"));
}

// ---------------------------------------------------------------- stock as of

/// A tiny deterministic generator, so the "random" operations replay identically.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Inserts one ledger row and its audit event (naming it, per the link rule) in one
/// transaction, as a stock module does.
async fn ledger_op(app: &TestApp, lot: Uuid, kind: &str, qty: i64, reserved: i64) {
    let mut tx = app.pool.begin().await.expect("begin");
    let id: i64 = sqlx::query_scalar(
        "insert into stock_movements (lot_id, kind, qty, reserved_delta, actor_id)
         values ($1, $2, $3, $4, '00000000-0000-0000-0000-000000000001') returning id",
    )
    .bind(lot)
    .bind(kind)
    .bind(qty)
    .bind(reserved)
    .fetch_one(&mut *tx)
    .await
    .expect("movement");
    audit::db::record(
        &mut tx,
        &Actor::system(),
        &Origin::cli(),
        Change {
            action: "test.movement",
            entity_kind: "lot",
            entity_id: lot.to_string(),
            before: None,
            after: Some(json!({ "movement_ids": [id] })),
        },
    )
    .await
    .expect("record");
    tx.commit().await.expect("commit");
}

/// `lot → (on_hand, reserved)` as replayed by the test.
type Balances = HashMap<Uuid, (i64, i64)>;

/// `lot → (on_hand, reserved)` from a stock-as-of JSONL export at `at`.
async fn as_of(app: &TestApp, token: &str, at: &str) -> BTreeMap<String, (i64, i64)> {
    let (status, _, body) = fetch(
        app,
        &format!("/api/v1/exports/stock-as-of?at={at}&format=jsonl"),
        token,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (rows, manifest) = jsonl(&body);
    assert_eq!(manifest["rows"], rows.len());
    rows.iter()
        .map(|r| {
            let on_hand = r["on_hand"].as_i64().expect("on_hand");
            let reserved = r["reserved"].as_i64().expect("reserved");
            assert_eq!(r["available"].as_i64(), Some(on_hand - reserved));
            (
                r["lot_id"].as_str().expect("lot").to_owned(),
                (on_hand, reserved),
            )
        })
        .collect()
}

#[tokio::test]
async fn stock_as_of_equals_a_replay_of_the_ledger_at_several_instants_and_live_balances_now() {
    // Arrange: three lots and a pseudo-random run of receipts, issues, reservations and
    // releases, with instants captured between them.
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let lots: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "select id, on_hand, reserved from stock_lots where on_hand >= 50 order by id limit 3",
    )
    .fetch_all(&app.pool)
    .await
    .expect("lots");
    let mut balance: Balances = lots.iter().map(|(id, h, r)| (*id, (*h, *r))).collect();
    let mut snapshots: Vec<(String, Balances)> = Vec::new();
    let mut rng = Lcg(42);
    for step in 0..24 {
        let lot = lots[rng.next(3) as usize].0;
        let (on_hand, reserved) = balance[&lot];
        let available = on_hand - reserved;
        let n = 1 + rng.next(30) as i64;
        let (kind, dq, dr) = match rng.next(4) {
            0 => ("receipt", n, 0),
            1 if available > 0 => ("issue", -n.min(available), 0),
            2 if available > 0 => ("reserve", 0, n.min(available)),
            3 if reserved > 0 => ("release", 0, -n.min(reserved)),
            _ => ("receipt", n, 0),
        };
        ledger_op(&app, lot, kind, dq, dr).await;
        balance.insert(lot, (on_hand + dq, reserved + dr));
        if step % 6 == 5 {
            let now: DateTime<Utc> = sqlx::query_scalar("select clock_timestamp()")
                .fetch_one(&app.pool)
                .await
                .expect("clock");
            snapshots.push((rfc3339(now), balance.clone()));
        }
    }
    let all_lots_with_movements: i64 =
        sqlx::query_scalar("select count(distinct lot_id) from stock_movements")
            .fetch_one(&app.pool)
            .await
            .expect("count");

    // Act / Assert: each instant equals the replay.
    for (at, expected) in &snapshots {
        let got = as_of(&app, &auditor, at).await;
        assert_eq!(got.len() as i64, all_lots_with_movements);
        for (lot, bal) in expected {
            assert_eq!(got.get(&lot.to_string()), Some(bal), "lot {lot} at {at}");
        }
    }
    // And now equals the live balances of every lot.
    let now = rfc3339(Utc::now());
    let got = as_of(&app, &auditor, &now).await;
    let live: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "select id, on_hand, reserved from stock_lots l
          where exists (select 1 from stock_movements m where m.lot_id = l.id)",
    )
    .fetch_all(&app.pool)
    .await
    .expect("live");
    assert_eq!(got.len(), live.len());
    for (id, on_hand, reserved) in live {
        assert_eq!(
            got.get(&id.to_string()),
            Some(&(on_hand, reserved)),
            "lot {id}"
        );
    }
    let (_, verified) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(verified["ok"], true, "{verified}");
}

// ---------------------------------------------------------------- every mutation is audited

/// A request that performs one mutation, built against a fresh demo app.
struct Built {
    /// The concrete path (ids filled in).
    path: String,
    /// The bearer token; `None` for unauthenticated operations (sign-in).
    token: Option<String>,
    /// The JSON body; a JSON string is sent as a CSV file instead (imports).
    body: Value,
    /// Whether a retry with the same `Idempotency-Key` replays instead of acting again.
    idempotent: bool,
}

type BuildFuture<'a> = Pin<Box<dyn Future<Output = Built> + 'a>>;

/// One mutating operation of the OpenAPI document and how to build a valid request for it.
struct MutationCase {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    method: &'static str,
    /// The path template exactly as in the OpenAPI document.
    path: &'static str,
    /// Builds the request (arranging whatever it needs directly in the database).
    build: for<'a> fn(&'a TestApp) -> BuildFuture<'a>,
}

const WH: &str = "JM-JH-RC";
const WH2: &str = "JM-PJ-01";
const TENT: &str = "TENT-12M2-SGL";

/// A usable lot at JM-JH-RC: available, with stock to spare and nothing reserved.
async fn usable_lot(app: &TestApp) -> (Uuid, String, i64) {
    sqlx::query_as(
        "select l.id, i.sku, l.on_hand from stock_lots l join items i on i.id = l.item_id
          where l.warehouse_id = (select id from warehouses where code = 'JM-JH-RC')
            and l.status = 'available' and l.on_hand - l.reserved > 10 and l.reserved = 0
            and (l.expires_on is null or l.expires_on > current_date + 60)
          order by l.id limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a usable lot")
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::now_v7().simple().to_string()[24..])
}

/// Arrangement through the API; panics when the arrangement itself fails.
async fn arrange(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let (status, out) = app.send(method, path, token, &body, None).await;
    assert!(
        (200..300).contains(&status),
        "arranging {path}: {status} {out}"
    );
    out
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("id in {v}"))
        .to_owned()
}

fn built(path: String, token: String, body: Value) -> Built {
    Built {
        path,
        token: Some(token),
        body,
        idempotent: true,
    }
}

async fn incident(app: &TestApp, dispatcher: &str) -> String {
    let out = arrange(
        app,
        reqwest::Method::POST,
        "/api/v1/incidents",
        dispatcher,
        json!({"name": "Typhoon, Xinhui", "kind": "typhoon",
               "point": {"lat": 22.46, "lon": 113.03}, "population": 50000}),
    )
    .await;
    id_of(&out)
}

/// An incident and a critical request for one tent; returns the request id.
async fn allocation_request(app: &TestApp, dispatcher: &str) -> String {
    let inc = incident(app, dispatcher).await;
    let out = arrange(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/incidents/{inc}/requests"),
        dispatcher,
        json!({"priority": "critical", "lines": [{"sku": TENT, "qty": 1}]}),
    )
    .await;
    id_of(&out)
}

/// A user with a known password, made through the API.
async fn api_user(app: &TestApp, role: &str, codes: &[&str]) -> String {
    let admin = app.token("admin", &[]).await;
    let username = unique_name("u");
    arrange(
        app,
        reqwest::Method::POST,
        "/api/v1/users",
        &admin,
        json!({"username": username, "role": role, "warehouses": codes,
               "password": "a long password"}),
    )
    .await;
    username
}

async fn m_preview(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let inc = incident(app, &d).await;
    built(
        "/api/v1/allocation/preview".into(),
        d,
        json!({"incident_id": inc, "priority": "critical", "lines": [{"sku": TENT, "qty": 1}]}),
    )
}

async fn m_login(app: &TestApp) -> Built {
    let username = api_user(app, "auditor", &[]).await;
    Built {
        path: "/api/v1/auth/login".into(),
        token: None,
        body: json!({"username": username, "password": "a long password"}),
        idempotent: false,
    }
}

async fn m_logout(app: &TestApp) -> Built {
    Built {
        path: "/api/v1/auth/logout".into(),
        token: Some(app.token("auditor", &[]).await),
        body: json!({}),
        idempotent: false,
    }
}

fn closure_body() -> Value {
    json!({"name": "Estuary closed", "reason": "typhoon signal 10", "edge_ids": ["hzmb-main"]})
}

async fn m_create_closure(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    built("/api/v1/closures".into(), d, closure_body())
}

async fn m_end_closure(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let c = arrange(
        app,
        reqwest::Method::POST,
        "/api/v1/closures",
        &d,
        closure_body(),
    )
    .await;
    built(format!("/api/v1/closures/{}", id_of(&c)), d, json!({}))
}

/// A count over the usable lot's SKU at JM-JH-RC: (clerk, count id, lot, on hand).
async fn open_count(app: &TestApp) -> (String, String, Uuid, i64) {
    let clerk = app.token("clerk", &[WH]).await;
    let (lot, sku, on_hand) = usable_lot(app).await;
    let c = arrange(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/warehouses/{WH}/counts"),
        &clerk,
        json!({"skus": [sku]}),
    )
    .await;
    (clerk, id_of(&c), lot, on_hand)
}

async fn m_count_lines(app: &TestApp) -> Built {
    let (clerk, id, lot, on_hand) = open_count(app).await;
    built(
        format!("/api/v1/counts/{id}/lines"),
        clerk,
        json!([{"lot_id": lot, "counted_qty": on_hand - 1}]),
    )
}

async fn m_post_count(app: &TestApp) -> Built {
    let (clerk, id, lot, on_hand) = open_count(app).await;
    arrange(
        app,
        reqwest::Method::PUT,
        &format!("/api/v1/counts/{id}/lines"),
        &clerk,
        json!([{"lot_id": lot, "counted_qty": on_hand - 1}]),
    )
    .await;
    built(
        format!("/api/v1/counts/{id}/post"),
        clerk,
        json!({"note": "audit test count"}),
    )
}

async fn m_cancel_count(app: &TestApp) -> Built {
    let (clerk, id, _, _) = open_count(app).await;
    built(
        format!("/api/v1/counts/{id}/cancel"),
        clerk,
        json!({"reason": "audit test: shelves being moved"}),
    )
}

async fn m_create_incident(app: &TestApp) -> Built {
    built(
        "/api/v1/incidents".into(),
        app.token("dispatcher", &[]).await,
        json!({"name": "Flood, Jiangmen", "kind": "flood",
               "point": {"lat": 22.46, "lon": 113.03}, "population": 1200}),
    )
}

async fn m_update_incident(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let inc = incident(app, &d).await;
    built(
        format!("/api/v1/incidents/{inc}"),
        d,
        json!({"name": "Typhoon, Xinhui (renamed)", "population": 60000}),
    )
}

async fn m_create_operation(app: &TestApp) -> Built {
    built(
        "/api/v1/operations".into(),
        app.token("dispatcher", &[]).await,
        json!({"name": "Typhoon Saola 2023, Jiangmen"}),
    )
}

async fn m_update_operation(app: &TestApp) -> Built {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into operations (id, name, created_by) values ($1, 'Drill', '00000000-0000-0000-0000-000000000001')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .expect("operation");
    built(
        format!("/api/v1/operations/{id}"),
        app.token("dispatcher", &[]).await,
        json!({"status": "closed"}),
    )
}

/// An operation with one incident and a round body asking one tent for it, critical.
async fn one_tent_round(app: &TestApp, dispatcher: &str) -> (String, Value) {
    let op = arrange(
        app,
        reqwest::Method::POST,
        "/api/v1/operations",
        dispatcher,
        json!({"name": "Typhoon drill"}),
    )
    .await;
    let op = id_of(&op);
    let inc = arrange(
        app,
        reqwest::Method::POST,
        "/api/v1/incidents",
        dispatcher,
        json!({"name": "Typhoon, Xinhui", "kind": "typhoon", "operation_id": op,
               "point": {"lat": 22.46, "lon": 113.03}, "population": 50000}),
    )
    .await;
    let inc = id_of(&inc);
    (
        op,
        json!({"demands": [{"incident_id": inc, "sku": TENT, "qty": 1, "priority": "critical"}]}),
    )
}

async fn m_ration(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let (op, body) = one_tent_round(app, &d).await;
    built(format!("/api/v1/operations/{op}/rationing"), d, body)
}

async fn m_ration_preview(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let (op, body) = one_tent_round(app, &d).await;
    built(
        format!("/api/v1/operations/{op}/rationing/preview"),
        d,
        body,
    )
}

/// Grid point 1's hand-crank lamps (which never expire) one short of their level: its
/// replenishment is one transfer of one lamp.
async fn one_lamp_short(app: &TestApp) -> Value {
    sqlx::query(
        "insert into reserve_levels (warehouse_id, item_id, min_qty)
         select w.id, i.id, coalesce((select sum(l.on_hand - l.reserved) from stock_lots l
                                       where l.warehouse_id = w.id and l.item_id = i.id
                                         and l.status = 'available'), 0) + 1
           from warehouses w, items i where w.code = 'JM-JH-G001' and i.sku = 'LAMP-HANDCRANK'
             on conflict (warehouse_id, item_id)
             do update set min_qty = excluded.min_qty, target_qty = null",
    )
    .execute(&app.pool)
    .await
    .expect("level");
    json!({"scope": {"warehouses": ["JM-JH-G001"], "skus": ["LAMP-HANDCRANK"]}})
}

async fn m_replenish(app: &TestApp) -> Built {
    let body = one_lamp_short(app).await;
    built(
        "/api/v1/replenishment".into(),
        app.token("admin", &[]).await,
        body,
    )
}

async fn m_replenish_preview(app: &TestApp) -> Built {
    let body = one_lamp_short(app).await;
    built(
        "/api/v1/replenishment/preview".into(),
        app.token("admin", &[]).await,
        body,
    )
}

async fn m_needs_estimate(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let inc = incident(app, &d).await;
    built(
        format!("/api/v1/incidents/{inc}/needs-estimate"),
        d,
        json!({"population": 3400, "days": 3}),
    )
}

async fn m_create_request(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let inc = incident(app, &d).await;
    built(
        format!("/api/v1/incidents/{inc}/requests"),
        d,
        json!({"priority": "critical", "lines": [{"sku": TENT, "qty": 1}]}),
    )
}

async fn m_quarantine(app: &TestApp) -> Built {
    let (lot, _, _) = usable_lot(app).await;
    built(
        format!("/api/v1/lots/{lot}/quarantine"),
        app.token("clerk", &[WH]).await,
        json!({"reason": "mould found"}),
    )
}

async fn m_release(app: &TestApp) -> Built {
    let clerk = app.token("clerk", &[WH]).await;
    let (lot, _, _) = usable_lot(app).await;
    arrange(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/lots/{lot}/quarantine"),
        &clerk,
        json!({"reason": "mould found"}),
    )
    .await;
    built(
        format!("/api/v1/lots/{lot}/release"),
        clerk,
        json!({"reason": "inspected, fine"}),
    )
}

async fn m_network(app: &TestApp) -> Built {
    built(
        "/api/v1/network".into(),
        app.token("admin", &[]).await,
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "a", "speed_kmh": 60, "trucks_allowed": true},
             "geometry": {"type": "LineString", "coordinates": [[113.0, 22.0], [113.1, 22.0]]}},
            {"type": "Feature", "properties": {"id": "b", "speed_kmh": 60, "trucks_allowed": true},
             "geometry": {"type": "LineString", "coordinates": [[113.1, 22.0], [113.2, 22.0]]}}]}),
    )
}

async fn m_cancel_request(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let id = allocation_request(app, &d).await;
    built(format!("/api/v1/requests/{id}/cancel"), d, json!({}))
}

async fn m_dispatch(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let id = allocation_request(app, &d).await;
    built(format!("/api/v1/requests/{id}/dispatch"), d, json!({}))
}

async fn m_replan(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let id = allocation_request(app, &d).await;
    built(format!("/api/v1/requests/{id}/replan"), d, json!({}))
}

async fn m_scan(app: &TestApp) -> Built {
    let expiry = (Utc::now() + chrono::Duration::days(100)).format("%y%m%d");
    built(
        "/api/v1/scans/decode".into(),
        app.token("clerk", &[WH]).await,
        json!({"scan": format!("]d2\u{1d}010697530101112017{expiry}10ABC\u{1d}3012")}),
    )
}

async fn m_deliver(app: &TestApp) -> Built {
    let d = app.token("dispatcher", &[]).await;
    let id = allocation_request(app, &d).await;
    let out = arrange(
        app,
        reqwest::Method::POST,
        &format!("/api/v1/requests/{id}/dispatch"),
        &d,
        json!({}),
    )
    .await;
    let sid = id_of(&out["shipments"][0]);
    built(
        format!("/api/v1/shipments/{sid}/deliver"),
        d,
        json!({"note": "arrived as shipped"}),
    )
}

fn transfer_body(lot: Uuid) -> Value {
    json!({"from": WH, "to": WH2, "lines": [{"lot_id": lot, "qty": 2}], "note": "resupply"})
}

async fn m_transfer(app: &TestApp) -> Built {
    let (lot, _, _) = usable_lot(app).await;
    built(
        "/api/v1/transfers".into(),
        app.token("clerk", &[WH]).await,
        transfer_body(lot),
    )
}

/// A transfer of two units sent from JM-JH-RC: (sender, transfer id, lot).
async fn sent_transfer(app: &TestApp) -> (String, String, Uuid) {
    let clerk = app.token("clerk", &[WH]).await;
    let (lot, _, _) = usable_lot(app).await;
    let t = arrange(
        app,
        reqwest::Method::POST,
        "/api/v1/transfers",
        &clerk,
        transfer_body(lot),
    )
    .await;
    (clerk, id_of(&t), lot)
}

async fn m_cancel_transfer(app: &TestApp) -> Built {
    let (clerk, id, _) = sent_transfer(app).await;
    built(
        format!("/api/v1/transfers/{id}/cancel"),
        clerk,
        json!({"note": "road closed"}),
    )
}

async fn m_receive_transfer(app: &TestApp) -> Built {
    let (_, id, lot) = sent_transfer(app).await;
    built(
        format!("/api/v1/transfers/{id}/receive"),
        app.token("clerk", &[WH2]).await,
        json!({"lines": [{"lot_id": lot, "received_qty": 2}], "note": "all there"}),
    )
}

async fn m_create_user(app: &TestApp) -> Built {
    built(
        "/api/v1/users".into(),
        app.token("admin", &[]).await,
        json!({"username": unique_name("mei"), "display_name": "Mei Chan", "role": "clerk",
               "warehouses": [WH], "password": "a long password"}),
    )
}

async fn m_update_user(app: &TestApp) -> Built {
    let username = api_user(app, "clerk", &[WH]).await;
    built(
        format!("/api/v1/users/{username}"),
        app.token("admin", &[]).await,
        json!({"display_name": "Renamed"}),
    )
}

async fn m_adjustment(app: &TestApp) -> Built {
    let (lot, _, _) = usable_lot(app).await;
    built(
        format!("/api/v1/warehouses/{WH}/adjustments"),
        app.token("clerk", &[WH]).await,
        json!({"lines": [{"lot_id": lot, "qty": 3, "reason": "found", "note": "behind pallet"}]}),
    )
}

async fn m_open_count(app: &TestApp) -> Built {
    built(
        format!("/api/v1/warehouses/{WH}/counts"),
        app.token("clerk", &[WH]).await,
        json!({"skus": [TENT]}),
    )
}

async fn m_issue(app: &TestApp) -> Built {
    let (lot, _, _) = usable_lot(app).await;
    built(
        format!("/api/v1/warehouses/{WH}/issues"),
        app.token("clerk", &[WH]).await,
        json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "shelter"}]}),
    )
}

async fn m_receipt(app: &TestApp) -> Built {
    built(
        format!("/api/v1/warehouses/{WH}/receipts"),
        app.token("clerk", &[WH]).await,
        json!({"lines": [{"sku": TENT, "lot_code": unique_name("AUD-"), "expires_on": null,
               "qty": 5, "source": "donor", "donor": "Bay Area Charity Fund", "note": "test"}]}),
    )
}

async fn m_create_item(app: &TestApp) -> Built {
    built(
        "/api/v1/items".into(),
        app.token("admin", &[]).await,
        json!({"sku": unique_name("KIT").to_uppercase(), "name_zh": "急救包", "name_en": "First-aid kit",
               "category_code": "1-01", "unit_zh": "个", "unit_en": "kit"}),
    )
}

async fn m_update_item(app: &TestApp) -> Built {
    built(
        format!("/api/v1/items/{TENT}"),
        app.token("admin", &[]).await,
        json!({"alert_days": 7}),
    )
}

async fn m_retire_item(app: &TestApp) -> Built {
    built(
        format!("/api/v1/items/{TENT}/retire"),
        app.token("admin", &[]).await,
        json!({"reason": "replaced"}),
    )
}

async fn m_reactivate_item(app: &TestApp) -> Built {
    sqlx::query("update items set status = 'retired' where sku = $1")
        .bind(TENT)
        .execute(&app.pool)
        .await
        .expect("retire");
    built(
        format!("/api/v1/items/{TENT}/reactivate"),
        app.token("admin", &[]).await,
        json!({}),
    )
}

async fn m_import(app: &TestApp) -> Built {
    let lot = unique_name("ob");
    built(
        "/api/v1/imports?kind=opening-stock".into(),
        app.token("admin", &[]).await,
        Value::String(format!("warehouse,sku,lot_code,qty\n{WH},{TENT},{lot},3\n")),
    )
}

async fn m_create_warehouse(app: &TestApp) -> Built {
    built(
        "/api/v1/warehouses".into(),
        app.token("admin", &[]).await,
        json!({"code": unique_name("ZH-C").to_uppercase(), "name_zh": "社区点", "name_en": "Community point",
               "city": "Zhuhai", "tier": "community", "lat": 22.27, "lon": 113.57}),
    )
}

async fn m_update_warehouse(app: &TestApp) -> Built {
    built(
        format!("/api/v1/warehouses/{WH2}"),
        app.token("admin", &[]).await,
        json!({"handling_minutes": 25}),
    )
}

async fn m_reserve_levels(app: &TestApp) -> Built {
    built(
        format!("/api/v1/warehouses/{WH}/reserve-levels"),
        app.token("admin", &[]).await,
        json!([{"sku": TENT, "min_qty": 3}]),
    )
}

/// EVERY mutating operation in the OpenAPI document must have an entry here: the test
/// below fails otherwise. Modules adding a mutation add a row, e.g.
/// `MutationCase { method: "POST", path: "/api/v1/receipts", build: |app| Box::pin(receipt(app)) }`.
const MUTATIONS: &[MutationCase] = &[
    MutationCase {
        method: "POST",
        path: "/api/v1/imports",
        build: |app| Box::pin(m_import(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/items",
        build: |app| Box::pin(m_create_item(app)),
    },
    MutationCase {
        method: "PATCH",
        path: "/api/v1/items/{sku}",
        build: |app| Box::pin(m_update_item(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/items/{sku}/reactivate",
        build: |app| Box::pin(m_reactivate_item(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/items/{sku}/retire",
        build: |app| Box::pin(m_retire_item(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/warehouses",
        build: |app| Box::pin(m_create_warehouse(app)),
    },
    MutationCase {
        method: "PATCH",
        path: "/api/v1/warehouses/{code}",
        build: |app| Box::pin(m_update_warehouse(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/allocation/preview",
        build: |app| Box::pin(m_preview(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/auth/login",
        build: |app| Box::pin(m_login(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/auth/logout",
        build: |app| Box::pin(m_logout(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/closures",
        build: |app| Box::pin(m_create_closure(app)),
    },
    MutationCase {
        method: "DELETE",
        path: "/api/v1/closures/{id}",
        build: |app| Box::pin(m_end_closure(app)),
    },
    MutationCase {
        method: "PUT",
        path: "/api/v1/counts/{id}/lines",
        build: |app| Box::pin(m_count_lines(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/counts/{id}/post",
        build: |app| Box::pin(m_post_count(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/counts/{id}/cancel",
        build: |app| Box::pin(m_cancel_count(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/incidents",
        build: |app| Box::pin(m_create_incident(app)),
    },
    MutationCase {
        method: "PATCH",
        path: "/api/v1/incidents/{id}",
        build: |app| Box::pin(m_update_incident(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/incidents/{id}/needs-estimate",
        build: |app| Box::pin(m_needs_estimate(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/incidents/{id}/requests",
        build: |app| Box::pin(m_create_request(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/lots/{id}/quarantine",
        build: |app| Box::pin(m_quarantine(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/lots/{id}/release",
        build: |app| Box::pin(m_release(app)),
    },
    MutationCase {
        method: "PUT",
        path: "/api/v1/network",
        build: |app| Box::pin(m_network(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/operations",
        build: |app| Box::pin(m_create_operation(app)),
    },
    MutationCase {
        method: "PATCH",
        path: "/api/v1/operations/{id}",
        build: |app| Box::pin(m_update_operation(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/operations/{id}/rationing",
        build: |app| Box::pin(m_ration(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/operations/{id}/rationing/preview",
        build: |app| Box::pin(m_ration_preview(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/replenishment",
        build: |app| Box::pin(m_replenish(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/replenishment/preview",
        build: |app| Box::pin(m_replenish_preview(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/requests/{id}/cancel",
        build: |app| Box::pin(m_cancel_request(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/requests/{id}/dispatch",
        build: |app| Box::pin(m_dispatch(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/requests/{id}/replan",
        build: |app| Box::pin(m_replan(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/scans/decode",
        build: |app| Box::pin(m_scan(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/shipments/{id}/deliver",
        build: |app| Box::pin(m_deliver(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/transfers",
        build: |app| Box::pin(m_transfer(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/transfers/{id}/cancel",
        build: |app| Box::pin(m_cancel_transfer(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/transfers/{id}/receive",
        build: |app| Box::pin(m_receive_transfer(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/users",
        build: |app| Box::pin(m_create_user(app)),
    },
    MutationCase {
        method: "PATCH",
        path: "/api/v1/users/{username}",
        build: |app| Box::pin(m_update_user(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/warehouses/{code}/adjustments",
        build: |app| Box::pin(m_adjustment(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/warehouses/{code}/counts",
        build: |app| Box::pin(m_open_count(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/warehouses/{code}/issues",
        build: |app| Box::pin(m_issue(app)),
    },
    MutationCase {
        method: "POST",
        path: "/api/v1/warehouses/{code}/receipts",
        build: |app| Box::pin(m_receipt(app)),
    },
    MutationCase {
        method: "PUT",
        path: "/api/v1/warehouses/{code}/reserve-levels",
        build: |app| Box::pin(m_reserve_levels(app)),
    },
];

/// Commands that write one object per unit of their answer, each with its own event,
/// and then their own: `(method, path, events the case's request writes)`. A committed
/// replenishment writes a `transfer.send` per transfer it creates and its
/// `replenishment.commit`; its case creates one transfer. A committed rationing round
/// writes an `allocation.request` per request it creates (or `allocation.replan` per
/// open request it fills) and its `rationing.commit`; its case creates one request.
const BATCHES: &[(&str, &str, i64)] = &[
    ("POST", "/api/v1/replenishment", 2),
    ("POST", "/api/v1/operations/{id}/rationing", 2),
];

/// POSTs that compute an answer and change nothing (a plan preview, a needs estimate, a
/// decoded scan): they must write NO audit event, and the test checks that too.
const CALCULATIONS: &[(&str, &str)] = &[
    ("POST", "/api/v1/allocation/preview"),
    ("POST", "/api/v1/replenishment/preview"),
    ("POST", "/api/v1/operations/{id}/rationing/preview"),
    ("POST", "/api/v1/incidents/{id}/needs-estimate"),
    ("POST", "/api/v1/scans/decode"),
];

fn mutating_operations() -> BTreeSet<(String, String)> {
    let spec: Value =
        serde_json::from_str(&stockpile::app::openapi_document()).expect("spec is JSON");
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_mutating_operation_leaves_exactly_one_audit_event() {
    // Arrange: the spec's mutations and the table must name the same operations.
    let ops = mutating_operations();
    let covered: BTreeSet<(String, String)> = MUTATIONS
        .iter()
        .map(|c| (c.method.to_owned(), c.path.to_owned()))
        .collect();
    let missing: Vec<_> = ops.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "mutating operations without an audit test case in MUTATIONS (tests/api/audit_trail.rs): {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&ops).collect();
    assert!(
        stale.is_empty(),
        "MUTATIONS names operations not in the spec: {stale:?}"
    );

    let mut failures: Vec<String> = Vec::new();
    for case in MUTATIONS {
        let op = format!("{} {}", case.method, case.path);
        let app = TestApp::demo().await;
        let built = (case.build)(&app).await;
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("method");
        let key = format!("audit-{}", Uuid::now_v7());
        let send = || {
            let mut req = app
                .client
                .request(method.clone(), app.url(&built.path))
                .header("Idempotency-Key", &key);
            req = match &built.body {
                Value::String(csv) => req.header("content-type", "text/csv").body(csv.clone()),
                body => req.json(body),
            };
            if let Some(t) = &built.token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let before = event_count(&app).await;

        // Act
        let res = send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();

        // Assert: it succeeded, wrote exactly one event, and the chain and ledger link hold.
        if !status.is_success() {
            failures.push(format!("{op}: {status} {text}"));
            app.release().await;
            continue;
        }
        let written = event_count(&app).await - before;
        let batch = BATCHES
            .iter()
            .find(|b| (b.0, b.1) == (case.method, case.path))
            .map(|b| b.2);
        let expected = if CALCULATIONS.contains(&(case.method, case.path)) {
            0
        } else {
            batch.unwrap_or(1)
        };
        if written != expected {
            let actions: Vec<String> =
                sqlx::query_scalar("select action from audit_events where seq > $1 order by seq")
                    .bind(before)
                    .fetch_all(&app.pool)
                    .await
                    .expect("new events");
            failures.push(format!(
                "{op} must write exactly {expected} audit event(s), wrote {written}: {actions:?}"
            ));
        }
        if built.idempotent {
            let again = send().await.expect("retry");
            let again_status = again.status();
            let after = event_count(&app).await;
            if !again_status.is_success() {
                failures.push(format!("{op}: the retry answered {again_status}"));
            } else if after != before + written {
                failures.push(format!(
                    "{op}: a replayed retry wrote {} more event(s)",
                    after - before - written
                ));
            }
        }
        let outcome = audit::db::verify(&app.pool).await.expect("verify");
        if !outcome.ok {
            failures.push(format!("{op}: {outcome:?}"));
        }
        // One app per operation: give its connections back before the next.
        app.release().await;
    }
    assert!(
        failures.is_empty(),
        "{} operation(s) broke the audit rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------- requests export

#[tokio::test]
async fn the_requests_export_shows_requested_reserved_dispatched_and_delivered_per_incident() {
    // Arrange: two incidents; one request dispatched and delivered, one only reserved.
    let app = TestApp::demo().await;
    let d = app.token("dispatcher", &[]).await;
    let auditor = app.token("auditor", &[]).await;
    let inc = incident(&app, &d).await;
    let other = incident(&app, &d).await;
    let delivered = arrange(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/incidents/{inc}/requests"),
        &d,
        json!({"priority": "critical", "lines": [{"sku": TENT, "qty": 3}]}),
    )
    .await;
    let rid = id_of(&delivered);
    let shipped = arrange(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/requests/{rid}/dispatch"),
        &d,
        json!({}),
    )
    .await;
    for s in shipped["shipments"].as_array().expect("shipments") {
        let sid = id_of(s);
        arrange(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/shipments/{sid}/deliver"),
            &d,
            json!({"note": "arrived as shipped"}),
        )
        .await;
    }
    arrange(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/incidents/{other}/requests"),
        &d,
        json!({"priority": "critical", "lines": [{"sku": TENT, "qty": 2}]}),
    )
    .await;

    // Act
    let (status, headers, body) = fetch(
        &app,
        &format!("/api/v1/exports/requests?incident={inc}&format=jsonl"),
        &auditor,
    )
    .await;
    let (_, _, all) = fetch(&app, "/api/v1/exports/requests?format=jsonl", &auditor).await;
    let (bad, _, problem) = fetch(
        &app,
        &format!("/api/v1/exports/requests?incident={}", Uuid::now_v7()),
        &auditor,
    )
    .await;

    // Assert: one line for the incident asked for, with every stage's quantity.
    assert_eq!(status, 200);
    assert!(!header(&headers, "x-audit-last-hash").is_empty());
    let (rows, manifest) = jsonl(&body);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["incident_id"], inc.as_str());
    assert_eq!(row["request_id"], rid.as_str());
    assert_eq!(row["sku"], TENT);
    assert_eq!(row["requested"], 3);
    assert_eq!(row["dispatched"], 3);
    assert_eq!(row["delivered"], 3);
    assert_eq!(manifest["rows"], 1, "{manifest}");
    let (all_rows, _) = jsonl(&all);
    assert_eq!(all_rows.len(), 2, "both incidents without a filter");
    let reserved_only = all_rows
        .iter()
        .find(|r| r["incident_id"] == other.as_str())
        .expect("the other incident's line");
    assert_eq!(reserved_only["reserved"], 2);
    assert_eq!(reserved_only["dispatched"], 0);
    assert_eq!(bad, 400, "{}", String::from_utf8_lossy(&problem));
}

#[tokio::test]
async fn an_events_json_fills_every_column_of_the_pending_row_and_names_no_other() {
    // Arrange: the event's one jsonb value, as every statement that records one binds it.
    let app = TestApp::empty().await;
    let origin = Origin {
        request_id: Some("req-1".into()),
        idempotency_key: Some("key-1".into()),
    };
    let event = audit::db::pending_event(&Actor::system(), &origin, event_change());
    let value = event.pending_json();
    let keys: BTreeSet<String> = value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();

    // Within a request, the value also names the request's ticket (whose answer waits
    // for the event: `audit::chain`).
    let chain = audit::chain::Chain::new(std::time::Duration::from_secs(1));
    let ticket = chain.ticket(&app.pool).await;
    let (in_request, _) = audit::chain::watch_recording(
        async {
            audit::db::pending_event(&Actor::system(), &origin, event_change()).pending_json()
        },
        &ticket,
    )
    .await;
    let in_request_keys: BTreeSet<String> = in_request
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();

    // Act: the columns the expansion trigger fills (all but the row's own id, the
    // `event` column it empties and the writer's transaction id, which the database
    // fills in).
    let columns: BTreeSet<String> = sqlx::query_scalar::<_, String>(
        "select column_name::text from information_schema.columns
          where table_name = 'audit_pending' and column_name not in ('id', 'event', 'xact_id')",
    )
    .fetch_all(&app.pool)
    .await
    .expect("columns")
    .into_iter()
    .collect();

    // Assert: the same names, so no column is silently left null and no key is dropped
    // (the ticket only within a request); and a row stored from the value reads back as
    // the event it came from.
    assert_eq!(in_request_keys, columns);
    assert_eq!(
        keys,
        columns.iter().filter(|c| *c != "ticket").cloned().collect()
    );
    let mut tx = app.pool.begin().await.expect("begin");
    audit::db::record(&mut tx, &Actor::system(), &origin, event_change())
        .await
        .expect("record");
    let row: PendingRow = sqlx::query_as(
        "select action, entity_id, request_id, idempotency_key, before, after, event
               from audit_pending order by id desc limit 1",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("pending row");
    assert_eq!(
        row,
        (
            "test.event".to_owned(),
            "t1".to_owned(),
            Some("req-1".to_owned()),
            Some("key-1".to_owned()),
            Some(json!({ "a": 1 })),
            Some(json!({ "a": 2 })),
            None
        )
    );
    tx.rollback().await.expect("rollback");
}

/// What the test above reads back of a pending row: action, entity id, request id, key,
/// before, after, and the `event` column the trigger empties.
type PendingRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<Value>,
    Option<Value>,
    Option<Value>,
);

/// The change the test above records.
fn event_change() -> Change<'static> {
    Change {
        action: "test.event",
        entity_kind: "test",
        entity_id: "t1".into(),
        before: Some(json!({ "a": 1 })),
        after: Some(json!({ "a": 2 })),
    }
}
