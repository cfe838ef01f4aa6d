//! Following the primary of a replicated PostgreSQL across a failover.
//!
//! `DATABASE_URL` may list several hosts, as libpq takes them with
//! `target_session_attrs=read-write`: `postgresql://u@/db?host=/run/a,/run/b` (Unix
//! sockets, as the private clusters have) or `postgresql://u@h1:5432,h2:5432/db`. sqlx
//! connects to one host, so the service picks the one that takes writes (`not
//! pg_is_in_recovery()`) when it starts, and whenever the database is lost
//! ([`super::connections_lost`]: the change listener's connection dropped) it looks
//! again, every half second, until a host takes writes, and points every pool at it
//! (`Pool::set_connect_options`). Writes never go to a standby: a standby refuses them
//! (SQLSTATE 25006), and the pools only ever open connections to the host found to take
//! writes. In between, requests get 503 problems with `Retry-After`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgPool};

/// Signalled when the database was lost.
pub(super) static LOST: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Whether this process follows a primary among several hosts.
static FOLLOWING: AtomicBool = AtomicBool::new(false);

/// A pool to re-point, with the settings its connections add to the host's options.
type Follower = (PgPool, Option<fn(PgConnectOptions) -> PgConnectOptions>);

/// The pools to re-point after a failover (only while following).
static POOLS: Mutex<Vec<Follower>> = Mutex::new(Vec::new());

/// Registers `pool` to be pointed at the new primary after a failover, with `settings`
/// applied to the host's options. Nothing to do unless this process follows a primary.
pub fn register(pool: &PgPool, settings: Option<fn(PgConnectOptions) -> PgConnectOptions>) {
    if FOLLOWING.load(Ordering::SeqCst)
        && let Ok(mut pools) = POOLS.lock()
    {
        pools.push((pool.clone(), settings));
    }
}

/// One URL per host of a URL that lists several (`host=a,b` with `port=p,q` or one
/// port, or `h1:p1,h2:p2` before the path), without `target_session_attrs`, which only
/// libpq knows; a URL with one host is returned as it is.
pub fn hosts_of(url: &str) -> Vec<String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(k, _)| *k != "target_session_attrs")
        .collect();
    let join = |base: &str, params: &[(&str, &str)]| {
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if query.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", query.join("&"))
        }
    };
    // Hosts in the query.
    if let Some((_, hosts)) = params.iter().find(|(k, _)| *k == "host")
        && hosts.contains(',')
    {
        let ports: Vec<&str> = params
            .iter()
            .find(|(k, _)| *k == "port")
            .map(|(_, p)| p.split(',').collect())
            .unwrap_or_default();
        return hosts
            .split(',')
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied();
                let mut own: Vec<(&str, &str)> = params
                    .iter()
                    .filter(|(k, _)| *k != "host" && *k != "port")
                    .copied()
                    .collect();
                own.push(("host", host));
                if let Some(port) = port {
                    own.push(("port", port));
                }
                // sqlx wants a host before the path; the `host` parameter overrides it.
                let base =
                    base.replacen("@/", "@localhost/", 1)
                        .replacen(":///", "://localhost/", 1);
                join(&base, &own)
            })
            .collect();
    }
    // Hosts in the authority: scheme://[user@]h1:p1,h2:p2/path
    if let Some((scheme, rest)) = base.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (user, hosts) = match authority.rsplit_once('@') {
            Some((user, hosts)) => (format!("{user}@"), hosts),
            None => (String::new(), authority),
        };
        if hosts.contains(',') {
            return hosts
                .split(',')
                .map(|host| join(&format!("{scheme}://{user}{host}{path}"), &params))
                .collect();
        }
    }
    vec![join(base, &params)]
}

/// Whether `options`' host answers and takes writes.
async fn takes_writes(options: &PgConnectOptions) -> bool {
    let probe = async {
        let mut conn = sqlx::PgConnection::connect_with(options).await.ok()?;
        let recovering: bool = sqlx::query_scalar("select pg_is_in_recovery()")
            .fetch_one(&mut conn)
            .await
            .ok()?;
        conn.close().await.ok();
        Some(!recovering)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Some(true))
    )
}

/// The first of `hosts` that takes writes, looking every half second for up to `wait`
/// (`None`: until one does).
async fn find(hosts: &[PgConnectOptions], wait: Option<Duration>) -> Option<PgConnectOptions> {
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    loop {
        for host in hosts {
            if takes_writes(host).await {
                return Some(host.clone());
            }
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Finds the host of `hosts` that takes writes (waiting up to 30 s for one), and from
/// now on points the registered pools at whichever host takes writes after each loss.
pub async fn follow(hosts: Vec<PgConnectOptions>) -> anyhow::Result<PgConnectOptions> {
    let Some(first) = find(&hosts, Some(Duration::from_secs(30))).await else {
        bail!(
            "none of the {} hosts of DATABASE_URL takes writes",
            hosts.len()
        );
    };
    FOLLOWING.store(true, Ordering::SeqCst);
    let hosts = Arc::new(hosts);
    tokio::spawn(async move {
        loop {
            LOST.notified().await;
            let Some(primary) = find(&hosts, None).await else {
                continue;
            };
            let pools: Vec<Follower> = POOLS.lock().map(|p| p.clone()).unwrap_or_default();
            for (pool, settings) in pools {
                let options = settings.map_or_else(|| primary.clone(), |s| s(primary.clone()));
                pool.set_connect_options(options);
            }
            super::connections_lost_quietly();
            tracing::info!(
                host = ?primary.get_host(),
                port = primary.get_port(),
                "the pools follow the host that takes writes"
            );
        }
    });
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::hosts_of;

    #[test]
    fn a_url_with_several_hosts_is_one_url_per_host() {
        assert_eq!(
            hosts_of(
                "postgresql://u@/db?host=/run/a,/run/b&port=5432&target_session_attrs=read-write"
            ),
            vec![
                "postgresql://u@localhost/db?host=/run/a&port=5432",
                "postgresql://u@localhost/db?host=/run/b&port=5432",
            ]
        );
        assert_eq!(
            hosts_of(
                "postgres://u:p@h1:5432,h2:5433/db?sslmode=require&target_session_attrs=read-write"
            ),
            vec![
                "postgres://u:p@h1:5432/db?sslmode=require",
                "postgres://u:p@h2:5433/db?sslmode=require",
            ]
        );
        assert_eq!(
            hosts_of("postgres://u@db.internal:5432/stockpile"),
            vec!["postgres://u@db.internal:5432/stockpile"]
        );
    }
}
