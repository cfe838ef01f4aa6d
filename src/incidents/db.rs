//! SQL for incidents.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::{IncidentKind, IncidentStatus, ResponseLevel};
use crate::ids::{IncidentId, OperationId, UserId};

/// An incident as stored.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    /// Id.
    pub id: IncidentId,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: IncidentKind,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// GeoJSON Polygon.
    pub affected_area: Option<Value>,
    /// People affected.
    pub population: i64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// Open or closed.
    pub status: IncidentStatus,
    /// The operation it belongs to.
    pub operation_id: Option<OperationId>,
    /// Who responds.
    pub response_level: ResponseLevel,
    /// Hours within which the first batch must arrive.
    pub delivery_target_hours: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A new incident.
#[derive(Debug)]
pub struct NewIncident<'a> {
    /// Name.
    pub name: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// GeoJSON Polygon.
    pub affected_area: Option<&'a Value>,
    /// People affected.
    pub population: i64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// The operation it belongs to.
    pub operation_id: Option<OperationId>,
    /// Who responds.
    pub response_level: &'a str,
    /// Hours within which the first batch must arrive.
    pub delivery_target_hours: i32,
    /// Who.
    pub created_by: UserId,
}

/// Inserts an incident and returns it.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewIncident<'_>,
) -> Result<IncidentRow, sqlx::Error> {
    sqlx::query_as!(
        IncidentRow,
        r#"insert into incidents (id, name, kind, lat, lon, affected_area, population, started_at, created_by,
                                  operation_id, response_level, delivery_target_hours)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           returning id as "id: IncidentId", name, kind as "kind: IncidentKind", lat, lon, affected_area, population, started_at,
                     status as "status: IncidentStatus", operation_id as "operation_id: OperationId",
                  response_level as "response_level: ResponseLevel", delivery_target_hours, created_at, updated_at"#,
        IncidentId::new() as IncidentId,
        new.name,
        new.kind,
        new.lat,
        new.lon,
        new.affected_area,
        new.population,
        new.started_at,
        new.created_by as UserId,
        new.operation_id as Option<OperationId>,
        new.response_level,
        new.delivery_target_hours
    )
    .fetch_one(conn)
    .await
}

/// One incident; `lock` takes a row lock for an update.
pub async fn get(
    conn: &mut PgConnection,
    id: IncidentId,
    lock: bool,
) -> Result<Option<IncidentRow>, sqlx::Error> {
    if lock {
        sqlx::query_as!(
            IncidentRow,
            r#"select id as "id: IncidentId", name, kind as "kind: IncidentKind", lat, lon, affected_area, population, started_at,
                      status as "status: IncidentStatus", operation_id as "operation_id: OperationId",
                  response_level as "response_level: ResponseLevel", delivery_target_hours, created_at, updated_at
                 from incidents where id = $1 for update"#,
            id as IncidentId
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            IncidentRow,
            r#"select id as "id: IncidentId", name, kind as "kind: IncidentKind", lat, lon, affected_area, population, started_at,
                      status as "status: IncidentStatus", operation_id as "operation_id: OperationId",
                  response_level as "response_level: ResponseLevel", delivery_target_hours, created_at, updated_at
                 from incidents where id = $1"#,
            id as IncidentId
        )
        .fetch_optional(conn)
        .await
    }
}

/// Incidents after `after` in id order, optionally by status.
pub async fn list(
    conn: &mut PgConnection,
    status: Option<&str>,
    after: Option<IncidentId>,
    limit: i64,
) -> Result<Vec<IncidentRow>, sqlx::Error> {
    sqlx::query_as!(
        IncidentRow,
        r#"select id as "id: IncidentId", name, kind as "kind: IncidentKind", lat, lon, affected_area, population, started_at,
                  status as "status: IncidentStatus", operation_id as "operation_id: OperationId",
                  response_level as "response_level: ResponseLevel", delivery_target_hours, created_at, updated_at
             from incidents
            where ($1::text is null or status = $1) and ($2::uuid is null or id > $2)
            order by id limit $3"#,
        status,
        after as Option<IncidentId>,
        limit
    )
    .fetch_all(conn)
    .await
}

/// What a patch does to the affected area.
#[derive(Debug, Clone, Copy)]
pub enum AreaChange<'a> {
    /// Leave it.
    Keep,
    /// Replace it with this (validated) polygon.
    Set(&'a Value),
    /// Remove it.
    Remove,
}

/// A patch of an incident: each `None` keeps the stored value.
#[derive(Debug, Default)]
pub struct IncidentPatch<'a> {
    /// Name.
    pub name: Option<&'a str>,
    /// Status.
    pub status: Option<&'a str>,
    /// People affected.
    pub population: Option<i64>,
    /// Operation (`Some(None)` takes it out of its operation).
    pub operation_id: Option<Option<OperationId>>,
    /// Response level.
    pub response_level: Option<&'a str>,
    /// Delivery target.
    pub delivery_target_hours: Option<i32>,
}

/// Applies a patch.
pub async fn update(
    conn: &mut PgConnection,
    id: IncidentId,
    patch: &IncidentPatch<'_>,
    area: AreaChange<'_>,
) -> Result<IncidentRow, sqlx::Error> {
    let (name, status, population) = (patch.name, patch.status, patch.population);
    let (affected_area, remove_area) = match area {
        AreaChange::Keep => (None, false),
        AreaChange::Set(v) => (Some(v), false),
        AreaChange::Remove => (None, true),
    };
    sqlx::query_as!(
        IncidentRow,
        r#"update incidents
              set name = coalesce($2, name), status = coalesce($3, status),
                  population = coalesce($4, population),
                  affected_area = case when $6 then null else coalesce($5, affected_area) end,
                  operation_id = case when $7 then $8 else operation_id end,
                  response_level = coalesce($9, response_level),
                  delivery_target_hours = coalesce($10, delivery_target_hours),
                  updated_at = now()
            where id = $1
        returning id as "id: IncidentId", name, kind as "kind: IncidentKind", lat, lon, affected_area, population, started_at,
                  status as "status: IncidentStatus", operation_id as "operation_id: OperationId",
                  response_level as "response_level: ResponseLevel", delivery_target_hours, created_at, updated_at"#,
        id as IncidentId,
        name,
        status,
        population,
        affected_area,
        remove_area,
        patch.operation_id.is_some(),
        patch.operation_id.flatten() as Option<OperationId>,
        patch.response_level,
        patch.delivery_target_hours
    )
    .fetch_one(conn)
    .await
}
