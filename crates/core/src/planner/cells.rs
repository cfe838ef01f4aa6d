//! What the planner needs of a (warehouse, SKU) cell when the stock is large: its totals,
//! kept by the database, and only the lots that can matter, instead of every lot.
//!
//! A plan needs of each cell (a) the totals its explanation states (held, quarantined,
//! available, reserved for others, short-dated on arrival), and (b) the lots it may
//! pick, in first-expiry-first-out order. The planner never takes more from a cell than
//! the request's demand for the item, so (b) can stop at the first lot where the usable
//! lots read so far cover that demand. [`cell_stock`] states exactly what a cell gives
//! the planner; `Snapshot::summarized` plans on it, and the property test
//! `a_plan_on_cell_totals_and_cut_lots_equals_a_plan_on_every_lot` proves that the plan
//! is the plan made from every lot. The database returns the same through
//! `stock_cells` and `stock_fefo_lots` (migration `stock_cells`); a differential test in
//! the service proves it returns what [`cell_stock`] does.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fefo_key;
use crate::rules::{LotState, SkipReason, lot_available, lot_usable};

/// A cell's totals, as the planner's explanation states them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellStock {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// The item.
    pub sku: String,
    /// Σ on_hand over every lot.
    pub held: i64,
    /// Σ on_hand over quarantined lots.
    pub quarantined: i64,
    /// Σ available (on_hand − reserved) over non-quarantined lots.
    pub available: i64,
    /// Σ reserved over non-quarantined lots.
    pub reserved: i64,
    /// Σ available over non-quarantined lots expired or too close to expiry on arrival
    /// (0 when the warehouse has no arrival date: it is unreachable).
    pub short_dated: i64,
    /// Σ available over non-quarantined lots expired, or with less than the item's
    /// minimum remaining days left, today: stock on the shelf that does not count toward
    /// the reserve level ([`crate::rules::level_stock`]).
    pub short_dated_today: i64,
}

/// What the database gives the planner for one cell: its totals, and its lots usable on
/// arrival in FEFO order up to and including the first at which their available stock
/// covers `demand` (none when `demand <= 0` or there is no arrival date).
///
/// `required` is `None` when the warehouse has no arrival date (unreachable); otherwise
/// it is [`crate::rules::required_expiry`] of the arrival date, itself `None` when that
/// is beyond the calendar (then only lots that never expire are usable). `today_required`
/// is [`crate::rules::required_expiry`] of today: lots not usable on it do not count
/// toward the reserve level. `lots` are the cell's lots, in any order.
pub fn cell_stock(
    warehouse_id: Uuid,
    sku: &str,
    lots: &[LotState],
    required: Option<Option<NaiveDate>>,
    today_required: Option<NaiveDate>,
    demand: i64,
) -> (CellStock, Vec<LotState>) {
    let mut cell = CellStock {
        warehouse_id,
        sku: sku.to_owned(),
        held: 0,
        quarantined: 0,
        available: 0,
        reserved: 0,
        short_dated: 0,
        short_dated_today: 0,
    };
    for lot in lots {
        let on_hand = lot.on_hand.max(0);
        cell.held = cell.held.saturating_add(on_hand);
        if lot.quarantined {
            cell.quarantined = cell.quarantined.saturating_add(on_hand);
            continue;
        }
        let a = lot_available(lot);
        cell.available = cell.available.saturating_add(a);
        cell.reserved = cell.reserved.saturating_add(on_hand - a);
        if let Err(SkipReason::ExpiredOrShortDated) = lot_usable(lot, today_required) {
            cell.short_dated_today = cell.short_dated_today.saturating_add(a);
        }
        if let Some(required) = required
            && let Err(SkipReason::ExpiredOrShortDated) = lot_usable(lot, required)
        {
            cell.short_dated = cell.short_dated.saturating_add(a);
        }
    }
    let mut usable: Vec<&LotState> = match required {
        Some(required) => lots
            .iter()
            .filter(|l| lot_usable(l, required).is_ok())
            .collect(),
        None => Vec::new(),
    };
    usable.sort_unstable_by(|a, b| fefo_key(a).cmp(&fefo_key(b)));
    let mut covered = 0i64;
    let mut cut = Vec::new();
    for lot in usable {
        if covered >= demand {
            break;
        }
        covered = covered.saturating_add(lot_available(lot));
        cut.push(lot.clone());
    }
    (cell, cut)
}
