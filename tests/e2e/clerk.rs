//! Clerk flows: scan-and-receive, stock list, language switch.

use chrono::{Datelike, Duration, Utc};

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, open_as, sign_in, user_with_password};

#[tokio::test]
async fn a_clerk_signs_in_scans_a_gs1_barcode_receives_and_sees_the_lot_in_stock() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("clerk receive").await else {
        return;
    };
    // Arrange: the Jianghai centre's clerk, and a scan of bottled water (GTIN in the demo
    // catalogue) expiring in about 300 days.
    let app = TestApp::demo().await;
    let (user, pw) = user_with_password(&app, "clerk", &["JM-JH-RC"]).await;
    let exp = (Utc::now() + Duration::days(300)).date_naive();
    let scan = format!(
        "(01)06975301011120(17){:02}{:02}{:02}(10)E2E-LOT-1",
        exp.year() % 100,
        exp.month(),
        exp.day()
    );

    // Act: sign in, scan (keyboard wedge: the code, then Enter), confirm the quantity.
    sign_in(&b, &app, &user, &pw).await;
    b.screenshot("flow-clerk-signed-in").await;
    b.client
        .goto(&app.url("/#/receive"))
        .await
        .expect("receive screen");
    b.type_into("#scan", &format!("{scan}\u{E007}")).await;
    b.until(
        "the scan to fill the lot",
        "document.getElementById('rc-lot').value === 'E2E-LOT-1'",
        15,
    )
    .await;
    let filled = b
        .js("[document.getElementById('rc-sku').value, document.getElementById('rc-exp').value]")
        .await;
    b.type_into("#rc-qty", "40").await;
    b.screenshot("flow-clerk-receive-scanned").await;
    b.click("#rc-submit").await;
    b.until(
        "the receipt confirmation",
        "document.querySelector('#receive-form .form-ok')",
        15,
    )
    .await;
    b.client
        .goto(&app.url("/#/stock"))
        .await
        .expect("stock screen");
    b.el("#stock-sku")
        .await
        .select_by_value("WATER-5L")
        .await
        .expect("filter by item");
    b.click("#stock-search").await;
    b.until(
        "the new lot in the stock list",
        "document.querySelector('tr[data-lot=\"E2E-LOT-1\"]')",
        20,
    )
    .await;
    let row = b
        .js("document.querySelector('tr[data-lot=\"E2E-LOT-1\"]').innerText")
        .await;

    b.click("tr[data-lot=\"E2E-LOT-1\"] button.link").await;
    let card = b
        .until(
            "the lot's stock card",
            "document.querySelector('dialog.lot-card table')?.innerText",
            15,
        )
        .await;
    b.screenshot("flow-clerk-stock-card").await;

    // Assert: the form was filled from the scan, the lot is listed with its receipt on its
    // stock card, and the ledger holds it.
    assert_eq!(filled[0], "WATER-5L", "item from the GTIN");
    assert_eq!(filled[1], exp.to_string(), "expiry from AI (17)");
    let text = row.as_str().unwrap_or_default();
    assert!(
        text.contains("40") && text.contains(&exp.to_string()),
        "row: {text}"
    );
    let card = card.as_str().unwrap_or_default();
    assert!(
        card.contains("receipt") && card.contains("40"),
        "card: {card}"
    );
    let on_hand: i64 = sqlx::query_scalar(
        "select l.on_hand from stock_lots l join warehouses w on w.id = l.warehouse_id \
         where w.code = 'JM-JH-RC' and l.lot_code = 'E2E-LOT-1'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the received lot");
    assert_eq!(on_hand, 40);
    b.close().await;
}

#[tokio::test]
async fn a_scan_with_a_bad_check_digit_shows_the_problem_next_to_the_scan_field() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("bad scan").await else {
        return;
    };
    let app = TestApp::demo().await;

    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/receive").await;
    b.type_into("#scan", "(01)06975301011121(10)X\u{E007}")
        .await;
    let msg = b
        .until("an error by the scan field", "document.querySelector('#scan').closest('.field').querySelector('.field-error')?.innerText", 15)
        .await;

    assert!(
        msg.as_str()
            .unwrap_or_default()
            .to_lowercase()
            .contains("check"),
        "message: {msg}"
    );
    assert_eq!(
        b.js("document.getElementById('scan').getAttribute('aria-invalid')")
            .await,
        "true"
    );
    b.close().await;
}

#[tokio::test]
async fn switching_the_language_shows_chinese_labels_and_item_names() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("language").await else {
        return;
    };
    let app = TestApp::demo().await;
    let name_zh: String = sqlx::query_scalar(
        "select i.name_zh from stock_lots l join items i on i.id = l.item_id join warehouses w on w.id = l.warehouse_id \
         where w.code = 'JM-JH-RC' order by l.id limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a lot at the centre");

    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/stock").await;
    b.until(
        "the stock table",
        "document.querySelector('#stock-result table')",
        20,
    )
    .await;
    let english_nav = b.js("document.querySelector('#nav a').innerText").await;
    b.el("#lang")
        .await
        .select_by_value("zh")
        .await
        .expect("choose Chinese");
    b.until(
        "Chinese navigation",
        "document.querySelector('#nav a').innerText === '库存'",
        10,
    )
    .await;
    let table = b
        .until("Chinese item names", &format!("document.querySelector('#stock-result table')?.innerText.includes({name_zh:?}) && document.querySelector('#stock-result table').innerText"), 20)
        .await;
    b.screenshot("clerk-stock-zh").await;
    let html_lang = b.js("document.documentElement.lang").await;
    b.el("#lang")
        .await
        .select_by_value("en")
        .await
        .expect("back to English");
    b.until(
        "English navigation",
        "document.querySelector('#nav a').innerText === 'Stock'",
        10,
    )
    .await;

    assert_eq!(english_nav, "Stock");
    assert_eq!(html_lang, "zh-CN");
    assert!(
        table.as_str().unwrap_or_default().contains("有效期至"),
        "Chinese column headers"
    );
    b.close().await;
}

/// Visits every screen a role may open, waits for its heading, saves a screenshot, and
/// checks that no script error escaped (screens whose API is missing show its problem).
async fn visit_every_screen(role: &str, codes: &[&str]) -> Option<Vec<String>> {
    let _serial = ONE_AT_A_TIME.lock().await;
    let b = Browser::start("screens").await?;
    let app = TestApp::demo().await;
    open_as(&b, &app, role, codes, "#/").await;
    let routes = b
        .js("[...document.querySelectorAll('#nav a')].map(a => a.dataset.route)")
        .await;
    let routes: Vec<String> = serde_json::from_value(routes).expect("route names");
    assert!(routes.len() >= 3, "{role} sees {routes:?}");
    for r in &routes {
        b.client
            .goto(&app.url(&format!("/#/{r}")))
            .await
            .expect("open screen");
        b.until(&format!("screen {r}"), &format!("document.querySelector('#nav a[data-route=\"{r}\"][aria-current=\"page\"]') && document.querySelector('#view h1') && !document.querySelector('#view [role=status] .spinner')"), 30)
            .await;
        b.screenshot(&format!("{role}-{r}")).await;
        // Every form control has a label (a <label for>, aria-label or aria-labelledby).
        let unlabelled = b
            .js("[...document.querySelectorAll('header input, header select, #view input, #view select, #view textarea')]
                  .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
                  .map(e => e.id || e.name || e.outerHTML.slice(0, 80))")
            .await;
        assert_eq!(
            unlabelled,
            serde_json::json!([]),
            "unlabelled controls on {r}"
        );
    }
    let errors = b.js("window.stockpileErrors").await;
    assert_eq!(errors, serde_json::json!([]), "script errors");
    b.close().await;
    Some(routes)
}

#[tokio::test]
async fn every_clerk_screen_renders_without_script_errors() {
    visit_every_screen("clerk", &["JM-JH-RC"]).await;
}

#[tokio::test]
async fn every_dispatcher_screen_renders_without_script_errors() {
    let Some(routes) = visit_every_screen("dispatcher", &[]).await else {
        return;
    };
    assert_eq!(
        routes,
        [
            "stock",
            "alerts",
            "map",
            "operations",
            "readiness",
            "requests"
        ],
        "a dispatcher's navigation"
    );
}

#[tokio::test]
async fn every_auditor_screen_renders_without_script_errors() {
    visit_every_screen("auditor", &[]).await;
}

#[tokio::test]
async fn every_admin_screen_renders_without_script_errors() {
    let Some(routes) = visit_every_screen("admin", &[]).await else {
        return;
    };
    assert_eq!(
        routes,
        [
            "stock",
            "expiry",
            "alerts",
            "map",
            "operations",
            "reserves",
            "readiness",
            "rotation",
            "items",
            "warehouses",
            "import",
            "network",
            "users",
            "requests",
            "audit",
            "movements",
            "exports",
            "asof"
        ],
        "an admin's navigation"
    );
}

#[tokio::test]
async fn an_admin_sets_a_reserve_level_and_only_the_changed_one_is_written() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("reserves").await else {
        return;
    };
    let app = TestApp::demo().await;
    let level = |sku: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select coalesce((select r.min_qty from reserve_levels r join items i on i.id = r.item_id
                    join warehouses w on w.id = r.warehouse_id where i.sku = $1 and w.code = 'JM-JH-RC'), 0)",
            )
            .bind(sku)
            .fetch_one(&pool)
            .await
            .expect("level")
        }
    };
    let events = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from audit_events where action = 'stock.reserve_levels'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("events")
    };
    let before = events().await;

    open_as(&b, &app, "admin", &[], "#/reserves").await;
    b.el("#rl-wh")
        .await
        .select_by_value("JM-JH-RC")
        .await
        .expect("warehouse");
    b.until(
        "the levels of the centre",
        "document.getElementById('rl-WATER-5L')",
        20,
    )
    .await;
    b.type_into("#rl-WATER-5L", "1234").await;
    b.click("#rl-save").await;
    b.until(
        "the save confirmed",
        "document.querySelector('#reserve-form .form-ok')?.textContent.includes('1')",
        20,
    )
    .await;

    assert_eq!(level("WATER-5L").await, 1234);
    assert_eq!(events().await, before + 1, "one audited change");
    b.close().await;
}

#[tokio::test]
async fn a_clerk_issues_from_the_fefo_suggestion_and_the_earliest_usable_lot_is_drawn() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("issue").await else {
        return;
    };
    let app = TestApp::demo().await;
    // The earliest-expiring usable soap lot at the centre (expired lots are skipped).
    let (lot_code, before): (String, i64) = sqlx::query_as(
        "select l.lot_code, l.on_hand from stock_lots l join items i on i.id = l.item_id
           join warehouses w on w.id = l.warehouse_id
          where w.code = 'JM-JH-RC' and i.sku = 'SOAP-BATH' and l.status = 'available'
            and l.on_hand - l.reserved >= 100 and l.expires_on >= (now() at time zone 'Asia/Shanghai')::date
          order by l.expires_on, l.received_on, l.id limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a soap lot");

    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/issue").await;
    b.el("#is-sku")
        .await
        .select_by_value("SOAP-BATH")
        .await
        .expect("item");
    b.type_into("#is-qty", "100").await;
    b.click("#is-suggest").await;
    let first = b
        .until(
            "the suggestion",
            "document.querySelector('#is-picks tbody tr td')?.textContent",
            15,
        )
        .await;
    b.screenshot("flow-clerk-issue-fefo").await;
    b.click("#is-submit").await;
    b.until(
        "the issue confirmation",
        "document.querySelector('#issue-form .form-ok')",
        15,
    )
    .await;

    assert_eq!(
        first,
        lot_code.as_str(),
        "FEFO picks the earliest usable lot"
    );
    let after: i64 = sqlx::query_scalar(
        "select l.on_hand from stock_lots l join warehouses w on w.id = l.warehouse_id
          where w.code = 'JM-JH-RC' and l.lot_code = $1 and l.item_id = (select id from items where sku = 'SOAP-BATH')",
    )
    .bind(&lot_code)
    .fetch_one(&app.pool)
    .await
    .expect("the lot");
    assert_eq!(after, before - 100);
    b.close().await;
}

/// Signs in as a clerk of the reserve centre and opens a count of TOOTHPASTE-100G there.
async fn open_toothpaste_count(b: &Browser, app: &TestApp) {
    open_as(b, app, "clerk", &["JM-JH-RC"], "#/counts").await;
    b.type_into("#ct-skus", "TOOTHPASTE-100G").await;
    b.click("#ct-open").await;
    b.until(
        "the count sheet",
        "document.querySelector('#ct-line-0')",
        15,
    )
    .await;
}

#[tokio::test]
async fn a_blind_count_hides_expected_quantities_and_posting_books_the_variance() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("count").await else {
        return;
    };
    let app = TestApp::demo().await;
    let lots: Vec<(String, i64)> = sqlx::query_as(
        "select l.lot_code, l.on_hand from stock_lots l join items i on i.id = l.item_id
           join warehouses w on w.id = l.warehouse_id
          where w.code = 'JM-JH-RC' and i.sku = 'TOOTHPASTE-100G' order by l.lot_code",
    )
    .fetch_all(&app.pool)
    .await
    .expect("toothpaste lots");
    let short = &lots[0];
    // What the clerk counts: every lot as booked, except 7 missing from the first.
    let counted: serde_json::Map<String, serde_json::Value> = lots
        .iter()
        .map(|(code, qty)| {
            let n = if code == &short.0 { qty - 7 } else { *qty };
            (code.clone(), n.into())
        })
        .collect();

    open_toothpaste_count(&b, &app).await;
    let sheet = b.js("document.getElementById('ct-sheet').innerText").await;
    b.client
        .execute(
            "const counted = arguments[0];
             document.querySelectorAll('#ct-sheet tbody tr').forEach(tr => {
               const code = tr.children[1].textContent; const inp = tr.querySelector('input');
               inp.value = counted[code]; });
             return true;",
            vec![serde_json::Value::Object(counted)],
        )
        .await
        .expect("enter counts");
    b.screenshot("flow-clerk-blind-count").await;
    b.click("#ct-post").await;
    b.until(
        "the posted count",
        "document.querySelector('#ct-sheet .form-ok')",
        20,
    )
    .await;

    // Assert: no booked quantity was shown, and the shortfall was booked on that lot only.
    let text = sheet.as_str().unwrap_or_default();
    for (_, qty) in &lots {
        assert!(
            !text.contains(&qty.to_string()),
            "expected qty {qty} shown: {text}"
        );
    }
    let after: Vec<(String, i64)> = sqlx::query_as(
        "select l.lot_code, l.on_hand from stock_lots l join items i on i.id = l.item_id
           join warehouses w on w.id = l.warehouse_id
          where w.code = 'JM-JH-RC' and i.sku = 'TOOTHPASTE-100G' order by l.lot_code",
    )
    .fetch_all(&app.pool)
    .await
    .expect("toothpaste lots after");
    for ((code, was), (_, now)) in lots.iter().zip(&after) {
        let expected = if code == &short.0 { was - 7 } else { *was };
        assert_eq!(*now, expected, "lot {code}");
    }
    b.close().await;
}

#[tokio::test]
async fn a_clerk_cancels_an_abandoned_count_giving_a_reason_and_nothing_is_booked() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("count-cancel").await else {
        return;
    };
    let app = TestApp::demo().await;
    let booked = || async {
        sqlx::query_scalar::<_, i64>(
            "select coalesce(sum(l.on_hand), 0)::bigint from stock_lots l join items i on i.id = l.item_id
               join warehouses w on w.id = l.warehouse_id
              where w.code = 'JM-JH-RC' and i.sku = 'TOOTHPASTE-100G'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("on hand")
    };
    let before = booked().await;
    open_toothpaste_count(&b, &app).await;
    b.type_into("#ct-line-0", "0").await;

    // No reason: the field is flagged and the count stays open.
    b.click("#ct-cancel").await;
    let flagged = b
        .until(
            "the reason flagged",
            "document.getElementById('ct-reason').getAttribute('aria-invalid')",
            15,
        )
        .await;
    assert_eq!(flagged, "true");
    b.type_into("#ct-reason", "racking being replaced").await;
    b.click("#ct-cancel").await;
    b.until(
        "the cancelled count",
        "document.querySelector('#ct-sheet .form-ok')",
        20,
    )
    .await;

    let (status, reason): (String, Option<String>) =
        sqlx::query_as("select status, cancel_reason from counts order by opened_at desc limit 1")
            .fetch_one(&app.pool)
            .await
            .expect("the count");
    assert_eq!(status, "cancelled");
    assert_eq!(reason.as_deref(), Some("racking being replaced"));
    assert_eq!(booked().await, before, "cancelling books nothing");
    b.close().await;
}

#[tokio::test]
async fn a_clerk_sends_a_transfer_and_receives_it_at_the_other_warehouse() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("transfer").await else {
        return;
    };
    let app = TestApp::demo().await;
    // A clerk of both the centre and the Pengjiang depot.
    open_as(&b, &app, "clerk", &["JM-JH-RC", "JM-PJ-01"], "#/transfers").await;
    b.until(
        "the lot list",
        "document.querySelectorAll('#tr-lot option').length > 0",
        20,
    )
    .await;
    b.el("#tr-from")
        .await
        .select_by_value("JM-JH-RC")
        .await
        .expect("from");
    b.until(
        "the centre's lots",
        "document.querySelectorAll('#tr-lot option').length > 0",
        20,
    )
    .await;
    let lot_id = b.js("document.getElementById('tr-lot').value").await;
    let lot_id = lot_id.as_str().expect("a lot id").to_owned();
    b.el("#tr-to")
        .await
        .select_by_value("JM-PJ-01")
        .await
        .expect("to");
    b.type_into("#tr-qty", "5").await;
    b.click("#tr-submit").await;
    b.until(
        "the transfer in transit",
        "document.querySelector('#tr-list tbody tr button')",
        20,
    )
    .await;
    b.screenshot("flow-clerk-transfer").await;
    // One unit arrived damaged: without a reason the receipt is refused, with one it lands.
    b.type_into("#tr-list [id^='tr-recv-']", "4").await;
    b.click("#tr-list tbody tr button.secondary").await;
    b.until(
        "the missing reason named",
        "document.querySelector('#tr-list .form-error')?.textContent.includes('discrepancy_reason')",
        20,
    )
    .await;
    b.el("#tr-list [id^='tr-why-']")
        .await
        .select_by_value("damaged")
        .await
        .expect("reason");
    b.click("#tr-list tbody tr button.secondary").await;
    b.until(
        "the list emptied",
        "document.querySelector('#tr-list p.muted')",
        20,
    )
    .await;

    let status: String = sqlx::query_scalar(
        "select t.status from transfers t join transfer_lines l on l.transfer_id = t.id where l.lot_id = $1::uuid",
    )
    .bind(&lot_id)
    .fetch_one(&app.pool)
    .await
    .expect("the transfer");
    assert_eq!(status, "received");
    let (received, reason): (i64, Option<String>) = sqlx::query_as(
        "select received_qty, discrepancy_reason from transfer_lines where lot_id = $1::uuid",
    )
    .bind(&lot_id)
    .fetch_one(&app.pool)
    .await
    .expect("the transfer line");
    assert_eq!((received, reason.as_deref()), (4, Some("damaged")));
    let landed: i64 = sqlx::query_scalar(
        "select d.on_hand from stock_lots s join stock_lots d on d.item_id = s.item_id and d.lot_code = s.lot_code
           join warehouses w on w.id = d.warehouse_id where s.id = $1::uuid and w.code = 'JM-PJ-01'",
    )
    .bind(&lot_id)
    .fetch_one(&app.pool)
    .await
    .expect("the landed lot");
    assert!(landed >= 4, "landed {landed}");
    b.close().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_on_the_form_and_signing_out_revokes_the_token() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("sign-in and out").await else {
        return;
    };
    let app = TestApp::demo().await;
    let (user, pw) = user_with_password(&app, "auditor", &[]).await;

    b.client
        .goto(&app.url("/"))
        .await
        .expect("open the console");
    b.type_into("#signin-form input[name=username]", &user)
        .await;
    b.type_into("#signin-form input[name=password]", "not-the-password")
        .await;
    b.click("#signin-submit").await;
    let refused = b
        .until(
            "the refusal",
            "document.querySelector('#signin-form .form-error')?.textContent",
            15,
        )
        .await;
    sign_in(&b, &app, &user, &pw).await;
    let nav = b
        .js("[...document.querySelectorAll('#nav a')].map(a => a.dataset.route)")
        .await;
    b.click("#signout").await;
    b.until(
        "the sign-in form again",
        "document.querySelector('#signin-form')",
        15,
    )
    .await;
    let stored = b.js("sessionStorage.getItem('stockpile.session')").await;

    assert!(
        refused.as_str().unwrap_or_default().starts_with("401"),
        "{refused}"
    );
    assert_eq!(
        nav,
        serde_json::json!([
            "stock",
            "expiry",
            "alerts",
            "readiness",
            "rotation",
            "requests",
            "audit",
            "movements",
            "exports",
            "asof"
        ]),
        "an auditor sees read-only screens only"
    );
    assert_eq!(stored, serde_json::Value::Null);
    let live: i64 = sqlx::query_scalar(
        "select count(*) from sessions s join users u on u.id = s.user_id where u.username = $1 and s.revoked_at is null",
    )
    .bind(&user)
    .fetch_one(&app.pool)
    .await
    .expect("sessions");
    assert_eq!(live, 0, "logout revoked the token");
}

#[tokio::test]
async fn a_clerk_quarantines_a_lot_with_a_reason_and_releases_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("quarantine").await else {
        return;
    };
    let app = TestApp::demo().await;
    let lot: uuid::Uuid = sqlx::query_scalar(
        "select l.id from stock_lots l join warehouses w on w.id = l.warehouse_id
          where w.code = 'JM-JH-RC' and l.status = 'available' and l.reserved = 0 order by l.id limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a lot");
    let status = || async {
        sqlx::query_scalar::<_, String>("select status from stock_lots where id = $1")
            .bind(lot)
            .fetch_one(&app.pool)
            .await
            .expect("status")
    };
    let row = format!("tr[data-lot-id=\"{lot}\"]");

    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/quarantine").await;
    b.el(&row).await;
    b.type_into("#qr-reason", "water damage found on inspection")
        .await;
    b.click(&format!("{row} button")).await;
    b.until(
        "the quarantined badge",
        &format!("document.querySelector('{row} .badge.quarantined')"),
        20,
    )
    .await;
    let quarantined = status().await;
    b.click(&format!("{row} button")).await;
    b.until(
        "the lot released",
        &format!(
            "document.querySelector('{row}') && !document.querySelector('{row} .badge.quarantined')"
        ),
        20,
    )
    .await;

    assert_eq!(quarantined, "quarantined");
    assert_eq!(status().await, "available");
    b.close().await;
}

#[tokio::test]
async fn a_clerk_writes_off_an_expired_lot_from_its_alert() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("adjust").await else {
        return;
    };
    let app = TestApp::demo().await;
    let (lot, on_hand): (uuid::Uuid, i64) = sqlx::query_as(
        "select l.id, l.on_hand from stock_lots l join warehouses w on w.id = l.warehouse_id
          where w.code = 'JM-JH-RC' and l.expires_on < current_date and l.on_hand > 0
            and l.reserved = 0 order by l.id limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("an expired lot in the demo data");

    // From the alerts: the expired lot's write-off link opens the Adjust screen on it.
    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/alerts").await;
    b.click(&format!("a.write-off[href$='{lot}']")).await;
    b.until(
        "the lot chosen",
        &format!("document.getElementById('aj-lot')?.value === '{lot}'"),
        20,
    )
    .await;
    let proposal = b
        .js("[document.getElementById('aj-dir').value, document.getElementById('aj-reason').value, document.getElementById('aj-qty').value]")
        .await;
    b.click("#aj-submit").await;
    b.until(
        "the write-off confirmed",
        "document.querySelector('#adjust-form .form-ok')",
        20,
    )
    .await;

    assert_eq!(
        proposal,
        serde_json::json!(["-1", "expired", on_hand.to_string()]),
        "an expired lot proposes writing off all of it"
    );
    let (left, booked): (i64, Option<String>) = sqlx::query_as(
        "select l.on_hand, (select m.reason from stock_movements m where m.lot_id = l.id and m.kind = 'adjustment')
           from stock_lots l where l.id = $1",
    )
    .bind(lot)
    .fetch_one(&app.pool)
    .await
    .expect("the lot");
    assert_eq!((left, booked.as_deref()), (0, Some("expired")));
    b.close().await;
}

#[tokio::test]
async fn the_clerk_screens_fit_a_portrait_tablet_without_sideways_scrolling() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("tablet").await else {
        return;
    };
    let app = TestApp::demo().await;
    b.client
        .set_window_size(800, 1280)
        .await
        .expect("tablet size");
    open_as(&b, &app, "clerk", &["JM-JH-RC"], "#/receive").await;
    let mut wide = Vec::new();
    for r in [
        "receive",
        "issue",
        "adjust",
        "counts",
        "quarantine",
        "alerts",
    ] {
        b.client
            .goto(&app.url(&format!("/#/{r}")))
            .await
            .expect("screen");
        b.until(&format!("screen {r}"), &format!("document.querySelector('#nav a[data-route=\"{r}\"][aria-current=\"page\"]') && document.querySelector('#view h1') && !document.querySelector('#view [role=status] .spinner')"), 30)
            .await;
        let overflow = b
            .js("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        if overflow.as_i64().unwrap_or(0) > 0 {
            wide.push(format!("{r}: {overflow}px"));
        }
        if r == "receive" {
            b.screenshot("tablet-clerk-receive").await;
        }
    }
    assert!(wide.is_empty(), "screens wider than the tablet: {wide:?}");
    b.close().await;
}
