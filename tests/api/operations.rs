//! Operations group the incidents of one emergency; incidents carry a response level and
//! a delivery target (issue 17).

use serde_json::json;

use crate::helpers::{TestApp, assert_problem, audit_count};

#[tokio::test]
async fn a_dispatcher_groups_incidents_under_an_operation_with_their_delivery_targets() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let clerk = app.token("clerk", &[]).await;

    // Act: open an operation; open three incidents in it at three response levels, one
    // with its own target; move one level up; list and show.
    let (status, op) = app
        .post(
            "/api/v1/operations",
            &dispatcher,
            &json!({"name": "Typhoon Saola 2023, Jiangmen", "note": "drill"}),
        )
        .await;
    assert_eq!(status, 201, "{op}");
    let op_id = op["id"].as_str().expect("id").to_owned();
    let mut incidents = Vec::new();
    for (name, level, target) in [
        ("Taishan", json!("county"), json!(null)),
        ("Xinhui", json!("city"), json!(null)),
        ("Doumen", json!("province"), json!(12)),
    ] {
        let (status, inc) = app
            .post(
                "/api/v1/incidents",
                &dispatcher,
                &json!({"name": name, "kind": "typhoon", "point": {"lat": 22.3, "lon": 112.8},
                        "operation_id": op_id, "response_level": level,
                        "delivery_target_hours": target}),
            )
            .await;
        assert_eq!(status, 201, "{inc}");
        incidents.push(inc);
    }
    let taishan = incidents[0]["id"].as_str().expect("id").to_owned();
    let (status, raised) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/incidents/{taishan}"),
            &dispatcher,
            &json!({"response_level": "province"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{raised}");
    let (status, shown) = app
        .get(&format!("/api/v1/operations/{op_id}"), &clerk)
        .await;
    let (_, listed) = app.get("/api/v1/operations?status=open", &clerk).await;

    // Assert: default targets come from the level (6, 8, 10 h), an explicit one stays;
    // a new level without a target takes the new level's default; the operation lists
    // its incidents; every change is audited.
    let targets: Vec<i64> = incidents
        .iter()
        .map(|i| i["delivery_target_hours"].as_i64().expect("target"))
        .collect();
    assert_eq!(targets, vec![6, 8, 12]);
    assert_eq!(incidents[1]["response_level"], "city");
    assert_eq!(incidents[0]["operation_id"], op_id.as_str());
    assert_eq!(raised["response_level"], "province");
    assert_eq!(raised["delivery_target_hours"], 10);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["incidents"].as_array().expect("incidents").len(), 3);
    assert_eq!(shown["incidents"][0]["delivery_target_hours"], 10);
    assert!(
        listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|o| o["id"] == op_id.as_str())
    );
    assert_eq!(audit_count(&app, "operation.create").await, 1);
}

#[tokio::test]
async fn bad_operations_and_incident_links_name_the_field_and_write_nothing() {
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let clerk = app.token("clerk", &[]).await;
    let (status, problem) = app
        .post("/api/v1/operations", &dispatcher, &json!({"name": "  "}))
        .await;
    assert_problem(status, &problem, 422, "/name");
    let (status, problem) = app
        .post("/api/v1/operations", &clerk, &json!({"name": "Clerk's"}))
        .await;
    assert_problem(status, &problem, 403, "");
    // A closed operation takes no incident; an unknown one neither; targets stay in range.
    let (_, op) = app
        .post("/api/v1/operations", &dispatcher, &json!({"name": "Over"}))
        .await;
    let op_id = op["id"].as_str().expect("id").to_owned();
    let (status, closed) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/operations/{op_id}"),
            &dispatcher,
            &json!({"status": "closed", "note": null}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    let incident = |extra: serde_json::Value| {
        let mut body = json!({"name": "X", "kind": "flood", "point": {"lat": 22.5, "lon": 113.0}});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let before: i64 = sqlx::query_scalar("select count(*) from incidents")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    for (extra, pointer) in [
        (json!({"operation_id": op_id}), "/operation_id"),
        (
            json!({"operation_id": uuid::Uuid::now_v7()}),
            "/operation_id",
        ),
        (
            json!({"delivery_target_hours": 0}),
            "/delivery_target_hours",
        ),
        (
            json!({"delivery_target_hours": 73}),
            "/delivery_target_hours",
        ),
    ] {
        let (status, problem) = app
            .post("/api/v1/incidents", &dispatcher, &incident(extra))
            .await;
        assert_problem(status, &problem, 422, pointer);
    }
    let (status, problem) = app
        .post(
            "/api/v1/incidents",
            &dispatcher,
            &incident(json!({"response_level": "village"})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    let after: i64 = sqlx::query_scalar("select count(*) from incidents")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(after, before, "nothing was written");
    let (status, problem) = app
        .get(
            &format!("/api/v1/operations/{}", uuid::Uuid::now_v7()),
            &clerk,
        )
        .await;
    assert_problem(status, &problem, 404, "");
}
