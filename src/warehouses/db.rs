//! SQL for warehouses.

use sqlx::PgConnection;

use super::{Tier, Warehouse, WarehouseDraft, WarehouseStatus};
use crate::ids::WarehouseId;

/// Warehouses after `after_code`, filtered.
pub async fn list(
    conn: &mut PgConnection,
    city: Option<&str>,
    tier: Option<Tier>,
    after_code: Option<&str>,
    limit: i64,
) -> Result<Vec<Warehouse>, sqlx::Error> {
    sqlx::query_as!(
        Warehouse,
        r#"select w.id as "id: WarehouseId", w.code, w.name_zh, w.name_en, w.lat, w.lon, w.city, w.district,
                  w.tier as "tier: Tier", w.status as "status: WarehouseStatus", w.handling_minutes,
                  (select p.code from warehouses p where p.id = w.parent_id) as parent
             from warehouses w
            where ($1::text is null or w.city = $1)
              and ($2::text is null or w.tier = $2)
              and ($3::text is null or w.code > $3)
            order by w.code
            limit $4"#,
        city,
        tier.map(Tier::as_str),
        after_code,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One warehouse by code.
pub async fn by_code(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<Warehouse>, sqlx::Error> {
    sqlx::query_as!(
        Warehouse,
        r#"select w.id as "id: WarehouseId", w.code, w.name_zh, w.name_en, w.lat, w.lon, w.city, w.district,
                  w.tier as "tier: Tier", w.status as "status: WarehouseStatus", w.handling_minutes,
                  (select p.code from warehouses p where p.id = w.parent_id) as parent
             from warehouses w where w.code = $1"#,
        code
    )
    .fetch_optional(conn)
    .await
}

/// The id of the warehouse with this code (see [`super::ids`]).
pub async fn id_by_code(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<WarehouseId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id: WarehouseId" from warehouses where code = $1"#,
        code
    )
    .fetch_optional(conn)
    .await
}

/// The code of the warehouse with this id (an error when there is none).
pub async fn code_of(conn: &mut PgConnection, id: WarehouseId) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!(
        "select code from warehouses where id = $1",
        id as WarehouseId
    )
    .fetch_one(conn)
    .await
}

/// Every warehouse, by code.
pub async fn all(conn: &mut PgConnection) -> Result<Vec<Warehouse>, sqlx::Error> {
    sqlx::query_as!(
        Warehouse,
        r#"select w.id as "id: WarehouseId", w.code, w.name_zh, w.name_en, w.lat, w.lon, w.city, w.district,
                  w.tier as "tier: Tier", w.status as "status: WarehouseStatus", w.handling_minutes,
                  (select p.code from warehouses p where p.id = w.parent_id) as parent
             from warehouses w order by w.code"#
    )
    .fetch_all(conn)
    .await
}

/// Locks the warehouse with this code (`for update`) and returns its id.
pub async fn lock(conn: &mut PgConnection, code: &str) -> Result<Option<WarehouseId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id: WarehouseId" from warehouses where code = $1 for update"#,
        code
    )
    .fetch_optional(conn)
    .await
}

fn status_str(s: WarehouseStatus) -> &'static str {
    match s {
        WarehouseStatus::Active => "active",
        WarehouseStatus::Inactive => "inactive",
    }
}

/// Inserts a warehouse; its parent by code (which must exist: the caller checked).
pub async fn insert(
    conn: &mut PgConnection,
    id: WarehouseId,
    d: &WarehouseDraft,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into warehouses (id, code, name_zh, name_en, lat, lon, city, district, tier, status,
                                 handling_minutes, parent_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, (select id from warehouses where code = $12))",
        id as WarehouseId,
        d.code,
        d.name_zh,
        d.name_en,
        d.lat,
        d.lon,
        d.city,
        d.district,
        d.tier.as_str(),
        status_str(d.status),
        d.handling_minutes,
        d.parent,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces warehouse `id`'s fields (not its id or code) with the draft's.
pub async fn update(
    conn: &mut PgConnection,
    id: WarehouseId,
    d: &WarehouseDraft,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update warehouses set name_zh = $2, name_en = $3, lat = $4, lon = $5, city = $6, district = $7,
                               tier = $8, status = $9, handling_minutes = $10,
                               parent_id = (select id from warehouses where code = $11), updated_at = now()
          where id = $1",
        id as WarehouseId,
        d.name_zh,
        d.name_en,
        d.lat,
        d.lon,
        d.city,
        d.district,
        d.tier.as_str(),
        status_str(d.status),
        d.handling_minutes,
        d.parent,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the parent of the warehouse with `code` (by the parent's code; `None`: none).
pub async fn set_parent(
    conn: &mut PgConnection,
    code: &str,
    parent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update warehouses set parent_id = (select id from warehouses where code = $2), updated_at = now()
          where code = $1",
        code,
        parent
    )
    .execute(conn)
    .await?;
    Ok(())
}
