//! SQL for users and sessions.

use sqlx::PgConnection;

use super::{Actor, Role};
use crate::ids::{UserId, WarehouseId};

/// The active user behind an unexpired, unrevoked session token hash.
pub async fn actor_for_token(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<Actor>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select u.id as "id: UserId", u.username, u.role,
                  coalesce(array_agg(uw.warehouse_id) filter (where uw.warehouse_id is not null), '{}')
                      as "warehouses!: Vec<uuid::Uuid>"
             from sessions s
             join users u on u.id = s.user_id
             left join user_warehouses uw on uw.user_id = u.id
            where s.token_hash = $1 and s.revoked_at is null and s.expires_at > now() and u.active
            group by u.id"#,
        token_hash
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Actor {
            id: r.id,
            username: r.username,
            role: r.role.parse::<Role>().ok()?,
            warehouses: r.warehouses.into_iter().map(WarehouseId).collect(),
        })
    }))
}
