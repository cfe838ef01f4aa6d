//! Properties of the three planners on random small networks, each checked against an
//! independent restatement of the published rule (only the shared `rules` functions are
//! reused, as the planners reuse them).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::reserve::readiness::score;
use crate::reserve::replenish::{self, ReplenishmentPlan};
use crate::reserve::rotation::{self, RotationAction, RotationPlan, RotationPolicy};
use crate::rules::{level_stock, lot_available};

const SKUS: [&str; 3] = ["A", "B", "C"];
const TIERS: [Tier; 5] = Tier::ALL;

fn network() -> impl Strategy<Value = NetworkState> {
    let wh = (
        0usize..5,
        prop::option::of(0usize..8),
        prop::bool::weighted(0.9),
        0u8..3,
        0u8..5,
    );
    let level = (
        0usize..8,
        0usize..3,
        -2i64..30,
        prop::option::weighted(0.4, 0i64..50),
    );
    let lot = (
        0usize..8,
        0usize..3,
        0i64..40,
        prop::option::weighted(0.25, 0i64..45),
        prop::bool::weighted(0.15),
        prop::option::weighted(0.8, -5i64..200),
        0u8..4,
    );
    (
        proptest::collection::vec(wh, 1..8),
        proptest::collection::vec(level, 0..20),
        proptest::collection::vec(lot, 0..40),
        proptest::collection::vec((0usize..8, 0usize..3, -2i64..10), 0..4),
        // Few distinct minutes, so that ties happen; whole and part days.
        proptest::collection::vec(prop::option::weighted(0.8, 0u16..8), 64),
        proptest::collection::vec(0i32..40, 3),
        0i32..100,
    )
        .prop_map(|(whs, levels, lots, inbound, travel, days, community)| {
            let n = whs.len();
            let warehouses: Vec<ReserveWarehouse> = whs
                .into_iter()
                .enumerate()
                .map(
                    |(i, (tier, parent, active, district, code))| ReserveWarehouse {
                        id: wid(i as u128),
                        code: format!("W{code}"),
                        tier: TIERS[tier],
                        parent: parent.map(|p| wid((p % n) as u128)),
                        active,
                        district: (district > 0).then(|| format!("D{district}")),
                    },
                )
                .collect();
            let ids: Vec<Uuid> = warehouses.iter().map(|w| w.id).collect();
            let minutes = (0..n)
                .map(|to| {
                    (0..n)
                        .map(|from| travel[to * 8 + from].map(|m| f64::from(m) * 700.0))
                        .collect()
                })
                .collect();
            NetworkState {
                today: today(),
                items: SKUS
                    .iter()
                    .zip(days)
                    .map(|(s, d)| ReserveItem {
                        sku: (*s).to_owned(),
                        min_remaining_days: d,
                        category: None,
                    })
                    .collect(),
                levels: levels
                    .into_iter()
                    .map(|(w, s, level, target)| ReserveLevel {
                        warehouse_id: wid((w % n) as u128),
                        sku: SKUS[s].to_owned(),
                        level,
                        target,
                    })
                    .collect(),
                lots: lots
                    .into_iter()
                    .enumerate()
                    .map(
                        |(i, (w, s, on_hand, reserved, quarantined, exp, code))| LotState {
                            id: lid(i as u128),
                            warehouse_id: wid((w % n) as u128),
                            sku: SKUS[s].to_owned(),
                            lot_code: format!("L{code}"),
                            expires_on: exp.map(day),
                            on_hand,
                            reserved: reserved.unwrap_or(0).min(on_hand),
                            quarantined,
                        },
                    )
                    .collect(),
                inbound: inbound
                    .into_iter()
                    .map(|(w, s, qty)| Inbound {
                        warehouse_id: wid((w % n) as u128),
                        sku: SKUS[s].to_owned(),
                        qty,
                    })
                    .collect(),
                warehouses,
                travel: TravelTimes { ids, minutes },
                tiers: TierPolicy {
                    community,
                    ..TierPolicy::default()
                },
            }
        })
}

/// The rule restated over the raw input.
struct Oracle<'a> {
    s: &'a NetworkState,
}

impl Oracle<'_> {
    fn wh(&self, id: Uuid) -> &ReserveWarehouse {
        self.s
            .warehouses
            .iter()
            .find(|w| w.id == id)
            .expect("known warehouse")
    }

    fn min_days(&self, sku: &str) -> i32 {
        self.s
            .items
            .iter()
            .filter(|i| i.sku == sku)
            .map(|i| i.min_remaining_days.max(0))
            .max()
            .unwrap_or(0)
    }

    fn level(&self, w: Uuid, sku: &str) -> i64 {
        self.s
            .levels
            .iter()
            .filter(|l| l.warehouse_id == w && l.sku == sku)
            .map(|l| l.level)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// max(level, target): what a cell is refilled to, and what a source keeps.
    fn keep(&self, w: Uuid, sku: &str) -> i64 {
        self.s
            .levels
            .iter()
            .filter(|l| l.warehouse_id == w && l.sku == sku)
            .filter_map(|l| l.target)
            .fold(self.level(w, sku), i64::max)
    }

    /// Σ level_stock of a cell, with `taken` units removed from its lots.
    fn stock(&self, w: Uuid, sku: &str, taken: &BTreeMap<Uuid, i64>) -> i64 {
        self.s
            .lots
            .iter()
            .filter(|l| l.warehouse_id == w && l.sku == sku)
            .map(|l| {
                let mut l = l.clone();
                l.on_hand -= taken.get(&l.id).copied().unwrap_or(0);
                level_stock(&l, self.s.today, self.min_days(sku))
            })
            .sum()
    }

    fn inbound(&self, w: Uuid, sku: &str) -> i64 {
        self.s
            .inbound
            .iter()
            .filter(|t| t.warehouse_id == w && t.sku == sku)
            .map(|t| t.qty.max(0))
            .sum()
    }

    /// What a destination cell needs (0: not a destination).
    fn need(&self, w: Uuid, sku: &str) -> i64 {
        let have = self.stock(w, sku, &BTreeMap::new()) + self.inbound(w, sku);
        let level = self.level(w, sku);
        if self.wh(w).active && self.wh(w).tier != Tier::Agreement && level > 0 && have < level {
            self.keep(w, sku) - have
        } else {
            0
        }
    }

    fn eta(&self, from: Uuid, to: Uuid) -> Option<f64> {
        let t = &self.s.travel;
        let i = t.ids.iter().position(|&x| x == to)?;
        let j = t.ids.iter().position(|&x| x == from)?;
        t.minutes[i][j]
    }

    /// The arrival date of a trip, restated: today + ⌈minutes / 1440⌉.
    fn arrival(&self, from: Uuid, to: Uuid) -> Option<NaiveDate> {
        let m = self.eta(from, to)?;
        let days = (m / 1440.0).ceil() as u64;
        self.s.today.checked_add_days(Days::new(days))
    }

    fn required_days(&self, to: Uuid, sku: &str) -> i64 {
        let tier_days = match self.wh(to).tier {
            Tier::Community => self.s.tiers.community,
            _ => 0,
        };
        i64::from(self.min_days(sku).max(tier_days).max(0))
    }

    /// Whether `lot` (with `free` units not yet taken) arrives usable at `to`.
    fn usable_at(&self, lot: &LotState, to: Uuid) -> bool {
        let Some(arrival) = self.arrival(lot.warehouse_id, to) else {
            return false;
        };
        let required = arrival + chrono::Duration::days(self.required_days(to, &lot.sku));
        !lot.quarantined && lot.expires_on.is_none_or(|e| e >= required)
    }

    fn can_supply(&self, w: Uuid) -> bool {
        let w = self.wh(w);
        w.active && w.tier != Tier::Agreement
    }

    /// What `w` could still give destination (`to`, `sku`) after the plan's takes.
    fn spare(&self, w: Uuid, to: Uuid, sku: &str, taken: &BTreeMap<Uuid, i64>) -> i64 {
        if !self.can_supply(w) || w == to || self.arrival(w, to).is_none() {
            return 0;
        }
        let surplus = self.stock(w, sku, taken) - self.keep(w, sku);
        let usable: i64 = self
            .s
            .lots
            .iter()
            .filter(|l| l.warehouse_id == w && l.sku == sku && self.usable_at(l, to))
            .map(|l| lot_available(l) - taken.get(&l.id).copied().unwrap_or(0))
            .sum();
        surplus.min(usable).max(0)
    }

    /// Rank of source `w` for destination `to`: parent first, then (eta, code, id).
    fn rank(&self, w: Uuid, to: Uuid) -> (bool, f64, String, Uuid) {
        let parent = self.wh(to).parent.filter(|&p| p != to) == Some(w);
        (
            !parent,
            self.eta(w, to)
                .filter(|m| m.is_finite())
                .unwrap_or(f64::INFINITY),
            self.wh(w).code.clone(),
            w,
        )
    }
}

fn before(a: &(bool, f64, String, Uuid), b: &(bool, f64, String, Uuid)) -> bool {
    a.0.cmp(&b.0)
        .then(a.1.total_cmp(&b.1))
        .then_with(|| a.2.cmp(&b.2))
        .then(a.3.cmp(&b.3))
        .is_lt()
}

fn taken_by_lot(p: &ReplenishmentPlan) -> BTreeMap<Uuid, i64> {
    let mut m = BTreeMap::new();
    for l in p.transfers.iter().flat_map(|t| &t.lines) {
        *m.entry(l.lot_id).or_insert(0) += l.qty;
    }
    m
}

/// A fixed shuffle of every input vector, the travel matrix's rows and columns with them.
fn shuffled(s: &NetworkState, seed: u64) -> NetworkState {
    fn perm(n: usize, seed: &mut u64) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            p.swap(i, (*seed >> 33) as usize % (i + 1));
        }
        p
    }
    fn apply<T: Clone>(v: &[T], seed: &mut u64) -> Vec<T> {
        perm(v.len(), seed)
            .into_iter()
            .map(|i| v[i].clone())
            .collect()
    }
    let mut seed = seed;
    let order = perm(s.travel.ids.len(), &mut seed);
    let travel = TravelTimes {
        ids: order.iter().map(|&i| s.travel.ids[i]).collect(),
        minutes: order
            .iter()
            .map(|&to| {
                order
                    .iter()
                    .map(|&from| s.travel.minutes[to][from])
                    .collect()
            })
            .collect(),
    };
    NetworkState {
        today: s.today,
        items: apply(&s.items, &mut seed),
        warehouses: apply(&s.warehouses, &mut seed),
        levels: apply(&s.levels, &mut seed),
        lots: apply(&s.lots, &mut seed),
        inbound: apply(&s.inbound, &mut seed),
        travel,
        tiers: s.tiers,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn replenishment_plans_obey_the_published_rule(s in network()) {
        let o = Oracle { s: &s };
        let p = replenish::plan(&Snapshot::new(s.clone()), &Scope::default());
        let taken = taken_by_lot(&p);

        // Destinations are exactly the cells below their level, each once, with its need.
        let mut expected = BTreeSet::new();
        for w in &s.warehouses {
            for sku in SKUS {
                if o.need(w.id, sku) > 0 {
                    expected.insert((w.id, sku.to_owned()));
                }
            }
        }
        let got: BTreeSet<(Uuid, String)> =
            p.destinations.iter().map(|d| (d.warehouse_id, d.sku.clone())).collect();
        prop_assert_eq!(got.len(), p.destinations.len());
        prop_assert_eq!(&got, &expected);

        // Per destination: planned + shortfall = need, planned = Σ sources = Σ lines.
        let mut lines_to: BTreeMap<(Uuid, String), i64> = BTreeMap::new();
        for t in &p.transfers {
            for l in &t.lines {
                *lines_to.entry((t.to_id, l.sku.clone())).or_insert(0) += l.qty;
            }
        }
        for d in &p.destinations {
            prop_assert_eq!(d.need, o.need(d.warehouse_id, &d.sku));
            prop_assert_eq!(d.planned + d.shortfall, d.need);
            prop_assert!(d.shortfall >= 0 && d.planned <= d.need);
            prop_assert!(d.sources.iter().all(|s| s.qty > 0));
            prop_assert_eq!(d.sources.iter().map(|s| s.qty).sum::<i64>(), d.planned);
            prop_assert_eq!(
                lines_to.get(&(d.warehouse_id, d.sku.clone())).copied().unwrap_or(0),
                d.planned
            );
        }
        let total: i64 = p.procurement.iter().map(|b| b.shortfall).sum();
        prop_assert_eq!(total, p.destinations.iter().map(|d| d.shortfall).sum::<i64>());

        // Every line: a lot of its source, never over-drawn, usable at the destination on
        // arrival, from an active, owned, reachable source.
        for t in &p.transfers {
            prop_assert!(o.can_supply(t.from_id));
            prop_assert_eq!(Some(t.arrives_on), o.arrival(t.from_id, t.to_id));
            for l in &t.lines {
                let lot = s.lots.iter().find(|x| x.id == l.lot_id).expect("known lot");
                prop_assert_eq!(lot.warehouse_id, t.from_id);
                prop_assert_eq!(&lot.sku, &l.sku);
                prop_assert!(l.qty > 0);
                prop_assert!(o.usable_at(lot, t.to_id), "unusable lot {:?} sent", lot);
                prop_assert!(!crate::rules::expired(lot.expires_on, s.today));
            }
        }
        for (id, qty) in &taken {
            let lot = s.lots.iter().find(|x| x.id == *id).expect("known lot");
            prop_assert!(*qty <= lot_available(lot), "lot {} over-drawn", lot.lot_code);
        }

        // No source goes below max(level, target), measured by level stock.
        let mut sources = BTreeSet::new();
        for t in &p.transfers {
            for l in &t.lines {
                sources.insert((t.from_id, l.sku.clone()));
            }
        }
        for (w, sku) in &sources {
            prop_assert!(o.stock(*w, sku, &taken) >= o.keep(*w, sku));
        }

        // The parent first, then the nearest: a source is drawn on only when every source
        // ranked before it has nothing left it could give; with a shortfall, no source has.
        for d in &p.destinations {
            let spare = |w: Uuid| o.spare(w, d.warehouse_id, &d.sku, &taken);
            for used in &d.sources {
                let r = o.rank(used.warehouse_id, d.warehouse_id);
                for w in &s.warehouses {
                    if before(&o.rank(w.id, d.warehouse_id), &r) {
                        prop_assert_eq!(spare(w.id), 0, "{} used before {}", used.warehouse_code, w.code);
                    }
                }
            }
            if d.shortfall > 0 {
                for w in &s.warehouses {
                    prop_assert_eq!(spare(w.id), 0, "shortfall while {} has spare", w.code);
                }
            }
            let mut seen = BTreeSet::new();
            for k in &d.skipped {
                prop_assert!(seen.insert(k.warehouse_id), "listed twice");
            }
        }

        // Destinations in the published order.
        for pair in p.destinations.windows(2) {
            let key = |d: &replenish::Destination| {
                (d.level_stock + d.inbound, d.level, d.tier.destination_rank(), d.warehouse_code.clone(), d.warehouse_id, d.sku.clone())
            };
            let (a, b) = (key(&pair[0]), key(&pair[1]));
            let ratio = (i128::from(a.0) * i128::from(b.1)).cmp(&(i128::from(b.0) * i128::from(a.1)));
            let order = ratio.then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)).then(a.4.cmp(&b.4)).then(a.5.cmp(&b.5));
            prop_assert!(order.is_lt(), "{:?} before {:?}", a, b);
        }
    }

    #[test]
    fn the_same_network_gives_the_same_plans_whatever_the_input_order(
        s in network(),
        seed in any::<u64>(),
        within in 0u32..200,
    ) {
        let a = Snapshot::new(s.clone());
        let b = Snapshot::new(shuffled(&s, seed));
        prop_assert_eq!(
            replenish::plan(&a, &Scope::default()),
            replenish::plan(&b, &Scope::default())
        );
        let policy = RotationPolicy::new(within);
        prop_assert_eq!(rotation::plan(&a, &policy), rotation::plan(&b, &policy));
        prop_assert_eq!(score(&a), score(&b));
    }

    #[test]
    fn rotation_plans_obey_the_published_rule(
        s in network(),
        within in 0u32..400,
        issue_min_days in 0u32..60,
    ) {
        let o = Oracle { s: &s };
        let policy = RotationPolicy { within_days: within, issue_min_days };
        let p: RotationPlan = rotation::plan(&Snapshot::new(s.clone()), &policy);
        let horizon = day(i64::from(within.min(rotation::MAX_WITHIN_DAYS)));

        // Exactly the expiring lots of active, owned warehouses, with stock to move.
        let expected: BTreeSet<Uuid> = s
            .lots
            .iter()
            .filter(|l| {
                o.can_supply(l.warehouse_id)
                    && !l.quarantined
                    && lot_available(l) > 0
                    && l.expires_on.is_some_and(|e| e <= horizon)
            })
            .map(|l| l.id)
            .collect();
        let got: BTreeSet<Uuid> = p.lots.iter().map(|l| l.lot_id).collect();
        prop_assert_eq!(got.len(), p.lots.len());
        prop_assert_eq!(&got, &expected);

        let mut received: BTreeMap<(Uuid, String), i64> = BTreeMap::new();
        let mut replaced: BTreeMap<(Uuid, String), i64> = BTreeMap::new();
        for line in &p.lots {
            let lot = s.lots.iter().find(|x| x.id == line.lot_id).expect("known lot");
            let e = line.expires_on;
            prop_assert_eq!(line.qty, lot_available(lot));
            prop_assert_eq!(
                line.action.qty() + line.remainder.as_ref().map_or(0, RotationAction::qty),
                line.qty
            );
            prop_assert!(line.replacement_qty >= 0 && line.replacement_qty <= line.qty);
            *replaced.entry((lot.warehouse_id, lot.sku.clone())).or_insert(0) += line.replacement_qty;
            for (i, a) in std::iter::once(&line.action).chain(line.remainder.as_ref()).enumerate() {
                match a {
                    RotationAction::Transfer { to_id, qty, arrives_on, .. } => {
                        prop_assert_eq!(i, 0, "a remainder is never a transfer");
                        prop_assert!(*qty > 0 && e >= s.today);
                        prop_assert!(o.usable_at(lot, *to_id));
                        prop_assert_eq!(Some(*arrives_on), o.arrival(lot.warehouse_id, *to_id));
                        *received.entry((*to_id, lot.sku.clone())).or_insert(0) += qty;
                    }
                    RotationAction::Issue { issue_by, .. } => {
                        prop_assert!(e >= s.today + chrono::Duration::days(i64::from(issue_min_days)));
                        prop_assert_eq!(*issue_by, e - chrono::Duration::days(i64::from(issue_min_days)));
                    }
                    RotationAction::WriteOff { .. } => {
                        prop_assert!(e < s.today + chrono::Duration::days(i64::from(issue_min_days)));
                    }
                }
            }
        }
        // A destination receives at most what it needs.
        for ((w, sku), qty) in &received {
            prop_assert!(*qty <= o.need(*w, sku));
        }
        // Per cell, the replacements add up to how far all its expiring lots leaving
        // deepen its deficit below the level.
        for ((w, sku), qty) in &replaced {
            let leaving: BTreeMap<Uuid, i64> = p
                .lots
                .iter()
                .filter(|l| l.warehouse_id == *w && l.sku == *sku)
                .map(|l| (l.lot_id, l.qty))
                .collect();
            let have = |taken: &BTreeMap<Uuid, i64>| o.stock(*w, sku, taken) + o.inbound(*w, sku);
            let level = o.level(*w, sku);
            let deficit = |h: i64| (level - h).max(0);
            prop_assert_eq!(*qty, deficit(have(&leaving)) - deficit(have(&BTreeMap::new())));
        }
        prop_assert_eq!(
            p.saved_from_write_off + p.written_off,
            p.lots.len()
        );
        prop_assert_eq!(
            p.calendar.iter().map(|b| b.qty).sum::<i64>(),
            p.lots.iter().map(|l| l.qty).sum::<i64>()
        );
    }

    #[test]
    fn readiness_shares_stay_between_0_and_1_and_add_up(s in network()) {
        let o = Oracle { s: &s };
        let r = score(&Snapshot::new(s.clone()));
        let (mut levels, mut met, mut units, mut have) = (0u32, 0u32, 0i64, 0i64);
        for w in s.warehouses.iter().filter(|w| w.active) {
            // Duplicate ids are not generated: each warehouse is scored once.
            for sku in SKUS {
                let level = o.level(w.id, sku);
                if level > 0 {
                    let stock = o.stock(w.id, sku, &BTreeMap::new());
                    levels += 1;
                    met += u32::from(stock >= level);
                    units += level;
                    have += stock.min(level);
                }
            }
        }
        let n = r.network;
        prop_assert_eq!((n.levels, n.levels_met, n.level_units, n.units_met), (levels, met, units, have));
        for share in [n.levels_share, n.units_share].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&share));
        }
        let by_district: u32 = r.districts.iter().map(|d| d.score.levels).sum();
        prop_assert!(by_district <= n.levels);
    }
}
