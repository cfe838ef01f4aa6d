//! Change notifications from the database to the caches of this process.
//!
//! Triggers announce changes with `NOTIFY` on a channel per kind of data (migrations
//! `session_notify`, `catalog_notify`), so no code path, CLI or manual SQL can forget
//! to. One connection per process listens on every channel and tells each cache when
//! its data changed. A cache is only used while that connection is subscribed: until it
//! is, and whenever it is lost (notifications may have been missed), every cache is off
//! and emptied, and requests read the database.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

/// A cache kept in step with the database by notifications.
pub trait Invalidate: Send + Sync {
    /// Something it may hold changed: forget everything.
    fn invalidate(&self);
    /// Turns caching on (the listener is subscribed) or off (it is not), forgetting
    /// everything either way.
    fn set_listening(&self, listening: bool);
}

/// A cache and the channel its data's changes are announced on.
pub type Subscriber = (&'static str, Arc<dyn Invalidate>);

/// Listens on every subscriber's channel, on a connection of its own (the pool's
/// settings, not its slots), until `pool` is closed. Call it once, from inside the
/// runtime.
pub fn spawn_listener(pool: &PgPool, subscribers: Vec<Subscriber>) {
    let service_pool = pool.clone();
    tokio::spawn(async move {
        let mut warned = false;
        loop {
            // The service pool's options as they are now: after a failover they name
            // the new primary (`db::primary`).
            let options = service_pool.connect_options().as_ref().clone();
            // A short acquire timeout: the listener is how a lost database is noticed
            // (and, with several hosts, how a failover is), so it must not wait long.
            let listener_pool = PgPoolOptions::new()
                .max_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .acquire_timeout(Duration::from_secs(2))
                .connect_lazy_with(options);
            let Err(error) = listen(&listener_pool, &subscribers).await;
            listener_pool.close().await;
            for (_, cache) in &subscribers {
                cache.set_listening(false);
            }
            // Most often the server went away: so did the pools' connections.
            super::connections_lost();
            if service_pool.is_closed() {
                // The service is shutting down (and may stop its private cluster).
                return;
            }
            if !warned {
                tracing::warn!(%error, "caches off: cannot listen for changes; retrying every second");
                warned = true;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn listen(
    pool: &PgPool,
    subscribers: &[Subscriber],
) -> Result<std::convert::Infallible, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all(subscribers.iter().map(|(channel, _)| *channel))
        .await?;
    for (_, cache) in subscribers {
        cache.set_listening(true);
    }
    loop {
        // `None` means the connection dropped and was re-established (re-subscribed):
        // notifications in between are lost, so every cache forgets everything, and the
        // pools' connections from before are not trusted either.
        let notification = listener.try_recv().await?;
        if notification.is_none() {
            super::connections_lost();
        }
        for (channel, cache) in subscribers {
            if notification
                .as_ref()
                .is_none_or(|n| n.channel() == *channel)
            {
                cache.invalidate();
            }
        }
    }
}
