//! Clerk operations on lots. See the parent module for the transaction order.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::Change;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::catalog::Item;
use crate::error::{AppError, AppResult, FieldError};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query};
use crate::ids::{ItemId, LotId};
use crate::stock::db::{self, LockedLot, Movement, MovementRow, ReceivedLot, ReserveLevel};
use crate::stock::{self as domain, AdjustmentReason, DateRule, Lot, LotStatus, Pick, Source};
use crate::warehouses::ids::WarehouseRef;

/// Most lines in one request.
const MAX_LINES: usize = 500;

fn today(state: &AppState) -> NaiveDate {
    Utc::now().with_timezone(&state.settings.tz).date_naive()
}

fn line_ptr(i: usize, field: &str) -> String {
    format!("/lines/{i}/{field}")
}

/// Several field errors as one 422.
fn invalid_all(errors: Vec<FieldError>) -> AppError {
    let detail = match errors.as_slice() {
        [one] => one.detail.clone(),
        [first, ..] => format!(
            "{} fields are invalid; first, {}: {}",
            errors.len(),
            first.pointer,
            first.detail
        ),
        [] => "invalid request".to_owned(),
    };
    AppError::Validation { detail, errors }
}

fn check_lines<T>(lines: &[T]) -> AppResult<()> {
    if lines.is_empty() {
        return Err(AppError::invalid("/lines", "give at least one line"));
    }
    if lines.len() > MAX_LINES {
        return Err(AppError::invalid(
            "/lines",
            format!("at most {MAX_LINES} lines per request"),
        ));
    }
    Ok(())
}

fn check_text(
    errors: &mut Vec<FieldError>,
    pointer: String,
    value: Option<&str>,
    required: bool,
    max: usize,
) {
    match value {
        None if required => errors.push(FieldError::new(pointer, "required")),
        Some(v) if v.trim().is_empty() => {
            errors.push(FieldError::new(pointer, "must not be blank"));
        }
        Some(v) if v.chars().count() > max => {
            errors.push(FieldError::new(
                pointer,
                format!("at most {max} characters"),
            ));
        }
        _ => {}
    }
}

/// The warehouse named by `code`, if the actor is one of its clerks.
async fn clerk_warehouse(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    code: &str,
) -> AppResult<WarehouseRef> {
    let wh = state.warehouse_ids.in_path(conn, code).await?;
    actor.require_warehouse(wh.id, &wh.code)?;
    Ok(wh)
}

/// Records the audit event, stores the idempotent response and commits.
async fn commit<T: Serialize + Sync>(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &Actor,
    origin: &Origin,
    change: Change<'_>,
    status: StatusCode,
    out: &T,
) -> AppResult<Response> {
    crate::audit::http::finish_command(tx, actor, origin, change, status, out).await
}

// ---------------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------------

/// A receipt: stock arriving at a warehouse.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// One line per lot received.
    pub lines: Vec<ReceiptLine>,
}

/// One received lot. Name the item by `sku` or by a GS1 scan in `gs1` (or both, when they
/// agree); every explicit field must agree with what the scan carries.
#[derive(Debug, Deserialize, ToSchema)]
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

/// How a receipt line names its item.
#[derive(Debug, Clone)]
struct ParsedReceipt {
    sku: Option<String>,
    gtin: Option<String>,
    lot_code: String,
    expires_on: Option<NaiveDate>,
    expiry_from_scan: bool,
    produced_on: Option<NaiveDate>,
    qty: i64,
    source: Source,
    donor: Option<String>,
    note: Option<String>,
    quarantine: bool,
}

/// Merges an explicit field with the scan's value; a disagreement is an error on the
/// explicit field.
fn agree<T: PartialEq + std::fmt::Display + Clone>(
    errors: &mut Vec<FieldError>,
    pointer: String,
    ai: &str,
    explicit: Option<T>,
    scanned: Option<T>,
) -> Option<T> {
    match (explicit, scanned) {
        (Some(e), Some(s)) if e != s => {
            errors.push(FieldError::new(
                pointer,
                format!("{e} disagrees with the scan, whose AI ({ai}) says {s}"),
            ));
            None
        }
        (e, s) => e.or(s),
    }
}

/// Checks one line without the database; pushes every problem found.
fn parse_receipt_line(
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

fn date_rule_error(i: usize, from_scan: bool, rule: &DateRule) -> FieldError {
    let field = match rule {
        DateRule::ProducedInFuture { .. } => "production_date",
        _ if from_scan => "gs1",
        _ => "expires_on",
    };
    FieldError::new(line_ptr(i, field), rule.to_string())
}

/// Receive stock into a warehouse. Adds to an existing lot with the same item and lot
/// code (its expiry must match); creates the lot otherwise. All lines or none.
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/receipts", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = ReceiptRequest,
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = ReceiptResponse),
              (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_receipt(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<ReceiptRequest>,
) -> AppResult<Response> {
    let today = today(&state);
    let mut conn = state.writes.acquire().await?;
    let wh = clerk_warehouse(&state, &mut conn, &actor, &code).await?;
    if origin.idempotency_key.is_some() {
        // The key's row is claimed first, in the transaction of the effect, so that a
        // retry replays the stored answer whatever has changed since.
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        if let Some(replay) =
            crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
        {
            return Ok(replay);
        }
        let (lines, resolved) = resolve_receipt(&state, &mut tx, cmd.body, today).await?;
        return receive_locked(tx, &actor, &origin, &wh, today, &lines, &resolved).await;
    }
    let (lines, resolved) = resolve_receipt(&state, &mut conn, cmd.body, today).await?;
    if resolved.iter().all(|(_, s)| *s == LotStatus::Available) {
        // The common case, stock arriving for lots already on record, in one statement;
        // anything else (a new lot, another expiry, a quarantined lot) writes nothing
        // there and goes the long way, which creates lots and explains refusals.
        let receipt_id = Uuid::now_v7();
        let lots = db::ExistingLotReceipt {
            warehouse: wh.id,
            items: &resolved
                .iter()
                .map(|(item, _)| item.id.0)
                .collect::<Vec<_>>(),
            lot_codes: &lines.iter().map(|l| l.lot_code.clone()).collect::<Vec<_>>(),
            expires_on: &lines.iter().map(|l| l.expires_on).collect::<Vec<_>>(),
            qtys: &lines.iter().map(|l| l.qty).collect::<Vec<_>>(),
            sources: &lines.iter().map(|l| l.source.as_str()).collect::<Vec<_>>(),
            notes: &lines.iter().map(|l| l.note.as_deref()).collect::<Vec<_>>(),
            ref_id: receipt_id,
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
        };
        let change = receipt_change(
            receipt_id,
            &wh.code,
            lines.iter().zip(&resolved).map(|(l, (item, _))| {
                (&*item.sku, &*l.lot_code, l.qty, false, LotStatus::Available)
            }),
        );
        let event = crate::audit::db::pending_event(&actor, &origin, change);
        let applied = db::receive_into_existing_lots(&mut conn, &lots, &event).await?;
        if !applied.is_empty() {
            let out = ReceiptResponse {
                id: receipt_id,
                warehouse: wh.code.clone(),
                lines: applied
                    .into_iter()
                    .zip(lines.iter().zip(&resolved))
                    .map(|(a, (l, (item, _)))| ReceiptResult {
                        lot_id: a.lot_id,
                        sku: item.sku.clone(),
                        lot_code: l.lot_code.clone(),
                        expires_on: l.expires_on,
                        qty: l.qty,
                        created: false,
                        status: LotStatus::Available,
                        movement_id: a.movement_id,
                        on_hand: a.on_hand,
                        reserved: a.reserved,
                    })
                    .collect(),
            };
            return Ok((StatusCode::CREATED, Json(out)).into_response());
        }
    }
    let tx = sqlx::Connection::begin(&mut *conn).await?;
    receive_locked(tx, &actor, &origin, &wh, today, &lines, &resolved).await
}

/// The audit record of a receipt: per line the item, lot code, quantity, whether the
/// lot was created and its status after.
fn receipt_change<'a>(
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

/// Checks a receipt's lines against the rules that need no lot, and finds their items:
/// the parsed lines, and each line's item and the status its lot is to have.
async fn resolve_receipt(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    body: ReceiptRequest,
    today: NaiveDate,
) -> AppResult<(Vec<ParsedReceipt>, Vec<(db::ItemPolicy, LotStatus)>)> {
    check_lines(&body.lines)?;
    let mut errors = Vec::new();
    let parsed: Vec<Option<ParsedReceipt>> = body
        .lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| parse_receipt_line(i, line, today, &mut errors))
        .collect();
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    let lines: Vec<ParsedReceipt> = parsed.into_iter().flatten().collect();

    // Resolve items in one round trip, or none when they are cached.
    let skus: Vec<String> = lines.iter().filter_map(|l| l.sku.clone()).collect();
    let gtins: Vec<String> = lines.iter().filter_map(|l| l.gtin.clone()).collect();
    let items = state.item_policies.named(conn, &skus, &gtins).await?;
    let by_sku: HashMap<&str, &db::ItemPolicy> =
        items.iter().map(|i| (i.sku.as_str(), i)).collect();
    let by_gtin: HashMap<&str, &db::ItemPolicy> = items
        .iter()
        .filter_map(|i| i.gtin.as_deref().map(|g| (g, i)))
        .collect();
    let mut resolved: Vec<(db::ItemPolicy, LotStatus)> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let from_sku = match &l.sku {
            None => None,
            Some(sku) => match by_sku.get(sku.as_str()) {
                Some(item) => Some(*item),
                None => {
                    errors.push(FieldError::new(
                        line_ptr(i, "sku"),
                        format!("unknown SKU `{sku}`"),
                    ));
                    continue;
                }
            },
        };
        let from_gtin = match &l.gtin {
            None => None,
            Some(gtin) => match by_gtin.get(gtin.as_str()) {
                Some(item) => Some(*item),
                None => {
                    errors.push(FieldError::new(
                        line_ptr(i, "gs1"),
                        format!("no catalogue item has the scanned GTIN {gtin}"),
                    ));
                    continue;
                }
            },
        };
        let item = match (from_sku, from_gtin) {
            (Some(a), Some(b)) if a.id != b.id => {
                errors.push(FieldError::new(
                    line_ptr(i, "sku"),
                    format!(
                        "SKU {} disagrees with the scan, whose GTIN {} is item {}",
                        a.sku,
                        b.gtin.as_deref().unwrap_or(""),
                        b.sku
                    ),
                ));
                continue;
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => continue, // unreachable: parse_receipt_line requires one
        };
        match domain::receipt_status(
            l.expires_on,
            l.produced_on,
            item.shelf_life_days.is_some(),
            item.min_remaining_days,
            today,
            l.quarantine,
        ) {
            Ok(status) => resolved.push((item.clone(), status)),
            Err(rule) => errors.push(date_rule_error(i, l.expiry_from_scan, &rule)),
        }
    }
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    Ok((lines, resolved))
}

/// The long way of a receipt, in `tx`: locks the lots that exist, creates the rest,
/// checks each line against its lot, appends the ledger rows and commits with the audit
/// event.
async fn receive_locked(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    today: NaiveDate,
    lines: &[ParsedReceipt],
    resolved: &[(db::ItemPolicy, LotStatus)],
) -> AppResult<Response> {
    // Lock the lots that exist, create the rest, and check them against the lines.
    let item_ids: Vec<ItemId> = resolved.iter().map(|(item, _)| item.id).collect();
    let codes: Vec<String> = lines.iter().map(|l| l.lot_code.clone()).collect();
    let mut locked = db::lock_lots_by_code(&mut tx, wh.id, &item_ids, &codes).await?;
    let mut created: Vec<LotId> = Vec::new();
    let mut attempts = 0;
    loop {
        let known: HashMap<(ItemId, &str), &LockedLot> = locked
            .iter()
            .map(|l| ((l.item_id, l.lot_code.as_str()), l))
            .collect();
        let mut missing: Vec<ReceivedLot> = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let (item, status) = (&resolved[i].0, resolved[i].1);
            if known.contains_key(&(item.id, l.lot_code.as_str()))
                || missing
                    .iter()
                    .any(|m| m.item == item.id && m.lot_code == l.lot_code)
            {
                continue;
            }
            missing.push(ReceivedLot {
                id: LotId::new(),
                item: item.id,
                lot_code: l.lot_code.clone(),
                expires_on: l.expires_on,
                produced_on: l.produced_on,
                status: status.as_str(),
                source: l.source.as_str(),
                donor: l.donor.clone(),
            });
        }
        if missing.is_empty() {
            break;
        }
        attempts += 1;
        let inserted = db::insert_received_lots(&mut tx, wh.id, today, &missing).await?;
        created.extend(inserted.iter().copied());
        if inserted.len() == missing.len() {
            // Ours alone until commit (the unique index makes any rival wait), so the
            // new rows need no second read to be locked.
            locked.extend(missing.into_iter().map(|m| {
                LockedLot {
                    id: m.id,
                    item_id: m.item,
                    sku: resolved
                        .iter()
                        .find(|(item, _)| item.id == m.item)
                        .map(|(item, _)| item.sku.clone())
                        .unwrap_or_default(),
                    warehouse_id: wh.id,
                    lot_code: m.lot_code,
                    expires_on: m.expires_on,
                    on_hand: 0,
                    reserved: 0,
                    status: m.status.to_owned(),
                }
            }));
            break;
        }
        if attempts > 1 {
            return Err(AppError::conflict(
                "/lines",
                "concurrent receipts keep creating these lots; retry",
                None,
            ));
        }
        // A concurrent receipt created some of them first: lock those too and recheck.
        locked = db::lock_lots_by_code(&mut tx, wh.id, &item_ids, &codes).await?;
    }
    let by_key: HashMap<(ItemId, &str), &LockedLot> = locked
        .iter()
        .map(|l| ((l.item_id, l.lot_code.as_str()), l))
        .collect();

    let receipt_id = Uuid::now_v7();
    let mut running: HashMap<LotId, i64> = HashMap::new();
    let mut to_quarantine: Vec<LotId> = Vec::new();
    let mut movements = Vec::with_capacity(lines.len());
    let mut targets: Vec<&LockedLot> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let (item, status) = (&resolved[i].0, resolved[i].1);
        let Some(lot) = by_key.get(&(item.id, l.lot_code.as_str())).copied() else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "lot {} of {} vanished after locking",
                l.lot_code,
                item.sku
            )));
        };
        if lot.expires_on != l.expires_on {
            let show = |d: Option<NaiveDate>| d.map_or("none".to_owned(), |d| d.to_string());
            return Err(AppError::conflict(
                line_ptr(i, "expires_on"),
                format!(
                    "lot {} of {} is on record with expiry {}, but this line says {}; a lot \
                     code has one expiry: check the label",
                    lot.lot_code,
                    lot.sku,
                    show(lot.expires_on),
                    show(l.expires_on)
                ),
                Some(json!({
                    "lot_id": lot.id,
                    "expires_on_on_record": lot.expires_on,
                    "expires_on_received": l.expires_on,
                })),
            ));
        }
        let total = running.entry(lot.id).or_insert(lot.on_hand);
        *total = total.checked_add(l.qty).ok_or_else(|| {
            AppError::invalid(
                line_ptr(i, "qty"),
                format!("{} would overflow the lot's on-hand balance", l.qty),
            )
        })?;
        if status == LotStatus::Quarantined
            && lot.status == LotStatus::Available.as_str()
            && !to_quarantine.contains(&lot.id)
        {
            if lot.reserved > 0 {
                return Err(AppError::conflict(
                    line_ptr(i, "quarantine"),
                    format!(
                        "lot {} already exists with {} units reserved for allocations; it \
                         cannot be quarantined",
                        lot.lot_code, lot.reserved
                    ),
                    Some(json!({"lot_id": lot.id, "reserved": lot.reserved})),
                ));
            }
            to_quarantine.push(lot.id);
        }
        targets.push(lot);
        movements.push(Movement {
            lot: lot.id,
            kind: "receipt",
            qty: l.qty,
            reserved_delta: 0,
            reason: Some(l.source.as_str()),
            note: l.note.as_deref(),
            ref_kind: Some("receipt"),
            ref_id: Some(receipt_id),
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
        });
    }
    for id in &to_quarantine {
        if !created.contains(id) {
            db::set_status(&mut tx, *id, LotStatus::Quarantined.as_str()).await?;
        }
    }
    let balances = db::insert_movements(&mut tx, &movements).await?;

    let out = ReceiptResponse {
        id: receipt_id,
        warehouse: wh.code.clone(),
        lines: lines
            .iter()
            .zip(targets.iter().zip(balances.iter()))
            .map(|(l, (lot, b))| ReceiptResult {
                lot_id: lot.id,
                sku: lot.sku.clone(),
                lot_code: lot.lot_code.clone(),
                expires_on: lot.expires_on,
                qty: l.qty,
                created: created.contains(&lot.id),
                status: if lot.status == LotStatus::Quarantined.as_str()
                    || to_quarantine.contains(&lot.id)
                {
                    LotStatus::Quarantined
                } else {
                    LotStatus::Available
                },
                movement_id: b.movement_id,
                on_hand: b.on_hand,
                reserved: b.reserved,
            })
            .collect(),
    };
    let change = receipt_change(
        receipt_id,
        &wh.code,
        out.lines
            .iter()
            .map(|l| (&*l.sku, &*l.lot_code, l.qty, l.created, l.status)),
    );
    commit(tx, actor, origin, change, StatusCode::CREATED, &out).await
}

// ---------------------------------------------------------------------------------------
// Scans
// ---------------------------------------------------------------------------------------

/// A scan to decode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// What the scanner typed.
    pub scan: String,
}

/// What a scan says.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecodedScan {
    /// GTIN-14.
    pub gtin: Option<String>,
    /// The catalogue item with that GTIN, if any.
    pub item: Option<Item>,
    /// Lot code, AI (10).
    pub lot_code: Option<String>,
    /// Expiry, AI (17).
    pub expires_on: Option<NaiveDate>,
    /// Production date, AI (11).
    pub production_date: Option<NaiveDate>,
    /// Count, AI (30) or (37).
    pub count: Option<u64>,
    /// Serial, AI (21).
    pub serial: Option<String>,
}

/// Decode a GS1 scan and find its catalogue item.
#[utoipa::path(post, path = "/api/v1/scans/decode", tag = "stock",
    request_body = ScanRequest,
    security(("bearer" = [])),
    responses((status = 200, body = DecodedScan), (status = 422, body = crate::error::Problem)))]
pub async fn decode_scan(
    State(state): State<AppState>,
    _actor: Actor,
    Json(req): Json<ScanRequest>,
) -> AppResult<Json<DecodedScan>> {
    let scan = crate::gs1::parse(&req.scan, today(&state))
        .map_err(|e| AppError::invalid("/scan", e.to_string()))?;
    let item = match &scan.gtin {
        None => None,
        Some(gtin) => {
            let mut conn = state.pool.acquire().await?;
            crate::catalog::db::item_by_gtin(&mut conn, gtin).await?
        }
    };
    Ok(Json(DecodedScan {
        gtin: scan.gtin,
        item,
        lot_code: scan.lot,
        expires_on: scan.expiry,
        production_date: scan.production,
        count: scan.count,
        serial: scan.serial,
    }))
}

// ---------------------------------------------------------------------------------------
// Issues and adjustments
// ---------------------------------------------------------------------------------------

/// A manual issue: local distribution from named lots.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// Lots and quantities.
    pub lines: Vec<IssueLine>,
}

/// One lot to issue from.
#[derive(Debug, Deserialize, ToSchema)]
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

/// An adjustment or write-off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Lots and signed quantities.
    pub lines: Vec<AdjustmentLine>,
}

/// One lot to adjust.
#[derive(Debug, Deserialize, ToSchema)]
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

/// A line of an issue or adjustment after checking its own fields.
struct LotLine<'a> {
    lot: LotId,
    qty: i64,
    reason: &'a str,
    note: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LotOp {
    Issue,
    Adjust,
}

/// Locks the lines' lots, checks them against the rules of `op`, appends the ledger
/// rows and commits with one audit event.
///
/// A request without an `Idempotency-Key` first tries all of that as one statement
/// (`db::apply_checked_movements`), which writes only if every line passes. That is the
/// common case, and it takes one round trip instead of five, with the lots locked only
/// inside PostgreSQL. When some line fails it has written nothing, and the operation
/// runs again the long way below, which locks, checks line by line and says exactly
/// what is wrong. A request with a key always takes the long way, where the key's row
/// is claimed and answered in the same transaction as the effect.
async fn apply_lot_lines<'a>(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    code: &str,
    fingerprint: &str,
    op: LotOp,
    lines: impl FnOnce() -> AppResult<Vec<LotLine<'a>>>,
) -> AppResult<Response> {
    let today = today(state);
    let mut conn = state.writes.acquire().await?;
    let wh = clerk_warehouse(state, &mut conn, actor, code).await?;
    // The lines' own fields; nothing here depends on stored state, so a retry that
    // replays a stored answer below passed them the first time too.
    let lines = lines()?;
    let (kind, ref_kind, action) = match op {
        LotOp::Issue => ("issue", "issue", "stock.issue"),
        LotOp::Adjust => ("adjustment", "adjustment", "stock.adjustment"),
    };
    let op_id = Uuid::now_v7();
    let delta = |l: &LotLine<'_>| match op {
        LotOp::Issue => -l.qty,
        LotOp::Adjust => l.qty,
    };
    let change = || Change {
        action,
        entity_kind: ref_kind,
        entity_id: op_id.to_string(),
        before: None,
        after: Some(
            json!({"warehouse": wh.code, "lines": lines.iter().map(|l| json!({
            "lot_id": l.lot, "qty": delta(l), "reason": l.reason,
        })).collect::<Vec<_>>()}),
        ),
    };
    if origin.idempotency_key.is_none() {
        let lots: Vec<Uuid> = lines.iter().map(|l| l.lot.0).collect();
        let deltas: Vec<i64> = lines.iter().map(delta).collect();
        let reasons: Vec<&str> = lines.iter().map(|l| l.reason).collect();
        let notes: Vec<Option<&str>> = lines.iter().map(|l| l.note).collect();
        let batch = db::CheckedMovements {
            warehouse: wh.id,
            lots: &lots,
            deltas: &deltas,
            reasons: &reasons,
            notes: &notes,
            kind,
            ref_id: op_id,
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
            issue: op == LotOp::Issue,
            today,
        };
        let event = crate::audit::db::pending_event(actor, origin, change());
        let applied = db::apply_checked_movements(&mut conn, &batch, &event).await?;
        if !applied.is_empty() {
            let out = OperationResponse {
                id: op_id,
                warehouse: wh.code.clone(),
                lines: applied
                    .into_iter()
                    .zip(deltas)
                    .map(|(a, qty)| MovementResult {
                        lot_id: a.lot_id,
                        sku: a.sku,
                        lot_code: a.lot_code,
                        qty,
                        movement_id: a.movement_id,
                        on_hand: a.on_hand,
                        reserved: a.reserved,
                        available: a.on_hand - a.reserved,
                    })
                    .collect(),
            };
            return Ok((StatusCode::CREATED, Json(out)).into_response());
        }
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    if let Some(replay) = crate::audit::http::claim_key(&mut tx, actor, origin, fingerprint).await?
    {
        return Ok(replay);
    }
    let mut ids: Vec<LotId> = lines.iter().map(|l| l.lot).collect();
    ids.sort();
    ids.dedup();
    let locked = db::lock_lots(&mut tx, &ids).await?;
    let by_id: HashMap<LotId, &LockedLot> = locked.iter().map(|l| (l.id, l)).collect();
    // Balances as the lines apply in order, so two lines on one lot are checked together.
    let mut balance: HashMap<LotId, i64> = locked.iter().map(|l| (l.id, l.on_hand)).collect();
    let mut movements = Vec::with_capacity(lines.len());
    let mut targets = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let ptr = line_ptr(i, "lot_id");
        let Some(lot) = by_id.get(&l.lot).copied() else {
            return Err(AppError::invalid(ptr, format!("no lot with id {}", l.lot)));
        };
        if lot.warehouse_id != wh.id {
            return Err(AppError::invalid(
                ptr,
                format!("lot {} is not in warehouse {}", l.lot, wh.code),
            ));
        }
        if op == LotOp::Issue {
            if lot.status == LotStatus::Quarantined.as_str() {
                return Err(AppError::conflict(
                    ptr,
                    format!(
                        "lot {} is quarantined; release it before issuing from it",
                        lot.lot_code
                    ),
                    Some(json!({"lot_id": lot.id, "lot_status": lot.status})),
                ));
            }
            if let Some(expiry) = lot.expires_on
                && expiry < today
            {
                return Err(AppError::invalid(
                    ptr,
                    format!(
                        "lot {} expired on {expiry}; write it off with an adjustment (reason \
                         expired) instead",
                        lot.lot_code
                    ),
                ));
            }
        }
        let on_hand = balance.get(&lot.id).copied().unwrap_or(lot.on_hand);
        let available = on_hand - lot.reserved;
        let delta = delta(l);
        if delta < 0 && -delta > available {
            return Err(AppError::conflict(
                line_ptr(i, "qty"),
                format!(
                    "only {available} units of lot {} are available ({on_hand} on hand, {} \
                     reserved); cannot take {}",
                    lot.lot_code, lot.reserved, -delta
                ),
                Some(
                    json!({"lot_id": lot.id, "available": available, "on_hand": on_hand,
                            "reserved": lot.reserved}),
                ),
            ));
        }
        let after = on_hand.checked_add(delta).ok_or_else(|| {
            AppError::invalid(
                line_ptr(i, "qty"),
                format!("{delta} would overflow the lot's on-hand balance"),
            )
        })?;
        balance.insert(lot.id, after);
        targets.push(lot);
        movements.push(Movement {
            lot: lot.id,
            kind,
            qty: delta,
            reserved_delta: 0,
            reason: Some(l.reason),
            note: l.note,
            ref_kind: Some(ref_kind),
            ref_id: Some(op_id),
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
        });
    }
    let balances = db::insert_movements(&mut tx, &movements).await?;
    let out = OperationResponse {
        id: op_id,
        warehouse: wh.code.clone(),
        lines: targets
            .iter()
            .zip(movements.iter().zip(balances.iter()))
            .map(|(lot, (m, b))| MovementResult {
                lot_id: lot.id,
                sku: lot.sku.clone(),
                lot_code: lot.lot_code.clone(),
                qty: m.qty,
                movement_id: b.movement_id,
                on_hand: b.on_hand,
                reserved: b.reserved,
                available: b.on_hand - b.reserved,
            })
            .collect(),
    };
    commit(tx, actor, origin, change(), StatusCode::CREATED, &out).await
}

/// Issue stock from named lots of a warehouse (local distribution).
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/issues", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = IssueRequest,
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = OperationResponse),
              (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "More than available (see `available`), or a quarantined lot"),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_issue(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<IssueRequest>,
) -> AppResult<Response> {
    let body = &cmd.body;
    apply_lot_lines(
        &state,
        &actor,
        &origin,
        &code,
        &cmd.fingerprint,
        LotOp::Issue,
        || {
            check_lines(&body.lines)?;
            let mut errors = Vec::new();
            for (i, l) in body.lines.iter().enumerate() {
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
            Ok(body
                .lines
                .iter()
                .map(|l| LotLine {
                    lot: l.lot_id,
                    qty: l.qty,
                    reason: &l.reason,
                    note: l.note.as_deref(),
                })
                .collect())
        },
    )
    .await
}

/// Adjust or write off stock of named lots (quarantined lots included).
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/adjustments", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = AdjustmentRequest,
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = OperationResponse),
              (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "A decrease beyond what is available"),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_adjustment(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<AdjustmentRequest>,
) -> AppResult<Response> {
    let body = &cmd.body;
    apply_lot_lines(
        &state,
        &actor,
        &origin,
        &code,
        &cmd.fingerprint,
        LotOp::Adjust,
        || {
            check_lines(&body.lines)?;
            let mut errors = Vec::new();
            for (i, l) in body.lines.iter().enumerate() {
                if l.qty == 0 {
                    errors.push(FieldError::new(line_ptr(i, "qty"), "must not be 0"));
                }
                let note_required = l.reason == AdjustmentReason::Other;
                check_text(
                    &mut errors,
                    line_ptr(i, "note"),
                    l.note.as_deref(),
                    note_required,
                    1000,
                );
            }
            if !errors.is_empty() {
                return Err(invalid_all(errors));
            }
            Ok(body
                .lines
                .iter()
                .map(|l| LotLine {
                    lot: l.lot_id,
                    qty: l.qty,
                    reason: l.reason.as_str(),
                    note: l.note.as_deref(),
                })
                .collect())
        },
    )
    .await
}

/// Query of `GET /warehouses/{code}/pick-suggestion`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PickQuery {
    /// Item SKU.
    pub sku: String,
    /// Units wanted, > 0.
    pub qty: i64,
}

/// A first-expiry-first-out proposal.
#[derive(Debug, Serialize, ToSchema)]
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

/// Propose lots to issue, first-expiry-first-out, skipping expired and quarantined lots.
#[utoipa::path(get, path = "/api/v1/warehouses/{code}/pick-suggestion", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"), PickQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PickSuggestion), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_pick_suggestion(
    State(state): State<AppState>,
    _actor: Actor,
    Path(code): Path<String>,
    Query(q): Query<PickQuery>,
) -> AppResult<Json<PickSuggestion>> {
    if q.qty <= 0 {
        return Err(AppError::bad_request("qty", "qty must be greater than 0"));
    }
    let mut conn = state.pool.acquire().await?;
    let wh = state.warehouse_ids.in_path(&mut conn, &code).await?;
    let item = crate::catalog::db::item_by_sku(&mut conn, &q.sku)
        .await?
        .ok_or_else(|| AppError::bad_request("sku", format!("unknown SKU `{}`", q.sku)))?;
    let candidates = db::pick_candidates(&mut conn, wh.id, item.id, today(&state)).await?;
    let (picks, shortfall) = domain::pick_fefo(candidates, q.qty);
    Ok(Json(PickSuggestion {
        sku: item.sku,
        qty: q.qty,
        picks,
        shortfall,
    }))
}

// ---------------------------------------------------------------------------------------
// Quarantine
// ---------------------------------------------------------------------------------------

/// Why a lot is quarantined or released.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Reason, recorded in the audit trail.
    pub reason: String,
}

async fn change_status(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    id: LotId,
    cmd: &Command<StatusChange>,
    to: LotStatus,
) -> AppResult<Response> {
    let mut errors = Vec::new();
    check_text(
        &mut errors,
        "/reason".into(),
        Some(&cmd.body.reason),
        true,
        500,
    );
    let mut tx = state.writes.begin().await?;
    let lot = db::lock_lots(&mut tx, &[id])
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found(format!("no lot with id {id}")))?;
    let code = crate::warehouses::db::code_of(&mut tx, lot.warehouse_id).await?;
    actor.require_warehouse(lot.warehouse_id, &code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, actor, origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    if lot.status == to.as_str() {
        return Err(AppError::conflict(
            "",
            format!("lot {} is already {}", lot.lot_code, to.as_str()),
            Some(json!({"lot_status": lot.status})),
        ));
    }
    if to == LotStatus::Quarantined && lot.reserved > 0 {
        return Err(AppError::conflict(
            "",
            format!(
                "lot {} has {} units reserved for allocations; release or dispatch them before \
                 quarantining the lot",
                lot.lot_code, lot.reserved
            ),
            Some(json!({"reserved": lot.reserved})),
        ));
    }
    db::set_status(&mut tx, id, to.as_str()).await?;
    let out = db::lot(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no lot with id {id}")))?;
    let change = Change {
        action: match to {
            LotStatus::Quarantined => "stock.quarantine",
            LotStatus::Available => "stock.release",
        },
        entity_kind: "lot",
        entity_id: id.to_string(),
        before: Some(json!({"status": lot.status})),
        after: Some(json!({"status": to.as_str(), "reason": cmd.body.reason})),
    };
    commit(tx, actor, origin, change, StatusCode::OK, &out).await
}

/// Quarantine a lot: it can no longer be issued, transferred or allocated.
#[utoipa::path(post, path = "/api/v1/lots/{id}/quarantine", tag = "stock",
    params(("id" = String, Path, description = "Lot id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = StatusChange,
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Lot), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "Already quarantined, or stock reserved")))]
pub async fn quarantine_lot(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<LotId>,
    cmd: Command<StatusChange>,
) -> AppResult<Response> {
    change_status(&state, &actor, &origin, id, &cmd, LotStatus::Quarantined).await
}

/// Release a quarantined lot.
#[utoipa::path(post, path = "/api/v1/lots/{id}/release", tag = "stock",
    params(("id" = String, Path, description = "Lot id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = StatusChange,
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Lot), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "Not quarantined")))]
pub async fn release_lot(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<LotId>,
    cmd: Command<StatusChange>,
) -> AppResult<Response> {
    change_status(&state, &actor, &origin, id, &cmd, LotStatus::Available).await
}

// ---------------------------------------------------------------------------------------
// Reserve levels
// ---------------------------------------------------------------------------------------

/// One reserve level to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveLevelInput {
    /// Item SKU.
    pub sku: String,
    /// Minimum quantity, >= 0; 0 removes the level.
    pub min_qty: i64,
}

/// Set a warehouse's reserve levels (upsert; 0 removes). Returns all its levels.
#[utoipa::path(put, path = "/api/v1/warehouses/{code}/reserve-levels", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = Vec<ReserveLevelInput>,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<ReserveLevel>), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_reserve_levels(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<Vec<ReserveLevelInput>>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let mut tx = state.writes.begin().await?;
    let wh = state.warehouse_ids.in_path(&mut tx, &code).await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let levels = &cmd.body;
    let mut errors = Vec::new();
    for (i, l) in levels.iter().enumerate() {
        if l.min_qty < 0 {
            errors.push(FieldError::new(
                format!("/{i}/min_qty"),
                format!("must be 0 or more, got {}", l.min_qty),
            ));
        }
        if levels[..i].iter().any(|o| o.sku == l.sku) {
            errors.push(FieldError::new(
                format!("/{i}/sku"),
                format!("SKU {} appears twice", l.sku),
            ));
        }
    }
    let skus: Vec<String> = levels.iter().map(|l| l.sku.clone()).collect();
    let items = state.item_policies.named(&mut tx, &skus, &[]).await?;
    let by_sku: HashMap<&str, ItemId> = items.iter().map(|i| (i.sku.as_str(), i.id)).collect();
    let mut ids = Vec::with_capacity(levels.len());
    for (i, l) in levels.iter().enumerate() {
        match by_sku.get(l.sku.as_str()) {
            Some(id) => ids.push(*id),
            None => errors.push(FieldError::new(
                format!("/{i}/sku"),
                format!("unknown SKU `{}`", l.sku),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    let before = db::reserve_levels(&mut tx, wh.id).await?;
    let qtys: Vec<i64> = levels.iter().map(|l| l.min_qty).collect();
    db::set_reserve_levels(&mut tx, wh.id, &ids, &qtys).await?;
    let after = db::reserve_levels(&mut tx, wh.id).await?;
    let touched = |rows: &[ReserveLevel]| {
        rows.iter()
            .filter(|r| skus.contains(&r.sku))
            .map(|r| (r.sku.clone(), r.min_qty))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let change = Change {
        action: "stock.reserve_levels",
        entity_kind: "warehouse",
        entity_id: wh.code.clone(),
        before: Some(json!(touched(&before))),
        after: Some(json!(touched(&after))),
    };
    commit(tx, &actor, &origin, change, StatusCode::OK, &after).await
}

/// A warehouse's reserve levels.
#[utoipa::path(get, path = "/api/v1/warehouses/{code}/reserve-levels", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ReserveLevel>), (status = 404, body = crate::error::Problem)))]
pub async fn list_reserve_levels(
    State(state): State<AppState>,
    _actor: Actor,
    Path(code): Path<String>,
) -> AppResult<Json<Vec<ReserveLevel>>> {
    let mut conn = state.pool.acquire().await?;
    let wh = state.warehouse_ids.in_path(&mut conn, &code).await?;
    Ok(Json(db::reserve_levels(&mut conn, wh.id).await?))
}

// ---------------------------------------------------------------------------------------
// Stock card and movement log
// ---------------------------------------------------------------------------------------

/// A lot with every movement it has had.
#[derive(Debug, Serialize, ToSchema)]
pub struct LotCard {
    /// The lot now.
    pub lot: Lot,
    /// Every ledger row of the lot, oldest first.
    pub movements: Vec<MovementRow>,
}

/// A lot's stock card.
#[utoipa::path(get, path = "/api/v1/lots/{id}/card", tag = "stock",
    params(("id" = String, Path, description = "Lot id")),
    security(("bearer" = [])),
    responses((status = 200, body = LotCard), (status = 404, body = crate::error::Problem)))]
pub async fn get_lot_card(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<LotId>,
) -> AppResult<Json<LotCard>> {
    let mut conn = state.pool.acquire().await?;
    let lot = db::lot(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no lot with id {id}")))?;
    let q = db::MovementQuery {
        lot: Some(id),
        limit: i64::MAX,
        ..Default::default()
    };
    let movements = db::list_movements(&mut conn, &q).await?;
    Ok(Json(LotCard { lot, movements }))
}

/// Filters for `GET /api/v1/movements`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovementFilter {
    /// Warehouse code.
    pub warehouse: Option<String>,
    /// Item SKU.
    pub sku: Option<String>,
    /// Lot id.
    pub lot: Option<LotId>,
    /// Movement kind (`receipt`, `issue`, `adjustment`, …).
    pub kind: Option<String>,
    /// At or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

const KINDS: &[&str] = &[
    "receipt",
    "issue",
    "transfer_out",
    "transfer_in",
    "transfer_return",
    "adjustment",
    "count_adjustment",
    "reserve",
    "release",
    "dispatch",
    "seed",
];

/// The ledger, filtered, oldest first.
#[utoipa::path(get, path = "/api/v1/movements", tag = "stock", params(MovementFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<MovementRow>), (status = 400, body = crate::error::Problem)))]
pub async fn list_movements(
    State(state): State<AppState>,
    _actor: Actor,
    Query(f): Query<MovementFilter>,
) -> AppResult<Json<Page<MovementRow>>> {
    let limit = pagination::limit(f.limit)?;
    let after: Option<i64> = f.cursor.as_deref().map(pagination::decode).transpose()?;
    if let Some(kind) = &f.kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(AppError::bad_request(
            "kind",
            format!(
                "unknown kind `{kind}`: expected one of {}",
                KINDS.join(", ")
            ),
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let warehouse =
        crate::warehouses::http::warehouse_param(&mut conn, f.warehouse.as_deref()).await?;
    let item = crate::catalog::http::sku_param(&mut conn, f.sku.as_deref()).await?;
    let q = db::MovementQuery {
        warehouse,
        item,
        lot: f.lot,
        kind: f.kind.as_deref(),
        from: f.from,
        to: f.to,
        after,
        limit: limit + 1,
    };
    let rows = db::list_movements(&mut conn, &q).await?;
    Ok(Json(pagination::page(rows, limit, |m| m.id)))
}
