//! Stockpile: emergency-supply reserve system for the Greater Bay Area reserve network.
//!
//! `app(state)` is the whole HTTP service; `main.rs` only parses the command line.

/// Allocation requests: plan, reserve, dispatch, deliver.
pub mod allocation;
/// Audit trail: a tamper-evident hash chain of every change.
pub mod audit;
/// Users, roles, warehouse scope, tokens and passwords.
pub mod auth;
/// The supplies catalogue (GB/T 38565-2020).
pub mod catalog;
/// Configuration from flags and environment.
pub mod config;
/// The web console's embedded assets and their routes.
pub mod console;
/// Blind cycle counts.
pub mod counts;
/// Pool, migrations and the private PostgreSQL cluster.
pub mod db;
/// The error type, rendered as RFC 9457 problem+json.
pub mod error;
/// Audit exports: movements, events and stock as of an instant (CSV, JSONL, xlsx).
pub mod exports;
/// HTTP glue: router, layers, extractors, OpenAPI.
pub mod http;
/// Typed ids.
pub mod ids;
/// Bulk imports of go-live data (opening stock, items, reserve levels).
pub mod imports;
/// Incidents and their affected areas.
pub mod incidents;
/// The road network, road closures and truck routes.
pub mod network;
/// Operations: the incidents of one emergency, rationed together.
pub mod operations;
/// Rationing rounds: an operation's competing demands shared by one published rule.
pub mod rationing;
/// Stock summaries and alerts.
pub mod reports;
/// Replenishment, rotation and readiness of the reserve network.
pub mod reserve;
/// GBA demo data loader.
pub mod seed;
/// Stock lots and the append-only ledger.
pub mod stock;
/// Logging setup.
pub mod telemetry;
/// Transfers between warehouses.
pub mod transfers;
/// Warehouses of the reserve network.
pub mod warehouses;

/// The application: state, routes and layers.
pub mod app;

pub use app::AppState;
/// The pure reserve planners (replenishment, rotation, readiness).
pub use stockpile_core::rationing as rationing_core;
pub use stockpile_core::reserve as reserve_core;
/// The pure core (`crates/core`), under the paths the service has always used.
pub use stockpile_core::{gs1, planner, routing, rules};

/// The whole HTTP service over `state`.
pub fn app(state: AppState) -> axum::Router {
    app::router(state)
}
