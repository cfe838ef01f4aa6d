//! Fuzz target: `stockpile::gs1::parse` must never panic, whatever a scanner types.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scan = String::from_utf8_lossy(data);
    // A fixed "today" keeps runs reproducible; the century window is exercised by the data.
    let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap_or_default();
    if let Ok(parsed) = stockpile::gs1::parse(&scan, today) {
        // What parses must re-encode and parse back to the same fields.
        let again = stockpile::gs1::parse(&parsed.to_element_string(), today);
        if parsed != stockpile::gs1::Gs1Scan::default() {
            assert_eq!(again, Ok(parsed));
        }
    }
});
