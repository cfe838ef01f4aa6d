//! The rules of an issue (local distribution from named lots) and an adjustment (a signed
//! correction or write-off), checked line by line against the lots read under lock:
//!
//! - every lot exists and belongs to the operation's warehouse;
//! - an issue draws only on lots that are available (not quarantined) and not expired
//!   ([`crate::rules::expired`]); an adjustment may touch any lot of the warehouse;
//! - a decrease takes at most what the lot has available ([`crate::rules::available`]),
//!   counting the lines before it on the same lot, so reserved stock is never taken;
//! - no line carries the on-hand balance past the largest integer.
//!
//! [`check`] is the rule; `stock::db::apply_checked_movements` states it again in SQL for
//! the one-statement path, and the differential test in
//! `tests/api/differential_stock.rs` proves the two accept the same operations.
//!
//! Pure: no database, no clock (`today` is an argument).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::fields::{check_lines, check_text, invalid_all, line_ptr};
use super::{AdjustmentReason, Balances, LockedLot, LotStatus, MovementKind, Refusal};
use crate::audit::Change;
use crate::error::{AppError, FieldError};
use crate::ids::{LotId, WarehouseId};
use crate::rules;

/// Which operation a batch of lot lines is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LotOp {
    /// Local distribution: takes stock from usable lots.
    Issue,
    /// A signed correction or write-off, on any lot of the warehouse.
    Adjust,
}

impl LotOp {
    /// The ledger kind (and reference kind) of its rows.
    pub fn kind(self) -> MovementKind {
        match self {
            LotOp::Issue => MovementKind::Issue,
            LotOp::Adjust => MovementKind::Adjustment,
        }
    }

    /// Its audit action.
    pub fn action(self) -> &'static str {
        match self {
            LotOp::Issue => "stock.issue",
            LotOp::Adjust => "stock.adjustment",
        }
    }
}

/// One lot to issue from.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueLine {
    /// The lot (of this warehouse).
    pub lot_id: LotId,
    /// Units, > 0 and at most the lot's available quantity.
    pub qty: i64,
    /// Why (e.g. "shelter at Xinhui No. 2 school").
    pub reason: String,
    /// Free-text note.
    pub note: Option<String>,
}

/// One lot to adjust.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentLine {
    /// The lot (of this warehouse).
    pub lot_id: LotId,
    /// Signed change of on hand, ≠ 0; a decrease may not touch reserved stock.
    pub qty: i64,
    /// Why.
    pub reason: AdjustmentReason,
    /// Note (required when the reason is `other`).
    pub note: Option<String>,
}

/// One line of an issue or adjustment, its own fields checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementLine {
    /// The lot.
    pub lot: LotId,
    /// Signed change of on hand (an issue's is negative).
    pub delta: i64,
    /// Why (free text for an issue, the reason code for an adjustment).
    pub reason: String,
    /// Note.
    pub note: Option<String>,
}

/// An issue or adjustment whose lines passed their own checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovementCmd {
    /// Which.
    pub op: LotOp,
    /// At least one line.
    pub lines: Vec<MovementLine>,
}

/// A line that passed [`check`]: its lot, and the lot's balances after the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked<'a> {
    /// The line's lot, as read under lock.
    pub lot: &'a LockedLot,
    /// Its balances after this line (and the lines before it).
    pub balances: Balances,
}

impl MovementCmd {
    /// An issue of `lines`: each takes more than 0 units, for a reason; one 422 names
    /// every bad field.
    pub fn issue(lines: Vec<IssueLine>) -> Result<Self, AppError> {
        check_lines(&lines)?;
        let mut errors = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if l.qty <= 0 {
                errors.push(FieldError::new(
                    line_ptr(i, "qty"),
                    format!("must be greater than 0, got {}", l.qty),
                ));
            }
            check_text(
                &mut errors,
                line_ptr(i, "reason"),
                Some(&l.reason),
                true,
                200,
            );
            check_text(
                &mut errors,
                line_ptr(i, "note"),
                l.note.as_deref(),
                false,
                1000,
            );
        }
        if !errors.is_empty() {
            return Err(invalid_all(errors));
        }
        let lines = lines.into_iter().map(|l| MovementLine {
            lot: l.lot_id,
            delta: -l.qty,
            reason: l.reason,
            note: l.note,
        });
        Ok(MovementCmd {
            op: LotOp::Issue,
            lines: lines.collect(),
        })
    }

    /// An adjustment of `lines`: each changes on hand by a nonzero amount, with a note
    /// when the reason is `other`; one 422 names every bad field.
    pub fn adjust(lines: Vec<AdjustmentLine>) -> Result<Self, AppError> {
        check_lines(&lines)?;
        let mut errors = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if l.qty == 0 {
                errors.push(FieldError::new(line_ptr(i, "qty"), "must not be 0"));
            }
            let note_required = l.reason == AdjustmentReason::Other;
            let note = l.note.as_deref();
            check_text(&mut errors, line_ptr(i, "note"), note, note_required, 1000);
        }
        if !errors.is_empty() {
            return Err(invalid_all(errors));
        }
        let lines = lines.into_iter().map(|l| MovementLine {
            lot: l.lot_id,
            delta: l.qty,
            reason: l.reason.as_str().to_owned(),
            note: l.note,
        });
        Ok(MovementCmd {
            op: LotOp::Adjust,
            lines: lines.collect(),
        })
    }
}

/// Checks `lines` in order against `lots` (the lots read under lock; missing ones do not
/// exist) for an operation `op` in `warehouse` (id and code) on `today`. Returns each
/// line's lot and its balances after the line, or the first line's refusal.
pub fn check<'a>(
    op: LotOp,
    warehouse: (WarehouseId, &str),
    today: NaiveDate,
    lines: &[MovementLine],
    lots: &'a [LockedLot],
) -> Result<Vec<Checked<'a>>, Refusal> {
    let by_id: HashMap<LotId, &'a LockedLot> = lots.iter().map(|l| (l.id, l)).collect();
    // On hand as the lines apply in order, so two lines on one lot are checked together.
    let mut running: HashMap<LotId, i64> = HashMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let Some(lot) = by_id.get(&l.lot).copied() else {
            return Err(Refusal::UnknownLot {
                line: i,
                lot: l.lot,
            });
        };
        if lot.warehouse_id != warehouse.0 {
            return Err(Refusal::OtherWarehouse {
                line: i,
                lot: l.lot,
                warehouse: warehouse.1.to_owned(),
            });
        }
        if op == LotOp::Issue {
            if lot.status == LotStatus::Quarantined {
                return Err(Refusal::QuarantinedLot {
                    line: i,
                    lot: lot.id,
                    lot_code: lot.lot_code.clone(),
                });
            }
            if let Some(expiry) = lot.expires_on
                && rules::expired(lot.expires_on, today)
            {
                return Err(Refusal::ExpiredLot {
                    line: i,
                    lot_code: lot.lot_code.clone(),
                    expiry,
                });
            }
        }
        let on_hand = running.get(&lot.id).copied().unwrap_or(lot.on_hand);
        let available = rules::available(on_hand, lot.reserved);
        if l.delta < 0 && l.delta.unsigned_abs() > available.unsigned_abs() {
            return Err(Refusal::NotEnough {
                line: i,
                lot: lot.id,
                lot_code: lot.lot_code.clone(),
                available,
                on_hand,
                reserved: lot.reserved,
                take: l.delta.unsigned_abs(),
            });
        }
        let after = on_hand.checked_add(l.delta).ok_or(Refusal::Overflow {
            line: i,
            qty: l.delta,
        })?;
        running.insert(lot.id, after);
        out.push(Checked {
            lot,
            balances: Balances {
                on_hand: after,
                reserved: lot.reserved,
            },
        });
    }
    Ok(out)
}

/// One lot's movement in a response.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovementResult {
    /// The lot.
    pub lot_id: LotId,
    /// Item SKU.
    pub sku: String,
    /// Lot code.
    pub lot_code: String,
    /// Signed change of on hand.
    pub qty: i64,
    /// Ledger row.
    pub movement_id: i64,
    /// On hand after.
    pub on_hand: i64,
    /// Reserved after.
    pub reserved: i64,
    /// Available after.
    pub available: i64,
}

/// The outcome of an issue or adjustment.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationResponse {
    /// Operation id (the ledger rows' `ref_id`).
    pub id: Uuid,
    /// Warehouse code.
    pub warehouse: String,
    /// One per request line, in order.
    pub lines: Vec<MovementResult>,
}

/// The audit record of an operation: per line the lot, signed quantity and reason.
pub fn change(cmd: &MovementCmd, op_id: Uuid, warehouse: &str) -> Change<'static> {
    Change {
        action: cmd.op.action(),
        entity_kind: cmd.op.kind().as_str(),
        entity_id: op_id.to_string(),
        before: None,
        after: Some(
            json!({"warehouse": warehouse, "lines": cmd.lines.iter().map(|l| json!({
            "lot_id": l.lot, "qty": l.delta, "reason": l.reason,
        })).collect::<Vec<_>>()}),
        ),
    }
}

#[cfg(test)]
mod tests;
