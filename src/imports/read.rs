//! Reading an import file into a [`Sheet`] of text cells: CSV (RFC 4180, UTF-8 with or
//! without a byte-order mark) with the `csv` crate, or the first worksheet of an xlsx
//! workbook with `calamine`, streamed cell by cell. Pure: bytes in, cells or errors out.
//!
//! xlsx cells become text as a person reads them: numbers without a trailing `.0` when
//! whole (a GTIN typed as a number keeps its digits), date cells as `YYYY-MM-DD`,
//! booleans as `true`/`false`. A formula cell is an error naming the cell, whatever its
//! cached value: formulas are refused, not evaluated (see the module `imports`).

use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};

use super::{CellError, MAX_ROWS, Sheet, column_letters};

/// The format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
    /// A GeoJSON FeatureCollection of Points (warehouses): each feature is a row, its
    /// properties the columns and its point `lat` and `lon`. Feature `i` (from 0) is
    /// reported as row `i + 2`, as if the features were rows under a header.
    GeoJson,
}

/// The media type of xlsx.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl Format {
    /// The format a file's bytes have: a zip archive is xlsx, a JSON object GeoJSON,
    /// anything else CSV.
    pub fn sniff(bytes: &[u8]) -> Format {
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        if bytes.starts_with(b"PK\x03\x04") {
            Format::Xlsx
        } else if text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            Format::GeoJson
        } else {
            Format::Csv
        }
    }
}

fn file_error(reason: impl Into<String>) -> Vec<CellError> {
    vec![CellError {
        row: 1,
        column: String::new(),
        cell: None,
        reason: reason.into(),
    }]
}

fn too_many(row: u32) -> CellError {
    CellError {
        row,
        column: String::new(),
        cell: None,
        reason: format!("more than {MAX_ROWS} data rows: split the file"),
    }
}

/// Reads `bytes` as `format`.
/// Rows whose first cell starts with `#` are left out: the HXL hashtag row and the
/// trailing manifest of our exports (no code or SKU starts with `#`).
pub fn read(bytes: &[u8], format: Format) -> Result<Sheet, Vec<CellError>> {
    let mut sheet = match format {
        Format::Csv => read_csv(bytes),
        Format::Xlsx => read_xlsx(bytes),
        Format::GeoJson => read_geojson(bytes),
    }?;
    sheet.rows.retain(|(_, cells)| {
        !cells
            .first()
            .is_some_and(|c| c.trim_start().starts_with('#'))
    });
    Ok(sheet)
}

/// Reads CSV: UTF-8, an optional byte-order mark, the header in row 1. A row that is not
/// UTF-8 is an error naming it (save the sheet as "CSV UTF-8").
pub fn read_csv(bytes: &[u8]) -> Result<Sheet, Vec<CellError>> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut sheet = Sheet::default();
    let mut record = csv::ByteRecord::new();
    let mut errors = Vec::new();
    let mut first = true;
    // Rows as a spreadsheet numbers them: 1 + the newlines before the record starts.
    // (The reader's own line count lags by one after a CRLF, so count here.)
    let (mut scanned, mut newlines) = (0usize, 0u32);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let row = e.position().map_or(0, |p| p.line() as u32);
                errors.push(CellError {
                    row,
                    column: String::new(),
                    cell: None,
                    reason: format!("not readable as CSV: {e}"),
                });
                break;
            }
        }
        let offset = record
            .position()
            .map_or(0, |p| p.byte() as usize)
            .min(bytes.len());
        let start = offset + usize::from(bytes.get(offset) == Some(&b'\n'));
        let start = start.max(scanned);
        newlines += bytes[scanned..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32;
        scanned = start;
        let row = newlines + 1;
        let mut cells = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(s) => cells.push(s.to_owned()),
                Err(_) => {
                    errors.push(CellError {
                        row,
                        column: sheet.header.get(i).cloned().unwrap_or_default(),
                        cell: Some(format!("{}{row}", column_letters(i))),
                        reason: "not UTF-8 text: save the file as CSV UTF-8".into(),
                    });
                    cells.push(String::new());
                }
            }
        }
        if first {
            sheet.header = cells.iter().map(|c| c.trim().to_owned()).collect();
            first = false;
        } else if cells.iter().any(|c| !c.trim().is_empty()) {
            if sheet.rows.len() == MAX_ROWS {
                errors.push(too_many(row));
                break;
            }
            sheet.rows.push((row, cells));
        }
    }
    if first && errors.is_empty() {
        return Err(file_error("the file is empty: row 1 must name the columns"));
    }
    if errors.is_empty() {
        Ok(sheet)
    } else {
        Err(errors)
    }
}

/// Reads a GeoJSON FeatureCollection of Point features into rows: `lat` and `lon` from
/// the point, the other columns from the properties.
pub fn read_geojson(bytes: &[u8]) -> Result<Sheet, Vec<CellError>> {
    use serde_json::Value;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| file_error(format!("not readable as JSON: {e}")))?;
    let Some(features) = doc
        .get("features")
        .and_then(Value::as_array)
        .filter(|_| doc.get("type").and_then(Value::as_str) == Some("FeatureCollection"))
    else {
        return Err(file_error("expected a GeoJSON FeatureCollection"));
    };
    if features.len() > MAX_ROWS {
        return Err(vec![too_many(MAX_ROWS as u32 + 2)]);
    }
    let mut header: Vec<String> = vec!["lat".into(), "lon".into()];
    let mut rows = Vec::with_capacity(features.len());
    let mut errors = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let row = i as u32 + 2;
        let point = f
            .pointer("/geometry/coordinates")
            .and_then(Value::as_array)
            .filter(|_| f.pointer("/geometry/type").and_then(Value::as_str) == Some("Point"))
            .and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)));
        let Some((lon, lat)) = point else {
            errors.push(CellError {
                row,
                column: "geometry".into(),
                cell: None,
                reason: format!("feature {i}: expected a Point with [longitude, latitude]"),
            });
            continue;
        };
        let mut cells = vec![lat.to_string(), lon.to_string()];
        if let Some(props) = f.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                let col = match header.iter().position(|h| h == k) {
                    Some(c) => c,
                    None => {
                        header.push(k.clone());
                        header.len() - 1
                    }
                };
                if cells.len() <= col {
                    cells.resize(col + 1, String::new());
                }
                cells[col] = match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
            }
        }
        rows.push((row, cells));
    }
    if errors.is_empty() {
        Ok(Sheet { header, rows })
    } else {
        Err(errors)
    }
}

/// A cell's value as text.
fn text(v: &DataRef<'_>) -> Result<String, String> {
    Ok(match v {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.date().to_string(),
            Some(dt) => dt.to_string(),
            None => return Err("a date cell out of range".into()),
        },
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => return Err(format!("the cell shows the error {e}")),
    })
}

/// Reads the first worksheet of an xlsx workbook, streaming its cells.
pub fn read_xlsx(bytes: &[u8]) -> Result<Sheet, Vec<CellError>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| file_error(format!("not a readable xlsx workbook: {e}")))?;
    let Some(name) = book.sheet_names().first().cloned() else {
        return Err(file_error("the workbook has no worksheet"));
    };
    let mut cells = book
        .worksheet_cells_reader(&name)
        .map_err(|e| file_error(format!("cannot read worksheet `{name}`: {e}")))?;
    let mut grid: Vec<(u32, Vec<String>)> = Vec::new();
    let mut errors = Vec::new();
    loop {
        let cell = match cells.next_cell_with_formula_metadata() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                errors.push(CellError {
                    row: grid.last().map_or(1, |r| r.0),
                    column: String::new(),
                    cell: None,
                    reason: format!("the worksheet cannot be read: {e}"),
                });
                break;
            }
        };
        let (r, c) = cell.pos;
        let row = r + 1;
        let col = c as usize;
        let at = Some(format!("{}{row}", column_letters(col)));
        if cell.formula.is_some() {
            errors.push(CellError {
                row,
                column: String::new(),
                cell: at,
                reason: "a formula: imports read no formulas (their cached value may be stale); \
                         paste the values instead (Paste Special → Values)"
                    .into(),
            });
            continue;
        }
        let value = match text(&cell.value) {
            Ok(v) => v,
            Err(reason) => {
                errors.push(CellError {
                    row,
                    column: String::new(),
                    cell: at,
                    reason,
                });
                continue;
            }
        };
        if value.trim().is_empty() {
            continue;
        }
        if grid.last().is_none_or(|last| last.0 != row) {
            if grid.len() > MAX_ROWS {
                errors.push(too_many(row));
                break;
            }
            grid.push((row, Vec::new()));
        }
        if let Some((_, cells)) = grid.last_mut() {
            if cells.len() <= col {
                cells.resize(col + 1, String::new());
            }
            cells[col] = value;
        }
    }
    let mut sheet = Sheet::default();
    let mut rows = grid.into_iter();
    match rows.next() {
        Some((1, header)) => sheet.header = header.iter().map(|c| c.trim().to_owned()).collect(),
        _ => errors.push(CellError {
            row: 1,
            column: String::new(),
            cell: None,
            reason: "row 1 must name the columns".into(),
        }),
    }
    sheet.rows = rows.collect();
    // Formula errors carry the header name where there is one.
    for e in &mut errors {
        if let Some(cell) = &e.cell {
            let letters: String = cell
                .chars()
                .take_while(|c| c.is_ascii_uppercase())
                .collect();
            if let Some(i) = (0..sheet.header.len()).find(|&i| column_letters(i) == letters) {
                e.column = sheet.header[i].clone();
            }
        }
    }
    if errors.is_empty() {
        Ok(sheet)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_a_bom_quoted_newlines_and_blank_rows_reads_with_spreadsheet_row_numbers() {
        let csv = "\u{feff}warehouse,lot_code,donor\r\nJM,L1,\"Red Cross,\nGuangdong\"\r\n,,\r\nJM,L2,\r\n";
        let sheet = read_csv(csv.as_bytes()).expect("csv");
        assert_eq!(sheet.header, ["warehouse", "lot_code", "donor"]);
        assert_eq!(sheet.rows.len(), 2);
        assert_eq!(sheet.rows[0].0, 2);
        assert_eq!(sheet.rows[0].1[2], "Red Cross,\nGuangdong");
        // The quoted newline spans lines 2 and 3, the blank row 4 is skipped.
        assert_eq!(sheet.rows[1].0, 5);
    }

    #[test]
    fn geojson_points_become_rows_with_lat_and_lon() {
        let doc = r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.5262, 22.2401]},
             "properties": {"code": "ZH-C-1", "handling_minutes": 10, "district": null}},
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
             "properties": {"code": "ZH-C-2"}}]}"#;
        assert_eq!(Format::sniff(doc.as_bytes()), Format::GeoJson);
        let errors = read_geojson(doc.as_bytes()).expect_err("a line");
        assert_eq!((errors[0].row, errors[0].column.as_str()), (3, "geometry"));
        let one = doc.replace(
            r#""LineString", "coordinates": [[1, 2], [3, 4]]"#,
            r#""Point", "coordinates": [113.5, 22.3]"#,
        );
        let sheet = read_geojson(one.as_bytes()).expect("points");
        assert_eq!(
            sheet.header,
            ["lat", "lon", "code", "district", "handling_minutes"]
        );
        assert_eq!(
            sheet.rows[0],
            (
                2,
                vec![
                    "22.2401".into(),
                    "113.5262".into(),
                    "ZH-C-1".into(),
                    "".into(),
                    "10".into()
                ]
            )
        );
        assert_eq!(
            sheet.rows[1].1[..3],
            ["22.3".to_owned(), "113.5".into(), "ZH-C-2".into()]
        );
    }

    #[test]
    fn csv_that_is_not_utf8_is_named_by_cell() {
        let mut bytes = b"warehouse,lot_code\nJM,".to_vec();
        bytes.extend_from_slice(&[0xc5, 0xfa]); // GBK
        bytes.push(b'\n');
        let errors = read_csv(&bytes).expect_err("gbk");
        assert_eq!(errors[0].cell.as_deref(), Some("B2"));
    }

    #[test]
    fn xlsx_cells_read_as_text_and_formulas_are_refused_by_cell() {
        use rust_xlsxwriter::{Formula, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["sku", "qty", "expires_on", "gtin"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).expect("write");
        }
        ws.write_string(1, 0, "WATER-5L").expect("write");
        ws.write_number(1, 1, 1200.0).expect("write");
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2027, 5, 1).expect("date");
        let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        ws.write_datetime_with_format(1, 2, &date, &fmt)
            .expect("write");
        ws.write_number(1, 3, 6975301011120.0).expect("write");
        let bytes = wb.save_to_buffer().expect("save");
        let sheet = read_xlsx(&bytes).expect("xlsx");
        assert_eq!(
            sheet.rows,
            vec![(
                2,
                vec![
                    "WATER-5L".to_owned(),
                    "1200".into(),
                    "2027-05-01".into(),
                    "6975301011120".into()
                ]
            )]
        );

        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "qty").expect("write");
        ws.write_formula(1, 0, Formula::new("=1+1").set_result("2"))
            .expect("write");
        let bytes = wb.save_to_buffer().expect("save");
        let errors = read_xlsx(&bytes).expect_err("formula");
        assert_eq!(errors[0].cell.as_deref(), Some("A2"));
        assert_eq!(errors[0].column, "qty");
        assert!(errors[0].reason.contains("formula"), "{errors:?}");
    }
}
