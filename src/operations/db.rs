//! SQL for operations.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::OperationStatus;
use crate::ids::{IncidentId, OperationId, UserId};
use crate::incidents::{IncidentStatus, ResponseLevel};

/// An operation as stored.
#[derive(Debug, Clone)]
pub struct OperationRow {
    /// Id.
    pub id: OperationId,
    /// Name.
    pub name: String,
    /// Open or closed.
    pub status: OperationStatus,
    /// Note.
    pub note: Option<String>,
    /// Created by.
    pub created_by: UserId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// Inserts an operation.
pub async fn insert(
    conn: &mut PgConnection,
    name: &str,
    note: Option<&str>,
    created_by: UserId,
) -> Result<OperationRow, sqlx::Error> {
    sqlx::query_as!(
        OperationRow,
        r#"insert into operations (id, name, note, created_by) values ($1, $2, $3, $4)
           returning id as "id: OperationId", name, status as "status: OperationStatus", note,
                     created_by as "created_by: UserId", created_at, updated_at"#,
        OperationId::new() as OperationId,
        name,
        note,
        created_by as UserId
    )
    .fetch_one(conn)
    .await
}

/// One operation; `lock` takes a row lock for an update.
pub async fn get(
    conn: &mut PgConnection,
    id: OperationId,
    lock: bool,
) -> Result<Option<OperationRow>, sqlx::Error> {
    if lock {
        sqlx::query_as!(
            OperationRow,
            r#"select id as "id: OperationId", name, status as "status: OperationStatus", note,
                      created_by as "created_by: UserId", created_at, updated_at
                 from operations where id = $1 for update"#,
            id as OperationId
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            OperationRow,
            r#"select id as "id: OperationId", name, status as "status: OperationStatus", note,
                      created_by as "created_by: UserId", created_at, updated_at
                 from operations where id = $1"#,
            id as OperationId
        )
        .fetch_optional(conn)
        .await
    }
}

/// An operation's status, holding its row (`for share`) until the transaction ends, so
/// that it is not closed while an incident joins it. `None`: no such operation.
pub async fn status_for_share(
    conn: &mut PgConnection,
    id: OperationId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select status from operations where id = $1 for share",
        id as OperationId
    )
    .fetch_optional(conn)
    .await
}

/// Operations after `after` in id order, optionally by status.
pub async fn list(
    conn: &mut PgConnection,
    status: Option<&str>,
    after: Option<OperationId>,
    limit: i64,
) -> Result<Vec<OperationRow>, sqlx::Error> {
    sqlx::query_as!(
        OperationRow,
        r#"select id as "id: OperationId", name, status as "status: OperationStatus", note,
                  created_by as "created_by: UserId", created_at, updated_at
             from operations
            where ($1::text is null or status = $1) and ($2::uuid is null or id > $2)
            order by id limit $3"#,
        status,
        after as Option<OperationId>,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Applies a patch (each `None` keeps the stored value; `note: Some(None)` clears it).
pub async fn update(
    conn: &mut PgConnection,
    id: OperationId,
    name: Option<&str>,
    note: Option<Option<&str>>,
    status: Option<&str>,
) -> Result<OperationRow, sqlx::Error> {
    sqlx::query_as!(
        OperationRow,
        r#"update operations
              set name = coalesce($2, name),
                  note = case when $3 then $4 else note end,
                  status = coalesce($5, status),
                  updated_at = now()
            where id = $1
        returning id as "id: OperationId", name, status as "status: OperationStatus", note,
                  created_by as "created_by: UserId", created_at, updated_at"#,
        id as OperationId,
        name,
        note.is_some(),
        note.flatten(),
        status
    )
    .fetch_one(conn)
    .await
}

/// An incident of an operation, as the operation shows it.
#[derive(Debug, Clone)]
pub struct MemberRow {
    /// Id.
    pub id: IncidentId,
    /// Name.
    pub name: String,
    /// Open or closed.
    pub status: IncidentStatus,
    /// Who responds.
    pub response_level: ResponseLevel,
    /// Delivery target, hours.
    pub delivery_target_hours: i32,
}

/// The incidents of an operation, by id.
pub async fn members(
    conn: &mut PgConnection,
    id: OperationId,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"select id as "id: IncidentId", name, status as "status: IncidentStatus",
                  response_level as "response_level: ResponseLevel", delivery_target_hours
             from incidents where operation_id = $1 order by id"#,
        id as OperationId
    )
    .fetch_all(conn)
    .await
}
