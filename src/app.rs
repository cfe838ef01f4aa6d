//! The application: its shared state, every domain's routes under one OpenAPI document,
//! and the layers around them. The one place that names every domain; `http/` is the
//! glue it uses, and names none.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, MatchedPath, Request};
use axum::response::Response;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Settings;
use crate::http;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub pool: PgPool,
    /// Reads that may lag behind the writes (the read-only list endpoints, `audit
    /// verify`): a replica's pool with `--read-database-url`, else `pool`.
    pub reads: PgPool,
    /// Whether `reads` is a replica's.
    pub reads_replica: bool,
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
    /// This process's audit chainer and the answers that wait on it (see
    /// `crate::audit::chain`).
    pub chain: Arc<crate::audit::chain::Chain>,
}

impl AppState {
    /// The same state, with reads that may lag sent to `reads` (a replica's pool).
    pub fn with_reads(mut self, reads: PgPool) -> Self {
        self.reads = reads;
        self.reads_replica = true;
        self
    }

    /// The replica's pool, when reads go to one.
    pub fn replica(&self) -> Option<&PgPool> {
        self.reads_replica.then_some(&self.reads)
    }

    /// State over `pool` (and a [`WritePool`](crate::db::WritePool) beside it) with
    /// `settings`. Starts the change listener, the audit chainer and the compaction of
    /// the stock cell totals (`stock::cells`), so call it from inside the runtime.
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        let sessions = Arc::new(crate::auth::cache::SessionCache::default());
        let item_policies = Arc::new(crate::stock::item_cache::ItemPolicies::default());
        let chain = if settings.unchained_for_benchmarks {
            crate::audit::chain::Chain::off()
        } else {
            crate::db::durable_by_chain(&pool);
            crate::audit::chain::Chain::new(settings.chain_wait)
        };
        let mut subscribers: Vec<crate::db::changes::Subscriber> = vec![
            (crate::auth::cache::CHANNEL, sessions.clone()),
            (crate::stock::item_cache::CHANNEL, item_policies.clone()),
        ];
        subscribers.extend(chain.subscribers());
        crate::db::changes::spawn_listener(&pool, subscribers);
        chain.spawn(&pool);
        crate::stock::cells::spawn_compaction(&pool, &settings);
        Self {
            writes: crate::db::WritePool::beside(&pool),
            reads: pool.clone(),
            reads_replica: false,
            pool,
            settings: Arc::new(settings),
            network: Arc::default(),
            sessions,
            warehouse_ids: Arc::default(),
            item_policies,
            chain,
        }
    }
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> Self {
        state.pool.clone()
    }
}

impl FromRef<AppState> for http::metrics::Pools {
    fn from_ref(state: &AppState) -> Self {
        http::metrics::Pools {
            main: state.pool.clone(),
            writes: state.writes.clone(),
        }
    }
}

/// Every API route with its documentation.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(http::openapi::base())
        .merge(crate::catalog::http::routes())
        .merge(crate::warehouses::http::routes())
        .merge(crate::stock::http::routes())
        .merge(crate::auth::http::routes())
        .merge(crate::transfers::http::routes())
        .merge(crate::counts::http::routes())
        .merge(crate::reports::http::routes())
        .merge(crate::incidents::http::routes())
        .merge(crate::network::http::routes())
        .merge(crate::allocation::http::routes())
        .merge(crate::audit::http::routes())
        .merge(crate::exports::http::routes())
        .merge(crate::reserve::http::routes())
        .merge(crate::operations::http::routes())
        .merge(crate::rationing::http::routes())
        .merge(crate::imports::http::routes())
}

/// The API routes and the OpenAPI document that describes them, completed with the
/// error responses every operation can answer (`http::openapi::declare_errors`). The one
/// document that is served, committed, and read for the roles each operation needs.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut spec) = api_router().split_for_parts();
    http::openapi::declare_errors(&mut spec);
    (api, spec)
}

/// The OpenAPI document as pretty JSON, as committed in `api-spec/openapi.json`.
pub fn openapi_document() -> String {
    let (_, spec) = api();
    let mut text = serde_json::to_string_pretty(&spec).unwrap_or_default();
    text.push('\n');
    text
}

/// The whole application: API routes plus health, metrics and the OpenAPI document,
/// wrapped in request-id, tracing, metrics and panic layers.
pub fn router(state: AppState) -> Router {
    let (api, spec) = api();
    // Each operation's declared `security` roles are enforced before its handler runs.
    let declared = crate::auth::guard::DeclaredRoles::from_spec(
        &serde_json::to_value(&spec).unwrap_or_default(),
    );
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::http::answer_when_chained,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), declared),
            crate::auth::guard::enforce_declared_roles,
        ));
    let spec_json =
        Arc::new(serde_json::to_string_pretty(&spec).unwrap_or_else(|_| "{}".to_owned()));
    let ops = Router::new()
        .route("/healthz", axum::routing::get(http::healthz))
        .route("/readyz", axum::routing::get(http::readyz))
        .route("/metrics", axum::routing::get(http::metrics::render))
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
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .with_state(state)
        .layer(CatchPanicLayer::custom(http::panic_response))
        .layer(axum::middleware::from_fn(http::metrics::track))
        .layer(PropagateRequestIdLayer::new(http::REQUEST_ID.clone()))
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
                        .get(&http::REQUEST_ID)
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
        .layer(SetRequestIdLayer::new(
            http::REQUEST_ID.clone(),
            MakeRequestUuid,
        ))
}
