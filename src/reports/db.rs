//! SQL for summaries and alerts: read-only, over one consistent snapshot per query.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::{Alert, Cell, Figures};
use crate::ids::{LotId, WarehouseId};

/// Figures per (warehouse, item) with any stock or stock in transit. See the module
/// documentation for the definitions.
pub async fn cells(conn: &mut PgConnection, today: NaiveDate) -> Result<Vec<Cell>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"with lots as (
               select l.warehouse_id, l.item_id,
                      sum(l.on_hand) as on_hand,
                      sum(l.reserved) as reserved,
                      sum(case when l.status = 'available' and (l.expires_on is null or l.expires_on >= $1)
                               then l.on_hand - l.reserved else 0 end) as available,
                      sum(case when l.status = 'quarantined' then l.on_hand else 0 end) as quarantined,
                      sum(case when l.expires_on < $1 then l.on_hand else 0 end) as expired,
                      sum(case when l.expires_on >= $1 and l.expires_on <= $1 + i.alert_days
                               then l.on_hand else 0 end) as expiring
                 from stock_lots l join items i on i.id = l.item_id
                group by l.warehouse_id, l.item_id
           ), transit as (
               select t.to_warehouse_id as warehouse_id, l.item_id, sum(tl.qty) as in_transit
                 from transfers t
                 join transfer_lines tl on tl.transfer_id = t.id
                 join stock_lots l on l.id = tl.lot_id
                where t.status = 'in_transit'
                group by t.to_warehouse_id, l.item_id
           )
           select w.code, w.city, i.sku, i.category_code,
                  coalesce(x.on_hand, 0)::bigint as "on_hand!",
                  coalesce(x.reserved, 0)::bigint as "reserved!",
                  coalesce(x.available, 0)::bigint as "available!",
                  coalesce(tr.in_transit, 0)::bigint as "in_transit!",
                  coalesce(x.quarantined, 0)::bigint as "quarantined!",
                  coalesce(x.expired, 0)::bigint as "expired!",
                  coalesce(x.expiring, 0)::bigint as "expiring!"
             from lots x
             full join transit tr using (warehouse_id, item_id)
             join warehouses w on w.id = warehouse_id
             join items i on i.id = item_id
            where coalesce(x.on_hand, 0) <> 0 or coalesce(x.reserved, 0) <> 0 or coalesce(tr.in_transit, 0) <> 0
            order by w.code, i.sku"#,
        today
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Cell {
            warehouse: r.code,
            city: r.city,
            sku: r.sku,
            category: r.category_code,
            figures: Figures {
                on_hand: r.on_hand,
                reserved: r.reserved,
                available: r.available,
                in_transit: r.in_transit,
                quarantined: r.quarantined,
                expired: r.expired,
                expiring: r.expiring,
            },
        })
        .collect())
}

/// Alerts on `today`, optionally for one warehouse.
pub async fn alerts(
    conn: &mut PgConnection,
    today: NaiveDate,
    warehouse: Option<WarehouseId>,
) -> Result<Vec<Alert>, sqlx::Error> {
    sqlx::query_as!(
        Alert,
        r#"select kind as "kind!", warehouse as "warehouse!", sku as "sku!", qty as "qty!",
                  lot_id as "lot_id: LotId", lot_code, expires_on, min_qty, shortfall
             from (
               select 1 as ord, 'expired' as kind, w.code as warehouse, i.sku, l.on_hand as qty, l.id as lot_id,
                      l.lot_code, l.expires_on, null::bigint as min_qty, null::bigint as shortfall
                 from stock_lots l join items i on i.id = l.item_id join warehouses w on w.id = l.warehouse_id
                where l.on_hand > 0 and l.expires_on < $1
                  and ($2::uuid is null or l.warehouse_id = $2)
               union all
               select 2, 'expiring', w.code, i.sku, l.on_hand, l.id, l.lot_code, l.expires_on, null, null
                 from stock_lots l join items i on i.id = l.item_id join warehouses w on w.id = l.warehouse_id
                where l.on_hand > 0 and l.expires_on >= $1 and l.expires_on <= $1 + i.alert_days
                  and ($2::uuid is null or l.warehouse_id = $2)
               union all
               select 3, 'below_reserve', w.code, i.sku, coalesce(s.available, 0)::bigint, null, null, null,
                      r.min_qty, r.min_qty - coalesce(s.available, 0)::bigint
                 from reserve_levels r
                 join items i on i.id = r.item_id
                 join warehouses w on w.id = r.warehouse_id
                 left join lateral (
                     select sum(l.on_hand - l.reserved) as available
                       from stock_lots l
                      where l.warehouse_id = r.warehouse_id and l.item_id = r.item_id
                        and l.status = 'available' and (l.expires_on is null or l.expires_on >= $1)
                 ) s on true
                where coalesce(s.available, 0) < r.min_qty
                  and ($2::uuid is null or r.warehouse_id = $2)
             ) a
            order by ord, warehouse, sku, expires_on, lot_id"#,
        today,
        warehouse as Option<WarehouseId>
    )
    .fetch_all(conn)
    .await
}
