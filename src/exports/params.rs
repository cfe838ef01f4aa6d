//! The parameters of each export as the API and the CLI give them, and their check into
//! an [`ExportRequest`]: every bad value is a problem naming the parameter, found before
//! anything is audited or streamed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::IntoParams;

use super::db::MovementFilter;
use super::run::{ExportRequest, Source};
use super::{CsvOptions, Format};
use crate::audit::http::{EventFilter, check_window};
use crate::error::{AppError, AppResult};

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
    #[param(inline)]
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
    #[param(inline)]
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
    #[param(inline)]
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
        crate::http::instant_param("at", Some(self.at))?;
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

/// Parameters of `GET /api/v1/exports/requests`.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestsParams {
    /// Only this incident's requests.
    pub incident: Option<uuid::Uuid>,
    /// `csv` (default), `jsonl` or `xlsx`.
    #[param(inline)]
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

/// Parameters of the master-data exports (`/exports/items`, `/exports/reserve-levels`),
/// written in their import format: importing the file back changes nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MasterDataParams {
    /// `csv` (default), `jsonl` or `xlsx`.
    #[param(inline)]
    pub format: Option<Format>,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    pub bom: Option<bool>,
    /// CSV and xlsx: add an HXL hashtag row under the header (the importer skips it).
    pub hxl: Option<bool>,
}

impl MasterDataParams {
    /// The request for `source`.
    pub fn into_request(self, source: Source) -> ExportRequest {
        ExportRequest {
            source,
            format: self.format.unwrap_or_default(),
            csv: options(self.bom, self.hxl),
            filters: filters(&self),
        }
    }
}
