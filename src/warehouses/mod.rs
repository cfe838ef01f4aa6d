//! Warehouses of the reserve network: the regional centre, city, district and community
//! depots, with WGS84 positions and their handling time.
//!
//! Invariants: codes are unique, and a warehouse's id and code never change and it is
//! never deleted (all checked by the database; see [`ids`]); latitude and longitude are
//! in range (checked by the database) and, unless an admin overrides it, inside the
//! configured service area ([`ServiceArea`]); a warehouse's chain of resupply parents
//! never comes back to it (the `warehouses_parent_acyclic` trigger); positions become
//! `geo::Point` (x = lon, y = lat) only at this boundary.
//!
//! Moving a warehouse takes effect in routing at once in every process: nothing keeps
//! positions in memory (each plan reads them with its snapshot, see
//! `allocation::db::planner_places`), and the only per-process cache, code → id
//! ([`ids`]), cannot change.

pub mod cases;
pub mod db;
pub mod http;
pub mod ids;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
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
    /// `regional_centre`, `city`, `district`, `community` or `agreement`.
    #[schema(value_type = String)]
    pub tier: Tier,
    /// `active` or `inactive`.
    #[schema(value_type = String)]
    pub status: WarehouseStatus,
    /// Minutes to pick and load before a truck leaves.
    pub handling_minutes: i32,
    /// The code of the warehouse that resupplies this one first, if any.
    pub parent: Option<String>,
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
    /// A community point (grid-level points and shared medicine boxes).
    Community,
    /// Agreement stock held at a partner store (协议储备).
    Agreement,
}

impl Tier {
    /// Every tier, largest first.
    pub const ALL: [Tier; 5] = [
        Tier::RegionalCentre,
        Tier::City,
        Tier::District,
        Tier::Community,
        Tier::Agreement,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::RegionalCentre => "regional_centre",
            Tier::City => "city",
            Tier::District => "district",
            Tier::Community => "community",
            Tier::Agreement => "agreement",
        }
    }

    /// The tier with this stored name.
    pub fn parse(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The rectangle (WGS84) that warehouse positions must lie in unless an admin says a
/// position is outside it on purpose. The default is the bounding box of the 11 GBA
/// cities with a small margin (latitude 21.4–24.5, longitude 111.3–115.5), the same box
/// the console's basemap covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceArea {
    /// Southern edge.
    pub min_lat: f64,
    /// Western edge.
    pub min_lon: f64,
    /// Northern edge.
    pub max_lat: f64,
    /// Eastern edge.
    pub max_lon: f64,
}

impl Default for ServiceArea {
    fn default() -> Self {
        ServiceArea {
            min_lat: 21.4,
            min_lon: 111.3,
            max_lat: 24.5,
            max_lon: 115.5,
        }
    }
}

impl ServiceArea {
    /// Whether the point lies inside (edges included).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lon..=self.max_lon).contains(&lon)
    }
}

impl std::str::FromStr for ServiceArea {
    type Err = String;
    /// `MIN_LAT,MIN_LON,MAX_LAT,MAX_LON`.
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`{s}`: expected MIN_LAT,MIN_LON,MAX_LAT,MAX_LON"))?;
        match v.as_slice() {
            &[min_lat, min_lon, max_lat, max_lon]
                if v.iter().all(|x| x.is_finite())
                    && (-90.0..=90.0).contains(&min_lat)
                    && (-90.0..=90.0).contains(&max_lat)
                    && (-180.0..=180.0).contains(&min_lon)
                    && (-180.0..=180.0).contains(&max_lon)
                    && min_lat < max_lat
                    && min_lon < max_lon =>
            {
                Ok(ServiceArea {
                    min_lat,
                    min_lon,
                    max_lat,
                    max_lon,
                })
            }
            _ => Err(format!(
                "`{s}`: expected MIN_LAT,MIN_LON,MAX_LAT,MAX_LON with min below max, in range"
            )),
        }
    }
}

/// A warehouse's fields as given (a create request, a patch applied to the stored
/// warehouse, or an import row), not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseInput {
    /// Short code: 2–40 of `A-Z 0-9 -`. Never changes.
    pub code: Option<String>,
    /// Chinese name.
    pub name_zh: Option<String>,
    /// English name.
    pub name_en: Option<String>,
    /// City.
    pub city: Option<String>,
    /// District.
    pub district: Option<String>,
    /// `regional_centre`, `city`, `district`, `community` or `agreement`.
    pub tier: Option<String>,
    /// WGS84 latitude.
    pub lat: Option<f64>,
    /// WGS84 longitude.
    pub lon: Option<f64>,
    /// Set to `true` to accept a position outside the configured service area.
    pub outside_service_area: Option<bool>,
    /// Minutes to pick and load before a truck leaves (0–1440, default 30).
    pub handling_minutes: Option<i64>,
    /// `active` (default) or `inactive`.
    pub status: Option<String>,
    /// Code of the warehouse that resupplies this one; absent or null for none.
    pub parent: Option<String>,
}

/// A checked warehouse (its parent still named by code: the database resolves it).
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseDraft {
    /// Code.
    pub code: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// City.
    pub city: String,
    /// District.
    pub district: Option<String>,
    /// Tier.
    pub tier: Tier,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Handling minutes.
    pub handling_minutes: i32,
    /// Status.
    pub status: WarehouseStatus,
    /// Parent code.
    pub parent: Option<String>,
}

impl From<&Warehouse> for WarehouseInput {
    fn from(w: &Warehouse) -> Self {
        WarehouseInput {
            code: Some(w.code.clone()),
            name_zh: Some(w.name_zh.clone()),
            name_en: Some(w.name_en.clone()),
            city: Some(w.city.clone()),
            district: w.district.clone(),
            tier: Some(w.tier.as_str().to_owned()),
            lat: Some(w.lat),
            lon: Some(w.lon),
            outside_service_area: None,
            handling_minutes: Some(i64::from(w.handling_minutes)),
            status: Some(
                match w.status {
                    WarehouseStatus::Active => "active",
                    WarehouseStatus::Inactive => "inactive",
                }
                .to_owned(),
            ),
            parent: w.parent.clone(),
        }
    }
}

fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    v: &Option<String>,
    max: usize,
) -> String {
    match v.as_deref().map(str::trim) {
        None => errors.push(FieldError::new(format!("/{field}"), "required")),
        Some("") => errors.push(FieldError::new(format!("/{field}"), "must not be blank")),
        Some(t) if t.chars().count() > max => errors.push(FieldError::new(
            format!("/{field}"),
            format!("at most {max} characters"),
        )),
        Some(t) => return t.to_owned(),
    }
    String::new()
}

/// Checks a warehouse's fields, all at once, each problem naming its field. A position
/// outside `area` is refused unless `outside_service_area` is true.
pub fn check_warehouse(
    input: &WarehouseInput,
    area: &ServiceArea,
) -> Result<WarehouseDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    let code = required_text(&mut errors, "code", &input.code, 40);
    if !code.is_empty() && !crate::catalog::sku_is_valid(&code) {
        errors.push(FieldError::new(
            "/code",
            "2–40 characters of A–Z, 0–9 and `-`, starting with a letter or digit",
        ));
    }
    let name_zh = required_text(&mut errors, "name_zh", &input.name_zh, 200);
    let name_en = required_text(&mut errors, "name_en", &input.name_en, 200);
    let city = required_text(&mut errors, "city", &input.city, 100);
    let district = match input.district.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > 100 => {
            errors.push(FieldError::new("/district", "at most 100 characters"));
            None
        }
        Some(d) => Some(d.to_owned()),
    };
    let tier = match input.tier.as_deref().map(str::trim) {
        None => {
            errors.push(FieldError::new("/tier", "required"));
            Tier::Community
        }
        Some(t) => Tier::parse(t).unwrap_or_else(|| {
            let names: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
            errors.push(FieldError::new(
                "/tier",
                format!("unknown tier `{t}`: expected one of {}", names.join(", ")),
            ));
            Tier::Community
        }),
    };
    let lat = match input.lat {
        None => {
            errors.push(FieldError::new("/lat", "required"));
            0.0
        }
        Some(v) if !v.is_finite() || !(-90.0..=90.0).contains(&v) => {
            errors.push(FieldError::new(
                "/lat",
                "latitude must be between -90 and 90",
            ));
            0.0
        }
        Some(v) => v,
    };
    let lon = match input.lon {
        None => {
            errors.push(FieldError::new("/lon", "required"));
            0.0
        }
        Some(v) if !v.is_finite() || !(-180.0..=180.0).contains(&v) => {
            errors.push(FieldError::new(
                "/lon",
                "longitude must be between -180 and 180",
            ));
            0.0
        }
        Some(v) => v,
    };
    if let (Some(la), Some(lo)) = (input.lat, input.lon)
        && la.is_finite()
        && lo.is_finite()
        && !area.contains(la, lo)
        && input.outside_service_area != Some(true)
    {
        let detail = format!(
            "({la}, {lo}) is outside the service area (latitude {}–{}, longitude {}–{}); \
             check the position (WGS84, not GCJ-02), or send `outside_service_area: true`",
            area.min_lat, area.max_lat, area.min_lon, area.max_lon
        );
        errors.push(FieldError::new("/lat", detail.clone()));
        errors.push(FieldError::new("/lon", detail));
    }
    let handling_minutes = match input.handling_minutes.unwrap_or(30) {
        m @ 0..=1440 => m as i32,
        m => {
            errors.push(FieldError::new(
                "/handling_minutes",
                format!("{m}: expected 0 to 1440 minutes"),
            ));
            0
        }
    };
    let status = match input.status.as_deref().map(str::trim).unwrap_or("active") {
        "active" => WarehouseStatus::Active,
        "inactive" => WarehouseStatus::Inactive,
        other => {
            errors.push(FieldError::new(
                "/status",
                format!("`{other}`: expected active or inactive"),
            ));
            WarehouseStatus::Active
        }
    };
    let parent = match input.parent.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) if p == code => {
            errors.push(FieldError::new(
                "/parent",
                "a warehouse cannot be its own parent",
            ));
            None
        }
        Some(p) => Some(p.to_owned()),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(WarehouseDraft {
        code,
        name_zh,
        name_en,
        city,
        district,
        tier,
        lat,
        lon,
        handling_minutes,
        status,
        parent,
    })
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
    fn the_tiers_are_the_reserve_planners_tiers() {
        // The service's tier (stored, in the API) and the pure planners' tier
        // (`stockpile_core::reserve::Tier`) are one list: the same names, both ways.
        assert_eq!(Tier::ALL.len(), crate::reserve_core::Tier::ALL.len());
        for t in Tier::ALL {
            let core = crate::reserve_core::Tier::parse(t.as_str()).expect("a planner tier");
            assert_eq!(Tier::parse(core.as_str()), Some(t));
        }
    }

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

    fn depot(lat: f64, lon: f64) -> WarehouseInput {
        WarehouseInput {
            code: Some("ZH-XZ-01".into()),
            name_zh: Some("香洲储备点".into()),
            name_en: Some("Xiangzhou point".into()),
            city: Some("Zhuhai".into()),
            tier: Some("community".into()),
            lat: Some(lat),
            lon: Some(lon),
            ..WarehouseInput::default()
        }
    }

    #[test]
    fn a_position_outside_the_service_area_needs_the_override() {
        let area = ServiceArea::default();
        assert!(check_warehouse(&depot(22.27, 113.57), &area).is_ok());
        let errors = check_warehouse(&depot(31.23, 121.47), &area).expect_err("Shanghai");
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/lat", "/lon"]);
        let mut outside = depot(31.23, 121.47);
        outside.outside_service_area = Some(true);
        assert!(check_warehouse(&outside, &area).is_ok());
    }

    #[test]
    fn service_areas_parse_and_refuse_inverted_boxes() {
        assert_eq!(
            "21.4,111.3,24.5,115.5".parse::<ServiceArea>(),
            Ok(ServiceArea::default())
        );
        assert!("24.5,111.3,21.4,115.5".parse::<ServiceArea>().is_err());
        assert!("1,2,3".parse::<ServiceArea>().is_err());
    }

    #[test]
    fn every_bad_warehouse_field_is_named() {
        let input = WarehouseInput {
            code: Some("bad code".into()),
            tier: Some("province".into()),
            lat: Some(95.0),
            handling_minutes: Some(-1),
            status: Some("closed".into()),
            ..WarehouseInput::default()
        };
        let errors = check_warehouse(&input, &ServiceArea::default()).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for p in [
            "/code",
            "/name_zh",
            "/name_en",
            "/city",
            "/tier",
            "/lat",
            "/lon",
            "/handling_minutes",
            "/status",
        ] {
            assert!(pointers.contains(&p), "{p}: {pointers:?}");
        }
    }
}
