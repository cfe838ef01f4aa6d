//! SQL for the catalogue.

use serde_json::Value;
use sqlx::PgConnection;

use super::{Category, Item};
use crate::ids::ItemId;

/// Items after `after_sku`, optionally within a category (and its sub-categories).
pub async fn list_items(
    conn: &mut PgConnection,
    category: Option<&str>,
    after_sku: Option<&str>,
    limit: i64,
) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as!(
        Item,
        r#"select id as "id: ItemId", sku, name_zh, name_en, category_code, unit_zh, unit_en, spec, gtin,
                  shelf_life_days, min_remaining_days, alert_days, storage_class, need_norm
             from items
            where ($1::text is null or category_code = $1 or category_code like $1 || '-%')
              and ($2::text is null or sku > $2)
            order by sku
            limit $3"#,
        category,
        after_sku,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One item by SKU.
pub async fn item_by_sku(conn: &mut PgConnection, sku: &str) -> Result<Option<Item>, sqlx::Error> {
    sqlx::query_as!(
        Item,
        r#"select id as "id: ItemId", sku, name_zh, name_en, category_code, unit_zh, unit_en, spec, gtin,
                  shelf_life_days, min_remaining_days, alert_days, storage_class, need_norm
             from items where sku = $1"#,
        sku
    )
    .fetch_optional(conn)
    .await
}

/// One item by GTIN-14.
pub async fn item_by_gtin(
    conn: &mut PgConnection,
    gtin: &str,
) -> Result<Option<Item>, sqlx::Error> {
    sqlx::query_as!(
        Item,
        r#"select id as "id: ItemId", sku, name_zh, name_en, category_code, unit_zh, unit_en, spec, gtin,
                  shelf_life_days, min_remaining_days, alert_days, storage_class, need_norm
             from items where gtin = $1"#,
        gtin
    )
    .fetch_optional(conn)
    .await
}

/// Every category.
pub async fn list_categories(conn: &mut PgConnection) -> Result<Vec<Category>, sqlx::Error> {
    sqlx::query_as!(
        Category,
        "select code, parent_code, name_zh, name_en from categories order by code"
    )
    .fetch_all(conn)
    .await
}

/// Whether a category exists.
pub async fn category_exists(conn: &mut PgConnection, code: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from categories where code = $1) as "e!""#,
        code
    )
    .fetch_one(conn)
    .await
}

/// An item with a per-person need norm.
#[derive(Debug, Clone)]
pub struct NormedItem {
    /// SKU.
    pub sku: String,
    /// English name.
    pub name_en: String,
    /// English unit.
    pub unit_en: String,
    /// The norm, as stored (a `NeedNorm`).
    pub need_norm: Option<Value>,
}

/// Items that have a need norm, by SKU.
pub async fn items_with_norms(conn: &mut PgConnection) -> Result<Vec<NormedItem>, sqlx::Error> {
    sqlx::query_as!(
        NormedItem,
        "select sku, name_en, unit_en, need_norm from items where need_norm is not null order by sku"
    )
    .fetch_all(conn)
    .await
}
