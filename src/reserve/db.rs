//! The reserve module's SQL: what the replenishment, rotation and readiness planners read
//! of the network, and the locks a committed replenishment takes.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

/// A warehouse as the reserve planners need it, with where it is and how long it takes
/// to load a truck there.
#[derive(Debug, Clone)]
pub struct WarehouseRow {
    /// Id.
    pub id: Uuid,
    /// Code.
    pub code: String,
    /// Tier, as stored.
    pub tier: String,
    /// The warehouse that resupplies it first.
    pub parent_id: Option<Uuid>,
    /// Whether its status is `active`.
    pub active: bool,
    /// District.
    pub district: Option<String>,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Handling minutes before a truck leaves.
    pub handling_minutes: i32,
}

/// Every warehouse, by code.
pub async fn warehouses(conn: &mut PgConnection) -> Result<Vec<WarehouseRow>, sqlx::Error> {
    sqlx::query_as!(
        WarehouseRow,
        r#"select id, code, tier, parent_id, status = 'active' as "active!", district, lat, lon,
                  handling_minutes
             from warehouses order by code"#
    )
    .fetch_all(conn)
    .await
}

/// An item's id, SKU, shelf-life minimum and category.
#[derive(Debug, Clone)]
pub struct ItemRow {
    /// Id.
    pub id: Uuid,
    /// SKU.
    pub sku: String,
    /// Minimum remaining days.
    pub min_remaining_days: i32,
    /// GB/T 38565 category code.
    pub category_code: String,
}

/// Every item, by SKU.
pub async fn items(conn: &mut PgConnection) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as!(
        ItemRow,
        "select id, sku, min_remaining_days, category_code from items order by sku"
    )
    .fetch_all(conn)
    .await
}

/// A reserve level.
#[derive(Debug, Clone)]
pub struct LevelRow {
    /// Warehouse.
    pub warehouse_id: Uuid,
    /// SKU.
    pub sku: String,
    /// The level.
    pub min_qty: i64,
    /// The refill target, if set.
    pub target_qty: Option<i64>,
}

/// Every reserve level.
pub async fn levels(conn: &mut PgConnection) -> Result<Vec<LevelRow>, sqlx::Error> {
    sqlx::query_as!(
        LevelRow,
        "select r.warehouse_id, i.sku, r.min_qty, r.target_qty
           from reserve_levels r join items i on i.id = r.item_id"
    )
    .fetch_all(conn)
    .await
}

/// A lot with stock on hand.
#[derive(Debug, Clone)]
pub struct LotRow {
    /// Id.
    pub id: Uuid,
    /// Warehouse.
    pub warehouse_id: Uuid,
    /// SKU.
    pub sku: String,
    /// Lot code.
    pub lot_code: String,
    /// Expiry.
    pub expires_on: Option<NaiveDate>,
    /// On hand.
    pub on_hand: i64,
    /// Reserved.
    pub reserved: i64,
    /// Quarantined.
    pub quarantined: bool,
}

/// Every lot with stock on hand.
pub async fn lots(conn: &mut PgConnection) -> Result<Vec<LotRow>, sqlx::Error> {
    sqlx::query_as!(
        LotRow,
        r#"select l.id, l.warehouse_id, i.sku, l.lot_code, l.expires_on, l.on_hand, l.reserved,
                  l.status = 'quarantined' as "quarantined!"
             from stock_lots l join items i on i.id = l.item_id
            where l.on_hand > 0"#
    )
    .fetch_all(conn)
    .await
}

/// One line of a transfer still in transit, as its destination will receive it.
#[derive(Debug, Clone)]
pub struct InTransitRow {
    /// Destination warehouse.
    pub to_warehouse_id: Uuid,
    /// SKU.
    pub sku: String,
    /// The lot's code (kept on receipt).
    pub lot_code: String,
    /// The lot's expiry (kept on receipt).
    pub expires_on: Option<NaiveDate>,
    /// Units on the road.
    pub qty: i64,
}

/// Every line of every transfer in transit.
pub async fn in_transit(conn: &mut PgConnection) -> Result<Vec<InTransitRow>, sqlx::Error> {
    sqlx::query_as!(
        InTransitRow,
        "select t.to_warehouse_id, i.sku, l.lot_code, l.expires_on, tl.qty
           from transfers t
           join transfer_lines tl on tl.transfer_id = t.id
           join stock_lots l on l.id = tl.lot_id
           join items i on i.id = l.item_id
          where t.status = 'in_transit'"
    )
    .fetch_all(conn)
    .await
}

/// Serializes committed replenishments: one plans and writes at a time, until its
/// transaction ends.
pub async fn lock_replenishment(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext('stockpile.replenishment'))")
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// Locks the (item, warehouse) cells a replenishment draws from, in key order, and bumps
/// their `version`: like a reservation that keeps reserve floors
/// (`allocation::db::write_plan_if_available`), so that a reservation planned on the
/// totals before this draw finds the version moved and replans. Then locks the lots it
/// sends, in id order. Rows already locked by this transaction are taken again at no cost.
pub async fn lock_sources(
    conn: &mut PgConnection,
    cells: &[(Uuid, Uuid)],
    lots: &[Uuid],
) -> Result<(), sqlx::Error> {
    let items: Vec<Uuid> = cells.iter().map(|c| c.0).collect();
    let warehouses: Vec<Uuid> = cells.iter().map(|c| c.1).collect();
    sqlx::query!(
        "with locked as (
             select s.item_id, s.warehouse_id
               from stock_cells s
              where (s.item_id, s.warehouse_id) in (select * from unnest($1::uuid[], $2::uuid[]))
              order by s.item_id, s.warehouse_id
                for update)
         update stock_cells s set version = s.version + 1
           from locked k
          where s.item_id = k.item_id and s.warehouse_id = k.warehouse_id",
        &items,
        &warehouses
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "select id from stock_lots where id = any($1) order by id for update",
        lots
    )
    .fetch_all(conn)
    .await?;
    Ok(())
}
