//! API integration tests: one binary, a real PostgreSQL, a real server per test.

mod allocation;
mod audit_chain;
mod audit_trail;
mod auth;
mod cluster;
mod differential_allocation;
mod differential_stock;
mod differential_stock_cells;
mod foundation;
mod helpers;
mod imports;
mod master_data;
mod network_upload;
mod operations;
mod rationing;
mod reads;
mod reserve;
mod retire_race;
mod stock_ops;
mod transfer_count_cases;
mod transfers_counts;
