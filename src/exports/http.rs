//! HTTP handlers for exports (auditor, admin). Input is checked in full before the
//! export is audited and started, so bad input is a problem document, never a partial
//! 200.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::params::{
    AuditEventsParams, MasterDataParams, MovementsParams, RequestsParams, StockAsOfParams,
};
use super::run::{self, ExportRequest, Source};
use crate::app::AppState;
use crate::audit::Origin;
use crate::audit::http::READERS;
use crate::auth::Actor;
use crate::error::AppResult;
use crate::http::Query;

/// Export routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_movements))
        .routes(routes!(export_audit_events))
        .routes(routes!(export_stock_as_of))
        .routes(routes!(export_requests))
        .routes(routes!(export_items))
        .routes(routes!(export_reserve_levels))
        .routes(routes!(export_warehouses))
}

async fn respond(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    req: ExportRequest,
) -> AppResult<Response> {
    let format = req.format;
    let export = run::start(&state.pool, state.replica(), actor, origin, req).await?;
    let m = &export.manifest;
    let mut res = Response::new(Body::from_stream(export.body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let pairs = [
        ("x-audit-seq-from", m.audit_seq_from.to_string()),
        ("x-audit-seq-to", m.audit_seq_to.to_string()),
        ("x-audit-last-hash", m.audit_last_hash.clone()),
        ("x-audit-export-seq", m.export_event_seq.to_string()),
        (
            "content-disposition",
            format!("attachment; filename=\"{}\"", export.file_name),
        ),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    Ok(res)
}

const EXPORT_HEADERS: &str = "Headers X-Audit-Seq-From, X-Audit-Seq-To and X-Audit-Last-Hash name the \
    part of the audit chain the export was read against; X-Audit-Export-Seq is the event recording \
    this export. The same facts, with the row count, close the file as a manifest.";

/// Export ledger movements (streamed). Headers and the trailing manifest name the
/// audit chain range the export was read against.
#[utoipa::path(get, path = "/api/v1/exports/movements", tag = "exports", params(MovementsParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn export_movements(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<MovementsParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    let req = params.into_request(&state.pool).await?;
    respond(&state, &actor, &origin, req).await
}

/// Export audit events (streamed), with their hashes, so a recipient can recompute the chain.
#[utoipa::path(get, path = "/api/v1/exports/audit-events", tag = "exports", params(AuditEventsParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn export_audit_events(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<AuditEventsParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    let req = params.into_request()?;
    respond(&state, &actor, &origin, req).await
}

/// Export every lot's balance as it stood at `at`, rebuilt from the ledger.
#[utoipa::path(get, path = "/api/v1/exports/stock-as-of", tag = "exports", params(StockAsOfParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn export_stock_as_of(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<StockAsOfParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    let req = params.into_request()?;
    respond(&state, &actor, &origin, req).await
}

/// Export what was requested, reserved, dispatched and delivered, per incident.
#[utoipa::path(get, path = "/api/v1/exports/requests", tag = "exports", params(RequestsParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn export_requests(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<RequestsParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    let req = params.into_request(&state.pool).await?;
    respond(&state, &actor, &origin, req).await
}

/// Export the catalogue in the items import format (GTINs joined by `;`): importing the
/// file back (`POST /api/v1/imports?kind=items`) changes nothing. Text that a
/// spreadsheet would take for a formula gets a leading apostrophe in CSV and xlsx.
#[utoipa::path(get, path = "/api/v1/exports/items", tag = "exports", params(MasterDataParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn export_items(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<MasterDataParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    respond(&state, &actor, &origin, params.into_request(Source::Items)).await
}

/// Export every reserve level in the reserve-levels import format (`warehouse`, `sku`,
/// `min_qty`): importing the file back changes nothing.
#[utoipa::path(get, path = "/api/v1/exports/reserve-levels", tag = "exports", params(MasterDataParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn export_reserve_levels(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<MasterDataParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    respond(
        &state,
        &actor,
        &origin,
        params.into_request(Source::ReserveLevels),
    )
    .await
}

/// Export every warehouse in the warehouses import format (positions as exact decimal
/// text, the parent by code): importing the file back changes nothing.
#[utoipa::path(get, path = "/api/v1/exports/warehouses", tag = "exports", params(MasterDataParams),
    description = EXPORT_HEADERS,
    security(("bearer" = ["auditor", "admin"])),
    responses((status = 200, description = "The file, in the requested format",
               content((String = "text/csv"), (String = "application/x-ndjson"),
                       (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn export_warehouses(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<MasterDataParams>,
) -> AppResult<Response> {
    actor.require(READERS)?;
    respond(
        &state,
        &actor,
        &origin,
        params.into_request(Source::Warehouses),
    )
    .await
}
