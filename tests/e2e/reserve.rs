//! Reserve screens: an admin reads readiness on the map and in the table, previews and
//! commits a replenishment, and reads the rotation calendar; a clerk sends a lot's
//! proposed rotation transfer in one click, after a clerk of another warehouse is refused.

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, api_has, open_as, say};

const NEEDS: [&str; 4] = [
    "/api/v1/readiness",
    "/api/v1/rotation",
    "/api/v1/replenishment/preview",
    "/api/v1/replenishment",
];

async fn in_transit(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from transfers where status = 'in_transit'")
        .fetch_one(&app.pool)
        .await
        .expect("transfers in transit")
}

#[tokio::test]
async fn an_admin_reads_readiness_commits_a_replenishment_and_reads_the_rotation_calendar() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("reserve readiness").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &NEEDS, 20).await {
        return;
    }
    let active: i64 = sqlx::query_scalar("select count(*) from warehouses where status = 'active'")
        .fetch_one(&app.pool)
        .await
        .expect("active warehouses");
    let before = in_transit(&app).await;

    // Act 1: readiness on the map, the scores and the table.
    open_as(&b, &app, "admin", &[], "#/readiness").await;
    let markers = b
        .until(
            "the readiness map with its warehouses",
            "document.querySelector('#readiness-map[data-ready]')?.dataset.markers",
            30,
        )
        .await;
    let rows = b
        .js("document.querySelectorAll('#rd-table tbody tr').length")
        .await;
    let legend: Vec<String> = serde_json::from_value(
        b.js("[...document.querySelectorAll('#rd-legend [data-band]')].map(e => e.textContent)")
            .await,
    )
    .expect("legend rows");
    let network = b
        .js("document.getElementById('rd-network').innerText")
        .await;
    b.screenshot("admin-readiness").await;
    // Sorting by code puts the alphabetically first warehouse on top.
    b.click("#rd-table thead th button").await;
    let first_row = b
        .until(
            "the table sorted by code",
            "document.querySelector('#rd-table thead th[aria-sort=ascending]') && document.querySelector('#rd-table tbody tr').dataset.warehouse",
            10,
        )
        .await;
    let first_code: String = sqlx::query_scalar(
        "select min(code collate \"C\") from warehouses where status = 'active'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("first code");

    // Act 2: preview the whole network's replenishment, then commit it.
    b.click("#rp-preview").await;
    b.until(
        "the preview",
        "document.querySelector('#rp-summary') && !document.querySelector('#rp-commit').disabled",
        90,
    )
    .await;
    let planned = b
        .js("Number(document.querySelector('#rp-summary [data-k=transfers]').textContent.replace(/\\D/g, ''))")
        .await;
    let shown = b
        .js("document.querySelectorAll('#rp-transfers tbody tr').length")
        .await;
    b.js("document.getElementById('rp-form').scrollIntoView() || true")
        .await;
    b.screenshot("admin-replenishment-preview").await;
    b.click("#rp-commit").await;
    let created = b
        .until(
            "the created transfers",
            "document.querySelectorAll('#rp-created tbody tr').length",
            90,
        )
        .await;
    let replanned = b.js("!!document.getElementById('rp-replanned')").await;
    let committed = b
        .js("document.getElementById('rp-committed').textContent")
        .await;
    b.screenshot("admin-replenishment-committed").await;

    // Act 3: the rotation calendar over a year.
    b.client
        .goto(&app.url("/#/rotation"))
        .await
        .expect("rotation screen");
    b.until(
        "the calendar",
        "document.querySelectorAll('#rot-calendar table th[data-month]').length",
        60,
    )
    .await;
    b.click("#rot-w-365").await;
    let months = b
        .until(
            "a year of months",
            "document.getElementById('rot-w-365').getAttribute('aria-pressed') === 'true' && !document.querySelector('#rot-status .spinner') && document.querySelectorAll('#rot-calendar table th[data-month]').length >= 12 && document.querySelectorAll('#rot-calendar table th[data-month]').length",
            60,
        )
        .await;
    let calendar_rows = b
        .js("document.querySelectorAll('#rot-calendar tbody tr').length")
        .await;
    let saved = b
        .js("document.querySelector('#rot-saved .stat-n').textContent")
        .await;
    b.screenshot("admin-rotation").await;

    // Assert: one dot and one row per active warehouse, every warehouse in one legend
    // band; the transfers previewed are the ones written, in transit, with one commit
    // event; the calendar spans the year.
    assert_eq!(markers, Value::String(active.to_string()), "map markers");
    assert_eq!(rows, serde_json::json!(active), "table rows");
    assert_eq!(legend.len(), 5, "{legend:?}");
    let banded: i64 = legend
        .iter()
        .map(|l| {
            l.rsplit('(')
                .next()
                .and_then(|n| n.trim_end_matches(')').parse::<i64>().ok())
                .unwrap_or(-1)
        })
        .sum();
    assert_eq!(banded, active, "legend counts: {legend:?}");
    assert!(
        network.as_str().unwrap_or_default().contains("levels met"),
        "{network}"
    );
    assert_eq!(first_row, Value::String(first_code));
    let planned = planned.as_i64().unwrap_or(0);
    assert!(planned > 0, "the demo network has levels to refill");
    assert_eq!(shown.as_i64(), Some(planned.min(200)), "transfers listed");
    assert_eq!(created.as_i64(), Some(planned), "{committed}");
    assert_eq!(
        replanned, false,
        "nothing changed between preview and commit"
    );
    assert_eq!(in_transit(&app).await, before + planned);
    let commits: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where action = 'replenishment.commit'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("audit events");
    assert_eq!(commits, 1);
    assert!(months.as_i64().unwrap_or(0) >= 12, "{months}");
    assert!(calendar_rows.as_i64().unwrap_or(0) > 0, "calendar rows");
    assert_ne!(saved, Value::Null);
    let errors = b.js("window.stockpileErrors").await;
    assert_eq!(errors, serde_json::json!([]), "script errors");
    b.close().await;
}

#[tokio::test]
async fn a_clerk_sends_a_proposed_rotation_transfer_in_one_click_after_another_clerk_is_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("rotation transfer").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &NEEDS, 20).await {
        return;
    }
    let admin = app.token("admin", &[]).await;
    let (status, plan) = app.get("/api/v1/rotation?within_days=365", &admin).await;
    assert_eq!(status, 200, "{plan}");
    let Some(lot) = plan["lots"]
        .as_array()
        .expect("lots")
        .iter()
        .find(|l| l["action"]["kind"] == "transfer")
        .cloned()
    else {
        say("SKIPPED: the demo rotation plan proposes no transfer");
        return;
    };
    let lot_id = lot["lot_id"].as_str().expect("lot id").to_owned();
    let from = lot["warehouse_code"].as_str().expect("source").to_owned();
    let to = lot["action"]["to_code"]
        .as_str()
        .expect("destination")
        .to_owned();
    let qty = lot["action"]["qty"].as_i64().expect("qty");
    let button = format!("#rot-send-{lot_id}");
    let row = format!("#rot-lots tr[data-lot=\"{lot_id}\"]");

    // Act 1: a clerk of the destination, looking at the source's transfers, tries it.
    open_as(&b, &app, "clerk", &[&to], "#/rotation").await;
    b.el("#rot-w-365").await.click().await.expect("window");
    b.el("#rot-wh")
        .await
        .select_by_value(&from)
        .await
        .expect("the source warehouse");
    b.el("#rot-action")
        .await
        .select_by_value("transfer")
        .await
        .expect("transfers only");
    b.until("the lot's button", &format!("document.querySelector('{button}') && document.getElementById('rot-w-365').getAttribute('aria-pressed') === 'true' && !document.querySelector('#rot-status .spinner')"), 60)
        .await;
    b.click(&button).await;
    let refused = b
        .until(
            "the refusal",
            &format!("document.querySelector('{row} .form-error')?.textContent"),
            30,
        )
        .await;
    b.screenshot("clerk-rotation-refused").await;

    // Act 2: a clerk of the source sends it from their own warehouses' view.
    open_as(&b, &app, "clerk", &[&from], "#/rotation").await;
    b.el("#rot-w-365").await.click().await.expect("window");
    b.el("#rot-action")
        .await
        .select_by_value("transfer")
        .await
        .expect("transfers only");
    b.until("the lot's button", &format!("document.querySelector('{button}') && document.getElementById('rot-w-365').getAttribute('aria-pressed') === 'true' && !document.querySelector('#rot-status .spinner')"), 60)
        .await;
    b.click(&button).await;
    let sent = b
        .until(
            "the transfer sent",
            &format!("document.querySelector('{row} [data-transfer]')?.dataset.transfer"),
            30,
        )
        .await;
    b.screenshot("clerk-rotation-sent").await;

    // Assert: refused with the service's reason, then one transfer of the lot's proposed
    // quantity, in transit from its warehouse to the proposed one.
    let refused = refused.as_str().unwrap_or_default();
    assert!(
        refused.starts_with("403") && refused.contains(&from),
        "{refused}"
    );
    let id = sent.as_str().expect("transfer id");
    let (src, dst, status, sent_qty, note): (String, String, String, i64, Option<String>) =
        sqlx::query_as(
            "select f.code, d.code, t.status, (select sum(qty) from transfer_lines l where l.transfer_id = t.id)::int8, t.note
               from transfers t join warehouses f on f.id = t.from_warehouse_id join warehouses d on d.id = t.to_warehouse_id
              where t.id = $1::uuid",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("the transfer");
    assert_eq!((src, dst), (from, to));
    assert_eq!(status, "in_transit");
    assert_eq!(sent_qty, qty);
    assert_eq!(note.as_deref(), Some("rotation"));
    let transfers: i64 = sqlx::query_scalar("select count(*) from transfers")
        .fetch_one(&app.pool)
        .await
        .expect("transfers");
    assert_eq!(transfers, 1, "the refused attempt wrote nothing");
    b.close().await;
}
