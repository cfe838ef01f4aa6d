//! HTTP handlers for replenishment, rotation and readiness. Each parses the request,
//! calls one use case of [`super::cases`] and shapes the answer.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases::{self, Committed, ReplenishmentView};
use super::{ScopeBody, within_days};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::{claim_key, finish_command};
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult, Problem};
use crate::http::{Command, Json, Query};
use crate::reserve_core::readiness::Readiness;
use crate::reserve_core::rotation::RotationPlan;

/// Reserve routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_replenishment))
        .routes(routes!(commit_replenishment))
        .routes(routes!(get_rotation))
        .routes(routes!(get_readiness))
}

/// `POST /api/v1/replenishment/preview`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewReplenishment {
    /// Which cells to refill; everything when missing.
    #[serde(default)]
    pub scope: ScopeBody,
}

/// `POST /api/v1/replenishment`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitReplenishment {
    /// Which cells to refill; everything when missing.
    #[serde(default)]
    pub scope: ScopeBody,
    /// The `fingerprint` of the preview this commit follows: the answer says whether
    /// what it wrote differs (`replanned`).
    pub fingerprint: Option<String>,
}

/// What a replenishment would move now: for every (warehouse, item) below its reserve
/// level, transfers from its parent or else the nearest warehouse with stock above its
/// own level (FEFO, with enough shelf life on arrival), and what no source covers.
/// Writes nothing.
#[utoipa::path(post, path = "/api/v1/replenishment/preview", tag = "reserve",
    request_body = PreviewReplenishment, security(("bearer" = ["admin"])),
    responses((status = 200, body = ReplenishmentView), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
pub async fn preview_replenishment(
    State(state): State<AppState>,
    actor: Actor,
    Json(body): Json<PreviewReplenishment>,
) -> AppResult<Json<ReplenishmentView>> {
    actor.require(&[Role::Admin])?;
    let mut conn = state.pool.acquire().await?;
    let view = cases::preview(&state, &mut conn, &body.scope, state.settings.today()).await?;
    Ok(Json(view))
}

/// Plan a replenishment and write it at once, in one transaction: one ordinary
/// in-transit transfer per (source, destination), each with its audit event. If source
/// stock changed since the preview, it plans again on the stock as it is and says so.
#[utoipa::path(post, path = "/api/v1/replenishment", tag = "reserve",
    request_body = CommitReplenishment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["admin"])),
    responses((status = 201, body = Committed), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn commit_replenishment(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<CommitReplenishment>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let mut tx = state.writes.begin().await?;
    if let Some(replay) = claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await? {
        return Ok(replay);
    }
    let (committed, change) = cases::commit(
        &state,
        &mut tx,
        &actor,
        &origin,
        &cmd.body.scope,
        cmd.body.fingerprint.as_deref(),
        state.settings.today(),
    )
    .await?;
    finish_command(tx, &actor, &origin, change, StatusCode::CREATED, committed).await
}

/// Query of `GET /api/v1/rotation`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RotationQuery {
    /// Lots expiring within this many days of today (1 to 365; 180 when missing).
    pub within_days: Option<i64>,
}

/// What to do with each lot that expires within N days, before it is written off:
/// transfer it to a warehouse whose level needs it and that receives it with enough
/// shelf life, else issue it to a consumer while it still has life, else write it off
/// at expiry; with the quantity to procure to keep the level, and a calendar of what
/// expires where, per month and category.
#[utoipa::path(get, path = "/api/v1/rotation", tag = "reserve", params(RotationQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 422, body = Problem)))]
pub async fn get_rotation(
    State(state): State<AppState>,
    _actor: Actor,
    Query(q): Query<RotationQuery>,
) -> AppResult<Json<RotationPlan>> {
    let n = within_days(q.within_days)?;
    let mut conn = state.reads.acquire().await?;
    let plan = cases::rotation(&state, &mut conn, n, state.settings.today()).await?;
    Ok(Json(plan))
}

/// Query of `GET /api/v1/readiness`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadinessQuery {
    /// `json` (the default) or `csv` (one row per warehouse).
    pub format: Option<String>,
}

/// How ready the network is: per warehouse, per district and overall, the share of
/// reserve levels fully met with usable stock (not expired, not quarantined, with the
/// item's minimum remaining days left), and the share of units.
#[utoipa::path(get, path = "/api/v1/readiness", tag = "reserve", params(ReadinessQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Readiness (JSON), or one row per warehouse (CSV)",
               content((Object = "application/json"), (String = "text/csv"))),
              (status = 400, body = Problem)))]
pub async fn get_readiness(
    State(state): State<AppState>,
    _actor: Actor,
    Query(q): Query<ReadinessQuery>,
) -> AppResult<Response> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(AppError::bad_request(
                "format",
                format!("unknown format `{other}`; expected json or csv"),
            ));
        }
    };
    let mut conn = state.reads.acquire().await?;
    let readiness = cases::readiness(&state, &mut conn, state.settings.today()).await?;
    if csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            readiness_csv(&readiness),
        )
            .into_response())
    } else {
        Ok(Json(readiness).into_response())
    }
}

/// One row per warehouse: code, tier, district, levels met of levels, units met of
/// units, and the two shares.
fn readiness_csv(r: &Readiness) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        b"warehouse,tier,district,levels,levels_met,levels_share,level_units,units_met,units_share\r\n",
    );
    let share = |s: Option<f64>| s.map_or(String::new(), |s| format!("{s:.4}"));
    for w in &r.warehouses {
        let s = &w.score;
        for (i, cell) in [
            w.warehouse_code.clone(),
            w.tier.as_str().to_owned(),
            w.district.clone().unwrap_or_default(),
            s.levels.to_string(),
            s.levels_met.to_string(),
            share(s.levels_share),
            s.level_units.to_string(),
            s.units_met.to_string(),
            share(s.units_share),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            crate::exports::csv_cell(&mut out, cell);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}
