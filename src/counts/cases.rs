//! The count use cases: open, record, post, cancel and show. The HTTP handlers, the CLI
//! and a future message adapter all call these.
//!
//! Each command runs in the caller's transaction and keeps one order: lock, check the
//! caller may act, `claim` (the caller's `Idempotency-Key` hook: it answers an earlier
//! identical request by returning `Some`, which ends the command as
//! [`ControlFlow::Break`]), check the rules of [`super`], write, and return
//! [`ControlFlow::Continue`] with the count as the caller may see it and the audit event
//! that records it. The caller records the event and commits. Lock order: the count row,
//! then lots in id order.

use std::collections::HashSet;
use std::ops::ControlFlow;

use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{Count, Counted, Refusal, cancel_reason, check_counted, check_skus, db, post_lot};
use crate::audit::Change;
use crate::auth::Actor;
use crate::error::AppResult;
use crate::ids::{CountId, ItemId, LotId};
use crate::stock::db::{Movement, insert_movement};
use crate::warehouses::ids::WarehouseIds;

pub use crate::audit::{Done, Origin, Outcome};

/// Opens a blind count over the warehouse `code`, or its `skus`: locks every lot in
/// scope and snapshots its on hand as expected, with the ledger high-water mark.
pub async fn open<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    warehouses: &WarehouseIds,
    code: &str,
    skus: Option<Vec<String>>,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    let wh = warehouses.in_path(conn, code).await?;
    actor.require_warehouse(wh.id, &wh.code)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    check_skus(skus.as_deref())?;
    let items = match &skus {
        None => None,
        Some(skus) => Some(items(conn, skus).await?),
    };
    let lots = db::lock_scope(conn, wh.id, items.as_deref()).await?;
    if lots.is_empty() {
        return Err(Refusal::NothingToCount {
            warehouse: wh.code,
            by_skus: skus.is_some(),
        }
        .into());
    }
    // Read after the locks: every movement on these lots so far is committed and below
    // the mark, and none can be added until this transaction ends.
    let hwm = db::high_water_mark(conn).await?;
    let id = CountId::new();
    db::insert_count(conn, id, wh.id, skus.as_deref(), hwm, actor.id, &lots)
        .await
        .map_err(
            |e| match e.as_database_error().and_then(|d| d.constraint()) {
                Some("count_lines_open_lot_key") => Refusal::AlreadyCounting.into(),
                _ => crate::error::AppError::from(e),
            },
        )?;
    let after = json!({
        "warehouse": wh.code, "skus": skus, "lots": lots.len(), "snapshot_movement_id": hwm
    });
    let answer = view(conn, actor, id).await?;
    tracing::info!(count.id = %id, "count opened");
    Ok(ControlFlow::Continue(Done {
        change: change("count.open", id, None, after),
        answer,
    }))
}

/// The items of `skus`, in order; refuses the first unknown SKU.
async fn items(conn: &mut PgConnection, skus: &[String]) -> AppResult<Vec<ItemId>> {
    let mut ids = Vec::with_capacity(skus.len());
    for (index, sku) in skus.iter().enumerate() {
        let item = crate::catalog::db::item_by_sku(conn, sku)
            .await?
            .ok_or_else(|| Refusal::UnknownSku {
                index,
                sku: sku.clone(),
            })?;
        ids.push(item.id);
    }
    Ok(ids)
}

/// Records counted quantities (a later entry for the same lot replaces the earlier one).
pub async fn record<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    id: CountId,
    lines: Vec<Counted>,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    if let ControlFlow::Break(replay) = lock_open(conn, actor, id, claim).await? {
        return Ok(ControlFlow::Break(replay));
    }
    let scope: HashSet<LotId> = db::scope(conn, id).await?.into_iter().collect();
    check_counted(&lines, &scope)?;
    for l in &lines {
        db::set_counted(conn, id, l.lot, l.qty, actor.id).await?;
    }
    let after = json!({
        "lines": lines.iter().map(|l| json!({ "lot_id": l.lot, "counted_qty": l.qty })).collect::<Vec<_>>()
    });
    Ok(ControlFlow::Continue(Done {
        change: change("count.record", id, None, after),
        answer: view(conn, actor, id).await?,
    }))
}

/// Posts a count: books each counted lot to its counted quantity plus what moved on it
/// since the snapshot (`count_adjustment`); uncounted lots are left as they are.
pub async fn post<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    id: CountId,
    note: Option<String>,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    let c = match lock_open(conn, actor, id, claim).await? {
        ControlFlow::Break(replay) => return Ok(ControlFlow::Break(replay)),
        ControlFlow::Continue(c) => c,
    };
    let lines = db::lock_counted(conn, id, c.snapshot_movement_id).await?;
    let mut booked = Vec::new();
    for l in &lines {
        let p = post_lot(l)?;
        if p.delta != 0 {
            let adjustment = Movement {
                lot: l.lot_id,
                kind: "count_adjustment",
                qty: p.delta,
                reserved_delta: 0,
                reason: Some("count_correction"),
                note: note.as_deref(),
                ref_kind: Some("count"),
                ref_id: Some(id.0),
                actor: actor.id,
                request_id: origin.request_id.as_deref(),
                idempotency_key: origin.idempotency_key.as_deref(),
            };
            insert_movement(conn, &adjustment).await?;
            booked.push(json!({ "lot_id": l.lot_id, "qty": p.delta, "on_hand_after": p.target }));
        }
        db::set_posted_line(conn, id, l.lot_id, l.moved_after, p.delta).await?;
    }
    db::close(conn, id, actor.id).await?;
    tracing::info!(count.id = %id, adjustments = booked.len(), "count posted");
    let after = json!({ "status": "posted", "counted_lots": lines.len(), "adjustments": booked });
    Ok(ControlFlow::Continue(Done {
        change: change("count.post", id, Some(json!({ "status": "open" })), after),
        answer: view(conn, actor, id).await?,
    }))
}

/// Cancels an open count that will not be finished: books nothing, and frees its lots
/// for a new count.
pub async fn cancel<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    id: CountId,
    reason: &str,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    let reason = cancel_reason(reason)?;
    if let ControlFlow::Break(replay) = lock_open(conn, actor, id, claim).await? {
        return Ok(ControlFlow::Break(replay));
    }
    db::cancel(conn, id, actor.id, reason).await?;
    let after = json!({ "status": "cancelled", "reason": reason });
    Ok(ControlFlow::Continue(Done {
        change: change("count.cancel", id, Some(json!({ "status": "open" })), after),
        answer: view(conn, actor, id).await?,
    }))
}

/// A count as `actor` may see it ([`Count::as_seen_by`]).
pub async fn get(conn: &mut PgConnection, actor: &Actor, id: CountId) -> AppResult<Count> {
    let count = db::get(conn, id).await?.ok_or(Refusal::NotFound(id))?;
    Ok(count.as_seen_by(actor.role))
}

/// Locks count `id` and checks that `actor` (a clerk of its warehouse) may change it;
/// then lets `claim` answer, and checks that the count is still open.
async fn lock_open<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    id: CountId,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<ControlFlow<R, db::LockedCount>> {
    let c = db::lock_count(conn, id)
        .await?
        .ok_or(Refusal::NotFound(id))?;
    actor.require_warehouse(c.warehouse_id, &c.warehouse_code)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    c.status.ensure_open()?;
    Ok(ControlFlow::Continue(c))
}

/// The count as `actor` may see it, as the answer to a command.
async fn view(conn: &mut PgConnection, actor: &Actor, id: CountId) -> AppResult<Value> {
    let count = db::get(conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("count {id} vanished"))?;
    Ok(serde_json::to_value(count.as_seen_by(actor.role)).map_err(anyhow::Error::from)?)
}

fn change(
    action: &'static str,
    id: CountId,
    before: Option<Value>,
    after: Value,
) -> Change<'static> {
    Change {
        action,
        entity_kind: "count",
        entity_id: id.to_string(),
        before,
        after: Some(after),
    }
}
