//! Stockpile's pure core: everything that decides, with nothing that does I/O.
//!
//! The crate depends on neither sqlx, axum nor tokio, and reads no clock: every input,
//! "now" included, is an argument, so the same input always gives the same answer. The
//! service (the `stockpile` crate) reads the database, calls in here and writes back.
//!
//! - [`rules`]: the stock rules every path shares: what a lot has available, whether it
//!   is usable on arrival, when a warehouse cannot supply, how far a reserve level
//!   protects a cell, and whether a plan still holds on stock read again under locks.
//! - [`planner`]: the allocation planner, built on [`rules`].
//! - [`rationing`]: sharing scarce stock fairly between the competing incidents of an
//!   operation (leximin by tier), built on [`rules`] and [`planner`].
//! - [`reserve`]: keeping the network ready: replenishment, rotation before expiry and
//!   readiness, built on [`rules`].
//! - [`routing`]: the road network and travel times.
//! - [`gs1`]: GS1 barcode parsing.

/// GS1 barcode parsing (pure).
pub mod gs1;
/// The allocation planner (pure, deterministic).
pub mod planner;
/// Rationing scarce stock across competing incidents (pure, deterministic).
pub mod rationing;
/// Replenishment, rotation and readiness of the reserve network (pure, deterministic).
pub mod reserve;
/// Road network and travel times (pure).
pub mod routing;
/// The shared stock rules: eligibility, availability, reserve floors, plan re-checks.
pub mod rules;
