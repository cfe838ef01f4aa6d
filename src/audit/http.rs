//! HTTP handlers for the audit trail.

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
