//! HTTP handlers for the stock summary and alerts (any signed-in role).

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{AlertKind, Alerts, GroupBy, Summary, db, summarise};
use crate::app::AppState;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::{Json, Query};

/// Report routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_stock_summary))
        .routes(routes!(list_alerts))
}

/// Parameters of `GET /api/v1/stock/summary`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// `warehouse` (default), `item`, `city` or `category`.
    pub group_by: Option<GroupBy>,
}

/// Parameters of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Only this warehouse (code).
    pub warehouse: Option<String>,
    /// Only this kind: `expired`, `expiring` or `below_reserve`.
    #[param(inline)]
    pub kind: Option<AlertKind>,
}

/// Stock on hand, reserved, available, in transit, quarantined, expired and expiring,
/// per warehouse, item, city or category.
#[utoipa::path(get, path = "/api/v1/stock/summary", tag = "reports", params(SummaryParams),
    security(("bearer" = [])),
    responses((status = 200, body = Summary), (status = 400, body = crate::error::Problem)))]
pub async fn get_stock_summary(
    State(state): State<AppState>,
    _actor: Actor,
    Query(params): Query<SummaryParams>,
) -> AppResult<Json<Summary>> {
    let today = state.settings.today();
    let mut conn = state.reads.acquire().await?;
    let cells = db::cells(&mut conn, today).await?;
    summarise(&cells, params.group_by.unwrap_or_default(), today)
        .map(Json)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("summary sums overflow i64")))
}

/// Expired stock still on hand, lots inside their alert window, and items below a
/// warehouse's reserve level.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "reports", params(AlertParams),
    security(("bearer" = [])),
    responses((status = 200, body = Alerts), (status = 400, body = crate::error::Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    _actor: Actor,
    Query(params): Query<AlertParams>,
) -> AppResult<Json<Alerts>> {
    let today = state.settings.today();
    let mut conn = state.reads.acquire().await?;
    let warehouse = match &params.warehouse {
        None => None,
        Some(code) => Some(
            crate::warehouses::db::by_code(&mut conn, code)
                .await?
                .ok_or_else(|| {
                    AppError::bad_request("warehouse", format!("unknown warehouse `{code}`"))
                })?
                .id,
        ),
    };
    let mut alerts = db::alerts(&mut conn, today, warehouse).await?;
    if let Some(kind) = params.kind {
        alerts.retain(|a| a.kind == kind.as_str());
    }
    Ok(Json(Alerts {
        as_of: today,
        alerts,
    }))
}
