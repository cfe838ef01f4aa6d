//! SQL for counts. Lock order: the count row, then lots in id order.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{Count, CountLine, CountStatus, CountedLot};
use crate::ids::{CountId, ItemId, LotId, UserId, WarehouseId};

/// Locks the lots of `warehouse` (of `items`, when given) in id order and returns their
/// ids.
pub async fn lock_scope(
    conn: &mut PgConnection,
    warehouse: WarehouseId,
    items: Option<&[ItemId]>,
) -> Result<Vec<LotId>, sqlx::Error> {
    let items: Option<Vec<Uuid>> = items.map(|i| i.iter().map(|x| x.0).collect());
    sqlx::query_scalar!(
        r#"select id as "id: LotId" from stock_lots
            where warehouse_id = $1 and ($2::uuid[] is null or item_id = any($2))
            order by id for update"#,
        warehouse as WarehouseId,
        items.as_deref()
    )
    .fetch_all(conn)
    .await
}

/// The ledger high-water mark: the largest movement id committed so far (0 if none).
pub async fn high_water_mark(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"select coalesce(max(id), 0) as "hwm!" from stock_movements"#)
        .fetch_one(conn)
        .await
}

/// Inserts an open count and snapshots the (locked) lots' on hand as expected.
pub async fn insert_count(
    conn: &mut PgConnection,
    id: CountId,
    warehouse: WarehouseId,
    skus: Option<&[String]>,
    hwm: i64,
    by: UserId,
    lots: &[LotId],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into counts (id, warehouse_id, skus, snapshot_movement_id, opened_by) values ($1, $2, $3, $4, $5)",
        id as CountId,
        warehouse as WarehouseId,
        skus,
        hwm,
        by as UserId
    )
    .execute(&mut *conn)
    .await?;
    let lots: Vec<Uuid> = lots.iter().map(|l| l.0).collect();
    sqlx::query!(
        "insert into count_lines (count_id, lot_id, expected_qty)
         select $1, id, on_hand from stock_lots where id = any($2)",
        id as CountId,
        &lots[..]
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A count header locked for update.
#[derive(Debug, Clone)]
pub struct LockedCount {
    /// Id.
    pub id: CountId,
    /// Warehouse.
    pub warehouse_id: WarehouseId,
    /// Warehouse code.
    pub warehouse_code: String,
    /// Where it stands.
    pub status: CountStatus,
    /// Ledger high-water mark of the snapshot.
    pub snapshot_movement_id: i64,
}

/// Locks a count's row.
pub async fn lock_count(
    conn: &mut PgConnection,
    id: CountId,
) -> Result<Option<LockedCount>, sqlx::Error> {
    sqlx::query_as!(
        LockedCount,
        r#"select c.id as "id: CountId", c.warehouse_id as "warehouse_id: WarehouseId", w.code as warehouse_code,
                  c.status as "status: CountStatus", c.snapshot_movement_id
             from counts c join warehouses w on w.id = c.warehouse_id
            where c.id = $1 for update of c"#,
        id as CountId
    )
    .fetch_optional(conn)
    .await
}

/// The lots in a count.
pub async fn scope(conn: &mut PgConnection, id: CountId) -> Result<Vec<LotId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select lot_id as "lot_id: LotId" from count_lines where count_id = $1 order by lot_id"#,
        id as CountId
    )
    .fetch_all(conn)
    .await
}

/// Records a counted quantity.
pub async fn set_counted(
    conn: &mut PgConnection,
    id: CountId,
    lot: LotId,
    qty: i64,
    by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update count_lines set counted_qty = $3, counted_by = $4, counted_at = now()
          where count_id = $1 and lot_id = $2",
        id as CountId,
        lot as LotId,
        qty,
        by as UserId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the counted lots of a count in id order and returns them with what moved on
/// each since the snapshot's high-water mark.
pub async fn lock_counted(
    conn: &mut PgConnection,
    id: CountId,
    hwm: i64,
) -> Result<Vec<CountedLot>, sqlx::Error> {
    let locked = sqlx::query!(
        r#"select l.id as "id: LotId", l.lot_code, l.on_hand, l.reserved, cl.counted_qty as "counted_qty!"
             from stock_lots l join count_lines cl on cl.lot_id = l.id
            where cl.count_id = $1 and cl.counted_qty is not null
            order by l.id
              for update of l"#,
        id as CountId
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = locked.iter().map(|l| l.id.0).collect();
    let moved = sqlx::query!(
        r#"select lot_id as "lot_id: LotId", coalesce(sum(qty), 0)::bigint as "moved!"
             from stock_movements where lot_id = any($1) and id > $2
            group by lot_id"#,
        &ids[..],
        hwm
    )
    .fetch_all(conn)
    .await?;
    Ok(locked
        .into_iter()
        .map(|l| CountedLot {
            moved_after: moved
                .iter()
                .find(|m| m.lot_id == l.id)
                .map_or(0, |m| m.moved),
            lot_id: l.id,
            lot_code: l.lot_code,
            counted_qty: l.counted_qty,
            on_hand: l.on_hand,
            reserved: l.reserved,
        })
        .collect())
}

/// Records what posting did to a line.
pub async fn set_posted_line(
    conn: &mut PgConnection,
    id: CountId,
    lot: LotId,
    moved_after: i64,
    adjustment: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update count_lines set moved_after = $3, adjustment = $4 where count_id = $1 and lot_id = $2",
        id as CountId,
        lot as LotId,
        moved_after,
        adjustment
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a count posted and frees its lots for later counts.
pub async fn close(conn: &mut PgConnection, id: CountId, by: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update count_lines set open = false where count_id = $1",
        id as CountId
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update counts set status = 'posted', posted_by = $2, posted_at = now() where id = $1 and status = 'open'",
        id as CountId,
        by as UserId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks an open count cancelled, with `reason`, and frees its lots for later counts.
/// Books nothing.
pub async fn cancel(
    conn: &mut PgConnection,
    id: CountId,
    by: UserId,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update count_lines set open = false where count_id = $1",
        id as CountId
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update counts set status = 'cancelled', cancelled_by = $2, cancelled_at = now(), cancel_reason = $3
          where id = $1 and status = 'open'",
        id as CountId,
        by as UserId,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A count with every line, expected quantities included (call [`Count::blind`] for
/// clerks).
pub async fn get(conn: &mut PgConnection, id: CountId) -> Result<Option<Count>, sqlx::Error> {
    let Some(h) = sqlx::query!(
        r#"select c.id as "id: CountId", w.code, c.status as "status: CountStatus", c.skus, c.opened_by as "opened_by: UserId",
                  c.opened_at, c.posted_by as "posted_by: UserId", c.posted_at, c.cancelled_at,
                  c.cancel_reason
             from counts c join warehouses w on w.id = c.warehouse_id where c.id = $1"#,
        id as CountId
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let lines = sqlx::query_as!(
        CountLine,
        r#"select cl.lot_id as "lot_id: LotId", i.sku, l.lot_code, l.expires_on, cl.counted_qty, cl.counted_at,
                  cl.expected_qty as "expected_qty?", cl.moved_after, cl.adjustment
             from count_lines cl
             join stock_lots l on l.id = cl.lot_id
             join items i on i.id = l.item_id
            where cl.count_id = $1
            order by i.sku, l.lot_code, l.id"#,
        id as CountId
    )
    .fetch_all(conn)
    .await?;
    Ok(Some(Count {
        id: h.id,
        warehouse: h.code,
        status: h.status,
        skus: h.skus,
        opened_by: h.opened_by,
        opened_at: h.opened_at,
        posted_by: h.posted_by,
        posted_at: h.posted_at,
        cancelled_at: h.cancelled_at,
        cancel_reason: h.cancel_reason,
        lines_total: lines.len() as i64,
        lines_counted: lines.iter().filter(|l| l.counted_qty.is_some()).count() as i64,
        lines,
    }))
}
