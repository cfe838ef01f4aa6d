//! Opening stock: one row per lot on the shelves at go-live (`warehouse`, `sku` or
//! `gtin` or both, `lot_code`, `expires_on`, `qty`, optional `quarantine` and `donor`).
//! Each becomes a new lot received with source `opening_balance`.
//!
//! The rules are the receipt's where they apply: the item must exist and not be
//! retired, a SKU and a GTIN on one row must name the same item, an item that expires
//! needs an expiry and one that does not refuses it, an expired lot must come in
//! quarantined. Unlike a receipt, a short-dated lot is taken as it is: it is already on
//! the shelf. A lot (warehouse, item, lot code) appears once in the file and must not be
//! on record yet (checked by `cases` against the database).
//!
//! Pure: the warehouses and items to resolve against, and today, are arguments.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::{CellError, Columns, Kind, Sheet, parse_bool, parse_date, parse_int};
use crate::ids::{ItemId, WarehouseId};
use crate::stock::{ItemPolicy, LotStatus};

const K: Kind = Kind::OpeningStock;

/// One checked row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningLot {
    /// Its row in the file.
    pub row: u32,
    /// Warehouse.
    pub warehouse: WarehouseId,
    /// Item.
    pub item: ItemId,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// Units, > 0.
    pub qty: i64,
    /// Arrives quarantined or available.
    pub status: LotStatus,
    /// Donor or supplier.
    pub donor: Option<String>,
}

/// What rows resolve against.
#[derive(Debug, Default)]
pub struct Lookups {
    /// Warehouse ids by code.
    pub warehouses: HashMap<String, WarehouseId>,
    /// Items by SKU.
    pub items: HashMap<String, ItemPolicy>,
    /// SKUs by GTIN-14.
    pub sku_by_gtin: HashMap<String, String>,
}

/// Checks every row; returns the lots, or every bad cell.
pub fn check(
    sheet: &Sheet,
    cols: &Columns,
    lookups: &Lookups,
    today: NaiveDate,
) -> Result<Vec<OpeningLot>, Vec<CellError>> {
    let mut errors = Vec::new();
    for name in ["warehouse", "lot_code", "qty"] {
        if cols.index(K, name).is_none() {
            errors.push(missing(name));
        }
    }
    if cols.index(K, "sku").is_none() && cols.index(K, "gtin").is_none() {
        errors.push(missing("sku` or `gtin"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut lots = Vec::with_capacity(sheet.rows.len());
    let mut seen: HashMap<(WarehouseId, ItemId, &str), u32> = HashMap::new();
    for (row, cells) in &sheet.rows {
        let row = *row;
        let before = errors.len();
        let err = |name: &str, reason: String| cols.error(K, row, name, reason);
        let warehouse = match cols.get(K, "warehouse", cells) {
            None => {
                errors.push(err("warehouse", "required".into()));
                None
            }
            Some(code) => match lookups.warehouses.get(code) {
                Some(id) => Some(*id),
                None => {
                    errors.push(err("warehouse", format!("unknown warehouse `{code}`")));
                    None
                }
            },
        };
        let item = item_of(row, cols, cells, lookups, &mut errors);
        let lot_code = match cols.get(K, "lot_code", cells) {
            None => {
                errors.push(err("lot_code", "required".into()));
                None
            }
            Some(c) if c.chars().count() > 40 => {
                errors.push(err("lot_code", "at most 40 characters".into()));
                None
            }
            Some(c) => Some(c),
        };
        let qty = match cols.get(K, "qty", cells) {
            None => {
                errors.push(err("qty", "required".into()));
                None
            }
            Some(q) => match parse_int(q) {
                Some(n) if n > 0 => Some(n),
                _ => {
                    errors.push(err(
                        "qty",
                        format!("`{q}`: expected a whole number above 0"),
                    ));
                    None
                }
            },
        };
        let quarantine = match parse_bool(cols.get(K, "quarantine", cells)) {
            Ok(b) => b,
            Err(reason) => {
                errors.push(err("quarantine", reason));
                false
            }
        };
        let expires_on = match cols.get(K, "expires_on", cells) {
            None => None,
            Some(d) => match parse_date(d) {
                Some(d) => Some(d),
                None => {
                    errors.push(err(
                        "expires_on",
                        format!("`{d}`: expected a date such as 2027-05-01"),
                    ));
                    None
                }
            },
        };
        let donor = cols.get(K, "donor", cells).map(str::to_owned);
        if donor.as_ref().is_some_and(|d| d.chars().count() > 200) {
            errors.push(err("donor", "at most 200 characters".into()));
        }
        if let Some(item) = item {
            let expiry_given = cols.get(K, "expires_on", cells).is_some();
            match (item.shelf_life_days.is_some(), expiry_given) {
                (true, false) => errors.push(err(
                    "expires_on",
                    format!("item {} expires: give the lot's expiry", item.sku),
                )),
                (false, true) => errors.push(err(
                    "expires_on",
                    format!(
                        "item {} does not expire (no shelf life in the catalogue); leave it empty",
                        item.sku
                    ),
                )),
                _ => {}
            }
            if let Some(e) = expires_on
                && crate::rules::expired(Some(e), today)
                && !quarantine
            {
                errors.push(err(
                    "quarantine",
                    format!("the lot expired on {e}: set quarantine to true to hold it apart"),
                ));
            }
        }
        if errors.len() > before {
            continue;
        }
        let (Some(warehouse), Some(item), Some(lot_code), Some(qty)) =
            (warehouse, item, lot_code, qty)
        else {
            continue;
        };
        if let Some(first) = seen.insert((warehouse, item.id, lot_code), row) {
            errors.push(err(
                "lot_code",
                format!("the same lot (warehouse, item, lot code) as row {first}"),
            ));
            continue;
        }
        lots.push(OpeningLot {
            row,
            warehouse,
            item: item.id,
            lot_code: lot_code.to_owned(),
            expires_on,
            qty,
            status: if quarantine {
                LotStatus::Quarantined
            } else {
                LotStatus::Available
            },
            donor,
        });
    }
    if errors.is_empty() {
        Ok(lots)
    } else {
        Err(errors)
    }
}

fn missing(name: &str) -> CellError {
    CellError {
        row: 1,
        column: name.to_owned(),
        cell: None,
        reason: format!("the header has no `{name}` column"),
    }
}

/// The row's item, by SKU, GTIN or both (which must agree), active.
fn item_of<'a>(
    row: u32,
    cols: &Columns,
    cells: &[String],
    lookups: &'a Lookups,
    errors: &mut Vec<CellError>,
) -> Option<&'a ItemPolicy> {
    let err = |name: &str, reason: String| cols.error(K, row, name, reason);
    let by_sku = match cols.get(K, "sku", cells) {
        None => None,
        Some(sku) => match lookups.items.get(sku) {
            Some(i) => Some(i),
            None => {
                errors.push(err("sku", format!("unknown SKU `{sku}`")));
                return None;
            }
        },
    };
    let by_gtin = match cols.get(K, "gtin", cells) {
        None => None,
        Some(g) => match crate::gs1::normalize_gtin(g) {
            Err(e) => {
                errors.push(err("gtin", e.to_string()));
                return None;
            }
            Ok(g14) => match lookups
                .sku_by_gtin
                .get(&g14)
                .and_then(|s| lookups.items.get(s))
            {
                Some(i) => Some(i),
                None => {
                    errors.push(err("gtin", format!("no catalogue item has the GTIN {g14}")));
                    return None;
                }
            },
        },
    };
    let item = match (by_sku, by_gtin) {
        (Some(a), Some(b)) if a.id != b.id => {
            errors.push(err(
                "gtin",
                format!("the GTIN is item {}, not {}", b.sku, a.sku),
            ));
            return None;
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            errors.push(err("sku", "give the SKU or the GTIN".into()));
            return None;
        }
    };
    if item.retired {
        errors.push(err(
            if by_sku.is_some() { "sku" } else { "gtin" },
            format!("item {} is retired: it is no longer received", item.sku),
        ));
        return None;
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imports::match_header;

    fn lookups() -> Lookups {
        let water = ItemPolicy {
            id: ItemId(uuid::Uuid::from_u128(1)),
            sku: "WATER-5L".into(),
            gtins: vec!["06975301011120".into()],
            shelf_life_days: Some(365),
            min_remaining_days: 60,
            retired: false,
        };
        let tent = ItemPolicy {
            id: ItemId(uuid::Uuid::from_u128(2)),
            sku: "TENT".into(),
            gtins: vec![],
            shelf_life_days: None,
            min_remaining_days: 0,
            retired: false,
        };
        let old = ItemPolicy {
            id: ItemId(uuid::Uuid::from_u128(3)),
            sku: "OLD".into(),
            gtins: vec![],
            shelf_life_days: None,
            min_remaining_days: 0,
            retired: true,
        };
        Lookups {
            warehouses: [("JM".to_owned(), WarehouseId(uuid::Uuid::from_u128(9)))].into(),
            sku_by_gtin: [("06975301011120".to_owned(), "WATER-5L".to_owned())].into(),
            items: [water, tent, old]
                .into_iter()
                .map(|i| (i.sku.clone(), i))
                .collect(),
        }
    }

    fn sheet(rows: &[&str]) -> Sheet {
        let mut lines = rows
            .iter()
            .map(|r| r.split(',').map(str::to_owned).collect::<Vec<_>>());
        Sheet {
            header: lines.next().unwrap_or_default(),
            rows: lines.enumerate().map(|(i, c)| (i as u32 + 2, c)).collect(),
        }
    }

    #[test]
    fn good_rows_become_lots_and_every_bad_cell_is_named_by_row_and_column() {
        let s = sheet(&[
            "warehouse,sku,gtin,lot_code,expires_on,qty,quarantine",
            "JM,WATER-5L,,A1,2030-01-01,100,",
            "JM,,6975301011120,A2,2030-01-01,5,no",
            "JM,TENT,,T1,,3,",
            "XX,TENT,,T2,2030-01-01,0,maybe",
            "JM,OLD,,O1,,1,",
            "JM,WATER-5L,,A1,2030-01-01,1,",
            "JM,WATER-5L,,E1,2020-01-01,1,",
        ]);
        let cols = match_header(Kind::OpeningStock, &s.header).expect("header");
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
        let errors = check(&s, &cols, &lookups(), today).expect_err("bad rows");
        let named: Vec<(u32, &str)> = errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(
            named,
            [
                (5, "warehouse"),
                (5, "qty"),
                (5, "quarantine"),
                (5, "expires_on"),
                (6, "sku"),
                (7, "lot_code"),
                (8, "quarantine"),
            ]
        );
        assert_eq!(errors[0].cell.as_deref(), Some("A5"));

        let good = sheet(&[
            "warehouse,sku,gtin,lot_code,expires_on,qty,quarantine",
            "JM,WATER-5L,,A1,2030-01-01,100,",
            "JM,,6975301011120,A2,2020-01-01,5,yes",
        ]);
        let lots = check(&good, &cols, &lookups(), today).expect("good");
        assert_eq!(lots.len(), 2);
        assert_eq!(lots[1].status, LotStatus::Quarantined);
        assert_eq!(lots[1].item, ItemId(uuid::Uuid::from_u128(1)));
    }
}
