//! SQL for transfers. Lock order everywhere: the transfer row, then lots in id order.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{DiscrepancyReason, SentLine, Transfer, TransferLine, TransferStatus};
use crate::ids::{ItemId, LotId, TransferId, UserId, WarehouseId};
use crate::rules::LotState;

/// Locks the lots with `ids` (`for update`, in id order) and returns those that exist, as
/// the shared stock rules read them.
pub async fn lock_lots(
    conn: &mut PgConnection,
    ids: &[LotId],
) -> Result<Vec<LotState>, sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|l| l.0).collect();
    sqlx::query_as!(
        LotState,
        r#"select l.id, l.warehouse_id, i.sku, l.lot_code, l.expires_on, l.on_hand, l.reserved,
                  l.status = 'quarantined' as "quarantined!"
             from stock_lots l join items i on i.id = l.item_id
            where l.id = any($1) order by l.id for update of l"#,
        &ids[..]
    )
    .fetch_all(conn)
    .await
}

/// A new transfer's header.
#[derive(Debug)]
pub struct NewTransfer<'a> {
    /// Id.
    pub id: TransferId,
    /// Source.
    pub from: WarehouseId,
    /// Destination.
    pub to: WarehouseId,
    /// Note.
    pub note: Option<&'a str>,
    /// Sender.
    pub created_by: UserId,
}

/// Inserts a transfer in transit.
pub async fn insert_transfer(
    conn: &mut PgConnection,
    t: &NewTransfer<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into transfers (id, from_warehouse_id, to_warehouse_id, note, created_by) values ($1, $2, $3, $4, $5)",
        t.id as TransferId,
        t.from as WarehouseId,
        t.to as WarehouseId,
        t.note,
        t.created_by as UserId
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts one line.
pub async fn insert_line(
    conn: &mut PgConnection,
    transfer: TransferId,
    line_no: i32,
    lot: LotId,
    qty: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into transfer_lines (transfer_id, line_no, lot_id, qty) values ($1, $2, $3, $4)",
        transfer as TransferId,
        line_no,
        lot as LotId,
        qty
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A transfer header locked for update.
#[derive(Debug, Clone)]
pub struct LockedTransfer {
    /// Id.
    pub id: TransferId,
    /// Source.
    pub from_warehouse_id: WarehouseId,
    /// Source code.
    pub from_code: String,
    /// Destination.
    pub to_warehouse_id: WarehouseId,
    /// Destination code.
    pub to_code: String,
    /// Status.
    pub status: TransferStatus,
}

/// Locks a transfer's row.
pub async fn lock_transfer(
    conn: &mut PgConnection,
    id: TransferId,
) -> Result<Option<LockedTransfer>, sqlx::Error> {
    sqlx::query_as!(
        LockedTransfer,
        r#"select t.id as "id: TransferId", t.from_warehouse_id as "from_warehouse_id: WarehouseId",
                  f.code as from_code, t.to_warehouse_id as "to_warehouse_id: WarehouseId", d.code as to_code,
                  t.status as "status: TransferStatus"
             from transfers t
             join warehouses f on f.id = t.from_warehouse_id
             join warehouses d on d.id = t.to_warehouse_id
            where t.id = $1
              for update of t"#,
        id as TransferId
    )
    .fetch_optional(conn)
    .await
}

/// The lines of a transfer, in line order.
pub async fn sent_lines(
    conn: &mut PgConnection,
    id: TransferId,
) -> Result<Vec<SentLine>, sqlx::Error> {
    sqlx::query_as!(
        SentLine,
        r#"select tl.line_no, tl.lot_id as "lot_id: LotId", tl.qty, l.item_id as "item_id: ItemId",
                  l.lot_code, l.expires_on, l.donor
             from transfer_lines tl join stock_lots l on l.id = tl.lot_id
            where tl.transfer_id = $1
            order by tl.line_no"#,
        id as TransferId
    )
    .fetch_all(conn)
    .await
}

/// The destination lot with the source lot's identity, created empty if missing
/// (source `transfer`). Returns its id and expiry. Does not lock an existing lot.
pub async fn find_or_create_lot(
    conn: &mut PgConnection,
    item: ItemId,
    warehouse: WarehouseId,
    lot_code: &str,
    expires_on: Option<NaiveDate>,
    received_on: NaiveDate,
    donor: Option<&str>,
) -> Result<(LotId, Option<NaiveDate>), sqlx::Error> {
    sqlx::query!(
        "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, received_on, source, donor)
         values ($1, $2, $3, $4, $5, $6, 'transfer', $7)
         on conflict on constraint stock_lots_identity_key do nothing",
        LotId::new() as LotId,
        item as ItemId,
        warehouse as WarehouseId,
        lot_code,
        expires_on,
        received_on,
        donor
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        r#"select id as "id: LotId", expires_on from stock_lots
            where item_id = $1 and warehouse_id = $2 and lot_code = $3"#,
        item as ItemId,
        warehouse as WarehouseId,
        lot_code
    )
    .fetch_one(conn)
    .await?;
    Ok((row.id, row.expires_on))
}

/// Records what arrived on a line.
pub async fn set_line_received(
    conn: &mut PgConnection,
    transfer: TransferId,
    line_no: i32,
    received_qty: i64,
    reason: Option<DiscrepancyReason>,
    dest_lot: Option<LotId>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update transfer_lines set received_qty = $3, discrepancy_reason = $4, dest_lot_id = $5
          where transfer_id = $1 and line_no = $2",
        transfer as TransferId,
        line_no,
        received_qty,
        reason as Option<DiscrepancyReason>,
        dest_lot as Option<LotId>
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes a transfer in transit as `received` or `cancelled`.
pub async fn close(
    conn: &mut PgConnection,
    id: TransferId,
    status: TransferStatus,
    by: UserId,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update transfers set status = $2, closed_by = $3, closed_at = now(), close_note = $4
          where id = $1 and status = 'in_transit'",
        id as TransferId,
        status as TransferStatus,
        by as UserId,
        note
    )
    .execute(conn)
    .await?;
    Ok(())
}

struct HeaderRow {
    id: TransferId,
    from_code: String,
    to_code: String,
    status: TransferStatus,
    note: Option<String>,
    created_by: UserId,
    created_at: chrono::DateTime<chrono::Utc>,
    closed_by: Option<UserId>,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    close_note: Option<String>,
}

struct LineRow {
    transfer_id: TransferId,
    line_no: i32,
    lot_id: LotId,
    sku: String,
    lot_code: String,
    expires_on: Option<NaiveDate>,
    qty: i64,
    received_qty: Option<i64>,
    discrepancy_reason: Option<DiscrepancyReason>,
    dest_lot_id: Option<LotId>,
}

/// Transfers touching `warehouse` (as source or destination), with `status`, after the
/// id `after`, in id order, with their lines.
pub async fn list(
    conn: &mut PgConnection,
    warehouse: Option<WarehouseId>,
    status: Option<TransferStatus>,
    after: Option<TransferId>,
    limit: i64,
) -> Result<Vec<Transfer>, sqlx::Error> {
    let headers = sqlx::query_as!(
        HeaderRow,
        r#"select t.id as "id: TransferId", f.code as from_code, d.code as to_code,
                  t.status as "status: TransferStatus", t.note,
                  t.created_by as "created_by: UserId", t.created_at,
                  t.closed_by as "closed_by: UserId", t.closed_at, t.close_note
             from transfers t
             join warehouses f on f.id = t.from_warehouse_id
             join warehouses d on d.id = t.to_warehouse_id
            where ($1::uuid is null or t.from_warehouse_id = $1 or t.to_warehouse_id = $1)
              and ($2::text is null or t.status = $2)
              and ($3::uuid is null or t.id > $3)
            order by t.id
            limit $4"#,
        warehouse as Option<WarehouseId>,
        status as Option<TransferStatus>,
        after as Option<TransferId>,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    with_lines(conn, headers).await
}

/// One transfer with its lines.
pub async fn get(conn: &mut PgConnection, id: TransferId) -> Result<Option<Transfer>, sqlx::Error> {
    let headers = sqlx::query_as!(
        HeaderRow,
        r#"select t.id as "id: TransferId", f.code as from_code, d.code as to_code,
                  t.status as "status: TransferStatus", t.note,
                  t.created_by as "created_by: UserId", t.created_at,
                  t.closed_by as "closed_by: UserId", t.closed_at, t.close_note
             from transfers t
             join warehouses f on f.id = t.from_warehouse_id
             join warehouses d on d.id = t.to_warehouse_id
            where t.id = $1"#,
        id as TransferId
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(with_lines(conn, headers).await?.pop())
}

async fn with_lines(
    conn: &mut PgConnection,
    headers: Vec<HeaderRow>,
) -> Result<Vec<Transfer>, sqlx::Error> {
    let ids: Vec<Uuid> = headers.iter().map(|h| h.id.0).collect();
    let lines = sqlx::query_as!(
        LineRow,
        r#"select tl.transfer_id as "transfer_id: TransferId", tl.line_no, tl.lot_id as "lot_id: LotId",
                  i.sku, l.lot_code, l.expires_on, tl.qty, tl.received_qty,
                  tl.discrepancy_reason as "discrepancy_reason: DiscrepancyReason",
                  tl.dest_lot_id as "dest_lot_id: LotId"
             from transfer_lines tl
             join stock_lots l on l.id = tl.lot_id
             join items i on i.id = l.item_id
            where tl.transfer_id = any($1)
            order by tl.transfer_id, tl.line_no"#,
        &ids[..]
    )
    .fetch_all(conn)
    .await?;
    let mut by_transfer: HashMap<TransferId, Vec<LineRow>> = HashMap::new();
    for l in lines {
        by_transfer.entry(l.transfer_id).or_default().push(l);
    }
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let lines: Vec<TransferLine> = by_transfer
            .remove(&h.id)
            .unwrap_or_default()
            .into_iter()
            .map(|l| TransferLine {
                line_no: l.line_no,
                lot_id: l.lot_id,
                sku: l.sku,
                lot_code: l.lot_code,
                expires_on: l.expires_on,
                qty: l.qty,
                received_qty: l.received_qty,
                discrepancy_reason: l.discrepancy_reason,
                dest_lot_id: l.dest_lot_id,
                in_transit_qty: h.status.on_the_road(l.qty),
            })
            .collect();
        // Sums of stored bigints that each passed the send checks; saturate rather
        // than fail a read.
        let in_transit_qty = lines
            .iter()
            .fold(0i64, |acc, l| acc.saturating_add(l.in_transit_qty));
        out.push(Transfer {
            id: h.id,
            from: h.from_code,
            to: h.to_code,
            status: h.status,
            note: h.note,
            created_by: h.created_by,
            created_at: h.created_at,
            closed_by: h.closed_by,
            closed_at: h.closed_at,
            close_note: h.close_note,
            in_transit_qty,
            lines,
        });
    }
    Ok(out)
}
