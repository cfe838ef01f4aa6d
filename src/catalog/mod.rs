//! The catalogue of emergency supplies (GB/T 38565-2020 classes), with each item's
//! Chinese counting unit, GTIN and shelf-life policy.
//!
//! Invariants: SKUs and GTINs are unique; a GTIN carries a valid GS1 check digit; an
//! item with no shelf life never expires.

pub mod db;
pub mod http;

use serde::{Deserialize, Serialize};

use crate::ids::ItemId;

/// How much of an item a population needs, from Sphere planning figures:
/// `ceil(population / per_persons × qty × days / per_days)`, or without the day factor
/// when `per_days` is absent (one-off needs such as tents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NeedNorm {
    /// Units per `per_persons` people.
    pub qty: i64,
    /// The group size the quantity is for.
    pub per_persons: i64,
    /// The period the quantity covers, in days; absent for one-off needs.
    pub per_days: Option<i64>,
    /// The planning figure this comes from.
    pub basis: String,
}

impl NeedNorm {
    /// Units needed for `population` people over `days` days, rounded up; `None` on
    /// overflow or a degenerate norm.
    pub fn units_for(&self, population: i64, days: i64) -> Option<i64> {
        if self.per_persons <= 0 || self.qty < 0 || population < 0 || days < 0 {
            return None;
        }
        let (num, den) = match self.per_days {
            Some(per_days) if per_days > 0 => (
                (population as i128) * (self.qty as i128) * (days as i128),
                (self.per_persons as i128) * (per_days as i128),
            ),
            Some(_) => return None,
            None => (
                (population as i128) * (self.qty as i128),
                self.per_persons as i128,
            ),
        };
        i64::try_from((num + den - 1) / den).ok()
    }
}

/// A catalogue item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    /// Item id.
    pub id: ItemId,
    /// Stock-keeping unit, e.g. `TENT-12M2-SGL`.
    pub sku: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// GB/T 38565-2020 category code.
    pub category_code: String,
    /// Chinese counting unit (顶, 床, 件, 箱 …).
    pub unit_zh: String,
    /// English unit.
    pub unit_en: String,
    /// Specification.
    pub spec: Option<String>,
    /// GTIN-14.
    pub gtin: Option<String>,
    /// Shelf life in days; absent when the item does not expire.
    pub shelf_life_days: Option<i32>,
    /// Minimum remaining shelf life at dispatch, in days.
    pub min_remaining_days: i32,
    /// Expiry alert window, in days.
    pub alert_days: i32,
    /// `ambient`, `cool` (2–8 °C) or `frozen`.
    pub storage_class: String,
    /// Sphere-derived planning norm.
    #[schema(value_type = Option<NeedNorm>)]
    pub need_norm: Option<serde_json::Value>,
}

/// A GB/T 38565-2020 category.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Category {
    /// Category code.
    pub code: String,
    /// Parent category code.
    pub parent_code: Option<String>,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_norms_round_up_and_scale_with_days() {
        let water = NeedNorm {
            qty: 3,
            per_persons: 1,
            per_days: Some(1),
            basis: String::new(),
        };
        assert_eq!(water.units_for(10_000, 3), Some(90_000));
        let tent = NeedNorm {
            qty: 10,
            per_persons: 34,
            per_days: None,
            basis: String::new(),
        };
        // 10,000 people at 3.4 per tent: 2,941.2 → 2,942 tents
        assert_eq!(tent.units_for(10_000, 3), Some(2_942));
        let broken = NeedNorm {
            qty: 1,
            per_persons: 0,
            per_days: None,
            basis: String::new(),
        };
        assert_eq!(broken.units_for(10, 1), None);
    }
}
