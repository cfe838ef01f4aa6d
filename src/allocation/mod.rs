//! Allocation requests: plan, reserve atomically, dispatch and deliver.

pub mod http;
