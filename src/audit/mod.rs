//! The tamper-evident audit trail: every state change appends one event, in the same
//! transaction, to a hash chain with a gapless sequence.
//!
//! `hash = sha256(prev_hash || canonical_json(event))`, where the canonical JSON has
//! sorted keys and no insignificant white space, and `at` is RFC 3339 UTC with
//! microseconds. Anyone holding the rows can recompute the chain.

pub mod db;
pub mod http;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One audit event, as hashed.
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it happened (microsecond precision).
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor_id: uuid::Uuid,
    /// Their username at the time.
    pub actor_username: String,
    /// What was done (`stock.receipt`, `user.create`, …).
    pub action: String,
    /// The kind of entity changed.
    pub entity_kind: String,
    /// Its id or code.
    pub entity_id: String,
    /// The request id.
    pub request_id: Option<String>,
    /// The idempotency key.
    pub idempotency_key: Option<String>,
    /// State before, where it applies.
    pub before: Option<Value>,
    /// State after, where it applies.
    pub after: Option<Value>,
}

impl Event {
    /// The canonical JSON that is hashed: sorted keys, compact.
    pub fn canonical_json(&self) -> String {
        // serde_json's map is ordered by key (no `preserve_order`), so this is canonical.
        json!({
            "seq": self.seq,
            "at": self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "action": self.action,
            "entity_kind": self.entity_kind,
            "entity_id": self.entity_id,
            "request_id": self.request_id,
            "idempotency_key": self.idempotency_key,
            "before": self.before,
            "after": self.after,
        })
        .to_string()
    }

    /// `sha256(prev_hash || canonical_json)`, hex.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(self.canonical_json().as_bytes());
        hex::encode(h.finalize())
    }
}

/// What a caller records; the chain position and time are filled in by [`db::record`].
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// What was done.
    pub action: &'a str,
    /// The kind of entity changed.
    pub entity_kind: &'a str,
    /// Its id or code.
    pub entity_id: String,
    /// State before.
    pub before: Option<Value>,
    /// State after.
    pub after: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            seq: 1,
            at: DateTime::from_timestamp(1_790_000_000, 123_456_000).expect("time"),
            actor_id: uuid::Uuid::nil(),
            actor_username: "system".into(),
            action: "stock.receipt".into(),
            entity_kind: "lot".into(),
            entity_id: "x".into(),
            request_id: None,
            idempotency_key: None,
            before: None,
            after: Some(json!({"b": 1, "a": 2})),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_and_is_compact() {
        let text = event().canonical_json();
        assert!(text.starts_with(r#"{"action":"stock.receipt","actor_id":"#));
        assert!(text.contains(r#""after":{"a":2,"b":1}"#));
        assert!(text.contains(r#""at":"2026-09-21T"#));
        assert!(!text.contains(": "));
    }

    #[test]
    fn the_hash_depends_on_the_previous_hash_and_every_field() {
        let e = event();
        let zero = "0".repeat(64);
        let h = e.hash(&zero);
        assert_eq!(h.len(), 64);
        assert_ne!(h, e.hash(&"1".repeat(64)));
        let mut edited = e.clone();
        edited.after = Some(json!({"a": 3, "b": 1}));
        assert_ne!(h, edited.hash(&zero));
    }
}
