//! HTTP handlers for the catalogue.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{Category, Item, db};
use crate::app::AppState;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Json, Path, Query};

/// Catalogue routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items))
        .routes(routes!(get_item))
        .routes(routes!(list_categories))
}

/// Filters for `GET /api/v1/items`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ItemFilter {
    /// GB/T 38565 category code; includes its sub-categories.
    pub category: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List catalogue items by SKU.
#[utoipa::path(get, path = "/api/v1/items", tag = "catalog", params(ItemFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Item>), (status = 400, body = crate::error::Problem)))]
pub async fn list_items(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<ItemFilter>,
) -> AppResult<Json<Page<Item>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<String> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    let mut conn = state.reads.acquire().await?;
    if let Some(cat) = &filter.category
        && !db::category_exists(&mut conn, cat).await?
    {
        return Err(AppError::bad_request(
            "category",
            format!("unknown category `{cat}`"),
        ));
    }
    let rows = db::list_items(
        &mut conn,
        filter.category.as_deref(),
        after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(Json(pagination::page(rows, limit, |i| i.sku.clone())))
}

/// One catalogue item.
#[utoipa::path(get, path = "/api/v1/items/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "Item SKU")),
    security(("bearer" = [])),
    responses((status = 200, body = Item), (status = 404, body = crate::error::Problem)))]
pub async fn get_item(
    State(state): State<AppState>,
    _actor: Actor,
    Path(sku): Path<String>,
) -> AppResult<Json<Item>> {
    let mut conn = state.pool.acquire().await?;
    db::item_by_sku(&mut conn, &sku)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no item with SKU {sku}")))
}

/// The GB/T 38565-2020 categories in use.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Category>)))]
pub async fn list_categories(
    State(state): State<AppState>,
    _actor: Actor,
) -> AppResult<Json<Vec<Category>>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(db::list_categories(&mut conn).await?))
}

/// Resolves the `sku` query parameter to the item's id: an unknown SKU is a 400 naming
/// the parameter, not an empty result.
pub async fn sku_param(
    conn: &mut sqlx::PgConnection,
    sku: Option<&str>,
) -> AppResult<Option<crate::ids::ItemId>> {
    let Some(sku) = sku else { return Ok(None) };
    super::db::item_by_sku(conn, sku)
        .await?
        .map(|i| Some(i.id))
        .ok_or_else(|| AppError::bad_request("sku", format!("unknown SKU `{sku}`")))
}
