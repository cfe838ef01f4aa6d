//! HTTP handlers for the road network, closures and truck routes: `GET/PUT
//! /api/v1/network`, `/api/v1/closures` and `GET /api/v1/routes`. Each parses the
//! request, calls one use case of [`super::cases`] and shapes the answer.

use std::ops::ControlFlow;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases;
use super::{ClosureDraft, ClosureOut, NetworkVersion, parse_lat_lon};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::respond;
use crate::auth::Actor;
use crate::error::{AppResult, Problem};
use crate::http::{Command, Json, Path, Query};
use crate::ids::ClosureId;

/// Network, closure and route routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_network, replace_network))
        .routes(routes!(get_route))
        .routes(routes!(create_closure, list_closures))
        .routes(routes!(end_closure))
}

/// The network in use as GeoJSON; each edge has `state` (`open`, `closed` or `no_trucks`),
/// `length_km` and `minutes`.
#[utoipa::path(get, path = "/api/v1/network", tag = "network",
    security(("bearer" = [])),
    responses((status = 200, description = "GeoJSON FeatureCollection", body = Object)))]
pub async fn get_network(State(state): State<AppState>, _actor: Actor) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let (net, closed) = cases::network_now(&state.network, &mut conn).await?;
    Ok(Json(net.to_geojson(&closed)))
}

/// Replace the road network with an uploaded GeoJSON FeatureCollection of LineString edges
/// (validated: connected, no zero-length edges, truck flags present).
///
/// A bad document stores nothing and is refused with every problem at once: `errors[]`
/// has a JSON pointer per problem, and `edges` lists each as `{index, edge_id, field,
/// reason, pointer}` (`index` is the feature's position in `features`, from 0), with
/// `error_count`. Connectivity is checked once every edge is valid; then every edge that
/// the first edge cannot reach is listed.
#[utoipa::path(put, path = "/api/v1/network", tag = "network",
    request_body(content = Object, description = "GeoJSON FeatureCollection"),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = NetworkVersion),
              (status = 422, body = Problem, description = "The document is not a valid network: every problem, by edge, in `edges`")))]
pub async fn replace_network(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<Value>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let replaced = match cases::replace(&mut tx, &actor, &cmd.body, claim).await? {
        ControlFlow::Break(replay) => return Ok(replay),
        ControlFlow::Continue(replaced) => replaced,
    };
    let done = replaced.done;
    let res = crate::audit::http::finish_command(
        tx,
        &actor,
        &origin,
        done.change,
        StatusCode::OK,
        done.answer,
    )
    .await?;
    // Only once committed: the cache never holds a version no one else can read.
    state
        .network
        .install(replaced.version, replaced.network)
        .await;
    Ok(res)
}

/// `GET /api/v1/routes` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RouteQuery {
    /// Start, `lat,lon`.
    pub from: String,
    /// Destination, `lat,lon`.
    pub to: String,
}

/// The fastest truck route.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteOut {
    /// Travel minutes (snap legs included, no handling time).
    pub minutes: f64,
    /// Road km.
    pub km: f64,
    /// Edge ids in travel order.
    pub edge_ids: Vec<String>,
    /// GeoJSON LineString of the path.
    #[schema(value_type = Object)]
    pub path: Value,
}

/// The fastest truck route between two points over open edges, given the closures active now.
#[utoipa::path(get, path = "/api/v1/routes", tag = "network", params(RouteQuery),
    security(("bearer" = [])),
    responses((status = 200, body = RouteOut), (status = 400, body = Problem),
              (status = 422, description = "Unreachable with the current closures", body = Problem)))]
pub async fn get_route(
    State(state): State<AppState>,
    _actor: Actor,
    Query(q): Query<RouteQuery>,
) -> AppResult<Json<RouteOut>> {
    let from = parse_lat_lon("from", &q.from)?.point();
    let to = parse_lat_lon("to", &q.to)?.point();
    let mut conn = state.pool.acquire().await?;
    let snap = &state.settings.snap;
    let route = cases::route(&state.network, &mut conn, from, to, snap).await?;
    let feature = route.to_geojson();
    Ok(Json(RouteOut {
        minutes: route.minutes,
        km: route.km,
        edge_ids: route.edge_ids,
        path: feature["geometry"].clone(),
    }))
}

/// Body of `POST /api/v1/closures`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClosure {
    /// Name (1–200 characters).
    pub name: String,
    /// Why (typhoon signal, flood, collapse …).
    pub reason: String,
    /// GeoJSON Polygon or MultiPolygon.
    #[schema(value_type = Option<Object>)]
    pub area: Option<Value>,
    /// Edge ids of the current network.
    #[serde(default)]
    pub edge_ids: Vec<String>,
    /// From (default now).
    pub starts_at: Option<DateTime<Utc>>,
    /// Until (optional; after `starts_at`).
    pub ends_at: Option<DateTime<Utc>>,
}

impl From<CreateClosure> for ClosureDraft {
    fn from(c: CreateClosure) -> Self {
        ClosureDraft {
            name: c.name,
            reason: c.reason,
            area: c.area,
            edge_ids: c.edge_ids,
            starts_at: c.starts_at,
            ends_at: c.ends_at,
        }
    }
}

/// Close roads: by edge id, by area, or both.
#[utoipa::path(post, path = "/api/v1/closures", tag = "network", request_body = CreateClosure,
    security(("bearer" = ["dispatcher"])),
    responses((status = 201, body = ClosureOut), (status = 422, body = Problem)))]
pub async fn create_closure(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<CreateClosure>,
) -> AppResult<Response> {
    crate::http::date_field("/starts_at", cmd.body.starts_at)?;
    crate::http::date_field("/ends_at", cmd.body.ends_at)?;
    let mut tx = state.pool.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let (cache, draft) = (&state.network, cmd.body.into());
    let created = cases::create_closure(&mut tx, cache, &actor, draft, Utc::now(), claim).await?;
    respond(tx, &actor, &origin, created, StatusCode::CREATED).await
}

/// `GET /api/v1/closures` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClosureFilter {
    /// `true`: only closures in force now; `false`: only those not in force.
    pub active: Option<bool>,
}

/// Road closures, newest first (at most 1000).
#[utoipa::path(get, path = "/api/v1/closures", tag = "network", params(ClosureFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ClosureOut>)))]
pub async fn list_closures(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<ClosureFilter>,
) -> AppResult<Json<Vec<ClosureOut>>> {
    let mut conn = state.reads.acquire().await?;
    let closures =
        cases::list_closures(&state.network, &mut conn, filter.active, Utc::now()).await?;
    Ok(Json(closures))
}

/// End a closure now (kept for the record).
#[utoipa::path(delete, path = "/api/v1/closures/{id}", tag = "network",
    params(("id" = String, Path, description = "Closure id")),
    security(("bearer" = ["dispatcher"])),
    responses((status = 200, body = ClosureOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn end_closure(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<ClosureId>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let fingerprint = format!("DELETE /api/v1/closures/{id}");
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &fingerprint).await
    };
    let ended = cases::end_closure(&mut tx, &state.network, &actor, id, claim).await?;
    respond(tx, &actor, &origin, ended, StatusCode::OK).await
}
