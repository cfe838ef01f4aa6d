//! Keeping the reserve network ready between emergencies (issue 20): refilling cells below
//! their reserve level ([`replenish`](crate::reserve::replenish)), moving or issuing stock before it expires
//! ([`rotation`](crate::reserve::rotation)), and scoring how ready the network is ([`readiness`](crate::reserve::readiness)).
//!
//! All three read one indexed [`Snapshot`](crate::reserve::Snapshot) of the network, built from a [`NetworkState`](crate::reserve::NetworkState):
//! items, warehouses with their tier and parent, reserve levels, lots, stock in transit
//! and travel times. They measure a (warehouse, SKU) *cell* by the shared rules in
//! [`crate::rules`], never by a restatement of them:
//! - **Level stock** of a cell: `Σ rules::level_stock(lot, today, item.min_remaining_days)`,
//!   its available stock that is not quarantined and is usable for the item's minimum
//!   remaining days from `today`.
//! - **Have**: level stock + stock in transit to the cell ([`Inbound`](crate::reserve::Inbound)).
//! - **Refill-to**: the cell's target when it is set and above its level, else its level.
//! - **Destination**: a cell of an *active* warehouse that is not an agreement store
//!   (partner capacity, never refilled with owned stock) with `level > 0` and `have < level`;
//!   its need is `refill_to − have`.
//! - **Usable on arrival** at a destination: `rules::lot_usable(lot,
//!   rules::required_expiry(arrival, days))` is `Ok`, where `arrival =
//!   rules::arrival_day(today, eta)` (`today + ⌈eta / 1440⌉` days) and `days` is
//!   [`TierPolicy::required_days`](crate::reserve::TierPolicy::required_days) of the destination's tier and the item.
//!
//! Invariants: pure and deterministic (no clock, I/O, randomness or hash-order
//! dependence: `today` is an input); results do not depend on the order of any input
//! vector; quantities are whole base units with saturating arithmetic. Ids are unique
//! (the database says so); for a warehouse id given twice the one with the smaller code
//! is kept.

pub mod readiness;
pub mod replenish;
pub mod rotation;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::planner::fefo_key;
use crate::rules::{LotState, level_stock};

/// The tiers of the reserve network, largest first. Serialized as the database stores
/// them (`regional_centre`, `city`, `district`, `community`, `agreement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The regional reserve centre.
    RegionalCentre,
    /// A city depot.
    City,
    /// A district depot.
    District,
    /// A community point (grid reserve point, shared medicine box).
    Community,
    /// Capacity held at a partner store under an annual agreement (协议储备): partner
    /// stock, not owned lots, so it never supplies a replenishment or a rotation.
    Agreement,
}

impl Tier {
    /// Every tier, largest first.
    pub const ALL: [Tier; 5] = [
        Tier::RegionalCentre,
        Tier::City,
        Tier::District,
        Tier::Community,
        Tier::Agreement,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::RegionalCentre => "regional_centre",
            Tier::City => "city",
            Tier::District => "district",
            Tier::Community => "community",
            Tier::Agreement => "agreement",
        }
    }

    /// The tier with this stored name.
    pub fn parse(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Rank among destinations of equal fill ratio (lower first): community points, then
    /// district, city, the centre, and agreement stores last. The tier nearest to the
    /// households goes first: a grid's kit is what residents reach in the first hours,
    /// while depots hold larger buffers and are refilled through their own parents.
    pub fn destination_rank(self) -> u8 {
        match self {
            Tier::Community => 0,
            Tier::District => 1,
            Tier::City => 2,
            Tier::RegionalCentre => 3,
            Tier::Agreement => 4,
        }
    }
}

/// An item, as the reserve planners need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveItem {
    /// Item SKU.
    pub sku: String,
    /// Days of shelf life a lot must still have to count toward a level, and to be sent
    /// anywhere. Negative counts as 0; SKUs without an item use 0. If a SKU is listed
    /// twice the larger value applies.
    pub min_remaining_days: i32,
    /// Catalogue category, for the rotation calendar (the SKU stands in when `None`).
    #[serde(default)]
    pub category: Option<String>,
}

/// A warehouse of the reserve network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveWarehouse {
    /// Warehouse id.
    pub id: Uuid,
    /// Warehouse code; breaks ties everywhere.
    pub code: String,
    /// Network tier.
    pub tier: Tier,
    /// The warehouse that resupplies this one first (`warehouses.parent_id`).
    pub parent: Option<Uuid>,
    /// Inactive warehouses are neither replenished, nor a source, nor scored.
    pub active: bool,
    /// District, for readiness by district.
    pub district: Option<String>,
}

/// The reserve level of a (warehouse, SKU) cell (`reserve_levels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveLevel {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// The item.
    pub sku: String,
    /// The level (`min_qty`): below it the cell is replenished, and a source never gives
    /// below it. Negative counts as 0. If a cell is listed twice the higher level applies.
    pub level: i64,
    /// What a replenishment refills the cell to (`target_qty`); `None` or below the level
    /// means the level. If a cell is listed twice the higher target applies.
    pub target: Option<i64>,
}

/// Stock in transit to a cell: already on its way, so counted as the cell's and never
/// proposed again. Quantities of one cell add up; negative counts as 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbound {
    /// The destination warehouse.
    pub warehouse_id: Uuid,
    /// The item.
    pub sku: String,
    /// Units in transit.
    pub qty: i64,
}

/// Travel minutes between warehouses, dense: `minutes[to][from]` is the trip from
/// `ids[from]` to `ids[to]` (handling included, as the caller computes it), one row per
/// destination as `routing::Network::travel_times` returns it. `None`, a missing row or
/// entry, an id not listed, and any value that is not a finite number ≥ 0 mean
/// unreachable. The order of `ids` is free.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TravelTimes {
    /// Warehouse ids: the order of rows and of the entries in each row.
    pub ids: Vec<Uuid>,
    /// `minutes[to][from]`.
    pub minutes: Vec<Vec<Option<f64>>>,
}

/// Days of shelf life a lot must still have on arrival, per destination tier. A lot sent
/// to a cell must have `max(item.min_remaining_days, tier's days)` left on the arrival
/// date ([`TierPolicy::required_days`]).
///
/// Defaults: community points 90 days, every other tier 0 (the item's own minimum). A
/// community point is refilled by an occasional run from its depot, assumed at most a
/// quarter apart, and its small kit turns over slowly, so a lot sent down should outlast
/// one cycle. This is a product assumption, not a sourced norm: configure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPolicy {
    /// Days for the regional centre.
    pub regional_centre: i32,
    /// Days for city depots.
    pub city: i32,
    /// Days for district depots.
    pub district: i32,
    /// Days for community points.
    pub community: i32,
    /// Days for agreement stores.
    pub agreement: i32,
}

impl Default for TierPolicy {
    fn default() -> Self {
        TierPolicy {
            regional_centre: 0,
            city: 0,
            district: 0,
            community: 90,
            agreement: 0,
        }
    }
}

impl TierPolicy {
    /// The tier's own days (negative counts as 0).
    pub fn tier_days(&self, tier: Tier) -> i32 {
        match tier {
            Tier::RegionalCentre => self.regional_centre,
            Tier::City => self.city,
            Tier::District => self.district,
            Tier::Community => self.community,
            Tier::Agreement => self.agreement,
        }
        .max(0)
    }

    /// Days a lot must still have on arrival at a warehouse of `tier`:
    /// `max(item_min_days, tier's days)`, never negative.
    pub fn required_days(&self, tier: Tier, item_min_days: i32) -> i32 {
        item_min_days.max(self.tier_days(tier)).max(0)
    }
}

/// Everything the reserve planners read, as the service loads it. Build a [`Snapshot`]
/// from it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkState {
    /// The planning date; the planners read no clock.
    pub today: NaiveDate,
    /// Items.
    pub items: Vec<ReserveItem>,
    /// Warehouses.
    pub warehouses: Vec<ReserveWarehouse>,
    /// Reserve levels.
    pub levels: Vec<ReserveLevel>,
    /// Lots. Lots of warehouses not in `warehouses` are ignored.
    pub lots: Vec<LotState>,
    /// Stock in transit, per destination cell.
    pub inbound: Vec<Inbound>,
    /// Travel minutes between warehouses.
    pub travel: TravelTimes,
    /// Days a lot must have on arrival, per tier.
    pub tiers: TierPolicy,
}

/// Which destinations a replenishment plans for; every empty list means "all". Sources are
/// never limited by the scope. The service rejects unknown names before planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Only these warehouses.
    #[serde(default)]
    pub warehouses: Vec<Uuid>,
    /// Only warehouses of these tiers.
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Only warehouses in these districts.
    #[serde(default)]
    pub districts: Vec<String>,
    /// Only these SKUs.
    #[serde(default)]
    pub skus: Vec<String>,
}

impl Scope {
    /// Whether the cell (`w`, `sku`) is in scope.
    pub fn contains(&self, w: &ReserveWarehouse, sku: &str) -> bool {
        (self.warehouses.is_empty() || self.warehouses.contains(&w.id))
            && (self.tiers.is_empty() || self.tiers.contains(&w.tier))
            && (self.districts.is_empty()
                || w.district
                    .as_ref()
                    .is_some_and(|d| self.districts.contains(d)))
            && (self.skus.is_empty() || self.skus.iter().any(|s| s == sku))
    }
}

/// Marks "no cell" in `Snapshot::cell_of`.
const NO_CELL: u32 = u32::MAX;

/// A SKU's policy, after merging duplicates.
#[derive(Debug, Clone)]
pub(crate) struct Sku {
    pub(crate) name: String,
    pub(crate) min_days: i32,
    pub(crate) category: Option<String>,
}

/// A (warehouse, SKU) cell: anything with lots, a level or stock in transit.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) sku: u32,
    pub(crate) warehouse: u32,
    /// Range into `Snapshot::lots` (FEFO order).
    pub(crate) lots: Range<usize>,
    /// Level, ≥ 0.
    pub(crate) level: i64,
    /// What a replenishment refills to: max(level, target), ≥ level.
    pub(crate) refill_to: i64,
    /// Σ in transit, ≥ 0.
    pub(crate) inbound: i64,
    /// Σ rules::level_stock over the cell's lots.
    pub(crate) level_stock: i64,
    /// Σ on_hand over quarantined lots.
    pub(crate) quarantined: i64,
}

impl Cell {
    /// Level stock + in transit.
    pub(crate) fn have(&self) -> i64 {
        self.level_stock.saturating_add(self.inbound)
    }

    /// What a source may give before the plan: level stock above `refill_to`.
    pub(crate) fn surplus(&self) -> i64 {
        self.level_stock.saturating_sub(self.refill_to).max(0)
    }

    /// What a destination needs: `refill_to − have` when `have < level` (0 otherwise).
    pub(crate) fn need(&self) -> i64 {
        if self.level > 0 && self.have() < self.level {
            self.refill_to.saturating_sub(self.have()).max(0)
        } else {
            0
        }
    }
}

/// The network, indexed once: warehouses in (code, id) order, SKUs in name order, cells
/// in (SKU, warehouse) order, lots grouped by cell in FEFO order, and travel times as a
/// dense matrix. Building costs O(L log L + S·W + W²) for L lots, S SKUs and W
/// warehouses; each plan then looks a cell up in O(1).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) today: NaiveDate,
    pub(crate) tiers: TierPolicy,
    /// Canonical order: (code, id).
    pub(crate) warehouses: Vec<ReserveWarehouse>,
    /// Parent index per warehouse (only a known warehouse other than itself).
    pub(crate) parent: Vec<Option<u32>>,
    pub(crate) skus: Vec<Sku>,
    /// Sorted by (SKU, warehouse, FEFO).
    pub(crate) lots: Vec<LotState>,
    /// Sorted by (SKU, warehouse).
    pub(crate) cells: Vec<Cell>,
    /// `cell_of[sku * W + warehouse]`: index into `cells`, or `NO_CELL`.
    cell_of: Vec<u32>,
    /// `eta[to * W + from]` in minutes; infinite when unreachable.
    eta: Vec<f64>,
}

impl Snapshot {
    /// Indexes a network state. See the module documentation for how cells are measured.
    pub fn new(state: NetworkState) -> Snapshot {
        let NetworkState {
            today,
            items,
            mut warehouses,
            levels,
            lots,
            inbound,
            travel,
            tiers,
        } = state;

        warehouses.sort_by(|a, b| a.code.cmp(&b.code).then(a.id.cmp(&b.id)));
        let mut wh_of: HashMap<Uuid, u32> = HashMap::with_capacity(warehouses.len());
        let mut kept = Vec::with_capacity(warehouses.len());
        for w in warehouses {
            if let Entry::Vacant(slot) = wh_of.entry(w.id) {
                slot.insert(index_u32(kept.len()));
                kept.push(w);
            }
        }
        let warehouses = kept;
        let n = warehouses.len();
        let parent = warehouses
            .iter()
            .enumerate()
            .map(|(i, w)| {
                w.parent
                    .and_then(|p| wh_of.get(&p).copied())
                    .filter(|&p| p as usize != i)
            })
            .collect();

        // SKUs: every name an item, level, lot or transit mentions, in name order.
        let names: Vec<String> = {
            let mut names: Vec<&str> = items
                .iter()
                .map(|i| i.sku.as_str())
                .chain(levels.iter().map(|l| l.sku.as_str()))
                .chain(lots.iter().map(|l| l.sku.as_str()))
                .chain(inbound.iter().map(|t| t.sku.as_str()))
                .collect();
            names.sort_unstable();
            names.dedup();
            names.into_iter().map(str::to_owned).collect()
        };
        let sku_of: HashMap<String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), index_u32(i)))
            .collect();
        let mut skus: Vec<Sku> = names
            .into_iter()
            .map(|name| Sku {
                name,
                min_days: 0,
                category: None,
            })
            .collect();
        // Between duplicates, the larger minimum wins, then a category over none, then
        // the smaller category: an order that does not depend on the input's.
        let mut items = items;
        items.sort_by(|a, b| {
            a.sku
                .cmp(&b.sku)
                .then(b.min_remaining_days.cmp(&a.min_remaining_days))
                .then(a.category.is_none().cmp(&b.category.is_none()))
                .then_with(|| a.category.cmp(&b.category))
        });
        let mut seen = vec![false; skus.len()];
        for item in items {
            if let Some(&s) = sku_of.get(item.sku.as_str())
                && !seen[s as usize]
            {
                seen[s as usize] = true;
                skus[s as usize].min_days = item.min_remaining_days.max(0);
                skus[s as usize].category = item.category;
            }
        }

        // Cells, dense by (SKU, warehouse) for O(1) look-ups.
        let mut cell_of = vec![NO_CELL; skus.len().saturating_mul(n)];
        let mut cells: Vec<Cell> = Vec::new();
        let mut keyed: Vec<(u32, u32, LotState)> = Vec::with_capacity(lots.len());
        for lot in lots {
            let (Some(&w), Some(&s)) = (wh_of.get(&lot.warehouse_id), sku_of.get(lot.sku.as_str()))
            else {
                continue;
            };
            keyed.push((s, w, lot));
        }
        keyed.sort_unstable_by(|a, b| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| fefo_key(&a.2).cmp(&fefo_key(&b.2)))
        });
        let mut sorted_lots = Vec::with_capacity(keyed.len());
        let mut cell_at = |cells: &mut Vec<Cell>, s: u32, w: u32| -> usize {
            let slot = &mut cell_of[s as usize * n + w as usize];
            if *slot == NO_CELL {
                *slot = index_u32(cells.len());
                cells.push(Cell {
                    sku: s,
                    warehouse: w,
                    lots: 0..0,
                    level: 0,
                    refill_to: 0,
                    inbound: 0,
                    level_stock: 0,
                    quarantined: 0,
                });
            }
            *slot as usize
        };
        for (s, w, lot) in keyed {
            let c = cell_at(&mut cells, s, w);
            let i = sorted_lots.len();
            let cell = &mut cells[c];
            if cell.lots.is_empty() {
                cell.lots = i..i;
            }
            cell.lots.end = i + 1;
            let min_days = skus[s as usize].min_days;
            cell.level_stock = cell
                .level_stock
                .saturating_add(level_stock(&lot, today, min_days));
            if lot.quarantined {
                cell.quarantined = cell.quarantined.saturating_add(lot.on_hand.max(0));
            }
            sorted_lots.push(lot);
        }
        let mut targets: Vec<(usize, i64)> = Vec::new();
        for l in &levels {
            let (Some(&w), Some(&s)) = (wh_of.get(&l.warehouse_id), sku_of.get(l.sku.as_str()))
            else {
                continue;
            };
            let c = cell_at(&mut cells, s, w);
            cells[c].level = cells[c].level.max(l.level);
            if let Some(t) = l.target {
                targets.push((c, t));
            }
        }
        for cell in &mut cells {
            cell.refill_to = cell.level;
        }
        for (c, t) in targets {
            cells[c].refill_to = cells[c].refill_to.max(t);
        }
        for t in &inbound {
            let (Some(&w), Some(&s)) = (wh_of.get(&t.warehouse_id), sku_of.get(t.sku.as_str()))
            else {
                continue;
            };
            let c = cell_at(&mut cells, s, w);
            cells[c].inbound = cells[c].inbound.saturating_add(t.qty.max(0));
        }
        // Cells were created in lot order, then level and transit order: put them in
        // (SKU, warehouse) order so that every walk over them is canonical.
        cells.sort_unstable_by_key(|c| (c.sku, c.warehouse));
        for (i, c) in cells.iter().enumerate() {
            cell_of[c.sku as usize * n + c.warehouse as usize] = index_u32(i);
        }

        // Travel: the caller's order of ids mapped onto ours.
        let mut eta = vec![f64::INFINITY; n.saturating_mul(n)];
        let ours: Vec<Option<usize>> = travel
            .ids
            .iter()
            .map(|id| wh_of.get(id).map(|&w| w as usize))
            .collect();
        for (to, row) in travel.minutes.iter().enumerate() {
            let Some(Some(t)) = ours.get(to) else {
                continue;
            };
            for (from, m) in row.iter().enumerate() {
                let Some(Some(f)) = ours.get(from) else {
                    continue;
                };
                if let Some(m) = m.filter(|m| m.is_finite() && *m >= 0.0) {
                    eta[t * n + f] = m;
                }
            }
        }

        Snapshot {
            today,
            tiers,
            warehouses,
            parent,
            skus,
            lots: sorted_lots,
            cells,
            cell_of,
            eta,
        }
    }

    /// The planning date.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// Warehouses, in (code, id) order.
    pub fn warehouses(&self) -> &[ReserveWarehouse] {
        &self.warehouses
    }

    /// The cell of (`sku`, `warehouse`), if it has lots, a level or stock in transit.
    pub(crate) fn cell(&self, sku: u32, warehouse: u32) -> Option<usize> {
        let i = sku as usize * self.warehouses.len() + warehouse as usize;
        match self.cell_of.get(i) {
            Some(&c) if c != NO_CELL => Some(c as usize),
            _ => None,
        }
    }

    /// Minutes from `from` to `to`; `None` when unreachable.
    pub(crate) fn eta(&self, from: u32, to: u32) -> Option<f64> {
        let e = self.eta[to as usize * self.warehouses.len() + from as usize];
        e.is_finite().then_some(e)
    }

    /// Whether a warehouse may give stock: active and not an agreement store.
    pub(crate) fn can_supply(&self, w: u32) -> bool {
        let w = &self.warehouses[w as usize];
        w.active && w.tier != Tier::Agreement
    }

    /// What a destination cell needs (0 when it is not a destination: see the module
    /// documentation).
    pub(crate) fn need(&self, c: usize) -> i64 {
        let cell = &self.cells[c];
        let w = &self.warehouses[cell.warehouse as usize];
        // An agreement store's level is capacity a partner keeps on its own shelves under
        // its agreement: the network never sends owned stock to refill it.
        if w.active && w.tier != Tier::Agreement {
            cell.need()
        } else {
            0
        }
    }

    /// Days a lot must have on arrival at cell `c`.
    pub(crate) fn required_days(&self, c: usize) -> i32 {
        let cell = &self.cells[c];
        self.tiers.required_days(
            self.warehouses[cell.warehouse as usize].tier,
            self.skus[cell.sku as usize].min_days,
        )
    }
}

/// An index as `u32` (the snapshot holds far fewer than 2³² of anything).
fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
