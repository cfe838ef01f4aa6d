//! Dispatcher flow on the map: close a crossing, open an incident, estimate needs, preview,
//! reserve, and see the route lines.

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, api_has, open_as};

#[tokio::test]
async fn a_dispatcher_closes_a_crossing_opens_an_incident_previews_and_reserves_a_plan_with_route_lines()
 {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("dispatcher map").await else {
        return;
    };
    let app = TestApp::demo().await;
    let needs = [
        "/api/v1/network",
        "/api/v1/closures",
        "/api/v1/incidents",
        "/api/v1/allocation/preview",
    ];
    if !api_has(&app, &needs, 5).await {
        return;
    }
    open_as(&b, &app, "dispatcher", &[], "#/map").await;
    b.until("the map with the network", "document.querySelector('#map[data-ready]') && document.querySelector('path.edge-shenzhen-zhongshan-link')", 30)
        .await;

    // Act 1: close the Shenzhen–Zhongshan Link by clicking it on the map.
    b.click("#tool-edges").await;
    b.js("(() => { const p = document.querySelector('path.edge-shenzhen-zhongshan-link'); const r = p.getBoundingClientRect(); \
          p.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2})); return true; })()")
        .await;
    b.until("the edge in the closure form", "[...document.querySelectorAll('#cl-edges option')].some(o => o.selected && o.value === 'shenzhen-zhongshan-link')", 10)
        .await;
    b.type_into("#cl-name", "Typhoon signal 8: Shenzhen-Zhongshan Link")
        .await;
    b.click("#cl-submit").await;
    b.until("the closed edge drawn dashed", "document.querySelector('path.edge-shenzhen-zhongshan-link.state-closed')?.getAttribute('stroke-dasharray')", 15)
        .await;
    b.until(
        "the closure listed",
        "document.querySelector('#closures li')",
        10,
    )
    .await;

    // Act 2: open an incident by clicking the map (centred on Jiangmen's Xinhui district).
    b.click("#tool-incident").await;
    b.js("stockpileMap.map.setView([22.43, 112.93], 11, {animate: false}) && true")
        .await;
    b.click("#map").await;
    b.until(
        "the clicked point in the form",
        "document.getElementById('inc-lat')?.value !== ''",
        10,
    )
    .await;
    b.type_into("#inc-name", "Xinhui flood").await;
    b.el("#inc-kind")
        .await
        .select_by_value("flood")
        .await
        .expect("kind");
    b.type_into("#inc-pop", "2000").await;
    b.click("#inc-submit").await;
    b.until("the incident in the planner", "[...document.querySelectorAll('#plan-incident option')].some(o => o.textContent.includes('Xinhui flood'))", 15)
        .await;

    // Act 3: needs estimate → preview → reserve.
    b.type_into("#ne-days", "1").await;
    b.click("#ne-submit").await;
    b.until("suggested lines", "document.querySelector('#pl-qty-0')", 15)
        .await;
    b.click("#plan-preview").await;
    b.until(
        "the preview",
        "document.getElementById('plan-status')?.dataset.status",
        30,
    )
    .await;
    let routes = b
        .until(
            "route lines",
            "document.querySelectorAll('path.route').length",
            20,
        )
        .await;
    let etas = b
        .js("[...document.querySelectorAll('.eta-label')].map(e => e.textContent).join(' | ')")
        .await;
    b.js("document.getElementById('plan-status').scrollIntoView() || true")
        .await;
    b.screenshot("dispatcher-map-plan").await;
    b.click("#plan-reserve").await;
    let status = b
        .until(
            "the reserved request",
            "document.querySelector('.request .rq-status')?.dataset.status",
            30,
        )
        .await;

    // Act 4: dispatch the request, then confirm the first shipment's delivery with one
    // unit missing: first without saying why (refused), then with a note.
    b.click(".request button[id^='rq-dispatch-']").await;
    b.until("the dispatched request", "document.querySelector('.request .rq-status')?.dataset.status === 'dispatched' && document.querySelector(\"[id^='sh-deliver-']\")", 30)
        .await;
    b.screenshot("dispatcher-request-dispatched").await;
    let shipped = b
        .js("Number(document.querySelector(\"[id^='sh-recv-']\").value)")
        .await
        .as_i64()
        .expect("the received field starts at the quantity shipped");
    b.type_into("[id^='sh-recv-']", &(shipped - 1).to_string())
        .await;
    b.click("[id^='sh-deliver-']").await;
    let refused = b
        .until(
            "the unexplained shortfall refused",
            "document.querySelector('.request .form-error')?.textContent.includes('note')",
            30,
        )
        .await;
    assert_eq!(refused, true);
    b.js(
        "document.querySelector(\"[id^='sh-deliver-']\").scrollIntoView({block: 'center'}) || true",
    )
    .await;
    b.screenshot("dispatcher-delivery-short").await;
    b.type_into("[id^='sh-note-']", "one box lost on the ferry")
        .await;
    b.click("[id^='sh-deliver-']").await;
    let delivery = b
        .until(
            "the delivery confirmed",
            "document.querySelector('.request .form-ok')?.textContent.includes('Delivered')",
            30,
        )
        .await;
    assert_eq!(delivery, true, "delivery: {delivery}");

    // Assert: the closure, the dispatch and the delivery are in the database.
    let closed: i64 = sqlx::query_scalar(
        "select count(*) from road_closures where 'shenzhen-zhongshan-link' = any(edge_ids)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("closures");
    assert_eq!(closed, 1);
    let (shipments, delivered): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where status = 'delivered') from shipments",
    )
    .fetch_one(&app.pool)
    .await
    .expect("shipments");
    assert!(shipments >= 1, "the dispatch made shipments");
    assert_eq!(delivered, 1, "one shipment confirmed delivered");
    let (missing, note): (i64, Option<String>) = sqlx::query_as(
        "select sum(sl.qty - sl.received_qty)::int8, min(s.delivery_note)
           from shipments s join shipment_lines sl on sl.shipment_id = s.id
          where s.status = 'delivered'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("delivered lines");
    assert_eq!(missing, 1, "the unit entered as missing");
    assert_eq!(note.as_deref(), Some("one box lost on the ferry"));
    assert!(routes.as_u64().unwrap_or(0) >= 1, "route lines drawn");
    assert!(
        etas.as_str().unwrap_or_default().contains("min"),
        "ETA labels: {etas}"
    );
    assert!(
        ["reserved", "partially_reserved"].contains(&status.as_str().unwrap_or_default()),
        "status {status}"
    );
    b.close().await;
}

#[tokio::test]
async fn a_dispatcher_draws_a_closure_polygon_over_the_hzmb_and_its_edges_turn_closed() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("closure polygon").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/network", "/api/v1/closures"], 5).await {
        return;
    }
    open_as(&b, &app, "dispatcher", &[], "#/map").await;
    b.until("the network", "document.querySelector('#map[data-ready]') && document.querySelector('path.edge-hzmb-main')", 30)
        .await;

    // Act: draw a square around the middle of the HZMB main line, vertex by vertex.
    b.click("#tool-polygon").await;
    b.js("[[22.22, 113.70], [22.22, 113.80], [22.32, 113.80], [22.32, 113.70]]
            .forEach(([lat, lon]) => stockpileMap.map.fire('click', {latlng: L.latLng(lat, lon)})) || true")
        .await;
    b.until(
        "four vertices",
        "document.getElementById('cl-area')?.textContent.endsWith('4')",
        10,
    )
    .await;
    b.type_into("#cl-name", "HZMB closed: typhoon signal 10")
        .await;
    b.type_into("#cl-reason", "typhoon signal 10").await;
    b.click("#cl-submit").await;
    b.until(
        "the bridge closed",
        "document.querySelector('path.edge-hzmb-main.state-closed')",
        20,
    )
    .await;
    b.screenshot("dispatcher-closure-polygon").await;

    // Assert: the closure holds the polygon, and the open edges stay open.
    let area: serde_json::Value = sqlx::query_scalar("select area from road_closures")
        .fetch_one(&app.pool)
        .await
        .expect("the closure");
    assert_eq!(area["type"], "Polygon");
    assert_eq!(
        area["coordinates"][0].as_array().map(Vec::len),
        Some(5),
        "closed ring"
    );
    let still_open = b
        .js("!!document.querySelector('path.edge-humen-dongguan.state-open')")
        .await;
    assert_eq!(still_open, true);
    b.close().await;
}

#[tokio::test]
async fn a_dispatcher_writes_a_request_by_hand_reserves_replans_and_cancels_it() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("replan and cancel").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(
        &app,
        &[
            "/api/v1/incidents",
            "/api/v1/requests/{id}/replan",
            "/api/v1/requests/{id}/cancel",
        ],
        5,
    )
    .await
    {
        return;
    }
    let token = app.token("dispatcher", &[]).await;
    let (status, _) = app
        .post(
            "/api/v1/incidents",
            &token,
            &serde_json::json!({"name": "Doumen rainstorm", "kind": "rainstorm", "point": {"lat": 22.21, "lon": 113.29}, "population": 5000}),
        )
        .await;
    assert_eq!(status, 201);

    open_as(&b, &app, "dispatcher", &[], "#/map").await;
    b.until(
        "the incident in the planner",
        "document.querySelector('#plan-incident option')",
        30,
    )
    .await;
    b.click("#pl-add").await;
    b.el("#pl-sku-0")
        .await
        .select_by_value("WATER-5L")
        .await
        .expect("item");
    b.type_into("#pl-qty-0", "10000000").await;
    b.el("#plan-priority")
        .await
        .select_by_value("critical")
        .await
        .expect("priority");
    b.click("#plan-reserve").await;
    let first = b
        .until(
            "the request",
            "document.querySelector('.request .rq-status')?.dataset.status",
            30,
        )
        .await;
    b.click(".request button[id^='rq-replan-']").await;
    b.until("the replan done", "document.querySelector('.request .form-ok')?.textContent.includes('Done') || document.querySelector('.request .form-error')?.textContent", 30)
        .await;
    b.click(".request button[id^='rq-cancel-']").await;
    let last = b
        .until("the cancelled request", "document.querySelector('.request .rq-status')?.dataset.status === 'cancelled' || document.querySelector('.request .form-error')?.textContent", 30)
        .await;

    assert_eq!(
        first, "partially_reserved",
        "ten million 5 L bottles is more than the GBA holds"
    );
    assert_eq!(last, true, "cancelled: {last}");
    let (status, reserved): (String, i64) = sqlx::query_as(
        "select r.status, (select coalesce(sum(reserved), 0)::bigint from stock_lots) from allocation_requests r",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the request");
    assert_eq!(status, "cancelled");
    assert_eq!(reserved, 0, "cancelling released every reservation");
    b.close().await;
}

#[tokio::test]
async fn an_incident_drawn_with_its_affected_area_keeps_the_warehouses_inside_out_of_the_plan() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("affected area").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(
        &app,
        &["/api/v1/incidents", "/api/v1/allocation/preview"],
        5,
    )
    .await
    {
        return;
    }
    open_as(&b, &app, "dispatcher", &[], "#/map").await;
    b.until("the map", "document.querySelector('#map[data-ready]')", 30)
        .await;

    // Act: the point, then the affected area around the Jianghai reserve centre.
    b.click("#tool-incident").await;
    b.js("stockpileMap.map.fire('click', {latlng: L.latLng(22.57, 113.10)}) && true")
        .await;
    b.click("#inc-area").await;
    b.js("[[22.50, 113.00], [22.50, 113.20], [22.65, 113.20], [22.65, 113.00]]
            .forEach(([lat, lon]) => stockpileMap.map.fire('click', {latlng: L.latLng(lat, lon)})) || true")
        .await;
    b.type_into("#inc-name", "Jianghai flood").await;
    b.el("#inc-kind")
        .await
        .select_by_value("flood")
        .await
        .expect("kind");
    b.click("#inc-submit").await;
    b.until(
        "the affected area drawn",
        "document.querySelector('path[stroke=\"#dd6b20\"]')",
        20,
    )
    .await;
    b.click("#pl-add").await;
    b.el("#pl-sku-0")
        .await
        .select_by_value("WATER-5L")
        .await
        .expect("item");
    b.type_into("#pl-qty-0", "100").await;
    b.click("#plan-preview").await;
    let skipped = b
        .until("the explanation", "[...document.querySelectorAll('table.explanation tbody tr')].map(r => r.innerText).join('\\n')", 30)
        .await;
    b.screenshot("dispatcher-affected-area").await;

    // Assert: the area is stored, and the centre inside it is skipped for that reason.
    let area: serde_json::Value =
        sqlx::query_scalar("select affected_area from incidents where name = 'Jianghai flood'")
            .fetch_one(&app.pool)
            .await
            .expect("the incident");
    assert_eq!(area["type"], "Polygon");
    let text = skipped.as_str().unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.contains("JM-JH-RC") && l.contains("inside affected area")),
        "explanation: {text}"
    );
    b.close().await;
}

#[tokio::test]
async fn a_shipment_id_from_a_waybill_finds_its_request_and_delivery_form() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("find shipment").await else {
        return;
    };
    let app = TestApp::demo().await;
    // A dispatched request, made through the API.
    let token = app.token("dispatcher", &[]).await;
    let (status, incident) = app
        .post(
            "/api/v1/incidents",
            &token,
            &serde_json::json!({"name": "Xinhui flood", "kind": "flood", "point": {"lat": 22.4613, "lon": 113.0291}, "population": 5000}),
        )
        .await;
    assert_eq!(status, 201, "{incident}");
    let (status, request) = app
        .post(
            &format!(
                "/api/v1/incidents/{}/requests",
                incident["id"].as_str().expect("id")
            ),
            &token,
            &serde_json::json!({"priority": "high", "lines": [{"sku": "WATER-5L", "qty": 20}]}),
        )
        .await;
    assert_eq!(status, 201, "{request}");
    let rid = request["id"].as_str().expect("request id");
    let (status, dispatched) = app
        .post(
            &format!("/api/v1/requests/{rid}/dispatch"),
            &token,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{dispatched}");
    let sid = dispatched["shipments"][0]["id"]
        .as_str()
        .expect("shipment id")
        .to_owned();

    open_as(&b, &app, "dispatcher", &[], "#/requests").await;
    b.type_into("#rq-shipment", "not-a-shipment").await;
    b.click("#rq-find").await;
    let refused = b
        .until(
            "the malformed id refused",
            "document.querySelector('.card .form-error')?.textContent",
            20,
        )
        .await;
    b.type_into("#rq-shipment", &sid).await;
    b.click("#rq-find").await;
    let found = b
        .until(
            "the request with the shipment's delivery form",
            &format!("document.querySelector('#rq-detail .request[data-request=\"{rid}\"] #sh-deliver-{sid}') && true"),
            20,
        )
        .await;

    assert!(refused.as_str().is_some_and(|t| !t.is_empty()), "{refused}");
    assert_eq!(found, true);
    b.close().await;
}

/// Doumen (Zhuhai) and Taishan (Jiangmen), WGS84 (reference/gba-geography.md).
const DOUMEN: (f64, f64) = (22.2119, 113.2909);
const TAISHAN: (f64, f64) = (22.2536, 112.7883);

#[tokio::test]
async fn a_dispatcher_rations_a_scarce_item_between_two_incidents_of_an_operation_and_commits_what_the_preview_showed()
 {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("operation round").await else {
        return;
    };
    let app = TestApp::demo().await;
    let needs = [
        "/api/v1/operations",
        "/api/v1/operations/{id}/rationing/preview",
        "/api/v1/operations/{id}/rationing",
    ];
    if !api_has(&app, &needs, 17).await {
        return;
    }
    // Arrange: an operation with one incident, through the API; the second is added on
    // the screen. 50 kW generator sets are scarce: the GBA holds 69.
    let token = app.token("dispatcher", &[]).await;
    let (status, op) = app
        .post(
            "/api/v1/operations",
            &token,
            &serde_json::json!({"name": "Typhoon Saola 2023, Jiangmen"}),
        )
        .await;
    assert_eq!(status, 201, "{op}");
    let op_id = op["id"].as_str().expect("id").to_owned();
    let (status, doumen) = app
        .post(
            "/api/v1/incidents",
            &token,
            &serde_json::json!({"name": "Doumen flood", "kind": "flood", "point": {"lat": DOUMEN.0, "lon": DOUMEN.1},
                                "operation_id": op_id, "response_level": "county"}),
        )
        .await;
    assert_eq!(status, 201, "{doumen}");

    open_as(
        &b,
        &app,
        "dispatcher",
        &[],
        &format!("#/operations?id={op_id}"),
    )
    .await;
    b.until(
        "the operation with its incident",
        "document.querySelectorAll('#op-incidents tr[data-incident]').length === 1 && document.querySelector('#ops-map[data-ready]')",
        30,
    )
    .await;

    // Act 1: add Taishan to the operation on the screen, city level.
    b.type_into("#oi-name", "Taishan landslide").await;
    b.el("#oi-kind")
        .await
        .select_by_value("landslide")
        .await
        .expect("kind");
    b.type_into("#oi-lat", &TAISHAN.0.to_string()).await;
    b.type_into("#oi-lon", &TAISHAN.1.to_string()).await;
    b.el("#oi-level")
        .await
        .select_by_value("city")
        .await
        .expect("level");
    b.click("#oi-submit").await;
    let incidents = b
        .until(
            "both incidents listed",
            "document.querySelectorAll('#op-incidents tr[data-incident]').length === 2 && document.querySelector('#ops-map[data-ready]') && document.getElementById('op-incidents').innerText",
            30,
        )
        .await;

    // Act 2: one critical demand per incident, the first with a bad quantity.
    two_genset_demands(&b, "0", "60").await;
    b.click("#round-preview").await;
    let refused = b
        .until(
            "the bad quantity refused next to its field",
            "document.querySelector('#dm-qty-0[aria-invalid=true]') && document.querySelector('#dm-qty-0').closest('td').querySelector('.field-error')?.textContent",
            20,
        )
        .await;
    b.type_into("#dm-qty-0", "60").await;
    b.click("#round-preview").await;
    b.until(
        "the preview: two lines, two bars, two incidents and their source lines on the map",
        "document.querySelectorAll('table.round-lines tr.round-line').length === 2 \
         && document.querySelectorAll('#fill-chart rect.fill-bar').length === 2 \
         && document.querySelectorAll('#ops-map .ops-incident').length === 2 \
         && document.querySelectorAll('#ops-map path.source-line').length > 0",
        30,
    )
    .await;
    let rows = b
        .js("[...document.querySelectorAll('table.round-lines tr.round-line')].map(r => r.innerText)")
        .await;
    let sentences = b
        .js("document.getElementById('round-sentences').innerText")
        .await;
    let fairness = b
        .js("document.getElementById('round-fairness').innerText")
        .await;
    let preview = b.js("stockpileOps.preview").await;
    b.js("document.getElementById('round-h').scrollIntoView() || true")
        .await;
    b.screenshot("dispatcher-operation-preview").await;
    b.js("document.getElementById('ops-map').scrollIntoView() || true")
        .await;
    b.screenshot("dispatcher-operation-map").await;
    b.js("document.getElementById('round-fairness').scrollIntoView() || true")
        .await;
    b.screenshot("dispatcher-operation-chart").await;

    // Act 3: commit.
    b.click("#round-commit").await;
    let requests = b
        .until(
            "the round's requests",
            "document.querySelectorAll('#round-requests tr.round-request').length",
            30,
        )
        .await;
    let links = b
        .js("[...document.querySelectorAll('#round-requests tr.round-request a')].map(a => a.getAttribute('href'))")
        .await;
    b.until(
        "the committed round listed",
        "document.querySelectorAll('#op-rounds tr.round').length === 1",
        20,
    )
    .await;
    b.js("document.getElementById('round-committed').scrollIntoView() || true")
        .await;
    b.screenshot("dispatcher-operation-committed").await;
    let errors = b.js("window.stockpileErrors").await;

    // Assert: the screen showed a scarce item shared between the two incidents.
    let incidents = incidents.as_str().unwrap_or_default();
    assert!(
        incidents.contains("Taishan landslide") && incidents.contains("8"),
        "a city-level incident has an 8 h target: {incidents}"
    );
    assert!(
        refused
            .as_str()
            .is_some_and(|t| t.contains("greater than 0")),
        "{refused}"
    );
    let rows: Vec<String> = serde_json::from_value(rows).expect("rows");
    assert!(
        rows.iter().any(|r| r.contains("Doumen flood"))
            && rows.iter().any(|r| r.contains("Taishan landslide")),
        "{rows:?}"
    );
    assert!(
        sentences
            .as_str()
            .is_some_and(|s| s.contains("every critical line got at least")),
        "{sentences}"
    );
    assert!(
        fairness
            .as_str()
            .is_some_and(|s| s.contains("nearest-first")),
        "{fairness}"
    );
    let lines = preview["lines"].as_array().expect("preview lines");
    assert_eq!(lines.len(), 2);
    let total: i64 = lines
        .iter()
        .map(|l| l["reserved"].as_i64().unwrap_or(0))
        .sum();
    assert!(
        total > 0
            && lines
                .iter()
                .all(|l| l["shortfall"].as_i64().unwrap_or(0) > 0),
        "60 + 60 generator sets are more than the GBA can send: {preview}"
    );
    assert_eq!(requests.as_u64(), Some(2), "one request per incident");
    assert!(
        serde_json::from_value::<Vec<String>>(links)
            .expect("links")
            .iter()
            .all(|h| h == "#/requests")
    );
    assert_eq!(errors, serde_json::json!([]), "script errors");

    // Assert: the database holds what the preview showed, lot by lot.
    let mut shown: Vec<(String, String, i64)> = lines
        .iter()
        .flat_map(|l| {
            l["picks"].as_array().expect("picks").iter().map(|p| {
                (
                    l["incident_id"].as_str().expect("incident").to_owned(),
                    p["lot_id"].as_str().expect("lot").to_owned(),
                    p["qty"].as_i64().expect("qty"),
                )
            })
        })
        .collect();
    shown.sort();
    let mut stored: Vec<(String, String, i64)> = sqlx::query_as(
        "select r.incident_id::text, p.lot_id::text, sum(p.qty)::int8
           from allocation_picks p join allocation_requests r on r.id = p.request_id
          where r.round_id is not null
          group by 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .expect("picks");
    stored.sort();
    assert_eq!(stored, shown, "the committed picks are the preview's");
    let per_line: Vec<(String, i64)> = sqlx::query_as(
        "select r.incident_id::text, sum(l.reserved)::int8
           from allocation_request_lines l join allocation_requests r on r.id = l.request_id
          where r.round_id is not null and l.sku = 'GENSET-50KW'
          group by 1 order by 1",
    )
    .fetch_all(&app.pool)
    .await
    .expect("request lines");
    let mut expected: Vec<(String, i64)> = lines
        .iter()
        .map(|l| {
            (
                l["incident_id"].as_str().expect("incident").to_owned(),
                l["reserved"].as_i64().expect("reserved"),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(
        per_line, expected,
        "reserved per incident equals the preview's"
    );
    let on_lots: i64 = sqlx::query_scalar(
        "select coalesce(sum(l.reserved), 0)::int8 from stock_lots l join items i on i.id = l.item_id where i.sku = 'GENSET-50KW'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("lots");
    assert_eq!(
        on_lots, total,
        "the lots carry exactly the round's reservations"
    );
    b.close().await;
}

#[tokio::test]
async fn a_round_committed_after_the_stock_changed_says_it_was_planned_again_and_shows_what_it_reserved()
 {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("operation round replanned").await else {
        return;
    };
    let app = TestApp::demo().await;
    if !api_has(&app, &["/api/v1/operations/{id}/rationing"], 17).await {
        return;
    }
    // Arrange: an operation with two incidents, and an incident outside it.
    let token = app.token("dispatcher", &[]).await;
    let (_, op) = app
        .post(
            "/api/v1/operations",
            &token,
            &serde_json::json!({"name": "Typhoon drill"}),
        )
        .await;
    let op_id = op["id"].as_str().expect("operation id").to_owned();
    let mut ids = Vec::new();
    for (name, (lat, lon), op) in [
        ("Doumen flood", DOUMEN, Some(op_id.as_str())),
        ("Taishan landslide", TAISHAN, Some(op_id.as_str())),
        ("Xinhui flood", (22.4613, 113.0291), None),
    ] {
        let (status, inc) = app
            .post(
                "/api/v1/incidents",
                &token,
                &serde_json::json!({"name": name, "kind": "flood", "point": {"lat": lat, "lon": lon}, "operation_id": op}),
            )
            .await;
        assert_eq!(status, 201, "{inc}");
        ids.push(inc["id"].as_str().expect("id").to_owned());
    }
    open_as(
        &b,
        &app,
        "dispatcher",
        &[],
        &format!("#/operations?id={op_id}"),
    )
    .await;
    b.until(
        "the demand editor",
        "document.querySelector('#dm-sku-0')",
        30,
    )
    .await;
    two_genset_demands(&b, "40", "40").await;
    b.click("#round-preview").await;
    b.until("the preview", "document.querySelector('#round-commit')", 30)
        .await;

    // Act: another dispatcher takes generator sets for Xinhui; then this one commits.
    let (status, single) = app
        .post(
            &format!("/api/v1/incidents/{}/requests", ids[2]),
            &token,
            &serde_json::json!({"priority": "critical", "lines": [{"sku": "GENSET-50KW", "qty": 15}]}),
        )
        .await;
    assert_eq!(status, 201, "{single}");
    b.click("#round-commit").await;
    let note = b
        .until(
            "the replanned note",
            "document.getElementById('round-replanned')?.innerText",
            30,
        )
        .await;
    let committed = b.js("stockpileOps.committed").await;
    let shown: Vec<i64> = b
        .js("[...document.querySelectorAll('table.round-lines tr.round-line')].map(r => Number(r.dataset.reserved))")
        .await
        .as_array()
        .expect("rows")
        .iter()
        .map(|v| v.as_i64().expect("reserved"))
        .collect();
    b.screenshot("dispatcher-operation-replanned").await;

    // Assert: the answer says it replanned, and what it shows is what the database holds.
    assert!(
        note.as_str().is_some_and(|n| n.contains("planned again")),
        "{note}"
    );
    assert_eq!(committed["replanned"], true);
    let answered: i64 = committed["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["reserved"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(shown.iter().sum::<i64>(), answered);
    let stored: i64 = sqlx::query_scalar(
        "select coalesce(sum(l.reserved), 0)::int8
           from allocation_request_lines l join allocation_requests r on r.id = l.request_id
          where r.round_id is not null",
    )
    .fetch_one(&app.pool)
    .await
    .expect("round lines");
    assert_eq!(stored, answered, "the round reserved what it answered");
    b.close().await;
}

/// Fills the operations screen's demand editor with two rows of GENSET-50KW, of `first`
/// and `second` units (each row keeps the incident the editor gives it).
async fn two_genset_demands(b: &Browser, first: &str, second: &str) {
    b.el("#dm-sku-0")
        .await
        .select_by_value("GENSET-50KW")
        .await
        .expect("item");
    b.type_into("#dm-qty-0", first).await;
    b.click("#dm-add").await;
    b.until(
        "the second demand",
        "document.querySelector('#dm-qty-1')",
        10,
    )
    .await;
    b.type_into("#dm-qty-1", second).await;
}
