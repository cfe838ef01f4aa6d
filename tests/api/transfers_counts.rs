//! Tests for transfers_counts (being written).
