#!/usr/bin/env python3
"""Generate seed/lots.csv and seed/reserve_levels.csv from items.json and warehouses.json,
or validate every seed file with --check.

Deterministic: fixed random seed, Python 3 stdlib only.

    python3 seed/generate_lots.py          # writes lots.csv and reserve_levels.csv
    python3 seed/generate_lots.py --check  # validates all seed files, exits 1 on failure

All quantities are synthetic demo stock, scaled from the real dispatch sizes in
/work/shared/reference/supplies-catalogue.md §2-§3 (see BASE_QTY) by each warehouse's
capacity_factor. Supplier and donor names are fictitious.
"""
import csv
import datetime as dt
import heapq
import json
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20250924  # Ragasa landfall date, for memorability
NOMINAL_LOAD_DATE = dt.date(2026, 3, 1)  # only used to make lot codes look like dates

# Typical total stock of one item at a typical city depot (capacity_factor 1.0), in the item's unit.
# Derived from the real dispatch / standing-stock figures in supplies-catalogue.md (cited per row in
# items.json): e.g. quilts 1,500 (Shanghai RC), towel quilts 2,000-6,000, folding beds 6,000-6,300
# (provincial), tents 200-2,000, life jackets 1,000-3,000, light towers 10-30, pumps 20-30.
# The centre (capacity 10) therefore holds tens of thousands of quilts. [FLAG: scaling is an assumption]
BASE_QTY = {
    "TENT-12M2-SGL": 400, "TENT-12M2-CTN": 150, "TENT-8M2-SGL": 150, "TENT-36M2-SGL": 60,
    "TENT-36M2-CTN": 30, "TENT-TOILET": 60, "TENT-COATED": 80, "QUILT-COTTON": 1500,
    "QUILT-TOWEL": 2500, "QUILT-COOL": 1200, "BLANKET-WOOL": 1500, "BED-FOLDING": 800,
    "MAT-MOISTURE": 1500, "SLEEPING-BAG": 400, "MOSQUITO-NET": 1000, "TABLE-STOOL-SET": 200,
    "COAT-COTTON": 500, "JACKET": 500, "CLOTHES-SET": 1000, "RAINCOAT": 1500,
    "KIT-FAMILY": 1000, "WATER-CONT-20L": 1500, "SOAP-BATH": 4000, "SOAP-LAUNDRY": 3000,
    "TOOTHPASTE-100G": 3000, "WATER-5L": 6000, "WATER-CASE-550": 800, "NOODLES-CASE": 600,
    "CONGEE-CASE": 600, "BISCUIT-COMP": 500, "RICE-10KG": 400, "WATER-PURIFIER": 10,
    "WATER-PURIF-TAB": 500, "TENT-FLOOD": 60, "BOAT-ASSAULT": 6, "BOAT-RUBBER": 8,
    "BOAT-RESCUE": 4, "OUTBOARD-MOTOR": 10, "LIFE-JACKET": 2000, "LIFEBUOY": 300,
    "PUMP-DIESEL-400": 4, "PUMP-DIESEL-850": 2, "PUMP-SUBMERSIBLE": 20, "THROW-LINE": 10,
    "RAIN-BOOTS": 800, "WOVEN-BAG": 50000, "LAMINATED-CLOTH": 20000, "GEOTEXTILE": 5000,
    "GABION-BAG": 500, "LEAD-WIRE-MESH": 600, "MASK-MEDICAL": 50000, "MASK-SURGICAL": 30000,
    "MASK-N95": 10000, "SUIT-PROTECTIVE": 2000, "TEST-ANTIGEN": 10000, "GOGGLES": 800,
    "FACE-SHIELD": 1000, "GOWN-ISOLATION": 1500, "GLOVES-EXAM": 10000, "DISINFECTANT-500": 2000,
    "THERMOMETER-IR": 100, "VENTILATOR": 5, "MONITOR-PATIENT": 8, "GAUZE-STERILE": 2000,
    "BANDAGE-TRI": 1000, "IBUPROFEN": 1500, "PARACETAMOL": 1500, "ORS-III": 1500,
    "VACCINE-TETANUS": 500, "VACCINE-RABIES": 300, "GENSET-50KW": 3, "GENSET-PETROL": 15,
    "GENSET-DIESEL": 10, "LIGHT-TOWER": 4, "SITE-LIGHT": 10, "TORCH-EXPROOF": 300,
    "FLASHLIGHT": 1000, "LAMP-HANDCRANK": 500, "LAMP-EMERGENCY": 500, "LAMP-INSPECT": 100,
    "SPOTLIGHT-SEARCH": 30,
}
# community points stock a few basics only
COMMUNITY_BASICS = ["WATER-5L", "WATER-CASE-550", "NOODLES-CASE", "BLANKET-WOOL", "QUILT-TOWEL",
                    "MAT-MOISTURE", "FLASHLIGHT", "LIFE-JACKET", "MASK-MEDICAL", "KIT-FAMILY",
                    "RAINCOAT", "WOVEN-BAG", "RAIN-BOOTS"]
# specialised items held only at the centre and city depots
CENTRAL_ONLY = {"VENTILATOR", "MONITOR-PATIENT", "VACCINE-TETANUS", "VACCINE-RABIES", "GENSET-50KW",
                "PUMP-DIESEL-850", "TENT-36M2-CTN", "WATER-PURIFIER", "LIGHT-TOWER"}

# The 3-day household kit a grid reserve point holds, per household covered. After
# Guangzhou's 25-item family list (4 categories, 3 days of a household's basic needs;
# self-rescue items one per person) and the typical contents in reserve-policy.md
# ("Households and grids"), with the GD Health Commission 2020 household health kit
# (supplies-catalogue.md) and Sphere's survival water (2.5-3 L/person/day,
# supplies-catalogue.md). Household size 2.6 persons [FLAG: assumption,
# supplies-catalogue.md uses 2.6-3.0].
HOUSEHOLD_KIT = [
    ("WATER-5L", 5),         # 3 L x 2.6 persons x 3 days = 23.4 L -> 5 bottles of 5 L
    ("BISCUIT-COMP", 0.25),  # ready-to-eat food, 3 days [FLAG: a case feeds 4 households]
    ("LAMP-HANDCRANK", 1),   # hand-crank torch with radio, one per household
    ("MASK-MEDICAL", 3),     # breathing mask, one per person
    ("GAUZE-STERILE", 1),    # first-aid kit
    ("BANDAGE-TRI", 1),      # first-aid kit
    ("RAINCOAT", 3),         # flood kit, one per person
    ("LIFE-JACKET", 1),      # flood kit [FLAG: one per household]
    ("MAT-MOISTURE", 1),     # flood kit: damp-proof mat
]
# A grid point covers this share of its households: households keep their own 72-hour
# kit, the point backs up those who cannot. [FLAG: project assumption]
KIT_COVERAGE = 0.10
# Shared medicine box (共享药箱): common medicines for this share of households. [FLAG]
MEDICINE_BOX = [("IBUPROFEN", 1), ("PARACETAMOL", 1), ("ORS-III", 1)]
BOX_COVERAGE = 0.05


def grid_levels(w):
    """A grid point's reserve level per SKU: its kit for the households it covers."""
    kit = [(sku, q * KIT_COVERAGE) for sku, q in HOUSEHOLD_KIT]
    if w.get("medicine_box"):
        kit += [(sku, q * BOX_COVERAGE) for sku, q in MEDICINE_BOX]
    return [(sku, max(1, math.ceil(w["households"] * q))) for sku, q in kit]


def grid_lots(whs, item_by):
    """Stock at the grid points: 40-115% of each level (a network between refills), in
    one or two lots sent down from the district depot; dated lots have some expired and
    some expiring within 180 days, for rotation to find. Its own random stream, so the
    depots' lots do not change when the grid points do."""
    rng = random.Random(SEED + 190)
    lots, levels = [], []
    for w in whs:
        if "grid" not in w:
            continue
        for sku, level in grid_levels(w):
            levels.append((w["code"], sku, level))
            it = item_by[sku]
            shelf = it["shelf_life_days"]
            total = max(1, round(level * rng.uniform(0.4, 1.15)))
            n = 1 if total < 10 else rng.randint(1, 2)
            used = set()
            for k in range(n):
                qty = total // n + (total % n if k == 0 else 0)
                if shelf is None:
                    exp, recv = "", rng.randint(30, 900)
                    code_date = NOMINAL_LOAD_DATE - dt.timedelta(days=recv)
                else:
                    u = rng.random()
                    if u < 0.10:
                        e = -rng.randint(1, 60)
                    elif u < 0.30:
                        e = rng.randint(0, 180)
                    else:
                        e = rng.randint(181, shelf - 1)
                    age = shelf - e
                    recv = rng.randint(max(0, -e + 1), max(max(0, -e + 1), min(age, 700)))
                    exp = str(e)
                    code_date = NOMINAL_LOAD_DATE - dt.timedelta(days=age)
                lots.append({"warehouse_code": w["code"], "sku": sku,
                             "lot_code": lot_code(k, code_date, used),
                             "expires_in_days": exp, "received_days_ago": recv, "qty": qty,
                             "status": "available", "source": "transfer"})
    return lots, levels


SUPPLIERS = {  # fictitious
    "1-01": ["Wuyi Relief Textiles", "Xijiang Tent Works"],
    "1-02": ["Yinzhou Lake Water Co", "Tanjiang Foods"],
    "1-03": ["Wuyi Relief Textiles", "Pearl Estuary Daily Goods"],
    "2-01": ["Gaolan Marine Safety", "Jianghai Rescue Equipment"],
    "2-02": ["Lingding Medical Supply", "Cuiheng Pharma Logistics"],
    "2-03": ["Bay Power Equipment", "Jianghai Rescue Equipment"],
    "3-01": ["Doumen Geosynthetics", "Xijiang Tent Works"],
}
DONORS = ["Bay Area Charity Fund", "Wuyi Overseas Friends Association", "Pearl River Corporate Donors"]

TIER_LOTS = {"regional_centre": (6, 10), "city": (3, 6), "district": (2, 4), "community": (1, 3)}
TIER_COVER = {"regional_centre": 1.0, "city": 0.85, "district": 0.6}

P_EXPIRED, P_NEAR, P_QUAR = 0.085, 0.12, 0.03


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def round_qty(q):
    if q < 20:
        return max(1, int(round(q)))
    mag = 10 ** max(0, int(math.log10(q)) - 1)
    return max(mag, int(round(q / mag)) * mag)


def lot_code(rng_letter_start, date, used):
    base = f"L{date.year}-{date.month:02d}{date.day:02d}-"
    i = rng_letter_start
    while True:
        code = base + (chr(65 + i % 26) if i < 26 else chr(65 + i // 26 - 1) + chr(65 + i % 26))
        if code not in used:
            used.add(code)
            return code
        i += 1


def generate():
    rng = random.Random(SEED)
    items = load("items.json")
    whs = load("warehouses.json")
    item_by = {i["sku"]: i for i in items}
    lots = []
    for w in whs:
        if "grid" in w:
            continue  # grid reserve points: grid_lots
        tier = w["tier"]
        cap = w["capacity_factor"]
        if tier == "community":
            skus = sorted(rng.sample(COMMUNITY_BASICS, rng.randint(6, 9)))
        else:
            skus = []
            for it in items:
                if it["sku"] in CENTRAL_ONLY and tier not in ("regional_centre", "city"):
                    continue
                if rng.random() < TIER_COVER[tier]:
                    skus.append(it["sku"])
        for sku in skus:
            it = item_by[sku]
            shelf = it["shelf_life_days"]
            alert = it["alert_days"]
            total = BASE_QTY[sku] * cap * rng.uniform(0.6, 1.4)
            lo, hi = TIER_LOTS[tier]
            n = rng.randint(lo, hi)
            if total / n < 1:
                n = max(1, int(total))
            used = set()
            for k in range(n):
                qty = round_qty(total / n * rng.uniform(0.5, 1.5))
                if shelf is None:
                    exp = ""
                    recv = rng.randint(0, 2500)
                    code_date = NOMINAL_LOAD_DATE - dt.timedelta(days=recv)
                else:
                    u = rng.random()
                    if u < P_EXPIRED:
                        e = -rng.randint(1, max(2, min(180, shelf // 3)))
                    elif u < P_EXPIRED + P_NEAR:
                        e = rng.randint(0, alert)
                    else:
                        e = rng.randint(alert + 1, shelf - 1)
                    age = shelf - e  # days since production
                    lo_r = max(0, -e + 1)
                    hi_r = max(lo_r, min(age, 1500))
                    recv = rng.randint(lo_r, hi_r)
                    exp = str(e)
                    code_date = NOMINAL_LOAD_DATE - dt.timedelta(days=age)
                status = "quarantined" if rng.random() < P_QUAR else "available"
                r = rng.random()
                t_share = {"community": 0.7, "district": 0.35, "city": 0.15, "regional_centre": 0.0}[tier]
                if r < t_share:
                    src = "transfer"
                elif r < t_share + 0.1:
                    src = "donor:" + rng.choice(DONORS)
                else:
                    src = "supplier:" + rng.choice(SUPPLIERS[it["category_code"]])
                lots.append({"warehouse_code": w["code"], "sku": sku,
                             "lot_code": lot_code(rng.randint(0, 3), code_date, used),
                             "expires_in_days": exp, "received_days_ago": recv, "qty": qty,
                             "status": status, "source": src})
    depot_lots = len(lots)
    g_lots, g_levels = grid_lots(whs, item_by)
    with open(os.path.join(HERE, "lots.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=["warehouse_code", "sku", "lot_code", "expires_in_days",
                                           "received_days_ago", "qty", "status", "source"])
        wr.writeheader()
        wr.writerows(lots + g_lots)

    # reserve floors: centre and city depots, plus a few districts
    usable = {}
    for l in lots:
        if l["status"] != "available":
            continue
        if l["expires_in_days"] != "" and int(l["expires_in_days"]) < 0:
            continue
        key = (l["warehouse_code"], l["sku"])
        usable[key] = usable.get(key, 0) + l["qty"]
    tier_of = {w["code"]: w["tier"] for w in whs}
    p_floor = {"regional_centre": 0.6, "city": 0.3, "district": 0.08, "community": 0.0}
    levels = []
    for (wc, sku) in sorted(usable):
        stock = usable[(wc, sku)]
        if stock < 4 or rng.random() >= p_floor[tier_of[wc]]:
            continue
        frac = rng.uniform(0.8, 0.95) if rng.random() < 0.07 else rng.uniform(0.2, 0.5)
        mq = min(stock - 1, max(1, int(stock * frac)))
        levels.append((wc, sku, mq))
    with open(os.path.join(HERE, "reserve_levels.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["warehouse_code", "sku", "min_qty"])
        wr.writerows(levels + g_levels)
    print(f"wrote {depot_lots} + {len(g_lots)} grid lots, {len(levels)} + {len(g_levels)} grid reserve levels")


# ---------------------------------------------------------------------------
# --check
# ---------------------------------------------------------------------------
def hav_km(a, b):
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def gtin_ok(g):
    if not (isinstance(g, str) and len(g) == 14 and g.isdigit()):
        return False
    s = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(g[:-1])))
    return (10 - s % 10) % 10 == int(g[-1])


def check():
    errs = []
    cats = load("categories.json")
    items = load("items.json")
    whs = load("warehouses.json")
    net = load("network.geojson")
    codes = {c["code"] for c in cats}
    for c in cats:
        if c["parent"] is not None and c["parent"] not in codes:
            errs.append(f"category {c['code']} parent missing")
        if not c.get("source"):
            errs.append(f"category {c['code']} no source")
    import re
    skure = re.compile(r"^[A-Z0-9-]+$")
    skus = set()
    for i in items:
        if not skure.match(i["sku"]) or i["sku"] in skus:
            errs.append(f"bad/dup sku {i['sku']}")
        skus.add(i["sku"])
        if i["category_code"] not in codes:
            errs.append(f"item {i['sku']} category {i['category_code']} missing")
        if i["gtin"] is not None and not gtin_ok(i["gtin"]):
            errs.append(f"item {i['sku']} bad GTIN {i['gtin']}")
        if i["storage_class"] not in ("ambient", "cool", "frozen"):
            errs.append(f"item {i['sku']} storage")
        if i["shelf_life_days"] is None and (i["min_remaining_days"] or i["alert_days"]):
            errs.append(f"item {i['sku']} windows on non-expiring")
        nn = i["need_norm"]
        if nn is not None and not (nn["qty"] > 0 and nn["per_persons"] > 0 and nn["basis"]):
            errs.append(f"item {i['sku']} need_norm")
        if not i.get("source"):
            errs.append(f"item {i['sku']} no source")
        if i["sku"] not in BASE_QTY:
            errs.append(f"item {i['sku']} missing from BASE_QTY")
    cities = {"Guangzhou", "Shenzhen", "Zhuhai", "Foshan", "Huizhou", "Dongguan", "Zhongshan",
              "Jiangmen", "Zhaoqing", "Hong Kong", "Macau"}
    jm = {"Pengjiang", "Jianghai", "Xinhui", "Taishan", "Kaiping", "Heshan", "Enping"}
    wcodes = set()
    for w in whs:
        if not skure.match(w["code"]) or w["code"] in wcodes:
            errs.append(f"bad/dup warehouse {w['code']}")
        wcodes.add(w["code"])
        if w["city"] not in cities:
            errs.append(f"warehouse {w['code']} city {w['city']}")
        if not (21.4 <= w["lat"] <= 24.5 and 111.3 <= w["lon"] <= 115.5):
            errs.append(f"warehouse {w['code']} outside bbox")
        if w["tier"] not in ("regional_centre", "city", "district", "community"):
            errs.append(f"warehouse {w['code']} tier")
    if {w["city"] for w in whs} != cities:
        errs.append("not all 11 cities covered")
    if not jm <= {w["district"] for w in whs if w["city"] == "Jiangmen"}:
        errs.append("not all Jiangmen districts covered")
    for req in ("JM-JH-RC", "SZ-FT-01"):
        if req not in wcodes:
            errs.append(f"missing {req}")
    if not any(c.startswith("HK-") for c in wcodes) or not any(c.startswith("MO-") for c in wcodes):
        errs.append("missing HK-/MO- depot")
    rc = [w for w in whs if w["code"] == "JM-JH-RC"][0]
    if max(whs, key=lambda w: w["capacity_factor"])["code"] != "JM-JH-RC" or (rc["lat"], rc["lon"]) != (22.564, 113.1056):
        errs.append("reserve centre not largest / not at placeholder")
    if len(whs) < 40 or len(items) < 60:
        errs.append("too few warehouses/items")

    # network
    adj = {}
    ids = set()
    for f in net["features"]:
        p = f["properties"]
        cs = f["geometry"]["coordinates"]
        if f["geometry"]["type"] != "LineString" or len(cs) < 2:
            errs.append(f"edge {p.get('id')} geometry")
            continue
        if p["id"] in ids:
            errs.append(f"dup edge id {p['id']}")
        ids.add(p["id"])
        for lon, lat in cs:
            if not (21.4 <= lat <= 24.5 and 111.3 <= lon <= 115.5):
                errs.append(f"edge {p['id']} vertex outside bbox")
        length = sum(hav_km(cs[i], cs[i + 1]) for i in range(len(cs) - 1))
        if length <= 0 or tuple(cs[0]) == tuple(cs[-1]):
            errs.append(f"edge {p['id']} zero length")
        if p["road_class"] not in ("expressway", "bridge", "tunnel", "arterial", "local", "border"):
            errs.append(f"edge {p['id']} class")
        if ("speed_kmh" in p) == ("minutes" in p):
            errs.append(f"edge {p['id']} needs exactly one of speed_kmh/minutes")
        if p.get("road_class") == "expressway" and p.get("speed_kmh", 0) > 100:
            errs.append(f"edge {p['id']} over truck cap")
        if not p.get("source"):
            errs.append(f"edge {p['id']} no source")
        t = p["minutes"] if "minutes" in p else length / p["speed_kmh"] * 60
        t += p.get("border_minutes", 0)
        a, b = tuple(cs[0]), tuple(cs[-1])
        for x, y in ((a, b), (b, a)):
            adj.setdefault(x, []).append((y, t, p["id"], p["trucks_allowed"], length))
    for need in ("humen-bridge", "nansha-bridge", "shenzhen-zhongshan-link", "hzmb-main", "huangmaohai-link"):
        if need not in ids:
            errs.append(f"missing crossing {need}")
    nodes = list(adj)
    seen = {nodes[0]}
    stack = [nodes[0]]
    while stack:
        n = stack.pop()
        for m, *_ in adj[n]:
            if m not in seen:
                seen.add(m)
                stack.append(m)
    if len(seen) != len(nodes):
        errs.append(f"network not connected: {len(seen)}/{len(nodes)} nodes reachable")
    near = {}
    for w in whs:
        d, n = min((hav_km((w["lon"], w["lat"]), n), n) for n in nodes)
        near[w["code"]] = n
        if d > 5:
            errs.append(f"warehouse {w['code']} {d:.1f} km from nearest node")

    def route(src, dst, closed=()):
        dist = {src: 0.0}
        km = {src: 0.0}
        pq = [(0.0, src)]
        prev = {}
        while pq:
            d, n = heapq.heappop(pq)
            if n == dst:
                path = []
                while n in prev:
                    n, eid = prev[n]
                    path.append(eid)
                return d, km[dst], list(reversed(path))
            if d > dist[n]:
                continue
            for m, t, eid, trucks, length in adj[n]:
                if not trucks or eid in closed:
                    continue
                if d + t < dist.get(m, 1e18):
                    dist[m] = d + t
                    km[m] = km[n] + length
                    prev[m] = (n, eid)
                    heapq.heappush(pq, (d + t, m))
        return None, None, None

    closed = {"shenzhen-zhongshan-link", "hzmb-main", "huangmaohai-link"}
    t_open, _, p_open = route(near["SZ-FT-01"], near["JM-JH-RC"])
    t_cl, _, p_cl = route(near["SZ-FT-01"], near["JM-JH-RC"], closed)
    print(f"SZ-FT-01 -> JM-JH-RC open: {t_open:.0f} min via {p_open}")
    print(f"SZ-FT-01 -> JM-JH-RC SZZS/HZMB/Huangmaohai closed: "
          f"{t_cl if t_cl is None else round(t_cl)} min via {p_cl}")
    if t_cl is None or "nansha-bridge" not in p_cl or not t_cl > t_open or "shenzhen-zhongshan-link" not in p_open:
        errs.append("estuary-split scenario does not route via Nansha Bridge with a higher ETA")
    if "humen-bridge" in (p_cl or []):
        errs.append("truck route uses Humen Bridge")
    for a, b in (("MO-01", "ZH-XZ-01"), ("HK-CW-C01", "SZ-FT-01")):
        t, _, p = route(near[a], near[b], closed)
        if t is None or not any(e in ("gongbei-border", "hengqin-border", "huanggang-lok-ma-chau") for e in p):
            errs.append(f"{a} -> {b} not via a land border crossing")
    print("road/straight ratios from the centre (truck routes, all open):")
    for w in whs:
        if w["tier"] in ("city",) or w["code"] in ("JM-TS-01", "JM-EP-01", "JM-KP-01", "JM-HS-01", "JM-XH-01"):
            t, km, _ = route(near["JM-JH-RC"], near[w["code"]])
            sl = hav_km((rc["lon"], rc["lat"]), (w["lon"], w["lat"]))
            print(f"  {w['code']:10s} {km:6.1f} km / {sl:5.1f} km = {km / sl:4.2f}  {t:5.0f} min")

    # lots
    lots = list(csv.DictReader(open(os.path.join(HERE, "lots.csv"), encoding="utf-8")))
    item_by = {i["sku"]: i for i in items}
    keys = set()
    expired = near_exp = quar = 0
    for l in lots:
        if l["warehouse_code"] not in wcodes or l["sku"] not in skus:
            errs.append(f"lot ref {l}")
            continue
        k = (l["warehouse_code"], l["sku"], l["lot_code"])
        if k in keys:
            errs.append(f"dup lot {k}")
        keys.add(k)
        it = item_by[l["sku"]]
        if int(l["qty"]) <= 0 or int(l["received_days_ago"]) < 0:
            errs.append(f"lot qty/recv {k}")
        if (l["expires_in_days"] == "") != (it["shelf_life_days"] is None):
            errs.append(f"lot expiry vs shelf life {k}")
        if l["expires_in_days"] != "":
            e = int(l["expires_in_days"])
            if e < 0:
                expired += 1
            elif e <= it["alert_days"]:
                near_exp += 1
            if e + int(l["received_days_ago"]) > it["shelf_life_days"]:
                errs.append(f"lot received before production {k}")
        if l["status"] not in ("available", "quarantined"):
            errs.append(f"lot status {k}")
        quar += l["status"] == "quarantined"
        if not (l["source"] == "transfer" or l["source"].startswith(("supplier:", "donor:"))):
            errs.append(f"lot source {k}")
    n = len(lots)
    print(f"lots: {n}; expired {expired} ({expired / n:.1%}); near expiry {near_exp} ({near_exp / n:.1%}); "
          f"quarantined {quar} ({quar / n:.1%})")
    if n < 5000:
        errs.append("fewer than 5000 lots")
    if not 0.03 <= expired / n <= 0.05:
        errs.append("expired share outside 3-5%")
    stock = {}
    for l in lots:
        if l["status"] == "available" and (l["expires_in_days"] == "" or int(l["expires_in_days"]) >= 0):
            stock[(l["warehouse_code"], l["sku"])] = stock.get((l["warehouse_code"], l["sku"]), 0) + int(l["qty"])
    rl = list(csv.DictReader(open(os.path.join(HERE, "reserve_levels.csv"), encoding="utf-8")))
    grid = {w["code"]: w for w in whs if "grid" in w}
    if len(grid) < 60 or {w["district"] for w in grid.values()} != {"Jianghai"}:
        errs.append("fewer than 60 Jianghai grid points")
    for r in rl:
        k = (r["warehouse_code"], r["sku"])
        if k[0] in grid:
            # A grid point's levels come from its households, not its stock.
            if (k[1], int(r["min_qty"])) not in grid_levels(grid[k[0]]):
                errs.append(f"grid level {k} is not its kit")
            continue
        if k not in stock or not 0 < int(r["min_qty"]) < stock[k]:
            errs.append(f"reserve level {k} not below usable stock")
    print(f"reserve levels: {len(rl)}; items {len(items)} ({sum(1 for i in items if i['gtin'])} with GTIN); "
          f"warehouses {len(whs)}; edges {len(ids)}; nodes {len(nodes)}; categories {len(cats)}")
    if errs:
        print("FAILED:")
        for e in errs[:50]:
            print("  " + e)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    if "--check" in sys.argv:
        check()
    else:
        generate()
