//! Tests for allocation (being written).
