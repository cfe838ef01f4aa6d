//! SQL of the network domain: stored road networks, the demo network's one-time store,
//! and road closures.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::StoredClosure;
use crate::ids::{ClosureId, UserId};

/// The id of the newest stored network (the one in use); `None` when there is none.
pub async fn newest_version(conn: &mut PgConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!("select max(id) from road_networks")
        .fetch_one(conn)
        .await
}

/// The GeoJSON document of the stored network with this id.
pub async fn document(conn: &mut PgConnection, id: i64) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!("select document from road_networks where id = $1", id)
        .fetch_one(conn)
        .await
}

/// Serialises storing the demo network until the transaction ends, so that concurrent
/// processes store it once.
pub async fn lock_demo_store(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock(727201)")
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a network, which becomes the one in use, and returns its id.
pub async fn insert_network(
    conn: &mut PgConnection,
    document: &str,
    edge_count: i32,
    uploaded_by: UserId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into road_networks (document, edge_count, uploaded_by) values ($1, $2, $3) returning id",
        document,
        edge_count,
        uploaded_by as UserId
    )
    .fetch_one(conn)
    .await
}

/// The network in use and the closures in force now, read together.
#[derive(Debug, Clone)]
pub struct NetworkNow {
    /// The newest network's id; `None` when there is none.
    pub version: Option<i64>,
    /// JSON array of `{edge_ids, area}`, one per active closure, in id order.
    pub closures: Value,
}

/// The newest network's id and the closures in force now, in one round trip.
pub async fn network_now(conn: &mut PgConnection) -> Result<NetworkNow, sqlx::Error> {
    sqlx::query_as!(
        NetworkNow,
        r#"select (select max(id) from road_networks) as version,
                  coalesce((select jsonb_agg(jsonb_build_object('edge_ids', edge_ids, 'area', area) order by id)
                              from road_closures
                             where starts_at <= now() and (ends_at is null or ends_at > now())),
                           '[]'::jsonb) as "closures!""#
    )
    .fetch_one(conn)
    .await
}

/// Inserts a closure, recording who closed the roads.
pub async fn insert_closure(
    conn: &mut PgConnection,
    c: &StoredClosure,
    created_by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into road_closures (id, name, reason, edge_ids, area, starts_at, ends_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        c.id as ClosureId,
        c.name,
        c.reason,
        &c.edge_ids[..],
        c.area.as_ref(),
        c.starts_at,
        c.ends_at,
        created_by as UserId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest 1000 closures, newest first.
pub async fn list_closures(conn: &mut PgConnection) -> Result<Vec<StoredClosure>, sqlx::Error> {
    sqlx::query_as!(
        StoredClosure,
        r#"select id as "id: ClosureId", name, reason, edge_ids, area, starts_at, ends_at
             from road_closures order by id desc limit 1000"#
    )
    .fetch_all(conn)
    .await
}

/// Locks one closure and returns it; `None` when there is no such closure.
pub async fn lock_closure(
    conn: &mut PgConnection,
    id: ClosureId,
) -> Result<Option<StoredClosure>, sqlx::Error> {
    sqlx::query_as!(
        StoredClosure,
        r#"select id as "id: ClosureId", name, reason, edge_ids, area, starts_at, ends_at
             from road_closures where id = $1 for update"#,
        id as ClosureId
    )
    .fetch_optional(conn)
    .await
}

/// The database's clock (the transaction's start time).
pub async fn now(conn: &mut PgConnection) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!(r#"select now() as "now!""#)
        .fetch_one(conn)
        .await
}

/// Ends a closure now, recording who ended it, and returns it.
pub async fn end_closure(
    conn: &mut PgConnection,
    id: ClosureId,
    ended_by: UserId,
) -> Result<StoredClosure, sqlx::Error> {
    sqlx::query_as!(
        StoredClosure,
        r#"update road_closures set ends_at = now(), ended_by = $2 where id = $1
           returning id as "id: ClosureId", name, reason, edge_ids, area, starts_at, ends_at"#,
        id as ClosureId,
        ended_by as UserId
    )
    .fetch_one(conn)
    .await
}
