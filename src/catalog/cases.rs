//! The item use cases, called by the HTTP handlers and by the items import: create,
//! update, retire and reactivate. Each runs in the caller's transaction: it checks the
//! draft with the pure rules ([`super::check_item`]), checks what only the database
//! knows (the category exists, no other item has a GTIN), writes, and records its audit
//! event; the caller commits. The `items_notify` and `item_gtins_notify` triggers tell
//! every process's item cache at commit.

use serde_json::json;
use sqlx::PgConnection;

use super::{Item, ItemDraft, ItemInput, ItemStatus, check_item, db};
use crate::audit::{self, Change, Origin};
use crate::auth::Actor;
use crate::error::{AppError, AppResult, FieldError};
use crate::ids::ItemId;
use crate::stock::fields::invalid_all;

/// A 404 for an unknown SKU.
fn no_item(sku: &str) -> AppError {
    AppError::not_found(format!("no item with SKU {sku}"))
}

/// Checks a draft's category and GTINs against the database: an unknown category is a
/// 422 naming `/category_code`; a GTIN of another item a 409 naming `/gtins/{i}`.
pub async fn check_stored(
    conn: &mut PgConnection,
    draft: &ItemDraft,
    except: Option<ItemId>,
) -> AppResult<()> {
    if !db::category_exists(conn, &draft.category_code).await? {
        return Err(AppError::invalid(
            "/category_code",
            format!(
                "unknown category `{}` (see GET /api/v1/categories)",
                draft.category_code
            ),
        ));
    }
    let taken = db::gtins_taken(conn, &draft.gtins, except).await?;
    if !taken.is_empty() {
        let errors: Vec<FieldError> = taken
            .iter()
            .filter_map(|(gtin, sku)| {
                let i = draft.gtins.iter().position(|g| g == gtin)?;
                Some(FieldError::new(
                    format!("/gtins/{i}"),
                    format!("GTIN {gtin} belongs to item {sku}"),
                ))
            })
            .collect();
        return Err(AppError::Conflict {
            detail: errors.first().map_or_else(
                || "a GTIN belongs to another item".into(),
                |e| e.detail.clone(),
            ),
            errors,
            extra: None,
        });
    }
    Ok(())
}

/// The item with this SKU, as stored.
async fn stored(conn: &mut PgConnection, sku: &str) -> AppResult<Item> {
    db::item_by_sku(conn, sku)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("item {sku} vanished")))
}

fn to_json(item: &Item) -> AppResult<serde_json::Value> {
    Ok(serde_json::to_value(item).map_err(anyhow::Error::from)?)
}

/// Creates an item from `input` and records `item.create`.
pub async fn create_item(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    input: &ItemInput,
) -> AppResult<Item> {
    let draft = check_item(input).map_err(invalid_all)?;
    check_stored(conn, &draft, None).await?;
    db::insert_item(conn, &draft).await?;
    let item = stored(conn, &draft.sku).await?;
    record(conn, actor, origin, "item.create", None, &item).await?;
    Ok(item)
}

/// A change to an item's fields: each present field replaces the stored value; `spec`,
/// `shelf_life_days` and `need_norm` may be set to null.
#[derive(Debug, Clone, Default)]
pub struct ItemPatch {
    /// The fields given (its `sku` must be absent).
    pub set: ItemInput,
    /// `spec` given as null.
    pub clear_spec: bool,
    /// `shelf_life_days` given as null: the item no longer expires.
    pub clear_shelf_life: bool,
    /// `need_norm` given as null.
    pub clear_need_norm: bool,
}

impl ItemPatch {
    /// `current` with this patch applied.
    pub fn apply(&self, current: &Item) -> ItemInput {
        let mut out = ItemInput::from(current);
        let s = self.set.clone();
        out.name_zh = s.name_zh.or(out.name_zh);
        out.name_en = s.name_en.or(out.name_en);
        out.category_code = s.category_code.or(out.category_code);
        out.unit_zh = s.unit_zh.or(out.unit_zh);
        out.unit_en = s.unit_en.or(out.unit_en);
        out.spec = if self.clear_spec {
            None
        } else {
            s.spec.or(out.spec)
        };
        out.gtins = s.gtins.or(out.gtins);
        out.shelf_life_days = if self.clear_shelf_life {
            None
        } else {
            s.shelf_life_days.or(out.shelf_life_days)
        };
        out.min_remaining_days = s.min_remaining_days.or(out.min_remaining_days);
        out.alert_days = s.alert_days.or(out.alert_days);
        out.storage_class = s.storage_class.or(out.storage_class);
        out.need_norm = if self.clear_need_norm {
            None
        } else {
            s.need_norm.or(out.need_norm)
        };
        out
    }
}

/// Changes the item with this SKU and records `item.update` (before and after). A new
/// shelf-life policy applies to receipts and plans from now on; lots keep their expiry.
pub async fn update_item(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    sku: &str,
    patch: &ItemPatch,
) -> AppResult<Item> {
    let id = db::lock_item(conn, sku)
        .await?
        .ok_or_else(|| no_item(sku))?;
    let before = stored(conn, sku).await?;
    let draft = check_item(&patch.apply(&before)).map_err(invalid_all)?;
    check_stored(conn, &draft, Some(id)).await?;
    db::update_item(conn, id, &draft).await?;
    let after = stored(conn, sku).await?;
    record(conn, actor, origin, "item.update", Some(&before), &after).await?;
    Ok(after)
}

/// Retires (`to` = retired) or reactivates (`to` = active) the item with this SKU and
/// records `item.retire` or `item.reactivate`; a 409 when it already has that status.
/// Locking the item's row waits for the receipts and requests of the item in flight
/// (their triggers hold a share lock on it until they commit), and those that come
/// later wait for this and then see the new status: none commits after a retirement.
pub async fn set_status(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    sku: &str,
    to: ItemStatus,
    reason: Option<&str>,
) -> AppResult<Item> {
    let id = db::lock_item(conn, sku)
        .await?
        .ok_or_else(|| no_item(sku))?;
    let before = stored(conn, sku).await?;
    if before.status == to {
        return Err(AppError::conflict(
            "/status",
            format!("item {sku} is already {}", to.as_str()),
            None,
        ));
    }
    db::set_item_status(conn, id, to).await?;
    let after = stored(conn, sku).await?;
    let action = match to {
        ItemStatus::Retired => "item.retire",
        ItemStatus::Active => "item.reactivate",
    };
    let mut after_json = to_json(&after)?;
    if let (Some(obj), Some(reason)) = (after_json.as_object_mut(), reason) {
        obj.insert("reason".into(), json!(reason));
    }
    audit::db::record(
        conn,
        actor,
        origin,
        Change {
            action,
            entity_kind: "item",
            entity_id: sku.to_owned(),
            before: Some(to_json(&before)?),
            after: Some(after_json),
        },
    )
    .await?;
    Ok(after)
}

async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    action: &'static str,
    before: Option<&Item>,
    after: &Item,
) -> AppResult<()> {
    audit::db::record(
        conn,
        actor,
        origin,
        Change {
            action,
            entity_kind: "item",
            entity_id: after.sku.clone(),
            before: before.map(to_json).transpose()?,
            after: Some(to_json(after)?),
        },
    )
    .await?;
    Ok(())
}
