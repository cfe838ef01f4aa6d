//! A warehouse's reserve levels.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Run, Started};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::AppResult;
use crate::http::{Command, Json, Path};
use crate::stock::cases;
use crate::stock::db::{self, ReserveLevel};
pub use crate::stock::levels::ReserveLevelInput;

/// Set a warehouse's reserve levels (upsert; 0 removes). Returns all its levels.
#[utoipa::path(put, path = "/api/v1/warehouses/{code}/reserve-levels", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = Vec<ReserveLevelInput>,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Vec<ReserveLevel>), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn set_reserve_levels(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<Vec<ReserveLevelInput>>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let mut conn = state.writes.acquire().await?;
    let wh = state.warehouse_ids.in_path(&mut conn, &code).await?;
    let fingerprint = &cmd.fingerprint;
    let mut run = match Run::start(&mut conn, &actor, &origin, fingerprint, StatusCode::OK).await? {
        Started::Go(run) => run,
        Started::Replay(replay) => return Ok(replay),
    };
    let items = &state.item_policies;
    let out =
        cases::set_reserve_levels(run.scope(), &actor, &origin, items, &wh, &cmd.body).await?;
    run.answer(out).await
}

/// A warehouse's reserve levels.
#[utoipa::path(get, path = "/api/v1/warehouses/{code}/reserve-levels", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ReserveLevel>), (status = 404, body = crate::error::Problem)))]
pub async fn list_reserve_levels(
    State(state): State<AppState>,
    _actor: Actor,
    Path(code): Path<String>,
) -> AppResult<Json<Vec<ReserveLevel>>> {
    let mut conn = state.reads.acquire().await?;
    let wh = state.warehouse_ids.in_path(&mut conn, &code).await?;
    Ok(Json(db::reserve_levels(&mut conn, wh.id).await?))
}
