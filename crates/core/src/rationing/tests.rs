use super::*;
use chrono::{Duration, TimeZone};
use proptest::prelude::*;

mod brute;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn wid(n: u128) -> Uuid {
    Uuid::from_u128(0x1000 + n)
}

fn iid(n: u128) -> Uuid {
    Uuid::from_u128(0x5000 + n)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 1, 0, 0)
        .single()
        .expect("valid instant")
}

fn warehouse(n: u128, code: &str, eta: Option<f64>) -> WarehouseState {
    WarehouseState {
        id: wid(n),
        code: code.to_owned(),
        active: true,
        eta_minutes: eta,
        distance_km: eta,
        in_affected_area: false,
        service_radius_km: None,
        incident_km: None,
        reserve_levels: vec![],
    }
}

fn lot(n: u128, wh: u128, sku: &str, on_hand: i64) -> LotState {
    LotState {
        id: Uuid::from_u128(0x9000 + n),
        warehouse_id: wid(wh),
        sku: sku.to_owned(),
        lot_code: format!("L{n}"),
        expires_on: None,
        on_hand,
        reserved: 0,
        quarantined: false,
    }
}

/// An incident seeing warehouse `n` at `etas[n]` (None: unreachable).
fn incident(n: u128, code: &str, etas: &[Option<f64>]) -> Incident {
    Incident {
        id: iid(n),
        code: code.to_owned(),
        now: now(),
        needed_by: None,
        delivery_target: Duration::hours(6),
        include_affected_warehouses: false,
        warehouses: etas
            .iter()
            .enumerate()
            .map(|(w, &eta)| warehouse(w as u128, &format!("W{w}"), eta))
            .collect(),
    }
}

fn demand(n: u128, sku: &str, qty: i64, priority: Priority) -> Demand {
    Demand {
        incident_id: iid(n),
        sku: sku.to_owned(),
        qty,
        priority,
    }
}

fn stock(warehouses: usize, lots: Vec<LotState>) -> Stock {
    let ws = (0..warehouses)
        .map(|w| warehouse(w as u128, &format!("W{w}"), Some(0.0)))
        .collect();
    Stock::new(
        vec![ItemPolicy {
            sku: "WATER".into(),
            min_remaining_days: 0,
        }],
        ws,
        lots,
    )
}

fn input<'a>(incidents: &'a [Incident], demands: &'a [Demand]) -> RoundInput<'a> {
    RoundInput {
        incidents,
        demands,
        now: now(),
        tz: TZ,
    }
}

fn reserved(round: &Round) -> Vec<(String, i64)> {
    round
        .lines
        .iter()
        .map(|l| (l.incident_code.clone(), l.reserved))
        .collect()
}

fn r(code: &str, qty: i64) -> (String, i64) {
    (code.to_owned(), qty)
}

#[test]
fn from_one_shared_pool_every_line_of_a_tier_gets_the_same_share() {
    // 150 units, three incidents asking 100, 100 and 200: everyone gets 150 / 400 = 37.5%.
    let s = stock(1, vec![lot(1, 0, "WATER", 150)]);
    let incidents = [
        incident(1, "ZH-DOUMEN", &[Some(60.0)]),
        incident(2, "JM-TAISHAN", &[Some(90.0)]),
        incident(3, "MO-MACAO", &[Some(30.0)]),
    ];
    let demands = [
        demand(1, "WATER", 100, Priority::Critical),
        demand(2, "WATER", 100, Priority::Critical),
        demand(3, "WATER", 200, Priority::Critical),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    // 37.5, 37.5, 75: the two halves go by incident code (JM-TAISHAN before ZH-DOUMEN).
    assert_eq!(
        reserved(&round),
        vec![r("ZH-DOUMEN", 37), r("JM-TAISHAN", 38), r("MO-MACAO", 75)]
    );
    let tier = &round.items[0].tiers[0];
    assert_eq!((tier.min_fill_percent, tier.reserved), (37, 150));
    assert_eq!(
        tier.sentence(),
        "every critical line got at least 37% of its demand"
    );
    for line in &round.lines {
        assert_eq!(line.reserved + line.shortfall, line.requested);
        let picked: i64 = line.picks.iter().map(|p| p.qty).sum();
        assert_eq!(picked, line.reserved);
        // The pool gave the line less than it holds: other lines took the rest.
        assert_eq!(line.explanation.len(), 1);
        assert_eq!(
            line.explanation[0].skipped.reason,
            SkipReason::FullyReserved
        );
        assert_eq!(line.explanation[0].to_other_lines, 150 - line.reserved);
    }
}

#[test]
fn a_line_only_part_of_the_stock_can_reach_ends_lower_and_the_others_rise() {
    // Macao reaches only W0 (30 units) with the estuary crossings closed; the others reach
    // W0 and W1 (120). Macao gets all 30 of W0; the others share W1: 60 each.
    let s = stock(2, vec![lot(1, 0, "WATER", 30), lot(2, 1, "WATER", 120)]);
    let incidents = [
        incident(1, "MO-MACAO", &[Some(40.0), None]),
        incident(2, "ZH-DOUMEN", &[Some(50.0), Some(70.0)]),
        incident(3, "JM-TAISHAN", &[Some(80.0), Some(20.0)]),
    ];
    let demands = [
        demand(1, "WATER", 100, Priority::Critical),
        demand(2, "WATER", 100, Priority::Critical),
        demand(3, "WATER", 100, Priority::Critical),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    assert_eq!(
        reserved(&round),
        vec![r("MO-MACAO", 30), r("ZH-DOUMEN", 60), r("JM-TAISHAN", 60)]
    );
    let macao = &round.lines[0];
    assert_eq!(macao.picks[0].warehouse_code, "W0");
    let reasons: Vec<(String, SkipReason)> = macao
        .explanation
        .iter()
        .map(|p| (p.skipped.warehouse_code.clone(), p.skipped.reason))
        .collect();
    assert_eq!(reasons, vec![("W1".to_owned(), SkipReason::Unreachable)]);
}

#[test]
fn normal_demand_gets_nothing_while_a_critical_line_is_short() {
    let s = stock(1, vec![lot(1, 0, "WATER", 80)]);
    let incidents = [
        incident(1, "A", &[Some(10.0)]),
        incident(2, "B", &[Some(10.0)]),
    ];
    let demands = [
        demand(2, "WATER", 50, Priority::Normal),
        demand(1, "WATER", 100, Priority::Critical),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    assert_eq!(reserved(&round), vec![r("B", 0), r("A", 80)]);
    assert_eq!(
        round.lines[0].explanation[0].skipped.reason,
        SkipReason::FullyReserved
    );
    let tiers: Vec<(Priority, u32)> = round.items[0]
        .tiers
        .iter()
        .map(|t| (t.priority, t.min_fill_percent))
        .collect();
    assert_eq!(tiers, vec![(Priority::Critical, 80), (Priority::Normal, 0)]);
}

#[test]
fn non_critical_tiers_draw_only_down_to_the_level_left_after_critical_draws() {
    // 100 units, level 60. Critical takes 30; high may then take 100 − 30 − 60 = 10.
    let mut w = warehouse(0, "W0", Some(0.0));
    w.reserve_levels = vec![("WATER".into(), 60)];
    let s = Stock::new(vec![], vec![w], vec![lot(1, 0, "WATER", 100)]);
    let incidents = [
        incident(1, "A", &[Some(10.0)]),
        incident(2, "B", &[Some(10.0)]),
    ];
    let demands = [
        demand(1, "WATER", 30, Priority::Critical),
        demand(2, "WATER", 50, Priority::High),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    assert_eq!(reserved(&round), vec![r("A", 30), r("B", 10)]);
    let why = &round.lines[1].explanation[0].skipped;
    assert_eq!(
        (why.reason, why.protected, why.reserve_level),
        (SkipReason::ReserveLevel, 60, 60)
    );
}

#[test]
fn lots_are_judged_on_each_incidents_own_arrival_date_and_go_fefo() {
    // Lot E expires 3 Sept. Incident A arrives on 2 Sept and may use it; incident B leaves
    // two days later and may not. Both ask 10 of 20 units (E 10, F no expiry 10): A must
    // take E (first to expire), B takes F.
    let mut e = lot(1, 0, "WATER", 10);
    e.expires_on = NaiveDate::from_ymd_opt(2025, 9, 3);
    let f = lot(2, 0, "WATER", 10);
    let s = stock(1, vec![f, e]);
    let a = incident(1, "A", &[Some(60.0)]);
    let mut b = incident(2, "B", &[Some(60.0)]);
    b.now = now() + Duration::days(2);
    let incidents = [b, a];
    let demands = [
        demand(2, "WATER", 10, Priority::High),
        demand(1, "WATER", 10, Priority::High),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    let lots: Vec<(String, String, i64)> = round
        .lines
        .iter()
        .flat_map(|l| {
            l.picks
                .iter()
                .map(|p| (l.incident_code.clone(), p.lot_code.clone(), p.qty))
        })
        .collect();
    assert_eq!(
        lots,
        vec![
            ("B".to_owned(), "L2".to_owned(), 10),
            ("A".to_owned(), "L1".to_owned(), 10)
        ]
    );
}

#[test]
fn picks_after_the_delivery_target_or_needed_by_are_flagged_late() {
    let s = stock(2, vec![lot(1, 0, "WATER", 5), lot(2, 1, "WATER", 5)]);
    let mut a = incident(1, "A", &[Some(300.0), Some(420.0)]);
    a.needed_by = Some(now() + Duration::hours(4));
    let demands = [demand(1, "WATER", 10, Priority::Critical)];
    let round = solve(&s, &input(std::slice::from_ref(&a), &demands));
    let flags: Vec<(String, bool, bool, bool)> = round.lines[0]
        .picks
        .iter()
        .map(|p| {
            (
                p.warehouse_code.clone(),
                p.misses_target,
                p.after_needed_by,
                p.late,
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("W0".to_owned(), false, true, true),
            ("W1".to_owned(), true, true, true)
        ]
    );
}

#[test]
fn within_a_tier_the_nearest_stock_goes_where_it_saves_the_most_time() {
    // Both incidents get 10 (all there is, 50%). A is 10 min from W0 and 100 from W1; B is
    // 20 from W0 and 30 from W1. Least Σ qty × ETA: A from W0, B from W1.
    let s = stock(2, vec![lot(1, 0, "WATER", 10), lot(2, 1, "WATER", 10)]);
    let incidents = [
        incident(1, "A", &[Some(10.0), Some(100.0)]),
        incident(2, "B", &[Some(20.0), Some(30.0)]),
    ];
    let demands = [
        demand(1, "WATER", 20, Priority::High),
        demand(2, "WATER", 20, Priority::High),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    let from: Vec<(String, String)> = round
        .lines
        .iter()
        .map(|l| (l.incident_code.clone(), l.picks[0].warehouse_code.clone()))
        .collect();
    assert_eq!(
        from,
        vec![
            ("A".to_owned(), "W0".to_owned()),
            ("B".to_owned(), "W1".to_owned())
        ]
    );
    assert_eq!(round.totals.delivered, 20);
    assert!((round.totals.qty_eta_minutes - 400.0).abs() < 1e-9);
}

#[test]
fn the_price_of_fairness_compares_with_nearest_first_in_request_order() {
    // Nearest first in request order: Doumen asks first and empties W0, its nearest;
    // Macao (only W0 reachable with the crossings closed) then gets nothing. Rationing
    // gives both 75% (120 of 160): Macao 45 from W0; Doumen 15 from W0 and 60 from W1.
    let s = stock(2, vec![lot(1, 0, "WATER", 60), lot(2, 1, "WATER", 60)]);
    let incidents = [
        incident(1, "ZH-DOUMEN", &[Some(30.0), Some(90.0)]),
        incident(2, "MO-MACAO", &[Some(60.0), None]),
    ];
    let demands = [
        demand(1, "WATER", 100, Priority::Critical),
        demand(2, "WATER", 60, Priority::Critical),
    ];
    let input = input(&incidents, &demands);
    let round = solve(&s, &input);
    let base = nearest_first(&s, &input);
    assert_eq!(
        reserved(&round),
        vec![r("ZH-DOUMEN", 75), r("MO-MACAO", 45)]
    );
    let base_reserved: Vec<i64> = base.plans.iter().map(|p| p.lines[0].reserved).collect();
    assert_eq!(base_reserved, vec![100, 0]);
    // Here fairness delivers more in total, and later on average.
    assert_eq!((round.totals.delivered, base.totals.delivered), (120, 100));
    // Leximin: 45 × 60 + 15 × 30 + 60 × 90; nearest first: 60 × 30 + 40 × 90.
    assert!((round.totals.qty_eta_minutes - 8550.0).abs() < 1e-9);
    assert!((base.totals.qty_eta_minutes - 5400.0).abs() < 1e-9);
    assert!(round.totals.mean_eta_minutes() > base.totals.mean_eta_minutes());
}

#[test]
fn the_estuary_split_rations_water_and_tents_over_the_routes_that_are_open() {
    // Hato-like round (scenarios.md, "Estuary split"): the crossings are closed, so Macao
    // reaches only its own store (MO); Doumen and Taishan reach the Zhuhai and Jiangmen
    // depots, and Shenzhen's only over the Nansha bridge. Water and tents fall 40% short;
    // every line is critical.
    let (mo, zh, jm, sz) = (0, 1, 2, 3);
    let mut lots = Vec::new();
    for (n, (w, sku, qty)) in [
        (mo, "WATER", 30),
        (zh, "WATER", 90),
        (jm, "WATER", 60),
        (sz, "WATER", 60),
        (mo, "TENT", 30),
        (zh, "TENT", 50),
        (jm, "TENT", 40),
    ]
    .into_iter()
    .enumerate()
    {
        lots.push(lot(n as u128, w, sku, qty));
    }
    let s = stock(4, lots);
    let incidents = [
        incident(1, "ZH-DOUMEN", &[None, Some(30.0), Some(60.0), Some(150.0)]),
        incident(
            2,
            "JM-TAISHAN",
            &[None, Some(60.0), Some(20.0), Some(140.0)],
        ),
        incident(3, "MO-MACAO", &[Some(15.0), None, None, None]),
    ];
    let demands = [
        demand(1, "WATER", 200, Priority::Critical),
        demand(2, "WATER", 100, Priority::Critical),
        demand(3, "WATER", 100, Priority::Critical),
        demand(1, "TENT", 100, Priority::Critical),
        demand(2, "TENT", 50, Priority::Critical),
        demand(3, "TENT", 50, Priority::Critical),
    ];
    let input = input(&incidents, &demands);
    let round = solve(&s, &input);
    let got: Vec<(String, String, i64)> = round
        .lines
        .iter()
        .map(|l| (l.incident_code.clone(), l.sku.clone(), l.reserved))
        .collect();
    let want = |i: &str, sku: &str, q: i64| (i.to_owned(), sku.to_owned(), q);
    assert_eq!(
        got,
        vec![
            // Water: Macao's 30% is all its open route holds; the others share the rest: 70%.
            want("ZH-DOUMEN", "WATER", 140),
            want("JM-TAISHAN", "WATER", 70),
            want("MO-MACAO", "WATER", 30),
            // Tents: everyone 60%.
            want("ZH-DOUMEN", "TENT", 60),
            want("JM-TAISHAN", "TENT", 30),
            want("MO-MACAO", "TENT", 30),
        ]
    );
    let summary: Vec<(String, u32)> = round
        .items
        .iter()
        .map(|i| (i.sku.clone(), i.tiers[0].min_fill_percent))
        .collect();
    assert_eq!(
        summary,
        vec![("TENT".to_owned(), 60), ("WATER".to_owned(), 30)]
    );
    // Macao's water line says why: the other warehouses are closed to it.
    let macao = &round.lines[2];
    assert!(
        macao
            .explanation
            .iter()
            .all(|p| p.skipped.reason == SkipReason::Unreachable)
    );
    // Nearest first in request order delivers as much here, but Taishan gets no tents:
    // Doumen, asking first, took every tent it could reach.
    let base = nearest_first(&s, &input);
    let base_reserved: Vec<i64> = base.plans.iter().map(|p| p.lines[0].reserved).collect();
    assert_eq!(base_reserved, vec![200, 10, 30, 90, 0, 30]);
    assert_eq!(round.totals.delivered, base.totals.delivered);
}

#[test]
fn unknown_incidents_and_empty_lines_get_nothing() {
    let s = stock(1, vec![lot(1, 0, "WATER", 10)]);
    let incidents = [incident(1, "A", &[Some(10.0)])];
    let demands = [
        demand(9, "WATER", 5, Priority::Critical),
        demand(1, "WATER", 0, Priority::Critical),
        demand(1, "NOPE", 5, Priority::Critical),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    let got: Vec<(i64, i64, i64)> = round
        .lines
        .iter()
        .map(|l| (l.requested, l.reserved, l.shortfall))
        .collect();
    assert_eq!(got, vec![(5, 0, 5), (0, 0, 0), (5, 0, 5)]);
}

#[test]
fn rounds_serialize_with_snake_case_names_and_the_planners_explanation_shape() {
    let s = stock(1, vec![lot(1, 0, "WATER", 10)]);
    let incidents = [
        incident(1, "A", &[Some(10.0)]),
        incident(2, "B", &[Some(10.0)]),
    ];
    let demands = [
        demand(1, "WATER", 10, Priority::Critical),
        demand(2, "WATER", 10, Priority::Critical),
    ];
    let round = solve(&s, &input(&incidents, &demands));
    let json = serde_json::to_value(&round).expect("serializes");
    let passed = &json["lines"][0]["explanation"][0];
    assert_eq!(passed["reason"], "fully_reserved");
    assert_eq!(passed["to_other_lines"], 5);
    assert_eq!(passed["warehouse_code"], "W0");
    assert_eq!(json["items"][0]["tiers"][0]["priority"], "critical");
}
