//! Stock lots and the append-only ledger that moves them.
//!
//! Invariants (enforced by the database, see the foundation migration): a lot's balance
//! changes only by appending a ledger row; on hand never goes below zero; reserved stays
//! between zero and on hand. A lot is usable through its expiry date and expired from the
//! next day, in the deployment's time zone.
//!
//! Layout: this module holds the domain types (lot status, movement kinds, adjustment
//! reasons), the small rules (expiry state, status changes, first-expiry-first-out) and
//! the [`Refusal`]s, all pure. [`receipt`] holds the rules of a receipt, [`movement`]
//! those of an issue or adjustment, [`levels`] those of reserve levels, [`fields`] the
//! checks of a command's own fields. [`cases`] runs them against the database ([`db`]);
//! [`http`] only parses, calls one case and answers.

pub mod cases;
pub mod cells;
pub mod db;
pub mod fields;
pub mod http;
pub mod item_cache;
pub mod levels;
pub mod movement;
pub mod receipt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::AppError;
use crate::ids::{ItemId, LotId, WarehouseId};
use fields::line_ptr;
pub use receipt::{DateRule, receipt_status};

/// A lot's status.
// Stored as text (the `stock_lots_status` constraint), decoded straight into this enum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
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

    /// The transition of a lot in this status, with `reserved` units reserved, to `to`:
    /// quarantine holds back an available lot with nothing reserved, release frees a
    /// quarantined one. Anything else is refused.
    pub fn change_to(self, to: LotStatus, reserved: i64, lot_code: &str) -> Result<(), Refusal> {
        if self == to {
            return Err(Refusal::AlreadyInStatus {
                lot_code: lot_code.to_owned(),
                status: to,
            });
        }
        if to == LotStatus::Quarantined && reserved > 0 {
            return Err(Refusal::ReservedBlocksQuarantine {
                lot_code: lot_code.to_owned(),
                reserved,
            });
        }
        Ok(())
    }
}

impl std::fmt::Display for LotStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LotStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "available" => Ok(LotStatus::Available),
            "quarantined" => Ok(LotStatus::Quarantined),
            _ => Err(format!(
                "unknown status `{s}`: expected available or quarantined"
            )),
        }
    }
}

/// What a ledger row records, stored as text (`stock_movements_kind` constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum MovementKind {
    /// Stock received.
    Receipt,
    /// Stock issued for local distribution.
    Issue,
    /// Stock leaving on a transfer.
    TransferOut,
    /// Transferred stock arriving.
    TransferIn,
    /// Transferred stock coming back on a cancelled transfer.
    TransferReturn,
    /// A clerk's adjustment or write-off.
    Adjustment,
    /// A correction posted by a cycle count.
    CountAdjustment,
    /// Stock reserved for an allocation.
    Reserve,
    /// A reservation given back.
    Release,
    /// Reserved stock dispatched.
    Dispatch,
    /// Demo or opening stock.
    Seed,
}

impl MovementKind {
    /// Every kind, in the order the API lists them.
    pub const ALL: [MovementKind; 11] = [
        MovementKind::Receipt,
        MovementKind::Issue,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
        MovementKind::TransferReturn,
        MovementKind::Adjustment,
        MovementKind::CountAdjustment,
        MovementKind::Reserve,
        MovementKind::Release,
        MovementKind::Dispatch,
        MovementKind::Seed,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Receipt => "receipt",
            MovementKind::Issue => "issue",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::TransferReturn => "transfer_return",
            MovementKind::Adjustment => "adjustment",
            MovementKind::CountAdjustment => "count_adjustment",
            MovementKind::Reserve => "reserve",
            MovementKind::Release => "release",
            MovementKind::Dispatch => "dispatch",
            MovementKind::Seed => "seed",
        }
    }
}

impl std::str::FromStr for MovementKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MovementKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = MovementKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown kind `{s}`: expected one of {}", all.join(", "))
            })
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
    #[schema(value_type = String)]
    pub status: LotStatus,
    /// Day received.
    pub received_on: NaiveDate,
    /// Where it came from (`supplier`, `donor`, `transfer`).
    pub source: String,
    /// Supplier or donor name.
    pub donor: Option<String>,
}

/// A lot row as an operation reads it under its row lock, with what the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedLot {
    /// Lot id.
    pub id: LotId,
    /// Item.
    pub item_id: ItemId,
    /// Item SKU.
    pub sku: String,
    /// Warehouse.
    pub warehouse_id: WarehouseId,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// On hand.
    pub on_hand: i64,
    /// Reserved.
    pub reserved: i64,
    /// Status.
    pub status: LotStatus,
}

/// A lot's balances after a movement, as the rules predict them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    /// On hand after.
    pub on_hand: i64,
    /// Reserved after.
    pub reserved: i64,
}

/// Catalogue facts a receipt needs about an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPolicy {
    /// Item.
    pub id: ItemId,
    /// SKU.
    pub sku: String,
    /// Every GTIN-14 of the item.
    pub gtins: Vec<String>,
    /// Shelf life; `None`: never expires.
    pub shelf_life_days: Option<i32>,
    /// Minimum remaining shelf life on receipt.
    pub min_remaining_days: i32,
    /// Retired: neither received nor requested any more.
    pub retired: bool,
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

/// Classifies an expiry date: usable through `expires_on`, expired from the day after
/// ([`crate::rules::expired`]).
pub fn expiry_state(
    expires_on: Option<NaiveDate>,
    today: NaiveDate,
    alert_days: i32,
) -> ExpiryState {
    match expires_on {
        None => ExpiryState::NoExpiry,
        Some(_) if crate::rules::expired(expires_on, today) => ExpiryState::Expired,
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

/// Why a stock operation is refused once its lots are read. Each converts into the
/// problem a client sees, naming the line and field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A line names a lot that does not exist.
    #[error("no lot with id {lot}")]
    UnknownLot {
        /// Line index.
        line: usize,
        /// The lot named.
        lot: LotId,
    },
    /// A line names a lot of another warehouse.
    #[error("lot {lot} is not in warehouse {warehouse}")]
    OtherWarehouse {
        /// Line index.
        line: usize,
        /// The lot named.
        lot: LotId,
        /// The warehouse of the operation.
        warehouse: String,
    },
    /// An issue from a quarantined lot.
    #[error("lot {lot_code} is quarantined; release it before issuing from it")]
    QuarantinedLot {
        /// Line index.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Its code.
        lot_code: String,
    },
    /// An issue from an expired lot.
    #[error(
        "lot {lot_code} expired on {expiry}; write it off with an adjustment (reason expired) \
         instead"
    )]
    ExpiredLot {
        /// Line index.
        line: usize,
        /// The lot's code.
        lot_code: String,
        /// Its expiry.
        expiry: NaiveDate,
    },
    /// A decrease beyond what the lot has available, counting the lines before it.
    #[error(
        "only {available} units of lot {lot_code} are available ({on_hand} on hand, {reserved} \
         reserved); cannot take {take}"
    )]
    NotEnough {
        /// Line index.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Its code.
        lot_code: String,
        /// Available before this line.
        available: i64,
        /// On hand before this line.
        on_hand: i64,
        /// Reserved.
        reserved: i64,
        /// What the line takes.
        take: u64,
    },
    /// A change that would carry the lot's on-hand balance past the largest integer.
    #[error("{qty} would overflow the lot's on-hand balance")]
    Overflow {
        /// Line index.
        line: usize,
        /// The line's signed change.
        qty: i64,
    },
    /// A receipt into a lot on record with another expiry.
    #[error(
        "lot {lot_code} of {sku} is on record with expiry {}, but this line says {}; a lot \
         code has one expiry: check the label",
        show_date(*.on_record),
        show_date(*.received)
    )]
    ExpiryMismatch {
        /// Line index.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Its code.
        lot_code: String,
        /// Its item's SKU.
        sku: String,
        /// The lot's expiry.
        on_record: Option<NaiveDate>,
        /// The line's expiry.
        received: Option<NaiveDate>,
    },
    /// A receipt into quarantine of a lot on record that has stock reserved.
    #[error(
        "lot {lot_code} already exists with {reserved} units reserved for allocations; it \
         cannot be quarantined"
    )]
    QuarantineReserved {
        /// Line index.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Its code.
        lot_code: String,
        /// Units reserved.
        reserved: i64,
    },
    /// A status change to the status the lot has.
    #[error("lot {lot_code} is already {status}")]
    AlreadyInStatus {
        /// The lot's code.
        lot_code: String,
        /// Its status.
        status: LotStatus,
    },
    /// Quarantining a lot that has stock reserved.
    #[error(
        "lot {lot_code} has {reserved} units reserved for allocations; release or dispatch them \
         before quarantining the lot"
    )]
    ReservedBlocksQuarantine {
        /// The lot's code.
        lot_code: String,
        /// Units reserved.
        reserved: i64,
    },
}

/// An expiry date as refusals show it: the date, or `none` for stock that does not expire.
pub(crate) fn show_date(d: Option<NaiveDate>) -> String {
    d.map_or("none".to_owned(), |d| d.to_string())
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        let detail = r.to_string();
        match r {
            Refusal::UnknownLot { line, .. }
            | Refusal::OtherWarehouse { line, .. }
            | Refusal::ExpiredLot { line, .. } => {
                AppError::invalid(line_ptr(line, "lot_id"), detail)
            }
            Refusal::QuarantinedLot { line, lot, .. } => AppError::conflict(
                line_ptr(line, "lot_id"),
                detail,
                Some(json!({"lot_id": lot, "lot_status": LotStatus::Quarantined})),
            ),
            Refusal::NotEnough {
                line,
                lot,
                available,
                on_hand,
                reserved,
                ..
            } => AppError::conflict(
                line_ptr(line, "qty"),
                detail,
                Some(
                    json!({"lot_id": lot, "available": available, "on_hand": on_hand,
                            "reserved": reserved}),
                ),
            ),
            Refusal::Overflow { line, .. } => AppError::invalid(line_ptr(line, "qty"), detail),
            Refusal::ExpiryMismatch {
                line,
                lot,
                on_record,
                received,
                ..
            } => AppError::conflict(
                line_ptr(line, "expires_on"),
                detail,
                Some(json!({
                    "lot_id": lot,
                    "expires_on_on_record": on_record,
                    "expires_on_received": received,
                })),
            ),
            Refusal::QuarantineReserved {
                line,
                lot,
                reserved,
                ..
            } => AppError::conflict(
                line_ptr(line, "quarantine"),
                detail,
                Some(json!({"lot_id": lot, "reserved": reserved})),
            ),
            Refusal::AlreadyInStatus { status, .. } => {
                AppError::conflict("", detail, Some(json!({"lot_status": status})))
            }
            Refusal::ReservedBlocksQuarantine { reserved, .. } => {
                AppError::conflict("", detail, Some(json!({"reserved": reserved})))
            }
        }
    }
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

/// A first-expiry-first-out proposal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PickSuggestion {
    /// Item SKU.
    pub sku: String,
    /// Units asked for.
    pub qty: i64,
    /// Lots to take from, in order.
    pub picks: Vec<Pick>,
    /// Units the warehouse cannot supply from usable lots.
    pub shortfall: i64,
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
    fn quarantine_needs_an_available_lot_with_nothing_reserved_and_release_a_held_one() {
        use LotStatus::{Available, Quarantined};
        assert_eq!(Available.change_to(Quarantined, 0, "L"), Ok(()));
        assert_eq!(Quarantined.change_to(Available, 0, "L"), Ok(()));
        assert_eq!(
            Available.change_to(Quarantined, 3, "L"),
            Err(Refusal::ReservedBlocksQuarantine {
                lot_code: "L".into(),
                reserved: 3
            })
        );
        let again = Quarantined.change_to(Quarantined, 0, "L");
        assert_eq!(
            again.map_err(|r| r.to_string()),
            Err("lot L is already quarantined".to_owned())
        );
        assert!(Available.change_to(Available, 0, "L").is_err());
    }

    #[test]
    fn statuses_and_kinds_read_back_what_they_store() {
        for s in [LotStatus::Available, LotStatus::Quarantined] {
            assert_eq!(s.as_str().parse::<LotStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(json!(s.as_str())));
        }
        for k in MovementKind::ALL {
            assert_eq!(k.as_str().parse::<MovementKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).ok(), Some(json!(k.as_str())));
        }
        assert_eq!(
            "lost".parse::<MovementKind>(),
            Err(
                "unknown kind `lost`: expected one of receipt, issue, transfer_out, transfer_in, \
                 transfer_return, adjustment, count_adjustment, reserve, release, dispatch, seed"
                    .to_owned()
            )
        );
        assert!("held".parse::<LotStatus>().is_err());
    }

    #[test]
    fn refusals_name_the_field_at_fault() {
        let problem = |r: Refusal| {
            let e = AppError::from(r);
            (e.status().as_u16(), e.problem().errors[0].pointer.clone())
        };
        let lot = LotId::new();
        assert_eq!(
            problem(Refusal::NotEnough {
                line: 2,
                lot,
                lot_code: "A".into(),
                available: 1,
                on_hand: 3,
                reserved: 2,
                take: 5
            }),
            (409, "/lines/2/qty".to_owned())
        );
        assert_eq!(
            problem(Refusal::ExpiryMismatch {
                line: 0,
                lot,
                lot_code: "A".into(),
                sku: "S".into(),
                on_record: None,
                received: Some(day("2027-01-01")),
            }),
            (409, "/lines/0/expires_on".to_owned())
        );
        assert_eq!(
            problem(Refusal::UnknownLot { line: 1, lot }),
            (422, "/lines/1/lot_id".to_owned())
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
