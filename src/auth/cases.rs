//! The user use cases that the HTTP handlers, the CLI (`stockpile user …`) and the demo
//! loader all call: each checks the rules in `auth` (pure), writes through `auth::db`
//! and records its audit event, in the caller's transaction (the caller commits).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};

use super::{Actor, DEMO_USERS, DemoUser, NewUser, Role, User, UserPatch, db};
use crate::audit::{self, Change, Origin};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;

/// Hashes a password off the async threads (argon2 is deliberately slow).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || super::hash_password(&password)).await?
}

/// Creates a user and records `user.create` (without the hash) as `actor`. The caller
/// owns the transaction.
pub async fn create_user(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    new: NewUser,
) -> AppResult<User> {
    let warehouses = db::warehouse_ids(conn, &new.warehouses).await?;
    let hash = hash_password(new.password.clone()).await?;
    let id = UserId::new();
    db::insert_user(conn, id, &new, &hash).await?;
    db::set_warehouses(conn, id, &warehouses).await?;
    let user = db::user(conn, &new.username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the new user vanished"))?;
    audit::db::record(
        conn,
        actor,
        origin,
        Change {
            action: "user.create",
            entity_kind: "user",
            entity_id: user.username.clone(),
            before: None,
            after: Some(serde_json::to_value(&user).map_err(anyhow::Error::from)?),
        },
    )
    .await?;
    Ok(user)
}

/// Changes a user and records `user.update` (without hashes) as `actor`. Disabling a
/// user or changing the password revokes the user's sessions at once. The caller owns
/// the transaction.
pub async fn update_user(
    conn: &mut PgConnection,
    actor: &Actor,
    origin: &Origin,
    username: &str,
    patch: UserPatch,
) -> AppResult<User> {
    let locked = db::lock_user(conn, username).await?;
    let (Some(id), Some(before)) = (locked, db::user(conn, username).await?) else {
        return Err(AppError::not_found(format!("no user `{username}`")));
    };
    let role = patch.role.unwrap_or(before.role);
    let codes = patch
        .warehouses
        .clone()
        .unwrap_or_else(|| before.warehouses.clone());
    super::check_scope(role, &codes)?;
    if id == actor.id && (patch.active == Some(false) || role != Role::Admin) {
        return Err(AppError::conflict(
            if patch.active == Some(false) {
                "/active"
            } else {
                "/role"
            },
            "you cannot disable yourself or give up your own admin role; ask another admin",
            None,
        ));
    }
    let warehouses = match &patch.warehouses {
        Some(codes) => Some(db::warehouse_ids(conn, codes).await?),
        None => None,
    };
    let password_changed = patch.password.is_some();
    let hash = match patch.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let active = patch.active.unwrap_or(before.active);
    let row = db::UserRow {
        display_name: patch
            .display_name
            .as_deref()
            .unwrap_or(&before.display_name),
        role,
        active,
        password_hash: hash.as_deref(),
    };
    db::update_user_row(conn, id, &row).await?;
    if let Some(ws) = &warehouses {
        db::set_warehouses(conn, id, ws).await?;
    }
    let revoked = if !active || password_changed {
        db::revoke_sessions_of(conn, id).await?
    } else {
        0
    };
    let after = db::user(conn, username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the user vanished"))?;
    let mut after_json = serde_json::to_value(&after).map_err(anyhow::Error::from)?;
    if let Some(obj) = after_json.as_object_mut() {
        obj.insert("password_changed".into(), json!(password_changed));
        obj.insert("sessions_revoked".into(), json!(revoked));
    }
    audit::db::record(
        conn,
        actor,
        origin,
        Change {
            action: "user.update",
            entity_kind: "user",
            entity_id: after.username.clone(),
            before: Some(serde_json::to_value(&before).map_err(anyhow::Error::from)?),
            after: Some(after_json),
        },
    )
    .await?;
    Ok(after)
}

/// Makes sure every demo user exists and gives each a freshly generated password (a
/// demo user that already exists gets a new one), audited as the system actor. Returns
/// each demo user with its password, to print once. Call it only in demo mode, after
/// the demo data (the clerks' warehouses) is loaded.
pub async fn ensure_demo_users(pool: &PgPool) -> anyhow::Result<Vec<(DemoUser, String)>> {
    let system = Actor::system();
    let origin = Origin::cli();
    let mut out = Vec::with_capacity(DEMO_USERS.len());
    for demo in DEMO_USERS {
        let password = super::random_password();
        let warehouses: Vec<String> = demo.warehouse.iter().map(|w| (*w).to_owned()).collect();
        let mut tx = pool.begin().await?;
        let result = if db::user(&mut tx, demo.username).await?.is_some() {
            let patch = UserPatch {
                password: Some(password.clone()),
                ..UserPatch::default()
            };
            update_user(&mut tx, &system, &origin, demo.username, patch).await
        } else {
            let new = NewUser {
                username: demo.username.to_owned(),
                display_name: demo.display_name.to_owned(),
                role: demo.role,
                warehouses,
                active: true,
                password: password.clone(),
            };
            create_user(&mut tx, &system, &origin, new).await
        };
        result.map_err(|e| anyhow::anyhow!("demo user {}: {e}", demo.username))?;
        tx.commit().await?;
        out.push((*demo, password));
    }
    Ok(out)
}

/// A new session: the bearer token (shown once), when it expires, and who signed in.
#[derive(Debug)]
pub struct Session {
    /// The bearer token.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// Who signed in.
    pub user: User,
}

/// The one answer to every failed sign-in, so that it does not reveal which part was wrong.
fn bad_credentials() -> AppError {
    AppError::Unauthorized("the username or password is wrong".into())
}

/// Signs `username` in with `password` for `ttl`, in a transaction of its own.
///
/// An unknown user, a disabled one and a wrong password get the same answer in about the
/// same time (every path costs one argon2 verification). After 5 failed attempts for a
/// username within 15 minutes, further attempts get 429 with `Retry-After`, even with
/// the right password. Every attempt is audited; failures are committed too.
pub async fn login(
    conn: &mut PgConnection,
    origin: &Origin,
    username: &str,
    password: String,
    ttl: chrono::Duration,
) -> AppResult<Session> {
    let key = super::login_key(username);
    let mut tx = conn.begin().await?;
    db::lock_login(&mut tx, &key).await?;
    let found = db::credentials(&mut tx, &key).await?;
    let audit_actor = found
        .as_ref()
        .map(|c| c.actor.clone())
        .unwrap_or_else(Actor::system);
    let failed = |reason: &'static str| Change {
        action: "auth.login_failed",
        entity_kind: "user",
        entity_id: key.clone(),
        before: None,
        after: Some(json!({ "reason": reason })),
    };

    let (now, failures) = db::recent_failures(&mut tx, &key).await?;
    if let Some(retry_after_secs) = super::lockout_retry_after(&failures, now) {
        audit::db::record(&mut tx, &audit_actor, origin, failed("locked_out")).await?;
        tx.commit().await?;
        tracing::warn!(user.name = %key, retry_after_secs, "sign-in refused: locked out");
        return Err(AppError::TooManyRequests {
            detail: format!(
                "too many failed sign-ins for this username; try again in {retry_after_secs} seconds"
            ),
            retry_after_secs,
        });
    }

    // Verify against the user's hash, or a dummy one, so that every path costs one
    // argon2 verification.
    let usable = found
        .as_ref()
        .filter(|c| c.active && c.actor.role != Role::System);
    let hash = usable
        .and_then(|c| c.password_hash.clone())
        .unwrap_or_else(|| super::DUMMY_HASH.clone());
    let matches = tokio::task::spawn_blocking(move || super::verify_password(&password, &hash))
        .await
        .map_err(anyhow::Error::from)?;
    let Some(creds) = usable.filter(|_| matches) else {
        db::record_attempt(&mut tx, &key, false).await?;
        audit::db::record(&mut tx, &audit_actor, origin, failed("bad_credentials")).await?;
        tx.commit().await?;
        tracing::info!(user.name = %key, "sign-in failed");
        return Err(bad_credentials());
    };

    db::record_attempt(&mut tx, &key, true).await?;
    let (token, token_hash) = super::new_token();
    let expires_at = Utc::now() + ttl;
    db::insert_session(&mut tx, &token_hash, creds.actor.id, expires_at).await?;
    let user = db::user(&mut tx, &key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the signed-in user vanished"))?;
    audit::db::record(
        &mut tx,
        &creds.actor,
        origin,
        Change {
            action: "auth.login",
            entity_kind: "user",
            entity_id: key.clone(),
            before: None,
            after: Some(json!({ "expires_at": expires_at })),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user.name = %key, "signed in");
    Ok(Session {
        token,
        expires_at,
        user,
    })
}
