//! HTTP handlers for allocation.

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

/// Routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(super::network::routes())
}
