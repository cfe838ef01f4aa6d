//! Tests for audit_trail (being written).
