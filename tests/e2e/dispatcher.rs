//! Dispatcher flows.
