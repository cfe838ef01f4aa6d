//! Allocation requests: plan, reserve atomically, dispatch and deliver, over the road
//! network of [`crate::network`].
//!
//! Layers: `request` (the request's rules and statuses) and `plan` (snapshot to planner
//! input, plan to rows) are pure, with unit tests; `cases` holds the use cases that the
//! handlers in `http` call; `db` is SQL only; `views` is what the API answers.
//!
//! Invariants:
//! - Stock is reserved only through ledger rows (`reserve`, `release`, `dispatch`), written in
//!   the same transaction that locks the lots (`for update`, id order) and re-checks what the
//!   planner assumed: availability and, for non-critical requests, reserve-level floors.
//!   A request that loses a race replans against fresh stock; it never over-reserves.
//!   Lock, re-check and writes are one statement (`db::write_plan_if_available`), for new
//!   requests and replans alike; without an Idempotency-Key it is its own transaction.
//!   The re-check is `rules::plan_holds`, stated in SQL; a differential property test
//!   proves that the two accept the same plans.
//! - Σ `allocation_picks.qty` of a request per lot equals what the ledger reserved for it,
//!   until dispatch or cancel moves it out.

pub mod cases;
pub mod db;
pub mod http;
pub mod plan;
pub mod request;
pub mod views;

pub use request::{Refusal, RequestStatus, ShipmentStatus};

use serde::{Deserialize, Serialize};

/// Request priority, ordered critical < high < normal: the order tiers are served in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
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

    /// The service's priority of a planner's.
    pub fn of_planner(p: crate::planner::Priority) -> Priority {
        match p {
            crate::planner::Priority::Critical => Priority::Critical,
            crate::planner::Priority::High => Priority::High,
            crate::planner::Priority::Normal => Priority::Normal,
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
