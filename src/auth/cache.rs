//! A per-process cache of validated bearer tokens, so that an authenticated request does
//! not cost a database round trip (and a pool checkout) before its real work.
//!
//! Revocation must still take effect at once, in every process. The database announces
//! every change that can invalidate a session: a statement trigger on `sessions`, `users`
//! and `user_warehouses` sends `NOTIFY stockpile_auth` (migration `session_notify`), so
//! no code path, CLI or manual SQL can forget to. Each process listens on that channel
//! ([`crate::db::changes`]) and drops its whole cache on every notification. The process
//! that made the change also drops its cache right after committing, so its own next
//! request never sees the old session.
//!
//! The cache is only used while the listener is connected: until it has subscribed, and
//! whenever its connection is lost, every request reads the database. A lookup that
//! raced a notification is not cached (the generation check in [`SessionCache::store`]).
//! As a last guard, an entry is trusted for at most [`MAX_AGE`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Actor;

/// The channel the `session_notify` triggers send on.
pub const CHANNEL: &str = "stockpile_auth";
/// The longest an entry is trusted without a fresh database read.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// Entries kept before the cache starts over (a bound on memory, not a tuning knob).
const CAPACITY: usize = 10_000;

/// Validated sessions by token hash; see the module docs.
#[derive(Debug, Default)]
pub struct SessionCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    listening: bool,
    generation: u64,
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    actor: Actor,
    expires_at: DateTime<Utc>,
    stored: Instant,
}

/// Taken before a database lookup and handed back to [`SessionCache::store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl SessionCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever a panicking holder did: every method
        // completes its change before it can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The actor of a cached, unexpired session, as of `now`.
    pub fn lookup(&self, token_hash: &str, now: DateTime<Utc>) -> Option<Actor> {
        let state = self.state();
        if !state.listening {
            return None;
        }
        let entry = state.entries.get(token_hash)?;
        (entry.expires_at > now && entry.stored.elapsed() < MAX_AGE).then(|| entry.actor.clone())
    }

    /// Marks the start of a database lookup.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.state().generation)
    }

    /// Caches what a lookup that started at `ticket` found, unless anything was
    /// invalidated since (the lookup may have read the state before the change).
    pub fn store(
        &self,
        token_hash: &str,
        ticket: Ticket,
        actor: &Actor,
        expires_at: DateTime<Utc>,
    ) {
        let mut state = self.state();
        if !state.listening || state.generation != ticket.0 {
            return;
        }
        if state.entries.len() >= CAPACITY {
            state.entries.clear();
        }
        state.entries.insert(
            token_hash.to_owned(),
            Entry {
                actor: actor.clone(),
                expires_at,
                stored: Instant::now(),
            },
        );
    }
}

impl crate::db::changes::Invalidate for SessionCache {
    fn invalidate(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.clear();
    }

    fn set_listening(&self, listening: bool) {
        let mut state = self.state();
        state.generation += 1;
        state.entries.clear();
        state.listening = listening;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::db::changes::Invalidate;
    use crate::ids::UserId;

    fn actor() -> Actor {
        Actor {
            id: UserId(uuid::Uuid::nil()),
            username: "carl".into(),
            role: Role::Clerk,
            warehouses: vec![],
        }
    }

    fn listening() -> SessionCache {
        let cache = SessionCache::default();
        cache.set_listening(true);
        cache
    }

    #[test]
    fn a_stored_session_is_found_until_it_expires() {
        let cache = listening();
        let now = Utc::now();
        let ticket = cache.ticket();
        cache.store("h", ticket, &actor(), now + chrono::Duration::seconds(60));

        assert_eq!(
            cache.lookup("h", now).map(|a| a.username),
            Some("carl".into())
        );
        assert!(
            cache
                .lookup("h", now + chrono::Duration::seconds(61))
                .is_none()
        );
        assert!(cache.lookup("other", now).is_none());
    }

    #[test]
    fn nothing_is_cached_while_the_listener_is_not_subscribed() {
        let cache = SessionCache::default();
        let now = Utc::now();
        cache.store(
            "h",
            cache.ticket(),
            &actor(),
            now + chrono::Duration::hours(1),
        );
        assert!(cache.lookup("h", now).is_none());

        let cache = listening();
        cache.store(
            "h",
            cache.ticket(),
            &actor(),
            now + chrono::Duration::hours(1),
        );
        cache.set_listening(false);
        assert!(
            cache.lookup("h", now).is_none(),
            "losing the listener forgets all"
        );
    }

    #[test]
    fn a_lookup_that_raced_an_invalidation_is_not_cached() {
        let cache = listening();
        let now = Utc::now();
        let ticket = cache.ticket();
        cache.invalidate(); // a session changed while the lookup was reading
        cache.store("h", ticket, &actor(), now + chrono::Duration::hours(1));
        assert!(cache.lookup("h", now).is_none());
    }

    #[test]
    fn invalidation_forgets_every_session() {
        let cache = listening();
        let now = Utc::now();
        for h in ["a", "b"] {
            cache.store(
                h,
                cache.ticket(),
                &actor(),
                now + chrono::Duration::hours(1),
            );
        }
        cache.invalidate();
        assert!(cache.lookup("a", now).is_none());
        assert!(cache.lookup("b", now).is_none());
    }
}
