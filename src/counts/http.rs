//! HTTP handlers for cycle counts: open, record, post, cancel, show. Each parses the
//! request, calls one use case of [`super::cases`] and shapes the answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases;
use super::{Count, Counted};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::respond;
use crate::auth::Actor;
use crate::auth::guard::ClerkWarehouse;
use crate::error::AppResult;
use crate::http::{Command, Json, Path};
use crate::ids::{CountId, LotId};

/// Count routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_count))
        .routes(routes!(get_count))
        .routes(routes!(record_count_lines))
        .routes(routes!(post_count))
        .routes(routes!(cancel_count))
}

/// `POST /api/v1/warehouses/{code}/counts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCount {
    /// Count only these SKUs; absent: the whole warehouse.
    pub skus: Option<Vec<String>>,
}

/// One counted lot in `PUT /api/v1/counts/{id}/lines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountedLine {
    /// A lot in the count.
    pub lot_id: LotId,
    /// Units on the shelf, zero or more.
    pub counted_qty: i64,
}

/// `POST /api/v1/counts/{id}/post`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCount {
    /// Note carried on the adjustments.
    pub note: Option<String>,
}

/// `POST /api/v1/counts/{id}/cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelCount {
    /// Why the count will not be finished (1–200 characters).
    pub reason: String,
}

/// Open a blind count over a warehouse, or some of its SKUs: snapshots the expected
/// quantity of every lot in scope.
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/counts", tag = "counts",
    request_body = CreateCount,
    params(("code" = String, Path, description = "Warehouse code"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn create_count(
    State(state): State<AppState>,
    actor: Actor,
    ClerkWarehouse(wh): ClerkWarehouse,
    origin: Origin,
    cmd: Command<CreateCount>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let (warehouses, skus) = (&state.warehouse_ids, cmd.body.skus.clone());
    let opened = cases::open(&mut tx, &actor, warehouses, &wh.code, skus, claim).await?;
    respond(tx, &actor, &origin, opened, StatusCode::CREATED).await
}

/// Record counted quantities (a later entry for the same lot replaces the earlier one).
#[utoipa::path(put, path = "/api/v1/counts/{id}/lines", tag = "counts",
    request_body = Vec<CountedLine>,
    params(("id" = String, Path, description = "Count id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn record_count_lines(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<CountId>,
    cmd: Command<Vec<CountedLine>>,
) -> AppResult<Response> {
    let lines: Vec<Counted> = cmd
        .body
        .iter()
        .map(|l| Counted {
            lot: l.lot_id,
            qty: l.counted_qty,
        })
        .collect();
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let recorded = cases::record(&mut tx, &actor, id, lines, claim).await?;
    respond(tx, &actor, &origin, recorded, StatusCode::OK).await
}

/// Post a count: in one transaction, book each counted lot to its counted quantity plus
/// what moved on it since the snapshot (`count_adjustment`). Uncounted lots are left
/// as they are.
#[utoipa::path(post, path = "/api/v1/counts/{id}/post", tag = "counts",
    request_body = PostCount,
    params(("id" = String, Path, description = "Count id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn post_count(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<CountId>,
    cmd: Command<PostCount>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let note = cmd.body.note.clone();
    let posted = cases::post(&mut tx, &actor, &origin, id, note, claim).await?;
    respond(tx, &actor, &origin, posted, StatusCode::OK).await
}

/// Cancel an open count that will not be finished: books nothing, and frees its lots for
/// a new count.
#[utoipa::path(post, path = "/api/v1/counts/{id}/cancel", tag = "counts",
    request_body = CancelCount,
    params(("id" = String, Path, description = "Count id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Count), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn cancel_count(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<CountId>,
    cmd: Command<CancelCount>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let reason = cmd.body.reason.clone();
    let cancelled = cases::cancel(&mut tx, &actor, id, &reason, claim).await?;
    respond(tx, &actor, &origin, cancelled, StatusCode::OK).await
}

/// A count with its lines. Clerks count blind: expected quantities and variances are
/// shown only to admins and auditors.
#[utoipa::path(get, path = "/api/v1/counts/{id}", tag = "counts",
    params(("id" = String, Path, description = "Count id")),
    security(("bearer" = [])),
    responses((status = 200, body = Count), (status = 404, body = crate::error::Problem)))]
pub async fn get_count(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<CountId>,
) -> AppResult<Json<Count>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(cases::get(&mut conn, &actor, id).await?))
}
