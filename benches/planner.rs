//! Planner benchmark: a 20-line and a 1-line request over 100,000 lots in 500 warehouses
//! (~200 SKUs), generated deterministically so that runs compare.

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use stockpile::planner::{
    DemandLine, ItemPolicy, LotState, PlanInput, Priority, Snapshot, WarehouseState, plan,
};
use uuid::Uuid;

/// xorshift64*: a fixed sequence without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WAREHOUSES: usize = 500;
const SKUS: usize = 200;
const LOTS: usize = 100_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 23, 7, 0, 0)
        .single()
        .expect("valid instant")
}

fn sku(i: u64) -> String {
    format!("SKU-{i:04}")
}

fn snapshot() -> (Vec<ItemPolicy>, Vec<WarehouseState>, Vec<LotState>) {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let items = (0..SKUS as u64)
        .map(|i| ItemPolicy {
            sku: sku(i),
            min_remaining_days: (i % 4) as i32 * 7,
        })
        .collect();
    let warehouses: Vec<WarehouseState> = (0..WAREHOUSES)
        .map(|i| {
            let reachable = rng.below(20) != 0;
            let eta = 20.0 + rng.below(60_000) as f64 / 100.0;
            WarehouseState {
                id: Uuid::from_u128(1 + i as u128),
                code: format!("WH-{i:03}"),
                active: rng.below(50) != 0,
                eta_minutes: reachable.then_some(eta),
                distance_km: reachable.then_some(eta * 0.9),
                in_affected_area: rng.below(25) == 0,
                service_radius_km: None,
                incident_km: None,
                reserve_levels: (0..20)
                    .map(|_| (sku(rng.below(SKUS as u64)), rng.below(200) as i64))
                    .collect(),
            }
        })
        .collect();
    let base = NaiveDate::from_ymd_opt(2025, 9, 1).expect("valid date");
    let lots = (0..LOTS)
        .map(|i| {
            let w = rng.below(WAREHOUSES as u64) as usize;
            let on_hand = rng.below(500) as i64;
            LotState {
                id: Uuid::from_u128(1_000_000 + i as u128),
                warehouse_id: warehouses[w].id,
                sku: sku(rng.below(SKUS as u64)),
                lot_code: format!("LOT-{i:06}"),
                expires_on: (rng.below(5) != 0)
                    .then(|| base + Duration::days(rng.below(900) as i64)),
                on_hand,
                reserved: if rng.below(4) == 0 {
                    rng.below(on_hand as u64 + 1) as i64
                } else {
                    0
                },
                quarantined: rng.below(30) == 0,
            }
        })
        .collect();
    (items, warehouses, lots)
}

fn request(lines: usize) -> Vec<DemandLine> {
    let mut rng = Rng(0xD15_0A7C_4000_1234);
    (0..lines)
        .map(|_| DemandLine {
            sku: sku(rng.below(SKUS as u64)),
            qty: 500 + rng.below(20_000) as i64,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (items, warehouses, lots) = snapshot();
    // Indexing cost alone: the clones are set-up, not measured.
    c.bench_function("snapshot_index_100k_lots", |b| {
        b.iter_batched(
            || (items.clone(), warehouses.clone(), lots.clone()),
            |(i, w, l)| Snapshot::new(i, w, l),
            BatchSize::LargeInput,
        )
    });
    let snap = Snapshot::new(items, warehouses, lots);
    for (name, n) in [
        ("plan_20_lines_100k_lots", 20),
        ("plan_1_line_100k_lots", 1),
    ] {
        let lines = request(n);
        let input = PlanInput {
            lines: &lines,
            priority: Priority::High,
            needed_by: Some(now() + Duration::hours(4)),
            include_affected_warehouses: false,
            delivery_target: Some(Duration::hours(6)),
            now: now(),
            tz: chrono_tz::Asia::Shanghai,
        };
        c.bench_function(name, |b| {
            b.iter(|| plan(black_box(&input), black_box(&snap)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
