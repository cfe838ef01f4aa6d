//! The network use cases: the network in use (cached per process), replacing it, truck
//! routes, and creating, listing and ending closures. The HTTP handlers, the allocation
//! planner and a future message adapter all call these.
//!
//! Commands run in the caller's transaction: check the caller's role, check the rules of
//! [`super`], `claim` (the caller's `Idempotency-Key` hook: it answers an earlier
//! identical request by returning `Some`, which ends the command as
//! [`ControlFlow::Break`]), write, and return [`ControlFlow::Continue`] with the answer
//! and the audit event that records it. The caller records the event and commits.

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;

use super::{
    ClosureDraft, ClosureOut, NetworkCache, NetworkVersion, check_closure, check_edges,
    check_endable, closure_out, closures_from_json, db,
};
use crate::audit::Change;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::ids::{ClosureId, SYSTEM_USER};
use crate::routing::{ClosedEdges, Network, Route, SnapConfig};

pub use crate::audit::{Done, Outcome};

/// A network stored by [`replace`]: install it in the cache once committed
/// ([`NetworkCache::install`]).
#[derive(Debug)]
pub struct Replaced {
    /// The answer and its audit event.
    pub done: Done,
    /// The stored version's row id.
    pub version: i64,
    /// The network, parsed.
    pub network: Arc<Network>,
}

/// The network in use, parsed (cached per process, keyed by its row id); stores the demo
/// network first when there is none.
pub async fn current(cache: &NetworkCache, conn: &mut PgConnection) -> AppResult<Arc<Network>> {
    let id = match db::newest_version(conn).await? {
        Some(id) => id,
        None => store_demo(conn).await?,
    };
    version(cache, conn, id).await
}

/// The network with this row id, from the cache or parsed from the database.
async fn version(
    cache: &NetworkCache,
    conn: &mut PgConnection,
    id: i64,
) -> AppResult<Arc<Network>> {
    if let Some(net) = cache.get(id).await {
        return Ok(net);
    }
    let doc = db::document(conn, id).await?;
    let net = Arc::new(
        Network::from_geojson(&doc)
            .map_err(|e| anyhow::anyhow!("stored road network {id} does not parse: {e}"))?,
    );
    cache.offer(id, net.clone()).await;
    Ok(net)
}

async fn store_demo(conn: &mut PgConnection) -> AppResult<i64> {
    let net = Network::from_geojson(super::DEMO_NETWORK)
        .map_err(|e| anyhow::anyhow!("the compiled-in demo network does not parse: {e}"))?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // One process stores it; the others wait here and then find it.
    db::lock_demo_store(&mut tx).await?;
    let id = match db::newest_version(&mut tx).await? {
        Some(id) => id,
        None => {
            let edges = net.edge_count() as i32;
            db::insert_network(&mut tx, super::DEMO_NETWORK, edges, SYSTEM_USER).await?
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// The network in use and which of its edges are closed now (one round trip when the
/// network is cached).
pub async fn network_now(
    cache: &NetworkCache,
    conn: &mut PgConnection,
) -> AppResult<(Arc<Network>, ClosedEdges)> {
    let row = db::network_now(conn).await?;
    network_from(cache, conn, row).await
}

/// The network and closed edges that `row` names (read by [`db::network_now`], or with
/// the planner's other reads by `allocation::db::planner_snapshot`); no round trip when
/// the network is cached.
pub async fn network_from(
    cache: &NetworkCache,
    conn: &mut PgConnection,
    row: db::NetworkNow,
) -> AppResult<(Arc<Network>, ClosedEdges)> {
    let net = match row.version {
        Some(id) => version(cache, conn, id).await?,
        None => current(cache, conn).await?,
    };
    let closed = net.closed_edges(&closures_from_json(&row.closures)?);
    Ok((net, closed))
}

/// The fastest truck route between two points over open edges, given the closures in
/// force now.
pub async fn route(
    cache: &NetworkCache,
    conn: &mut PgConnection,
    from: geo::Point<f64>,
    to: geo::Point<f64>,
    snap: &SnapConfig,
) -> AppResult<Route> {
    let (net, closed) = network_now(cache, conn).await?;
    net.route(from, to, &closed, snap).ok_or_else(|| {
        AppError::invalid(
            "to",
            "the destination cannot be reached by truck with the closures active now",
        )
    })
}

/// Replaces the road network with `document`, a GeoJSON FeatureCollection of LineString
/// edges (validated: connected, no zero-length edges, truck flags present). Admins only.
/// A bad document is refused with every problem, per edge ([`super::invalid_network`]).
pub async fn replace<R>(
    conn: &mut PgConnection,
    actor: &Actor,
    document: &Value,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<ControlFlow<R, Replaced>> {
    actor.require(&[Role::Admin])?;
    let text = serde_json::to_string(document).map_err(anyhow::Error::from)?;
    // Every problem of the file at once, and nothing written when there is one.
    let net = Network::check_geojson(&text).map_err(super::invalid_network)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    let previous = db::newest_version(conn).await?;
    let version = db::insert_network(conn, &text, net.edge_count() as i32, actor.id).await?;
    let answer = json(&NetworkVersion {
        version,
        edge_count: net.edge_count(),
        node_count: net.node_count(),
    })?;
    let change = Change {
        action: "network.replace",
        entity_kind: "road_network",
        entity_id: version.to_string(),
        before: previous.map(|p| json!({ "version": p })),
        after: Some(answer.clone()),
    };
    Ok(ControlFlow::Continue(Replaced {
        done: Done { answer, change },
        version,
        network: Arc::new(net),
    }))
}

/// Closes roads, by edge id, by area, or both, from the draft's start (default `now`).
/// Dispatchers only.
pub async fn create_closure<R>(
    conn: &mut PgConnection,
    cache: &NetworkCache,
    actor: &Actor,
    draft: ClosureDraft,
    now: DateTime<Utc>,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    actor.require(&[Role::Dispatcher])?;
    let closure = check_closure(draft, ClosureId::new(), now)?;
    let net = current(cache, conn).await?;
    check_edges(&closure.edge_ids, &net)?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    db::insert_closure(conn, &closure, actor.id).await?;
    let id = closure.id;
    let answer = json(&closure_out(closure, &net, now))?;
    Ok(ControlFlow::Continue(Done {
        change: change("closure.create", id, None, &answer),
        answer,
    }))
}

/// Road closures, newest first (at most 1000), only those in force at `now` (or only
/// those not in force) when `active` says so.
pub async fn list_closures(
    cache: &NetworkCache,
    conn: &mut PgConnection,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> AppResult<Vec<ClosureOut>> {
    let net = current(cache, conn).await?;
    let rows = db::list_closures(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| closure_out(r, &net, now))
        .filter(|c| active.is_none_or(|a| a == c.active))
        .collect())
}

/// Ends a closure now, by the database's clock (kept for the record). Dispatchers only.
pub async fn end_closure<R>(
    conn: &mut PgConnection,
    cache: &NetworkCache,
    actor: &Actor,
    id: ClosureId,
    claim: impl AsyncFnOnce(&mut PgConnection) -> AppResult<Option<R>>,
) -> AppResult<Outcome<R>> {
    actor.require(&[Role::Dispatcher])?;
    let net = current(cache, conn).await?;
    if let Some(replay) = claim(conn).await? {
        return Ok(ControlFlow::Break(replay));
    }
    let before = db::lock_closure(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no closure with id {id}")))?;
    let now = db::now(conn).await?;
    check_endable(&before, now)?;
    let after = db::end_closure(conn, id, actor.id).await?;
    let before = json(&closure_out(before, &net, now))?;
    let answer = json(&closure_out(after, &net, now))?;
    Ok(ControlFlow::Continue(Done {
        change: change("closure.end", id, Some(before), &answer),
        answer,
    }))
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<Value> {
    Ok(serde_json::to_value(v).map_err(anyhow::Error::from)?)
}

fn change(
    action: &'static str,
    id: ClosureId,
    before: Option<Value>,
    after: &Value,
) -> Change<'static> {
    Change {
        action,
        entity_kind: "closure",
        entity_id: id.to_string(),
        before,
        after: Some(after.clone()),
    }
}
