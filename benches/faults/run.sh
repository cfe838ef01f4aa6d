#!/usr/bin/env bash
# The fault matrix (issue 18): each fault injected under a load of keyed issues, and a
# table of what came of it, read from the ledger (benches/faults/client.rs).
#
# Usage: benches/faults/run.sh [seconds_of_load] [fault…]
#   faults: serve-kill9 postmaster-kill9 backend-terminate postgres-stop-20s disk-full
#           failover (the default: all six). disk-full mounts a 512 MB tmpfs as the data
#           folder, so it needs root; failover runs a primary and its synchronous standby
#           (`db standby`), kills the primary and promotes the standby (`db promote`).
#   Two more kinds inject nothing, to compare throughput (acknowledged ÷ seconds): none
#   (the private cluster alone) and standby (a primary and its synchronous standby).
# FAULT_CLIENTS (default 4) concurrent clients; FAULT_PROFILE=dev uses the debug build
# (CI), default release. Each fault gets a fresh `stockpile serve --demo` on a private
# cluster of its own in target/faults/<fault>/, on port FAULT_PORT (default 18090).
# Exits 1 if any fault lost or doubled anything, or broke the audit chain.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-20}
shift || true
FAULTS=${*:-serve-kill9 postmaster-kill9 backend-terminate postgres-stop-20s disk-full failover}
CLIENTS=${FAULT_CLIENTS:-4}
PORT=${FAULT_PORT:-18090}
TARGET=${CARGO_TARGET_DIR:-target}
unset DATABASE_URL
if [ "${FAULT_PROFILE:-release}" = dev ]; then
    cargo build -q --bin stockpile --example fault_client
    OUT=$TARGET/debug
else
    cargo build --release -q --bin stockpile --example fault_client
    OUT=$TARGET/release
fi
BIN=$OUT/stockpile
CLIENT=$OUT/examples/fault_client
ROOT=$PWD/target/faults
BASE=http://127.0.0.1:$PORT
SERVE=
DATA=
PRIMARY=
FAILOVER_URL=

# Starts serve on $DATA (with the demo data the first time) and waits until it listens.
start_serve() {
    local demo=${1:-}
    if [ -n "$FAILOVER_URL" ]; then
        DATABASE_URL=$FAILOVER_URL $BIN serve $demo --listen 127.0.0.1:$PORT >>"$DIR/serve.out" 2>>"$DIR/serve.log" &
    else
        $BIN --data "$DATA" serve $demo --listen 127.0.0.1:$PORT >>"$DIR/serve.out" 2>>"$DIR/serve.log" &
    fi
    SERVE=$!
    disown $SERVE 2>/dev/null || true
    echo $SERVE >"$DIR/serve.pid"
    for _ in $(seq 1 600); do
        curl -sf -m 1 -o /dev/null $BASE/readyz && return 0
        sleep 0.1
    done
    echo "serve did not start; see $DIR/serve.log" >&2
    exit 1
}

stop_all() {
    if [ -n "$SERVE" ] && kill -TERM $SERVE 2>/dev/null; then
        # Not always this shell's child (serve-kill9 restarts it in a subshell).
        while kill -0 $SERVE 2>/dev/null; do sleep 0.1; done
    fi
    SERVE=
    for dir in $DATA $PRIMARY; do
        $BIN --data "$dir" db stop >/dev/null 2>&1 || true
    done
}
MOUNTED=
trap 'stop_all; if [ -n "$MOUNTED" ]; then umount "$MOUNTED"; fi' EXIT

postmaster() { head -1 "$DATA/pg/postmaster.pid"; }

inject() {
    case $1 in
        serve-kill9)
            kill -9 $SERVE
            wait $SERVE 2>/dev/null || true
            sleep 1
            start_serve # as systemd would; it joins the running cluster
            ;;
        postmaster-kill9)
            kill -9 "$(postmaster)"
            ;;
        backend-terminate)
            psql "$($BIN --data "$DATA" db url)" -Atqc \
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'stockpile'" >/dev/null
            ;;
        disk-full)
            # Fill the data folder's file system, hold it full for 10 s, then free it.
            dd if=/dev/zero of="$DATA/filler" bs=1M status=none 2>/dev/null || true
            sleep 10
            rm -f "$DATA/filler"
            ;;
        failover)
            # The primary dies; the operator (or a failover manager) promotes the
            # standby; the service finds it by itself.
            kill -9 "$(head -1 "$PRIMARY/pg/postmaster.pid")"
            sleep 1
            $BIN --data "$DATA" db promote >/dev/null
            ;;
        none | standby) ;;
        postgres-stop-20s)
            local pids
            pids="$(postmaster) $(pgrep -P "$(postmaster)" | tr '\n' ' ')"
            kill -STOP $pids
            sleep 20
            kill -CONT $pids
            ;;
    esac
}

printf '%-18s %12s %5s %8s %8s %16s %14s %s\n' fault acknowledged lost doubled "given up" "done, not acked" "time to ready" "audit chain"
failed=0
for fault in $FAULTS; do
    case $fault in
        serve-kill9 | postmaster-kill9 | backend-terminate | postgres-stop-20s | disk-full | failover) ;;
        none | standby) ;;
        *) echo "unknown fault $fault" >&2; exit 2 ;;
    esac
    DIR=$ROOT/$fault
    rm -rf "$DIR"
    mkdir -p "$DIR"
    DATA=$DIR/data
    if [ "$fault" = disk-full ]; then
        # A file system of its own for the data folder, small enough to fill at once.
        mkdir -p "$DATA"
        if ! mount -t tmpfs -o size=512m stockpile-faults "$DATA" 2>/dev/null; then
            printf '%-18s %s\n' "$fault" "not run: cannot mount a small file system for the data folder here (needs root and mount rights)"
            DATA=
            continue
        fi
        MOUNTED=$DATA
    fi
    PRIMARY=
    FAILOVER_URL=
    if [ "$fault" = failover ] || [ "$fault" = standby ]; then
        # A primary and its synchronous standby, each a private cluster; the service
        # reaches them through one URL that lists both, and checks and audits the
        # standby (the primary after the failover) at the end.
        PRIMARY=$DIR/primary
        DATA=$DIR/standby
        $BIN --data "$PRIMARY" db start >/dev/null 2>>"$DIR/serve.log"
        $BIN --data "$DATA" db standby --primary-data "$PRIMARY" >/dev/null 2>>"$DIR/serve.log"
        socket() { $BIN --data "$1" db url | sed -n 's/.*host=\([^&]*\).*/\1/p'; }
        FAILOVER_URL="postgresql://stockpile@/stockpile?host=$(socket "$PRIMARY"),$(socket "$DATA")&port=5432&target_session_attrs=read-write"
    fi
    start_serve --demo
    read -r CLERK WH PASSWORD < <(awk '$2 == "clerk" { print $1, $3, $4; exit }' "$DIR/serve.out")
    TOKEN=$(curl -sf $BASE/api/v1/auth/login -H 'content-type: application/json' \
        -d "{\"username\": \"$CLERK\", \"password\": \"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    $CLIENT load $BASE "$TOKEN" "$WH" "$CLIENTS" "$SECS" "$DIR/results.jsonl" >"$DIR/load.out" 2>"$DIR/load.log" &
    LOADER=$!
    sleep 3
    # Inject in the background; meanwhile, time until /readyz answers 200 again after
    # having failed (0 when it never failed).
    inject "$fault" &
    INJECTOR=$!
    t0=$(date +%s.%N)
    down=
    ready=
    while :; do
        code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' $BASE/readyz || true)
        now=$(date +%s.%N)
        if [ "$code" != 200 ]; then
            down=1
        elif [ -n "$down" ]; then
            ready=$(python3 -c "print(f'{$now - $t0:.1f} s')")
            break
        elif python3 -c "import sys; sys.exit(0 if $now - $t0 > 25 else 1)"; then
            ready="0 (never down)"
            break
        fi
        sleep 0.1
    done
    wait $INJECTOR
    SERVE=$(cat "$DIR/serve.pid")
    wait $LOADER || { echo "the load failed; see $DIR/load.log" >&2; exit 1; }
    check=$($CLIENT check "$DATA" "$DIR/results.jsonl") || failed=1
    if $BIN --data "$DATA" audit verify >"$DIR/verify.out" 2>&1; then chain=verifies; else chain=BROKEN; failed=1; fi
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$check"; }
    printf '%-18s %12s %5s %8s %8s %16s %14s %s\n' "$fault" "$(field acknowledged)" "$(field lost)" \
        "$(field doubled)" "$(field given_up)" "$(field done_unacknowledged)" "$ready" "$chain"
    echo "  $fault: $check" >>"$ROOT/details.txt"
    stop_all
    if [ -n "$MOUNTED" ]; then umount "$MOUNTED"; MOUNTED=; fi
done
exit $failed
