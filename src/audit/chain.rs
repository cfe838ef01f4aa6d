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
//!   the chain stays gapless even then.
//! - **Nothing is acknowledged unchained.** The HTTP layer
//!   (`audit::http::answer_when_chained`) holds back every successful write, and every
//!   response whose handler recorded an event, until [`Chain::wait_chained`] returns:
//!   until a batch that started after the response was ready, and therefore saw its
//!   committed events, has committed. When the chainer runs in this process, that is an
//!   in-memory signal and costs no query. When it runs elsewhere (or nowhere), the
//!   database is the truth: the request waits until no pending row with an id up to the
//!   highest it saw remains, wakes the chainer with a `NOTIFY` and listens for the
//!   batches it announces. Past the wait limit the answer is a 503, never a success.
//! - **Writers never `NOTIFY`.** PostgreSQL serialises the commits of notifying
//!   transactions; only waiters of other processes, and the chainer for them, notify.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

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

/// What the chainer of this process has done.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// It holds the advisory lock.
    leading: bool,
    /// When the latest batch that chained everything pending started.
    drained: Option<Instant>,
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

    /// Connects, waits for the lock, then chains until the connection fails or the pool
    /// closes. Dropping the connection releases the lock.
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
        tracing::info!("this process chains the audit trail");
        *warned = false;
        let _leading = Leading::new(self);
        while !pool.is_closed() {
            let started = Instant::now();
            let chained = batch(&mut conn, BATCH, self.announcing()).await?;
            if chained < BATCH {
                self.progress.send_modify(|p| p.drained = Some(started));
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
        conn.close().await
    }

    fn announcing(&self) -> bool {
        let until = self.announce_until.lock().map(|u| *u).unwrap_or(None);
        until.is_some_and(|u| Instant::now() < u)
    }

    /// Waits until every event committed before the call is in the chain: the
    /// acknowledgement of a write. A 503 if that takes longer than the wait limit (the
    /// chainer is down or the database hung): the change is committed and will be
    /// chained, but it is not acknowledged.
    pub async fn wait_chained(&self, pool: &PgPool) -> Result<(), AppError> {
        if !self.on {
            return Ok(());
        }
        let since = Instant::now();
        match tokio::time::timeout(self.wait_limit, self.chained_since(pool, since)).await {
            Ok(result) => Ok(result?),
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

    async fn chained_since(&self, pool: &PgPool, since: Instant) -> Result<(), sqlx::Error> {
        let mut progress = self.progress.subscribe();
        // The highest pending id when the database was first asked: every event
        // committed before `since` has an id up to it, or is chained already.
        let mut bound: Option<i64> = None;
        let mut woken: Option<Instant> = None;
        loop {
            let now = *progress.borrow_and_update();
            if now.leading {
                // A batch that started after `since` saw every event committed before.
                if now.drained.is_some_and(|d| d >= since) {
                    return Ok(());
                }
                self.wake.notify_one();
                // `self` holds the sender, so this cannot fail.
                let _ = progress.changed().await;
                continue;
            }
            let pending = match bound {
                None => {
                    let highest = highest_pending(pool).await?;
                    bound = Some(highest);
                    highest > 0
                }
                Some(b) => pending_up_to(pool, b).await?,
            };
            if !pending {
                return Ok(());
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
    fn new(chain: &'a Chain) -> Self {
        chain.progress.send_modify(|p| {
            p.leading = true;
            p.drained = None;
        });
        Self(chain)
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.0.progress.send_modify(|p| p.leading = false);
    }
}

/// A batch announced by a chainer (of any process): waiters on a chainer elsewhere look
/// at the database again.
struct Announced(Arc<Chain>);

impl Invalidate for Announced {
    fn invalidate(&self) {
        self.0.remote.notify_waiters();
    }
    fn set_listening(&self, _listening: bool) {
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
/// returns how many; fewer than `max` means everything committed before the call is
/// chained. With `announce`, the batch is announced on [`CHAINED_CHANNEL`].
pub async fn batch(conn: &mut PgConnection, max: i32, announce: bool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select audit_chain_batch($1, $2) as "chained!""#,
        max,
        announce
    )
    .fetch_one(conn)
    .await
}

/// Chains every event committed so far, here and now, and returns how many. For the CLI
/// and the demo loader, which have no chainer of their own, and for exports, whose
/// manifest names their own event's place in the chain. Safe beside a running chainer:
/// both queue on the chain's head row.
pub async fn drain(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut total = 0;
    loop {
        let chained = batch(&mut conn, BATCH, false).await?;
        total += i64::from(chained);
        if chained < BATCH {
            return Ok(total);
        }
    }
}

/// The highest id in `audit_pending`, or 0 when it is empty.
async fn highest_pending(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"select coalesce(max(id), 0) as "id!" from audit_pending"#)
        .fetch_one(pool)
        .await
}

/// Whether a pending event with an id up to `bound` remains.
async fn pending_up_to(pool: &PgPool, bound: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select from audit_pending where id <= $1) as "pending!""#,
        bound
    )
    .fetch_one(pool)
    .await
}

/// Wakes the chainer of another process.
async fn wake_elsewhere(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_notify($1, '')", WAKE_CHANNEL)
        .execute(pool)
        .await?;
    Ok(())
}

tokio::task_local! {
    /// Set when the current request builds an audit event to record.
    static RECORDED: Cell<bool>;
}

/// Notes that the current request records an audit event, so that its answer waits for
/// the chain even when it is not a write by its method (an export). Outside a request
/// (the CLI), nothing.
pub(crate) fn note_recorded() {
    let _ = RECORDED.try_with(|r| r.set(true));
}

/// Runs `fut` (a request's handler) and says whether it recorded an audit event.
pub async fn watch_recording<F: Future>(fut: F) -> (F::Output, bool) {
    RECORDED
        .scope(Cell::new(false), async move {
            let out = fut.await;
            (out, RECORDED.with(Cell::get))
        })
        .await
}
