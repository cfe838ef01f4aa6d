//! The tamper-evident audit trail: every state change records one event, in the same
//! transaction, and the events form a hash chain with a gapless sequence.
//!
//! `hash = sha256(prev_hash || canonical_json(event))`, where the canonical JSON has
//! sorted keys and no insignificant white space, and `at` is RFC 3339 UTC with
//! microseconds. Anyone holding the rows can recompute the chain.
//!
//! # How an event joins the chain
//!
//! A transaction records its events in `audit_pending` ([`db::record`], or the one
//! statement of a command) and commits without touching the chain. A chainer, one at a
//! time across every process, then moves all committed pending events into
//! `audit_events` in one batch, assigning `seq` in pending-id order and computing each
//! hash in the database ([`chain`]). A write is answered only once its events are
//! chained, so an acknowledged change is always in the verified chain; a change whose
//! answer was lost (a crash between its commit and its batch) is chained by the next
//! batch.
//!
//! # How ledger movements link to audit events
//!
//! Every ledger row and every audit event records the id of the transaction that wrote
//! it (`xact_id`, filled in by the database: see the `transaction_links` migration; a
//! pending event keeps its writer's id when it is chained). An audit event is written in
//! the same transaction as the change it records, so each movement's transaction must
//! hold at least one audit event, chained or still pending. Verification
//! ([`db::verify`]) reports the first movement whose transaction has none: stock moved
//! behind the audit trail's back. No module has to remember to name its movements for
//! this to hold.

pub mod chain;
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
        self.canonical_json_with_seq(self.seq)
    }

    /// The canonical JSON up to the value of `seq`, which sorts last of the keys:
    /// `canonical_json()` is this text, then `seq` in decimal, then `}`. It lets the
    /// database compute the hash in the statement that assigns `seq` (the batch of
    /// [`chain`]).
    pub fn canonical_json_head(&self) -> String {
        let mut text = self.canonical_json_with_seq(0);
        debug_assert!(text.ends_with(r#","seq":0}"#), "seq must sort last");
        text.truncate(text.len() - "0}".len());
        text
    }

    fn canonical_json_with_seq(&self, seq: i64) -> String {
        // serde_json's map is ordered by key (no `preserve_order`), so this is canonical.
        let mut fields = self.fields();
        fields.insert("seq".into(), json!(seq));
        Value::Object(fields).to_string()
    }

    /// The event's own fields, keyed by their column names (no `seq`).
    fn fields(&self) -> serde_json::Map<String, Value> {
        [
            (
                "at",
                json!(self.at.to_rfc3339_opts(SecondsFormat::Micros, true)),
            ),
            ("actor_id", json!(self.actor_id)),
            ("actor_username", json!(self.actor_username)),
            ("action", json!(self.action)),
            ("entity_kind", json!(self.entity_kind)),
            ("entity_id", json!(self.entity_id)),
            ("request_id", json!(self.request_id)),
            ("idempotency_key", json!(self.idempotency_key)),
            ("before", json!(self.before)),
            ("after", json!(self.after)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The event as it goes into `audit_pending`: one jsonb value keyed by column name,
    /// which the table's `audit_pending_expand` trigger spreads over the columns (`canon`
    /// is [`Self::canonical_json_head`]; the chainer assigns `seq`). Every
    /// statement that records an event binds this one value.
    pub fn pending_json(&self) -> Value {
        let mut fields = self.fields();
        fields.insert("canon".into(), json!(self.canonical_json_head()));
        // Whose answer waits for it (column `ticket`, not part of the event).
        if let Some(ticket) = chain::request_ticket() {
            fields.insert("ticket".into(), json!(ticket));
        }
        Value::Object(fields)
    }

    /// `sha256(prev_hash || canonical_json)`, hex.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(self.canonical_json().as_bytes());
        hex::encode(h.finalize())
    }
}

/// What a command did: its answer (as JSON) and the audit event to record with it.
#[derive(Debug)]
pub struct Done {
    /// The answer.
    pub answer: Value,
    /// The audit event.
    pub change: Change<'static>,
}

/// A command's result: an earlier answer replayed when its `Idempotency-Key` was
/// claimed before (`R`, a response), or the work done.
pub type Outcome<R> = std::ops::ControlFlow<R, Done>;

/// Where a command came from, as its audit event and ledger rows record it: the request
/// id and the `Idempotency-Key` of an HTTP request (see `audit::http` for its
/// extractor), or neither for the CLI and the demo loader.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The `x-request-id` of this request.
    pub request_id: Option<String>,
    /// The `Idempotency-Key`, if sent.
    pub idempotency_key: Option<String>,
}

impl Origin {
    /// A command typed at the command line: no request id, no key.
    pub fn cli() -> Self {
        Self::default()
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

/// The outcome of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether the chain and the ledger link are intact.
    pub ok: bool,
    /// Events read, in seq order, up to and including the first broken one.
    pub events_checked: i64,
    /// The first seq at which the chain is broken (for a deleted event: the missing seq).
    pub first_broken_seq: Option<i64>,
    /// What is wrong, in words; absent when `ok`.
    pub reason: Option<String>,
    /// Ledger movements checked against the events that name them.
    pub movements_checked: i64,
    /// The first ledger movement without exactly one audit event naming it.
    pub first_broken_movement_id: Option<i64>,
    /// Events committed but not yet chained (the chainer takes them within
    /// milliseconds). They are not part of the chain checked; their transactions'
    /// movements count as audited.
    pub pending_events: i64,
}

/// Recomputes the chain one event at a time, in seq order, in constant memory.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    expected_seq: i64,
    prev_hash: String,
    checked: i64,
    broken: Option<(i64, String)>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self::new()
    }
}

/// The `prev_hash` of the first event.
pub fn genesis_hash() -> String {
    "0".repeat(64)
}

impl ChainCheck {
    /// A check expecting the chain to start at seq 1 after the genesis hash.
    pub fn new() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: genesis_hash(),
            checked: 0,
            broken: None,
        }
    }

    /// Feeds the next stored event (ordered by seq) with its stored hashes. Returns
    /// `false` once the chain is broken; later events need not be fed.
    pub fn push(&mut self, event: &Event, stored_prev_hash: &str, stored_hash: &str) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        let seq = event.seq;
        let broken = if seq > self.expected_seq {
            Some((
                self.expected_seq,
                format!(
                    "events {}..{} are missing: the sequence jumps from {} to {seq} (deleted rows)",
                    self.expected_seq,
                    seq - 1,
                    self.expected_seq - 1
                ),
            ))
        } else if seq < self.expected_seq {
            Some((
                seq,
                format!(
                    "event {seq} is out of order (expected {})",
                    self.expected_seq
                ),
            ))
        } else if stored_prev_hash != self.prev_hash {
            Some((
                seq,
                format!(
                    "event {seq}'s prev_hash does not match the hash of event {} (reordered or \
                     replaced rows)",
                    seq - 1
                ),
            ))
        } else if event.hash(stored_prev_hash) != stored_hash {
            Some((
                seq,
                format!("event {seq} was edited: its hash does not match its content"),
            ))
        } else {
            None
        };
        match broken {
            Some(b) => {
                self.broken = Some(b);
                false
            }
            None => {
                self.prev_hash = stored_hash.to_owned();
                self.expected_seq += 1;
                true
            }
        }
    }

    /// Ends the walk against the chain head row (`audit_chain_head`), which catches
    /// events deleted from the end of the chain.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Verification {
        let last = self.expected_seq - 1;
        let broken = self.broken.or_else(|| {
            if head_seq != last {
                Some((
                    last.min(head_seq) + 1,
                    format!(
                        "the chain head is at seq {head_seq} but the last event is {last} \
                         (events deleted at the end, or the head was tampered with)"
                    ),
                ))
            } else if head_hash != self.prev_hash {
                Some((
                    head_seq,
                    format!("the chain head's hash does not match event {head_seq}"),
                ))
            } else {
                None
            }
        });
        Verification {
            ok: broken.is_none(),
            events_checked: self.checked,
            first_broken_seq: broken.as_ref().map(|b| b.0),
            reason: broken.map(|b| b.1),
            movements_checked: 0,
            first_broken_movement_id: None,
            pending_events: 0,
        }
    }
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
    fn the_canonical_head_is_the_canonical_json_cut_before_seq() {
        let mut e = event();
        e.seq = 123_456;
        let text = e.canonical_json();
        assert_eq!(format!("{}{}}}", e.canonical_json_head(), e.seq), text);
        let mut h = Sha256::new();
        h.update(b"prev");
        h.update(format!("{}{}}}", e.canonical_json_head(), e.seq).as_bytes());
        assert_eq!(hex::encode(h.finalize()), e.hash("prev"));
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

    fn chain(n: i64) -> Vec<(Event, String, String)> {
        let mut prev = genesis_hash();
        (1..=n)
            .map(|seq| {
                let e = Event { seq, ..event() };
                let h = e.hash(&prev);
                let row = (e, prev.clone(), h.clone());
                prev = h;
                row
            })
            .collect()
    }

    fn run(rows: &[(Event, String, String)], head: (i64, &str)) -> Verification {
        let mut check = ChainCheck::new();
        for (e, p, h) in rows {
            if !check.push(e, p, h) {
                break;
            }
        }
        check.finish(head.0, head.1)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(5);
        let v = run(&rows, (5, &rows[4].2));
        assert!(v.ok, "{v:?}");
        assert_eq!(v.events_checked, 5);
    }

    #[test]
    fn edits_gaps_swaps_and_truncation_are_each_found_at_the_right_seq() {
        let rows = chain(5);
        let head = (5, rows[4].2.as_str());
        let mut edited = rows.clone();
        edited[2].0.after = Some(json!({"a": 999}));
        assert_eq!(run(&edited, head).first_broken_seq, Some(3));

        let mut gap = rows.clone();
        gap.remove(1);
        let v = run(&gap, head);
        assert_eq!(v.first_broken_seq, Some(2));
        assert!(v.reason.unwrap_or_default().contains("missing"));

        let mut swapped = rows.clone();
        let (a, b) = (swapped[1].clone(), swapped[2].clone());
        swapped[1] = (Event { seq: 2, ..b.0 }, b.1, b.2);
        swapped[2] = (Event { seq: 3, ..a.0 }, a.1, a.2);
        assert_eq!(run(&swapped, head).first_broken_seq, Some(2));

        let v = run(&rows[..4], head);
        assert_eq!(v.first_broken_seq, Some(5));
    }
}
