//! The OpenAPI document, generated from the handlers' annotations. Each operation names
//! the roles it needs as the scopes of the `bearer` scheme.
//!
//! The error responses that follow from the service's shared machinery (the bearer guard,
//! the house extractors, the database) are not annotated on each handler: [`declare_errors`]
//! adds them to every operation from what the document already says of it, so that the
//! document lists every status an operation can answer. Handlers annotate only the errors
//! of their own rules (a 409 conflict, a 404 of an id named in the body, ...).

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Object, PathItem, Ref, RefOr, Response, Type};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;

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

/// What the document says of an operation that decides which errors it can answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Facts {
    /// It declares `security`: the bearer guard runs first.
    secured: bool,
    /// Its security names roles (scopes): other roles are refused.
    role_gated: bool,
    /// It has path parameters: each names something that may not exist.
    path_params: bool,
    /// It has query or header parameters.
    other_params: bool,
    /// It takes a request body.
    body: bool,
}

impl Facts {
    fn of(op: &Operation) -> Facts {
        let params = op.parameters.as_deref().unwrap_or_default();
        let scopes: Vec<serde_json::Value> = op
            .security
            .iter()
            .flatten()
            .filter_map(|req| serde_json::to_value(req).ok())
            .collect();
        Facts {
            secured: !scopes.is_empty(),
            role_gated: scopes.iter().any(|req| {
                req.as_object()
                    .into_iter()
                    .flatten()
                    .any(|(_, roles)| roles.as_array().is_some_and(|r| !r.is_empty()))
            }),
            path_params: params
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path)),
            other_params: params
                .iter()
                .any(|p| !matches!(p.parameter_in, ParameterIn::Path)),
            body: op.request_body.is_some(),
        }
    }
}

/// The errors that every operation with these facts can answer, whatever its handler
/// does, with why. Each rule is a fact of the shared machinery:
/// - 400: the house `Path`, `Query`, `Command`/`Json` extractors and the `Idempotency-Key`
///   header refuse what does not parse (a body that is not JSON, an unknown or malformed
///   query parameter, a malformed id in the path);
/// - 401: the bearer guard refuses a missing, invalid, expired or revoked token;
/// - 403: the guard refuses a role the operation does not name;
/// - 404: a path parameter names something that does not exist;
/// - 422: a body that parses as JSON but does not fit the request type (a wrong type, a
///   missing or unknown field);
/// - 503: every operation reads the database (at least to check the token), and answers
///   503 with `Retry-After` while it cannot be reached.
fn standard_errors(f: Facts) -> Vec<(u16, &'static str)> {
    let mut out = Vec::new();
    if f.path_params || f.other_params || f.body {
        out.push((
            400,
            "Malformed request: a parameter, header or body that does not parse (a body \
             must be JSON); `errors` names it",
        ));
    }
    if f.secured {
        out.push((
            401,
            "No bearer token, or one that is invalid, expired or revoked: sign in again",
        ));
    }
    if f.role_gated {
        out.push((
            403,
            "The caller's role may not call this operation (or a clerk is not assigned to \
             the warehouse concerned)",
        ));
    }
    if f.path_params {
        out.push((404, "Nothing has the identifier given in the path"));
    }
    if f.body {
        out.push((
            422,
            "The body breaks a rule of the request; `errors` names each offending field by \
             JSON pointer",
        ));
    }
    out.push((
        503,
        "The database cannot be reached: retry after `Retry-After` seconds",
    ));
    out
}

/// Completes `doc` so that it describes every error its operations can answer: adds the
/// [`standard_errors`] an operation does not declare yet, and declares every error
/// response (4xx and 5xx) as `application/problem+json` with the `Problem` schema, as
/// `AppError` renders them. Responses an operation declares keep their description (one
/// declared without a description gets the standard one).
pub fn declare_errors(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let facts = Facts::of(op);
            let responses = &mut op.responses.responses;
            for (status, why) in standard_errors(facts) {
                let response = responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::T(Response::new(why)));
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = why.to_owned();
                }
            }
            for (status, response) in responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if status.starts_with('4') || status.starts_with('5') {
                    as_problem(status, response);
                }
            }
        }
    }
}

/// Declares an error response as a problem document, with the headers `AppError` sends
/// with its status.
fn as_problem(status: &str, response: &mut Response) {
    let content = response
        .content
        .shift_remove("application/json")
        .unwrap_or_else(|| Content::new(Some(Ref::from_schema_name("Problem"))));
    response.content.clear();
    response.content.insert(PROBLEM_JSON.to_owned(), content);
    let header = match status {
        "401" => Some((
            "WWW-Authenticate",
            Header::new(Object::with_type(Type::String)),
            "`Bearer`",
        )),
        "429" | "503" => Some((
            "Retry-After",
            Header::new(Object::with_type(Type::Integer)),
            "Seconds to wait before retrying",
        )),
        _ => None,
    };
    if let Some((name, mut header, description)) = header {
        header.description = Some(description.to_owned());
        response.headers.entry(name.to_owned()).or_insert(header);
    }
}

/// Every operation of a path item.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder};
    use utoipa::openapi::request_body::RequestBody;
    use utoipa::openapi::{PathsBuilder, SecurityRequirement};

    /// A document with one operation at `POST /x/{id}` made by `build`, completed.
    fn completed(build: impl FnOnce(OperationBuilder) -> OperationBuilder) -> Value {
        let op = build(OperationBuilder::new()).response("200", Response::new("ok"));
        let mut doc = base();
        doc.paths = PathsBuilder::new()
            .path("/x/{id}", PathItem::new(HttpMethod::Post, op.build()))
            .build();
        declare_errors(&mut doc);
        let json = serde_json::to_value(&doc).unwrap_or_default();
        json["paths"]["/x/{id}"]["post"]["responses"].clone()
    }

    fn statuses(responses: &Value) -> Vec<String> {
        responses
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_open_operation_without_input_can_only_fail_on_the_database() {
        let responses = completed(|op| op);
        assert_eq!(statuses(&responses), ["200", "503"]);
        assert_eq!(
            responses["503"]["headers"]["Retry-After"]["schema"]["type"],
            "integer"
        );
    }

    #[test]
    fn a_role_gated_operation_with_a_path_id_and_a_body_can_answer_every_standard_error() {
        let responses = completed(|op| {
            op.security(SecurityRequirement::new("bearer", ["clerk"]))
                .parameter(
                    ParameterBuilder::new()
                        .name("id")
                        .parameter_in(ParameterIn::Path),
                )
                .request_body(Some(RequestBody::new()))
        });
        assert_eq!(
            statuses(&responses),
            ["200", "400", "401", "403", "404", "422", "503"]
        );
        for status in ["400", "401", "403", "404", "422", "503"] {
            let content = &responses[status]["content"];
            assert_eq!(
                content[PROBLEM_JSON]["schema"]["$ref"], "#/components/schemas/Problem",
                "{status}: {content}"
            );
            assert_eq!(content.as_object().map(|c| c.len()), Some(1), "{content}");
        }
        assert_eq!(
            responses["401"]["headers"]["WWW-Authenticate"]["schema"]["type"],
            "string"
        );
    }

    #[test]
    fn a_standard_error_declared_without_a_description_gets_the_standard_one() {
        let responses = completed(|op| {
            op.security(SecurityRequirement::new("bearer", ["admin"]))
                .response("403", Response::new(""))
        });
        let described = responses["403"]["description"].as_str().unwrap_or_default();
        assert!(described.contains("role"), "{described}");
        assert_eq!(
            responses["403"]["content"][PROBLEM_JSON]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
    }

    #[test]
    fn any_role_may_call_an_operation_secured_without_scopes_so_it_has_no_403() {
        let responses = completed(|op| {
            op.security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .parameter(
                    ParameterBuilder::new()
                        .name("limit")
                        .parameter_in(ParameterIn::Query),
                )
        });
        assert_eq!(statuses(&responses), ["200", "400", "401", "503"]);
    }

    #[test]
    fn declared_errors_keep_their_description_and_become_problem_json() {
        let responses = completed(|op| {
            op.response(
                "409",
                utoipa::openapi::ResponseBuilder::new()
                    .description("Not enough stock")
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("Problem"))),
                    )
                    .build(),
            )
        });
        assert_eq!(responses["409"]["description"], "Not enough stock");
        assert_eq!(
            responses["503"]["content"][PROBLEM_JSON]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert_eq!(
            responses["409"]["content"],
            json!({PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}})
        );
    }
}
