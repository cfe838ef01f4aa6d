//! Bulk imports of go-live data: opening stock, items, reserve levels (and, through the
//! same reader, any sheet of the import format). A file is read whole ([`read`]) into a
//! [`Sheet`] of text cells, every row is checked (`opening`, `items`, `levels`), and
//! only a file without a single bad cell is written, in one transaction, with one audit
//! event carrying the file's SHA-256 ([`cases`]).
//!
//! Invariants:
//! - Validate first: every bad cell is reported by row (as a spreadsheet numbers them:
//!   the header is row 1) and column, with the reason; a file with any is not written.
//! - All or nothing: a file that passes is written in one transaction.
//! - Idempotent: the same bytes imported again as the same kind replay the first
//!   report (the `imports_file_key` unique key), from the API and the CLI alike.
//! - Formulas are refused, not evaluated: an xlsx cell holding a formula is an error
//!   naming it (paste values instead). A cached value can be stale or missing, and the
//!   opening balance of a reserve ledger must be the number the person saw.
//! - A leading apostrophe before `=`, `+`, `-` or `@` is removed: that is how our
//!   exports neutralise spreadsheet formulas (`exports::neutralise`), so an export
//!   imports back unchanged.
//!
//! This file is pure: kinds, limits, header aliases, cells and the report.

pub mod cases;
pub mod db;
pub mod http;
pub mod items;
pub mod levels;
pub mod opening;
pub mod read;
pub mod warehouses;

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, FieldError};

/// Largest file accepted, in bytes (64 MiB: 100,000 opening lots are about 6 MB as CSV
/// and 3 MB as xlsx). A larger body is a 413 problem.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
/// Most data rows in one file (more is a 422 naming the first row past the limit).
pub const MAX_ROWS: usize = 200_000;
/// Most cell errors reported (the count says how many there were in all).
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Lots on the shelves at go-live, received with source `opening_balance`.
    OpeningStock,
    /// Catalogue items (created, or updated when the SKU exists).
    Items,
    /// Reserve levels per warehouse and SKU.
    ReserveLevels,
    /// Warehouses (created, or updated when the code exists).
    Warehouses,
}

impl Kind {
    /// The name in `kind=` and `--kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OpeningStock => "opening-stock",
            Kind::Items => "items",
            Kind::ReserveLevels => "reserve-levels",
            Kind::Warehouses => "warehouses",
        }
    }

    /// As stored in `imports.kind`.
    pub fn stored(self) -> &'static str {
        match self {
            Kind::OpeningStock => "opening_stock",
            Kind::Items => "items",
            Kind::ReserveLevels => "reserve_levels",
            Kind::Warehouses => "warehouses",
        }
    }

    /// The columns of this kind: (name, required, aliases). The English name is how
    /// exports write the header; the aliases are accepted too (Chinese reserve ledgers).
    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::OpeningStock => OPENING_COLUMNS,
            Kind::Items => ITEM_COLUMNS,
            Kind::ReserveLevels => LEVEL_COLUMNS,
            Kind::Warehouses => WAREHOUSE_COLUMNS,
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "opening-stock" | "opening_stock" => Ok(Kind::OpeningStock),
            "items" => Ok(Kind::Items),
            "reserve-levels" | "reserve_levels" => Ok(Kind::ReserveLevels),
            "warehouses" => Ok(Kind::Warehouses),
            other => Err(format!(
                "unknown kind `{other}`: expected opening-stock, items, reserve-levels or warehouses"
            )),
        }
    }
}

/// One column of an import format.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name (the header our exports write).
    pub name: &'static str,
    /// Other headers accepted for it.
    pub aliases: &'static [&'static str],
}

const fn col(name: &'static str, aliases: &'static [&'static str]) -> Column {
    Column { name, aliases }
}

const OPENING_COLUMNS: &[Column] = &[
    col("warehouse", &["仓库编码", "warehouse_code"]),
    col("sku", &["物资编码"]),
    col("gtin", &["商品条码"]),
    col("lot_code", &["批号"]),
    col("expires_on", &["有效期至"]),
    col("qty", &["数量"]),
    col("quarantine", &["隔离"]),
    col("donor", &["捐赠方"]),
];

const ITEM_COLUMNS: &[Column] = &[
    col("sku", &["物资编码"]),
    col("name_zh", &["名称"]),
    col("name_en", &[]),
    col("category_code", &["分类"]),
    col("unit_zh", &["单位"]),
    col("unit_en", &[]),
    col("spec", &["规格"]),
    col("gtins", &["商品条码"]),
    col("shelf_life_days", &["保质期天数"]),
    col("min_remaining_days", &[]),
    col("alert_days", &[]),
    col("storage_class", &[]),
    col("need_norm", &[]),
    col("status", &[]),
];

const LEVEL_COLUMNS: &[Column] = &[
    col("warehouse", &["仓库编码", "warehouse_code"]),
    col("sku", &["物资编码"]),
    col("min_qty", &["最低储备"]),
];

const WAREHOUSE_COLUMNS: &[Column] = &[
    col("code", &["仓库编码"]),
    col("name_zh", &["名称"]),
    col("name_en", &[]),
    col("city", &["城市"]),
    col("district", &["区县"]),
    col("tier", &["层级"]),
    col("lat", &["纬度"]),
    col("lon", &["经度"]),
    col("outside_service_area", &[]),
    col("handling_minutes", &[]),
    col("status", &[]),
    col("parent", &["上级仓库"]),
];

/// A file read into text cells: the header (row 1) and each data row with its number as
/// a spreadsheet shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sheet {
    /// The header cells, trimmed.
    pub header: Vec<String>,
    /// (row number, cells); blank rows are left out.
    pub rows: Vec<(u32, Vec<String>)>,
}

/// One bad cell (or row, or file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CellError {
    /// Row as a spreadsheet numbers it (the header is row 1).
    pub row: u32,
    /// The column's name, as the file's header has it (empty for a whole row or file).
    pub column: String,
    /// The cell as a spreadsheet names it (`F7`), when the column is in the file.
    pub cell: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// Spreadsheet letters of the zero-based column `i` (0 → A, 26 → AA).
pub fn column_letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The report of an import or dry run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct ImportReport {
    /// The import's id (absent for a dry run).
    pub id: Option<uuid::Uuid>,
    /// What the file holds.
    pub kind: Kind,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// Whether nothing was written on purpose.
    pub dry_run: bool,
    /// Whether this is the report of the same file imported before (nothing written now).
    pub replayed: bool,
    /// Data rows read.
    pub rows: u64,
    /// Rows that create something (lots, items, levels).
    pub created: u64,
    /// Rows that change something on record (items, levels).
    pub updated: u64,
    /// Rows equal to what is on record (nothing to write).
    pub unchanged: u64,
    /// Units received, for opening stock.
    pub total_qty: i64,
    /// The audit event's action, once written.
    pub action: Option<String>,
}

/// Columns found in a header: for each of the kind's columns, its index in the file.
#[derive(Debug, Clone)]
pub struct Columns {
    idx: Vec<Option<usize>>,
    header: Vec<String>,
}

impl Columns {
    /// The index of column `name` in the file.
    pub fn index(&self, kind: Kind, name: &str) -> Option<usize> {
        let pos = kind.columns().iter().position(|c| c.name == name)?;
        self.idx.get(pos).copied().flatten()
    }

    /// The cell of column `name` in `cells`, trimmed, with the export's formula guard
    /// removed; `None` when the column is absent or the cell blank.
    pub fn get<'a>(&self, kind: Kind, name: &str, cells: &'a [String]) -> Option<&'a str> {
        let i = self.index(kind, name)?;
        let v = cells.get(i)?.trim();
        (!v.is_empty()).then(|| unguard(v))
    }

    /// A [`CellError`] for column `name` on `row`.
    pub fn error(&self, kind: Kind, row: u32, name: &str, reason: impl Into<String>) -> CellError {
        let i = self.index(kind, name);
        CellError {
            row,
            column: i
                .and_then(|i| self.header.get(i).cloned())
                .unwrap_or_else(|| name.to_owned()),
            cell: i.map(|i| format!("{}{row}", column_letters(i))),
            reason: reason.into(),
        }
    }
}

/// Matches a header to the kind's columns: every header cell must name a column (by
/// name or alias, case and surrounding space ignored) at most once.
pub fn match_header(kind: Kind, header: &[String]) -> Result<Columns, Vec<CellError>> {
    let cols = kind.columns();
    let mut idx: Vec<Option<usize>> = vec![None; cols.len()];
    let mut errors = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let name = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        if name.is_empty() {
            continue;
        }
        let found = cols
            .iter()
            .position(|c| c.name == name || c.aliases.iter().any(|a| a.to_lowercase() == name));
        let cell = Some(format!("{}1", column_letters(i)));
        match found {
            Some(p) if idx[p].is_some() => errors.push(CellError {
                row: 1,
                column: h.clone(),
                cell,
                reason: format!("column `{}` appears twice", cols[p].name),
            }),
            Some(p) => idx[p] = Some(i),
            None => errors.push(CellError {
                row: 1,
                column: h.clone(),
                cell,
                reason: format!(
                    "unknown column `{h}`: expected {}",
                    cols.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
    if errors.is_empty() {
        Ok(Columns {
            idx,
            header: header.to_vec(),
        })
    } else {
        Err(errors)
    }
}

/// A cell without the apostrophe our exports put before `=`, `+`, `-` or `@`.
pub fn unguard(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => v,
    }
}

/// Errors as the 422 problem of a file: `errors[]` names each cell as
/// `/{row}/{column}` (the file as rows numbered like the spreadsheet, keyed by header),
/// and `cells` lists them with the cell reference and reason.
pub fn problem(errors: Vec<CellError>) -> AppError {
    let total = errors.len();
    let shown: Vec<CellError> = errors.into_iter().take(MAX_REPORTED_ERRORS).collect();
    let detail = match shown.first() {
        Some(first) => format!(
            "{total} bad cell(s); nothing was written. First, row {}{}: {}",
            first.row,
            if first.column.is_empty() {
                String::new()
            } else {
                format!(", column {}", first.column)
            },
            first.reason
        ),
        None => "the file is invalid; nothing was written".into(),
    };
    AppError::InvalidFile {
        detail,
        errors: shown
            .iter()
            .map(|e| FieldError::new(format!("/{}/{}", e.row, e.column), e.reason.clone()))
            .collect(),
        extra: serde_json::json!({ "error_count": total, "cells": shown }),
    }
}

/// Parses a date as sheets write them: `2027-05-01`, `2027/5/1` or `2027.5.1` (an xlsx
/// date cell arrives as the first form).
pub fn parse_date(v: &str) -> Option<chrono::NaiveDate> {
    let v = v.trim();
    let v = v.split_once(['T', ' ']).map_or(v, |(d, _)| d);
    ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(v, f).ok())
        .filter(|d| {
            use chrono::Datelike;
            (1..=9999).contains(&d.year())
        })
}

/// Parses a yes/no cell: empty is no.
pub fn parse_bool(v: Option<&str>) -> Result<bool, String> {
    match v.map(|s| s.trim().to_lowercase()).as_deref() {
        None | Some("") => Ok(false),
        Some("true" | "yes" | "y" | "1" | "是") => Ok(true),
        Some("false" | "no" | "n" | "0" | "否") => Ok(false),
        Some(other) => Err(format!("`{other}`: expected true or false (是/否)")),
    }
}

/// Parses a whole number (a sheet may show `1200` or `1200.0`).
pub fn parse_int(v: &str) -> Option<i64> {
    let v = v.trim();
    v.parse::<i64>()
        .ok()
        .or_else(|| v.strip_suffix(".0").and_then(|w| w.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn chinese_headers_name_the_same_columns_and_unknown_ones_are_refused() {
        let cols = match_header(
            Kind::OpeningStock,
            &h(&["\u{feff}仓库编码", "物资编码", "批号", "有效期至", "数量"]),
        )
        .expect("aliases");
        assert_eq!(cols.index(Kind::OpeningStock, "warehouse"), Some(0));
        assert_eq!(cols.index(Kind::OpeningStock, "qty"), Some(4));
        assert_eq!(cols.index(Kind::OpeningStock, "gtin"), None);
        let errors = match_header(Kind::OpeningStock, &h(&["warehouse", "qyt", "SKU", "sku"]))
            .expect_err("typo and repeat");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].cell.as_deref(), Some("B1"));
        assert_eq!(errors[1].cell.as_deref(), Some("D1"));
    }

    #[test]
    fn the_exports_apostrophe_is_removed_only_before_a_formula_character() {
        assert_eq!(unguard("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unguard("'-5"), "-5");
        assert_eq!(unguard("'@home"), "@home");
        assert_eq!(unguard("'quoted"), "'quoted");
        assert_eq!(unguard("plain"), "plain");
    }

    #[test]
    fn cells_are_named_as_a_spreadsheet_names_them() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn dates_numbers_and_flags_parse_as_sheets_write_them() {
        let d = chrono::NaiveDate::from_ymd_opt(2027, 5, 1);
        assert_eq!(parse_date("2027-05-01"), d);
        assert_eq!(parse_date("2027/5/1"), d);
        assert_eq!(parse_date("2027-05-01 00:00:00"), d);
        assert_eq!(parse_date("01/05/2027"), None);
        assert_eq!(parse_int("1200.0"), Some(1200));
        assert_eq!(parse_int("12.5"), None);
        assert_eq!(parse_bool(Some("是")), Ok(true));
        assert_eq!(parse_bool(None), Ok(false));
        assert!(parse_bool(Some("maybe")).is_err());
    }
}
