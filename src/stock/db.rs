//! SQL for lots and the ledger. Every balance change is an inserted `stock_movements`
//! row; the database trigger applies it to the lot.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::Lot;
use crate::ids::{ItemId, LotId, UserId, WarehouseId};

/// Filters for listing lots.
#[derive(Debug, Default)]
pub struct LotQuery<'a> {
    /// Only this warehouse.
    pub warehouse: Option<WarehouseId>,
    /// Only this item.
    pub item: Option<ItemId>,
    /// Only this category and its sub-categories.
    pub category: Option<&'a str>,
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only lots expiring between `today` and this day (inclusive).
    pub expiring_by: Option<NaiveDate>,
    /// `Some(true)`: only expired lots; `Some(false)`: only unexpired (or non-expiring).
    pub expired: Option<bool>,
    /// The deployment's today.
    pub today: NaiveDate,
    /// Keyset: lots after this id.
    pub after: Option<LotId>,
    /// Page size (plus one, to detect a next page).
    pub limit: i64,
}

/// Lots matching `q`, in id order.
pub async fn list_lots(conn: &mut PgConnection, q: &LotQuery<'_>) -> Result<Vec<Lot>, sqlx::Error> {
    sqlx::query_as!(
        Lot,
        r#"select l.id as "id: LotId", l.item_id as "item_id: ItemId", i.sku, i.name_zh as item_name_zh,
                  i.name_en as item_name_en, i.unit_zh, i.category_code,
                  l.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  l.lot_code, l.expires_on, l.on_hand, l.reserved, l.on_hand - l.reserved as "available!",
                  l.status, l.received_on, l.source, l.donor
             from stock_lots l
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
            where ($1::uuid is null or l.warehouse_id = $1)
              and ($2::uuid is null or l.item_id = $2)
              and ($3::text is null or i.category_code = $3 or i.category_code like $3 || '-%')
              and ($4::text is null or l.status = $4)
              and ($5::date is null or (l.expires_on between $7 and $5))
              and ($6::boolean is null or ($6 and l.expires_on < $7) or (not $6 and (l.expires_on is null or l.expires_on >= $7)))
              and ($8::uuid is null or l.id > $8)
            order by l.id
            limit $9"#,
        q.warehouse as Option<WarehouseId>,
        q.item as Option<ItemId>,
        q.category,
        q.status,
        q.expiring_by,
        q.expired,
        q.today,
        q.after as Option<LotId>,
        q.limit
    )
    .fetch_all(conn)
    .await
}

/// One lot.
pub async fn lot(conn: &mut PgConnection, id: LotId) -> Result<Option<Lot>, sqlx::Error> {
    sqlx::query_as!(
        Lot,
        r#"select l.id as "id: LotId", l.item_id as "item_id: ItemId", i.sku, i.name_zh as item_name_zh,
                  i.name_en as item_name_en, i.unit_zh, i.category_code,
                  l.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  l.lot_code, l.expires_on, l.on_hand, l.reserved, l.on_hand - l.reserved as "available!",
                  l.status, l.received_on, l.source, l.donor
             from stock_lots l
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
            where l.id = $1"#,
        id as LotId
    )
    .fetch_optional(conn)
    .await
}

/// A new, empty lot.
#[derive(Debug)]
pub struct NewLot<'a> {
    /// Item.
    pub item: ItemId,
    /// Warehouse.
    pub warehouse: WarehouseId,
    /// Lot code.
    pub lot_code: &'a str,
    /// Expiry date.
    pub expires_on: Option<NaiveDate>,
    /// `available` or `quarantined`.
    pub status: &'a str,
    /// Day received.
    pub received_on: NaiveDate,
    /// `supplier`, `donor` or `transfer`.
    pub source: &'a str,
    /// Supplier or donor name.
    pub donor: Option<&'a str>,
}

/// Inserts an empty lot (stock arrives through [`insert_movement`]).
pub async fn insert_lot(conn: &mut PgConnection, lot: &NewLot<'_>) -> Result<LotId, sqlx::Error> {
    let id = LotId::new();
    sqlx::query!(
        "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, status, received_on, source, donor)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id as LotId,
        lot.item as ItemId,
        lot.warehouse as WarehouseId,
        lot.lot_code,
        lot.expires_on,
        lot.status,
        lot.received_on,
        lot.source,
        lot.donor
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// One ledger row to append.
#[derive(Debug, Clone)]
pub struct Movement<'a> {
    /// The lot.
    pub lot: LotId,
    /// Kind (`receipt`, `issue`, …; see the `stock_movements_kind` constraint).
    pub kind: &'a str,
    /// Signed change of on hand.
    pub qty: i64,
    /// Signed change of reserved.
    pub reserved_delta: i64,
    /// Reason code.
    pub reason: Option<&'a str>,
    /// Free-text note.
    pub note: Option<&'a str>,
    /// What the movement belongs to (`transfer`, `request`, `count`, …).
    pub ref_kind: Option<&'a str>,
    /// Its id.
    pub ref_id: Option<uuid::Uuid>,
    /// Who.
    pub actor: UserId,
    /// Request id.
    pub request_id: Option<&'a str>,
    /// Idempotency key.
    pub idempotency_key: Option<&'a str>,
}

/// Balances after a movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// The ledger row id.
    pub movement_id: i64,
    /// On hand after.
    pub on_hand: i64,
    /// Reserved after.
    pub reserved: i64,
}

/// Appends a ledger row; the trigger applies it to the lot and fails the statement if a
/// balance would leave its allowed range. Lock the lot first (`for update`, id order).
pub async fn insert_movement(
    conn: &mut PgConnection,
    m: &Movement<'_>,
) -> Result<Balance, sqlx::Error> {
    let row = sqlx::query!(
        "insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, note, ref_kind, ref_id,
                                      actor_id, request_id, idempotency_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         returning id, on_hand_after, reserved_after",
        m.lot as LotId,
        m.kind,
        m.qty,
        m.reserved_delta,
        m.reason,
        m.note,
        m.ref_kind,
        m.ref_id,
        m.actor as UserId,
        m.request_id,
        m.idempotency_key
    )
    .fetch_one(conn)
    .await?;
    Ok(Balance {
        movement_id: row.id,
        on_hand: row.on_hand_after,
        reserved: row.reserved_after,
    })
}
