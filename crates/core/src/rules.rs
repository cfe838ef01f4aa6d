//! The stock rules that every path shares, written once: the single-request planner, the
//! re-check a reservation makes under its locks, and (as they come) rationing and
//! replenishment call these functions rather than restating them.
//!
//! - **Available**: `on_hand − reserved`, never negative ([`lot_available`]).
//! - **Usable on arrival**: not quarantined, holding available stock, and either never
//!   expiring or expiring on or after *arrival date + the item's minimum remaining days*
//!   ([`required_expiry`], [`lot_usable`]). The arrival date is the calendar date, in the
//!   deployment's time zone, of `now + ETA` ([`arrival`]).
//!   A plan made by the day takes the arrival date `today + ⌈ETA / 1440 min⌉`
//!   ([`arrival_day`](crate::rules::arrival_day)).
//! - **Eligible warehouse**: active; for a community point, within its service radius of
//!   the incident (straight-line; 5 km unless configured); reachable; and outside the
//!   incident's affected area unless the request allows it ([`warehouse_block`]).
//! - **Reserve floor**: a non-critical draw leaves at least the cell's reserve level of
//!   stock that counts toward it in the (warehouse, item) cell: available, not
//!   quarantined, and usable for the item's minimum remaining days from today
//!   ([`level_stock`]); a critical draw may empty the cell ([`drawable`], [`floor_holds`]).
//! - **A plan still holds** on stock read again under locks when every picked lot is still
//!   available with at least what the plan takes, and every cell keeps its floor
//!   ([`plan_holds`]). `allocation::db::write_plan_if_available` states the same rule in
//!   SQL, so that it runs under the locks inside PostgreSQL; a differential property test
//!   in `tests/api/differential_allocation.rs` proves the two accept exactly the same plans.
//!
//! Invariants: pure and deterministic; quantities are whole base units with saturating
//! arithmetic, so no input can overflow.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A warehouse as seen from this incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarehouseState {
    /// Warehouse id.
    pub id: Uuid,
    /// Warehouse code; breaks ETA ties.
    pub code: String,
    /// Inactive warehouses never supply.
    pub active: bool,
    /// Handling + travel minutes to the incident; `None` (or not a finite number ≥ 0) means
    /// unreachable.
    pub eta_minutes: Option<f64>,
    /// Road distance to the incident, for display.
    pub distance_km: Option<f64>,
    /// Whether the warehouse lies inside the incident's affected area.
    pub in_affected_area: bool,
    /// A community point supplies only incidents within this straight-line distance, in
    /// km; `None` for other warehouses (no limit).
    pub service_radius_km: Option<f64>,
    /// Straight-line (great-circle) distance to the incident, in km; `None` when unknown
    /// (then a warehouse with a service radius does not supply).
    pub incident_km: Option<f64>,
    /// Reserve level per SKU (base units). If a SKU is listed twice the higher level applies;
    /// negative levels count as 0.
    pub reserve_levels: Vec<(String, i64)>,
}

/// One lot's balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotState {
    /// Lot id.
    pub id: Uuid,
    /// The warehouse holding it. Lots of warehouses missing from the snapshot are ignored.
    pub warehouse_id: Uuid,
    /// Item SKU.
    pub sku: String,
    /// Lot code; breaks FEFO ties.
    pub lot_code: String,
    /// Last day the lot is usable; `None` for items that do not expire.
    pub expires_on: Option<NaiveDate>,
    /// Physical quantity.
    pub on_hand: i64,
    /// Quantity already promised to other requests.
    pub reserved: i64,
    /// Quarantined lots are never picked.
    pub quarantined: bool,
}

/// The one primary reason a warehouse gave less than it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No truck route to the incident with the current closures.
    Unreachable,
    /// The warehouse is inside the affected area and the request excludes such warehouses.
    InsideAffectedArea,
    /// The warehouse is inactive.
    Inactive,
    /// A community point farther from the incident than its service radius.
    OutsideServiceRadius,
    /// Usable stock is held back by the warehouse's reserve level for the item.
    ReserveLevel,
    /// Lots are expired, or too close to expiry, on the arrival date.
    ExpiredOrShortDated,
    /// Lots are quarantined.
    Quarantined,
    /// Stock is already reserved for other requests.
    FullyReserved,
    /// Demand was met by nearer stock before this stock was needed.
    NotNeeded,
}

/// When a warehouse's supplies arrive: the instant and its calendar date in `tz`.
/// `None` if the ETA is missing, not finite, negative, or beyond the calendar.
pub fn arrival(
    now: DateTime<Utc>,
    eta_minutes: Option<f64>,
    tz: chrono_tz::Tz,
) -> Option<(DateTime<Utc>, NaiveDate)> {
    let eta = eta_minutes.filter(|e| e.is_finite() && *e >= 0.0)?;
    // Microseconds: exact enough, and the `as` cast saturates instead of wrapping.
    let at =
        now.checked_add_signed(TimeDelta::microseconds((eta * 60_000_000.0).round() as i64))?;
    Some((at, at.with_timezone(&tz).date_naive()))
}

/// How late supplies arriving at `at` are, for an incident whose supplies leave at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lateness {
    /// Arrival is after the delivery target, `now + delivery_target` (the first batch
    /// must be there within it: county 6 h, city 8 h, province 10 h by default).
    pub misses_target: bool,
    /// Arrival is after `needed_by`.
    pub after_needed_by: bool,
}

impl Lateness {
    /// Late for either reason. Late picks are still taken; the dispatcher sees them.
    pub fn late(self) -> bool {
        self.misses_target || self.after_needed_by
    }
}

/// The lateness rule, shared by single requests and rationing rounds: arrival strictly
/// after `now + delivery_target` misses the target (no target: never), and strictly after
/// `needed_by` is after it (no deadline: never).
pub fn lateness(
    now: DateTime<Utc>,
    at: DateTime<Utc>,
    needed_by: Option<DateTime<Utc>>,
    delivery_target: Option<TimeDelta>,
) -> Lateness {
    Lateness {
        misses_target: delivery_target
            .and_then(|t| now.checked_add_signed(t))
            .is_some_and(|target| at > target),
        after_needed_by: needed_by.is_some_and(|by| at > by),
    }
}

/// Why a warehouse cannot supply at all, if it cannot.
pub fn warehouse_block(
    w: &WarehouseState,
    include_affected_warehouses: bool,
) -> Option<SkipReason> {
    if !w.active {
        Some(SkipReason::Inactive)
    } else if let Some(radius) = w.service_radius_km
        && !w.incident_km.is_some_and(|d| d <= radius)
    {
        Some(SkipReason::OutsideServiceRadius)
    } else if !w.eta_minutes.is_some_and(|e| e.is_finite() && e >= 0.0) {
        Some(SkipReason::Unreachable)
    } else if w.in_affected_area && !include_affected_warehouses {
        Some(SkipReason::InsideAffectedArea)
    } else {
        None
    }
}

/// The calendar date on which a transfer planned on `today` arrives, for plans made by
/// the day (replenishment, rotation), which know the trip but not the hour it leaves:
/// `today + ⌈eta_minutes / 1440⌉` days. Any trip longer than zero minutes therefore
/// arrives tomorrow at the earliest, which judges expiry on the later date a truck
/// leaving late in the day would reach. `None` if the ETA is missing, not finite,
/// negative, or the date is beyond the calendar (the destination is then unreachable).
pub fn arrival_day(today: NaiveDate, eta_minutes: Option<f64>) -> Option<NaiveDate> {
    let eta = eta_minutes.filter(|e| e.is_finite() && *e >= 0.0)?;
    // The `as` cast saturates; a saturated count of days fails the checked add.
    today.checked_add_days(Days::new((eta / 1440.0).ceil() as u64))
}

/// The first date a lot must still be usable on: arrival date + minimum remaining days.
/// `None` if that is beyond the calendar (then only non-expiring lots qualify).
pub fn required_expiry(arrival_date: NaiveDate, min_remaining_days: i32) -> Option<NaiveDate> {
    arrival_date.checked_add_days(Days::new(
        u64::try_from(min_remaining_days.max(0)).unwrap_or(0),
    ))
}

/// Quantity not yet promised: `on_hand − reserved`, never negative.
pub fn lot_available(lot: &LotState) -> i64 {
    available(lot.on_hand, lot.reserved)
}

/// [`lot_available`] of bare balances, for callers that hold a lot in another shape
/// (a clerk's issue checks each line against this, as its running balance goes down).
pub fn available(on_hand: i64, reserved: i64) -> i64 {
    on_hand.saturating_sub(reserved.max(0)).max(0)
}

/// Whether a lot that is usable through `expires_on` has expired on `day` (it has from
/// the day after its expiry date; a lot without one never expires).
pub fn expired(expires_on: Option<NaiveDate>, day: NaiveDate) -> bool {
    expires_on.is_some_and(|e| e < day)
}

/// Whether a lot expiring on `expires_on` (`None`: never) is still usable on `required`
/// (`None`: a date beyond the calendar, which only lots that never expire reach).
fn lasts_until(expires_on: Option<NaiveDate>, required: Option<NaiveDate>) -> bool {
    expires_on.is_none_or(|exp| required.is_some_and(|r| exp >= r))
}

/// Whether a lot can be picked on arrival, given the date it must still be usable on
/// (see [`required_expiry`]). Returns the available quantity, or why it cannot be picked.
pub fn lot_usable(lot: &LotState, required: Option<NaiveDate>) -> Result<i64, SkipReason> {
    if lot.quarantined {
        return Err(SkipReason::Quarantined);
    }
    if !lasts_until(lot.expires_on, required) {
        return Err(SkipReason::ExpiredOrShortDated);
    }
    match lot_available(lot) {
        0 => Err(SkipReason::FullyReserved),
        a => Ok(a),
    }
}

/// What a lot counts toward its cell's reserve level on `today`: its available stock if it
/// is not quarantined and is still usable for the item's `min_remaining_days` from
/// `today` (or never expires); otherwise nothing. Expired and short-dated stock is on the
/// shelf but is no reserve: it would not serve the emergency the level is kept for.
/// Readiness, replenishment, rotation and every reserve floor measure a cell by this.
pub fn level_stock(lot: &LotState, today: NaiveDate, min_remaining_days: i32) -> i64 {
    lot_usable(lot, required_expiry(today, min_remaining_days)).unwrap_or(0)
}

/// How much of a cell's usable stock a draw may take: all of it for a critical request,
/// otherwise only what leaves `level` (negative counts as 0) of `counted` behind.
/// `usable` is what the draw could use on arrival (see [`lot_usable`]); `counted` is Σ
/// [`level_stock`] over the cell's lots, the quantity the floor is measured against.
/// Every lot usable on arrival also counts toward the level today (arrival is never
/// before today), so a draw lowers `counted` by exactly what it takes.
pub fn drawable(usable: i64, counted: i64, level: i64, critical: bool) -> i64 {
    if critical {
        usable.max(0)
    } else {
        usable
            .min(counted.saturating_sub(level.max(0)).max(0))
            .max(0)
    }
}

/// Whether taking `taken` from a cell whose stock counting toward its level is `counted`
/// (Σ [`level_stock`]) keeps its reserve floor.
pub fn floor_holds(counted: i64, taken: i64, level: i64, critical: bool) -> bool {
    critical || counted.saturating_sub(taken) >= level.max(0)
}

/// A lot of a cell that a plan draws from, as read again under its row lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedLot {
    /// Lot id.
    pub id: Uuid,
    /// Warehouse of the cell.
    pub warehouse_id: Uuid,
    /// Item of the cell.
    pub item_id: Uuid,
    /// Physical quantity.
    pub on_hand: i64,
    /// Quantity already promised.
    pub reserved: i64,
    /// Quarantined lots give nothing.
    pub quarantined: bool,
    /// Last day the lot is usable; `None` if it never expires.
    pub expires_on: Option<NaiveDate>,
    /// The item's minimum remaining days (see [`level_stock`]).
    pub min_remaining_days: i32,
    /// The cell's reserve level (0 when none is set).
    pub level: i64,
}

/// What a plan takes: units per lot, and units per (warehouse, item) cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Takes {
    /// Units per lot.
    pub per_lot: BTreeMap<Uuid, i64>,
    /// Units per (warehouse, item) cell.
    pub per_cell: BTreeMap<(Uuid, Uuid), i64>,
}

impl Takes {
    /// Adds `qty` from `lot` of the cell (`warehouse`, `item`).
    pub fn add(&mut self, lot: Uuid, warehouse: Uuid, item: Uuid, qty: i64) {
        let l = self.per_lot.entry(lot).or_default();
        *l = l.saturating_add(qty);
        let c = self.per_cell.entry((warehouse, item)).or_default();
        *c = c.saturating_add(qty);
    }
}

/// Whether a plan that takes `takes` still holds on `locked`, every lot of its cells read
/// again under lock: every picked lot is among them, not quarantined, with at least what
/// the plan takes from it available; and, unless `critical`, every cell keeps its reserve
/// floor ([`floor_holds`]) over the stock of its lots that counts toward the level on
/// `today` ([`level_stock`]).
pub fn plan_holds(locked: &[LockedLot], takes: &Takes, critical: bool, today: NaiveDate) -> bool {
    let mut available: BTreeMap<(Uuid, Uuid), i64> = BTreeMap::new();
    let mut level: BTreeMap<(Uuid, Uuid), i64> = BTreeMap::new();
    let mut found = 0usize;
    for lot in locked {
        let cell = (lot.warehouse_id, lot.item_id);
        let a = lot.on_hand.saturating_sub(lot.reserved).max(0);
        let l = level.entry(cell).or_insert(i64::MIN);
        *l = (*l).max(lot.level);
        let fresh = lasts_until(
            lot.expires_on,
            required_expiry(today, lot.min_remaining_days),
        );
        if !lot.quarantined && fresh {
            let c = available.entry(cell).or_default();
            *c = c.saturating_add(a);
        }
        if let Some(&want) = takes.per_lot.get(&lot.id) {
            found += 1;
            if lot.quarantined || a < want {
                return false;
            }
        }
    }
    if found != takes.per_lot.len() {
        return false;
    }
    takes.per_cell.iter().all(|(cell, &taken)| {
        floor_holds(
            available.get(cell).copied().unwrap_or(0),
            taken,
            level.get(cell).copied().unwrap_or(0),
            critical,
        )
    })
}

#[cfg(test)]
mod tests;
