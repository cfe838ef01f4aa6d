//! Warehouses: one row per warehouse (`code`, names, `city`, `district`, `tier`, `lat`,
//! `lon`, `outside_service_area`, `handling_minutes`, `status`, `parent`). A new code
//! creates the warehouse, a known one replaces its fields, a row equal to the stored
//! warehouse writes nothing. Each row passes the API's rules
//! ([`crate::warehouses::check_warehouse`]); a position that does not move is not checked
//! against the service area again. Parents may name warehouses of the same file; the
//! chain of parents must not come back to a warehouse (checked over the stored network
//! with the file's rows applied).
//!
//! Pure: the stored warehouses and the service area are arguments.

use std::collections::HashMap;

use super::items::Effect;
use super::{CellError, Columns, Kind, Sheet};
use crate::warehouses::{ServiceArea, Warehouse, WarehouseDraft, WarehouseInput, check_warehouse};

const K: Kind = Kind::Warehouses;

/// One checked row.
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseRow {
    /// Its row.
    pub row: u32,
    /// The warehouse.
    pub draft: WarehouseDraft,
    /// What it does.
    pub effect: Effect,
}

fn float(v: Option<&str>, column: &str, bad: &mut Vec<(String, String)>) -> Option<f64> {
    let v = v?;
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => Some(f),
        _ => {
            bad.push((column.into(), format!("`{v}`: expected a decimal number")));
            None
        }
    }
}

/// Checks every row against the stored warehouses (by code).
pub fn check(
    sheet: &Sheet,
    cols: &Columns,
    stored: &HashMap<String, Warehouse>,
    area: &ServiceArea,
) -> Result<Vec<WarehouseRow>, Vec<CellError>> {
    let mut errors = Vec::new();
    if cols.index(K, "code").is_none() {
        errors.push(CellError {
            row: 1,
            column: "code".into(),
            cell: None,
            reason: "the header has no `code` column".into(),
        });
        return Err(errors);
    }
    let mut out: Vec<WarehouseRow> = Vec::with_capacity(sheet.rows.len());
    let mut code_rows: HashMap<String, u32> = HashMap::new();
    for (row, cells) in &sheet.rows {
        let row = *row;
        let get = |name: &str| cols.get(K, name, cells);
        let keep = |name: &str| cols.index(K, name).is_none();
        let mut bad: Vec<(String, String)> = Vec::new();
        let code = get("code").map(str::to_owned);
        let current = code.as_deref().and_then(|c| stored.get(c));
        let base = current.map(WarehouseInput::from).unwrap_or_default();
        let text = |name: &str, stored: Option<String>| {
            if keep(name) {
                stored
            } else {
                get(name).map(str::to_owned)
            }
        };
        let lat = if keep("lat") {
            base.lat
        } else {
            float(get("lat"), "lat", &mut bad)
        };
        let lon = if keep("lon") {
            base.lon
        } else {
            float(get("lon"), "lon", &mut bad)
        };
        let moved = current.is_none_or(|c| lat != Some(c.lat) || lon != Some(c.lon));
        let outside = match super::parse_bool(get("outside_service_area")) {
            Ok(b) => b || !moved,
            Err(reason) => {
                bad.push(("outside_service_area".into(), reason));
                false
            }
        };
        let handling = if keep("handling_minutes") {
            base.handling_minutes
        } else {
            match get("handling_minutes") {
                None => None,
                Some(v) => super::parse_int(v).or_else(|| {
                    bad.push((
                        "handling_minutes".into(),
                        format!("`{v}`: expected whole minutes"),
                    ));
                    None
                }),
            }
        };
        let input = WarehouseInput {
            code: code.clone(),
            name_zh: text("name_zh", base.name_zh.clone()),
            name_en: text("name_en", base.name_en.clone()),
            city: text("city", base.city.clone()),
            district: text("district", base.district.clone()),
            tier: text("tier", base.tier.clone()),
            lat,
            lon,
            outside_service_area: Some(outside),
            handling_minutes: handling,
            status: text("status", base.status.clone()),
            parent: text("parent", base.parent.clone()),
        };
        let draft = match check_warehouse(&input, area) {
            Ok(d) => Some(d),
            Err(fields) => {
                for f in fields {
                    let column = f.pointer.trim_start_matches('/').to_owned();
                    if !bad.iter().any(|(c, _)| *c == column) {
                        bad.push((column, f.detail));
                    }
                }
                None
            }
        };
        if let Some(d) = &draft
            && let Some(first) = code_rows.insert(d.code.clone(), row)
        {
            bad.push((
                "code".into(),
                format!("code {} is also on row {first}", d.code),
            ));
        }
        if !bad.is_empty() {
            errors.extend(bad.into_iter().map(|(c, r)| cols.error(K, row, &c, r)));
            continue;
        }
        let Some(draft) = draft else { continue };
        let same = current.is_some_and(|c| {
            let mut was = WarehouseInput::from(c);
            was.outside_service_area = Some(true);
            check_warehouse(&was, area).ok().as_ref() == Some(&draft)
        });
        let effect = match (current, same) {
            (None, _) => Effect::Create,
            (Some(_), true) => Effect::Same,
            (Some(_), false) => Effect::Update,
        };
        out.push(WarehouseRow { row, draft, effect });
    }
    // Parents: known, and no chain back to the warehouse.
    let mut parent_of: HashMap<&str, Option<&str>> = stored
        .values()
        .map(|w| (w.code.as_str(), w.parent.as_deref()))
        .collect();
    for r in &out {
        parent_of.insert(r.draft.code.as_str(), r.draft.parent.as_deref());
    }
    for r in &out {
        let Some(parent) = r.draft.parent.as_deref() else {
            continue;
        };
        if !parent_of.contains_key(parent) {
            errors.push(cols.error(K, r.row, "parent", format!("unknown warehouse `{parent}`")));
            continue;
        }
        let mut cur = Some(parent);
        for _ in 0..=parent_of.len() {
            match cur {
                Some(c) if c == r.draft.code => {
                    errors.push(cols.error(
                        K,
                        r.row,
                        "parent",
                        "the warehouse would resupply itself through its parents",
                    ));
                    break;
                }
                Some(c) => cur = parent_of.get(c).copied().flatten(),
                None => break,
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
