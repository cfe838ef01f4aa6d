//! The replenishment planner: which lots to move between warehouses so that every cell
//! below its reserve level is refilled, and what no source can cover.
//!
//! The rule is public so that anyone can check a plan (terms as in [`super`]):
//! 1. **Destinations.** A cell is a destination when its warehouse is active and not an
//!    agreement store (partner capacity, never refilled with owned stock), its level is
//!    above 0, it is in the [`Scope`], and `have = Σ level_stock + in transit < level`. It
//!    needs `refill_to − have` (`refill_to`: the target if set and above the level, else
//!    the level). In-transit stock is already on its way and is never proposed again.
//! 2. **Order of destinations**: fill ratio `have / level` ascending (the emptiest first);
//!    then tier, community points first ([`Tier::destination_rank`]); then warehouse code,
//!    then SKU. Earlier destinations draw on sources first.
//! 3. **Sources.** A warehouse supplies only if it is active, is not an agreement store
//!    (partner capacity, not owned lots), and is reachable: it has a travel time to the
//!    destination, which fixes the arrival date `today + ⌈eta / 1440⌉` days
//!    ([`crate::rules::arrival_day`]). A source gives a SKU at most its *surplus*:
//!    `Σ level_stock − refill_to` of its own cell (0 if negative; a warehouse with no level
//!    for the SKU has level 0), less what earlier destinations of this plan took from it.
//!    So no source ever goes below its own `max(level, target)`, and a destination (below
//!    its level) is never a source of that SKU.
//! 4. **Order of sources** for a destination: its parent first, then every other warehouse
//!    by travel time to the destination ascending, equal times by warehouse code.
//! 5. **Picks**: within a source, first-expiry-first-out (no-expiry lots last, then lot
//!    code) among its lots usable on arrival at the destination: not quarantined, with
//!    available stock not taken by earlier picks of this plan, and expiring on or after
//!    *arrival date + max(item's minimum remaining days, destination tier's days)*
//!    ([`super::TierPolicy`]). Each source gives `min(surplus left, need left)` if its
//!    usable lots hold that much, else all they hold; the walk stops when the need is met.
//! 6. **Shortfall**: what the walk leaves of the need goes on the procurement list, per SKU.
//! 7. **Explanation**: every source passed over, or drawn on for less than it could give,
//!    before the need was met is listed once with one reason ([`SourceSkip`]): the parent
//!    always, and any other warehouse that holds surplus of the SKU, or would but for
//!    quarantined stock. Warehouses with no surplus at all are not listed (they never could
//!    give), nor are those after the source that met the need.
//!
//! Invariants: deterministic and independent of input order; a lot never gives more than
//! its available stock; per destination `planned + shortfall = need`; Σ transfer lines =
//! Σ planned.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::{Scope, Snapshot, Tier};
use crate::rules::{arrival_day, level_stock, lot_available, lot_usable, required_expiry};

/// A replenishment plan for the whole network (or a scope of it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplenishmentPlan {
    /// The planning date.
    pub today: NaiveDate,
    /// Every destination, in the order planned (rule 2).
    pub destinations: Vec<Destination>,
    /// One transfer per (source, destination), by source code then destination code.
    pub transfers: Vec<Transfer>,
    /// What no source could cover, per SKU in SKU order.
    pub procurement: Vec<Procurement>,
}

/// One destination cell and how it is refilled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Destination {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// Its code.
    pub warehouse_code: String,
    /// Its tier.
    pub tier: Tier,
    /// The item.
    pub sku: String,
    /// The cell's reserve level.
    pub level: i64,
    /// What it is refilled to (target, or level).
    pub refill_to: i64,
    /// Σ level_stock of its lots today.
    pub level_stock: i64,
    /// Units in transit to it.
    pub inbound: i64,
    /// `refill_to − (level_stock + inbound)`.
    pub need: i64,
    /// Σ of `sources`.
    pub planned: i64,
    /// `need − planned`.
    pub shortfall: i64,
    /// Days of shelf life a lot must have on arrival here.
    pub min_remaining_days_on_arrival: i32,
    /// What each source gives, in the order drawn.
    pub sources: Vec<SourceTake>,
    /// Sources passed over or drawn on for less than they could give (rule 7).
    pub skipped: Vec<SkippedSource>,
}

/// What one source gives one destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceTake {
    /// The source warehouse.
    pub warehouse_id: Uuid,
    /// Its code.
    pub warehouse_code: String,
    /// Whether it is the destination's parent.
    pub parent: bool,
    /// Units given (> 0).
    pub qty: i64,
    /// Travel minutes to the destination.
    pub eta_minutes: f64,
}

/// Why a source gave a destination less than the destination still needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceSkip {
    /// The warehouse is inactive.
    Inactive,
    /// An agreement store: partner capacity, never a source.
    AgreementStock,
    /// No travel time to the destination.
    Unreachable,
    /// Its usable stock is at or below its own `max(level, target)`, or earlier
    /// destinations of this plan took its surplus (`taken_earlier`).
    NoSurplus,
    /// No surplus, but there would be some if its quarantined stock were released.
    Quarantined,
    /// It has surplus, but its lots would arrive with too few days of shelf life left.
    ShortDatedOnArrival,
}

/// A source passed over for one destination, with the quantities behind the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedSource {
    /// The source warehouse.
    pub warehouse_id: Uuid,
    /// Its code.
    pub warehouse_code: String,
    /// The reason.
    pub reason: SourceSkip,
    /// Whether it is the destination's parent.
    pub parent: bool,
    /// Travel minutes to the destination, if reachable.
    pub eta_minutes: Option<f64>,
    /// Σ level_stock of its cell today, before this plan.
    pub level_stock: i64,
    /// What it keeps: `max(level, target)` of its cell.
    pub keep: i64,
    /// What earlier destinations of this plan took from it.
    pub taken_earlier: i64,
    /// on_hand in its quarantined lots.
    pub quarantined: i64,
    /// Level stock it still had that would arrive short-dated (counted only for
    /// `ShortDatedOnArrival`).
    pub short_dated_on_arrival: i64,
    /// What it gave this destination.
    pub taken: i64,
}

/// The lots one source sends one destination: one transfer when committed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transfer {
    /// Source warehouse.
    pub from_id: Uuid,
    /// Source code.
    pub from_code: String,
    /// Destination warehouse.
    pub to_id: Uuid,
    /// Destination code.
    pub to_code: String,
    /// Travel minutes.
    pub eta_minutes: f64,
    /// The arrival date the plan judged expiry on.
    pub arrives_on: NaiveDate,
    /// Lots, in the order picked (destination order, then FEFO).
    pub lines: Vec<TransferLine>,
}

/// Units of one lot in a transfer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferLine {
    /// The lot.
    pub lot_id: Uuid,
    /// Its item.
    pub sku: String,
    /// Its code.
    pub lot_code: String,
    /// Its expiry.
    pub expires_on: Option<NaiveDate>,
    /// Units (> 0).
    pub qty: i64,
}

/// What to procure of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Procurement {
    /// The item.
    pub sku: String,
    /// Σ shortfall over its destinations.
    pub shortfall: i64,
    /// Per destination, by warehouse code.
    pub destinations: Vec<ProcurementNeed>,
}

/// One destination's shortfall of a SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcurementNeed {
    /// The warehouse.
    pub warehouse_id: Uuid,
    /// Its code.
    pub warehouse_code: String,
    /// Units no source could cover.
    pub shortfall: i64,
}

/// Plans the replenishment of every destination in `scope`. See the module documentation
/// for the rule.
pub fn plan(snap: &Snapshot, scope: &Scope) -> ReplenishmentPlan {
    let today = snap.today;
    let whs = &snap.warehouses;

    let mut dests: Vec<usize> = (0..snap.cells.len())
        .filter(|&c| {
            let cell = &snap.cells[c];
            snap.need(c) > 0
                && scope.contains(
                    &whs[cell.warehouse as usize],
                    &snap.skus[cell.sku as usize].name,
                )
        })
        .collect();
    dests.sort_by(|&a, &b| {
        let (ca, cb) = (&snap.cells[a], &snap.cells[b]);
        // have_a / level_a against have_b / level_b, cross-multiplied (levels are > 0).
        (i128::from(ca.have()) * i128::from(cb.level))
            .cmp(&(i128::from(cb.have()) * i128::from(ca.level)))
            .then_with(|| {
                whs[ca.warehouse as usize]
                    .tier
                    .destination_rank()
                    .cmp(&whs[cb.warehouse as usize].tier.destination_rank())
            })
            .then(ca.warehouse.cmp(&cb.warehouse))
            .then(ca.sku.cmp(&cb.sku))
    });

    // Rule 7's candidates, dense by (SKU, warehouse): the walk below tests one byte per
    // warehouse instead of reading its cell.
    let n = whs.len();
    let mut listable = vec![false; snap.skus.len() * n];
    for c in &snap.cells {
        if c.level_stock.saturating_add(c.quarantined) > c.refill_to {
            listable[c.sku as usize * n + c.warehouse as usize] = true;
        }
    }
    let mut taken_cell = vec![0i64; snap.cells.len()];
    let mut taken_lot = vec![0i64; snap.lots.len()];
    let mut orders: Vec<Option<Vec<u32>>> = vec![None; whs.len()];
    let mut transfers: BTreeMap<(u32, u32), Transfer> = BTreeMap::new();
    let mut short: BTreeMap<u32, Vec<(u32, i64)>> = BTreeMap::new();
    let mut destinations = Vec::with_capacity(dests.len());

    for &d in &dests {
        let cell = &snap.cells[d];
        let dw = cell.warehouse;
        let sku = &snap.skus[cell.sku as usize];
        let need = snap.need(d);
        let days = snap.required_days(d);
        let order = orders[dw as usize].get_or_insert_with(|| source_order(snap, dw));

        let mut remaining = need;
        let mut sources = Vec::new();
        let mut skipped = Vec::new();
        let row = &listable[cell.sku as usize * n..][..n];
        for &w in order.iter() {
            if remaining == 0 {
                break;
            }
            // Rule 7: only the parent and warehouses with (quarantined) surplus are
            // considered; no other warehouse could give anything.
            let parent = snap.parent[dw as usize] == Some(w);
            if !parent && !row[w as usize] {
                continue;
            }
            let src = snap.cell(cell.sku, w);
            let (stock, keep, quarantined, before) = src.map_or((0, 0, 0, 0), |c| {
                let s = &snap.cells[c];
                (s.level_stock, s.refill_to, s.quarantined, taken_cell[c])
            });
            let wh = &whs[w as usize];
            let eta = snap.eta(w, dw);
            let arrival = arrival_day(today, eta);
            let mut skip = SkippedSource {
                warehouse_id: wh.id,
                warehouse_code: wh.code.clone(),
                reason: SourceSkip::NoSurplus,
                parent,
                eta_minutes: eta,
                level_stock: stock,
                keep,
                taken_earlier: before,
                quarantined,
                short_dated_on_arrival: 0,
                taken: 0,
            };
            let block = if !wh.active {
                Some(SourceSkip::Inactive)
            } else if wh.tier == Tier::Agreement {
                Some(SourceSkip::AgreementStock)
            } else if arrival.is_none() {
                Some(SourceSkip::Unreachable)
            } else {
                None
            };
            let (Some(c), Some(arrival), Some(eta), None) = (src, arrival, eta, block) else {
                skip.reason = block.unwrap_or(SourceSkip::NoSurplus);
                skipped.push(skip);
                continue;
            };
            let surplus = snap.cells[c].surplus();
            let left = surplus.saturating_sub(before);
            if left <= 0 {
                skip.reason = if surplus == 0
                    && quarantined > 0
                    && stock.saturating_add(quarantined) > keep
                {
                    SourceSkip::Quarantined
                } else {
                    SourceSkip::NoSurplus
                };
                skipped.push(skip);
                continue;
            }

            // Rule 5: FEFO among the lots usable on arrival.
            let cap = left.min(remaining);
            let required = required_expiry(arrival, days);
            let mut taken = 0i64;
            let mut short_dated = 0i64;
            let mut lines = Vec::new();
            for l in snap.cells[c].lots.clone() {
                if taken == cap {
                    break;
                }
                let lot = &snap.lots[l];
                let free = lot_available(lot).saturating_sub(taken_lot[l]);
                if free <= 0 {
                    continue;
                }
                if lot_usable(lot, required).is_err() {
                    if level_stock(lot, today, sku.min_days) > 0 {
                        short_dated = short_dated.saturating_add(free);
                    }
                    continue;
                }
                let q = free.min(cap - taken);
                taken_lot[l] += q;
                taken += q;
                lines.push(TransferLine {
                    lot_id: lot.id,
                    sku: sku.name.clone(),
                    lot_code: lot.lot_code.clone(),
                    expires_on: lot.expires_on,
                    qty: q,
                });
            }
            if taken > 0 {
                taken_cell[c] += taken;
                remaining -= taken;
                sources.push(SourceTake {
                    warehouse_id: wh.id,
                    warehouse_code: wh.code.clone(),
                    parent,
                    qty: taken,
                    eta_minutes: eta,
                });
                transfers
                    .entry((w, dw))
                    .or_insert_with(|| Transfer {
                        from_id: wh.id,
                        from_code: wh.code.clone(),
                        to_id: whs[dw as usize].id,
                        to_code: whs[dw as usize].code.clone(),
                        eta_minutes: eta,
                        arrives_on: arrival,
                        lines: Vec::new(),
                    })
                    .lines
                    .extend(lines);
            }
            if taken < cap {
                skip.reason = SourceSkip::ShortDatedOnArrival;
                skip.short_dated_on_arrival = short_dated;
                skip.taken = taken;
                skipped.push(skip);
            }
        }

        if remaining > 0 {
            short.entry(cell.sku).or_default().push((dw, remaining));
        }
        let wh = &whs[dw as usize];
        destinations.push(Destination {
            warehouse_id: wh.id,
            warehouse_code: wh.code.clone(),
            tier: wh.tier,
            sku: sku.name.clone(),
            level: cell.level,
            refill_to: cell.refill_to,
            level_stock: cell.level_stock,
            inbound: cell.inbound,
            need,
            planned: need - remaining,
            shortfall: remaining,
            min_remaining_days_on_arrival: days,
            sources,
            skipped,
        });
    }

    let procurement = short
        .into_iter()
        .map(|(s, mut per)| {
            per.sort_unstable();
            Procurement {
                sku: snap.skus[s as usize].name.clone(),
                shortfall: per.iter().fold(0i64, |a, p| a.saturating_add(p.1)),
                destinations: per
                    .into_iter()
                    .map(|(w, shortfall)| ProcurementNeed {
                        warehouse_id: whs[w as usize].id,
                        warehouse_code: whs[w as usize].code.clone(),
                        shortfall,
                    })
                    .collect(),
            }
        })
        .collect();

    ReplenishmentPlan {
        today,
        destinations,
        transfers: transfers.into_values().collect(),
        procurement,
    }
}

/// Rule 4: the sources of destination `to`, its parent first, then every other warehouse
/// by travel time (unreachable last), equal times by code (the snapshot's order).
fn source_order(snap: &Snapshot, to: u32) -> Vec<u32> {
    let parent = snap.parent[to as usize];
    let n = super::index_u32(snap.warehouses.len());
    let mut order: Vec<u32> = (0..n).filter(|&w| w != to && Some(w) != parent).collect();
    order.sort_by(|&a, &b| {
        let ea = snap.eta(a, to).unwrap_or(f64::INFINITY);
        let eb = snap.eta(b, to).unwrap_or(f64::INFINITY);
        ea.total_cmp(&eb).then(a.cmp(&b))
    });
    if let Some(p) = parent {
        order.insert(0, p);
    }
    order
}
