//! Master data through the API: items (several GTINs, retire and reactivate, shelf-life
//! policy changes) and warehouses (service area, parents, moves that routing sees at
//! once); bad input named by field with nothing written.

use chrono::{Days, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, audit_count, gtin, wait_for_listeners};

const WH: &str = "JM-JH-RC";
const WATER: &str = "WATER-5L";
const WATER_GTIN: &str = "06975301011120";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::now_v7().simple().to_string()[22..]).to_uppercase()
}

/// A GTIN no demo item has: 13 random digits under prefix 0690 plus the check digit.
fn fresh_gtin() -> String {
    let n = Uuid::now_v7().as_u128() % 1_000_000_000;
    gtin(&format!("0690{n:09}"))
}

fn item_body(sku: &str, gtins: &[String]) -> Value {
    json!({"sku": sku, "name_zh": "折叠水桶", "name_en": "Folding bucket", "category_code": "1-01",
           "unit_zh": "个", "unit_en": "piece", "gtins": gtins, "shelf_life_days": 720,
           "min_remaining_days": 30, "alert_days": 60})
}

fn in_days(n: u64) -> String {
    (Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        + Days::new(n))
    .to_string()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_admin_creates_an_item_with_two_gtins_and_a_receipt_by_the_second_gtin_finds_it() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let clerk = app.token("clerk", &[WH]).await;
    wait_for_listeners(&app, 1).await;
    let sku = unique("BUCKET");
    let (g1, g2) = (fresh_gtin(), fresh_gtin());

    // Act
    let (status, created) = app
        .post(
            "/api/v1/items",
            &admin,
            &item_body(&sku, &[g1.clone(), g2[1..].to_owned()]),
        )
        .await;
    let scan = format!("(01){g2}(17){}(10)B-1", &in_days(200).replace('-', "")[2..]);
    let (received, receipt) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &json!({"lines": [{"gs1": scan, "qty": 4}]}),
        )
        .await;

    // Assert: GTIN-13 stored as GTIN-14, the first is the primary; the scan of the
    // second finds the item; the creation is audited.
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["gtins"], json!([g1, g2]));
    assert_eq!(created["gtin"], g1.as_str());
    assert_eq!(created["status"], "active");
    assert_eq!(received, 201, "{receipt}");
    assert_eq!(receipt["lines"][0]["sku"], sku.as_str());
    assert_eq!(audit_count(&app, "item.create").await, 1);
}

#[tokio::test]
async fn bad_items_are_refused_naming_the_field_and_nothing_is_written() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let items_before = count(&app, "select count(*) from items").await;
    let bad_check = {
        let g = fresh_gtin();
        let last = (g.as_bytes()[13] - b'0' + 1) % 10;
        format!("{}{last}", &g[..13])
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (item_body(WATER, &[]), 409, "/sku"),
        (
            item_body(&unique("DUP-GTIN"), &[WATER_GTIN.to_owned()]),
            409,
            "/gtins/0",
        ),
        (
            item_body(&unique("BAD-CHECK"), &[bad_check]),
            422,
            "/gtins/0",
        ),
        (
            {
                let mut b = item_body(&unique("BAD-CAT"), &[]);
                b["category_code"] = json!("9-99");
                b
            },
            422,
            "/category_code",
        ),
        (
            {
                let mut b = item_body(&unique("NEG"), &[]);
                b["shelf_life_days"] = json!(-30);
                b
            },
            422,
            "/shelf_life_days",
        ),
    ];

    for (body, expected, pointer) in cases {
        // Act
        let (status, problem) = app.post("/api/v1/items", &admin, &body).await;
        // Assert
        assert_problem(status, &problem, expected, pointer);
    }
    assert_eq!(
        count(&app, "select count(*) from items").await,
        items_before
    );
    assert_eq!(audit_count(&app, "item.create").await, 0);
}

#[tokio::test]
async fn a_retired_item_is_neither_received_nor_requested_but_its_stock_can_still_be_issued() {
    // Arrange: a WATER lot with stock at the centre.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let clerk = app.token("clerk", &[WH]).await;
    let dispatcher = app.token("dispatcher", &[]).await;
    wait_for_listeners(&app, 1).await;
    let lot: Uuid = sqlx::query_scalar(
        "select l.id from stock_lots l join items i on i.id = l.item_id join warehouses w on w.id = l.warehouse_id
          where i.sku = $1 and w.code = $2 and l.status = 'available' and l.on_hand - l.reserved > 2
            and l.expires_on > current_date order by l.id limit 1",
    )
    .bind(WATER)
    .bind(WH)
    .fetch_one(&app.pool)
    .await
    .expect("a WATER lot");
    let receipt =
        json!({"lines": [{"sku": WATER, "lot_code": "R-1", "expires_on": in_days(300), "qty": 5}]});
    let (_, incident) = app
        .post(
            "/api/v1/incidents",
            &dispatcher,
            &json!({"name": "Flood", "kind": "flood", "point": {"lat": 22.46, "lon": 113.03}}),
        )
        .await;
    let incident = incident["id"].as_str().expect("incident").to_owned();

    // Act
    let (retired, item) = app
        .post(
            &format!("/api/v1/items/{WATER}/retire"),
            &admin,
            &json!({"reason": "replaced by 10 L"}),
        )
        .await;
    let (again, _) = app
        .post(&format!("/api/v1/items/{WATER}/retire"), &admin, &json!({}))
        .await;
    let (refused_receipt, receipt_problem) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/receipts"),
            &clerk,
            &receipt,
        )
        .await;
    let (refused_request, request_problem) = app
        .post(
            &format!("/api/v1/incidents/{incident}/requests"),
            &dispatcher,
            &json!({"priority": "critical", "lines": [{"sku": WATER, "qty": 1}]}),
        )
        .await;
    let (issued, issue) = app
        .post(
            &format!("/api/v1/warehouses/{WH}/issues"),
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "shelter"}]}),
        )
        .await;
    let (listed, lots) = app
        .get(&format!("/api/v1/lots?sku={WATER}&warehouse={WH}"), &clerk)
        .await;
    let (reactivated, _) = app
        .post(
            &format!("/api/v1/items/{WATER}/reactivate"),
            &admin,
            &json!({}),
        )
        .await;
    let mut taken = 0;
    for _ in 0..500 {
        taken = app
            .post(
                &format!("/api/v1/warehouses/{WH}/receipts"),
                &clerk,
                &receipt,
            )
            .await
            .0;
        if taken == 201 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // Assert
    assert_eq!(retired, 200, "{item}");
    assert_eq!(item["status"], "retired");
    assert_eq!(again, 409);
    assert_problem(refused_receipt, &receipt_problem, 422, "/lines/0/sku");
    assert_problem(refused_request, &request_problem, 422, "/lines/0/sku");
    assert_eq!(issued, 201, "{issue}");
    assert_eq!(listed, 200);
    assert!(
        !lots["items"].as_array().expect("lots").is_empty(),
        "{lots}"
    );
    assert_eq!(reactivated, 200);
    assert_eq!(taken, 201, "a reactivated item is received again");
    assert_eq!(audit_count(&app, "item.retire").await, 1);
    assert_eq!(audit_count(&app, "item.reactivate").await, 1);
}

#[tokio::test]
async fn a_new_shelf_life_policy_never_rewrites_the_expiry_of_lots_on_record() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let before: Vec<(Uuid, Option<chrono::NaiveDate>)> = sqlx::query_as(
        "select l.id, l.expires_on from stock_lots l join items i on i.id = l.item_id
          where i.sku = $1 order by l.id",
    )
    .bind(WATER)
    .fetch_all(&app.pool)
    .await
    .expect("lots");

    // Act
    let (status, item) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/items/{WATER}"),
            &admin,
            &json!({"shelf_life_days": 90, "min_remaining_days": 10, "spec": null}),
            None,
        )
        .await;
    let (sku_change, problem) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/items/{WATER}"),
            &admin,
            &json!({"sku": "WATER-6L"}),
            None,
        )
        .await;

    // Assert
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["shelf_life_days"], 90);
    assert_eq!(item["spec"], Value::Null);
    assert_eq!(item["gtins"], json!([WATER_GTIN]), "GTINs not given stay");
    let after: Vec<(Uuid, Option<chrono::NaiveDate>)> = sqlx::query_as(
        "select l.id, l.expires_on from stock_lots l join items i on i.id = l.item_id
          where i.sku = $1 order by l.id",
    )
    .bind(WATER)
    .fetch_all(&app.pool)
    .await
    .expect("lots");
    assert!(!before.is_empty());
    assert_eq!(before, after);
    assert_problem(sku_change, &problem, 422, "/sku");
    assert_eq!(audit_count(&app, "item.update").await, 1);
}

fn warehouse_body(code: &str, lat: f64, lon: f64) -> Value {
    json!({"code": code, "name_zh": "斗门社区储备点", "name_en": "Doumen community point",
           "city": "Zhuhai", "district": "Doumen", "tier": "community", "lat": lat, "lon": lon,
           "handling_minutes": 15})
}

#[tokio::test]
async fn warehouses_are_created_inside_the_service_area_with_a_parent_and_no_cycle() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let code = unique("ZH-DM");
    let far = unique("SH-PD");
    let before = count(&app, "select count(*) from warehouses").await;

    // Act
    let mut body = warehouse_body(&code, 22.2, 113.3);
    body["parent"] = json!(WH);
    let (created, warehouse) = app.post("/api/v1/warehouses", &admin, &body).await;
    let (duplicate, dup_problem) = app
        .post(
            "/api/v1/warehouses",
            &admin,
            &warehouse_body(&code, 22.2, 113.3),
        )
        .await;
    let (outside, outside_problem) = app
        .post(
            "/api/v1/warehouses",
            &admin,
            &warehouse_body(&far, 31.23, 121.47),
        )
        .await;
    let mut agreed = warehouse_body(&far, 31.23, 121.47);
    agreed["outside_service_area"] = json!(true);
    agreed["tier"] = json!("agreement");
    let (overridden, partner) = app.post("/api/v1/warehouses", &admin, &agreed).await;
    let (cycle, cycle_problem) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/warehouses/{WH}"),
            &admin,
            &json!({"parent": code}),
            None,
        )
        .await;
    let (unknown_parent, parent_problem) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/warehouses/{code}"),
            &admin,
            &json!({"parent": "NOWHERE-1"}),
            None,
        )
        .await;
    let (renamed, renamed_body) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/warehouses/{far}"),
            &admin,
            &json!({"name_en": "Partner pharmacy", "status": "inactive"}),
            None,
        )
        .await;

    // Assert
    assert_eq!(created, 201, "{warehouse}");
    assert_eq!(warehouse["parent"], WH);
    assert_eq!(warehouse["tier"], "community");
    assert_problem(duplicate, &dup_problem, 409, "/code");
    assert_problem(outside, &outside_problem, 422, "/lat");
    assert_eq!(overridden, 201, "{partner}");
    assert_eq!(partner["tier"], "agreement");
    assert_problem(cycle, &cycle_problem, 422, "/parent");
    assert_problem(unknown_parent, &parent_problem, 422, "/parent");
    assert_eq!(
        renamed, 200,
        "an unmoved position outside the area stays: {renamed_body}"
    );
    assert_eq!(renamed_body["status"], "inactive");
    assert_eq!(
        count(&app, "select count(*) from warehouses").await,
        before + 2
    );
    assert_eq!(audit_count(&app, "warehouse.create").await, 2);
    assert_eq!(audit_count(&app, "warehouse.update").await, 1);
}

fn pick_warehouses(plan: &Value) -> Vec<String> {
    plan["lines"][0]["picks"]
        .as_array()
        .expect("picks")
        .iter()
        .map(|p| p["warehouse_code"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn moving_a_warehouse_changes_the_very_next_plan() {
    // Arrange: a new item with one lot at the Xinhui depot (at the incident) and one at
    // the Jianghai centre, placed by an opening-stock import.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let sku = unique("MOVE");
    let (status, out) = app
        .post("/api/v1/items", &admin, &item_body(&sku, &[]))
        .await;
    assert_eq!(status, 201, "{out}");
    let csv = format!(
        "warehouse,sku,lot_code,expires_on,qty\nJM-XH-01,{sku},M-1,{e},10\nJM-JH-RC,{sku},M-2,{e},10\n",
        e = in_days(400)
    );
    let (status, out) = app
        .post_file(
            "/api/v1/imports?kind=opening-stock",
            &admin,
            "text/csv",
            csv.into_bytes(),
            None,
        )
        .await;
    assert_eq!(status, 201, "{out}");
    let (_, incident) = app
        .post(
            "/api/v1/incidents",
            &dispatcher,
            &json!({"name": "Typhoon, Xinhui", "kind": "typhoon", "point": {"lat": 22.4613, "lon": 113.0291}}),
        )
        .await;
    let preview = json!({"incident_id": incident["id"], "priority": "critical",
                         "lines": [{"sku": sku, "qty": 5}]});
    let (status, before) = app
        .post("/api/v1/allocation/preview", &dispatcher, &preview)
        .await;
    assert_eq!(status, 200, "{before}");

    // Act: the Xinhui depot moves to Huizhou.
    let (moved, _) = app
        .send(
            reqwest::Method::PATCH,
            "/api/v1/warehouses/JM-XH-01",
            &admin,
            &json!({"lat": 23.1249, "lon": 114.4186}),
            None,
        )
        .await;
    let (_, after) = app
        .post("/api/v1/allocation/preview", &dispatcher, &preview)
        .await;

    // Assert
    assert_eq!(pick_warehouses(&before), ["JM-XH-01"]);
    assert_eq!(moved, 200);
    assert_eq!(pick_warehouses(&after), ["JM-JH-RC"], "{after}");
}
