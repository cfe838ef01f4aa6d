//! HTTP handlers for stock lots and the clerk operations on them: receipts, issues,
//! adjustments, quarantine, reserve levels, scans, stock cards and the movement log.
//!
//! Handlers parse, call one use case of [`super::cases`] and answer. A mutation runs as
//! [`Run`] starts it: without an Idempotency-Key on a plain connection (the use case
//! tries its one statement, and only a refusal or a new lot takes a transaction); with
//! one, in a transaction that claims the key first, so that a retry replays the stored
//! answer, and that commits the effect, its audit event and the answer together. Keyed
//! receipts, issues and adjustments first try the one statement that also claims the
//! key and stores the answer (`cases::receive_claiming`, `cases::move_stock_claiming`),
//! and start a [`Run`] only when it wrote nothing.

mod levels;
mod lots;
mod movements;
mod receipts;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases::Scope;
use super::{Lot, LotStatus, db};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Json, Path, Query};
use crate::ids::LotId;
pub use levels::*;
pub use lots::*;
pub use movements::*;
pub use receipts::*;

/// Stock routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_lots))
        .routes(routes!(get_lot))
        .routes(routes!(receipts::create_receipt))
        .routes(routes!(receipts::decode_scan))
        .routes(routes!(movements::create_issue))
        .routes(routes!(movements::get_pick_suggestion))
        .routes(routes!(movements::create_adjustment))
        .routes(routes!(lots::quarantine_lot))
        .routes(routes!(lots::release_lot))
        .routes(routes!(
            levels::set_reserve_levels,
            levels::list_reserve_levels
        ))
        .routes(routes!(lots::get_lot_card))
        .routes(routes!(lots::list_movements))
}

/// A mutation under way on a writer connection, answering with a fixed status.
enum Run<'c> {
    /// No Idempotency-Key: the use case runs on the connection as it is.
    Own(&'c mut PgConnection, StatusCode),
    /// The key is claimed in this transaction, which the answer commits.
    Keyed(Transaction<'c, Postgres>, StatusCode),
}

/// How [`Run::start`] went.
enum Started<'c> {
    /// Go ahead.
    Go(Run<'c>),
    /// The same request was already done: its stored answer.
    Replay(Response),
}

impl<'c> Run<'c> {
    /// Starts a mutation that answers `status`: without an Idempotency-Key, on `conn` as
    /// it is; with one, in a transaction on `conn` that claims the key first (or finds
    /// the answer to replay, or a 422 for a key used for another request).
    async fn start(
        conn: &'c mut PgConnection,
        actor: &Actor,
        origin: &Origin,
        fingerprint: &str,
        status: StatusCode,
    ) -> AppResult<Started<'c>> {
        if origin.idempotency_key.is_none() {
            return Ok(Started::Go(Run::Own(conn, status)));
        }
        let mut tx = conn.begin().await?;
        if let Some(replay) =
            crate::audit::http::claim_key(&mut tx, actor, origin, fingerprint).await?
        {
            return Ok(Started::Replay(replay));
        }
        Ok(Started::Go(Run::Keyed(tx, status)))
    }

    /// Where the use case runs.
    fn scope(&mut self) -> Scope<'_> {
        match self {
            Run::Own(conn, _) => Scope::Own(conn),
            Run::Keyed(tx, status) => Scope::Keyed {
                conn: tx,
                status: *status,
            },
        }
    }

    /// Commits a keyed mutation (the use case stored its answer) and answers `out`.
    async fn answer<T: Serialize>(self, out: T) -> AppResult<Response> {
        let status = match self {
            Run::Own(_, status) => status,
            Run::Keyed(tx, status) => {
                tx.commit().await?;
                status
            }
        };
        Ok((status, Json(out)).into_response())
    }
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

impl LotFilter {
    /// The status and the last expiry day asked for, checked.
    fn parse(&self, today: NaiveDate) -> AppResult<(Option<LotStatus>, Option<NaiveDate>)> {
        let status = self
            .status
            .as_deref()
            .map(str::parse::<LotStatus>)
            .transpose()
            .map_err(|e| AppError::bad_request("status", e))?;
        let expiring_by = match self.expiring_within_days {
            Some(days @ 0..=3650) => Some(today + chrono::Days::new(days.unsigned_abs())),
            Some(_) => {
                return Err(AppError::bad_request(
                    "expiring_within_days",
                    "expiring_within_days must be between 0 and 3650",
                ));
            }
            None => None,
        };
        Ok((status, expiring_by))
    }
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
    let today = state.settings.today();
    let (status, expiring_by) = filter.parse(today)?;
    let mut conn = state.reads.acquire().await?;
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
        status,
        expiring_by,
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
