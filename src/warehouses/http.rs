//! HTTP handlers for warehouses.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Tier, Warehouse, db};
use crate::app::AppState;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Json, Path, Query};

/// Warehouse routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_warehouses))
        .routes(routes!(get_warehouse))
}

/// Filters for `GET /api/v1/warehouses`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WarehouseFilter {
    /// City name, e.g. `Jiangmen`.
    pub city: Option<String>,
    /// `regional_centre`, `city`, `district` or `community`.
    pub tier: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List warehouses by code.
#[utoipa::path(get, path = "/api/v1/warehouses", tag = "warehouses", params(WarehouseFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Warehouse>), (status = 400, body = crate::error::Problem)))]
pub async fn list_warehouses(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<WarehouseFilter>,
) -> AppResult<Json<Page<Warehouse>>> {
    let limit = pagination::limit(filter.limit)?;
    let tier = match filter.tier.as_deref() {
        None => None,
        Some(name) => Some(Tier::parse(name).ok_or_else(|| {
            let names: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
            AppError::bad_request(
                "tier",
                format!(
                    "unknown tier `{name}`: expected one of {}",
                    names.join(", ")
                ),
            )
        })?),
    };
    let after: Option<String> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    let mut conn = state.reads.acquire().await?;
    let rows = db::list(
        &mut conn,
        filter.city.as_deref(),
        tier,
        after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(pagination::page(rows, limit, |w| w.code.clone())))
}

/// One warehouse.
#[utoipa::path(get, path = "/api/v1/warehouses/{code}", tag = "warehouses",
    params(("code" = String, Path, description = "Warehouse code")),
    security(("bearer" = [])),
    responses((status = 200, body = Warehouse), (status = 404, body = crate::error::Problem)))]
pub async fn get_warehouse(
    State(state): State<AppState>,
    _actor: Actor,
    Path(code): Path<String>,
) -> AppResult<Json<Warehouse>> {
    let mut conn = state.pool.acquire().await?;
    db::by_code(&mut conn, &code)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no warehouse with code {code}")))
}

/// Resolves the `warehouse` query parameter (a code) to its id: a code that names no
/// warehouse is a 400 naming the parameter, not an empty result.
pub async fn warehouse_param(
    conn: &mut sqlx::PgConnection,
    code: Option<&str>,
) -> AppResult<Option<crate::ids::WarehouseId>> {
    let Some(code) = code else { return Ok(None) };
    super::db::by_code(conn, code)
        .await?
        .map(|w| Some(w.id))
        .ok_or_else(|| AppError::bad_request("warehouse", format!("unknown warehouse `{code}`")))
}
