//! The rules of a receipt, in the order a receipt meets them: each line's own fields
//! (with a GS1 scan merged in: every explicit field must agree with it), its item and the
//! item's shelf-life policy (which give the status the lot arrives with), and then the
//! lot each line goes into (one expiry per lot code, no overflow, no quarantine of a lot
//! with stock reserved).
//!
//! [`into_existing_lots`] is the part of these rules that the one-statement receipt
//! (`stock::db::receive_into_existing_lots`) states again in SQL; the differential test
//! in `tests/api/differential_stock.rs` proves the two accept the same receipts.
//!
//! Pure: no database, no clock (`today` is an argument).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::fields::{agree, check_lines, check_text, invalid_all, line_ptr};
use super::{Balances, ItemPolicy, LockedLot, LotStatus, Refusal, Source};
use crate::audit::Change;
use crate::error::{AppError, FieldError};
use crate::ids::{ItemId, LotId};

/// One received lot. Name the item by `sku` or by a GS1 scan in `gs1` (or both, when they
/// agree); every explicit field must agree with what the scan carries.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    /// Item SKU.
    pub sku: Option<String>,
    /// A raw GS1 scan (GS1-128, DataMatrix, QR, DataBar or the bracketed form).
    pub gs1: Option<String>,
    /// The supplier's lot code (or AI (10) of the scan).
    pub lot_code: Option<String>,
    /// Last usable day (or AI (17)); required for items that expire, refused for items
    /// that do not.
    pub expires_on: Option<NaiveDate>,
    /// Production date (or AI (11)).
    pub production_date: Option<NaiveDate>,
    /// Units received, > 0 (or AI (30)/(37)).
    pub qty: Option<i64>,
    /// Where it came from (default `supplier`).
    #[serde(default)]
    pub source: Source,
    /// Supplier or donor name.
    pub donor: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
    /// Receive into quarantine (required for expired or short-dated stock).
    #[serde(default)]
    pub quarantine: bool,
}

/// A receipt line whose own fields passed: the item by SKU and/or GTIN, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReceipt {
    /// The SKU given.
    pub sku: Option<String>,
    /// The GTIN scanned.
    pub gtin: Option<String>,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// Whether the expiry came from the scan (its errors then name `gs1`).
    pub expiry_from_scan: bool,
    /// Production date.
    pub produced_on: Option<NaiveDate>,
    /// Units, > 0.
    pub qty: i64,
    /// Source.
    pub source: Source,
    /// Supplier or donor name.
    pub donor: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Asked to arrive in quarantine.
    pub quarantine: bool,
}

/// Checks one line without the database; pushes every problem found.
pub fn parse_line(
    i: usize,
    line: ReceiptLine,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<ParsedReceipt> {
    let before = errors.len();
    let scan = match line.gs1.as_deref() {
        None => None,
        Some(raw) => match crate::gs1::parse(raw, today) {
            Ok(scan) => Some(scan),
            Err(e) => {
                errors.push(FieldError::new(line_ptr(i, "gs1"), e.to_string()));
                None
            }
        },
    };
    let scan = scan.unwrap_or_default();
    if let Some(sku) = &line.sku {
        check_text(errors, line_ptr(i, "sku"), Some(sku), true, 40);
    }
    let lot_code = agree(
        errors,
        line_ptr(i, "lot_code"),
        "10",
        line.lot_code,
        scan.lot.clone(),
    );
    match &lot_code {
        None if errors.len() == before => errors.push(FieldError::new(
            line_ptr(i, "lot_code"),
            "required: give lot_code or a scan with AI (10)",
        )),
        Some(code) => check_text(errors, line_ptr(i, "lot_code"), Some(code), true, 40),
        None => {}
    }
    let expiry_from_scan = line.expires_on.is_none() && scan.expiry.is_some();
    let expires_on = agree(
        errors,
        line_ptr(i, "expires_on"),
        "17",
        line.expires_on,
        scan.expiry,
    );
    let produced_on = agree(
        errors,
        line_ptr(i, "production_date"),
        "11",
        line.production_date,
        scan.production,
    );
    let scanned_count = match scan.count.map(i64::try_from) {
        Some(Err(_)) => {
            errors.push(FieldError::new(
                line_ptr(i, "gs1"),
                "the count is too large",
            ));
            None
        }
        Some(Ok(n)) => Some(n),
        None => None,
    };
    let qty = agree(errors, line_ptr(i, "qty"), "30/37", line.qty, scanned_count);
    match qty {
        None if line.qty.is_none() && scanned_count.is_none() => {
            errors.push(FieldError::new(line_ptr(i, "qty"), "required"));
        }
        Some(q) if q <= 0 => errors.push(FieldError::new(
            line_ptr(i, "qty"),
            format!("must be greater than 0, got {q}"),
        )),
        _ => {}
    }
    if line.sku.is_none() && scan.gtin.is_none() && line.gs1.is_none() {
        errors.push(FieldError::new(
            line_ptr(i, "sku"),
            "name the item by sku or by a gs1 scan",
        ));
    } else if line.sku.is_none() && scan.gtin.is_none() && errors.len() == before {
        errors.push(FieldError::new(
            line_ptr(i, "gs1"),
            "the scan carries no GTIN (AI 01 or 02); give the sku as well",
        ));
    }
    check_text(
        errors,
        line_ptr(i, "donor"),
        line.donor.as_deref(),
        false,
        200,
    );
    check_text(
        errors,
        line_ptr(i, "note"),
        line.note.as_deref(),
        false,
        1000,
    );
    if errors.len() != before {
        return None;
    }
    Some(ParsedReceipt {
        sku: line.sku,
        gtin: scan.gtin,
        lot_code: lot_code?,
        expires_on,
        expiry_from_scan,
        produced_on,
        qty: qty?,
        source: line.source,
        donor: line.donor,
        note: line.note,
        quarantine: line.quarantine,
    })
}

/// Checks every line's own fields ([`parse_line`]); one 422 names every problem.
pub fn parse_lines(
    lines: Vec<ReceiptLine>,
    today: NaiveDate,
) -> Result<Vec<ParsedReceipt>, AppError> {
    check_lines(&lines)?;
    let mut errors = Vec::new();
    let parsed: Vec<Option<ParsedReceipt>> = lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| parse_line(i, line, today, &mut errors))
        .collect();
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    Ok(parsed.into_iter().flatten().collect())
}

/// The SKUs and GTINs that name the lines' items.
pub fn item_names(lines: &[ParsedReceipt]) -> (Vec<String>, Vec<String>) {
    (
        lines.iter().filter_map(|l| l.sku.clone()).collect(),
        lines.iter().filter_map(|l| l.gtin.clone()).collect(),
    )
}

/// A line with its item, and the status its lot is to have on arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedLine {
    /// The line.
    pub line: ParsedReceipt,
    /// Its item.
    pub item: ItemPolicy,
    /// The status the item's shelf-life policy and the line's `quarantine` give it.
    pub status: LotStatus,
}

impl ResolvedLine {
    /// The line as the lot rules see it.
    pub fn arrival(&self) -> Arrival<'_> {
        Arrival {
            item: self.item.id,
            lot_code: &self.line.lot_code,
            expires_on: self.line.expires_on,
            qty: self.line.qty,
            status: self.status,
        }
    }
}

/// Line `i` names the retired item `sku`, by the field that named it (`sku`, or `gs1`).
fn retired_line(i: usize, line: &ParsedReceipt, sku: &str) -> FieldError {
    let field = if line.sku.is_some() { "sku" } else { "gs1" };
    FieldError::new(
        line_ptr(i, field),
        format!("item {sku} is retired: it is no longer received (reactivate it first)"),
    )
}

/// The 422 of a receipt that the database refused because item `sku` was retired while
/// the receipt was in flight (after [`resolve`] saw it active): every line of that item
/// named as [`resolve`] names it.
pub fn retired_in_flight(lines: &[ResolvedLine], sku: &str) -> AppError {
    invalid_all(
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.item.sku == sku)
            .map(|(i, l)| retired_line(i, &l.line, sku))
            .collect(),
    )
}

/// Finds each line's item among `items` (by SKU, by GTIN, or both when they agree) and
/// checks its dates against the item's shelf-life policy; one 422 names every problem.
pub fn resolve(
    lines: Vec<ParsedReceipt>,
    items: &[ItemPolicy],
    today: NaiveDate,
) -> Result<Vec<ResolvedLine>, AppError> {
    let by_sku: HashMap<&str, &ItemPolicy> = items.iter().map(|i| (i.sku.as_str(), i)).collect();
    let by_gtin: HashMap<&str, &ItemPolicy> = items
        .iter()
        .flat_map(|i| i.gtins.iter().map(move |g| (g.as_str(), i)))
        .collect();
    let mut errors = Vec::new();
    let mut resolved = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let Some(item) = item_of(i, &line, &by_sku, &by_gtin, &mut errors) else {
            continue;
        };
        if item.retired {
            errors.push(retired_line(i, &line, &item.sku));
            continue;
        }
        match receipt_status(
            line.expires_on,
            line.produced_on,
            item.shelf_life_days.is_some(),
            item.min_remaining_days,
            today,
            line.quarantine,
        ) {
            Ok(status) => resolved.push(ResolvedLine {
                line,
                item: item.clone(),
                status,
            }),
            Err(rule) => errors.push(date_rule_error(i, line.expiry_from_scan, &rule)),
        }
    }
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    Ok(resolved)
}

/// The item line `i` names, or `None` with the problem pushed.
fn item_of<'a>(
    i: usize,
    line: &ParsedReceipt,
    by_sku: &HashMap<&str, &'a ItemPolicy>,
    by_gtin: &HashMap<&str, &'a ItemPolicy>,
    errors: &mut Vec<FieldError>,
) -> Option<&'a ItemPolicy> {
    let from_sku = match &line.sku {
        None => None,
        Some(sku) => match by_sku.get(sku.as_str()) {
            Some(item) => Some(*item),
            None => {
                errors.push(FieldError::new(
                    line_ptr(i, "sku"),
                    format!("unknown SKU `{sku}`"),
                ));
                return None;
            }
        },
    };
    let from_gtin = match &line.gtin {
        None => None,
        Some(gtin) => match by_gtin.get(gtin.as_str()) {
            Some(item) => Some(*item),
            None => {
                errors.push(FieldError::new(
                    line_ptr(i, "gs1"),
                    format!("no catalogue item has the scanned GTIN {gtin}"),
                ));
                return None;
            }
        },
    };
    match (from_sku, from_gtin) {
        (Some(a), Some(b)) if a.id != b.id => {
            errors.push(FieldError::new(
                line_ptr(i, "sku"),
                format!(
                    "SKU {} disagrees with the scan, whose GTIN {} is item {}",
                    a.sku,
                    line.gtin.as_deref().unwrap_or(""),
                    b.sku
                ),
            ));
            None
        }
        (Some(a), _) | (None, Some(a)) => Some(a),
        // parse_line requires a SKU or a GTIN, so this names no item only if it had neither.
        (None, None) => None,
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
    if crate::rules::expired(Some(expiry), today) {
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

/// A date rule as a field error on line `i`: production dates name `production_date`,
/// the rest the expiry, or the scan when the expiry came from it.
pub fn date_rule_error(i: usize, from_scan: bool, rule: &DateRule) -> FieldError {
    let field = match rule {
        DateRule::ProducedInFuture { .. } => "production_date",
        _ if from_scan => "gs1",
        _ => "expires_on",
    };
    FieldError::new(line_ptr(i, field), rule.to_string())
}

/// A receipt line as the lot rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// The item.
    pub item: ItemId,
    /// The lot code.
    pub lot_code: &'a str,
    /// The expiry the line gives.
    pub expires_on: Option<NaiveDate>,
    /// Units, > 0.
    pub qty: i64,
    /// The status the line arrives with.
    pub status: LotStatus,
}

/// The lots a receipt must create: for each (item, lot code) of `lines` not among `lots`,
/// the first line naming it and the status to create it with (quarantined when any line
/// for it arrives quarantined, so that the lot is held from its first row).
pub fn lots_to_create(lines: &[Arrival<'_>], lots: &[LockedLot]) -> Vec<(usize, LotStatus)> {
    let mut out: Vec<(usize, LotStatus)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let same = |o: &Arrival<'_>| o.item == l.item && o.lot_code == l.lot_code;
        if lots
            .iter()
            .any(|k| k.item_id == l.item && k.lot_code == l.lot_code)
            || out.iter().any(|&(j, _)| same(&lines[j]))
        {
            continue;
        }
        let status = if lines
            .iter()
            .any(|o| same(o) && o.status == LotStatus::Quarantined)
        {
            LotStatus::Quarantined
        } else {
            LotStatus::Available
        };
        out.push((i, status));
    }
    out
}

/// What a receipt does to its lots, once each line's lot is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptPlan {
    /// Per line, the lot's balances after it.
    pub balances: Vec<Balances>,
    /// Per line, the lot's status after the receipt.
    pub statuses: Vec<LotStatus>,
    /// Available lots on record that the receipt quarantines.
    pub quarantine: Vec<LotId>,
}

/// Checks each line against its lot, `targets[i]` for line `i`, in line order: the lot
/// has the line's expiry (a lot code has one), the running on-hand balance does not
/// overflow, and a line arriving quarantined may hold an available lot only when nothing
/// of it is reserved. The first line that fails is refused.
pub fn plan(lines: &[Arrival<'_>], targets: &[&LockedLot]) -> Result<ReceiptPlan, Refusal> {
    let mut running: HashMap<LotId, i64> = HashMap::new();
    let mut quarantine: Vec<LotId> = Vec::new();
    let mut on_hand_after = Vec::with_capacity(lines.len());
    for (i, (l, lot)) in lines.iter().zip(targets).enumerate() {
        if lot.expires_on != l.expires_on {
            return Err(Refusal::ExpiryMismatch {
                line: i,
                lot: lot.id,
                lot_code: lot.lot_code.clone(),
                sku: lot.sku.clone(),
                on_record: lot.expires_on,
                received: l.expires_on,
            });
        }
        let total = running.entry(lot.id).or_insert(lot.on_hand);
        *total = total.checked_add(l.qty).ok_or(Refusal::Overflow {
            line: i,
            qty: l.qty,
        })?;
        on_hand_after.push(*total);
        if l.status == LotStatus::Quarantined
            && lot.status == LotStatus::Available
            && !quarantine.contains(&lot.id)
        {
            if lot.reserved > 0 {
                return Err(Refusal::QuarantineReserved {
                    line: i,
                    lot: lot.id,
                    lot_code: lot.lot_code.clone(),
                    reserved: lot.reserved,
                });
            }
            quarantine.push(lot.id);
        }
    }
    let statuses = targets
        .iter()
        .map(|lot| {
            if lot.status == LotStatus::Quarantined || quarantine.contains(&lot.id) {
                LotStatus::Quarantined
            } else {
                LotStatus::Available
            }
        })
        .collect();
    let balances = on_hand_after
        .into_iter()
        .zip(targets)
        .map(|(on_hand, lot)| Balances {
            on_hand,
            reserved: lot.reserved,
        })
        .collect();
    Ok(ReceiptPlan {
        balances,
        statuses,
        quarantine,
    })
}

/// The rule of the one-statement receipt (`stock::db::receive_into_existing_lots`): it
/// applies when every line arrives available into an available lot on record (in the
/// warehouse of `lots`) and [`plan`] accepts; then it returns the balances per line.
/// Anything else (a lot to create, a quarantined lot or line, a refusal) is `None`, and
/// the receipt goes the long way, which creates lots and explains refusals.
pub fn into_existing_lots(lines: &[Arrival<'_>], lots: &[LockedLot]) -> Option<Vec<Balances>> {
    let mut targets = Vec::with_capacity(lines.len());
    for l in lines {
        let lot = lots
            .iter()
            .find(|k| k.item_id == l.item && k.lot_code == l.lot_code)?;
        if l.status != LotStatus::Available || lot.status != LotStatus::Available {
            return None;
        }
        targets.push(lot);
    }
    plan(lines, &targets).ok().map(|p| p.balances)
}

/// One received lot in the response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptResult {
    /// The lot.
    pub lot_id: LotId,
    /// Item SKU.
    pub sku: String,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// Units received.
    pub qty: i64,
    /// Whether this receipt created the lot (otherwise it added to it).
    pub created: bool,
    /// The lot's status after the receipt.
    pub status: LotStatus,
    /// Ledger row.
    pub movement_id: i64,
    /// On hand after.
    pub on_hand: i64,
    /// Reserved after.
    pub reserved: i64,
}

/// The outcome of a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptResponse {
    /// Receipt id (the ledger rows' `ref_id`).
    pub id: Uuid,
    /// Warehouse code.
    pub warehouse: String,
    /// One per request line, in order.
    pub lines: Vec<ReceiptResult>,
}

/// The audit record of a receipt: per line the item, lot code, quantity, whether the
/// lot was created and its status after.
pub fn change<'a>(
    receipt_id: Uuid,
    warehouse: &str,
    lines: impl Iterator<Item = (&'a str, &'a str, i64, bool, LotStatus)>,
) -> Change<'static> {
    Change {
        action: "stock.receipt",
        entity_kind: "receipt",
        entity_id: receipt_id.to_string(),
        before: None,
        after: Some(json!({"warehouse": warehouse, "lines": lines
            .map(|(sku, lot_code, qty, created, status)| json!({
                "sku": sku, "lot_code": lot_code, "qty": qty, "created": created, "status": status,
            }))
            .collect::<Vec<_>>()})),
    }
}

#[cfg(test)]
mod tests;
