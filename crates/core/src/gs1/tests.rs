//! Tests for the GS1 parser: real-world scan strings, every error, and properties.

use super::*;
use proptest::prelude::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("test dates are valid")
}

fn today() -> NaiveDate {
    date(2026, 3, 15)
}

fn ok(scan: &str) -> Gs1Scan {
    match parse(scan, today()) {
        Ok(s) => s,
        Err(e) => panic!("{scan:?} should parse, got: {e}"),
    }
}

fn err(scan: &str) -> Gs1Error {
    match parse(scan, today()) {
        Ok(s) => panic!("{scan:?} should be rejected, got {s:?}"),
        Err(e) => e,
    }
}

/// The GenSpecs example label: GTIN, expiry 2026-12-31, lot ABC123.
fn example() -> Gs1Scan {
    Gs1Scan {
        gtin: Some("09506000134352".into()),
        lot: Some("ABC123".into()),
        expiry: Some(date(2026, 12, 31)),
        ..Gs1Scan::default()
    }
}

// ---------------------------------------------------------------- real-world scans

#[test]
fn gs1_128_scan_with_c1_prefix_and_gs_separator() {
    assert_eq!(ok("]C1010950600013435217261231\u{1d}10ABC123"), example());
}

#[test]
fn bracketed_human_readable_form() {
    assert_eq!(ok("(01)09506000134352(17)261231(10)ABC123"), example());
}

#[test]
fn bracketed_form_tolerates_spaces_between_elements() {
    assert_eq!(ok("(01) 09506000134352 (17) 261231 (10) ABC123"), example());
}

#[test]
fn bracketed_lot_may_contain_brackets_that_do_not_open_an_ai() {
    let scan = ok("(01)09506000134352(10)AB(C)1(17)261231");
    assert_eq!(scan.lot.as_deref(), Some("AB(C)1"));
    assert_eq!(scan.expiry, Some(date(2026, 12, 31)));
}

#[test]
fn datamatrix_scan_with_d2_prefix_and_leading_gs() {
    assert_eq!(
        ok("]d2\u{1d}010950600013435217261231\u{1d}10ABC123"),
        example()
    );
}

#[test]
fn qr_scan_with_q3_prefix() {
    assert_eq!(ok("]Q3010950600013435210ABC123\u{1d}17261231"), example());
}

#[test]
fn databar_scan_with_e0_prefix() {
    assert_eq!(ok("]e0010950600013435217261231\u{1d}10ABC123"), example());
}

#[test]
fn scan_without_prefix_and_lot_at_the_end_without_gs() {
    assert_eq!(ok("010950600013435217261231\u{1d}10ABC123"), example());
}

#[test]
fn lot_in_the_middle_is_ended_by_gs() {
    assert_eq!(
        ok("0109506000134352\u{1d}10ABC123\u{1d}17261231"),
        example()
    );
}

#[test]
fn keyboard_wedge_suffix_and_zero_width_characters_are_ignored() {
    assert_eq!(
        ok("\u{feff}]C1\u{200b}010950600013435217261231\u{1d}10ABC123\r\n"),
        example()
    );
}

#[test]
fn scanner_substitutes_for_gs_are_accepted() {
    assert_eq!(ok("010950600013435210ABC123#17261231"), example());
    assert_eq!(ok("010950600013435210ABC123\u{241d}17261231"), example());
}

#[test]
fn redundant_doubled_and_trailing_separators_are_ignored() {
    assert_eq!(
        ok("]C1\u{1d}\u{1d}0109506000134352\u{1d}17261231\u{1d}\u{1d}10ABC123\u{1d}"),
        example()
    );
}

#[test]
fn production_and_expiry_dates() {
    let scan = ok("]C1010950600013435211250601172706301010-2025/B");
    assert_eq!(scan.production, Some(date(2025, 6, 1)));
    assert_eq!(scan.expiry, Some(date(2027, 6, 30)));
    assert_eq!(scan.lot.as_deref(), Some("10-2025/B"));
}

#[test]
fn expiry_equal_to_production_is_accepted() {
    let scan = ok("(11)260101(17)260101");
    assert_eq!(scan.expiry, scan.production);
}

#[test]
fn serial_number() {
    let scan = ok("]d20109506000134352\u{1d}21SN-0001\u{1d}10L1");
    assert_eq!(scan.serial.as_deref(), Some("SN-0001"));
    assert_eq!(scan.lot.as_deref(), Some("L1"));
}

#[test]
fn variable_count_ai_30() {
    let scan = ok("(01)09506000134352(30)120");
    assert_eq!(scan.count, Some(120));
    assert_eq!(ok("]C1300000004\u{1d}0109506000134352").count, Some(4));
}

#[test]
fn logistic_label_with_sscc_contained_gtin_and_count() {
    // A pallet label: SSCC, GTIN of the contents, 24 cartons of lot 4711, PO number.
    let scan = ok("]C10010614141234567890802095060001343523724\u{1d}104711\u{1d}400PO-77");
    assert_eq!(scan.gtin.as_deref(), Some("09506000134352"));
    assert_eq!(scan.count, Some(24));
    assert_eq!(scan.lot.as_deref(), Some("4711"));
}

#[test]
fn count_ai_37_at_most_eight_digits() {
    assert_eq!(ok("(02)09506000134352(37)99999999").count, Some(99_999_999));
}

#[test]
fn agreeing_counts_30_and_37_are_accepted() {
    assert_eq!(ok("(30)5(37)05").count, Some(5));
}

#[test]
fn known_ais_without_a_field_are_validated_and_skipped() {
    // (3103) net weight, (15) best before, (240) additional id, (7003) expiry date-time,
    // (410) ship-to GLN, (91) company internal.
    let scan = ok(
        "]C1010950600013435231030012501526063017261231240CAT-5\u{1d}70032612311200\u{1d}4104012345000009\
         91INTERNAL\u{1d}10ABC123",
    );
    assert_eq!(scan, example());
}

#[test]
fn duplicate_ai_with_the_same_value_is_accepted() {
    assert_eq!(
        ok("(01)09506000134352(17)261231(10)ABC123(17)261231(10)ABC123"),
        example()
    );
}

#[test]
fn duplicate_date_written_with_day_00_and_with_the_real_day_agree() {
    assert_eq!(ok("(17)260200(17)260228").expiry, Some(date(2026, 2, 28)));
}

#[test]
fn plain_ean_13_and_ean_8_with_aim_identifiers() {
    assert_eq!(
        ok("]E09506000134352").gtin.as_deref(),
        Some("09506000134352")
    );
    assert_eq!(ok("]E473513537").gtin.as_deref(), Some("00000073513537"));
    assert!(matches!(
        err("]E09506000134355"),
        Gs1Error::GtinCheckDigit {
            expected: 2,
            found: 5,
            ..
        }
    ));
}

#[test]
fn scan_that_carries_no_expiry_leaves_expiry_empty() {
    // The caller must then keep the expiry on record (standards.md §1.6).
    assert_eq!(ok("(01)09506000134352(10)X").expiry, None);
}

// ---------------------------------------------------------------- dates

#[test]
fn day_00_is_the_last_day_of_the_month() {
    assert_eq!(ok("17260200").expiry, Some(date(2026, 2, 28)));
    assert_eq!(ok("17261200").expiry, Some(date(2026, 12, 31)));
    assert_eq!(ok("17260400").expiry, Some(date(2026, 4, 30)));
}

#[test]
fn day_00_examples_from_genspecs() {
    let t = date(2020, 1, 1);
    assert_eq!(resolve_date("130200", t), Ok(date(2013, 2, 28)));
    assert_eq!(resolve_date("160200", t), Ok(date(2016, 2, 29)));
}

#[test]
fn leap_years() {
    assert_eq!(ok("17280229").expiry, Some(date(2028, 2, 29)));
    assert_eq!(ok("17280200").expiry, Some(date(2028, 2, 29)));
    assert_eq!(ok("11000229").production, Some(date(2000, 2, 29)));
    assert!(matches!(err("17270229"), Gs1Error::InvalidDate { .. }));
    // With today in 2080, 00 is 2100, which is not a leap year.
    let e = parse("17000229", date(2080, 1, 1));
    assert!(
        matches!(&e, Err(Gs1Error::InvalidDate { reason, .. }) if reason == "day 29 does not exist in 2100-02"),
        "{e:?}"
    );
    assert_eq!(
        parse("17000200", date(2080, 1, 1)).map(|s| s.expiry),
        Ok(Some(date(2100, 2, 28)))
    );
}

#[test]
fn century_window_around_the_boundary() {
    let t = date(2026, 3, 15);
    // 50 years ahead is still the future, 51 ahead is the past (49 years back).
    assert_eq!(resolve_date("761231", t), Ok(date(2076, 12, 31)));
    assert_eq!(resolve_date("770101", t), Ok(date(1977, 1, 1)));
    assert_eq!(resolve_date("000101", t), Ok(date(2000, 1, 1)));
    assert_eq!(resolve_date("991231", t), Ok(date(1999, 12, 31)));
    // Near the end of a century the window reaches into the next one.
    let t = date(2060, 6, 1);
    assert_eq!(resolve_date("100101", t), Ok(date(2110, 1, 1)));
    assert_eq!(resolve_date("110101", t), Ok(date(2011, 1, 1)));
    let t = date(1999, 12, 31);
    assert_eq!(resolve_date("490101", t), Ok(date(2049, 1, 1)));
    assert_eq!(resolve_date("500101", t), Ok(date(1950, 1, 1)));
}

#[test]
fn century_window_keeps_dates_within_49_years_back_and_50_ahead() {
    for year in [1990, 2000, 2026, 2049, 2050, 2051, 2099, 2100] {
        let t = date(year, 7, 1);
        for yy in 0..100 {
            let d = resolve_date(&format!("{yy:02}0101"), t).expect("valid date");
            let diff = d.year() - year;
            assert!((-49..=50).contains(&diff), "today {t}, yy {yy} gave {d}");
        }
    }
}

#[test]
fn expiry_across_the_century_boundary_is_after_production() {
    let scan = parse("(11)991201(17)000600", date(1999, 12, 15)).expect("valid");
    assert_eq!(scan.production, Some(date(1999, 12, 1)));
    assert_eq!(scan.expiry, Some(date(2000, 6, 30)));
}

#[test]
fn extreme_today_does_not_panic() {
    for t in [NaiveDate::MIN, NaiveDate::MAX] {
        assert!(matches!(
            parse("17991231", t),
            Err(Gs1Error::InvalidDate { .. }) | Ok(_)
        ));
        assert!(matches!(
            parse("17000100", t),
            Err(Gs1Error::InvalidDate { .. }) | Ok(_)
        ));
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn empty_scans() {
    for scan in [
        "",
        "   ",
        "\r\n",
        "]C1",
        "]d2\u{1d}",
        "\u{1d}\u{1d}",
        "\u{200b}",
        "]E0",
    ] {
        assert_eq!(err(scan), Gs1Error::Empty, "{scan:?}");
    }
}

#[test]
fn non_gs1_symbology_identifier() {
    let e = err("]C0010950600013435217261231");
    assert_eq!(
        e,
        Gs1Error::UnsupportedSymbology {
            identifier: "]C0".into()
        }
    );
    assert!(e.to_string().contains("\"]C0\""), "{e}");
    assert_eq!(
        err("]d"),
        Gs1Error::UnsupportedSymbology {
            identifier: "]d".into()
        }
    );
}

#[test]
fn unknown_ai_is_rejected_with_its_position() {
    assert_eq!(
        err("]C10109506000134352\u{1d}03123"),
        Gs1Error::UnknownAi {
            found: "0312".into(),
            position: 21
        }
    );
    assert_eq!(
        err("ABC"),
        Gs1Error::UnknownAi {
            found: "ABC".into(),
            position: 1
        }
    );
    // Truncated 4-digit AI at the end.
    assert_eq!(
        err("0109506000134352310"),
        Gs1Error::UnknownAi {
            found: "310".into(),
            position: 17
        }
    );
    assert_eq!(
        err("(01)09506000134352(03)1"),
        Gs1Error::UnknownAi {
            found: "(03)".into(),
            position: 19
        }
    );
    assert_eq!(err("(03)1").ai(), None);
}

#[test]
fn bracket_errors() {
    assert_eq!(
        err("(01"),
        Gs1Error::UnclosedBracket {
            found: "01".into(),
            position: 1
        }
    );
    assert_eq!(
        err("(0109506000134352"),
        Gs1Error::UnclosedBracket {
            found: "010950".into(),
            position: 1
        }
    );
    assert!(matches!(err("()"), Gs1Error::UnclosedBracket { .. }));
    assert_eq!(
        err("(10)ABC\u{1d}XYZ"),
        Gs1Error::ExpectedBracket {
            found: 'X',
            position: 9
        }
    );
}

#[test]
fn empty_values() {
    assert_eq!(
        err("10\u{1d}17261231"),
        Gs1Error::EmptyValue {
            ai: "10".into(),
            position: 3
        }
    );
    assert_eq!(
        err("(01)09506000134352(10)"),
        Gs1Error::EmptyValue {
            ai: "10".into(),
            position: 23
        }
    );
    assert_eq!(
        err("]C117"),
        Gs1Error::EmptyValue {
            ai: "17".into(),
            position: 6
        }
    );
}

#[test]
fn truncated_gtin() {
    let e = err("]C101095060001343");
    assert_eq!(
        e,
        Gs1Error::WrongLength {
            ai: "01".into(),
            value: "095060001343".into(),
            position: 6,
            length: 12,
            expected: 14
        }
    );
    assert_eq!(e.ai(), Some("01"));
    // A GS inside a fixed-length value cuts it short.
    assert!(matches!(
        err("0109506\u{1d}10ABC"),
        Gs1Error::WrongLength { length: 5, .. }
    ));
    // Bracketed: too many digits.
    assert!(matches!(
        err("(01)095060001343520"),
        Gs1Error::WrongLength { length: 15, .. }
    ));
    // A fixed-length AI outside the predefined table still needs its exact length.
    assert!(matches!(
        err("7003261231\u{1d}10A"),
        Gs1Error::WrongLength { ai, length: 6, expected: 10, .. } if ai == "7003"
    ));
}

#[test]
fn lot_longer_than_20_characters() {
    let e = err("010950600013435210ABCDEFGHIJKLMNOPQRSTU");
    assert_eq!(
        e,
        Gs1Error::TooLong {
            ai: "10".into(),
            value: "ABCDEFGHIJKLMNOPQRSTU".into(),
            position: 19,
            length: 21,
            max: 20
        }
    );
    assert!(e.to_string().contains("GS separator missing"), "{e}");
}

#[test]
fn missing_gs_after_lot_shows_as_a_long_lot() {
    // The lot swallowed the expiry: 10 chars of lot + "17261231" + more is over 20.
    assert!(matches!(
        err("010950600013435210ABC123456717261231XYZ"),
        Gs1Error::TooLong { .. }
    ));
}

#[test]
fn count_longer_than_8_digits() {
    assert!(matches!(
        err("(37)123456789"),
        Gs1Error::TooLong { ai, max: 8, .. } if ai == "37"
    ));
}

#[test]
fn value_shorter_than_its_minimum() {
    assert_eq!(
        err("(253)12345"),
        Gs1Error::TooShort {
            ai: "253".into(),
            value: "12345".into(),
            position: 6,
            length: 5,
            min: 13
        }
    );
}

#[test]
fn non_digit_in_numeric_value() {
    assert_eq!(
        err("0109506000134352\u{1d}1726A231"),
        Gs1Error::NotDigit {
            ai: "17".into(),
            value: "26A231".into(),
            found: 'A',
            position: 22
        }
    );
    assert!(matches!(
        err("(30)12x"),
        Gs1Error::NotDigit {
            found: 'x',
            position: 7,
            ..
        }
    ));
    assert!(matches!(
        err("(01)0950600013435O"),
        Gs1Error::NotDigit { found: 'O', .. }
    ));
}

#[test]
fn character_outside_set_82() {
    assert_eq!(
        err("10AB C"),
        Gs1Error::InvalidCharacter {
            ai: "10".into(),
            value: "AB C".into(),
            found: ' ',
            position: 5
        }
    );
    assert!(matches!(
        err("(21)Straße"),
        Gs1Error::InvalidCharacter { ai, found: 'ß', position: 9, .. } if ai == "21"
    ));
    // Between elements of an element string, a space is not an AI.
    assert!(matches!(
        err("0109506000134352 10AB"),
        Gs1Error::UnknownAi { position: 17, .. }
    ));
}

#[test]
fn check_digit_error_names_expected_and_found() {
    let e = err("]C1010950600013435517261231");
    assert_eq!(
        e,
        Gs1Error::CheckDigit {
            ai: "01".into(),
            value: "09506000134355".into(),
            expected: 2,
            found: 5,
            position: 6
        }
    );
    assert!(
        e.to_string()
            .starts_with("AI (01): check digit should be 2, found 5"),
        "{e}"
    );
    // SSCC and contained GTIN are checked too.
    assert!(matches!(
        err("00106141412345678900"),
        Gs1Error::CheckDigit { ai, expected: 8, found: 0, .. } if ai == "00"
    ));
    assert!(matches!(
        err("(02)09506000134353(37)1"),
        Gs1Error::CheckDigit { ai, .. } if ai == "02"
    ));
}

#[test]
fn invalid_dates() {
    let cases = [
        ("17261331", "month 13 does not exist"),
        ("17260015", "month 00 does not exist"),
        ("17260230", "day 30 does not exist in 2026-02"),
        ("17260431", "day 31 does not exist in 2026-04"),
        ("17260132", "day 32 does not exist in 2026-01"),
    ];
    for (scan, reason) in cases {
        match err(scan) {
            Gs1Error::InvalidDate {
                ai,
                value,
                position,
                reason: r,
            } => {
                assert_eq!((ai.as_str(), position, r.as_str()), ("17", 3, reason));
                assert_eq!(Some(value.as_str()), scan.get(2..));
            }
            other => panic!("{scan}: {other:?}"),
        }
    }
    assert!(matches!(
        err("(11)261331"),
        Gs1Error::InvalidDate { ai, .. } if ai == "11"
    ));
    // Dates without a field are checked all the same.
    assert!(matches!(
        err("(15)261331"),
        Gs1Error::InvalidDate { ai, .. } if ai == "15"
    ));
}

#[test]
fn expiry_before_production() {
    let e = err("(11)260601(17)260531");
    assert_eq!(
        e,
        Gs1Error::ExpiryBeforeProduction {
            expiry: date(2026, 5, 31),
            production: date(2026, 6, 1)
        }
    );
    assert_eq!(e.ai(), Some("17"));
}

#[test]
fn duplicate_ais_that_disagree() {
    let e = err("(17)261231(10)A(17)270101");
    assert_eq!(
        e,
        Gs1Error::Conflict {
            ai: "17".into(),
            first: "261231".into(),
            second: "270101".into(),
            position: 20
        }
    );
    assert!(matches!(err("10A\u{1d}10B"), Gs1Error::Conflict { ai, .. } if ai == "10"));
    assert!(matches!(
        err("(01)09506000134352(01)09506000134376"),
        Gs1Error::Conflict { ai, .. } if ai == "01"
    ));
    // Skipped AIs too.
    assert!(matches!(
        err("(400)PO1(400)PO2"),
        Gs1Error::Conflict { ai, .. } if ai == "400"
    ));
    assert!(matches!(err("(30)1(30)2"), Gs1Error::Conflict { .. }));
}

#[test]
fn gtin_01_and_02_together() {
    let e = err("(01)09506000134352(02)09506000134352(37)1");
    assert!(
        matches!(&e, Gs1Error::Incompatible { ai, other, position: 23, .. } if ai == "02" && other == "01"),
        "{e:?}"
    );
    assert_eq!(e.ai(), Some("02"));
}

#[test]
fn counts_30_and_37_that_disagree() {
    let e = err("(30)5(37)6");
    assert!(
        matches!(&e, Gs1Error::Incompatible { ai, .. } if ai == "37"),
        "{e:?}"
    );
    assert!(e.to_string().contains("(5 and 6)"), "{e}");
}

#[test]
fn control_characters_are_escaped_and_long_values_shortened_in_messages() {
    let e = err("10AB\u{7}C");
    assert!(e.to_string().contains("\\u{7}"), "{e}");
    let long = format!("10{}", "A".repeat(10_000));
    let message = err(&long).to_string();
    assert!(message.len() < 300, "{message}");
    assert!(message.contains("10000 characters"), "{message}");
}

#[test]
fn every_error_names_its_ai_when_it_has_one() {
    assert_eq!(err("(10)A B").ai(), Some("10"));
    assert_eq!(err("(17)261331").ai(), Some("17"));
    assert_eq!(err("").ai(), None);
    assert_eq!(err("]X9").ai(), None);
    assert_eq!(
        normalize_gtin("123").map_err(|e| e.ai().is_none()),
        Err(true)
    );
}

// ---------------------------------------------------------------- GTIN helper

#[test]
fn gtin_check_digit_worked_examples() {
    assert_eq!(check_digit("890400021003"), Some(7));
    assert_eq!(check_digit("730001100001"), Some(7));
    assert_eq!(check_digit("0950600013435"), Some(2));
    assert_eq!(check_digit(""), Some(0));
    assert_eq!(check_digit("12a"), None);
}

#[test]
fn valid_gtins_of_every_length() {
    for gtin in [
        "73513537",       // GTIN-8
        "036000291452",   // GTIN-12 (UPC-A)
        "8904000210037",  // GTIN-13
        "7300011000017",  // GTIN-13
        "9506000134352",  // GTIN-13
        "09506000134352", // GTIN-14
        "10614141000415", // GTIN-14, packaging indicator 1
    ] {
        assert!(gtin_is_valid(gtin), "{gtin}");
    }
}

#[test]
fn normalize_pads_to_14_digits() {
    assert_eq!(normalize_gtin("73513537").as_deref(), Ok("00000073513537"));
    assert_eq!(
        normalize_gtin("036000291452").as_deref(),
        Ok("00036000291452")
    );
    assert_eq!(
        normalize_gtin("9506000134352").as_deref(),
        Ok("09506000134352")
    );
    assert_eq!(
        normalize_gtin("09506000134352").as_deref(),
        Ok("09506000134352")
    );
}

#[test]
fn invalid_gtins() {
    assert_eq!(
        normalize_gtin("9506000134355"),
        Err(Gs1Error::GtinCheckDigit {
            value: "9506000134355".into(),
            expected: 2,
            found: 5
        })
    );
    assert!(matches!(
        normalize_gtin("036000291453"),
        Err(Gs1Error::GtinCheckDigit {
            expected: 2,
            found: 3,
            ..
        })
    ));
    assert_eq!(
        normalize_gtin("1234567"),
        Err(Gs1Error::GtinLength {
            value: "1234567".into(),
            length: 7
        })
    );
    assert_eq!(
        normalize_gtin(""),
        Err(Gs1Error::GtinLength {
            value: "".into(),
            length: 0
        })
    );
    assert_eq!(
        normalize_gtin("95060O0134352"),
        Err(Gs1Error::GtinNotDigit {
            value: "95060O0134352".into(),
            found: 'O',
            position: 6
        })
    );
    for bad in [
        "",
        "abc",
        "123456789012345",
        " 9506000134352",
        "9506000134352\n",
        "٩٥٠٦٠٠٠١٣٤٣٥٢",
    ] {
        assert!(!gtin_is_valid(bad), "{bad:?}");
    }
    assert_eq!(
        normalize_gtin("9506000134355").map_err(|e| e.to_string()),
        Err("GTIN \"9506000134355\": check digit should be 2, found 5".into())
    );
}

// ---------------------------------------------------------------- the AI table

#[test]
fn ai_table_is_prefix_free() {
    // Two patterns overlap when one could match the start of what the other matches.
    let overlaps = |a: &str, b: &str| {
        a.chars()
            .zip(b.chars())
            .all(|(x, y)| x == y || x == 'n' || y == 'n')
    };
    for (i, a) in AIS.iter().enumerate() {
        for b in AIS.iter().skip(i + 1) {
            let allowed = (a.pattern, b.pattern) == ("90", "9n");
            assert!(
                allowed || !overlaps(a.pattern, b.pattern),
                "{} and {} overlap",
                a.pattern,
                b.pattern
            );
        }
    }
}

#[test]
fn predefined_length_ais_have_the_predefined_total_length() {
    for spec in AIS {
        let total = spec.pattern.len() + spec.max;
        let expected = match spec.pattern.get(..2) {
            Some("00") => Some(20),
            Some("01" | "02") => Some(16),
            Some("11" | "12" | "13" | "15" | "16" | "17") => Some(8),
            Some("20") => Some(4),
            Some("31" | "32" | "33" | "34" | "35" | "36") => Some(10),
            Some("41") => Some(16),
            _ => None,
        };
        assert_eq!(
            is_predefined_length(spec.pattern),
            expected.is_some(),
            "{}",
            spec.pattern
        );
        if let Some(expected) = expected {
            assert_eq!(total, expected, "{}", spec.pattern);
            assert_eq!(spec.min, spec.max, "{}", spec.pattern);
        }
    }
}

#[test]
fn ai_spec_lookup() {
    assert_eq!(ai_spec("3103").map(|s| s.pattern), Some("31nn"));
    assert_eq!(ai_spec("90").map(|s| s.pattern), Some("90"));
    assert_eq!(ai_spec("95").map(|s| s.pattern), Some("9n"));
    assert_eq!(ai_spec("01").map(|s| s.field), Some(Field::Gtin));
    assert!(ai_spec("03").is_none());
    assert!(ai_spec("010").is_none());
}

// ---------------------------------------------------------------- encoding

#[test]
fn encoding_the_example() {
    assert_eq!(
        example().to_element_string(),
        // Both fixed-length elements need no GS; the lot is last, so none at all.
        "01095060001343521726123110ABC123"
    );
    assert_eq!(
        example().to_bracketed(),
        "(01)09506000134352(17)261231(10)ABC123"
    );
    let full = Gs1Scan {
        production: Some(date(2025, 6, 1)),
        count: Some(12),
        serial: Some("S1".into()),
        ..example()
    };
    assert_eq!(
        full.to_element_string(),
        "010950600013435211250601172612313012\u{1d}21S1\u{1d}10ABC123"
    );
    assert_eq!(Gs1Scan::default().to_element_string(), "");
}

#[test]
fn scan_serializes_to_json() {
    let json = serde_json::to_value(example()).expect("serializes");
    assert_eq!(
        json,
        serde_json::json!({
            "gtin": "09506000134352",
            "lot": "ABC123",
            "expiry": "2026-12-31",
            "production": null,
            "count": null,
            "serial": null
        })
    );
}

// ---------------------------------------------------------------- properties

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn cset82_string(allow_brackets: bool) -> impl Strategy<Value = String> {
    let chars: Vec<char> = CSET82
        .chars()
        .filter(|&c| allow_brackets || c != '(')
        .collect();
    prop::collection::vec(prop::sample::select(chars), 1..=20).prop_map(String::from_iter)
}

fn gtin14() -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, 13).prop_map(|digits| {
        let body: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let check = check_digit(&body).unwrap_or_default();
        format!("{body}{check}")
    })
}

/// A date inside the century window around `today`.
fn date_in_window(today: NaiveDate) -> impl Strategy<Value = NaiveDate> {
    let first = date(today.year() - 49, 1, 1);
    let last = date(today.year() + 50, 12, 31);
    let days = (last - first).num_days();
    (0..=days).prop_map(move |d| first + chrono::Duration::days(d))
}

fn scan_fields(allow_brackets: bool) -> impl Strategy<Value = (NaiveDate, Gs1Scan)> {
    (1900i32..2200, 1u32..=12, 1u32..=28).prop_flat_map(move |(y, m, d)| {
        let today = date(y, m, d);
        (
            Just(today),
            prop::option::of(gtin14()),
            prop::option::of(cset82_string(allow_brackets)),
            prop::option::of(date_in_window(today)),
            prop::option::of(date_in_window(today)),
            prop::option::of(0u64..=99_999_999),
            prop::option::of(cset82_string(allow_brackets)),
        )
            .prop_map(|(today, gtin, lot, a, b, count, serial)| {
                // Keep expiry on or after production.
                let (production, expiry) = match (a, b) {
                    (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                    other => other,
                };
                (
                    today,
                    Gs1Scan {
                        gtin,
                        lot,
                        expiry,
                        production,
                        count,
                        serial,
                    },
                )
            })
    })
}

/// Characters that exercise the parser's paths: digits, separators, brackets, prefixes.
fn gs1ish() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "0123456789()]CdQe1230#\u{1d}\u{241d}\u{200b} AZaz-/\r\n"
        .chars()
        .collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..80).prop_map(String::from_iter)
}

/// What scanners put in front of the data.
fn prefixes() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "]C1", "]d2", "]Q3", "]e0", "\u{1d}", "]d2\u{1d}"])
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_strings(scan in any::<String>(), y in -300_000i32..300_000) {
        let today = NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(NaiveDate::MAX);
        let _ = parse(&scan, today);
    }

    #[test]
    fn parse_never_panics_on_gs1_like_strings(scan in gs1ish()) {
        let _ = parse(&scan, today());
    }

    #[test]
    fn whatever_parses_satisfies_the_invariants(scan in gs1ish()) {
        if let Ok(s) = parse(&scan, today()) {
            if let Some(g) = &s.gtin {
                prop_assert_eq!(g.len(), 14);
                prop_assert!(gtin_is_valid(g));
            }
            if let Some(lot) = &s.lot {
                prop_assert!((1..=20).contains(&lot.chars().count()));
                prop_assert!(lot.chars().all(is_cset82));
            }
            if let (Some(e), Some(p)) = (s.expiry, s.production) {
                prop_assert!(e >= p);
            }
            prop_assert!(s.count.is_none_or(|c| c <= 99_999_999));
        }
    }

    #[test]
    fn element_string_round_trip((today, fields) in scan_fields(true), prefix in prefixes()) {
        let scan = format!("{prefix}{}", fields.to_element_string());
        if fields == Gs1Scan::default() {
            prop_assert_eq!(parse(&scan, today), Err(Gs1Error::Empty));
        } else {
            prop_assert_eq!(parse(&scan, today), Ok(fields));
        }
    }

    #[test]
    fn bracketed_round_trip((today, fields) in scan_fields(false)) {
        let expected = if fields == Gs1Scan::default() { Err(Gs1Error::Empty) } else { Ok(fields.clone()) };
        prop_assert_eq!(parse(&fields.to_bracketed(), today), expected);
    }

    #[test]
    fn short_gtins_normalize_to_their_zero_padded_gtin_14(
        length in prop::sample::select(vec![8usize, 12, 13, 14]),
        digits in prop::collection::vec(0u8..10, 13),
    ) {
        let body: String = digits.iter().take(length - 1).map(|d| char::from(b'0' + d)).collect();
        let short = format!("{body}{}", check_digit(&body).unwrap_or_default());
        prop_assert!(gtin_is_valid(&short));
        prop_assert_eq!(normalize_gtin(&short), Ok(format!("{short:0>14}")));
    }

    #[test]
    fn a_wrong_check_digit_is_always_caught(gtin in gtin14(), delta in 1u8..10) {
        let last = gtin.chars().last().and_then(|c| c.to_digit(10)).unwrap_or_default();
        let body = gtin.get(..13).unwrap_or_default();
        let wrong = format!("{body}{}", (last + u32::from(delta)) % 10);
        prop_assert!(!gtin_is_valid(&wrong));
        let is_check_digit_error = matches!(
            parse(&format!("01{wrong}"), today()),
            Err(Gs1Error::CheckDigit { .. })
        );
        prop_assert!(is_check_digit_error);
    }
}
