//! HTTP handlers for operations: open, list, show, change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::db::{MemberRow, OperationRow};
use super::{OperationStatus, cases, db};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::respond;
use crate::auth::Actor;
use crate::error::{AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query};
use crate::ids::{IncidentId, OperationId, UserId};
use crate::incidents::{IncidentStatus, ResponseLevel};

/// Operation routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_operation, list_operations))
        .routes(routes!(get_operation, update_operation))
}

/// An operation and its incidents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Operation {
    /// Id.
    pub id: OperationId,
    /// Name, e.g. "Typhoon Saola 2023, Jiangmen".
    pub name: String,
    /// `open` or `closed`.
    #[schema(value_type = String)]
    pub status: OperationStatus,
    /// Free text.
    pub note: Option<String>,
    /// Its incidents, by id.
    pub incidents: Vec<Member>,
    /// Who opened it.
    pub created_by: UserId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Operation {
    /// The view of a stored operation with its incidents.
    pub fn of(r: OperationRow, incidents: Vec<Member>) -> Operation {
        Operation {
            id: r.id,
            name: r.name,
            status: r.status,
            note: r.note,
            incidents,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An incident of an operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    /// Id.
    pub id: IncidentId,
    /// Name.
    pub name: String,
    /// `open` or `closed`.
    #[schema(value_type = String)]
    pub status: IncidentStatus,
    /// `county`, `city` or `province`.
    #[schema(value_type = String)]
    pub response_level: ResponseLevel,
    /// Hours within which the first batch must arrive.
    pub delivery_target_hours: i32,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            id: r.id,
            name: r.name,
            status: r.status,
            response_level: r.response_level,
            delivery_target_hours: r.delivery_target_hours,
        }
    }
}

/// Body of `POST /api/v1/operations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperation {
    /// Name (1–200 characters).
    pub name: String,
    /// Free text (at most 2,000 characters).
    pub note: Option<String>,
}

/// Body of `PATCH /api/v1/operations/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOperation {
    /// New name.
    pub name: Option<String>,
    /// New note; `null` clears it; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
    /// `open` or `closed`. A closed operation takes no new incidents.
    pub status: Option<OperationStatus>,
}

/// A field that is present, even as `null` (`Some(None)`); absent is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Open an operation: the incidents of one emergency, rationed together.
#[utoipa::path(post, path = "/api/v1/operations", tag = "operations", request_body = CreateOperation,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 201, body = Operation), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_operation(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<CreateOperation>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let created = cases::create(&mut tx, &actor, &cmd.body, claim).await?;
    respond(tx, &actor, &origin, created, StatusCode::CREATED).await
}

/// Filters for `GET /api/v1/operations`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OperationFilter {
    /// `open` or `closed`.
    pub status: Option<OperationStatus>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List operations, oldest first, each with its incidents.
#[utoipa::path(get, path = "/api/v1/operations", tag = "operations", params(OperationFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Operation>), (status = 400, body = Problem)))]
pub async fn list_operations(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<OperationFilter>,
) -> AppResult<Json<Page<Operation>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<OperationId> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    let mut conn = state.reads.acquire().await?;
    let rows = db::list(
        &mut conn,
        filter.status.map(OperationStatus::as_str),
        after,
        limit + 1,
    )
    .await?;
    let mut ops = Vec::with_capacity(rows.len());
    for row in rows {
        let members = db::members(&mut conn, row.id).await?;
        ops.push(Operation::of(
            row,
            members.into_iter().map(Member::from).collect(),
        ));
    }
    Ok(Json(pagination::page(ops, limit, |o| o.id)))
}

/// One operation with its incidents.
#[utoipa::path(get, path = "/api/v1/operations/{id}", tag = "operations",
    params(("id" = String, Path, description = "Operation id")),
    security(("bearer" = [])),
    responses((status = 200, body = Operation), (status = 404, body = Problem)))]
pub async fn get_operation(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<OperationId>,
) -> AppResult<Json<Operation>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(cases::get(&mut conn, id).await?))
}

/// Rename, annotate, close or reopen an operation.
#[utoipa::path(patch, path = "/api/v1/operations/{id}", tag = "operations", request_body = UpdateOperation,
    params(("id" = String, Path, description = "Operation id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = Operation), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn update_operation(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<OperationId>,
    cmd: Command<UpdateOperation>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let updated = cases::update(&mut tx, &actor, id, &cmd.body, claim).await?;
    respond(tx, &actor, &origin, updated, StatusCode::OK).await
}
