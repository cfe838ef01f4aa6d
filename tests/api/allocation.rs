//! Incidents, road closures, routes, and allocation requests: planning, atomic reservation
//! under concurrency, dispatch, delivery and cancellation.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

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

async fn create_incident(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, out) = app.post("/api/v1/incidents", token, &body).await;
    assert_eq!(status, 201, "{out}");
    out
}

#[allow(dead_code)]
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

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("select count(*) from audit_events where action = $1")
        .bind(action)
        .fetch_one(&app.pool)
        .await
        .expect("count")
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

    // Act
    let (status, stored) = app
        .send(reqwest::Method::PUT, "/api/v1/network", &admin, &net, None)
        .await;
    let (_, route) = app
        .get("/api/v1/routes?from=22.0,113.0&to=22.0,113.2", &admin)
        .await;

    // Assert
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["edge_count"], 2);
    assert_eq!(route["edge_ids"], json!(["a", "b"]));
    assert_eq!(audit_count(&app, "network.replace").await, 1);
}
