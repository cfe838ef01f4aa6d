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

    /// PostgreSQL URL of a replica for reads that may lag: the read-only list
    /// endpoints, exports and `audit verify`. Unset: they read the primary.
    #[arg(long, env = "STOCKPILE_READ_DATABASE_URL", global = true)]
    pub read_database_url: Option<String>,

    /// Folder of the private PostgreSQL cluster (used when DATABASE_URL is unset).
    #[arg(
        long = "data",
        env = "STOCKPILE_DATA",
        default_value = ".stockpile",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Maximum database connections per pool. A process has two (the commands that lock
    /// and write stock, and everything else; see `db::WritePool`), so it opens at most
    /// twice this. Keep it small (4–8× cores): more connections only add latency on the
    /// reservation path.
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

    /// The rectangle warehouse positions must lie in (WGS84), as
    /// `MIN_LAT,MIN_LON,MAX_LAT,MAX_LON`; an admin may place one outside it on purpose
    /// (`outside_service_area`). The default is the 11 GBA cities' bounding box.
    #[arg(
        long,
        env = "STOCKPILE_SERVICE_AREA",
        default_value = "21.4,111.3,24.5,115.5",
        global = true
    )]
    pub service_area: crate::warehouses::ServiceArea,

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

    /// Seconds within which every request is answered; past them, a 503 problem with
    /// `Retry-After` (a hung database must not hang the screens).
    #[arg(long, env = "STOCKPILE_REQUEST_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Lifetime of a sign-in token, in hours.
    #[arg(long, env = "STOCKPILE_TOKEN_TTL_HOURS", default_value_t = 12)]
    pub token_ttl_hours: u32,

    /// Snapping a point off the road network to its nearest node: road distance ÷
    /// straight-line distance for that last stretch (≥ 1; 1.3 is a usual urban circuity).
    #[arg(long, env = "STOCKPILE_SNAP_CIRCUITY", default_value_t = 1.3, value_parser = parse_circuity)]
    pub snap_circuity: f64,

    /// Snapping: average speed on that last stretch, in km/h (> 0; 30 for urban streets).
    #[arg(long, env = "STOCKPILE_SNAP_SPEED_KMH", default_value_t = 30.0, value_parser = parse_speed)]
    pub snap_speed_kmh: f64,

    /// Community points (tier `community`) supply only incidents within this
    /// straight-line distance of the point, in km (allocation rule 2).
    #[arg(long, env = "STOCKPILE_COMMUNITY_RADIUS_KM", default_value_t = 5.0, value_parser = parse_radius)]
    pub community_radius_km: f64,

    /// Default delivery target per response level, in hours: the time within which the
    /// first batch must arrive after the dispatch order.
    #[arg(long, env = "STOCKPILE_DELIVERY_TARGETS", default_value = "county=6,city=8,province=10",
          value_parser = crate::incidents::DeliveryTargets::parse)]
    pub delivery_targets: crate::incidents::DeliveryTargets,

    /// For benchmarks only (`benches/load`, `BENCH_UNCHAINED=1`): answer writes without
    /// chaining their audit events, which then stay pending. Breaks the audit trail.
    #[arg(
        long,
        env = "STOCKPILE_BENCH_UNCHAINED",
        default_value_t = false,
        hide = true
    )]
    pub bench_unchained: bool,
}

fn parse_circuity(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (1.0..=5.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}`: expected a factor from 1 to 5, such as 1.3")),
    }
}

fn parse_radius(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 100.0 => Ok(v),
        _ => Err(format!(
            "`{s}`: expected a distance in km above 0 and at most 100, such as 5"
        )),
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 200.0 => Ok(v),
        _ => Err(format!(
            "`{s}`: expected a speed in km/h above 0 and at most 200, such as 30"
        )),
    }
}

/// Settings that the HTTP layer and the domain need at run time.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The deployment's time zone.
    pub tz: Tz,
    /// Lifetime of a sign-in token, in hours.
    pub token_ttl_hours: u32,
    /// How points off the road network join it.
    pub snap: crate::routing::SnapConfig,
    /// How long a write's answer waits for its audit events to be chained before it is
    /// a 503 instead (see `audit::chain`).
    pub chain_wait: std::time::Duration,
    /// For benchmarks only: answer writes without chaining their audit events.
    pub unchained_for_benchmarks: bool,
    /// How far from an incident a community point still supplies it, in km.
    pub community_radius_km: f64,
    /// Default delivery targets per response level.
    pub delivery_targets: crate::incidents::DeliveryTargets,
    /// Where warehouses may be placed without an explicit override.
    pub service_area: crate::warehouses::ServiceArea,
}

impl Settings {
    /// Today in the deployment's time zone: the calendar of expiry, arrival and report
    /// dates, and of the stock cells' short-dated cut-off (`stock::cells`).
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now().with_timezone(&self.tz).date_naive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tz: chrono_tz::Asia::Shanghai,
            token_ttl_hours: 12,
            snap: crate::routing::SnapConfig::default(),
            chain_wait: std::time::Duration::from_secs(10),
            unchained_for_benchmarks: false,
            community_radius_km: 5.0,
            delivery_targets: crate::incidents::DeliveryTargets::default(),
            service_area: crate::warehouses::ServiceArea::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_constants_are_checked_and_say_what_is_expected() {
        assert_eq!(parse_circuity("1.3"), Ok(1.3));
        assert_eq!(parse_speed("15"), Ok(15.0));
        for bad in ["0.9", "abc", "NaN", "6"] {
            let err = parse_circuity(bad).expect_err(bad);
            assert!(err.contains("from 1 to 5"), "{err}");
        }
        for bad in ["0", "-3", "inf", "fast"] {
            let err = parse_speed(bad).expect_err(bad);
            assert!(err.contains("km/h"), "{err}");
        }
    }
}
