//! Admin go-live flow: import an opening-stock sheet with two bad rows, see them named by
//! row and column, fix them, import, and a clerk sees the lots.

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, api_has, open_as, sign_in};

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

#[tokio::test]
async fn an_admin_creates_a_clerk_of_a_warehouse_resets_the_password_and_the_clerk_signs_in_with_it()
 {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("admin-users").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/users", "/api/v1/users/{username}"], 19).await {
        return;
    }
    let (username, first, second) = ("e2e-new-clerk", "first-pass-1234", "second-pass-5678");
    open_as(&b, &app, "admin", &[], "#/users").await;
    b.until(
        "the users table",
        "document.querySelector('#users-table table')",
        20,
    )
    .await;

    // Act 1: a new clerk of the Jianghai centre, with an initial password.
    b.type_into("#us-username", username).await;
    b.type_into("#us-display", "新仓管员").await;
    b.el("#us-role")
        .await
        .select_by_value("clerk")
        .await
        .expect("choose the role");
    b.click("#us-warehouses option[value=\"JM-JH-RC\"]").await;
    b.type_into("#us-password", first).await;
    b.click("#us-save").await;
    let row = b
        .until(
            "the new clerk in the list",
            &format!("document.querySelector('tr[data-username=\"{username}\"]')?.innerText"),
            20,
        )
        .await;
    b.screenshot("admin-users-created").await;

    // Act 2: reset the password from the user's edit form.
    b.click(&format!("button[data-edit=\"{username}\"]")).await;
    b.until(
        "the reset form",
        "!document.getElementById('reset-form').hidden",
        10,
    )
    .await;
    b.type_into("#us-new-password", second).await;
    b.click("#us-reset").await;
    let reset = b
        .until(
            "the reset",
            "document.querySelector('#reset-form .form-ok')?.innerText",
            20,
        )
        .await;
    b.screenshot("admin-users-reset").await;
    let old_password = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": username, "password": first}))
        .send()
        .await
        .expect("sign in with the first password")
        .status()
        .as_u16();

    // Act 3: the clerk signs in with the new password.
    b.js("sessionStorage.clear()").await;
    sign_in(&b, &app, username, second).await;
    let nav = b
        .js("[...document.querySelectorAll('#nav a')].map(a => a.dataset.route)")
        .await;
    let who = b.js("document.getElementById('who').innerText").await;
    b.screenshot("admin-users-clerk-signed-in").await;
    b.close().await;

    // Assert
    let row = row.as_str().unwrap_or_default();
    assert!(
        row.contains("JM-JH-RC") && row.contains("新仓管员"),
        "{row}"
    );
    assert!(
        reset.as_str().is_some_and(|r| r.contains(username)),
        "{reset}"
    );
    assert_eq!(old_password, 401, "the first password no longer works");
    let nav: Vec<String> = serde_json::from_value(nav).expect("routes");
    assert!(nav.iter().any(|r| r == "receive"), "{nav:?}");
    assert!(!nav.iter().any(|r| r == "users"), "{nav:?}");
    assert!(
        who.as_str().unwrap_or_default().contains("新仓管员"),
        "{who}"
    );
    let assigned: Vec<String> = sqlx::query_scalar(
        "select w.code from user_warehouses uw join users u on u.id = uw.user_id
           join warehouses w on w.id = uw.warehouse_id where u.username = $1",
    )
    .bind(username)
    .fetch_all(&app.pool)
    .await
    .expect("assignment");
    assert_eq!(assigned, vec!["JM-JH-RC".to_owned()]);
}

/// A three-edge network along latitude 22.5; with `bad`, edge 1 has a negative speed.
fn road_network(bad: bool) -> String {
    let speed = if bad { -5 } else { 50 };
    serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "e2e-a", "speed_kmh": 50, "trucks_allowed": true},
         "geometry": {"type": "LineString", "coordinates": [[113.0, 22.5], [113.1, 22.5]]}},
        {"type": "Feature", "properties": {"id": "e2e-bad", "speed_kmh": speed, "trucks_allowed": true},
         "geometry": {"type": "LineString", "coordinates": [[113.1, 22.5], [113.2, 22.5]]}},
        {"type": "Feature", "properties": {"id": "e2e-c", "speed_kmh": 50, "trucks_allowed": false},
         "geometry": {"type": "LineString", "coordinates": [[113.2, 22.5], [113.3, 22.5]]}}]})
    .to_string()
}

#[tokio::test]
async fn an_admin_uploads_a_road_network_with_a_bad_edge_and_sees_the_error_row_of_that_edge() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("admin-network").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/network"], 19).await {
        return;
    }
    let dir = std::env::temp_dir().join(format!("stockpile-e2e-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (bad, good) = (dir.join("bad.geojson"), dir.join("good.geojson"));
    std::fs::write(&bad, road_network(true)).expect("bad file");
    std::fs::write(&good, road_network(false)).expect("good file");
    let versions = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from road_networks")
            .fetch_one(&app.pool)
            .await
            .expect("count")
    };
    open_as(&b, &app, "admin", &[], "#/network").await;
    b.until(
        "the network in use",
        "document.getElementById('net-edge-count')",
        30,
    )
    .await;
    let before = versions().await;

    // Act 1: the file with a bad edge.
    b.el("#net-file")
        .await
        .send_keys(&bad.to_string_lossy())
        .await
        .expect("choose the file");
    b.click("#net-upload").await;
    let row = b
        .until(
            "the bad edge's row",
            "document.querySelectorAll('.net-errors tbody tr').length === 1 && [...document.querySelector('.net-errors tr[data-index=\"1\"]').cells].map(c => c.innerText)",
            30,
        )
        .await;
    b.screenshot("admin-network-bad-edge").await;
    let after_bad = versions().await;

    // Act 2: the fixed file.
    b.el("#net-file")
        .await
        .send_keys(&good.to_string_lossy())
        .await
        .expect("choose the fixed file");
    b.click("#net-upload").await;
    let edges = b
        .until(
            "the new network in use",
            "document.querySelector('#network-form .form-ok') && document.getElementById('net-edge-count')?.innerText === '3' && document.getElementById('net-edge-count').innerText",
            30,
        )
        .await;
    b.screenshot("admin-network-stored").await;
    b.close().await;
    let _ = std::fs::remove_dir_all(&dir);

    // Assert
    let cells: Vec<String> = serde_json::from_value(row).expect("cells");
    assert_eq!(cells[..3], ["1", "e2e-bad", "speed_kmh"], "{cells:?}");
    assert!(cells[3].contains("> 0"), "{cells:?}");
    assert_eq!(after_bad, before, "a refused network is not stored");
    assert_eq!(edges.as_str(), Some("3"));
    assert_eq!(versions().await, before + 1);
}
