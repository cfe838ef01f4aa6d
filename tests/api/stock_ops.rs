//! Tests for stock_ops (being written).
