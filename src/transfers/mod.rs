//! Transfers between warehouses: stock leaves at once, is in transit, and lands or returns.

pub mod http;
