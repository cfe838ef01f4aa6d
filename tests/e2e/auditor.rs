//! Auditor flow: verify the chain, download a CSV export and check the file.

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, api_has, open_as};

#[tokio::test]
async fn an_auditor_verifies_the_chain_and_downloads_a_csv_export_that_matches_the_ledger() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("auditor").await else {
        return;
    };
    let app = TestApp::demo().await;
    let needs = [
        "/api/v1/audit/verify",
        "/api/v1/audit/events",
        "/api/v1/exports/movements",
    ];
    if !api_has(&app, &needs, 6).await {
        return;
    }
    let movements: i64 = sqlx::query_scalar("select count(*) from stock_movements")
        .fetch_one(&app.pool)
        .await
        .expect("count movements");
    open_as(&b, &app, "auditor", &[], "#/audit").await;

    // Act 1: verify the chain.
    b.until(
        "the events table",
        "document.querySelector('#events-result table.events')",
        20,
    )
    .await;
    b.click("#verify").await;
    let verdict = b
        .until(
            "the verdict",
            "document.getElementById('verify-ok')?.textContent",
            60,
        )
        .await;
    let checked = b
        .js("document.getElementById('verify-count').textContent")
        .await;
    b.screenshot("auditor-events").await;

    // Act 2: download all movements as CSV, with the HXL row.
    b.client
        .goto(&app.url("/#/exports"))
        .await
        .expect("exports screen");
    b.el("#ex-kind")
        .await
        .select_by_value("movements")
        .await
        .expect("kind");
    b.el("#ex-format")
        .await
        .select_by_value("csv")
        .await
        .expect("format");
    b.click("#ex-hxl").await;
    b.click("#ex-submit").await;
    b.until(
        "the download confirmation",
        "document.querySelector('#ex-result .form-ok')",
        60,
    )
    .await;
    let file = b.download(".csv", 30).await;
    b.screenshot("auditor-exports").await;
    let text = std::fs::read_to_string(&file).expect("read the CSV");
    // And the same as a workbook: an xlsx file is a ZIP archive.
    b.el("#ex-format")
        .await
        .select_by_value("xlsx")
        .await
        .expect("xlsx");
    b.click("#ex-submit").await;
    let xlsx = b.download(".xlsx", 60).await;
    let magic = std::fs::read(&xlsx).expect("read the xlsx");

    // Assert: the chain is intact, and the file has a header, the HXL row, one row per
    // movement, and a trailing manifest line.
    assert!(
        verdict
            .as_str()
            .unwrap_or_default()
            .contains("Chain intact"),
        "{verdict}"
    );
    assert_ne!(checked, "0");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].contains("sku") || lines[0].contains("lot"),
        "header: {}",
        lines[0]
    );
    assert!(lines[1].starts_with('#'), "HXL row: {}", lines[1]);
    let manifest = lines.last().expect("a last line");
    assert!(
        manifest.to_lowercase().contains("manifest") || manifest.contains("seq"),
        "manifest: {manifest}"
    );
    let data_rows = lines.len() as i64 - 3;
    assert_eq!(data_rows, movements, "one row per ledger movement");
    assert_eq!(&magic[..2], b"PK", "the xlsx is a ZIP archive");
    b.close().await;
}

#[tokio::test]
async fn an_auditor_sees_stock_as_of_now_equal_to_the_live_balances() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("stock as of").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/exports/stock-as-of"], 6).await {
        return;
    }
    // A receipt booked just before the page opens, most likely within the same second:
    // "as of now" must include it (a time rounded down to the second would not).
    let clerk = app.token("clerk", &["JM-JH-RC"]).await;
    let (status, receipt) = app
        .post(
            "/api/v1/warehouses/JM-JH-RC/receipts",
            &clerk,
            &serde_json::json!({"lines": [{"sku": "TENT-12M2-SGL", "lot_code": "ASOF-JUST-NOW", "qty": 5}]}),
        )
        .await;
    assert_eq!(status, 201, "{receipt}");
    let lots: i64 = sqlx::query_scalar("select count(*) from stock_lots")
        .fetch_one(&app.pool)
        .await
        .expect("count lots");
    open_as(&b, &app, "auditor", &[], "#/asof").await;

    b.click("#asof-submit").await;
    let count = b
        .until(
            "the rows",
            "document.getElementById('asof-count')?.textContent",
            60,
        )
        .await;
    b.screenshot("auditor-stock-as-of").await;

    assert!(
        count
            .as_str()
            .unwrap_or_default()
            .contains(&lots.to_string()),
        "{count} vs {lots} lots"
    );
    b.close().await;
}

#[tokio::test]
async fn the_stock_summary_by_city_totals_the_lot_balances() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("summary").await else {
        return;
    };
    let app = TestApp::demo().await;
    let on_hand: i64 = sqlx::query_scalar("select sum(on_hand)::bigint from stock_lots")
        .fetch_one(&app.pool)
        .await
        .expect("sum");
    open_as(&b, &app, "auditor", &[], "#/stock").await;
    b.until(
        "the stock table",
        "document.querySelector('#stock-result table')",
        20,
    )
    .await;

    b.el("#stock-mode")
        .await
        .select_by_value("summary:city")
        .await
        .expect("summary");
    let total = b
        .until(
            "the totals row",
            "document.querySelector('table.summary tr.total td')?.textContent",
            20,
        )
        .await;
    let cities = b
        .js("document.querySelectorAll('table.summary tbody tr:not(.total)').length")
        .await;
    b.screenshot("auditor-stock-summary-city").await;

    let shown: i64 = total
        .as_str()
        .unwrap_or_default()
        .replace(',', "")
        .parse()
        .expect("a number");
    assert_eq!(shown, on_hand, "on hand total");
    assert_eq!(cities, 11, "the 11 GBA cities");
    b.close().await;
}
