# Writes N opening-stock rows (random demo SKUs at random demo warehouses) as CSV:
#   python3 benches/imports/gen_opening.py 100000 lots.csv [LOT_PREFIX]
import json, random, sys, csv, datetime
n = int(sys.argv[1]); out = sys.argv[2]; prefix = sys.argv[3] if len(sys.argv) > 3 else 'OB'
items = json.load(open('seed/items.json')); whs = json.load(open('seed/warehouses.json'))
r = random.Random(7)
with open(out, 'w', newline='', encoding='utf-8') as f:
    w = csv.writer(f)
    w.writerow(['warehouse','sku','lot_code','expires_on','qty','quarantine','donor'])
    for i in range(n):
        it = r.choice(items); wh = r.choice(whs)
        exp = '' if it['shelf_life_days'] is None else (datetime.date(2027,1,1) + datetime.timedelta(days=r.randint(200, 900))).isoformat()
        w.writerow([wh['code'], it['sku'], f'{prefix}{i:07d}', exp, r.randint(1, 500), '', 'Guangdong Red Cross' if i % 10 == 0 else ''])
