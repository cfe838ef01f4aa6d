//! The `stockpile` command: serve, migrate, seed, and operator tools.

use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use stockpile::config::{Config, ServeConfig, Settings};
use stockpile::db::Database;

/// mimalloc instead of glibc's allocator: under load the service spent ~17% of its CPU in
/// glibc malloc/free (many small, short-lived allocations across worker threads:
/// decoded rows, JSON values), measured with perf on benches/load/allocation.sh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "stockpile",
    version,
    about = "Emergency-supply reserve system for the Greater Bay Area"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Apply migrations, then serve the API (and, with --demo, load the demo data).
    Serve(ServeConfig),
    /// Apply the database migrations and exit.
    Migrate,
    /// Load the GBA demo data into an empty database.
    Seed {
        /// Folder of the seed files.
        #[arg(long, env = "STOCKPILE_SEED_DIR")]
        seed_dir: Option<std::path::PathBuf>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Operate the private PostgreSQL cluster of `--data` (for psql, pgbench, backups).
    Db {
        #[command(subcommand)]
        command: DbCmd,
    },
    /// Manage users (straight in the database; audited as the system user).
    User {
        #[command(subcommand)]
        command: UserCmd,
    },
    /// Audit trail tools (direct database access).
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Import a CSV or xlsx file: opening stock, items or reserve levels (direct database
    /// access; audited as `system`). Every row is checked first; a file with any bad cell
    /// writes nothing and exits 1 with each cell named. The same file twice is a replay.
    Import {
        /// opening-stock, items, reserve-levels or warehouses.
        #[arg(long)]
        kind: stockpile::imports::Kind,
        /// Check the file and report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The file (.csv or .xlsx; told apart by content).
        file: std::path::PathBuf,
    },
    /// Export data to standard output (direct database access; audited as `system`).
    Export {
        #[command(subcommand)]
        what: ExportCmd,
    },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Start the cluster (initialising it on first use) and leave it running.
    Start,
    /// Stop the cluster.
    Stop,
    /// Print the libpq URL of a database of the cluster (for psql or pgbench).
    Url {
        /// The database name.
        #[arg(default_value = "stockpile")]
        database: String,
    },
    /// Take a base backup into a folder and copy the archived WAL there (put it on
    /// another disk or machine).
    Backup {
        /// The backup folder.
        #[arg(long)]
        to: std::path::PathBuf,
        /// Only force the current WAL segment out and copy the archive (every few
        /// minutes, between nightly base backups).
        #[arg(long)]
        wal_only: bool,
    },
    /// Make the data folder (`--data`) a synchronous streaming standby of the running
    /// private cluster in another folder, and leave both running.
    Standby {
        /// The primary's data folder.
        #[arg(long)]
        primary_data: std::path::PathBuf,
    },
    /// Promote the standby in the data folder (`--data`) to primary, once the old
    /// primary is gone.
    Promote,
    /// Restore a backup folder into a new data folder (`--data`), as the database stood
    /// at a point in time, and leave it stopped.
    Restore {
        /// The backup folder.
        #[arg(long)]
        from: std::path::PathBuf,
        /// The instant to restore to (RFC 3339, e.g. 2026-12-05T21:30:00+08:00).
        #[arg(long)]
        to_time: chrono::DateTime<chrono::FixedOffset>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; the password is read from standard input (one line).
    Add {
        /// Login name: 2–64 of `a-z 0-9 . _ -`.
        #[arg(long)]
        username: String,
        /// admin, clerk, dispatcher or auditor.
        #[arg(long)]
        role: String,
        /// A warehouse code the clerk works in (repeat for several).
        #[arg(long = "warehouse")]
        warehouses: Vec<String>,
        /// Display name (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (required: never pass it as a flag).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user and revoke the user's tokens at once.
    Disable {
        /// Login name.
        username: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute the hash chain and check every ledger movement has its event; exits 1
    /// when anything is broken.
    Verify,
}

/// Options every export takes.
#[derive(clap::Args)]
struct ExportOpts {
    /// csv, jsonl or xlsx.
    #[arg(long, default_value = "csv")]
    format: stockpile::exports::Format,
    /// CSV: start with a UTF-8 byte-order mark (for Excel).
    #[arg(long)]
    bom: bool,
    /// CSV and xlsx: add an HXL hashtag row under the header.
    #[arg(long)]
    hxl: bool,
}

#[derive(Subcommand)]
enum ExportCmd {
    /// Ledger movements.
    Movements {
        /// From this instant (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<Utc>>,
        /// Up to this instant (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<Utc>>,
        /// Warehouse code.
        #[arg(long)]
        warehouse: Option<String>,
        /// Item SKU.
        #[arg(long)]
        sku: Option<String>,
        #[command(flatten)]
        opts: ExportOpts,
    },
    /// Audit events.
    AuditEvents {
        /// From this instant (RFC 3339).
        #[arg(long)]
        from: Option<chrono::DateTime<Utc>>,
        /// Up to this instant (RFC 3339).
        #[arg(long)]
        to: Option<chrono::DateTime<Utc>>,
        /// Actor username.
        #[arg(long)]
        actor: Option<String>,
        /// Entity kind, or kind:id.
        #[arg(long)]
        entity: Option<String>,
        /// Action, or a prefix ending in `.`.
        #[arg(long)]
        action: Option<String>,
        #[command(flatten)]
        opts: ExportOpts,
    },
    /// Lot balances as they stood at an instant.
    StockAsOf {
        /// The instant (RFC 3339).
        #[arg(long)]
        at: chrono::DateTime<Utc>,
        #[command(flatten)]
        opts: ExportOpts,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    stockpile::telemetry::init(cli.config.log_json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("stockpile: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stockpile: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command {
        Cmd::Openapi => {
            print!("{}", stockpile::app::openapi_document());
            Ok(())
        }
        Cmd::Migrate => {
            let db = Database::open(&config).await?;
            let result = stockpile::db::migrate(&db.pool).await;
            db.pool.close().await;
            db.shutdown();
            result?;
            println!("migrations applied");
            Ok(())
        }
        Cmd::Seed { seed_dir } => {
            let db = Database::open(&config).await?;
            let result = async {
                stockpile::db::migrate(&db.pool).await?;
                let dir = seed_dir.unwrap_or_else(stockpile::seed::default_dir);
                let today = Utc::now().with_timezone(&config.tz).date_naive();
                stockpile::seed::load_if_empty(&db.pool, &dir, today).await
            }
            .await;
            db.pool.close().await;
            db.shutdown();
            match result? {
                Some(report) => println!("demo data loaded: {}", serde_json::to_string(&report)?),
                None => println!("the catalogue is not empty; demo data not loaded"),
            }
            Ok(())
        }
        Cmd::Serve(serve) => serve_cmd(config, serve).await,
        Cmd::Db { command } => db_cmd(&config, command).await,
        Cmd::User { command } => {
            let db = Database::open(&config).await?;
            let result = async {
                stockpile::db::migrate(&db.pool).await?;
                user_cmd(&db.pool, command).await
            }
            .await;
            db.pool.close().await;
            db.shutdown();
            result
        }
        Cmd::Audit {
            cmd: AuditCmd::Verify,
        } => {
            let db = Database::open(&config).await?;
            let result = stockpile::audit::db::verify(&db.reads).await;
            db.pool.close().await;
            db.shutdown();
            let outcome = result?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
            if outcome.ok {
                Ok(())
            } else {
                anyhow::bail!(
                    "the audit trail is broken: {}",
                    outcome.reason.unwrap_or_default()
                )
            }
        }
        Cmd::Import {
            kind,
            dry_run,
            file,
        } => {
            let db = Database::open(&config).await?;
            let result = async {
                stockpile::db::migrate(&db.pool).await?;
                import_cmd(&db.pool, &config, kind, dry_run, &file).await
            }
            .await;
            db.pool.close().await;
            db.shutdown();
            result
        }
        Cmd::Export { what } => {
            let db = Database::open(&config).await?;
            let replica = config.read_database_url.is_some().then_some(&db.reads);
            let result = export_cmd(&db.pool, replica, what).await;
            db.pool.close().await;
            db.shutdown();
            result
        }
    }
}

async fn user_cmd(pool: &sqlx::PgPool, command: UserCmd) -> anyhow::Result<()> {
    use stockpile::auth::{Actor, NewUser, UserPatch, cases, db};
    let system = Actor::system();
    let origin = stockpile::audit::Origin::default();
    match command {
        UserCmd::Add {
            username,
            role,
            warehouses,
            display_name,
            password_stdin,
        } => {
            if !password_stdin {
                anyhow::bail!("pass --password-stdin and the password on standard input");
            }
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let new = NewUser::parse(username, display_name, &role, warehouses, true, password)
                .map_err(problem)?;
            let mut tx = pool.begin().await?;
            let user = cases::create_user(&mut tx, &system, &origin, new)
                .await
                .map_err(problem)?;
            tx.commit().await?;
            stockpile::audit::chain::drain(pool).await?;
            println!("created {} ({})", user.username, user.role.as_str());
        }
        UserCmd::Disable { username } => {
            let patch = UserPatch {
                active: Some(false),
                ..UserPatch::default()
            };
            let mut tx = pool.begin().await?;
            let user = cases::update_user(&mut tx, &system, &origin, &username, patch)
                .await
                .map_err(problem)?;
            tx.commit().await?;
            stockpile::audit::chain::drain(pool).await?;
            println!("disabled {}; their tokens are revoked", user.username);
        }
        UserCmd::List => {
            let mut conn = pool.acquire().await?;
            println!(
                "{:<24} {:<11} {:<8} {:<28} display name",
                "username", "role", "active", "warehouses"
            );
            for u in db::users(&mut conn, None).await? {
                println!(
                    "{:<24} {:<11} {:<8} {:<28} {}",
                    u.username,
                    u.role.as_str(),
                    if u.active { "yes" } else { "no" },
                    u.warehouses.join(","),
                    u.display_name
                );
            }
        }
    }
    Ok(())
}

/// An API error as a command-line error: its detail and the fields it names.
fn problem(err: stockpile::error::AppError) -> anyhow::Error {
    if let stockpile::error::AppError::Internal(inner) = err {
        return inner;
    }
    let p = err.problem();
    let fields: Vec<String> = p.errors.iter().map(|e| e.pointer.clone()).collect();
    if fields.is_empty() {
        anyhow::anyhow!("{}", p.detail)
    } else {
        anyhow::anyhow!("{} ({})", p.detail, fields.join(", "))
    }
}

async fn import_cmd(
    pool: &sqlx::PgPool,
    config: &Config,
    kind: stockpile::imports::Kind,
    dry_run: bool,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    use stockpile::imports::{MAX_FILE_BYTES, cases, read::Format};
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > MAX_FILE_BYTES as u64 {
        anyhow::bail!(
            "{} is larger than the import limit of {} MiB; split it",
            file.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>9} [{bar:40}] {pos}/{len} rows ({elapsed})",
        )?
        .progress_chars("=> "),
    );
    let progress = |stage: &str, done: u64, total: u64| {
        bar.set_message(stage.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    };
    let cmd = cases::ImportCmd {
        kind,
        bytes: &bytes,
        format: Format::sniff(&bytes),
        dry_run,
        today: Utc::now().with_timezone(&config.tz).date_naive(),
        area: config.service_area,
    };
    let origin = stockpile::audit::Origin {
        request_id: Some(format!("cli-{}", uuid::Uuid::now_v7())),
        idempotency_key: None,
    };
    let mut tx = pool.begin().await?;
    let result = cases::run(
        &mut tx,
        &stockpile::auth::Actor::system(),
        &origin,
        cmd,
        &progress,
    )
    .await;
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            let p = err.problem();
            eprintln!("{}", p.detail);
            if let Some(cells) = p
                .extra
                .as_ref()
                .and_then(|e| e.get("cells"))
                .and_then(|c| c.as_array())
            {
                eprintln!("{:>6}  {:<6} {:<16} reason", "row", "cell", "column");
                for c in cells {
                    eprintln!(
                        "{:>6}  {:<6} {:<16} {}",
                        c["row"].as_u64().unwrap_or(0),
                        c["cell"].as_str().unwrap_or(""),
                        c["column"].as_str().unwrap_or(""),
                        c["reason"].as_str().unwrap_or("")
                    );
                }
            }
            anyhow::bail!("nothing was imported");
        }
    };
    tx.commit().await?;
    stockpile::audit::chain::drain(pool).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn export_cmd(
    pool: &sqlx::PgPool,
    replica: Option<&sqlx::PgPool>,
    what: ExportCmd,
) -> anyhow::Result<()> {
    use futures_util::TryStreamExt;
    use stockpile::exports::params::{AuditEventsParams, MovementsParams, StockAsOfParams};
    use tokio::io::AsyncWriteExt;

    let problem = |e: stockpile::error::AppError| anyhow::anyhow!("{e}");
    let req = match what {
        ExportCmd::Movements {
            from,
            to,
            warehouse,
            sku,
            opts,
        } => MovementsParams {
            from,
            to,
            warehouse,
            sku,
            format: Some(opts.format),
            bom: Some(opts.bom),
            hxl: Some(opts.hxl),
        }
        .into_request(pool)
        .await
        .map_err(problem)?,
        ExportCmd::AuditEvents {
            from,
            to,
            actor,
            entity,
            action,
            opts,
        } => AuditEventsParams {
            from,
            to,
            actor,
            entity,
            action,
            format: Some(opts.format),
            bom: Some(opts.bom),
            hxl: Some(opts.hxl),
        }
        .into_request()
        .map_err(problem)?,
        ExportCmd::StockAsOf { at, opts } => StockAsOfParams {
            at,
            format: Some(opts.format),
            bom: Some(opts.bom),
            hxl: Some(opts.hxl),
        }
        .into_request()
        .map_err(problem)?,
    };
    let origin = stockpile::audit::Origin {
        request_id: Some(format!("cli-{}", uuid::Uuid::now_v7())),
        idempotency_key: None,
    };
    let export = stockpile::exports::run::start(
        pool,
        replica,
        &stockpile::auth::Actor::system(),
        &origin,
        req,
    )
    .await
    .map_err(problem)?;
    let mut out = tokio::io::stdout();
    let mut body = export.body;
    while let Some(chunk) = body.try_next().await? {
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    let m = export.manifest;
    eprintln!(
        "exported {}: audit seq {}..{}, last hash {}, export event {}",
        m.export, m.audit_seq_from, m.audit_seq_to, m.audit_last_hash, m.export_event_seq
    );
    Ok(())
}

async fn serve_cmd(config: Config, serve: ServeConfig) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let db = Database::open(&config).await?;
    let supervisor = db.supervise();
    let result = async {
        stockpile::db::migrate(&db.pool).await?;
        if serve.demo {
            let today = Utc::now().with_timezone(&config.tz).date_naive();
            match stockpile::seed::load_if_empty(&db.pool, &stockpile::seed::default_dir(), today).await? {
                Some(report) => tracing::info!(?report, "demo data loaded"),
                None => tracing::info!("database already holds data; demo data not reloaded"),
            }
            // Printed once, to standard output only: never into the logs.
            let users = stockpile::auth::cases::ensure_demo_users(&db.pool).await?;
            println!("demo users (passwords are new on every start and shown only here):");
            println!("  {:<16} {:<11} {:<10} password", "username", "role", "warehouse");
            for (user, password) in users {
                println!(
                    "  {:<16} {:<11} {:<10} {password}",
                    user.username,
                    user.role.as_str(),
                    user.warehouse.unwrap_or("-")
                );
            }
        }
        let settings = Settings {
            tz: config.tz,
            token_ttl_hours: serve.token_ttl_hours,
            snap: stockpile::routing::SnapConfig {
                circuity: serve.snap_circuity,
                speed_kmh: serve.snap_speed_kmh,
            },
            // Within the request's own limit, so that a write held back by a stalled
            // chain is answered with the chain's reason.
            chain_wait: std::time::Duration::from_secs(serve.request_timeout_secs) * 3 / 4,
            unchained_for_benchmarks: serve.bench_unchained,
            community_radius_km: serve.community_radius_km,
            delivery_targets: serve.delivery_targets,
            service_area: config.service_area,
        };
        let mut state = stockpile::AppState::new(db.pool.clone(), settings);
        if config.read_database_url.is_some() {
            state = state.with_reads(db.reads.clone());
        }
        let listener = tokio::net::TcpListener::bind(serve.listen)
            .await
            .with_context(|| format!("cannot listen on {}", serve.listen))?;
        let addr = listener.local_addr()?;
        // Answers are small and written at once: send them without waiting for an ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(%err, "could not set TCP_NODELAY on a connection");
            }
        });
        tracing::info!(%addr, ready_ms = started.elapsed().as_millis() as u64, "stockpile is listening");
        println!("stockpile listening on http://{addr}");
        let writes = state.writes.clone();
        let limit = std::time::Duration::from_secs(serve.request_timeout_secs);
        let app = stockpile::app(state).layer(axum::middleware::from_fn_with_state(
            limit,
            stockpile::http::deadline::deadline,
        ));
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server error");
        writes.close().await;
        served
    }
    .await;
    if let Some(supervisor) = supervisor {
        supervisor.abort();
    }
    db.pool.close().await;
    db.shutdown();
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

async fn db_cmd(config: &Config, command: DbCmd) -> anyhow::Result<()> {
    use stockpile::db::LocalCluster;
    use stockpile::db::cluster::Profile;
    if config.database_url.is_some() {
        anyhow::bail!("`stockpile db` operates the private cluster; unset DATABASE_URL");
    }
    let cluster = LocalCluster::new(&config.data_dir, Profile::Durable)?;
    match command {
        DbCmd::Start => {
            cluster.ensure_running()?;
            cluster.ensure_database("stockpile").await?;
            println!("{}", cluster.url("stockpile"));
        }
        DbCmd::Stop => {
            if cluster.is_running() {
                cluster.stop()?;
            }
        }
        DbCmd::Url { database } => println!("{}", cluster.url(&database)),
        DbCmd::Backup { to, wal_only } => {
            cluster.ensure_running()?;
            let report = stockpile::db::backup::backup(&cluster, &to, wal_only).await;
            cluster.stop_if_owned()?;
            let report = report?;
            if let Some(base) = &report.base {
                println!("base backup: {}", base.display());
            }
            println!(
                "WAL: {} segment(s) copied, up to {}",
                report.wal_copied,
                report.last_wal.as_deref().unwrap_or("-")
            );
        }
        DbCmd::Standby { primary_data } => {
            let primary = LocalCluster::new(&primary_data, Profile::Durable)?;
            if !primary.is_running() {
                anyhow::bail!(
                    "no cluster runs in {}: start it first",
                    primary_data.display()
                );
            }
            stockpile::db::standby::create(&primary, &config.data_dir).await?;
            println!(
                "{} is a synchronous standby of {}: {}",
                config.data_dir.display(),
                primary_data.display(),
                cluster.url("stockpile")
            );
        }
        DbCmd::Promote => {
            stockpile::db::standby::promote(&cluster).await?;
            println!(
                "{} is the primary now: {}",
                config.data_dir.display(),
                cluster.url("stockpile")
            );
        }
        DbCmd::Restore { from, to_time } => {
            let base = stockpile::db::backup::restore(&from, to_time, &config.data_dir).await?;
            println!(
                "restored {} as of {to_time} into {}; start it with `stockpile --data {} serve`",
                base.display(),
                config.data_dir.display(),
                config.data_dir.display()
            );
        }
    }
    Ok(())
}
