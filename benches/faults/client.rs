//! Load and checker of the fault matrix (`benches/faults/run.sh`).
//!
//! - `fault_client load URL TOKEN WAREHOUSE CLIENTS SECONDS OUT`: receives one lot of a
//!   million tents at WAREHOUSE, then CLIENTS workers issue one tent at a time for
//!   SECONDS, each with a fresh `Idempotency-Key`, as the console does. A request that
//!   gets no answer, a 5xx or a 503 is retried with the same key every 200 ms (as a
//!   clerk's screen would) until it is answered, or given up 90 s after the load ends.
//!   Every key's outcome goes to OUT, one JSON object per line.
//! - `fault_client check DATA OUT`: reads the ledger (the `stockpile` database of the
//!   private cluster in the data folder DATA), never the service's
//!   answers, and prints one line: keys acknowledged, lost (acknowledged, no ledger row),
//!   doubled (more than one row for a key), given up, done though given up (allowed:
//!   the client never heard), refused yet done, the acknowledged answers whose operation
//!   is not the one on the ledger, and lots whose balances differ from their ledger.
//!   Exits 1 if anything but "given up" and "done though given up" is not 0.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

const SKU: &str = "TENT-12M2-SGL";
const STOCK: i64 = 1_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("load") if args.len() == 8 => {
            let clients: usize = args[5].parse()?;
            let seconds: u64 = args[6].parse()?;
            load(&args[2], &args[3], &args[4], clients, seconds, &args[7]).await
        }
        Some("check") if args.len() == 4 => check(&args[2], &args[3]).await,
        _ => {
            eprintln!(
                "usage: fault_client load URL TOKEN WAREHOUSE CLIENTS SECONDS OUT\n       \
                 fault_client check DATA OUT"
            );
            std::process::exit(2);
        }
    }
}

/// How one keyed request ended.
#[derive(Debug)]
enum Outcome {
    /// 201, with the answer.
    Acked(Value),
    /// A 4xx answer: the service refused it.
    Refused(u16),
    /// No answer but 5xx or none, up to the give-up time.
    GivenUp,
}

/// Sends one keyed POST until it is answered with 2xx or 4xx, or `give_up` passes.
async fn send(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
    give_up: Instant,
) -> (String, Outcome, u32) {
    let key = uuid::Uuid::now_v7().to_string();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let res = client
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .json(body)
            .send()
            .await;
        if let Ok(res) = res {
            let status = res.status().as_u16();
            if status == 201 {
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                return (key, Outcome::Acked(answer), attempts);
            }
            if (400..500).contains(&status) {
                return (key, Outcome::Refused(status), attempts);
            }
        }
        if Instant::now() > give_up {
            return (key, Outcome::GivenUp, attempts);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn load(
    base: &str,
    token: &str,
    warehouse: &str,
    clients: usize,
    seconds: u64,
    out: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = base.trim_end_matches('/');
    let start = Instant::now();
    let stop = start + Duration::from_secs(seconds);
    let give_up = stop + Duration::from_secs(90);
    let code = format!("FAULT-{}", uuid::Uuid::now_v7().simple());
    let receipt =
        json!({"lines": [{"sku": SKU, "lot_code": code, "qty": STOCK, "source": "supplier"}]});
    let receipts = format!("{base}/api/v1/warehouses/{warehouse}/receipts");
    let (_, outcome, _) = send(&client, &receipts, token, &receipt, give_up).await;
    let Outcome::Acked(received) = outcome else {
        return Err(format!("the set-up receipt was not done: {outcome:?}").into());
    };
    let lot = received["lines"][0]["lot_id"]
        .as_str()
        .ok_or("the set-up receipt names no lot")?
        .to_owned();
    let receipt_id = &received["id"];
    eprintln!("receipt {receipt_id}: lot {lot}");
    let issues = format!("{base}/api/v1/warehouses/{warehouse}/issues");
    let body = json!({"lines": [{"lot_id": lot, "qty": 1, "reason": "fault matrix"}]});
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (client, token, issues, body) = (
            client.clone(),
            token.to_owned(),
            issues.clone(),
            body.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while Instant::now() < stop {
                outcomes.push(send(&client, &issues, &token, &body, give_up).await);
            }
            outcomes
        }));
    }
    let mut lines = String::new();
    let (mut acked, mut refused, mut given_up, mut retried) = (0, 0, 0, 0);
    for worker in workers {
        for (key, outcome, attempts) in worker.await? {
            retried += u32::from(attempts > 1);
            let (kind, id, status) = match outcome {
                Outcome::Acked(answer) => {
                    acked += 1;
                    ("acked", answer["id"].as_str().map(str::to_owned), 201)
                }
                Outcome::Refused(status) => {
                    refused += 1;
                    ("refused", None, status)
                }
                Outcome::GivenUp => {
                    given_up += 1;
                    ("given_up", None, 0)
                }
            };
            let line = json!({"key": key, "outcome": kind, "id": id, "status": status, "attempts": attempts});
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    std::fs::write(out, lines)?;
    println!(
        "load: acknowledged={acked} refused={refused} given_up={given_up} retried={retried} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn check(data: &str, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let results: Vec<Value> = std::fs::read_to_string(out)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let keys: Vec<String> = results
        .iter()
        .filter_map(|r| r["key"].as_str().map(str::to_owned))
        .collect();
    let cluster = stockpile::db::LocalCluster::new(
        std::path::Path::new(data),
        stockpile::db::cluster::Profile::Durable,
    )?;
    let mut conn = sqlx::PgConnection::connect_with(&cluster.connect_options("stockpile")).await?;
    let rows: Vec<(String, i64, Vec<uuid::Uuid>)> = sqlx::query_as(
        "select idempotency_key, count(*), array_agg(distinct ref_id)
           from stock_movements
          where idempotency_key = any($1) and kind = 'issue'
          group by idempotency_key",
    )
    .bind(&keys)
    .fetch_all(&mut conn)
    .await?;
    let on_ledger: HashMap<String, (i64, Vec<uuid::Uuid>)> =
        rows.into_iter().map(|(k, n, ids)| (k, (n, ids))).collect();
    let (
        mut acked,
        mut lost,
        mut doubled,
        mut given_up,
        mut done_unacked,
        mut phantom,
        mut wrong_answer,
    ) = (0, 0, 0, 0, 0, 0, 0);
    for r in &results {
        let key = r["key"].as_str().unwrap_or_default();
        let (rows, ids) = on_ledger.get(key).cloned().unwrap_or((0, Vec::new()));
        if rows > 1 {
            doubled += 1;
        }
        match r["outcome"].as_str() {
            Some("acked") => {
                acked += 1;
                if rows == 0 {
                    lost += 1;
                } else if ids
                    .iter()
                    .all(|id| Some(id.to_string().as_str()) != r["id"].as_str())
                {
                    wrong_answer += 1;
                }
            }
            Some("given_up") => {
                given_up += 1;
                done_unacked += i64::from(rows == 1);
            }
            _ => phantom += i64::from(rows > 0),
        }
    }
    let mismatched: i64 = sqlx::query_scalar(
        "select count(*)
           from stock_lots l
           left join (select lot_id, sum(qty) as qty, sum(reserved_delta) as reserved
                        from stock_movements group by lot_id) m on m.lot_id = l.id
          where l.on_hand <> coalesce(m.qty, 0) or l.reserved <> coalesce(m.reserved, 0)
             or l.on_hand < 0",
    )
    .fetch_one(&mut conn)
    .await?;
    println!(
        "check: acknowledged={acked} lost={lost} doubled={doubled} given_up={given_up} \
         done_unacknowledged={done_unacked} refused_but_done={phantom} \
         wrong_answer={wrong_answer} ledger_mismatch={mismatched}"
    );
    if lost + doubled + phantom + wrong_answer + mismatched > 0 {
        std::process::exit(1);
    }
    Ok(())
}
