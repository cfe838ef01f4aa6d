//! Tests for auth (being written).
