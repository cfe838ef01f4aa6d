#!/usr/bin/env bash
# Export throughput and peak memory for N ledger movements and N audit events in each
# format (csv, jsonl, xlsx), and the time `stockpile audit verify` takes over the N events
# and the N movement links. Then, unless CONTENTION_SECS=0, what the audit chain costs
# writers (benches/audit_chain.rs).
#
#   N=1000000 benches/audit_exports.sh        # N=100000 for a quick run
#
# Database: a fresh private cluster in target/bench-audit, started with `stockpile db
# start` and stopped and removed on exit; or, with BENCH_ADMIN_URL naming a server's
# `postgres` database, a scratch database $BENCH_DB (default stockpile_bench_audit) there,
# dropped on exit. Building needs the committed .sqlx data (SQLX_OFFLINE=true).
#
# The data goes in through the ledger triggers, which fire always (migration
# ledger_triggers_always): N movements over ceil(N/100) lots, 100 per lot, inserted in
# 100 rounds of one movement per lot, each round one statement and one transaction, so
# that each trigger updates a lot row once per statement and keeps `on_hand_after` right.
# The audit events are then computed in SQL straight into audit_events, one per movement
# in ledger order, each carrying its movement's transaction id (xact_id) as if written in
# that transaction: a window aggregate hashes them into one chain, sha256(prev_hash ||
# canonical JSON), the canonical JSON byte for byte as src/audit/mod.rs makes it, and the
# chain head is set to the last event. `audit verify` must then pass.
#
# Times and peak RSS come from GNU time (/usr/bin/time), or from Python's getrusage where
# that is missing. Every export also records its own audit event, so the audit-events
# exports count a few events more than N.
#
# Figures of 2026-12-05 (N = 1,000,000; a shared 2-core machine, load average 3-5 from
# other work; PostgreSQL 15.18 with the private cluster's durable settings; the whole
# script 3 min 49 s, of which 126 s generating the data):
#                               rows/s (time)     peak RSS   output
#   export movements csv        217k (4.6 s)      25 MiB     200 MB
#   export movements jsonl      234k (4.3 s)      26 MiB     447 MB
#   export movements xlsx        61k (16.4 s)     30 MiB      68 MB
#   export audit-events csv     144k (6.9 s)      26 MiB     383 MB
#   export audit-events jsonl   134k (7.4 s)      26 MiB     530 MB
#   export audit-events xlsx     46k (21.9 s)     29 MiB     101 MB
#   export stock-as-of csv      10,000 lots from 1M movements in 0.43 s, 24 MiB
#   audit verify, 1M events + 1M movement links: 4.7 s, peak RSS 19 MiB
#   receipt-shaped tx/s, audit off/on (every commit flushed): 1 writer 285/272,
#   4 writers 1301/973, 8 writers 2547/1213
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
PER_LOT=100
LOTS=$(((N + PER_LOT - 1) / PER_LOT))
ROUNDS=$(((N + LOTS - 1) / LOTS))
DB=${BENCH_DB:-stockpile_bench_audit}
CONTENTION_SECS=${CONTENTION_SECS:-5}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/stockpile
WORK=$(mktemp -d)
unset DATABASE_URL
export SQLX_OFFLINE=true

started=$SECONDS
cargo build --release -q --bin stockpile
if [ "$CONTENTION_SECS" != 0 ]; then cargo bench -q --no-run --bench audit_chain 2>/dev/null; fi

cleanup() {
    if [ -n "${ADMIN_URL:-}" ]; then psql -q "$ADMIN_URL" -c "drop database if exists $DB with (force)" || true; fi
    if [ -n "${PGDIR:-}" ]; then
        "$BIN" --data "$PGDIR" db stop >/dev/null || true
        rm -rf "$PGDIR"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "${BENCH_ADMIN_URL:-}" ]; then
    PGDIR="$PWD/target/bench-audit"
    "$BIN" --data "$PGDIR" db stop >/dev/null 2>&1 || true # left running by an interrupted run
    rm -rf "$PGDIR"
    "$BIN" --data "$PGDIR" db start >/dev/null
    ADMIN_URL=$("$BIN" --data "$PGDIR" db url postgres)
    URL=$("$BIN" --data "$PGDIR" db url "$DB")
else
    ADMIN_URL=$BENCH_ADMIN_URL
    URL="${ADMIN_URL%/*}/$DB"
fi
psql -q "$ADMIN_URL" -c "drop database if exists $DB with (force)" -c "create database $DB"
DATABASE_URL=$URL "$BIN" migrate >/dev/null

echo "== generating $N movements on $LOTS lots and $N audit events"
gen_started=$SECONDS
psql -q -v ON_ERROR_STOP=1 "$URL" <<SQL
insert into categories (code, name_zh, name_en) values ('B01', '帐篷', 'tents');
insert into items (id, sku, name_zh, name_en, category_code, unit_zh, unit_en)
select ('00000000-0000-4000-8000-0000000000a' || g)::uuid, 'BENCH-ITEM-' || g, '救灾帐篷 ' || g,
       'relief tent, bench ' || g, 'B01', '顶', 'each'
  from generate_series(0, 9) g;
insert into warehouses (id, code, name_zh, name_en, lat, lon, city, tier)
select ('00000000-0000-4000-8000-0000000000b' || g)::uuid, 'BENCH-WH-' || g, '基准仓库 ' || g,
       'bench warehouse ' || g, 22.5 + g / 100.0, 113.9, 'Shenzhen', 'city'
  from generate_series(0, 9) g;
-- Lot g: item g % 10, warehouse (g / 10) % 10.
insert into stock_lots (id, item_id, warehouse_id, lot_code, received_on)
select ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
       ('00000000-0000-4000-8000-0000000000a' || g % 10)::uuid,
       ('00000000-0000-4000-8000-0000000000b' || (g / 10) % 10)::uuid,
       'L-BENCH-' || g, date '2026-01-01'
  from generate_series(1, $LOTS) g;

-- Round r holds movements (r - 1) * lots + 1 .. r * lots, one per lot: a receipt of 1000
-- first, then issues of 7 and receipts of 5 in turn. Each round commits on its own, so
-- each lot row is updated once per transaction.
do \$\$
begin
    for r in 1..$ROUNDS loop
        insert into stock_movements (lot_id, kind, qty, reason, actor_id, request_id, created_at)
        select ('00000000-0000-4000-8000-' || lpad(to_hex((j - 1) % $LOTS + 1), 12, '0'))::uuid,
               case when r = 1 then 'receipt' when r % 2 = 0 then 'issue' else 'receipt' end,
               case when r = 1 then 1000 when r % 2 = 0 then -7 else 5 end,
               'bench, 救灾物资', '00000000-0000-0000-0000-000000000001', 'req-' || j,
               timestamptz '2026-01-01 00:00:00+00' + j * interval '1 millisecond'
          from generate_series((r - 1) * $LOTS + 1, least(r * $LOTS, $N)) j;
        commit;
    end loop;
end \$\$;

-- The chain: the state is prev_hash || hash (128 hex digits); each step hashes the
-- canonical JSON of the next event (hash = sha256(prev_hash || canonical JSON)).
create function pg_temp.chain_step(state text, canon text) returns text
language plpgsql immutable strict as \$\$
begin
    return right(state, 64) || encode(sha256(convert_to(right(state, 64) || canon, 'UTF8')), 'hex');
end \$\$;
create aggregate pg_temp.hash_chain(text) (
    sfunc = pg_temp.chain_step, stype = text, initcond = '$(printf '0%.0s' {1..128})'
);

-- One event per movement, in ledger order. The canonical JSON is written out with its
-- keys sorted (after's too) and without spaces, as serde_json prints the value read back
-- from jsonb; at is RFC 3339 UTC with microseconds.
set work_mem = '1GB';
insert into audit_events (seq, at, actor_id, actor_username, action, entity_kind, entity_id,
                          request_id, idempotency_key, before, after, prev_hash, hash, xact_id)
select seq, at, '00000000-0000-0000-0000-000000000001', 'system', action, 'lot', entity_id,
       request_id, null, null, after::jsonb, left(state, 64), right(state, 64), xact_id
  from (select *, pg_temp.hash_chain(canon || seq || '}') over (order by seq) as state
          from (select row_number() over (order by m.id) as seq, m.created_at as at,
                       'stock.' || m.kind as action, m.lot_id::text as entity_id,
                       m.request_id, m.xact_id, a.after,
                       '{"action":"stock.' || m.kind
                       || '","actor_id":"00000000-0000-0000-0000-000000000001","actor_username":"system","after":'
                       || a.after
                       || ',"at":"' || to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                       || '","before":null,"entity_id":"' || m.lot_id
                       || '","entity_kind":"lot","idempotency_key":null,"request_id":"' || m.request_id
                       || '","seq":' as canon
                  from stock_movements m,
                       lateral (select '{"lot_id":"' || m.lot_id || '","movement_id":' || m.id
                                       || ',"qty":' || m.qty || ',"reason":"' || m.reason || '"}' as after) a
                 order by m.id) e) c;
update audit_chain_head h
   set seq = e.seq, hash = e.hash, prev_hash = e.prev_hash
  from (select seq, hash, prev_hash from audit_events order by seq desc limit 1) e
 where h.id;
vacuum analyze stock_lots, stock_movements, audit_events;
checkpoint;
SQL
gen_secs=$((SECONDS - gen_started))
echo "generated in ${gen_secs} s"

# timed LABEL ROWS OUTFILE COMMAND...: runs COMMAND against the scratch database with
# its output in OUTFILE and adds a row to the table. ROWS is a number, or "audit" (read
# the export's audit range) or "csv" (read the rows of the CSV's trailing manifest).
ROWS_OUT=()
timed() {
    local label=$1 rows=$2 out=$3
    shift 3
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -o "$WORK/time" -f '%e %M' env DATABASE_URL="$URL" "$@" >"$out" 2>"$WORK/stderr"
    else
        DATABASE_URL=$URL python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(f"{time.monotonic() - t:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(rc)' "$WORK/time" "$@" >"$out" 2>"$WORK/stderr"
    fi
    local secs rss
    read -r secs rss <"$WORK/time"
    case $rows in
        audit) # an audit-events export: every event up to its snapshot
            rows=$(sed -n 's/.*audit seq [0-9]*\.\.\([0-9]*\),.*/\1/p' "$WORK/stderr") ;;
        csv) rows=$(tail -n1 "$out" | sed -n 's/^#manifest,.*,rows=\([0-9]*\),.*/\1/p') ;;
    esac
    local rate size=-
    rate=$(awk -v n="$rows" -v s="$secs" 'BEGIN { printf "%.0fk", n / s / 1000 }')
    case $label in export*) size=$(du -m "$out" | cut -f1) ;; esac
    ROWS_OUT+=("$(printf '%-28s %9s %8s %10s %8s %8s' "$label" "$rows" "$secs" "$rate" "$((rss / 1024))" "$size")")
}

echo "== audit verify"
timed "audit verify" "$N" "$WORK/verify.json" "$BIN" audit verify
grep -q '"ok": true' "$WORK/verify.json" || { cat "$WORK/verify.json"; exit 1; }
grep -E '"(events|movements)_checked"' "$WORK/verify.json" | tr -d ' ,' | paste -sd' '

echo "== exports"
for format in csv jsonl xlsx; do
    timed "export movements $format" "$N" "$WORK/movements.$format" "$BIN" export movements --format "$format"
done
for format in csv jsonl xlsx; do
    timed "export audit-events $format" audit "$WORK/events.$format" "$BIN" export audit-events --format "$format"
done
timed "export stock-as-of csv" csv "$WORK/asof.csv" "$BIN" export stock-as-of --at 2026-01-01T00:10:00Z --format csv

if [ "$CONTENTION_SECS" != 0 ]; then
    echo "== what the audit chain costs writers ($CONTENTION_SECS s per run)"
    STOCKPILE_BENCH_CONTENTION_SECS=$CONTENTION_SECS STOCKPILE_BENCH_DATABASE_URL="$URL" \
        cargo bench -q --bench audit_chain 2>/dev/null | grep -v '^$'
fi

echo
echo "N=$N, $(nproc) cores, PostgreSQL $(psql -Atc 'show server_version' "$URL"), generation ${gen_secs} s, total $((SECONDS - started)) s"
printf '%-28s %9s %8s %10s %8s %8s\n' "" rows seconds "rows/s" "RSS MiB" "out MB"
printf '%s\n' "${ROWS_OUT[@]}"
