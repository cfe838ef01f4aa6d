//! SQL of imports: the file's claim (`imports`), what rows are checked against, and the
//! batched inserts of opening stock (lots, then their ledger rows: the ledger trigger
//! applies each to its lot, as for every receipt).

use chrono::NaiveDate;
use serde_json::Value;
use sqlx::PgConnection;

use super::opening::OpeningLot;
use crate::ids::{ItemId, LotId, UserId, WarehouseId};
use crate::stock::ItemPolicy;

/// The report stored for this file, if it was imported before.
pub async fn stored_report(
    conn: &mut PgConnection,
    kind: &str,
    sha256: &str,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar!(
        "select report from imports where kind = $1 and sha256 = $2",
        kind,
        sha256
    )
    .fetch_optional(conn)
    .await
}

/// Claims the file for import `id`: `false` when it is on record already (a concurrent
/// import of the same file waits here until the first commits or rolls back).
pub async fn claim_file(
    conn: &mut PgConnection,
    id: uuid::Uuid,
    kind: &str,
    sha256: &str,
    actor: UserId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        r#"insert into imports (id, kind, sha256, rows, report, actor_id) values ($1, $2, $3, 0, '{}', $4)
           on conflict (kind, sha256) do nothing returning 1 as "one!""#,
        id,
        kind,
        sha256,
        actor as UserId
    )
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Stores the report of import `id`.
pub async fn set_report(
    conn: &mut PgConnection,
    id: uuid::Uuid,
    rows: i32,
    report: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update imports set rows = $2, report = $3 where id = $1",
        id,
        rows,
        report
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every warehouse's id by code.
pub async fn warehouse_ids(
    conn: &mut PgConnection,
) -> Result<Vec<(String, WarehouseId)>, sqlx::Error> {
    let rows = sqlx::query!(r#"select code, id as "id: WarehouseId" from warehouses"#)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.code, r.id)).collect())
}

/// What receipts need of every item.
pub async fn item_policies(conn: &mut PgConnection) -> Result<Vec<ItemPolicy>, sqlx::Error> {
    sqlx::query_as!(
        ItemPolicy,
        r#"select i.id as "id: ItemId", i.sku,
                  array(select g.gtin from item_gtins g where g.item_id = i.id order by g.gtin) as "gtins!",
                  i.shelf_life_days, i.min_remaining_days, i.status = 'retired' as "retired!"
             from items i"#
    )
    .fetch_all(conn)
    .await
}

/// The SKU owning each GTIN.
pub async fn gtin_owners(conn: &mut PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows =
        sqlx::query!("select g.gtin, i.sku from item_gtins g join items i on i.id = g.item_id")
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|r| (r.gtin, r.sku)).collect())
}

/// Every reserve level.
pub async fn reserve_levels(
    conn: &mut PgConnection,
) -> Result<Vec<(WarehouseId, ItemId, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select warehouse_id as "warehouse_id: WarehouseId", item_id as "item_id: ItemId", min_qty
             from reserve_levels"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.warehouse_id, r.item_id, r.min_qty))
        .collect())
}

/// Which of these lots (warehouse, item, lot code) are on record, by index into `lots`.
pub async fn lots_on_record(
    conn: &mut PgConnection,
    lots: &[OpeningLot],
) -> Result<Vec<usize>, sqlx::Error> {
    let whs: Vec<uuid::Uuid> = lots.iter().map(|l| l.warehouse.0).collect();
    let items: Vec<uuid::Uuid> = lots.iter().map(|l| l.item.0).collect();
    let codes: Vec<&str> = lots.iter().map(|l| l.lot_code.as_str()).collect();
    let found = sqlx::query_scalar!(
        r#"select (t.ord - 1)::bigint as "i!"
             from unnest($1::uuid[], $2::uuid[], $3::text[]) with ordinality as t(wh, item, code, ord)
            where exists (select from stock_lots l
                           where l.warehouse_id = t.wh and l.item_id = t.item and l.lot_code = t.code)"#,
        &whs,
        &items,
        &codes as &[&str]
    )
    .fetch_all(conn)
    .await?;
    Ok(found.into_iter().map(|i| i as usize).collect())
}

/// Creates `lots` (empty, source `opening_balance`, received `today`) and appends one
/// receipt row per lot to the ledger, which fills it; two statements per batch.
pub async fn insert_opening(
    conn: &mut PgConnection,
    lots: &[OpeningLot],
    today: NaiveDate,
    import_id: uuid::Uuid,
    actor: UserId,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<uuid::Uuid> = lots.iter().map(|_| LotId::new().0).collect();
    let whs: Vec<uuid::Uuid> = lots.iter().map(|l| l.warehouse.0).collect();
    let items: Vec<uuid::Uuid> = lots.iter().map(|l| l.item.0).collect();
    let codes: Vec<&str> = lots.iter().map(|l| l.lot_code.as_str()).collect();
    let expiries: Vec<Option<NaiveDate>> = lots.iter().map(|l| l.expires_on).collect();
    let statuses: Vec<&str> = lots.iter().map(|l| l.status.as_str()).collect();
    let donors: Vec<Option<&str>> = lots.iter().map(|l| l.donor.as_deref()).collect();
    let qtys: Vec<i64> = lots.iter().map(|l| l.qty).collect();
    sqlx::query!(
        "insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, status, received_on,
                                 source, donor)
         select id, item_id, wh, code, expires_on, status, $7, 'opening_balance', donor
           from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::text[], $8::text[])
                as t(id, item_id, wh, code, expires_on, status, donor)",
        &ids,
        &items,
        &whs,
        &codes as &[&str],
        &expiries as &[Option<NaiveDate>],
        &statuses as &[&str],
        today,
        &donors as &[Option<&str>],
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into stock_movements (lot_id, kind, qty, reserved_delta, reason, ref_kind, ref_id,
                                      actor_id, request_id)
         select lot_id, 'receipt', qty, 0, 'opening_balance', 'import', $3, $4, $5
           from unnest($1::uuid[], $2::bigint[]) with ordinality as t(lot_id, qty, ord)
          order by ord",
        &ids,
        &qtys,
        import_id,
        actor as UserId,
        request_id
    )
    .execute(conn)
    .await?;
    Ok(())
}
