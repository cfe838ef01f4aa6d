//! The catalogue of emergency supplies (GB/T 38565-2020 classes), with each item's
//! Chinese counting unit, GTIN and shelf-life policy.
//!
//! Invariants: SKUs and GTINs are unique across items (an item may have several GTINs,
//! all GTIN-14 with a valid GS1 check digit; its first is `items.gtin`); a SKU never
//! changes; an item with no shelf life never expires; a retired item is neither received
//! nor requested, but its stock stays and can still be issued, transferred and written
//! off. Changing an item's shelf-life policy never rewrites a lot's expiry: lots keep
//! the date they were received with.
//!
//! This file holds the types and the pure rules of an item draft ([`check_item`]);
//! `cases` the use cases (create, update, retire, reactivate), `db` the SQL and `http`
//! the handlers.

pub mod cases;
pub mod db;
pub mod http;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;
use crate::ids::ItemId;

/// How much of an item a population needs, from Sphere planning figures:
/// `ceil(population / per_persons × qty × days / per_days)`, or without the day factor
/// when `per_days` is absent (one-off needs such as tents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NeedNorm {
    /// Units per `per_persons` people.
    pub qty: i64,
    /// The group size the quantity is for.
    pub per_persons: i64,
    /// The period the quantity covers, in days; absent for one-off needs.
    pub per_days: Option<i64>,
    /// The planning figure this comes from.
    pub basis: String,
}

impl NeedNorm {
    /// Units needed for `population` people over `days` days, rounded up; `None` on
    /// overflow or a degenerate norm.
    pub fn units_for(&self, population: i64, days: i64) -> Option<i64> {
        if self.per_persons <= 0 || self.qty < 0 || population < 0 || days < 0 {
            return None;
        }
        let (num, den) = match self.per_days {
            Some(per_days) if per_days > 0 => (
                (population as i128) * (self.qty as i128) * (days as i128),
                (self.per_persons as i128) * (per_days as i128),
            ),
            Some(_) => return None,
            None => (
                (population as i128) * (self.qty as i128),
                self.per_persons as i128,
            ),
        };
        i64::try_from((num + den - 1) / den).ok()
    }
}

/// A catalogue item.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Item {
    /// Item id.
    pub id: ItemId,
    /// Stock-keeping unit, e.g. `TENT-12M2-SGL`.
    pub sku: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// GB/T 38565-2020 category code.
    pub category_code: String,
    /// Chinese counting unit (顶, 床, 件, 箱 …).
    pub unit_zh: String,
    /// English unit.
    pub unit_en: String,
    /// Specification.
    pub spec: Option<String>,
    /// The primary GTIN-14 (the first of `gtins`).
    pub gtin: Option<String>,
    /// Every GTIN-14 of the item, the primary first.
    pub gtins: Vec<String>,
    /// `active`, or `retired` (neither received nor requested any more).
    #[schema(value_type = String)]
    pub status: ItemStatus,
    /// Shelf life in days; absent when the item does not expire.
    pub shelf_life_days: Option<i32>,
    /// Minimum remaining shelf life at dispatch, in days.
    pub min_remaining_days: i32,
    /// Expiry alert window, in days.
    pub alert_days: i32,
    /// `ambient`, `cool` (2–8 °C) or `frozen`.
    pub storage_class: String,
    /// Sphere-derived planning norm.
    #[schema(value_type = Option<NeedNorm>)]
    pub need_norm: Option<serde_json::Value>,
}

/// Whether an item is still received and requested. Stored as text (`items_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ItemStatus {
    /// In the catalogue.
    Active,
    /// No longer received or requested; its stock stays.
    Retired,
}

impl ItemStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Active => "active",
            ItemStatus::Retired => "retired",
        }
    }
}

/// The storage classes (`items_storage_class`).
pub const STORAGE_CLASSES: [&str; 3] = ["ambient", "cool", "frozen"];
/// Most GTINs one item may carry.
pub const MAX_GTINS: usize = 20;

/// An item's fields as given (a create request, a patch applied to the stored item, or
/// an import row), not yet checked. Absent means "not given".
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// Stock-keeping unit: 2–40 of `A-Z 0-9 -`, starting with a letter or digit. Never changes.
    pub sku: Option<String>,
    /// Chinese name.
    pub name_zh: Option<String>,
    /// English name.
    pub name_en: Option<String>,
    /// GB/T 38565-2020 category code (see `GET /api/v1/categories`).
    pub category_code: Option<String>,
    /// Chinese counting unit (顶, 床, 件, 箱 …).
    pub unit_zh: Option<String>,
    /// English unit.
    pub unit_en: Option<String>,
    /// Specification.
    pub spec: Option<String>,
    /// GTIN-8, -12, -13 or -14, each with a valid check digit, stored as GTIN-14; the
    /// first is the primary. Unique across items.
    pub gtins: Option<Vec<String>>,
    /// Shelf life in days (> 0); absent or null when the item does not expire.
    pub shelf_life_days: Option<i64>,
    /// Minimum remaining shelf life on receipt and at dispatch, in days (default 0).
    pub min_remaining_days: Option<i64>,
    /// Expiry alert window, in days (default 0).
    pub alert_days: Option<i64>,
    /// `ambient` (default), `cool` (2–8 °C) or `frozen`.
    pub storage_class: Option<String>,
    /// Sphere-derived planning norm.
    pub need_norm: Option<NeedNorm>,
}

/// A checked item: what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemDraft {
    /// SKU.
    pub sku: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Category code (its existence is checked against the database).
    pub category_code: String,
    /// Chinese unit.
    pub unit_zh: String,
    /// English unit.
    pub unit_en: String,
    /// Specification.
    pub spec: Option<String>,
    /// GTIN-14s, the primary first, without repeats.
    pub gtins: Vec<String>,
    /// Shelf life.
    pub shelf_life_days: Option<i32>,
    /// Minimum remaining days.
    pub min_remaining_days: i32,
    /// Alert window.
    pub alert_days: i32,
    /// Storage class.
    pub storage_class: String,
    /// Need norm.
    pub need_norm: Option<NeedNorm>,
}

impl ItemDraft {
    /// The primary GTIN.
    pub fn primary_gtin(&self) -> Option<&str> {
        self.gtins.first().map(String::as_str)
    }
}

impl From<&Item> for ItemInput {
    fn from(i: &Item) -> Self {
        ItemInput {
            sku: Some(i.sku.clone()),
            name_zh: Some(i.name_zh.clone()),
            name_en: Some(i.name_en.clone()),
            category_code: Some(i.category_code.clone()),
            unit_zh: Some(i.unit_zh.clone()),
            unit_en: Some(i.unit_en.clone()),
            spec: i.spec.clone(),
            gtins: Some(i.gtins.clone()),
            shelf_life_days: i.shelf_life_days.map(i64::from),
            min_remaining_days: Some(i64::from(i.min_remaining_days)),
            alert_days: Some(i64::from(i.alert_days)),
            storage_class: Some(i.storage_class.clone()),
            need_norm: i
                .need_norm
                .clone()
                .and_then(|v| serde_json::from_value(v).ok()),
        }
    }
}

/// Whether `sku` is a well-formed SKU (`items_sku_format`).
pub fn sku_is_valid(sku: &str) -> bool {
    let b = sku.as_bytes();
    (2..=40).contains(&b.len())
        && (b[0].is_ascii_uppercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
}

/// Pushes an error naming `/{field}` when `v` is missing, blank or longer than `max`.
fn text(errors: &mut Vec<FieldError>, field: &str, v: &Option<String>, max: usize) -> String {
    match v.as_deref().map(str::trim) {
        None => errors.push(FieldError::new(format!("/{field}"), "required")),
        Some("") => errors.push(FieldError::new(format!("/{field}"), "must not be blank")),
        Some(t) if t.chars().count() > max => errors.push(FieldError::new(
            format!("/{field}"),
            format!("at most {max} characters"),
        )),
        Some(t) => return t.to_owned(),
    }
    String::new()
}

/// A count of days: from 0 (or 1 when `positive`) up to 36,500.
fn days(errors: &mut Vec<FieldError>, field: &str, v: i64, positive: bool) -> i32 {
    let ptr = format!("/{field}");
    if v < 0 {
        errors.push(FieldError::new(
            ptr,
            format!("must not be negative (got {v})"),
        ));
    } else if positive && v == 0 {
        errors.push(FieldError::new(
            ptr,
            "must be at least 1; leave it out (null) for an item that does not expire",
        ));
    } else if v > 36_500 {
        errors.push(FieldError::new(ptr, "at most 36500 days (100 years)"));
    } else {
        return v as i32;
    }
    0
}

/// Checks an item's fields, all at once: every problem is one error naming its field by
/// JSON pointer (`/gtins/1`). Whether the category exists and whether a GTIN or SKU is
/// taken are for the database to say (`cases`).
pub fn check_item(input: &ItemInput) -> Result<ItemDraft, Vec<FieldError>> {
    let mut errors = Vec::new();
    let sku = text(&mut errors, "sku", &input.sku, 40);
    if !sku.is_empty() && !sku_is_valid(&sku) {
        errors.push(FieldError::new(
            "/sku",
            "2–40 characters of A–Z, 0–9 and `-`, starting with a letter or digit",
        ));
    }
    let name_zh = text(&mut errors, "name_zh", &input.name_zh, 200);
    let name_en = text(&mut errors, "name_en", &input.name_en, 200);
    let category_code = text(&mut errors, "category_code", &input.category_code, 40);
    let unit_zh = text(&mut errors, "unit_zh", &input.unit_zh, 20);
    let unit_en = text(&mut errors, "unit_en", &input.unit_en, 40);
    let spec = match input.spec.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if s.chars().count() > 500 => {
            errors.push(FieldError::new("/spec", "at most 500 characters"));
            None
        }
        Some(s) => Some(s.to_owned()),
    };
    let mut gtins: Vec<String> = Vec::new();
    let given = input.gtins.as_deref().unwrap_or_default();
    if given.len() > MAX_GTINS {
        errors.push(FieldError::new(
            "/gtins",
            format!("at most {MAX_GTINS} GTINs per item"),
        ));
    }
    for (i, g) in given.iter().enumerate() {
        match crate::gs1::normalize_gtin(g.trim()) {
            Ok(g14) if gtins.contains(&g14) => errors.push(FieldError::new(
                format!("/gtins/{i}"),
                format!("GTIN {g14} is listed twice"),
            )),
            Ok(g14) => gtins.push(g14),
            Err(e) => errors.push(FieldError::new(format!("/gtins/{i}"), e.to_string())),
        }
    }
    let shelf_life_days = input
        .shelf_life_days
        .map(|d| days(&mut errors, "shelf_life_days", d, true));
    let min_remaining_days = days(
        &mut errors,
        "min_remaining_days",
        input.min_remaining_days.unwrap_or(0),
        false,
    );
    let alert_days = days(
        &mut errors,
        "alert_days",
        input.alert_days.unwrap_or(0),
        false,
    );
    if let Some(life) = shelf_life_days
        && life > 0
        && min_remaining_days > life
    {
        errors.push(FieldError::new(
            "/min_remaining_days",
            format!(
                "{min_remaining_days} days left on receipt is more than the whole shelf life \
                 ({life} days): no lot could ever be received"
            ),
        ));
    }
    let storage_class = input
        .storage_class
        .as_deref()
        .map(str::trim)
        .unwrap_or("ambient")
        .to_owned();
    if !STORAGE_CLASSES.contains(&storage_class.as_str()) {
        errors.push(FieldError::new(
            "/storage_class",
            format!("`{storage_class}`: expected ambient, cool or frozen"),
        ));
    }
    if let Some(n) = &input.need_norm
        && (n.qty < 0 || n.per_persons <= 0 || n.per_days.is_some_and(|d| d <= 0))
    {
        errors.push(FieldError::new(
            "/need_norm",
            "qty must not be negative, per_persons must be at least 1, per_days at least 1 when given",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ItemDraft {
        sku,
        name_zh,
        name_en,
        category_code,
        unit_zh,
        unit_en,
        spec,
        gtins,
        shelf_life_days,
        min_remaining_days,
        alert_days,
        storage_class,
        need_norm: input.need_norm.clone(),
    })
}

/// A GB/T 38565-2020 category.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Category {
    /// Category code.
    pub code: String,
    /// Parent category code.
    pub parent_code: Option<String>,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tent() -> ItemInput {
        ItemInput {
            sku: Some("TENT-X".into()),
            name_zh: Some("帐篷".into()),
            name_en: Some("Tent".into()),
            category_code: Some("1-01".into()),
            unit_zh: Some("顶".into()),
            unit_en: Some("tent".into()),
            ..ItemInput::default()
        }
    }

    #[test]
    fn a_good_item_is_checked_into_a_draft_with_gtin_14s_and_defaults() {
        let mut input = tent();
        input.gtins = Some(vec!["6975301011120".into(), "06975301011212".into()]);
        let draft = check_item(&input).expect("valid");
        assert_eq!(draft.gtins, vec!["06975301011120", "06975301011212"]);
        assert_eq!(draft.primary_gtin(), Some("06975301011120"));
        assert_eq!((draft.min_remaining_days, draft.alert_days), (0, 0));
        assert_eq!(draft.storage_class, "ambient");
        assert_eq!(draft.shelf_life_days, None);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let input = ItemInput {
            sku: Some("tent x".into()),
            name_zh: Some(" ".into()),
            gtins: Some(vec![
                "06975301011121".into(),
                "6975301011120".into(),
                "06975301011120".into(),
            ]),
            shelf_life_days: Some(-5),
            min_remaining_days: Some(-1),
            storage_class: Some("warm".into()),
            ..ItemInput::default()
        };
        let errors = check_item(&input).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for p in [
            "/sku",
            "/name_zh",
            "/name_en",
            "/category_code",
            "/unit_zh",
            "/unit_en",
            "/gtins/0",
            "/gtins/2",
            "/shelf_life_days",
            "/min_remaining_days",
            "/storage_class",
        ] {
            assert!(pointers.contains(&p), "{p} not named: {pointers:?}");
        }
        assert!(!pointers.contains(&"/gtins/1"), "{pointers:?}");
    }

    #[test]
    fn more_days_left_on_receipt_than_the_shelf_life_is_refused() {
        let mut input = tent();
        input.shelf_life_days = Some(30);
        input.min_remaining_days = Some(60);
        let errors = check_item(&input).expect_err("invalid");
        assert_eq!(errors[0].pointer, "/min_remaining_days");
    }

    #[test]
    fn need_norms_round_up_and_scale_with_days() {
        let water = NeedNorm {
            qty: 3,
            per_persons: 1,
            per_days: Some(1),
            basis: String::new(),
        };
        assert_eq!(water.units_for(10_000, 3), Some(90_000));
        let tent = NeedNorm {
            qty: 10,
            per_persons: 34,
            per_days: None,
            basis: String::new(),
        };
        // 10,000 people at 3.4 per tent: 2,941.2 → 2,942 tents
        assert_eq!(tent.units_for(10_000, 3), Some(2_942));
        let broken = NeedNorm {
            qty: 1,
            per_persons: 0,
            per_days: None,
            basis: String::new(),
        };
        assert_eq!(broken.units_for(10, 1), None);
    }
}
