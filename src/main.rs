//! The `stockpile` command: serve, migrate, seed, and operator tools.

use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use stockpile::config::{Config, ServeConfig, Settings};
use stockpile::db::Database;

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
            print!("{}", stockpile::http::openapi::document());
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
    }
}

async fn serve_cmd(config: Config, serve: ServeConfig) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let db = Database::open(&config).await?;
    let result = async {
        stockpile::db::migrate(&db.pool).await?;
        if serve.demo {
            let today = Utc::now().with_timezone(&config.tz).date_naive();
            match stockpile::seed::load_if_empty(&db.pool, &stockpile::seed::default_dir(), today).await? {
                Some(report) => tracing::info!(?report, "demo data loaded"),
                None => tracing::info!("database already holds data; demo data not reloaded"),
            }
        }
        let settings = Settings {
            tz: config.tz,
            token_ttl_hours: serve.token_ttl_hours,
        };
        let state = stockpile::AppState::new(db.pool.clone(), settings);
        let listener = tokio::net::TcpListener::bind(serve.listen)
            .await
            .with_context(|| format!("cannot listen on {}", serve.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, ready_ms = started.elapsed().as_millis() as u64, "stockpile is listening");
        println!("stockpile listening on http://{addr}");
        axum::serve(listener, stockpile::app(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server error")
    }
    .await;
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
