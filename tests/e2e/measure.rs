//! Measurements for the note: the page's size and first load time with the map
//! drawn, and the map with 500 warehouses. They assert only generous bounds; the figures
//! are printed and written to `target/e2e-screenshots/metrics-*.json`.

use serde_json::Value;

use crate::browser::{Browser, screenshot_dir};
use crate::helpers::TestApp;
use crate::{ONE_AT_A_TIME, open_as};

const TIMING: &str = "(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const sum = (xs, k) => xs.reduce((a, r) => a + (r[k] || 0), 0);
  const ui = res.filter(r => r.name.includes('/ui/'));
  const apiRes = res.filter(r => r.name.includes('/api/'));
  const drawn = performance.getEntriesByName('stockpile-map-drawn')[0];
  return {
    html_bytes: nav.decodedBodySize,
    static_files: ui.length,
    static_bytes: sum(ui, 'decodedBodySize'),
    static_transfer_bytes: sum(ui, 'transferSize'),
    api_calls: apiRes.length,
    api_bytes: sum(apiRes, 'decodedBodySize'),
    dom_content_loaded_ms: Math.round(nav.domContentLoadedEventEnd),
    load_event_ms: Math.round(nav.loadEventEnd),
    map_drawn_ms: drawn ? Math.round(drawn.startTime) : null,
    basemap_bytes: (res.find(r => r.name.endsWith('gba-basemap.geojson')) || {}).decodedBodySize || null,
  };
})()";

fn save(name: &str, v: &Value) {
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("folder");
    std::fs::write(
        dir.join(format!("metrics-{name}.json")),
        serde_json::to_string_pretty(v).expect("json"),
    )
    .expect("write metrics");
    eprintln!("{name}: {v}");
}

#[tokio::test]
async fn the_map_screen_loads_cold_within_a_few_seconds_on_the_demo_data() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("measure first load").await else {
        return;
    };
    let app = TestApp::demo().await;
    open_as(&b, &app, "dispatcher", &[], "#/map").await;
    b.until(
        "the map drawn",
        "document.querySelector('#map[data-ready]')",
        30,
    )
    .await;

    // A cold load: empty cache, then reload the map screen.
    b.clear_cache().await;
    b.js("location.reload() || true").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    b.until(
        "the map drawn again",
        "performance.getEntriesByName('stockpile-map-drawn').length > 0",
        30,
    )
    .await;
    let m = b.js(TIMING).await;
    save("first-load", &m);

    assert!(
        m["map_drawn_ms"].as_f64().unwrap_or(f64::MAX) < 10_000.0,
        "{m}"
    );
    assert!(
        m["static_bytes"].as_f64().unwrap_or(f64::MAX) < 1_000_000.0,
        "{m}"
    );
    b.close().await;
}

#[tokio::test]
async fn the_map_stays_responsive_with_500_warehouses() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(b) = Browser::start("measure 500 warehouses").await else {
        return;
    };
    let app = TestApp::demo().await;
    let existing: i64 = sqlx::query_scalar("select count(*) from warehouses")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    // Spread the extra warehouses over the GBA on a deterministic grid with jitter.
    sqlx::query(
        "insert into warehouses (id, code, name_zh, name_en, lat, lon, city, tier)
         select gen_random_uuid(), 'LOAD-' || lpad(n::text, 4, '0'), '测试仓库' || n, 'Load test depot ' || n,
                21.9 + (n % 23) * 0.07 + ((n * 7919) % 100) / 4000.0,
                112.5 + (n / 23) * 0.09 + ((n * 104729) % 100) / 4000.0,
                'Jiangmen', 'community'
           from generate_series(1, $1) as n",
    )
    .bind(500 - existing)
    .execute(&app.pool)
    .await
    .expect("insert warehouses");

    open_as(&b, &app, "dispatcher", &[], "#/map").await;
    b.until(
        "the map drawn",
        "performance.getEntriesByName('stockpile-map-drawn').length > 0",
        60,
    )
    .await;
    let load = b.js(TIMING).await;
    let markers = b
        .js("(() => { let n = 0; stockpileMap.layers.warehouses.eachLayer(() => n++); return n; })()")
        .await;
    // Zoom in and out and pan, timing each until Leaflet reports the move done.
    let moves = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const m = stockpileMap.map; const out = {};
             const step = (name, f) => new Promise(r => { const t0 = performance.now(); m.once('moveend', () => requestAnimationFrame(() => { out[name] = Math.round(performance.now() - t0); r(); })); f(); });
             (async () => {
               await step('zoom_in_ms', () => m.setZoom(m.getZoom() + 2, {animate: false}));
               await step('pan_ms', () => m.panBy([300, 200], {animate: false}));
               await step('zoom_out_ms', () => m.setZoom(m.getZoom() - 2, {animate: false}));
               done(out);
             })();",
            vec![],
        )
        .await
        .expect("map moves");
    let t0 = std::time::Instant::now();
    b.el("#size-sku")
        .await
        .select_by_value("WATER-5L")
        .await
        .expect("size by item");
    b.until("the resized markers", "stockpileMap.layers.warehouses && stockpileMap.map.hasLayer(stockpileMap.layers.warehouses)", 30)
        .await;
    let resize_ms = t0.elapsed().as_millis();
    b.screenshot("dispatcher-map-500-warehouses").await;
    let m = serde_json::json!({"warehouses": markers, "load": load, "moves": moves, "resize_by_item_ms_incl_webdriver": resize_ms});
    save("500-warehouses", &m);

    assert_eq!(markers, 500);
    assert!(
        load["map_drawn_ms"].as_f64().unwrap_or(f64::MAX) < 15_000.0,
        "{m}"
    );
    b.close().await;
}
