//! The OpenAPI document, generated from the handlers' annotations. Each operation names
//! the roles it needs as the scopes of the `bearer` scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stockpile",
        description = "Emergency-supply reserve system for the Greater Bay Area reserve network. \
                       Every error is an RFC 9457 problem document (application/problem+json). \
                       Operations list the roles they need as the scopes of the bearer scheme.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerScheme),
    components(schemas(crate::error::Problem, crate::error::FieldError))
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
    }
}

/// Every API route with its documentation.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::catalog::http::routes())
        .merge(crate::warehouses::http::routes())
        .merge(crate::stock::http::routes())
        .merge(crate::auth::http::routes())
        .merge(crate::transfers::http::routes())
        .merge(crate::counts::http::routes())
        .merge(crate::reports::http::routes())
        .merge(crate::incidents::http::routes())
        .merge(crate::allocation::http::routes())
        .merge(crate::audit::http::routes())
        .merge(crate::exports::http::routes())
}

/// The OpenAPI document as pretty JSON, as committed in `api-spec/openapi.json`.
pub fn document() -> String {
    let (_, spec) = api_router().split_for_parts();
    let mut text = serde_json::to_string_pretty(&spec).unwrap_or_default();
    text.push('\n');
    text
}
