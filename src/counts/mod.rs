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

pub mod db;
pub mod http;

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::{AppError, FieldError};
use crate::ids::{CountId, LotId, UserId};

/// A count as shown. Expected quantities and variances appear only for roles that may
/// see them (admin, auditor).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Count {
    /// Count id.
    pub id: CountId,
    /// Warehouse code.
    pub warehouse: String,
    /// `open`, `posted` or `cancelled`.
    pub status: String,
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
