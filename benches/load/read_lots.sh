#!/usr/bin/env bash
# Load scenario for issue 2: serve-to-ready time on an existing data folder, and
# GET /api/v1/lots?warehouse=… under 16 concurrent clients (wrk, Debian package `wrk`).
# Usage: benches/load/read_lots.sh [duration_seconds]
# Uses a private cluster in target/bench-data (created and seeded on first run).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-15}
DATA=target/bench-data
PORT=18080
BIN=target/release/stockpile
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release -q
unset DATABASE_URL

# First run: create and seed the data folder, and a bench user.
if [ ! -d "$DATA/pg" ]; then
    $BIN --data "$DATA" seed >/dev/null
    printf 'bench-password-123' | $BIN --data "$DATA" user add --username bench --role auditor --password-stdin >/dev/null
fi

start=$(date +%s.%N)
$BIN --data "$DATA" serve --listen 127.0.0.1:$PORT >target/bench-serve.log 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
until curl -sf http://127.0.0.1:$PORT/readyz >/dev/null; do sleep 0.02; done
ready=$(date +%s.%N)
echo "serve -> ready on an existing data folder: $(echo "($ready - $start) * 1000" | bc) ms"

TOKEN=$(curl -sf -H 'content-type: application/json' \
    -d '{"username":"bench","password":"bench-password-123"}' \
    http://127.0.0.1:$PORT/api/v1/auth/login | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

echo "GET /api/v1/lots?warehouse=JM-JH-RC (100 lots a page), 16 connections, ${DURATION}s:"
wrk -t2 -c16 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/api/v1/lots?warehouse=JM-JH-RC" | sed -n '1,20p'
echo "baseline, same server: GET /healthz (no database), 16 connections:"
wrk -t2 -c16 -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/healthz" | grep -E 'Requests/sec|50%'
