//! HTTP handlers for incidents: create, read, list, patch, and the needs estimate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use sqlx::PgConnection;

use super::cases;
use super::db::{self, IncidentRow};
use super::{IncidentKind, IncidentStatus, LatLon, ResponseLevel};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::respond;
use crate::auth::Actor;
use crate::error::{AppError, AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query};
use crate::ids::{IncidentId, OperationId};

/// Incident routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_incident, list_incidents))
        .routes(routes!(get_incident, update_incident))
        .routes(routes!(estimate_needs))
}

/// An incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Incident {
    /// Id.
    pub id: IncidentId,
    /// Name, e.g. "Typhoon Wipha, Taishan".
    pub name: String,
    /// Kind: typhoon, flood, rainstorm, landslide, fire, earthquake, epidemic or other.
    #[schema(value_type = String)]
    pub kind: IncidentKind,
    /// Where supplies go (WGS84).
    pub point: LatLon,
    /// GeoJSON Polygon of the affected area; warehouses inside it are presumed cut off.
    #[schema(value_type = Option<Object>)]
    pub affected_area: Option<Value>,
    /// People affected.
    pub population: i64,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// `open` or `closed`.
    #[schema(value_type = String)]
    pub status: IncidentStatus,
    /// The operation it belongs to, if any.
    pub operation_id: Option<OperationId>,
    /// `county`, `city` or `province`.
    #[schema(value_type = String)]
    pub response_level: ResponseLevel,
    /// Hours within which the first batch must arrive after the dispatch order; a pick
    /// whose ETA is longer is reported as missing it.
    pub delivery_target_hours: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<IncidentRow> for Incident {
    fn from(r: IncidentRow) -> Self {
        Incident {
            id: r.id,
            name: r.name,
            kind: r.kind,
            point: LatLon {
                lat: r.lat,
                lon: r.lon,
            },
            affected_area: r.affected_area,
            population: r.population,
            started_at: r.started_at,
            status: r.status,
            operation_id: r.operation_id,
            response_level: r.response_level,
            delivery_target_hours: r.delivery_target_hours,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Body of `POST /api/v1/incidents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    /// Name (1–200 characters).
    pub name: String,
    /// Kind.
    pub kind: IncidentKind,
    /// Where supplies go.
    pub point: LatLon,
    /// Optional GeoJSON Polygon: closed rings of at least 4 positions, not self-intersecting.
    #[schema(value_type = Option<Object>)]
    pub affected_area: Option<Value>,
    /// People affected (≥ 0, default 0).
    pub population: Option<i64>,
    /// When it started (default now).
    pub started_at: Option<DateTime<Utc>>,
    /// An open operation to group it under.
    pub operation_id: Option<OperationId>,
    /// Who responds: `county` (default), `city` or `province`.
    pub response_level: Option<ResponseLevel>,
    /// Hours (1–72) within which the first batch must arrive; default: the level's
    /// configured target (6, 8 or 10 h).
    pub delivery_target_hours: Option<i32>,
}

/// Body of `PATCH /api/v1/incidents/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIncident {
    /// New name.
    pub name: Option<String>,
    /// `open` or `closed`.
    pub status: Option<IncidentStatus>,
    /// New population affected.
    pub population: Option<i64>,
    /// New affected area (GeoJSON Polygon); `null` removes it (the whole region is
    /// usable again); absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub affected_area: Option<Value>,
    /// An open operation to move it to; `null` takes it out of its operation; absent
    /// keeps it.
    #[serde(default, deserialize_with = "present_id")]
    #[schema(value_type = Option<String>)]
    pub operation_id: Option<Option<OperationId>>,
    /// New response level. Without `delivery_target_hours`, the target becomes the new
    /// level's default.
    pub response_level: Option<ResponseLevel>,
    /// New delivery target, in hours (1–72).
    pub delivery_target_hours: Option<i32>,
}

/// An id that is present, even as `null` (`Some(None)`); absent is `None`.
fn present_id<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<OperationId>>, D::Error> {
    Option::<OperationId>::deserialize(d).map(Some)
}

/// A field that is present, even as `null` (`Some(Value::Null)`); absent is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Open an incident.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = CreateIncident,
    security(("bearer" = ["dispatcher"])),
    responses((status = 201, body = Incident), (status = 422, body = Problem), (status = 403, body = Problem)))]
pub async fn create_incident(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<CreateIncident>,
) -> AppResult<Response> {
    crate::http::date_field("/started_at", cmd.body.started_at)?;
    let mut tx = state.pool.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let targets = &state.settings.delivery_targets;
    let created = cases::create(&mut tx, &actor, &cmd.body, targets, claim).await?;
    respond(tx, &actor, &origin, created, StatusCode::CREATED).await
}

/// Filters for `GET /api/v1/incidents`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentFilter {
    /// `open` or `closed`.
    pub status: Option<IncidentStatus>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List incidents, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Incident>), (status = 400, body = Problem)))]
pub async fn list_incidents(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<IncidentFilter>,
) -> AppResult<Json<Page<Incident>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<IncidentId> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    let mut conn = state.reads.acquire().await?;
    let rows = db::list(
        &mut conn,
        filter.status.map(IncidentStatus::as_str),
        after,
        limit + 1,
    )
    .await?;
    let rows: Vec<Incident> = rows.into_iter().map(Incident::from).collect();
    Ok(Json(pagination::page(rows, limit, |i| i.id)))
}

/// One incident.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "Incident id")),
    security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 404, body = Problem)))]
pub async fn get_incident(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<IncidentId>,
) -> AppResult<Json<Incident>> {
    let mut conn = state.pool.acquire().await?;
    db::get(&mut conn, id, false)
        .await?
        .map(|r| Json(Incident::from(r)))
        .ok_or_else(|| AppError::not_found(format!("no incident with id {id}")))
}

/// Change an incident's name, status, population or affected area.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", request_body = UpdateIncident,
    params(("id" = String, Path, description = "Incident id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = Incident), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_incident(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<IncidentId>,
    cmd: Command<UpdateIncident>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let targets = &state.settings.delivery_targets;
    let updated = cases::update(&mut tx, &actor, id, &cmd.body, targets, claim).await?;
    respond(tx, &actor, &origin, updated, StatusCode::OK).await
}

/// Body of `POST /api/v1/incidents/{id}/needs-estimate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedsEstimateBody {
    /// People to supply (default: the incident's population).
    pub population: Option<i64>,
    /// Days to cover (1–365).
    pub days: i64,
}

/// A suggested request line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuggestedLine {
    /// Item SKU.
    pub sku: String,
    /// English name.
    pub name_en: String,
    /// Unit.
    pub unit_en: String,
    /// Suggested quantity in base units.
    pub qty: i64,
    /// The planning figure the norm comes from.
    pub basis: String,
}

/// The needs estimate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NeedsEstimate {
    /// The incident.
    pub incident_id: IncidentId,
    /// People.
    pub population: i64,
    /// Days.
    pub days: i64,
    /// Lines a dispatcher can start a request from (`{sku, qty}` are the request fields).
    pub lines: Vec<SuggestedLine>,
}

/// Suggest request lines from the catalogue's per-person norms (Sphere figures). Changes nothing.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/needs-estimate", tag = "incidents",
    request_body = NeedsEstimateBody,
    params(("id" = String, Path, description = "Incident id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = NeedsEstimate), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn estimate_needs(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<IncidentId>,
    Json(body): Json<NeedsEstimateBody>,
) -> AppResult<Json<NeedsEstimate>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        cases::estimate_needs(&mut conn, &actor, id, &body).await?,
    ))
}
