//! What the audit chain costs writers: receipt-shaped transactions per second (one ledger
//! row on a lot of the writer's own, in its own transaction) at 1, 4 and 8 concurrent
//! writers, each without and with the audit event that must go with it.
//!
//! Run by `benches/audit_exports.sh` against its scratch database, after the exports
//! (which need the lots it generates); on its own it needs `STOCKPILE_BENCH_DATABASE_URL`
//! naming a migrated database with at least one lot, and does nothing without it.
//! `STOCKPILE_BENCH_CONTENTION_SECS` (default 5) is the length of each run; 0 skips them.

use std::time::Instant;

use serde_json::json;
use stockpile::audit;

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
