//! A synchronous standby of the private cluster, and its promotion.
//!
//! `db standby --primary-data P` (with `--data S`) makes S a streaming replica of the
//! running cluster in P: a `pg_basebackup` that writes the replica's settings
//! (`--write-recovery-conf`), started as a standby named [`STANDBY_NAME`]. The primary
//! then names it in `synchronous_standby_names`, with `synchronous_commit = on` as
//! always: from then on no commit is acknowledged before the standby has it, so a
//! failover loses nothing that was acknowledged. `db promote` (with `--data S`) makes
//! the standby the primary, after the old primary is gone.
//!
//! Both clusters run on one machine for the tests; in production the standby runs on
//! another machine (the same commands, with the primary's folder shared or the
//! `pg_basebackup` pointed at its address). Note that a synchronous primary whose only
//! standby is down stops acknowledging writes: that is the price of losing nothing,
//! and the operator's choice (`alter system reset synchronous_standby_names`) to pay it
//! or not.

use std::time::Duration;

use anyhow::bail;
use sqlx::Connection;

use super::LocalCluster;
use super::cluster::Profile;

/// The standby's `application_name`, as the primary's `synchronous_standby_names` names it.
pub const STANDBY_NAME: &str = "stockpile_standby";

/// Makes a synchronous standby of the running `primary` in the data folder `data`, and
/// leaves both running.
pub async fn create(primary: &LocalCluster, data: &std::path::Path) -> anyhow::Result<()> {
    let pgdata = data.join("pg");
    if pgdata.join("PG_VERSION").exists() {
        bail!(
            "{} already holds a cluster; make the standby in a new data folder",
            pgdata.display()
        );
    }
    std::fs::create_dir_all(data)?;
    primary.base_backup(&pgdata, Some(STANDBY_NAME))?;
    // Made after the copy, so that it hands the files to the server's account.
    let standby = LocalCluster::new(data, Profile::Durable)?;
    standby.start()?;

    let mut conn = sqlx::PgConnection::connect_with(&primary.connect_options("postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "alter system set synchronous_standby_names = '{STANDBY_NAME}'"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::query("select pg_reload_conf()")
        .execute(&mut conn)
        .await?;
    for _ in 0..600 {
        let sync: Option<String> = sqlx::query_scalar(
            "select sync_state from pg_stat_replication where application_name = $1",
        )
        .bind(STANDBY_NAME)
        .fetch_optional(&mut conn)
        .await?;
        if sync.as_deref() == Some("sync") {
            conn.close().await.ok();
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "the standby in {} did not become synchronous within a minute; see {}",
        data.display(),
        data.join("postgres.log").display()
    )
}

/// Promotes the standby in `cluster` to primary and waits until it takes writes.
pub async fn promote(cluster: &LocalCluster) -> anyhow::Result<()> {
    cluster.promote()?;
    let mut conn = sqlx::PgConnection::connect_with(&cluster.connect_options("postgres")).await?;
    for _ in 0..600 {
        let recovering: bool = sqlx::query_scalar("select pg_is_in_recovery()")
            .fetch_one(&mut conn)
            .await?;
        if !recovering {
            conn.close().await.ok();
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the promoted standby still recovers after a minute")
}
