//! The per-cell stock totals that the database keeps for the planner (migration
//! `stock_cells`): a trigger appends each lot change's effect to `stock_cell_changes`,
//! and [`spawn_compaction`] folds them into `stock_cells` every second, so that reading a
//! cell's totals costs a row and the changes since the last fold, not a row per lot.
//! Compaction is an optimisation only: a reader that finds changes not yet folded adds
//! them itself, so a process that never compacts (a CLI command, a test) reads the
//! same totals.

use std::time::Duration;

use sqlx::PgPool;

/// How often a serving process folds the appended changes.
pub const COMPACT_EVERY: Duration = Duration::from_secs(1);

/// Folds every committed change into the cell totals, and moves each cell's short-dated
/// cut-off to today; returns how many changes it folded (0 when another process is
/// folding at that moment).
pub async fn compact(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"select stock_cells_compact() as "folded!""#)
        .fetch_one(pool)
        .await
}

/// Compacts every [`COMPACT_EVERY`] until `pool` is closed. Failures (the database is
/// away) are retried on the next tick.
pub fn spawn_compaction(pool: &PgPool) {
    let pool = pool.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(COMPACT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(error) = compact(&pool).await {
                tracing::debug!(%error, "stock cell compaction failed; retrying");
            }
        }
    });
}
