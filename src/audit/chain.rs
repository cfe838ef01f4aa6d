//! Group chaining: events join the hash chain in batches, after their transactions
//! commit, and a write is answered only once its events are in the chain.
//!
//! A transaction appends its events to `audit_pending` and commits without touching the
//! chain's head (migration `audit_group_chain`). The SQL function `audit_chain_batch`
//! then chains every committed pending event in one transaction: it locks the head,
//! hashes the events in id order, inserts them into `audit_events`, deletes them from
//! `audit_pending` and advances the head once. One head lock and one WAL flush serve a
//! whole batch, instead of one each per write.
//!
//! Invariants:
//! - **One chainer at a time, across processes.** Each `serve` process runs a task that
//!   takes a session advisory lock ([`LOCK_KEY`]) on a connection of its own; only the
//!   holder calls the batch function, again as soon as the last batch ends and anyone
//!   waits. If its process or connection dies, the lock goes with it, the batch in
//!   flight rolls back, and another process (or the restarted one) takes over within
//!   [`LOCK_RETRY`]. Pending events left by a crash are chained by the next batch. Any
//!   other caller of the batch function (the CLI's [`drain`]) queues on the head row, so
//!   the chain stays gapless even then. One batch at a time: on a 2-core machine at 8
//!   clients the system is CPU-bound, and what the chain costs is the CPU of its
//!   batches, mostly fixed per batch; a second batch in flight (tried, on a second
//!   connection) made batches smaller and more frequent, and writes/s fell by 10–20 %
//!   (docs/performance.md).
//! - **A request is answered by the batch that chained its events.** Its pending events
//!   carry its [`Ticket`]'s id, and each batch returns the ids it chained, so a batch
//!   sent before the request's transaction committed, but that took its snapshot after,
//!   releases it. A request whose events are not all seen that way waits for a batch
//!   that started after it.
//! - **Nothing is acknowledged unchained.** The HTTP layer
//!   (`audit::http::answer_when_chained`) holds back every successful write, and every
//!   response whose handler recorded an event, until [`Chain::wait_chained`] returns:
//!   until a batch that started after the response was ready, and therefore saw its
//!   committed events, has committed. When the chainer runs in this process, that is an
//!   in-memory signal and costs no query. When it runs elsewhere (or nowhere), the
//!   database is the truth: the request waits until no pending row with an id up to the
//!   highest it saw remains, wakes the chainer with a `NOTIFY` and listens for the
//!   batches it announces. Past the wait limit the answer is a 503, never a success.
//! - **A write is durable by its batch, in one server lifetime.** The service's writes
//!   that record an event commit without a WAL flush of their own (migration
//!   `writes_durable_by_the_chain`, `db::durable_by_chain`): the batch that chains the
//!   event commits synchronously after them, and its flush covers theirs. A crash in
//!   between loses the write, and a batch on the restarted server would prove nothing
//!   about it. So before the handler runs, the request takes a [`Ticket`]: the server
//!   lifetime (`server_lifetime()`, named in an unlogged table that crash recovery
//!   empties) as this process last saw it. The batch that releases the request must
//!   have run in that lifetime (the local chainer's connection was opened in it), and the
//!   check of a chainer elsewhere must read it again beside "nothing of mine pending".
//!   Lifetimes never come back, so the same lifetime before the write and after the
//!   batch means none ended in between. Otherwise the answer is a 503: retry with the
//!   same key.
//! - **Writers never `NOTIFY`.** PostgreSQL serialises the commits of notifying
//!   transactions; only waiters of other processes, and the chainer for them, notify.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use uuid::Uuid;

use crate::db::changes::{Invalidate, Subscriber};
use crate::error::AppError;

/// The session advisory lock that elects the chainer (`pg_try_advisory_lock`).
pub const LOCK_KEY: i64 = 0x5354_4b50_4348_4e31; // "STKPCHN1"
/// The channel on which the chainer announces its batches to other processes' waiters.
pub const CHAINED_CHANNEL: &str = "stockpile_audit_chain";
/// The channel on which other processes' waiters wake the chainer.
pub const WAKE_CHANNEL: &str = "stockpile_audit_wake";
/// The `application_name` of the chainer's connection.
pub const APPLICATION_NAME: &str = "stockpile audit chainer";
/// Events chained per batch at most. A batch that chains fewer has chained everything
/// committed before it started.
pub const BATCH: i32 = 1000;
/// How often a process without the lock tries to take it.
pub const LOCK_RETRY: Duration = Duration::from_millis(250);
/// How often the chainer looks for pending events when nobody wakes it: events of
/// other processes whose wake-up was lost, or left by a crash.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often a request waiting on a chainer elsewhere looks at the database.
const REMOTE_POLL: Duration = Duration::from_millis(20);
/// How often such a request wakes that chainer again.
const REMOTE_WAKE_EVERY: Duration = Duration::from_millis(250);
/// How long the chainer keeps announcing its batches after a waiter elsewhere woke it.
const ANNOUNCE_FOR: Duration = Duration::from_secs(2);
/// How many of its latest batches' tickets the chainer keeps for the waiters.
const RECENT_BATCHES: usize = 64;

/// What the chainer of this process has done.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// It holds the advisory lock.
    leading: bool,
    /// The server lifetime its connections were opened in, while it leads.
    lifetime: Option<Uuid>,
    /// When the latest batch that chained everything pending started.
    drained: Option<Instant>,
    /// How many batches it has committed, ever: the number of the latest.
    batches: u64,
}

/// A committed batch of the local chainer, and the tickets of the events it chained.
#[derive(Debug)]
struct Chained {
    /// Its number ([`Progress::batches`]).
    number: u64,
    /// The server lifetime it ran in.
    lifetime: Uuid,
    /// One per event that carried a ticket.
    tickets: Vec<i64>,
}

/// What a request's answer is held to, taken before its handler runs ([`Chain::ticket`]):
/// the server lifetime as this process knew it, which the batch that acknowledges the
/// request's writes must have run in (`None` when it could not be learned: the database
/// was away); the request's own id, which its pending events carry; and how many
/// batches the local chainer had committed by then.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    lifetime: Option<Uuid>,
    id: i64,
    batches: u64,
}

impl Ticket {
    /// A new ticket id: unique in this process, and random across processes.
    fn next_id() -> i64 {
        static SALT: OnceLock<i64> = OnceLock::new();
        static NEXT: AtomicI64 = AtomicI64::new(0);
        let salt = *SALT.get_or_init(|| Uuid::new_v4().as_u64_pair().0.cast_signed());
        salt.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Why a write's events were not proven chained, short of a database error.
enum Unproven {
    /// The server lifetime ended after the ticket was taken (or was never known): the
    /// write may have been lost with it.
    LifetimeEnded,
}

/// This process's side of the chain: its chainer task and the requests waiting on it.
#[derive(Debug)]
pub struct Chain {
    /// False only for benchmarks of the unchained system (`Chain::off`).
    on: bool,
    /// How long a write waits for its events to be chained before it fails with a 503.
    wait_limit: Duration,
    /// Wakes the local chainer.
    wake: Notify,
    /// Published by the local chainer.
    progress: watch::Sender<Progress>,
    /// A chainer elsewhere announced a batch.
    remote: Notify,
    /// Until when the local chainer announces its batches.
    announce_until: Mutex<Option<Instant>>,
    /// The server lifetime last seen by this process (by its chainer or a waiter).
    lifetime: Mutex<Option<Uuid>>,
    /// The local chainer's latest batches that chained events with tickets, oldest first.
    recent: Mutex<VecDeque<Chained>>,
}

impl Chain {
    /// A chain whose writes wait at most `wait_limit` for their events to be chained.
    pub fn new(wait_limit: Duration) -> Arc<Self> {
        Self::build(true, wait_limit)
    }

    /// For benchmarks only: no chainer, and writes are answered without waiting, so
    /// their events stay pending, unchained. It measures what the chain costs, and
    /// breaks the audit trail's promise.
    pub fn off() -> Arc<Self> {
        Self::build(false, Duration::ZERO)
    }

    fn build(on: bool, wait_limit: Duration) -> Arc<Self> {
        Arc::new(Self {
            on,
            wait_limit,
            wake: Notify::new(),
            progress: watch::channel(Progress::default()).0,
            remote: Notify::new(),
            announce_until: Mutex::new(None),
            lifetime: Mutex::new(None),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_BATCHES)),
        })
    }

    /// Whether this process's chainer holds the lock just now.
    pub fn leading(&self) -> bool {
        self.progress.borrow().leading
    }

    /// The listener subscriptions that connect this process to chainers and waiters of
    /// other processes (see `db::changes`).
    pub fn subscribers(self: &Arc<Self>) -> Vec<Subscriber> {
        vec![
            (CHAINED_CHANNEL, Arc::new(Announced(self.clone()))),
            (WAKE_CHANNEL, Arc::new(WokenFromElsewhere(self.clone()))),
        ]
    }

    /// Starts this process's chainer task, which runs until `pool` is closed. Call it
    /// once, from inside the runtime.
    pub fn spawn(self: &Arc<Self>, pool: &PgPool) {
        if !self.on {
            tracing::warn!(
                "the audit chain is off: writes are answered with their events unchained \
                 (a benchmark setting, never for real use)"
            );
            return;
        }
        let chain = self.clone();
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut warned = false;
            while !pool.is_closed() {
                if let Err(error) = chain.lead(&pool, &mut warned).await
                    && !pool.is_closed()
                    && !std::mem::replace(&mut warned, true)
                {
                    tracing::warn!(%error, "audit chainer lost its connection; retrying");
                }
                tokio::time::sleep(LOCK_RETRY).await;
            }
        });
    }

    /// Connects, waits for the lock, then chains whenever a waiter wakes it (or every
    /// [`IDLE_POLL`]) until the connection fails or the pool closes. Dropping the
    /// connection releases the lock.
    async fn lead(&self, pool: &PgPool, warned: &mut bool) -> Result<(), sqlx::Error> {
        // The service pool's options as they are now: after a failover they name the
        // new primary (`db::primary`).
        let options = pool
            .connect_options()
            .as_ref()
            .clone()
            .application_name(APPLICATION_NAME);
        let mut conn = PgConnection::connect_with(&options).await?;
        loop {
            let locked =
                sqlx::query_scalar!(r#"select pg_try_advisory_lock($1) as "locked!""#, LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await?;
            if locked {
                break;
            }
            if pool.is_closed() {
                return Ok(());
            }
            tokio::time::sleep(LOCK_RETRY).await;
        }
        // A connection lives within one server lifetime: a crash-restart ends it, so
        // every batch on it ran in the lifetime read now.
        let lifetime = server_lifetime(&mut conn).await?;
        self.saw_lifetime(lifetime);
        tracing::info!("this process chains the audit trail");
        *warned = false;
        let _leading = Leading::new(self, lifetime);
        while !pool.is_closed() {
            let started = Instant::now();
            let (chained, tickets) = batch(&mut conn, BATCH, self.announcing()).await?;
            self.publish(lifetime, started, chained, tickets);
            if chained < BATCH {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
        conn.close().await
    }

    /// Makes a committed batch known to the waiters: its tickets first, then its number
    /// (and, if it chained everything pending, its start), which wakes them.
    fn publish(&self, lifetime: Uuid, started: Instant, chained: i32, tickets: Vec<i64>) {
        let number = self.progress.borrow().batches + 1;
        if !tickets.is_empty()
            && let Ok(mut recent) = self.recent.lock()
        {
            if recent.len() == RECENT_BATCHES {
                recent.pop_front();
            }
            recent.push_back(Chained {
                number,
                lifetime,
                tickets,
            });
        }
        self.progress.send_modify(|p| {
            p.batches = number;
            if chained < BATCH {
                p.drained = p.drained.max(Some(started));
            }
        });
    }

    /// Whether batches of `lifetime` committed since the ticket was taken chained at
    /// least `events` events that carry its id: all the request recorded (`events`
    /// counts the events it built, so it can only over-count, which only makes the
    /// request wait for the other rule).
    fn chained_all(&self, ticket: &Ticket, lifetime: Uuid, events: u32) -> bool {
        if events == 0 {
            return false;
        }
        let Ok(recent) = self.recent.lock() else {
            return false;
        };
        let seen: usize = recent
            .iter()
            .filter(|b| b.number > ticket.batches && b.lifetime == lifetime)
            .map(|b| b.tickets.iter().filter(|&&t| t == ticket.id).count())
            .sum();
        seen >= events as usize
    }

    fn announcing(&self) -> bool {
        let until = self.announce_until.lock().map(|u| *u).unwrap_or(None);
        until.is_some_and(|u| Instant::now() < u)
    }

    /// The server lifetime to hold a request's writes to ([`Ticket`]), taken before its
    /// handler runs: the one this process last saw, or asked now if it knows none. A
    /// stale one costs a 503 on a write, never a false acknowledgement.
    pub async fn ticket(&self, pool: &PgPool) -> Ticket {
        let mut ticket = Ticket {
            lifetime: None,
            id: Ticket::next_id(),
            batches: self.progress.borrow().batches,
        };
        if !self.on {
            return ticket;
        }
        ticket.lifetime = match self.known_lifetime() {
            Some(known) => Some(known),
            None => match sqlx::query_scalar!(r#"select server_lifetime() as "id!""#)
                .fetch_one(pool)
                .await
            {
                Ok(lifetime) => {
                    self.saw_lifetime(lifetime);
                    Some(lifetime)
                }
                Err(_) => None,
            },
        };
        ticket
    }

    fn known_lifetime(&self) -> Option<Uuid> {
        self.lifetime.lock().map(|l| *l).unwrap_or(None)
    }

    fn saw_lifetime(&self, lifetime: Uuid) {
        if let Ok(mut known) = self.lifetime.lock() {
            *known = Some(lifetime);
        }
    }

    /// Waits until every event committed since `ticket` was taken and before the call
    /// is in the chain, by a batch of the ticket's server lifetime: the acknowledgement
    /// of a write. `events`: how many events the request built (see [`watch_recording`]);
    /// once the local chainer has chained that many with the ticket's id, the wait is
    /// over, even if the batch was sent before the write committed. A 503 if that takes longer than the wait limit (the chainer is down or
    /// the database hung): the change is committed and will be chained, but it is not
    /// acknowledged. A 503 at once if the server's lifetime ended since the ticket: the
    /// change may have been lost with it.
    pub async fn wait_chained(
        &self,
        pool: &PgPool,
        ticket: Ticket,
        events: u32,
    ) -> Result<(), AppError> {
        if !self.on {
            return Ok(());
        }
        let since = Instant::now();
        let Some(lifetime) = ticket.lifetime else {
            return Err(lifetime_ended());
        };
        match tokio::time::timeout(
            self.wait_limit,
            self.chained_since(pool, since, &ticket, lifetime, events),
        )
        .await
        {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(Unproven::LifetimeEnded))) => Err(lifetime_ended()),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(AppError::Unavailable {
                detail: format!(
                    "the change is committed but its audit event was not chained within {} \
                     s; retry with the same Idempotency-Key, which never repeats what was \
                     done",
                    self.wait_limit.as_secs_f64()
                ),
                retry_after_secs: 5,
            }),
        }
    }

    async fn chained_since(
        &self,
        pool: &PgPool,
        since: Instant,
        ticket: &Ticket,
        lifetime: Uuid,
        events: u32,
    ) -> Result<Result<(), Unproven>, sqlx::Error> {
        let mut progress = self.progress.subscribe();
        // The highest pending id when the database was first asked: every event
        // committed before `since` has an id up to it, or is chained already.
        let mut bound: Option<i64> = None;
        let mut woken: Option<Instant> = None;
        loop {
            let now = *progress.borrow_and_update();
            if now.leading && now.lifetime == Some(lifetime) {
                // Batches of the ticket's lifetime chained every event of the request, or
                // one that started after `since` saw every event committed before; either
                // way, their flush made the writes durable.
                if self.chained_all(ticket, lifetime, events)
                    || now.drained.is_some_and(|d| d >= since)
                {
                    return Ok(Ok(()));
                }
                self.wake.notify_one();
                // `self` holds the sender, so this cannot fail.
                let _ = progress.changed().await;
                continue;
            }
            // The database is the truth, read together with the lifetime it is in.
            let (current, pending) = match bound {
                None => {
                    let (current, highest) = highest_pending(pool).await?;
                    bound = Some(highest);
                    (current, highest > 0)
                }
                Some(b) => pending_up_to(pool, b).await?,
            };
            if current != lifetime {
                self.saw_lifetime(current);
                return Ok(Err(Unproven::LifetimeEnded));
            }
            if !pending {
                return Ok(Ok(()));
            }
            if woken.is_none_or(|t| t.elapsed() >= REMOTE_WAKE_EVERY) {
                wake_elsewhere(pool).await?;
                woken = Some(Instant::now());
            }
            tokio::select! {
                _ = self.remote.notified() => {}
                _ = progress.changed() => {}
                _ = tokio::time::sleep(REMOTE_POLL) => {}
            }
        }
    }
}

/// Marks this process's chainer as leading while it lives, and not once it is dropped
/// (whatever ends the leadership: an error, the pool closing, a panic).
struct Leading<'a>(&'a Chain);

impl<'a> Leading<'a> {
    fn new(chain: &'a Chain, lifetime: Uuid) -> Self {
        chain.progress.send_modify(|p| {
            p.leading = true;
            p.lifetime = Some(lifetime);
            p.drained = None;
        });
        Self(chain)
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.0.progress.send_modify(|p| {
            p.leading = false;
            p.lifetime = None;
        });
    }
}

/// The 503 of a write whose server lifetime ended before its events were proven chained.
fn lifetime_ended() -> AppError {
    AppError::Unavailable {
        detail: "the database restarted (or could not be reached) before the change was \
                 confirmed durable and chained; it may not have been kept. Retry with the \
                 same Idempotency-Key, which never repeats what was done"
            .to_owned(),
        retry_after_secs: 1,
    }
}

/// A batch announced by a chainer (of any process): waiters on a chainer elsewhere look
/// at the database again.
struct Announced(Arc<Chain>);

impl Invalidate for Announced {
    fn invalidate(&self) {
        self.0.remote.notify_waiters();
    }
    fn set_listening(&self, listening: bool) {
        if !listening {
            // The listener lost the database: it may come back in a new lifetime, so the
            // next ticket asks instead of holding writes to the old one (a 503 each).
            if let Ok(mut known) = self.0.lifetime.lock() {
                *known = None;
            }
        }
        // Waiters poll the database in any case; notifications only shorten the wait.
        self.0.remote.notify_waiters();
    }
}

/// A request of another process waits on this chainer (or on whoever leads).
struct WokenFromElsewhere(Arc<Chain>);

impl Invalidate for WokenFromElsewhere {
    fn invalidate(&self) {
        if let Ok(mut until) = self.0.announce_until.lock() {
            *until = Some(Instant::now() + ANNOUNCE_FOR);
        }
        self.0.wake.notify_one();
    }
    fn set_listening(&self, _listening: bool) {}
}

/// Chains up to `max` pending events in one transaction (`audit_chain_batch`) and
/// returns how many, and the tickets they carried; fewer than `max` means everything
/// committed before the call is chained. With `announce`, the batch is announced on
/// [`CHAINED_CHANNEL`].
pub async fn batch(
    conn: &mut PgConnection,
    max: i32,
    announce: bool,
) -> Result<(i32, Vec<i64>), sqlx::Error> {
    let row = sqlx::query!(
        r#"select chained as "chained!", tickets as "tickets!"
             from audit_chain_batch($1, $2)"#,
        max,
        announce
    )
    .fetch_one(conn)
    .await?;
    Ok((row.chained, row.tickets))
}

/// Chains every event committed so far, here and now, and returns how many. For the CLI
/// and the demo loader, which have no chainer of their own, and for exports, whose
/// manifest names their own event's place in the chain. Safe beside a running chainer:
/// both queue on the chain's head row.
pub async fn drain(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut total = 0;
    loop {
        let (chained, _) = batch(&mut conn, BATCH, false).await?;
        total += i64::from(chained);
        if chained < BATCH {
            return Ok(total);
        }
    }
}

/// The server lifetime (`server_lifetime()`, migration `writes_durable_by_the_chain`).
async fn server_lifetime(conn: &mut PgConnection) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(r#"select server_lifetime() as "id!""#)
        .fetch_one(conn)
        .await
}

/// The server lifetime, and the highest id in `audit_pending` (0 when it is empty).
async fn highest_pending(pool: &PgPool) -> Result<(Uuid, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"select server_lifetime() as "lifetime!",
                  coalesce((select max(id) from audit_pending), 0) as "id!""#
    )
    .fetch_one(pool)
    .await?;
    Ok((row.lifetime, row.id))
}

/// The server lifetime, and whether a pending event with an id up to `bound` remains.
async fn pending_up_to(pool: &PgPool, bound: i64) -> Result<(Uuid, bool), sqlx::Error> {
    let row = sqlx::query!(
        r#"select server_lifetime() as "lifetime!",
                  exists (select from audit_pending where id <= $1) as "pending!""#,
        bound
    )
    .fetch_one(pool)
    .await?;
    Ok((row.lifetime, row.pending))
}

/// Wakes the chainer of another process.
async fn wake_elsewhere(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_notify($1, '')", WAKE_CHANNEL)
        .execute(pool)
        .await?;
    Ok(())
}

/// What the current request has recorded so far.
#[derive(Debug, Clone, Copy)]
struct Recording {
    /// The request's ticket id, which its pending events carry.
    ticket: i64,
    /// How many events it has built.
    events: u32,
}

tokio::task_local! {
    /// Set for the handler of a request ([`watch_recording`]).
    static RECORDED: Cell<Recording>;
}

/// Notes that the current request records an audit event, so that its answer waits for
/// the chain even when it is not a write by its method (an export). Outside a request
/// (the CLI), nothing.
pub(crate) fn note_recorded() {
    let _ = RECORDED.try_with(|r| {
        let mut now = r.get();
        now.events += 1;
        r.set(now);
    });
}

/// The ticket id of the current request, for its pending events (`None` outside one).
pub(crate) fn request_ticket() -> Option<i64> {
    RECORDED.try_with(|r| r.get().ticket).ok()
}

/// Runs `fut` (a request's handler) under `ticket`, and says how many audit events it
/// built.
pub async fn watch_recording<F: Future>(fut: F, ticket: &Ticket) -> (F::Output, u32) {
    let recording = Recording {
        ticket: ticket.id,
        events: 0,
    };
    RECORDED
        .scope(Cell::new(recording), async move {
            let out = fut.await;
            (out, RECORDED.with(|r| r.get().events))
        })
        .await
}
