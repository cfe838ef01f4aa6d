//! Exports for auditors: ledger movements, audit events and stock as it stood at an
//! instant, as CSV, JSON Lines or xlsx, streamed in constant memory.
//!
//! Invariants: every export is audited before its first byte is produced (its own
//! event, named in the manifest); every export reads one repeatable-read snapshot and
//! states which part of the audit chain it was read against (sequence range and the
//! hash of the last event), in response headers and in a trailing manifest: the last line
//! of CSV/JSONL, a `manifest` sheet of xlsx. A file without its manifest is incomplete.
//!
//! This file is pure: formats, columns, values and encoders.

pub mod db;
pub mod http;
pub mod params;
pub mod run;

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// UTF-8 CSV with a header row (RFC 4180 quoting).
    #[default]
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Office Open XML workbook with a `manifest` sheet.
    Xlsx,
}

impl Format {
    /// The name as used in `format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Xlsx => "xlsx",
        }
    }

    /// The media type of the body.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "xlsx" => Ok(Format::Xlsx),
            other => Err(format!(
                "unknown format `{other}`: expected csv, jsonl or xlsx"
            )),
        }
    }
}

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// Ledger rows.
    Movements,
    /// Audit events.
    AuditEvents,
    /// Lot balances at an instant.
    StockAsOf,
    /// Allocation requests per incident: requested, reserved, dispatched, delivered.
    Requests,
    /// The catalogue, in the items import format.
    Items,
    /// Reserve levels, in the reserve-levels import format.
    ReserveLevels,
    /// The network's warehouses, in the warehouses import format.
    Warehouses,
}

impl Dataset {
    /// Name used in actions (`export.movements`), sheet and file names.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Movements => "movements",
            Dataset::AuditEvents => "audit_events",
            Dataset::StockAsOf => "stock_as_of",
            Dataset::Requests => "requests",
            Dataset::Items => "items",
            Dataset::ReserveLevels => "reserve_levels",
            Dataset::Warehouses => "warehouses",
        }
    }

    /// The audit action of an export of this dataset.
    pub fn action(self) -> &'static str {
        match self {
            Dataset::Movements => "export.movements",
            Dataset::AuditEvents => "export.audit_events",
            Dataset::StockAsOf => "export.stock_as_of",
            Dataset::Requests => "export.requests",
            Dataset::Items => "export.items",
            Dataset::ReserveLevels => "export.reserve_levels",
            Dataset::Warehouses => "export.warehouses",
        }
    }

    /// The columns, with their HXL hashtags.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Dataset::Movements => MOVEMENT_COLUMNS,
            Dataset::AuditEvents => EVENT_COLUMNS,
            Dataset::StockAsOf => STOCK_COLUMNS,
            Dataset::Requests => REQUEST_COLUMNS,
            Dataset::Items => ITEM_COLUMNS,
            Dataset::ReserveLevels => LEVEL_COLUMNS,
            Dataset::Warehouses => WAREHOUSE_COLUMNS,
        }
    }
}

/// One column: its header and its HXL hashtag (https://hxlstandard.org).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header text.
    pub name: &'static str,
    /// HXL hashtag with attributes.
    pub hxl: &'static str,
}

const fn col(name: &'static str, hxl: &'static str) -> Column {
    Column { name, hxl }
}

const MOVEMENT_COLUMNS: &[Column] = &[
    col("id", "#meta+id"),
    col("created_at", "#date+created"),
    col("kind", "#activity+type"),
    col("warehouse", "#loc+warehouse+code"),
    col("sku", "#item+code"),
    col("item_name_zh", "#item+name+i_zh"),
    col("item_name_en", "#item+name+i_en"),
    col("lot_code", "#item+batch+code"),
    col("lot_id", "#item+batch+id"),
    col("qty", "#indicator+num+qty"),
    col("reserved_delta", "#indicator+num+reserved_delta"),
    col("on_hand_after", "#indicator+num+on_hand_after"),
    col("reserved_after", "#indicator+num+reserved_after"),
    col("reason", "#description+reason"),
    col("note", "#description+note"),
    col("ref_kind", "#meta+ref+type"),
    col("ref_id", "#meta+ref+id"),
    col("actor", "#contact+name+actor"),
    col("request_id", "#meta+request"),
    col("idempotency_key", "#meta+idempotency_key"),
];

const EVENT_COLUMNS: &[Column] = &[
    col("seq", "#meta+seq"),
    col("at", "#date"),
    col("actor_id", "#contact+id+actor"),
    col("actor_username", "#contact+name+actor"),
    col("action", "#activity+code"),
    col("entity_kind", "#meta+entity+type"),
    col("entity_id", "#meta+entity+id"),
    col("request_id", "#meta+request"),
    col("idempotency_key", "#meta+idempotency_key"),
    col("before", "#meta+before"),
    col("after", "#meta+after"),
    col("prev_hash", "#meta+hash+prev"),
    col("hash", "#meta+hash"),
];

const STOCK_COLUMNS: &[Column] = &[
    col("lot_id", "#item+batch+id"),
    col("warehouse", "#loc+warehouse+code"),
    col("sku", "#item+code"),
    col("item_name_zh", "#item+name+i_zh"),
    col("item_name_en", "#item+name+i_en"),
    col("lot_code", "#item+batch+code"),
    col("expires_on", "#date+expiry"),
    col("on_hand", "#indicator+num+on_hand"),
    col("reserved", "#indicator+num+reserved"),
    col("available", "#indicator+num+available"),
    col("as_of", "#date+as_of"),
];

const REQUEST_COLUMNS: &[Column] = &[
    col("incident_id", "#event+id"),
    col("incident", "#event+name"),
    col("request_id", "#activity+id"),
    col("priority", "#priority"),
    col("status", "#status"),
    col("requested_at", "#date+requested"),
    col("sku", "#item+code"),
    col("item_name_zh", "#item+name+i_zh"),
    col("item_name_en", "#item+name+i_en"),
    col("requested", "#indicator+num+requested"),
    col("reserved", "#indicator+num+reserved"),
    col("dispatched", "#indicator+num+dispatched"),
    col("delivered", "#indicator+num+delivered"),
];

/// The columns of `imports::Kind::Items`, in its order.
const ITEM_COLUMNS: &[Column] = &[
    col("sku", "#item+code"),
    col("name_zh", "#item+name+i_zh"),
    col("name_en", "#item+name+i_en"),
    col("category_code", "#item+type+code"),
    col("unit_zh", "#item+unit+i_zh"),
    col("unit_en", "#item+unit+i_en"),
    col("spec", "#item+description"),
    col("gtins", "#item+gtin"),
    col("shelf_life_days", "#indicator+num+shelf_life_days"),
    col("min_remaining_days", "#indicator+num+min_remaining_days"),
    col("alert_days", "#indicator+num+alert_days"),
    col("storage_class", "#item+storage"),
    col("need_norm", "#meta+need_norm"),
    col("status", "#status"),
];

/// The columns of `imports::Kind::ReserveLevels`.
const LEVEL_COLUMNS: &[Column] = &[
    col("warehouse", "#loc+warehouse+code"),
    col("sku", "#item+code"),
    col("min_qty", "#indicator+num+min_qty"),
];

/// The columns of `imports::Kind::Warehouses` (positions as decimal text, exact).
const WAREHOUSE_COLUMNS: &[Column] = &[
    col("code", "#loc+warehouse+code"),
    col("name_zh", "#loc+name+i_zh"),
    col("name_en", "#loc+name+i_en"),
    col("city", "#adm2+name"),
    col("district", "#adm3+name"),
    col("tier", "#loc+type"),
    col("lat", "#geo+lat"),
    col("lon", "#geo+lon"),
    col("handling_minutes", "#indicator+num+handling_minutes"),
    col("status", "#status"),
    col("parent", "#loc+warehouse+parent"),
];

/// Text as a spreadsheet cell may hold it safely: a leading apostrophe before `=`, `+`,
/// `-` or `@`, so that Excel or LibreOffice never takes user text for a formula (CSV
/// injection). The importer removes it again (`imports::unguard`); JSONL keeps the raw
/// text.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Empty.
    Null,
    /// An integer (quantities, ids, seq).
    Int(i64),
    /// Text (codes, times as RFC 3339, uuids).
    Text(String),
    /// A JSON document (before/after of an event): text in CSV and xlsx, inline in JSONL.
    Json(Value),
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

/// The trailing manifest of an export.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// `movements`, `audit_events` or `stock_as_of`.
    pub export: String,
    /// The format.
    pub format: String,
    /// Data rows in the file.
    pub rows: u64,
    /// First audit seq covered (audit-events: the first exported event; the other
    /// exports: 1, as they reflect the whole chain up to `audit_seq_to`). An
    /// audit-events export that matches no event has 0 and 0 and the genesis hash.
    pub audit_seq_from: i64,
    /// Last audit seq covered: the chain head in the snapshot the export read.
    pub audit_seq_to: i64,
    /// Hash of event `audit_seq_to`: compare with the chain to check the file.
    pub audit_last_hash: String,
    /// The seq of the audit event that records this export.
    pub export_event_seq: i64,
    /// When the snapshot was taken (RFC 3339).
    pub generated_at: String,
}

/// CSV options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Start with a UTF-8 byte-order mark so that Excel reads Chinese text correctly.
    pub bom: bool,
    /// Add an HXL hashtag row under the header.
    pub hxl: bool,
}

/// Encodes rows of CSV or JSONL into byte buffers.
#[derive(Debug, Clone, Copy)]
pub struct TextEncoder {
    /// CSV or JSONL.
    pub format: Format,
    /// CSV options.
    pub csv: CsvOptions,
    /// The columns.
    pub columns: &'static [Column],
}

/// Writes `s` as one CSV cell for a spreadsheet: [`neutralise`]d, then quoted as CSV
/// needs.
pub fn csv_cell(out: &mut Vec<u8>, s: &str) {
    csv_field(out, &neutralise(s));
}

fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

impl TextEncoder {
    /// The bytes before the first row: BOM, header and HXL row for CSV; nothing for JSONL.
    pub fn start(&self, out: &mut Vec<u8>) {
        if self.format != Format::Csv {
            return;
        }
        if self.csv.bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        out.extend_from_slice(names.join(",").as_bytes());
        out.extend_from_slice(b"\r\n");
        if self.csv.hxl {
            let tags: Vec<&str> = self.columns.iter().map(|c| c.hxl).collect();
            out.extend_from_slice(tags.join(",").as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// One data row.
    pub fn row(&self, vals: &[Val], out: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                for (i, v) in vals.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match v {
                        Val::Null => {}
                        Val::Int(n) => {
                            let _ = write!(out, "{n}");
                        }
                        Val::Text(s) => csv_field(out, &neutralise(s)),
                        Val::Json(j) => csv_field(out, &j.to_string()),
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
            Format::Jsonl | Format::Xlsx => {
                out.push(b'{');
                for (i, (c, v)) in self.columns.iter().zip(vals).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(out, c.name);
                    out.push(b':');
                    match v {
                        Val::Null => out.extend_from_slice(b"null"),
                        Val::Int(n) => {
                            let _ = write!(out, "{n}");
                        }
                        Val::Text(s) => json_str(out, s),
                        Val::Json(j) => {
                            let _ = serde_json::to_writer(&mut *out, j);
                        }
                    }
                }
                out.extend_from_slice(b"}\n");
            }
        }
    }

    /// The trailing manifest line: `#manifest,key=value,...` for CSV (one field per
    /// fact, so that CSV readers keep it as one record), `{"manifest":{...}}` for JSONL.
    pub fn finish(&self, m: &Manifest, out: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                let _ = write!(
                    out,
                    "#manifest,export={},format={},rows={},audit_seq_from={},audit_seq_to={},\
                     audit_last_hash={},export_event_seq={},generated_at={}\r\n",
                    m.export,
                    m.format,
                    m.rows,
                    m.audit_seq_from,
                    m.audit_seq_to,
                    m.audit_last_hash,
                    m.export_event_seq,
                    m.generated_at
                );
            }
            Format::Jsonl | Format::Xlsx => {
                let _ = serde_json::to_writer(&mut *out, &serde_json::json!({ "manifest": m }));
                out.push(b'\n');
            }
        }
    }
}

/// The manifest as `(key, value)` pairs, for the xlsx `manifest` sheet.
pub fn manifest_pairs(m: &Manifest) -> Vec<(&'static str, Val)> {
    vec![
        ("export", Val::Text(m.export.clone())),
        ("format", Val::Text(m.format.clone())),
        ("rows", Val::Int(m.rows as i64)),
        ("audit_seq_from", Val::Int(m.audit_seq_from)),
        ("audit_seq_to", Val::Int(m.audit_seq_to)),
        ("audit_last_hash", Val::Text(m.audit_last_hash.clone())),
        ("export_event_seq", Val::Int(m.export_event_seq)),
        ("generated_at", Val::Text(m.generated_at.clone())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &[Column] = &[col("a", "#a"), col("b", "#b"), col("c", "#c")];
    const AB: &[Column] = &[col("a", "#a"), col("b", "#b")];

    fn manifest() -> Manifest {
        Manifest {
            export: "movements".into(),
            format: "csv".into(),
            rows: 1,
            audit_seq_from: 1,
            audit_seq_to: 9,
            audit_last_hash: "ab".into(),
            export_event_seq: 9,
            generated_at: "2026-11-27T00:00:00Z".into(),
        }
    }

    #[test]
    fn csv_quotes_only_what_needs_quoting_and_ends_with_the_manifest() {
        let enc = TextEncoder {
            format: Format::Csv,
            csv: CsvOptions {
                bom: true,
                hxl: true,
            },
            columns: ABC,
        };
        let mut out = Vec::new();
        enc.start(&mut out);
        enc.row(
            &[Val::Text("x,\"y\"".into()), Val::Int(-3), Val::Null],
            &mut out,
        );
        enc.finish(&manifest(), &mut out);
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(
            text,
            "\u{feff}a,b,c\r\n#a,#b,#c\r\n\"x,\"\"y\"\"\",-3,\r\n#manifest,export=movements,format=csv,\
             rows=1,audit_seq_from=1,audit_seq_to=9,audit_last_hash=ab,export_event_seq=9,\
             generated_at=2026-11-27T00:00:00Z\r\n"
        );
    }

    #[test]
    fn text_that_a_spreadsheet_would_run_gets_an_apostrophe_in_csv_but_not_in_jsonl() {
        let row = [
            Val::Text("=HYPERLINK(\"x\")".into()),
            Val::Text("@SUM".into()),
        ];
        let csv = TextEncoder {
            format: Format::Csv,
            csv: CsvOptions::default(),
            columns: AB,
        };
        let mut out = Vec::new();
        csv.row(&row, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "\"'=HYPERLINK(\"\"x\"\")\",'@SUM\r\n"
        );
        let jsonl = TextEncoder {
            format: Format::Jsonl,
            ..csv
        };
        let mut out = Vec::new();
        jsonl.row(&row, &mut out);
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["a"], "=HYPERLINK(\"x\")");
        for s in ["+1", "-1", "plain", "'quoted"] {
            assert_eq!(crate::imports::unguard(&neutralise(s)), s);
        }
    }

    #[test]
    fn jsonl_rows_are_objects_and_json_cells_stay_json() {
        let enc = TextEncoder {
            format: Format::Jsonl,
            csv: CsvOptions::default(),
            columns: AB,
        };
        let mut out = Vec::new();
        enc.start(&mut out);
        enc.row(
            &[
                Val::Text("救灾帐篷".into()),
                Val::Json(serde_json::json!({"k": 1})),
            ],
            &mut out,
        );
        enc.finish(&manifest(), &mut out);
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"a": "救灾帐篷", "b": {"k": 1}})
        );
        assert_eq!(lines[1]["manifest"]["audit_seq_to"], 9);
    }
}
