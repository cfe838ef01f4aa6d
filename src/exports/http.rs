//! HTTP handlers for exports (auditor, admin). Input is checked in full before the
//! export is audited and started, so bad input is a problem document, never a partial
//! 200.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::db::MovementFilter;
use super::run::{self, ExportRequest, Source};
use super::{CsvOptions, Format};
use crate::audit::http::{EventFilter, READERS, check_window};
use crate::auth::Actor;
use crate::error::{AppError, AppResult};
use crate::http::Query;
use crate::app::AppState;
use crate::audit::Origin;

/// Export routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_movements))
        .routes(routes!(export_audit_events))
        .routes(routes!(export_stock_as_of))
        .routes(routes!(export_requests))
}

/// Parameters of `GET /api/v1/exports/movements`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovementsParams {
    /// Movements created at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Movements created at or before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Warehouse code.
    pub warehouse: Option<String>,
    /// Item SKU.
    pub sku: Option<String>,
    /// `csv` (default), `jsonl` or `xlsx`.
    pub format: Option<Format>,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    pub bom: Option<bool>,
    /// CSV and xlsx: add an HXL hashtag row under the header.
    pub hxl: Option<bool>,
}

/// Parameters of `GET /api/v1/exports/audit-events`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditEventsParams {
    /// Events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events at or before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Username of the actor.
    pub actor: Option<String>,
    /// Entity kind, or `kind:id`.
    pub entity: Option<String>,
    /// Action, or a prefix ending in `.`.
    pub action: Option<String>,
    /// `csv` (default), `jsonl` or `xlsx`.
    pub format: Option<Format>,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    pub bom: Option<bool>,
    /// CSV and xlsx: add an HXL hashtag row under the header.
    pub hxl: Option<bool>,
}

/// Parameters of `GET /api/v1/exports/stock-as-of`.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StockAsOfParams {
    /// The instant (RFC 3339); not in the future.
    pub at: DateTime<Utc>,
    /// `csv` (default), `jsonl` or `xlsx`.
    pub format: Option<Format>,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    pub bom: Option<bool>,
    /// CSV and xlsx: add an HXL hashtag row under the header.
    pub hxl: Option<bool>,
}

fn options(bom: Option<bool>, hxl: Option<bool>) -> CsvOptions {
    CsvOptions {
        bom: bom.unwrap_or(false),
        hxl: hxl.unwrap_or(false),
    }
}

fn filters<T: Serialize>(params: &T) -> serde_json::Value {
    let mut v = serde_json::to_value(params).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    v
}

impl MovementsParams {
    /// The validated request (codes resolved against the database).
    pub async fn into_request(self, pool: &PgPool) -> AppResult<ExportRequest> {
        check_window(self.from, self.to)?;
        let mut conn = pool.acquire().await?;
        let warehouse =
            crate::warehouses::http::warehouse_param(&mut conn, self.warehouse.as_deref()).await?;
        let item = crate::catalog::http::sku_param(&mut conn, self.sku.as_deref()).await?;
        Ok(ExportRequest {
            source: Source::Movements(MovementFilter {
                from: self.from,
                to: self.to,
                warehouse,
                item,
            }),
            format: self.format.unwrap_or_default(),
            csv: options(self.bom, self.hxl),
            filters: filters(&self),
        })
    }
}

impl AuditEventsParams {
    /// The validated request.
    pub fn into_request(self) -> AppResult<ExportRequest> {
        let q = EventFilter {
            from: self.from,
            to: self.to,
            actor: self.actor.clone(),
            entity: self.entity.clone(),
            action: self.action.clone(),
            limit: None,
            cursor: None,
        }
        .to_query()?;
        Ok(ExportRequest {
            source: Source::AuditEvents(q),
            format: self.format.unwrap_or_default(),
            csv: options(self.bom, self.hxl),
            filters: filters(&self),
        })
    }
}

impl StockAsOfParams {
    /// The validated request; `at` must not be in the future.
    pub fn into_request(self) -> AppResult<ExportRequest> {
        if self.at > Utc::now() {
            return Err(AppError::invalid(
                "at",
                "`at` is in the future; stock can only be reported as it stood until now",
            ));
        }
        Ok(ExportRequest {
            source: Source::StockAsOf(self.at),
            format: self.format.unwrap_or_default(),
            csv: options(self.bom, self.hxl),
            filters: filters(&self),
        })
    }
}

async fn respond(
    state: &AppState,
    actor: &Actor,
    origin: &Origin,
    req: ExportRequest,
) -> AppResult<Response> {
    let format = req.format;
    let export = run::start(&state.pool, actor, origin, req).await?;
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

/// Parameters of `GET /api/v1/exports/requests`.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestsParams {
    /// Only this incident's requests.
    pub incident: Option<uuid::Uuid>,
    /// `csv` (default), `jsonl` or `xlsx`.
    pub format: Option<Format>,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    pub bom: Option<bool>,
    /// CSV and xlsx: add an HXL hashtag row under the header.
    pub hxl: Option<bool>,
}

impl RequestsParams {
    /// The validated request; an unknown incident is a 400 naming `incident`.
    pub async fn into_request(self, pool: &PgPool) -> AppResult<ExportRequest> {
        if let Some(id) = self.incident {
            let mut conn = pool.acquire().await?;
            let exists = super::db::incident_exists(&mut conn, id).await?;
            if !exists {
                return Err(AppError::bad_request(
                    "incident",
                    format!("unknown incident `{id}`"),
                ));
            }
        }
        Ok(ExportRequest {
            source: Source::Requests(self.incident),
            format: self.format.unwrap_or_default(),
            csv: options(self.bom, self.hxl),
            filters: filters(&self),
        })
    }
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
