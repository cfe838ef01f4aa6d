//! Readiness: how much of the network's reserve is really on the shelf, per warehouse,
//! per district and for the whole network.
//!
//! The rule (terms as in [`super`]): over the cells of *active* warehouses with a level
//! above 0 (cells with level 0 set no reserve and are left out),
//! - **levels met**: the share of cells with `Σ level_stock ≥ level`;
//! - **units**: `Σ min(Σ level_stock, level) / Σ level`, so a surplus in one cell does not
//!   hide a gap in another.
//!
//! Only usable stock counts: not expired, not quarantined, available (not reserved for a
//! request), with the item's minimum remaining days left ([`crate::rules::level_stock`]).
//! Stock in transit counts for its destination once received, so not at all here: it has
//! left its source's lots and is not yet in the destination's. Inactive warehouses are not
//! scored; warehouses without a district count only toward the network.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::{Snapshot, Tier};

/// Readiness of a set of cells.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Cells with a level above 0.
    pub levels: u32,
    /// Of those, cells whose level stock reaches the level.
    pub levels_met: u32,
    /// `levels_met / levels`; `None` when there are no levels.
    pub levels_share: Option<f64>,
    /// Σ level.
    pub level_units: i64,
    /// Σ min(level stock, level).
    pub units_met: i64,
    /// `units_met / level_units`; `None` when there are no levels.
    pub units_share: Option<f64>,
}

impl Score {
    /// The score of nothing.
    fn empty() -> Score {
        Score {
            levels: 0,
            levels_met: 0,
            levels_share: None,
            level_units: 0,
            units_met: 0,
            units_share: None,
        }
    }

    /// Adds one cell.
    fn add(&mut self, level: i64, stock: i64) {
        self.levels += 1;
        if stock >= level {
            self.levels_met += 1;
        }
        self.level_units = self.level_units.saturating_add(level);
        self.units_met = self.units_met.saturating_add(stock.min(level).max(0));
    }

    /// Adds another score's counts.
    fn merge(&mut self, other: &Score) {
        self.levels += other.levels;
        self.levels_met += other.levels_met;
        self.level_units = self.level_units.saturating_add(other.level_units);
        self.units_met = self.units_met.saturating_add(other.units_met);
    }

    /// Fills in the shares.
    fn finish(mut self) -> Score {
        if self.levels > 0 {
            self.levels_share = Some(f64::from(self.levels_met) / f64::from(self.levels));
            self.units_share = Some(self.units_met as f64 / self.level_units as f64);
        }
        self
    }
}

/// One warehouse's readiness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarehouseReadiness {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// Its code.
    pub warehouse_code: String,
    /// Its tier.
    pub tier: Tier,
    /// Its district.
    pub district: Option<String>,
    /// Its score.
    pub score: Score,
}

/// One district's readiness: all cells of its active warehouses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistrictReadiness {
    /// The district.
    pub district: String,
    /// Active warehouses in it.
    pub warehouses: u32,
    /// Its score.
    pub score: Score,
}

/// Readiness of the network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    /// The date scored.
    pub today: NaiveDate,
    /// Every cell of every active warehouse.
    pub network: Score,
    /// Per district, by name.
    pub districts: Vec<DistrictReadiness>,
    /// Per active warehouse, by code.
    pub warehouses: Vec<WarehouseReadiness>,
}

/// Scores the network's readiness. See the module documentation for the rule.
pub fn score(snap: &Snapshot) -> Readiness {
    let mut per_wh = vec![Score::empty(); snap.warehouses.len()];
    for cell in &snap.cells {
        if cell.level > 0 {
            per_wh[cell.warehouse as usize].add(cell.level, cell.level_stock);
        }
    }
    let mut network = Score::empty();
    let mut districts: BTreeMap<&str, (u32, Score)> = BTreeMap::new();
    let mut warehouses = Vec::new();
    for (w, s) in snap.warehouses.iter().zip(per_wh) {
        if !w.active {
            continue;
        }
        network.merge(&s);
        if let Some(d) = &w.district {
            let slot = districts.entry(d.as_str()).or_insert((0, Score::empty()));
            slot.0 += 1;
            slot.1.merge(&s);
        }
        warehouses.push(WarehouseReadiness {
            warehouse_id: w.id,
            warehouse_code: w.code.clone(),
            tier: w.tier,
            district: w.district.clone(),
            score: s.finish(),
        });
    }
    Readiness {
        today: snap.today,
        network: network.finish(),
        districts: districts
            .into_iter()
            .map(|(d, (n, s))| DistrictReadiness {
                district: d.to_owned(),
                warehouses: n,
                score: s.finish(),
            })
            .collect(),
        warehouses,
    }
}
