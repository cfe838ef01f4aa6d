//! Serves the console: `/` is the app shell, `/ui/{*path}` the embedded assets. These are
//! not API operations, so they live outside the OpenAPI router.

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Asset, asset};
use crate::app::AppState;
use crate::error::AppError;
use crate::http::Path;

/// Everything is same-origin; Leaflet sets inline styles, hence `'unsafe-inline'` for styles
/// only. `blob:` lets export downloads be saved from fetched bytes.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                   script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

/// The console's routes.
pub fn routes() -> Router<AppState> {
    // gzip roughly thirds the text assets (Leaflet, the basemap) for tablets on slow links.
    Router::new()
        .route("/", get(index))
        .route("/ui/{*path}", get(file))
        .layer(tower_http::compression::CompressionLayer::new())
}

async fn index(headers: HeaderMap) -> Response {
    match asset("index.html") {
        Some(a) => serve(a, &headers),
        None => AppError::not_found("the console is not built into this binary").into_response(),
    }
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match asset(&path) {
        Some(a) => serve(a, &headers),
        None => AppError::not_found(format!("no such console file: /ui/{path}")).into_response(),
    }
}

fn serve(a: &'static Asset, headers: &HeaderMap) -> Response {
    let cache = if a.immutable {
        // The version is in the path (vendor/leaflet-1.9.4/...).
        "public, max-age=31536000, immutable"
    } else {
        // Unversioned paths: always revalidate; the ETag makes that a 304.
        "no-cache"
    };
    let mut out = HeaderMap::new();
    out.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Ok(etag) = HeaderValue::from_str(&a.etag) {
        out.insert(ETAG, etag);
    }
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            // Weak comparison (RFC 9110 §13.1.2): `W/` prefixes do not matter.
            let ours = a.etag.trim_start_matches("W/");
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == ours || t == "*")
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    if a.content_type.starts_with("text/html") {
        out.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    (StatusCode::OK, out, a.bytes).into_response()
}
