//! SQL for warehouses.

use sqlx::PgConnection;

use super::{Tier, Warehouse, WarehouseStatus};
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
        r#"select id as "id: WarehouseId", code, name_zh, name_en, lat, lon, city, district,
                  tier as "tier: Tier", status as "status: WarehouseStatus", handling_minutes
             from warehouses
            where ($1::text is null or city = $1)
              and ($2::text is null or tier = $2)
              and ($3::text is null or code > $3)
            order by code
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
        r#"select id as "id: WarehouseId", code, name_zh, name_en, lat, lon, city, district,
                  tier as "tier: Tier", status as "status: WarehouseStatus", handling_minutes
             from warehouses where code = $1"#,
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
        r#"select id as "id: WarehouseId", code, name_zh, name_en, lat, lon, city, district,
                  tier as "tier: Tier", status as "status: WarehouseStatus", handling_minutes
             from warehouses order by code"#
    )
    .fetch_all(conn)
    .await
}
