//! House extractors: like axum's `Json`, `Query` and `Path`, but every rejection is a
//! problem+json that names the offending field or parameter. `clippy.toml` keeps the raw
//! axum extractors out of handlers.
//!
//! They also refuse the NUL character (U+0000) in any string, naming where it is:
//! PostgreSQL text cannot hold it, so it would otherwise fail in the database as a 500.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{AppError, FieldError};

/// A JSON request body or response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    #[allow(clippy::disallowed_types)]
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let cmd = Command::<T>::from_request(req, state).await?;
        Ok(Json(cmd.body))
    }
}

/// A JSON command body together with a fingerprint of the request (method, path and
/// body bytes), so that an `Idempotency-Key` retry can be told apart from a different
/// request reusing the key.
#[derive(Debug, Clone)]
pub struct Command<T> {
    /// The parsed body.
    pub body: T,
    /// SHA-256 of method, path and body.
    pub fingerprint: String,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Command<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let v = v.to_ascii_lowercase();
                v.starts_with("application/json")
                    || (v.starts_with("application/") && v.contains("+json"))
            })
            .unwrap_or(false);
        let mut hasher = Sha256::new();
        hasher.update(req.method().as_str().as_bytes());
        hasher.update(b" ");
        hasher.update(req.uri().path().as_bytes());
        hasher.update(b"\n");
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::bad_request("", format!("cannot read the request body: {e}")))?;
        if !is_json {
            return Err(AppError::BadRequest {
                detail: "the request body must be JSON: send `Content-Type: application/json`"
                    .into(),
                errors: vec![FieldError::new("content-type", "expected application/json")],
            });
        }
        hasher.update(&bytes);
        let body = parse_json(&bytes)?;
        Ok(Command {
            body,
            fingerprint: hex::encode(hasher.finalize()),
        })
    }
}

/// Parses JSON, turning the serde error into a problem that names the field by pointer.
/// A string holding a NUL character is a 422 naming it.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let mut pointer = path_to_pointer(&path);
        let message = inner.to_string();
        if let Some(field) = unknown_field(&message) {
            // serde_path_to_error names the unknown field itself in nested objects, but
            // not at the top level.
            if !pointer.ends_with(&format!("/{field}")) {
                pointer = format!("{}/{}", pointer.trim_end_matches('/'), field);
            }
        }
        let status_422 = matches!(inner.classify(), serde_json::error::Category::Data);
        let detail = if pointer.is_empty() || pointer == "/" {
            format!("invalid JSON body: {message}")
        } else {
            format!("invalid value at {pointer}: {message}")
        };
        let errors = vec![FieldError::new(pointer, message)];
        if status_422 {
            AppError::Validation { detail, errors }
        } else {
            AppError::BadRequest { detail, errors }
        }
    })?;
    // JSON text holds a NUL only as the escape `\u0000`: look closer only then.
    if bytes.windows(6).any(|w| w == b"\\u0000")
        && let Some(pointer) = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| nul_in_json(&v, String::new()))
    {
        return Err(AppError::invalid(pointer, NUL_DETAIL));
    }
    Ok(parsed)
}

/// Why a string with a NUL character is refused.
const NUL_DETAIL: &str = "must not contain the NUL character (U+0000)";

/// The JSON pointer of the first string (or member name) in `value` that holds a NUL.
fn nul_in_json(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0').then_some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in_json(item, format!("{at}/{i}"))),
        Value::Object(members) => members.iter().find_map(|(name, member)| {
            let here = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
            if name.contains('\0') {
                Some(here)
            } else {
                nul_in_json(member, here)
            }
        }),
        _ => None,
    }
}

/// `lines[0].qty` → `/lines/0/qty`; `.` (the root) → ``.
fn path_to_pointer(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    let mut out = String::new();
    for seg in path.split('.') {
        let mut rest = seg;
        while let Some(open) = rest.find('[') {
            let (name, tail) = rest.split_at(open);
            if !name.is_empty() {
                out.push('/');
                out.push_str(name);
            }
            let close = tail.find(']').unwrap_or(tail.len());
            out.push('/');
            out.push_str(tail.get(1..close).unwrap_or(""));
            rest = tail.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            out.push('/');
            out.push_str(rest);
        }
    }
    out
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// Query parameters. Unknown parameters and malformed values are a 400 naming the
/// parameter (query types use `deny_unknown_fields`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        parse_query(query).map(Query)
    }
}

/// Parses a query string, naming the bad parameter on error.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) = pairs
        .into_iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(AppError::bad_request(name.replace('\0', "\\0"), NUL_DETAIL));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let param = unknown_field(&message)
            .map(str::to_owned)
            .or_else(|| (path != ".").then_some(path))
            .or_else(|| missing_field(&message).map(str::to_owned))
            .unwrap_or_default();
        AppError::BadRequest {
            detail: if param.is_empty() {
                format!("invalid query string: {message}")
            } else {
                format!("invalid query parameter `{param}`: {message}")
            },
            errors: vec![FieldError::new(param, message)],
        }
    })
}

/// Whether a date or instant lies in the years 0001 to 9999. RFC 3339 writes four-digit
/// years only, but chrono also parses signed and longer ones, and PostgreSQL refuses
/// dates before 4713 BC: such a value would fail in the database (a 500, or an export
/// cut off after its headers were sent) or come back in a form no client expects.
fn in_rfc3339_years<D: chrono::Datelike>(value: &D) -> bool {
    (1..=9999).contains(&value.year())
}

/// Fails with a 400 naming the query parameter `param` unless the date or instant `value`
/// lies in the years 0001 to 9999.
pub fn instant_param<D: chrono::Datelike>(param: &str, value: Option<D>) -> Result<(), AppError> {
    match value {
        Some(v) if !in_rfc3339_years(&v) => Err(AppError::bad_request(
            param,
            format!("`{param}` must be an RFC 3339 date or instant in the years 0001 to 9999"),
        )),
        _ => Ok(()),
    }
}

/// Fails with a 422 naming the body field at `pointer` unless the date or instant `value`
/// lies in the years 0001 to 9999.
pub fn date_field<D: chrono::Datelike>(pointer: &str, value: Option<D>) -> Result<(), AppError> {
    match value {
        Some(v) if !in_rfc3339_years(&v) => Err(AppError::invalid(
            pointer,
            "must be an RFC 3339 date or instant in the years 0001 to 9999",
        )),
        _ => Ok(()),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Path parameters; a malformed one is a 400 naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    #[allow(clippy::disallowed_types)]
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::PathRejection;
        // Parameters that are not UTF-8 are refused below, by the typed extraction.
        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await
            && let Some((name, _)) = raw.iter().find(|(_, value)| value.contains('\0'))
        {
            return Err(AppError::bad_request(name, NUL_DETAIL));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let message = e.body_text();
                let key = match e.kind() {
                    axum::extract::path::ErrorKind::ParseErrorAtKey { key, .. }
                    | axum::extract::path::ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                    _ => String::new(),
                };
                Err(AppError::BadRequest {
                    detail: message.clone(),
                    errors: vec![FieldError::new(key, message)],
                })
            }
            Err(other) => Err(AppError::Internal(anyhow::anyhow!(
                "path extraction: {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_paths_become_json_pointers() {
        assert_eq!(path_to_pointer("lines[0].qty"), "/lines/0/qty");
        assert_eq!(path_to_pointer("a.b"), "/a/b");
        assert_eq!(path_to_pointer("[3]"), "/3");
        assert_eq!(path_to_pointer("."), "");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        qty: i64,
        lines: Option<Vec<Line>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        qty: i64,
    }

    fn pointer_of(json: &str) -> String {
        match parse_json::<Body>(json.as_bytes()) {
            Err(AppError::Validation { errors, .. }) | Err(AppError::BadRequest { errors, .. }) => {
                errors[0].pointer.clone()
            }
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn body_errors_name_the_field_by_json_pointer() {
        assert_eq!(pointer_of(r#"{"qty": 1, "bogus": 2}"#), "/bogus");
        assert_eq!(
            pointer_of(r#"{"qty": 1, "lines": [{"qty": 1, "bogus": 2}]}"#),
            "/lines/0/bogus"
        );
        assert_eq!(pointer_of(r#"{"qty": "x"}"#), "/qty");
        assert_eq!(
            pointer_of(r#"{"qty": 1, "lines": [{"qty": 1}, {"qty": true}]}"#),
            "/lines/1/qty"
        );
    }

    #[test]
    fn a_nul_character_anywhere_in_a_body_is_a_422_naming_it() {
        let named = |json: &str| match parse_json::<serde_json::Value>(json.as_bytes()) {
            Err(AppError::Validation { errors, .. }) => errors[0].pointer.clone(),
            other => panic!("expected a 422, got {other:?}"),
        };
        assert_eq!(named(r#"{"a": ["ok", "b\u0000"]}"#), "/a/1");
        assert_eq!(named(r#"{"a/b": {"c\u0000": 1}}"#), "/a~1b/c\u{0}");
        assert!(parse_json::<serde_json::Value>(br#"{"a": "\\u0000"}"#).is_ok());
    }

    #[test]
    fn a_nul_character_in_a_query_is_a_400_naming_the_parameter() {
        let err = parse_query::<Q>("limit=1%00").expect_err("nul");
        assert!(
            matches!(&err, AppError::BadRequest { errors, .. } if errors[0].pointer == "limit")
        );
    }

    #[test]
    fn a_date_outside_the_years_1_to_9999_is_refused_naming_where_it_is() {
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().ok();
        assert!(instant_param("from", at("2026-12-05T00:00:00Z")).is_ok());
        assert!(instant_param::<chrono::NaiveDate>("from", None).is_ok());
        let err = instant_param("from", at("-10000-01-01T00:00:00Z"));
        assert!(
            matches!(&err, Err(AppError::BadRequest { errors, .. }) if errors[0].pointer == "from"),
            "{err:?}"
        );
        let day = |text: &str| text.parse::<chrono::NaiveDate>().ok();
        assert!(date_field("/on", day("9999-12-31")).is_ok());
        let err = date_field("/on", day("+10000-01-01"));
        assert!(
            matches!(&err, Err(AppError::Validation { errors, .. }) if errors[0].pointer == "/on"),
            "{err:?}"
        );
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let err = parse_query::<Q>("limit=-1").expect_err("negative");
        assert!(
            matches!(&err, AppError::BadRequest { errors, .. } if errors[0].pointer == "limit")
        );
        let err = parse_query::<Q>("bogus=1").expect_err("unknown");
        assert!(
            matches!(&err, AppError::BadRequest { errors, .. } if errors[0].pointer == "bogus")
        );
    }
}
