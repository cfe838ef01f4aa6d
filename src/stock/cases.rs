//! The stock use cases: receive, issue or adjust, quarantine or release, set reserve
//! levels, suggest picks. A handler, the CLI or a message adapter calls one of these; each
//! owns its sequence: check with the pure rules ([`super::receipt`],
//! [`super::movement`], [`super::levels`]), run the SQL ([`super::db`]), and explain a
//! refusal with the pure rules again.
//!
//! Receipts into lots on record, issues and adjustments first try their one statement,
//! which checks and writes everything (effect and audit event) or nothing. Only when it
//! writes nothing do they go the long way: lock the lots, check line by line, and say
//! exactly what is wrong (or, for a receipt, create the lots it needs). Where the command
//! runs is its [`Scope`]: on its own, or inside the caller's transaction that claimed an
//! Idempotency-Key. A keyed request first tries the one statement with the key's claim
//! and answer in it, with no transaction at all ([`Claiming`]); only when that writes
//! nothing (a refusal, a new lot, a retry) does the caller claim the key in a
//! transaction and run the command there.

use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::db::{self, CheckedMovements, ExistingLotReceipt, Movement, ReceivedLot};
use super::item_cache::ItemPolicies;
use super::levels::{self, ReserveLevel, ReserveLevelInput};
use super::movement::{self, MovementCmd, MovementResult, OperationResponse};
use super::receipt::{self, ReceiptLine, ReceiptResponse, ReceiptResult, ResolvedLine};
use super::{LockedLot, Lot, LotStatus, MovementKind, PickSuggestion, fields, pick_fefo};
use crate::audit::{self, Change, Origin};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::idempotency;
use crate::ids::{ItemId, LotId, WarehouseId};
use crate::warehouses::ids::WarehouseRef;

/// Where a command runs, and who commits it.
pub enum Scope<'c> {
    /// No Idempotency-Key, on a connection outside any transaction: the one statement
    /// commits by itself, and the long way begins and commits its own transaction.
    Own(&'c mut PgConnection),
    /// Inside the transaction open on `conn`, in which the caller claimed the request's
    /// Idempotency-Key after the command's one statement with the key in it
    /// ([`Claiming`]) wrote nothing: the command goes the long way there, writing its
    /// effect, its audit event and its answer (`status` and the outcome, for retries),
    /// and the caller commits.
    Keyed {
        /// The connection, in the caller's transaction.
        conn: &'c mut PgConnection,
        /// The status the command answers with.
        status: StatusCode,
    },
}

impl<'c> Scope<'c> {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Scope::Own(conn) | Scope::Keyed { conn, .. } => conn,
        }
    }

    /// The transaction of the long way.
    async fn long(self) -> Result<Long<'c>, sqlx::Error> {
        Ok(match self {
            Scope::Own(conn) => Long::Own(conn.begin().await?),
            Scope::Keyed { conn, status } => Long::Keyed(conn, status),
        })
    }
}

/// A keyed command outside any transaction, which claims its Idempotency-Key in the one
/// statement of its effect (`receive_claiming`, `move_stock_claiming`).
pub struct Claiming<'c> {
    /// A connection outside any transaction.
    pub conn: &'c mut PgConnection,
    /// The request's fingerprint, stored with the key.
    pub fingerprint: &'c str,
    /// The status the command answers with.
    pub status: StatusCode,
}

/// The long way's transaction: its own, or the caller's.
enum Long<'c> {
    Own(Transaction<'c, Postgres>),
    Keyed(&'c mut PgConnection, StatusCode),
}

impl Long<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Long::Own(tx) => tx,
            Long::Keyed(conn, _) => conn,
        }
    }

    /// Records `change` in the audit trail, with the answer under the key when there is
    /// one (one statement), and commits a transaction of its own.
    async fn finish<T: Serialize + Sync>(
        self,
        actor: &Actor,
        origin: &Origin,
        change: Change<'_>,
        out: &T,
    ) -> AppResult<()> {
        match self {
            Long::Own(mut tx) => {
                audit::db::record(&mut tx, actor, origin, change).await?;
                tx.commit().await?;
            }
            Long::Keyed(conn, status) => {
                let event = audit::db::pending_event(actor, origin, change).pending_json();
                let key = origin.idempotency_key.as_deref();
                idempotency::record_and_answer(conn, actor.id, key, event, status, out).await?;
            }
        }
        Ok(())
    }
}

fn no_lot(id: LotId) -> AppError {
    AppError::not_found(format!("no lot with id {id}"))
}

// ---------------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------------

/// Receives `lines` into `wh`: adds to the lot with the same item and lot code (its
/// expiry must match), or creates it. All lines or none.
pub async fn receive(
    mut scope: Scope<'_>,
    actor: &Actor,
    origin: &Origin,
    items: &ItemPolicies,
    wh: &WarehouseRef,
    lines: Vec<ReceiptLine>,
    today: NaiveDate,
) -> AppResult<ReceiptResponse> {
    let lines = resolve_lines(scope.conn(), items, lines, today).await?;
    // The common case, stock arriving for lots already on record, in one statement;
    // anything else (a new lot, another expiry, a quarantined lot) writes nothing there
    // and goes the long way, which creates lots and explains refusals. A keyed receipt
    // tried its statement already (`receive_claiming`), so it goes the long way at once.
    if let Scope::Own(conn) = &mut scope
        && lines.iter().all(|l| l.status == LotStatus::Available)
        && let Some(out) = receive_into_known_lots(conn, actor, origin, wh, &lines, None).await?
    {
        return Ok(out);
    }
    let mut long = scope.long().await?;
    let out = receive_locked(long.conn(), actor, origin, wh, today, &lines).await?;
    let change = receipt::change(
        out.id,
        &wh.code,
        out.lines
            .iter()
            .map(|l| (&*l.sku, &*l.lot_code, l.qty, l.created, l.status)),
    );
    long.finish(actor, origin, change, &out).await?;
    Ok(out)
}

/// Parses receipt lines and resolves their items ([`receipt::parse_lines`],
/// [`receipt::resolve`]).
async fn resolve_lines(
    conn: &mut PgConnection,
    items: &ItemPolicies,
    lines: Vec<ReceiptLine>,
    today: NaiveDate,
) -> AppResult<Vec<ResolvedLine>> {
    let parsed = receipt::parse_lines(lines, today)?;
    // One round trip for the items, or none when they are cached.
    let (skus, gtins) = receipt::item_names(&parsed);
    let policies = items.named(conn, &skus, &gtins).await?;
    receipt::resolve(parsed, &policies, today)
}

/// A keyed receipt into lots on record with no transaction at all: claims the request's
/// Idempotency-Key, writes the effect and its audit event, and stores the answer, in one
/// statement ([`db::KeyClaim`]). `None` when it wrote nothing (a line is refused, needs
/// a new lot or does not fit its lot, or the key is on record or being claimed): the
/// caller then claims the key in a transaction, which replays a stored answer, and runs
/// [`receive`] there. A refused line is `None` too, not an error, so that a retry of a
/// receipt accepted before (whose expiry may have passed since) replays its answer.
pub async fn receive_claiming(
    claiming: Claiming<'_>,
    actor: &Actor,
    origin: &Origin,
    items: &ItemPolicies,
    wh: &WarehouseRef,
    lines: Vec<ReceiptLine>,
    today: NaiveDate,
) -> AppResult<Option<ReceiptResponse>> {
    let Claiming {
        conn,
        fingerprint,
        status,
    } = claiming;
    let lines = match resolve_lines(conn, items, lines, today).await {
        Ok(lines) => lines,
        Err(e @ AppError::Internal(_)) => return Err(e),
        // A refusal: the long way says it again, unless the key replays an answer.
        Err(_) => return Ok(None),
    };
    if lines.iter().any(|l| l.status != LotStatus::Available) {
        return Ok(None);
    }
    let claim = db::KeyClaim {
        fingerprint,
        status: status.as_u16() as i16,
        warehouse: &wh.code,
    };
    receive_into_known_lots(conn, actor, origin, wh, &lines, Some(claim)).await
}

/// The one statement of a receipt (`db::receive_into_existing_lots`): the answer, or
/// `None` when some line does not fit a lot on record and nothing was written.
async fn receive_into_known_lots(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    lines: &[ResolvedLine],
    claim: Option<db::KeyClaim<'_>>,
) -> AppResult<Option<ReceiptResponse>> {
    let receipt_id = Uuid::now_v7();
    let items: Vec<Uuid> = lines.iter().map(|l| l.item.id.0).collect();
    let lot_codes: Vec<String> = lines.iter().map(|l| l.line.lot_code.clone()).collect();
    let expires_on: Vec<Option<NaiveDate>> = lines.iter().map(|l| l.line.expires_on).collect();
    let qtys: Vec<i64> = lines.iter().map(|l| l.line.qty).collect();
    let sources: Vec<&str> = lines.iter().map(|l| l.line.source.as_str()).collect();
    let notes: Vec<Option<&str>> = lines.iter().map(|l| l.line.note.as_deref()).collect();
    let change = receipt::change(
        receipt_id,
        &wh.code,
        lines.iter().map(|l| {
            let (sku, code) = (&*l.item.sku, &*l.line.lot_code);
            (sku, code, l.line.qty, false, LotStatus::Available)
        }),
    );
    let event = audit::db::pending_event(actor, origin, change);
    let receipt = ExistingLotReceipt {
        warehouse: wh.id,
        items: &items,
        lot_codes: &lot_codes,
        expires_on: &expires_on,
        qtys: &qtys,
        sources: &sources,
        notes: &notes,
        ref_id: receipt_id,
        actor: actor.id,
        request_id: origin.request_id.as_deref(),
        idempotency_key: origin.idempotency_key.as_deref(),
        claim,
    };
    let applied = db::receive_into_existing_lots(conn, &receipt, &event)
        .await
        .map_err(|e| retired_since_resolved(e, lines))?;
    if applied.is_empty() {
        return Ok(None);
    }
    let results = applied.into_iter().zip(lines).map(|(a, l)| ReceiptResult {
        lot_id: a.lot_id,
        sku: l.item.sku.clone(),
        lot_code: l.line.lot_code.clone(),
        expires_on: l.line.expires_on,
        qty: l.line.qty,
        created: false,
        status: LotStatus::Available,
        movement_id: a.movement_id,
        on_hand: a.on_hand,
        reserved: a.reserved,
    });
    Ok(Some(ReceiptResponse {
        id: receipt_id,
        warehouse: wh.code.clone(),
        lines: results.collect(),
    }))
}

/// The long way of a receipt, in a transaction: locks the lots that exist, creates the
/// rest, checks each line against its lot ([`receipt::plan`]) and appends the ledger rows.
async fn receive_locked(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    today: NaiveDate,
    lines: &[ResolvedLine],
) -> AppResult<ReceiptResponse> {
    let arrivals: Vec<receipt::Arrival<'_>> = lines.iter().map(ResolvedLine::arrival).collect();
    let (locked, created) = lock_or_create_lots(conn, wh, today, lines, &arrivals).await?;
    let targets = arrivals
        .iter()
        .map(|a| {
            locked
                .iter()
                .find(|k| k.item_id == a.item && k.lot_code == a.lot_code)
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!(
                        "lot {} of item {} vanished after locking",
                        a.lot_code,
                        a.item
                    ))
                })
        })
        .collect::<AppResult<Vec<&LockedLot>>>()?;
    let plan = receipt::plan(&arrivals, &targets)?;
    for id in &plan.quarantine {
        db::set_status(conn, *id, LotStatus::Quarantined).await?;
    }
    let receipt_id = Uuid::now_v7();
    let movements: Vec<Movement<'_>> = lines
        .iter()
        .zip(&targets)
        .map(|(l, lot)| Movement {
            lot: lot.id,
            kind: MovementKind::Receipt.as_str(),
            qty: l.line.qty,
            reserved_delta: 0,
            reason: Some(l.line.source.as_str()),
            note: l.line.note.as_deref(),
            ref_kind: Some("receipt"),
            ref_id: Some(receipt_id),
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
        })
        .collect();
    let balances = db::insert_movements(conn, &movements)
        .await
        .map_err(|e| retired_since_resolved(e, lines))?;
    let results = lines
        .iter()
        .zip(targets.iter().zip(balances))
        .zip(plan.statuses)
        .map(|((l, (lot, b)), status)| ReceiptResult {
            lot_id: lot.id,
            sku: lot.sku.clone(),
            lot_code: lot.lot_code.clone(),
            expires_on: lot.expires_on,
            qty: l.line.qty,
            created: created.contains(&lot.id),
            status,
            movement_id: b.movement_id,
            on_hand: b.on_hand,
            reserved: b.reserved,
        });
    Ok(ReceiptResponse {
        id: receipt_id,
        warehouse: wh.code.clone(),
        lines: results.collect(),
    })
}

/// A receipt's write refused by the database because an item was retired after the
/// lines were resolved against the item cache (`stock_movements_item_active`, which
/// makes a receipt and a retirement of its item wait for each other): the same 422 as
/// when the cache knew. Any other error as it is.
fn retired_since_resolved(e: sqlx::Error, lines: &[ResolvedLine]) -> AppError {
    match crate::error::raised_detail(&e, "stock_movements_item_active") {
        Some(sku) => receipt::retired_in_flight(lines, sku),
        None => e.into(),
    }
}

/// Locks the lots of `wh` that the lines name, and creates (already locked) those that do
/// not exist yet ([`receipt::lots_to_create`]). Returns the lots, and the ids created.
async fn lock_or_create_lots(
    conn: &mut PgConnection,
    wh: &WarehouseRef,
    today: NaiveDate,
    lines: &[ResolvedLine],
    arrivals: &[receipt::Arrival<'_>],
) -> AppResult<(Vec<LockedLot>, Vec<LotId>)> {
    let item_ids: Vec<ItemId> = lines.iter().map(|l| l.item.id).collect();
    let codes: Vec<String> = lines.iter().map(|l| l.line.lot_code.clone()).collect();
    let mut locked = db::lock_lots_by_code(conn, wh.id, &item_ids, &codes).await?;
    let mut created: Vec<LotId> = Vec::new();
    for attempt in 1.. {
        let (missing, skus): (Vec<ReceivedLot>, Vec<&str>) =
            receipt::lots_to_create(arrivals, &locked)
                .into_iter()
                .map(|(i, status)| {
                    let l = &lines[i];
                    let lot = ReceivedLot {
                        id: LotId::new(),
                        item: l.item.id,
                        lot_code: l.line.lot_code.clone(),
                        expires_on: l.line.expires_on,
                        produced_on: l.line.produced_on,
                        status,
                        source: l.line.source,
                        donor: l.line.donor.clone(),
                    };
                    (lot, &*l.item.sku)
                })
                .unzip();
        if missing.is_empty() {
            break;
        }
        let inserted = db::insert_received_lots(conn, wh.id, today, &missing).await?;
        created.extend(inserted.iter().copied());
        if inserted.len() == missing.len() {
            // Ours alone until commit (the unique index makes any rival wait), so the
            // new rows need no second read to be locked.
            locked.extend(missing.into_iter().zip(skus).map(|(m, sku)| LockedLot {
                id: m.id,
                item_id: m.item,
                sku: sku.to_owned(),
                warehouse_id: wh.id,
                lot_code: m.lot_code,
                expires_on: m.expires_on,
                on_hand: 0,
                reserved: 0,
                status: m.status,
            }));
            break;
        }
        if attempt > 1 {
            return Err(AppError::conflict(
                "/lines",
                "concurrent receipts keep creating these lots; retry",
                None,
            ));
        }
        // A concurrent receipt created some of them first: lock those too and recheck.
        locked = db::lock_lots_by_code(conn, wh.id, &item_ids, &codes).await?;
    }
    Ok((locked, created))
}

// ---------------------------------------------------------------------------------------
// Issues and adjustments
// ---------------------------------------------------------------------------------------

/// Issues or adjusts stock of named lots of `wh` ([`movement::check`]). All lines or none.
pub async fn move_stock(
    mut scope: Scope<'_>,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    cmd: MovementCmd,
    today: NaiveDate,
) -> AppResult<OperationResponse> {
    let op_id = Uuid::now_v7();
    // The common case in one statement: one round trip, the lots locked only inside
    // PostgreSQL. When some line fails it writes nothing, and the long way below says
    // what is wrong. A keyed command tried its statement already (`move_stock_claiming`),
    // so it goes the long way at once.
    if let Scope::Own(conn) = &mut scope {
        let one = move_in_one_statement(conn, actor, origin, wh, &cmd, op_id, today, None);
        if let Some(out) = one.await? {
            return Ok(out);
        }
    }
    let mut long = scope.long().await?;
    let out = move_locked(long.conn(), actor, origin, wh, &cmd, op_id, today).await?;
    let change = movement::change(&cmd, op_id, &wh.code);
    long.finish(actor, origin, change, &out).await?;
    Ok(out)
}

/// A keyed issue or adjustment with no transaction at all: claims the request's
/// Idempotency-Key, writes the effect and its audit event, and stores the answer, in one
/// statement ([`db::KeyClaim`]). `None` when it wrote nothing (some line fails, or the
/// key is on record or being claimed): the caller then claims the key in a transaction,
/// which replays a stored answer, and runs [`move_stock`] there.
pub async fn move_stock_claiming(
    claiming: Claiming<'_>,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    cmd: &MovementCmd,
    today: NaiveDate,
) -> AppResult<Option<OperationResponse>> {
    let Claiming {
        conn,
        fingerprint,
        status,
    } = claiming;
    let claim = db::KeyClaim {
        fingerprint,
        status: status.as_u16() as i16,
        warehouse: &wh.code,
    };
    let op_id = Uuid::now_v7();
    move_in_one_statement(conn, actor, origin, wh, cmd, op_id, today, Some(claim)).await
}

/// The one statement of an issue or adjustment ([`db::apply_checked_movements`]): the
/// answer, or `None` when it wrote nothing.
#[allow(clippy::too_many_arguments)]
async fn move_in_one_statement(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    cmd: &MovementCmd,
    op_id: Uuid,
    today: NaiveDate,
    claim: Option<db::KeyClaim<'_>>,
) -> AppResult<Option<OperationResponse>> {
    let lots: Vec<Uuid> = cmd.lines.iter().map(|l| l.lot.0).collect();
    let deltas: Vec<i64> = cmd.lines.iter().map(|l| l.delta).collect();
    let reasons: Vec<&str> = cmd.lines.iter().map(|l| l.reason.as_str()).collect();
    let notes: Vec<Option<&str>> = cmd.lines.iter().map(|l| l.note.as_deref()).collect();
    let batch = CheckedMovements {
        warehouse: wh.id,
        lots: &lots,
        deltas: &deltas,
        reasons: &reasons,
        notes: &notes,
        op: cmd.op,
        ref_id: op_id,
        actor: actor.id,
        request_id: origin.request_id.as_deref(),
        idempotency_key: origin.idempotency_key.as_deref(),
        claim,
        today,
    };
    let event = audit::db::pending_event(actor, origin, movement::change(cmd, op_id, &wh.code));
    let applied = db::apply_checked_movements(conn, &batch, &event).await?;
    if applied.is_empty() {
        return Ok(None);
    }
    let results = applied
        .into_iter()
        .zip(&deltas)
        .map(|(a, &qty)| MovementResult {
            lot_id: a.lot_id,
            sku: a.sku,
            lot_code: a.lot_code,
            qty,
            movement_id: a.movement_id,
            on_hand: a.on_hand,
            reserved: a.reserved,
            available: a.on_hand - a.reserved,
        });
    Ok(Some(OperationResponse {
        id: op_id,
        warehouse: wh.code.clone(),
        lines: results.collect(),
    }))
}

/// The long way of an issue or adjustment, in a transaction: locks the lots, checks the
/// lines ([`movement::check`]) and appends the ledger rows.
async fn move_locked(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    cmd: &MovementCmd,
    op_id: Uuid,
    today: NaiveDate,
) -> AppResult<OperationResponse> {
    let mut ids: Vec<LotId> = cmd.lines.iter().map(|l| l.lot).collect();
    ids.sort();
    ids.dedup();
    let locked = db::lock_lots(conn, &ids).await?;
    let targets = movement::check(cmd.op, (wh.id, &wh.code), today, &cmd.lines, &locked)?;
    let kind = cmd.op.kind().as_str();
    let movements: Vec<Movement<'_>> = cmd
        .lines
        .iter()
        .map(|l| Movement {
            lot: l.lot,
            kind,
            qty: l.delta,
            reserved_delta: 0,
            reason: Some(&l.reason),
            note: l.note.as_deref(),
            ref_kind: Some(kind),
            ref_id: Some(op_id),
            actor: actor.id,
            request_id: origin.request_id.as_deref(),
            idempotency_key: origin.idempotency_key.as_deref(),
        })
        .collect();
    let balances = db::insert_movements(conn, &movements).await?;
    let results = targets.iter().zip(&movements).zip(balances);
    Ok(OperationResponse {
        id: op_id,
        warehouse: wh.code.clone(),
        lines: results
            .map(|((t, m), b)| MovementResult {
                lot_id: t.lot.id,
                sku: t.lot.sku.clone(),
                lot_code: t.lot.lot_code.clone(),
                qty: m.qty,
                movement_id: b.movement_id,
                on_hand: b.on_hand,
                reserved: b.reserved,
                available: b.on_hand - b.reserved,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------
// Quarantine and release
// ---------------------------------------------------------------------------------------

/// Whether `actor` may change lot `id`: a 404 when there is no such lot, a 403 outside
/// the clerk's warehouses. A keyed request asks before its key is claimed, so that a
/// stored answer is replayed only to someone still allowed to ask for it
/// ([`change_status`] checks again under the lot's lock).
pub async fn authorize_lot(conn: &mut PgConnection, actor: &Actor, id: LotId) -> AppResult<()> {
    let lot = db::lot(conn, id).await?.ok_or_else(|| no_lot(id))?;
    actor.require_warehouse(lot.warehouse_id, &lot.warehouse_code)
}

/// Quarantines or releases lot `id` ([`LotStatus::change_to`]), for `reason`.
pub async fn change_status(
    scope: Scope<'_>,
    actor: &Actor,
    origin: &Origin,
    id: LotId,
    reason: &str,
    to: LotStatus,
) -> AppResult<Lot> {
    let mut errors = Vec::new();
    fields::check_text(&mut errors, "/reason".into(), Some(reason), true, 500);
    let mut long = scope.long().await?;
    let conn = long.conn();
    let lot = db::lock_lots(conn, &[id])
        .await?
        .pop()
        .ok_or_else(|| no_lot(id))?;
    let code = crate::warehouses::db::code_of(conn, lot.warehouse_id).await?;
    actor.require_warehouse(lot.warehouse_id, &code)?;
    if !errors.is_empty() {
        return Err(fields::invalid_all(errors));
    }
    lot.status.change_to(to, lot.reserved, &lot.lot_code)?;
    db::set_status(conn, id, to).await?;
    let out = db::lot(conn, id).await?.ok_or_else(|| no_lot(id))?;
    let change = Change {
        action: match to {
            LotStatus::Quarantined => "stock.quarantine",
            LotStatus::Available => "stock.release",
        },
        entity_kind: "lot",
        entity_id: id.to_string(),
        before: Some(json!({"status": lot.status})),
        after: Some(json!({"status": to, "reason": reason})),
    };
    long.finish(actor, origin, change, &out).await?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Reserve levels and picks
// ---------------------------------------------------------------------------------------

/// Sets `wh`'s reserve levels ([`levels::check`]; 0 removes one) and returns all of them.
pub async fn set_reserve_levels(
    scope: Scope<'_>,
    actor: &Actor,
    origin: &Origin,
    items: &ItemPolicies,
    wh: &WarehouseRef,
    input: &[ReserveLevelInput],
) -> AppResult<Vec<ReserveLevel>> {
    let mut long = scope.long().await?;
    let conn = long.conn();
    let skus: Vec<String> = input.iter().map(|l| l.sku.clone()).collect();
    let found = items.named(conn, &skus, &[]).await?;
    let ids = levels::check(input, &found)?;
    let before = db::reserve_levels(conn, wh.id).await?;
    let qtys: Vec<i64> = input.iter().map(|l| l.min_qty).collect();
    db::set_reserve_levels(conn, wh.id, &ids, &qtys).await?;
    let after = db::reserve_levels(conn, wh.id).await?;
    let change = levels::change(&wh.code, input, &before, &after);
    long.finish(actor, origin, change, &after).await?;
    Ok(after)
}

/// Proposes lots of `sku` in `warehouse` to issue `qty` (> 0) from, first expiry first
/// out, over lots usable on `today`.
pub async fn pick_suggestion(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
    sku: &str,
    qty: i64,
    today: NaiveDate,
) -> AppResult<PickSuggestion> {
    let item = crate::catalog::db::item_by_sku(conn, sku)
        .await?
        .ok_or_else(|| AppError::bad_request("sku", format!("unknown SKU `{sku}`")))?;
    let candidates = db::pick_candidates(conn, warehouse, item.id, today).await?;
    let (picks, shortfall) = pick_fefo(candidates, qty);
    Ok(PickSuggestion {
        sku: item.sku,
        qty,
        picks,
        shortfall,
    })
}
