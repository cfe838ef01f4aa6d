//! Incidents, road closures, routes, and allocation requests: planning, atomic reservation
//! under concurrency, dispatch, delivery and cancellation.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, audit_count, wait_for_listeners};

/// Xinhui, Jiangmen (district seat, gba-geography.md §3).
const XINHUI: (f64, f64) = (22.4613, 113.0291);
/// The SZ-FT-01 depot.
const SZ_FT_01: (f64, f64) = (22.5523, 114.0408);

fn square(lat: f64, lon: f64, half: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[
        [lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
        [lon - half, lat + half], [lon - half, lat - half]
    ]]})
}

pub(crate) async fn create_incident(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, out) = app.post("/api/v1/incidents", token, &body).await;
    assert_eq!(status, 201, "{out}");
    out
}

async fn xinhui_incident(app: &TestApp, token: &str) -> String {
    let out = create_incident(
        app,
        token,
        json!({"name": "Typhoon, Xinhui", "kind": "typhoon",
               "point": {"lat": XINHUI.0, "lon": XINHUI.1}, "population": 50000}),
    )
    .await;
    out["id"].as_str().expect("id").to_owned()
}

/// Opens a Xinhui typhoon whose affected area covers JM-XH-01 but not Jianghai; its id.
async fn xinhui_incident_over_xh(app: &TestApp, token: &str) -> String {
    // JM-XH-01 is at 22.4693, 113.0391; the box covers it but not Jianghai.
    let out = create_incident(
        app,
        token,
        json!({
        "name": "Typhoon, Xinhui", "kind": "typhoon", "point": {"lat": XINHUI.0, "lon": XINHUI.1},
        "affected_area": square(22.4653, 113.0341, 0.03)}),
    )
    .await;
    out["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_dispatcher_opens_an_incident_that_anyone_can_read_and_closes_it() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let auditor = app.token("auditor", &[]).await;

    // Act
    let created = create_incident(
        &app,
        &dispatcher,
        json!({"name": "Flood, Taishan", "kind": "flood", "point": {"lat": 22.2548, "lon": 112.7887},
               "affected_area": square(22.2548, 112.7887, 0.05), "population": 1200}),
    )
    .await;
    let id = created["id"].as_str().expect("id");
    let (status, read) = app.get(&format!("/api/v1/incidents/{id}"), &auditor).await;
    let (patch_status, patched) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/incidents/{id}"),
            &dispatcher,
            &json!({"status": "closed"}),
            None,
        )
        .await;
    let (_, list) = app.get("/api/v1/incidents?status=closed", &auditor).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(read["kind"], "flood");
    assert_eq!(read["point"]["lat"], 22.2548);
    assert_eq!(read["affected_area"]["type"], "Polygon");
    assert_eq!(read["status"], "open");
    assert_eq!(patch_status, 200, "{patched}");
    assert_eq!(patched["status"], "closed");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(audit_count(&app, "incident.create").await, 1);
    assert_eq!(audit_count(&app, "incident.update").await, 1);
    let (status, body) = app
        .post(
            "/api/v1/incidents",
            &auditor,
            &json!({"name": "x", "kind": "fire", "point": {"lat": 22.0, "lon": 113.0}}),
        )
        .await;
    assert_problem(status, &body, 403, "");
}

#[tokio::test]
async fn bad_incidents_are_rejected_naming_the_field() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let open_ring = json!({"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.1]]]});
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.1], [113.1, 22.0], [113.0, 22.1], [113.0, 22.0]]]});
    let cases = [
        (
            json!({"name": "a", "kind": "flood", "point": {"lat": 95.0, "lon": 113.0}}),
            "/point/lat",
        ),
        (
            json!({"name": "a", "kind": "flood", "point": {"lat": 22.0, "lon": 200.0}}),
            "/point/lon",
        ),
        (
            json!({"name": "a", "kind": "flood", "point": {"lat": 22.0, "lon": 113.0}, "affected_area": open_ring}),
            "/affected_area",
        ),
        (
            json!({"name": "a", "kind": "flood", "point": {"lat": 22.0, "lon": 113.0}, "affected_area": bow_tie}),
            "/affected_area",
        ),
        (
            json!({"name": "a", "kind": "meteor", "point": {"lat": 22.0, "lon": 113.0}}),
            "/kind",
        ),
        (
            json!({"name": "a", "kind": "flood", "point": {"lat": 22.0, "lon": 113.0}, "population": -1}),
            "/population",
        ),
    ];

    for (body, pointer) in cases {
        // Act
        let (status, problem) = app.post("/api/v1/incidents", &dispatcher, &body).await;
        // Assert
        assert_problem(status, &problem, 422, pointer);
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from incidents")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);
}

async fn route_minutes(app: &TestApp, token: &str) -> Value {
    let (status, route) = app
        .get(
            &format!(
                "/api/v1/routes?from={},{}&to={},{}",
                SZ_FT_01.0, SZ_FT_01.1, XINHUI.0, XINHUI.1
            ),
            token,
        )
        .await;
    assert_eq!(status, 200, "{route}");
    route
}

#[tokio::test]
async fn with_the_estuary_links_closed_shenzhen_reaches_jiangmen_over_nansha_bridge_and_later() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let before = route_minutes(&app, &dispatcher).await;

    // Act
    let (status, closure) = app
        .post(
            "/api/v1/closures",
            &dispatcher,
            &json!({
            "name": "Typhoon Ragasa: estuary crossings closed", "reason": "typhoon signal 10",
            "edge_ids": ["shenzhen-zhongshan-link", "hzmb-main", "huangmaohai-link"]}),
        )
        .await;
    let after = route_minutes(&app, &dispatcher).await;
    let (_, network) = app.get("/api/v1/network", &dispatcher).await;

    // Assert
    assert_eq!(status, 201, "{closure}");
    assert_eq!(closure["active"], true);
    let edges = |r: &Value| -> Vec<String> {
        r["edge_ids"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e.as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(
        edges(&before).contains(&"shenzhen-zhongshan-link".to_owned()),
        "{before}"
    );
    assert!(
        edges(&after).contains(&"nansha-bridge".to_owned()),
        "{after}"
    );
    assert!(
        !edges(&after)
            .iter()
            .any(|e| e.starts_with("humen-bridge") && e != "humen-bridge-east"),
        "{after}"
    );
    assert!(!edges(&after).contains(&"shenzhen-zhongshan-link".to_owned()));
    assert!(
        after["minutes"].as_f64() > before["minutes"].as_f64(),
        "{before} vs {after}"
    );
    assert_eq!(after["path"]["type"], "LineString");
    let state_of = |id: &str| {
        network["features"]
            .as_array()
            .expect("features")
            .iter()
            .find(|f| f["properties"]["id"] == id)
            .map(|f| f["properties"]["state"].clone())
    };
    assert_eq!(state_of("hzmb-main"), Some(json!("closed")));
    assert_eq!(state_of("humen-bridge"), Some(json!("no_trucks")));
    assert_eq!(state_of("nansha-bridge"), Some(json!("open")));

    // Ending the closure restores the shorter route.
    let id = closure["id"].as_str().expect("id");
    let (status, ended) = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/closures/{id}"),
            &dispatcher,
            &json!({}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["active"], false);
    let restored = route_minutes(&app, &dispatcher).await;
    assert_eq!(restored["minutes"], before["minutes"]);
    let (status, again) = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/closures/{id}"),
            &dispatcher,
            &json!({}),
            None,
        )
        .await;
    assert_problem(status, &again, 409, "");
    assert_eq!(audit_count(&app, "closure.end").await, 1);
}

#[tokio::test]
async fn closures_and_networks_are_validated() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let admin = app.token("admin", &[]).await;

    // Act
    let (s1, unknown) = app
        .post(
            "/api/v1/closures",
            &dispatcher,
            &json!({"name": "x", "reason": "y", "edge_ids": ["no-such-road"]}),
        )
        .await;
    let (s2, open_area) = app
        .post("/api/v1/closures", &dispatcher, &json!({"name": "x", "reason": "y",
              "area": {"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.1]]]}}))
        .await;
    let (s3, disconnected) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/network",
            &admin,
            &json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "a", "speed_kmh": 50, "trucks_allowed": true},
             "geometry": {"type": "LineString", "coordinates": [[113.0, 22.0], [113.1, 22.0]]}},
            {"type": "Feature", "properties": {"id": "b", "speed_kmh": 50, "trucks_allowed": true},
             "geometry": {"type": "LineString", "coordinates": [[114.0, 22.0], [114.1, 22.0]]}}]}),
            None,
        )
        .await;
    let (s4, forbidden) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/network",
            &dispatcher,
            &json!({"type": "FeatureCollection", "features": []}),
            None,
        )
        .await;
    let (s5, bad_route) = app
        .get("/api/v1/routes?from=95,113&to=22,113", &dispatcher)
        .await;

    // Assert
    assert_problem(s1, &unknown, 422, "/edge_ids/0");
    assert_problem(s2, &open_area, 422, "/area");
    assert_problem(s3, &disconnected, 422, "/features/1");
    assert_problem(s4, &forbidden, 403, "");
    assert_problem(s5, &bad_route, 422, "from");
    let closures: i64 = sqlx::query_scalar("select count(*) from road_closures")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(closures, 0);
}

#[tokio::test]
async fn an_admin_replaces_the_network_and_routes_follow_it() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let net = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a", "speed_kmh": 60, "trucks_allowed": true},
         "geometry": {"type": "LineString", "coordinates": [[113.0, 22.0], [113.1, 22.0]]}},
        {"type": "Feature", "properties": {"id": "b", "speed_kmh": 60, "trucks_allowed": true},
         "geometry": {"type": "LineString", "coordinates": [[113.1, 22.0], [113.2, 22.0]]}}]});

    let other = second_server(&app).await;
    let route_on_other = || async {
        let res = reqwest::Client::new()
            .get(format!(
                "{other}/api/v1/routes?from=22.0,113.0&to=22.0,113.2"
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("send");
        crate::helpers::read(res).await
    };
    let (_, before_on_other) = route_on_other().await;

    // Act
    let (status, stored) = app
        .send(reqwest::Method::PUT, "/api/v1/network", &admin, &net, None)
        .await;
    let (_, route) = app
        .get("/api/v1/routes?from=22.0,113.0&to=22.0,113.2", &admin)
        .await;
    let (_, after_on_other) = route_on_other().await;

    // Assert
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["edge_count"], 2);
    assert_eq!(route["edge_ids"], json!(["a", "b"]));
    assert_ne!(
        before_on_other["edge_ids"],
        json!(["a", "b"]),
        "the other process used the demo network"
    );
    assert_eq!(
        after_on_other["edge_ids"],
        json!(["a", "b"]),
        "and then sees the replacement"
    );
    assert_eq!(audit_count(&app, "network.replace").await, 1);
}

// ---------------------------------------------------------------------------------------
// Allocation. Each test makes its own item so that the demo stock does not interfere.

pub(crate) async fn new_item(app: &TestApp, sku: &str, min_remaining_days: i32) {
    sqlx::query(
        "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, shelf_life_days, min_remaining_days)
         values ($1, $2, '测试', 'Test item', '1-01', '件', 'piece', 720, $3)",
    )
    .bind(Uuid::now_v7())
    .bind(sku)
    .bind(min_remaining_days)
    .execute(&app.pool)
    .await
    .expect("insert item");
}

/// A lot with `qty` on hand, received through the ledger.
pub(crate) async fn add_lot(
    app: &TestApp,
    sku: &str,
    warehouse: &str,
    lot_code: &str,
    expires_in_days: Option<i64>,
    qty: i64,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, received_on)
         select $1, i.id, w.id, $4, current_date + $5::int, current_date
           from items i, warehouses w where i.sku = $2 and w.code = $3",
    )
    .bind(id)
    .bind(sku)
    .bind(warehouse)
    .bind(lot_code)
    .bind(expires_in_days.map(|d| d as i32))
    .execute(&app.pool)
    .await
    .expect("insert lot");
    sqlx::query(
        "insert into stock_movements (lot_id, kind, qty, actor_id) values ($1, 'receipt', $2, '00000000-0000-0000-0000-000000000001')",
    )
    .bind(id)
    .bind(qty)
    .execute(&app.pool)
    .await
    .expect("receive");
    id
}

pub(crate) async fn set_level(app: &TestApp, sku: &str, warehouse: &str, min: i64) {
    sqlx::query(
        "insert into reserve_levels (warehouse_id, item_id, min_qty) select w.id, i.id, $3
           from items i, warehouses w where i.sku = $1 and w.code = $2",
    )
    .bind(sku)
    .bind(warehouse)
    .bind(min)
    .execute(&app.pool)
    .await
    .expect("reserve level");
}

pub(crate) async fn reserved_of(app: &TestApp, lot: Uuid) -> i64 {
    sqlx::query_scalar("select reserved from stock_lots where id = $1")
        .bind(lot)
        .fetch_one(&app.pool)
        .await
        .expect("lot")
}

async fn request(app: &TestApp, token: &str, incident: &str, body: Value) -> (u16, Value) {
    app.post(
        &format!("/api/v1/incidents/{incident}/requests"),
        token,
        &body,
    )
    .await
}

/// Places a one-line request for `qty` of `sku` at `priority`, expecting 201; its id and body.
async fn place_request(
    app: &TestApp,
    token: &str,
    incident: &str,
    priority: &str,
    sku: &str,
    qty: i64,
) -> (String, Value) {
    let body = json!({"priority": priority, "lines": [{"sku": sku, "qty": qty}]});
    let (status, out) = request(app, token, incident, body).await;
    assert_eq!(status, 201, "place request: {out}");
    (out["id"].as_str().expect("id").to_owned(), out)
}

fn picks(line: &Value) -> Vec<(String, String, i64)> {
    line["picks"]
        .as_array()
        .expect("picks")
        .iter()
        .map(|p| {
            (
                p["warehouse_code"].as_str().unwrap_or("").to_owned(),
                p["lot_code"].as_str().unwrap_or("").to_owned(),
                p["qty"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

fn reason_of(line: &Value, warehouse: &str) -> Option<String> {
    line["explanation"]
        .as_array()?
        .iter()
        .find(|e| e["warehouse_code"] == warehouse)
        .and_then(|e| e["reason"].as_str().map(str::to_owned))
}

/// Every lot's reserved equals the sum of its ledger reserved deltas, and never exceeds on hand.
pub(crate) async fn assert_ledger_consistent(app: &TestApp) {
    let bad: i64 = sqlx::query_scalar(
        "select count(*) from stock_lots l
          where l.reserved <> coalesce((select sum(reserved_delta) from stock_movements m where m.lot_id = l.id), 0)
             or l.on_hand <> coalesce((select sum(qty) from stock_movements m where m.lot_id = l.id), 0)
             or l.reserved > l.on_hand",
    )
    .fetch_one(&app.pool)
    .await
    .expect("check");
    assert_eq!(bad, 0, "lots whose balance disagrees with the ledger");
}

#[tokio::test]
async fn near_expiry_lots_at_the_nearest_warehouse_go_first() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-MASK", 0).await;
    let near = add_lot(&app, "TEST-MASK", "JM-XH-01", "NEAR", Some(20), 60).await;
    let fresh = add_lot(&app, "TEST-MASK", "JM-XH-01", "FRESH", Some(600), 100).await;
    let far = add_lot(&app, "TEST-MASK", "GZ-YX-01", "FAR-NEAR", Some(10), 500).await;
    let incident = xinhui_incident(&app, &dispatcher).await;

    // Act
    let (status, out) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "normal", "lines": [{"sku": "TEST-MASK", "qty": 80}]}),
    )
    .await;

    // Assert
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["status"], "reserved");
    let line = &out["lines"][0];
    assert_eq!(
        picks(line),
        vec![
            ("JM-XH-01".into(), "NEAR".into(), 60),
            ("JM-XH-01".into(), "FRESH".into(), 20),
        ]
    );
    assert_eq!(line["shortfall"], 0);
    assert_eq!(reason_of(line, "GZ-YX-01").as_deref(), Some("not_needed"));
    assert!(line["picks"][0]["eta_minutes"].as_f64().unwrap_or(0.0) >= 30.0);
    assert_eq!(reserved_of(&app, near).await, 60);
    assert_eq!(reserved_of(&app, fresh).await, 20);
    assert_eq!(reserved_of(&app, far).await, 0);
    assert_eq!(audit_count(&app, "allocation.request").await, 1);
    assert_ledger_consistent(&app).await;
    let id = out["id"].as_str().expect("id");
    let (_, read) = app
        .get(&format!("/api/v1/requests/{id}"), &dispatcher)
        .await;
    assert_eq!(read["lines"], out["lines"]);
}

#[tokio::test]
async fn a_warehouse_inside_the_affected_area_is_skipped_with_that_reason() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-TENT", 0).await;
    add_lot(&app, "TEST-TENT", "JM-XH-01", "XH", None, 100).await;
    add_lot(&app, "TEST-TENT", "JM-JH-RC", "RC", None, 100).await;
    let incident = xinhui_incident_over_xh(&app, &dispatcher).await;

    // Act
    let (status, out) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "high", "lines": [{"sku": "TEST-TENT", "qty": 30}]}),
    )
    .await;
    let (_, with) = request(&app, &dispatcher, &incident,
        json!({"priority": "high", "lines": [{"sku": "TEST-TENT", "qty": 30}], "include_affected_warehouses": true})).await;

    // Assert
    assert_eq!(status, 201, "{out}");
    assert_eq!(
        picks(&out["lines"][0]),
        vec![("JM-JH-RC".into(), "RC".into(), 30)]
    );
    assert_eq!(
        reason_of(&out["lines"][0], "JM-XH-01").as_deref(),
        Some("inside_affected_area")
    );
    assert_eq!(
        picks(&with["lines"][0]),
        vec![("JM-XH-01".into(), "XH".into(), 30)]
    );
}

#[tokio::test]
async fn reserve_floors_hold_for_normal_requests_and_give_way_to_critical_ones() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-WATER", 0).await;
    let xh = add_lot(&app, "TEST-WATER", "JM-XH-01", "XH", Some(300), 100).await;
    let rc = add_lot(&app, "TEST-WATER", "JM-JH-RC", "RC", Some(300), 1000).await;
    set_level(&app, "TEST-WATER", "JM-XH-01", 80).await;
    let incident = xinhui_incident(&app, &dispatcher).await;

    // Act
    let (_, normal) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "normal", "lines": [{"sku": "TEST-WATER", "qty": 50}]}),
    )
    .await;
    let (_, critical) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "critical", "lines": [{"sku": "TEST-WATER", "qty": 50}]}),
    )
    .await;

    // Assert
    assert_eq!(
        picks(&normal["lines"][0]),
        vec![
            ("JM-XH-01".into(), "XH".into(), 20),
            ("JM-JH-RC".into(), "RC".into(), 30),
        ]
    );
    assert_eq!(
        reason_of(&normal["lines"][0], "JM-XH-01").as_deref(),
        Some("reserve_level")
    );
    assert_eq!(
        picks(&critical["lines"][0]),
        vec![("JM-XH-01".into(), "XH".into(), 50)]
    );
    assert_eq!(reserved_of(&app, xh).await, 70);
    assert_eq!(reserved_of(&app, rc).await, 30);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn expired_and_short_dated_stock_does_not_hold_a_reserve_floor() {
    // Arrange: JM-XH-01 keeps a level of 80 of an item that must have 30 days left. It
    // holds 100 fresh, 500 that expired yesterday and 500 with 10 days left: Σ available
    // is 1,100, but only the 100 fresh count toward the level, so a normal request may
    // take 20 there, not 1,020.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-FLOOR", 30).await;
    let fresh = add_lot(&app, "TEST-FLOOR", "JM-XH-01", "FRESH", Some(300), 100).await;
    add_lot(&app, "TEST-FLOOR", "JM-XH-01", "GONE", Some(-1), 500).await;
    add_lot(&app, "TEST-FLOOR", "JM-XH-01", "SOON", Some(10), 500).await;
    let rc = add_lot(&app, "TEST-FLOOR", "JM-JH-RC", "RC", Some(300), 1000).await;
    set_level(&app, "TEST-FLOOR", "JM-XH-01", 80).await;
    let incident = xinhui_incident(&app, &dispatcher).await;

    // Act
    let (status, normal) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "normal", "lines": [{"sku": "TEST-FLOOR", "qty": 50}]}),
    )
    .await;

    // Assert
    assert_eq!(status, 201, "{normal}");
    let line = &normal["lines"][0];
    assert_eq!(
        picks(line),
        vec![
            ("JM-XH-01".into(), "FRESH".into(), 20),
            ("JM-JH-RC".into(), "RC".into(), 30),
        ]
    );
    let why = line["explanation"]
        .as_array()
        .expect("explanation")
        .iter()
        .find(|e| e["warehouse_code"] == "JM-XH-01")
        .expect("JM-XH-01 explained");
    assert_eq!(why["reason"], "reserve_level", "{why}");
    assert_eq!(why["available"], 1100, "{why}");
    assert_eq!(why["counts_toward_level"], 100, "{why}");
    assert_eq!(reserved_of(&app, fresh).await, 20);
    assert_eq!(reserved_of(&app, rc).await, 30);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn community_points_supply_only_incidents_within_their_radius_and_keep_their_level() {
    // Arrange: an incident at Jianghai grid point 1 (demo data). The grid points hold
    // LAMP-HANDCRANK kits, each with a level; everything else nearby is a depot.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let (lat, lon): (f64, f64) =
        sqlx::query_as("select lat, lon from warehouses where code = 'JM-JH-G001'")
            .fetch_one(&app.pool)
            .await
            .expect("grid point 1");
    let out = create_incident(
        &app,
        &dispatcher,
        json!({"name": "Flood, Jianghai grid 1", "kind": "flood", "point": {"lat": lat, "lon": lon}}),
    )
    .await;
    let incident = out["id"].as_str().expect("id").to_owned();
    // Which points are within 5 km, and what each may give above its level.
    let points: Vec<(String, f64, i64, i64)> = sqlx::query_as(
        "select w.code, 2 * 6371.0088 * asin(sqrt(power(sin(radians(w.lat - $1) / 2), 2)
                    + cos(radians($1)) * cos(radians(w.lat)) * power(sin(radians(w.lon - $2) / 2), 2))),
                coalesce(sum(l.on_hand - l.reserved) filter (where l.status = 'available'
                         and (l.expires_on is null or l.expires_on >= current_date)), 0)::int8,
                coalesce(max(r.min_qty), 0)::int8
           from warehouses w
           join items i on i.sku = 'LAMP-HANDCRANK'
           join stock_lots l on l.warehouse_id = w.id and l.item_id = i.id
           left join reserve_levels r on r.warehouse_id = w.id and r.item_id = i.id
          where w.tier = 'community'
          group by w.code, w.lat, w.lon",
    )
    .bind(lat)
    .bind(lon)
    .fetch_all(&app.pool)
    .await
    .expect("community points");
    let far = points.iter().filter(|p| p.1 > 5.0).count();
    assert!(far > 0, "some grid point is beyond 5 km");

    // Act: preview a small normal and a critical request.
    let preview = |priority: &'static str| {
        let (app, dispatcher, incident) = (&app, &dispatcher, &incident);
        async move {
            app.post(
                "/api/v1/allocation/preview",
                dispatcher,
                &json!({"incident_id": incident, "priority": priority,
                        "lines": [{"sku": "LAMP-HANDCRANK", "qty": 100000}]}),
            )
            .await
        }
    };
    let (status, normal) = preview("normal").await;
    assert_eq!(status, 200, "{normal}");
    let (status, critical) = preview("critical").await;
    assert_eq!(status, 200, "{critical}");

    // Assert: no pick from a point beyond 5 km, each one explained as such; a normal
    // request takes from a point within 5 km only what is above its level; a critical
    // one may take all of it.
    for (plan, critical) in [(&normal, false), (&critical, true)] {
        let line = &plan["lines"][0];
        let mut taken: std::collections::HashMap<String, i64> = Default::default();
        for (wh, _, qty) in picks(line) {
            *taken.entry(wh).or_default() += qty;
        }
        for (code, km, usable, level) in &points {
            let got = taken.get(code).copied().unwrap_or(0);
            if *km > 5.0 {
                assert_eq!(got, 0, "{code} at {km:.1} km gave {got}");
                assert_eq!(
                    reason_of(line, code).as_deref(),
                    Some("outside_service_radius"),
                    "{code} at {km:.1} km"
                );
            } else if critical {
                assert_eq!(got, *usable, "{code}: a critical request takes all");
            } else {
                assert_eq!(got, (usable - level).max(0), "{code}: only above its level");
            }
        }
    }
}

/// A demo app whose process listens for catalogue changes, a new item `sku` (30 days'
/// minimum remaining shelf life) with one lot L60 at JM-XH-01 that expires in 60 days, and
/// two previews of a two-unit request for it (so the item is cached), each taking L60.
/// Returns the app, a dispatcher's token and the preview body.
async fn plans_with_a_cached_item(sku: &str) -> (TestApp, String, Value) {
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    wait_for_listeners(&app, 1).await;
    new_item(&app, sku, 30).await;
    add_lot(&app, sku, "JM-XH-01", "L60", Some(60), 10).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let body = json!({"incident_id": incident, "priority": "critical",
                      "lines": [{"sku": sku, "qty": 2}]});
    for _ in 0..2 {
        let (status, out) = app
            .post("/api/v1/allocation/preview", &dispatcher, &body)
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(
            picks(&out["lines"][0]),
            vec![("JM-XH-01".to_owned(), "L60".to_owned(), 2)]
        );
    }
    (app, dispatcher, body)
}

#[tokio::test]
async fn a_raised_shelf_life_minimum_applies_to_the_next_plan_although_the_item_was_cached() {
    // Arrange: the process listens for catalogue changes; TEST-CACHED is cached.
    let (app, dispatcher, body) = plans_with_a_cached_item("TEST-CACHED").await;

    // Act: an operator raises the minimum to 90 days with plain SQL.
    sqlx::query("update items set min_remaining_days = 90 where sku = 'TEST-CACHED'")
        .execute(&app.pool)
        .await
        .expect("raise the minimum");

    // Assert: once the notification is in (polled for at most five seconds), the plan
    // leaves the 60-day lot and says why.
    let mut last = Value::Null;
    for _ in 0..500 {
        let (status, out) = app
            .post("/api/v1/allocation/preview", &dispatcher, &body)
            .await;
        assert_eq!(status, 200, "{out}");
        last = out;
        if picks(&last["lines"][0]).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        picks(&last["lines"][0]).is_empty(),
        "the old minimum still applies: {last}"
    );
    assert_eq!(
        reason_of(&last["lines"][0], "JM-XH-01").as_deref(),
        Some("expired_or_short_dated"),
        "{last}"
    );
}

#[tokio::test]
async fn plans_use_the_cached_item_which_is_why_item_changes_notify() {
    // Arrange: TEST-UNTOLD is cached, then the catalogue's notification trigger is
    // switched off.
    let (app, dispatcher, body) = plans_with_a_cached_item("TEST-UNTOLD").await;
    sqlx::query("alter table items disable trigger items_notify")
        .execute(&app.pool)
        .await
        .expect("disable trigger");

    // Act: a policy change the service is not told about.
    sqlx::query("update items set min_remaining_days = 90 where sku = 'TEST-UNTOLD'")
        .execute(&app.pool)
        .await
        .expect("raise the minimum");
    let (status, out) = app
        .post("/api/v1/allocation/preview", &dispatcher, &body)
        .await;

    // Assert: the cached minimum still applies (the database's would leave the lot).
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        picks(&out["lines"][0]),
        vec![("JM-XH-01".to_owned(), "L60".to_owned(), 2)]
    );
}

#[tokio::test]
async fn with_the_estuary_closed_a_shenzhen_pick_arrives_later_by_its_route_time() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-PUMP", 0).await;
    add_lot(&app, "TEST-PUMP", "SZ-FT-01", "SZ", None, 10).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let body = json!({"incident_id": incident, "priority": "critical", "lines": [{"sku": "TEST-PUMP", "qty": 2}]});
    let (_, open) = app
        .post("/api/v1/allocation/preview", &dispatcher, &body)
        .await;

    // Act
    app.post(
        "/api/v1/closures",
        &dispatcher,
        &json!({"name": "Estuary split", "reason": "typhoon",
        "edge_ids": ["shenzhen-zhongshan-link", "hzmb-main", "huangmaohai-link"]}),
    )
    .await;
    let (status, out) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "critical", "lines": [{"sku": "TEST-PUMP", "qty": 2}]}),
    )
    .await;
    let route = route_minutes(&app, &dispatcher).await;

    // Assert
    assert_eq!(status, 201, "{out}");
    let eta_open = open["lines"][0]["picks"][0]["eta_minutes"]
        .as_f64()
        .expect("eta");
    let eta_closed = out["lines"][0]["picks"][0]["eta_minutes"]
        .as_f64()
        .expect("eta");
    assert!(eta_closed > eta_open, "{eta_open} vs {eta_closed}");
    let handling: i32 =
        sqlx::query_scalar("select handling_minutes from warehouses where code = 'SZ-FT-01'")
            .fetch_one(&app.pool)
            .await
            .expect("handling");
    let expected = f64::from(handling) + route["minutes"].as_f64().expect("minutes");
    assert!(
        (eta_closed - expected).abs() < 1e-6,
        "{eta_closed} vs {expected}"
    );
    // The preview reserved nothing; the request reserved 2.
    let reserved: i64 = sqlx::query_scalar("select sum(reserved)::bigint from stock_lots l join items i on i.id = l.item_id where i.sku = 'TEST-PUMP'")
        .fetch_one(&app.pool).await.expect("sum");
    assert_eq!(reserved, 2);
}

#[tokio::test]
async fn a_single_request_reports_picks_that_miss_the_incidents_delivery_target() {
    // Arrange: an incident whose first batch must arrive within 2 h; the stock is in
    // Jianghai (under 2 h with handling) and in Shenzhen (over 2 h).
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-PUMP", 0).await;
    add_lot(&app, "TEST-PUMP", "JM-JH-RC", "JH", None, 1).await;
    add_lot(&app, "TEST-PUMP", "SZ-FT-01", "SZ", None, 1).await;
    let incident = create_incident(
        &app,
        &dispatcher,
        json!({"name": "Typhoon, Xinhui", "kind": "typhoon",
               "point": {"lat": XINHUI.0, "lon": XINHUI.1}, "delivery_target_hours": 2}),
    )
    .await;
    let id = incident["id"].as_str().expect("id");

    // Act
    let (status, out) = request(
        &app,
        &dispatcher,
        id,
        json!({"priority": "critical", "lines": [{"sku": "TEST-PUMP", "qty": 2}]}),
    )
    .await;
    let (_, stored) = app
        .get(
            &format!("/api/v1/requests/{}", out["id"].as_str().expect("id")),
            &dispatcher,
        )
        .await;

    // Assert: the near pick makes the target, the Shenzhen one misses it (and is late);
    // both are taken, and the stored request says the same.
    assert_eq!(status, 201, "{out}");
    for view in [&out, &stored] {
        let flags: Vec<(String, bool, bool, bool)> = view["lines"][0]["picks"]
            .as_array()
            .expect("picks")
            .iter()
            .map(|p| {
                (
                    p["warehouse_code"].as_str().unwrap_or("").to_owned(),
                    p["eta_minutes"].as_f64().unwrap_or(0.0) > 120.0,
                    p["misses_target"].as_bool().expect("misses_target"),
                    p["late"].as_bool().expect("late"),
                )
            })
            .collect();
        assert_eq!(
            flags,
            vec![
                ("JM-JH-RC".to_owned(), false, false, false),
                ("SZ-FT-01".to_owned(), true, true, true)
            ],
            "{view}"
        );
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_and_reserve_nothing() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-BAD", 0).await;
    add_lot(&app, "TEST-BAD", "JM-XH-01", "L1", None, 10).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let closed = xinhui_incident(&app, &dispatcher).await;
    app.send(
        reqwest::Method::PATCH,
        &format!("/api/v1/incidents/{closed}"),
        &dispatcher,
        &json!({"status": "closed"}),
        None,
    )
    .await;

    // Act
    let (s1, unknown) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "normal", "lines": [{"sku": "NO-SUCH-SKU", "qty": 1}]}),
    )
    .await;
    let (s2, zero) = request(&app, &dispatcher, &incident,
        json!({"priority": "normal", "lines": [{"sku": "TEST-BAD", "qty": 1}, {"sku": "TEST-BAD", "qty": 0}]})).await;
    let (s3, on_closed) = request(
        &app,
        &dispatcher,
        &closed,
        json!({"priority": "normal", "lines": [{"sku": "TEST-BAD", "qty": 1}]}),
    )
    .await;
    let (s4, bad_priority) = request(
        &app,
        &dispatcher,
        &incident,
        json!({"priority": "urgent", "lines": [{"sku": "TEST-BAD", "qty": 1}]}),
    )
    .await;
    let auditor = app.token("auditor", &[]).await;
    let (s5, forbidden) = request(
        &app,
        &auditor,
        &incident,
        json!({"priority": "normal", "lines": [{"sku": "TEST-BAD", "qty": 1}]}),
    )
    .await;

    // Assert
    assert_problem(s1, &unknown, 422, "/lines/0/sku");
    assert_problem(s2, &zero, 422, "/lines/1/qty");
    assert_problem(s3, &on_closed, 409, "incident_id");
    assert_problem(s4, &bad_priority, 422, "/priority");
    assert_problem(s5, &forbidden, 403, "");
    let requests: i64 = sqlx::query_scalar("select count(*) from allocation_requests")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let reserved: i64 =
        sqlx::query_scalar("select coalesce(sum(reserved), 0)::bigint from stock_lots")
            .fetch_one(&app.pool)
            .await
            .expect("sum");
    assert_eq!(requests, 0);
    assert_eq!(reserved, 0);
}

#[tokio::test]
async fn dispatch_issues_the_stock_once_and_cancel_after_dispatch_is_refused() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-BED", 0).await;
    let xh = add_lot(&app, "TEST-BED", "JM-XH-01", "XH", None, 10).await;
    let rc = add_lot(&app, "TEST-BED", "JM-JH-RC", "RC", None, 100).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let (id, _) = place_request(&app, &dispatcher, &incident, "critical", "TEST-BED", 25).await;

    // Act
    let (s1, dispatched) = app
        .post(
            &format!("/api/v1/requests/{id}/dispatch"),
            &dispatcher,
            &json!({}),
        )
        .await;
    let (s2, twice) = app
        .post(
            &format!("/api/v1/requests/{id}/dispatch"),
            &dispatcher,
            &json!({}),
        )
        .await;
    let (s3, cancel) = app
        .post(
            &format!("/api/v1/requests/{id}/cancel"),
            &dispatcher,
            &json!({}),
        )
        .await;
    let shipment = dispatched["shipments"]
        .as_array()
        .expect("shipments")
        .iter()
        .find(|s| s["warehouse_code"] == "JM-JH-RC")
        .expect("RC shipment")
        .clone();
    let sid = shipment["id"].as_str().expect("id");
    let (s4, delivered) = app
        .post(
            &format!("/api/v1/shipments/{sid}/deliver"),
            &dispatcher,
            &json!({"lines": [{"lot_id": rc, "received_qty": 14}], "note": "one box wet"}),
        )
        .await;
    let (s5, again) = app
        .post(
            &format!("/api/v1/shipments/{sid}/deliver"),
            &dispatcher,
            &json!({}),
        )
        .await;

    // Assert
    assert_eq!(s1, 200, "{dispatched}");
    assert_eq!(dispatched["status"], "dispatched");
    assert_eq!(dispatched["shipments"].as_array().map(Vec::len), Some(2));
    assert_problem(s2, &twice, 409, "id");
    assert_problem(s3, &cancel, 409, "id");
    assert_eq!(s4, 200, "{delivered}");
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["lines"][0]["discrepancy"], -1);
    assert_problem(s5, &again, 409, "id");
    let balances: Vec<(i64, i64)> =
        sqlx::query_as("select on_hand, reserved from stock_lots where id = any($1) order by id")
            .bind(vec![xh, rc])
            .fetch_all(&app.pool)
            .await
            .expect("lots");
    assert_eq!(balances, vec![(0, 0), (85, 0)]);
    let dispatch_rows: i64 =
        sqlx::query_scalar("select count(*) from stock_movements where kind = 'dispatch'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(dispatch_rows, 2);
    assert_eq!(audit_count(&app, "allocation.dispatch").await, 1);
    assert_ledger_consistent(&app).await;
}

/// A dispatched critical request for 4 TEST-BED from its only lot, at JM-XH-01 (one
/// shipment): returns the lot, the request id and the dispatch answer.
async fn four_beds_dispatched_from_xh(app: &TestApp, dispatcher: &str) -> (Uuid, String, Value) {
    new_item(app, "TEST-BED", 0).await;
    let xh = add_lot(app, "TEST-BED", "JM-XH-01", "XH", None, 10).await;
    let incident = xinhui_incident(app, dispatcher).await;
    let (id, _) = place_request(app, dispatcher, &incident, "critical", "TEST-BED", 4).await;
    let (status, dispatched) = app
        .post(
            &format!("/api/v1/requests/{id}/dispatch"),
            dispatcher,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "dispatch: {dispatched}");
    (xh, id, dispatched)
}

#[tokio::test]
async fn a_shipment_can_be_looked_up_by_its_id_before_and_after_delivery() {
    // Arrange: a dispatched request with one shipment, from JM-XH-01; a clerk of another
    // warehouse, who holds only the shipment id
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let clerk = app.token("clerk", &["JM-JH-RC"]).await;
    let (xh, id, dispatched) = four_beds_dispatched_from_xh(&app, &dispatcher).await;
    let sid = dispatched["shipments"][0]["id"]
        .as_str()
        .expect("shipment id")
        .to_owned();
    let path = format!("/api/v1/shipments/{sid}");

    // Act
    let (s1, in_transit) = app.get(&path, &clerk).await;
    let (status, delivered) = app
        .post(
            &format!("{path}/deliver"),
            &dispatcher,
            &json!({"lines": [{"lot_id": xh, "received_qty": 3}], "note": "one bed broken"}),
        )
        .await;
    assert_eq!(status, 200, "{delivered}");
    let (s2, after) = app.get(&path, &clerk).await;
    let (s3, missing) = app
        .get(&format!("/api/v1/shipments/{}", Uuid::new_v4()), &clerk)
        .await;
    let (s4, malformed) = app.get("/api/v1/shipments/not-an-id", &clerk).await;

    // Assert
    assert_eq!(s1, 200, "{in_transit}");
    assert_eq!(
        in_transit, dispatched["shipments"][0],
        "the view the request shows"
    );
    assert_eq!(in_transit["status"], "in_transit");
    assert_eq!(in_transit["warehouse_code"], "JM-XH-01");
    assert_eq!(in_transit["request_id"], id.as_str());
    assert_eq!(in_transit["lines"][0]["lot_id"], xh.to_string());
    assert_eq!(in_transit["lines"][0]["qty"], 4);
    assert!(in_transit["lines"][0]["received_qty"].is_null());
    assert_eq!(s2, 200, "{after}");
    assert_eq!(after, delivered, "the view delivery answered");
    assert_eq!(after["status"], "delivered");
    assert_eq!(after["delivery_note"], "one bed broken");
    assert_eq!(after["lines"][0]["received_qty"], 3);
    assert_eq!(after["lines"][0]["discrepancy"], -1);
    assert_problem(s3, &missing, 404, "");
    assert_problem(s4, &malformed, 400, "");
}

#[tokio::test]
async fn a_delivery_must_account_for_what_was_shipped() {
    // Arrange: a dispatched shipment of 4 units of one lot
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let (xh, _, dispatched) = four_beds_dispatched_from_xh(&app, &dispatcher).await;
    let sid = dispatched["shipments"][0]["id"].as_str().expect("id");
    let deliver = format!("/api/v1/shipments/{sid}/deliver");
    let line = |qty: i64| json!({"lot_id": xh, "received_qty": qty});

    // Act
    let more = app
        .post(&deliver, &dispatcher, &json!({"lines": [line(5)]}))
        .await;
    let negative = app
        .post(&deliver, &dispatcher, &json!({"lines": [line(-1)]}))
        .await;
    let twice = app
        .post(
            &deliver,
            &dispatcher,
            &json!({"lines": [line(4), line(3)], "note": "x"}),
        )
        .await;
    let short_unexplained = app
        .post(
            &deliver,
            &dispatcher,
            &json!({"lines": [line(3)], "note": "  "}),
        )
        .await;
    let still = app
        .get(&format!("/api/v1/shipments/{sid}"), &dispatcher)
        .await;
    let short_explained = app
        .post(
            &deliver,
            &dispatcher,
            &json!({"lines": [line(3)], "note": " one bed crushed "}),
        )
        .await;

    // Assert: each refusal names the field and changes nothing; the explained one lands
    assert_problem(more.0, &more.1, 422, "/lines/0/received_qty");
    assert!(
        more.1["detail"]
            .as_str()
            .unwrap_or("")
            .contains("4 shipped"),
        "{}",
        more.1
    );
    assert_problem(negative.0, &negative.1, 422, "/lines/0/received_qty");
    assert_problem(twice.0, &twice.1, 422, "/lines/1/lot_id");
    assert_problem(short_unexplained.0, &short_unexplained.1, 422, "/note");
    assert_eq!(still.1["status"], "in_transit", "{}", still.1);
    assert!(still.1["lines"][0]["received_qty"].is_null());
    assert_eq!(short_explained.0, 200, "{}", short_explained.1);
    assert_eq!(short_explained.1["lines"][0]["received_qty"], 3);
    assert_eq!(short_explained.1["delivery_note"], "one bed crushed");
    assert_eq!(audit_count(&app, "shipment.deliver").await, 1);
}

#[tokio::test]
async fn cancel_releases_the_reservations_and_replan_fills_a_shortfall_from_new_stock() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-QUILT", 0).await;
    let first = add_lot(&app, "TEST-QUILT", "JM-XH-01", "Q1", None, 30).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let (id, short) =
        place_request(&app, &dispatcher, &incident, "critical", "TEST-QUILT", 50).await;

    // Act
    let second = add_lot(&app, "TEST-QUILT", "JM-JH-RC", "Q2", None, 100).await;
    let (s1, replanned) = app
        .post(
            &format!("/api/v1/requests/{id}/replan"),
            &dispatcher,
            &json!({}),
        )
        .await;
    let reserved_after_replan = (
        reserved_of(&app, first).await,
        reserved_of(&app, second).await,
    );
    let (s2, cancelled) = app
        .post(
            &format!("/api/v1/requests/{id}/cancel"),
            &dispatcher,
            &json!({}),
        )
        .await;

    // Assert
    assert_eq!(short["status"], "partially_reserved");
    assert_eq!(short["lines"][0]["shortfall"], 20);
    assert_eq!(s1, 200, "{replanned}");
    assert_eq!(replanned["status"], "reserved");
    assert_eq!(replanned["lines"][0]["reserved"], 50);
    assert_eq!(reserved_after_replan, (30, 20));
    assert_eq!(s2, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        (
            reserved_of(&app, first).await,
            reserved_of(&app, second).await
        ),
        (0, 0)
    );
    let releases: i64 =
        sqlx::query_scalar("select count(*) from stock_movements where kind = 'release'")
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(releases, 2);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn a_retried_request_with_the_same_key_reserves_once() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-IDEM", 0).await;
    let lot = add_lot(&app, "TEST-IDEM", "JM-XH-01", "L", None, 100).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let path = format!("/api/v1/incidents/{incident}/requests");
    let body = json!({"priority": "normal", "lines": [{"sku": "TEST-IDEM", "qty": 10}]});

    // Act
    let (s1, a) = app
        .send(
            reqwest::Method::POST,
            &path,
            &dispatcher,
            &body,
            Some("req-1"),
        )
        .await;
    let (s2, b) = app
        .send(
            reqwest::Method::POST,
            &path,
            &dispatcher,
            &body,
            Some("req-1"),
        )
        .await;

    // Assert
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(reserved_of(&app, lot).await, 10);
}

/// A second service process on the same database, with its own pool.
async fn second_server(app: &TestApp) -> String {
    server_with(app, stockpile::config::Settings::default()).await
}

/// Another service process on the same database, with `settings`.
pub(crate) async fn server_with(app: &TestApp, settings: stockpile::config::Settings) -> String {
    let pool = stockpile::db::pool(app.options.clone(), 8)
        .await
        .expect("pool");
    let state = stockpile::AppState::new(pool, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, stockpile::app(state)).await.ok();
    });
    format!("http://{addr}")
}

/// `clients` concurrent requests of 7 units of `sku`, alternating between the servers of
/// `bases`, client i at `priority(i)`; each must be answered 201. Returns Σ reserved.
async fn request_seven_each(
    bases: &[String],
    incident: &str,
    token: &str,
    sku: &'static str,
    clients: usize,
    priority: fn(usize) -> &'static str,
) -> i64 {
    let mut tasks = Vec::new();
    for i in 0..clients {
        let url = format!(
            "{}/api/v1/incidents/{incident}/requests",
            bases[i % bases.len()]
        );
        let token = token.to_owned();
        let priority = priority(i);
        tasks.push(tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"priority": priority, "lines": [{"sku": sku, "qty": 7}]}))
                .send()
                .await
                .expect("send");
            crate::helpers::read(res).await
        }));
    }
    let mut answered = 0i64;
    for t in tasks {
        let (status, out) = t.await.expect("task");
        assert_eq!(status, 201, "{out}");
        answered += out["lines"][0]["reserved"].as_i64().expect("reserved");
    }
    answered
}

#[tokio::test]
async fn concurrent_requests_on_two_servers_never_reserve_more_than_the_stock() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-SCARCE", 0).await;
    add_lot(&app, "TEST-SCARCE", "JM-XH-01", "A", Some(100), 37).await;
    add_lot(&app, "TEST-SCARCE", "JM-XH-01", "B", Some(200), 25).await;
    add_lot(&app, "TEST-SCARCE", "JM-JH-RC", "C", None, 38).await;
    set_level(&app, "TEST-SCARCE", "JM-JH-RC", 10).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let other = second_server(&app).await;
    let bases = [format!("http://{}", app.addr), other];

    // Act: 32 clients, half on each server, each asking for 7 of 100 units (90 drawable for
    // normal requests, all 100 for critical ones).
    let answered = request_seven_each(&bases, &incident, &dispatcher, "TEST-SCARCE", 32, |i| {
        if i % 4 == 0 { "critical" } else { "normal" }
    })
    .await;

    // Assert
    let total: i64 = sqlx::query_scalar("select sum(reserved)::bigint from stock_lots l join items i on i.id = l.item_id where i.sku = 'TEST-SCARCE'")
        .fetch_one(&app.pool).await.expect("sum");
    let picked: i64 =
        sqlx::query_scalar("select coalesce(sum(qty), 0)::bigint from allocation_picks")
            .fetch_one(&app.pool)
            .await
            .expect("picks");
    assert!(total <= 100, "reserved {total} of 100");
    assert!(
        total >= 90,
        "reserved only {total}: requests gave up while stock was drawable"
    );
    assert_eq!(
        answered, total,
        "responses describe exactly what was reserved"
    );
    assert_eq!(picked, total);
    let rc_reserved: i64 =
        sqlx::query_scalar("select reserved from stock_lots where lot_code = 'C'")
            .fetch_one(&app.pool)
            .await
            .expect("C");
    assert!(rc_reserved <= 38);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn concurrent_requests_on_a_cell_of_many_lots_keep_its_reserve_floor_exactly() {
    // Arrange: 40 lots of 5 units in one cell (200), a reserve level of 150 there, and
    // nothing elsewhere: normal requests may draw 50 in all. A reservation locks the
    // cell's row, not its 40 lots, and checks the floor on the totals the database keeps.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-FLOOR", 0).await;
    for n in 0..40 {
        add_lot(
            &app,
            "TEST-FLOOR",
            "JM-XH-01",
            &format!("F{n:02}"),
            Some(100 + n),
            5,
        )
        .await;
    }
    set_level(&app, "TEST-FLOOR", "JM-XH-01", 150).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let other = second_server(&app).await;
    let bases = [format!("http://{}", app.addr), other];

    // Act: 24 clients, half on each server, each asking for 7 at priority normal or high.
    let answered = request_seven_each(&bases, &incident, &dispatcher, "TEST-FLOOR", 24, |i| {
        if i % 2 == 0 { "normal" } else { "high" }
    })
    .await;

    // Assert: exactly what the floor leaves drawable was reserved, no more, the answers
    // say so, and the FEFO order held (the earliest-expiring lots were drawn).
    let (reserved, available): (i64, i64) = sqlx::query_as(
        "select sum(reserved)::int8, sum(on_hand - reserved)::int8 from stock_lots l
           join items i on i.id = l.item_id where i.sku = 'TEST-FLOOR'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("sums");
    assert_eq!(reserved, 50, "the floor leaves 50 drawable, all asked for");
    assert_eq!(available, 150, "the reserve level stays available");
    assert_eq!(
        answered, reserved,
        "responses describe exactly what was reserved"
    );
    let drawn: Vec<String> = sqlx::query_scalar(
        "select lot_code from stock_lots l join items i on i.id = l.item_id
          where i.sku = 'TEST-FLOOR' and l.reserved > 0 order by lot_code",
    )
    .fetch_all(&app.pool)
    .await
    .expect("drawn");
    assert_eq!(
        drawn,
        (0..10).map(|n| format!("F{n:02}")).collect::<Vec<_>>()
    );
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn the_needs_estimate_turns_population_and_days_into_request_lines() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let incident = xinhui_incident(&app, &dispatcher).await;

    // Act
    let (status, out) = app
        .post(
            &format!("/api/v1/incidents/{incident}/needs-estimate"),
            &dispatcher,
            &json!({"population": 3400, "days": 3}),
        )
        .await;
    let (bad, problem) = app
        .post(
            &format!("/api/v1/incidents/{incident}/needs-estimate"),
            &dispatcher,
            &json!({"population": 3400, "days": 0}),
        )
        .await;

    // Assert
    assert_eq!(status, 200, "{out}");
    let tent = out["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["sku"] == "TENT-12M2-SGL")
        .expect("tent line")
        .clone();
    assert_eq!(tent["qty"], 1000);
    assert_problem(bad, &problem, 422, "/days");
}

#[tokio::test]
async fn an_area_closure_closes_the_roads_it_touches_and_a_future_one_closes_nothing_yet() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let starts = (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let before = route_minutes(&app, &dispatcher).await;

    // Act: a box over the middle of the Shenzhen–Zhongshan Link, and a future closure of
    // the Nansha Bridge.
    let (s1, area) = app
        .post(
            "/api/v1/closures",
            &dispatcher,
            &json!({"name": "Link deck wind", "reason": "gusts",
              "area": square(22.59, 113.70, 0.01)}),
        )
        .await;
    let (s2, future) = app
        .post(
            "/api/v1/closures",
            &dispatcher,
            &json!({"name": "Nansha maintenance", "reason": "works",
              "edge_ids": ["nansha-bridge"], "starts_at": starts}),
        )
        .await;
    let after = route_minutes(&app, &dispatcher).await;
    let (_, active) = app.get("/api/v1/closures?active=true", &dispatcher).await;

    // Assert
    assert_eq!((s1, s2), (201, 201), "{area} {future}");
    assert_eq!(area["closed_edge_ids"], json!(["shenzhen-zhongshan-link"]));
    assert_eq!(future["active"], false);
    assert_eq!(active.as_array().map(Vec::len), Some(1));
    let used: Vec<&str> = after["edge_ids"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!used.contains(&"shenzhen-zhongshan-link"), "{after}");
    assert!(
        used.contains(&"nansha-bridge"),
        "the future closure is not in force yet: {after}"
    );
    assert!(after["minutes"].as_f64() > before["minutes"].as_f64());
}

#[tokio::test]
async fn dispatch_and_cancel_racing_on_one_request_let_exactly_one_win() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-RACE", 0).await;
    let lot = add_lot(&app, "TEST-RACE", "JM-XH-01", "L", None, 40).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let (id, _) = place_request(&app, &dispatcher, &incident, "critical", "TEST-RACE", 15).await;

    // Act
    let (dispatch_path, cancel_path) = (
        format!("/api/v1/requests/{id}/dispatch"),
        format!("/api/v1/requests/{id}/cancel"),
    );
    let empty = json!({});
    let dispatch = app.post(&dispatch_path, &dispatcher, &empty);
    let cancel = app.post(&cancel_path, &dispatcher, &empty);
    let ((s1, _), (s2, _)) = tokio::join!(dispatch, cancel);

    // Assert
    let mut statuses = [s1, s2];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let (on_hand, reserved): (i64, i64) =
        sqlx::query_as("select on_hand, reserved from stock_lots where id = $1")
            .bind(lot)
            .fetch_one(&app.pool)
            .await
            .expect("lot");
    assert_eq!(reserved, 0);
    assert_eq!(on_hand, if s1 == 200 { 25 } else { 40 });
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn requests_are_listed_by_incident_and_status() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-LIST", 0).await;
    add_lot(&app, "TEST-LIST", "JM-XH-01", "L", None, 10).await;
    let incident = xinhui_incident(&app, &dispatcher).await;
    let other = xinhui_incident(&app, &dispatcher).await;
    for on in [&incident, &incident, &other] {
        place_request(&app, &dispatcher, on, "critical", "TEST-LIST", 8).await;
    }

    // Act
    let (_, all) = app
        .get(
            &format!("/api/v1/requests?incident={incident}"),
            &dispatcher,
        )
        .await;
    let (_, partial) = app
        .get(
            &format!("/api/v1/requests?incident={incident}&status=partially_reserved"),
            &dispatcher,
        )
        .await;
    let (_, unfilled) = app
        .get("/api/v1/requests?status=unfilled", &dispatcher)
        .await;
    let (bad, problem) = app.get("/api/v1/requests?status=lost", &dispatcher).await;

    // Assert
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(partial["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(unfilled["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(unfilled["items"][0]["incident_id"], json!(other));
    assert_problem(bad, &problem, 400, "status");
}

#[tokio::test]
async fn the_snapping_constants_are_the_deployments_to_choose() {
    // Arrange: the same route (both ends off the network) from the default service and
    // from one whose last stretches are twice as winding and half as fast.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let path = format!(
        "/api/v1/routes?from={},{}&to={},{}",
        SZ_FT_01.0 + 0.01,
        SZ_FT_01.1,
        XINHUI.0,
        XINHUI.1 + 0.01
    );
    let slow = server_with(
        &app,
        stockpile::config::Settings {
            snap: stockpile::routing::SnapConfig {
                circuity: 2.6,
                speed_kmh: 15.0,
            },
            ..Default::default()
        },
    )
    .await;

    // Act
    let (status, default) = app.get(&path, &dispatcher).await;
    let res = app
        .client
        .get(format!("{slow}{path}"))
        .bearer_auth(&dispatcher)
        .send()
        .await
        .expect("request");
    let status_slow = res.status().as_u16();
    let changed: Value = res.json().await.expect("json");

    // Assert: the road part is the same; the snap legs are twice as long in km and four
    // times as long in minutes (double the distance at half the speed).
    assert_eq!((status, status_slow), (200, 200), "{default} {changed}");
    let (km0, min0) = (
        default["km"].as_f64().expect("km"),
        default["minutes"].as_f64().expect("minutes"),
    );
    let (km1, min1) = (
        changed["km"].as_f64().expect("km"),
        changed["minutes"].as_f64().expect("minutes"),
    );
    let snap_km = km1 - km0; // the default snap legs' km (1.3 × straight line)
    assert!(
        snap_km > 0.5,
        "both ends are off the network: {km0} vs {km1}"
    );
    let snap_min_default = snap_km / 30.0 * 60.0;
    let road_min = min0 - snap_min_default;
    let expected = road_min + 2.0 * snap_km / 15.0 * 60.0;
    assert!(
        (min1 - expected).abs() < 1e-6,
        "minutes {min1}, expected {expected} (road {road_min}, snap km {snap_km})"
    );
}

#[tokio::test]
async fn removing_the_affected_area_makes_its_warehouses_usable_again() {
    // Arrange: JM-XH-01 inside the incident's area
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-TENT", 0).await;
    add_lot(&app, "TEST-TENT", "JM-XH-01", "XH", None, 100).await;
    add_lot(&app, "TEST-TENT", "JM-JH-RC", "RC", None, 100).await;
    let id = xinhui_incident_over_xh(&app, &dispatcher).await;
    let path = format!("/api/v1/incidents/{id}");

    // Act: a patch without the field keeps the area; `null` removes it
    let (kept_status, kept) = app
        .send(
            reqwest::Method::PATCH,
            &path,
            &dispatcher,
            &json!({"population": 1200}),
            None,
        )
        .await;
    let (status, patched) = app
        .send(
            reqwest::Method::PATCH,
            &path,
            &dispatcher,
            &json!({"affected_area": null}),
            None,
        )
        .await;
    let (_, out) = request(
        &app,
        &dispatcher,
        &id,
        json!({"priority": "high", "lines": [{"sku": "TEST-TENT", "qty": 30}]}),
    )
    .await;

    // Assert
    assert_eq!(kept_status, 200, "{kept}");
    assert!(kept["affected_area"].is_object(), "{kept}");
    assert_eq!(status, 200, "{patched}");
    assert!(patched["affected_area"].is_null(), "{patched}");
    assert_eq!(patched["population"], 1200);
    assert_eq!(
        picks(&out["lines"][0]),
        vec![("JM-XH-01".into(), "XH".into(), 30)]
    );
    let before: Value = sqlx::query_scalar(
        "select before from audit_events where action = 'incident.update' order by seq desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("audit");
    assert!(
        before["affected_area"].is_object(),
        "the audit keeps what was removed"
    );
}

/// One attempt of `allocation::db::insert_request_if_available`: a request for one line
/// of `sku` taking `qty` from `lot` at `warehouse`, as a plan made earlier would.
async fn reserve_as_planned(
    app: &TestApp,
    incident: &str,
    sku: &str,
    warehouse: &str,
    lot: Uuid,
    qty: i64,
    check_levels: bool,
) -> Option<stockpile::allocation::db::Stamps> {
    let mut conn = app.pool.acquire().await.expect("connection");
    reserve_as_planned_on(
        &mut conn,
        &app.pool,
        incident,
        sku,
        warehouse,
        lot,
        qty,
        check_levels,
    )
    .await
}

/// [`reserve_as_planned`] on `conn` (which may be inside a transaction).
#[allow(clippy::too_many_arguments)]
async fn reserve_as_planned_on(
    conn: &mut sqlx::PgConnection,
    pool: &sqlx::PgPool,
    incident: &str,
    sku: &str,
    warehouse: &str,
    lot: Uuid,
    qty: i64,
    check_levels: bool,
) -> Option<stockpile::allocation::db::Stamps> {
    use stockpile::allocation::db;
    let (item, wh): (Uuid, Uuid) = sqlx::query_as(
        "select i.id, w.id from items i, warehouses w where i.sku = $1 and w.code = $2",
    )
    .bind(sku)
    .bind(warehouse)
    .fetch_one(pool)
    .await
    .expect("item and warehouse");
    let actor = stockpile::auth::Actor::system();
    let origin = stockpile::audit::Origin {
        request_id: Some("verdict-test".into()),
        idempotency_key: None,
    };
    let id = stockpile::ids::RequestId::new();
    let event = stockpile::audit::db::pending_event(
        &actor,
        &origin,
        stockpile::audit::Change {
            action: "allocation.request",
            entity_kind: "allocation_request",
            entity_id: id.to_string(),
            before: None,
            after: Some(json!({"id": id})),
        },
    );
    db::insert_request_if_available(
        conn,
        &db::NewRequest {
            id,
            incident_id: stockpile::ids::IncidentId(incident.parse().expect("incident id")),
            priority: if check_levels { "normal" } else { "critical" },
            needed_by: None,
            include_affected_warehouses: false,
            status: "reserved",
            created_by: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: None,
        },
        &db::NewLines {
            line_no: vec![0],
            item_id: vec![item],
            sku: vec![sku.into()],
            requested: vec![qty],
            reserved: vec![qty],
            explanation: vec![serde_json::value::RawValue::from_string("[]".into()).expect("json")],
        },
        &db::NewPicks {
            line_no: vec![0],
            lot_id: vec![lot],
            warehouse_id: vec![wh],
            qty: vec![qty],
            eta_minutes: vec![40.0],
            distance_km: vec![Some(5.0)],
            late: vec![false],
            misses_target: vec![false],
        },
        &db::NewReservations {
            lot_id: vec![lot],
            qty: vec![qty],
        },
        &db::CellTakes {
            warehouse_id: vec![wh],
            item_id: vec![item],
            qty: vec![qty],
            counted_on: Some(chrono::Utc::now().date_naive()),
        },
        check_levels,
        &event,
    )
    .await
    .expect("statement")
}

#[tokio::test]
async fn the_one_statement_reservation_writes_nothing_when_the_plan_no_longer_holds() {
    // Arrange: 10 units, a reserve level of 4, 3 units already reserved by someone else.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-STALE", 0).await;
    let lot = add_lot(&app, "TEST-STALE", "JM-XH-01", "S", Some(300), 10).await;
    set_level(&app, "TEST-STALE", "JM-XH-01", 4).await;
    sqlx::query("insert into stock_movements (lot_id, kind, qty, reserved_delta, actor_id) values ($1, 'reserve', 0, 3, '00000000-0000-0000-0000-000000000001')")
        .bind(lot)
        .execute(&app.pool)
        .await
        .expect("reserve 3");
    let incident = xinhui_incident(&app, &dispatcher).await;
    let count = || async {
        let n: (i64, i64, i64) = sqlx::query_as(
            "select (select count(*) from allocation_requests), (select count(*) from stock_movements),
                    (select count(*) from audit_events where action = 'allocation.request')
                    + (select count(*) from audit_pending where action = 'allocation.request')",
        )
        .fetch_one(&app.pool)
        .await
        .expect("counts");
        n
    };
    let before = count().await;
    let r = |qty, levels| {
        reserve_as_planned(&app, &incident, "TEST-STALE", "JM-XH-01", lot, qty, levels)
    };

    // Act: plans that were right before the 3 units went, and one that still holds.
    let more_than_available = r(8, false).await;
    let below_the_floor = r(4, true).await;
    let after_refusals = count().await;
    let critical_to_the_floor = r(7, false).await;

    // Assert: refusals wrote nothing; the critical plan took all 7 that were left.
    assert!(more_than_available.is_none());
    assert!(below_the_floor.is_none());
    assert_eq!(after_refusals, before);
    assert!(critical_to_the_floor.is_some());
    let (requests, movements, events) = count().await;
    assert_eq!(
        (requests, movements, events),
        (before.0 + 1, before.1 + 1, before.2 + 1)
    );
    assert_eq!(reserved_of(&app, lot).await, 10);
    let held = add_lot(&app, "TEST-STALE", "JM-XH-01", "Q", Some(300), 5).await;
    sqlx::query("update stock_lots set status = 'quarantined' where id = $1")
        .bind(held)
        .execute(&app.pool)
        .await
        .expect("quarantine");
    let from_quarantine =
        reserve_as_planned(&app, &incident, "TEST-STALE", "JM-XH-01", held, 1, false).await;
    assert!(
        from_quarantine.is_none(),
        "a quarantined lot is never reserved"
    );
    assert_eq!(reserved_of(&app, held).await, 0);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn a_reservation_that_waited_for_another_on_its_cell_replans_instead_of_breaching_the_floor()
{
    // Arrange: lots A and B of 10 in one cell, a reserve level of 12: 8 drawable.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-RACE", 0).await;
    let a = add_lot(&app, "TEST-RACE", "JM-XH-01", "A", Some(300), 10).await;
    let b = add_lot(&app, "TEST-RACE", "JM-XH-01", "B", Some(300), 10).await;
    set_level(&app, "TEST-RACE", "JM-XH-01", 12).await;
    let incident = xinhui_incident(&app, &dispatcher).await;

    // Act: the first reservation (5 from A) holds the cell, uncommitted; the second (5
    // from B, planned on the same stock) starts its statement, then waits for the cell.
    let mut first = app.pool.begin().await.expect("begin");
    let took_a = reserve_as_planned_on(
        &mut first,
        &app.pool,
        &incident,
        "TEST-RACE",
        "JM-XH-01",
        a,
        5,
        true,
    )
    .await;
    let second = {
        let (pool, incident) = (app.pool.clone(), incident.clone());
        tokio::spawn(async move {
            let mut conn = pool.acquire().await.expect("connection");
            reserve_as_planned_on(
                &mut conn,
                &pool,
                &incident,
                "TEST-RACE",
                "JM-XH-01",
                b,
                5,
                true,
            )
            .await
        })
    };
    let mut watcher = <sqlx::PgConnection as sqlx::Connection>::connect_with(&app.options)
        .await
        .expect("watcher");
    for tries in 0.. {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and state = 'active'
               and query like 'with%-- The inputs, in parameter order.%'",
        )
        .fetch_one(&mut watcher)
        .await
        .expect("activity");
        if waiting > 0 {
            break;
        }
        if tries == 300 {
            let all: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                "select wait_event_type, state, left(query, 60) from pg_stat_activity where datname = current_database()",
            )
            .fetch_all(&mut watcher)
            .await
            .expect("activity");
            panic!("the second reservation never waited for the cell: {all:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    first.commit().await.expect("commit");
    let took_b = second.await.expect("task");
    // Planned again on what is there now: 3 left above the floor.
    let again_5 = reserve_as_planned(&app, &incident, "TEST-RACE", "JM-XH-01", b, 5, true).await;
    let again_3 = reserve_as_planned(&app, &incident, "TEST-RACE", "JM-XH-01", b, 3, true).await;

    // Assert: the waiting statement saw the cell change under it and wrote nothing.
    assert!(took_a.is_some());
    assert!(
        took_b.is_none(),
        "a reservation planned before the other committed must not draw below the floor"
    );
    assert!(again_5.is_none());
    assert!(again_3.is_some());
    assert_eq!(reserved_of(&app, a).await + reserved_of(&app, b).await, 8);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn a_request_or_preview_for_an_incident_that_does_not_exist_is_a_404() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let nowhere = Uuid::now_v7().to_string();
    let lines = json!([{"sku": "WATER-5L", "qty": 1}]);
    // Act
    let (s1, request) = app
        .post(
            &format!("/api/v1/incidents/{nowhere}/requests"),
            &dispatcher,
            &json!({"priority": "normal", "lines": lines}),
        )
        .await;
    let (s2, preview) = app
        .post(
            "/api/v1/allocation/preview",
            &dispatcher,
            &json!({"incident_id": nowhere, "priority": "normal", "lines": lines}),
        )
        .await;
    // Assert
    assert_eq!((s1, s2), (404, 404), "{request} {preview}");
    assert!(
        request["detail"]
            .as_str()
            .expect("detail")
            .contains(&nowhere),
        "{request}"
    );
    let requests: i64 = sqlx::query_scalar("select count(*) from allocation_requests")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(requests, 0);
}
