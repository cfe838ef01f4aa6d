//! Logging: `tracing` filtered by `RUST_LOG` (default `stockpile=info,tower_http=info`),
//! as text or JSON lines.

use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

const DEFAULT_FILTER: &str = "stockpile=info,tower_http=info";

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init(json: bool) {
    let spec = std::env::var("RUST_LOG").ok();
    // Colours only on a terminal: redirected to a file or a collector, escape codes are
    // noise in every line (and cost formatting time on every request).
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.boxed()
    };
    // A global filter (a layer below the formatter), not a per-layer one: per-layer
    // filters look up each span's filter state every time a request's future is polled.
    let (targets, env) = match log_filter(spec.as_deref()) {
        LogFilter::Targets(t) => (Some(t), None),
        LogFilter::Env(e) => (None, Some(e)),
    };
    let _ = tracing_subscriber::registry()
        .with(targets)
        .with(env)
        .with(fmt)
        .try_init();
}

/// How `RUST_LOG` is applied. Made once at start-up, so its size does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum LogFilter {
    /// A list of `target=level` (or a bare level): decided once per call site.
    Targets(Targets),
    /// A spec that filters on spans or their fields (`target[span{field=value}]=level`).
    /// `EnvFilter` supports it, at a price: it tracks every span, taking a lock each
    /// time a request's span is entered, that is on every poll of the request's future.
    Env(EnvFilter),
}

/// `RUST_LOG` as a filter: the cheap one unless the spec needs span filtering; an empty
/// or malformed spec gives the default.
fn log_filter(spec: Option<&str>) -> LogFilter {
    let spec = spec.map(str::trim).filter(|s| !s.is_empty());
    match spec {
        Some(s) if s.contains('[') => EnvFilter::try_new(s)
            .map(LogFilter::Env)
            .unwrap_or_else(|_| default_filter()),
        Some(s) => Targets::from_str(s)
            .map(LogFilter::Targets)
            .unwrap_or_else(|_| default_filter()),
        None => default_filter(),
    }
}

fn default_filter() -> LogFilter {
    LogFilter::Targets(Targets::from_str(DEFAULT_FILTER).expect("the default filter parses"))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn targets(spec: Option<&str>) -> Targets {
        match log_filter(spec) {
            LogFilter::Targets(t) => t,
            LogFilter::Env(e) => panic!("expected a target filter, got {e}"),
        }
    }

    #[test]
    fn plain_specs_become_target_filters() {
        let t = targets(Some("stockpile=debug,sqlx=warn"));
        assert!(t.would_enable("stockpile::stock", &Level::DEBUG));
        assert!(!t.would_enable("sqlx::query", &Level::INFO));
        let all = targets(Some(" trace "));
        assert!(all.would_enable("anything", &Level::TRACE));
    }

    #[test]
    fn no_empty_or_malformed_spec_gives_the_default() {
        for spec in [None, Some(""), Some("  "), Some("stockpile=loud")] {
            let t = targets(spec);
            assert!(t.would_enable("stockpile::http", &Level::INFO), "{spec:?}");
            assert!(
                !t.would_enable("stockpile::http", &Level::DEBUG),
                "{spec:?}"
            );
            assert!(
                t.would_enable("tower_http::trace", &Level::INFO),
                "{spec:?}"
            );
            assert!(!t.would_enable("sqlx::query", &Level::INFO), "{spec:?}");
        }
    }

    #[test]
    fn span_filters_keep_the_env_filter() {
        assert!(matches!(
            log_filter(Some("stockpile[request]=debug")),
            LogFilter::Env(_)
        ));
    }
}
