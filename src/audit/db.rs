//! SQL for the audit chain.

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::PgConnection;

use super::{ChainCheck, Change, Event, Origin, Verification};
use crate::auth::Actor;

/// Records `change` in the transaction of `conn`, as a pending event. Once the
/// transaction commits, the chainer's next batch (`audit::chain`) assigns it the next
/// `seq` and computes `sha256(prev_hash || canonical JSON)` from the canonical JSON cut
/// before `seq`, which sorts last. No writer touches the chain's head, and a rollback
/// records nothing. (An HTTP command records its event together with its idempotent
/// answer: `audit::http::finish_command`.)
pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    change: Change<'_>,
) -> Result<(), sqlx::Error> {
    let event = pending_event(actor, origin, change);
    sqlx::query!(
        "insert into audit_pending (event) values ($1)",
        event.pending_json()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The event that records `change`, as it goes into `audit_pending` (`seq` 0: the
/// chainer assigns it). For statements that write the event themselves, beside the
/// change it records (`stock::db::apply_checked_movements`). Within an HTTP request, it
/// also marks the request as one whose answer waits for the chain
/// (`audit::http::answer_when_chained`).
pub fn pending_event(actor: &Actor, origin: &Origin, change: Change<'_>) -> Event {
    super::chain::note_recorded();
    Event {
        seq: 0,
        at: Utc::now().trunc_subsecs(6),
        actor_id: actor.id.0,
        actor_username: actor.username.clone(),
        action: change.action.to_owned(),
        entity_kind: change.entity_kind.to_owned(),
        entity_id: change.entity_id,
        request_id: origin.request_id.clone(),
        idempotency_key: origin.idempotency_key.clone(),
        before: change.before,
        after: change.after,
    }
}

/// The chain position of the chained event about `entity_kind` `entity_id` (the
/// latest, if there are several). Call it once the event is chained
/// (`audit::chain::drain`, or after the chainer's batch).
pub async fn committed_seq(
    conn: &mut PgConnection,
    entity_kind: &str,
    entity_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select max(seq) as "seq!" from audit_events where entity_kind = $1 and entity_id = $2"#,
        entity_kind,
        entity_id
    )
    .fetch_one(conn)
    .await
}

/// Recomputes the whole chain and checks the ledger link (module docs), inside one
/// repeatable-read, read-only transaction so concurrent writers cannot cause false
/// alarms. Events are streamed in seq order: memory does not grow with the chain.
/// A batch moves events from `audit_pending` to `audit_events` in one transaction, so
/// the snapshot holds each committed event in exactly one of them: a movement whose
/// event is still pending is audited, and the pending events are counted.
pub async fn verify(pool: &sqlx::PgPool) -> Result<Verification, sqlx::Error> {
    use futures_util::TryStreamExt;

    let mut tx = pool.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let head = sqlx::query!("select seq, hash from audit_chain_head where id")
        .fetch_one(&mut *tx)
        .await?;
    let mut check = ChainCheck::new();
    {
        let mut rows = sqlx::query_as!(
            StoredEvent,
            "select seq, at, actor_id, actor_username, action, entity_kind, entity_id, request_id,
                    idempotency_key, before, after, prev_hash, hash
               from audit_events order by seq"
        )
        .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let (event, prev_hash, hash) = row.into_parts();
            if !check.push(&event, &prev_hash, &hash) {
                break;
            }
        }
    }
    let mut outcome = check.finish(head.seq, &head.hash);
    let link = sqlx::query!(
        r#"select (select count(*) from stock_movements) as "movements!",
                  (select count(*) from audit_pending) as "pending!",
                  (select min(m.id) from stock_movements m
                    where not exists (select 1 from audit_events e where e.xact_id = m.xact_id)
                      and not exists (select 1 from audit_pending p where p.xact_id = m.xact_id)) as unaudited"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    outcome.movements_checked = link.movements;
    outcome.pending_events = link.pending;
    if let (true, Some(id)) = (outcome.ok, link.unaudited) {
        outcome.ok = false;
        outcome.first_broken_movement_id = Some(id);
        outcome.reason = Some(format!(
            "ledger movement {id} was written in a transaction that recorded no audit event"
        ));
    }
    Ok(outcome)
}

/// An event row as stored: the hashed fields plus both hashes.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Position in the chain.
    pub seq: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor_id: uuid::Uuid,
    /// Their username at the time.
    pub actor_username: String,
    /// What was done.
    pub action: String,
    /// The kind of entity changed.
    pub entity_kind: String,
    /// Its id or code.
    pub entity_id: String,
    /// The request id.
    pub request_id: Option<String>,
    /// The idempotency key.
    pub idempotency_key: Option<String>,
    /// State before.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// State after.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// The previous event's hash.
    pub prev_hash: String,
    /// `sha256(prev_hash || canonical_json(event))`.
    pub hash: String,
}

impl StoredEvent {
    /// The hashed event and its stored `prev_hash` and `hash`.
    pub fn into_parts(self) -> (Event, String, String) {
        (
            Event {
                seq: self.seq,
                at: self.at,
                actor_id: self.actor_id,
                actor_username: self.actor_username,
                action: self.action,
                entity_kind: self.entity_kind,
                entity_id: self.entity_id,
                request_id: self.request_id,
                idempotency_key: self.idempotency_key,
                before: self.before,
                after: self.after,
            },
            self.prev_hash,
            self.hash,
        )
    }
}

/// Filters for listing events.
#[derive(Debug, Default, Clone)]
pub struct EventQuery {
    /// Only events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events at or before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only this actor (username).
    pub actor: Option<String>,
    /// Only this entity kind.
    pub entity_kind: Option<String>,
    /// Only this entity id.
    pub entity_id: Option<String>,
    /// Only this action, or actions under this prefix when it ends in `.`.
    pub action: Option<String>,
    /// Keyset: events after this seq.
    pub after_seq: Option<i64>,
    /// At most this seq (the snapshot an export reads).
    pub max_seq: Option<i64>,
    /// Page size, or none for all.
    pub limit: Option<i64>,
}

/// Pushes the `where` clause of `q` onto `qb`.
fn push_event_filters(qb: &mut sqlx::QueryBuilder<sqlx::Postgres>, q: &EventQuery) {
    qb.push(" where true");
    if let Some(v) = q.from {
        qb.push(" and at >= ").push_bind(v);
    }
    if let Some(v) = q.to {
        qb.push(" and at <= ").push_bind(v);
    }
    if let Some(v) = &q.actor {
        qb.push(" and actor_username = ").push_bind(v.clone());
    }
    if let Some(v) = &q.entity_kind {
        qb.push(" and entity_kind = ").push_bind(v.clone());
    }
    if let Some(v) = &q.entity_id {
        qb.push(" and entity_id = ").push_bind(v.clone());
    }
    if let Some(v) = &q.action {
        if let Some(prefix) = v.strip_suffix('.') {
            qb.push(" and starts_with(action, ")
                .push_bind(format!("{prefix}."))
                .push(")");
        } else {
            qb.push(" and action = ").push_bind(v.clone());
        }
    }
    if let Some(v) = q.after_seq {
        qb.push(" and seq > ").push_bind(v);
    }
    if let Some(v) = q.max_seq {
        qb.push(" and seq <= ").push_bind(v);
    }
}

/// The select of events matching `q`, in seq order.
pub fn events_query(q: &EventQuery) -> sqlx::QueryBuilder<sqlx::Postgres> {
    let mut qb = sqlx::QueryBuilder::new(
        "select seq, at, actor_id, actor_username, action, entity_kind, entity_id, request_id,
                idempotency_key, before, after, prev_hash, hash from audit_events",
    );
    push_event_filters(&mut qb, q);
    qb.push(" order by seq");
    if let Some(limit) = q.limit {
        qb.push(" limit ").push_bind(limit);
    }
    qb
}

/// Events matching `q` (one page).
pub async fn list_events(
    conn: &mut PgConnection,
    q: &EventQuery,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    events_query(q)
        .build_query_as::<StoredEvent>()
        .fetch_all(conn)
        .await
}

/// The first and last seq of events matching `q`, with the last one's hash.
pub async fn event_range(
    conn: &mut PgConnection,
    q: &EventQuery,
) -> Result<Option<(i64, i64, String)>, sqlx::Error> {
    let mut qb = sqlx::QueryBuilder::new("select min(seq), max(seq) from audit_events");
    push_event_filters(&mut qb, q);
    let (first, last): (Option<i64>, Option<i64>) =
        qb.build_query_as().fetch_one(&mut *conn).await?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(None);
    };
    let hash = sqlx::query_scalar!("select hash from audit_events where seq = $1", last)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some((first, last, hash)))
}
