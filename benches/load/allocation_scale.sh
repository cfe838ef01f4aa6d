#!/usr/bin/env bash
# Allocation cost against the size of the stock: the median time of CALLS previews
# (POST /api/v1/allocation/preview) and CALLS requests (POST /api/v1/incidents/{id}/requests,
# plan and reserve) of one line of one common item (MASK-MEDICAL, 5,000 units, priority
# high) for an incident at Xinhui, Jiangmen, with that item's lots in the network grown
# to each size given.
#
#   benches/load/allocation_scale.sh [lots...]          # default: 100 10000 110000
#   WAREHOUSES=500 benches/load/allocation_scale.sh     # the lots spread over 500 warehouses
#   GENERATED_ONLY=1 ...                                 # every size of one lot shape
#   CANCEL=1 ...                                         # each request cancelled once timed
#
# Data: the demo data (about 100 lots of the item), plus generated lots of the item up to
# each size, spread evenly over the warehouses, each holding 50–305 units and expiring
# uniformly from 30 days ago to two years ahead (so about a fifth are short-dated for the
# item's 121 remaining days, and some have expired). With WAREHOUSES above the demo's
# 44, generated warehouses at seeded positions over the GBA make up the number. With
# GENERATED_ONLY=1 the demo's own lots of the item are issued empty first (what they hold
# reserved stays) and each size is that many generated lots: the smallest size then draws
# as many lots per request as the largest, so the two differ in the size of the stock
# only, not in the shape of its lots. Each size
# gets its own database on a private cluster in target/bench-scale (started with
# `stockpile db start`, stopped at the end). BIN names another binary to measure (for a
# before/after comparison), built from its own checkout.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${*:-100 10000 110000}
WAREHOUSES=${WAREHOUSES:-0}
GENERATED_ONLY=$([ "${GENERATED_ONLY:-0}" = 1 ] && echo true || echo false)
# Each request cancelled after it is timed, so that every request plans over the same
# stock (always with GENERATED_ONLY: its smallest size holds too little for 40 requests).
CANCEL=$([ "${CANCEL:-0}" = 1 ] || [ "$GENERATED_ONLY" = true ] && echo 1 || echo 0)
CALLS=${CALLS:-40}
PORT=${BENCH_PORT:-18087}
TARGET=${CARGO_TARGET_DIR:-target}
unset DATABASE_URL
if [ -z "${BIN:-}" ]; then
    SQLX_OFFLINE=true cargo build --release -q --bin stockpile
    BIN=$TARGET/release/stockpile
fi
PGDIR="$PWD/target/bench-scale"
$BIN --data "$PGDIR" db start >/dev/null
SOCK=$(printf %s "$PGDIR/run" | sed 's|/|%2F|g')
ADMIN_URL="postgres://stockpile@$SOCK/postgres"
SERVER=
# The cluster archives its WAL (as every private cluster does, for backups); a bench has
# no backups to keep, and each size loads enough to leave gigabytes there.
trap '[ -n "$SERVER" ] && kill -TERM $SERVER 2>/dev/null; wait 2>/dev/null || true; $BIN --data "$PGDIR" db stop >/dev/null; rm -rf "$PGDIR/wal-archive"/*' EXIT

TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)

# median SECONDS...: the median, in milliseconds.
median() { python3 -c 'import sys, statistics; print("%.1f" % (1000 * statistics.median(float(x) for x in sys.argv[1:])))' "$@"; }

printf '%-10s %-10s %-14s %-14s\n' lots warehouses "preview p50" "request p50"
for size in $SIZES; do
    DB=stockpile_bench_scale
    URL="${ADMIN_URL%/*}/$DB"
    psql "$ADMIN_URL" -qc "drop database if exists $DB with (force)" -c "create database $DB"
    DATABASE_URL=$URL $BIN migrate >/dev/null
    DATABASE_URL=$URL $BIN seed >/dev/null
    psql "$URL" -q -v ON_ERROR_STOP=1 -v size="$size" -v warehouses="$WAREHOUSES" -v generated_only="$GENERATED_ONLY" <<'SQL'
insert into users (id, username, display_name, role) values (gen_random_uuid(), 'bench-dispatcher', 'Bench dispatcher', 'dispatcher');
select setseed(0.21);
insert into warehouses (id, code, name_zh, name_en, lat, lon, city, tier, handling_minutes)
select gen_random_uuid(), 'BENCH-W' || lpad(g::text, 3, '0'), '基准仓库' || g, 'Bench warehouse ' || g,
       22.15 + random() * 0.75, 112.95 + random() * 1.25, 'Jiangmen', 'district', 30
  from generate_series(1, greatest(:warehouses - (select count(*) from warehouses), 0)) g;
insert into stock_movements (lot_id, kind, qty, actor_id)
select l.id, 'issue', -(l.on_hand - l.reserved), '00000000-0000-0000-0000-000000000001'
  from stock_lots l join items i on i.id = l.item_id
 where :generated_only and i.sku = 'MASK-MEDICAL' and l.on_hand > l.reserved;
create temporary table w as select row_number() over (order by code) - 1 as n, id from warehouses;
insert into stock_lots (id, item_id, warehouse_id, lot_code, expires_on, received_on, source)
select gen_random_uuid(), i.id, w.id, 'SCALE-' || g, current_date - 30 + ((g * 7919) % 760)::int, current_date, 'supplier'
  from items i, generate_series(1, greatest(:size - (select count(*) from stock_lots l join items i on i.id = l.item_id
                                                     where i.sku = 'MASK-MEDICAL' and not :generated_only), 0)) g
  join w on w.n = g % (select count(*) from w)
 where i.sku = 'MASK-MEDICAL';
insert into stock_movements (lot_id, kind, qty, actor_id)
select id, 'seed', 50 + (hashtext(lot_code) & 255), '00000000-0000-0000-0000-000000000001'
  from stock_lots where lot_code like 'SCALE-%';
vacuum analyze;
SQL
    psql "$URL" -qc "insert into sessions (token_hash, user_id, expires_at) select '$HASH', id, now() + interval '1 day' from users where username = 'bench-dispatcher'"
    counts=$(psql "$URL" -Atc "select (select count(*) from stock_lots l join items i on i.id = l.item_id where i.sku = 'MASK-MEDICAL' and (not $GENERATED_ONLY or l.lot_code like 'SCALE-%')), (select count(*) from warehouses)")
    DATABASE_URL=$URL $BIN serve --listen 127.0.0.1:$PORT >"$TARGET/bench-scale-serve.log" 2>&1 &
    SERVER=$!
    until curl -sf http://127.0.0.1:$PORT/readyz >/dev/null; do sleep 0.05; done
    sleep 1.5 # one compaction of the cell totals has run
    INCIDENT=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/incidents" -H "authorization: Bearer $TOKEN" \
        -H 'content-type: application/json' \
        -d '{"name": "Scale test, Xinhui", "kind": "typhoon", "point": {"lat": 22.4613, "lon": 113.0291}, "population": 50000}' \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    LINE='"priority": "high", "lines": [{"sku": "MASK-MEDICAL", "qty": 5000}]'
    preview=() request=()
    for _ in $(seq "$CALLS"); do
        preview+=("$(curl -s -o /dev/null -w '%{time_total}' -X POST "http://127.0.0.1:$PORT/api/v1/allocation/preview" \
            -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
            -d "{\"incident_id\": \"$INCIDENT\", $LINE}")")
    done
    for _ in $(seq "$CALLS"); do
        out=$(curl -s -o "$TARGET/bench-scale-request.json" -w '%{time_total}' -X POST "http://127.0.0.1:$PORT/api/v1/incidents/$INCIDENT/requests" \
            -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d "{$LINE}")
        request+=("$out")
        if [ "$CANCEL" = 1 ]; then
            id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$TARGET/bench-scale-request.json")
            curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/v1/requests/$id/cancel" -H "authorization: Bearer $TOKEN"
        fi
    done
    printf '%-10s %-10s %-14s %-14s\n' "${counts%|*}" "${counts#*|}" "$(median "${preview[@]}") ms" "$(median "${request[@]}") ms"
    kill -TERM $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
done
