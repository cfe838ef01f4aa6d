//! `POST /api/v1/imports`: the file is the body (CSV or xlsx), the kind and dry run are
//! query parameters. Admins only (checked before the body is read).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sqlx::Connection;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::cases::{self, ImportCmd};
use super::read::{Format, XLSX_TYPE};
use super::{ImportReport, Kind, MAX_FILE_BYTES};
use crate::app::AppState;
use crate::audit::Origin;
use crate::auth::Actor;
use crate::error::{AppError, AppResult, FieldError, Problem};
use crate::http::{Json, Query, idempotency};

/// Import routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_import))
}

/// Parameters of `POST /api/v1/imports`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `opening-stock`, `items`, `reserve-levels` or `warehouses`.
    #[param(inline)]
    pub kind: Kind,
    /// `true`: check the file and report, write nothing.
    pub dry_run: Option<bool>,
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge {
        detail: format!(
            "the file is larger than the import limit of {} MiB; split it",
            MAX_FILE_BYTES / (1024 * 1024)
        ),
    }
}

/// Import a file: opening stock (lots received with source `opening_balance`), items,
/// reserve levels or warehouses (also as GeoJSON points: each feature's properties are
/// its columns, its point `lat` and `lon`; feature `i` is reported as row `i + 2`), as CSV (UTF-8, with or without BOM; Chinese headers accepted) or xlsx
/// (the first sheet; formula cells are refused). Every row is checked first: a file with
/// any bad cell is a 422 naming each by row (the header is row 1) and column, and nothing
/// is written. A file that passes is written in one transaction with one audit event
/// carrying its SHA-256. The same file imported again replays the first report
/// (`replayed: true`) and writes nothing. Files up to 64 MiB and 200,000 rows.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", params(ImportParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key")),
    request_body(content((String = "text/csv"), (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                         (String = "application/geo+json")),
                 description = "The file"),
    security(("bearer" = ["admin"])),
    responses((status = 201, body = ImportReport, description = "Imported"),
              (status = 200, body = ImportReport, description = "A dry run, or the same file imported before"),
              (status = 403, body = Problem),
              (status = 413, body = Problem, description = "Larger than 64 MiB"),
              (status = 422, body = Problem, description = "Bad cells, each named by row and column")))]
pub async fn create_import(
    State(state): State<AppState>,
    actor: Actor,
    origin: Origin,
    Query(params): Query<ImportParams>,
    req: Request,
) -> AppResult<Response> {
    let media = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
        .unwrap_or_default();
    let format = if media.starts_with(XLSX_TYPE) {
        Format::Xlsx
    } else if media.starts_with("text/csv") {
        Format::Csv
    } else if media.starts_with("application/geo+json") {
        Format::GeoJson
    } else {
        return Err(AppError::BadRequest {
            detail: format!(
                "send the file as text/csv or {XLSX_TYPE} (warehouses also as application/geo+json)"
            ),
            errors: vec![FieldError::new(
                "content-type",
                "expected text/csv or the xlsx type",
            )],
        });
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_FILE_BYTES) {
        return Err(too_large());
    }
    let path = req.uri().to_string();
    let bytes = axum::body::to_bytes(req.into_body(), MAX_FILE_BYTES)
        .await
        .map_err(|_| too_large())?;
    let mut fingerprint = Sha256::new();
    fingerprint.update(b"POST ");
    fingerprint.update(path.as_bytes());
    fingerprint.update(b"\n");
    fingerprint.update(&bytes);
    let fingerprint = hex::encode(fingerprint.finalize());
    let dry_run = params.dry_run.unwrap_or(false);
    let today = state.settings.today();
    let mut conn = state.writes.acquire().await?;
    let mut tx = conn.begin().await?;
    if let Some(replay) =
        crate::audit::http::claim_key(&mut tx, &actor, &origin, &fingerprint).await?
    {
        return Ok(replay);
    }
    let cmd = ImportCmd {
        kind: params.kind,
        bytes: &bytes,
        format,
        dry_run,
        today,
        area: state.settings.service_area,
    };
    let report = cases::run(&mut tx, &actor, &origin, cmd, &|_, _, _| {}).await?;
    let status = if report.dry_run || report.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let key = origin.idempotency_key.as_deref();
    idempotency::finish(&mut tx, actor.id, key, status, &report).await?;
    tx.commit().await?;
    Ok((status, Json(report)).into_response())
}
