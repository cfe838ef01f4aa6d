//! SQL for users, sessions and sign-in attempts. The user use cases that combine these
//! with rules and the audit trail are in `auth::cases`.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Actor, NewUser, Role, User};
use crate::error::{AppError, AppResult};
use crate::ids::{UserId, WarehouseId};

/// The active user behind an unexpired, unrevoked session token hash, and when the
/// session expires.
pub async fn actor_for_token(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<(Actor, DateTime<Utc>)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select u.id as "id: UserId", u.username, u.role, min(s.expires_at) as "expires_at!",
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
        let actor = Actor {
            id: r.id,
            username: r.username,
            role: r.role.parse::<Role>().ok()?,
            warehouses: r.warehouses.into_iter().map(WarehouseId).collect(),
        };
        Some((actor, r.expires_at))
    }))
}

/// What sign-in needs to know about a username.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The user as an actor (for the audit trail).
    pub actor: Actor,
    /// The argon2 hash; `None` for the system user.
    pub password_hash: Option<String>,
    /// Whether the user may sign in.
    pub active: bool,
}

/// The credentials of `username`, if such a user exists.
pub async fn credentials(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select id as "id: UserId", username, role, password_hash, active
             from users where username = $1"#,
        username
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Credentials {
            actor: Actor {
                id: r.id,
                username: r.username,
                role: r.role.parse::<Role>().ok()?,
                warehouses: vec![],
            },
            password_hash: r.password_hash,
            active: r.active,
        })
    }))
}

/// Serialises sign-ins for one username until the transaction ends, so that concurrent
/// attempts (from any process) cannot all slip under the lock-out count.
pub async fn lock_login(conn: &mut PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 3))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The database's clock, and the failed sign-ins of `key` within the lock-out window
/// since its last successful one, newest first.
pub async fn recent_failures(
    conn: &mut PgConnection,
    key: &str,
) -> Result<(DateTime<Utc>, Vec<DateTime<Utc>>), sqlx::Error> {
    let now = sqlx::query_scalar!(r#"select now() as "now!""#)
        .fetch_one(&mut *conn)
        .await?;
    let failures = sqlx::query_scalar!(
        r#"select at from login_attempts
            where username = $1 and not succeeded
              and at > now() - make_interval(mins => $2)
              and at > coalesce((select max(at) from login_attempts where username = $1 and succeeded),
                                '-infinity')
            order by at desc
            limit $3"#,
        key,
        super::LOCKOUT_WINDOW_MINUTES as i32,
        super::LOCKOUT_FAILURES as i64
    )
    .fetch_all(conn)
    .await?;
    Ok((now, failures))
}

/// Records one sign-in attempt for `key`.
pub async fn record_attempt(
    conn: &mut PgConnection,
    key: &str,
    succeeded: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into login_attempts (username, succeeded) values ($1, $2)",
        key,
        succeeded
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a session under the token's hash.
pub async fn insert_session(
    conn: &mut PgConnection,
    token_hash: &str,
    user: UserId,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into sessions (token_hash, user_id, expires_at) values ($1, $2, $3)",
        token_hash,
        user as UserId,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes one session; true when it was live.
pub async fn revoke_session(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query!(
        "update sessions set revoked_at = now() where token_hash = $1 and revoked_at is null",
        token_hash
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Revokes every live session of `user`; returns how many.
pub async fn revoke_sessions_of(conn: &mut PgConnection, user: UserId) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "update sessions set revoked_at = now() where user_id = $1 and revoked_at is null",
        user as UserId
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Users (never `system`), by username; only `username` when given.
pub async fn users(
    conn: &mut PgConnection,
    username: Option<&str>,
) -> Result<Vec<User>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select u.id as "id: UserId", u.username, u.display_name, u.role, u.active,
                  u.created_at, u.updated_at,
                  coalesce(array_agg(w.code order by w.code) filter (where w.code is not null), '{}')
                      as "warehouses!: Vec<String>"
             from users u
             left join user_warehouses uw on uw.user_id = u.id
             left join warehouses w on w.id = uw.warehouse_id
            where u.role <> 'system' and ($1::text is null or u.username = $1)
            group by u.id
            order by u.username"#,
        username
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(User {
                id: r.id,
                username: r.username,
                display_name: r.display_name,
                role: r.role.parse::<Role>().ok()?,
                warehouses: r.warehouses,
                active: r.active,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect())
}

/// One user (never `system`).
pub async fn user(conn: &mut PgConnection, username: &str) -> Result<Option<User>, sqlx::Error> {
    Ok(users(conn, Some(username)).await?.into_iter().next())
}

/// The ids of warehouses named by `codes`; an unknown code is a 422 naming
/// `/warehouses/<index>`.
pub async fn warehouse_ids(
    conn: &mut PgConnection,
    codes: &[String],
) -> AppResult<Vec<WarehouseId>> {
    let mut ids = Vec::with_capacity(codes.len());
    for (i, code) in codes.iter().enumerate() {
        let id = sqlx::query_scalar!(
            r#"select id as "id: WarehouseId" from warehouses where code = $1"#,
            code
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                format!("/warehouses/{i}"),
                format!("unknown warehouse `{code}`"),
            )
        })?;
        ids.push(id);
    }
    Ok(ids)
}

pub async fn set_warehouses(
    conn: &mut PgConnection,
    user: UserId,
    warehouses: &[WarehouseId],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from user_warehouses where user_id = $1",
        user as UserId
    )
    .execute(&mut *conn)
    .await?;
    let ids: Vec<uuid::Uuid> = warehouses.iter().map(|w| w.0).collect();
    sqlx::query!(
        "insert into user_warehouses (user_id, warehouse_id) select $1, unnest($2::uuid[])",
        user as UserId,
        &ids
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Inserts a user with a password hash already made.
pub async fn insert_user(
    conn: &mut PgConnection,
    id: UserId,
    new: &NewUser,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into users (id, username, display_name, role, password_hash, active)
         values ($1, $2, $3, $4, $5, $6)",
        id as UserId,
        new.username,
        new.display_name,
        new.role.as_str(),
        password_hash,
        new.active
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the row of the user `username` (never the system user) and returns its id.
pub async fn lock_user(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select id as "id: UserId" from users where username = $1 and role <> 'system' for update"#,
        username
    )
    .fetch_optional(conn)
    .await
}

/// A user's new display name, role and active flag, and a new password hash if any.
#[derive(Debug)]
pub struct UserRow<'a> {
    /// Display name.
    pub display_name: &'a str,
    /// Role.
    pub role: Role,
    /// Whether the user may sign in.
    pub active: bool,
    /// A new password hash, or `None` to keep the old one.
    pub password_hash: Option<&'a str>,
}

/// Updates the user `id`.
pub async fn update_user_row(
    conn: &mut PgConnection,
    id: UserId,
    row: &UserRow<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update users set display_name = $2, role = $3, active = $4,
                          password_hash = coalesce($5, password_hash), updated_at = now()
          where id = $1",
        id as UserId,
        row.display_name,
        row.role.as_str(),
        row.active,
        row.password_hash
    )
    .execute(conn)
    .await?;
    Ok(())
}
