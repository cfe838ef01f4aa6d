//! Replenishment benchmark (issue 20): a plan for (a) a network the size of the demo, 110
//! warehouses with 66 community points, 81 SKUs and ~7,000 lots (target < 50 ms), and
//! (b) 500 warehouses with 100,000 lots (target < 500 ms). Each is measured as indexing
//! alone, planning alone, and both (what a request pays). Rotation and readiness on (b)
//! are measured too. Inputs are generated deterministically so that runs compare.

use std::hint::black_box;

use chrono::{Days, NaiveDate};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use stockpile_core::reserve::{
    Inbound, NetworkState, ReserveItem, ReserveLevel, ReserveWarehouse, Scope, Snapshot, Tier,
    TierPolicy, TravelTimes, readiness, replenish, rotation,
};
use stockpile_core::rules::LotState;
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
        self.next() % n.max(1)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// The shape of a generated network.
struct Shape {
    cities: usize,
    districts: usize,
    communities: usize,
    agreements: usize,
    skus: usize,
    /// SKUs a district depot keeps a level for.
    district_skus: usize,
    /// SKUs in a community point's kit.
    kit_skus: usize,
    lots: usize,
    seed: u64,
}

/// Demo-sized: 1 centre, 10 city depots, 32 district depots, 66 community points and 2
/// agreement stores (111 warehouses), 81 SKUs, ~7,000 lots.
const DEMO: Shape = Shape {
    cities: 10,
    districts: 32,
    communities: 66,
    agreements: 2,
    skus: 81,
    district_skus: 60,
    kit_skus: 25,
    lots: 7_000,
    seed: 0x5EED_0000_0000_00A1,
};

/// Large: 500 warehouses (1 centre, 20 city, 100 district, 374 community, 5 agreement),
/// 200 SKUs, 100,000 lots.
const LARGE: Shape = Shape {
    cities: 20,
    districts: 100,
    communities: 374,
    agreements: 5,
    skus: 200,
    district_skus: 100,
    kit_skus: 25,
    lots: 100_000,
    seed: 0x5EED_0000_0000_00B2,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 6).expect("valid date")
}

/// A warehouse with its position (km) and handling minutes.
struct Node {
    warehouse: ReserveWarehouse,
    pos: (f64, f64),
    handling: f64,
}

fn push(
    nodes: &mut Vec<Node>,
    tier: Tier,
    parent: Option<usize>,
    code: String,
    pos: (f64, f64),
    handling: f64,
) -> usize {
    let id = |i: usize| Uuid::from_u128(0x1_0000 + i as u128);
    nodes.push(Node {
        warehouse: ReserveWarehouse {
            id: id(nodes.len()),
            code,
            tier,
            parent: parent.map(id),
            active: true,
            district: None,
        },
        pos,
        handling,
    });
    nodes.len() - 1
}

fn network(shape: &Shape) -> NetworkState {
    let mut rng = Rng(shape.seed);
    let sku = |i: usize| format!("SKU-{i:04}");

    // Warehouses with positions (km): the centre at the origin, cities around it,
    // districts near their city, community points near their district.
    let mut nodes: Vec<Node> = Vec::new();
    let centre = push(
        &mut nodes,
        Tier::RegionalCentre,
        None,
        "RC".into(),
        (0.0, 0.0),
        60.0,
    );
    let cities: Vec<usize> = (0..shape.cities)
        .map(|c| {
            let p = (rng.range(-80.0, 80.0), rng.range(-80.0, 80.0));
            push(
                &mut nodes,
                Tier::City,
                Some(centre),
                format!("C{c:02}"),
                p,
                45.0,
            )
        })
        .collect();
    let districts: Vec<usize> = (0..shape.districts)
        .map(|d| {
            let city = cities[d % cities.len()];
            let p = (
                nodes[city].pos.0 + rng.range(-15.0, 15.0),
                nodes[city].pos.1 + rng.range(-15.0, 15.0),
            );
            push(
                &mut nodes,
                Tier::District,
                Some(city),
                format!("D{d:03}"),
                p,
                30.0,
            )
        })
        .collect();
    for g in 0..shape.communities {
        let district = districts[g % districts.len()];
        let p = (
            nodes[district].pos.0 + rng.range(-3.0, 3.0),
            nodes[district].pos.1 + rng.range(-3.0, 3.0),
        );
        push(
            &mut nodes,
            Tier::Community,
            Some(district),
            format!("G{g:04}"),
            p,
            10.0,
        );
    }
    for a in 0..shape.agreements {
        let p = (rng.range(-60.0, 60.0), rng.range(-60.0, 60.0));
        push(
            &mut nodes,
            Tier::Agreement,
            None,
            format!("AG{a:02}"),
            p,
            20.0,
        );
    }
    let pos: Vec<(f64, f64)> = nodes.iter().map(|n| n.pos).collect();
    let handling: Vec<f64> = nodes.iter().map(|n| n.handling).collect();
    let mut warehouses: Vec<ReserveWarehouse> = nodes.into_iter().map(|n| n.warehouse).collect();
    let n = warehouses.len();
    for w in &mut warehouses {
        w.district = Some(format!("district-{}", w.code.len() % 7));
    }

    // Travel: handling + road km (1.4 × straight line) at 40 km/h; ~1 % of trips closed.
    let minutes: Vec<Vec<Option<f64>>> = (0..n)
        .map(|to| {
            (0..n)
                .map(|from| {
                    let (a, b) = (pos[from], pos[to]);
                    let km = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() * 1.4;
                    (rng.below(100) != 0 || from == to).then_some(handling[from] + km / 40.0 * 60.0)
                })
                .collect()
        })
        .collect();

    let items: Vec<ReserveItem> = (0..shape.skus)
        .map(|i| ReserveItem {
            sku: sku(i),
            min_remaining_days: (i % 4) as i32 * 15,
            category: Some(format!("cat-{}", i % 12)),
        })
        .collect();

    // Levels: the centre and cities keep every SKU, districts a subset, points a kit.
    let mut levels: Vec<ReserveLevel> = Vec::new();
    for (w, wh) in warehouses.iter().enumerate() {
        let (count, lo, hi) = match wh.tier {
            Tier::RegionalCentre => (shape.skus, 2_000, 5_000),
            Tier::City => (shape.skus, 500, 1_500),
            Tier::District => (shape.district_skus, 100, 400),
            Tier::Community => (shape.kit_skus, 5, 40),
            Tier::Agreement => (10, 50, 100),
        };
        let first = rng.below(shape.skus as u64) as usize;
        for k in 0..count {
            let level = (lo + rng.below(hi - lo)) as i64;
            levels.push(ReserveLevel {
                warehouse_id: warehouses[w].id,
                sku: sku((first + k) % shape.skus),
                level,
                target: (rng.below(3) == 0).then_some(level + level / 2),
            });
        }
    }

    // Lots: each level cell holds 0.3–1.7 × its level, split into lots (one each, the
    // rest spread at random to make `shape.lots`), so that a good share of cells fall
    // below their level and others hold surplus.
    let mut per_cell = vec![1usize; levels.len()];
    for _ in levels.len()..shape.lots {
        per_cell[rng.below(levels.len() as u64) as usize] += 1;
    }
    let mut lots: Vec<LotState> = Vec::with_capacity(shape.lots.max(levels.len()));
    for (l, &k) in levels.iter().zip(&per_cell) {
        let total = (l.level as f64 * rng.range(0.3, 1.7)) as i64;
        for _ in 0..k {
            let i = lots.len();
            let on_hand = total / k as i64 + rng.below(3) as i64;
            lots.push(LotState {
                id: Uuid::from_u128(0x100_0000 + i as u128),
                warehouse_id: l.warehouse_id,
                sku: l.sku.clone(),
                lot_code: format!("LOT-{i:06}"),
                expires_on: (rng.below(5) != 0).then(|| {
                    today()
                        .checked_add_days(Days::new(rng.below(900)))
                        .and_then(|d| d.checked_sub_days(Days::new(30)))
                        .expect("valid date")
                }),
                on_hand,
                reserved: if rng.below(6) == 0 {
                    rng.below(on_hand as u64 / 2 + 1) as i64
                } else {
                    0
                },
                quarantined: rng.below(40) == 0,
            });
        }
    }
    let inbound = levels
        .iter()
        .filter(|_| rng.below(50) == 0)
        .map(|l| Inbound {
            warehouse_id: l.warehouse_id,
            sku: l.sku.clone(),
            qty: l.level / 4,
        })
        .collect();

    NetworkState {
        today: today(),
        items,
        travel: TravelTimes {
            ids: warehouses.iter().map(|w| w.id).collect(),
            minutes,
        },
        warehouses,
        levels,
        lots,
        inbound,
        tiers: TierPolicy::default(),
    }
}

fn bench(c: &mut Criterion) {
    for (name, shape) in [("demo", &DEMO), ("500wh_100k_lots", &LARGE)] {
        let state = network(shape);
        let snap = Snapshot::new(state.clone());
        let plan = replenish::plan(&snap, &Scope::default());
        let shortfall: i64 = plan.destinations.iter().map(|d| d.shortfall).sum();
        let planned: i64 = plan.destinations.iter().map(|d| d.planned).sum();
        eprintln!(
            "{name}: {} warehouses, {} SKUs, {} lots, {} levels; {} destinations, {} transfers, \
             {} lines, {planned} units planned, {shortfall} short, {} skipped-source notes",
            state.warehouses.len(),
            state.items.len(),
            state.lots.len(),
            state.levels.len(),
            plan.destinations.len(),
            plan.transfers.len(),
            plan.transfers.iter().map(|t| t.lines.len()).sum::<usize>(),
            plan.destinations
                .iter()
                .map(|d| d.skipped.len())
                .sum::<usize>(),
        );
        c.bench_function(&format!("replenish_{name}_index_and_plan"), |b| {
            b.iter_batched(
                || state.clone(),
                |s| replenish::plan(&Snapshot::new(s), &Scope::default()),
                BatchSize::LargeInput,
            )
        });
        c.bench_function(&format!("replenish_{name}_plan"), |b| {
            b.iter(|| replenish::plan(black_box(&snap), black_box(&Scope::default())))
        });
        c.bench_function(&format!("reserve_{name}_index"), |b| {
            b.iter_batched(|| state.clone(), Snapshot::new, BatchSize::LargeInput)
        });
        c.bench_function(&format!("rotation_180d_{name}"), |b| {
            b.iter(|| rotation::plan(black_box(&snap), &rotation::RotationPolicy::new(180)))
        });
        c.bench_function(&format!("readiness_{name}"), |b| {
            b.iter(|| readiness::score(black_box(&snap)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
