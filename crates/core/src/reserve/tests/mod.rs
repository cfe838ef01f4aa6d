//! Tests of the reserve planners: readable examples per planner, and properties
//! (`props`) that restate the published rules independently.

use super::*;
use chrono::Days;

mod props;
mod readiness;
mod replenish;
mod rotation;

/// The planning date of every example.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 6).expect("valid date")
}

/// `today` ± `offset` days.
fn day(offset: i64) -> NaiveDate {
    let d = Days::new(offset.unsigned_abs());
    if offset >= 0 {
        today().checked_add_days(d)
    } else {
        today().checked_sub_days(d)
    }
    .expect("valid date")
}

fn wid(n: u128) -> Uuid {
    Uuid::from_u128(0x1000 + n)
}

fn lid(n: u128) -> Uuid {
    Uuid::from_u128(0x9000 + n)
}

/// A small network, built up by example tests. Roads are two-way; a warehouse reaches
/// itself in 0 minutes and nothing else without a road.
#[derive(Debug, Clone)]
struct Net {
    state: NetworkState,
    roads: Vec<(u128, u128, f64)>,
}

impl Net {
    fn new() -> Net {
        Net {
            state: NetworkState {
                today: today(),
                items: Vec::new(),
                warehouses: Vec::new(),
                levels: Vec::new(),
                lots: Vec::new(),
                inbound: Vec::new(),
                travel: TravelTimes::default(),
                tiers: TierPolicy::default(),
            },
            roads: Vec::new(),
        }
    }

    fn wh(mut self, n: u128, code: &str, tier: Tier, parent: Option<u128>) -> Net {
        self.state.warehouses.push(ReserveWarehouse {
            id: wid(n),
            code: code.to_owned(),
            tier,
            parent: parent.map(wid),
            active: true,
            district: Some("江海区".to_owned()),
        });
        self
    }

    fn edit_wh(mut self, n: u128, f: impl FnOnce(&mut ReserveWarehouse)) -> Net {
        let w = self
            .state
            .warehouses
            .iter_mut()
            .find(|w| w.id == wid(n))
            .expect("known warehouse");
        f(w);
        self
    }

    fn item(mut self, sku: &str, min_remaining_days: i32) -> Net {
        self.state.items.push(ReserveItem {
            sku: sku.to_owned(),
            min_remaining_days,
            category: None,
        });
        self
    }

    fn level(mut self, wh: u128, sku: &str, level: i64, target: Option<i64>) -> Net {
        self.state.levels.push(ReserveLevel {
            warehouse_id: wid(wh),
            sku: sku.to_owned(),
            level,
            target,
        });
        self
    }

    /// A lot expiring `expires` days from today (`None`: never).
    fn lot(mut self, n: u128, wh: u128, sku: &str, expires: Option<i64>, on_hand: i64) -> Net {
        self.state.lots.push(LotState {
            id: lid(n),
            warehouse_id: wid(wh),
            sku: sku.to_owned(),
            lot_code: format!("L{n}"),
            expires_on: expires.map(day),
            on_hand,
            reserved: 0,
            quarantined: false,
        });
        self
    }

    fn edit_lot(mut self, n: u128, f: impl FnOnce(&mut LotState)) -> Net {
        let l = self
            .state
            .lots
            .iter_mut()
            .find(|l| l.id == lid(n))
            .expect("known lot");
        f(l);
        self
    }

    fn inbound(mut self, wh: u128, sku: &str, qty: i64) -> Net {
        self.state.inbound.push(Inbound {
            warehouse_id: wid(wh),
            sku: sku.to_owned(),
            qty,
        });
        self
    }

    fn road(mut self, a: u128, b: u128, minutes: f64) -> Net {
        self.roads.push((a, b, minutes));
        self
    }

    fn tiers(mut self, tiers: TierPolicy) -> Net {
        self.state.tiers = tiers;
        self
    }

    fn state(&self) -> NetworkState {
        let ids: Vec<Uuid> = self.state.warehouses.iter().map(|w| w.id).collect();
        let minutes = ids
            .iter()
            .map(|&to| {
                ids.iter()
                    .map(|&from| {
                        if from == to {
                            return Some(0.0);
                        }
                        self.roads
                            .iter()
                            .find(|(a, b, _)| {
                                (wid(*a), wid(*b)) == (from, to) || (wid(*a), wid(*b)) == (to, from)
                            })
                            .map(|r| r.2)
                    })
                    .collect()
            })
            .collect();
        NetworkState {
            travel: TravelTimes { ids, minutes },
            ..self.state.clone()
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.state())
    }
}

#[test]
fn tiers_use_the_database_names() {
    for tier in Tier::ALL {
        assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        assert_eq!(
            serde_json::to_value(tier).expect("serializes"),
            tier.as_str()
        );
    }
    assert_eq!(Tier::parse("depot"), None);
}

#[test]
fn a_lot_must_have_the_larger_of_the_item_and_tier_days_on_arrival() {
    let policy = TierPolicy::default();
    assert_eq!(policy.required_days(Tier::Community, 30), 90);
    assert_eq!(policy.required_days(Tier::Community, 120), 120);
    assert_eq!(policy.required_days(Tier::District, 30), 30);
    assert_eq!(policy.required_days(Tier::District, -5), 0);
}

#[test]
fn a_scope_matches_every_non_empty_filter() {
    let w = ReserveWarehouse {
        id: wid(1),
        code: "C1".into(),
        tier: Tier::Community,
        parent: None,
        active: true,
        district: Some("江海区".into()),
    };
    assert!(Scope::default().contains(&w, "WATER"));
    let scope = Scope {
        tiers: vec![Tier::Community],
        skus: vec!["WATER".into()],
        ..Scope::default()
    };
    assert!(scope.contains(&w, "WATER"));
    assert!(!scope.contains(&w, "MRE"));
    let scope = Scope {
        districts: vec!["蓬江区".into()],
        ..Scope::default()
    };
    assert!(!scope.contains(&w, "WATER"));
}
