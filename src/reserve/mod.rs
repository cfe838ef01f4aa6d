//! Keeping the reserve network ready between emergencies (issue 20): replenishment
//! (refill every cell below its reserve level from the tier above), rotation (move or
//! issue stock before it expires) and readiness (how much of the network's reserve is
//! really there).
//!
//! The rules are the pure planners of `stockpile_core::reserve` (`crate::reserve_core`
//! here), which measure every cell by the shared `rules::level_stock`: usable stock
//! only. This module reads the network (`db`), builds their input (`cases`), validates
//! the caller's scope and limits (below) and serves them (`http`).
//!
//! - `POST /api/v1/replenishment/preview` and `POST /api/v1/replenishment` (admin; the
//!   second with `Idempotency-Key`) plan, and commit as ordinary in-transit transfers
//!   (one per source and destination, each with its audit event) in one transaction.
//! - `GET /api/v1/rotation?within_days=N` (1 ≤ N ≤ [`MAX_WITHIN_DAYS`]).
//! - `GET /api/v1/readiness` (JSON, or `?format=csv` for the table).

pub mod cases;
pub mod db;
pub mod http;

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::error::{AppError, FieldError};
use crate::reserve_core::{Scope, Tier};

/// The longest rotation window a caller may ask for, in days: a year covers every
/// rotation cycle of the catalogue's dated items and keeps the answer small.
pub const MAX_WITHIN_DAYS: i64 = 365;

/// The rotation window when the caller gives none, in days: the horizon the readiness
/// report and the issue's own figure use.
pub const DEFAULT_WITHIN_DAYS: i64 = 180;

/// The rotation window asked for, or why it cannot be used (named `within_days`).
pub fn within_days(asked: Option<i64>) -> Result<u32, AppError> {
    let n = asked.unwrap_or(DEFAULT_WITHIN_DAYS);
    if !(1..=MAX_WITHIN_DAYS).contains(&n) {
        return Err(AppError::invalid(
            "within_days",
            format!("within_days must be from 1 to {MAX_WITHIN_DAYS}; it is {n}"),
        ));
    }
    u32::try_from(n).map_err(|_| AppError::invalid("within_days", "out of range"))
}

/// A scope as the caller names it: warehouse codes, a tier, a district, SKUs. Empty or
/// missing parts do not narrow it.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    /// Warehouse codes.
    #[serde(default)]
    pub warehouses: Vec<String>,
    /// `regional_centre`, `city`, `district`, `community` or `agreement`.
    pub tier: Option<String>,
    /// A district that has at least one warehouse.
    pub district: Option<String>,
    /// SKUs.
    #[serde(default)]
    pub skus: Vec<String>,
}

/// What a scope may name: the network's warehouses (code → id), districts and SKUs.
pub struct Known<'a> {
    /// Warehouse codes and ids.
    pub warehouses: &'a [(String, uuid::Uuid)],
    /// Districts with a warehouse.
    pub districts: HashSet<&'a str>,
    /// SKUs of the catalogue.
    pub skus: HashSet<&'a str>,
}

impl ScopeBody {
    /// The planners' scope, or a 422 naming every unknown part (`/scope/...`).
    pub fn resolve(&self, known: &Known<'_>) -> Result<Scope, AppError> {
        let mut errors = Vec::new();
        let mut scope = Scope::default();
        for (i, code) in self.warehouses.iter().enumerate() {
            match known.warehouses.iter().find(|(c, _)| c == code) {
                Some((_, id)) => scope.warehouses.push(*id),
                None => errors.push(FieldError::new(
                    format!("/scope/warehouses/{i}"),
                    format!("no warehouse has the code `{code}`"),
                )),
            }
        }
        if let Some(tier) = &self.tier {
            match Tier::parse(tier) {
                Some(t) => scope.tiers.push(t),
                None => errors.push(FieldError::new(
                    "/scope/tier",
                    format!(
                        "unknown tier `{tier}`; expected regional_centre, city, district, \
                         community or agreement"
                    ),
                )),
            }
        }
        if let Some(district) = &self.district {
            if known.districts.contains(district.as_str()) {
                scope.districts.push(district.clone());
            } else {
                errors.push(FieldError::new(
                    "/scope/district",
                    format!("no warehouse is in the district `{district}`"),
                ));
            }
        }
        for (i, sku) in self.skus.iter().enumerate() {
            if known.skus.contains(sku.as_str()) {
                scope.skus.push(sku.clone());
            } else {
                errors.push(FieldError::new(
                    format!("/scope/skus/{i}"),
                    format!("no item has the SKU `{sku}`"),
                ));
            }
        }
        crate::error::validation(errors)?;
        Ok(scope)
    }
}

/// A short, stable digest of a plan's transfers (what a commit would write), so that a
/// commit can say whether it wrote what the preview showed.
pub fn fingerprint<T: serde::Serialize>(transfers: &T) -> String {
    let bytes = serde_json::to_vec(transfers).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..12])
}

#[cfg(test)]
mod tests;
