//! Loads the GBA demo data from `seed/` into an empty database: categories, items,
//! warehouses, lots (with their opening ledger rows) and reserve levels.
//!
//! Loading is deterministic: lot expiry and receipt dates in `seed/lots.csv` are offsets
//! from the load day, so the demo always shows a realistic mix of expired, expiring and
//! fresh stock, and the same day gives the same data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{Days, NaiveDate};
use serde::Deserialize;
use sqlx::PgPool;

use crate::audit::Origin;
use crate::auth::Actor;
use crate::ids::{ItemId, LotId, SYSTEM_USER, UserId, WarehouseId};

/// The seed folder of this checkout, used unless `--seed-dir` says otherwise.
pub fn default_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seed")
}

#[derive(Debug, Deserialize)]
struct SeedCategory {
    code: String,
    parent: Option<String>,
    name_zh: String,
    name_en: String,
}

#[derive(Debug, Deserialize)]
struct SeedItem {
    sku: String,
    name_zh: String,
    name_en: String,
    category_code: String,
    unit_zh: String,
    unit_en: String,
    spec: Option<String>,
    gtin: Option<String>,
    shelf_life_days: Option<i32>,
    min_remaining_days: i32,
    alert_days: i32,
    storage_class: String,
    need_norm: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct SeedWarehouse {
    code: String,
    name_zh: String,
    name_en: String,
    lat: f64,
    lon: f64,
    city: String,
    district: Option<String>,
    tier: String,
    handling_minutes: i32,
    /// The warehouse that resupplies it first (by code).
    parent: Option<String>,
}

/// What a load put in.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SeedReport {
    /// Categories loaded.
    pub categories: usize,
    /// Items loaded.
    pub items: usize,
    /// Warehouses loaded.
    pub warehouses: usize,
    /// Lots loaded.
    pub lots: usize,
    /// Reserve levels loaded.
    pub reserve_levels: usize,
}

/// Loads the demo data unless the catalogue already holds items. Returns `None` when it
/// skipped. `today` anchors the relative dates of the lots.
pub async fn load_if_empty(
    pool: &PgPool,
    dir: &Path,
    today: NaiveDate,
) -> anyhow::Result<Option<SeedReport>> {
    let existing: i64 = sqlx::query_scalar!(r#"select count(*) as "n!" from items"#)
        .fetch_one(pool)
        .await?;
    if existing > 0 {
        return Ok(None);
    }
    load(pool, dir, today).await.map(Some)
}

fn read(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read seed file {}", path.display()))
}

fn offset(today: NaiveDate, days: i64) -> anyhow::Result<NaiveDate> {
    let d = if days >= 0 {
        today.checked_add_days(Days::new(days as u64))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    d.context("seed date offset out of range")
}

/// Loads the demo data in one transaction.
pub async fn load(pool: &PgPool, dir: &Path, today: NaiveDate) -> anyhow::Result<SeedReport> {
    let categories: Vec<SeedCategory> =
        serde_json::from_str(&read(dir, "categories.json")?).context("seed/categories.json")?;
    let items: Vec<SeedItem> =
        serde_json::from_str(&read(dir, "items.json")?).context("seed/items.json")?;
    let warehouses: Vec<SeedWarehouse> =
        serde_json::from_str(&read(dir, "warehouses.json")?).context("seed/warehouses.json")?;
    let lots_csv = read(dir, "lots.csv")?;
    let levels_csv = read(dir, "reserve_levels.csv").unwrap_or_default();

    let mut tx = pool.begin().await?;
    let mut report = SeedReport::default();

    // Parents first, so the self-reference holds at every insert.
    let mut ordered: Vec<&SeedCategory> = categories.iter().collect();
    ordered.sort_by_key(|c| (c.parent.is_some(), c.code.clone()));
    for c in ordered {
        sqlx::query!(
            "insert into categories (code, parent_code, name_zh, name_en) values ($1, $2, $3, $4)",
            c.code,
            c.parent,
            c.name_zh,
            c.name_en
        )
        .execute(&mut *tx)
        .await
        .with_context(|| format!("category {}", c.code))?;
        report.categories += 1;
    }

    let mut item_ids: HashMap<&str, ItemId> = HashMap::new();
    for it in &items {
        let id = ItemId::new();
        if let Some(gtin) = &it.gtin
            && !crate::gs1::gtin_is_valid(gtin)
        {
            bail!("item {}: GTIN {gtin} has a wrong check digit", it.sku);
        }
        sqlx::query!(
            "insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en, spec, gtin,
                                shelf_life_days, min_remaining_days, alert_days, storage_class, need_norm)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            id as ItemId,
            it.sku,
            it.name_zh,
            it.name_en,
            it.category_code,
            it.unit_zh,
            it.unit_en,
            it.spec,
            it.gtin.as_deref().map(|g| format!("{g:0>14}")),
            it.shelf_life_days,
            it.min_remaining_days,
            it.alert_days,
            it.storage_class,
            it.need_norm
        )
        .execute(&mut *tx)
        .await
        .with_context(|| format!("item {}", it.sku))?;
        item_ids.insert(&it.sku, id);
        report.items += 1;
    }

    let mut warehouse_ids: HashMap<&str, WarehouseId> = HashMap::new();
    for w in &warehouses {
        let id = WarehouseId::new();
        sqlx::query!(
            "insert into warehouses (id, code, name_zh, name_en, lat, lon, city, district, tier, handling_minutes)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            id as WarehouseId,
            w.code,
            w.name_zh,
            w.name_en,
            w.lat,
            w.lon,
            w.city,
            w.district,
            w.tier,
            w.handling_minutes
        )
        .execute(&mut *tx)
        .await
        .with_context(|| format!("warehouse {}", w.code))?;
        warehouse_ids.insert(&w.code, id);
        report.warehouses += 1;
    }
    for w in &warehouses {
        let Some(parent) = &w.parent else { continue };
        let (Some(id), Some(parent_id)) = (
            warehouse_ids.get(w.code.as_str()),
            warehouse_ids.get(parent.as_str()),
        ) else {
            bail!(
                "seed/warehouses.json: {} has an unknown parent {parent}",
                w.code
            );
        };
        sqlx::query!(
            "update warehouses set parent_id = $2 where id = $1",
            *id as WarehouseId,
            *parent_id as WarehouseId
        )
        .execute(&mut *tx)
        .await
        .with_context(|| format!("parent of warehouse {}", w.code))?;
    }

    // Lots go in as arrays in one statement each: thousands of single inserts would make
    // `serve --demo` slow for no gain.
    let mut lot_ids = Vec::new();
    let mut lot_items = Vec::new();
    let mut lot_warehouses = Vec::new();
    let mut lot_codes = Vec::new();
    let mut lot_expiry: Vec<Option<NaiveDate>> = Vec::new();
    let mut lot_status = Vec::new();
    let mut lot_received = Vec::new();
    let mut lot_source = Vec::new();
    let mut lot_donor: Vec<Option<String>> = Vec::new();
    let mut lot_qty = Vec::new();
    for (n, line) in lots_csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [
            wh,
            sku,
            lot_code,
            expires_in,
            received_ago,
            qty,
            status,
            source,
        ] = f[..]
        else {
            bail!("seed/lots.csv line {}: expected 8 fields", n + 1);
        };
        let warehouse = *warehouse_ids
            .get(wh)
            .with_context(|| format!("seed/lots.csv line {}: unknown warehouse {wh}", n + 1))?;
        let item = *item_ids
            .get(sku)
            .with_context(|| format!("seed/lots.csv line {}: unknown SKU {sku}", n + 1))?;
        let expires_on = if expires_in.is_empty() {
            None
        } else {
            Some(offset(today, expires_in.parse()?)?)
        };
        let received_on = offset(today, -received_ago.parse::<i64>()?)?;
        let qty: i64 = qty
            .parse()
            .with_context(|| format!("seed/lots.csv line {}: qty", n + 1))?;
        let (kind, donor) = match source.split_once(':') {
            Some((k, d)) => (k.to_owned(), Some(d.to_owned())),
            None => (source.to_owned(), None),
        };
        lot_ids.push(LotId::new().0);
        lot_items.push(item.0);
        lot_warehouses.push(warehouse.0);
        lot_codes.push(lot_code.to_owned());
        lot_expiry.push(expires_on);
        lot_status.push(status.to_owned());
        lot_received.push(received_on);
        lot_source.push(kind);
        lot_donor.push(donor);
        lot_qty.push(qty);
    }
    sqlx::query!(
        "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, status, received_on, source, donor)
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::text[],
                              $7::date[], $8::text[], $9::text[])",
        &lot_ids,
        &lot_items,
        &lot_warehouses,
        &lot_codes,
        &lot_expiry as &[Option<NaiveDate>],
        &lot_status,
        &lot_received,
        &lot_source,
        &lot_donor as &[Option<String>]
    )
    .execute(&mut *tx)
    .await
    .context("inserting seed lots")?;
    let first_movement = sqlx::query_scalar!(
        r#"with ins as (
             insert into stock_movements (lot_id, kind, qty, reason, actor_id)
             select lot, 'seed', qty, 'demo data', $3 from unnest($1::uuid[], $2::bigint[]) as t(lot, qty)
             returning id)
           select min(id) as "first" from ins"#,
        &lot_ids,
        &lot_qty,
        SYSTEM_USER as UserId
    )
    .fetch_one(&mut *tx)
    .await
    .context("inserting seed movements")?;
    report.lots = lot_ids.len();

    for (n, line) in levels_csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [wh, sku, min_qty] = f[..] else {
            bail!("seed/reserve_levels.csv line {}: expected 3 fields", n + 1);
        };
        let (Some(w), Some(i)) = (warehouse_ids.get(wh), item_ids.get(sku)) else {
            bail!(
                "seed/reserve_levels.csv line {}: unknown warehouse or SKU",
                n + 1
            );
        };
        sqlx::query!(
            "insert into reserve_levels (warehouse_id, item_id, min_qty) values ($1, $2, $3)",
            *w as WarehouseId,
            *i as ItemId,
            min_qty.parse::<i64>()?
        )
        .execute(&mut *tx)
        .await?;
        report.reserve_levels += 1;
    }

    crate::audit::db::record(
        &mut tx,
        &Actor::system(),
        &Origin::cli(),
        crate::audit::Change {
            action: "seed.load",
            entity_kind: "dataset",
            entity_id: "gba-demo".into(),
            before: None,
            after: Some(serde_json::json!({
                "report": report,
                "anchor_day": today,
                "first_movement_id": first_movement,
                "movements": report.lots,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    // No chainer runs beside the CLI (nor beside the tests' templates): chain the
    // loader's events now, so the data leaves a verifiable trail.
    crate::audit::chain::drain(pool).await?;
    Ok(report)
}
