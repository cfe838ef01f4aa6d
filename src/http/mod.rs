//! HTTP glue: application state, the router with its layers, house extractors,
//! idempotency, pagination, metrics and the OpenAPI document. No domain rules live here.

pub mod extract;
pub mod filters;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod pagination;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::error::AppError;
pub use extract::{Command, Json, Path, Query};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub pool: PgPool,
    /// The connections of the transactions that lock and write stock.
    pub writes: crate::db::WritePool,
    /// Run-time settings.
    pub settings: Arc<Settings>,
    /// The road network, parsed once per uploaded version (see `crate::network`).
    pub network: Arc<crate::network::NetworkCache>,
    /// Validated bearer tokens (see `crate::auth::cache`).
    pub sessions: Arc<crate::auth::cache::SessionCache>,
    /// Warehouse codes and their ids (see `crate::warehouses::ids`).
    pub warehouse_ids: Arc<crate::warehouses::ids::WarehouseIds>,
    /// What receipts, reserve levels and allocation requests need of catalogue items (see
    /// `crate::stock::item_cache`).
    pub item_policies: Arc<crate::stock::item_cache::ItemPolicies>,
}

impl AppState {
    /// State over `pool` (and a [`WritePool`](crate::db::WritePool) beside it) with
    /// `settings`. Starts the caches' change listener, so call it from inside the
    /// runtime.
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        let sessions = Arc::new(crate::auth::cache::SessionCache::default());
        let item_policies = Arc::new(crate::stock::item_cache::ItemPolicies::default());
        crate::db::changes::spawn_listener(
            &pool,
            vec![
                (crate::auth::cache::CHANNEL, sessions.clone()),
                (crate::stock::item_cache::CHANNEL, item_policies.clone()),
            ],
        );
        Self {
            writes: crate::db::WritePool::beside(&pool),
            pool,
            settings: Arc::new(settings),
            network: Arc::default(),
            sessions,
            warehouse_ids: Arc::default(),
            item_policies,
        }
    }
}

/// The request id header, echoed on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Per-request facts that mutations record: the request id and the idempotency key.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// The `x-request-id` of this request.
    pub request_id: Option<String>,
    /// The `Idempotency-Key`, if sent.
    pub idempotency_key: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(v) => {
                let key = v.to_str().unwrap_or("");
                if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(AppError::bad_request(
                        "Idempotency-Key",
                        "Idempotency-Key must be 1 to 200 visible ASCII characters",
                    ));
                }
                Some(key.to_owned())
            }
        };
        Ok(Ctx {
            request_id,
            idempotency_key,
        })
    }
}

/// The whole application: API routes plus health, metrics and the OpenAPI document,
/// wrapped in request-id, tracing, metrics and panic layers.
pub fn router(state: AppState) -> Router {
    let (api, spec) = openapi::api_router().split_for_parts();
    // Each operation's declared `security` roles are enforced before its handler runs.
    let declared = crate::auth::http::DeclaredRoles::from_spec(
        &serde_json::to_value(&spec).unwrap_or_default(),
    );
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), declared),
        crate::auth::http::enforce_declared_roles,
    ));
    let spec_json =
        Arc::new(serde_json::to_string_pretty(&spec).unwrap_or_else(|_| "{}".to_owned()));
    let ops = Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics::render))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let spec = spec_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        spec.as_str().to_owned(),
                    )
                }
            }),
        );

    ops.merge(api)
        .merge(crate::console::http::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_default();
                    let request_id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        route,
                        request.id = request_id,
                        user.name = tracing::field::Empty
                    )
                })
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "response"
                    );
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match crate::db::migrations_applied(&state.pool).await {
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

async fn not_found(req: Request) -> AppError {
    AppError::not_found(format!("no such resource: {}", req.uri().path()))
}

async fn method_not_allowed(req: Request) -> Response {
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

fn panic_response(_err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
