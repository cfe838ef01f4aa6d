//! Items: one row per item (the columns of `GET /api/v1/items`, GTINs separated by `;`,
//! the need norm as JSON). A row whose SKU is new creates the item; one whose SKU exists
//! replaces its fields (and status, when the column is there); a row equal to the stored
//! item writes nothing, so re-importing an export changes nothing. Each row passes the
//! API's rules ([`crate::catalog::check_item`]), its errors named by row and column.
//!
//! Pure: the stored items, categories and GTIN owners are arguments.

use std::collections::{HashMap, HashSet};

use super::{CellError, Columns, Kind, Sheet};
use crate::catalog::{Item, ItemDraft, ItemInput, ItemStatus, NeedNorm, check_item};

const K: Kind = Kind::Items;

/// What a row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A new item.
    Create,
    /// Changes the stored item.
    Update,
    /// Equal to the stored item.
    Same,
}

/// One checked row.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    /// Its row.
    pub row: u32,
    /// The item.
    pub draft: ItemDraft,
    /// Its status.
    pub status: ItemStatus,
    /// What it does.
    pub effect: Effect,
}

/// What item rows are checked against.
#[derive(Debug, Default)]
pub struct Stored {
    /// Items by SKU.
    pub items: HashMap<String, Item>,
    /// Category codes.
    pub categories: HashSet<String>,
    /// The SKU owning each GTIN.
    pub gtin_owner: HashMap<String, String>,
}

fn num(v: Option<&str>, column: &str, errors: &mut Vec<(String, String)>) -> Option<i64> {
    let v = v?;
    match super::parse_int(v) {
        Some(n) => Some(n),
        None => {
            errors.push((column.into(), format!("`{v}`: expected a whole number")));
            None
        }
    }
}

/// The draft a stored item is (to compare a row with).
fn draft_of(i: &Item) -> Option<ItemDraft> {
    check_item(&ItemInput::from(i)).ok()
}

/// Checks every row.
pub fn check(
    sheet: &Sheet,
    cols: &Columns,
    stored: &Stored,
) -> Result<Vec<ItemRow>, Vec<CellError>> {
    let mut errors = Vec::new();
    if cols.index(K, "sku").is_none() {
        errors.push(CellError {
            row: 1,
            column: "sku".into(),
            cell: None,
            reason: "the header has no `sku` column".into(),
        });
        return Err(errors);
    }
    let mut out = Vec::with_capacity(sheet.rows.len());
    let mut sku_rows: HashMap<String, u32> = HashMap::new();
    let mut gtin_rows: HashMap<String, (u32, String)> = HashMap::new();
    for (row, cells) in &sheet.rows {
        let row = *row;
        let get = |name: &str| cols.get(K, name, cells);
        let mut bad: Vec<(String, String)> = Vec::new();
        let sku = get("sku").map(str::to_owned);
        let current = sku.as_deref().and_then(|s| stored.items.get(s));
        // A column left out of the file keeps the stored value; a blank cell is blank.
        let keep = |name: &str| cols.index(K, name).is_none();
        let base = current.map(ItemInput::from).unwrap_or_default();
        let text = |name: &str, stored: Option<String>| {
            if keep(name) {
                stored
            } else {
                get(name).map(str::to_owned)
            }
        };
        let need_norm = if keep("need_norm") {
            base.need_norm.clone()
        } else {
            match get("need_norm") {
                None => None,
                Some(j) => match serde_json::from_str::<NeedNorm>(j) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        bad.push(("need_norm".into(), format!("not a need norm: {e}")));
                        None
                    }
                },
            }
        };
        let input = ItemInput {
            sku: sku.clone(),
            name_zh: text("name_zh", base.name_zh.clone()),
            name_en: text("name_en", base.name_en.clone()),
            category_code: text("category_code", base.category_code.clone()),
            unit_zh: text("unit_zh", base.unit_zh.clone()),
            unit_en: text("unit_en", base.unit_en.clone()),
            spec: text("spec", base.spec.clone()),
            gtins: if keep("gtins") {
                base.gtins.clone()
            } else {
                Some(
                    get("gtins")
                        .unwrap_or("")
                        .split([';', '；'])
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            },
            shelf_life_days: if keep("shelf_life_days") {
                base.shelf_life_days
            } else {
                num(get("shelf_life_days"), "shelf_life_days", &mut bad)
            },
            min_remaining_days: if keep("min_remaining_days") {
                base.min_remaining_days
            } else {
                num(get("min_remaining_days"), "min_remaining_days", &mut bad)
            },
            alert_days: if keep("alert_days") {
                base.alert_days
            } else {
                num(get("alert_days"), "alert_days", &mut bad)
            },
            storage_class: text("storage_class", base.storage_class.clone()),
            need_norm,
        };
        let status = match get("status") {
            None => current.map_or(ItemStatus::Active, |c| c.status),
            Some("active") => ItemStatus::Active,
            Some("retired") => ItemStatus::Retired,
            Some(other) => {
                bad.push((
                    "status".into(),
                    format!("`{other}`: expected active or retired"),
                ));
                ItemStatus::Active
            }
        };
        if let Some(code) = &input.category_code
            && !stored.categories.contains(code.trim())
        {
            bad.push(("category_code".into(), format!("unknown category `{code}`")));
        }
        for g in input.gtins.iter().flatten() {
            if let Ok(g14) = crate::gs1::normalize_gtin(g)
                && let Some(owner) = stored.gtin_owner.get(&g14)
                && Some(owner) != input.sku.as_ref()
            {
                bad.push((
                    "gtins".into(),
                    format!("GTIN {g14} belongs to item {owner}"),
                ));
            }
        }
        let draft = match check_item(&input) {
            Ok(d) => Some(d),
            Err(fields) => {
                for f in fields {
                    let column = f
                        .pointer
                        .trim_start_matches('/')
                        .split('/')
                        .next()
                        .unwrap_or("");
                    if !bad.iter().any(|(c, _)| c == column) {
                        bad.push((column.to_owned(), f.detail));
                    }
                }
                None
            }
        };
        if let Some(d) = &draft {
            if let Some(first) = sku_rows.insert(d.sku.clone(), row) {
                bad.push((
                    "sku".into(),
                    format!("SKU {} is also on row {first}", d.sku),
                ));
            }
            for g in &d.gtins {
                if let Some((first, sku)) = gtin_rows.get(g)
                    && *sku != d.sku
                {
                    bad.push(("gtins".into(), format!("GTIN {g} is also on row {first}")));
                } else {
                    gtin_rows.insert(g.clone(), (row, d.sku.clone()));
                }
            }
        }
        if !bad.is_empty() {
            errors.extend(bad.into_iter().map(|(c, r)| cols.error(K, row, &c, r)));
            continue;
        }
        let Some(draft) = draft else { continue };
        let effect = match current {
            None => Effect::Create,
            Some(c) if c.status == status && draft_of(c).as_ref() == Some(&draft) => Effect::Same,
            Some(_) => Effect::Update,
        };
        out.push(ItemRow {
            row,
            draft,
            status,
            effect,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
