//! Warehouses of the reserve network: the regional centre, city, district and community
//! depots, with WGS84 positions and their handling time.
//!
//! Invariants: codes are unique, and a warehouse's id and code never change and it is
//! never deleted (all checked by the database; see [`ids`]); latitude and longitude are
//! in range (checked by the database); positions become `geo::Point` (x = lon, y = lat)
//! only at this boundary.

pub mod db;
pub mod http;
pub mod ids;

use serde::Serialize;

use crate::ids::WarehouseId;

/// A warehouse.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Warehouse {
    /// Warehouse id.
    pub id: WarehouseId,
    /// Short code, e.g. `JM-JH-RC`.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// City (one of the 11 GBA cities).
    pub city: String,
    /// District.
    pub district: Option<String>,
    /// `regional_centre`, `city`, `district` or `community`.
    pub tier: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Minutes to pick and load before a truck leaves.
    pub handling_minutes: i32,
}

impl Warehouse {
    /// The position as a `geo` point (x = longitude, y = latitude).
    pub fn point(&self) -> geo::Point<f64> {
        geo::Point::new(self.lon, self.lat)
    }
}

/// The tiers of the network, largest first.
pub const TIERS: [&str; 4] = ["regional_centre", "city", "district", "community"];
