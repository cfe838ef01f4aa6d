//! HTTP glue: house extractors, idempotency, pagination, metrics, the OpenAPI base
//! document, the request id and the health, fallback and panic handlers. It names no
//! domain module: the application (state, routes, layers) is assembled in `crate::app`,
//! and extractors of domain types (the actor, the origin) live with their domain.

pub mod deadline;
pub mod extract;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pagination;

use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::error::AppError;
pub use extract::{Command, Json, Path, Query, date_field, instant_param};

/// The request id header, echoed on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 once the database answers with every migration applied, else 503.
pub async fn readyz(State(pool): State<PgPool>) -> Response {
    match crate::db::migrations_applied(&pool).await {
        Ok(true) => (StatusCode::OK, "ready").into_response(),
        Ok(false) => AppError::Conflict {
            detail: "database migrations are not all applied".into(),
            errors: vec![],
            extra: None,
        }
        .into_response_with_status(StatusCode::SERVICE_UNAVAILABLE),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            AppError::Conflict {
                detail: "the database does not answer".into(),
                errors: vec![],
                extra: None,
            }
            .into_response_with_status(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

impl AppError {
    /// This error's problem document under another status (used by `/readyz`).
    pub fn into_response_with_status(self, status: StatusCode) -> Response {
        let mut problem = self.problem();
        problem.status = status.as_u16();
        problem.title = status.canonical_reason().unwrap_or("Error").to_owned();
        let mut res = (status, serde_json::to_vec(&problem).unwrap_or_default()).into_response();
        res.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(crate::error::PROBLEM_JSON),
        );
        res
    }
}

/// The fallback: a 404 problem naming the path.
pub async fn not_found(req: Request) -> AppError {
    AppError::not_found(format!("no such resource: {}", req.uri().path()))
}

/// A 405 problem naming the method and path.
pub async fn method_not_allowed(req: Request) -> Response {
    AppError::BadRequest {
        detail: format!(
            "method {} is not allowed on {}",
            req.method(),
            req.uri().path()
        ),
        errors: vec![],
    }
    .into_response_with_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// A panic in a handler becomes a 500 problem (its text is logged, not sent).
pub fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
