//! Admin go-live flow: import an opening-stock sheet with two bad rows, see them named by
//! row and column, fix them, import, and a clerk sees the lots.

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, api_has, open_as};

/// A 50-row opening-stock sheet of `sku` at the Jianghai centre; with `bad`, row 7 names
/// an unknown warehouse and row 31 has quantity 0.
fn sheet(sku: &str, bad: bool) -> String {
    let mut s = String::from("仓库编码,物资编码,批号,有效期至,数量\n");
    for i in 0..50 {
        let row = i + 2;
        let wh = if bad && row == 7 {
            "JM-NOWHERE"
        } else {
            "JM-JH-RC"
        };
        let qty = if bad && row == 31 { 0 } else { 5 };
        s.push_str(&format!("{wh},{sku},GL-{i:02},2030-06-01,{qty}\n"));
    }
    s
}

#[tokio::test]
async fn an_admin_imports_opening_stock_fixes_two_bad_rows_and_a_clerk_sees_the_lots() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("admin-import").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/imports", "/api/v1/items"], 19).await {
        return;
    }
    // Arrange: a new item, and the sheet in two versions on disk.
    let sku = "E2E-GOLIVE-KIT";
    sqlx::query(
        "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, shelf_life_days)
         values (gen_random_uuid(), $1, '上线急救包', 'Go-live kit', '1-01', '个', 'kit', 720)",
    )
    .bind(sku)
    .execute(&app.pool)
    .await
    .expect("item");
    let dir = std::env::temp_dir().join(format!("stockpile-e2e-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("lots-bad.csv");
    let good = dir.join("lots.csv");
    std::fs::write(&bad, sheet(sku, true)).expect("bad sheet");
    std::fs::write(&good, sheet(sku, false)).expect("good sheet");
    open_as(&b, &app, "admin", &[], "#/import").await;

    // Act 1: check the sheet with two bad rows.
    b.el("#imp-file")
        .await
        .send_keys(&bad.to_string_lossy())
        .await
        .expect("choose the file");
    b.click("#imp-check").await;
    let rows = b
        .until(
            "the bad cells",
            "document.querySelectorAll('.imp-errors tbody tr').length === 2 && [...document.querySelectorAll('.imp-errors tbody tr')].map(r => r.cells[0].innerText + ' ' + r.cells[2].innerText).join('; ')",
            30,
        )
        .await;
    b.screenshot("admin-import-errors").await;
    let written: i64 =
        sqlx::query_scalar("select count(*) from stock_lots where lot_code like 'GL-%'")
            .fetch_one(&app.pool)
            .await
            .expect("count");

    // Act 2: the fixed sheet, checked, then imported.
    b.el("#imp-file")
        .await
        .send_keys(&good.to_string_lossy())
        .await
        .expect("choose the fixed file");
    b.click("#imp-check").await;
    b.until("a clean check", "document.getElementById('imp-clean')", 30)
        .await;
    b.click("#imp-commit").await;
    let created = b
        .until(
            "the import",
            "document.getElementById('imp-commit').disabled && !document.getElementById('imp-clean') && document.getElementById('imp-created')?.innerText",
            60,
        )
        .await;
    b.screenshot("admin-import-done").await;

    // Act 3: a clerk of the centre looks for the item's stock.
    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/stock").await;
    b.el("#stock-sku")
        .await
        .select_by_value(sku)
        .await
        .expect("pick the item");
    b.click("#stock-search").await;
    let seen = b
        .until(
            "the imported lots",
            "document.querySelector('#stock-result table')?.innerText.includes('GL-49') && document.querySelector('#stock-result table').innerText",
            30,
        )
        .await;
    b.screenshot("admin-import-clerk-sees").await;
    b.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    // Assert
    assert_eq!(
        rows.as_str(),
        Some("7 仓库编码; 31 数量"),
        "the bad rows, by row and column"
    );
    assert_eq!(written, 0, "a refused sheet writes nothing");
    assert_eq!(created.as_str(), Some("50"));
    let text = seen.as_str().unwrap_or("");
    assert!(text.contains("GL-00"), "{text}");
}

#[tokio::test]
async fn an_admin_creates_an_item_sees_a_bad_gtin_beside_its_field_and_retires_the_item() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("admin-items").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/items", "/api/v1/items/{sku}/retire"], 19).await {
        return;
    }
    open_as(&b, &app, "admin", &[], "#/items").await;
    b.until(
        "the items table",
        "document.querySelector('#items-table table')",
        20,
    )
    .await;

    // Act 1: a new item with a GTIN whose check digit is wrong.
    for (css, text) in [
        ("#it-sku", "E2E-LAMP"),
        ("#it-name-zh", "头灯"),
        ("#it-name-en", "Head lamp"),
        ("#it-unit-zh", "个"),
        ("#it-unit-en", "piece"),
        ("#it-gtins", "06975301011121"),
    ] {
        b.type_into(css, text).await;
    }
    b.click("#it-save").await;
    let beside = b
        .until(
            "the GTIN error",
            "document.querySelector('#it-gtins')?.closest('.field')?.querySelector('.field-error')?.innerText",
            20,
        )
        .await;
    b.screenshot("admin-items-bad-gtin").await;

    // Act 2: the right check digit, saved; then retired from the list.
    b.js("document.getElementById('it-gtins').value = '06975301011212'")
        .await;
    b.click("#it-save").await;
    b.until(
        "the saved item",
        "document.querySelector('tr[data-sku=\"E2E-LAMP\"]')",
        20,
    )
    .await;
    b.click("button[data-toggle=\"E2E-LAMP\"]").await;
    let status = b
        .until(
            "the retired item",
            "document.querySelector('tr[data-sku=\"E2E-LAMP\"].muted')?.cells[5].innerText",
            20,
        )
        .await;
    b.screenshot("admin-items-retired").await;
    b.close().await;

    // Assert
    assert!(
        beside.as_str().unwrap_or("").contains("check digit"),
        "{beside}"
    );
    assert_eq!(status.as_str(), Some("retired"));
    let stored: (String, Option<String>) =
        sqlx::query_as("select status, gtin from items where sku = 'E2E-LAMP'")
            .fetch_one(&app.pool)
            .await
            .expect("item");
    assert_eq!(
        stored,
        ("retired".to_owned(), Some("06975301011212".to_owned()))
    );
}
