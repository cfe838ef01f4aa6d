//! Who is calling, at the HTTP boundary: the `Actor` extractor turns a bearer token into
//! the user behind the request, or a 401 with `WWW-Authenticate: Bearer`; the route
//! middleware that enforces each operation's declared roles before its handler runs; and
//! the `ClerkWarehouse` extractor that checks a clerk's warehouse scope before the body is
//! read.
//!
//! Never log a token: only its hash is looked up and cached.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{Actor, Role, db, hash_token};
use crate::app::AppState;
use crate::error::AppError;
use crate::http::Path;
use crate::warehouses::ids::WarehouseRef;

/// The bearer token of a request, or a 401 saying what is wrong with the header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, AppError> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        AppError::Unauthorized("sign in first: send `Authorization: Bearer <token>`".into())
    })?;
    header
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        let token_hash = hash_token(bearer_token(&parts.headers)?);
        let actor = match state.sessions.lookup(&token_hash, Utc::now()) {
            Some(actor) => actor,
            None => {
                let ticket = state.sessions.ticket();
                let mut conn = state.pool.acquire().await?;
                let (actor, expires_at) = db::actor_for_token(&mut conn, &token_hash)
                    .await?
                    .ok_or_else(|| {
                        AppError::Unauthorized(
                            "the token is invalid, expired or revoked; sign in again".into(),
                        )
                    })?;
                state
                    .sessions
                    .store(&token_hash, ticket, &actor, expires_at);
                actor
            }
        };
        tracing::Span::current().record("user.name", actor.username.as_str());
        parts.extensions.insert(actor.clone());
        Ok(actor)
    }
}

/// The bearer scopes (roles) each operation declares in the OpenAPI document, keyed by
/// `"METHOD /path/{param}"`. Operations without `security` are open and absent.
#[derive(Debug, Clone, Default)]
pub struct DeclaredRoles(Arc<HashMap<String, Vec<String>>>);

impl DeclaredRoles {
    /// Reads the declared roles of every operation of `spec` (the OpenAPI JSON).
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let mut map = HashMap::new();
        let paths = spec["paths"].as_object().into_iter().flatten();
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let Some(reqs) = op["security"].as_array() else {
                    continue;
                };
                let scopes: Vec<String> = reqs
                    .iter()
                    .filter_map(|r| r["bearer"].as_array())
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect();
                map.insert(format!("{} {path}", method.to_uppercase()), scopes);
            }
        }
        DeclaredRoles(Arc::new(map))
    }
}

/// Route middleware that enforces each operation's declared `security` before its
/// handler runs, so that the OpenAPI document is the authority on who may call what, and
/// a caller without the role gets 403 before the body is even parsed (never a 422 that
/// tells them about a body they may not send). Handlers still check with
/// `actor.require(..)` as defence in depth. Warehouse scope is checked by
/// [`ClerkWarehouse`] where the path names the warehouse, and by the use cases where it
/// follows from a stored lot, transfer or count.
pub async fn enforce_declared_roles(
    State((state, declared)): State<(AppState, DeclaredRoles)>,
    req: Request,
    next: Next,
) -> Response {
    let key = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| format!("{} {}", req.method(), p.as_str()));
    let Some(scopes) = key.and_then(|k| declared.0.get(&k)) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let actor = match Actor::from_request_parts(&mut parts, &state).await {
        Ok(actor) => actor,
        Err(err) => return err.into_response(),
    };
    if !scopes.is_empty() {
        let roles: Vec<Role> = scopes.iter().filter_map(|s| s.parse().ok()).collect();
        if let Err(err) = actor.require(&roles) {
            return err.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The warehouse named by the request path's `{code}`, in which the caller acts as one of
/// its clerks: a 404 when no warehouse has the code, else a 403 unless the caller is a
/// clerk assigned to it. Put it before the body extractor in a handler's arguments (axum
/// runs the body extractor last), so that a clerk of another warehouse gets the 403
/// without the body being read: never a 400 or 422 about a body they may not send here.
#[derive(Debug, Clone)]
pub struct ClerkWarehouse(pub WarehouseRef);

impl FromRequestParts<AppState> for ClerkWarehouse {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let actor = Actor::from_request_parts(parts, state).await?;
        let Path(params) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let code = params.get("code").ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "ClerkWarehouse used on a route without a {{code}} parameter"
            ))
        })?;
        let wh = state.warehouse_ids.in_path_of(&state.pool, code).await?;
        actor.require_warehouse(wh.id, &wh.code)?;
        Ok(ClerkWarehouse(wh))
    }
}
