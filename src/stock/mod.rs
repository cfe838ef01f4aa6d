//! Stock lots and the append-only ledger that moves them.
//!
//! Invariants (enforced by the database, see the foundation migration): a lot's balance
//! changes only by appending a ledger row; on hand never goes below zero; reserved stays
//! between zero and on hand. A lot is usable through its expiry date and expired from the
//! next day, in the deployment's time zone.

pub mod db;
pub mod http;
pub mod item_cache;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::{ItemId, LotId, WarehouseId};

/// A lot's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LotStatus {
    /// Usable.
    Available,
    /// Held back: cannot be issued, transferred or allocated.
    Quarantined,
}

impl LotStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LotStatus::Available => "available",
            LotStatus::Quarantined => "quarantined",
        }
    }
}

/// A stock lot with its item and warehouse, as clerks see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Lot {
    /// Lot id.
    pub id: LotId,
    /// Item id.
    pub item_id: ItemId,
    /// Item SKU.
    pub sku: String,
    /// Item name (Chinese).
    pub item_name_zh: String,
    /// Item name (English).
    pub item_name_en: String,
    /// Counting unit (Chinese).
    pub unit_zh: String,
    /// Category code.
    pub category_code: String,
    /// Warehouse id.
    pub warehouse_id: WarehouseId,
    /// Warehouse code.
    pub warehouse_code: String,
    /// The supplier's lot or batch code.
    pub lot_code: String,
    /// Last usable day; absent when the item does not expire.
    pub expires_on: Option<NaiveDate>,
    /// Units on hand.
    pub on_hand: i64,
    /// Units reserved for allocations.
    pub reserved: i64,
    /// On hand minus reserved.
    pub available: i64,
    /// `available` or `quarantined`.
    pub status: String,
    /// Day received.
    pub received_on: NaiveDate,
    /// Where it came from (`supplier`, `donor`, `transfer`).
    pub source: String,
    /// Supplier or donor name.
    pub donor: Option<String>,
}

/// Expiry state of a lot on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryState {
    /// The item does not expire.
    NoExpiry,
    /// Past its expiry date.
    Expired,
    /// Within the item's alert window.
    Expiring,
    /// Fresh.
    Ok,
}

/// Classifies an expiry date: usable through `expires_on`, expired from the day after.
pub fn expiry_state(
    expires_on: Option<NaiveDate>,
    today: NaiveDate,
    alert_days: i32,
) -> ExpiryState {
    match expires_on {
        None => ExpiryState::NoExpiry,
        Some(d) if d < today => ExpiryState::Expired,
        Some(d) if (d - today).num_days() <= i64::from(alert_days) => ExpiryState::Expiring,
        Some(_) => ExpiryState::Ok,
    }
}

/// Where received stock came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Bought from a supplier.
    #[default]
    Supplier,
    /// Donated.
    Donor,
    /// Moved in from another warehouse outside a tracked transfer.
    Transfer,
}

impl Source {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Supplier => "supplier",
            Source::Donor => "donor",
            Source::Transfer => "transfer",
        }
    }
}

/// Why a clerk adjusted a lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentReason {
    /// Broken or spoiled.
    Damaged,
    /// Missing.
    Lost,
    /// Found again.
    Found,
    /// Written off after expiry.
    Expired,
    /// A correction after a count.
    CountCorrection,
    /// Anything else (say what in the note).
    Other,
}

impl AdjustmentReason {
    /// As stored in the ledger's `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentReason::Damaged => "damaged",
            AdjustmentReason::Lost => "lost",
            AdjustmentReason::Found => "found",
            AdjustmentReason::Expired => "expired",
            AdjustmentReason::CountCorrection => "count_correction",
            AdjustmentReason::Other => "other",
        }
    }
}

/// Why a received lot's dates are refused. Each names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateRule {
    /// The item expires, but no expiry was given.
    #[error("this item expires: give its expiry date")]
    ExpiryMissing,
    /// The item never expires, but an expiry was given.
    #[error(
        "this item does not expire (it has no shelf life in the catalogue); leave the expiry out"
    )]
    ExpiryNotExpected,
    /// Expiry before production.
    #[error("expiry {expiry} is before the production date {production}")]
    ExpiryBeforeProduction {
        /// Expiry.
        expiry: NaiveDate,
        /// Production.
        production: NaiveDate,
    },
    /// Produced in the future.
    #[error("production date {production} is in the future (today is {today})")]
    ProducedInFuture {
        /// Production.
        production: NaiveDate,
        /// Today.
        today: NaiveDate,
    },
    /// Already expired, and not received into quarantine.
    #[error("the lot expired on {expiry}; receive it with `quarantine: true` to hold it apart")]
    Expired {
        /// Expiry.
        expiry: NaiveDate,
    },
    /// Too little shelf life left, and not received into quarantine.
    #[error(
        "the lot expires on {expiry}, {remaining} days from today; this item needs at least \
         {min_remaining} days left on receipt (or `quarantine: true`)"
    )]
    ShortDated {
        /// Expiry.
        expiry: NaiveDate,
        /// Days left.
        remaining: i64,
        /// Days the item needs.
        min_remaining: i32,
    },
}

/// Checks a received lot's dates against the item's shelf-life policy and returns the
/// status to receive it with. An item with no shelf life never expires, so an expiry on it
/// is refused rather than stored: it would make a non-expiring item look perishable to
/// first-expiry-first-out picking and to the alerts.
pub fn receipt_status(
    expires_on: Option<NaiveDate>,
    produced_on: Option<NaiveDate>,
    item_expires: bool,
    min_remaining_days: i32,
    today: NaiveDate,
    quarantine: bool,
) -> Result<LotStatus, DateRule> {
    if let Some(production) = produced_on
        && production > today
    {
        return Err(DateRule::ProducedInFuture { production, today });
    }
    let expiry = match (item_expires, expires_on) {
        (false, None) => {
            return Ok(if quarantine {
                LotStatus::Quarantined
            } else {
                LotStatus::Available
            });
        }
        (false, Some(_)) => return Err(DateRule::ExpiryNotExpected),
        (true, None) => return Err(DateRule::ExpiryMissing),
        (true, Some(e)) => e,
    };
    if let Some(production) = produced_on
        && expiry < production
    {
        return Err(DateRule::ExpiryBeforeProduction { expiry, production });
    }
    if quarantine {
        return Ok(LotStatus::Quarantined);
    }
    if expiry < today {
        return Err(DateRule::Expired { expiry });
    }
    let remaining = (expiry - today).num_days();
    if remaining < i64::from(min_remaining_days) {
        return Err(DateRule::ShortDated {
            expiry,
            remaining,
            min_remaining: min_remaining_days,
        });
    }
    Ok(LotStatus::Available)
}

/// A lot that first-expiry-first-out picking may draw on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickCandidate {
    /// The lot.
    pub lot: LotId,
    /// Its expiry (`None`: never expires, picked last).
    pub expires_on: Option<NaiveDate>,
    /// Day received (older first among equal expiries).
    pub received_on: NaiveDate,
    /// On hand minus reserved.
    pub available: i64,
}

/// One proposed pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Pick {
    /// The lot.
    pub lot_id: LotId,
    /// How much to take from it.
    pub qty: i64,
}

/// First-expiry-first-out: draws `qty` from `candidates` in order of expiry (non-expiring
/// last), then receipt day, then id, skipping lots with nothing available. Returns the
/// picks and the shortfall; picks plus shortfall always equal `qty`.
pub fn pick_fefo(mut candidates: Vec<PickCandidate>, qty: i64) -> (Vec<Pick>, i64) {
    candidates.sort_by(|a, b| {
        let ka = (a.expires_on.is_none(), a.expires_on, a.received_on, a.lot);
        let kb = (b.expires_on.is_none(), b.expires_on, b.received_on, b.lot);
        ka.cmp(&kb)
    });
    let mut left = qty.max(0);
    let mut picks = Vec::new();
    for c in candidates {
        if left == 0 {
            break;
        }
        if c.available <= 0 {
            continue;
        }
        let take = c.available.min(left);
        picks.push(Pick {
            lot_id: c.lot,
            qty: take,
        });
        left -= take;
    }
    (picks, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_lot_is_usable_through_its_expiry_date() {
        let today = day("2026-11-27");
        assert_eq!(
            expiry_state(Some(day("2026-11-27")), today, 0),
            ExpiryState::Expiring
        );
        assert_eq!(
            expiry_state(Some(day("2026-11-26")), today, 30),
            ExpiryState::Expired
        );
        assert_eq!(
            expiry_state(Some(day("2026-12-27")), today, 30),
            ExpiryState::Expiring
        );
        assert_eq!(
            expiry_state(Some(day("2026-12-28")), today, 30),
            ExpiryState::Ok
        );
        assert_eq!(expiry_state(None, today, 30), ExpiryState::NoExpiry);
    }
    #[test]
    fn receipts_refuse_expired_and_short_dated_lots_unless_quarantined() {
        let today = day("2026-11-27");
        let ok = receipt_status(Some(day("2027-02-01")), None, true, 60, today, false);
        assert_eq!(ok, Ok(LotStatus::Available));
        let short = receipt_status(Some(day("2027-01-25")), None, true, 60, today, false);
        assert!(matches!(
            short,
            Err(DateRule::ShortDated { remaining: 59, .. })
        ));
        let expired = receipt_status(Some(day("2026-11-26")), None, true, 0, today, false);
        assert!(matches!(expired, Err(DateRule::Expired { .. })));
        let held = receipt_status(Some(day("2026-11-26")), None, true, 0, today, true);
        assert_eq!(held, Ok(LotStatus::Quarantined));
        // usable through the expiry date itself
        assert_eq!(
            receipt_status(Some(today), None, true, 0, today, false),
            Ok(LotStatus::Available)
        );
    }

    #[test]
    fn receipts_check_dates_against_the_items_shelf_life() {
        let today = day("2026-11-27");
        assert_eq!(
            receipt_status(Some(day("2027-11-27")), None, false, 0, today, false),
            Err(DateRule::ExpiryNotExpected)
        );
        assert_eq!(
            receipt_status(None, None, true, 0, today, false),
            Err(DateRule::ExpiryMissing)
        );
        assert!(matches!(
            receipt_status(
                Some(day("2027-01-01")),
                Some(day("2027-02-01")),
                true,
                0,
                today,
                true
            ),
            Err(DateRule::ProducedInFuture { .. })
        ));
        assert!(matches!(
            receipt_status(
                Some(day("2026-01-01")),
                Some(day("2026-02-01")),
                true,
                0,
                today,
                true
            ),
            Err(DateRule::ExpiryBeforeProduction { .. })
        ));
        assert_eq!(
            receipt_status(None, None, false, 0, today, false),
            Ok(LotStatus::Available)
        );
    }

    #[test]
    fn fefo_takes_the_earliest_expiry_first_and_reports_the_shortfall() {
        let a = LotId::new();
        let b = LotId::new();
        let c = LotId::new();
        let recv = day("2026-01-01");
        let lots = vec![
            PickCandidate {
                lot: a,
                expires_on: None,
                received_on: recv,
                available: 100,
            },
            PickCandidate {
                lot: b,
                expires_on: Some(day("2027-06-01")),
                received_on: recv,
                available: 5,
            },
            PickCandidate {
                lot: c,
                expires_on: Some(day("2027-01-01")),
                received_on: recv,
                available: 3,
            },
        ];
        let (picks, short) = pick_fefo(lots.clone(), 10);
        assert_eq!(
            picks,
            vec![
                Pick { lot_id: c, qty: 3 },
                Pick { lot_id: b, qty: 5 },
                Pick { lot_id: a, qty: 2 }
            ]
        );
        assert_eq!(short, 0);
        let (picks, short) = pick_fefo(lots, 200);
        assert_eq!(picks.iter().map(|p| p.qty).sum::<i64>() + short, 200);
        assert_eq!(short, 92);
    }
}
