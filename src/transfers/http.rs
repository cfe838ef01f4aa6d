//! HTTP handlers for transfers: send, receive, cancel, list and show. Each parses the
//! request, calls one use case of [`super::cases`] and shapes the answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases::{self, ReceiveCmd, SendCmd};
use super::{DiscrepancyReason, ReceivedLine, SendLine, Transfer, TransferStatus};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::respond;
use crate::auth::Actor;
use crate::error::AppResult;
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query};
use crate::ids::{LotId, TransferId};

/// Transfer routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_transfer, list_transfers))
        .routes(routes!(get_transfer))
        .routes(routes!(receive_transfer))
        .routes(routes!(cancel_transfer))
}

/// `POST /api/v1/transfers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransfer {
    /// Source warehouse code; the caller must be a clerk there.
    pub from: String,
    /// Destination warehouse code.
    pub to: String,
    /// Lots and quantities to send.
    pub lines: Vec<CreateTransferLine>,
    /// Free-text note.
    pub note: Option<String>,
}

/// One lot to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransferLine {
    /// A lot of the source warehouse.
    pub lot_id: LotId,
    /// Units, above zero and at most the lot's available (on hand − reserved).
    pub qty: i64,
}

/// `POST /api/v1/transfers/{id}/receive`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveTransfer {
    /// One entry per line sent.
    pub lines: Vec<ReceiveTransferLine>,
    /// Free-text note.
    pub note: Option<String>,
}

/// What arrived of one lot.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveTransferLine {
    /// The source lot, as on the transfer.
    pub lot_id: LotId,
    /// Units that arrived, 0 to the quantity sent.
    pub received_qty: i64,
    /// Required when fewer arrived than were sent.
    pub discrepancy_reason: Option<DiscrepancyReason>,
}

/// `POST /api/v1/transfers/{id}/cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelTransfer {
    /// Why the transfer is called back.
    pub note: Option<String>,
}

/// Filters for `GET /api/v1/transfers`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferFilter {
    /// Warehouse code: transfers from or to it.
    pub warehouse: Option<String>,
    /// `in_transit`, `received` or `cancelled`.
    #[param(inline)]
    pub status: Option<TransferStatus>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<CreateTransfer> for SendCmd {
    fn from(req: CreateTransfer) -> Self {
        SendCmd {
            from: req.from,
            to: req.to,
            lines: req
                .lines
                .iter()
                .map(|l| SendLine {
                    lot: l.lot_id,
                    qty: l.qty,
                })
                .collect(),
            note: req.note,
        }
    }
}

impl From<ReceiveTransfer> for ReceiveCmd {
    fn from(req: ReceiveTransfer) -> Self {
        ReceiveCmd {
            lines: req
                .lines
                .iter()
                .map(|l| ReceivedLine {
                    lot: l.lot_id,
                    received_qty: l.received_qty,
                    reason: l.discrepancy_reason,
                })
                .collect(),
            note: req.note,
        }
    }
}

/// Send stock to another warehouse. It leaves the source lots at once (`transfer_out`)
/// and is in transit until received or cancelled.
#[utoipa::path(post, path = "/api/v1/transfers", tag = "transfers", request_body = CreateTransfer,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = Transfer), (status = 403, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_transfer(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    cmd: Command<CreateTransfer>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let warehouses = &state.warehouse_ids;
    let send = cases::send(&mut tx, &actor, &origin, warehouses, cmd.body.into(), claim).await?;
    respond(tx, &actor, &origin, send, StatusCode::CREATED).await
}

/// Receive a transfer at its destination: each line lands as the same lot code and
/// expiry (`transfer_in`); a short line needs a discrepancy reason.
#[utoipa::path(post, path = "/api/v1/transfers/{id}/receive", tag = "transfers",
    request_body = ReceiveTransfer,
    params(("id" = String, Path, description = "Transfer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Transfer), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn receive_transfer(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<TransferId>,
    cmd: Command<ReceiveTransfer>,
) -> AppResult<Response> {
    let today = state.settings.today();
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let req = cmd.body.into();
    let received = cases::receive(&mut tx, &actor, &origin, id, req, today, claim).await?;
    respond(tx, &actor, &origin, received, StatusCode::OK).await
}

/// Cancel a transfer in transit: the stock returns to its source lots (`transfer_return`).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/cancel", tag = "transfers",
    request_body = CancelTransfer,
    params(("id" = String, Path, description = "Transfer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    security(("bearer" = ["clerk"])),
    responses((status = 200, body = Transfer), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn cancel_transfer(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Path(id): Path<TransferId>,
    cmd: Command<CancelTransfer>,
) -> AppResult<Response> {
    let mut tx = state.writes.begin().await?;
    let claim = async |c: &mut PgConnection| {
        crate::audit::http::claim_key(c, &actor, &origin, &cmd.fingerprint).await
    };
    let note = cmd.body.note.clone();
    let cancelled = cases::cancel(&mut tx, &actor, &origin, id, note, claim).await?;
    respond(tx, &actor, &origin, cancelled, StatusCode::OK).await
}

/// List transfers from or to a warehouse, by status, with their lines and what is in
/// transit.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "transfers", params(TransferFilter),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Transfer>), (status = 400, body = crate::error::Problem)))]
pub async fn list_transfers(
    State(state): State<AppState>,
    _actor: Actor,
    Query(filter): Query<TransferFilter>,
) -> AppResult<Json<Page<Transfer>>> {
    let limit = pagination::limit(filter.limit)?;
    let after: Option<TransferId> = filter
        .cursor
        .as_deref()
        .map(pagination::decode)
        .transpose()?;
    let mut conn = state.reads.acquire().await?;
    let warehouse = filter.warehouse.as_deref();
    let rows = cases::list(&mut conn, warehouse, filter.status, after, limit + 1).await?;
    Ok(Json(pagination::page(rows, limit, |t| t.id)))
}

/// One transfer with its lines and what is in transit.
#[utoipa::path(get, path = "/api/v1/transfers/{id}", tag = "transfers",
    params(("id" = String, Path, description = "Transfer id")),
    security(("bearer" = [])),
    responses((status = 200, body = Transfer), (status = 404, body = crate::error::Problem)))]
pub async fn get_transfer(
    State(state): State<AppState>,
    _actor: Actor,
    Path(id): Path<TransferId>,
) -> AppResult<Json<Transfer>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(cases::get(&mut conn, id).await?))
}
