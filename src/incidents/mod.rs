//! Incidents: a point, an optional affected area and the population affected.

pub mod http;
