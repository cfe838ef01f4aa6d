//! Database access: the connection pool, embedded migrations, and the private local
//! PostgreSQL cluster used when `DATABASE_URL` is unset.

pub mod backup;
pub mod changes;
pub mod cluster;
pub mod primary;
pub mod standby;
pub mod supervise;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

pub use cluster::LocalCluster;

/// The migrations embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Where the database is: an external server, or our own private cluster.
pub struct Database {
    /// The pool every request draws from.
    pub pool: PgPool,
    /// The private cluster, when this process uses one (started or joined).
    pub cluster: Option<Arc<LocalCluster>>,
    /// The pool of reads that may lag (`--read-database-url`): a replica's, or `pool`.
    pub reads: PgPool,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts (or joins) the private cluster in `data_dir`.
    /// A URL that lists several hosts (`host=/a,/b`, or `h1:5432,h2:5432`, as libpq
    /// takes with `target_session_attrs=read-write`) connects to the one that takes
    /// writes, and after a failover finds the new one by itself ([`primary`]).
    pub async fn open(config: &crate::config::Config) -> anyhow::Result<Self> {
        let (options, cluster) = match &config.database_url {
            Some(url) => {
                let hosts = primary::hosts_of(url)
                    .iter()
                    .map(|u| u.parse::<PgConnectOptions>())
                    .collect::<Result<Vec<_>, _>>()
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                let options = if hosts.len() > 1 {
                    primary::follow(hosts).await?
                } else {
                    hosts
                        .into_iter()
                        .next()
                        .context("DATABASE_URL names no host")?
                };
                (options, None)
            }
            None => {
                let cluster = LocalCluster::new(&config.data_dir, cluster::Profile::Durable)?;
                cluster.ensure_running()?;
                cluster.ensure_database("stockpile").await?;
                (
                    cluster.connect_options("stockpile"),
                    Some(Arc::new(cluster)),
                )
            }
        };
        let pool = pool(options, config.db_pool).await?;
        primary::register(&pool, Some(service_settings));
        // Opened when first used: a replica that is down fails the reads sent to it
        // (503), not the service's start.
        let reads = match &config.read_database_url {
            Some(url) => {
                let options: PgConnectOptions = url
                    .parse()
                    .context("--read-database-url is not a valid PostgreSQL URL")?;
                pool_options(config.db_pool).connect_lazy_with(connect_options(options))
            }
            None => pool.clone(),
        };
        Ok(Self {
            pool,
            cluster,
            reads,
        })
    }

    /// Supervises the private cluster if this process started it ([`supervise`]): the
    /// task to abort before [`Database::shutdown`].
    pub fn supervise(&self) -> Option<tokio::task::JoinHandle<()>> {
        let cluster = self.cluster.as_ref().filter(|c| c.is_owned())?;
        Some(supervise::spawn(cluster.clone()))
    }

    /// Stops the private cluster if this process started it.
    pub fn shutdown(self) {
        if let Some(cluster) = self.cluster
            && let Err(err) = cluster.stop_if_owned()
        {
            tracing::warn!(error = %err, "stopping the private PostgreSQL cluster failed");
        }
    }
}

/// Whether this process's service connections leave a write that records an audit
/// event to be made durable by the chain batch that chains it ([`durable_by_chain`]).
static DURABLE_BY_CHAIN: AtomicBool = AtomicBool::new(false);

/// From now on, `pool`'s connections (and those of the pools opened beside it, or
/// pointed at a new primary) commit a transaction that records an audit event without
/// a WAL flush of its own: the chain batch that chains the event, which commits
/// synchronously after it, flushes it (migration `writes_durable_by_the_chain`). Only
/// for a process whose answers wait for that batch in the same server lifetime
/// (`audit::chain::Chain::wait_chained`): the service, with its chain on. Connections
/// opened before keep flushing their own commits, which is merely slower.
pub fn durable_by_chain(pool: &PgPool) {
    DURABLE_BY_CHAIN.store(true, Ordering::SeqCst);
    pool.set_connect_options(service_settings((*pool.connect_options()).clone()));
}

/// What the service's connections set when they open.
fn service_settings(options: PgConnectOptions) -> PgConnectOptions {
    if DURABLE_BY_CHAIN.load(Ordering::SeqCst) {
        options.options([("stockpile.durable_by", "chain")])
    } else {
        options
    }
}

/// A pool over `options` with at most `max` connections.
pub async fn pool(options: PgConnectOptions, max: u32) -> anyhow::Result<PgPool> {
    pool_options(max)
        .connect_with(connect_options(options))
        .await
        .context("could not connect to PostgreSQL")
}

fn connect_options(options: PgConnectOptions) -> PgConnectOptions {
    options
        .application_name("stockpile")
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500))
}

fn pool_options(max: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max.max(1))
        // A ping before every checkout is a round trip on every request; a broken
        // connection surfaces as an error on first use instead, and the pool drops it.
        // After the database was lost, no idle connection from before is handed out.
        .test_before_acquire(false)
        .before_acquire(|_conn, meta| Box::pin(async move { Ok(!opened_before_loss(meta.age)) }))
        .acquire_timeout(Duration::from_secs(10))
}

/// When the process last lost the database, in milliseconds since [`clock`]'s start
/// (0: never).
static LOST_AT_MS: AtomicU64 = AtomicU64::new(0);

/// The process's monotonic clock.
fn clock() -> &'static Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now)
}

/// Records that the database was lost (its server died, restarted or dropped this
/// process's connections): every pooled connection opened before now is closed when
/// next taken from its pool, instead of failing the request that takes it. The change
/// listener calls it when its own connection drops, and the cluster supervisor when it
/// restarts the private cluster.
pub fn connections_lost() {
    connections_lost_quietly();
    primary::LOST.notify_one();
}

/// [`connections_lost`], without looking for a new primary: after pointing the pools at
/// one.
fn connections_lost_quietly() {
    let now = u64::try_from(clock().elapsed().as_millis()).unwrap_or(u64::MAX);
    LOST_AT_MS.fetch_max(now.max(1), Ordering::SeqCst);
}

/// Whether a connection `age` old was opened before the database was last lost.
fn opened_before_loss(age: Duration) -> bool {
    let lost = LOST_AT_MS.load(Ordering::SeqCst);
    if lost == 0 {
        return false;
    }
    let now = clock().elapsed();
    now.saturating_sub(age) <= Duration::from_millis(lost)
}

/// The connections of the commands that lock and write stock (receipts, issues,
/// adjustments, transfers, counts, quarantine, reserve levels, allocation), beside the
/// pool that serves everything else. Only those commands' transactions, and the lookups
/// by id or code that lead into them, run on these connections.
///
/// Stock and allocation writes find rows by arrays of ids (`= any($1)`,
/// `unnest($1, $2)`). A prepared statement's generic plan cannot know an array's length,
/// so PostgreSQL judges it dearer than a plan for the actual values and plans those
/// statements afresh on every execution: measured under load with pg_stat_statements
/// (`track_planning`), 90–200 µs of planning per statement, several times their
/// execution. Their generic plans (index scans on the id or on warehouse and item) suit
/// any length, so these connections force them (`plan_cache_mode`, set once when each
/// connection opens). Reads with optional filters stay on the other pool, under
/// PostgreSQL's default, where custom plans pay off.
///
/// The setting used to be a `SET LOCAL` after every `BEGIN`: parsed, applied and undone
/// in every write transaction. Setting it per connection instead measured about 3% more
/// issues per second at 4 clients and no change for receipts (both binaries alternated
/// on one database, 8 s runs).
#[derive(Clone, Debug)]
pub struct WritePool(PgPool);

impl WritePool {
    /// A pool of up to as many connections as `pool`'s, to the same database. It opens
    /// them when first needed.
    pub fn beside(pool: &PgPool) -> Self {
        let options = Self::settings((*pool.connect_options()).clone());
        let writes = pool_options(pool.options().get_max_connections()).connect_lazy_with(options);
        primary::register(&writes, Some(Self::settings));
        Self(writes)
    }

    /// What the write connections set when they open.
    fn settings(options: PgConnectOptions) -> PgConnectOptions {
        service_settings(options).options([("plan_cache_mode", "force_generic_plan")])
    }

    /// Begins a transaction that locks and writes stock.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.0.begin().await
    }

    /// A connection for a command that runs several write transactions in turn (each
    /// begun with [`sqlx::Connection::begin`]).
    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
        self.0.acquire().await
    }

    /// Connections open now.
    pub fn size(&self) -> u32 {
        self.0.size()
    }

    /// Connections open and idle now.
    pub fn num_idle(&self) -> usize {
        self.0.num_idle()
    }

    /// Closes its connections.
    pub async fn close(&self) {
        self.0.close().await;
    }
}

/// Applies the embedded migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations failed")
}

/// Whether every embedded migration has been applied.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| applied.contains(&m.version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_loss_only_connections_opened_since_are_handed_out() {
        // A connection opened an hour ago predates any loss recorded from now on.
        let old = clock().elapsed() + Duration::from_secs(3600);
        connections_lost();
        assert!(opened_before_loss(old), "an old connection is dropped");
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            !opened_before_loss(Duration::from_millis(1)),
            "a connection opened after the loss is kept"
        );
    }
}
