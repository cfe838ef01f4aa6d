//! Health, readiness, metrics, request ids, the OpenAPI contract, and the demo data.

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
