//! Stock lots and the append-only ledger that moves them.
//!
//! Invariants (enforced by the database, see the foundation migration): a lot's balance
//! changes only by appending a ledger row; on hand never goes below zero; reserved stays
//! between zero and on hand. A lot is usable through its expiry date and expired from the
//! next day, in the deployment's time zone.

pub mod db;
pub mod http;

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
}
