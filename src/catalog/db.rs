//! SQL for the catalogue.

use serde_json::Value;
use sqlx::PgConnection;

use super::{Category, Item, ItemDraft, ItemStatus};
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
        r#"select i.id as "id: ItemId", i.sku, i.name_zh, i.name_en, i.category_code, i.unit_zh, i.unit_en,
                  i.spec, i.gtin,
                  array(select g.gtin from item_gtins g where g.item_id = i.id
                         order by g.gtin is distinct from i.gtin, g.gtin) as "gtins!",
                  i.status as "status: ItemStatus", i.shelf_life_days, i.min_remaining_days,
                  i.alert_days, i.storage_class, i.need_norm
             from items i
            where ($1::text is null or i.category_code = $1 or i.category_code like $1 || '-%')
              and ($2::text is null or i.sku > $2)
            order by i.sku
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
        r#"select i.id as "id: ItemId", i.sku, i.name_zh, i.name_en, i.category_code, i.unit_zh, i.unit_en,
                  i.spec, i.gtin,
                  array(select g.gtin from item_gtins g where g.item_id = i.id
                         order by g.gtin is distinct from i.gtin, g.gtin) as "gtins!",
                  i.status as "status: ItemStatus", i.shelf_life_days, i.min_remaining_days,
                  i.alert_days, i.storage_class, i.need_norm
             from items i where i.sku = $1"#,
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
        r#"select i.id as "id: ItemId", i.sku, i.name_zh, i.name_en, i.category_code, i.unit_zh, i.unit_en,
                  i.spec, i.gtin,
                  array(select g.gtin from item_gtins g where g.item_id = i.id
                         order by g.gtin is distinct from i.gtin, g.gtin) as "gtins!",
                  i.status as "status: ItemStatus", i.shelf_life_days, i.min_remaining_days,
                  i.alert_days, i.storage_class, i.need_norm
             from items i where i.id = (select item_id from item_gtins where gtin = $1)"#,
        gtin
    )
    .fetch_optional(conn)
    .await
}

/// Locks the item with this SKU (`for update`) and returns its id.
pub async fn lock_item(conn: &mut PgConnection, sku: &str) -> Result<Option<ItemId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id: ItemId" from items where sku = $1 for update"#,
        sku
    )
    .fetch_optional(conn)
    .await
}

/// Locks the items with these ids (`for update`, in id order: the order receipts'
/// retired-item checks lock them in, so an import changing many items cannot deadlock
/// with them).
pub async fn lock_items(conn: &mut PgConnection, ids: &[uuid::Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query_scalar!(
        "select id from items where id = any($1) order by id for update",
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(())
}

/// The GTINs among `gtins` that belong to an item other than `except`, with its SKU.
pub async fn gtins_taken(
    conn: &mut PgConnection,
    gtins: &[String],
    except: Option<ItemId>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select g.gtin, i.sku from item_gtins g join items i on i.id = g.item_id
          where g.gtin = any($1) and ($2::uuid is null or g.item_id <> $2)",
        gtins,
        except.map(|i| i.0)
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.gtin, r.sku)).collect())
}

/// Inserts an item (its GTINs with it, the primary first) and returns its id.
pub async fn insert_item(conn: &mut PgConnection, d: &ItemDraft) -> Result<ItemId, sqlx::Error> {
    let id = ItemId::new();
    sqlx::query!(
        "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, spec, gtin,
                            shelf_life_days, min_remaining_days, alert_days, storage_class, need_norm)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        id as ItemId,
        d.sku,
        d.name_zh,
        d.name_en,
        d.category_code,
        d.unit_zh,
        d.unit_en,
        d.spec,
        d.primary_gtin(),
        d.shelf_life_days,
        d.min_remaining_days,
        d.alert_days,
        d.storage_class,
        d.need_norm.as_ref().map(|n| serde_json::json!(n)),
    )
    .execute(&mut *conn)
    .await?;
    set_gtins(conn, id, &d.gtins).await?;
    Ok(id)
}

/// Replaces item `id`'s fields (not its SKU) and GTINs with the draft's.
pub async fn update_item(
    conn: &mut PgConnection,
    id: ItemId,
    d: &ItemDraft,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update items set name_zh = $2, name_en = $3, category_code = $4, unit_zh = $5, unit_en = $6,
                          spec = $7, gtin = $8, shelf_life_days = $9, min_remaining_days = $10,
                          alert_days = $11, storage_class = $12, need_norm = $13, updated_at = now()
          where id = $1",
        id as ItemId,
        d.name_zh,
        d.name_en,
        d.category_code,
        d.unit_zh,
        d.unit_en,
        d.spec,
        d.primary_gtin(),
        d.shelf_life_days,
        d.min_remaining_days,
        d.alert_days,
        d.storage_class,
        d.need_norm.as_ref().map(|n| serde_json::json!(n)),
    )
    .execute(&mut *conn)
    .await?;
    set_gtins(conn, id, &d.gtins).await
}

/// Makes `gtins` exactly the GTINs of item `id` (after `items.gtin` was set to the first:
/// the `items_primary_gtin` trigger has added that one already).
async fn set_gtins(
    conn: &mut PgConnection,
    id: ItemId,
    gtins: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with gone as (delete from item_gtins where item_id = $1 and gtin <> all($2))
         insert into item_gtins (gtin, item_id)
         select g, $1 from unnest($2::text[]) as g
          where not exists (select from item_gtins x where x.gtin = g and x.item_id = $1)",
        id as ItemId,
        gtins
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets an item's status.
pub async fn set_item_status(
    conn: &mut PgConnection,
    id: ItemId,
    status: ItemStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update items set status = $2, updated_at = now() where id = $1",
        id as ItemId,
        status.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
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
