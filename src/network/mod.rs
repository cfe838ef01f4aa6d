//! The road network the plans travel on, road closures, and truck routes.
//!
//! Invariants:
//! - The network in use is the newest `road_networks` row. When there is none, the demo
//!   network ([`DEMO_NETWORK`]) is stored first, under an advisory lock, so that
//!   concurrent processes store it once.
//! - Each process caches the parsed graph keyed by that row's id ([`NetworkCache`]), so a
//!   replacement by any process is seen by all.
//! - A closure is in force from `starts_at` until `ends_at` (open-ended when absent)
//!   ([`closure_active`]); it closes its edges by id and every edge touching its area.
//!   Ending a closure keeps it for the record.
//!
//! This module holds the types and the pure rules; `cases` the use cases, `db` the SQL and
//! `http` the handlers.

pub mod cases;
pub mod db;
pub mod http;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::RwLock;
use utoipa::ToSchema;

pub use cases::{current, network_from, network_now};

use crate::error::{AppError, AppResult, FieldError};
use crate::ids::ClosureId;
use crate::incidents::{LatLon, parse_area};
use crate::routing::{Closure, Network, NetworkError};

/// The demo network, stored when the database has none.
pub const DEMO_NETWORK: &str = include_str!("../../seed/network.geojson");

/// The parsed road network of this process, keyed by its `road_networks` id.
#[derive(Debug, Default)]
pub struct NetworkCache {
    current: RwLock<Option<(i64, Arc<Network>)>>,
}

impl NetworkCache {
    /// The cached network if it is the one with row id `id`.
    pub async fn get(&self, id: i64) -> Option<Arc<Network>> {
        match self.current.read().await.as_ref() {
            Some((cached, net)) if *cached == id => Some(net.clone()),
            _ => None,
        }
    }

    /// Caches `net` as row `id` unless a newer one is cached: of concurrent loads, the
    /// newest is kept.
    pub async fn offer(&self, id: i64, net: Arc<Network>) {
        let mut slot = self.current.write().await;
        if slot.as_ref().is_none_or(|(cached, _)| *cached < id) {
            *slot = Some((id, net));
        }
    }

    /// Caches `net` as row `id`, the network just stored (and committed) by this process.
    pub async fn install(&self, id: i64, net: Arc<Network>) {
        *self.current.write().await = Some((id, net));
    }
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

/// One problem of an uploaded network, in the `edges` list of its 422 problem document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeProblem {
    /// Position of the feature in `features`, from 0; absent for the whole document.
    pub index: Option<usize>,
    /// The feature's `id` property, when it could be read.
    pub edge_id: Option<String>,
    /// The offending member, dotted: `speed_kmh`, `geometry.coordinates.3`, `id` …
    pub field: String,
    /// What is wrong.
    pub reason: String,
    /// JSON pointer into the uploaded document, as in `errors[]`.
    pub pointer: String,
}

/// The 422 for an uploaded network with these problems (at least one): `errors[]` has a
/// JSON pointer per problem, and `edges` (with `error_count`) lists each by feature index,
/// edge id, field and reason, all of them, in file order.
pub fn invalid_network(errors: Vec<NetworkError>) -> AppError {
    let edges: Vec<EdgeProblem> = errors
        .iter()
        .map(|e| EdgeProblem {
            index: e.feature_index(),
            edge_id: e.edge_id().map(str::to_owned),
            field: e.field(),
            reason: e.reason(),
            pointer: e.pointer(),
        })
        .collect();
    let detail = match errors.first() {
        Some(first) if errors.len() > 1 => format!(
            "{first} (and {} more problems); nothing was stored",
            errors.len() - 1
        ),
        Some(first) => format!("{first}; nothing was stored"),
        None => "the network is invalid; nothing was stored".to_owned(),
    };
    AppError::InvalidFile {
        detail,
        errors: edges
            .iter()
            .map(|e| FieldError::new(e.pointer.clone(), e.reason.clone()))
            .collect(),
        extra: serde_json::json!({ "error_count": edges.len(), "edges": edges }),
    }
}

/// A road closure as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredClosure {
    /// Id.
    pub id: ClosureId,
    /// Name.
    pub name: String,
    /// Why.
    pub reason: String,
    /// Edges closed by id.
    pub edge_ids: Vec<String>,
    /// GeoJSON Polygon or MultiPolygon.
    pub area: Option<Value>,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until (open-ended when absent).
    pub ends_at: Option<DateTime<Utc>>,
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

/// Whether a closure from `starts_at` until `ends_at` is in force at `now`.
pub fn closure_active(
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    starts_at <= now && ends_at.is_none_or(|e| e > now)
}

/// A stored closure as shown, with the edges of `net` it closes and whether it is in
/// force at `now`. A stored area that no longer parses closes nothing by area.
pub fn closure_out(c: StoredClosure, net: &Network, now: DateTime<Utc>) -> ClosureOut {
    let area = c
        .area
        .as_ref()
        .and_then(|a| parse_area(a, "/area", true).ok());
    let closed = net.closed_edges(&[Closure {
        edge_ids: c.edge_ids.clone(),
        area,
    }]);
    ClosureOut {
        id: c.id,
        active: closure_active(c.starts_at, c.ends_at, now),
        closed_edge_ids: closed.ids(net).into_iter().map(str::to_owned).collect(),
        name: c.name,
        reason: c.reason,
        edge_ids: c.edge_ids,
        area: c.area,
        starts_at: c.starts_at,
        ends_at: c.ends_at,
    }
}

/// A closure to create, as asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosureDraft {
    /// Name (1–200 characters once trimmed).
    pub name: String,
    /// Why (not blank).
    pub reason: String,
    /// GeoJSON Polygon or MultiPolygon.
    pub area: Option<Value>,
    /// Edge ids of the current network.
    pub edge_ids: Vec<String>,
    /// From (default now).
    pub starts_at: Option<DateTime<Utc>>,
    /// Until (after `starts_at`).
    pub ends_at: Option<DateTime<Utc>>,
}

/// Checks a draft on its own (the edge ids are checked against the network by
/// [`check_edges`]): a name of 1–200 characters, a reason, an area or edges (the area a
/// valid Polygon or MultiPolygon), and an end after the start. Returns the closure to
/// store, name and reason trimmed, starting at `now` unless the draft says otherwise.
pub fn check_closure(
    d: ClosureDraft,
    id: ClosureId,
    now: DateTime<Utc>,
) -> AppResult<StoredClosure> {
    let name = d.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(
            "/name",
            "name must be 1 to 200 characters",
        ));
    }
    if d.reason.trim().is_empty() {
        return Err(AppError::invalid("/reason", "give a reason"));
    }
    if d.area.is_none() && d.edge_ids.is_empty() {
        return Err(AppError::invalid(
            "/area",
            "give an area, edge_ids, or both",
        ));
    }
    if let Some(area) = &d.area {
        parse_area(area, "/area", true)?;
    }
    let starts_at = d.starts_at.unwrap_or(now);
    if d.ends_at.is_some_and(|e| e <= starts_at) {
        return Err(AppError::invalid(
            "/ends_at",
            "ends_at must be after starts_at",
        ));
    }
    Ok(StoredClosure {
        id,
        name: name.to_owned(),
        reason: d.reason.trim().to_owned(),
        edge_ids: d.edge_ids,
        area: d.area,
        starts_at,
        ends_at: d.ends_at,
    })
}

/// Checks that every edge id names an edge of `net`.
pub fn check_edges(edge_ids: &[String], net: &Network) -> AppResult<()> {
    for (i, id) in edge_ids.iter().enumerate() {
        if net.edge_index(id).is_none() {
            return Err(AppError::invalid(
                format!("/edge_ids/{i}"),
                format!("the road network has no edge `{id}`"),
            ));
        }
    }
    Ok(())
}

/// Refuses to end a closure that ended at or before `now`.
pub fn check_endable(c: &StoredClosure, now: DateTime<Utc>) -> AppResult<()> {
    if c.ends_at.is_some_and(|e| e <= now) {
        return Err(AppError::conflict(
            "id",
            "this closure has already ended",
            Some(serde_json::json!({ "ends_at": c.ends_at })),
        ));
    }
    Ok(())
}

/// The closures in force, as `network_now` reads them (a JSON array of `{edge_ids, area}`).
/// A stored area that does not parse is a server error: the closure would silently close
/// less than it says.
pub fn closures_from_json(closures: &Value) -> AppResult<Vec<Closure>> {
    let mut out = Vec::new();
    for c in closures.as_array().map(Vec::as_slice).unwrap_or_default() {
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
        out.push(Closure { edge_ids, area });
    }
    Ok(out)
}

/// Parses the query parameter `param`, `lat,lon`.
pub fn parse_lat_lon(param: &str, text: &str) -> AppResult<LatLon> {
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

#[cfg(test)]
mod tests;
