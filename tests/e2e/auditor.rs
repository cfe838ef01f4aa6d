//! Auditor flows.
