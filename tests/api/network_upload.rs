//! Uploading a road network: a bad file is refused with every problem, per edge, and
//! nothing is stored.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, audit_count};

fn edge(id: &str, from: [f64; 2], to: [f64; 2], extra: Value) -> Value {
    let mut props = json!({"id": id, "speed_kmh": 60, "trucks_allowed": true});
    if let (Some(p), Some(x)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(x.clone());
    }
    json!({"type": "Feature", "properties": props,
           "geometry": {"type": "LineString", "coordinates": [from, to]}})
}

#[tokio::test]
async fn a_network_with_several_bad_edges_is_refused_naming_each_edge_and_nothing_is_stored() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let (_, before) = app.get("/api/v1/network", &admin).await;
    let versions_before: i64 = sqlx::query_scalar("select count(*) from road_networks")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let net = json!({"type": "FeatureCollection", "features": [
        edge("a", [113.0, 22.0], [113.1, 22.0], json!({})),
        edge("b", [113.1, 22.0], [113.2, 22.0], json!({"trucks_allowed": "yes"})),
        edge("c", [113.2, 22.0], [113.3, 22.0], json!({"speed_kmh": -5, "road_class": 7})),
        edge("a", [113.3, 22.0], [113.4, 22.0], json!({})),
        edge("d", [113.4, 22.0], [113.4, 22.0], json!({})),
    ]});

    // Act
    let (status, problem) = app
        .send(reqwest::Method::PUT, "/api/v1/network", &admin, &net, None)
        .await;
    let (_, after) = app.get("/api/v1/network", &admin).await;

    // Assert
    assert_problem(
        status,
        &problem,
        422,
        "/features/1/properties/trucks_allowed",
    );
    assert_problem(status, &problem, 422, "/features/2/properties/speed_kmh");
    assert_problem(status, &problem, 422, "/features/3/properties/id");
    assert_problem(status, &problem, 422, "/features/4/geometry/coordinates");
    let rows: Vec<(Value, Value, Value)> = problem["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| (e["index"].clone(), e["edge_id"].clone(), e["field"].clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (json!(1), json!("b"), json!("trucks_allowed")),
            (json!(2), json!("c"), json!("road_class")),
            (json!(2), json!("c"), json!("speed_kmh")),
            (json!(3), json!("a"), json!("id")),
            (json!(4), json!("d"), json!("geometry.coordinates")),
        ],
        "{problem}"
    );
    assert_eq!(problem["error_count"], 5);
    assert!(
        problem["edges"].as_array().is_some_and(|e| e
            .iter()
            .all(|e| e["reason"].as_str().is_some_and(|r| !r.is_empty()))),
        "{problem}"
    );
    let versions_after: i64 = sqlx::query_scalar("select count(*) from road_networks")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(versions_after, versions_before, "nothing stored");
    assert_eq!(after, before, "the network in use is unchanged");
    assert_eq!(audit_count(&app, "network.replace").await, 0);
}

#[tokio::test]
async fn a_network_in_pieces_names_every_edge_the_first_edge_cannot_reach() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let net = json!({"type": "FeatureCollection", "features": [
        edge("a", [113.0, 22.0], [113.1, 22.0], json!({})),
        edge("x", [114.0, 22.0], [114.1, 22.0], json!({})),
        edge("y", [114.1, 22.0], [114.2, 22.0], json!({})),
    ]});

    // Act
    let (status, problem) = app
        .send(reqwest::Method::PUT, "/api/v1/network", &admin, &net, None)
        .await;

    // Assert
    assert_problem(status, &problem, 422, "/features/1");
    assert_problem(status, &problem, 422, "/features/2");
    let ids: Vec<&Value> = problem["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["edge_id"])
        .collect();
    assert_eq!(ids, vec![&json!("x"), &json!("y")], "{problem}");
}
