//! HTTP handlers for warehouses.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases::{self, WarehousePatch};
use super::{Tier, Warehouse, WarehouseInput, db};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::{Actor, Role};
use crate::error::{AppError, AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query, idempotency};

/// Warehouse routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_warehouses, create_warehouse))
        .routes(routes!(get_warehouse, update_warehouse))
}

/// Runs a warehouse command in one transaction: claims the Idempotency-Key (or replays
/// its answer), runs `f` (which records the audit event), stores the answer, commits.
async fn warehouse_command(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    fingerprint: &str,
    status: StatusCode,
    f: impl AsyncFnOnce(&mut sqlx::PgConnection) -> AppResult<Warehouse>,
) -> AppResult<Response> {
    actor.require(&[Role::Admin])?;
    let mut tx = state.pool.begin().await?;
    if let Some(replay) = crate::audit::http::claim_key(&mut tx, actor, origin, fingerprint).await?
    {
        return Ok(replay);
    }
    let w = f(&mut tx).await?;
    let key = origin.idempotency_key.as_deref();
    idempotency::finish(&mut tx, actor.id, key, status, &w).await?;
    tx.commit().await?;
    Ok((status, Json(w)).into_response())
}

/// Create a warehouse. Its position must lie inside the configured service area
/// (`--service-area`) unless `outside_service_area` is true.
#[utoipa::path(post, path = "/api/v1/warehouses", tag = "warehouses", request_body = WarehouseInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 201, body = Warehouse), (status = 403, body = Problem),
              (status = 409, body = Problem, description = "The code is taken"),
              (status = 422, body = Problem)))]
pub async fn create_warehouse(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<WarehouseInput>,
) -> AppResult<Response> {
    let input = cmd.body;
    let area = state.settings.service_area;
    warehouse_command(
        &state,
        &actor,
        &origin,
        &cmd.fingerprint,
        StatusCode::CREATED,
        async |c| cases::create_warehouse(c, &actor, &origin, &area, &input).await,
    )
    .await
}

/// Reads a field that may be given as null: absent is `None`, null `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// `PATCH /api/v1/warehouses/{code}`: each field present replaces the stored value. The
/// code never changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWarehouseRequest {
    /// Chinese name.
    pub name_zh: Option<String>,
    /// English name.
    pub name_en: Option<String>,
    /// City.
    pub city: Option<String>,
    /// District; null removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub district: Option<Option<String>>,
    /// `regional_centre`, `city`, `district`, `community` or `agreement`.
    pub tier: Option<String>,
    /// WGS84 latitude (a move takes effect in routing at once).
    pub lat: Option<f64>,
    /// WGS84 longitude.
    pub lon: Option<f64>,
    /// `true` to accept a new position outside the service area.
    pub outside_service_area: Option<bool>,
    /// Minutes to pick and load (0–1440).
    pub handling_minutes: Option<i64>,
    /// `active` or `inactive`.
    pub status: Option<String>,
    /// Code of the resupplying warehouse; null for none. No cycles.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub parent: Option<Option<String>>,
}

impl From<UpdateWarehouseRequest> for WarehousePatch {
    fn from(r: UpdateWarehouseRequest) -> Self {
        WarehousePatch {
            clear_district: matches!(r.district, Some(None)),
            clear_parent: matches!(r.parent, Some(None)),
            set: WarehouseInput {
                code: None,
                name_zh: r.name_zh,
                name_en: r.name_en,
                city: r.city,
                district: r.district.flatten(),
                tier: r.tier,
                lat: r.lat,
                lon: r.lon,
                outside_service_area: r.outside_service_area,
                handling_minutes: r.handling_minutes,
                status: r.status,
                parent: r.parent.flatten(),
            },
        }
    }
}

/// Change a warehouse: names, city, district, tier, position, handling time, status and
/// parent. The code and id never change. A move takes effect in the next plan of every
/// process.
#[utoipa::path(patch, path = "/api/v1/warehouses/{code}", tag = "warehouses",
    request_body = UpdateWarehouseRequest,
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    security(("bearer" = ["admin"])),
    responses((status = 200, body = Warehouse), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_warehouse(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(code): Path<String>,
    cmd: Command<UpdateWarehouseRequest>,
) -> AppResult<Response> {
    let patch = WarehousePatch::from(cmd.body);
    let area = state.settings.service_area;
    warehouse_command(
        &state,
        &actor,
        &origin,
        &cmd.fingerprint,
        StatusCode::OK,
        async |c| cases::update_warehouse(c, &actor, &origin, &area, &code, &patch).await,
    )
    .await
}

/// Filters for `GET /api/v1/warehouses`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WarehouseFilter {
    /// City name, e.g. `Jiangmen`.
    pub city: Option<String>,
    /// `regional_centre`, `city`, `district`, `community` or `agreement`.
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
