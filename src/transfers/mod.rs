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

pub mod cases;
pub mod db;
pub mod http;

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{AppError, FieldError, validation};
use crate::ids::{ItemId, LotId, TransferId, UserId, WarehouseId};
use crate::rules::{LotState, lot_available};
use crate::stock::show_date;

/// Where a transfer stands. Stored as text (`transfers_status` check constraint); the
/// only moves are `in_transit` → `received` and `in_transit` → `cancelled`
/// ([`TransferStatus::close`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
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

    /// The status a transfer in this status takes when closed by `how`; only a transfer
    /// in transit can be closed, and only once.
    pub fn close(self, how: Closing) -> Result<TransferStatus, Refusal> {
        match self {
            TransferStatus::InTransit => Ok(match how {
                Closing::Receive => TransferStatus::Received,
                Closing::Cancel => TransferStatus::Cancelled,
            }),
            status => Err(Refusal::Closed { status, how }),
        }
    }

    /// Of a line of `qty` units, what is on the road while the transfer is in this status.
    pub fn on_the_road(self, qty: i64) -> i64 {
        if self == TransferStatus::InTransit {
            qty
        } else {
            0
        }
    }
}

impl fmt::Display for TransferStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a transfer in transit is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Received at the destination.
    Receive,
    /// Called back by the source.
    Cancel,
}

impl Closing {
    /// The past participle the refusals use.
    pub fn done(self) -> &'static str {
        match self {
            Closing::Receive => "received",
            Closing::Cancel => "cancelled",
        }
    }
}

// Stored as text (`transfer_lines_discrepancy_reason`); the doc line below is the schema's.
/// Why a line arrived short.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
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
    #[schema(value_type = String)]
    pub status: TransferStatus,
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
    #[schema(value_type = Option<String>)]
    pub discrepancy_reason: Option<DiscrepancyReason>,
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

/// Checks the two ends of a transfer: it must go to another warehouse than its source.
pub fn check_route(from: WarehouseId, to: WarehouseId) -> Result<(), Refusal> {
    if from == to {
        Err(Refusal::SameWarehouse)
    } else {
        Ok(())
    }
}

/// Checks each line against its source lot as read under lock (`locked`, any order):
/// the lot is one of warehouse `from`, not quarantined, and has at least the line's
/// quantity available ([`lot_available`], the rule every path shares). Expired lots may
/// be sent. Refuses on the first line that fails, in line order.
pub fn check_sources(
    lines: &[SendLine],
    locked: &[LotState],
    from: WarehouseId,
    from_code: &str,
) -> Result<(), Refusal> {
    for (line, l) in lines.iter().enumerate() {
        let lot = locked
            .iter()
            .find(|s| s.id == l.lot.0 && s.warehouse_id == from.0)
            .ok_or_else(|| Refusal::NotAtSource {
                line,
                lot: l.lot,
                warehouse: from_code.to_owned(),
            })?;
        if lot.quarantined {
            return Err(Refusal::Quarantined {
                line,
                lot: l.lot,
                lot_code: lot.lot_code.clone(),
            });
        }
        let available = lot_available(lot);
        if l.qty > available {
            return Err(Refusal::NotEnough {
                line,
                lot: l.lot,
                lot_code: lot.lot_code.clone(),
                on_hand: lot.on_hand,
                reserved: lot.reserved,
                available,
                qty: l.qty,
            });
        }
    }
    Ok(())
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

/// A line sent, with its source lot's identity: what the destination lot must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentLine {
    /// Position.
    pub line_no: i32,
    /// Source lot.
    pub lot_id: LotId,
    /// Units sent.
    pub qty: i64,
    /// Item.
    pub item_id: ItemId,
    /// Lot code, kept at the destination.
    pub lot_code: String,
    /// Expiry, kept at the destination.
    pub expires_on: Option<NaiveDate>,
    /// Donor, kept at the destination.
    pub donor: Option<String>,
}

/// The order in which to find or create the destination lots of `sent`: by (item, lot
/// code), so that two receipts creating the same lots wait on each other instead of
/// deadlocking.
pub fn landing_order(sent: &[SentLine]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sent.len()).collect();
    order.sort_by(|&x, &y| {
        (sent[x].item_id, &sent[x].lot_code).cmp(&(sent[y].item_id, &sent[y].lot_code))
    });
    order
}

/// Checks that the destination lot a line lands in (found by item and lot code at `to`)
/// has the expiry of the lot sent: the same lot code must mean the same lot. `line` is
/// the line's position in the receiver's report.
pub fn check_landing(
    line: usize,
    sent: &SentLine,
    to: &str,
    dest_expires_on: Option<NaiveDate>,
) -> Result<(), Refusal> {
    if dest_expires_on == sent.expires_on {
        Ok(())
    } else {
        Err(Refusal::ExpiryDiffers {
            line,
            lot_code: sent.lot_code.clone(),
            to: to.to_owned(),
            dest: dest_expires_on,
            sent: sent.expires_on,
        })
    }
}

/// Why a transfer command was refused (besides invalid lines, which
/// [`check_send_lines`] and [`match_receipt`] report field by field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No transfer has this id.
    #[error("no transfer with id {0}")]
    NotFound(TransferId),
    /// A warehouse code names no warehouse; `field` is `from` or `to`.
    #[error("unknown warehouse `{code}`")]
    UnknownWarehouse {
        /// `from` or `to`.
        field: &'static str,
        /// The code given.
        code: String,
    },
    /// Source and destination are the same warehouse.
    #[error("a transfer must go to another warehouse than its source")]
    SameWarehouse,
    /// A line's lot is not a lot of the source warehouse.
    #[error("lot {lot} is not a lot of warehouse {warehouse}")]
    NotAtSource {
        /// Line position.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Source warehouse code.
        warehouse: String,
    },
    /// A line's lot is quarantined.
    #[error("lot {lot} ({lot_code}) is quarantined and cannot be transferred")]
    Quarantined {
        /// Line position.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Its code.
        lot_code: String,
    },
    /// A line asks for more than its lot has available.
    #[error(
        "lot {lot_code} has {available} available (on hand {on_hand} − reserved {reserved}); cannot send {qty}"
    )]
    NotEnough {
        /// Line position.
        line: usize,
        /// The lot.
        lot: LotId,
        /// Its code.
        lot_code: String,
        /// On hand.
        on_hand: i64,
        /// Reserved.
        reserved: i64,
        /// Available.
        available: i64,
        /// Units asked for.
        qty: i64,
    },
    /// The transfer is no longer in transit.
    #[error("the transfer is already {status}; only a transfer in transit can be {}", how.done())]
    Closed {
        /// Where it stands.
        status: TransferStatus,
        /// What was attempted.
        how: Closing,
    },
    /// The destination already has the lot code with another expiry.
    #[error(
        "lot {lot_code} at {to} expires on {}, but the lot sent expires on {}",
        show_date(*dest),
        show_date(*sent)
    )]
    ExpiryDiffers {
        /// Position in the receiver's report.
        line: usize,
        /// Lot code.
        lot_code: String,
        /// Destination warehouse code.
        to: String,
        /// The destination lot's expiry.
        dest: Option<NaiveDate>,
        /// The sent lot's expiry.
        sent: Option<NaiveDate>,
    },
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        let detail = r.to_string();
        match r {
            Refusal::NotFound(_) => AppError::not_found(detail),
            Refusal::UnknownWarehouse { field, .. } => {
                AppError::invalid(format!("/{field}"), detail)
            }
            Refusal::SameWarehouse => AppError::invalid("/to", detail),
            Refusal::NotAtSource { line, .. } => {
                AppError::invalid(format!("/lines/{line}/lot_id"), detail)
            }
            Refusal::Quarantined { line, lot, .. } => AppError::conflict(
                format!("/lines/{line}/lot_id"),
                detail,
                Some(json!({ "lot_id": lot, "lot_status": "quarantined" })),
            ),
            Refusal::NotEnough {
                line,
                lot,
                available,
                ..
            } => AppError::conflict(
                format!("/lines/{line}/qty"),
                detail,
                Some(json!({ "lot_id": lot, "available": available })),
            ),
            Refusal::Closed { status, .. } => AppError::Conflict {
                detail,
                errors: vec![],
                extra: Some(json!({ "transfer_status": status })),
            },
            Refusal::ExpiryDiffers {
                line, dest, sent, ..
            } => AppError::conflict(
                format!("/lines/{line}/lot_id"),
                detail,
                Some(json!({ "dest_expires_on": dest, "sent_expires_on": sent })),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation { errors, .. } | AppError::Conflict { errors, .. } => {
                errors.into_iter().map(|e| e.pointer).collect()
            }
            other => panic!("expected a validation error or a conflict, got {other:?}"),
        }
    }

    fn lot(id: LotId, warehouse: WarehouseId, on_hand: i64, reserved: i64) -> LotState {
        LotState {
            id: id.0,
            warehouse_id: warehouse.0,
            sku: "WATER-1L".into(),
            lot_code: "L1".into(),
            expires_on: None,
            on_hand,
            reserved,
            quarantined: false,
        }
    }

    #[test]
    fn only_a_transfer_in_transit_closes_and_only_once() {
        use TransferStatus::*;
        assert_eq!(InTransit.close(Closing::Receive), Ok(Received));
        assert_eq!(InTransit.close(Closing::Cancel), Ok(Cancelled));
        for status in [Received, Cancelled] {
            for how in [Closing::Receive, Closing::Cancel] {
                assert_eq!(status.close(how), Err(Refusal::Closed { status, how }));
            }
        }
        let err = AppError::from(Received.close(Closing::Cancel).expect_err("closed"));
        assert_eq!(
            err.to_string(),
            "the transfer is already received; only a transfer in transit can be cancelled"
        );
        assert_eq!(InTransit.on_the_road(7), 7);
        assert_eq!(Cancelled.on_the_road(7), 0);
    }

    #[test]
    fn a_line_sends_at_most_what_its_lot_has_available_at_the_source() {
        let (a, b) = (LotId::new(), LotId::new());
        let (from, other) = (WarehouseId::new(), WarehouseId::new());
        let locked = [lot(a, from, 10, 4), lot(b, other, 10, 0)];
        let line = |lot, qty| SendLine { lot, qty };
        assert_eq!(check_sources(&[line(a, 6)], &locked, from, "HK01"), Ok(()));
        assert!(matches!(
            check_sources(&[line(a, 6), line(a, 7)], &locked, from, "HK01"),
            Err(Refusal::NotEnough {
                line: 1,
                available: 6,
                ..
            })
        ));
        assert!(matches!(
            check_sources(&[line(b, 1)], &locked, from, "HK01"),
            Err(Refusal::NotAtSource { line: 0, .. })
        ));
        assert!(matches!(
            check_sources(&[line(LotId::new(), 1)], &locked, from, "HK01"),
            Err(Refusal::NotAtSource { line: 0, .. })
        ));
        let mut held = locked.clone();
        held[0].quarantined = true;
        assert!(matches!(
            check_sources(&[line(a, 1)], &held, from, "HK01"),
            Err(Refusal::Quarantined { line: 0, .. })
        ));
        // An expired lot may still be sent (to a disposal site, say).
        let mut expired = locked.clone();
        expired[0].expires_on = NaiveDate::from_ymd_opt(2000, 1, 1);
        assert_eq!(check_sources(&[line(a, 6)], &expired, from, "HK01"), Ok(()));
        assert_eq!(check_route(from, from), Err(Refusal::SameWarehouse));
        assert_eq!(check_route(from, other), Ok(()));
    }

    #[test]
    fn refusals_keep_their_pointers_and_facts() {
        let a = LotId::new();
        let err = AppError::from(Refusal::NotEnough {
            line: 2,
            lot: a,
            lot_code: "L1".into(),
            on_hand: 10,
            reserved: 4,
            available: 6,
            qty: 7,
        });
        let AppError::Conflict {
            detail,
            errors,
            extra,
        } = err
        else {
            panic!("a conflict")
        };
        assert_eq!(
            detail,
            "lot L1 has 6 available (on hand 10 − reserved 4); cannot send 7"
        );
        assert_eq!(errors[0].pointer, "/lines/2/qty");
        assert_eq!(extra, Some(json!({ "lot_id": a, "available": 6 })));
        let err = AppError::from(Refusal::UnknownWarehouse {
            field: "to",
            code: "XX".into(),
        });
        assert_eq!(pointers(err), ["/to"]);
    }

    #[test]
    fn a_line_lands_only_in_a_lot_with_the_same_expiry() {
        let d = NaiveDate::from_ymd_opt(2027, 3, 1);
        let sent = |item, code: &str, expires_on| SentLine {
            line_no: 0,
            lot_id: LotId::new(),
            qty: 1,
            item_id: item,
            lot_code: code.into(),
            expires_on,
            donor: None,
        };
        let s = sent(ItemId::new(), "L1", d);
        assert_eq!(check_landing(0, &s, "SZ01", d), Ok(()));
        let err = AppError::from(check_landing(3, &s, "SZ01", None).expect_err("differs"));
        assert_eq!(
            err.to_string(),
            "lot L1 at SZ01 expires on none, but the lot sent expires on 2027-03-01"
        );
        assert_eq!(pointers(err), ["/lines/3/lot_id"]);
        let (i1, i2) = (ItemId::new(), ItemId::new());
        let (lo, hi) = if i1 < i2 { (i1, i2) } else { (i2, i1) };
        let lines = [sent(hi, "A", d), sent(lo, "B", d), sent(lo, "A", d)];
        assert_eq!(landing_order(&lines), [2, 1, 0]);
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
