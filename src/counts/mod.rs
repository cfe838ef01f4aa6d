//! Blind cycle counts: snapshot, count, and post the variances as adjustments.
//!
//! Opening a count locks the lots in scope and snapshots each one's on-hand as the
//! expected quantity, together with the ledger high-water mark (the largest
//! `stock_movements.id` at that moment). Posting books, per counted lot,
//! `target = counted + Σ(movements on the lot after the high-water mark)` by appending a
//! `count_adjustment` of `target − on_hand`, so a receipt or issue made while counting is
//! kept, not undone. Invariants: a lot is in at most one open count (a partial unique
//! index); a count posts once; uncounted lots are left as they are; clerks never see
//! expected quantities.

pub mod cases;
pub mod db;
pub mod http;

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use crate::auth::Role;
use crate::error::{AppError, FieldError};
use crate::ids::{CountId, LotId, UserId};

/// Where a count stands. Stored as text (`counts_status` check constraint); the only
/// moves are `open` → `posted` and `open` → `cancelled`, and only an open count takes
/// counted lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CountStatus {
    /// Snapshotted; lines are being counted.
    Open,
    /// Posted: the variances are booked.
    Posted,
    /// Given up: nothing booked.
    Cancelled,
}

impl CountStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CountStatus::Open => "open",
            CountStatus::Posted => "posted",
            CountStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the count still takes changes (counted lines, posting, cancelling).
    pub fn ensure_open(self) -> Result<(), Refusal> {
        match self {
            CountStatus::Open => Ok(()),
            status => Err(Refusal::Closed(status)),
        }
    }
}

impl fmt::Display for CountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A count as shown. Expected quantities and variances appear only for roles that may
/// see them (admin, auditor).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Count {
    /// Count id.
    pub id: CountId,
    /// Warehouse code.
    pub warehouse: String,
    /// `open`, `posted` or `cancelled`.
    #[schema(value_type = String)]
    pub status: CountStatus,
    /// The SKUs counted; absent for a whole-warehouse count.
    pub skus: Option<Vec<String>>,
    /// Who opened it.
    pub opened_by: UserId,
    /// When the snapshot was taken.
    pub opened_at: DateTime<Utc>,
    /// Who posted it.
    pub posted_by: Option<UserId>,
    /// When it was posted.
    pub posted_at: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// Lots in the count.
    pub lines_total: i64,
    /// Lots counted so far.
    pub lines_counted: i64,
    /// The lots, by SKU and lot code.
    pub lines: Vec<CountLine>,
}

/// One lot in a count.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CountLine {
    /// Lot id.
    pub lot_id: LotId,
    /// Item SKU.
    pub sku: String,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// Units counted; absent until counted.
    pub counted_qty: Option<i64>,
    /// When it was last counted.
    pub counted_at: Option<DateTime<Utc>>,
    /// On hand at the snapshot (admin and auditor only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_qty: Option<i64>,
    /// Net ledger movement on the lot between snapshot and posting (admin and auditor
    /// only; set at posting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_after: Option<i64>,
    /// The `count_adjustment` booked (admin and auditor only; set at posting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<i64>,
}

impl Count {
    /// Removes what a blind counter must not see.
    pub fn blind(mut self) -> Self {
        for l in &mut self.lines {
            l.expected_qty = None;
            l.moved_after = None;
            l.adjustment = None;
        }
        self
    }

    /// The count as a user of `role` may see it: clerks (and dispatchers) count blind;
    /// admins, auditors and the system see expected quantities and variances.
    pub fn as_seen_by(self, role: Role) -> Self {
        if matches!(role, Role::Admin | Role::Auditor | Role::System) {
            self
        } else {
            self.blind()
        }
    }
}

/// What a new count covers: the whole warehouse, or some SKUs (at least one).
pub fn check_skus(skus: Option<&[String]>) -> Result<(), Refusal> {
    match skus {
        Some([]) => Err(Refusal::NoSkus),
        _ => Ok(()),
    }
}

/// The reason a count is cancelled, trimmed: 1–200 characters.
pub fn cancel_reason(reason: &str) -> Result<&str, Refusal> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        Err(Refusal::BadCancelReason)
    } else {
        Ok(reason)
    }
}

/// A counted quantity for one lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Lot.
    pub lot: LotId,
    /// Units counted.
    pub qty: i64,
}

/// Checks recorded counts: at least one, quantities ≥ 0, distinct lots, each in `scope`.
/// Pointers index the request's top-level array.
pub fn check_counted(lines: &[Counted], scope: &HashSet<LotId>) -> Result<(), AppError> {
    if lines.is_empty() {
        return Err(AppError::Validation {
            detail: "send at least one counted line".into(),
            errors: vec![],
        });
    }
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        if l.qty < 0 {
            errors.push(FieldError::new(
                format!("/{i}/counted_qty"),
                "counted_qty must be zero or more",
            ));
        }
        if !scope.contains(&l.lot) {
            errors.push(FieldError::new(
                format!("/{i}/lot_id"),
                format!("lot {} is not in this count", l.lot),
            ));
        } else if !seen.insert(l.lot) {
            errors.push(FieldError::new(
                format!("/{i}/lot_id"),
                format!("lot {} is already on an earlier line", l.lot),
            ));
        }
    }
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(AppError::Validation {
            detail: first.detail.clone(),
            errors,
        }),
    }
}

/// What posting does to one counted lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    /// On hand the lot must have after posting: counted plus what moved since the
    /// snapshot.
    pub target: i64,
    /// The `count_adjustment` to append: target − current on hand.
    pub delta: i64,
}

/// The posting for a lot counted at `counted`, with `moved_after` net ledger movement
/// since the snapshot, now at `on_hand`. `None` on overflow.
pub fn posting(counted: i64, moved_after: i64, on_hand: i64) -> Option<Posting> {
    let target = counted.checked_add(moved_after)?;
    Some(Posting {
        target,
        delta: target.checked_sub(on_hand)?,
    })
}

/// A counted lot at posting time, read under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedLot {
    /// Lot.
    pub lot_id: LotId,
    /// Lot code.
    pub lot_code: String,
    /// Units counted.
    pub counted_qty: i64,
    /// On hand now.
    pub on_hand: i64,
    /// Reserved now.
    pub reserved: i64,
    /// Net movement since the snapshot.
    pub moved_after: i64,
}

/// The posting of one counted lot ([`posting`]), refused when it overflows or would
/// leave the lot holding less than is reserved on it for allocations.
pub fn post_lot(l: &CountedLot) -> Result<Posting, Refusal> {
    let p = posting(l.counted_qty, l.moved_after, l.on_hand).ok_or_else(|| Refusal::Overflow {
        lot_code: l.lot_code.clone(),
    })?;
    if p.target < l.reserved {
        return Err(Refusal::BelowReserved {
            lot: l.lot_id,
            lot_code: l.lot_code.clone(),
            target: p.target,
            reserved: l.reserved,
        });
    }
    Ok(p)
}

/// Why a count command was refused (besides invalid counted lines, which
/// [`check_counted`] reports line by line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No count has this id.
    #[error("no count with id {0}")]
    NotFound(CountId),
    /// `skus` was given but empty.
    #[error("name at least one SKU, or leave skus out to count the whole warehouse")]
    NoSkus,
    /// A SKU names no item.
    #[error("unknown SKU `{sku}`")]
    UnknownSku {
        /// Position in `skus`.
        index: usize,
        /// The SKU given.
        sku: String,
    },
    /// The scope holds no lot.
    #[error("warehouse {warehouse} has no lots in this scope to count")]
    NothingToCount {
        /// Warehouse code.
        warehouse: String,
        /// Whether the scope was given as SKUs.
        by_skus: bool,
    },
    /// Some lots of the scope are in another open count.
    #[error("some of these lots are already in an open count; post it first")]
    AlreadyCounting,
    /// The count is posted or cancelled.
    #[error("{}", match .0 {
        CountStatus::Cancelled => "the count was cancelled; open a new one",
        _ => "the count is already posted",
    })]
    Closed(CountStatus),
    /// A lot's quantities overflow.
    #[error("lot {lot_code}: quantities overflow")]
    Overflow {
        /// Lot code.
        lot_code: String,
    },
    /// Posting would leave a lot below what is reserved on it.
    #[error(
        "lot {lot_code} would hold {target} after the count, below the {reserved} reserved for allocations; release or re-count first"
    )]
    BelowReserved {
        /// The lot.
        lot: LotId,
        /// Lot code.
        lot_code: String,
        /// On hand after posting.
        target: i64,
        /// Reserved on it.
        reserved: i64,
    },
    /// The cancel reason is empty or too long.
    #[error("give the reason the count will not be finished, 1–200 characters")]
    BadCancelReason,
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        let detail = r.to_string();
        let whole = |detail| AppError::Validation {
            detail,
            errors: vec![],
        };
        match r {
            Refusal::NotFound(_) => AppError::not_found(detail),
            Refusal::NoSkus => AppError::invalid("/skus", detail),
            Refusal::UnknownSku { index, .. } => {
                AppError::invalid(format!("/skus/{index}"), detail)
            }
            Refusal::NothingToCount { by_skus: true, .. } => AppError::invalid("/skus", detail),
            Refusal::NothingToCount { by_skus: false, .. } | Refusal::Overflow { .. } => {
                whole(detail)
            }
            Refusal::AlreadyCounting => AppError::Conflict {
                detail,
                errors: vec![],
                extra: None,
            },
            Refusal::Closed(status) => AppError::Conflict {
                detail,
                errors: vec![],
                extra: Some(json!({ "count_status": status })),
            },
            Refusal::BelowReserved {
                lot,
                target,
                reserved,
                ..
            } => AppError::Conflict {
                detail,
                errors: vec![],
                extra: Some(json!({ "lot_id": lot, "reserved": reserved, "target": target })),
            },
            Refusal::BadCancelReason => AppError::invalid("/reason", detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_made_while_counting_is_kept() {
        // Snapshot 100; 20 received while counting (on hand 120); 95 counted on the shelf
        // before the receipt arrived: the lot should hold 115.
        let p = posting(95, 20, 120).expect("no overflow");
        assert_eq!(
            p,
            Posting {
                target: 115,
                delta: -5
            }
        );
        // Nothing moved: the variance is counted − expected.
        assert_eq!(posting(98, 0, 100).expect("ok").delta, -2);
        assert!(posting(i64::MAX, 1, 0).is_none());
    }

    #[test]
    fn only_an_open_count_changes_and_a_closed_one_says_why() {
        assert_eq!(CountStatus::Open.ensure_open(), Ok(()));
        let posted = AppError::from(CountStatus::Posted.ensure_open().expect_err("posted"));
        assert_eq!(posted.to_string(), "the count is already posted");
        let AppError::Conflict { extra, .. } =
            AppError::from(CountStatus::Cancelled.ensure_open().expect_err("cancelled"))
        else {
            panic!("a conflict")
        };
        assert_eq!(extra, Some(json!({ "count_status": "cancelled" })));
    }

    #[test]
    fn posting_never_leaves_a_lot_below_its_reservations() {
        let lot = CountedLot {
            lot_id: LotId::new(),
            lot_code: "L1".into(),
            counted_qty: 8,
            on_hand: 10,
            reserved: 8,
            moved_after: 0,
        };
        assert_eq!(
            post_lot(&lot),
            Ok(Posting {
                target: 8,
                delta: -2
            })
        );
        let short = CountedLot {
            counted_qty: 7,
            ..lot.clone()
        };
        assert!(matches!(
            post_lot(&short),
            Err(Refusal::BelowReserved {
                target: 7,
                reserved: 8,
                ..
            })
        ));
        let huge = CountedLot {
            counted_qty: i64::MAX,
            moved_after: 1,
            ..lot
        };
        assert!(matches!(post_lot(&huge), Err(Refusal::Overflow { .. })));
    }

    #[test]
    fn a_cancel_reason_is_trimmed_and_one_to_two_hundred_characters() {
        assert_eq!(cancel_reason("  flooded  "), Ok("flooded"));
        assert_eq!(cancel_reason("   "), Err(Refusal::BadCancelReason));
        assert_eq!(
            cancel_reason(&"x".repeat(201)),
            Err(Refusal::BadCancelReason)
        );
        assert_eq!(cancel_reason(&"é".repeat(200)).map(str::len), Ok(400));
        assert_eq!(check_skus(Some(&[])), Err(Refusal::NoSkus));
        assert_eq!(check_skus(None), Ok(()));
    }

    #[test]
    fn clerks_count_blind() {
        let count = Count {
            id: CountId::new(),
            warehouse: "HK01".into(),
            status: CountStatus::Open,
            skus: None,
            opened_by: crate::ids::SYSTEM_USER,
            opened_at: Utc::now(),
            posted_by: None,
            posted_at: None,
            cancelled_at: None,
            cancel_reason: None,
            lines_total: 1,
            lines_counted: 0,
            lines: vec![CountLine {
                lot_id: LotId::new(),
                sku: "S".into(),
                lot_code: "L".into(),
                expires_on: None,
                counted_qty: None,
                counted_at: None,
                expected_qty: Some(5),
                moved_after: None,
                adjustment: None,
            }],
        };
        assert_eq!(
            count.clone().as_seen_by(Role::Auditor).lines[0].expected_qty,
            Some(5)
        );
        assert_eq!(count.as_seen_by(Role::Clerk).lines[0].expected_qty, None);
    }

    #[test]
    fn recorded_counts_name_each_bad_line() {
        let (a, b) = (LotId::new(), LotId::new());
        let scope: HashSet<LotId> = [a].into();
        assert!(check_counted(&[Counted { lot: a, qty: 0 }], &scope).is_ok());
        let err = check_counted(
            &[
                Counted { lot: a, qty: -1 },
                Counted { lot: b, qty: 1 },
                Counted { lot: a, qty: 2 },
            ],
            &scope,
        )
        .expect_err("bad");
        let AppError::Validation { errors, .. } = err else {
            panic!("validation")
        };
        let ptrs: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/0/counted_qty", "/1/lot_id", "/2/lot_id"]);
    }
}
