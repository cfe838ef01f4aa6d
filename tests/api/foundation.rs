//! Health, readiness, metrics, request ids, the OpenAPI contract, and the demo data.

use serde_json::Value;

use crate::helpers::{TestApp, read};

#[tokio::test]
async fn liveness_and_readiness_answer_without_a_token() {
    // Arrange
    let app = TestApp::empty().await;
    // Act
    let live = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    // Assert
    assert_eq!(live.status(), 200);
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn readiness_fails_when_a_migration_is_missing() {
    // Arrange: forget the newest migration, as if the binary were newer than the schema.
    let app = TestApp::empty().await;
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&app.pool)
    .await
    .expect("forget a migration");
    // Act
    let (status, body) = read(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz"),
    )
    .await;
    // Assert
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], 503);
}

#[tokio::test]
async fn write_transactions_plan_generically_and_other_connections_keep_the_default() {
    // Arrange
    let app = TestApp::empty().await;
    let writes = stockpile::db::WritePool::beside(&app.pool);
    // Act
    let mut tx = writes.begin().await.expect("write transaction");
    let in_write: String = sqlx::query_scalar("show plan_cache_mode")
        .fetch_one(&mut *tx)
        .await
        .expect("show in a write transaction");
    tx.rollback().await.expect("rollback");
    let elsewhere: String = sqlx::query_scalar("show plan_cache_mode")
        .fetch_one(&app.pool)
        .await
        .expect("show on the main pool");
    // Assert
    assert_eq!(in_write, "force_generic_plan");
    assert_eq!(elsewhere, "auto");
    writes.close().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_made_up() {
    let app = TestApp::empty().await;
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .expect("healthz");
    assert_eq!(given.headers()["x-request-id"], "req-123");
    let made = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    let id = made.headers()["x-request-id"].to_str().expect("ascii");
    assert_eq!(id.len(), 36, "a UUID is generated when none is sent: {id}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::demo().await;
    let token = app.token("auditor", &[]).await;
    let (status, _) = app.get("/api/v1/warehouses", &token).await;
    assert_eq!(status, 200);
    let res = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let text = res.text().await.expect("text");
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains("route=\"/api/v1/warehouses\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    for pool in ["main", "writes"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("db_pool_connections{{pool=\"{pool}\"}}"))),
            "{text}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_ids_are_problem_json_404s() {
    let app = TestApp::demo().await;
    let token = app.token("clerk", &[]).await;
    let res = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (status, body) = app.get("/api/v1/warehouses/NO-SUCH", &token).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app
        .get("/api/v1/lots/00000000-0000-0000-0000-00000000abcd", &token)
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn reads_need_a_token() {
    let app = TestApp::demo().await;
    let res = app
        .client
        .get(app.url("/api/v1/lots"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (status, _) = app.get("/api/v1/lots", "not-a-real-token").await;
    assert_eq!(status, 401);
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = stockpile::app::openapi_document();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    if std::env::var_os("STOCKPILE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write api-spec/openapi.json");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "api-spec/openapi.json is out of date: run `STOCKPILE_BLESS=1 cargo test openapi` and commit it"
    );
}

/// The error statuses the shared machinery can answer for an operation, from what the
/// document says of it: a parameter or body that does not parse (400), the bearer guard
/// (401, and 403 where roles are named), a path that names nothing (404), a body that
/// does not fit (422), sign-in lockout (429), and the database out of reach (503).
fn standard_errors(op: &Value) -> Vec<&'static str> {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let has_param = |place: &str| params.iter().any(|p| p["in"] == place);
    let requirements = op["security"].as_array().cloned().unwrap_or_default();
    let role_gated = requirements.iter().any(|r| {
        r.as_object().is_some_and(|m| {
            m.values()
                .any(|scopes| scopes.as_array().is_some_and(|s| !s.is_empty()))
        })
    });
    let body = op.get("requestBody").is_some();
    let mut out = vec!["503"];
    if has_param("path") || has_param("query") || has_param("header") || body {
        out.push("400");
    }
    if !requirements.is_empty() {
        out.push("401");
    }
    if role_gated {
        out.push("403");
    }
    if has_param("path") {
        out.push("404");
    }
    if body {
        out.push("422");
    }
    if op["operationId"] == "login" {
        out.extend(["401", "429"]);
    }
    out
}

#[test]
fn every_operation_declares_the_errors_it_can_answer_as_problem_json() {
    // Arrange
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    let text = std::fs::read_to_string(&path).expect("read api-spec/openapi.json");
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    let mut operations = 0;
    let mut missing = Vec::new();
    let mut not_problem_json = Vec::new();
    // Act
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            operations += 1;
            let name = format!("{} {path}", method.to_uppercase());
            let responses = &op["responses"];
            for status in standard_errors(op) {
                if responses.get(status).is_none() {
                    missing.push(format!("{name}: {status}"));
                }
            }
            for (status, response) in responses.as_object().expect("responses") {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let content = response["content"].as_object();
                let problem = content.is_some_and(|c| {
                    c.len() == 1
                        && c.get("application/problem+json")
                            .is_some_and(|m| m["schema"]["$ref"] == "#/components/schemas/Problem")
                });
                let retry_after = !matches!(status.as_str(), "429" | "503")
                    || response["headers"]["Retry-After"].is_object();
                if !problem || !retry_after {
                    not_problem_json.push(format!("{name}: {status} {response}"));
                }
            }
        }
    }
    // Assert
    assert!(
        operations >= 60,
        "only {operations} operations in the document"
    );
    assert!(missing.is_empty(), "undeclared errors: {missing:#?}");
    assert!(
        not_problem_json.is_empty(),
        "error responses not declared as application/problem+json with the Problem schema \
         (and Retry-After on 429 and 503): {not_problem_json:#?}"
    );
}

/// Every `$ref` under `value`, with where it stands.
fn references<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => out.push((at.clone(), target)),
                    _ => references(inner, format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                references(inner, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_reference_in_the_committed_openapi_document_resolves() {
    // Arrange
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-spec/openapi.json");
    let text = std::fs::read_to_string(&path).expect("read api-spec/openapi.json");
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    let mut refs = Vec::new();
    // Act
    references(&doc, String::new(), &mut refs);
    let dangling: Vec<_> = refs
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .is_none_or(|pointer| doc.pointer(pointer).is_none())
        })
        .collect();
    // Assert
    assert!(refs.len() > 100, "only {} references", refs.len());
    assert!(dangling.is_empty(), "references to nothing: {dangling:#?}");
}

#[tokio::test]
async fn a_nul_character_in_a_path_query_or_body_is_refused_naming_it_not_a_500() {
    // Arrange: PostgreSQL text cannot hold U+0000; each of these failed in the database
    // with a 500 before the house extractors refused it.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let reads = [
        ("/api/v1/items/a%00b", "sku"),
        ("/api/v1/users/a%00b", "username"),
        ("/api/v1/warehouses/JM%00", "code"),
        ("/api/v1/lots?warehouse=JM%00", "warehouse"),
        ("/api/v1/items?category=%00", "category"),
        ("/api/v1/audit/events?actor=%00", "actor"),
    ];
    let mut answers = Vec::new();
    // Act
    for (path, named) in reads {
        let (status, body) = app.get(path, &admin).await;
        answers.push((path, 400, named, status, body));
    }
    let (status, body) = app
        .send(
            reqwest::Method::PUT,
            "/api/v1/warehouses/JM-JH-RC/reserve-levels",
            &admin,
            &serde_json::json!([{"sku": "WATER-5L\u{0}", "min_qty": 10}]),
            None,
        )
        .await;
    answers.push(("reserve levels", 422, "/0/sku", status, body));
    let user = serde_json::json!({"username": "nul-test", "role": "auditor",
        "password": "correct horse battery staple", "display_name": "x\u{0}"});
    let (status, body) = app.post("/api/v1/users", &admin, &user).await;
    answers.push(("users", 422, "/display_name", status, body));
    // Assert
    for (path, expected, named, status, body) in answers {
        assert_eq!(status, expected, "{path}: {body}");
        crate::helpers::assert_problem(status, &body, expected, named);
    }
}

#[tokio::test]
async fn an_instant_before_the_year_1_is_a_400_naming_the_parameter_not_a_500() {
    // Arrange: PostgreSQL refuses instants before 4713 BC; these were a 500 (movements,
    // audit events) or an export whose body stopped after a 200.
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let long_ago = "-10000-01-01T00:00:00Z";
    let reads = [
        (format!("/api/v1/movements?from={long_ago}"), "from"),
        (format!("/api/v1/audit/events?to={long_ago}"), "to"),
        (format!("/api/v1/exports/movements?from={long_ago}"), "from"),
        (
            format!("/api/v1/exports/audit-events?from={long_ago}"),
            "from",
        ),
        (format!("/api/v1/exports/stock-as-of?at={long_ago}"), "at"),
    ];
    let mut answers = Vec::new();
    // Act
    for (path, named) in reads {
        let (status, body) = app.get(&path, &auditor).await;
        answers.push((path, named, status, body));
    }
    // Assert
    for (path, named, status, body) in answers {
        assert_eq!(status, 400, "{path}: {body}");
        crate::helpers::assert_problem(status, &body, 400, named);
    }
}

#[tokio::test]
async fn a_date_outside_the_years_1_to_9999_in_a_body_is_a_422_naming_it_not_a_500() {
    // Arrange: each of these was stored, or failed in the database with a 500.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let clerk = app.token("clerk", &["JM-JH-RC"]).await;
    let long_ago = "-10000-01-01T00:00:00Z";
    let commands = [
        (
            "/api/v1/closures".to_owned(),
            &dispatcher,
            serde_json::json!({"name": "x", "reason": "x", "edge_ids": ["e"], "starts_at": long_ago}),
            "/starts_at",
        ),
        (
            "/api/v1/incidents".to_owned(),
            &dispatcher,
            serde_json::json!({"name": "x", "kind": "flood", "point": {"lat": 22.5, "lon": 113.5},
                               "started_at": long_ago}),
            "/started_at",
        ),
        (
            format!("/api/v1/incidents/{}/requests", uuid::Uuid::now_v7()),
            &dispatcher,
            serde_json::json!({"priority": "normal", "needed_by": long_ago,
                               "lines": [{"sku": "TENT-12M2-SGL", "qty": 1}]}),
            "/needed_by",
        ),
        (
            "/api/v1/warehouses/JM-JH-RC/receipts".to_owned(),
            &clerk,
            serde_json::json!({"lines": [{"sku": "WATER-5L", "lot_code": "Y10K", "qty": 1,
                                          "expires_on": "+10000-01-01"}]}),
            "/lines/0/expires_on",
        ),
        (
            "/api/v1/warehouses/JM-JH-RC/receipts".to_owned(),
            &clerk,
            serde_json::json!({"lines": [{"sku": "WATER-5L", "lot_code": "Y0", "qty": 1,
                                          "expires_on": "2099-01-01",
                                          "production_date": "-10000-01-01"}]}),
            "/lines/0/production_date",
        ),
    ];
    let mut answers = Vec::new();
    // Act
    for (path, token, body, named) in commands {
        let (status, problem) = app.post(&path, token, &body).await;
        answers.push((path, named, status, problem));
    }
    // Assert
    for (path, named, status, problem) in answers {
        assert_eq!(status, 422, "{path}: {problem}");
        crate::helpers::assert_problem(status, &problem, 422, named);
    }
}

#[tokio::test]
async fn the_service_serves_its_openapi_document() {
    let app = TestApp::empty().await;
    let (status, body) = read(
        app.client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["paths"]["/api/v1/lots"]["get"].is_object(), "{body}");
    assert!(body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_demo_data_holds_together() {
    let app = TestApp::demo().await;
    let pool = &app.pool;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .expect(sql)
    };
    assert!(count("select count(*) from warehouses").await >= 40);
    assert!(count("select count(*) from items").await >= 60);
    assert!(count("select count(*) from stock_lots").await >= 5000);
    // Every lot's item and warehouse exist (also a foreign key; checked in data terms).
    assert_eq!(
        count("select count(*) from stock_lots l left join items i on i.id = l.item_id left join warehouses w on w.id = l.warehouse_id where i.id is null or w.id is null").await,
        0
    );
    // Every coordinate lies in the GBA bounding box.
    assert_eq!(
        count("select count(*) from warehouses where lat not between 21.4 and 24.5 or lon not between 111.3 and 115.5").await,
        0
    );
    // Every city and every Jiangmen district has a warehouse.
    let cities: Vec<String> = sqlx::query_scalar("select distinct city from warehouses")
        .fetch_all(pool)
        .await
        .expect("cities");
    for city in [
        "Guangzhou",
        "Shenzhen",
        "Zhuhai",
        "Foshan",
        "Huizhou",
        "Dongguan",
        "Zhongshan",
        "Jiangmen",
        "Zhaoqing",
        "Hong Kong",
        "Macau",
    ] {
        assert!(cities.iter().any(|c| c == city), "no warehouse in {city}");
    }
    let districts: Vec<String> = sqlx::query_scalar(
        "select distinct district from warehouses where city = 'Jiangmen' and district is not null",
    )
    .fetch_all(pool)
    .await
    .expect("districts");
    for d in [
        "Pengjiang",
        "Jianghai",
        "Xinhui",
        "Taishan",
        "Kaiping",
        "Heshan",
        "Enping",
    ] {
        assert!(
            districts.iter().any(|x| x == d),
            "no warehouse in Jiangmen's {d}"
        );
    }
    // The Jianghai centre is the largest.
    let largest: String = sqlx::query_scalar(
        "select w.code from warehouses w join stock_lots l on l.warehouse_id = w.id group by w.code order by sum(l.on_hand) desc limit 1",
    )
    .fetch_one(pool)
    .await
    .expect("largest");
    assert_eq!(largest, "JM-JH-RC");
    // A realistic spread: some expired, some without expiry; every balance equals its ledger.
    assert!(count("select count(*) from stock_lots where expires_on < current_date").await > 0);
    assert!(count("select count(*) from stock_lots where expires_on is null").await > 0);
    assert_eq!(
        count("select count(*) from stock_lots l where on_hand <> (select coalesce(sum(qty), 0) from stock_movements m where m.lot_id = l.id)").await,
        0
    );
}
