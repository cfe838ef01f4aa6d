//! HTTP load client for the load scenarios: writes per second at a given concurrency
//! against a running `stockpile serve`, with median and 99th-percentile latency.
//!
//! - `receipt`, `issue` (issue 4, `benches/load/stock_ops.sh`): each client works on its
//!   own lot (created by a set-up receipt), so the figure measures the operation, not a
//!   hot row. Extra argument: the warehouse (default JM-JH-RC).
//! - `allocate` (issue 5, `benches/load/allocation.sh`): one-line `high` requests of one
//!   unit for an incident, client `c`'s `n`-th request asking for SKU `(c + n) mod k` of
//!   the `k` given. Extra arguments: the incident id and the comma-separated SKUs.
//!
//! - a path such as `/issue/{c}` (the bare server of `BENCH_BARE=1`): a bodiless POST to
//!   that path of the server at URL, `{c}` replaced by the client's number, answered with
//!   any 2xx.
//!
//! Usage: `load_client URL TOKEN receipt|issue|allocate|PATH CLIENTS SECONDS [ARGS…]`. The
//! scripts run pgbench with the same SQL beside it. With `LOAD_KEYS=1` every request
//! carries a fresh `Idempotency-Key`, as the web console's requests do.
//!
//! Each client has one keep-alive HTTP/1.1 connection (hyper's client connection, with
//! no pool), as each pgbench client has one session, so that the generator takes as
//! little as it can of the cores it shares with the service and PostgreSQL: about
//! 0.04 ms of CPU per request (reqwest's pooled client took 0.065 ms).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

const SKU: &str = "TENT-12M2-SGL";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!(
            "usage: load_client URL TOKEN receipt|issue CLIENTS SECONDS [WAREHOUSE]\n       \
             load_client URL TOKEN allocate CLIENTS SECONDS INCIDENT SKU[,SKU…]\n       \
             load_client URL TOKEN /PATH/{{c}} CLIENTS SECONDS"
        );
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let token = args[2].clone();
    let op = args[3].clone();
    let clients: usize = args[4].parse()?;
    let seconds: u64 = args[5].parse()?;
    let allocate = op == "allocate";
    let bare = op.starts_with('/');
    let warehouse = args.get(6).cloned().unwrap_or_else(|| "JM-JH-RC".into());
    let skus: Vec<String> = args
        .get(7)
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if allocate && skus.is_empty() {
        return Err("allocate needs an incident id and a list of SKUs".into());
    }
    let keys = std::env::var_os("LOAD_KEYS").is_some_and(|v| v == "1");
    let run = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;

    // Set-up: one lot per client with plenty of stock.
    let mut lots = Vec::new();
    for c in 0..clients {
        if allocate || bare {
            lots.push((String::new(), String::new()));
            continue;
        }
        let code = format!("LOAD-{run}-{c}");
        let body = json!({"lines": [{"sku": SKU, "lot_code": code, "qty": 1_000_000_000i64}]});
        let res = client
            .post(format!("{base}/api/v1/warehouses/{warehouse}/receipts"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await?;
        if status.as_u16() != 201 {
            return Err(format!("set-up receipt failed: {status} {v}").into());
        }
        lots.push((
            code,
            v["lines"][0]["lot_id"].as_str().unwrap_or("").to_owned(),
        ));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let uri: http::Uri = base.parse()?;
    let authority = uri.authority().ok_or("URL needs a host")?.clone();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))?;
    let host = HeaderValue::from_str(authority.as_str())?;
    // One keep-alive HTTP/1.1 connection per client, as pgbench has one session per client.
    let mut senders = Vec::new();
    for _ in 0..clients {
        let stream = TcpStream::connect(authority.as_str()).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        senders.push(sender);
    }
    let mut tasks = Vec::new();
    let started = Instant::now();
    for (c, ((code, lot_id), mut sender)) in lots.into_iter().zip(senders).enumerate() {
        let (op, warehouse, skus, host, bearer) = (
            op.clone(),
            warehouse.clone(),
            skus.clone(),
            host.clone(),
            bearer.clone(),
        );
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = c;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (path, body) = if bare {
                    (op.replace("{c}", &c.to_string()), None)
                } else if op == "allocate" {
                    // `warehouse` holds the incident id for this operation.
                    (
                        format!("/api/v1/incidents/{warehouse}/requests"),
                        Some(json!({"priority": "high", "lines": [{"sku": skus[n % skus.len()], "qty": 1}]})),
                    )
                } else if op == "issue" {
                    (
                        format!("/api/v1/warehouses/{warehouse}/issues"),
                        Some(json!({"lines": [{"lot_id": lot_id, "qty": 1, "reason": "load test"}]})),
                    )
                } else {
                    (
                        format!("/api/v1/warehouses/{warehouse}/receipts"),
                        Some(json!({"lines": [{"sku": SKU, "lot_code": code, "qty": 1, "source": "supplier"}]})),
                    )
                };
                let mut req = Request::post(path)
                    .header(HOST, host.clone())
                    .header(AUTHORIZATION, bearer.clone());
                if body.is_some() {
                    req = req.header(CONTENT_TYPE, "application/json");
                }
                if keys {
                    req = req.header("idempotency-key", uuid::Uuid::new_v4().to_string());
                }
                let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
                let Ok(req) = req.body(Full::new(body)) else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    break;
                };
                let t = Instant::now();
                let res = match sender.ready().await {
                    Ok(()) => sender.send_request(req).await,
                    Err(e) => Err(e),
                };
                let outcome = match res {
                    Ok(r) => {
                        let status = r.status();
                        r.into_body()
                            .collect()
                            .await
                            .map(|b| (status, b.to_bytes()))
                    }
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok((status, _)) if status.as_u16() == 201 || bare && status.is_success() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        latencies.push(t.elapsed());
                    }
                    Ok((status, text)) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("{status}: {}", String::from_utf8_lossy(&text));
                        }
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("request error: {e}");
                        }
                        // The connection is gone: this client stops.
                        break;
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let n = ok.load(Ordering::Relaxed);
    println!(
        "http {op:<8}{} clients={clients:<3} ok={n:<7} failed={:<5} {:>8.1}/s  p50={:.2}ms p99={:.2}ms",
        if keys { " (keys)" } else { "" },
        failed.load(Ordering::Relaxed),
        n as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
    Ok(())
}
