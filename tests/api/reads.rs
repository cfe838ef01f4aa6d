//! Read endpoints for items, warehouses and lots: filters, pagination, bad input.

use std::collections::HashSet;

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn items_page_through_the_whole_catalogue_without_repeats() {
    // Arrange
    let app = TestApp::demo().await;
    let token = app.token("dispatcher", &[]).await;
    let total: i64 = sqlx::query_scalar("select count(*) from items")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    // Act: pages of 25
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/items?limit=25&cursor={c}"),
            None => "/api/v1/items?limit=25".to_owned(),
        };
        let (status, body) = app.get(&path, &token).await;
        assert_eq!(status, 200, "{body}");
        for item in body["items"].as_array().expect("items") {
            assert!(
                seen.insert(item["sku"].as_str().expect("sku").to_owned()),
                "repeat {item}"
            );
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    // Assert
    assert_eq!(seen.len() as i64, total);
}

#[tokio::test]
async fn items_filter_by_category_including_sub_categories() {
    let app = TestApp::demo().await;
    let token = app.token("clerk", &[]).await;
    let (status, body) = app.get("/api/v1/items?category=1&limit=1000", &token).await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| {
        let c = i["category_code"].as_str().unwrap_or("");
        c == "1" || c.starts_with("1-")
    }));
    let (status, body) = app.get("/api/v1/items?category=nope", &token).await;
    assert_problem(status, &body, 400, "category");
}

#[tokio::test]
async fn an_item_shows_its_unit_and_shelf_life_policy() {
    let app = TestApp::demo().await;
    let token = app.token("clerk", &[]).await;
    let sku: String = sqlx::query_scalar(
        "select sku from items where shelf_life_days is not null order by sku limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("sku");
    let (status, body) = app.get(&format!("/api/v1/items/{sku}"), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sku"], sku.as_str());
    assert!(body["unit_zh"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(body["shelf_life_days"].as_i64().is_some_and(|d| d > 0));
}

#[tokio::test]
async fn warehouses_filter_by_city_and_tier() {
    let app = TestApp::demo().await;
    let token = app.token("auditor", &[]).await;
    let (status, body) = app
        .get("/api/v1/warehouses?city=Jiangmen&limit=1000", &token)
        .await;
    assert_eq!(status, 200);
    let rows = body["items"].as_array().expect("items");
    assert!(rows.len() >= 7, "every Jiangmen district has one");
    assert!(rows.iter().all(|w| w["city"] == "Jiangmen"));
    let (_, body) = app
        .get("/api/v1/warehouses?tier=regional_centre", &token)
        .await;
    let codes: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|w| w["code"].as_str())
        .collect();
    assert_eq!(codes, vec!["JM-JH-RC"]);
    let (status, body) = app.get("/api/v1/warehouses?tier=castle", &token).await;
    assert_problem(status, &body, 400, "tier");
}

#[tokio::test]
async fn lots_filter_by_warehouse_item_status_and_expiry() {
    let app = TestApp::demo().await;
    let token = app.token("clerk", &[]).await;

    let (status, body) = app
        .get("/api/v1/lots?warehouse=JM-JH-RC&limit=1000", &token)
        .await;
    assert_eq!(status, 200);
    let lots = body["items"].as_array().expect("items");
    assert!(!lots.is_empty());
    assert!(lots.iter().all(|l| l["warehouse_code"] == "JM-JH-RC"));
    assert!(lots.iter().all(|l| l["available"].as_i64()
        == Some(l["on_hand"].as_i64().unwrap_or(0) - l["reserved"].as_i64().unwrap_or(0))));

    let sku = lots[0]["sku"].as_str().expect("sku").to_owned();
    let (_, body) = app
        .get(&format!("/api/v1/lots?sku={sku}&limit=1000"), &token)
        .await;
    assert!(
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|l| l["sku"] == sku.as_str())
    );

    let (_, body) = app
        .get("/api/v1/lots?status=quarantined&limit=1000", &token)
        .await;
    let q = body["items"].as_array().expect("items");
    assert!(!q.is_empty());
    assert!(q.iter().all(|l| l["status"] == "quarantined"));

    let (_, body) = app
        .get("/api/v1/lots?expiring_within_days=30&limit=1000", &token)
        .await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let soon = body["items"].as_array().expect("items");
    assert!(!soon.is_empty());
    for l in soon {
        let d: chrono::NaiveDate = l["expires_on"]
            .as_str()
            .expect("has expiry")
            .parse()
            .expect("date");
        assert!(d >= today && (d - today).num_days() <= 30, "{l}");
    }

    let (_, body) = app
        .get("/api/v1/lots?expired=true&limit=1000", &token)
        .await;
    let expired = body["items"].as_array().expect("items");
    assert!(!expired.is_empty());
    for l in expired {
        let d: chrono::NaiveDate = l["expires_on"]
            .as_str()
            .expect("has expiry")
            .parse()
            .expect("date");
        assert!(d < today);
    }

    let (_, body) = app.get("/api/v1/lots?category=1&limit=50", &token).await;
    assert!(body["items"].as_array().expect("items").iter().all(|l| {
        let c = l["category_code"].as_str().unwrap_or("");
        c == "1" || c.starts_with("1-")
    }));
}

#[tokio::test]
async fn lot_pages_are_stable_and_complete() {
    let app = TestApp::demo().await;
    let token = app.token("clerk", &[]).await;
    let expected: i64 = sqlx::query_scalar("select count(*) from stock_lots l join warehouses w on w.id = l.warehouse_id where w.city = 'Shenzhen'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    let codes: Vec<String> =
        sqlx::query_scalar("select code from warehouses where city = 'Shenzhen'")
            .fetch_all(&app.pool)
            .await
            .expect("codes");
    let mut seen = HashSet::new();
    for code in &codes {
        let mut cursor = String::new();
        loop {
            let (status, body) = app
                .get(
                    &format!("/api/v1/lots?warehouse={code}&limit=97{cursor}"),
                    &token,
                )
                .await;
            assert_eq!(status, 200, "{body}");
            for l in body["items"].as_array().expect("items") {
                assert!(seen.insert(l["id"].as_str().expect("id").to_owned()));
            }
            match body["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
    }
    assert_eq!(seen.len() as i64, expected);
}

#[tokio::test]
async fn bad_query_parameters_are_problems_naming_the_parameter() {
    let app = TestApp::demo().await;
    let token = app.token("clerk", &[]).await;
    for (query, param) in [
        ("limit=-5", "limit"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=%%%not-base64", "cursor"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("colour=red", "colour"),
        ("warehouse=NOWHERE", "warehouse"),
        ("sku=NO-SUCH-SKU", "sku"),
        ("status=lost", "status"),
        ("expiring_within_days=-1", "expiring_within_days"),
        ("expired=perhaps", "expired"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/lots?{query}"), &token).await;
        assert_problem(status, &body, 400, param);
    }
}
