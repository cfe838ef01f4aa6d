//! HTTP handlers for rationing rounds: preview, commit, and the rounds of an operation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{cases, db};
use crate::allocation::Priority;
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::{claim_key, finish_command};
use crate::auth::{Actor, Role};
use crate::error::{AppResult, Problem};
use crate::http::{Command, Json, Path};
use crate::ids::{IncidentId, OperationId, RequestId, RoundId, UserId};

/// Rationing routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_round))
        .routes(routes!(commit_round, list_rounds))
}

/// One demand of a round.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandIn {
    /// An open incident of the operation.
    pub incident_id: IncidentId,
    /// Item SKU (known, not retired).
    pub sku: String,
    /// Units in the item's base unit (> 0).
    pub qty: i64,
    /// critical, high or normal: tiers are served in that order.
    pub priority: Priority,
}

/// Body of a round's preview and commit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundCmd {
    /// What the incidents need (at most 2,000 lines with the gathered ones). Demands with
    /// the same incident, SKU and priority are merged.
    #[serde(default)]
    pub demands: Vec<DemandIn>,
    /// Also ration the unfilled shortfall of the operation's open requests (status
    /// partially_reserved or unfilled); what they get is added to those requests.
    #[serde(default)]
    pub from_open_requests: bool,
    /// Let warehouses inside an incident's affected area supply it (default false).
    #[serde(default)]
    pub include_affected_warehouses: bool,
    /// Commit only: the `digest` of the preview being committed. When the plan made at
    /// commit differs (the stock changed), the answer says `replanned`.
    pub preview_digest: Option<String>,
}

/// Units and how soon they arrive.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct TotalsView {
    /// Units reserved.
    pub delivered: i64,
    /// Σ qty × ETA, in unit-minutes.
    pub qty_eta_minutes: f64,
    /// Mean ETA per unit, in minutes.
    pub mean_eta_minutes: f64,
}

/// What fairness costs: how much more, and how much sooner, a nearest-first plan of the
/// same demands in request order would deliver.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PriceOfFairness {
    /// Units nearest-first would deliver beyond the round (negative: fewer).
    pub nearest_first_delivers_more: i64,
    /// Minutes by which nearest-first's mean ETA per unit is sooner (negative: later).
    pub nearest_first_mean_eta_sooner_minutes: f64,
}

/// A request a committed round wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundRequest {
    /// The request.
    pub id: RequestId,
    /// Its incident.
    pub incident_id: IncidentId,
    /// Its priority.
    #[schema(value_type = String)]
    pub priority: Priority,
    /// Its status after the round.
    pub status: String,
    /// Created by the round (false: an open request the round filled further).
    pub created: bool,
}

/// A round's plan: per line what it reserves and why, per item how each tier fared,
/// the totals against nearest-first, and, once committed, the requests written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundView {
    /// The operation.
    pub operation_id: OperationId,
    /// The round, once committed.
    pub round_id: Option<RoundId>,
    /// Whether this plan is reserved (commit) or only a preview.
    pub committed: bool,
    /// The planning instant.
    pub planned_at: DateTime<Utc>,
    /// The planning date: reserve floors are measured on it.
    pub today: NaiveDate,
    /// What the plan reserves, as a digest: give it back as `preview_digest` on commit.
    pub digest: String,
    /// The commit planned again because the stock changed since the preview.
    pub replanned: bool,
    /// Why, in words, when it did.
    pub note: Option<String>,
    /// The round's incidents: id, name, lat, lon, delivery_target_hours.
    #[schema(value_type = Vec<Object>)]
    pub incidents: Vec<Value>,
    /// One line per (incident, SKU, priority): incident_id, incident_code, sku, priority,
    /// requested, reserved, shortfall, fill_percent, picks (warehouse, lot, qty,
    /// eta_minutes, arrives_at, misses_target, after_needed_by, late), explanation
    /// (warehouses passed over, each with its reason and `to_other_lines`: what other
    /// lines of the round took that this one could have used), request_ids.
    #[schema(value_type = Vec<Object>)]
    pub lines: Vec<Value>,
    /// Per item, per tier: lines, requested, reserved, min_fill, min_fill_percent and a
    /// sentence ("every critical line got at least 62% of its demand").
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// What the round delivers.
    pub totals: TotalsView,
    /// What nearest-first in request order would deliver.
    pub nearest_first: TotalsView,
    /// The difference.
    pub price_of_fairness: PriceOfFairness,
    /// Requests written (commit).
    pub requests: Vec<RoundRequest>,
}

/// A committed round, as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundRecord {
    /// Id.
    pub id: RoundId,
    /// Operation.
    pub operation_id: OperationId,
    /// Who committed it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Whether it planned again on stock that changed since its preview.
    pub replanned: bool,
    /// Its lines: incident_id, sku, priority, requested, reserved.
    #[schema(value_type = Vec<Object>)]
    pub demands: Value,
    /// Per item and tier, totals, nearest-first, digest, requests.
    #[schema(value_type = Object)]
    pub summary: Value,
    /// The requests it created.
    pub requests: Vec<RequestId>,
}

impl From<db::RoundRow> for RoundRecord {
    fn from(r: db::RoundRow) -> RoundRecord {
        RoundRecord {
            id: r.id,
            operation_id: r.operation_id,
            created_by: r.created_by,
            created_at: r.created_at,
            replanned: r.replanned,
            demands: r.demands,
            summary: r.summary,
            requests: r.requests,
        }
    }
}

/// Plan a rationing round of the operation, reserving nothing: the operation's
/// competing demands shared by the published rule (tiers, then leximin on fill ratio,
/// then most units, then least Σ qty × ETA, then FEFO).
#[utoipa::path(post, path = "/api/v1/operations/{id}/rationing/preview", tag = "rationing",
    request_body = RoundCmd, params(("id" = String, Path, description = "Operation id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = RoundView), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn preview_round(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<OperationId>,
    Json(body): Json<RoundCmd>,
) -> AppResult<Json<RoundView>> {
    actor.require(&[Role::Dispatcher])?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        cases::preview(&state, &mut conn, id, &body, Utc::now()).await?,
    ))
}

/// Plan a rationing round and reserve it in one transaction, or nothing: one allocation
/// request per (incident, priority), linked to the round, and what it gives open
/// requests added to them. If the stock changed since the preview, it plans again on
/// the stock as it is and says so (`replanned`).
#[utoipa::path(post, path = "/api/v1/operations/{id}/rationing", tag = "rationing",
    request_body = RoundCmd,
    params(("id" = String, Path, description = "Operation id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 201, body = RoundView), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn commit_round(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<OperationId>,
    cmd: Command<RoundCmd>,
) -> AppResult<Response> {
    actor.require(&[Role::Dispatcher])?;
    let mut tx = state.writes.begin().await?;
    if let Some(replay) = claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await? {
        return Ok(replay);
    }
    let (view, change) = cases::commit(
        &state,
        &mut tx,
        &actor,
        &origin,
        id,
        &cmd.body,
        cmd.body.preview_digest.as_deref(),
        Utc::now(),
    )
    .await?;
    finish_command(tx, &actor, &origin, change, StatusCode::CREATED, view).await
}

/// The committed rounds of an operation, newest first.
#[utoipa::path(get, path = "/api/v1/operations/{id}/rationing", tag = "rationing",
    params(("id" = String, Path, description = "Operation id")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<RoundRecord>), (status = 404, body = Problem)))]
pub async fn list_rounds(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<OperationId>,
) -> AppResult<Json<Vec<RoundRecord>>> {
    let mut conn = state.pool.acquire().await?;
    crate::operations::cases::get(&mut conn, id).await?;
    let rows = db::rounds(&mut conn, id).await?;
    Ok(Json(rows.into_iter().map(RoundRecord::from).collect()))
}
