//! Blind cycle counts: snapshot, count, and post the variances as adjustments.

pub mod http;
