//! Transfers between warehouses: stock leaves the source at once (`transfer_out`), is in
//! transit on the transfer, and then lands at the destination as the same lot code and
//! expiry (`transfer_in`) or returns to its source lot (`transfer_return`).
//!
//! Invariants: a transfer's lines name distinct lots of the source warehouse, each with a
//! quantity above zero; a transfer is closed (received or cancelled) exactly once; per
//! line, received ≤ sent, and a short line carries a discrepancy reason. What was sent
//! but not received left the ledger at sending and never re-enters it: the line records
//! the loss and its reason. Quarantined lots cannot be sent; expired lots can (moving
//! expired stock to a disposal site is a transfer too).

pub mod db;
pub mod http;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, FieldError};
use crate::ids::{LotId, TransferId, UserId};

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Sent; the stock is on the road.
    InTransit,
    /// Landed at the destination.
    Received,
    /// Called back; the stock returned to its source lots.
    Cancelled,
}

impl TransferStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::InTransit => "in_transit",
            TransferStatus::Received => "received",
            TransferStatus::Cancelled => "cancelled",
        }
    }
}

/// Why a line arrived short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyReason {
    /// Fewer units arrived than were sent.
    Short,
    /// Units arrived unusable.
    Damaged,
    /// Anything else; explain it in the note.
    Other,
}

impl DiscrepancyReason {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyReason::Short => "short",
            DiscrepancyReason::Damaged => "damaged",
            DiscrepancyReason::Other => "other",
        }
    }
}

/// A transfer with its lines, as everyone sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Transfer {
    /// Transfer id.
    pub id: TransferId,
    /// Source warehouse code.
    pub from: String,
    /// Destination warehouse code.
    pub to: String,
    /// `in_transit`, `received` or `cancelled`.
    pub status: String,
    /// Sender's note.
    pub note: Option<String>,
    /// Who sent it.
    pub created_by: UserId,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// Who received or cancelled it.
    pub closed_by: Option<UserId>,
    /// When it was received or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    /// Receiver's or canceller's note.
    pub close_note: Option<String>,
    /// Units on the road now (all lines' quantities while in transit, else 0).
    pub in_transit_qty: i64,
    /// The lines, in the order sent.
    pub lines: Vec<TransferLine>,
}

/// One lot on a transfer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransferLine {
    /// Position on the transfer, from 0.
    pub line_no: i32,
    /// The source lot.
    pub lot_id: LotId,
    /// Item SKU.
    pub sku: String,
    /// Lot code (kept at the destination).
    pub lot_code: String,
    /// Expiry (kept at the destination).
    pub expires_on: Option<NaiveDate>,
    /// Units sent.
    pub qty: i64,
    /// Units received; absent until received.
    pub received_qty: Option<i64>,
    /// Why fewer were received than sent.
    pub discrepancy_reason: Option<String>,
    /// The lot the stock landed in at the destination.
    pub dest_lot_id: Option<LotId>,
    /// Units of this line on the road now.
    pub in_transit_qty: i64,
}

/// A line to send: a lot of the source warehouse and a quantity above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLine {
    /// Source lot.
    pub lot: LotId,
    /// Units.
    pub qty: i64,
}

/// Checks the lines of a send: at least one, quantities above zero, distinct lots.
pub fn check_send_lines(lines: &[SendLine]) -> Result<(), AppError> {
    if lines.is_empty() {
        return Err(AppError::invalid(
            "/lines",
            "a transfer needs at least one line",
        ));
    }
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        if l.qty <= 0 {
            errors.push(FieldError::new(
                format!("/lines/{i}/qty"),
                "qty must be above zero",
            ));
        }
        if !seen.insert(l.lot) {
            errors.push(FieldError::new(
                format!("/lines/{i}/lot_id"),
                format!("lot {} is already on an earlier line", l.lot),
            ));
        }
    }
    validation(errors)
}

/// What arrived of one lot, as the receiver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedLine {
    /// The source lot, as on the transfer.
    pub lot: LotId,
    /// Units that arrived.
    pub received_qty: i64,
    /// Why fewer arrived than were sent.
    pub reason: Option<DiscrepancyReason>,
}

/// Matches the receiver's report against the lines sent (`(lot, qty)` in line order) and
/// returns, per line sent, what arrived. Every line must be reported exactly once.
pub fn match_receipt(
    sent: &[(LotId, i64)],
    report: &[ReceivedLine],
) -> Result<Vec<ReceivedLine>, AppError> {
    let sent_qty: HashMap<LotId, i64> = sent.iter().copied().collect();
    let mut errors = Vec::new();
    let mut by_lot: HashMap<LotId, ReceivedLine> = HashMap::new();
    for (i, r) in report.iter().enumerate() {
        let Some(&qty) = sent_qty.get(&r.lot) else {
            errors.push(FieldError::new(
                format!("/lines/{i}/lot_id"),
                format!("lot {} is not on this transfer", r.lot),
            ));
            continue;
        };
        if by_lot.insert(r.lot, *r).is_some() {
            errors.push(FieldError::new(
                format!("/lines/{i}/lot_id"),
                format!("lot {} is already on an earlier line", r.lot),
            ));
        }
        if r.received_qty < 0 || r.received_qty > qty {
            errors.push(FieldError::new(
                format!("/lines/{i}/received_qty"),
                format!("received_qty must be between 0 and the {qty} sent"),
            ));
        } else if r.received_qty < qty && r.reason.is_none() {
            errors.push(FieldError::new(
                format!("/lines/{i}/discrepancy_reason"),
                format!(
                    "{} of {qty} arrived: give a discrepancy_reason (short, damaged or other)",
                    r.received_qty
                ),
            ));
        } else if r.received_qty == qty && r.reason.is_some() {
            errors.push(FieldError::new(
                format!("/lines/{i}/discrepancy_reason"),
                "all units arrived: a discrepancy_reason applies only to a short line",
            ));
        }
    }
    for (lot, _) in sent {
        if !by_lot.contains_key(lot) {
            errors.push(FieldError::new(
                "/lines",
                format!("lot {lot} was sent but is not reported; report every line, with received_qty 0 if nothing arrived"),
            ));
        }
    }
    validation(errors)?;
    Ok(sent
        .iter()
        .filter_map(|(lot, _)| by_lot.get(lot).copied())
        .collect())
}

fn validation(errors: Vec<FieldError>) -> Result<(), AppError> {
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(AppError::Validation {
            detail: if errors.len() == 1 {
                first.detail.clone()
            } else {
                format!("{} (and {} more problems)", first.detail, errors.len() - 1)
            },
            errors,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation { errors, .. } => errors.into_iter().map(|e| e.pointer).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn send_lines_need_positive_quantities_and_distinct_lots() {
        let a = LotId::new();
        assert!(check_send_lines(&[SendLine { lot: a, qty: 1 }]).is_ok());
        assert_eq!(
            pointers(check_send_lines(&[]).expect_err("empty")),
            ["/lines"]
        );
        let err = check_send_lines(&[SendLine { lot: a, qty: 0 }, SendLine { lot: a, qty: 2 }])
            .expect_err("bad");
        assert_eq!(pointers(err), ["/lines/0/qty", "/lines/1/lot_id"]);
    }

    #[test]
    fn a_short_line_needs_a_reason_and_every_line_is_reported() {
        let (a, b) = (LotId::new(), LotId::new());
        let sent = [(a, 10), (b, 5)];
        let ok = match_receipt(
            &sent,
            &[
                ReceivedLine {
                    lot: b,
                    received_qty: 5,
                    reason: None,
                },
                ReceivedLine {
                    lot: a,
                    received_qty: 8,
                    reason: Some(DiscrepancyReason::Damaged),
                },
            ],
        )
        .expect("valid");
        assert_eq!(ok[0].lot, a, "result follows the order sent");
        assert_eq!(ok[0].received_qty, 8);
        let err = match_receipt(
            &sent,
            &[ReceivedLine {
                lot: a,
                received_qty: 8,
                reason: None,
            }],
        )
        .expect_err("no reason, b missing");
        assert_eq!(pointers(err), ["/lines/0/discrepancy_reason", "/lines"]);
        let err = match_receipt(
            &sent,
            &[
                ReceivedLine {
                    lot: a,
                    received_qty: 11,
                    reason: None,
                },
                ReceivedLine {
                    lot: LotId::new(),
                    received_qty: 1,
                    reason: None,
                },
                ReceivedLine {
                    lot: b,
                    received_qty: 5,
                    reason: Some(DiscrepancyReason::Short),
                },
            ],
        )
        .expect_err("over, stranger, needless reason");
        assert_eq!(
            pointers(err),
            [
                "/lines/0/received_qty",
                "/lines/1/lot_id",
                "/lines/2/discrepancy_reason"
            ]
        );
    }
}
