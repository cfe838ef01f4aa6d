//! SQL for the audit chain.

use chrono::{SubsecRound, Utc};
use sqlx::PgConnection;

use super::{Change, Event};
use crate::auth::Actor;
use crate::http::Ctx;

/// Appends `change` to the chain. Call it last in the transaction: it locks the chain
/// head, which serialises audit writers until commit, so keeping it last keeps that
/// window short and the lock order (lots, then chain) fixed.
pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    ctx: &Ctx,
    change: Change<'_>,
) -> Result<i64, sqlx::Error> {
    let head = sqlx::query!("select seq, hash from audit_chain_head where id for update")
        .fetch_one(&mut *conn)
        .await?;
    let event = Event {
        seq: head.seq + 1,
        at: Utc::now().trunc_subsecs(6),
        actor_id: actor.id.0,
        actor_username: actor.username.clone(),
        action: change.action.to_owned(),
        entity_kind: change.entity_kind.to_owned(),
        entity_id: change.entity_id,
        request_id: ctx.request_id.clone(),
        idempotency_key: ctx.idempotency_key.clone(),
        before: change.before,
        after: change.after,
    };
    let hash = event.hash(&head.hash);
    sqlx::query!(
        "with ins as (
             insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind, entity_id,
                                       request_id, idempotency_key, before, after, prev_hash, hash)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         )
         update audit_chain_head set seq = $1, hash = $13 where id",
        event.seq,
        event.at,
        event.actor_id,
        event.actor_username,
        event.action,
        event.entity_kind,
        event.entity_id,
        event.request_id,
        event.idempotency_key,
        event.before,
        event.after,
        head.hash,
        hash
    )
    .execute(&mut *conn)
    .await?;
    Ok(event.seq)
}
