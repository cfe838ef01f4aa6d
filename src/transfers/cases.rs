//! The transfer use cases: send, receive, cancel, list and show. The HTTP handlers, the
//! CLI and a future message adapter all call these.
//!
//! Each command runs in the caller's transaction and keeps one order: lock, check the
//! caller may act, `claim` (the caller's `Idempotency-Key` hook: it answers an earlier
//! identical request by returning `Some`, which ends the command as
//! [`ControlFlow::Break`]), check the rules of [`super`], write, and return
//! [`ControlFlow::Continue`] with the transfer as it now stands and the audit event that
//! records it. The caller records the event and commits. Lock order: the transfer row,
//! then lots in id order.

use std::ops::ControlFlow;

use chrono::NaiveDate;
use serde_json::Value;
use sqlx::PgConnection;

use super::{
    Closing, ReceivedLine, Refusal, SendLine, SentLine, Transfer, TransferStatus, check_landing,
    check_route, check_send_lines, check_sources, db, landing_order, match_receipt,
};
use crate::audit::Change;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{LotId, TransferId, WarehouseId};
use crate::stock::db::{Movement, insert_movement};
use crate::warehouses::ids::WarehouseIds;

pub use crate::audit::{Done, Origin, Outcome};

/// `send`'s command: from one warehouse to another, these lines.
#[derive(Debug, Clone)]
pub struct SendCmd {
    /// Source warehouse code; the caller must be a clerk there.
    pub from: String,
    /// Destination warehouse code.
    pub to: String,
    /// Lots and quantities.
    pub lines: Vec<SendLine>,
    /// Free-text note.
    pub note: Option<String>,
}

/// `receive`'s command: what arrived of each line.
#[derive(Debug, Clone)]
pub struct ReceiveCmd {
    /// One entry per line sent.
    pub lines: Vec<ReceivedLine>,
    /// Free-text note.
    pub note: Option<String>,
}

/// Sends stock: it leaves the source lots at once (`transfer_out`) and is in transit
/// until received or cancelled.
pub async fn send<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    warehouses: &WarehouseIds,
    cmd: SendCmd,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    check_send_lines(&cmd.lines)?;
    let from =
        warehouses
            .find(conn, &cmd.from)
            .await?
            .ok_or_else(|| Refusal::UnknownWarehouse {
                field: "from",
                code: cmd.from.clone(),
            })?;
    let to = warehouses
        .find(conn, &cmd.to)
        .await?
        .ok_or_else(|| Refusal::UnknownWarehouse {
            field: "to",
            code: cmd.to.clone(),
        })?;
    check_route(from.id, to.id)?;
    actor.require_warehouse(from.id, &from.code)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    let done = send_checked(
        conn,
        actor,
        origin,
        (from.id, &from.code),
        to.id,
        &cmd.lines,
        cmd.note.as_deref(),
    )
    .await?;
    Ok(ControlFlow::Continue(done))
}

/// The body of [`send`] once the caller may send from `from` (id, code) to `to`: locks
/// the lines' lots, checks them ([`check_sources`]), and writes the transfer, its lines
/// and one `transfer_out` per line. A planned replenishment (`reserve::cases`), whose
/// actor is a planner rather than a clerk of the source, sends through this too, so
/// every transfer is written by one piece of code. Returns the transfer and its audit
/// event; the caller records the event.
pub async fn send_checked(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    from: (WarehouseId, &str),
    to: WarehouseId,
    lines: &[SendLine],
    note: Option<&str>,
) -> AppResult<Done> {
    check_send_lines(lines)?;
    check_route(from.0, to)?;
    let ids: Vec<LotId> = lines.iter().map(|l| l.lot).collect();
    let locked = db::lock_lots(conn, &ids).await?;
    check_sources(lines, &locked, from.0, from.1)?;

    let id = TransferId::new();
    db::insert_transfer(
        conn,
        &db::NewTransfer {
            id,
            from: from.0,
            to,
            note,
            created_by: actor.id,
        },
    )
    .await?;
    for (i, line) in lines.iter().enumerate() {
        let line_no = i32::try_from(i).map_err(anyhow::Error::from)?;
        db::insert_line(conn, id, line_no, line.lot, line.qty).await?;
        let out = movement(actor, origin, id, line.lot, "transfer_out", -line.qty, note);
        insert_movement(conn, &out).await?;
    }
    let transfer = answer(conn, id).await?;
    tracing::info!(transfer.id = %id, "transfer sent");
    Ok(Done {
        change: change("transfer.send", id, None, &transfer),
        answer: transfer,
    })
}

/// Receives a transfer at its destination: each line lands as the same lot code and
/// expiry (`transfer_in`), in a lot found or created at the destination; a short line
/// needs a discrepancy reason. `today` dates a lot created here.
pub async fn receive<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: TransferId,
    cmd: ReceiveCmd,
    today: NaiveDate,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    let Closable {
        t,
        status,
        before,
        sent,
    } = match lock_for_closing(conn, actor, id, Closing::Receive, claim).await? {
        ControlFlow::Break(replay) => return Ok(ControlFlow::Break(replay)),
        ControlFlow::Continue(c) => c,
    };
    let pairs: Vec<(LotId, i64)> = sent.iter().map(|s| (s.lot_id, s.qty)).collect();
    let received = match_receipt(&pairs, &cmd.lines)?;

    let dest = land(
        conn,
        &t.to_code,
        t.to_warehouse_id,
        &cmd.lines,
        &received,
        &sent,
        today,
    )
    .await?;
    let note = cmd.note.as_deref();
    for ((s, r), d) in sent.iter().zip(&received).zip(&dest) {
        if let Some(lot) = *d {
            let mut inbound = movement(actor, origin, id, lot, "transfer_in", r.received_qty, note);
            inbound.reason = r.reason.map(super::DiscrepancyReason::as_str);
            insert_movement(conn, &inbound).await?;
        }
        db::set_line_received(conn, id, s.line_no, r.received_qty, r.reason, *d).await?;
    }
    db::close(conn, id, status, actor.id, note).await?;
    let transfer = answer(conn, id).await?;
    tracing::info!(transfer.id = %id, "transfer received");
    Ok(ControlFlow::Continue(Done {
        change: change("transfer.receive", id, Some(json(&before)?), &transfer),
        answer: transfer,
    }))
}

/// A transfer in transit, locked to be closed.
struct Closable {
    /// The locked header.
    t: db::LockedTransfer,
    /// The status it closes to.
    status: TransferStatus,
    /// The transfer before, for the audit trail.
    before: Option<Transfer>,
    /// The lines sent.
    sent: Vec<SentLine>,
}

/// Locks transfer `id` and checks that `actor` may close it `how`: a clerk of the
/// destination receives it, a clerk of the source cancels it. Then lets `claim` answer,
/// checks that the transfer is still in transit, and reads it.
async fn lock_for_closing<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    id: TransferId,
    how: Closing,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<ControlFlow<R, Closable>> {
    let t = db::lock_transfer(conn, id)
        .await?
        .ok_or(Refusal::NotFound(id))?;
    let (warehouse, code) = match how {
        Closing::Receive => (t.to_warehouse_id, &t.to_code),
        Closing::Cancel => (t.from_warehouse_id, &t.from_code),
    };
    actor.require_warehouse(warehouse, code)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    let status = t.status.close(how)?;
    let before = db::get(conn, id).await?;
    let sent = db::sent_lines(conn, id).await?;
    Ok(ControlFlow::Continue(Closable {
        t,
        status,
        before,
        sent,
    }))
}

/// Finds or creates the destination lot of every line that received something, in
/// [`landing_order`], checks each against the lot sent ([`check_landing`]), then locks
/// them in id order. Returns, per line sent, the lot it lands in.
async fn land(
    conn: &mut PgConnection,
    to_code: &str,
    to: WarehouseId,
    report: &[ReceivedLine],
    received: &[ReceivedLine],
    sent: &[SentLine],
    today: NaiveDate,
) -> AppResult<Vec<Option<LotId>>> {
    let mut dest: Vec<Option<LotId>> = vec![None; sent.len()];
    for k in landing_order(sent) {
        let (s, r) = (&sent[k], &received[k]);
        if r.received_qty == 0 {
            continue;
        }
        let (lot, expires_on) = db::find_or_create_lot(
            conn,
            s.item_id,
            to,
            &s.lot_code,
            s.expires_on,
            today,
            s.donor.as_deref(),
        )
        .await?;
        let pos = report.iter().position(|x| x.lot == s.lot_id).unwrap_or(0);
        check_landing(pos, s, to_code, expires_on)?;
        dest[k] = Some(lot);
    }
    let dest_ids: Vec<LotId> = dest.iter().flatten().copied().collect();
    db::lock_lots(conn, &dest_ids).await?;
    Ok(dest)
}

/// Cancels a transfer in transit: the stock returns to its source lots
/// (`transfer_return`).
pub async fn cancel<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: TransferId,
    note: Option<String>,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    let Closable {
        status,
        before,
        sent,
        ..
    } = match lock_for_closing(conn, actor, id, Closing::Cancel, claim).await? {
        ControlFlow::Break(replay) => return Ok(ControlFlow::Break(replay)),
        ControlFlow::Continue(c) => c,
    };
    let ids: Vec<LotId> = sent.iter().map(|s| s.lot_id).collect();
    db::lock_lots(conn, &ids).await?;
    let note = note.as_deref();
    for s in &sent {
        let back = movement(actor, origin, id, s.lot_id, "transfer_return", s.qty, note);
        insert_movement(conn, &back).await?;
    }
    db::close(conn, id, status, actor.id, note).await?;
    let transfer = answer(conn, id).await?;
    tracing::info!(transfer.id = %id, "transfer cancelled");
    Ok(ControlFlow::Continue(Done {
        change: change("transfer.cancel", id, Some(json(&before)?), &transfer),
        answer: transfer,
    }))
}

/// Transfers from or to the warehouse `warehouse` (a code), with `status`, after the id
/// `after`, in id order, at most `limit`.
pub async fn list(
    conn: &mut PgConnection,
    warehouse: Option<&str>,
    status: Option<TransferStatus>,
    after: Option<TransferId>,
    limit: i64,
) -> AppResult<Vec<Transfer>> {
    let warehouse = match warehouse {
        None => None,
        Some(code) => Some(
            crate::warehouses::db::by_code(conn, code)
                .await?
                .ok_or_else(|| {
                    AppError::bad_request("warehouse", format!("unknown warehouse `{code}`"))
                })?
                .id,
        ),
    };
    Ok(db::list(conn, warehouse, status, after, limit).await?)
}

/// One transfer with its lines.
pub async fn get(conn: &mut PgConnection, id: TransferId) -> AppResult<Transfer> {
    Ok(db::get(conn, id).await?.ok_or(Refusal::NotFound(id))?)
}

/// A ledger row of this transfer on `lot`.
fn movement<'a>(
    actor: &Actor,
    origin: &'a Origin,
    id: TransferId,
    lot: LotId,
    kind: &'static str,
    qty: i64,
    note: Option<&'a str>,
) -> Movement<'a> {
    Movement {
        lot,
        kind,
        qty,
        reserved_delta: 0,
        reason: None,
        note,
        ref_kind: Some("transfer"),
        ref_id: Some(id.0),
        actor: actor.id,
        request_id: origin.request_id.as_deref(),
        idempotency_key: origin.idempotency_key.as_deref(),
    }
}

/// The transfer as the command's answer.
async fn answer(conn: &mut PgConnection, id: TransferId) -> AppResult<Value> {
    let transfer = db::get(conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("transfer {id} vanished"))?;
    json(&transfer)
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<Value> {
    Ok(serde_json::to_value(v).map_err(anyhow::Error::from)?)
}

fn change(
    action: &'static str,
    id: TransferId,
    before: Option<Value>,
    after: &Value,
) -> Change<'static> {
    Change {
        action,
        entity_kind: "transfer",
        entity_id: id.to_string(),
        before,
        after: Some(after.clone()),
    }
}
