//! HTTP handlers for the catalogue.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases::{self, ItemPatch};
use super::{Category, Item, ItemInput, ItemStatus, NeedNorm, db};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query, idempotency};

/// Catalogue routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, create_item))
        .routes(routes!(get_item, update_item))
        .routes(routes!(retire_item))
        .routes(routes!(reactivate_item))
        .routes(routes!(list_categories))
}

/// Runs an item command in one transaction: claims the Idempotency-Key (or replays its
/// answer), runs `f` (which records the audit event), stores the answer and commits.
async fn item_command(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    fingerprint: &str,
    status: StatusCode,
    f: impl AsyncFnOnce(&mut sqlx::PgConnection) -> AppResult<Item>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let mut tx = state.pool.begin().await?;
    if let Some(replay) = crate::audit::http::claim_key(&mut tx, actor, origin, fingerprint).await?
    {
        return Ok(replay);
    }
    let item = f(&mut tx).await?;
    let key = origin.idempotency_key.as_deref();
    idempotency::finish(&mut tx, actor.id, key, status, &item).await?;
    tx.commit().await?;
    Ok((status, Json(item)).into_response())
}

/// Create a catalogue item. Every bad field is named at once; a SKU or GTIN another item
/// has is a 409 naming it.
#[utoipa::path(post, path = "/api/v1/items", tag = "catalog", request_body = ItemInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 201, body = Item), (status = 403, body = Problem),
              (status = 409, body = Problem, description = "The SKU or a GTIN is taken"),
              (status = 422, body = Problem)))]
pub async fn create_item(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<ItemInput>,
) -> AppResult<Response> {
    let input = cmd.body;
    item_command(
        &state,
        &actor,
        &origin,
        &cmd.fingerprint,
        StatusCode::CREATED,
        async |c| cases::create_item(c, &actor, &origin, &input).await,
    )
    .await
}

/// Reads a field that may be given as null: absent is `None`, null `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// `PATCH /api/v1/items/{sku}`: each field present replaces the stored value. The SKU
/// never changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItemRequest {
    /// Chinese name.
    pub name_zh: Option<String>,
    /// English name.
    pub name_en: Option<String>,
    /// GB/T 38565-2020 category code.
    pub category_code: Option<String>,
    /// Chinese unit.
    pub unit_zh: Option<String>,
    /// English unit.
    pub unit_en: Option<String>,
    /// Specification; null removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub spec: Option<Option<String>>,
    /// Every GTIN of the item (replaces the list; the first is the primary).
    pub gtins: Option<Vec<String>>,
    /// Shelf life in days (> 0); null: the item no longer expires. Lots keep their expiry.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub shelf_life_days: Option<Option<i64>>,
    /// Minimum remaining shelf life, in days.
    pub min_remaining_days: Option<i64>,
    /// Expiry alert window, in days.
    pub alert_days: Option<i64>,
    /// `ambient`, `cool` or `frozen`.
    pub storage_class: Option<String>,
    /// Planning norm; null removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NeedNorm>, nullable)]
    pub need_norm: Option<Option<NeedNorm>>,
}

impl From<UpdateItemRequest> for ItemPatch {
    fn from(r: UpdateItemRequest) -> Self {
        ItemPatch {
            clear_spec: matches!(r.spec, Some(None)),
            clear_shelf_life: matches!(r.shelf_life_days, Some(None)),
            clear_need_norm: matches!(r.need_norm, Some(None)),
            set: ItemInput {
                sku: None,
                name_zh: r.name_zh,
                name_en: r.name_en,
                category_code: r.category_code,
                unit_zh: r.unit_zh,
                unit_en: r.unit_en,
                spec: r.spec.flatten(),
                gtins: r.gtins,
                shelf_life_days: r.shelf_life_days.flatten(),
                min_remaining_days: r.min_remaining_days,
                alert_days: r.alert_days,
                storage_class: r.storage_class,
                need_norm: r.need_norm.flatten(),
            },
        }
    }
}

/// Change a catalogue item. A new shelf-life policy applies to receipts and plans at
/// once, in every process; existing lots keep their expiry dates.
#[utoipa::path(patch, path = "/api/v1/items/{sku}", tag = "catalog", request_body = UpdateItemRequest,
    params(("sku" = String, Path, description = "Item SKU"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Item), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "A GTIN belongs to another item"),
              (status = 422, body = Problem)))]
pub async fn update_item(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(sku): Path<String>,
    cmd: Command<UpdateItemRequest>,
) -> AppResult<Response> {
    let patch = ItemPatch::from(cmd.body);
    item_command(
        &state,
        &actor,
        &origin,
        &cmd.fingerprint,
        StatusCode::OK,
        async |c| cases::update_item(c, &actor, &origin, &sku, &patch).await,
    )
    .await
}

/// Why an item is retired or reactivated.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeRequest {
    /// Why (kept in the audit trail).
    pub reason: Option<String>,
}

/// Retire an item: it can no longer be received or requested. Its stock stays visible
/// and can still be issued, transferred and written off.
#[utoipa::path(post, path = "/api/v1/items/{sku}/retire", tag = "catalog", request_body = StatusChangeRequest,
    params(("sku" = String, Path, description = "Item SKU"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Item), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "Already retired")))]
pub async fn retire_item(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(sku): Path<String>,
    cmd: Command<StatusChangeRequest>,
) -> AppResult<Response> {
    let reason = cmd.body.reason;
    item_command(
        &state,
        &actor,
        &origin,
        &cmd.fingerprint,
        StatusCode::OK,
        async |c| {
            cases::set_status(
                c,
                &actor,
                &origin,
                &sku,
                ItemStatus::Retired,
                reason.as_deref(),
            )
            .await
        },
    )
    .await
}

/// Reactivate a retired item: it can be received and requested again.
#[utoipa::path(post, path = "/api/v1/items/{sku}/reactivate", tag = "catalog", request_body = StatusChangeRequest,
    params(("sku" = String, Path, description = "Item SKU"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Item), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "Not retired")))]
pub async fn reactivate_item(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(sku): Path<String>,
    cmd: Command<StatusChangeRequest>,
) -> AppResult<Response> {
    let reason = cmd.body.reason;
    item_command(
        &state,
        &actor,
        &origin,
        &cmd.fingerprint,
        StatusCode::OK,
        async |c| {
            cases::set_status(
                c,
                &actor,
                &origin,
                &sku,
                ItemStatus::Active,
                reason.as_deref(),
            )
            .await
        },
    )
    .await
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
