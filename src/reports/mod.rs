//! Stock summaries and alerts over lots, transfers and reserve levels.
//!
//! Definitions (per group, all in base units, on the deployment's today):
//! - `on_hand`, `reserved`: sums over the lots;
//! - `available`: on hand − reserved of lots that are usable (not quarantined, not expired);
//! - `in_transit`: units on transfers still in transit, attributed to the destination
//!   warehouse (and its city) and to the item sent;
//! - `quarantined`: on hand of quarantined lots;
//! - `expired`: on hand of lots past their expiry date (a lot is usable through it);
//! - `expiring`: on hand of lots expiring from today to today + the item's `alert_days`.
//!
//! Quarantined and expired stock overlap when a lot is both; each figure stands alone.

pub mod db;
pub mod http;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::LotId;

/// How to group the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By warehouse code.
    #[default]
    Warehouse,
    /// By item SKU.
    Item,
    /// By the warehouse's city.
    City,
    /// By the item's category code.
    Category,
}

/// The figures of one (warehouse, item) pair, as the database returns them.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Warehouse code.
    pub warehouse: String,
    /// The warehouse's city.
    pub city: String,
    /// Item SKU.
    pub sku: String,
    /// Item category.
    pub category: String,
    /// Figures.
    pub figures: Figures,
}

/// The figures of a summary group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Units on hand.
    pub on_hand: i64,
    /// Units reserved.
    pub reserved: i64,
    /// On hand − reserved of usable lots (not quarantined, not expired).
    pub available: i64,
    /// Units on transfers in transit towards this group.
    pub in_transit: i64,
    /// On hand of quarantined lots.
    pub quarantined: i64,
    /// On hand of expired lots.
    pub expired: i64,
    /// On hand of lots inside their item's alert window.
    pub expiring: i64,
}

impl Figures {
    /// The sum of two, or `None` on overflow.
    pub fn checked_add(self, o: Figures) -> Option<Figures> {
        Some(Figures {
            on_hand: self.on_hand.checked_add(o.on_hand)?,
            reserved: self.reserved.checked_add(o.reserved)?,
            available: self.available.checked_add(o.available)?,
            in_transit: self.in_transit.checked_add(o.in_transit)?,
            quarantined: self.quarantined.checked_add(o.quarantined)?,
            expired: self.expired.checked_add(o.expired)?,
            expiring: self.expiring.checked_add(o.expiring)?,
        })
    }
}

/// One summary group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// Warehouse code, SKU, city or category code.
    pub key: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The stock summary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// How the groups are formed.
    pub group_by: GroupBy,
    /// The day expiry is judged on.
    pub as_of: NaiveDate,
    /// Groups with any stock or stock in transit, by key.
    pub groups: Vec<Group>,
    /// All groups together.
    pub totals: Figures,
}

/// Folds cells into groups by `by`, sorted by key. `None` on overflow.
pub fn summarise(cells: &[Cell], by: GroupBy, as_of: NaiveDate) -> Option<Summary> {
    let mut groups: BTreeMap<&str, Figures> = BTreeMap::new();
    let mut totals = Figures::default();
    for c in cells {
        let key = match by {
            GroupBy::Warehouse => c.warehouse.as_str(),
            GroupBy::Item => c.sku.as_str(),
            GroupBy::City => c.city.as_str(),
            GroupBy::Category => c.category.as_str(),
        };
        let g = groups.entry(key).or_default();
        *g = g.checked_add(c.figures)?;
        totals = totals.checked_add(c.figures)?;
    }
    Some(Summary {
        group_by: by,
        as_of,
        groups: groups
            .into_iter()
            .map(|(key, figures)| Group {
                key: key.to_owned(),
                figures,
            })
            .collect(),
        totals,
    })
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A lot past its expiry date still has stock on hand.
    Expired,
    /// A lot is inside its item's alert window.
    Expiring,
    /// A warehouse's usable available stock of an item is below its reserve level.
    BelowReserve,
}

impl AlertKind {
    /// As reported.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Expired => "expired",
            AlertKind::Expiring => "expiring",
            AlertKind::BelowReserve => "below_reserve",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// `expired`, `expiring` or `below_reserve`.
    pub kind: String,
    /// Warehouse code.
    pub warehouse: String,
    /// Item SKU.
    pub sku: String,
    /// Lot alerts: units on hand in the lot. Reserve alerts: usable available units.
    pub qty: i64,
    /// The lot (lot alerts).
    pub lot_id: Option<LotId>,
    /// The lot code (lot alerts).
    pub lot_code: Option<String>,
    /// The expiry date (lot alerts).
    pub expires_on: Option<NaiveDate>,
    /// The reserve level (reserve alerts).
    pub min_qty: Option<i64>,
    /// Units missing to the reserve level (reserve alerts).
    pub shortfall: Option<i64>,
}

/// Alerts as of a day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alerts {
    /// The day expiry is judged on.
    pub as_of: NaiveDate,
    /// Expired first, then expiring, then below reserve; each by warehouse and SKU.
    pub alerts: Vec<Alert>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(w: &str, city: &str, sku: &str, on_hand: i64, in_transit: i64) -> Cell {
        Cell {
            warehouse: w.into(),
            city: city.into(),
            sku: sku.into(),
            category: "1-1".into(),
            figures: Figures {
                on_hand,
                in_transit,
                ..Figures::default()
            },
        }
    }

    #[test]
    fn groups_add_up_to_the_totals() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).expect("day");
        let cells = [
            cell("A", "Jiangmen", "X", 5, 0),
            cell("B", "Jiangmen", "X", 7, 3),
            cell("C", "Zhuhai", "Y", 1, 0),
        ];
        let s = summarise(&cells, GroupBy::City, day).expect("sums");
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[0].key, "Jiangmen");
        assert_eq!(s.groups[0].figures.on_hand, 12);
        assert_eq!(s.groups[0].figures.in_transit, 3);
        assert_eq!(s.totals.on_hand, 13);
        let s = summarise(&cells, GroupBy::Category, day).expect("sums");
        assert_eq!(s.groups.len(), 1);
    }

    #[test]
    fn an_overflowing_sum_is_refused() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).expect("day");
        let cells = [cell("A", "c", "X", i64::MAX, 0), cell("A", "c", "X", 1, 0)];
        assert!(summarise(&cells, GroupBy::Warehouse, day).is_none());
    }
}
