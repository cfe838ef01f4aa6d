//! Who is acting, and what they may do: roles, warehouse scope, tokens and passwords.
//!
//! Invariants: tokens are random (256 bits) and only their SHA-256 is stored; passwords
//! are hashed with argon2id; a clerk acts only in assigned warehouses.

pub mod db;
pub mod http;

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
}
