//! The console's HTTP serving, without a browser: types, caching, compression, 404s.

use crate::helpers::TestApp;

#[tokio::test]
async fn the_console_shell_and_assets_are_served_with_types_validators_and_a_strict_policy() {
    let app = TestApp::empty().await;
    let c = &app.client;

    let index = c.get(app.url("/")).send().await.expect("GET /");
    let js = c
        .get(app.url("/ui/js/app.js"))
        .send()
        .await
        .expect("GET app.js");
    let etag = js.headers()["etag"].to_str().expect("etag").to_owned();
    let again = c
        .get(app.url("/ui/js/app.js"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("revalidate");
    let vendor = c
        .get(app.url("/ui/vendor/leaflet-1.9.4/leaflet.js"))
        .send()
        .await
        .expect("GET leaflet");
    let basemap = c
        .get(app.url("/ui/data/gba-basemap.geojson"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("GET basemap");
    let missing = c
        .get(app.url("/ui/js/nope.js"))
        .send()
        .await
        .expect("GET nope");

    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(index.text().await.expect("html").contains("/ui/js/app.js"));
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    assert_eq!(again.status(), 304, "a matching ETag revalidates");
    assert_eq!(
        vendor.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(basemap.headers()["content-type"], "application/geo+json");
    assert_eq!(basemap.headers()["content-encoding"], "gzip");
    let gz = basemap.bytes().await.expect("body").len();
    assert!(gz < 60_000, "gzip shrinks the 93 KB basemap: {gz} bytes");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}
