//! The operation use cases: open, change (rename, note, close or reopen), read, list.
//! Each runs in the caller's transaction and keeps one order: check the actor, validate,
//! `claim` (the caller's `Idempotency-Key` hook), lock, write, and return the operation
//! with the audit event that records it.

use serde_json::Value;
use sqlx::PgConnection;

use super::http::{CreateOperation, Member, Operation, UpdateOperation};
use super::{OperationStatus, check_name, check_note, db};
use crate::audit::{Change, Done, Outcome};
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::ids::OperationId;

fn json(op: &Operation) -> AppResult<Value> {
    Ok(serde_json::to_value(op).map_err(anyhow::Error::from)?)
}

/// The operation with its incidents.
pub async fn get(conn: &mut PgConnection, id: OperationId) -> AppResult<Operation> {
    let row = db::get(conn, id, false)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no operation with id {id}")))?;
    view(conn, row).await
}

async fn view(conn: &mut PgConnection, row: db::OperationRow) -> AppResult<Operation> {
    let members = db::members(conn, row.id).await?;
    Ok(Operation::of(
        row,
        members.into_iter().map(Member::from).collect(),
    ))
}

/// Opens an operation (dispatchers only).
pub async fn create<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    body: &CreateOperation,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    actor.require(&[Role::Dispatcher])?;
    check_name(&body.name)?;
    check_note(body.note.as_deref())?;
    if let Some(replay) = claim(conn).await? {
        return Ok(Outcome::Break(replay));
    }
    let row = db::insert(conn, body.name.trim(), body.note.as_deref(), actor.id).await?;
    let op = view(conn, row).await?;
    let answer = json(&op)?;
    Ok(Outcome::Continue(Done {
        change: Change {
            action: "operation.create",
            entity_kind: "operation",
            entity_id: op.id.to_string(),
            before: None,
            after: Some(answer.clone()),
        },
        answer,
    }))
}

/// Renames, annotates, closes or reopens an operation (dispatchers only).
pub async fn update<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    id: OperationId,
    body: &UpdateOperation,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    actor.require(&[Role::Dispatcher])?;
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    let note = body.note.as_ref().map(|n| n.as_deref());
    check_note(note.flatten())?;
    if let Some(replay) = claim(conn).await? {
        return Ok(Outcome::Break(replay));
    }
    let before = db::get(conn, id, true)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no operation with id {id}")))?;
    let before = view(conn, before).await?;
    let row = db::update(
        conn,
        id,
        body.name.as_deref().map(str::trim),
        note,
        body.status.map(OperationStatus::as_str),
    )
    .await?;
    let op = view(conn, row).await?;
    let answer = json(&op)?;
    Ok(Outcome::Continue(Done {
        change: Change {
            action: "operation.update",
            entity_kind: "operation",
            entity_id: id.to_string(),
            before: Some(json(&before)?),
            after: Some(answer.clone()),
        },
        answer,
    }))
}
