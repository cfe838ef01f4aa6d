//! The one error type of the service, rendered as RFC 9457 `application/problem+json`.
//!
//! Domain modules define small error enums and convert into [`AppError`]. Server errors
//! keep their text out of the response and are logged once, at the response boundary.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// One offending field or parameter, named by a JSON pointer (`/lines/0/qty`) or a
/// query-parameter name (`warehouse`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer into the request body, or the query/path parameter name.
    pub pointer: String,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// A field error for `pointer`.
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed syntax: unparseable JSON, unknown query parameter, bad cursor.
    #[error("{detail}")]
    BadRequest {
        /// Human-readable explanation.
        detail: String,
        /// Offending fields.
        errors: Vec<FieldError>,
    },
    /// Well-formed but semantically invalid input.
    #[error("{detail}")]
    Validation {
        /// Human-readable explanation.
        detail: String,
        /// Offending fields.
        errors: Vec<FieldError>,
    },
    /// An uploaded file with problems: an import's bad cells, each named in `errors` and,
    /// with its row, column and cell reference, in `extra` (`cells`); or a road network's
    /// bad edges, each in `extra` (`edges`) by feature index, edge id, field and reason.
    /// A 422.
    #[error("{detail}")]
    InvalidFile {
        /// Human-readable explanation.
        detail: String,
        /// One per bad cell (pointer `/{row}/{column}`) or edge member.
        errors: Vec<FieldError>,
        /// `error_count`, and `cells` or `edges`.
        extra: Value,
    },
    /// A body larger than the operation accepts (a 413).
    #[error("{detail}")]
    PayloadTooLarge {
        /// Human-readable explanation, naming the limit.
        detail: String,
    },
    /// No credentials, or bad or expired ones.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state; `extra` carries facts such as the
    /// quantity still available.
    #[error("{detail}")]
    Conflict {
        /// Human-readable explanation.
        detail: String,
        /// Offending fields.
        errors: Vec<FieldError>,
        /// Extra members merged into the problem document.
        extra: Option<Value>,
    },
    /// Too many attempts; retry after this many seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// Human-readable explanation.
        detail: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The database cannot be reached just now (it is down, restarting, hung, or out
    /// of connections). Nothing was acknowledged; a request cut off in its commit may
    /// or may not have been done, so clients retry after `retry_after_secs` with the
    /// same Idempotency-Key.
    #[error("{detail}")]
    Unavailable {
        /// What is unavailable, for the client.
        detail: String,
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// Anything the client cannot fix. Its text is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Shorthand used by every handler.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// A 422 naming one field.
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        AppError::Validation {
            errors: vec![FieldError::new(pointer, detail.clone())],
            detail,
        }
    }

    /// A 400 naming one field or parameter.
    pub fn bad_request(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        AppError::BadRequest {
            errors: vec![FieldError::new(pointer, detail.clone())],
            detail,
        }
    }

    /// A 409 naming one field, with extra members.
    pub fn conflict(
        pointer: impl Into<String>,
        detail: impl Into<String>,
        extra: Option<Value>,
    ) -> Self {
        let detail = detail.into();
        AppError::Conflict {
            errors: vec![FieldError::new(pointer, detail.clone())],
            detail,
            extra,
        }
    }

    /// A 404 for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation { .. } | AppError::InvalidFile { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::BadRequest { .. } => "bad-request",
            AppError::Validation { .. } => "validation",
            AppError::InvalidFile { .. } => "invalid-file",
            AppError::PayloadTooLarge { .. } => "payload-too-large",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict { .. } => "conflict",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors, extra) = match self {
            AppError::BadRequest { detail, errors } | AppError::Validation { detail, errors } => {
                (detail.clone(), errors.clone(), None)
            }
            AppError::Conflict {
                detail,
                errors,
                extra,
            } => (detail.clone(), errors.clone(), extra.clone()),
            AppError::InvalidFile {
                detail,
                errors,
                extra,
            } => (detail.clone(), errors.clone(), Some(extra.clone())),
            AppError::Internal(_) => (
                "the server failed to handle this request; it has been logged".to_owned(),
                vec![],
                None,
            ),
            other => (other.to_string(), vec![], None),
        };
        Problem {
            type_: format!("https://stockpile.invalid/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
            extra,
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The offending fields, each named by a JSON pointer or parameter name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extra facts (for example `available`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extra: Option<Value>,
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(err) => tracing::error!(error = ?err, "request failed"),
            AppError::Unavailable { detail, .. } => {
                tracing::warn!(%detail, "request not answered: the database is unavailable");
            }
            _ => {}
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            AppError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            }
            | AppError::Unavailable {
                retry_after_secs, ..
            } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(detail) = unavailable(&err) {
            if connection_lost(&err) {
                // Tell the pools now rather than when the change listener notices.
                crate::db::connections_lost();
            }
            return AppError::Unavailable {
                detail: format!(
                    "the database is unavailable ({detail}); retry shortly with the same \
                     Idempotency-Key, which never repeats what was done"
                ),
                retry_after_secs: 2,
            };
        }
        if let Some(db) = err.as_database_error() {
            if let Some(mapped) = db.constraint().and_then(on_constraint) {
                // Our triggers' messages are written for clients (they name the SKU).
                return match (mapped, db.constraint()) {
                    (
                        AppError::Validation { mut errors, .. },
                        Some(
                            "stock_movements_item_active" | "allocation_request_lines_item_active",
                        ),
                    ) => {
                        let detail = db.message().to_owned();
                        for e in &mut errors {
                            e.detail.clone_from(&detail);
                        }
                        AppError::Validation { detail, errors }
                    }
                    (mapped, _) => mapped,
                };
            }
            // Serialization failures and deadlocks are retryable; say so.
            if matches!(db.code().as_deref(), Some("40001") | Some("40P01")) {
                return AppError::Conflict {
                    detail: "the request collided with a concurrent change; retry it".into(),
                    errors: vec![],
                    extra: None,
                };
            }
        }
        AppError::Internal(err.into())
    }
}

/// Why `err` means the database cannot be reached just now, or `None` when it is about
/// this request. A lost or refused connection, a pool with no connection to give within
/// its timeout, and PostgreSQL's own "shutting down", "starting up", "disk full", "out of
/// memory" and "too many connections" (SQLSTATE class 08, 57P01–57P03, 53100–53300) are
/// all things a retry fixes once the operator or the supervisor has.
/// A statement cut off by a lost connection may or may not have committed; a client
/// that retries with the same `Idempotency-Key` finds out which without doing it twice.
pub fn unavailable(err: &sqlx::Error) -> Option<&'static str> {
    match err {
        sqlx::Error::Io(_) => Some("connection lost"),
        sqlx::Error::PoolTimedOut => Some("no connection within the timeout"),
        sqlx::Error::PoolClosed => Some("shutting down"),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(code) if code.starts_with("08") => Some("connection failure"),
            Some("57P01" | "57P02") => Some("the server is shutting down"),
            Some("57P03") => Some("the server is starting up"),
            Some("53100") => Some("its disk is full"),
            Some("53200") => Some("it is out of memory"),
            Some("53300") => Some("too many connections"),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `err` says that the connection itself is gone (as when the server died or
/// was shut down), not only that none could be had.
fn connection_lost(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P02"),
        _ => false,
    }
}

/// Maps a named constraint violation to the client error it stands for. The database
/// enforces the invariant; this only explains it.
pub fn on_constraint(name: &str) -> Option<AppError> {
    let (pointer, status_conflict, detail) = match name {
        "stock_lots_on_hand_nonneg" => ("/qty", true, "not enough stock on hand in the lot"),
        "stock_lots_reserved_range" => (
            "/qty",
            true,
            "the lot's stock is reserved for allocations; not enough is available",
        ),
        "items_sku_key" => ("/sku", true, "an item with this SKU already exists"),
        "items_gtin_key" | "item_gtins_pkey" => {
            ("/gtins", true, "another item already has this GTIN")
        }
        "items_shelf_life_positive" => ("/shelf_life_days", false, "must be at least 1 day"),
        "warehouses_parent_acyclic" => (
            "/parent",
            false,
            "the warehouse would resupply itself through its parents",
        ),
        "warehouses_parent_not_self" => ("/parent", false, "a warehouse cannot be its own parent"),
        "warehouses_code_key" => ("/code", true, "a warehouse with this code already exists"),
        "users_username_key" => ("/username", true, "this username is taken"),
        "stock_lots_identity_key" => ("/lot_code", true, "this lot already exists"),
        // Raised by triggers (migration 230) when an item was retired while a receipt or
        // request was in flight; the receipt and request use cases name the line
        // themselves (a rationing round keeps `/lines`).
        "stock_movements_item_active" => (
            "/sku",
            false,
            "the item is retired: it is no longer received (reactivate it first)",
        ),
        "allocation_request_lines_item_active" => (
            "/lines",
            false,
            "an item of the request is retired: it can no longer be requested",
        ),
        "warehouses_lat_range" => ("/lat", false, "latitude must be between -90 and 90"),
        "warehouses_lon_range" => ("/lon", false, "longitude must be between -180 and 180"),
        _ => return None,
    };
    Some(if status_conflict {
        AppError::conflict(pointer, detail, None)
    } else {
        AppError::invalid(pointer, detail)
    })
}

/// The DETAIL of an error that a trigger raised naming `constraint` (such as the SKU of
/// a retired item), or `None` for any other error.
pub fn raised_detail<'e>(err: &'e sqlx::Error, constraint: &str) -> Option<&'e str> {
    let db = err.as_database_error()?;
    if db.constraint() != Some(constraint) {
        return None;
    }
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?
        .detail()
}

impl From<axum::Error> for AppError {
    fn from(err: axum::Error) -> Self {
        AppError::Internal(err.into())
    }
}

/// `Ok` when `errors` is empty, else one 422 naming every offending field (its detail
/// is the first problem, with how many more there are).
pub fn validation(errors: Vec<FieldError>) -> Result<(), AppError> {
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(AppError::Validation {
            detail: if errors.len() == 1 {
                first.detail.clone()
            } else {
                format!("{} (and {} more problems)", first.detail, errors.len() - 1)
            },
            errors,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::from(kind))
    }

    #[test]
    fn a_database_out_of_reach_is_a_503_problem_with_retry_after() {
        for err in [
            io(std::io::ErrorKind::ConnectionRefused),
            io(std::io::ErrorKind::UnexpectedEof),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            let shown = format!("{err}");
            let response = AppError::from(err).into_response();
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{shown}"
            );
            let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
            assert_eq!(header(header::CONTENT_TYPE), Some(PROBLEM_JSON), "{shown}");
            assert_eq!(header(header::RETRY_AFTER), Some("2"), "{shown}");
        }
    }

    #[test]
    fn other_database_errors_stay_server_errors() {
        let err = sqlx::Error::RowNotFound;
        assert!(unavailable(&err).is_none());
        assert_eq!(
            AppError::from(err).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
