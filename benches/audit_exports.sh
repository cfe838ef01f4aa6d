#!/usr/bin/env bash
# Export throughput and peak memory for N ledger movements in each format, and the time to
# verify a chain of N audit events. Uses a scratch database on the server of $BASE_URL.
#
#   BASE_URL=postgres://stockpile@%2Fwork%2Fdevpg%2Fsock N=1000000 benches/audit_exports.sh
#
# Building needs the committed .sqlx data, or BUILD_DATABASE_URL naming a migrated
# database for the query macros.
#
# The movements go into one lot with the balance trigger off (session_replication_role =
# replica, needs a superuser): N updates of one lot row in one statement would measure
# PostgreSQL's update chains, not the export. Each movement then gets one audit event
# naming it (benches/audit_chain.rs), so verification also checks N movement links.
#
# Figures of 2026-11-27 (2 vCPU shared with other builds, PostgreSQL 15 with fsync off,
# N = 1,000,000; the first run on a quiet machine, the second at load average ~11):
#   export movements csv    207k rows/s (4.8 s)  | 78k rows/s   peak RSS 13 MiB, 200 MB
#   export movements jsonl  173k rows/s (5.8 s)  | 67k rows/s   peak RSS 13 MiB, 447 MB
#   export movements xlsx    74k rows/s (13.6 s) | 53k rows/s   peak RSS 15 MiB,  62 MB
#   export audit-events csv  6.4 s | 3.9 s                      peak RSS 14 MiB
#   verify 1M events + 1M movement links: 7.7 s (CLI, quiet); 5.9-17.5 s under load; RSS 11 MiB
#   receipt-shaped tx/s, audit off/on: 1 writer 4306/3193, 4 writers 10711/3893,
#   8 writers 12542/2855 (the chain head serialises writers from record() to commit)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
BASE_URL=${BASE_URL:-postgres://stockpile@%2Fwork%2Fdevpg%2Fsock}
DB=${DB:-stockpile_bench_audit}
ADMIN="$BASE_URL/postgres"
URL="$BASE_URL/$DB"
OUT=${OUT:-$(mktemp -d)}

psql -q "$ADMIN" -c "drop database if exists $DB with (force)" -c "create database $DB"
if [ -n "${BUILD_DATABASE_URL:-}" ]; then export DATABASE_URL="$BUILD_DATABASE_URL"; fi
cargo build -q --release --bin stockpile --bench audit_chain
BIN=${CARGO_TARGET_DIR:-target}/release/stockpile
DATABASE_URL="$URL" "$BIN" migrate >/dev/null

psql -q "$URL" <<SQL
insert into categories (code, name_zh, name_en) values ('B01', '帐篷', 'tents');
insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en)
values ('00000000-0000-0000-0000-0000000000a1', 'TENT-BENCH', '救灾帐篷', 'relief tent, bench', 'B01', '顶', 'each');
insert into warehouses (id, code, name_zh, name_en, lat, lon, city, tier)
values ('00000000-0000-0000-0000-0000000000b1', 'BENCH-01', '基准仓库', 'bench warehouse', 22.5, 113.9, 'Shenzhen', 'city');
insert into stock_lots (id, item_id, warehouse_id, lot_code, received_on)
select ('00000000-0000-0000-0000-0000000000c' || g)::uuid, '00000000-0000-0000-0000-0000000000a1',
       '00000000-0000-0000-0000-0000000000b1', 'L-BENCH-' || g, current_date
  from generate_series(1, 8) g;
begin;
set local session_replication_role = replica;
insert into stock_movements (lot_id, kind, qty, on_hand_after, reason, actor_id, request_id, created_at)
select '00000000-0000-0000-0000-0000000000c1', 'receipt', 1, g, 'bench receipt, 救灾物资',
       '00000000-0000-0000-0000-000000000001', 'req-' || g,
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond'
  from generate_series(1, $N) g;
commit;
analyze;
SQL

echo "== verify ($N events, $N movement links)"
STOCKPILE_BENCH_CONTENTION_SECS=0 STOCKPILE_BENCH_DATABASE_URL="$URL" cargo bench -q --bench audit_chain 2>&1 | grep -v '^$'
echo "== verify via the CLI"
/usr/bin/time -f "cli verify: %e s, peak RSS %M KiB" env DATABASE_URL="$URL" "$BIN" audit verify >/dev/null

for format in csv jsonl xlsx; do
  f="$OUT/movements.$format"
  /usr/bin/time -o "$OUT/time" -f "%e %M" env DATABASE_URL="$URL" "$BIN" export movements --format "$format" >"$f" 2>/dev/null
  read -r secs rss <"$OUT/time"
  echo "export movements $format: $N rows in ${secs} s = $(awk "BEGIN{printf \"%.0f\", $N/$secs}") rows/s, peak RSS $((rss / 1024)) MiB, $(du -m "$f" | cut -f1) MB"
done
/usr/bin/time -o "$OUT/time" -f "%e %M" env DATABASE_URL="$URL" "$BIN" export audit-events --format csv >"$OUT/events.csv" 2>/dev/null
read -r secs rss <"$OUT/time"
echo "export audit-events csv: $N rows in ${secs} s, peak RSS $((rss / 1024)) MiB"
/usr/bin/time -o "$OUT/time" -f "%e %M" env DATABASE_URL="$URL" "$BIN" export stock-as-of --at 2026-01-01T00:10:00Z --format csv >"$OUT/asof.csv" 2>/dev/null
read -r secs rss <"$OUT/time"
echo "export stock-as-of (aggregating $N movements): ${secs} s, peak RSS $((rss / 1024)) MiB, $(tail -n1 "$OUT/asof.csv" | cut -c1-60)"
echo "== what the chain head costs writers (verifies again first)"
STOCKPILE_BENCH_CONTENTION_SECS=${SECS:-5} STOCKPILE_BENCH_DATABASE_URL="$URL" cargo bench -q --bench audit_chain 2>&1 | grep -v '^$'
rm -rf "$OUT"
psql -q "$ADMIN" -c "drop database if exists $DB with (force)"
