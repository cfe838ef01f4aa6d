//! The web console's static assets (`ui/`), embedded in the binary at build time.
//!
//! Invariants: every asset is compiled in, so the console needs nothing at run time from
//! the network or the file system; each asset has a content type and an ETag (from the
//! SHA-256 of its bytes), so browsers revalidate cheaply and never run stale code.

pub mod http;

use std::collections::HashMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `/ui/`, e.g. `js/app.js`.
    pub path: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Whether the path carries a version (vendored libraries), so it may be cached for long.
    pub immutable: bool,
    /// Weak ETag (`W/"<hex SHA-256 prefix>"`): weak, because the gzip and identity
    /// encodings of one file share it.
    pub etag: String,
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $path)) as &[u8])),*]
    };
}

/// Every file of the console. Adding a file to `ui/` means adding it here.
const FILES: &[(&str, &[u8])] = assets![
    "index.html",
    "app.css",
    "favicon.svg",
    "js/app.js",
    "js/api.js",
    "js/i18n.js",
    "js/dom.js",
    "js/store.js",
    "js/clerk.js",
    "js/map.js",
    "js/dispatch.js",
    "js/audit.js",
    "js/imports.js",
    "js/masterdata.js",
    "js/users.js",
    "js/network.js",
    "js/chart.js",
    "js/reserve.js",
    "js/operations.js",
    "data/gba-basemap.geojson",
    "data/NOTICE.md",
    "data/LICENSE-geo-maps-MIT",
    "vendor/leaflet-1.9.4/leaflet.js",
    "vendor/leaflet-1.9.4/leaflet.css",
    "vendor/leaflet-1.9.4/LICENSE",
    "vendor/leaflet-1.9.4/images/layers.png",
    "vendor/leaflet-1.9.4/images/layers-2x.png",
    "vendor/leaflet-1.9.4/images/marker-icon.png",
    "vendor/leaflet-1.9.4/images/marker-icon-2x.png",
    "vendor/leaflet-1.9.4/images/marker-shadow.png",
];

/// The content type for a file name, by extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("geojson") => "application/geo+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

/// The embedded asset at `path` (relative to `/ui/`), if any.
pub fn asset(path: &str) -> Option<&'static Asset> {
    static TABLE: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            FILES
                .iter()
                .map(|&(path, bytes)| {
                    let digest = Sha256::digest(bytes);
                    let asset = Asset {
                        path,
                        bytes,
                        content_type: content_type(path),
                        immutable: path.starts_with("vendor/"),
                        etag: format!("W/\"{}\"", hex::encode(&digest[..12])),
                    };
                    (path, asset)
                })
                .collect()
        })
        .get(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_file_is_embedded_with_a_type_and_etag() {
        for (path, _) in FILES {
            let a = asset(path).expect("listed asset");
            assert!(!a.bytes.is_empty(), "{path} is empty");
            assert!(
                a.etag.starts_with("W/\"") && a.etag.len() == 28,
                "{}",
                a.etag
            );
        }
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("data/x.geojson"), "application/geo+json");
    }

    #[test]
    fn every_file_under_ui_is_listed_except_the_build_tools() {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read ui/") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else if let Ok(rel) = path.strip_prefix(base) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut files = Vec::new();
        walk(&base, &base, &mut files);
        let listed: Vec<&str> = FILES.iter().map(|(p, _)| *p).collect();
        for f in files {
            let skipped = f.starts_with("tools/");
            assert!(
                skipped || listed.contains(&f.as_str()),
                "ui/{f} is not listed in FILES"
            );
        }
    }

    #[test]
    fn unknown_paths_are_not_assets() {
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("js/nope.js").is_none());
    }
}
