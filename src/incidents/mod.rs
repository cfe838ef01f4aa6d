//! Incidents: a point, an optional affected area and the population affected.
//!
//! Invariants: an incident's point is valid WGS84 (the table checks the range too); an
//! affected area is a GeoJSON Polygon whose rings are closed, have at least four positions
//! and do not intersect themselves. The same checks apply to closure areas, so they live
//! here as pure functions returning the JSON pointer of the offending member.

pub mod cases;
pub mod db;
pub mod http;

use geo::{Coord, LineString, MultiPolygon, Point, Polygon, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::AppError;

/// What happened.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum IncidentKind {
    /// Typhoon wind and storm surge.
    Typhoon,
    /// Riverine or coastal flood.
    Flood,
    /// Extreme rainstorm, urban flooding.
    Rainstorm,
    /// Landslide.
    Landslide,
    /// Fire.
    Fire,
    /// Earthquake.
    Earthquake,
    /// Epidemic.
    Epidemic,
    /// Anything else.
    Other,
}

impl IncidentKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Typhoon => "typhoon",
            IncidentKind::Flood => "flood",
            IncidentKind::Rainstorm => "rainstorm",
            IncidentKind::Landslide => "landslide",
            IncidentKind::Fire => "fire",
            IncidentKind::Earthquake => "earthquake",
            IncidentKind::Epidemic => "epidemic",
            IncidentKind::Other => "other",
        }
    }
}

/// The level that responds to an incident. It sets the default delivery target: the
/// hours within which the first batch must arrive after the dispatch order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum ResponseLevel {
    /// County (district) level: 6 h by default.
    County,
    /// City level: 8 h by default.
    City,
    /// Provincial level: 10 h by default.
    Province,
}

impl ResponseLevel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseLevel::County => "county",
            ResponseLevel::City => "city",
            ResponseLevel::Province => "province",
        }
    }
}

/// The default delivery target of each response level, in hours. The defaults are the
/// first-batch targets of China's 2024 national guidance on emergency-supply reserves
/// (county 6 h, city 8 h, province 10 h; reserve-policy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryTargets {
    /// County level.
    pub county: i32,
    /// City level.
    pub city: i32,
    /// Provincial level.
    pub province: i32,
}

impl Default for DeliveryTargets {
    fn default() -> Self {
        DeliveryTargets {
            county: 6,
            city: 8,
            province: 10,
        }
    }
}

impl DeliveryTargets {
    /// The default target of `level`.
    pub fn hours(&self, level: ResponseLevel) -> i32 {
        match level {
            ResponseLevel::County => self.county,
            ResponseLevel::City => self.city,
            ResponseLevel::Province => self.province,
        }
    }

    /// Parses `county=6,city=8,province=10` (any order; every level once, 1–72 hours).
    pub fn parse(s: &str) -> Result<DeliveryTargets, String> {
        let mut seen = [None; 3];
        for part in s.split(',') {
            let (name, hours) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected level=hours, such as county=6"))?;
            let hours: i32 = hours
                .trim()
                .parse()
                .ok()
                .filter(|h| (1..=MAX_TARGET_HOURS).contains(h))
                .ok_or_else(|| format!("`{part}`: hours must be a whole number from 1 to 72"))?;
            let slot = match name.trim() {
                "county" => 0,
                "city" => 1,
                "province" => 2,
                other => return Err(format!("`{other}`: expected county, city or province")),
            };
            seen[slot] = Some(hours);
        }
        match seen {
            [Some(county), Some(city), Some(province)] => Ok(DeliveryTargets {
                county,
                city,
                province,
            }),
            _ => Err("name every level: county=…,city=…,province=…".into()),
        }
    }
}

/// The longest delivery target an incident may have, in hours.
pub const MAX_TARGET_HOURS: i32 = 72;

/// An incident's delivery target: the one asked for, or its level's default; a 422 on
/// `/delivery_target_hours` when it is outside 1–72 hours.
pub fn delivery_target(
    asked: Option<i32>,
    level: ResponseLevel,
    defaults: &DeliveryTargets,
) -> Result<i32, AppError> {
    match asked {
        None => Ok(defaults.hours(level)),
        Some(h) if (1..=MAX_TARGET_HOURS).contains(&h) => Ok(h),
        Some(h) => Err(AppError::invalid(
            "/delivery_target_hours",
            format!("delivery_target_hours must be from 1 to {MAX_TARGET_HOURS}; it is {h}"),
        )),
    }
}

/// Whether an incident still takes requests.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum IncidentStatus {
    /// Taking requests.
    Open,
    /// Over; no new requests.
    Closed,
}

impl IncidentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Closed => "closed",
        }
    }
}

/// A WGS84 position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LatLon {
    /// Latitude, −90 to 90.
    pub lat: f64,
    /// Longitude, −180 to 180.
    pub lon: f64,
}

impl LatLon {
    /// Checks the ranges; the error names `<pointer>/lat` or `<pointer>/lon`.
    pub fn validate(&self, pointer: &str) -> Result<Point<f64>, AppError> {
        if !self.lat.is_finite() || !(-90.0..=90.0).contains(&self.lat) {
            return Err(AppError::invalid(
                format!("{pointer}/lat"),
                format!("latitude {} is outside -90..90", self.lat),
            ));
        }
        if !self.lon.is_finite() || !(-180.0..=180.0).contains(&self.lon) {
            return Err(AppError::invalid(
                format!("{pointer}/lon"),
                format!("longitude {} is outside -180..180", self.lon),
            ));
        }
        Ok(self.point())
    }

    /// As a `geo` point (x = lon, y = lat).
    pub fn point(&self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }
}

/// Most positions a ring may have; keeps validation (quadratic in the worst case) cheap.
pub const MAX_RING_POSITIONS: usize = 5_000;

/// Parses a GeoJSON Polygon (or, when `allow_multi`, a MultiPolygon) into a validated
/// multipolygon. Every problem is a 422 naming `pointer` with the detail of what is wrong.
pub fn parse_area(
    value: &Value,
    pointer: &str,
    allow_multi: bool,
) -> Result<MultiPolygon<f64>, AppError> {
    let bad = |detail: String| AppError::invalid(pointer, detail);
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("expected a GeoJSON geometry with a \"type\"".into()))?;
    let coords = value
        .get("coordinates")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("\"coordinates\" is missing or not an array".into()))?;
    let polygons = match kind {
        "Polygon" => vec![parse_polygon(coords, "").map_err(bad)?],
        "MultiPolygon" if allow_multi => {
            if coords.is_empty() {
                return Err(bad("a MultiPolygon needs at least one polygon".into()));
            }
            let mut out = Vec::with_capacity(coords.len());
            for (i, p) in coords.iter().enumerate() {
                let rings = p
                    .as_array()
                    .ok_or_else(|| bad(format!("polygon {i} is not an array of rings")))?;
                out.push(parse_polygon(rings, &format!("polygon {i}: ")).map_err(bad)?);
            }
            out
        }
        other => {
            let want = if allow_multi {
                "\"Polygon\" or \"MultiPolygon\""
            } else {
                "\"Polygon\""
            };
            return Err(bad(format!("type must be {want}, got \"{other}\"")));
        }
    };
    Ok(MultiPolygon::new(polygons))
}

fn parse_polygon(rings: &[Value], prefix: &str) -> Result<Polygon<f64>, String> {
    if rings.is_empty() {
        return Err(format!("{prefix}a polygon needs an exterior ring"));
    }
    let mut parsed: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let positions = ring
            .as_array()
            .ok_or_else(|| format!("{prefix}ring {r} is not an array of positions"))?;
        if positions.len() < 4 {
            return Err(format!(
                "{prefix}ring {r} has {} positions; a closed ring needs at least 4",
                positions.len()
            ));
        }
        if positions.len() > MAX_RING_POSITIONS {
            return Err(format!(
                "{prefix}ring {r} has {} positions; at most {MAX_RING_POSITIONS} are allowed",
                positions.len()
            ));
        }
        let mut coords = Vec::with_capacity(positions.len());
        for (i, p) in positions.iter().enumerate() {
            let pair = p.as_array().filter(|a| a.len() >= 2);
            let (Some(lon), Some(lat)) = (
                pair.and_then(|a| a[0].as_f64()),
                pair.and_then(|a| a[1].as_f64()),
            ) else {
                return Err(format!("{prefix}ring {r} position {i} must be [lon, lat]"));
            };
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return Err(format!(
                    "{prefix}ring {r} position {i} [{lon}, {lat}] is out of range (GeoJSON order is [lon, lat])"
                ));
            }
            coords.push(Coord { x: lon, y: lat });
        }
        if coords.first() != coords.last() {
            return Err(format!(
                "{prefix}ring {r} is not closed: its first and last positions differ"
            ));
        }
        parsed.push(LineString::new(coords));
    }
    let exterior = parsed.remove(0);
    let polygon = Polygon::new(exterior, parsed);
    if let Err(e) = polygon.check_validation() {
        return Err(format!("{prefix}invalid polygon: {e}"));
    }
    Ok(polygon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointer_of(err: AppError) -> String {
        match err {
            AppError::Validation { errors, .. } => errors[0].pointer.clone(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_square_is_a_valid_area() {
        let sq = json!({"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.1], [113.0, 22.0]]]});
        assert!(parse_area(&sq, "/a", false).is_ok());
    }

    #[test]
    fn open_short_and_bow_tie_rings_are_rejected() {
        let open = json!({"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.1]]]});
        assert_eq!(
            pointer_of(parse_area(&open, "/a", false).expect_err("open")),
            "/a"
        );
        let short = json!({"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.0], [113.0, 22.0]]]});
        assert!(parse_area(&short, "/a", false).is_err());
        let bow = json!({"type": "Polygon", "coordinates": [[[113.0, 22.0], [113.1, 22.1], [113.1, 22.0], [113.0, 22.1], [113.0, 22.0]]]});
        let err = parse_area(&bow, "/a", false).expect_err("bow tie");
        assert!(err.to_string().contains("self-intersection"), "{err}");
    }

    #[test]
    fn multipolygons_only_where_allowed() {
        let mp = json!({"type": "MultiPolygon", "coordinates": [[[[113.0, 22.0], [113.1, 22.0], [113.1, 22.1], [113.0, 22.0]]]]});
        assert!(parse_area(&mp, "/a", true).is_ok());
        assert!(parse_area(&mp, "/a", false).is_err());
    }

    #[test]
    fn points_out_of_range_name_the_member() {
        let bad = LatLon {
            lat: 91.0,
            lon: 113.0,
        };
        assert_eq!(
            pointer_of(bad.validate("/point").expect_err("lat")),
            "/point/lat"
        );
        let bad = LatLon {
            lat: 22.0,
            lon: 181.0,
        };
        assert_eq!(
            pointer_of(bad.validate("/point").expect_err("lon")),
            "/point/lon"
        );
    }
}
