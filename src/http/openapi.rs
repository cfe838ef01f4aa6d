//! The OpenAPI document, generated from the handlers' annotations. Each operation names
//! the roles it needs as the scopes of the `bearer` scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

/// The document's frame (title, licence, the bearer scheme, the problem schemas) that
/// `crate::app::api_router` fills with every domain's operations.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
