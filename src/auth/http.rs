//! Authentication at the HTTP boundary: the `Actor` extractor turns a bearer token into
//! the user behind the request, or a 401 with `WWW-Authenticate: Bearer`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{Actor, db, hash_token};
use crate::error::AppError;
use crate::http::AppState;

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::Unauthorized("sign in first: send `Authorization: Bearer <token>`".into())
        })?;
        let token = header
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
            })?;
        let mut conn = state.pool.acquire().await?;
        let actor = db::actor_for_token(&mut conn, &hash_token(token))
            .await?
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "the token is invalid, expired or revoked; sign in again".into(),
                )
            })?;
        tracing::Span::current().record("user.name", actor.username.as_str());
        parts.extensions.insert(actor.clone());
        Ok(actor)
    }
}

/// Authentication and user-management routes.
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
}
