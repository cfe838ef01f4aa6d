//! The rules of a warehouse's reserve levels, as an admin sets them: each SKU once, known
//! to the catalogue, with a level of zero or more (zero removes it).
//!
//! Pure: no database.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::ItemPolicy;
use super::fields::invalid_all;
use crate::audit::Change;
use crate::error::{AppError, FieldError};
use crate::ids::ItemId;

/// A warehouse's reserve level for one item.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
pub struct ReserveLevel {
    /// Item SKU.
    pub sku: String,
    /// Minimum quantity ordinary allocation must leave.
    pub min_qty: i64,
}

/// One reserve level to set.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveLevelInput {
    /// Item SKU.
    pub sku: String,
    /// Minimum quantity, >= 0; 0 removes the level.
    pub min_qty: i64,
}

/// Checks `levels` against the catalogue `items` they name; returns each level's item,
/// in order, or one 422 naming every problem.
pub fn check(levels: &[ReserveLevelInput], items: &[ItemPolicy]) -> Result<Vec<ItemId>, AppError> {
    let mut errors = Vec::new();
    for (i, l) in levels.iter().enumerate() {
        if l.min_qty < 0 {
            errors.push(FieldError::new(
                format!("/{i}/min_qty"),
                format!("must be 0 or more, got {}", l.min_qty),
            ));
        }
        if levels[..i].iter().any(|o| o.sku == l.sku) {
            errors.push(FieldError::new(
                format!("/{i}/sku"),
                format!("SKU {} appears twice", l.sku),
            ));
        }
    }
    let by_sku: HashMap<&str, ItemId> = items.iter().map(|i| (i.sku.as_str(), i.id)).collect();
    let mut ids = Vec::with_capacity(levels.len());
    for (i, l) in levels.iter().enumerate() {
        match by_sku.get(l.sku.as_str()) {
            Some(id) => ids.push(*id),
            None => errors.push(FieldError::new(
                format!("/{i}/sku"),
                format!("unknown SKU `{}`", l.sku),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(invalid_all(errors));
    }
    Ok(ids)
}

/// The audit record: the levels of the SKUs set, before and after.
pub fn change(
    warehouse: &str,
    levels: &[ReserveLevelInput],
    before: &[ReserveLevel],
    after: &[ReserveLevel],
) -> Change<'static> {
    let touched = |rows: &[ReserveLevel]| {
        rows.iter()
            .filter(|r| levels.iter().any(|l| l.sku == r.sku))
            .map(|r| (r.sku.clone(), r.min_qty))
            .collect::<BTreeMap<_, _>>()
    };
    Change {
        action: "stock.reserve_levels",
        entity_kind: "warehouse",
        entity_id: warehouse.to_owned(),
        before: Some(json!(touched(before))),
        after: Some(json!(touched(after))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sku: &str, n: u128) -> ItemPolicy {
        ItemPolicy {
            id: ItemId(uuid::Uuid::from_u128(n)),
            sku: sku.into(),
            gtins: vec![],
            shelf_life_days: None,
            min_remaining_days: 0,
            retired: false,
        }
    }

    fn level(sku: &str, min_qty: i64) -> ReserveLevelInput {
        ReserveLevelInput {
            sku: sku.into(),
            min_qty,
        }
    }

    #[test]
    fn levels_name_known_skus_once_with_a_level_of_zero_or_more() {
        let items = [item("A", 1), item("B", 2)];
        assert_eq!(
            check(&[level("B", 0), level("A", 5)], &items).ok(),
            Some(vec![items[1].id, items[0].id])
        );
        let err =
            check(&[level("A", -1), level("A", 1), level("C", 1)], &items).expect_err("refused");
        let pointers: Vec<String> = err
            .problem()
            .errors
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(pointers, vec!["/0/min_qty", "/1/sku", "/2/sku"]);
    }

    #[test]
    fn the_audit_record_shows_only_the_skus_set() {
        let row = |sku: &str, min_qty| ReserveLevel {
            sku: sku.into(),
            min_qty,
        };
        let c = change(
            "WH",
            &[level("A", 0)],
            &[row("A", 3), row("B", 4)],
            &[row("B", 4)],
        );
        assert_eq!(c.before, Some(json!({"A": 3})));
        assert_eq!(c.after, Some(json!({})));
    }
}
