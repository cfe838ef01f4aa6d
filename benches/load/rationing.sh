#!/usr/bin/env bash
# End-to-end benchmark for issue 17: a rationing round of 10 incidents × 10 items
# through HTTP, preview and commit, on the demo data (every lot of the ten items: the
# round reads them all), with the time to commit. Beside it, in the same run and on the
# same server, a single 10-line request's preview and commit, as the baseline the
# ratios are taken against (the machines are shared and noisy; ratios travel better
# than milliseconds).
#
# The round: an operation with ten incidents at GBA places (WGS84,
# reference/gba-geography.md), the estuary crossings closed, and for each incident and
# each of the ten SKUs with the most lots a demand of 1.5 × (the SKU's available stock
# ÷ 10): every item 50 % short. Incidents 1–4 ask critical, 5–8 high, 9–10 normal.
# Each commit is cancelled (untimed) before the next, so every repetition plans the
# same stock.
# Usage: benches/load/rationing.sh [repetitions]   (default 7; medians are reported)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${1:-7}
SECS=0
DB=${BENCH_DB:-stockpile_bench_ration}
PORT=${BENCH_PORT:-18087}
TARGET=${CARGO_TARGET_DIR:-target}
# shellcheck source=benches/load/common.sh
source benches/load/common.sh
psql "$URL" -q <<SQL
insert into users (id, username, display_name, role) values (gen_random_uuid(), 'bench-dispatcher', 'Bench dispatcher', 'dispatcher');
insert into sessions (token_hash, user_id, expires_at) select '$HASH', id, now() + interval '1 day' from users where username = 'bench-dispatcher';
SQL
SKUS=$(psql "$URL" -Atc "select string_agg(sku || ':' || avail, ',') from (
    select i.sku, sum(l.on_hand - l.reserved) filter (where l.status = 'available') as avail, count(*) as lots
      from items i join stock_lots l on l.item_id = i.id
     group by i.sku order by count(*) desc, i.sku limit 10) s")
LOTS=$(psql "$URL" -Atc "select count(*) from stock_lots l join items i on i.id = l.item_id
    where i.sku = any(string_to_array('$(echo "$SKUS" | sed 's/:[0-9]*//g')', ','))")
start_server "$TARGET/bench-ration-serve.log"
header
echo "round: 10 incidents x 10 items over $LOTS lots; $REPS repetitions"
python3 - "$PORT" "$TOKEN" "$SKUS" "$REPS" <<'PY'
import json, statistics, sys, time, urllib.request, uuid

port, token, skus, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None, key=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("authorization", f"Bearer {token}")
    req.add_header("content-type", "application/json")
    if key:
        req.add_header("idempotency-key", key)
    t = time.perf_counter()
    with urllib.request.urlopen(req) as res:
        out = json.loads(res.read() or b"null")
    return out, (time.perf_counter() - t) * 1000

places = [("Taishan", 22.2536, 112.7883), ("Doumen", 22.2119, 113.2909),
          ("Macao", 22.1987, 113.5439), ("Xinhui", 22.4613, 113.0291),
          ("Kaiping", 22.3765, 112.6983), ("Enping", 22.1830, 112.3050),
          ("Zhongshan", 22.5176, 113.3926), ("Jinwan", 22.1475, 113.3620),
          ("Heshan", 22.7653, 112.9642), ("Jianghai", 22.5600, 113.1110)]
call("POST", "/api/v1/closures", {"name": "Estuary closed", "reason": "typhoon",
     "edge_ids": ["shenzhen-zhongshan-link", "hzmb-main", "huangmaohai-link"]})
op, _ = call("POST", "/api/v1/operations", {"name": "Bench typhoon"})
incidents = []
for name, lat, lon in places:
    inc, _ = call("POST", "/api/v1/incidents", {"name": name, "kind": "typhoon",
                  "point": {"lat": lat, "lon": lon}, "operation_id": op["id"]})
    incidents.append(inc["id"])
items = [(s.split(":")[0], int(s.split(":")[1])) for s in skus.split(",")]
tiers = ["critical"] * 4 + ["high"] * 4 + ["normal"] * 2
demands = [{"incident_id": inc, "sku": sku, "qty": max(1, avail * 3 // 20), "priority": tier}
           for inc, tier in zip(incidents, tiers) for sku, avail in items]
body = {"demands": demands}
single = {"incident_id": incidents[0], "priority": "critical",
          "lines": [{"sku": sku, "qty": max(1, avail * 3 // 20)} for sku, avail in items]}

def cancel(ids):
    for rid in ids:
        call("POST", f"/api/v1/requests/{rid}/cancel")

call("POST", f"/api/v1/operations/{op['id']}/rationing/preview", body)   # warm caches
t = {"round_preview": [], "round_commit": [], "single_preview": [], "single_commit": []}
last = None
for _ in range(reps):
    out, ms = call("POST", "/api/v1/allocation/preview", single)
    t["single_preview"].append(ms)
    out, ms = call("POST", f"/api/v1/incidents/{incidents[0]}/requests",
                   {k: v for k, v in single.items() if k != "incident_id"}, str(uuid.uuid4()))
    t["single_commit"].append(ms)
    cancel([out["id"]])
    prev, ms = call("POST", f"/api/v1/operations/{op['id']}/rationing/preview", body)
    t["round_preview"].append(ms)
    out, ms = call("POST", f"/api/v1/operations/{op['id']}/rationing",
                   dict(body, preview_digest=prev["digest"]), str(uuid.uuid4()))
    t["round_commit"].append(ms)
    assert out["committed"] and not out["replanned"], out.get("note")
    cancel([r["id"] for r in out["requests"]])
    last = out
med = {k: statistics.median(v) for k, v in t.items()}
for k, v in t.items():
    print(f"{k:15s} median {med[k]:8.1f} ms   min {min(v):8.1f}   max {max(v):8.1f}")
print(f"round preview / single preview: {med['round_preview'] / med['single_preview']:.1f}x"
      f"   round commit / single commit: {med['round_commit'] / med['single_commit']:.1f}x")
tot, nf = last["totals"], last["nearest_first"]
print(f"round delivers {tot['delivered']} units at mean ETA {tot['mean_eta_minutes']:.1f} min; "
      f"nearest-first {nf['delivered']} at {nf['mean_eta_minutes']:.1f} min; "
      f"{len(last['requests'])} requests per commit")
for item in last["items"]:
    print(f"  {item['sku']}: " + "; ".join(tier["sentence"] for tier in item["tiers"]))
PY
