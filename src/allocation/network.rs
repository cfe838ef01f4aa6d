//! The road network in use, closures, and truck routes: `GET/PUT /api/v1/network`,
//! `/api/v1/closures` and `GET /api/v1/routes`.
//!
//! The network is the newest `road_networks` row. When there is none, the demo network
//! (`seed/network.geojson`, compiled in) is stored first, under an advisory lock so that
//! concurrent processes store it once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::network_db::{self, ClosureRow, NewClosure};
use crate::app::AppState;
use crate::audit;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult, Problem};
use crate::http::{Command, Json, Path, Query};
use crate::ids::{ClosureId, SYSTEM_USER};
use crate::incidents::{LatLon, parse_area};
use crate::routing::{ClosedEdges, Closure, Network};

/// The demo network, stored when the database has none.
pub const DEMO_NETWORK: &str = include_str!("../../seed/network.geojson");

/// Network, closure and route routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_network, replace_network))
        .routes(routes!(get_route))
        .routes(routes!(create_closure, list_closures))
        .routes(routes!(end_closure))
}

/// The network in use, parsed (cached per process, keyed by its row id).
pub async fn current(state: &AppState, conn: &mut PgConnection) -> AppResult<Arc<Network>> {
    let newest = network_db::newest_version(conn).await?;
    let id = match newest {
        Some(id) => id,
        None => store_demo(conn).await?,
    };
    version(state, conn, id).await
}

/// The network with this row id, from the cache or parsed from the database.
async fn version(state: &AppState, conn: &mut PgConnection, id: i64) -> AppResult<Arc<Network>> {
    if let Some((cached, net)) = state.network.current.read().await.as_ref()
        && *cached == id
    {
        return Ok(net.clone());
    }
    let doc = network_db::document(conn, id).await?;
    let net = Arc::new(
        Network::from_geojson(&doc)
            .map_err(|e| anyhow::anyhow!("stored road network {id} does not parse: {e}"))?,
    );
    let mut slot = state.network.current.write().await;
    // Keep the newest of concurrent loads.
    if slot.as_ref().is_none_or(|(cached, _)| *cached < id) {
        *slot = Some((id, net.clone()));
    }
    Ok(net)
}

async fn store_demo(conn: &mut PgConnection) -> AppResult<i64> {
    let net = Network::from_geojson(DEMO_NETWORK)
        .map_err(|e| anyhow::anyhow!("the compiled-in demo network does not parse: {e}"))?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // One process stores it; the others wait here and then find it.
    network_db::lock_demo_store(&mut tx).await?;
    let existing = network_db::newest_version(&mut tx).await?;
    let id = match existing {
        Some(id) => id,
        None => {
            network_db::insert_network(&mut tx, DEMO_NETWORK, net.edge_count() as i32, SYSTEM_USER)
                .await?
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// The network in use and which of its edges are closed now (one round trip when the
/// network is cached).
pub async fn network_now(
    state: &AppState,
    conn: &mut PgConnection,
) -> AppResult<(Arc<Network>, ClosedEdges)> {
    let row = network_db::network_now(conn).await?;
    network_from(state, conn, row).await
}

/// The network and closed edges that `row` names (read by `network_db::network_now`, or
/// with the planner's other reads by `allocation::db::planner_snapshot`); no round trip
/// when the network is cached.
pub async fn network_from(
    state: &AppState,
    conn: &mut PgConnection,
    row: network_db::NetworkNow,
) -> AppResult<(Arc<Network>, ClosedEdges)> {
    let net = match row.version {
        Some(id) => version(state, conn, id).await?,
        None => current(state, conn).await?,
    };
    let mut closures = Vec::new();
    for c in row
        .closures
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let edge_ids = c["edge_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let area = match &c["area"] {
            Value::Null => None,
            a => Some(
                parse_area(a, "/area", true)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("stored closure area: {e}")))?,
            ),
        };
        closures.push(Closure { edge_ids, area });
    }
    let closed = net.closed_edges(&closures);
    Ok((net, closed))
}

/// The network in use as GeoJSON; each edge has `state` (`open`, `closed` or `no_trucks`),
/// `length_km` and `minutes`.
#[utoipa::path(get, path = "/api/v1/network", tag = "network",
    security(("bearer" = [])),
    responses((status = 200, description = "GeoJSON FeatureCollection", body = Object)))]
pub async fn get_network(State(state): State<AppState>, _actor: Actor) -> AppResult<Json<Value>> {
    let mut conn = state.pool.acquire().await?;
    let (net, closed) = network_now(&state, &mut conn).await?;
    Ok(Json(net.to_geojson(&closed)))
}

/// What replacing the network stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NetworkVersion {
    /// The stored version.
    pub version: i64,
    /// Edges.
    pub edge_count: usize,
    /// Nodes.
    pub node_count: usize,
}

/// Replace the road network with an uploaded GeoJSON FeatureCollection of LineString edges
/// (validated: connected, no zero-length edges, truck flags present).
#[utoipa::path(put, path = "/api/v1/network", tag = "network",
    request_body(content = Object, description = "GeoJSON FeatureCollection"),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = NetworkVersion), (status = 422, body = Problem)))]
pub async fn replace_network(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<Value>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let text = serde_json::to_string(&cmd.body).map_err(anyhow::Error::from)?;
    let net =
        Network::from_geojson(&text).map_err(|e| AppError::invalid(e.pointer(), e.to_string()))?;
    let mut tx = state.pool.begin().await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let previous = network_db::newest_version(&mut tx).await?;
    let version =
        network_db::insert_network(&mut tx, &text, net.edge_count() as i32, actor.id).await?;
    let out = NetworkVersion {
        version,
        edge_count: net.edge_count(),
        node_count: net.node_count(),
    };
    let body = serde_json::to_value(&out).map_err(anyhow::Error::from)?;
    let change = audit::Change {
        action: "network.replace",
        entity_kind: "road_network",
        entity_id: version.to_string(),
        before: previous.map(|p| serde_json::json!({ "version": p })),
        after: Some(body.clone()),
    };
    let res = crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::OK, body)
        .await?;
    *state.network.current.write().await = Some((version, Arc::new(net)));
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

fn parse_lat_lon(param: &str, text: &str) -> AppResult<LatLon> {
    let mut parts = text.split(',');
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AppError::bad_request(
            param,
            format!("`{param}` must be `lat,lon`"),
        ));
    };
    let (Ok(lat), Ok(lon)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) else {
        return Err(AppError::bad_request(
            param,
            format!("`{param}` must be two numbers, `lat,lon`"),
        ));
    };
    let p = LatLon { lat, lon };
    p.validate("").map_err(|_| {
        AppError::invalid(
            param,
            format!("`{param}` is out of range: lat must be in -90..90, lon in -180..180"),
        )
    })?;
    Ok(p)
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
    let from = parse_lat_lon("from", &q.from)?;
    let to = parse_lat_lon("to", &q.to)?;
    let mut conn = state.pool.acquire().await?;
    let (net, closed) = network_now(&state, &mut conn).await?;
    let route = net
        .route(from.point(), to.point(), &closed, &state.settings.snap)
        .ok_or_else(|| {
            AppError::invalid(
                "to",
                "the destination cannot be reached by truck with the closures active now",
            )
        })?;
    let feature = route.to_geojson();
    Ok(Json(RouteOut {
        minutes: route.minutes,
        km: route.km,
        edge_ids: route.edge_ids,
        path: feature["geometry"].clone(),
    }))
}

/// A road closure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClosureOut {
    /// Id.
    pub id: ClosureId,
    /// Name.
    pub name: String,
    /// Why.
    pub reason: String,
    /// Edges closed by id.
    pub edge_ids: Vec<String>,
    /// GeoJSON Polygon or MultiPolygon; every edge touching it is closed.
    #[schema(value_type = Option<Object>)]
    pub area: Option<Value>,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until (open-ended when absent).
    pub ends_at: Option<DateTime<Utc>>,
    /// Whether it is in force now.
    pub active: bool,
    /// The edges of the current network this closure closes.
    pub closed_edge_ids: Vec<String>,
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

fn closure_out(r: ClosureRow, net: &Network, now: DateTime<Utc>) -> ClosureOut {
    let area = r
        .area
        .as_ref()
        .and_then(|a| parse_area(a, "/area", true).ok());
    let closed = net.closed_edges(&[Closure {
        edge_ids: r.edge_ids.clone(),
        area,
    }]);
    ClosureOut {
        id: r.id,
        active: r.starts_at <= now && r.ends_at.is_none_or(|e| e > now),
        closed_edge_ids: closed.ids(net).into_iter().map(str::to_owned).collect(),
        name: r.name,
        reason: r.reason,
        edge_ids: r.edge_ids,
        area: r.area,
        starts_at: r.starts_at,
        ends_at: r.ends_at,
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
    actor.require(&[Role::Dispatcher])?;
    let body = &cmd.body;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(
            "/name",
            "name must be 1 to 200 characters",
        ));
    }
    if body.reason.trim().is_empty() {
        return Err(AppError::invalid("/reason", "give a reason"));
    }
    if body.area.is_none() && body.edge_ids.is_empty() {
        return Err(AppError::invalid(
            "/area",
            "give an area, edge_ids, or both",
        ));
    }
    if let Some(area) = &body.area {
        parse_area(area, "/area", true)?;
    }
    let now = Utc::now();
    let starts_at = body.starts_at.unwrap_or(now);
    if body.ends_at.is_some_and(|e| e <= starts_at) {
        return Err(AppError::invalid(
            "/ends_at",
            "ends_at must be after starts_at",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    let net = current(&state, &mut conn).await?;
    drop(conn);
    for (i, id) in body.edge_ids.iter().enumerate() {
        if net.edge_index(id).is_none() {
            return Err(AppError::invalid(
                format!("/edge_ids/{i}"),
                format!("the road network has no edge `{id}`"),
            ));
        }
    }
    let mut tx = state.pool.begin().await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    let id = ClosureId::new();
    network_db::insert_closure(
        &mut tx,
        &NewClosure {
            id,
            name,
            reason: body.reason.trim(),
            edge_ids: &body.edge_ids,
            area: body.area.as_ref(),
            starts_at,
            ends_at: body.ends_at,
            created_by: actor.id,
        },
    )
    .await?;
    let out = closure_out(
        ClosureRow {
            id,
            name: name.to_owned(),
            reason: body.reason.trim().to_owned(),
            edge_ids: body.edge_ids.clone(),
            area: body.area.clone(),
            starts_at,
            ends_at: body.ends_at,
        },
        &net,
        now,
    );
    let body = serde_json::to_value(&out).map_err(anyhow::Error::from)?;
    crate::audit::http::finish_command(
        tx,
        &actor,
        &origin,
        audit::Change {
            action: "closure.create",
            entity_kind: "closure",
            entity_id: id.to_string(),
            before: None,
            after: Some(body.clone()),
        },
        StatusCode::CREATED,
        body,
    )
    .await
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
    let mut conn = state.pool.acquire().await?;
    let net = current(&state, &mut conn).await?;
    let now = Utc::now();
    let rows = network_db::list_closures(&mut conn).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| closure_out(r, &net, now))
            .filter(|c| filter.active.is_none_or(|a| a == c.active))
            .collect(),
    ))
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
    actor.require(&[Role::Dispatcher])?;
    let mut conn = state.pool.acquire().await?;
    let net = current(&state, &mut conn).await?;
    drop(conn);
    let mut tx = state.pool.begin().await?;
    let fingerprint = format!("DELETE /api/v1/closures/{id}");
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &fingerprint).await?
    {
        return Ok(replay);
    }
    let before = network_db::lock_closure(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no closure with id {id}")))?;
    let now = network_db::now(&mut tx).await?;
    if before.ends_at.is_some_and(|e| e <= now) {
        return Err(AppError::conflict(
            "id",
            "this closure has already ended",
            Some(serde_json::json!({ "ends_at": before.ends_at })),
        ));
    }
    let after = network_db::end_closure(&mut tx, id, actor.id).await?;
    let before =
        serde_json::to_value(closure_out(before, &net, now)).map_err(anyhow::Error::from)?;
    let body = serde_json::to_value(closure_out(after, &net, now)).map_err(anyhow::Error::from)?;
    crate::audit::http::finish_command(
        tx,
        &actor,
        &origin,
        audit::Change {
            action: "closure.end",
            entity_kind: "closure",
            entity_id: id.to_string(),
            before: Some(before),
            after: Some(body.clone()),
        },
        StatusCode::OK,
        body,
    )
    .await
}
