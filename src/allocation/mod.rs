//! Allocation requests: plan, reserve atomically, dispatch and deliver, over the road
//! network of [`crate::network`].
//!
//! Invariants:
//! - Stock is reserved only through ledger rows (`reserve`, `release`, `dispatch`), written in
//!   the same transaction that locks the lots (`for update`, id order) and re-checks what the
//!   planner assumed: availability and, for non-critical requests, reserve-level floors.
//!   A request that loses a race replans against fresh stock; it never over-reserves.
//!   Without an Idempotency-Key, lock, re-check and writes are one statement
//!   (`db::insert_request_if_available`), its own transaction.
//! - Σ `allocation_picks.qty` of a request per lot equals what the ledger reserved for it,
//!   until dispatch or cancel moves it out.

pub mod db;
pub mod http;

use serde::{Deserialize, Serialize};

/// The paths allocation code has always used for the road network, which now has a domain
/// of its own ([`crate::network`]). Compatibility only: new code names `crate::network`.
pub mod network {
    use std::sync::Arc;

    use sqlx::PgConnection;

    use crate::app::AppState;
    use crate::error::AppResult;
    use crate::routing::{ClosedEdges, Network};

    pub use crate::network::http::routes;

    /// [`crate::network::network_from`] over the state's network cache.
    pub async fn network_from(
        state: &AppState,
        conn: &mut PgConnection,
        row: crate::network::db::NetworkNow,
    ) -> AppResult<(Arc<Network>, ClosedEdges)> {
        crate::network::network_from(&state.network, conn, row).await
    }
}
pub use crate::network::db as network_db;

/// Request priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Life-safety: reserve levels do not apply.
    Critical,
    /// Urgent; reserve levels apply.
    High,
    /// Routine; reserve levels apply.
    Normal,
}

impl Priority {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "critical" => Some(Priority::Critical),
            "high" => Some(Priority::High),
            "normal" => Some(Priority::Normal),
            _ => None,
        }
    }

    /// The planner's priority.
    pub fn planner(self) -> crate::planner::Priority {
        match self {
            Priority::Critical => crate::planner::Priority::Critical,
            Priority::High => crate::planner::Priority::High,
            Priority::Normal => crate::planner::Priority::Normal,
        }
    }
}
