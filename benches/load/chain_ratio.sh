#!/usr/bin/env bash
# Issue 21 §2: what the audit chain costs writes, as chained ÷ unchained receipts/s and
# issues/s through HTTP, with the modes alternated round after round on one database, so
# that a shared machine's noise falls on every mode alike.
#
# Usage: benches/load/chain_ratio.sh [rounds] [seconds_per_run] [client counts...]
#   (default 3 rounds of 6 s runs at 4, 8 and 16 clients)
# Modes, in this order in each round:
#   chained    the service as it runs;
#   unchained  the same binary with the chain off (`STOCKPILE_BENCH_UNCHAINED`): writes
#              durable at their own commit, events left pending, answers not held back;
#   before     only with BEFORE_BIN=path: another build of `stockpile` (of an earlier
#              commit, built in a worktree of its own), chained, on a database of its own
#              made by its own migrations. BEFORE_BIN="label=path label2=path2" runs
#              several, each under its label.
# Prints each run's line as it goes, then per mode, operation and client count the
# median requests/s, p50 and p99 of the rounds, and the ratio to unchained.
# Database: a private cluster in target/bench-pg, as the other load scenarios.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
SECS=${2:-6}
shift 2 || true
CLIENTS=${*:-4 8 16}
DB=${BENCH_DB:-stockpile_bench_ratio}
PORT=${BENCH_PORT:-18087}
TARGET=${CARGO_TARGET_DIR:-target}
unset BENCH_UNCHAINED BENCH_SQL STOCKPILE_BENCH_UNCHAINED
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
OUT=$TARGET/bench-chain-ratio.txt
: >"$OUT"

bench_clerk "$URL"
OTHERS=()
for spec in ${BEFORE_BIN:-}; do
    case $spec in
        *=*) label=${spec%%=*} other=${spec#*=} ;;
        *) label=before other=$spec ;;
    esac
    psql "$ADMIN_URL" -qc "drop database if exists ${DB}_$label with (force)" -c "create database ${DB}_$label"
    DATABASE_URL="${ADMIN_URL%/*}/${DB}_$label" $other migrate >/dev/null
    DATABASE_URL="${ADMIN_URL%/*}/${DB}_$label" $other seed >/dev/null
    bench_clerk "${ADMIN_URL%/*}/${DB}_$label"
    OTHERS+=("$label=$other")
done

SERVER=
trap '[ -n "$SERVER" ] && kill -TERM $SERVER 2>/dev/null; wait 2>/dev/null; [ -n "${STOP_DB:-}" ] && $BIN --data "$PGDIR" db stop >/dev/null' EXIT

# run ROUND MODE URL BINARY [VAR=VALUE]: serves URL with BINARY, runs every operation
# and client count against it, and stops it.
run() {
    env ${5:-} DATABASE_URL="$3" "$4" serve --listen 127.0.0.1:$PORT >"$TARGET/bench-chain-ratio-$2.log" 2>&1 &
    SERVER=$!
    until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.05; done
    # Let a chained start chain what an unchained run left pending.
    sleep 1
    for op in receipt issue; do
        for c in $CLIENTS; do
            line=$($LOAD "http://127.0.0.1:$PORT" "$TOKEN" $op "$c" "$SECS")
            echo "round=$1 mode=$2 $line" | tee -a "$OUT"
        done
    done
    kill -TERM $SERVER
    wait $SERVER || true
    SERVER=
}

header
for r in $(seq 1 "$ROUNDS"); do
    run "$r" chained "$URL" "$BIN"
    run "$r" unchained "$URL" "$BIN" STOCKPILE_BENCH_UNCHAINED=true
    for spec in "${OTHERS[@]}"; do
        run "$r" "${spec%%=*}" "${ADMIN_URL%/*}/${DB}_${spec%%=*}" "${spec#*=}"
    done
done

python3 - "$OUT" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(dict)  # (mode, op, clients) -> round -> (req/s, p50, p99)
for line in open(sys.argv[1]):
    m = re.search(r"round=(\d+) mode=(\S+) http (\S+)\s+(?:\(keys\)\s+)?clients=(\d+).*?([\d.]+)/s\s+p50=([\d.]+)ms p99=([\d.]+)ms", line)
    if m:
        key = (m.group(2), m.group(3), int(m.group(4)))
        runs[key][int(m.group(1))] = tuple(float(m.group(i)) for i in (5, 6, 7))
print()
print("Medians over the rounds; the ratio is the median of each round's ratio to the")
print("unchained run of the same round.")
print(f"{'mode':<10} {'op':<8} {'clients':>7} {'req/s':>7}  {'each round':<24} {'p50 ms':>6} {'p99 ms':>6} {'÷ unchained':>11}")
for key in sorted(runs, key=lambda k: (k[1], k[2], k[0])):
    mode, op, c = key
    rs = runs[key]
    base = runs.get(("unchained", op, c), {})
    ratios = [rs[r][0] / base[r][0] for r in rs if r in base]
    med = lambda i: statistics.median(v[i] for v in rs.values())
    each = " ".join(f"{rs[r][0]:.0f}" for r in sorted(rs))
    ratio = f"{statistics.median(ratios):.2f}" if ratios else "-"
    print(f"{mode:<10} {op:<8} {c:>7} {med(0):>7.0f}  {each:<24} {med(1):>6.2f} {med(2):>6.2f} {ratio:>11}")
PY
