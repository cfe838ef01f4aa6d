//! A private PostgreSQL cluster in a folder of the project's, reachable only through a
//! Unix socket inside that folder (no TCP port), for machines without a database server.
//!
//! Invariants: one cluster per data folder; a process stops the cluster only if it
//! started it; when run as root, the cluster files belong to, and the server runs as,
//! an unprivileged account, because PostgreSQL refuses to run as root.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use nix::unistd::{Gid, Uid, User};
use sqlx::postgres::PgConnectOptions;

/// The superuser role created by `initdb`.
pub const SUPERUSER: &str = "stockpile";
/// The port number only names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
const PORT: u16 = 5432;
/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;

/// How the cluster trades durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Every commit is flushed: for the service.
    Durable,
    /// No fsync: for throw-away test clusters.
    Ephemeral,
}

/// A private cluster in a data folder.
#[derive(Debug)]
pub struct LocalCluster {
    root: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bindir: PathBuf,
    run_as: Option<(Uid, Gid, String)>,
    profile: Profile,
    owned: AtomicBool,
}

impl LocalCluster {
    /// Prepares (but does not start) the cluster in `root`, finding the PostgreSQL
    /// binaries and, when running as root, the unprivileged account to run them as.
    pub fn new(root: &Path, profile: Profile) -> anyhow::Result<Self> {
        let bindir = find_bindir()?;
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the data folder {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve the data folder {}", root.display()))?;
        let pgdata = root.join("pg");
        let mut socket_dir = root.join("run");
        if socket_dir.as_os_str().len() + 16 > MAX_SOCKET_PATH {
            // A deep checkout would overflow the socket path limit; use a short folder
            // named after the data folder instead.
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            root.hash(&mut h);
            socket_dir = std::env::temp_dir().join(format!("stockpile-{:016x}", h.finish()));
        }
        std::fs::create_dir_all(&socket_dir)
            .with_context(|| format!("cannot create {}", socket_dir.display()))?;
        let wal_archive = root.join("wal-archive");
        std::fs::create_dir_all(&wal_archive)
            .with_context(|| format!("cannot create {}", wal_archive.display()))?;

        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres").ok().flatten().ok_or_else(|| {
                anyhow!(
                    "Stockpile runs as root, and PostgreSQL refuses to. Create the unprivileged \
                         account it runs the private cluster as: `apt-get install postgresql` \
                         creates `postgres`, or run `useradd --system postgres`"
                )
            })?;
            for dir in [&root, &socket_dir, &wal_archive] {
                chown_if_needed(dir, user.uid, user.gid)?;
            }
            if pgdata.exists() {
                chown_if_needed(&pgdata, user.uid, user.gid)?;
            }
            Some((user.uid, user.gid, user.name))
        } else {
            None
        };

        Ok(Self {
            root,
            pgdata,
            socket_dir,
            bindir,
            run_as,
            profile,
            owned: AtomicBool::new(false),
        })
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The folder of the PostgreSQL binaries in use.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The PostgreSQL data directory.
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// Where a durable cluster archives its finished WAL segments (`db::backup`).
    pub fn wal_archive(&self) -> PathBuf {
        self.root.join("wal-archive")
    }

    /// Connection options for database `db` over the socket.
    pub fn connect_options(&self, db: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(db)
    }

    /// A URL for database `db`, for tools such as `psql` and `pgbench`, and for
    /// `DATABASE_URL` (the `host` parameter names the socket folder and overrides
    /// `localhost`, which sqlx wants there).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@localhost/{db}?host={}&port={PORT}",
            self.socket_dir.display()
        )
    }

    /// Whether this process started the server (and so must stop it).
    pub fn is_owned(&self) -> bool {
        self.owned.load(Ordering::SeqCst)
    }

    /// Whether a server is running on this data folder.
    pub fn is_running(&self) -> bool {
        self.pgdata.join("PG_VERSION").exists()
            && self
                .pg_ctl(["status", "-D"], &[self.pgdata.as_os_str()])
                .map(|o| o.status.success())
                .unwrap_or(false)
    }

    /// Whether the postmaster named in `postmaster.pid` is alive: cheaper than
    /// `pg_ctl status`, for a supervisor that asks twice a second. A postmaster killed
    /// and not yet reaped (a zombie) counts as dead.
    pub fn postmaster_alive(&self) -> bool {
        let Some(pid) = std::fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return false;
        };
        // `/proc/PID/stat` is "PID (name) STATE …"; the name may hold spaces.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
                Some(!matches!(state, 'Z' | 'X'))
            })
            .unwrap_or(false)
    }

    /// The last `n` lines of the server's log, for a message about why it failed.
    pub fn log_tail(&self, n: usize) -> String {
        std::fs::read_to_string(self.root.join("postgres.log"))
            .map(|s| {
                let lines: Vec<&str> = s.lines().collect();
                lines[lines.len().saturating_sub(n)..].join("\n")
            })
            .unwrap_or_default()
    }

    /// Initialises the cluster on first use and starts it unless a server already runs
    /// on this folder, in which case it is joined and left running on exit.
    pub fn ensure_running(&self) -> anyhow::Result<()> {
        if !self.pgdata.join("PG_VERSION").exists() {
            self.initdb()?;
        }
        if self.is_running() {
            tracing::info!(data = %self.root.display(), "joining the running private PostgreSQL cluster");
            return Ok(());
        }
        self.start()
    }

    fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(data = %self.pgdata.display(), "initialising a private PostgreSQL cluster");
        if self.pgdata.exists() {
            // A half-made folder from an interrupted initdb: initdb needs it empty.
            let empty = std::fs::read_dir(&self.pgdata)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                bail!(
                    "{} exists but holds no PostgreSQL cluster (no PG_VERSION): an earlier \
                     initdb was interrupted. Remove that folder and start again",
                    self.pgdata.display()
                );
            }
        }
        let out = self.run(
            "initdb",
            [
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-locale",
                "--encoding=UTF8",
                "--no-instructions",
                "-D",
            ],
            &[self.pgdata.as_os_str()],
        )?;
        if !out.status.success() {
            bail!(
                "initdb failed in {}: {}",
                self.pgdata.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn server_options(&self) -> String {
        // Unix socket only, reachable only by the cluster's owner (and root).
        let mut opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700 \
             -c port={PORT} -c max_connections=200",
            self.socket_dir.display()
        );
        match self.profile {
            // A test binary runs dozens of services at once, each with its pools and
            // background tasks (the audit-trail walk alone keeps one per operation).
            Profile::Ephemeral => {
                opts.push_str(
                    " -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                     -c max_connections=500",
                );
            }
            // Every finished WAL segment is copied into the archive (at the latest after
            // 5 minutes of activity), for backups that restore to a point in time. After
            // a crash, one syncfs of the data folder's file system instead of an fsync
            // per file before WAL replay: measured, it takes seconds off the restart.
            Profile::Durable => {
                let archive = self.wal_archive();
                opts.push_str(&format!(
                    " -c recovery_init_sync_method=syncfs \
                     -c archive_mode=on -c archive_timeout=300 \
                     -c archive_command='test ! -f \"{0}/%f\" && cp %p \"{0}/%f.partial\" \
                     && mv \"{0}/%f.partial\" \"{0}/%f\"'",
                    archive.display()
                ));
            }
        }
        opts
    }

    /// Starts the server and waits until it accepts connections. A `postmaster.pid`
    /// left by a crash is recovered from; PostgreSQL replays its WAL on start.
    pub fn start(&self) -> anyhow::Result<()> {
        let log = self.root.join("postgres.log");
        let opts = self.server_options();
        let mut last_error = String::new();
        // Backends orphaned by a killed server keep its shared memory until they notice
        // (a second or three under load), so a start right after a crash may need a few
        // tries: every quarter second, for up to 30 s.
        for _ in 0..120 {
            let out = self.pg_ctl(
                ["start", "-w", "-t", "60", "-o", opts.as_str(), "-l"],
                &[log.as_os_str(), OsStr::new("-D"), self.pgdata.as_os_str()],
            )?;
            if out.status.success() {
                self.owned.store(true, Ordering::SeqCst);
                tracing::info!(data = %self.root.display(), "private PostgreSQL cluster started");
                return Ok(());
            }
            last_error = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        let tail = self.log_tail(8);
        let pid = self.pgdata.join("postmaster.pid");
        bail!(
            "the private PostgreSQL cluster in {} did not start: {last_error}\n{tail}\n\
             If no postgres process is running on this folder (check `ps -ef | grep postgres`), \
             remove {} and try again",
            self.pgdata.display(),
            pid.display()
        )
    }

    /// Stops the server (fast shutdown: sessions are ended, the data is flushed).
    pub fn stop(&self) -> anyhow::Result<()> {
        let out = self.pg_ctl(
            ["stop", "-m", "fast", "-w", "-t", "60", "-D"],
            &[self.pgdata.as_os_str()],
        )?;
        if !out.status.success() && self.is_running() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        self.owned.store(false, Ordering::SeqCst);
        tracing::info!(data = %self.root.display(), "private PostgreSQL cluster stopped");
        Ok(())
    }

    /// Copies the running cluster into `target` with `pg_basebackup` (plain files, with
    /// the WAL they need, after a fast checkpoint). With `standby`, the copy is made a
    /// streaming standby of this cluster under that `application_name`
    /// (`--write-recovery-conf`). Runs as the calling user; the copy's files are handed
    /// to the server's account when a [`LocalCluster`] is made on them.
    pub fn base_backup(&self, target: &Path, standby: Option<&str>) -> anyhow::Result<()> {
        let mut conninfo = format!(
            "host={} port={PORT} user={SUPERUSER}",
            self.socket_dir.display()
        );
        if let Some(name) = standby {
            conninfo.push_str(&format!(" application_name={name}"));
        }
        let mut cmd = Command::new(self.bindir.join("pg_basebackup"));
        cmd.arg("--dbname").arg(&conninfo).args([
            "--no-password",
            "--format=plain",
            "--wal-method=stream",
            "--checkpoint=fast",
        ]);
        if standby.is_some() {
            cmd.arg("--write-recovery-conf");
        }
        let out = cmd
            .arg("--pgdata")
            .arg(target)
            .output()
            .context("cannot run pg_basebackup")?;
        if !out.status.success() {
            bail!(
                "pg_basebackup failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Promotes a standby to primary (`pg_ctl promote`), waiting until it is done.
    pub fn promote(&self) -> anyhow::Result<()> {
        let out = self.pg_ctl(
            ["promote", "-w", "-t", "60", "-D"],
            &[self.pgdata.as_os_str()],
        )?;
        if !out.status.success() {
            bail!(
                "pg_ctl promote failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Stops the server if this process started it.
    pub fn stop_if_owned(&self) -> anyhow::Result<()> {
        if self.is_owned() { self.stop() } else { Ok(()) }
    }

    /// Creates database `name` if it does not exist.
    pub async fn ensure_database(&self, name: &str) -> anyhow::Result<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres"))
            .await
            .context("cannot connect to the private PostgreSQL cluster")?;
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            // Database names cannot be bind parameters; the name is quoted and cleaned.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "create database \"{}\"",
                name.replace('"', "")
            )))
            .execute(&mut conn)
            .await?;
        }
        Ok(())
    }

    /// Spawns a detached watcher that stops the server once process `pid` is gone. Test
    /// harnesses use it, because a test binary has no "after all tests" hook.
    pub fn stop_when_process_exits(&self, pid: u32) -> anyhow::Result<()> {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 0.3; done; exec '{}' stop -m immediate -w -D '{}'",
            self.bindir.join("pg_ctl").display(),
            self.pgdata.display()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        self.as_owner(&mut cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot spawn the cluster watcher")?;
        std::fs::write(self.root.join("watcher.pid"), child.id().to_string())
            .context("cannot record the cluster watcher")?;
        Ok(())
    }

    /// Waits (up to 30 s) for the watcher of an earlier test run to finish stopping the
    /// server, so that a new run does not join a server that is about to be stopped.
    pub fn wait_for_previous_watcher(&self) {
        let Some(pid) = std::fs::read_to_string(self.root.join("watcher.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        else {
            return;
        };
        for _ in 0..300 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn as_owner(&self, cmd: &mut Command) {
        if let Some((uid, gid, _)) = &self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
        }
        cmd.current_dir(&self.root);
    }

    fn pg_ctl<const N: usize>(&self, args: [&str; N], paths: &[&OsStr]) -> anyhow::Result<Output> {
        self.run("pg_ctl", args, paths)
    }

    fn run<const N: usize>(
        &self,
        program: &str,
        args: [&str; N],
        paths: &[&OsStr],
    ) -> anyhow::Result<Output> {
        let mut cmd = Command::new(self.bindir.join(program));
        cmd.args(args).args(paths);
        self.as_owner(&mut cmd);
        cmd.stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.bindir.join(program).display()))
    }
}

fn chown_if_needed(path: &Path, uid: Uid, gid: Gid) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    if meta.uid() == uid.as_raw() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
        .with_context(|| format!("cannot hand {} to the postgres account", path.display()))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_if_needed(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Finds the PostgreSQL server binaries: on `PATH`, then through `pg_config --bindir`,
/// then in the newest `/usr/lib/postgresql/*/bin`.
pub fn find_bindir() -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|d| has_tools(d))
    {
        // A link such as /usr/local/bin/initdb leads to the folder with every tool
        // (pg_basebackup too).
        let real = dir.join("initdb").canonicalize().ok();
        return Ok(match real.as_deref().and_then(Path::parent) {
            Some(real) if has_tools(real) => real.to_path_buf(),
            _ => dir,
        });
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        anyhow!(
            "no PostgreSQL server binaries found (initdb, pg_ctl) on PATH, through pg_config, \
             or in /usr/lib/postgresql/*/bin. Install them (`apt-get install postgresql`) or \
             set DATABASE_URL to an existing server"
        )
    })
}
