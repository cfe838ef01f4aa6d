//! Routing benchmark: travel times from 500 warehouses to one incident, on the seed network
//! when `seed/network.geojson` exists, and always on a generated 4,900-edge grid over the GBA.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use geo::{Point, point};
use serde_json::{Value, json};
use stockpile::routing::{ClosedEdges, Network, SnapConfig};

/// xorshift64*: a fixed sequence without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [lo, hi).
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// Bounding box of the Greater Bay Area, roughly: lon 112.3–114.6, lat 21.5–23.9.
const BOX: (f64, f64, f64, f64) = (112.3, 21.5, 114.6, 23.9);

/// A 50 × 50 node grid (4,900 edges) with jittered speeds and a few truck bans.
fn grid(rng: &mut Rng) -> String {
    const N: usize = 50;
    let (x0, y0, x1, y1) = BOX;
    let at = |i: usize, j: usize| {
        json!([
            x0 + (x1 - x0) * i as f64 / (N - 1) as f64,
            y0 + (y1 - y0) * j as f64 / (N - 1) as f64
        ])
    };
    let mut features: Vec<Value> = Vec::new();
    for i in 0..N {
        for j in 0..N {
            for (di, dj) in [(1, 0), (0, 1)] {
                if i + di >= N || j + dj >= N {
                    continue;
                }
                features.push(json!({
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": [at(i, j), at(i + di, j + dj)]},
                    "properties": {
                        "id": format!("g{}", features.len()),
                        "speed_kmh": rng.between(40.0, 110.0),
                        "trucks_allowed": !rng.next().is_multiple_of(50),
                    }
                }));
            }
        }
    }
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn bench_network(c: &mut Criterion, label: &str, text: &str, rng: &mut Rng) {
    c.bench_function(&format!("load_network_{label}"), |b| {
        b.iter(|| Network::from_geojson(black_box(text)))
    });
    let net = Network::from_geojson(text).expect("benchmark network is valid");
    eprintln!(
        "{label} network: {} edges, {} nodes",
        net.edge_count(),
        net.node_count()
    );
    let (x0, y0, x1, y1) = BOX;
    let warehouses: Vec<Point<f64>> = (0..500)
        .map(|_| point!(x: rng.between(x0, x1), y: rng.between(y0, y1)))
        .collect();
    // Jiangmen (Pengjiang), the reserve centre's city.
    let incident = point!(x: 113.0816, y: 22.5787);
    let closed = ClosedEdges::default();
    let snap = SnapConfig::default();
    c.bench_function(&format!("travel_times_500_warehouses_{label}"), |b| {
        b.iter(|| net.travel_times(black_box(incident), black_box(&warehouses), &closed, &snap))
    });
    c.bench_function(&format!("route_one_{label}"), |b| {
        b.iter(|| {
            net.route(
                black_box(warehouses[0]),
                black_box(incident),
                &closed,
                &snap,
            )
        })
    });
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x0A0D_5EED_0000_0042);
    // The seed network is small (tens of edges); the grid shows how the search scales.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seed/network.geojson");
    if let Ok(text) = std::fs::read_to_string(path) {
        bench_network(c, "seed", &text, &mut rng);
    }
    let text = grid(&mut rng);
    bench_network(c, "grid", &text, &mut rng);
}

criterion_group!(benches, bench);
criterion_main!(benches);
