//! HTTP handlers for stock lots and the clerk operations on them: receipts, issues,
//! adjustments, quarantine, reserve levels, scans, stock cards and the movement log.
//!
//! Every mutation is one transaction in this order: claim the idempotency key, check the
//! input, lock the lots (`for update`, id order), append the ledger rows, record one audit
//! event, store the idempotent response, commit. Nothing slow happens while lots are locked.

mod ops;

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Lot, db};
use crate::app::AppState;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Json, Path, Query};
use crate::ids::LotId;
pub use ops::*;

/// Stock routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_lots))
        .routes(routes!(get_lot))
        .routes(routes!(ops::create_receipt))
        .routes(routes!(ops::decode_scan))
        .routes(routes!(ops::create_issue))
        .routes(routes!(ops::get_pick_suggestion))
        .routes(routes!(ops::create_adjustment))
        .routes(routes!(ops::quarantine_lot))
        .routes(routes!(ops::release_lot))
        .routes(routes!(ops::set_reserve_levels, ops::list_reserve_levels))
        .routes(routes!(ops::get_lot_card))
        .routes(routes!(ops::list_movements))
}

/// Filters for `GET /api/v1/lots`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotFilter {
    /// Warehouse code.
    pub warehouse: Option<String>,
    /// Item SKU.
    pub sku: Option<String>,
    /// GB/T 38565 category code; includes its sub-categories.
    pub category: Option<String>,
    /// `available` or `quarantined`.
    pub status: Option<String>,
    /// Only lots that expire within this many days from today (0–3650).
    pub expiring_within_days: Option<i64>,
    /// `true`: only expired lots; `false`: only unexpired ones.
    pub expired: Option<bool>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List stock lots, filtered, in a stable order.
#[utoipa::path(get, path = "/api/v1/lots", tag = "stock", params(LotFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Lot>), (status = 400, body = crate::error::Problem)))]
pub async fn list_lots(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<LotFilter>,
) -> AppResult<Json<Page<Lot>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<LotId> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    if let Some(status) = &filter.status
        && status != "available"
        && status != "quarantined"
    {
        return Err(AppError::bad_request(
            "status",
            format!("unknown status `{status}`: expected available or quarantined"),
        ));
    }
    if let Some(days) = filter.expiring_within_days
        && !(0..=3650).contains(&days)
    {
        return Err(AppError::bad_request(
            "expiring_within_days",
            "expiring_within_days must be between 0 and 3650",
        ));
    }
    let today = Utc::now().with_timezone(&state.settings.tz).date_naive();
    let mut conn = state.pool.acquire().await?;
    let warehouse =
        crate::warehouses::http::warehouse_param(&mut conn, filter.warehouse.as_deref()).await?;
    let item = crate::catalog::http::sku_param(&mut conn, filter.sku.as_deref()).await?;
    if let Some(cat) = &filter.category
        && !crate::catalog::db::category_exists(&mut conn, cat).await?
    {
        return Err(AppError::bad_request(
            "category",
            format!("unknown category `{cat}`"),
        ));
    }
    let q = db::LotQuery {
        warehouse,
        item,
        category: filter.category.as_deref(),
        status: filter.status.as_deref(),
        expiring_by: filter
            .expiring_within_days
            .map(|d| today + chrono::Days::new(d as u64)),
        expired: filter.expired,
        today,
        after,
        limit: limit + 1,
    };
    let rows = db::list_lots(&mut conn, &q).await?;
    Ok(Json(pagination::page(rows, limit, |l| l.id)))
}

/// One lot.
#[utoipa::path(get, path = "/api/v1/lots/{id}", tag = "stock",
    params(("id" = String, Path, description = "Lot id")),
    security(("bearer" = [])),
    responses((status = 200, body = Lot), (status = 404, body = crate::error::Problem)))]
pub async fn get_lot(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<LotId>,
) -> AppResult<Json<Lot>> {
    let mut conn = state.pool.acquire().await?;
    db::lot(&mut conn, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no lot with id {id}")))
}
