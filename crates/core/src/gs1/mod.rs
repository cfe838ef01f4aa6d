//! GS1 barcode parsing: turns what a keyboard-wedge scanner types for a GS1-128, GS1 DataMatrix,
//! GS1 QR or GS1 DataBar symbol (or the bracketed human-readable form) into checked lot data.
//!
//! Invariants: the module is pure (no I/O, no clock: "today" is an argument) and never panics,
//! whatever the input. Every value in a returned [`Gs1Scan`] has passed its GS1 check: a GTIN has
//! 14 digits and a correct check digit, a date is a real calendar date whose century comes from the
//! GS1 sliding window around `today`, the expiry is not before the production date, and no AI
//! appeared twice with different values. Anything else is a [`Gs1Error`] that names the AI, the
//! offending value and the 1-based character position in the scan as received (symbology
//! identifier and GS characters included).
//!
//! What is accepted (reference: `shared/reference/standards.md` §1):
//! - an optional AIM symbology identifier: `]C1` (GS1-128), `]d2` (GS1 DataMatrix), `]Q3`
//!   (GS1 QR), `]e0` (GS1 DataBar) are stripped; `]E0` / `]E4` (EAN-13/UPC-A, EAN-8) carry a bare
//!   GTIN and are read as one; any other identifier (e.g. `]C0`, a Code 128 without FNC1) is not
//!   GS1 data and is rejected;
//! - FNC1 separators sent as GS (0x1D), as `␝` (U+241D, what some wedges type for GS) or as `#`
//!   (Odoo's convention; `#` is outside GS1 character set 82, so it never occurs inside data);
//!   leading, trailing, repeated and redundant separators are ignored;
//! - zero-width characters (which camera scanners and copy-paste insert) are dropped, and
//!   surrounding whitespace (the scanner's CR/LF suffix) is trimmed;
//! - the bracketed form `(01)09506000134352(17)261231(10)ABC123`.
//!
//! Unknown AIs are rejected, not skipped: without knowing an AI we cannot know where its value
//! ends, so skipping could silently read the rest of the scan as the wrong field. The table in
//! [`AIS`] covers the AIs found on lot labels (00, 01, 02, 10–13, 15–17, 20–22, 235, 24x, 25x,
//! 30, 31nn–36nn, 37, 39nn, 40x–42x, 7003, 710–715, 8005, 8008, 8020, 90–99); those that
//! [`Gs1Scan`] has no field for are validated and then ignored.
//!
//! A bare EAN-13 or ITF-14 typed *without* a symbology identifier is not guessed at: digits-only
//! strings are also valid element strings (e.g. `17YYMMDD10NNNN`), so guessing could turn an
//! expiry and a lot into a bogus GTIN. Scanners should be set to send AIM identifiers.

#[cfg(test)]
mod tests;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// The lot data read from one scan. A field is `None` when the scan did not carry it; a missing
/// expiry must never clear one already on record (standards.md §1.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Gs1Scan {
    /// GTIN-14 (check digit verified) from AI (01), or from AI (02) on a logistic-unit label,
    /// where it is the GTIN of the contained trade items that AI (37) counts.
    pub gtin: Option<String>,
    /// Batch / lot number, AI (10): 1–20 characters of GS1 character set 82.
    pub lot: Option<String>,
    /// Use-by or expiry date, AI (17). Day 00 is resolved to the last day of the month.
    pub expiry: Option<NaiveDate>,
    /// Production date, AI (11). Day 00 is resolved to the last day of the month.
    pub production: Option<NaiveDate>,
    /// Count from AI (30) (variable count) or AI (37) (count of contained trade items).
    pub count: Option<u64>,
    /// Serial number, AI (21): 1–20 characters of GS1 character set 82.
    pub serial: Option<String>,
}

/// Why a scan or a GTIN was rejected. Every message names what is wrong and where: the AI, the
/// offending value (escaped, and shortened past 40 characters) and the 1-based character
/// position in the scan as received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    /// Nothing left once the symbology identifier, separators and whitespace are removed.
    #[error(
        "the scan is empty: no GS1 data after the symbology identifier, separators and whitespace"
    )]
    Empty,
    /// The scan starts with an AIM symbology identifier that does not denote GS1 data.
    #[error(
        "position 1: symbology identifier {identifier:?} does not denote GS1 data \
         (expected ]C1, ]d2, ]Q3 or ]e0, or ]E0/]E4 for a plain EAN/UPC)"
    )]
    UnsupportedSymbology {
        /// The identifier as received (up to 3 characters).
        identifier: String,
    },
    /// Where an AI was expected, the data does not start with a known GS1 AI.
    #[error(
        "position {position}: expected a GS1 application identifier, found {found:?}, which is not one this parser knows"
    )]
    UnknownAi {
        /// Up to 4 characters found where the AI should be (brackets included in the bracketed form).
        found: String,
        /// Position of the first of those characters.
        position: usize,
    },
    /// Bracketed form: an opening `(` without a closing `)` after 2–4 digits.
    #[error("position {position}: bracketed AI {found:?} is not 2 to 4 digits closed by ')'")]
    UnclosedBracket {
        /// What follows the `(`, up to 6 characters.
        found: String,
        /// Position of the `(`.
        position: usize,
    },
    /// Bracketed form: after a separator, something other than the next `(AI)`.
    #[error("position {position}: expected '(' to open the next AI, found {found:?}")]
    ExpectedBracket {
        /// The character found.
        found: char,
        /// Its position.
        position: usize,
    },
    /// An AI with no value after it.
    #[error("AI ({ai}) at position {position}: the value is empty")]
    EmptyValue {
        /// The AI.
        ai: String,
        /// Where the value should have started.
        position: usize,
    },
    /// A fixed-length value (e.g. the 14 digits of AI (01)) of the wrong length.
    #[error(
        "AI ({ai}): value {value:?} at position {position} has {length} characters, exactly {expected} required"
    )]
    WrongLength {
        /// The AI.
        ai: String,
        /// The value as read.
        value: String,
        /// Position of its first character.
        position: usize,
        /// Its length in characters.
        length: usize,
        /// The length the AI requires.
        expected: usize,
    },
    /// A variable-length value longer than its AI allows (often a missing GS separator).
    #[error(
        "AI ({ai}): value {value:?} at position {position} has {length} characters, at most {max} allowed (is a GS separator missing?)"
    )]
    TooLong {
        /// The AI.
        ai: String,
        /// The value as read.
        value: String,
        /// Position of its first character.
        position: usize,
        /// Its length in characters.
        length: usize,
        /// The most the AI allows.
        max: usize,
    },
    /// A variable-length value shorter than its AI requires (e.g. AI (253) needs 13 digits first).
    #[error(
        "AI ({ai}): value {value:?} at position {position} has {length} characters, at least {min} required"
    )]
    TooShort {
        /// The AI.
        ai: String,
        /// The value as read.
        value: String,
        /// Position of its first character.
        position: usize,
        /// Its length in characters.
        length: usize,
        /// The least the AI requires.
        min: usize,
    },
    /// A non-digit in a numeric value.
    #[error("AI ({ai}): {found:?} at position {position} is not a digit (value {value:?})")]
    NotDigit {
        /// The AI.
        ai: String,
        /// The whole value.
        value: String,
        /// The offending character.
        found: char,
        /// Its position.
        position: usize,
    },
    /// A character outside GS1 character set 82 in an alphanumeric value.
    #[error(
        "AI ({ai}): {found:?} at position {position} is not allowed in GS1 data (value {value:?})"
    )]
    InvalidCharacter {
        /// The AI.
        ai: String,
        /// The whole value.
        value: String,
        /// The offending character.
        found: char,
        /// Its position.
        position: usize,
    },
    /// A GTIN, SSCC or GLN inside a scan whose mod-10 check digit is wrong.
    #[error(
        "AI ({ai}): check digit should be {expected}, found {found} (value {value:?} at position {position})"
    )]
    CheckDigit {
        /// The AI.
        ai: String,
        /// The whole value.
        value: String,
        /// The check digit the other digits call for.
        expected: u8,
        /// The check digit in the value.
        found: u8,
        /// Position of the value's first character.
        position: usize,
    },
    /// A YYMMDD value that is not a calendar date (month 13, 30 February...).
    #[error("AI ({ai}): {value:?} at position {position} is not a valid YYMMDD date: {reason}")]
    InvalidDate {
        /// The AI.
        ai: String,
        /// The value.
        value: String,
        /// Position of the value's first character.
        position: usize,
        /// What is wrong, e.g. "month 13 does not exist".
        reason: String,
    },
    /// The same AI twice with different values.
    #[error(
        "AI ({ai}) appears twice with different values: {first:?}, then {second:?} at position {position}"
    )]
    Conflict {
        /// The AI.
        ai: String,
        /// The first value.
        first: String,
        /// The second value.
        second: String,
        /// Position of the second value.
        position: usize,
    },
    /// Two AIs that must not be combined, or that contradict each other.
    #[error("AI ({ai}) at position {position} cannot be used with AI ({other}): {reason}")]
    Incompatible {
        /// The AI found second.
        ai: String,
        /// The AI it clashes with.
        other: String,
        /// Position of `ai`'s value.
        position: usize,
        /// Why.
        reason: String,
    },
    /// The expiry date (17) is before the production date (11).
    #[error("AI (17): expiry {expiry} is before the production date {production} in AI (11)")]
    ExpiryBeforeProduction {
        /// The expiry date.
        expiry: NaiveDate,
        /// The production date.
        production: NaiveDate,
    },
    /// A stand-alone GTIN (or `]E0`/`]E4` data) that is not 8, 12, 13 or 14 digits long.
    #[error("GTIN {value:?}: {length} characters, expected 8, 12, 13 or 14 digits")]
    GtinLength {
        /// The GTIN as given.
        value: String,
        /// Its length in characters.
        length: usize,
    },
    /// A stand-alone GTIN with a non-digit.
    #[error("GTIN {value:?}: {found:?} at position {position} of the GTIN is not a digit")]
    GtinNotDigit {
        /// The GTIN as given.
        value: String,
        /// The offending character.
        found: char,
        /// Its 1-based position within the GTIN.
        position: usize,
    },
    /// A stand-alone GTIN whose check digit is wrong.
    #[error("GTIN {value:?}: check digit should be {expected}, found {found}")]
    GtinCheckDigit {
        /// The GTIN as given.
        value: String,
        /// The check digit the other digits call for.
        expected: u8,
        /// The last digit of the GTIN.
        found: u8,
    },
}

impl Gs1Error {
    /// The AI the error is about, so that the HTTP layer can name the field; `None` when the
    /// error is about the scan as a whole or about a stand-alone GTIN.
    pub fn ai(&self) -> Option<&str> {
        match self {
            Gs1Error::EmptyValue { ai, .. }
            | Gs1Error::WrongLength { ai, .. }
            | Gs1Error::TooLong { ai, .. }
            | Gs1Error::TooShort { ai, .. }
            | Gs1Error::NotDigit { ai, .. }
            | Gs1Error::InvalidCharacter { ai, .. }
            | Gs1Error::CheckDigit { ai, .. }
            | Gs1Error::InvalidDate { ai, .. }
            | Gs1Error::Conflict { ai, .. }
            | Gs1Error::Incompatible { ai, .. } => Some(ai),
            Gs1Error::ExpiryBeforeProduction { .. } => Some("17"),
            Gs1Error::Empty
            | Gs1Error::UnsupportedSymbology { .. }
            | Gs1Error::UnknownAi { .. }
            | Gs1Error::UnclosedBracket { .. }
            | Gs1Error::ExpectedBracket { .. }
            | Gs1Error::GtinLength { .. }
            | Gs1Error::GtinNotDigit { .. }
            | Gs1Error::GtinCheckDigit { .. } => None,
        }
    }
}

/// How an AI's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Digits only.
    Digits,
    /// Digits, the last being a GS1 mod-10 check digit (GTIN, SSCC, GLN, GSIN).
    CheckedDigits,
    /// YYMMDD, day 00 meaning the last day of the month.
    Date,
    /// GS1 character set 82.
    Cset82,
    /// This many digits, then character set 82 (e.g. AI (421): ISO country code, then postcode).
    DigitsThenCset82(usize),
}

/// Which [`Gs1Scan`] field an AI fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// AI (01).
    Gtin,
    /// AI (02).
    ContainedGtin,
    /// AI (10).
    Lot,
    /// AI (17).
    Expiry,
    /// AI (11).
    Production,
    /// AI (30).
    VariableCount,
    /// AI (37).
    ContainedCount,
    /// AI (21).
    Serial,
    /// Validated, then ignored.
    Ignored,
}

/// One known application identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiSpec {
    /// The AI; `n` stands for any digit (e.g. `310n`, net weight with n decimals).
    pub pattern: &'static str,
    /// Fewest characters in the value.
    pub min: usize,
    /// Most characters in the value (equal to `min` for fixed-length values).
    pub max: usize,
    /// How the value is checked.
    pub content: Content,
    /// Where the value goes.
    pub field: Field,
}

const fn ai(
    pattern: &'static str,
    min: usize,
    max: usize,
    content: Content,
    field: Field,
) -> AiSpec {
    AiSpec {
        pattern,
        min,
        max,
        content,
        field,
    }
}

use Content::{CheckedDigits, Cset82, Date, Digits, DigitsThenCset82};
use Field::Ignored;

/// The AIs this parser knows (GS1 General Specifications, section 3). No pattern is a prefix of
/// another, which is what makes an AI string self-delimiting; a unit test checks it. Where two
/// patterns match the same AI (`90` and `9n`), the earlier one wins.
pub const AIS: &[AiSpec] = &[
    ai("00", 18, 18, CheckedDigits, Ignored), // SSCC
    ai("01", 14, 14, CheckedDigits, Field::Gtin),
    ai("02", 14, 14, CheckedDigits, Field::ContainedGtin),
    ai("10", 1, 20, Cset82, Field::Lot),
    ai("11", 6, 6, Date, Field::Production),
    ai("12", 6, 6, Date, Ignored), // due date
    ai("13", 6, 6, Date, Ignored), // packaging date
    ai("15", 6, 6, Date, Ignored), // best before
    ai("16", 6, 6, Date, Ignored), // sell by
    ai("17", 6, 6, Date, Field::Expiry),
    ai("20", 2, 2, Digits, Ignored), // internal product variant
    ai("21", 1, 20, Cset82, Field::Serial),
    ai("22", 1, 20, Cset82, Ignored),  // consumer product variant
    ai("235", 1, 28, Cset82, Ignored), // third-party serial
    ai("240", 1, 30, Cset82, Ignored), // additional product id
    ai("241", 1, 30, Cset82, Ignored), // customer part number
    ai("242", 1, 6, Digits, Ignored),  // made-to-order variation
    ai("243", 1, 20, Cset82, Ignored), // packaging component
    ai("250", 1, 30, Cset82, Ignored), // secondary serial
    ai("251", 1, 30, Cset82, Ignored), // reference to source entity
    ai("253", 13, 30, DigitsThenCset82(13), Ignored), // GDTI
    ai("254", 1, 20, Cset82, Ignored), // GLN extension
    ai("255", 13, 25, Digits, Ignored), // GCN
    ai("30", 1, 8, Digits, Field::VariableCount),
    // Trade measures (310n net kg ... 369n): the predefined-length table fixes them at N6.
    ai("31nn", 6, 6, Digits, Ignored),
    ai("32nn", 6, 6, Digits, Ignored),
    ai("33nn", 6, 6, Digits, Ignored),
    ai("34nn", 6, 6, Digits, Ignored),
    ai("35nn", 6, 6, Digits, Ignored),
    ai("36nn", 6, 6, Digits, Ignored),
    ai("37", 1, 8, Digits, Field::ContainedCount),
    ai("390n", 1, 15, Digits, Ignored),        // amount payable
    ai("391n", 4, 18, Digits, Ignored),        // amount payable with ISO currency
    ai("392n", 1, 15, Digits, Ignored),        // price, variable-measure item
    ai("393n", 4, 18, Digits, Ignored),        // price with ISO currency
    ai("394n", 4, 4, Digits, Ignored),         // coupon discount percentage
    ai("400", 1, 30, Cset82, Ignored),         // customer's purchase order
    ai("401", 1, 30, Cset82, Ignored),         // GINC
    ai("402", 17, 17, CheckedDigits, Ignored), // GSIN
    ai("403", 1, 30, Cset82, Ignored),         // routing code
    ai("41n", 13, 13, CheckedDigits, Ignored), // GLNs: ship to, bill to...
    ai("420", 1, 20, Cset82, Ignored),         // ship-to postcode
    ai("421", 4, 12, DigitsThenCset82(3), Ignored), // ship-to postcode with country
    ai("422", 3, 3, Digits, Ignored),          // country of origin
    ai("423", 3, 15, Digits, Ignored),         // countries of initial processing
    ai("424", 3, 3, Digits, Ignored),          // country of processing
    ai("425", 3, 15, Digits, Ignored),         // countries of disassembly
    ai("426", 3, 3, Digits, Ignored),          // country of full process chain
    ai("427", 1, 3, Cset82, Ignored),          // country subdivision of origin
    ai("7003", 10, 10, Digits, Ignored),       // expiry date and time
    ai("710", 1, 20, Cset82, Ignored),         // national healthcare reimbursement numbers...
    ai("711", 1, 20, Cset82, Ignored),
    ai("712", 1, 20, Cset82, Ignored),
    ai("713", 1, 20, Cset82, Ignored),
    ai("714", 1, 20, Cset82, Ignored),
    ai("715", 1, 20, Cset82, Ignored),
    ai("8005", 6, 6, Digits, Ignored),  // price per unit of measure
    ai("8008", 8, 12, Digits, Ignored), // production date and time
    ai("8020", 1, 25, Cset82, Ignored), // payment slip reference
    ai("90", 1, 30, Cset82, Ignored),   // mutually agreed information
    ai("9n", 1, 90, Cset82, Ignored),   // 91-99: company internal
];

/// Whether an AI's element has a predefined total length and so needs no separator after it
/// (standards.md §1.2). Every other element is ended by a separator or the end of the scan.
pub fn is_predefined_length(ai: &str) -> bool {
    matches!(
        ai.get(..2),
        Some(
            "00" | "01"
                | "02"
                | "03"
                | "04"
                | "11"
                | "12"
                | "13"
                | "14"
                | "15"
                | "16"
                | "17"
                | "18"
                | "19"
                | "20"
                | "31"
                | "32"
                | "33"
                | "34"
                | "35"
                | "36"
                | "41"
        )
    )
}

/// The [`AiSpec`] whose pattern matches `ai` exactly, if any.
pub fn ai_spec(ai: &str) -> Option<&'static AiSpec> {
    AIS.iter()
        .find(|spec| pattern_matches(spec.pattern, ai.chars()))
}

fn pattern_matches(pattern: &str, mut candidate: impl Iterator<Item = char>) -> bool {
    for p in pattern.chars() {
        match candidate.next() {
            Some(c) if p == 'n' && c.is_ascii_digit() => {}
            Some(c) if c == p => {}
            _ => return false,
        }
    }
    candidate.next().is_none()
}

/// The GS1 mod-10 check digit that completes `body` (all the digits *before* the check digit):
/// weights 3, 1, 3... from the right, then `(10 - sum mod 10) mod 10`. `None` if `body` holds a
/// non-digit. Useful to build valid GTINs, SSCCs and GLNs in tests and fixtures.
pub fn check_digit(body: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, c) in body.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        let weight = if i % 2 == 0 { 3 } else { 1 };
        // Keep only the last digit of the sum: nothing else matters and it cannot overflow.
        sum = (sum + d * weight) % 10;
    }
    u8::try_from((10 - sum) % 10).ok()
}

/// Whether `gtin` is a GTIN-8, -12, -13 or -14: digits only, one of those lengths, and a correct
/// check digit.
pub fn gtin_is_valid(gtin: &str) -> bool {
    normalize_gtin(gtin).is_ok()
}

/// Checks a GTIN-8, -12, -13 or -14 and returns it as GTIN-14, padded on the left with zeros
/// (padding leaves the check digit unchanged, because weights count from the right).
pub fn normalize_gtin(gtin: &str) -> Result<String, Gs1Error> {
    if let Some((i, c)) = gtin.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(Gs1Error::GtinNotDigit {
            value: shown(gtin),
            found: c,
            position: i + 1,
        });
    }
    // All ASCII digits now, so bytes are characters.
    let length = gtin.len();
    if !matches!(length, 8 | 12 | 13 | 14) {
        return Err(Gs1Error::GtinLength {
            value: shown(gtin),
            length,
        });
    }
    if let Some((expected, found)) = check_digit_mismatch(gtin) {
        return Err(Gs1Error::GtinCheckDigit {
            value: gtin.to_owned(),
            expected,
            found,
        });
    }
    Ok(format!("{gtin:0>14}"))
}

/// `Some((expected, found))` when the last digit of the all-digit `digits` is not its check
/// digit; `None` when it is (or when there is nothing to check).
fn check_digit_mismatch(digits: &str) -> Option<(u8, u8)> {
    let split = digits.len().checked_sub(1)?;
    let (body, last) = (digits.get(..split)?, digits.get(split..)?);
    let found = u8::try_from(last.chars().next()?.to_digit(10)?).ok()?;
    let expected = check_digit(body)?;
    (expected != found).then_some((expected, found))
}

/// Parses one scan, as typed by a keyboard-wedge scanner or written in bracketed form, into lot
/// data. `today` anchors the GS1 century window for two-digit years. See the module
/// documentation for what is accepted and [`Gs1Error`] for what is not.
pub fn parse(scan: &str, today: NaiveDate) -> Result<Gs1Scan, Gs1Error> {
    // Work on (1-based position in the scan as received, character) pairs, so that every error
    // can point at the original text after invisible characters have been dropped.
    let chars: Vec<(usize, char)> = scan
        .chars()
        .enumerate()
        .map(|(i, c)| (i + 1, c))
        .filter(|&(_, c)| !is_invisible(c))
        .collect();
    let mut rest = trim_whitespace(&chars);

    if rest.first().map(|&(_, c)| c) == Some(']') {
        let identifier: String = rest.iter().take(3).map(|&(_, c)| c).collect();
        let payload = rest.get(3..).unwrap_or_default();
        match identifier.as_str() {
            "]C1" | "]d2" | "]Q3" | "]e0" => rest = payload,
            "]E0" | "]E4" => return parse_plain_gtin(trim_whitespace(payload)),
            _ => return Err(Gs1Error::UnsupportedSymbology { identifier }),
        }
    }
    // FNC1 in first position reaches us as a leading GS on some scanners (standards.md §1.3).
    while let Some((&(_, c), tail)) = rest.split_first() {
        if is_separator(c) || c.is_whitespace() {
            rest = tail;
        } else {
            break;
        }
    }

    let mut acc = Accumulator::default();
    match rest.first() {
        None => return Err(Gs1Error::Empty),
        Some(&(_, '(')) => parse_bracketed(rest, today, &mut acc)?,
        Some(_) => parse_element_string(rest, today, &mut acc)?,
    }
    acc.finish()
}

/// Reads `]E0` / `]E4` data: a bare EAN/UPC, which is a GTIN and nothing else.
fn parse_plain_gtin(payload: &[(usize, char)]) -> Result<Gs1Scan, Gs1Error> {
    if payload.is_empty() {
        return Err(Gs1Error::Empty);
    }
    let digits: String = payload.iter().map(|&(_, c)| c).collect();
    Ok(Gs1Scan {
        gtin: Some(normalize_gtin(&digits)?),
        ..Gs1Scan::default()
    })
}

/// Characters that scanners, cameras and copy-paste insert without meaning anything.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
    )
}

/// FNC1 as transmitted: GS, its visible symbol, or `#` (outside character set 82).
fn is_separator(c: char) -> bool {
    matches!(c, '\u{1d}' | '\u{241d}' | '#')
}

fn trim_whitespace(mut s: &[(usize, char)]) -> &[(usize, char)] {
    while let Some((&(_, c), tail)) = s.split_first() {
        if !c.is_whitespace() {
            break;
        }
        s = tail;
    }
    while let Some((&(_, c), head)) = s.split_last() {
        if !c.is_whitespace() {
            break;
        }
        s = head;
    }
    s
}

/// Position of index `i` of `s`, or just past the last character when `i` is at the end.
fn position_at(s: &[(usize, char)], i: usize) -> usize {
    match s.get(i) {
        Some(&(p, _)) => p,
        None => s.last().map_or(1, |&(p, _)| p + 1),
    }
}

/// Shortens a value for an error message, so that a megabyte of noise does not become a
/// megabyte of error text.
fn shown(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

fn text(s: &[(usize, char)]) -> String {
    s.iter().map(|&(_, c)| c).collect()
}

/// The known AI that `s` starts with (unbracketed), and its digits.
fn lookup_prefix(s: &[(usize, char)]) -> Option<(&'static AiSpec, String)> {
    AIS.iter().find_map(|spec| {
        let candidate = s.get(..spec.pattern.len())?;
        pattern_matches(spec.pattern, candidate.iter().map(|&(_, c)| c))
            .then(|| (spec, text(candidate)))
    })
}

/// Element-string form: AI, value, and a separator after every value whose length is not
/// predefined (unless it is the last).
fn parse_element_string(
    s: &[(usize, char)],
    today: NaiveDate,
    acc: &mut Accumulator,
) -> Result<(), Gs1Error> {
    let mut i = 0;
    while let Some(&(position, c)) = s.get(i) {
        // Redundant separators (after fixed-length values, doubled, trailing) carry no data.
        if is_separator(c) {
            i += 1;
            continue;
        }
        let Some((spec, ai)) = lookup_prefix(s.get(i..).unwrap_or_default()) else {
            let found = s.iter().skip(i).take(4).map(|&(_, c)| c).collect();
            return Err(Gs1Error::UnknownAi { found, position });
        };
        let start = i + ai.len();
        let limit = if is_predefined_length(&ai) {
            // The value ends after its fixed length, separator or not.
            spec.max
        } else {
            usize::MAX
        };
        let mut end = start;
        while let Some(&(_, c)) = s.get(end) {
            if is_separator(c) || end - start >= limit {
                break;
            }
            end += 1;
        }
        let value = s.get(start..end).unwrap_or_default();
        let value_position = position_at(s, start);
        let parsed = check_value(spec, &ai, value, value_position, today)?;
        let raw = text(value);
        let origin = Origin {
            ai,
            raw: &raw,
            position: value_position,
        };
        acc.record(spec.field, origin, parsed)?;
        i = end;
    }
    Ok(())
}

/// The length of a `(digits)` bracketed AI starting at `s[0] == '('`, if `s` starts with one of
/// 2 to 4 digits.
fn bracketed_ai(s: &[(usize, char)]) -> Option<(usize, String)> {
    let digits = s
        .iter()
        .skip(1)
        .take_while(|&&(_, c)| c.is_ascii_digit())
        .count();
    let close = s.get(digits + 1)?;
    ((2..=4).contains(&digits) && close.1 == ')')
        .then(|| (digits + 2, text(s.get(1..digits + 1).unwrap_or_default())))
}

/// Bracketed form: `(AI)value` repeated. A value ends at the next `(` followed by 2 to 4 digits
/// and `)`, at a separator or at the end, so a lot may contain brackets other than those.
fn parse_bracketed(
    s: &[(usize, char)],
    today: NaiveDate,
    acc: &mut Accumulator,
) -> Result<(), Gs1Error> {
    let mut i = 0;
    while let Some(&(position, c)) = s.get(i) {
        if is_separator(c) || c.is_whitespace() {
            i += 1;
            continue;
        }
        if c != '(' {
            return Err(Gs1Error::ExpectedBracket { found: c, position });
        }
        let here = s.get(i..).unwrap_or_default();
        let Some((ai_len, ai)) = bracketed_ai(here) else {
            let found = here.iter().skip(1).take(6).map(|&(_, c)| c).collect();
            return Err(Gs1Error::UnclosedBracket { found, position });
        };
        let Some(spec) = ai_spec(&ai) else {
            return Err(Gs1Error::UnknownAi {
                found: format!("({ai})"),
                position,
            });
        };
        let start = i + ai_len;
        let mut end = start;
        while let Some(&(_, c)) = s.get(end) {
            // Any `(` + 2-4 digits + `)` ends the value, known AI or not: an unknown AI then
            // gets its own error instead of silently becoming part of a lot.
            let opens_ai = c == '(' && bracketed_ai(s.get(end..).unwrap_or_default()).is_some();
            if opens_ai || is_separator(c) {
                break;
            }
            end += 1;
        }
        // People type spaces between elements; no GS1 value may end in whitespace.
        let value = trim_whitespace(s.get(start..end).unwrap_or_default());
        let value_position = position_at(s, start);
        let parsed = check_value(spec, &ai, value, value_position, today)?;
        let raw = text(value);
        let origin = Origin {
            ai,
            raw: &raw,
            position: value_position,
        };
        acc.record(spec.field, origin, parsed)?;
        i = end;
    }
    Ok(())
}

/// A value after its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Date(NaiveDate),
    Number(u64),
}

fn check_value(
    spec: &AiSpec,
    ai: &str,
    value: &[(usize, char)],
    position: usize,
    today: NaiveDate,
) -> Result<Value, Gs1Error> {
    let raw = text(value);
    let length = value.len();
    let ai = ai.to_owned();
    if length == 0 {
        return Err(Gs1Error::EmptyValue { ai, position });
    }
    if spec.min == spec.max && length != spec.max {
        return Err(Gs1Error::WrongLength {
            ai,
            value: shown(&raw),
            position,
            length,
            expected: spec.max,
        });
    }
    if length > spec.max {
        return Err(Gs1Error::TooLong {
            ai,
            value: shown(&raw),
            position,
            length,
            max: spec.max,
        });
    }
    if length < spec.min {
        return Err(Gs1Error::TooShort {
            ai,
            value: shown(&raw),
            position,
            length,
            min: spec.min,
        });
    }
    let digits_until = match spec.content {
        Digits | CheckedDigits | Date => length,
        DigitsThenCset82(n) => n,
        Cset82 => 0,
    };
    for (k, &(p, c)) in value.iter().enumerate() {
        if k < digits_until {
            if !c.is_ascii_digit() {
                return Err(Gs1Error::NotDigit {
                    ai,
                    value: shown(&raw),
                    found: c,
                    position: p,
                });
            }
        } else if !is_cset82(c) {
            return Err(Gs1Error::InvalidCharacter {
                ai,
                value: shown(&raw),
                found: c,
                position: p,
            });
        }
    }
    match spec.content {
        CheckedDigits => match check_digit_mismatch(&raw) {
            Some((expected, found)) => Err(Gs1Error::CheckDigit {
                ai,
                value: raw,
                expected,
                found,
                position,
            }),
            None => Ok(Value::Text(raw)),
        },
        Date => match resolve_date(&raw, today) {
            Ok(date) => Ok(Value::Date(date)),
            Err(reason) => Err(Gs1Error::InvalidDate {
                ai,
                value: raw,
                position,
                reason,
            }),
        },
        // Counts are at most 8 digits (AI 30, 37), so they always fit; other digit strings
        // may not, and stay text.
        Digits if spec.max <= 18 => Ok(raw.parse().map_or(Value::Text(raw), Value::Number)),
        Digits | Cset82 | DigitsThenCset82(_) => Ok(Value::Text(raw)),
    }
}

/// GS1 character set 82 (GS1 General Specifications, figure 7.11-1): the only characters an
/// alphanumeric value may hold. Space and `#` are not in it.
fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '!' | '"'
                | '%'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | '-'
                | '.'
                | '/'
                | ':'
                | ';'
                | '<'
                | '='
                | '>'
                | '?'
                | '_'
        )
}

/// Resolves a six-digit YYMMDD value. The century comes from the GS1 sliding window (GenSpecs
/// §7.12): the year lies between 49 years before and 50 years after `today`'s year. Day 00
/// means the last day of the month. `Err` holds why the value is not a date.
pub fn resolve_date(yymmdd: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let field = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = yymmdd.get(range)?;
        if part.chars().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(yy), Some(month), Some(day), 6) =
        (field(0..2), field(2..4), field(4..6), yymmdd.len())
    else {
        return Err("expected six digits YYMMDD".to_owned());
    };
    let this_year = today.year();
    let this_yy = this_year.rem_euclid(100);
    let century = this_year - this_yy;
    // `yy` < 100, so the cast is exact.
    let yy = yy as i32;
    // Odoo's reading of the window (standards.md §1.4): a difference of 51..99 is last century,
    // -99..-50 next century, anything else this century.
    let year = match yy - this_yy {
        51.. => century - 100 + yy,
        ..=-50 => century + 100 + yy,
        _ => century + yy,
    };
    if !(1..=12).contains(&month) {
        return Err(format!("month {month:02} does not exist"));
    }
    if day == 0 {
        return last_day_of_month(year, month)
            .ok_or_else(|| format!("year {year} is outside the supported range"));
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        if last_day_of_month(year, month).is_some() {
            format!("day {day:02} does not exist in {year}-{month:02}")
        } else {
            format!("year {year} is outside the supported range")
        }
    })
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    (28..=31)
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
}

/// One AI's value as first seen.
#[derive(Debug, Clone)]
struct Seen<T> {
    value: T,
    raw: String,
    position: usize,
}

/// Collects values while parsing, checking for duplicates that disagree.
#[derive(Debug, Default)]
struct Accumulator {
    gtin: Option<Seen<String>>,
    contained_gtin: Option<Seen<String>>,
    lot: Option<Seen<String>>,
    expiry: Option<Seen<NaiveDate>>,
    production: Option<Seen<NaiveDate>>,
    variable_count: Option<Seen<u64>>,
    contained_count: Option<Seen<u64>>,
    serial: Option<Seen<String>>,
    others: Vec<(String, Option<Seen<Value>>)>,
}

/// Where and how a value was written, for error messages.
struct Origin<'a> {
    ai: String,
    raw: &'a str,
    position: usize,
}

/// Fills `slot`, or checks that a repeated AI agrees with what it holds.
fn put<T: PartialEq>(slot: &mut Option<Seen<T>>, value: T, origin: Origin) -> Result<(), Gs1Error> {
    match slot {
        // Compare values, not text: 260200 and 260228 are the same expiry.
        Some(old) if old.value != value => Err(Gs1Error::Conflict {
            ai: origin.ai,
            first: shown(&old.raw),
            second: shown(origin.raw),
            position: origin.position,
        }),
        Some(_) => Ok(()),
        None => {
            *slot = Some(Seen {
                value,
                raw: origin.raw.to_owned(),
                position: origin.position,
            });
            Ok(())
        }
    }
}

impl Accumulator {
    fn record(&mut self, field: Field, origin: Origin, value: Value) -> Result<(), Gs1Error> {
        match (field, value) {
            (Field::Gtin, Value::Text(v)) => put(&mut self.gtin, v, origin),
            (Field::ContainedGtin, Value::Text(v)) => put(&mut self.contained_gtin, v, origin),
            (Field::Lot, Value::Text(v)) => put(&mut self.lot, v, origin),
            (Field::Serial, Value::Text(v)) => put(&mut self.serial, v, origin),
            (Field::Expiry, Value::Date(d)) => put(&mut self.expiry, d, origin),
            (Field::Production, Value::Date(d)) => put(&mut self.production, d, origin),
            (Field::VariableCount, Value::Number(n)) => put(&mut self.variable_count, n, origin),
            (Field::ContainedCount, Value::Number(n)) => put(&mut self.contained_count, n, origin),
            (_, value) => {
                // Ignored AIs (and, defensively, any table/type mismatch) are compared by value.
                let index = match self.others.iter().position(|(a, _)| *a == origin.ai) {
                    Some(index) => index,
                    None => {
                        self.others.push((origin.ai.clone(), None));
                        self.others.len() - 1
                    }
                };
                match self.others.get_mut(index) {
                    Some((_, slot)) => put(slot, value, origin),
                    None => Ok(()),
                }
            }
        }
    }

    fn finish(self) -> Result<Gs1Scan, Gs1Error> {
        let gtin = match (self.gtin, self.contained_gtin) {
            (Some(_), Some(contained)) => {
                return Err(Gs1Error::Incompatible {
                    ai: "02".to_owned(),
                    other: "01".to_owned(),
                    position: contained.position,
                    reason: "GS1 forbids (01) and (02) in one element string; (02) names the \
                             contents of a logistic unit whose own id is (00)"
                        .to_owned(),
                });
            }
            (gtin, contained) => gtin.or(contained).map(|g| g.value),
        };
        let count = match (self.variable_count, self.contained_count) {
            (Some(var), Some(contained)) if var.value != contained.value => {
                return Err(Gs1Error::Incompatible {
                    ai: "37".to_owned(),
                    other: "30".to_owned(),
                    position: contained.position,
                    reason: format!(
                        "they give different counts ({} and {})",
                        var.value, contained.value
                    ),
                });
            }
            (var, contained) => var.or(contained).map(|c| c.value),
        };
        let expiry = self.expiry.map(|e| e.value);
        let production = self.production.map(|p| p.value);
        if let (Some(expiry), Some(production)) = (expiry, production)
            && expiry < production
        {
            return Err(Gs1Error::ExpiryBeforeProduction { expiry, production });
        }
        Ok(Gs1Scan {
            gtin,
            lot: self.lot.map(|l| l.value),
            expiry,
            production,
            count,
            serial: self.serial.map(|s| s.value),
        })
    }
}

impl Gs1Scan {
    /// The scan as a GS1 element string with GS (0x1D) separators and no symbology identifier,
    /// in the order (01) (11) (17) (30) (21) (10): fixed-length elements first, so that only the
    /// variable ones need separators. Fields are written as they are: a value that breaks GS1
    /// rules (a lot of 21 characters, a count over 8 digits) gives a string that [`parse`]
    /// rejects. Dates are written with their real day, never day 00.
    pub fn to_element_string(&self) -> String {
        let mut out = String::new();
        let mut needs_separator = false;
        for (ai, value) in self.elements() {
            if needs_separator {
                out.push('\u{1d}');
            }
            out.push_str(ai);
            out.push_str(&value);
            needs_separator = !is_predefined_length(ai);
        }
        out
    }

    /// The scan in bracketed human-readable form, e.g. `(01)09506000134352(17)261231(10)ABC123`,
    /// in the same order as [`Gs1Scan::to_element_string`].
    pub fn to_bracketed(&self) -> String {
        self.elements()
            .into_iter()
            .map(|(ai, value)| format!("({ai}){value}"))
            .collect()
    }

    fn elements(&self) -> Vec<(&'static str, String)> {
        let yymmdd = |d: NaiveDate| {
            format!(
                "{:02}{:02}{:02}",
                d.year().rem_euclid(100),
                d.month(),
                d.day()
            )
        };
        let mut out = Vec::new();
        if let Some(gtin) = &self.gtin {
            out.push(("01", gtin.clone()));
        }
        if let Some(d) = self.production {
            out.push(("11", yymmdd(d)));
        }
        if let Some(d) = self.expiry {
            out.push(("17", yymmdd(d)));
        }
        if let Some(n) = self.count {
            out.push(("30", n.to_string()));
        }
        if let Some(serial) = &self.serial {
            out.push(("21", serial.clone()));
        }
        if let Some(lot) = &self.lot {
            out.push(("10", lot.clone()));
        }
        out
    }
}
