# Shared set-up of the HTTP load scenarios, sourced by stock_ops.sh and allocation.sh
# (which set DB, PORT and TARGET first): builds the release binaries, starts the private
# bench cluster in target/bench-pg (unless $BENCH_ADMIN_URL names a server), creates a
# fresh database $DB with the demo data, makes a bearer token ($TOKEN, $HASH), and
# defines start_server.
#
# BENCH_SQL=file applies an experiment's SQL to the bench database after the demo data.
#
# BENCH_UNCHAINED=1 starts the service with the audit chain off (the hidden
# `serve --bench-unchained`): events stay in audit_pending, are never chained, and writes
# are answered without waiting for the chainer (src/audit/chain.rs). The figures then
# show what the system does without the chain, to compare with the chained run. For
# diagnosis only: it breaks the audit trail.
unset DATABASE_URL
cargo build --release -q --bin stockpile --example load_client --example bare_server
BIN=$TARGET/release/stockpile
LOAD=$TARGET/release/examples/load_client
if [ -z "${BENCH_ADMIN_URL:-}" ]; then
    PGDIR="$PWD/target/bench-pg"
    $BIN --data "$PGDIR" db start >/dev/null
    STOP_DB=1
    # The cluster archives every WAL segment (for point-in-time restores); a bench
    # database is thrown away, and write runs archive gigabytes: keep none of it.
    find "$PGDIR/wal-archive" -type f -delete 2>/dev/null || true
    SOCK=$(printf %s "$PGDIR/run" | sed 's|/|%2F|g')
    ADMIN_URL="postgres://stockpile@$SOCK/postgres"
else
    ADMIN_URL=$BENCH_ADMIN_URL
fi
URL="${ADMIN_URL%/*}/$DB"

psql "$ADMIN_URL" -qc "drop database if exists $DB with (force)" -c "create database $DB"
DATABASE_URL=$URL $BIN migrate >/dev/null
DATABASE_URL=$URL $BIN seed >/dev/null
if [ -n "${BENCH_SQL:-}" ]; then
    # An experiment's SQL (benches/load/experiments/), applied after the demo data.
    psql "$URL" -q -v ON_ERROR_STOP=1 -f "$BENCH_SQL"
    echo "BENCH_SQL: applied $BENCH_SQL"
fi
if [ -n "${BENCH_UNCHAINED:-}" ]; then
    export STOCKPILE_BENCH_UNCHAINED=true
    echo "BENCH_UNCHAINED: audit events are not chained in $DB"
fi
TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)

# Starts `stockpile serve` on $PORT with its log in $1, stops it (and the cluster, if
# this script started it) on exit, and waits until it is ready.
start_server() {
    DATABASE_URL=$URL $BIN serve --listen 127.0.0.1:$PORT >"$1" 2>&1 &
    SERVER=$!
    trap 'kill -TERM $SERVER ${BARE:-} 2>/dev/null; wait $SERVER ${BARE:-} 2>/dev/null || true; [ -n "${STOP_DB:-}" ] && $BIN --data "$PGDIR" db stop' EXIT
    until curl -sf http://127.0.0.1:$PORT/readyz >/dev/null; do sleep 0.05; done
}

# Makes the bench clerk (a clerk of the Jianghai reserve centre, JM-JH-RC) in database
# $1 and gives it the session of $TOKEN.
bench_clerk() {
    psql "$1" -q <<SQL
insert into users (id, username, display_name, role) values (gen_random_uuid(), 'bench-clerk', 'Bench clerk', 'clerk');
insert into user_warehouses select u.id, w.id from users u, warehouses w where u.username = 'bench-clerk' and w.code = 'JM-JH-RC';
insert into sessions (token_hash, user_id, expires_at) select '$HASH', id, now() + interval '1 day' from users where username = 'bench-clerk';
SQL
}

# Prints the run's header line.
header() {
    echo "PostgreSQL $(psql "$URL" -Atc 'show server_version'), synchronous_commit=$(psql "$URL" -Atc 'show synchronous_commit'), $(nproc) cores, ${SECS}s per run"
}
