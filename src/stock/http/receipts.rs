//! Receipts, and the scan decoder the receipt screen uses.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Run, Started};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::auth::guard::ClerkWarehouse;
use crate::catalog::Item;
use crate::error::{AppError, AppResult};
use crate::http::{Command, Json};
use crate::stock::cases::{self, Claiming};
pub use crate::stock::receipt::{ReceiptLine, ReceiptResponse, ReceiptResult};

/// A receipt: stock arriving at a warehouse.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// One line per lot received.
    pub lines: Vec<ReceiptLine>,
}

/// Receive stock into a warehouse. Adds to an existing lot with the same item and lot
/// code (its expiry must match); creates the lot otherwise. All lines or none.
#[utoipa::path(post, path = "/api/v1/warehouses/{code}/receipts", tag = "stock",
    params(("code" = String, Path, description = "Warehouse code"),
           ("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    request_body = ReceiptRequest,
    security(("bearer" = ["clerk"])),
    responses((status = 201, body = ReceiptResponse),
              (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn create_receipt(
    State(state): State<AppState>,
    actor: Actor,
    ClerkWarehouse(wh): ClerkWarehouse,
    origin: Origin,
    cmd: Command<ReceiptRequest>,
) -> AppResult<Response> {
    for (i, line) in cmd.body.lines.iter().enumerate() {
        crate::http::date_field(&format!("/lines/{i}/expires_on"), line.expires_on)?;
        crate::http::date_field(&format!("/lines/{i}/production_date"), line.production_date)?;
    }
    let today = state.settings.today();
    let mut conn = state.writes.acquire().await?;
    let status = StatusCode::CREATED;
    let items = &state.item_policies;
    let lines = cmd.body.lines;
    if origin.idempotency_key.is_some() {
        let claiming = Claiming {
            conn: &mut conn,
            fingerprint: &cmd.fingerprint,
            status,
        };
        let again = lines.clone();
        let one = cases::receive_claiming(claiming, &actor, &origin, items, &wh, again, today);
        if let Some(out) = one.await? {
            return Ok((status, Json(out)).into_response());
        }
    }
    let mut run = match Run::start(&mut conn, &actor, &origin, &cmd.fingerprint, status).await? {
        Started::Go(run) => run,
        Started::Replay(replay) => return Ok(replay),
    };
    let out = cases::receive(run.scope(), &actor, &origin, items, &wh, lines, today).await?;
    run.answer(out).await
}

/// A scan to decode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// What the scanner typed.
    pub scan: String,
}

/// What a scan says.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecodedScan {
    /// GTIN-14.
    pub gtin: Option<String>,
    /// The catalogue item with that GTIN, if any.
    pub item: Option<Item>,
    /// Lot code, AI (10).
    pub lot_code: Option<String>,
    /// Expiry, AI (17).
    pub expires_on: Option<NaiveDate>,
    /// Production date, AI (11).
    pub production_date: Option<NaiveDate>,
    /// Count, AI (30) or (37).
    pub count: Option<u64>,
    /// Serial, AI (21).
    pub serial: Option<String>,
}

/// Decode a GS1 scan and find its catalogue item.
#[utoipa::path(post, path = "/api/v1/scans/decode", tag = "stock",
    request_body = ScanRequest,
    security(("bearer" = [])),
    responses((status = 200, body = DecodedScan), (status = 422, body = crate::error::Problem)))]
pub async fn decode_scan(
    State(state): State<AppState>,
    _actor: Actor,
    Json(req): Json<ScanRequest>,
) -> AppResult<Json<DecodedScan>> {
    let scan = crate::gs1::parse(&req.scan, state.settings.today())
        .map_err(|e| AppError::invalid("/scan", e.to_string()))?;
    let item = match &scan.gtin {
        None => None,
        Some(gtin) => {
            let mut conn = state.pool.acquire().await?;
            crate::catalog::db::item_by_gtin(&mut conn, gtin).await?
        }
    };
    Ok(Json(DecodedScan {
        gtin: scan.gtin,
        item,
        lot_code: scan.lot,
        expires_on: scan.expiry,
        production_date: scan.production,
        count: scan.count,
        serial: scan.serial,
    }))
}
