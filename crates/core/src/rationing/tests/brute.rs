//! Property tests against an independent formulation, on small random rounds (≤ 4
//! incidents, ≤ 4 warehouses, ≤ 3 lots each, quantities ≤ 30):
//! - eligibility and floors restated here from the rule text, not from `rules`;
//! - what a tier can deliver to a set of lines by the max-flow min-cut formula
//!   `f(S) = min over X ⊆ S of [ demand(S ∖ X) + Σ_cells min(floor cap, stock usable by X) ]`,
//!   enumerated over subsets (no augmenting paths);
//! - the exact leximin shares by Fujishige's decomposition over that rank function (the
//!   lexicographically optimal base), in exact fractions;
//! - the least Σ qty × ETA by cycle cancelling (Bellman–Ford on the lot-level residual
//!   network, real-valued ETAs) starting from the solver's own routing.

use super::*;
use std::collections::BTreeMap;

const SKUS: [&str; 2] = ["WATER", "MRE"];

#[derive(Debug, Clone)]
struct Case {
    items: Vec<ItemPolicy>,
    warehouses: Vec<WarehouseState>,
    incidents: Vec<Incident>,
    lots: Vec<LotState>,
    demands: Vec<Demand>,
}

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 1, 0, 0)
        .single()
        .expect("valid instant")
}

fn priority() -> impl Strategy<Value = Priority> {
    prop_oneof![
        Just(Priority::Critical),
        Just(Priority::High),
        Just(Priority::Normal)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    sized(4, 3, 4, 6)
}

/// Rounds of up to `wh` warehouses with up to `lots` lots each, `inc` incidents and `dem`
/// demand lines.
fn sized(wh: usize, lots: usize, inc: usize, dem: usize) -> impl Strategy<Value = Case> {
    let whs = (
        prop::option::weighted(0.4, 0i64..20),
        prop::option::weighted(0.3, 0i64..20),
        proptest::collection::vec(
            (
                0usize..2,
                0i64..=30,
                prop::option::weighted(0.2, 0i64..=30),
                prop::bool::weighted(0.1),
                prop::option::weighted(0.6, -2i64..6),
            ),
            0..=lots,
        ),
    );
    let view = (
        prop::option::weighted(0.85, 0u32..60),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.95),
    );
    let incs = (
        0i64..(3 * 1440),
        prop::bool::weighted(0.3),
        proptest::collection::vec(view, wh),
    );
    (
        proptest::collection::vec(whs, 1..=wh),
        proptest::collection::vec(incs, 1..=inc),
        proptest::collection::vec((0usize..inc, 0usize..2, 1i64..=30, priority()), 1..=dem),
        0i32..3,
    )
        .prop_map(move |(whs, incs, dems, mre_days)| {
            let now = base();
            let mut warehouses = Vec::new();
            let mut lots = Vec::new();
            for (w, (water, mre, ls)) in whs.into_iter().enumerate() {
                let mut levels = Vec::new();
                if let Some(l) = water {
                    levels.push(("WATER".to_owned(), l));
                }
                if let Some(l) = mre {
                    levels.push(("MRE".to_owned(), l));
                }
                warehouses.push(WarehouseState {
                    id: wid(w as u128),
                    code: format!("W{w}"),
                    active: true,
                    eta_minutes: Some(0.0),
                    distance_km: None,
                    in_affected_area: false,
                    service_radius_km: None,
                    incident_km: None,
                    reserve_levels: levels,
                });
                for (sku, on_hand, reserved, quarantined, exp) in ls {
                    let n = lots.len();
                    lots.push(LotState {
                        id: Uuid::from_u128(0x9000 + n as u128),
                        warehouse_id: wid(w as u128),
                        sku: SKUS[sku].to_owned(),
                        lot_code: format!("L{n}"),
                        expires_on: exp.map(|d| {
                            NaiveDate::from_ymd_opt(2025, 9, 2).expect("valid") + Duration::days(d)
                        }),
                        on_hand,
                        reserved: reserved.unwrap_or(0).min(on_hand),
                        quarantined,
                    });
                }
            }
            let nw = warehouses.len();
            let incidents: Vec<Incident> = incs
                .into_iter()
                .enumerate()
                .map(|(i, (offset, include, views))| Incident {
                    id: iid(i as u128),
                    code: format!("I{i}"),
                    now: now + Duration::minutes(offset),
                    needed_by: None,
                    delivery_target: Duration::hours(6),
                    include_affected_warehouses: include,
                    warehouses: views
                        .into_iter()
                        .take(nw)
                        .enumerate()
                        .map(|(w, (eta, in_area, active))| WarehouseState {
                            id: wid(w as u128),
                            code: format!("W{w}"),
                            active,
                            // Multiples of 30 min: ties happen, arrival dates differ.
                            eta_minutes: eta.map(|e| f64::from(e * 30)),
                            distance_km: None,
                            in_affected_area: in_area,
                            service_radius_km: None,
                            incident_km: None,
                            reserve_levels: vec![],
                        })
                        .collect(),
                })
                .collect();
            let ni = incidents.len();
            let demands = dems
                .into_iter()
                .map(|(i, sku, qty, priority)| Demand {
                    incident_id: iid((i % ni) as u128),
                    sku: SKUS[sku].to_owned(),
                    qty,
                    priority,
                })
                .collect();
            let items = vec![
                ItemPolicy {
                    sku: "WATER".into(),
                    min_remaining_days: 0,
                },
                ItemPolicy {
                    sku: "MRE".into(),
                    min_remaining_days: mre_days,
                },
            ];
            Case {
                items,
                warehouses,
                incidents,
                lots,
                demands,
            }
        })
}

impl Case {
    fn stock(&self) -> Stock {
        Stock::new(
            self.items.clone(),
            self.warehouses.clone(),
            self.lots.clone(),
        )
    }

    fn solve(&self) -> Round {
        solve(
            &self.stock(),
            &RoundInput {
                incidents: &self.incidents,
                demands: &self.demands,
                now: base(),
                tz: TZ,
            },
        )
    }

    fn min_days(&self, sku: &str) -> i64 {
        self.items
            .iter()
            .find(|i| i.sku == sku)
            .map_or(0, |i| i64::from(i.min_remaining_days.max(0)))
    }

    fn incident(&self, id: Uuid) -> Option<&Incident> {
        self.incidents.iter().find(|i| i.id == id)
    }

    /// The rule text, restated: the warehouse can supply the incident, and its ETA.
    fn reach(&self, incident: &Incident, warehouse: Uuid) -> Option<f64> {
        let v = incident.warehouses.iter().find(|v| v.id == warehouse)?;
        let eta = v.eta_minutes?;
        (v.active && (!v.in_affected_area || incident.include_affected_warehouses)).then_some(eta)
    }

    fn available(lot: &LotState) -> i64 {
        (lot.on_hand - lot.reserved).max(0)
    }

    /// Whether the lot is usable on arrival at the incident (ignoring what is left of it).
    fn usable(&self, lot: &LotState, incident: &Incident) -> bool {
        let Some(eta) = self.reach(incident, lot.warehouse_id) else {
            return false;
        };
        let arrival = (incident.now + Duration::seconds((eta * 60.0) as i64))
            .with_timezone(&TZ)
            .date_naive();
        !lot.quarantined
            && lot
                .expires_on
                .is_none_or(|e| e >= arrival + Duration::days(self.min_days(&lot.sku)))
    }

    /// Whether the lot's available stock counts toward the reserve level on the round's date.
    fn counts(&self, lot: &LotState) -> bool {
        let today = base().with_timezone(&TZ).date_naive();
        !lot.quarantined
            && lot
                .expires_on
                .is_none_or(|e| e >= today + Duration::days(self.min_days(&lot.sku)))
    }

    fn level(&self, warehouse: Uuid, sku: &str) -> i64 {
        self.warehouses
            .iter()
            .find(|w| w.id == warehouse)
            .into_iter()
            .flat_map(|w| &w.reserve_levels)
            .filter(|(s, _)| s == sku)
            .map(|(_, l)| *l)
            .max()
            .unwrap_or(0)
            .max(0)
    }
}

/// One tier of one item, as the independent check sees it.
struct TierCheck<'a> {
    case: &'a Case,
    /// Lot index → units left when the tier starts.
    residual: Vec<i64>,
    /// Warehouse → what the tier may take (None: no floor).
    floor_cap: BTreeMap<Uuid, Option<i64>>,
    /// The tier's lines: (round line index, incident, demand).
    lines: Vec<(usize, &'a Incident, i64)>,
    sku: &'a str,
}

impl TierCheck<'_> {
    /// What the tier can deliver to the lines in `set` (bit mask), by the min-cut formula.
    fn rank(&self, set: u32) -> i64 {
        let mut best = i64::MAX;
        // X ⊆ set: the lines whose stock is cut; the others' demand edges are cut.
        let mut x = set;
        loop {
            let mut value: i64 = self
                .lines
                .iter()
                .enumerate()
                .filter(|(l, _)| set & (1 << l) != 0 && x & (1 << l) == 0)
                .map(|(_, line)| line.2)
                .sum();
            for (w, cap) in &self.floor_cap {
                let stock: i64 = self
                    .case
                    .lots
                    .iter()
                    .enumerate()
                    .filter(|(_, lot)| lot.warehouse_id == *w && lot.sku == self.sku)
                    .filter(|(_, lot)| {
                        self.lines
                            .iter()
                            .enumerate()
                            .any(|(l, line)| x & (1 << l) != 0 && self.case.usable(lot, line.1))
                    })
                    .map(|(j, _)| self.residual[j])
                    .sum();
                value += cap.map_or(stock, |c| c.min(stock));
            }
            best = best.min(value);
            if x == 0 {
                break;
            }
            x = (x - 1) & set;
        }
        best
    }

    /// Fujishige's decomposition: the lexicographically optimal base for weights =
    /// demands, as exact fractions per line.
    fn leximin(&self) -> Vec<(i128, i128)> {
        let k = self.lines.len();
        let all = (1u32 << k) - 1;
        let rank: Vec<i64> = (0..=all).map(|s| self.rank(s)).collect();
        let demand = |s: u32| -> i64 {
            (0..k)
                .filter(|l| s & (1 << l) != 0)
                .map(|l| self.lines[l].2)
                .sum()
        };
        let mut share = vec![(0i128, 1i128); k];
        let mut fixed = 0u32;
        while fixed != all {
            // min over S ⊋ fixed of (rank S − rank fixed) / demand(S ∖ fixed); largest S.
            let mut best: Option<(i128, i128, u32)> = None;
            for s in 0..=all {
                if s & fixed != fixed || s == fixed {
                    continue;
                }
                let num = i128::from(rank[s as usize] - rank[fixed as usize]);
                let den = i128::from(demand(s & !fixed));
                best = match best {
                    None => Some((num, den, s)),
                    Some((bn, bd, bs)) => {
                        let ord = (num * bd).cmp(&(bn * den));
                        if ord.is_lt() || (ord.is_eq() && s.count_ones() > bs.count_ones()) {
                            Some((num, den, s))
                        } else {
                            Some((bn, bd, bs))
                        }
                    }
                };
            }
            let Some((num, den, s)) = best else { break };
            for (l, slot) in share.iter_mut().enumerate() {
                if s & !fixed & (1 << l) != 0 {
                    *slot = (num * i128::from(self.lines[l].2), den);
                }
            }
            fixed = s;
        }
        share
    }
}

/// Least Σ qty × ETA for the tier's fills, by cancelling negative cycles from `flows`
/// ((lot index, tier line) → qty); returns (the solver's cost, the optimum).
fn cycle_cancel(check: &TierCheck, flows: &BTreeMap<(usize, usize), i64>) -> (f64, f64) {
    let case = check.case;
    let lots: Vec<usize> = (0..case.lots.len())
        .filter(|&j| case.lots[j].sku == check.sku)
        .collect();
    let gates: Vec<Uuid> = check.floor_cap.keys().copied().collect();
    // Nodes: 0 = source, gates, lots, lines.
    let gate_node = |w: Uuid| 1 + gates.iter().position(|g| *g == w).unwrap_or(0);
    let lot_node = |j: usize| 1 + gates.len() + lots.iter().position(|l| *l == j).unwrap_or(0);
    let line_node = |l: usize| 1 + gates.len() + lots.len() + l;
    let n = 1 + gates.len() + lots.len() + check.lines.len();
    // Edges: (from, to, residual, cost), paired as e, e ^ 1.
    let mut edges: Vec<(usize, usize, i64, f64)> = Vec::new();
    let add = |edges: &mut Vec<(usize, usize, i64, f64)>, u, v, cap: i64, flow: i64, cost| {
        edges.push((u, v, cap - flow, cost));
        edges.push((v, u, flow, -cost));
    };
    let mut cost = 0.0;
    for &w in &gates {
        let used: i64 = flows
            .iter()
            .filter(|((j, _), _)| case.lots[*j].warehouse_id == w)
            .map(|(_, q)| q)
            .sum();
        let cap = check.floor_cap[&w].unwrap_or(i64::MAX / 4);
        add(&mut edges, 0, gate_node(w), cap, used, 0.0);
    }
    for &j in &lots {
        let used: i64 = flows
            .iter()
            .filter(|((k, _), _)| *k == j)
            .map(|(_, q)| q)
            .sum();
        let w = case.lots[j].warehouse_id;
        add(
            &mut edges,
            gate_node(w),
            lot_node(j),
            check.residual[j],
            used,
            0.0,
        );
        for (l, line) in check.lines.iter().enumerate() {
            if case.usable(&case.lots[j], line.1) {
                let eta = case.reach(line.1, w).unwrap_or(0.0);
                let q = flows.get(&(j, l)).copied().unwrap_or(0);
                cost += q as f64 * eta;
                add(&mut edges, lot_node(j), line_node(l), i64::MAX / 4, q, eta);
            }
        }
    }
    let solver = cost;
    // Bellman–Ford from a virtual root (all distances 0) finds any negative cycle.
    for _ in 0..10_000 {
        let mut dist = vec![0.0f64; n];
        let mut pred = vec![usize::MAX; n];
        let mut last = None;
        for _ in 0..n {
            last = None;
            for (e, &(u, v, cap, c)) in edges.iter().enumerate() {
                if cap > 0 && dist[u] + c < dist[v] - 1e-9 {
                    dist[v] = dist[u] + c;
                    pred[v] = e;
                    last = Some(v);
                }
            }
        }
        let Some(mut v) = last else { break };
        for _ in 0..n {
            v = edges[pred[v]].0;
        }
        // Walk the cycle through v.
        let mut cycle = Vec::new();
        let mut x = v;
        loop {
            let e = pred[x];
            cycle.push(e);
            x = edges[e].0;
            if x == v {
                break;
            }
        }
        let push = cycle.iter().map(|&e| edges[e].2).min().unwrap_or(0);
        let c: f64 = cycle.iter().map(|&e| edges[e].3).sum();
        if push <= 0 || c >= -1e-9 {
            break;
        }
        for &e in &cycle {
            edges[e].2 -= push;
            edges[e ^ 1].2 += push;
        }
        cost += c * push as f64;
    }
    (solver, cost)
}

fn key(l: &RationLine) -> (Uuid, String, u8) {
    (l.incident_id, l.sku.clone(), l.priority as u8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn rounds_are_leximin_optimal_by_tier_against_an_independent_formulation(c in case()) {
        let round = c.solve();
        // Picks + shortfall = demand; picks positive.
        for line in &round.lines {
            let asked: i64 = c.demands.iter().filter(|d| key_of(d) == key(line)).map(|d| d.qty).sum();
            prop_assert_eq!(line.requested, asked.max(0));
            prop_assert_eq!(line.picks.iter().map(|p| p.qty).sum::<i64>(), line.reserved);
            prop_assert_eq!(line.reserved + line.shortfall, line.requested);
            prop_assert!(line.picks.iter().all(|p| p.qty > 0));
        }
        let lot_index: BTreeMap<Uuid, usize> =
            c.lots.iter().enumerate().map(|(j, l)| (l.id, j)).collect();
        for sku in SKUS {
            let mut residual: Vec<i64> = c.lots.iter().map(Case::available).collect();
            for tier in [Priority::Critical, Priority::High, Priority::Normal] {
                let mut lines: Vec<(usize, &Incident, i64)> = round
                    .lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.sku == sku && l.priority == tier && l.requested > 0)
                    .filter_map(|(i, l)| c.incident(l.incident_id).map(|inc| (i, inc, l.requested)))
                    .collect();
                lines.sort_by(|a, b| a.1.code.cmp(&b.1.code));
                let mut floor_cap = BTreeMap::new();
                for w in &c.warehouses {
                    let cap = (tier != Priority::Critical).then(|| {
                        let counted: i64 = c
                            .lots
                            .iter()
                            .enumerate()
                            .filter(|(_, l)| l.warehouse_id == w.id && l.sku == sku && c.counts(l))
                            .map(|(j, _)| residual[j])
                            .sum();
                        (counted - c.level(w.id, sku)).max(0)
                    });
                    floor_cap.insert(w.id, cap);
                }
                let check = TierCheck { case: &c, residual: residual.clone(), floor_cap, lines, sku };
                // The tier's picks: eligible, within each lot and each floor.
                let mut flows: BTreeMap<(usize, usize), i64> = BTreeMap::new();
                for (t, &(i, incident, _)) in check.lines.iter().enumerate() {
                    for p in &round.lines[i].picks {
                        let j = lot_index[&p.lot_id];
                        prop_assert!(c.usable(&c.lots[j], incident), "ineligible pick {:?}", p);
                        *flows.entry((j, t)).or_insert(0) += p.qty;
                    }
                }
                for (j, (lot, left)) in c.lots.iter().zip(&residual).enumerate() {
                    let used: i64 = flows.iter().filter(|((k, _), _)| *k == j).map(|(_, q)| q).sum();
                    prop_assert!(used <= *left, "lot {} over-drawn", lot.lot_code);
                }
                for (w, cap) in &check.floor_cap {
                    if let Some(cap) = cap {
                        let used: i64 = flows
                            .iter()
                            .filter(|((j, _), _)| c.lots[*j].warehouse_id == *w)
                            .map(|(_, q)| q)
                            .sum();
                        prop_assert!(used <= *cap, "floor broken at {}", w);
                    }
                }
                if !check.lines.is_empty() {
                    // Every line within one unit of its exact leximin share.
                    let share = check.leximin();
                    for (t, &(i, _, _)) in check.lines.iter().enumerate() {
                        let (num, den) = share[t];
                        let got = i128::from(round.lines[i].reserved);
                        let (lo, hi) = (num / den, (num + den - 1) / den);
                        prop_assert!(
                            lo <= got && got <= hi,
                            "line {} got {} of share {}/{} ({:?})", i, got, num, den, tier
                        );
                    }
                    // The most the tier can deliver.
                    let all = (1u32 << check.lines.len()) - 1;
                    let total: i64 = check.lines.iter().map(|l| round.lines[l.0].reserved).sum();
                    prop_assert_eq!(total, check.rank(all));
                    // Least Σ qty × ETA for those fills.
                    let (solver, best) = cycle_cancel(&check, &flows);
                    prop_assert!(solver <= best * 1.001 + 1e-6, "Σ qty × ETA {} > optimum {}", solver, best);
                }
                for ((j, _), q) in &flows {
                    residual[*j] -= q;
                }
            }
        }
    }

    #[test]
    fn larger_rounds_keep_every_lot_floor_and_line_whole(c in sized(12, 4, 8, 24)) {
        let round = c.solve();
        let mut used: BTreeMap<Uuid, i64> = BTreeMap::new();
        for line in &round.lines {
            prop_assert_eq!(line.picks.iter().map(|p| p.qty).sum::<i64>(), line.reserved);
            prop_assert_eq!(line.reserved + line.shortfall, line.requested);
            let incident = c.incident(line.incident_id);
            for p in &line.picks {
                *used.entry(p.lot_id).or_insert(0) += p.qty;
                let lot = c.lots.iter().find(|l| l.id == p.lot_id).expect("picked lot exists");
                prop_assert!(incident.is_some_and(|i| c.usable(lot, i)), "ineligible pick");
            }
        }
        for lot in &c.lots {
            prop_assert!(used.get(&lot.id).copied().unwrap_or(0) <= Case::available(lot));
        }
        // Non-critical lines together leave every cell at its level, counting what
        // critical lines took first.
        for w in &c.warehouses {
            for sku in SKUS {
                let of_cell = |l: &&LotState| l.warehouse_id == w.id && l.sku == sku;
                let counted: i64 = c.lots.iter().filter(of_cell).filter(|l| c.counts(l)).map(Case::available).sum();
                let mut by_tier = [0i64; 3];
                for line in round.lines.iter().filter(|l| l.sku == sku) {
                    for p in line.picks.iter().filter(|p| p.warehouse_id == w.id) {
                        let lot = c.lots.iter().find(|l| l.id == p.lot_id).expect("exists");
                        if c.counts(lot) {
                            by_tier[line.priority as usize] += p.qty;
                        }
                    }
                }
                let non_critical: i64 = by_tier[1] + by_tier[2];
                if non_critical > 0 {
                    prop_assert!(counted - by_tier[0] - non_critical >= c.level(w.id, sku));
                }
            }
        }
        prop_assert_eq!(&round, &c.solve());
    }

    #[test]
    fn rounds_are_deterministic_and_independent_of_input_order(c in case()) {
        let a = c.solve();
        prop_assert_eq!(&a, &c.solve());
        let mut rev = c.clone();
        rev.warehouses.reverse();
        rev.lots.reverse();
        rev.incidents.reverse();
        for i in &mut rev.incidents {
            i.warehouses.reverse();
        }
        rev.demands.reverse();
        rev.items.reverse();
        let b = rev.solve();
        let sorted = |r: &Round| {
            let mut lines = r.lines.clone();
            lines.sort_by_key(key);
            lines
        };
        prop_assert_eq!(sorted(&a), sorted(&b));
        prop_assert_eq!(&a.items, &b.items);
        prop_assert_eq!(a.totals.delivered, b.totals.delivered);
    }

    #[test]
    fn the_nearest_first_baseline_plans_every_line_and_never_over_draws(c in case()) {
        let input = RoundInput { incidents: &c.incidents, demands: &c.demands, now: base(), tz: TZ };
        let stock = c.stock();
        let baseline = nearest_first(&stock, &input);
        prop_assert_eq!(baseline.plans.len(), c.solve().lines.len());
        let mut used: BTreeMap<Uuid, i64> = BTreeMap::new();
        for pick in baseline.plans.iter().flat_map(|p| &p.lines).flat_map(|l| &l.picks) {
            *used.entry(pick.lot_id).or_insert(0) += pick.qty;
        }
        for lot in &c.lots {
            prop_assert!(used.get(&lot.id).copied().unwrap_or(0) <= Case::available(lot));
        }
        let delivered: i64 = baseline.plans.iter().flat_map(|p| &p.lines).map(|l| l.reserved).sum();
        prop_assert_eq!(delivered, baseline.totals.delivered);
    }
}

fn key_of(d: &Demand) -> (Uuid, String, u8) {
    (d.incident_id, d.sku.clone(), d.priority as u8)
}
