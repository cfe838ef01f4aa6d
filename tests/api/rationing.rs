//! Rationing rounds over HTTP (issue 17): an operation's competing demands shared by the
//! published rule, previewed, committed atomically as ordinary requests, raced.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::allocation::{add_lot, assert_ledger_consistent, new_item, server_with};
use crate::helpers::{TestApp, assert_problem, audit_count};

/// Doumen (Zhuhai), Taishan (Jiangmen) and Macao, WGS84 (reference/gba-geography.md).
const DOUMEN: (f64, f64) = (22.2119, 113.2909);
const TAISHAN: (f64, f64) = (22.2536, 112.7883);
const MACAO: (f64, f64) = (22.1987, 113.5439);

/// The estuary crossings a typhoon closes (Ragasa 2025, reference/scenarios.md).
const ESTUARY: [&str; 3] = ["shenzhen-zhongshan-link", "hzmb-main", "huangmaohai-link"];
/// Every road into Macao.
const MACAO_BORDERS: [&str; 3] = ["gongbei-border", "hengqin-border", "hzmb-macau-port"];

/// Opens an operation with one county-level incident per `(name, (lat, lon))`.
async fn operation(
    app: &TestApp,
    token: &str,
    incidents: &[(&str, (f64, f64))],
) -> (String, Vec<String>) {
    let (status, op) = app
        .post(
            "/api/v1/operations",
            token,
            &json!({"name": "Typhoon drill"}),
        )
        .await;
    assert_eq!(status, 201, "{op}");
    let op_id = op["id"].as_str().expect("id").to_owned();
    let mut ids = Vec::new();
    for (name, (lat, lon)) in incidents {
        let (status, inc) = app
            .post(
                "/api/v1/incidents",
                token,
                &json!({"name": name, "kind": "typhoon", "point": {"lat": lat, "lon": lon},
                        "operation_id": op_id, "response_level": "county"}),
            )
            .await;
        assert_eq!(status, 201, "{inc}");
        ids.push(inc["id"].as_str().expect("id").to_owned());
    }
    (op_id, ids)
}

async fn close(app: &TestApp, token: &str, edges: &[&str]) {
    let (status, out) = app
        .post(
            "/api/v1/closures",
            token,
            &json!({"name": "Typhoon signal 10", "reason": "typhoon", "edge_ids": edges}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
}

fn demand(incident: &str, sku: &str, qty: i64, priority: &str) -> Value {
    json!({"incident_id": incident, "sku": sku, "qty": qty, "priority": priority})
}

/// The round's line for (incident, SKU).
fn line<'a>(round: &'a Value, incident: &str, sku: &str) -> &'a Value {
    round["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["incident_id"] == incident && l["sku"] == sku)
        .unwrap_or_else(|| panic!("no line for {incident} {sku} in {round}"))
}

fn reserved(round: &Value, incident: &str, sku: &str) -> i64 {
    line(round, incident, sku)["reserved"]
        .as_i64()
        .expect("reserved")
}

/// Σ reserved over the lots of `sku`.
async fn reserved_of_sku(app: &TestApp, sku: &str) -> i64 {
    sqlx::query_scalar(
        "select coalesce(sum(l.reserved), 0)::bigint from stock_lots l join items i on i.id = l.item_id where i.sku = $1",
    )
    .bind(sku)
    .fetch_one(&app.pool)
    .await
    .expect("sum")
}

/// Water and tents 40 % short at three warehouses, for the estuary scenario.
async fn scarce_water_and_tents(app: &TestApp) {
    new_item(app, "TEST-WATER", 0).await;
    new_item(app, "TEST-TENT", 0).await;
    add_lot(app, "TEST-WATER", "JM-JH-RC", "W-JH", None, 80).await;
    add_lot(app, "TEST-WATER", "SZ-FT-01", "W-SZ", None, 70).await;
    add_lot(app, "TEST-WATER", "MO-01", "W-MO", None, 30).await;
    add_lot(app, "TEST-TENT", "JM-JH-RC", "T-JH", None, 100).await;
    add_lot(app, "TEST-TENT", "ZH-XZ-01", "T-ZH", None, 80).await;
}

/// 60 units of a fresh item TEST-WATER at Jianghai, and an operation with Doumen and
/// Taishan: the operation's id and the incidents' ids.
async fn sixty_waters_for_doumen_and_taishan(app: &TestApp, token: &str) -> (String, Vec<String>) {
    new_item(app, "TEST-WATER", 0).await;
    add_lot(app, "TEST-WATER", "JM-JH-RC", "W1", None, 60).await;
    operation(app, token, &[("Doumen", DOUMEN), ("Taishan", TAISHAN)]).await
}

#[tokio::test]
async fn with_the_estuary_closed_every_critical_demand_gets_the_same_share_and_macao_its_share_over_open_roads()
 {
    // Arrange: three incidents each asking 100 water and 100 tents, critical; 180 of each.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    scarce_water_and_tents(&app).await;
    let (op, ids) = operation(
        &app,
        &dispatcher,
        &[("Doumen", DOUMEN), ("Taishan", TAISHAN), ("Macao", MACAO)],
    )
    .await;
    let demands: Vec<Value> = ids
        .iter()
        .flat_map(|i| {
            [
                demand(i, "TEST-WATER", 100, "critical"),
                demand(i, "TEST-TENT", 100, "critical"),
            ]
        })
        .collect();
    let body = json!({ "demands": demands });
    let url = format!("/api/v1/operations/{op}/rationing/preview");
    close(&app, &dispatcher, &ESTUARY).await;

    // Act: preview with the estuary closed; then with Macao cut off too.
    let (status, estuary) = app.post(&url, &dispatcher, &body).await;
    close(&app, &dispatcher, &MACAO_BORDERS).await;
    let (status2, isolated) = app.post(&url, &dispatcher, &body).await;

    // Assert: with the estuary closed every road still leads everywhere (the long way),
    // so every critical line gets the same 60 %; with Macao cut off it can use only the
    // 30 units of water inside Macao and no tents, and the others share the rest equally.
    assert_eq!(status, 200, "{estuary}");
    for i in &ids {
        for sku in ["TEST-WATER", "TEST-TENT"] {
            assert_eq!(reserved(&estuary, i, sku), 60, "{estuary}");
        }
    }
    let water = &estuary["items"].as_array().expect("items")[1];
    assert_eq!(water["sku"], "TEST-WATER");
    assert_eq!(water["tiers"][0]["min_fill_percent"], 60);
    assert_eq!(
        water["tiers"][0]["sentence"],
        "every critical line got at least 60% of its demand"
    );
    assert_eq!(status2, 200, "{isolated}");
    let (doumen, taishan, macao) = (&ids[0], &ids[1], &ids[2]);
    assert_eq!(reserved(&isolated, macao, "TEST-WATER"), 30, "{isolated}");
    assert_eq!(reserved(&isolated, macao, "TEST-TENT"), 0);
    assert_eq!(reserved(&isolated, doumen, "TEST-WATER"), 75);
    assert_eq!(reserved(&isolated, taishan, "TEST-WATER"), 75);
    assert_eq!(reserved(&isolated, doumen, "TEST-TENT"), 90);
    assert_eq!(reserved(&isolated, taishan, "TEST-TENT"), 90);
    let macao_tents = line(&isolated, macao, "TEST-TENT");
    let reasons: Vec<&str> = macao_tents["explanation"]
        .as_array()
        .expect("explanation")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons, vec!["unreachable", "unreachable"], "{macao_tents}");
    // The previews reserved nothing.
    assert_eq!(reserved_of_sku(&app, "TEST-WATER").await, 0);
    // The price of fairness is reported against nearest-first in request order.
    assert_eq!(isolated["totals"]["delivered"], 360);
    assert!(isolated["nearest_first"]["delivered"].as_i64().is_some());
}

#[tokio::test]
async fn normal_demand_gets_nothing_while_a_critical_demand_of_the_round_is_short() {
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let (op, ids) = sixty_waters_for_doumen_and_taishan(&app, &dispatcher).await;
    let body = json!({"demands": [
        demand(&ids[1], "TEST-WATER", 50, "normal"),
        demand(&ids[0], "TEST-WATER", 100, "critical"),
    ]});

    let (status, round) = app
        .post(
            &format!("/api/v1/operations/{op}/rationing/preview"),
            &dispatcher,
            &body,
        )
        .await;

    assert_eq!(status, 200, "{round}");
    assert_eq!(reserved(&round, &ids[0], "TEST-WATER"), 60);
    assert_eq!(reserved(&round, &ids[1], "TEST-WATER"), 0);
    let normal = line(&round, &ids[1], "TEST-WATER");
    assert_eq!(normal["shortfall"], 50);
    let jh = normal["explanation"]
        .as_array()
        .expect("explanation")
        .iter()
        .find(|e| e["warehouse_code"] == "JM-JH-RC")
        .expect("JM-JH-RC explained");
    assert_eq!(jh["to_other_lines"], 60, "{jh}");
}

#[tokio::test]
async fn a_committed_round_reserves_its_plan_as_one_request_per_incident_once() {
    // Arrange
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    scarce_water_and_tents(&app).await;
    let (op, ids) = operation(
        &app,
        &dispatcher,
        &[("Doumen", DOUMEN), ("Taishan", TAISHAN)],
    )
    .await;
    let body = json!({"demands": [
        demand(&ids[0], "TEST-WATER", 100, "critical"),
        demand(&ids[0], "TEST-TENT", 40, "critical"),
        demand(&ids[1], "TEST-WATER", 150, "critical"),
        demand(&ids[1], "TEST-WATER", 50, "high"),
    ]});
    let url = format!("/api/v1/operations/{op}/rationing");
    let (_, preview) = app
        .post(&format!("{url}/preview"), &dispatcher, &body)
        .await;
    let mut commit = body.clone();
    commit["preview_digest"] = preview["digest"].clone();

    // Act: commit twice with one key.
    let (status, round) = app
        .send(
            reqwest::Method::POST,
            &url,
            &dispatcher,
            &commit,
            Some("round-1"),
        )
        .await;
    let (status2, again) = app
        .send(
            reqwest::Method::POST,
            &url,
            &dispatcher,
            &commit,
            Some("round-1"),
        )
        .await;

    // Assert: the answer is the preview's plan, reserved; three requests (Doumen
    // critical, Taishan critical, Taishan high), linked to the round; the ledger holds
    // exactly what the answer says; the retry repeated nothing.
    assert_eq!(status, 201, "{round}");
    assert_eq!(round["committed"], true);
    assert_eq!(round["replanned"], false);
    assert_eq!(round["digest"], preview["digest"]);
    assert_eq!(status2, 201, "{again}");
    assert_eq!(again["round_id"], round["round_id"]);
    let requests = round["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 3, "{round}");
    let answered: i64 = round["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["reserved"].as_i64().expect("reserved"))
        .sum();
    let held = reserved_of_sku(&app, "TEST-WATER").await + reserved_of_sku(&app, "TEST-TENT").await;
    assert_eq!(held, answered);
    assert_eq!(
        reserved(&round, &ids[0], "TEST-WATER") + reserved(&round, &ids[1], "TEST-WATER"),
        180
    );
    let round_id = Uuid::parse_str(round["round_id"].as_str().expect("round id")).expect("uuid");
    let linked: i64 =
        sqlx::query_scalar("select count(*) from allocation_requests where round_id = $1")
            .bind(round_id)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(linked, 3);
    assert_eq!(audit_count(&app, "rationing.commit").await, 1);
    assert_eq!(audit_count(&app, "allocation.request").await, 3);
    let (status, listed) = app
        .get(&format!("/api/v1/operations/{op}/rationing"), &dispatcher)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["requests"].as_array().expect("requests").len(), 3);
    // A round's request is an ordinary request: it dispatches.
    let first = requests[0]["id"].as_str().expect("id");
    let (status, shipped) = app
        .post(
            &format!("/api/v1/requests/{first}/dispatch"),
            &dispatcher,
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{shipped}");
    assert_eq!(shipped["status"], "dispatched");
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn committing_a_preview_after_the_stock_changed_replans_and_says_so() {
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let (op, ids) = sixty_waters_for_doumen_and_taishan(&app, &dispatcher).await;
    let mut body = json!({"demands": [
        demand(&ids[0], "TEST-WATER", 50, "critical"),
        demand(&ids[1], "TEST-WATER", 50, "critical"),
    ]});
    let url = format!("/api/v1/operations/{op}/rationing");
    let (_, preview) = app
        .post(&format!("{url}/preview"), &dispatcher, &body)
        .await;
    assert_eq!(reserved(&preview, &ids[0], "TEST-WATER"), 30);
    // Someone else takes 20 first.
    let (status, single) = app
        .post(
            &format!("/api/v1/incidents/{}/requests", ids[0]),
            &dispatcher,
            &json!({"priority": "critical", "lines": [{"sku": "TEST-WATER", "qty": 20}]}),
        )
        .await;
    assert_eq!(status, 201, "{single}");
    body["preview_digest"] = preview["digest"].clone();

    let (status, round) = app.post(&url, &dispatcher, &body).await;

    assert_eq!(status, 201, "{round}");
    assert_eq!(round["replanned"], true);
    assert!(
        round["note"]
            .as_str()
            .expect("note")
            .contains("stock changed")
    );
    assert_eq!(reserved(&round, &ids[0], "TEST-WATER"), 20);
    assert_eq!(reserved(&round, &ids[1], "TEST-WATER"), 20);
    assert_eq!(reserved_of_sku(&app, "TEST-WATER").await, 60);
}

#[tokio::test]
async fn a_round_from_open_requests_shares_their_shortfall_and_fills_those_requests() {
    // Arrange: first come, first served left Taishan with nothing; then 40 more arrive.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    let (op, ids) = sixty_waters_for_doumen_and_taishan(&app, &dispatcher).await;
    let mut requests = Vec::new();
    for (i, qty) in [(0, 80), (1, 40)] {
        let (status, r) = app
            .post(
                &format!("/api/v1/incidents/{}/requests", ids[i]),
                &dispatcher,
                &json!({"priority": "critical", "lines": [{"sku": "TEST-WATER", "qty": qty}]}),
            )
            .await;
        assert_eq!(status, 201, "{r}");
        requests.push(r);
    }
    assert_eq!(requests[0]["lines"][0]["reserved"], 60);
    assert_eq!(requests[1]["lines"][0]["reserved"], 0);
    add_lot(&app, "TEST-WATER", "JM-JH-RC", "W2", None, 40).await;

    // Act
    let (status, round) = app
        .post(
            &format!("/api/v1/operations/{op}/rationing"),
            &dispatcher,
            &json!({"from_open_requests": true}),
        )
        .await;

    // Assert: the shortfalls (20 and 40) share the 40 at one fill ratio t: 20t + 40t = 40,
    // t = 2/3, so 13⅓ and 26⅔; whole units by largest remainder: 13 and 27.
    assert_eq!(status, 201, "{round}");
    let doumen = reserved(&round, &ids[0], "TEST-WATER");
    let taishan = reserved(&round, &ids[1], "TEST-WATER");
    assert_eq!((doumen, taishan), (13, 27), "{round}");
    let written = round["requests"].as_array().expect("requests");
    assert_eq!(written.len(), 2);
    assert!(written.iter().all(|r| r["created"] == false));
    let stored: Vec<i64> = {
        let mut v = Vec::new();
        for r in &requests {
            let (_, now) = app
                .get(
                    &format!("/api/v1/requests/{}", r["id"].as_str().expect("id")),
                    &dispatcher,
                )
                .await;
            v.push(now["lines"][0]["reserved"].as_i64().expect("reserved"));
        }
        v
    };
    assert_eq!(stored, vec![60 + doumen, taishan]);
    assert_eq!(reserved_of_sku(&app, "TEST-WATER").await, 100);
    assert_eq!(audit_count(&app, "allocation.replan").await, 2);
    assert_ledger_consistent(&app).await;
}

#[tokio::test]
async fn bad_rounds_name_the_field_and_reserve_nothing() {
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-WATER", 0).await;
    add_lot(&app, "TEST-WATER", "JM-JH-RC", "W1", None, 60).await;
    let (op, ids) = operation(&app, &dispatcher, &[("Doumen", DOUMEN)]).await;
    let (_, other) = operation(&app, &dispatcher, &[("Elsewhere", TAISHAN)]).await;
    let (_, closed) = app
        .post(
            "/api/v1/incidents",
            &dispatcher,
            &json!({"name": "Over", "kind": "flood", "point": {"lat": 22.5, "lon": 113.0},
                    "operation_id": op}),
        )
        .await;
    let closed_id = closed["id"].as_str().expect("id").to_owned();
    let (status, _) = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/incidents/{closed_id}"),
            &dispatcher,
            &json!({"status": "closed"}),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let url = format!("/api/v1/operations/{op}/rationing");
    let ok = demand(&ids[0], "TEST-WATER", 5, "critical");
    let too_many: Vec<Value> = (0..2001).map(|_| ok.clone()).collect();
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"demands": [demand(&Uuid::now_v7().to_string(), "TEST-WATER", 5, "high")]}),
            422,
            "/demands/0/incident_id",
        ),
        (
            json!({"demands": [ok.clone(), demand(&other[0], "TEST-WATER", 5, "high")]}),
            422,
            "/demands/1/incident_id",
        ),
        (
            json!({"demands": [demand(&closed_id, "TEST-WATER", 5, "high")]}),
            409,
            "/demands/0/incident_id",
        ),
        (
            json!({"demands": [demand(&ids[0], "NO-SUCH-SKU", 5, "high")]}),
            422,
            "/demands/0/sku",
        ),
        (
            json!({"demands": [ok.clone(), demand(&ids[0], "TEST-WATER", 0, "high")]}),
            422,
            "/demands/1/qty",
        ),
        (
            json!({"demands": [demand(&ids[0], "TEST-WATER", -3, "high")]}),
            422,
            "/demands/0/qty",
        ),
        (
            json!({"demands": [demand(&ids[0], "TEST-WATER", 5, "urgent")]}),
            422,
            "/demands/0/priority",
        ),
        (json!({"demands": []}), 422, "/demands"),
        (json!({"demands": too_many}), 422, "/demands"),
        (
            json!({"from_open_requests": true}),
            422,
            "/from_open_requests",
        ),
    ];
    for (body, status_want, pointer) in cases {
        for path in [format!("{url}/preview"), url.clone()] {
            let (status, problem) = app.post(&path, &dispatcher, &body).await;
            assert_problem(status, &problem, status_want, pointer);
        }
    }
    let (status, problem) = app
        .post(
            &format!("/api/v1/operations/{}/rationing", Uuid::now_v7()),
            &dispatcher,
            &json!({"demands": [ok]}),
        )
        .await;
    assert_problem(status, &problem, 404, "");
    let clerk = app.token("clerk", &[]).await;
    let (status, problem) = app
        .post(
            &url,
            &clerk,
            &json!({"demands": [demand(&ids[0], "TEST-WATER", 5, "high")]}),
        )
        .await;
    assert_problem(status, &problem, 403, "");
    assert_eq!(reserved_of_sku(&app, "TEST-WATER").await, 0);
    let rounds: i64 = sqlx::query_scalar("select count(*) from rationing_rounds")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(rounds, 0);
}

#[tokio::test]
async fn rounds_and_single_requests_racing_on_two_servers_never_over_reserve() {
    // Arrange: 100 units; two servers; two rounds (each 3 incidents × 30 critical) and
    // eight single requests of 7, all at once.
    let app = TestApp::demo().await;
    let dispatcher = app.token("dispatcher", &[]).await;
    new_item(&app, "TEST-WATER", 0).await;
    add_lot(&app, "TEST-WATER", "JM-JH-RC", "W1", None, 60).await;
    add_lot(&app, "TEST-WATER", "ZH-XZ-01", "W2", None, 40).await;
    let (op, ids) = operation(
        &app,
        &dispatcher,
        &[("Doumen", DOUMEN), ("Taishan", TAISHAN), ("Macao", MACAO)],
    )
    .await;
    let bases = [
        format!("http://{}", app.addr),
        server_with(&app, stockpile::config::Settings::default()).await,
    ];
    let round_body = json!({"demands": ids.iter().map(|i| demand(i, "TEST-WATER", 30, "critical")).collect::<Vec<_>>()});

    // Act
    let mut tasks = Vec::new();
    for k in 0..10usize {
        let base = bases[k % 2].clone();
        let token = dispatcher.clone();
        let (url, body) = if k < 2 {
            (
                format!("{base}/api/v1/operations/{op}/rationing"),
                round_body.clone(),
            )
        } else {
            (
                format!("{base}/api/v1/incidents/{}/requests", ids[k % 3]),
                json!({"priority": "critical", "lines": [{"sku": "TEST-WATER", "qty": 7}]}),
            )
        };
        tasks.push(tokio::spawn(async move {
            let res = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("send");
            crate::helpers::read(res).await
        }));
    }
    let mut answered = 0i64;
    let mut rounds = Vec::new();
    for (k, t) in tasks.into_iter().enumerate() {
        let (status, out) = t.await.expect("task");
        assert_eq!(status, 201, "{out}");
        if k < 2 {
            answered += out["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .map(|l| l["reserved"].as_i64().expect("r"))
                .sum::<i64>();
            rounds.push(out);
        } else {
            answered += out["lines"][0]["reserved"].as_i64().expect("reserved");
        }
    }

    // Assert: never more than the stock; what every answer says is what the ledger holds;
    // each round's answer is what its requests hold.
    let held = reserved_of_sku(&app, "TEST-WATER").await;
    assert!(held <= 100, "{held}");
    assert_eq!(held, answered);
    for round in &rounds {
        let said: i64 = round["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["reserved"].as_i64().expect("r"))
            .sum();
        let id = Uuid::parse_str(round["round_id"].as_str().expect("id")).expect("uuid");
        let stored: i64 = sqlx::query_scalar(
            "select coalesce(sum(l.reserved), 0)::bigint from allocation_request_lines l
               join allocation_requests r on r.id = l.request_id where r.round_id = $1",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("sum");
        assert_eq!(stored, said);
    }
    assert_ledger_consistent(&app).await;
}
