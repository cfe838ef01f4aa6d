//! Service configuration: every knob comes from a flag or an environment variable, with
//! defaults that make `stockpile serve --demo` work on a fresh machine.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono_tz::Tz;

/// Settings shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// PostgreSQL URL. When unset, Stockpile runs a private cluster in `--data`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Folder of the private PostgreSQL cluster (used when DATABASE_URL is unset).
    #[arg(
        long = "data",
        env = "STOCKPILE_DATA",
        default_value = ".stockpile",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Maximum database connections per process. Keep it small (4–8× cores): more
    /// connections only add latency on the reservation path.
    #[arg(long, env = "STOCKPILE_DB_POOL", default_value_t = 12, global = true)]
    pub db_pool: u32,

    /// The deployment's time zone: expiry and arrival dates are calendar dates here.
    #[arg(
        long,
        env = "STOCKPILE_TZ",
        default_value = "Asia/Shanghai",
        global = true
    )]
    pub tz: Tz,

    /// Emit logs as JSON lines.
    #[arg(
        long,
        env = "STOCKPILE_LOG_JSON",
        default_value_t = false,
        global = true
    )]
    pub log_json: bool,
}

/// Settings of `stockpile serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "STOCKPILE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Load the GBA demo data into an empty database and create one demo user per role.
    #[arg(long, default_value_t = false)]
    pub demo: bool,

    /// Lifetime of a sign-in token, in hours.
    #[arg(long, env = "STOCKPILE_TOKEN_TTL_HOURS", default_value_t = 12)]
    pub token_ttl_hours: u32,
}

/// Settings that the HTTP layer and the domain need at run time.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The deployment's time zone.
    pub tz: Tz,
    /// Lifetime of a sign-in token, in hours.
    pub token_ttl_hours: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tz: chrono_tz::Asia::Shanghai,
            token_ttl_hours: 12,
        }
    }
}
