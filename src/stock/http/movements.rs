//! Issues, adjustments, and the first-expiry-first-out pick suggestion for an issue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Run, Started};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::auth::guard::ClerkWarehouse;
use crate::error::{AppError, AppResult};
use crate::http::{Command, Json, Path, Query};
use crate::stock::PickSuggestion;
use crate::stock::cases::{self, Claiming};
pub use crate::stock::movement::{
    AdjustmentLine, IssueLine, MovementCmd, MovementResult, OperationResponse,
};
use crate::warehouses::ids::WarehouseRef;

/// A manual issue: local distribution from named lots.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// Lots and quantities.
    pub lines: Vec<IssueLine>,
}

/// An adjustment or write-off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Lots and signed quantities.
    pub lines: Vec<AdjustmentLine>,
}

/// Runs an issue or adjustment of `code`'s lots; see [`cases::move_stock`].
async fn move_stock(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    wh: &WarehouseRef,
    fingerprint: &str,
    parse: impl FnOnce() -> AppResult<MovementCmd>,
) -> AppResult<Response> {
    let mut conn = state.writes.acquire().await?;
    // The lines' own fields; nothing here depends on stored state, so a retry that
    // replays a stored answer below passed them the first time too.
    let cmd = parse()?;
    let status = StatusCode::CREATED;
    if origin.idempotency_key.is_some() {
        let claiming = Claiming {
            conn: &mut conn,
            fingerprint,
            status,
        };
        let one =
            cases::move_stock_claiming(claiming, actor, origin, wh, &cmd, state.settings.today());
        if let Some(out) = one.await? {
            return Ok((status, Json(out)).into_response());
        }
    }
    let mut run = match Run::start(&mut conn, actor, origin, fingerprint, status).await? {
        Started::Go(run) => run,
        Started::Replay(replay) => return Ok(replay),
    };
    let out =
        cases::move_stock(run.scope(), actor, origin, wh, cmd, state.settings.today()).await?;
    run.answer(out).await
}

/// Issue stock from named lots of a warehouse (local distribution).
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/issues", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = IssueRequest,
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = OperationResponse),
              (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "More than available (see `available`), or a quarantined lot"),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_issue(
    State(state): State<AppState>,
    actor: Actor,
    ClerkWarehouse(wh): ClerkWarehouse,
    origin: Origin,
    cmd: Command<IssueRequest>,
) -> AppResult<Response> {
    let lines = cmd.body.lines;
    let parse = || MovementCmd::issue(lines);
    move_stock(&state, &actor, &origin, &wh, &cmd.fingerprint, parse).await
}

/// Adjust or write off stock of named lots (quarantined lots included).
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/adjustments", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = AdjustmentRequest,
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = OperationResponse),
              (status = 403, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "A decrease beyond what is available"),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_adjustment(
    State(state): State<AppState>,
    actor: Actor,
    ClerkWarehouse(wh): ClerkWarehouse,
    origin: Origin,
    cmd: Command<AdjustmentRequest>,
) -> AppResult<Response> {
    let lines = cmd.body.lines;
    let parse = || MovementCmd::adjust(lines);
    move_stock(&state, &actor, &origin, &wh, &cmd.fingerprint, parse).await
}

/// Query of `GET /warehouses/{code}/pick-suggestion`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PickQuery {
    /// Item SKU.
    pub sku: String,
    /// Units wanted, > 0.
    pub qty: i64,
}

/// Propose lots to issue, first-expiry-first-out, skipping expired and quarantined lots.
#[utoipa::path(get, path = "/api/v1/warehouses/{code}/pick-suggestion", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"), PickQuery),
    security(("bearer" = [])),
    responses((status = 200, body = PickSuggestion), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_pick_suggestion(
    State(state): State<AppState>,
    _actor: Actor,
    Path(code): Path<String>,
    Query(q): Query<PickQuery>,
) -> AppResult<Json<PickSuggestion>> {
    if q.qty <= 0 {
        return Err(AppError::bad_request("qty", "qty must be greater than 0"));
    }
    let mut conn = state.pool.acquire().await?;
    let wh = state.warehouse_ids.in_path(&mut conn, &code).await?;
    let suggestion =
        cases::pick_suggestion(&mut conn, wh.id, &q.sku, q.qty, state.settings.today()).await?;
    Ok(Json(suggestion))
}
