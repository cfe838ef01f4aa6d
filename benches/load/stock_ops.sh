#!/usr/bin/env bash
# Load scenario for issue 4: receipts/s and issues/s through HTTP at 1, 4, 8, 16 and 32 clients,
# each followed by pgbench running the same SQL (benches/load/receipt.sql, issue.sql) at
# the same concurrency against the same database, so that the ratio service/pgbench
# shows what the service costs on top of PostgreSQL.
# Usage: benches/load/stock_ops.sh [seconds_per_run] [client counts...]
# Database: a fresh database $BENCH_DB (default stockpile_bench_stock) on the server of
# $BENCH_ADMIN_URL; by default a private cluster in target/bench-pg, started with
# `stockpile db start` and stopped at the end. BENCH_UNCHAINED=1: see benches/load/common.sh.
# BENCH_BARE=1 adds, at each client count, the floor of the stack for an issue: the same
# statement behind a bare axum + sqlx server (benches/load/bare_server.rs), beside pgbench
# running it.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
shift || true
CLIENTS=${*:-1 4 8 16 32}
DB=${BENCH_DB:-stockpile_bench_stock}
PORT=${BENCH_PORT:-18084}
TARGET=${CARGO_TARGET_DIR:-target}
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
bench_clerk "$URL"
psql "$URL" -q <<SQL
-- pgbench's lots, one per client, like the HTTP clients' set-up receipts.
insert into stock_lots (id, item_id, warehouse_id, lot_code, received_on, source)
select gen_random_uuid(), i.id, w.id, 'PGB-' || g, current_date, 'supplier'
  from items i, warehouses w, generate_series(0, 127) g where i.sku = 'TENT-12M2-SGL' and w.code = 'JM-JH-RC';
insert into stock_movements (lot_id, kind, qty, actor_id)
select id, 'seed', 1000000000, '00000000-0000-0000-0000-000000000001' from stock_lots where lot_code like 'PGB-%';
SQL
ITEM=$(psql "$URL" -Atc "select id from items where sku = 'TENT-12M2-SGL'")
ACTOR=$(psql "$URL" -Atc "select id from users where username = 'bench-clerk'")
WH=$(psql "$URL" -Atc "select id from warehouses where code = 'JM-JH-RC'")
# What the service hashes for an issue event, up to `seq` (src/audit/mod.rs), so that
# pgbench's hash costs the same.
CANON='{"action":"stock.issue","actor_id":"'$ACTOR'","actor_username":"bench-clerk","after":{"lines":[{"lot_id":"01a21f60-aae5-7000-bac7-c4149f40a880","qty":-1,"reason":"load test"}],"warehouse":"JM-JH-RC"},"at":"2026-11-27T23:37:13.575123Z","before":null,"entity_id":"01a21f60-b0eb-7349-9a86-16e1fe8680d8","entity_kind":"issue","idempotency_key":null,"request_id":"42c427c5-c17a-4fb2-af90-2a718f52a1dd","seq":'

start_server "$TARGET/bench-stock-serve.log"

header
# pgbench SCRIPT LABEL CLIENTS: runs benches/load/SCRIPT.sql and prints its line.
pgb() {
    local j=$(( $3 < 2 ? $3 : 2 ))
    pgbench -n -M prepared -f "benches/load/$1.sql" -c "$3" -j "$j" -T "$SECS" \
        -D actor_id="$ACTOR" -D item="$ITEM" -D wh_id="$WH" -D canon="$CANON" "$URL" 2>/dev/null \
        | awk -v op="$2" -v c="$3" '/latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "pgbench %-8s clients=%-3s %26.1f/s  avg=%sms\n", op, c, tps, lat}'
}

for op in receipt issue; do
    for c in $CLIENTS; do
        $LOAD "http://127.0.0.1:$PORT" "$TOKEN" $op "$c" "$SECS"
        pgb $op $op "$c"
    done
done

if [ -n "${BENCH_BARE:-}" ]; then
    BARE_URL="http://127.0.0.1:$((PORT + 1))"
    DATABASE_URL=$URL $TARGET/release/examples/bare_server "127.0.0.1:$((PORT + 1))" "$ACTOR" \
        stock "$ITEM" "$WH" >"$TARGET/bench-bare.log" 2>&1 &
    BARE=$!
    until curl -s -o /dev/null "$BARE_URL/"; do sleep 0.05; done
    echo "bare axum + sqlx server, the issue's SQL only:"
    for c in $CLIENTS; do
        $LOAD "$BARE_URL" - "/issue/{c}" "$c" "$SECS"
        pgb issue issue "$c"
    done
fi
