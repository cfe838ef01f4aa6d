//! Keeps the private PostgreSQL cluster that `serve` started running.
//!
//! In a typhoon the power fails and nobody is at the server. When the postmaster dies
//! (a crash, the OOM killer, `kill -9`), the supervisor notices within a second, starts
//! the cluster again (PostgreSQL replays its WAL, so every commit acknowledged before
//! the crash is there), and tells the pools that their connections from before are gone
//! ([`super::connections_lost`]). The change listener reconnects by itself and turns
//! the caches back on once it is subscribed again. Requests made while the database is
//! down get a 503 problem with `Retry-After` (`AppError::Unavailable`), never an
//! answer without a commit.
//!
//! A cluster that keeps crashing is restarted after a growing pause (1 s, 2 s, 4 s, …
//! up to a minute), with the end of PostgreSQL's log in the service's log each time, so
//! that an operator sees why. A cluster that this process joined (another process
//! started it) is that process's to supervise, and an external `DATABASE_URL` is the
//! platform's (systemd or the like); the pools ride out its restarts by reconnecting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::LocalCluster;

/// How often the postmaster is looked for.
const POLL: Duration = Duration::from_millis(500);
/// The longest pause between restarts of a cluster that keeps crashing.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A cluster that stayed up this long after a restart counts as healthy again.
const STABLE: Duration = Duration::from_secs(60);

/// Watches `cluster` and restarts it whenever its postmaster dies, until the returned
/// task is aborted (do that before stopping the cluster on shutdown).
pub fn spawn(cluster: Arc<LocalCluster>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        let mut last_restart: Option<Instant> = None;
        loop {
            tokio::time::sleep(POLL).await;
            let watched = cluster.clone();
            let alive = tokio::task::spawn_blocking(move || watched.postmaster_alive())
                .await
                .unwrap_or(true);
            if alive {
                continue;
            }
            let down_at = Instant::now();
            super::connections_lost();
            tracing::error!(
                data = %cluster.root().display(),
                log_tail = %cluster.log_tail(12),
                "the private PostgreSQL cluster's postmaster is gone; restarting it"
            );
            if last_restart.is_some_and(|at| at.elapsed() < STABLE) {
                tracing::warn!(
                    pause_secs = backoff.as_secs(),
                    "the cluster crashed again soon after a restart; pausing before the next one"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            } else {
                backoff = Duration::from_secs(1);
            }
            loop {
                let starting = cluster.clone();
                let started = tokio::task::spawn_blocking(move || starting.start())
                    .await
                    .map_err(anyhow::Error::from)
                    .and_then(|r| r);
                match started {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::error!(
                            %error,
                            pause_secs = backoff.as_secs(),
                            "restarting the private PostgreSQL cluster failed; trying again"
                        );
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            // Connections opened while it was going down are no better.
            super::connections_lost();
            last_restart = Some(Instant::now());
            tracing::info!(
                down_ms = u64::try_from(down_at.elapsed().as_millis()).unwrap_or(u64::MAX),
                "the private PostgreSQL cluster is running again"
            );
        }
    })
}
