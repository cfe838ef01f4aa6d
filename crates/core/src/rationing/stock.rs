//! The stock a rationing round shares, indexed once: warehouses in (code, id) order, SKUs
//! in name order, (SKU, warehouse) cells with their reserve level, and the lots grouped
//! by cell in first-expiry-first-out order. Every item of a round is planned over this
//! one index; nothing is copied per item or per incident.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Range;

use uuid::Uuid;

use crate::planner::{ItemPolicy, fefo_key};
use crate::rules::{LotState, WarehouseState};

/// A (SKU, warehouse) cell: its lots and its reserve level.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    /// Index into [`Stock::warehouses`].
    pub(crate) warehouse: u32,
    /// Range into [`Stock::lots`], in FEFO order.
    pub(crate) lots: Range<usize>,
    /// Reserve level, ≥ 0 (the highest listed for the cell).
    pub(crate) level: i64,
}

/// The stock at one instant: item policies, warehouses with their reserve levels, and
/// lots, indexed once for a whole round (see [`super::solve`]). Building costs
/// O(L log L) for L lots; memory is the lots themselves plus a few indices per lot.
#[derive(Debug, Clone)]
pub struct Stock {
    /// Canonical order: (code, id); the first listing of an id wins.
    pub(crate) warehouses: Vec<WarehouseState>,
    pub(crate) warehouse_of: HashMap<Uuid, u32>,
    /// SKU name → index into `min_days` and `sku_cells`.
    pub(crate) sku_of: HashMap<String, u32>,
    /// Minimum remaining days per SKU (≥ 0; the largest when an item is listed twice).
    pub(crate) min_days: Vec<i32>,
    /// Per SKU, a range into `cells`.
    pub(crate) sku_cells: Vec<Range<usize>>,
    /// Sorted by (SKU, warehouse).
    pub(crate) cells: Vec<Cell>,
    /// Sorted by (SKU, warehouse, FEFO); lots of unknown warehouses are dropped.
    pub(crate) lots: Vec<LotState>,
}

impl Stock {
    /// Indexes the stock. `warehouses` give each warehouse's identity, code, and reserve
    /// levels (the same list the single-request planner's snapshot takes); how a
    /// warehouse is seen from each incident comes with the incident
    /// ([`super::Incident::warehouses`]).
    pub fn new(
        items: Vec<ItemPolicy>,
        mut warehouses: Vec<WarehouseState>,
        lots: Vec<LotState>,
    ) -> Stock {
        warehouses.sort_by(|a, b| a.code.cmp(&b.code).then(a.id.cmp(&b.id)));
        let mut warehouse_of: HashMap<Uuid, u32> = HashMap::with_capacity(warehouses.len());
        let mut kept = Vec::with_capacity(warehouses.len());
        for w in warehouses {
            if let Entry::Vacant(slot) = warehouse_of.entry(w.id) {
                slot.insert(index_u32(kept.len()));
                kept.push(w);
            }
        }
        let warehouses = kept;

        // SKU names, deduplicated through a map (not by sorting every lot's name), then
        // numbered in name order.
        let sku_of: HashMap<String, u32> = {
            let mut seen: HashMap<&str, ()> = HashMap::new();
            for sku in items
                .iter()
                .map(|i| &i.sku)
                .chain(lots.iter().map(|l| &l.sku))
            {
                seen.entry(sku.as_str()).or_default();
            }
            let mut names: Vec<&str> = seen.into_keys().collect();
            names.sort_unstable();
            names
                .iter()
                .enumerate()
                .map(|(i, s)| ((*s).to_owned(), index_u32(i)))
                .collect()
        };
        let n_skus = sku_of.len();
        let mut min_days = vec![0i32; n_skus];
        for item in &items {
            if let Some(&s) = sku_of.get(item.sku.as_str()) {
                let d = &mut min_days[s as usize];
                *d = (*d).max(item.min_remaining_days.max(0));
            }
        }

        // Sort small keys, then move each lot once into its place.
        let mut keyed: Vec<(u32, u32, u32)> = Vec::with_capacity(lots.len());
        for (i, lot) in lots.iter().enumerate() {
            let (Some(&w), Some(&s)) = (
                warehouse_of.get(&lot.warehouse_id),
                sku_of.get(lot.sku.as_str()),
            ) else {
                continue;
            };
            keyed.push((s, w, index_u32(i)));
        }
        keyed.sort_unstable_by(|a, b| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| fefo_key(&lots[a.2 as usize]).cmp(&fefo_key(&lots[b.2 as usize])))
        });
        let mut slots: Vec<Option<LotState>> = lots.into_iter().map(Some).collect();
        let keyed: Vec<(u32, u32, LotState)> = keyed
            .into_iter()
            .filter_map(|(s, w, i)| Some((s, w, slots[i as usize].take()?)))
            .collect();

        let mut levels: HashMap<(u32, u32), i64> = HashMap::new();
        for (w, state) in warehouses.iter().enumerate() {
            for (sku, level) in &state.reserve_levels {
                if let Some(&s) = sku_of.get(sku.as_str()) {
                    let slot = levels.entry((s, index_u32(w))).or_insert(0);
                    *slot = (*slot).max(*level);
                }
            }
        }

        let mut cells: Vec<Cell> = Vec::new();
        let mut sku_cells = vec![0..0; n_skus];
        let mut sorted = Vec::with_capacity(keyed.len());
        let mut open: Option<(u32, u32)> = None;
        for (s, w, lot) in keyed {
            if open != Some((s, w)) {
                if sku_cells[s as usize].is_empty() {
                    sku_cells[s as usize] = cells.len()..cells.len();
                }
                sku_cells[s as usize].end = cells.len() + 1;
                cells.push(Cell {
                    warehouse: w,
                    lots: sorted.len()..sorted.len(),
                    level: levels.get(&(s, w)).copied().unwrap_or(0).max(0),
                });
                open = Some((s, w));
            }
            if let Some(cell) = cells.last_mut() {
                cell.lots.end = sorted.len() + 1;
            }
            sorted.push(lot);
        }
        Stock {
            warehouses,
            warehouse_of,
            sku_of,
            min_days,
            sku_cells,
            cells,
            lots: sorted,
        }
    }

    /// Warehouses, in (code, id) order.
    pub fn warehouses(&self) -> &[WarehouseState] {
        &self.warehouses
    }

    /// Lots, in (SKU, warehouse, FEFO) order.
    pub fn lots(&self) -> &[LotState] {
        &self.lots
    }

    /// The item's minimum remaining days (0 for SKUs without a policy).
    pub(crate) fn min_days_of(&self, sku: &str) -> i32 {
        self.sku_of
            .get(sku)
            .map_or(0, |&s| self.min_days[s as usize])
    }

    /// The cells of a SKU, in warehouse order.
    pub(crate) fn cells_of(&self, sku: &str) -> &[Cell] {
        self.sku_of.get(sku).map_or(&[][..], |&s| {
            &self.cells[self.sku_cells[s as usize].clone()]
        })
    }
}

/// An index as `u32` (a snapshot holds far fewer than 2³² of anything).
pub(crate) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
