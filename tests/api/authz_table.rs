//! Who may call each operation: the table the authorisation-matrix test
//! (`auth::every_operation_answers_401_403_or_allowed_as_the_table_says`) checks every
//! operation of the OpenAPI document against.
//!
//! ADDING AN OPERATION? Add ONE line below, `("METHOD /path/{param}", access)`, with the
//! path exactly as in `api-spec/openapi.json`, and keep it in step with the operation's
//! `security(("bearer" = [...]))`. The matrix test fails while an operation is missing
//! here, while a row names an operation that does not exist, and while a row disagrees
//! with the declared security. Keep rows sorted by path, then method, so that branches
//! adding rows merge cleanly.

/// Who may call an operation.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No token needed.
    Open,
    /// Any signed-in role (`security(("bearer" = []))`).
    Any,
    /// Only these roles (the bearer scopes).
    Roles(&'static [&'static str]),
}

use Access::{Any, Open, Roles};

const ADMIN: Access = Roles(&["admin"]);

/// Every operation of the API and who may call it.
pub const TABLE: &[(&str, Access)] = &[
    ("GET /api/v1/alerts", Any),
    ("POST /api/v1/allocation/preview", Roles(&["dispatcher"])),
    ("GET /api/v1/audit/events", Roles(&["auditor", "admin"])),
    ("GET /api/v1/audit/verify", Roles(&["auditor", "admin"])),
    ("POST /api/v1/auth/login", Open),
    ("POST /api/v1/auth/logout", Any),
    ("GET /api/v1/auth/me", Any),
    ("GET /api/v1/categories", Any),
    ("GET /api/v1/closures", Any),
    ("POST /api/v1/closures", Roles(&["dispatcher"])),
    ("DELETE /api/v1/closures/{id}", Roles(&["dispatcher"])),
    ("GET /api/v1/counts/{id}", Any),
    ("PUT /api/v1/counts/{id}/lines", Roles(&["clerk"])),
    ("POST /api/v1/counts/{id}/post", Roles(&["clerk"])),
    ("POST /api/v1/counts/{id}/cancel", Roles(&["clerk"])),
    (
        "GET /api/v1/exports/audit-events",
        Roles(&["auditor", "admin"]),
    ),
    ("GET /api/v1/exports/items", Roles(&["auditor", "admin"])),
    (
        "GET /api/v1/exports/movements",
        Roles(&["auditor", "admin"]),
    ),
    (
        "GET /api/v1/exports/reserve-levels",
        Roles(&["auditor", "admin"]),
    ),
    ("GET /api/v1/exports/requests", Roles(&["auditor", "admin"])),
    (
        "GET /api/v1/exports/warehouses",
        Roles(&["auditor", "admin"]),
    ),
    (
        "GET /api/v1/exports/stock-as-of",
        Roles(&["auditor", "admin"]),
    ),
    ("POST /api/v1/imports", ADMIN),
    ("GET /api/v1/incidents", Any),
    ("POST /api/v1/incidents", Roles(&["dispatcher"])),
    ("GET /api/v1/incidents/{id}", Any),
    ("PATCH /api/v1/incidents/{id}", Roles(&["dispatcher"])),
    (
        "POST /api/v1/incidents/{id}/needs-estimate",
        Roles(&["dispatcher"]),
    ),
    (
        "POST /api/v1/incidents/{id}/requests",
        Roles(&["dispatcher"]),
    ),
    ("GET /api/v1/items", Any),
    ("POST /api/v1/items", ADMIN),
    ("GET /api/v1/items/{sku}", Any),
    ("PATCH /api/v1/items/{sku}", ADMIN),
    ("POST /api/v1/items/{sku}/reactivate", ADMIN),
    ("POST /api/v1/items/{sku}/retire", ADMIN),
    ("GET /api/v1/lots", Any),
    ("GET /api/v1/lots/{id}", Any),
    ("GET /api/v1/lots/{id}/card", Any),
    ("POST /api/v1/lots/{id}/quarantine", Roles(&["clerk"])),
    ("POST /api/v1/lots/{id}/release", Roles(&["clerk"])),
    ("GET /api/v1/movements", Any),
    ("GET /api/v1/network", Any),
    ("PUT /api/v1/network", ADMIN),
    ("GET /api/v1/operations", Any),
    ("POST /api/v1/operations", Roles(&["dispatcher"])),
    ("GET /api/v1/operations/{id}", Any),
    ("PATCH /api/v1/operations/{id}", Roles(&["dispatcher"])),
    ("GET /api/v1/operations/{id}/rationing", Any),
    (
        "POST /api/v1/operations/{id}/rationing",
        Roles(&["dispatcher"]),
    ),
    (
        "POST /api/v1/operations/{id}/rationing/preview",
        Roles(&["dispatcher"]),
    ),
    ("GET /api/v1/readiness", Any),
    ("POST /api/v1/replenishment", ADMIN),
    ("POST /api/v1/replenishment/preview", ADMIN),
    ("GET /api/v1/requests", Any),
    ("GET /api/v1/requests/{id}", Any),
    ("POST /api/v1/requests/{id}/cancel", Roles(&["dispatcher"])),
    (
        "POST /api/v1/requests/{id}/dispatch",
        Roles(&["dispatcher"]),
    ),
    ("POST /api/v1/requests/{id}/replan", Roles(&["dispatcher"])),
    ("GET /api/v1/rotation", Any),
    ("GET /api/v1/routes", Any),
    ("POST /api/v1/scans/decode", Any),
    ("GET /api/v1/shipments/{id}", Any),
    (
        "POST /api/v1/shipments/{id}/deliver",
        Roles(&["dispatcher"]),
    ),
    ("GET /api/v1/stock/summary", Any),
    ("GET /api/v1/transfers", Any),
    ("POST /api/v1/transfers", Roles(&["clerk"])),
    ("GET /api/v1/transfers/{id}", Any),
    ("POST /api/v1/transfers/{id}/cancel", Roles(&["clerk"])),
    ("POST /api/v1/transfers/{id}/receive", Roles(&["clerk"])),
    ("GET /api/v1/users", ADMIN),
    ("POST /api/v1/users", ADMIN),
    ("GET /api/v1/users/{username}", ADMIN),
    ("PATCH /api/v1/users/{username}", ADMIN),
    ("GET /api/v1/warehouses", Any),
    ("POST /api/v1/warehouses", ADMIN),
    ("GET /api/v1/warehouses/{code}", Any),
    ("PATCH /api/v1/warehouses/{code}", ADMIN),
    (
        "POST /api/v1/warehouses/{code}/adjustments",
        Roles(&["clerk"]),
    ),
    ("POST /api/v1/warehouses/{code}/counts", Roles(&["clerk"])),
    ("POST /api/v1/warehouses/{code}/issues", Roles(&["clerk"])),
    ("GET /api/v1/warehouses/{code}/pick-suggestion", Any),
    ("POST /api/v1/warehouses/{code}/receipts", Roles(&["clerk"])),
    ("GET /api/v1/warehouses/{code}/reserve-levels", Any),
    ("PUT /api/v1/warehouses/{code}/reserve-levels", ADMIN),
];

/// The signed-in roles the matrix tries. The clerk is assigned to `CLERK_WAREHOUSE`.
pub const ROLES: &[&str] = &["admin", "clerk", "dispatcher", "auditor"];

/// The clerk's warehouse, also used for `{code}` in paths.
pub const CLERK_WAREHOUSE: &str = "JM-JH-RC";

/// A value for a path parameter: only 401/403 versus anything else is asserted, so a
/// 404 or 422 is fine. Add a case when a new parameter needs a real value to get past
/// routing.
pub fn placeholder(param: &str) -> String {
    match param {
        "code" | "warehouse" => CLERK_WAREHOUSE.to_owned(),
        "username" => "nobody-here".to_owned(),
        _ if param == "id" || param.ends_with("_id") => uuid::Uuid::new_v4().to_string(),
        _ => "placeholder".to_owned(),
    }
}

/// Paths outside the OpenAPI document that must answer without a token.
pub const OPEN_OUTSIDE_SPEC: &[&str] = &["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"];
