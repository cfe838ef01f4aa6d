#!/usr/bin/env bash
# Load scenario for issue 5: allocation requests per second through HTTP
# (POST /api/v1/incidents/{id}/requests: plan and reserve) at 1, 4, 8, 16 and 32 clients,
# each followed by pgbench running the same SQL (benches/load/allocation.sql) at the same
# concurrency against the same database, so that the ratio service/pgbench shows what
# the service costs on top of PostgreSQL.
#
# Data: the demo data, an incident at Xinhui (Jiangmen), 25 SKUs that each get a bulk lot
# at JM-XH-01 (the nearest depot) so that neither side runs out. Every request is one line
# of one unit at priority high, cycling through the 25 SKUs, so concurrent requests do
# meet on the same lots, as they would in an incident.
# Usage: benches/load/allocation.sh [seconds_per_run] [client counts...]
# Database: a fresh database $BENCH_DB (default stockpile_bench_alloc) on the server of
# $BENCH_ADMIN_URL; by default a private cluster in target/bench-pg, started with
# `stockpile db start` and stopped at the end. BENCH_UNCHAINED=1: see benches/load/common.sh.
# LOTS_PER_ITEM=N grows each bench SKU to N lots in the network (spread evenly over the
# warehouses, 50–305 units each, expiring from 30 days ago to two years ahead), to see
# the rate at scale (see also benches/load/allocation_scale.sh for latency per size).
# BENCH_BARE=1 adds, at each client count, the floor of the stack: allocation.sql's
# statements behind a bare axum + sqlx server (benches/load/bare_server.rs), beside
# pgbench running them.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
shift || true
CLIENTS=${*:-1 4 8 16 32}
DB=${BENCH_DB:-stockpile_bench_alloc}
PORT=${BENCH_PORT:-18085}
TARGET=${CARGO_TARGET_DIR:-target}
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
psql "$URL" -q <<SQL
insert into users (id, username, display_name, role) values (gen_random_uuid(), 'bench-dispatcher', 'Bench dispatcher', 'dispatcher');
insert into sessions (token_hash, user_id, expires_at) select '$HASH', id, now() + interval '1 day' from users where username = 'bench-dispatcher';
create table bench_skus (n int primary key, sku text not null, item_id uuid not null);
insert into bench_skus select row_number() over (order by sku) - 1, sku, id from (select sku, id from items order by sku limit 25) s;
insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, received_on, source)
select gen_random_uuid(), b.item_id, w.id, 'BENCH-BULK',
       case when i.shelf_life_days is null then null else current_date + 700 end, current_date, 'supplier'
  from bench_skus b join items i on i.id = b.item_id, warehouses w where w.code = 'JM-XH-01';
insert into stock_movements (lot_id, kind, qty, actor_id)
select id, 'seed', 1000000000, '00000000-0000-0000-0000-000000000001' from stock_lots where lot_code = 'BENCH-BULK';
SQL
if [ -n "${LOTS_PER_ITEM:-}" ]; then
    psql "$URL" -q -v ON_ERROR_STOP=1 -v lots="$LOTS_PER_ITEM" <<'SQL'
create temporary table w as select row_number() over (order by code) - 1 as n, id from warehouses;
insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, received_on, source)
select gen_random_uuid(), b.item_id, w.id, 'SCALE-' || g,
       case when i.shelf_life_days is null then null else current_date - 30 + ((g * 7919) % 760)::int end,
       current_date, 'supplier'
  from bench_skus b join items i on i.id = b.item_id
 cross join generate_series(1, :lots) g
  join w on w.n = g % (select count(*) from w);
insert into stock_movements (lot_id, kind, qty, actor_id)
select id, 'seed', 50 + (hashtext(lot_code) & 255), '00000000-0000-0000-0000-000000000001'
  from stock_lots where lot_code like 'SCALE-%';
vacuum analyze;
SQL
fi
SKUS=$(psql "$URL" -Atc "select string_agg(sku, ',' order by n) from bench_skus")
ACTOR=$(psql "$URL" -Atc "select id from users where username = 'bench-dispatcher'")

start_server "$TARGET/bench-alloc-serve.log"
INCIDENT=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/incidents" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' \
    -d '{"name": "Load test, Xinhui", "kind": "typhoon", "point": {"lat": 22.4613, "lon": 113.0291}, "population": 50000}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
# What the service hashes for a request event, up to `seq` (src/audit/mod.rs), so that
# pgbench's hash costs the same.
CANON='{"action":"allocation.request","actor_id":"'$ACTOR'","actor_username":"bench-dispatcher","after":{"id":"01a22000-0000-7000-8000-000000000000","incident_id":"'$INCIDENT'","lines":[{"picks":[{"lot_id":"01a22000-0000-7000-8000-000000000001","qty":1,"warehouse_code":"JM-XH-01"}],"requested":1,"reserved":1,"sku":"BENCH-SKU-0000"}],"priority":"high","shipments":[],"status":"reserved"},"at":"2026-11-28T01:00:00.000000Z","before":null,"entity_id":"01a22000-0000-7000-8000-000000000000","entity_kind":"allocation_request","idempotency_key":null,"request_id":"42c427c5-c17a-4fb2-af90-2a718f52a1dd","seq":'

WH=$(psql "$URL" -Atc "select id from warehouses where code = 'JM-XH-01'")
# One real request's line explanation, so that pgbench stores as much as the service.
curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/incidents/$INCIDENT/requests" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{"priority": "high", "lines": [{"sku": "'${SKUS%%,*}'", "qty": 1}]}' >/dev/null
EXPLANATION=$(psql "$URL" -Atc "select explanation from allocation_request_lines limit 1")

# allocation.sql once per bench SKU, with that item's id and SKU written in.
SCRIPTS="$TARGET/bench-alloc-scripts"
rm -rf "$SCRIPTS" && mkdir -p "$SCRIPTS"
PGB_FILES=()
while IFS='|' read -r n id sku; do
    sed -e "s/:item_id/'$id'::uuid/g" -e "s/:sku/'$sku'::text/g" benches/load/allocation.sql >"$SCRIPTS/$n.sql"
    PGB_FILES+=(-f "$SCRIPTS/$n.sql")
done < <(psql "$URL" -Atc "select n, item_id, sku from bench_skus order by n")

# pgbench CLIENTS: runs the scripts and prints its line.
pgb() {
    local j=$(( $1 < 2 ? $1 : 2 ))
    pgbench -n -M prepared "${PGB_FILES[@]}" -c "$1" -j "$j" -T "$SECS" \
        -D actor_id="$ACTOR" -D incident="$INCIDENT" -D wh="$WH" -D explanation="$EXPLANATION" \
        -D canon="$CANON" "$URL" 2>/dev/null \
        | awk -v c="$1" '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "pgbench allocate clients=%-3s %26.1f/s  avg=%sms\n", c, tps, lat}'
}

header
for c in $CLIENTS; do
    $LOAD "http://127.0.0.1:$PORT" "$TOKEN" allocate "$c" "$SECS" "$INCIDENT" "$SKUS"
    pgb "$c"
done

if [ -n "${BENCH_BARE:-}" ]; then
    BARE_URL="http://127.0.0.1:$((PORT + 1))"
    DATABASE_URL=$URL $TARGET/release/examples/bare_server "127.0.0.1:$((PORT + 1))" "$ACTOR" \
        allocate "$INCIDENT" "$WH" "$EXPLANATION" >"$TARGET/bench-bare.log" 2>&1 &
    BARE=$!
    until curl -s -o /dev/null "$BARE_URL/"; do sleep 0.05; done
    echo "bare axum + sqlx server, allocation.sql's statements only:"
    for c in $CLIENTS; do
        $LOAD "$BARE_URL" - "/allocate/{c}" "$c" "$SECS"
        pgb "$c"
    done
fi
psql "$URL" -Atc "select 'after the runs: ' || count(*) || ' lots, none over-reserved: ' || bool_and(reserved <= on_hand) from stock_lots"
