//! Who is acting, and what they may do: roles, warehouse scope, tokens and passwords.
//!
//! Invariants: tokens are random (256 bits) and only their SHA-256 is stored; passwords
//! are hashed with argon2id; a clerk acts only in assigned warehouses.

pub mod cache;
pub mod cases;
pub mod db;
pub mod guard;
pub mod http;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::ids::{UserId, WarehouseId};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Catalogue, warehouses, reserve levels, users, road network.
    Admin,
    /// Stock operations in assigned warehouses.
    Clerk,
    /// Incidents, allocation requests, dispatch, road closures.
    Dispatcher,
    /// Reads everything and exports; changes nothing.
    Auditor,
    /// The built-in actor for seeding and housekeeping; cannot sign in.
    System,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clerk => "clerk",
            Role::Dispatcher => "dispatcher",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "clerk" => Ok(Role::Clerk),
            "dispatcher" => Ok(Role::Dispatcher),
            "auditor" => Ok(Role::Auditor),
            "system" => Ok(Role::System),
            other => Err(format!(
                "unknown role `{other}`: expected admin, clerk, dispatcher or auditor"
            )),
        }
    }
}

/// The authenticated user behind a request.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    /// The user's id.
    pub id: UserId,
    /// The user's login name.
    pub username: String,
    /// The user's role.
    pub role: Role,
    /// Warehouses a clerk may operate in.
    pub warehouses: Vec<WarehouseId>,
}

impl Actor {
    /// The built-in system actor.
    pub fn system() -> Self {
        Actor {
            id: crate::ids::SYSTEM_USER,
            username: "system".into(),
            role: Role::System,
            warehouses: vec![],
        }
    }

    /// Fails with 403 unless the actor has one of `roles`. The system actor passes.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if self.role == Role::System || roles.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(AppError::Forbidden(format!(
            "this operation needs the role {}; you are {}",
            names.join(" or "),
            self.role.as_str()
        )))
    }

    /// Fails with 403 unless the actor is a clerk assigned to `warehouse` (named by
    /// `code` in the message), or the system actor.
    pub fn require_warehouse(&self, warehouse: WarehouseId, code: &str) -> Result<(), AppError> {
        self.require(&[Role::Clerk])?;
        if self.role == Role::System || self.warehouses.contains(&warehouse) {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "you are not assigned to warehouse {code}; stock operations there need a clerk of \
             that warehouse"
        )))
    }
}

/// SHA-256 of a bearer token, hex-encoded: the only form in which tokens are stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random bearer token (256 bits, URL-safe base64) and its stored hash.
pub fn new_token() -> (String, String) {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    use base64::Engine;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
}

/// Whether `password` matches the argon2 `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A user as shown to admins and to the user: never the password hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    /// The user's id.
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    /// The login name.
    pub username: String,
    /// The name shown in the audit trail and the UI.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// Codes of the warehouses a clerk is assigned to (empty for other roles).
    pub warehouses: Vec<String>,
    /// Disabled users cannot sign in and their tokens stop working at once.
    pub active: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password accepted (argon2 cost grows with length; cap it).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a username against the `users_username_format` rule:
/// `^[a-z0-9][a-z0-9._-]{1,63}$`.
pub fn check_username(username: &str) -> Result<(), AppError> {
    let bytes = username.as_bytes();
    let ok = (2..=64).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "/username",
            "a username is 2 to 64 characters: lowercase letters, digits, `.`, `_` and `-`, \
             starting with a letter or digit",
        ))
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str, pointer: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        Ok(())
    } else {
        Err(AppError::invalid(
            pointer,
            format!("a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"),
        ))
    }
}

/// Parses a role a person may hold (not `system`), naming `pointer` when it is wrong.
pub fn parse_assignable_role(role: &str, pointer: &str) -> Result<Role, AppError> {
    match role.parse::<Role>() {
        Ok(Role::System) | Err(_) => Err(AppError::invalid(
            pointer,
            format!("unknown role `{role}`: expected admin, clerk, dispatcher or auditor"),
        )),
        Ok(role) => Ok(role),
    }
}

/// Only clerks are assigned to warehouses.
pub fn check_scope(role: Role, warehouses: &[String]) -> Result<(), AppError> {
    if role != Role::Clerk && !warehouses.is_empty() {
        return Err(AppError::invalid(
            "/warehouses",
            format!(
                "only clerks are assigned to warehouses; a {} has none (send `warehouses: []`)",
                role.as_str()
            ),
        ));
    }
    Ok(())
}

/// A user to create, checked: a valid username, an assignable role, warehouses only for
/// clerks and an acceptable password.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The login name.
    pub username: String,
    /// The display name.
    pub display_name: String,
    /// The role.
    pub role: Role,
    /// Warehouse codes (clerks only), de-duplicated in the order given.
    pub warehouses: Vec<String>,
    /// Whether the user may sign in.
    pub active: bool,
    /// The password in clear; hashed before it is stored, never logged.
    pub password: String,
}

impl NewUser {
    /// Checks the parts of a new user.
    pub fn parse(
        username: String,
        display_name: Option<String>,
        role: &str,
        warehouses: Vec<String>,
        active: bool,
        password: String,
    ) -> Result<Self, AppError> {
        let username = username.trim().to_owned();
        check_username(&username)?;
        let role = parse_assignable_role(role, "/role")?;
        let warehouses = dedup(warehouses);
        check_scope(role, &warehouses)?;
        check_password(&password, "/password")?;
        let display_name = match display_name.map(|d| d.trim().to_owned()) {
            Some(d) if d.is_empty() => {
                return Err(AppError::invalid("/display_name", "display_name is empty"));
            }
            Some(d) => d,
            None => username.clone(),
        };
        Ok(NewUser {
            username,
            display_name,
            role,
            warehouses,
            active,
            password,
        })
    }
}

/// Removes repeated codes, keeping the first of each.
pub fn dedup(codes: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(codes.len());
    for code in codes {
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

/// A checked change to a user: each field, when present, replaces the current value.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New warehouse codes (replaces the assignment).
    pub warehouses: Option<Vec<String>>,
    /// Enable or disable.
    pub active: Option<bool>,
    /// New password, in clear.
    pub password: Option<String>,
}

impl UserPatch {
    /// Checks each present part of a change.
    pub fn parse(
        display_name: Option<String>,
        role: Option<&str>,
        warehouses: Option<Vec<String>>,
        active: Option<bool>,
        password: Option<String>,
    ) -> Result<Self, AppError> {
        let display_name = display_name.map(|d| d.trim().to_owned());
        if display_name.as_deref() == Some("") {
            return Err(AppError::invalid("/display_name", "display_name is empty"));
        }
        let role = role
            .map(|r| parse_assignable_role(r, "/role"))
            .transpose()?;
        if let Some(p) = &password {
            check_password(p, "/password")?;
        }
        Ok(UserPatch {
            display_name,
            role,
            warehouses: warehouses.map(dedup),
            active,
            password,
        })
    }
}

/// Failed sign-ins within [`LOCKOUT_WINDOW_MINUTES`] that lock a username.
pub const LOCKOUT_FAILURES: usize = 5;
/// How long a failed sign-in counts towards the lock-out.
pub const LOCKOUT_WINDOW_MINUTES: i64 = 15;

/// Whether a username is locked out, given its failed sign-ins within the window, newest
/// first, and `now`. `Some(seconds)` is how long until the oldest of the last
/// [`LOCKOUT_FAILURES`] ages out of the window (at least 1).
pub fn lockout_retry_after(
    failures_newest_first: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Option<u64> {
    let window = chrono::Duration::minutes(LOCKOUT_WINDOW_MINUTES);
    let recent: Vec<&DateTime<Utc>> = failures_newest_first
        .iter()
        .filter(|at| **at > now - window)
        .collect();
    let oldest_of_last = recent.get(LOCKOUT_FAILURES - 1)?;
    let secs = (**oldest_of_last + window - now).num_milliseconds();
    Some(u64::try_from((secs + 999) / 1000).unwrap_or(1).max(1))
}

/// Normalises a username typed at sign-in, for lookup and for lock-out counting: trimmed,
/// lowercased and cut to 64 characters, so that `Admin ` and `admin` share one lock-out.
pub fn login_key(username: &str) -> String {
    username.trim().to_lowercase().chars().take(64).collect()
}

/// An argon2id hash of a random password that nobody knows. Sign-in verifies against it
/// when the username is unknown or disabled, so that both take as long as a wrong
/// password for a real user.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&random_password()).unwrap_or_default());

/// A fresh random password: 128 bits, URL-safe base64 (22 characters).
pub fn random_password() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    use base64::Engine;
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One demo user of `serve --demo`.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// The login name.
    pub username: &'static str,
    /// The display name.
    pub display_name: &'static str,
    /// The role.
    pub role: Role,
    /// The warehouse a demo clerk works in.
    pub warehouse: Option<&'static str>,
}

/// The demo users: one per role, plus a clerk of the Jianghai centre and one of a
/// Shenzhen depot.
pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        username: "admin",
        display_name: "Demo administrator",
        role: Role::Admin,
        warehouse: None,
    },
    DemoUser {
        username: "dispatcher",
        display_name: "Demo dispatcher",
        role: Role::Dispatcher,
        warehouse: None,
    },
    DemoUser {
        username: "auditor",
        display_name: "Demo auditor",
        role: Role::Auditor,
        warehouse: None,
    },
    DemoUser {
        username: "clerk-jianghai",
        display_name: "Demo clerk, Jianghai centre",
        role: Role::Clerk,
        warehouse: Some("JM-JH-RC"),
    },
    DemoUser {
        username: "clerk-shenzhen",
        display_name: "Demo clerk, Shenzhen Futian depot",
        role: Role::Clerk,
        warehouse: Some("SZ-FT-01"),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_matches() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), ha);
        assert_ne!(ha, hb);
        assert!(a.len() >= 43, "256 bits in base64 is 43 characters");
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn clerks_act_only_in_their_warehouses() {
        let wh = WarehouseId::new();
        let clerk = Actor {
            id: UserId::new(),
            username: "c".into(),
            role: Role::Clerk,
            warehouses: vec![wh],
        };
        assert!(clerk.require_warehouse(wh, "A").is_ok());
        assert!(clerk.require_warehouse(WarehouseId::new(), "B").is_err());
        let dispatcher = Actor {
            role: Role::Dispatcher,
            ..clerk
        };
        assert!(dispatcher.require_warehouse(wh, "A").is_err());
    }

    #[test]
    fn five_failures_in_the_window_lock_until_the_fifth_newest_ages_out() {
        let now = Utc::now();
        let ago = |m: i64| now - chrono::Duration::minutes(m);
        assert_eq!(
            lockout_retry_after(&[ago(1), ago(2), ago(3), ago(4)], now),
            None
        );
        let five = [ago(1), ago(2), ago(3), ago(4), ago(10)];
        assert_eq!(lockout_retry_after(&five, now), Some(5 * 60));
        let old = [ago(1), ago(2), ago(3), ago(4), ago(16)];
        assert_eq!(lockout_retry_after(&old, now), None);
    }

    #[test]
    fn new_users_are_checked() {
        let ok = NewUser::parse(
            "ana".into(),
            None,
            "clerk",
            vec!["A".into(), "A".into()],
            true,
            "long enough".into(),
        )
        .expect("valid");
        assert_eq!(ok.display_name, "ana");
        assert_eq!(ok.warehouses, vec!["A".to_owned()]);
        let bad = |u: &str, r: &str, w: Vec<String>, p: &str| {
            NewUser::parse(u.into(), None, r, w, true, p.into()).is_err()
        };
        assert!(bad("Ana", "clerk", vec![], "long enough"));
        assert!(bad("ana", "system", vec![], "long enough"));
        assert!(bad("ana", "admin", vec!["A".into()], "long enough"));
        assert!(bad("ana", "admin", vec![], "short"));
    }
}
