//! Backups of the private cluster that restore to a point in time.
//!
//! The private cluster archives every finished WAL segment into `wal-archive/` of its
//! data folder (`archive_command`, at the latest every 5 minutes of activity, see
//! [`super::cluster`]). A backup folder holds base backups (`base-<UTC time>/`, each a
//! `pg_basebackup` with the WAL it needs, and `base-<UTC time>.done` holding the instant
//! it finished) and a copy of the archive (`wal/`). `db backup` takes a base backup and
//! copies the archive; `db backup --wal-only` only forces the current segment out and
//! copies the archive, cheap enough to run every few minutes. `db restore` copies the
//! latest base backup that finished before the target time into a new data folder, and
//! lets PostgreSQL replay the WAL up to that time (`recovery_target_time`), then promote.
//!
//! Put the backup folder on another disk or machine: a backup beside the database
//! burns with it. The schedule the README gives: a base backup nightly, the WAL every
//! 5 minutes, keep two base backups and the WAL since the older one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::Connection;

use super::LocalCluster;
use super::cluster::Profile;

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupReport {
    /// The base backup's folder, unless only the WAL was copied.
    pub base: Option<PathBuf>,
    /// WAL segments copied into the backup folder this time.
    pub wal_copied: usize,
    /// The last segment the backup folder holds.
    pub last_wal: Option<String>,
}

/// Backs up the running `cluster` into `to`: a base backup (unless `wal_only`), then
/// the archived WAL up to now.
pub async fn backup(
    cluster: &LocalCluster,
    to: &Path,
    wal_only: bool,
) -> anyhow::Result<BackupReport> {
    std::fs::create_dir_all(to.join("wal"))
        .with_context(|| format!("cannot create {}", to.join("wal").display()))?;
    let base = if wal_only {
        None
    } else {
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let dir = to.join(format!("base-{stamp}"));
        cluster.base_backup(&dir, None)?;
        let finished = server_now(cluster).await?;
        std::fs::write(to.join(format!("base-{stamp}.done")), finished.to_rfc3339())?;
        Some(dir)
    };
    // Force the segment being written out, wait until it is archived, copy the archive.
    let mut conn = sqlx::PgConnection::connect_with(&cluster.connect_options("postgres")).await?;
    let segment: String = sqlx::query_scalar("select pg_walfile_name(pg_switch_wal())")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await.ok();
    let archive = cluster.wal_archive();
    let mut waited = Duration::ZERO;
    while !archive.join(&segment).exists() {
        if waited > Duration::from_secs(120) {
            bail!(
                "WAL segment {segment} was not archived into {} within 2 minutes; see {}",
                archive.display(),
                cluster.root().join("postgres.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    let mut wal_copied = 0;
    let mut last_wal = None;
    // A segment being archived is copied under `<name>.partial` and renamed when whole
    // (the archive_command of `super::cluster`): only whole segments are copied here.
    let mut names: Vec<String> = std::fs::read_dir(&archive)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".partial"))
        .collect();
    names.sort();
    for name in names {
        let target = to.join("wal").join(&name);
        if !target.exists() {
            // Copied under a temporary name first: a half-copied segment is never
            // mistaken for a whole one.
            // Readable by the server's account, whose restore_command reads it.
            let partial = to.join("wal").join(format!("{name}.partial-copy"));
            std::fs::copy(archive.join(&name), &partial)?;
            std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644))?;
            std::fs::rename(&partial, &target)?;
            wal_copied += 1;
        }
        last_wal = Some(name);
    }
    Ok(BackupReport {
        base,
        wal_copied,
        last_wal,
    })
}

/// The server's clock, which recovery targets are compared with.
async fn server_now(cluster: &LocalCluster) -> anyhow::Result<DateTime<Utc>> {
    let mut conn = sqlx::PgConnection::connect_with(&cluster.connect_options("postgres")).await?;
    let now: DateTime<Utc> = sqlx::query_scalar("select now()")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await.ok();
    Ok(now)
}

/// The latest base backup in `from` that finished at or before `target`.
fn base_before(from: &Path, target: DateTime<FixedOffset>) -> anyhow::Result<PathBuf> {
    let mut best: Option<(DateTime<FixedOffset>, PathBuf)> = None;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".done") else {
            continue;
        };
        let finished = DateTime::parse_from_rfc3339(std::fs::read_to_string(&path)?.trim())
            .with_context(|| format!("{} does not hold an RFC 3339 time", path.display()))?;
        if finished <= target && best.as_ref().is_none_or(|(t, _)| finished > *t) {
            best = Some((finished, from.join(stem)));
        }
    }
    best.map(|(_, dir)| dir).ok_or_else(|| {
        anyhow::anyhow!(
            "no base backup in {} finished before {target}",
            from.display()
        )
    })
}

/// Restores the backup in `from` into a new private cluster in `data`, as it stood at
/// `target`, and leaves it stopped: `stockpile --data DATA serve` then runs on it.
pub async fn restore(
    from: &Path,
    target: DateTime<FixedOffset>,
    data: &Path,
) -> anyhow::Result<PathBuf> {
    let from = from
        .canonicalize()
        .with_context(|| format!("cannot find the backup folder {}", from.display()))?;
    let base = base_before(&from, target)?;
    let pgdata = data.join("pg");
    if pgdata.exists() {
        bail!(
            "{} already holds a cluster; restore into a new data folder",
            pgdata.display()
        );
    }
    copy_dir(&base, &pgdata)?;
    std::fs::write(pgdata.join("recovery.signal"), "")?;
    let wal = from.join("wal");
    let settings = format!(
        "\n# Set by `stockpile db restore`; reset once recovery is done.\n\
         restore_command = 'cp \"{}/%f\" \"%p\"'\n\
         recovery_target_time = '{}'\n\
         recovery_target_action = 'promote'\n",
        wal.display(),
        target.to_rfc3339()
    );
    let auto = pgdata.join("postgresql.auto.conf");
    let mut conf = std::fs::read_to_string(&auto).unwrap_or_default();
    conf.push_str(&settings);
    std::fs::write(&auto, conf)?;

    // Made after the copy, so that it hands the files to the server's account.
    let cluster = LocalCluster::new(data, Profile::Durable)?;
    cluster.start()?;
    let result = async {
        let mut conn =
            sqlx::PgConnection::connect_with(&cluster.connect_options("postgres")).await?;
        let mut waited = Duration::ZERO;
        loop {
            let recovering: bool = sqlx::query_scalar("select pg_is_in_recovery()")
                .fetch_one(&mut conn)
                .await?;
            if !recovering {
                break;
            }
            if waited > Duration::from_secs(600) {
                bail!(
                    "recovery did not finish within 10 minutes; see {}",
                    cluster.root().join("postgres.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            waited += Duration::from_millis(200);
        }
        for setting in [
            "restore_command",
            "recovery_target_time",
            "recovery_target_action",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("alter system reset {setting}")))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await.ok();
        anyhow::Ok(())
    }
    .await;
    cluster.stop()?;
    result?;
    Ok(base)
}

/// Copies the folder `from` to `to` (which must not exist), files and folders only,
/// with the data folder's permissions (PostgreSQL wants 0700).
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
