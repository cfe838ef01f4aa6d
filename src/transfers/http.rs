//! HTTP handlers for transfers: send, receive, cancel, list and show.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    DiscrepancyReason, ReceivedLine, SendLine, Transfer, TransferStatus, check_send_lines, db,
    match_receipt,
};
use crate::app::AppState;
use crate::audit;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::pagination::{self, Page};
use crate::http::{Command, Json, Path, Query};
use crate::ids::{LotId, TransferId};
use crate::stock::db::{Movement, insert_movement};

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
    pub status: Option<TransferStatus>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn closed_conflict(status: &str, verb: &str) -> AppError {
    AppError::Conflict {
        detail: format!(
            "the transfer is already {status}; only a transfer in transit can be {verb}"
        ),
        errors: vec![],
        extra: Some(json!({ "transfer_status": status })),
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
    let req = cmd.body;
    let lines: Vec<SendLine> = req
        .lines
        .iter()
        .map(|l| SendLine {
            lot: l.lot_id,
            qty: l.qty,
        })
        .collect();
    check_send_lines(&lines)?;
    let mut tx = state.writes.begin().await?;
    let from = state
        .warehouse_ids
        .find(&mut tx, &req.from)
        .await?
        .ok_or_else(|| AppError::invalid("/from", format!("unknown warehouse `{}`", req.from)))?;
    let to = state
        .warehouse_ids
        .find(&mut tx, &req.to)
        .await?
        .ok_or_else(|| AppError::invalid("/to", format!("unknown warehouse `{}`", req.to)))?;
    if from.id == to.id {
        return Err(AppError::invalid(
            "/to",
            "a transfer must go to another warehouse than its source",
        ));
    }
    actor.require_warehouse(from.id, &from.code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }

    let ids: Vec<LotId> = lines.iter().map(|l| l.lot).collect();
    let locked = db::lock_lots(&mut tx, &ids).await?;
    for (i, line) in lines.iter().enumerate() {
        let lot = locked
            .iter()
            .find(|l| l.id == line.lot)
            .filter(|l| l.warehouse_id == from.id)
            .ok_or_else(|| {
                AppError::invalid(
                    format!("/lines/{i}/lot_id"),
                    format!("lot {} is not a lot of warehouse {}", line.lot, from.code),
                )
            })?;
        if lot.status == "quarantined" {
            return Err(AppError::conflict(
                format!("/lines/{i}/lot_id"),
                format!(
                    "lot {} ({}) is quarantined and cannot be transferred",
                    lot.id, lot.lot_code
                ),
                Some(json!({ "lot_id": lot.id, "lot_status": "quarantined" })),
            ));
        }
        let available = lot.on_hand - lot.reserved;
        if line.qty > available {
            return Err(AppError::conflict(
                format!("/lines/{i}/qty"),
                format!(
                    "lot {} has {available} available (on hand {} − reserved {}); cannot send {}",
                    lot.lot_code, lot.on_hand, lot.reserved, line.qty
                ),
                Some(json!({ "lot_id": lot.id, "available": available })),
            ));
        }
    }

    let id = TransferId::new();
    db::insert_transfer(
        &mut tx,
        &db::NewTransfer {
            id,
            from: from.id,
            to: to.id,
            note: req.note.as_deref(),
            created_by: actor.id,
        },
    )
    .await?;
    for (i, line) in lines.iter().enumerate() {
        let line_no = i32::try_from(i).map_err(anyhow::Error::from)?;
        db::insert_line(&mut tx, id, line_no, line.lot, line.qty).await?;
        insert_movement(
            &mut tx,
            &Movement {
                lot: line.lot,
                kind: "transfer_out",
                qty: -line.qty,
                reserved_delta: 0,
                reason: None,
                note: req.note.as_deref(),
                ref_kind: Some("transfer"),
                ref_id: Some(id.0),
                actor: actor.id,
                request_id: origin.request_id.as_deref(),
                idempotency_key: origin.idempotency_key.as_deref(),
            },
        )
        .await?;
    }
    let transfer = db::get(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("transfer {id} vanished"))?;
    let body = serde_json::to_value(&transfer).map_err(anyhow::Error::from)?;
    let change = audit::Change {
        action: "transfer.send",
        entity_kind: "transfer",
        entity_id: id.to_string(),
        before: None,
        after: Some(body.clone()),
    };
    let res =
        crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::CREATED, body)
            .await?;
    tracing::info!(transfer.id = %id, "transfer sent");
    Ok(res)
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
    let req = cmd.body;
    let mut tx = state.writes.begin().await?;
    let t = db::lock_transfer(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no transfer with id {id}")))?;
    actor.require_warehouse(t.to_warehouse_id, &t.to_code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    if t.status != "in_transit" {
        return Err(closed_conflict(&t.status, "received"));
    }
    let before = db::get(&mut tx, id).await?;
    let sent = db::sent_lines(&mut tx, id).await?;
    let report: Vec<ReceivedLine> = req
        .lines
        .iter()
        .map(|l| ReceivedLine {
            lot: l.lot_id,
            received_qty: l.received_qty,
            reason: l.discrepancy_reason,
        })
        .collect();
    let pairs: Vec<(LotId, i64)> = sent.iter().map(|s| (s.lot_id, s.qty)).collect();
    let received = match_receipt(&pairs, &report)?;

    // Find or create the destination lots, in (item, lot code) order so that two
    // receipts creating the same lots wait on each other instead of deadlocking; then
    // lock them in id order.
    let today = Utc::now().with_timezone(&state.settings.tz).date_naive();
    let mut order: Vec<usize> = (0..sent.len()).collect();
    order.sort_by(|&x, &y| {
        (sent[x].item_id, &sent[x].lot_code).cmp(&(sent[y].item_id, &sent[y].lot_code))
    });
    let mut dest: Vec<Option<LotId>> = vec![None; sent.len()];
    for k in order {
        let (s, r) = (&sent[k], &received[k]);
        if r.received_qty == 0 {
            continue;
        }
        let (lot, expires_on) = db::find_or_create_lot(
            &mut tx,
            s.item_id,
            t.to_warehouse_id,
            &s.lot_code,
            s.expires_on,
            today,
            s.donor.as_deref(),
        )
        .await?;
        if expires_on != s.expires_on {
            let pos = report.iter().position(|x| x.lot == s.lot_id).unwrap_or(0);
            let show =
                |d: Option<chrono::NaiveDate>| d.map_or("none".to_owned(), |d| d.to_string());
            return Err(AppError::conflict(
                format!("/lines/{pos}/lot_id"),
                format!(
                    "lot {} at {} expires on {}, but the lot sent expires on {}",
                    s.lot_code,
                    t.to_code,
                    show(expires_on),
                    show(s.expires_on)
                ),
                Some(json!({ "dest_expires_on": expires_on, "sent_expires_on": s.expires_on })),
            ));
        }
        dest[k] = Some(lot);
    }
    let dest_ids: Vec<LotId> = dest.iter().flatten().copied().collect();
    db::lock_lots(&mut tx, &dest_ids).await?;
    let note = req.note.as_deref();
    for ((s, r), d) in sent.iter().zip(&received).zip(&dest) {
        if let Some(lot) = d {
            insert_movement(
                &mut tx,
                &Movement {
                    lot: *lot,
                    kind: "transfer_in",
                    qty: r.received_qty,
                    reserved_delta: 0,
                    reason: r.reason.map(DiscrepancyReason::as_str),
                    note,
                    ref_kind: Some("transfer"),
                    ref_id: Some(id.0),
                    actor: actor.id,
                    request_id: origin.request_id.as_deref(),
                    idempotency_key: origin.idempotency_key.as_deref(),
                },
            )
            .await?;
        }
        db::set_line_received(
            &mut tx,
            id,
            s.line_no,
            r.received_qty,
            r.reason.map(DiscrepancyReason::as_str),
            *d,
        )
        .await?;
    }
    db::close(
        &mut tx,
        id,
        TransferStatus::Received.as_str(),
        actor.id,
        note,
    )
    .await?;
    let transfer = db::get(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("transfer {id} vanished"))?;
    let body = serde_json::to_value(&transfer).map_err(anyhow::Error::from)?;
    let change = audit::Change {
        action: "transfer.receive",
        entity_kind: "transfer",
        entity_id: id.to_string(),
        before: Some(serde_json::to_value(&before).map_err(anyhow::Error::from)?),
        after: Some(body.clone()),
    };
    let res = crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::OK, body)
        .await?;
    tracing::info!(transfer.id = %id, "transfer received");
    Ok(res)
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
    let req = cmd.body;
    let mut tx = state.writes.begin().await?;
    let t = db::lock_transfer(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no transfer with id {id}")))?;
    actor.require_warehouse(t.from_warehouse_id, &t.from_code)?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &cmd.fingerprint).await?
    {
        return Ok(replay);
    }
    if t.status != "in_transit" {
        return Err(closed_conflict(&t.status, "cancelled"));
    }
    let before = db::get(&mut tx, id).await?;
    let sent = db::sent_lines(&mut tx, id).await?;
    let ids: Vec<LotId> = sent.iter().map(|s| s.lot_id).collect();
    db::lock_lots(&mut tx, &ids).await?;
    let note = req.note.as_deref();
    for s in &sent {
        insert_movement(
            &mut tx,
            &Movement {
                lot: s.lot_id,
                kind: "transfer_return",
                qty: s.qty,
                reserved_delta: 0,
                reason: None,
                note,
                ref_kind: Some("transfer"),
                ref_id: Some(id.0),
                actor: actor.id,
                request_id: origin.request_id.as_deref(),
                idempotency_key: origin.idempotency_key.as_deref(),
            },
        )
        .await?;
    }
    db::close(
        &mut tx,
        id,
        TransferStatus::Cancelled.as_str(),
        actor.id,
        note,
    )
    .await?;
    let transfer = db::get(&mut tx, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("transfer {id} vanished"))?;
    let body = serde_json::to_value(&transfer).map_err(anyhow::Error::from)?;
    let change = audit::Change {
        action: "transfer.cancel",
        entity_kind: "transfer",
        entity_id: id.to_string(),
        before: Some(serde_json::to_value(&before).map_err(anyhow::Error::from)?),
        after: Some(body.clone()),
    };
    let res = crate::audit::http::finish_command(tx, &actor, &origin, change, StatusCode::OK, body)
        .await?;
    tracing::info!(transfer.id = %id, "transfer cancelled");
    Ok(res)
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
    let mut conn = state.pool.acquire().await?;
    let warehouse = match &filter.warehouse {
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
    let rows = db::list(
        &mut conn,
        warehouse,
        filter.status.map(TransferStatus::as_str),
        after,
        limit + 1,
    )
    .await?;
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
    db::get(&mut conn, id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::not_found(format!("no transfer with id {id}")))
}
