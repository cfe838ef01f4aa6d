//! The per-cell stock totals that the database keeps for the planner (migration
//! `stock_cells`): a trigger appends each lot change's effect to `stock_cell_changes`,
//! and [`spawn_compaction`] folds them into `stock_cells` every second, so that reading a
//! cell's totals costs a row and the changes since the last fold, not a row per lot.
//! Compaction is an optimisation only: a reader that finds changes not yet folded adds
//! them itself, so a process that never compacts (a CLI command, a test) reads the
//! same totals.

use std::time::Duration;

use chrono::NaiveDate;
use sqlx::PgPool;

use crate::config::Settings;

/// How often a serving process folds the appended changes.
pub const COMPACT_EVERY: Duration = Duration::from_secs(1);

/// Folds every committed change into the cell totals, and moves each cell's short-dated
/// cut-off to `today` (the deployment's, as the planner counts) + the item's minimum
/// remaining days; returns how many changes it folded (0 when another process is
/// folding at that moment).
pub async fn compact(pool: &PgPool, today: NaiveDate) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"select stock_cells_compact($1) as "folded!""#, today)
        .fetch_one(pool)
        .await
}

/// How many folded changes leave enough dead rows in `stock_cell_changes` to vacuum it.
pub const VACUUM_AFTER: i64 = 1_000;

/// Removes the dead rows that compaction leaves in `stock_cell_changes` and their index
/// entries. The table is a queue: every lot change appends a row and the next compaction
/// deletes it, and until a vacuum the cell index keeps an entry per deleted row, which
/// every read of an item's pending changes walks. PostgreSQL's autovacuum looks at a
/// table once a minute at most; at a few hundred requests a second that is hundreds of
/// thousands of dead entries, and a bulk load of 100,000 lots left 4 ms of them in
/// every plan. `skip_locked`: a vacuum already running (another process's) is enough.
pub async fn vacuum_changes(pool: &PgPool) -> Result<(), sqlx::Error> {
    // Not a prepared statement: VACUUM runs outside a transaction block.
    sqlx::raw_sql("vacuum (skip_locked) stock_cell_changes")
        .execute(pool)
        .await
        .map(drop)
}

/// Compacts every [`COMPACT_EVERY`] until `pool` is closed, with the day of `settings`'
/// time zone, and vacuums the changes table once [`VACUUM_AFTER`] changes have been
/// folded since the last vacuum. Failures (the database is away) are retried on the
/// next tick.
pub fn spawn_compaction(pool: &PgPool, settings: &Settings) {
    let (pool, settings) = (pool.clone(), settings.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(COMPACT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut folded_since_vacuum = 0i64;
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            match compact(&pool, settings.today()).await {
                Ok(folded) => folded_since_vacuum += folded,
                Err(error) => tracing::debug!(%error, "stock cell compaction failed; retrying"),
            }
            if folded_since_vacuum >= VACUUM_AFTER {
                match vacuum_changes(&pool).await {
                    Ok(()) => folded_since_vacuum = 0,
                    Err(error) => {
                        tracing::debug!(%error, "vacuum of stock_cell_changes failed; retrying")
                    }
                }
            }
        }
    });
}
