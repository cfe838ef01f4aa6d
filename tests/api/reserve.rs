//! Replenishment, rotation and readiness (issue 20) over the demo network with its
//! Jianghai grid points: plans checked against the stock they were made on, commits
//! checked against the ledger, transfers and audit trail afterwards.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, audit_count};

/// Usable stock (counts toward a level today: the service's date, in Asia/Shanghai) and
/// level of every (warehouse, SKU) cell with a level, read straight from the tables: an
/// independent view of the rule.
async fn cells(app: &TestApp) -> Vec<(String, String, i64, i64, i64)> {
    sqlx::query_as(
        "select w.code, i.sku, r.min_qty, coalesce(r.target_qty, r.min_qty),
                coalesce((select sum(l.on_hand - l.reserved) from stock_lots l
                           where l.warehouse_id = w.id and l.item_id = i.id and l.status = 'available'
                             and (l.expires_on is null
                                  or l.expires_on >= (now() at time zone 'Asia/Shanghai')::date
                                                     + i.min_remaining_days)), 0)::int8
           from reserve_levels r join warehouses w on w.id = r.warehouse_id
           join items i on i.id = r.item_id
          order by 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .expect("cells")
    .into_iter()
    .map(|(w, s, level, keep, usable): (String, String, i64, i64, i64)| (w, s, level, keep, usable))
    .collect()
}

async fn transfers_in_transit(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from transfers where status = 'in_transit'")
        .fetch_one(&app.pool)
        .await
        .expect("transfers")
}

/// Receives every line of `transfer` in full, as a clerk of its destination.
async fn receive_all(app: &TestApp, transfer: &Value) {
    let to = transfer["to"].as_str().expect("to");
    let clerk = app.token("clerk", &[to]).await;
    let lines: Vec<Value> = transfer["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| json!({"lot_id": l["lot_id"], "received_qty": l["qty"]}))
        .collect();
    let id = transfer["id"].as_str().expect("id");
    let (status, got) = app
        .post(
            &format!("/api/v1/transfers/{id}/receive"),
            &clerk,
            &json!({ "lines": lines }),
        )
        .await;
    assert_eq!(status, 200, "{got}");
}

fn network_share(readiness: &Value) -> (f64, f64) {
    (
        readiness["network"]["levels_share"]
            .as_f64()
            .expect("levels share"),
        readiness["network"]["units_share"]
            .as_f64()
            .expect("units share"),
    )
}

#[tokio::test]
async fn a_full_replenishment_refills_the_network_within_every_sources_level() {
    // Arrange: the demo network (its grid points hold 40-115% of their kit).
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let (status, before) = app.get("/api/v1/readiness", &admin).await;
    assert_eq!(status, 200, "{before}");
    let cells_before = cells(&app).await;

    // Act: preview, then commit what the preview showed.
    let (status, preview) = app
        .post("/api/v1/replenishment/preview", &admin, &json!({}))
        .await;
    assert_eq!(status, 200, "{preview}");
    let in_transit_before = transfers_in_transit(&app).await;
    let body = json!({"fingerprint": preview["fingerprint"]});
    let (status, committed) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/replenishment",
            &admin,
            &body,
            Some("refill-1"),
        )
        .await;
    assert_eq!(status, 201, "{committed}");
    let (status, replay) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/replenishment",
            &admin,
            &body,
            Some("refill-1"),
        )
        .await;

    // Assert: the commit wrote the plan previewed, as ordinary transfers in transit,
    // one audit event each; the replay wrote nothing more.
    assert_eq!(committed["replanned"], false, "{committed}");
    assert_eq!(committed["fingerprint"], preview["fingerprint"]);
    let created = committed["created"].as_array().expect("created");
    let planned = committed["plan"]["transfers"]
        .as_array()
        .expect("transfers");
    assert!(!created.is_empty(), "the demo network has cells to refill");
    assert_eq!(created.len(), planned.len());
    assert_eq!(
        transfers_in_transit(&app).await,
        in_transit_before + created.len() as i64
    );
    assert_eq!(
        audit_count(&app, "transfer.send").await,
        created.len() as i64
    );
    assert_eq!(audit_count(&app, "replenishment.commit").await, 1);
    assert_eq!((status, &replay), (201, &committed), "the retry replays");
    assert_eq!(
        transfers_in_transit(&app).await,
        in_transit_before + created.len() as i64
    );
    for (t, p) in created.iter().zip(planned) {
        assert_eq!(t["status"], "in_transit");
        assert_eq!(t["from"], p["from_code"]);
        assert_eq!(t["to"], p["to_code"]);
        let sent: i64 = t["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["qty"].as_i64().unwrap_or(0))
            .sum();
        let plan: i64 = p["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["qty"].as_i64().unwrap_or(0))
            .sum();
        assert_eq!(sent, plan);
    }
    // Every destination got need − shortfall; no source went below what it keeps.
    let mut given: std::collections::HashMap<(String, String), i64> = Default::default();
    for p in planned {
        for l in p["lines"].as_array().expect("lines") {
            *given
                .entry((
                    p["from_code"].as_str().unwrap_or("").into(),
                    l["sku"].as_str().unwrap_or("").into(),
                ))
                .or_default() += l["qty"].as_i64().unwrap_or(0);
        }
    }
    let after = cells(&app).await;
    for ((w, sku, _, keep, usable), (_, _, _, _, before_usable)) in after.iter().zip(&cells_before)
    {
        if let Some(g) = given.get(&(w.clone(), sku.clone())) {
            assert!(*g > 0);
            assert!(
                usable >= keep,
                "{w} {sku} gave {g} and kept {usable} < {keep}"
            );
            assert_eq!(*usable, before_usable - g, "{w} {sku}");
        }
    }
    for d in committed["plan"]["destinations"]
        .as_array()
        .expect("destinations")
    {
        assert_eq!(
            d["planned"].as_i64().unwrap_or(-1) + d["shortfall"].as_i64().unwrap_or(-1),
            d["need"].as_i64().unwrap_or(0),
            "{d}"
        );
    }

    // Act: a second preview counts what is on the road; then the clerks receive it all.
    let (_, again) = app
        .post("/api/v1/replenishment/preview", &admin, &json!({}))
        .await;
    let (_, during) = app.get("/api/v1/readiness", &admin).await;
    for t in created {
        receive_all(&app, t).await;
    }
    let (_, after) = app.get("/api/v1/readiness", &admin).await;

    // Assert: nothing planned twice; readiness counts stock once received, and rose.
    assert_eq!(
        again["summary"]["units_planned"], 0,
        "in-transit stock is not proposed again: {}",
        again["summary"]
    );
    assert_eq!(
        network_share(&during),
        network_share(&before),
        "in transit counts once received"
    );
    let (levels_before, units_before) = network_share(&before);
    let (levels_after, units_after) = network_share(&after);
    println!(
        "readiness: levels met {levels_before:.3} -> {levels_after:.3}, units {units_before:.3} -> {units_after:.3}; \
         {} transfers, {} units moved, {} units to procure",
        created.len(),
        committed["summary"]["units_planned"],
        committed["summary"]["units_short"]
    );
    assert!(
        levels_after > levels_before,
        "{levels_before} -> {levels_after}"
    );
    assert!(
        units_after > units_before,
        "{units_before} -> {units_after}"
    );
}

#[tokio::test]
async fn a_commit_whose_source_stock_changed_replans_and_says_so() {
    // Arrange: preview the Jianghai grid points' refill, then a clerk at a source issues
    // most of a lot the preview sends.
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let scope = json!({"tier": "community", "district": "Jianghai"});
    let (status, preview) = app
        .post(
            "/api/v1/replenishment/preview",
            &admin,
            &json!({"scope": scope}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let first = &preview["plan"]["transfers"][0];
    let from = first["from_code"].as_str().expect("a transfer").to_owned();
    let lot = first["lines"][0]["lot_id"]
        .as_str()
        .expect("lot")
        .to_owned();
    let available: i64 =
        sqlx::query_scalar("select on_hand - reserved from stock_lots where id = $1::uuid")
            .bind(&lot)
            .fetch_one(&app.pool)
            .await
            .expect("lot");
    let clerk = app.token("clerk", &[&from]).await;
    let (status, issued) = app
        .post(
            &format!("/api/v1/warehouses/{from}/issues"),
            &clerk,
            &json!({"lines": [{"lot_id": lot, "qty": available, "reason": "shelter"}]}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");

    // Act
    let (status, committed) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/replenishment",
            &admin,
            &json!({"scope": scope, "fingerprint": preview["fingerprint"]}),
            Some("refill-after-issue"),
        )
        .await;

    // Assert: it planned again on the stock as it is, said so, and never sent the lot
    // that is gone.
    assert_eq!(status, 201, "{committed}");
    assert_eq!(committed["replanned"], true, "{committed}");
    assert_ne!(committed["fingerprint"], preview["fingerprint"]);
    for t in committed["created"].as_array().expect("created") {
        for l in t["lines"].as_array().expect("lines") {
            assert_ne!(l["lot_id"], lot.as_str(), "the issued lot was sent");
        }
    }
}

#[tokio::test]
async fn bad_replenishment_and_rotation_requests_name_the_field_and_write_nothing() {
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let before = transfers_in_transit(&app).await;
    let cases = [
        (
            json!({"scope": {"warehouses": ["JM-JH-TS", "NOWHERE"]}}),
            "/scope/warehouses/1",
        ),
        (json!({"scope": {"tier": "village"}}), "/scope/tier"),
        (
            json!({"scope": {"district": "Atlantis"}}),
            "/scope/district",
        ),
        (json!({"scope": {"skus": ["UNOBTAINIUM"]}}), "/scope/skus/0"),
    ];
    for (body, pointer) in &cases {
        let (status, problem) = app
            .post("/api/v1/replenishment/preview", &admin, body)
            .await;
        assert_problem(status, &problem, 422, pointer);
        let (status, problem) = app
            .send(
                reqwest::Method::POST,
                "/api/v1/replenishment",
                &admin,
                body,
                Some(pointer),
            )
            .await;
        assert_problem(status, &problem, 422, pointer);
    }
    let (status, problem) = app
        .post(
            "/api/v1/replenishment/preview",
            &admin,
            &json!({"scope": {"tiers": []}}),
        )
        .await;
    assert_eq!(status, 422, "unknown field: {problem}");
    let (status, problem) = app
        .post("/api/v1/replenishment", &dispatcher, &json!({}))
        .await;
    assert_problem(status, &problem, 403, "");
    for n in ["0", "-3", "366"] {
        let (status, problem) = app
            .get(&format!("/api/v1/rotation?within_days={n}"), &admin)
            .await;
        assert_problem(status, &problem, 422, "within_days");
    }
    let (status, problem) = app.get("/api/v1/readiness?format=xml", &admin).await;
    assert_problem(status, &problem, 400, "format");
    assert_eq!(
        transfers_in_transit(&app).await,
        before,
        "nothing was written"
    );
    assert_eq!(audit_count(&app, "replenishment.commit").await, 0);
}

#[tokio::test]
async fn rotation_proposes_one_action_per_expiring_lot_and_saves_lots_from_write_off() {
    // Arrange
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let expiring: i64 = sqlx::query_scalar(
        "select count(*) from stock_lots
          where on_hand > reserved and status = 'available'
            and expires_on < (now() at time zone 'Asia/Shanghai')::date + 181",
    )
    .fetch_one(&app.pool)
    .await
    .expect("expiring lots");

    // Act
    let (status, plan) = app.get("/api/v1/rotation?within_days=180", &auditor).await;

    // Assert: every expiring lot has one action; a transfer goes to a cell below its
    // level; the calendar adds up to the lots.
    assert_eq!(status, 200, "{plan}");
    let lots = plan["lots"].as_array().expect("lots");
    assert_eq!(lots.len() as i64, expiring, "one line per expiring lot");
    let below: std::collections::HashSet<(String, String)> = cells(&app)
        .await
        .into_iter()
        .filter(|c| c.4 < c.2)
        .map(|c| (c.0, c.1))
        .collect();
    let mut transfers = 0;
    for l in lots {
        let action = &l["action"];
        let kinds = ["transfer", "issue", "write_off"];
        assert!(
            kinds.contains(&action["kind"].as_str().unwrap_or("")),
            "{l}"
        );
        if action["kind"] == "transfer" {
            transfers += 1;
            let to = (
                action["to_code"].as_str().unwrap_or("").to_owned(),
                l["sku"].as_str().unwrap_or("").to_owned(),
            );
            assert!(
                below.contains(&to),
                "a rotation transfer to {to:?}, not below its level"
            );
        }
        if l["expires_on"].as_str().unwrap_or("")
            < chrono::Utc::now()
                .with_timezone(&chrono_tz::Asia::Shanghai)
                .date_naive()
                .to_string()
                .as_str()
        {
            assert_eq!(action["kind"], "write_off", "an expired lot: {l}");
        }
    }
    let saved = plan["saved_from_write_off"].as_i64().expect("saved");
    println!(
        "rotation over 180 days: {} lots, {saved} saved from write-off ({transfers} by transfer), {} written off",
        lots.len(),
        plan["written_off"]
    );
    assert!(saved > 0);
    assert_eq!(
        saved + plan["written_off"].as_i64().expect("written off"),
        lots.len() as i64
    );
}

#[tokio::test]
async fn readiness_scores_warehouses_districts_and_the_network_and_exports_csv() {
    let app = TestApp::demo().await;
    let auditor = app.token("auditor", &[]).await;
    let (status, r) = app.get("/api/v1/readiness", &auditor).await;
    assert_eq!(status, 200, "{r}");
    // The network's figures are the sums of its warehouses'; each from the tables.
    let cells = cells(&app).await;
    let levels = cells.iter().filter(|c| c.2 > 0).count() as i64;
    let met = cells.iter().filter(|c| c.2 > 0 && c.4 >= c.2).count() as i64;
    assert_eq!(r["network"]["levels"], levels);
    assert_eq!(r["network"]["levels_met"], met);
    let warehouses = r["warehouses"].as_array().expect("warehouses");
    let sum: i64 = warehouses
        .iter()
        .map(|w| w["score"]["levels_met"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(sum, met);
    assert!(
        r["districts"]
            .as_array()
            .expect("districts")
            .iter()
            .any(|d| d["district"] == "Jianghai")
    );
    let res = app
        .client
        .get(app.url("/api/v1/readiness?format=csv"))
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/csv"),
        "{:?}",
        res.headers()
    );
    let text = res.text().await.expect("csv body");
    assert!(text.starts_with("warehouse,tier,district,levels,"));
    assert_eq!(text.lines().count(), warehouses.len() + 1);
    assert!(text.contains("JM-JH-G001,community,Jianghai,"));
}

#[tokio::test]
async fn concurrent_replenishments_refill_each_cell_once() {
    // Arrange
    let app = TestApp::demo().await;
    let admin = app.token("admin", &[]).await;
    let (_, preview) = app
        .post("/api/v1/replenishment/preview", &admin, &json!({}))
        .await;
    let planned = preview["summary"]["units_planned"]
        .as_i64()
        .expect("planned");
    assert!(planned > 0);

    // Act: three admins commit at once, each with its own key.
    let commits = (0..3).map(|i| {
        let (app, admin) = (&app, &admin);
        async move {
            app.send(
                reqwest::Method::POST,
                "/api/v1/replenishment",
                admin,
                &json!({}),
                Some(&format!("concurrent-{i}")),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(commits).await;

    // Assert: one moved the whole plan, the others found it on the road; the stock that
    // left the sources is what the plan moved, once.
    let mut moved = 0;
    for (status, body) in &results {
        assert_eq!(*status, 201, "{body}");
        moved += body["summary"]["units_planned"].as_i64().expect("units");
    }
    assert_eq!(moved, planned, "{results:?}");
    let on_the_road: i64 = sqlx::query_scalar(
        "select coalesce(sum(tl.qty), 0)::int8 from transfer_lines tl
           join transfers t on t.id = tl.transfer_id
          where t.status = 'in_transit' and t.note = 'replenishment'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("in transit");
    assert_eq!(on_the_road, planned);
    for (w, sku, _, keep, usable) in cells(&app).await {
        let gave: i64 = sqlx::query_scalar(
            "select coalesce(sum(tl.qty), 0)::int8 from transfer_lines tl
               join transfers t on t.id = tl.transfer_id
               join stock_lots l on l.id = tl.lot_id join items i on i.id = l.item_id
               join warehouses w on w.id = t.from_warehouse_id
              where w.code = $1 and i.sku = $2 and t.note = 'replenishment'",
        )
        .bind(&w)
        .bind(&sku)
        .fetch_one(&app.pool)
        .await
        .expect("given");
        if gave > 0 {
            assert!(
                usable >= keep,
                "{w} {sku} gave {gave} and kept {usable} < {keep}"
            );
        }
    }
}
