#!/usr/bin/env bash
# What the database's sessions are doing during a load run: samples pg_stat_activity
# every 5 ms for SECONDS and prints, per state and wait event, the average number of
# sessions in it. "idle in transaction / Client:ClientRead" is a backend inside a
# transaction waiting for its client's next statement: for the service, the round-trip
# time its transactions spend in the service; "active / Lock:…" is a backend queued on
# a row lock (the audit chain head, under write load). Sessions of the pool that are
# simply idle show as "idle".
# Usage: benches/load/waits.sh DATABASE_URL SECONDS   (start it during a run)
set -euo pipefail
URL=$1
SECS=${2:-4}
python3 - "$URL" "$SECS" <<'PY'
import collections, subprocess, sys, tempfile, time
url, secs = sys.argv[1], float(sys.argv[2])
query = ("select state || ' / ' || coalesce(wait_event_type || ':' || wait_event, 'CPU') "
         "from pg_stat_activity where backend_type = 'client backend' "
         "and datname = current_database() and pid <> pg_backend_pid();\n"
         "select 'END';\n")
with tempfile.TemporaryFile('w+') as out:
    psql = subprocess.Popen(['psql', url, '-At'], stdin=subprocess.PIPE, stdout=out, text=True)
    for _ in range(int(secs / 0.005)):
        psql.stdin.write(query)
        psql.stdin.flush()
        time.sleep(0.005)
    psql.stdin.close()
    psql.wait()
    out.seek(0)
    rows = out.read().split('\n')
samples = rows.count('END') or 1
counts = collections.Counter(r for r in rows if r and r != 'END')
print(f"{samples} samples; average sessions per state / wait event:")
for state, n in counts.most_common(12):
    print(f"{n / samples:6.2f}  {state}")
PY
