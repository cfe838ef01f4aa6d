//! The rotation planner (轮换): for each lot that expires soon, one action that keeps it
//! from being written off on the shelf, and what to procure so that its cell keeps its
//! level.
//!
//! The rule (terms as in [`super`]):
//! 1. **Lots.** Every lot of an active warehouse that is not an agreement store (partner
//!    stock is rotated by the partner), not quarantined, with available stock, that expires
//!    on or before `today + within_days` (`within_days` at most [`MAX_WITHIN_DAYS`]; larger
//!    values are clamped, and the service rejects them). Its quantity is its available
//!    stock; reserved units are promised to requests and leave with them. Lots are taken
//!    network-wide first-expiry-first-out: expiry, then warehouse code, lot code, id.
//! 2. **Expired already** (expiry before `today`): write off today.
//! 3. **Transfer** to the nearest destination cell of the SKU (a cell below its level, as
//!    replenishment defines it, in another warehouse) that still needs stock and at which the
//!    lot is usable on arrival with the destination tier's days: it will be consumed there
//!    first. Nearest by travel time from the lot's warehouse, equal times by code. It takes
//!    `min(qty, need left)`, and what it takes is no longer needed by later lots. Rotation
//!    moves stock that would expire anyway, so it does not keep the source's reserve floor:
//!    `replacement_qty` restores it.
//! 4. Otherwise, or for what a transfer leaves (the `remainder`): **issue** to a consumer
//!    (hospitals, schools), recorded as an issue with reason `rotation`, if the lot still
//!    has at least `issue_min_days` left (default [`DEFAULT_ISSUE_MIN_DAYS`]) by
//!    `issue_by = expiry − issue_min_days`;
//! 5. otherwise **write off** the day after expiry, when it has expired.
//! 6. **Replacement**: the lot's units leave its cell whatever the action. Taking a cell's
//!    lots in FEFO order, `replacement_qty` is how far the lot's leaving deepens the cell's
//!    deficit below its level: `max(0, level − have_after) − max(0, level − have_before)`,
//!    where `have` is level stock + in transit and the lot takes away what it counts toward
//!    the level (`rules::level_stock`). A lot that no longer counts (already expired or
//!    short-dated) needs none here: the cell is already short and replenishment refills it.
//!
//! The rotation plan stands alone: it does not see a replenishment plan, and committing
//! either changes the stock in transit that the other reads.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Snapshot;
use crate::planner::fefo_key;
use crate::rules::{arrival_day, expired, level_stock, lot_available, lot_usable, required_expiry};

/// The longest look-ahead the rotation plan accepts, in days.
pub const MAX_WITHIN_DAYS: u32 = 365;

/// Default days of shelf life a lot must still have to be issued to a consumer: a month
/// for a hospital or school to use it (a product assumption; configure it).
pub const DEFAULT_ISSUE_MIN_DAYS: u32 = 30;

/// The reason recorded on a rotation issue.
pub const ROTATION_REASON: &str = "rotation";

/// How far ahead to look, and when an issue is still worth making.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    /// Lots expiring on or before `today + within_days` (clamped to [`MAX_WITHIN_DAYS`]).
    pub within_days: u32,
    /// Days of shelf life a lot must still have to be issued.
    pub issue_min_days: u32,
}

impl RotationPolicy {
    /// A policy looking `within_days` ahead, with the default issue minimum.
    pub fn new(within_days: u32) -> RotationPolicy {
        RotationPolicy {
            within_days,
            issue_min_days: DEFAULT_ISSUE_MIN_DAYS,
        }
    }
}

/// The rotation plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RotationPlan {
    /// The planning date.
    pub today: NaiveDate,
    /// The last expiry date included: `today + within_days`.
    pub horizon: NaiveDate,
    /// One line per lot, in the order planned (rule 1).
    pub lots: Vec<RotationLine>,
    /// Quantity expiring per month, warehouse and category (or SKU), for the calendar.
    pub calendar: Vec<ExpiryBucket>,
    /// Lots whose action is a transfer or an issue.
    pub saved_from_write_off: usize,
    /// Lots whose action is a write-off.
    pub written_off: usize,
    /// Units transferred or issued (remainders included).
    pub saved_qty: i64,
    /// Units written off (remainders included).
    pub written_off_qty: i64,
}

/// One expiring lot and what to do with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RotationLine {
    /// The lot.
    pub lot_id: Uuid,
    /// Its code.
    pub lot_code: String,
    /// Its warehouse.
    pub warehouse_id: Uuid,
    /// The warehouse code.
    pub warehouse_code: String,
    /// Its item.
    pub sku: String,
    /// Its expiry (usable through this date).
    pub expires_on: NaiveDate,
    /// Its available stock: the units the actions cover.
    pub qty: i64,
    /// The action proposed.
    pub action: RotationAction,
    /// For a transfer of less than `qty`: what happens to the rest (an issue or a
    /// write-off).
    pub remainder: Option<RotationAction>,
    /// Units to procure so that the cell keeps its level (rule 6).
    pub replacement_qty: i64,
}

/// What to do with (part of) an expiring lot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RotationAction {
    /// Move it to a warehouse that needs it and will consume it first.
    Transfer {
        /// Destination warehouse.
        to_id: Uuid,
        /// Its code.
        to_code: String,
        /// Units.
        qty: i64,
        /// Travel minutes.
        eta_minutes: f64,
        /// Arrival date the plan judged expiry on.
        arrives_on: NaiveDate,
    },
    /// Issue it to a consumer (hospitals, schools).
    Issue {
        /// Recorded reason: [`ROTATION_REASON`].
        reason: String,
        /// Units.
        qty: i64,
        /// The last day it can be issued with `issue_min_days` left.
        issue_by: NaiveDate,
    },
    /// Write it off.
    WriteOff {
        /// Units.
        qty: i64,
        /// The day it is expired (today, for a lot already expired).
        on: NaiveDate,
    },
}

impl RotationAction {
    /// Units the action covers.
    pub fn qty(&self) -> i64 {
        match self {
            RotationAction::Transfer { qty, .. }
            | RotationAction::Issue { qty, .. }
            | RotationAction::WriteOff { qty, .. } => *qty,
        }
    }

    /// Whether it writes the stock off.
    pub fn is_write_off(&self) -> bool {
        matches!(self, RotationAction::WriteOff { .. })
    }
}

/// Quantity expiring in one month at one warehouse, of one category (or SKU).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiryBucket {
    /// `YYYY-MM` of the expiry date.
    pub month: String,
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// Its code.
    pub warehouse_code: String,
    /// The item's category, or its SKU when it has none.
    pub group: String,
    /// Σ available stock of the lots.
    pub qty: i64,
    /// Number of lots.
    pub lots: u32,
}

/// Plans the rotation of the lots expiring within `policy.within_days`. See the module
/// documentation for the rule.
pub fn plan(snap: &Snapshot, policy: &RotationPolicy) -> RotationPlan {
    let today = snap.today;
    let within = policy.within_days.min(MAX_WITHIN_DAYS);
    let horizon = today
        .checked_add_days(Days::new(u64::from(within)))
        .unwrap_or(NaiveDate::MAX);
    let issue_days = i32::try_from(policy.issue_min_days).unwrap_or(i32::MAX);
    let issue_required = required_expiry(today, issue_days);

    // Rule 1: the lots, network-wide FEFO.
    let mut picked: Vec<(NaiveDate, usize, usize)> = Vec::new(); // (expiry, cell, lot)
    for (c, cell) in snap.cells.iter().enumerate() {
        if !snap.can_supply(cell.warehouse) {
            continue;
        }
        for l in cell.lots.clone() {
            let lot = &snap.lots[l];
            if let Some(e) = lot.expires_on
                && e <= horizon
                && !lot.quarantined
                && lot_available(lot) > 0
            {
                picked.push((e, c, l));
            }
        }
    }
    picked.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(snap.cells[a.1].warehouse.cmp(&snap.cells[b.1].warehouse))
            .then_with(|| fefo_key(&snap.lots[a.2]).cmp(&fefo_key(&snap.lots[b.2])))
    });

    // Destination cells per SKU, and what they still need.
    let mut dests: Vec<Vec<usize>> = vec![Vec::new(); snap.skus.len()];
    let mut need_left = vec![0i64; snap.cells.len()];
    let mut have_left = vec![0i64; snap.cells.len()];
    for (c, cell) in snap.cells.iter().enumerate() {
        need_left[c] = snap.need(c);
        if need_left[c] > 0 {
            dests[cell.sku as usize].push(c);
        }
        have_left[c] = cell.have();
    }

    let mut lines = Vec::with_capacity(picked.len());
    let mut calendar: BTreeMap<(String, u32, &str), (i64, u32)> = BTreeMap::new();
    for (e, c, l) in picked {
        let cell = &snap.cells[c];
        let lot = &snap.lots[l];
        let sku = &snap.skus[cell.sku as usize];
        let wh = &snap.warehouses[cell.warehouse as usize];
        let qty = lot_available(lot);

        // Rule 6.
        let before = have_left[c];
        let after = before.saturating_sub(level_stock(lot, today, sku.min_days));
        have_left[c] = after;
        let deficit = |have: i64| cell.level.saturating_sub(have).max(0);
        let replacement_qty = deficit(after).saturating_sub(deficit(before));

        let fallback = |q: i64| -> RotationAction {
            match e.checked_sub_days(Days::new(u64::from(policy.issue_min_days))) {
                Some(issue_by) if lot_usable(lot, issue_required).is_ok() => {
                    RotationAction::Issue {
                        reason: ROTATION_REASON.to_owned(),
                        qty: q,
                        issue_by,
                    }
                }
                _ => RotationAction::WriteOff {
                    qty: q,
                    on: e.succ_opt().unwrap_or(e),
                },
            }
        };
        let (action, remainder) = if expired(Some(e), today) {
            (RotationAction::WriteOff { qty, on: today }, None)
        } else {
            // Rule 3: the nearest destination that needs it and gets it usable.
            let mut best: Option<(f64, u32, usize, NaiveDate)> = None;
            for &dc in &dests[cell.sku as usize] {
                let dw = snap.cells[dc].warehouse;
                if need_left[dc] <= 0 || dw == cell.warehouse {
                    continue;
                }
                let Some(eta) = snap.eta(cell.warehouse, dw) else {
                    continue;
                };
                let Some(arrival) = arrival_day(today, Some(eta)) else {
                    continue;
                };
                if best.is_some_and(|b| b.0.total_cmp(&eta).then(b.1.cmp(&dw)).is_le()) {
                    continue;
                }
                let required = required_expiry(arrival, snap.required_days(dc));
                if lot_usable(lot, required).is_ok() {
                    best = Some((eta, dw, dc, arrival));
                }
            }
            match best {
                Some((eta, dw, dc, arrives_on)) => {
                    let q = qty.min(need_left[dc]);
                    need_left[dc] -= q;
                    let to = &snap.warehouses[dw as usize];
                    (
                        RotationAction::Transfer {
                            to_id: to.id,
                            to_code: to.code.clone(),
                            qty: q,
                            eta_minutes: eta,
                            arrives_on,
                        },
                        (q < qty).then(|| fallback(qty - q)),
                    )
                }
                None => (fallback(qty), None),
            }
        };

        let slot = calendar
            .entry((
                format!("{:04}-{:02}", e.year(), e.month()),
                cell.warehouse,
                sku.category.as_deref().unwrap_or(sku.name.as_str()),
            ))
            .or_default();
        slot.0 = slot.0.saturating_add(qty);
        slot.1 += 1;

        lines.push(RotationLine {
            lot_id: lot.id,
            lot_code: lot.lot_code.clone(),
            warehouse_id: wh.id,
            warehouse_code: wh.code.clone(),
            sku: sku.name.clone(),
            expires_on: e,
            qty,
            action,
            remainder,
            replacement_qty,
        });
    }

    let mut saved_qty = 0i64;
    let mut written_off_qty = 0i64;
    for a in lines
        .iter()
        .flat_map(|l| std::iter::once(&l.action).chain(l.remainder.as_ref()))
    {
        if a.is_write_off() {
            written_off_qty = written_off_qty.saturating_add(a.qty());
        } else {
            saved_qty = saved_qty.saturating_add(a.qty());
        }
    }
    let written_off = lines.iter().filter(|l| l.action.is_write_off()).count();
    RotationPlan {
        today,
        horizon,
        saved_from_write_off: lines.len() - written_off,
        written_off,
        saved_qty,
        written_off_qty,
        lots: lines,
        calendar: calendar
            .into_iter()
            .map(|((month, w, group), (qty, lots))| {
                let wh = &snap.warehouses[w as usize];
                ExpiryBucket {
                    month,
                    warehouse_id: wh.id,
                    warehouse_code: wh.code.clone(),
                    group: group.to_owned(),
                    qty,
                    lots,
                }
            })
            .collect(),
    }
}
