//! One lot: quarantine and release, its stock card, and the movement log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Run, Started};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query};
use crate::ids::LotId;
use crate::stock::db::{self, MovementRow};
use crate::stock::{Lot, LotStatus, MovementKind, cases};

/// Why a lot is quarantined or released.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Reason, recorded in the audit trail.
    pub reason: String,
}

/// Quarantines or releases lot `id`; see [`cases::change_status`].
async fn change_status(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    id: LotId,
    cmd: &Command<StatusChange>,
    to: LotStatus,
) -> AppResult<Response> {
    let mut conn = state.writes.acquire().await?;
    if origin.idempotency_key.is_some() {
        cases::authorize_lot(&mut conn, actor, id).await?;
    }
    let fingerprint = &cmd.fingerprint;
    let mut run = match Run::start(&mut conn, actor, origin, fingerprint, StatusCode::OK).await? {
        Started::Go(run) => run,
        Started::Replay(replay) => return Ok(replay),
    };
    let reason = &cmd.body.reason;
    let out = cases::change_status(run.scope(), actor, origin, id, reason, to).await?;
    run.answer(out).await
}

/// Quarantine a lot: it can no longer be issued, transferred or allocated.
#[utoipa::path(post, path = "/api/v1/lots/{id}/quarantine", tag = "stock",
    params(("id" = String, Path, description = "Lot id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = StatusChange,
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Lot), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "Already quarantined, or stock reserved")))]
pub async fn quarantine_lot(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<LotId>,
    cmd: Command<StatusChange>,
) -> AppResult<Response> {
    change_status(&state, &actor, &origin, id, &cmd, LotStatus::Quarantined).await
}

/// Release a quarantined lot.
#[utoipa::path(post, path = "/api/v1/lots/{id}/release", tag = "stock",
    params(("id" = String, Path, description = "Lot id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = StatusChange,
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Lot), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "Not quarantined")))]
pub async fn release_lot(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<LotId>,
    cmd: Command<StatusChange>,
) -> AppResult<Response> {
    change_status(&state, &actor, &origin, id, &cmd, LotStatus::Available).await
}

/// A lot with every movement it has had.
#[derive(Debug, Serialize, ToSchema)]
pub struct LotCard {
    /// The lot now.
    pub lot: Lot,
    /// Every ledger row of the lot, oldest first.
    pub movements: Vec<MovementRow>,
}

/// A lot's stock card.
#[utoipa::path(get, path = "/api/v1/lots/{id}/card", tag = "stock",
    params(("id" = String, Path, description = "Lot id")),
    security(("bearer" = [])),
    responses((status = 200, body = LotCard), (status = 404, body = crate::error::Problem)))]
pub async fn get_lot_card(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<LotId>,
) -> AppResult<Json<LotCard>> {
    let mut conn = state.pool.acquire().await?;
    let lot = db::lot(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no lot with id {id}")))?;
    let q = db::MovementQuery {
        lot: Some(id),
        limit: i64::MAX,
        ..Default::default()
    };
    let movements = db::list_movements(&mut conn, &q).await?;
    Ok(Json(LotCard { lot, movements }))
}

/// Filters for `GET /api/v1/movements`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovementFilter {
    /// Warehouse code.
    pub warehouse: Option<String>,
    /// Item SKU.
    pub sku: Option<String>,
    /// Lot id.
    pub lot: Option<LotId>,
    /// Movement kind (`receipt`, `issue`, `adjustment`, …).
    pub kind: Option<String>,
    /// At or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The ledger, filtered, oldest first.
#[utoipa::path(get, path = "/api/v1/movements", tag = "stock", params(MovementFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<MovementRow>), (status = 400, body = crate::error::Problem)))]
pub async fn list_movements(
    State(state): State<AppState>,
    _actor: Actor,
    Query(f): Query<MovementFilter>,
) -> AppResult<Json<Page<MovementRow>>> {
    let limit = pagination::limit(f.limit)?;
    crate::http::instant_param("from", f.from)?;
    crate::http::instant_param("to", f.to)?;
    let after: Option<i64> = f.cursor.as_deref().map(pagination::decode).transpose()?;
    let kind = f
        .kind
        .as_deref()
        .map(str::parse::<MovementKind>)
        .transpose()
        .map_err(|e| AppError::bad_request("kind", e))?;
    let mut conn = state.reads.acquire().await?;
    let warehouse =
        crate::warehouses::http::warehouse_param(&mut conn, f.warehouse.as_deref()).await?;
    let item = crate::catalog::http::sku_param(&mut conn, f.sku.as_deref()).await?;
    let q = db::MovementQuery {
        warehouse,
        item,
        lot: f.lot,
        kind,
        from: f.from,
        to: f.to,
        after,
        limit: limit + 1,
    };
    let rows = db::list_movements(&mut conn, &q).await?;
    Ok(Json(pagination::page(rows, limit, |m| m.id)))
}
