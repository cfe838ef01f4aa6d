//! Checks of a stock command's own fields, before any stored state is read: how many
//! lines, text that must not be blank or too long, and an explicit field that must agree
//! with what a scan carries. Each names the field at fault by its JSON pointer.
//!
//! Pure: no database, no clock.

use crate::error::{AppError, FieldError};

/// Most lines in one request.
pub const MAX_LINES: usize = 500;

/// The JSON pointer of `field` on line `i`.
pub fn line_ptr(i: usize, field: &str) -> String {
    format!("/lines/{i}/{field}")
}

/// Several field errors as one 422.
pub fn invalid_all(errors: Vec<FieldError>) -> AppError {
    let detail = match errors.as_slice() {
        [one] => one.detail.clone(),
        [first, ..] => format!(
            "{} fields are invalid; first, {}: {}",
            errors.len(),
            first.pointer,
            first.detail
        ),
        [] => "invalid request".to_owned(),
    };
    AppError::Validation { detail, errors }
}

/// At least one line and at most [`MAX_LINES`].
pub fn check_lines<T>(lines: &[T]) -> Result<(), AppError> {
    if lines.is_empty() {
        return Err(AppError::invalid("/lines", "give at least one line"));
    }
    if lines.len() > MAX_LINES {
        return Err(AppError::invalid(
            "/lines",
            format!("at most {MAX_LINES} lines per request"),
        ));
    }
    Ok(())
}

/// Pushes an error when `value` is missing but `required`, blank, or longer than `max`
/// characters.
pub fn check_text(
    errors: &mut Vec<FieldError>,
    pointer: String,
    value: Option<&str>,
    required: bool,
    max: usize,
) {
    match value {
        None if required => errors.push(FieldError::new(pointer, "required")),
        Some(v) if v.trim().is_empty() => {
            errors.push(FieldError::new(pointer, "must not be blank"));
        }
        Some(v) if v.chars().count() > max => {
            errors.push(FieldError::new(
                pointer,
                format!("at most {max} characters"),
            ));
        }
        _ => {}
    }
}

/// Merges an explicit field with the scan's value of AI `ai`; a disagreement is an error
/// on the explicit field, and gives neither.
pub fn agree<T: PartialEq + std::fmt::Display>(
    errors: &mut Vec<FieldError>,
    pointer: String,
    ai: &str,
    explicit: Option<T>,
    scanned: Option<T>,
) -> Option<T> {
    match (explicit, scanned) {
        (Some(e), Some(s)) if e != s => {
            errors.push(FieldError::new(
                pointer,
                format!("{e} disagrees with the scan, whose AI ({ai}) says {s}"),
            ));
            None
        }
        (e, s) => e.or(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_checked_for_presence_blankness_and_length() {
        let mut errors = Vec::new();
        check_text(&mut errors, "/a".into(), None, true, 3);
        check_text(&mut errors, "/b".into(), Some("  "), false, 3);
        check_text(&mut errors, "/c".into(), Some("abcd"), false, 3);
        check_text(&mut errors, "/d".into(), Some("abc"), true, 3);
        check_text(&mut errors, "/e".into(), None, false, 3);
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.pointer.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/a", "required"),
                ("/b", "must not be blank"),
                ("/c", "at most 3 characters")
            ]
        );
    }

    #[test]
    fn an_explicit_field_must_agree_with_the_scan() {
        let mut errors = Vec::new();
        assert_eq!(
            agree(&mut errors, "/x".into(), "10", Some(1), None),
            Some(1)
        );
        assert_eq!(
            agree(&mut errors, "/x".into(), "10", None, Some(2)),
            Some(2)
        );
        assert_eq!(
            agree(&mut errors, "/x".into(), "10", Some(3), Some(3)),
            Some(3)
        );
        assert!(errors.is_empty());
        assert_eq!(
            agree(&mut errors, "/x".into(), "10", Some(3), Some(4)),
            None
        );
        assert_eq!(
            errors[0].detail,
            "3 disagrees with the scan, whose AI (10) says 4"
        );
    }

    #[test]
    fn several_errors_are_one_422_that_names_the_first() {
        let e = invalid_all(vec![FieldError::new("/a", "x"), FieldError::new("/b", "y")]);
        assert_eq!(e.to_string(), "2 fields are invalid; first, /a: x");
        assert!(check_lines::<u8>(&[]).is_err());
        assert!(check_lines(&[0u8; MAX_LINES]).is_ok());
        assert!(check_lines(&[0u8; MAX_LINES + 1]).is_err());
    }
}
