//! Stock summaries and alerts over lots, transfers and reserve levels.

pub mod http;
