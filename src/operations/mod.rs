//! Operations: the incidents of one emergency ("Typhoon Saola 2023, Jiangmen"), grouped
//! so that a rationing round can share scarce stock across them by one published rule
//! instead of first come, first served.
//!
//! Invariants: a name is 1–200 characters after trimming; a note at most 2,000; only an
//! open operation takes incidents (`incidents::cases` checks it under a share lock, so an
//! operation is not closed while an incident joins it).

pub mod cases;
pub mod db;
pub mod http;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Whether an operation still takes incidents.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum OperationStatus {
    /// Running.
    Open,
    /// Over.
    Closed,
}

impl OperationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Open => "open",
            OperationStatus::Closed => "closed",
        }
    }
}

/// Checks an operation's name (1–200 characters after trimming), on `/name`.
pub fn check_name(name: &str) -> Result<(), AppError> {
    match name.trim().chars().count() {
        1..=200 => Ok(()),
        n => Err(AppError::invalid(
            "/name",
            format!("name must be 1 to 200 characters; it is {n}"),
        )),
    }
}

/// Checks a note (at most 2,000 characters), on `/note`.
pub fn check_note(note: Option<&str>) -> Result<(), AppError> {
    match note.map(|n| n.chars().count()) {
        Some(n) if n > 2000 => Err(AppError::invalid(
            "/note",
            format!("note must be at most 2000 characters; it is {n}"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_notes_have_limits() {
        assert!(check_name("Typhoon Saola 2023, Jiangmen").is_ok());
        assert!(check_name("   ").is_err());
        assert!(check_name(&"台".repeat(200)).is_ok());
        assert!(check_name(&"台".repeat(201)).is_err());
        assert!(check_note(None).is_ok());
        assert!(check_note(Some(&"x".repeat(2000))).is_ok());
        assert!(check_note(Some(&"x".repeat(2001))).is_err());
    }
}
