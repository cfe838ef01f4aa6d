//! SQL producing export rows. Each function streams its rows (`fetch`) into a bounded
//! channel, so memory stays flat however many rows there are; it stops early, without
//! error, when the receiver is gone (a client that disconnected). `incident_exists` is the
//! one plain look-up, used to validate export parameters.

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use sqlx::PgConnection;
use tokio::sync::mpsc::Sender;

use super::Val;
use crate::audit::db::{EventQuery, StoredEvent, events_query};
use crate::ids::{ItemId, WarehouseId};

/// Filters of the movements export.
#[derive(Debug, Clone, Default)]
pub struct MovementFilter {
    /// Movements created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Movements created at or before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only lots in this warehouse.
    pub warehouse: Option<WarehouseId>,
    /// Only lots of this item.
    pub item: Option<ItemId>,
}

fn time(t: DateTime<Utc>) -> Val {
    Val::Text(t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Whether the row was delivered; `false` once the receiver has gone.
async fn send(out: &Sender<Vec<Val>>, row: Vec<Val>) -> bool {
    out.send(row).await.is_ok()
}

/// Ledger rows matching `f`, in id order.
pub async fn movements(
    conn: &mut PgConnection,
    f: &MovementFilter,
    out: &Sender<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query!(
        r#"select m.id, m.created_at, m.kind, w.code as warehouse, i.sku, i.name_zh, i.name_en,
                  l.lot_code, m.lot_id, m.qty, m.reserved_delta, m.on_hand_after, m.reserved_after,
                  m.reason, m.note, m.ref_kind, m.ref_id, u.username, m.request_id, m.idempotency_key
             from stock_movements m
             join stock_lots l on l.id = m.lot_id
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
             join users u on u.id = m.actor_id
            where ($1::timestamptz is null or m.created_at >= $1)
              and ($2::timestamptz is null or m.created_at <= $2)
              and ($3::uuid is null or l.warehouse_id = $3)
              and ($4::uuid is null or l.item_id = $4)
            order by m.id"#,
        f.from,
        f.to,
        f.warehouse as Option<WarehouseId>,
        f.item as Option<ItemId>
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let row = vec![
            Val::Int(r.id),
            time(r.created_at),
            Val::Text(r.kind),
            Val::Text(r.warehouse),
            Val::Text(r.sku),
            Val::Text(r.name_zh),
            Val::Text(r.name_en),
            Val::Text(r.lot_code),
            Val::Text(r.lot_id.to_string()),
            Val::Int(r.qty),
            Val::Int(r.reserved_delta),
            Val::Int(r.on_hand_after),
            Val::Int(r.reserved_after),
            r.reason.into(),
            r.note.into(),
            r.ref_kind.into(),
            r.ref_id.map(|u| u.to_string()).into(),
            Val::Text(r.username),
            r.request_id.into(),
            r.idempotency_key.into(),
        ];
        if !send(out, row).await {
            break;
        }
    }
    Ok(())
}

/// Audit events matching `q`, in seq order.
pub async fn audit_events(
    conn: &mut PgConnection,
    q: &EventQuery,
    out: &Sender<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let mut qb = events_query(q);
    let mut rows = qb.build_query_as::<StoredEvent>().fetch(&mut *conn);
    while let Some(e) = rows.try_next().await? {
        let row = vec![
            Val::Int(e.seq),
            time(e.at),
            Val::Text(e.actor_id.to_string()),
            Val::Text(e.actor_username),
            Val::Text(e.action),
            Val::Text(e.entity_kind),
            Val::Text(e.entity_id),
            e.request_id.into(),
            e.idempotency_key.into(),
            e.before.map_or(Val::Null, Val::Json),
            e.after.map_or(Val::Null, Val::Json),
            Val::Text(e.prev_hash),
            Val::Text(e.hash),
        ];
        if !send(out, row).await {
            break;
        }
    }
    Ok(())
}

/// Every lot's balance at `at`, rebuilt from the ledger: the sums of `qty` and
/// `reserved_delta` over its movements created at or before `at`. Lots without a
/// movement by then are left out.
pub async fn stock_as_of(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    out: &Sender<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query!(
        r#"select l.id, w.code as warehouse, i.sku, i.name_zh, i.name_en, l.lot_code, l.expires_on,
                  s.on_hand as "on_hand!", s.reserved as "reserved!"
             from (select lot_id, sum(qty)::bigint as on_hand, sum(reserved_delta)::bigint as reserved
                     from stock_movements
                    where created_at <= $1
                    group by lot_id) s
             join stock_lots l on l.id = s.lot_id
             join items i on i.id = l.item_id
             join warehouses w on w.id = l.warehouse_id
            order by w.code, i.sku, l.lot_code, l.id"#,
        at
    )
    .fetch(&mut *conn);
    let as_of = time(at);
    while let Some(r) = rows.try_next().await? {
        let row = vec![
            Val::Text(r.id.to_string()),
            Val::Text(r.warehouse),
            Val::Text(r.sku),
            Val::Text(r.name_zh),
            Val::Text(r.name_en),
            Val::Text(r.lot_code),
            r.expires_on.map(|d| d.to_string()).into(),
            Val::Int(r.on_hand),
            Val::Int(r.reserved),
            Val::Int(r.on_hand - r.reserved),
            as_of.clone(),
        ];
        if !send(out, row).await {
            break;
        }
    }
    Ok(())
}

/// Whether an incident with this id exists (the requests export's `incident` filter must
/// name one).
pub async fn incident_exists(conn: &mut PgConnection, id: uuid::Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from incidents where id = $1) as "e!""#,
        id
    )
    .fetch_one(conn)
    .await
}

/// One row per request line: what was requested, reserved (now), dispatched and
/// delivered, per incident, in incident and request order.
pub async fn requests(
    conn: &mut PgConnection,
    incident: Option<uuid::Uuid>,
    out: &Sender<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query!(
        r#"select i.id as incident_id, i.name as incident, r.id as request_id, r.priority, r.status,
                  r.created_at, l.sku, it.name_zh, it.name_en, l.requested, l.reserved,
                  coalesce((select sum(sl.qty) from shipment_lines sl
                              join shipments s on s.id = sl.shipment_id
                              join stock_lots lot on lot.id = sl.lot_id
                             where s.request_id = r.id and lot.item_id = l.item_id), 0)::bigint as "dispatched!",
                  coalesce((select sum(sl.received_qty) from shipment_lines sl
                              join shipments s on s.id = sl.shipment_id
                              join stock_lots lot on lot.id = sl.lot_id
                             where s.request_id = r.id and lot.item_id = l.item_id
                               and s.status = 'delivered'), 0)::bigint as "delivered!"
             from allocation_requests r
             join incidents i on i.id = r.incident_id
             join allocation_request_lines l on l.request_id = r.id
             join items it on it.id = l.item_id
            where ($1::uuid is null or r.incident_id = $1)
            order by i.started_at, i.id, r.created_at, r.id, l.line_no"#,
        incident
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let row = vec![
            Val::Text(r.incident_id.to_string()),
            Val::Text(r.incident),
            Val::Text(r.request_id.to_string()),
            Val::Text(r.priority),
            Val::Text(r.status),
            time(r.created_at),
            Val::Text(r.sku),
            Val::Text(r.name_zh),
            Val::Text(r.name_en),
            Val::Int(r.requested),
            Val::Int(r.reserved),
            Val::Int(r.dispatched),
            Val::Int(r.delivered),
        ];
        if !send(out, row).await {
            break;
        }
    }
    Ok(())
}

/// Every item, by SKU, in the items import format (GTINs joined by `;`, the need norm
/// as JSON).
pub async fn items(conn: &mut PgConnection, out: &Sender<Vec<Val>>) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query!(
        r#"select i.sku, i.name_zh, i.name_en, i.category_code, i.unit_zh, i.unit_en, i.spec,
                  array_to_string(array(select g.gtin from item_gtins g where g.item_id = i.id
                                        order by g.gtin is distinct from i.gtin, g.gtin), ';') as "gtins!",
                  i.shelf_life_days, i.min_remaining_days, i.alert_days, i.storage_class, i.need_norm,
                  i.status
             from items i order by i.sku"#
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let row = vec![
            Val::Text(r.sku),
            Val::Text(r.name_zh),
            Val::Text(r.name_en),
            Val::Text(r.category_code),
            Val::Text(r.unit_zh),
            Val::Text(r.unit_en),
            r.spec.into(),
            Val::Text(r.gtins),
            r.shelf_life_days
                .map_or(Val::Null, |d| Val::Int(i64::from(d))),
            Val::Int(i64::from(r.min_remaining_days)),
            Val::Int(i64::from(r.alert_days)),
            Val::Text(r.storage_class),
            r.need_norm.map_or(Val::Null, |n| Val::Text(n.to_string())),
            Val::Text(r.status),
        ];
        if !send(out, row).await {
            break;
        }
    }
    Ok(())
}

/// Every reserve level, by warehouse and SKU, in the reserve-levels import format.
pub async fn reserve_levels(
    conn: &mut PgConnection,
    out: &Sender<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query!(
        "select w.code, i.sku, r.min_qty from reserve_levels r
           join warehouses w on w.id = r.warehouse_id join items i on i.id = r.item_id
          order by w.code, i.sku"
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        if !send(
            out,
            vec![Val::Text(r.code), Val::Text(r.sku), Val::Int(r.min_qty)],
        )
        .await
        {
            break;
        }
    }
    Ok(())
}

/// Every warehouse, by code, in the warehouses import format.
pub async fn warehouses(
    conn: &mut PgConnection,
    out: &Sender<Vec<Val>>,
) -> Result<(), sqlx::Error> {
    let mut rows = sqlx::query!(
        "select w.code, w.name_zh, w.name_en, w.city, w.district, w.tier, w.lat, w.lon,
                w.handling_minutes, w.status, p.code as \"parent?\"
           from warehouses w left join warehouses p on p.id = w.parent_id
          order by w.code"
    )
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let row = vec![
            Val::Text(r.code),
            Val::Text(r.name_zh),
            Val::Text(r.name_en),
            Val::Text(r.city),
            r.district.into(),
            Val::Text(r.tier),
            // Rust prints the shortest text that parses back to the same f64.
            Val::Text(r.lat.to_string()),
            Val::Text(r.lon.to_string()),
            Val::Int(i64::from(r.handling_minutes)),
            Val::Text(r.status),
            r.parent.into(),
        ];
        if !send(out, row).await {
            break;
        }
    }
    Ok(())
}
