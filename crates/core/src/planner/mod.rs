//! The allocation planner: given a dispatcher's request and a stock snapshot, decides which lots
//! in which warehouses to reserve, and explains every warehouse it passed over.
//!
//! The rule is public so that anyone can check a plan:
//! 1. A warehouse's ETA (handling + travel minutes, computed by the caller) decides everything
//!    time-related; `None` means unreachable.
//! 2. A lot is eligible when its warehouse is active, reachable and not inside the affected area
//!    (unless the request includes such warehouses), and, for a community point, within its
//!    service radius of the incident (straight-line distance; community points hold small
//!    kits for their own grid, and rule 3 keeps their level for critical requests), the lot is not quarantined, has available
//!    stock (`on_hand − reserved > 0`), and either never expires or expires on or after
//!    *arrival date + the item's minimum remaining days*. The arrival date is the calendar date,
//!    in the deployment time zone, of `now + ETA`; a lot is usable through its expiry date.
//! 3. A non-critical request draws a warehouse's stock of an item only down to its reserve level:
//!    `drawable = max(0, Σ counted − reserve level)`, where a lot's counted stock is its
//!    available stock if it is not quarantined and is still usable for the item's minimum
//!    remaining days from today (the planning date in the deployment time zone), else 0
//!    (`rules::level_stock`): expired and short-dated stock on the shelf is no reserve.
//!    Critical requests ignore reserve levels.
//! 4. Fill as much as possible, then minimise Σ qty × ETA: warehouses nearest first (equal ETAs by
//!    warehouse code), first-expiry-first-out within a warehouse (no-expiry lots last, then by lot
//!    code). Request lines for the same SKU are merged first.
//! 5. A pick `misses_target` when `now + ETA` is after the incident's delivery target
//!    (`now + delivery_target`: the first batch must arrive within it), and is `late` when
//!    it misses the target or arrives after `needed_by` (`rules::lateness`); late picks
//!    are still taken.
//! 6. Every warehouse that holds the item but gave less than it holds is listed with one reason.
//!
//! Invariants: pure and deterministic (no clock, I/O, randomness or hash-order dependence);
//! a lot is never drawn beyond its available quantity; per line, reserved + shortfall = requested.

use std::collections::HashMap;
use std::ops::Range;

mod cells;
pub use cells::{CellStock, cell_stock};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::rules::{
    Lateness, LotState, SkipReason, WarehouseState, arrival, drawable, lateness, level_stock,
    lot_available, lot_usable, required_expiry, warehouse_block,
};

/// How urgent a request is. Only `Critical` changes the plan: it may empty reserve stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Life-safety demand: reserve levels do not apply.
    Critical,
    /// Urgent, but reserve levels still protect stock for the next emergency.
    High,
    /// Routine resupply.
    Normal,
}

/// Everything about the request except the stock.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput<'a> {
    /// What is asked for; lines with the same SKU are merged.
    pub lines: &'a [DemandLine],
    /// Request priority.
    pub priority: Priority,
    /// When the supplies must be at the incident, if the dispatcher said so.
    pub needed_by: Option<DateTime<Utc>>,
    /// Whether warehouses inside the affected area may supply (normally they cannot).
    pub include_affected_warehouses: bool,
    /// The incident's delivery target: the first batch must arrive within this of `now`.
    pub delivery_target: Option<TimeDelta>,
    /// The planning instant; the planner reads no clock.
    pub now: DateTime<Utc>,
    /// The deployment time zone, which fixes the calendar date of arrival for expiry checks.
    pub tz: chrono_tz::Tz,
}

/// One requested item and quantity (base units). The HTTP layer rejects `qty <= 0`; the planner
/// treats a non-positive merged quantity as nothing to fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemandLine {
    /// Item SKU.
    pub sku: String,
    /// Quantity in the item's base unit.
    pub qty: i64,
}

/// Per-item planning policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemPolicy {
    /// Item SKU.
    pub sku: String,
    /// Days of shelf life a lot must still have on the arrival date. Negative values count as 0
    /// (a lot is never usable after its expiry date). Items without a policy use 0.
    pub min_remaining_days: i32,
}

/// Stock, warehouses and item policies, indexed once by SKU and warehouse so that planning
/// never scans lots of items nobody asked for.
#[derive(Debug, Clone)]
pub struct Snapshot {
    items: Vec<ItemPolicy>,
    warehouses: Vec<WarehouseState>,
    lots: Vec<LotState>,
    cells: Vec<CellStock>,
    index: Index,
}

/// `(warehouse, SKU)` cell: lots in first-expiry-first-out order.
#[derive(Debug, Clone)]
struct Group {
    warehouse: usize,
    /// Range into `Index::lot_order`.
    lots: Range<usize>,
    reserve_level: i64,
    /// The cell's totals, when the snapshot was summarized (index into `cells`).
    cell: Option<usize>,
}

#[derive(Debug, Clone, Default)]
struct Index {
    min_days: HashMap<String, i32>,
    /// Per SKU, a range into `groups`.
    skus: HashMap<String, Range<usize>>,
    groups: Vec<Group>,
    /// Lot indices sorted by (SKU, warehouse, expiry with none last, lot code, id).
    lot_order: Vec<usize>,
}

impl Snapshot {
    /// Builds and indexes a snapshot. Cost O(n log n) in the number of lots, paid once; each
    /// plan then touches only the lots of the requested SKUs.
    pub fn new(
        items: Vec<ItemPolicy>,
        warehouses: Vec<WarehouseState>,
        lots: Vec<LotState>,
    ) -> Snapshot {
        Snapshot::summarized(items, warehouses, Vec::new(), lots)
    }

    /// A snapshot of large stock: each (warehouse, SKU) cell's totals, and only the lots
    /// that [`cell_stock`] keeps (see the `cells` module). A cell with totals takes its
    /// explanation's figures from them and picks from its lots; a cell without takes
    /// both from its lots, as in [`Snapshot::new`]. If a cell is listed twice the first
    /// wins.
    pub fn summarized(
        items: Vec<ItemPolicy>,
        warehouses: Vec<WarehouseState>,
        cells: Vec<CellStock>,
        lots: Vec<LotState>,
    ) -> Snapshot {
        let index = Index::build(&items, &warehouses, &lots, &cells);
        Snapshot {
            items,
            warehouses,
            lots,
            cells,
            index,
        }
    }

    /// The same snapshot with `lots` in place of its lots (the lots read for the cells'
    /// draws: see [`draws`]).
    pub fn with_lots(self, lots: Vec<LotState>) -> Snapshot {
        Snapshot::summarized(self.items, self.warehouses, self.cells, lots)
    }

    /// Item policies as given.
    pub fn items(&self) -> &[ItemPolicy] {
        &self.items
    }

    /// Warehouses as given.
    pub fn warehouses(&self) -> &[WarehouseState] {
        &self.warehouses
    }

    /// Lots as given.
    pub fn lots(&self) -> &[LotState] {
        &self.lots
    }
}

impl Index {
    fn build(
        items: &[ItemPolicy],
        warehouses: &[WarehouseState],
        lots: &[LotState],
        cells: &[CellStock],
    ) -> Index {
        let mut min_days = HashMap::with_capacity(items.len());
        for item in items {
            min_days.insert(item.sku.clone(), item.min_remaining_days.max(0));
        }
        // The first warehouse with a given id wins; ids are unique in the database.
        let mut wh_of: HashMap<Uuid, usize> = HashMap::with_capacity(warehouses.len());
        for (i, w) in warehouses.iter().enumerate() {
            wh_of.entry(w.id).or_insert(i);
        }
        let mut sku_ids: HashMap<&str, u32> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        // SKUs numbered in order of first appearance.
        fn number<'s>(
            ids: &mut HashMap<&'s str, u32>,
            names: &mut Vec<&'s str>,
            sku: &'s str,
        ) -> u32 {
            *ids.entry(sku).or_insert_with(|| {
                names.push(sku);
                u32::try_from(names.len() - 1).unwrap_or(u32::MAX)
            })
        }
        let mut keyed: Vec<(u32, usize, usize)> = Vec::with_capacity(lots.len());
        for (i, lot) in lots.iter().enumerate() {
            let Some(&w) = wh_of.get(&lot.warehouse_id) else {
                continue;
            };
            keyed.push((number(&mut sku_ids, &mut names, lot.sku.as_str()), w, i));
        }
        let mut cell_keys: Vec<(u32, usize, usize)> = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            let Some(&w) = wh_of.get(&cell.warehouse_id) else {
                continue;
            };
            cell_keys.push((number(&mut sku_ids, &mut names, cell.sku.as_str()), w, i));
        }
        keyed.sort_unstable_by(|a, b| {
            let (la, lb) = (&lots[a.2], &lots[b.2]);
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| fefo_key(la).cmp(&fefo_key(lb)))
        });
        cell_keys.sort_unstable();
        cell_keys.dedup_by_key(|k| (k.0, k.1));
        let mut levels: HashMap<(usize, &str), i64> = HashMap::new();
        for (i, w) in warehouses.iter().enumerate() {
            for (sku, level) in &w.reserve_levels {
                let slot = levels.entry((i, sku.as_str())).or_insert(0);
                *slot = (*slot).max(*level);
            }
        }

        // One group per (SKU, warehouse) that has lots or totals, in that order.
        let lot_order: Vec<usize> = keyed.iter().map(|k| k.2).collect();
        let mut groups: Vec<Group> = Vec::new();
        let mut skus = HashMap::with_capacity(names.len());
        let mut open: Option<(u32, usize)> = None; // the SKU being grouped, its first group
        let (mut li, mut ci) = (0, 0);
        loop {
            let lot_key = keyed.get(li).map(|k| (k.0, k.1));
            let cell_key = cell_keys.get(ci).map(|k| (k.0, k.1));
            let key = match (lot_key, cell_key) {
                (None, None) => break,
                (Some(k), None) | (None, Some(k)) => k,
                (Some(a), Some(b)) => a.min(b),
            };
            let start = li;
            while keyed.get(li).is_some_and(|k| (k.0, k.1) == key) {
                li += 1;
            }
            let cell = (cell_key == Some(key)).then(|| {
                ci += 1;
                cell_keys[ci - 1].2
            });
            match open {
                Some((sku, _)) if sku == key.0 => {}
                _ => {
                    if let Some((sku, first)) = open {
                        skus.insert(names[sku as usize].to_owned(), first..groups.len());
                    }
                    open = Some((key.0, groups.len()));
                }
            }
            let name = names[key.0 as usize];
            groups.push(Group {
                warehouse: key.1,
                lots: start..li,
                reserve_level: levels.get(&(key.1, name)).copied().unwrap_or(0).max(0),
                cell,
            });
        }
        if let Some((sku, first)) = open {
            skus.insert(names[sku as usize].to_owned(), first..groups.len());
        }
        Index {
            min_days,
            skus,
            groups,
            lot_order,
        }
    }
}

/// FEFO order within a warehouse: earliest expiry first, no-expiry last, then lot code, then id.
pub(crate) fn fefo_key(lot: &LotState) -> (bool, Option<NaiveDate>, &str, Uuid) {
    (
        lot.expires_on.is_none(),
        lot.expires_on,
        lot.lot_code.as_str(),
        lot.id,
    )
}

/// Overall outcome of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Every line is filled in full (also for an empty request).
    Reserved,
    /// Something is filled, not everything.
    PartiallyReserved,
    /// Nothing could be filled.
    Unfilled,
}

/// The plan for a whole request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// One line per distinct SKU, in order of first appearance in the request.
    pub lines: Vec<PlanLine>,
    /// Overall status.
    pub status: PlanStatus,
    /// The planning date in the deployment time zone: the day reserve floors were
    /// measured on (rule 3). A reservation re-checks the floors on the same day.
    pub today: NaiveDate,
}

/// The plan for one (merged) SKU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanLine {
    /// Item SKU.
    pub sku: String,
    /// Merged quantity requested (never negative).
    pub requested: i64,
    /// Σ picks.
    pub reserved: i64,
    /// requested − reserved.
    pub shortfall: i64,
    /// Picks, nearest warehouse first, FEFO within a warehouse.
    pub picks: Vec<Pick>,
    /// Warehouses holding the item that gave less than they hold, in the order considered
    /// (ETA, then code; unreachable last).
    pub explanation: Vec<Skipped>,
}

/// Quantity taken from one lot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pick {
    /// Warehouse id.
    pub warehouse_id: Uuid,
    /// Warehouse code.
    pub warehouse_code: String,
    /// Lot id.
    pub lot_id: Uuid,
    /// Lot code.
    pub lot_code: String,
    /// Lot expiry.
    pub expires_on: Option<NaiveDate>,
    /// Quantity taken (base units, > 0).
    pub qty: i64,
    /// The warehouse's ETA in minutes.
    pub eta_minutes: f64,
    /// The warehouse's road distance, when the caller gave it.
    pub distance_km: Option<f64>,
    /// Arrival (now + ETA) is after the delivery target.
    pub misses_target: bool,
    /// Arrival is after the delivery target or after `needed_by` (`rules::lateness`).
    pub late: bool,
}

/// A warehouse passed over (fully or in part) for one line, with the quantities behind the reason.
/// For a non-blocked warehouse, `held = taken + not taken usable stock + quarantined +
/// reserved_elsewhere + short_dated`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// Warehouse id.
    pub warehouse_id: Uuid,
    /// Warehouse code.
    pub warehouse_code: String,
    /// The primary reason.
    pub reason: SkipReason,
    /// The warehouse's ETA, if reachable.
    pub eta_minutes: Option<f64>,
    /// Σ on_hand over its lots of the item.
    pub held: i64,
    /// What this plan took from it.
    pub taken: i64,
    /// Σ available (on_hand − reserved) over its non-quarantined lots.
    pub available: i64,
    /// on_hand in quarantined lots.
    pub quarantined: i64,
    /// on_hand already reserved for others in non-quarantined lots.
    pub reserved_elsewhere: i64,
    /// Available quantity in lots expired or too close to expiry at arrival (0 when the arrival
    /// date is unknown because the warehouse is unreachable).
    pub short_dated: i64,
    /// Of `available`, what counts toward the reserve level: not expired and with the
    /// item's minimum remaining days left today (see `rules::level_stock`).
    pub counts_toward_level: i64,
    /// The reserve level for the item (applies to non-critical requests).
    pub reserve_level: i64,
    /// Usable stock held back by the reserve level in this plan.
    pub protected: i64,
}

/// Per-warehouse facts for this plan, computed once.
#[derive(Clone, Copy)]
struct Reach {
    block: Option<SkipReason>,
    eta: f64,
    arrival: Option<(DateTime<Utc>, NaiveDate)>,
}

/// Quantities of one (warehouse, SKU) cell, as used for the explanation.
#[derive(Default)]
struct Tally {
    held: i64,
    available: i64,
    quarantined: i64,
    reserved_elsewhere: i64,
    short_dated: i64,
    usable: i64,
    /// Σ `rules::level_stock`: what the reserve floor is measured against.
    counted: i64,
}

/// What a cell's lots hold, as an explanation states it: held, available, quarantined,
/// reserved for others, and what counts toward the reserve level (`rules::level_stock`).
/// The one lot-by-lot tally of the planner and the rationing solver.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Holding {
    pub(crate) held: i64,
    pub(crate) available: i64,
    pub(crate) quarantined: i64,
    pub(crate) reserved_elsewhere: i64,
    pub(crate) counted: i64,
}

impl Holding {
    /// Adds a lot; its available stock when it holds stock and is not quarantined.
    pub(crate) fn add(&mut self, lot: &LotState, today: NaiveDate, min_days: i32) -> Option<i64> {
        if lot.on_hand <= 0 {
            return None;
        }
        self.held = self.held.saturating_add(lot.on_hand);
        if lot.quarantined {
            self.quarantined = self.quarantined.saturating_add(lot.on_hand);
            return None;
        }
        let a = lot_available(lot);
        self.available = self.available.saturating_add(a);
        self.reserved_elsewhere = self.reserved_elsewhere.saturating_add(lot.on_hand - a);
        self.counted = self
            .counted
            .saturating_add(level_stock(lot, today, min_days));
        Some(a)
    }
}

impl Tally {
    /// The tally of a cell's lots, on arrival (when there is one) with `required`.
    fn of_lots<'a>(
        lots: impl Iterator<Item = &'a LotState>,
        arrival: Option<(DateTime<Utc>, NaiveDate)>,
        required: Option<NaiveDate>,
        today: NaiveDate,
        min_days: i32,
    ) -> Tally {
        let mut h = Holding::default();
        let (mut usable, mut short_dated) = (0i64, 0i64);
        for lot in lots {
            let Some(a) = h.add(lot, today, min_days) else {
                continue;
            };
            if arrival.is_some() {
                match lot_usable(lot, required) {
                    Ok(a) => usable = usable.saturating_add(a),
                    Err(SkipReason::ExpiredOrShortDated) => {
                        short_dated = short_dated.saturating_add(a)
                    }
                    Err(_) => {}
                }
            }
        }
        Tally {
            held: h.held,
            available: h.available,
            quarantined: h.quarantined,
            reserved_elsewhere: h.reserved_elsewhere,
            short_dated,
            usable,
            counted: h.counted,
        }
    }

    /// The tally of a cell from its totals: what is available and not short-dated is
    /// usable (see [`cell_stock`]).
    fn of_cell(cell: &CellStock, arrives: bool) -> Tally {
        let short_dated = if arrives { cell.short_dated } else { 0 };
        Tally {
            held: cell.held,
            available: cell.available,
            quarantined: cell.quarantined,
            reserved_elsewhere: cell.reserved,
            short_dated,
            usable: if arrives {
                cell.available.saturating_sub(short_dated).max(0)
            } else {
                0
            },
            counted: cell.available.saturating_sub(cell.short_dated_today).max(0),
        }
    }
}

/// Plans a request against a snapshot. See the module documentation for the rule.
pub fn plan(input: &PlanInput, snapshot: &Snapshot) -> Plan {
    plan_in(input, snapshot, None)
}

/// What a plan takes from one (warehouse, SKU) cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellDraw {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// The item.
    pub sku: String,
    /// Units the plan takes from the cell (> 0).
    pub qty: i64,
}

/// How much [`plan`] takes from each cell, decided from the cells' totals alone (a
/// snapshot from [`Snapshot::summarized`] may hold no lots at all): the plan takes from a
/// cell what its rule allows of the cell's usable stock, so the lots are needed only to
/// say which. Reading each cell's usable lots in FEFO order up to its draw
/// ([`cell_stock`] with the draw as demand) then gives the planner all it picks.
pub fn draws(input: &PlanInput, snapshot: &Snapshot) -> Vec<CellDraw> {
    let mut draws = Vec::new();
    plan_in(input, snapshot, Some(&mut draws));
    draws
}

/// [`plan`]; with `draws`, it records each cell's draw instead of picking lots.
fn plan_in(input: &PlanInput, snapshot: &Snapshot, mut draws: Option<&mut Vec<CellDraw>>) -> Plan {
    let index = &snapshot.index;
    let warehouses = &snapshot.warehouses;
    let critical = input.priority == Priority::Critical;
    let today = input.now.with_timezone(&input.tz).date_naive();

    // Merge lines by SKU, keeping first-appearance order.
    let mut merged: Vec<(&str, i64)> = Vec::with_capacity(input.lines.len());
    let mut pos: HashMap<&str, usize> = HashMap::with_capacity(input.lines.len());
    for line in input.lines {
        match pos.get(line.sku.as_str()) {
            Some(&i) => merged[i].1 = merged[i].1.saturating_add(line.qty),
            None => {
                pos.insert(line.sku.as_str(), merged.len());
                merged.push((line.sku.as_str(), line.qty));
            }
        }
    }

    // Reachability and arrival per warehouse, and the global nearest-first rank.
    let reach: Vec<Reach> = warehouses
        .iter()
        .map(|w| {
            let block = warehouse_block(w, input.include_affected_warehouses);
            let arrival = arrival(input.now, w.eta_minutes, input.tz);
            let block = match (block, arrival) {
                (None, None) => Some(SkipReason::Unreachable), // ETA overflows the calendar
                (b, _) => b,
            };
            Reach {
                block,
                eta: w
                    .eta_minutes
                    .filter(|e| e.is_finite() && *e >= 0.0)
                    .unwrap_or(f64::INFINITY),
                arrival,
            }
        })
        .collect();
    let mut by_rank: Vec<usize> = (0..warehouses.len()).collect();
    by_rank.sort_unstable_by(|&a, &b| {
        reach[a]
            .eta
            .total_cmp(&reach[b].eta)
            .then_with(|| warehouses[a].code.cmp(&warehouses[b].code))
            .then_with(|| warehouses[a].id.cmp(&warehouses[b].id))
            .then(a.cmp(&b))
    });
    let mut rank = vec![0usize; warehouses.len()];
    for (r, &w) in by_rank.iter().enumerate() {
        rank[w] = r;
    }

    let mut order: Vec<usize> = Vec::new();
    let mut lines = Vec::with_capacity(merged.len());
    for (sku, qty) in merged {
        let requested = qty.max(0);
        let min_days = index.min_days.get(sku).copied().unwrap_or(0);
        let groups = index
            .skus
            .get(sku)
            .map_or(&[][..], |r| &index.groups[r.clone()]);
        order.clear();
        order.extend(0..groups.len());
        order.sort_unstable_by_key(|&g| rank[groups[g].warehouse]);

        let mut remaining = requested;
        let mut picks = Vec::new();
        let mut explanation = Vec::new();
        for &g in &order {
            let group = &groups[g];
            let w = &warehouses[group.warehouse];
            let r = reach[group.warehouse];
            let required = r
                .arrival
                .and_then(|(_, date)| required_expiry(date, min_days));
            let lots = &index.lot_order[group.lots.clone()];

            let t = match group.cell {
                Some(c) => Tally::of_cell(&snapshot.cells[c], r.arrival.is_some()),
                None => Tally::of_lots(
                    lots.iter().map(|&l| &snapshot.lots[l]),
                    r.arrival,
                    required,
                    today,
                    min_days,
                ),
            };
            if t.held == 0 {
                continue; // holds nothing: neither a source nor worth explaining
            }

            let reserve_level = group.reserve_level;
            let mut taken = 0i64;
            let mut protected = 0i64;
            if r.block.is_none() {
                let cap = drawable(t.usable, t.counted, reserve_level, critical);
                protected = t.usable - cap;
                let mut want = cap.min(remaining);
                if let Some(draws) = draws.as_deref_mut() {
                    if want > 0 {
                        draws.push(CellDraw {
                            warehouse_id: w.id,
                            sku: sku.to_owned(),
                            qty: want,
                        });
                    }
                    taken = want;
                    want = 0;
                }
                let eta = r.eta;
                let lateness = r.arrival.map_or_else(Lateness::default, |(at, _)| {
                    lateness(input.now, at, input.needed_by, input.delivery_target)
                });
                for &l in lots {
                    if want == 0 {
                        break;
                    }
                    let lot = &snapshot.lots[l];
                    if lot.on_hand <= 0 {
                        continue;
                    }
                    let Ok(a) = lot_usable(lot, required) else {
                        continue;
                    };
                    let q = a.min(want);
                    want -= q;
                    taken += q;
                    picks.push(Pick {
                        warehouse_id: w.id,
                        warehouse_code: w.code.clone(),
                        lot_id: lot.id,
                        lot_code: lot.lot_code.clone(),
                        expires_on: lot.expires_on,
                        qty: q,
                        eta_minutes: eta,
                        distance_km: w.distance_km,
                        misses_target: lateness.misses_target,
                        late: lateness.late(),
                    });
                }
                remaining -= taken;
            }

            if taken < t.held {
                let reason = match r.block {
                    Some(b) => b,
                    None if remaining == 0 && t.usable > taken => SkipReason::NotNeeded,
                    None if protected > 0 => SkipReason::ReserveLevel,
                    None => lot_reason(&t),
                };
                explanation.push(Skipped {
                    warehouse_id: w.id,
                    warehouse_code: w.code.clone(),
                    reason,
                    eta_minutes: w.eta_minutes,
                    held: t.held,
                    taken,
                    available: t.available,
                    quarantined: t.quarantined,
                    reserved_elsewhere: t.reserved_elsewhere,
                    short_dated: t.short_dated,
                    counts_toward_level: t.counted,
                    reserve_level,
                    protected,
                });
            }
        }
        let reserved = requested - remaining;
        lines.push(PlanLine {
            sku: sku.to_owned(),
            requested,
            reserved,
            shortfall: remaining,
            picks,
            explanation,
        });
    }

    let status = if lines.iter().all(|l| l.shortfall == 0) {
        PlanStatus::Reserved
    } else if lines.iter().any(|l| l.reserved > 0) {
        PlanStatus::PartiallyReserved
    } else {
        PlanStatus::Unfilled
    };
    Plan {
        lines,
        status,
        today,
    }
}

/// The lot-level reason with the most stock behind it; on equal quantities, expiry first, then
/// quarantine, then reservations (the order a stock controller would look into them).
fn lot_reason(t: &Tally) -> SkipReason {
    let mut best = (SkipReason::ExpiredOrShortDated, t.short_dated);
    for candidate in [
        (SkipReason::Quarantined, t.quarantined),
        (SkipReason::FullyReserved, t.reserved_elsewhere),
    ] {
        if candidate.1 > best.1 {
            best = candidate;
        }
    }
    best.0
}

#[cfg(test)]
mod tests;
