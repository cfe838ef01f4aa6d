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
    #[schema(value_type = String)]
    pub tier: Tier,
    /// `active` or `inactive`.
    #[schema(value_type = String)]
    pub status: WarehouseStatus,
    /// Minutes to pick and load before a truck leaves.
    pub handling_minutes: i32,
}

impl Warehouse {
    /// The position as a `geo` point (x = longitude, y = latitude).
    pub fn point(&self) -> geo::Point<f64> {
        geo::Point::new(self.lon, self.lat)
    }
}

/// The tiers of the network, largest first. Stored as text (the `warehouses_tier`
/// check constraint lists the same names).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    serde::Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Tier {
    /// The GBA Emergency Supplies Reserve Centre.
    RegionalCentre,
    /// A city depot.
    City,
    /// A district depot.
    District,
    /// A community point.
    Community,
}

impl Tier {
    /// Every tier, largest first.
    pub const ALL: [Tier; 4] = [
        Tier::RegionalCentre,
        Tier::City,
        Tier::District,
        Tier::Community,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::RegionalCentre => "regional_centre",
            Tier::City => "city",
            Tier::District => "district",
            Tier::Community => "community",
        }
    }

    /// The tier with this stored name.
    pub fn parse(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Whether a warehouse supplies. An inactive warehouse is never planned from; it is never
/// deleted (its ledger stays).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    serde::Deserialize,
    sqlx::Type,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum WarehouseStatus {
    /// In service.
    Active,
    /// Retired or closed.
    Inactive,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_names_round_trip_and_match_serde() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).ok(),
                Some(serde_json::json!(t.as_str()))
            );
        }
        assert_eq!(Tier::parse("province"), None);
    }
}
