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
//! mean ETA of the leximin round against nearest first in request order. First of all,
//! the peak memory that indexing the stock and one round add, at 10,000, 100,000 and
//! 1,000,000 lots in the 20 SKUs (Linux: the process's peak resident set, reset before
//! each through `/proc/self/clear_refs`; elsewhere not printed).

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group};
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

/// A field of `/proc/self/status` in kB (`VmRSS`, `VmHWM`), where there is one.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// What `f` returns, and how far the process's resident set peaked above where it was
/// before, in MiB (`None` where Linux's counters are not there).
fn peak_rss<T>(f: impl FnOnce() -> T) -> (T, Option<f64>) {
    // Writing 5 resets the peak (VmHWM) to the resident set now.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kb("VmRSS:");
    let out = f();
    let peak = status_kb("VmHWM:");
    let grew = match (reset, before, peak) {
        (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before) as f64 / 1024.0),
        _ => None,
    };
    (out, grew)
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

/// A round over `lots` lots of `skus` SKUs, 20 of which are asked for.
fn case(skus: u64, lots: usize) -> Case {
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
    let lots = (0..lots)
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

/// The variable that makes this binary measure the memory of one size and exit.
const MEMORY_LOTS: &str = "RATIONING_MEMORY_LOTS";

/// Prints how much memory indexing the stock and one round add, for the 20-SKU shape of
/// `lots` lots: what the solver holds beyond its input as the stock grows. Each size
/// runs in a process of its own ([`main`]), so that no size reuses the heap that another
/// freed.
fn memory(lots: usize) {
    let case = case(20, lots);
    let (items, warehouses, lot_states) = (
        case.items.clone(),
        case.warehouses.clone(),
        case.lots.clone(),
    );
    let (stock, index) = peak_rss(|| Stock::new(items, warehouses, lot_states));
    let input = RoundInput {
        incidents: &case.incidents,
        demands: &case.demands,
        now: now(),
        tz: chrono_tz::Asia::Shanghai,
    };
    let (round, round_peak) = peak_rss(|| solve(&stock, &input));
    if let (Some(index), Some(round_peak)) = (index, round_peak) {
        let entries: usize = round.lines.iter().map(|l| l.explanation.len()).sum();
        eprintln!(
            "rationing memory, {lots} lots in 20 SKUs: indexing the stock adds at most \
             {index:.1} MiB, one round {round_peak:.1} MiB more ({} lines, {entries} \
             explanation entries)",
            round.lines.len(),
        );
    }
}

fn bench(c: &mut Criterion) {
    for (name, skus) in [
        ("rationing_50x20_100k_lots", 200),
        ("rationing_50x20_100k_lots_in_20_skus", 20),
    ] {
        let case = case(skus, LOTS);
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

/// `criterion_main!`, after the memory of each size, each measured by this binary run
/// again with [`MEMORY_LOTS`] set.
fn main() {
    if let Some(lots) = std::env::var(MEMORY_LOTS).ok().and_then(|v| v.parse().ok()) {
        memory(lots);
        return;
    }
    for lots in [LOTS / 10, LOTS, LOTS * 10] {
        let ran = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .env(MEMORY_LOTS, lots.to_string())
                .status()
        });
        if !ran.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("rationing memory, {lots} lots: not measured ({ran:?})");
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
