//! Reserve levels: one row per (warehouse, SKU) with `min_qty` (0 removes the level).
//! A row equal to the stored level writes nothing.
//!
//! Pure: the warehouses, items and stored levels are arguments.

use std::collections::HashMap;

use super::{CellError, Columns, Kind, Sheet, parse_int};
use crate::ids::{ItemId, WarehouseId};

const K: Kind = Kind::ReserveLevels;

/// One checked row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelRow {
    /// Its row.
    pub row: u32,
    /// Warehouse.
    pub warehouse: WarehouseId,
    /// Item.
    pub item: ItemId,
    /// The level (0: none).
    pub min_qty: i64,
    /// Whether it equals what is stored.
    pub same: bool,
}

/// Checks every row against the warehouses and items (by code and SKU) and the stored
/// levels.
pub fn check(
    sheet: &Sheet,
    cols: &Columns,
    warehouses: &HashMap<String, WarehouseId>,
    items: &HashMap<String, ItemId>,
    stored: &HashMap<(WarehouseId, ItemId), i64>,
) -> Result<Vec<LevelRow>, Vec<CellError>> {
    let mut errors = Vec::new();
    for name in ["warehouse", "sku", "min_qty"] {
        if cols.index(K, name).is_none() {
            errors.push(CellError {
                row: 1,
                column: name.into(),
                cell: None,
                reason: format!("the header has no `{name}` column"),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::with_capacity(sheet.rows.len());
    let mut seen: HashMap<(WarehouseId, ItemId), u32> = HashMap::new();
    for (row, cells) in &sheet.rows {
        let row = *row;
        let before = errors.len();
        let err = |name: &str, reason: String| cols.error(K, row, name, reason);
        let warehouse = match cols.get(K, "warehouse", cells) {
            None => {
                errors.push(err("warehouse", "required".into()));
                None
            }
            Some(c) => warehouses.get(c).copied().or_else(|| {
                errors.push(err("warehouse", format!("unknown warehouse `{c}`")));
                None
            }),
        };
        let item = match cols.get(K, "sku", cells) {
            None => {
                errors.push(err("sku", "required".into()));
                None
            }
            Some(s) => items.get(s).copied().or_else(|| {
                errors.push(err("sku", format!("unknown SKU `{s}`")));
                None
            }),
        };
        let min_qty = match cols.get(K, "min_qty", cells).map(|v| (v, parse_int(v))) {
            None => {
                errors.push(err("min_qty", "required".into()));
                None
            }
            Some((_, Some(n))) if n >= 0 => Some(n),
            Some((v, _)) => {
                errors.push(err(
                    "min_qty",
                    format!("`{v}`: expected a whole number, 0 or more"),
                ));
                None
            }
        };
        if errors.len() > before {
            continue;
        }
        let (Some(warehouse), Some(item), Some(min_qty)) = (warehouse, item, min_qty) else {
            continue;
        };
        if let Some(first) = seen.insert((warehouse, item), row) {
            errors.push(err(
                "sku",
                format!("the same warehouse and SKU as row {first}"),
            ));
            continue;
        }
        let same = stored.get(&(warehouse, item)).copied().unwrap_or(0) == min_qty;
        out.push(LevelRow {
            row,
            warehouse,
            item,
            min_qty,
            same,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
