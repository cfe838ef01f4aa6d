//! Bulk imports: opening stock, items and reserve levels from CSV and xlsx; every bad
//! cell named by row and column with nothing written; one transaction and one audit
//! event per file; the same file twice is a replay.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, audit_count};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const OPENING: &str = "/api/v1/imports?kind=opening-stock";

fn tag() -> String {
    Uuid::now_v7().simple().to_string()[20..].to_uppercase()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// A 50-row opening-stock sheet with a BOM and Chinese headers; `bad` breaks rows 7
/// (unknown warehouse) and 31 (quantity 0).
fn opening_sheet(prefix: &str, bad: bool) -> Vec<u8> {
    let mut s =
        String::from("\u{feff}仓库编码,物资编码,商品条码,批号,有效期至,数量,quarantine,donor\r\n");
    for i in 0..50 {
        let row = i + 2;
        let wh = if bad && row == 7 {
            "JM-NOWHERE"
        } else {
            "JM-JH-RC"
        };
        let qty = if bad && row == 31 { 0 } else { 10 + i };
        if i % 2 == 0 {
            s.push_str(&format!(
                "{wh},WATER-5L,,{prefix}-{i},2030-06-01,{qty},,\r\n"
            ));
        } else {
            s.push_str(&format!(
                "{wh},,06975301011120,{prefix}-{i},2030/6/2,{qty},否,'=Red Cross\r\n"
            ));
        }
    }
    s.into_bytes()
}

fn cells(problem: &Value) -> Vec<(u64, String)> {
    problem["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            (
                c["row"].as_u64().unwrap_or(0),
                c["column"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_opening_sheet_with_two_bad_rows_is_refused_by_cell_then_fixed_imported_once_and_seen() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let clerk = app.token("clerk", &["JM-JH-RC"]).await;
    let prefix = format!("OB{}", tag());
    let lots_before = count(&app, "select count(*) from stock_lots").await;
    let ledger_before = count(&app, "select count(*) from stock_movements").await;

    // Act
    let (refused, problem) = app
        .post_file(
            OPENING,
            &admin,
            "text/csv",
            opening_sheet(&prefix, true),
            None,
        )
        .await;
    let written_after_refusal = count(&app, "select count(*) from stock_lots").await - lots_before;
    let (dry, dry_report) = app
        .post_file(
            &format!("{OPENING}&dry_run=true"),
            &admin,
            "text/csv",
            opening_sheet(&prefix, false),
            None,
        )
        .await;
    let (imported, report) = app
        .post_file(
            OPENING,
            &admin,
            "text/csv",
            opening_sheet(&prefix, false),
            None,
        )
        .await;
    let (again, replay) = app
        .post_file(
            OPENING,
            &admin,
            "text/csv",
            opening_sheet(&prefix, false),
            None,
        )
        .await;
    let (seen, lots) = app
        .get("/api/v1/lots?warehouse=JM-JH-RC&limit=1000", &clerk)
        .await;

    // Assert: the refusal names rows 7 and 31 by the file's own headers, and wrote nothing.
    assert_problem(refused, &problem, 422, "/7/仓库编码");
    assert_eq!(
        cells(&problem),
        [(7, "仓库编码".to_owned()), (31, "数量".to_owned())]
    );
    assert_eq!(problem["cells"][0]["cell"], "A7");
    assert_eq!(written_after_refusal, 0);
    assert_eq!(dry, 200, "{dry_report}");
    assert_eq!(dry_report["dry_run"], true);
    assert_eq!(dry_report["created"], 50);
    assert_eq!(imported, 201, "{report}");
    assert_eq!(report["created"], 50);
    assert_eq!(report["total_qty"], (10..60).sum::<i64>());
    assert_eq!(again, 200, "{replay}");
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["id"], report["id"]);
    assert_eq!(
        count(&app, "select count(*) from stock_lots").await,
        lots_before + 50
    );
    assert_eq!(
        count(&app, "select count(*) from stock_movements").await,
        ledger_before + 50
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "select count(*) from stock_lots where source = 'opening_balance' and lot_code like '{prefix}-%'
                   and on_hand = (select sum(qty) from stock_movements m where m.lot_id = stock_lots.id
                                   and m.reason = 'opening_balance')"
            )
        )
        .await,
        50
    );
    let donor: Option<String> =
        sqlx::query_scalar("select donor from stock_lots where lot_code = $1")
            .bind(format!("{prefix}-1"))
            .fetch_one(&app.pool)
            .await
            .expect("donor");
    assert_eq!(
        donor.as_deref(),
        Some("=Red Cross"),
        "the export's apostrophe is removed"
    );
    assert_eq!(seen, 200);
    let codes: Vec<&str> = lots["items"]
        .as_array()
        .expect("lots")
        .iter()
        .filter_map(|l| l["lot_code"].as_str())
        .filter(|c| c.starts_with(&prefix))
        .collect();
    assert_eq!(codes.len(), 50, "the clerk sees the imported lots");
    assert_eq!(audit_count(&app, "import.opening_stock").await, 1);
    let event: Value =
        sqlx::query_scalar("select after from audit_events where action = 'import.opening_stock'")
            .fetch_one(&app.pool)
            .await
            .expect("event");
    assert_eq!(event["sha256"], report["sha256"]);
    let verified = stockpile::audit::db::verify(&app.pool)
        .await
        .expect("verify");
    assert!(verified.ok, "{verified:?}");
}

#[tokio::test]
async fn an_xlsx_sheet_is_imported_and_a_formula_cell_is_refused_by_its_cell() {
    use rust_xlsxwriter::{Formula, Workbook};
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let lot = format!("X{}", tag());
    let book = |formula: bool| {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["warehouse", "gtin", "lot_code", "expires_on", "qty"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, c as u16, *h).expect("header");
        }
        ws.write_string(1, 0, "JM-JH-RC").expect("cell");
        ws.write_number(1, 1, 6975301011120.0)
            .expect("gtin as a number");
        ws.write_string(1, 2, &lot).expect("cell");
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2030, 6, 1).expect("date");
        let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        ws.write_datetime_with_format(1, 3, &date, &fmt)
            .expect("date cell");
        if formula {
            ws.write_formula(1, 4, Formula::new("=6*2").set_result("12"))
                .expect("formula");
        } else {
            ws.write_number(1, 4, 12.0).expect("qty");
        }
        wb.save_to_buffer().expect("save")
    };

    // Act
    let (refused, problem) = app.post_file(OPENING, &admin, XLSX, book(true), None).await;
    let (imported, report) = app
        .post_file(OPENING, &admin, XLSX, book(false), None)
        .await;

    // Assert
    assert_problem(refused, &problem, 422, "/2/qty");
    assert_eq!(problem["cells"][0]["cell"], "E2");
    assert!(
        problem["cells"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("formula"),
        "{problem}"
    );
    assert_eq!(imported, 201, "{report}");
    let (qty, expires): (i64, chrono::NaiveDate) =
        sqlx::query_as("select on_hand, expires_on from stock_lots where lot_code = $1")
            .bind(&lot)
            .fetch_one(&app.pool)
            .await
            .expect("lot");
    assert_eq!((qty, expires.to_string()), (12, "2030-06-01".to_owned()));
}

#[tokio::test]
async fn a_file_over_the_limit_is_a_413_and_a_wrong_media_type_a_400() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let huge = vec![b'a'; stockpile::imports::MAX_FILE_BYTES + 1];

    // Act
    let (too_big, problem) = app.post_file(OPENING, &admin, "text/csv", huge, None).await;
    let (wrong, wrong_problem) = app
        .post_file(OPENING, &admin, "application/json", b"{}".to_vec(), None)
        .await;

    // Assert
    assert_problem(too_big, &problem, 413, "");
    assert!(problem["detail"].as_str().unwrap_or("").contains("64 MiB"));
    assert_problem(wrong, &wrong_problem, 400, "content-type");
}

#[tokio::test]
async fn an_items_sheet_creates_and_updates_and_the_same_rows_again_change_nothing() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let sku = format!("KIT-{}", tag());
    let header = "sku,name_zh,name_en,category_code,unit_zh,unit_en,gtins,shelf_life_days,min_remaining_days,alert_days,storage_class";
    let sheet = |name: &str, life: i64| {
        format!(
            "{header}\n{sku},急救包,{name},1-01,个,kit,,{life},30,60,ambient\nWATER-5L,瓶装饮用水5升,\"bottled drinking water, 5 L\",1-02,瓶,bottle,06975301011120,365,60,91,ambient\n"
        )
    };

    // Act
    let (first, created) = app
        .post_file(
            "/api/v1/imports?kind=items",
            &admin,
            "text/csv",
            sheet("First aid kit", 720).into_bytes(),
            None,
        )
        .await;
    let (second, updated) = app
        .post_file(
            "/api/v1/imports?kind=items",
            &admin,
            "text/csv",
            sheet("First-aid kit", 730).into_bytes(),
            None,
        )
        .await;
    let (third, same) = app
        .post_file(
            "/api/v1/imports?kind=items",
            &admin,
            "text/csv",
            format!("{}\n", sheet("First-aid kit", 730)).into_bytes(),
            None,
        )
        .await;
    let (bad, problem) = app
        .post_file(
            "/api/v1/imports?kind=items",
            &admin,
            "text/csv",
            format!("{header}\nNEW-{sku},x,y,9-99,个,kit,06975301011120,-3,0,0,warm\n")
                .into_bytes(),
            None,
        )
        .await;

    // Assert
    assert_eq!(first, 201, "{created}");
    assert_eq!(second, 201, "{updated}");
    assert_eq!(third, 201, "{same}");
    assert_eq!(created["created"], 1);
    assert_eq!(
        created["unchanged"], 1,
        "the WATER row equals the catalogue: {created}"
    );
    assert_eq!(updated["updated"].as_u64(), Some(1), "{updated}");
    assert_eq!(same["created"], 0);
    assert_eq!(same["updated"], 0);
    assert_eq!(same["unchanged"], 2);
    let kit = app.get(&format!("/api/v1/items/{sku}"), &admin).await.1;
    assert_eq!(kit["shelf_life_days"], 730);
    assert_eq!(bad, 422, "{problem}");
    let columns: Vec<String> = cells(&problem).into_iter().map(|(_, c)| c).collect();
    for c in ["category_code", "gtins", "shelf_life_days", "storage_class"] {
        assert!(columns.iter().any(|x| x == c), "{c}: {problem}");
    }
}

#[tokio::test]
async fn a_reserve_levels_sheet_sets_levels_and_names_unknown_skus() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let good = "warehouse,sku,min_qty\nJM-JH-RC,TENT-12M2-SGL,77\nJM-JH-RC,WATER-5L,0\n";
    let bad = "仓库编码,物资编码,最低储备\nJM-JH-RC,NO-SUCH-SKU,5\nJM-JH-RC,TENT-12M2-SGL,-1\n";

    // Act
    let (ok, report) = app
        .post_file(
            "/api/v1/imports?kind=reserve-levels",
            &admin,
            "text/csv",
            good.into(),
            None,
        )
        .await;
    let (refused, problem) = app
        .post_file(
            "/api/v1/imports?kind=reserve-levels",
            &admin,
            "text/csv",
            bad.into(),
            None,
        )
        .await;
    let (_, levels) = app
        .get("/api/v1/warehouses/JM-JH-RC/reserve-levels", &admin)
        .await;

    // Assert
    assert_eq!(ok, 201, "{report}");
    assert!(
        levels
            .as_array()
            .expect("levels")
            .iter()
            .any(|l| l == &json!({"sku": "TENT-12M2-SGL", "min_qty": 77})),
        "{levels}"
    );
    assert!(
        !levels
            .as_array()
            .expect("levels")
            .iter()
            .any(|l| l["sku"] == "WATER-5L"),
        "0 removes: {levels}"
    );
    assert_eq!(refused, 422);
    assert_eq!(
        cells(&problem),
        [(2, "物资编码".to_owned()), (3, "最低储备".to_owned())]
    );
    assert_eq!(audit_count(&app, "import.reserve_levels").await, 1);
}

async fn export(app: &TestApp, path: &str, token: &str) -> Vec<u8> {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), 200, "{path}");
    res.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn exported_items_and_levels_import_back_unchanged_and_formula_text_is_neutralised() {
    // Arrange: an item whose spec a spreadsheet would run as a formula.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let spec = "=HYPERLINK(\"http://x.invalid\",\"spec\")";
    let (status, out) = app
        .send(
            reqwest::Method::PATCH,
            "/api/v1/items/TENT-12M2-SGL",
            &admin,
            &json!({"spec": spec}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let items_before = count(&app, "select count(*) from items").await;

    // Act
    let csv = export(
        &app,
        "/api/v1/exports/items?format=csv&bom=true&hxl=true",
        &admin,
    )
    .await;
    let xlsx = export(&app, "/api/v1/exports/items?format=xlsx", &admin).await;
    let jsonl = export(&app, "/api/v1/exports/items?format=jsonl", &admin).await;
    let levels = export(&app, "/api/v1/exports/reserve-levels?format=csv", &admin).await;
    let (csv_status, csv_report) = app
        .post_file(
            "/api/v1/imports?kind=items",
            &admin,
            "text/csv",
            csv.clone(),
            None,
        )
        .await;
    let (xlsx_status, xlsx_report) = app
        .post_file("/api/v1/imports?kind=items", &admin, XLSX, xlsx, None)
        .await;
    let (levels_status, levels_report) = app
        .post_file(
            "/api/v1/imports?kind=reserve-levels",
            &admin,
            "text/csv",
            levels,
            None,
        )
        .await;

    // Assert: the CSV shows the formula text behind an apostrophe, JSONL raw; both
    // imports find every row unchanged.
    let text = String::from_utf8(csv).expect("utf8");
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    let raw = String::from_utf8(jsonl).expect("utf8");
    assert!(raw.contains("\"spec\":\"=HYPERLINK("), "{raw}");
    for (status, report) in [(csv_status, &csv_report), (xlsx_status, &xlsx_report)] {
        assert_eq!(status, 201, "{report}");
        assert_eq!(report["unchanged"].as_i64(), Some(items_before), "{report}");
        assert_eq!(
            (report["created"].as_i64(), report["updated"].as_i64()),
            (Some(0), Some(0))
        );
    }
    assert_eq!(levels_status, 201, "{levels_report}");
    assert_eq!(levels_report["created"], 0);
    assert_eq!(levels_report["updated"], 0);
    assert!(
        levels_report["unchanged"].as_i64().unwrap_or(0) > 300,
        "{levels_report}"
    );
    let tent = app.get("/api/v1/items/TENT-12M2-SGL", &admin).await.1;
    assert_eq!(tent["spec"], spec);
}

#[tokio::test]
async fn a_warehouses_sheet_creates_a_network_with_parents_and_its_export_imports_back_unchanged() {
    // Arrange: a district depot and its community point (named before its parent), one
    // point outside the service area, and a file that would close a cycle.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let t = tag();
    let header = "仓库编码,名称,name_en,城市,区县,层级,纬度,经度,handling_minutes,上级仓库";
    let good = format!(
        "{header}\nZH-C-{t},前山社区点,Qianshan point,Zhuhai,Xiangzhou,community,22.2401,113.5262,10,ZH-D-{t}\n\
         ZH-D-{t},香洲区储备库,Xiangzhou depot,Zhuhai,Xiangzhou,district,22.2710,113.5670,20,JM-JH-RC\n"
    );
    let outside = format!("{header}\nSH-X-{t},上海,Shanghai,Shanghai,,city,31.23,121.47,30,\n");
    let cycle = format!("code,parent\nJM-JH-RC,ZH-C-{t}\n");

    // Act
    let (created, report) = app
        .post_file(
            "/api/v1/imports?kind=warehouses",
            &admin,
            "text/csv",
            good.into_bytes(),
            None,
        )
        .await;
    let (refused, problem) = app
        .post_file(
            "/api/v1/imports?kind=warehouses",
            &admin,
            "text/csv",
            outside.into_bytes(),
            None,
        )
        .await;
    let (cyclic, cycle_problem) = app
        .post_file(
            "/api/v1/imports?kind=warehouses",
            &admin,
            "text/csv",
            cycle.into_bytes(),
            None,
        )
        .await;
    let exported = export(&app, "/api/v1/exports/warehouses?format=xlsx", &admin).await;
    let (again, same) = app
        .post_file(
            "/api/v1/imports?kind=warehouses",
            &admin,
            XLSX,
            exported,
            None,
        )
        .await;

    // Assert
    assert_eq!(created, 201, "{report}");
    assert_eq!(report["created"], 2);
    let point = app
        .get(&format!("/api/v1/warehouses/ZH-C-{t}"), &admin)
        .await
        .1;
    assert_eq!(point["parent"], format!("ZH-D-{t}"));
    assert_eq!(point["lat"], 22.2401);
    assert_problem(refused, &problem, 422, "/2/纬度");
    assert_problem(cyclic, &cycle_problem, 422, "/2/parent");
    assert_eq!(again, 201, "{same}");
    assert_eq!(same["created"], 0);
    assert_eq!(same["updated"], 0, "{same}");
    assert_eq!(audit_count(&app, "import.warehouses").await, 2);
}

#[tokio::test]
async fn the_cli_imports_a_file_once_replays_it_the_second_time_and_names_bad_cells() {
    // Arrange
    let app = TestApp::demo().await;
    let dir = std::env::temp_dir().join(format!("stockpile-import-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good = dir.join("lots.csv");
    let bad = dir.join("bad.csv");
    let prefix = format!("CLI{}", tag());
    std::fs::write(&good, opening_sheet(&prefix, false)).expect("write");
    std::fs::write(&bad, opening_sheet(&prefix, true)).expect("write");
    let run = |file: &std::path::Path, dry: bool| {
        let mut args = vec!["import", "--kind", "opening-stock"];
        if dry {
            args.push("--dry-run");
        }
        let file = file.to_string_lossy().into_owned();
        let app = &app;
        async move {
            let mut all = args.clone();
            all.push(&file);
            crate::audit_trail::cli(app, &all).await
        }
    };

    // Act
    let refused = run(&bad, false).await;
    let dry = run(&good, true).await;
    let first = run(&good, false).await;
    let second = run(&good, false).await;

    // Assert
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("A7") && stderr.contains("F31"), "{stderr}");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first: Value = serde_json::from_slice(&first.stdout).expect("report");
    let second: Value = serde_json::from_slice(&second.stdout).expect("report");
    assert_eq!(first["created"], 50);
    assert_eq!(second["replayed"], true);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(
        count(
            &app,
            &format!("select count(*) from stock_lots where lot_code like '{prefix}-%'")
        )
        .await,
        50
    );
    assert_eq!(audit_count(&app, "import.opening_stock").await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn warehouses_come_in_as_geojson_points_and_a_bad_feature_is_named_by_its_row() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let t = tag();
    let doc = |lat: f64| {
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.0391, 22.4693]},
             "properties": {"code": format!("JM-G1-{t}"), "name_zh": "点一", "name_en": "Point one",
                            "city": "Jiangmen", "tier": "community", "parent": "JM-XH-01"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.05, lat]},
             "properties": {"code": format!("JM-G2-{t}"), "name_zh": "点二", "name_en": "Point two",
                            "city": "Jiangmen", "tier": "agreement", "handling_minutes": 5}}]})
        .to_string()
        .into_bytes()
    };

    // Act
    let (refused, problem) = app
        .post_file(
            "/api/v1/imports?kind=warehouses",
            &admin,
            "application/geo+json",
            doc(45.0),
            None,
        )
        .await;
    let (created, report) = app
        .post_file(
            "/api/v1/imports?kind=warehouses",
            &admin,
            "application/geo+json",
            doc(22.48),
            None,
        )
        .await;

    // Assert: the second feature is row 3; its latitude is out of the service area.
    assert_problem(refused, &problem, 422, "/3/lat");
    assert_eq!(problem["cells"][0]["cell"], Value::Null);
    assert_eq!(created, 201, "{report}");
    assert_eq!(report["created"], 2);
    let two = app
        .get(&format!("/api/v1/warehouses/JM-G2-{t}"), &admin)
        .await
        .1;
    assert_eq!(
        (two["lat"].as_f64(), two["tier"].as_str()),
        (Some(22.48), Some("agreement"))
    );
}
