//! Rationing benchmark (issue 17): one round of 50 incidents × 20 items over 100,000 lots
//! in 500 warehouses, generated deterministically (an LCG, no rand dependency) so that
//! runs compare. Goal: under 100 ms per round.
//!
//! - `rationing_50x20_100k_lots`: the planner benchmark's stock shape (200 SKUs, ~500
//!   lots per SKU); the round asks for 20 of them.
//! - `rationing_50x20_100k_lots_in_20_skus`: a stress shape: all 100,000 lots are of the
//!   20 items asked for (5,000 lots, ~10 per warehouse, per item).
//!
//! Warehouses and incidents lie on a 200 km square (about the GBA's size); ETA = 20 min
//! handling + 1.3 × straight-line km at 50 km/h; 1 road in 20 closed per pair; warehouses
//! within 10 km of an incident are in its affected area. Demand is about 1.8× the stock
//! (20% critical, 30% high, 50% normal lines), so the round is a real rationing.
//! Before measuring, each shape prints the price of fairness once: total delivered and
//! mean ETA of the leximin round against nearest first in request order.

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use stockpile_core::planner::{ItemPolicy, Priority};
use stockpile_core::rationing::{Demand, Incident, RoundInput, Stock, nearest_first, solve};
use stockpile_core::rules::{LotState, WarehouseState};
use uuid::Uuid;

/// A 64-bit linear congruential generator (Knuth's MMIX constants), high bits out.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        self.below(1 << 24) as f64 / (1u64 << 24) as f64
    }
}

const WAREHOUSES: usize = 500;
const LOTS: usize = 100_000;
const INCIDENTS: usize = 50;
const DEMANDED: u64 = 20;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 2, 1, 0, 0)
        .single()
        .expect("valid instant")
}

fn sku(i: u64) -> String {
    format!("SKU-{i:03}")
}

struct Case {
    items: Vec<ItemPolicy>,
    warehouses: Vec<WarehouseState>,
    lots: Vec<LotState>,
    incidents: Vec<Incident>,
    demands: Vec<Demand>,
}

/// A round over `skus` SKUs, 20 of which are asked for.
fn case(skus: u64) -> Case {
    let mut rng = Lcg(0x5EED_0017);
    let place: Vec<(f64, f64)> = (0..WAREHOUSES)
        .map(|_| (rng.unit() * 200.0, rng.unit() * 200.0))
        .collect();
    let warehouses: Vec<WarehouseState> = (0..WAREHOUSES)
        .map(|i| {
            let active = rng.below(50) != 0;
            let mut reserve_levels = Vec::new();
            for s in 0..skus {
                let level = rng.below(800) as i64 * 20 / skus as i64;
                if rng.below(3) == 0 {
                    reserve_levels.push((sku(s), level));
                }
            }
            WarehouseState {
                id: Uuid::from_u128(1 + i as u128),
                code: format!("WH-{i:03}"),
                active,
                eta_minutes: None,
                distance_km: None,
                in_affected_area: false,
                service_radius_km: None,
                incident_km: None,
                reserve_levels,
            }
        })
        .collect();
    let items = (0..skus)
        .map(|i| ItemPolicy {
            sku: sku(i),
            min_remaining_days: (i % 4) as i32 * 7,
        })
        .collect();
    let base = NaiveDate::from_ymd_opt(2025, 9, 1).expect("valid date");
    let lots = (0..LOTS)
        .map(|i| {
            let w = rng.below(WAREHOUSES as u64) as usize;
            let on_hand = rng.below(500) as i64;
            let s = rng.below(skus);
            let expires_on =
                (rng.below(5) != 0).then(|| base + Duration::days(rng.below(400) as i64));
            let reserved = if rng.below(4) == 0 {
                rng.below(on_hand as u64 + 1) as i64
            } else {
                0
            };
            LotState {
                id: Uuid::from_u128(1_000_000 + i as u128),
                warehouse_id: warehouses[w].id,
                sku: sku(s),
                lot_code: format!("LOT-{i:06}"),
                expires_on,
                on_hand,
                reserved,
                quarantined: rng.below(30) == 0,
            }
        })
        .collect();
    let incidents: Vec<Incident> = (0..INCIDENTS)
        .map(|i| {
            let (x, y) = (rng.unit() * 200.0, rng.unit() * 200.0);
            let at = now() + Duration::minutes(rng.below(24 * 60) as i64);
            let needed_by = (rng.below(2) == 0).then(|| at + Duration::hours(4));
            let target = Duration::hours([6, 8, 10][rng.below(3) as usize]);
            let views = warehouses
                .iter()
                .zip(&place)
                .map(|(w, &(wx, wy))| {
                    let km = ((wx - x).powi(2) + (wy - y).powi(2)).sqrt() * 1.3;
                    let open = rng.below(20) != 0;
                    WarehouseState {
                        id: w.id,
                        code: w.code.clone(),
                        active: w.active,
                        eta_minutes: open.then_some(20.0 + km * 1.2),
                        distance_km: open.then_some(km),
                        in_affected_area: km < 10.0,
                        service_radius_km: None,
                        incident_km: None,
                        reserve_levels: Vec::new(),
                    }
                })
                .collect();
            Incident {
                id: Uuid::from_u128(500_000 + i as u128),
                code: format!("INC-{i:02}"),
                now: at,
                needed_by,
                delivery_target: target,
                include_affected_warehouses: false,
                warehouses: views,
            }
        })
        .collect();
    // Demand per line scales with the stock per SKU: about 1.8× what there is.
    let mut demands = Vec::new();
    for incident in &incidents {
        for k in 0..DEMANDED {
            let qty = (10_000 + rng.below(40_000) as i64) * 20 / skus as i64;
            let priority = match rng.below(10) {
                0 | 1 => Priority::Critical,
                2..=4 => Priority::High,
                _ => Priority::Normal,
            };
            demands.push(Demand {
                incident_id: incident.id,
                sku: sku(k * (skus / DEMANDED)),
                qty,
                priority,
            });
        }
    }
    Case {
        items,
        warehouses,
        lots,
        incidents,
        demands,
    }
}

fn bench(c: &mut Criterion) {
    for (name, skus) in [
        ("rationing_50x20_100k_lots", 200),
        ("rationing_50x20_100k_lots_in_20_skus", 20),
    ] {
        let case = case(skus);
        if skus == 200 {
            // Indexing cost alone: the clones are set-up, not measured.
            c.bench_function("rationing_stock_index_100k_lots", |b| {
                b.iter_batched(
                    || {
                        (
                            case.items.clone(),
                            case.warehouses.clone(),
                            case.lots.clone(),
                        )
                    },
                    |(i, w, l)| Stock::new(i, w, l),
                    BatchSize::LargeInput,
                )
            });
        }
        let stock = Stock::new(
            case.items.clone(),
            case.warehouses.clone(),
            case.lots.clone(),
        );
        let input = RoundInput {
            incidents: &case.incidents,
            demands: &case.demands,
            now: now(),
            tz: chrono_tz::Asia::Shanghai,
        };
        let round = solve(&stock, &input);
        let baseline = nearest_first(&stock, &input);
        let requested: i64 = round.lines.iter().map(|l| l.requested).sum();
        let entries: usize = round.lines.iter().map(|l| l.explanation.len()).sum();
        eprintln!(
            "{name}: {} lines, {requested} units asked, {entries} explanation entries; \
             leximin delivers {} (mean ETA {:.1} min), nearest first {} (mean ETA {:.1} min)",
            round.lines.len(),
            round.totals.delivered,
            round.totals.mean_eta_minutes(),
            baseline.totals.delivered,
            baseline.totals.mean_eta_minutes(),
        );
        c.bench_function(name, |b| {
            b.iter(|| solve(black_box(&stock), black_box(&input)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
