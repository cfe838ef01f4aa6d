//! Audit-chain verification at scale: appends N events to a scratch database, each
//! naming one ledger movement (the movement ↔ event link rule of `audit`), then times
//! `audit::db::verify` over the whole chain and the link check.
//!
//! Driven by `benches/audit_exports.sh`, which creates the scratch database and its
//! movements; on its own it needs `STOCKPILE_BENCH_DATABASE_URL` and does nothing without it.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use stockpile::audit::{self, Event};

fn main() -> anyhow::Result<()> {
    let Ok(url) = std::env::var("STOCKPILE_BENCH_DATABASE_URL") else {
        eprintln!("audit_chain: set STOCKPILE_BENCH_DATABASE_URL (see benches/audit_exports.sh)");
        return Ok(());
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(run(&url))
}

async fn run(url: &str) -> anyhow::Result<()> {
    let pool = stockpile::db::pool(url.parse()?, 4).await?;
    let (first, count): (Option<i64>, i64) =
        sqlx::query_as("select min(id), count(*) from stock_movements")
            .fetch_one(&pool)
            .await?;
    let first = first.unwrap_or(1);
    let head: i64 = sqlx::query_scalar("select seq from audit_chain_head")
        .fetch_one(&pool)
        .await?;
    if head == 0 {
        let started = Instant::now();
        append(&pool, first, count).await?;
        println!(
            "generated {count} events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let started = Instant::now();
    let v = audit::db::verify(&pool).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "verify: ok={} events={} movements={} in {secs:.2} s ({:.0} events/s)",
        v.ok,
        v.events_checked,
        v.movements_checked,
        v.events_checked as f64 / secs
    );
    anyhow::ensure!(v.ok, "the generated chain must verify: {v:?}");

    // What the single chain head costs writers: receipt-shaped transactions (one ledger
    // row, on a lot of the writer's own) with and without their audit event.
    let secs: u64 = std::env::var("STOCKPILE_BENCH_CONTENTION_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    if secs > 0 {
        let lots: Vec<uuid::Uuid> =
            sqlx::query_scalar("select id from stock_lots order by id limit 8")
                .fetch_all(&pool)
                .await?;
        for writers in [1usize, 4, 8] {
            if writers > lots.len() {
                break;
            }
            for with_audit in [false, true] {
                let tps = contention(url, &lots[..writers], with_audit, secs).await?;
                println!(
                    "receipt-shaped transactions, {writers} writer(s), audit {}: {tps:.0} tx/s",
                    if with_audit { "on " } else { "off" }
                );
            }
        }
    }
    Ok(())
}

/// Transactions per second of `lots.len()` concurrent writers for `secs` seconds.
async fn contention(
    url: &str,
    lots: &[uuid::Uuid],
    with_audit: bool,
    secs: u64,
) -> anyhow::Result<f64> {
    let pool = stockpile::db::pool(url.parse()?, lots.len() as u32 + 1).await?;
    let deadline = Instant::now() + std::time::Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for lot in lots.iter().copied() {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let mut tx = pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "insert into stock_movements (lot_id, kind, qty, actor_id)
                     values ($1, 'receipt', 1, '00000000-0000-0000-0000-000000000001') returning id",
                )
                .bind(lot)
                .fetch_one(&mut *tx)
                .await?;
                if with_audit {
                    audit::db::record(
                        &mut tx,
                        &stockpile::auth::Actor::system(),
                        &stockpile::audit::Origin::default(),
                        audit::Change {
                            action: "stock.receipt",
                            entity_kind: "lot",
                            entity_id: lot.to_string(),
                            before: None,
                            after: Some(json!({ "movement_ids": [id], "qty": 1 })),
                        },
                    )
                    .await?;
                }
                tx.commit().await?;
                done += 1;
            }
            anyhow::Ok(done)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    pool.close().await;
    Ok(total as f64 / secs as f64)
}

/// Appends one event per movement, in batches, computing the hashes as `record` does.
async fn append(pool: &sqlx::PgPool, first: i64, count: i64) -> anyhow::Result<()> {
    const BATCH: i64 = 10_000;
    let base: DateTime<Utc> = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
    let system = stockpile::ids::SYSTEM_USER.0;
    let mut prev = audit::genesis_hash();
    let mut seq = 0i64;
    while seq < count {
        let mut cols: (
            Vec<i64>,
            Vec<DateTime<Utc>>,
            Vec<String>,
            Vec<serde_json::Value>,
        ) = Default::default();
        let mut hashes: (Vec<String>, Vec<String>) = Default::default();
        for _ in 0..BATCH.min(count - seq) {
            seq += 1;
            let e = Event {
                seq,
                at: base + Duration::milliseconds(seq),
                actor_id: system,
                actor_username: "system".into(),
                action: "stock.receipt".into(),
                entity_kind: "lot".into(),
                entity_id: format!("bench-{seq}"),
                request_id: None,
                idempotency_key: None,
                before: None,
                after: Some(json!({ "movement_ids": [first + seq - 1], "qty": 1 })),
            };
            let h = e.hash(&prev);
            cols.0.push(e.seq);
            cols.1.push(e.at);
            cols.2.push(e.entity_id);
            cols.3.push(e.after.unwrap_or_default());
            hashes.0.push(std::mem::replace(&mut prev, h.clone()));
            hashes.1.push(h);
        }
        sqlx::query(
            "insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind,
                                       entity_id, after, prev_hash, hash)
             select s, a, $7, 'system', 'stock.receipt', 'lot', e, af, p, h
               from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::jsonb[], $5::text[], $6::text[])
                    as t(s, a, e, af, p, h)",
        )
        .bind(&cols.0)
        .bind(&cols.1)
        .bind(&cols.2)
        .bind(&cols.3)
        .bind(&hashes.0)
        .bind(&hashes.1)
        .bind(system)
        .execute(pool)
        .await?;
    }
    sqlx::query("update audit_chain_head set seq = $1, hash = $2 where id")
        .bind(seq)
        .bind(&prev)
        .execute(pool)
        .await?;
    Ok(())
}
