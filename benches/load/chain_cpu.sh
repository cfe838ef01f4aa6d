#!/usr/bin/env bash
# Where the CPU goes during a write run, and what a chain batch holds: the CPU seconds
# of the service, the load client, the chainer's PostgreSQL backend and the other
# PostgreSQL processes (from utime + stime of /proc/<pid>/stat) over SECS seconds of an
# HTTP write run, the machine's busy share, and the number of chain batches and events
# in that time. On a 2-core machine at 8 clients both cores are busy, chained or not, so
# the chainer's CPU per event is what the chain costs writes (docs/performance.md).
#
# Usage: benches/load/chain_cpu.sh [receipt|issue] [clients] [seconds]
#   BENCH_UNCHAINED=1 runs the service with the chain off, for comparison.
# Database: a private cluster in target/bench-pg, as the other load scenarios.
set -euo pipefail
cd "$(dirname "$0")/../.."
OP=${1:-receipt}
CLIENTS=${2:-8}
SECS=${3:-5}
DB=${BENCH_DB:-stockpile_bench_cpu}
PORT=${BENCH_PORT:-18088}
TARGET=${CARGO_TARGET_DIR:-target}
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
bench_clerk "$URL"
# Counts the calls of plpgsql functions (audit_chain_batch) in this database.
psql "$URL" -qc "alter database $DB set track_functions = 'pl'"
start_server "$TARGET/bench-chain-cpu.log"
header

# The run lasts one second longer on each side than the measurement.
$LOAD "http://127.0.0.1:$PORT" "$TOKEN" "$OP" "$CLIENTS" $((SECS + 2)) >"$TARGET/bench-chain-cpu.load" &
LOADER=$!
sleep 1
python3 - "$URL" "$SECS" "$SERVER" "$LOADER" <<'PY'
import os, subprocess, sys, time

url, secs, service, loader = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]

def psql(sql):
    return subprocess.run(['psql', url, '-Atc', sql], capture_output=True, text=True,
                          check=True).stdout.split()

def cpu_ticks():
    ticks = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            stat = open(f'/proc/{pid}/stat').read()
        except OSError:
            continue
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2:].split()
        ticks[pid] = (comm, int(fields[11]) + int(fields[12]))
    return ticks

def machine():
    fields = [int(v) for v in open('/proc/stat').readline().split()[1:9]]
    return sum(fields), fields[3] + fields[4]

def batches():
    row = psql("select coalesce(sum(calls), 0) from pg_stat_user_functions "
               "where funcname = 'audit_chain_batch'")
    events = psql("select coalesce(max(seq), 0) from audit_events")
    return int(row[0]), int(events[0])

chainers = set(psql("select pid from pg_stat_activity where application_name = "
                    "'stockpile audit chainer' and datname = current_database()"))
before, (total0, idle0), (calls0, seq0) = cpu_ticks(), machine(), batches()
time.sleep(secs)
after, (total1, idle1), (calls1, seq1) = cpu_ticks(), machine(), batches()

hz = os.sysconf('SC_CLK_TCK')
groups = {}
for pid, (comm, t) in after.items():
    if pid not in before:
        continue
    if pid == service:
        group = 'service'
    elif pid == loader:
        group = 'load client'
    elif pid in chainers:
        group = 'postgres: chainer'
    elif comm == 'postgres':
        group = 'postgres: the rest'
    else:
        group = 'other processes'
    groups[group] = groups.get(group, 0) + (t - before[pid][1]) / hz
print(f"machine busy {100 * (1 - (idle1 - idle0) / (total1 - total0)):.0f} % over {secs:.0f} s")
for group, seconds in sorted(groups.items(), key=lambda g: -g[1]):
    print(f"  {seconds:6.2f} s CPU  {group}")
calls, events = calls1 - calls0, seq1 - seq0
if calls:
    chainer = groups.get('postgres: chainer', 0)
    print(f"chain: {calls} batches, {events} events, {events / calls:.1f} events a batch, "
          f"chainer CPU {1000 * chainer / max(events, 1):.3f} ms an event")
else:
    print("chain: no batch (the chain is off)")
PY
wait $LOADER
cat "$TARGET/bench-chain-cpu.load"
