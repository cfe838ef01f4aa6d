// Reserve screens: readiness of the network (a map coloured by reserve levels met, the
// network and district scores, a sortable warehouse table with a CSV export and, for an
// admin, a replenishment plan to preview and commit) and rotation of the stock that
// expires soon (window, lots saved from write-off, a monthly calendar, and each lot's
// proposed action with a one-click transfer).
import { get, post, newKey } from './api.js';
import { h, field, input, select, showProblem, busy, table, loading, qty, clearProblems } from './dom.js';
import { t, tv, nameOf } from './i18n.js';
import * as store from './store.js';
import { createMap } from './map.js';
import { download } from './audit.js';

/* global L */

const TIERS = ['regional_centre', 'city', 'district', 'community', 'agreement'];

/** Marker radius by tier: the bigger the store, the bigger the dot. */
const TIER_RADIUS = { regional_centre: 11, city: 9, district: 7, agreement: 6, community: 4.5 };

/**
 * Readiness bands by the share of reserve levels met (a colour-blind-safe diverging
 * palette); the badge beside every figure carries the same band as text.
 */
const BANDS = [
  { key: 'full', min: 1, color: '#2c7bb6' },
  { key: 'most', min: 0.8, color: '#abd9e9' },
  { key: 'part', min: 0.5, color: '#fdae61' },
  { key: 'low', min: 0, color: '#d7191c' },
];
const NO_LEVELS = { key: 'none', color: '#bdbdbd' };

export function band(share) {
  if (share === null || share === undefined) return NO_LEVELS;
  return BANDS.find((b) => share >= b.min - 1e-9) || BANDS[BANDS.length - 1];
}

/** A share as a whole percentage, rounded down (99.6 % is not "100 %"), or a dash. */
export function pct(share) {
  return share === null || share === undefined ? '—' : `${Math.floor(share * 100 + 1e-9)}%`;
}

/** The random tail of an id (UUIDv7s made together share their time prefix). */
const shortId = (id) => String(id).slice(-8);

function shareBadge(share) {
  const b = band(share);
  return h('span', { class: `badge band-${b.key}`, title: t(`band_${b.key}`) }, pct(share));
}

// ---------------------------------------------------------------- sortable tables

const cmp = (x, y) => (typeof x === 'string' || typeof y === 'string'
  ? String(x).localeCompare(String(y)) : x - y);

/**
 * A table whose headers sort it (again reverses). cols: [{label, cls, sort: row → value
 * (null sorts last either way), cell: row → content, th: the row's header cell, desc:
 * first click sorts descending}]. `el.update(rows)` redraws with other rows.
 */
function sortable(cols, rows, { id, cls, by = 0, dir = 1, rowAttrs } = {}) {
  const state = { by, dir, rows };
  const tbody = h('tbody');
  const ths = cols.map((c, i) => {
    if (!c.sort) return h('th', { scope: 'col', class: c.cls }, t(c.label));
    const arrow = h('span', { 'aria-hidden': 'true', class: 'sort-arrow' });
    const b = h('button', { type: 'button', class: 'sort' }, t(c.label), arrow);
    b.addEventListener('click', () => {
      if (state.by === i) state.dir = -state.dir;
      else { state.by = i; state.dir = c.desc ? -1 : 1; }
      draw();
    });
    const th = h('th', { scope: 'col', class: c.cls }, b);
    th.arrow = arrow;
    return th;
  });
  function draw() {
    ths.forEach((th, i) => {
      if (!cols[i].sort) return;
      const on = i === state.by;
      th.setAttribute('aria-sort', on ? (state.dir > 0 ? 'ascending' : 'descending') : 'none');
      th.arrow.textContent = on ? (state.dir > 0 ? ' ▲' : ' ▼') : '';
    });
    const key = cols[state.by].sort;
    const tie = cols.find((c) => c.sort)?.sort || (() => 0);
    const sorted = [...state.rows].sort((a, b) => {
      const x = key(a); const y = key(b);
      const xn = x === null || x === undefined; const yn = y === null || y === undefined;
      if (xn || yn) return (xn - yn) || cmp(tie(a), tie(b));
      return cmp(x, y) * state.dir || cmp(tie(a), tie(b));
    });
    tbody.replaceChildren(...sorted.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {},
      cols.map((c) => h(c.th ? 'th' : 'td', { class: c.cls, scope: c.th ? 'row' : null }, c.cell(r))))));
  }
  const el = h('table', { id, class: cls }, h('thead', {}, h('tr', {}, ths)), tbody);
  el.update = (next) => { state.rows = next; draw(); };
  draw();
  return el;
}

// ---------------------------------------------------------------- readiness

function scoreLines(s) {
  return h('dl', { class: 'kv' },
    h('dt', {}, t('levels_met')), h('dd', {}, shareBadge(s.levels_share), ' ', t('levels_met_of', { met: qty(s.levels_met), levels: qty(s.levels) })),
    h('dt', {}, t('units_met')), h('dd', {}, shareBadge(s.units_share), ' ', t('units_met_of', { met: qty(s.units_met), units: qty(s.level_units) })));
}

function readinessLegend(counts) {
  const c = L.control({ position: 'bottomleft' });
  c.onAdd = () => {
    const div = h('div', { class: 'legend', id: 'rd-legend', role: 'note' },
      h('strong', {}, t('legend_readiness')),
      [...BANDS, NO_LEVELS].map((b) => h('div', { 'data-band': b.key },
        h('span', { class: 'dot', style: `background:${b.color}` }), `${t(`band_${b.key}`)} (${counts[b.key] || 0})`)),
      h('div', { class: 'muted' }, t('legend_size')));
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  return c;
}

export async function readiness(v) {
  const admin = store.role() === 'admin';
  const head = h('p', { class: 'muted', id: 'rd-today' });
  const mapEl = h('div', { id: 'readiness-map', role: 'region', 'aria-label': t('readiness_map') });
  const network = h('div', { id: 'rd-network' }, loading());
  const districts = h('div', { id: 'rd-districts' });
  const find = input({ type: 'search', id: 'rd-find', name: 'find', autocomplete: 'off' });
  const exportLink = h('a', { href: '/api/v1/readiness?format=csv', id: 'rd-export', class: 'button-link', download: 'readiness.csv' }, t('export_csv'));
  const tableBox = h('div', { id: 'rd-table-box' });
  const whCard = h('section', { class: 'card', 'aria-labelledby': 'rd-wh-h' },
    h('h2', { id: 'rd-wh-h' }, t('warehouses')),
    h('div', { class: 'row' }, field('find_warehouse', find), h('p', {}, exportLink)), tableBox);
  const planBox = h('div', { id: 'rp-panel' });
  v.append(h('h1', {}, t('readiness_title')), head, h('p', { class: 'muted' }, t('readiness_help')),
    h('div', { class: 'split' }, mapEl, h('div', { class: 'panel' },
      h('section', { class: 'card', 'aria-labelledby': 'rd-net-h' }, h('h2', { id: 'rd-net-h' }, t('network')), network),
      h('section', { class: 'card', 'aria-labelledby': 'rd-d-h' }, h('h2', { id: 'rd-d-h' }, t('districts')), districts))),
    whCard);
  if (admin) v.append(planBox);

  // The CSV needs the bearer token: fetched, then saved under the link's name.
  exportLink.addEventListener('click', (e) => {
    e.preventDefault();
    busy(exportLink, async () => {
      clearProblems(whCard);
      try { await download('/readiness', { format: 'csv' }); } catch (err) { showProblem(whCard, err, tableBox); }
    });
  });

  let data; let whs;
  try {
    [data, whs] = await Promise.all([get('/readiness'), store.warehouses()]);
  } catch (err) {
    network.replaceChildren();
    showProblem(v, err, mapEl.parentNode);
    return;
  }
  head.textContent = t('as_of', { date: data.today });
  const byId = new Map(whs.map((w) => [w.id, w]));
  const byCode = new Map(whs.map((w) => [w.code, w]));
  const rows = data.warehouses.map((r) => ({ ...r, w: byId.get(r.warehouse_id) || byCode.get(r.warehouse_code) || {} }));
  network.replaceChildren(scoreLines(data.network));

  // Map: basemap, then one dot per warehouse, coloured by levels met.
  const markers = new Map();
  let map = null;
  const showOnMap = (code) => {
    const m = markers.get(code);
    if (!m || !map) return;
    mapEl.scrollIntoView({ block: 'nearest' });
    map.setView(m.getLatLng(), Math.max(map.getZoom(), 12), { animate: false });
    m.openTooltip();
  };
  const fitTo = (list) => {
    const pts = list.map((r) => markers.get(r.warehouse_code)?.getLatLng()).filter(Boolean);
    if (map && pts.length) map.fitBounds(L.latLngBounds(pts).pad(0.3), { animate: false, maxZoom: 13 });
  };

  districts.replaceChildren(data.districts.length ? sortable([
    { label: 'district', th: true, sort: (d) => d.district, cell: (d) => {
      const b = h('button', { type: 'button', class: 'link', title: t('show_district') }, d.district);
      b.addEventListener('click', () => {
        find.value = d.district; filter();
        fitTo(rows.filter((r) => r.district === d.district));
      });
      return b;
    } },
    { label: 'warehouses', cls: 'num', sort: (d) => d.warehouses, desc: true, cell: (d) => qty(d.warehouses) },
    { label: 'levels_met', cls: 'num', sort: (d) => d.score.levels_share, cell: (d) => [`${qty(d.score.levels_met)}/${qty(d.score.levels)} `, shareBadge(d.score.levels_share)] },
    { label: 'units_share', cls: 'num', sort: (d) => d.score.units_share, cell: (d) => shareBadge(d.score.units_share) },
  ], data.districts, { id: 'rd-district-table', by: 2 }) : h('p', { class: 'muted' }, t('none')));

  // Worst first: that is where a planner looks.
  const tbl = sortable([
    { label: 'warehouse', th: true, sort: (r) => r.warehouse_code, cell: (r) => {
      const b = h('button', { type: 'button', class: 'link', title: t('show_on_map', { code: r.warehouse_code }) }, r.warehouse_code);
      b.addEventListener('click', () => showOnMap(r.warehouse_code));
      return b;
    } },
    { label: 'name', sort: (r) => nameOf(r.w), cell: (r) => nameOf(r.w) },
    { label: 'tier', sort: (r) => TIERS.indexOf(r.tier), cell: (r) => tv('tier', r.tier) },
    { label: 'district', sort: (r) => r.district ?? null, cell: (r) => r.district || '—' },
    { label: 'levels_met', cls: 'num', sort: (r) => r.score.levels_met, desc: true, cell: (r) => `${qty(r.score.levels_met)}/${qty(r.score.levels)}` },
    { label: 'levels_share', cls: 'num', sort: (r) => r.score.levels_share, cell: (r) => shareBadge(r.score.levels_share) },
    { label: 'units_met', cls: 'num', sort: (r) => r.score.units_met, desc: true, cell: (r) => `${qty(r.score.units_met)}/${qty(r.score.level_units)}` },
    { label: 'units_share', cls: 'num', sort: (r) => r.score.units_share, cell: (r) => shareBadge(r.score.units_share) },
  ], rows, { id: 'rd-table', cls: 'readiness', by: 5, rowAttrs: (r) => ({ 'data-warehouse': r.warehouse_code, 'data-band': band(r.score.levels_share).key }) });
  const count = h('p', { class: 'muted', id: 'rd-count', role: 'status' });
  tableBox.replaceChildren(count, tbl);
  function filter() {
    const q = find.value.trim().toLowerCase();
    const shown = !q ? rows : rows.filter((r) => [r.warehouse_code, r.w.name_zh, r.w.name_en, r.district, r.tier, tv('tier', r.tier)]
      .some((x) => x && String(x).toLowerCase().includes(q)));
    tbl.update(shown);
    count.textContent = t('rows_of', { n: shown.length, total: rows.length });
  }
  find.addEventListener('input', filter);
  filter();

  if (admin) planPanel(planBox, data.districts.map((d) => d.district));

  try {
    ({ map } = await createMap(mapEl));
  } catch (err) { showProblem(mapEl.parentNode, err, mapEl); return; }
  // The dispatch legend (roads, routes) does not apply here: this map has its own.
  mapEl.querySelectorAll('.leaflet-control.legend').forEach((e) => e.remove());
  const renderer = L.canvas({ padding: 0.3 });
  const counts = {};
  const layer = L.layerGroup();
  // Big stores first, so the small community points draw on top and stay clickable.
  const order = [...rows].sort((a, b) => (TIER_RADIUS[b.tier] || 6) - (TIER_RADIUS[a.tier] || 6));
  for (const r of order) {
    const b = band(r.score.levels_share);
    counts[b.key] = (counts[b.key] || 0) + 1;
    if (typeof r.w.lat !== 'number' || typeof r.w.lon !== 'number') continue;
    const tip = h('div', {}, h('strong', {}, r.warehouse_code), ` · ${nameOf(r.w)} · ${tv('tier', r.tier)}`, h('br'),
      `${t(`band_${b.key}`)}: ${t('levels_met_of', { met: qty(r.score.levels_met), levels: qty(r.score.levels) })} (${pct(r.score.levels_share)})`, h('br'),
      `${t('units_met')}: ${qty(r.score.units_met)}/${qty(r.score.level_units)} (${pct(r.score.units_share)})`);
    const m = L.circleMarker([r.w.lat, r.w.lon], {
      renderer, radius: TIER_RADIUS[r.tier] || 6, color: '#1b1f24', weight: 1,
      fillColor: b.color, fillOpacity: 0.9,
    }).bindTooltip(tip);
    m.addTo(layer);
    markers.set(r.warehouse_code, m);
  }
  layer.addTo(map);
  readinessLegend(counts).addTo(map);
  mapEl.dataset.markers = String(markers.size);
  mapEl.dataset.ready = 'true';
  performance.mark('stockpile-readiness-drawn');
}

// ---------------------------------------------------------------- replenishment (admin)

function planPanel(root, districtNames) {
  const tier = select([{ value: '', label: t('all') }, ...TIERS.map((x) => ({ value: x, label: tv('tier', x) }))], { id: 'rp-tier', name: 'tier' });
  const district = select([{ value: '', label: t('all') }, ...districtNames.map((d) => ({ value: d, label: d }))], { id: 'rp-district', name: 'district' });
  const prevBtn = h('button', { type: 'submit', id: 'rp-preview' }, t('preview_replenishment'));
  const commitBtn = h('button', { type: 'button', id: 'rp-commit', class: 'secondary', disabled: true }, t('commit_replenishment'));
  const out = h('div', { id: 'rp-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', id: 'rp-form', 'aria-labelledby': 'rp-h' },
    h('h2', { id: 'rp-h' }, t('plan_replenishment')), h('p', { class: 'muted' }, t('replenish_help')),
    h('div', { class: 'row' }, field('tier', tier, { pointer: '/scope/tier' }), field('district', district, { pointer: '/scope/district' }),
      prevBtn, commitBtn), out);
  root.replaceChildren(form);

  // The preview being looked at, and the key its commit is sent with: one key per
  // preview, so a retry after a lost answer replays instead of sending twice.
  let preview = null;
  let key = null;
  const scope = () => {
    const s = {};
    if (tier.value) s.tier = tier.value;
    if (district.value) s.district = district.value;
    return s;
  };
  const canCommit = () => !!preview?.plan?.transfers?.length;
  const setCommit = () => {
    commitBtn.disabled = !canCommit();
    commitBtn.textContent = canCommit() ? t('commit_n', { n: preview.plan.transfers.length }) : t('commit_replenishment');
  };
  const stale = () => { preview = null; key = null; out.replaceChildren(); clearProblems(form); setCommit(); };
  tier.addEventListener('change', stale);
  district.addEventListener('change', stale);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(prevBtn, async () => {
      clearProblems(form);
      preview = null; setCommit();
      out.replaceChildren(loading());
      try {
        preview = await post('/replenishment/preview', { scope: scope() });
        key = newKey();
        const items = await itemNames();
        out.replaceChildren(planView(preview, items));
      } catch (err) { out.replaceChildren(); showProblem(form, err); }
    });
    setCommit();
  });

  commitBtn.addEventListener('click', async () => {
    if (!canCommit()) return;
    await busy(commitBtn, async () => {
      clearProblems(form);
      try {
        const res = await post('/replenishment', { scope: scope(), fingerprint: preview.fingerprint }, { idempotencyKey: key });
        preview = null; key = null;
        const items = await itemNames();
        const created = res.created || [];
        const written = planView(res, items);
        out.replaceChildren(h('div', {},
          res.replanned ? h('div', { class: 'notice-warn', role: 'alert', id: 'rp-replanned' }, `⚠ ${t('replanned_notice')}`) : null,
          h('div', { class: 'form-ok', role: 'status', id: 'rp-committed' }, t('committed_ok', { n: created.length })),
          h('p', { class: 'muted' }, t('readiness_after')),
          h('h3', {}, t('created_transfers')),
          created.length ? table(['transfer_id', 'from', 'to', 'lines', { label: 'qty', cls: 'num' }, 'status'], created.map((tr) => h('tr', { 'data-transfer': tr.id },
            h('td', {}, h('code', { title: tr.id }, shortId(tr.id))), h('td', {}, tr.from), h('td', {}, tr.to),
            h('td', {}, (tr.lines || []).map((l) => h('div', {}, `${items[l.sku] || l.sku} · ${l.lot_code} × ${qty(l.qty)}`))),
            h('td', { class: 'num' }, qty((tr.lines || []).reduce((a, l) => a + (l.qty || 0), 0))),
            h('td', {}, tv('rs', tr.status)))), { cls: 'created' }) : h('p', { class: 'muted' }, t('none')),
          h('h3', {}, t('plan_written')), written));
        out.querySelector('table.created')?.setAttribute('id', 'rp-created');
      } catch (err) { showProblem(form, err); }
    });
    setCommit();
  });
}

async function itemNames() {
  const list = await store.items().catch(() => []);
  return Object.fromEntries(list.map((i) => [i.sku, nameOf(i)]));
}

/** The summary, transfers and procurement list of a replenishment view. */
function planView(view, items) {
  const { plan, summary } = view;
  const transfers = plan.transfers || [];
  const procurement = plan.procurement || [];
  const LIMIT = 200;
  const trRow = (tr) => h('tr', {}, h('td', {}, tr.from_code), h('td', {}, tr.to_code),
    h('td', { class: 'num' }, Math.round(tr.eta_minutes)), h('td', {}, tr.arrives_on),
    h('td', {}, tr.lines.map((l) => h('div', {}, `${items[l.sku] || l.sku} · ${l.lot_code}${l.expires_on ? ` (${l.expires_on})` : ''} × ${qty(l.qty)}`))),
    h('td', { class: 'num' }, qty(tr.lines.reduce((a, l) => a + l.qty, 0))));
  const trTable = table(['from', 'to', { label: 'eta', cls: 'num' }, 'arrives_on', 'lines', { label: 'qty', cls: 'num' }],
    transfers.slice(0, LIMIT).map(trRow));
  trTable.id = 'rp-transfers';
  let more = null;
  if (transfers.length > LIMIT) {
    more = h('button', { type: 'button', class: 'secondary' }, t('show_more', { n: transfers.length - LIMIT }));
    more.addEventListener('click', () => { trTable.querySelector('tbody').append(...transfers.slice(LIMIT).map(trRow)); more.remove(); });
  }
  const procTable = procurement.length ? table(['item', { label: 'shortfall', cls: 'num' }, 'destinations'],
    procurement.map((p) => h('tr', {}, h('td', {}, items[p.sku] ? `${items[p.sku]} (${p.sku})` : p.sku), h('td', { class: 'num' }, qty(p.shortfall)),
      h('td', {}, (p.destinations || []).map((d) => `${d.warehouse_code} ${qty(d.shortfall)}`).join(' · ')))), { cls: 'procurement' }) : null;
  if (procTable) procTable.id = 'rp-procurement';
  return h('div', {},
    h('dl', { class: 'kv', id: 'rp-summary' },
      h('dt', {}, t('destinations')), h('dd', { 'data-k': 'destinations' }, qty(summary.destinations)),
      h('dt', {}, t('transfers_planned')), h('dd', { 'data-k': 'transfers' }, qty(summary.transfers)),
      h('dt', {}, t('units_planned')), h('dd', { 'data-k': 'units_planned' }, qty(summary.units_planned)),
      h('dt', {}, t('units_short')), h('dd', { 'data-k': 'units_short' }, qty(summary.units_short))),
    transfers.length ? [h('h3', {}, t('transfers_planned')), trTable, more] : h('p', { class: 'muted', id: 'rp-nothing' }, t('nothing_to_move')),
    procTable ? [h('h3', {}, t('procurement')), procTable] : null);
}

// ---------------------------------------------------------------- rotation

const WINDOWS = [30, 90, 180, 365];
const WIN_KEY = 'stockpile.rotation.window';
const ROWS_KEY = 'stockpile.rotation.rows';

/** `YYYY-MM` months from `first` to `last`, both included. */
function monthRange(first, last) {
  const out = [];
  let [y, m] = first.split('-').map(Number);
  const [ly, lm] = last.split('-').map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    m += 1;
    if (m > 12) { m = 1; y += 1; }
  }
  return out;
}

function daysBetween(from, to) {
  return Math.round((new Date(`${to}T00:00:00Z`) - new Date(`${from}T00:00:00Z`)) / 86400000);
}

function actionCell(a) {
  if (!a) return '';
  if (a.kind === 'transfer') {
    return [h('span', { class: 'badge ok' }, t('act_transfer')), ` → ${a.to_code} · ${qty(a.qty)} · ${Math.round(a.eta_minutes)} ${t('minutes_short')} · ${t('arrives_on')} ${a.arrives_on}`];
  }
  if (a.kind === 'issue') return [h('span', { class: 'badge soon' }, t('act_issue')), ` ${qty(a.qty)} · ${t('issue_by')} ${a.issue_by}`];
  if (a.kind === 'write_off') return [h('span', { class: 'badge expired' }, t('act_write_off')), ` ${qty(a.qty)} · ${a.on}`];
  return a.kind;
}

/** Lots, lots saved (transfer or issue) and written off, with units (remainders too). */
function tally(lots) {
  const s = { saved_from_write_off: 0, written_off: 0, saved_qty: 0, written_off_qty: 0 };
  for (const l of lots) {
    if (l.action.kind === 'write_off') s.written_off += 1; else s.saved_from_write_off += 1;
    for (const a of [l.action, l.remainder].filter(Boolean)) {
      if (a.kind === 'write_off') s.written_off_qty += a.qty; else s.saved_qty += a.qty;
    }
  }
  return s;
}

export async function rotation(v) {
  const [itemsList, cats, mine] = await Promise.all([store.items(), store.categories().catch(() => []), store.myWarehouses()]);
  const role = store.role();
  const itemName = Object.fromEntries(itemsList.map((i) => [i.sku, nameOf(i)]));
  const catName = Object.fromEntries(cats.map((c) => [c.code, nameOf(c)]));
  const whName = Object.fromEntries((await store.warehouses()).map((w) => [w.code, nameOf(w)]));
  const myCodes = new Set(mine.map((w) => w.code));

  let win = Number(sessionStorage.getItem(WIN_KEY)) || 180;
  if (!WINDOWS.includes(win)) win = 180;
  const winBtns = WINDOWS.map((n) => {
    const b = h('button', { type: 'button', class: 'secondary', id: `rot-w-${n}`, 'aria-pressed': String(n === win) }, t('within_n_days', { n }));
    b.addEventListener('click', () => {
      if (n === win && plan) return;
      win = n;
      sessionStorage.setItem(WIN_KEY, String(n));
      winBtns.forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
      load();
    });
    return b;
  });
  const rowsBy = select([{ value: 'warehouse', label: t('warehouse') }, { value: 'category', label: t('category') }], { id: 'rot-rows', name: 'rows' });
  rowsBy.value = sessionStorage.getItem(ROWS_KEY) === 'category' ? 'category' : 'warehouse';
  const whOpts = [{ value: '', label: t('all') }];
  if (role === 'clerk' && myCodes.size) whOpts.push({ value: '*mine', label: t('my_warehouses') });
  whOpts.push(...store.warehouseOptions(await store.warehouses()));
  const whSel = select(whOpts, { id: 'rot-wh', name: 'warehouse', value: role === 'clerk' && myCodes.size ? '*mine' : '' });
  const actSel = select([{ value: '', label: t('all') }, ...['transfer', 'issue', 'write_off'].map((k) => ({ value: k, label: t(`act_${k}`) }))], { id: 'rot-action', name: 'action' });
  const form = h('form', { class: 'card', id: 'rot-form' },
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('span', { class: 'label', id: 'rot-w-label' }, t('window')),
        h('div', { class: 'toolbar', role: 'group', 'aria-labelledby': 'rot-w-label' }, winBtns)),
      field('warehouse', whSel), field('rows_by', rowsBy), field('proposed_action', actSel)));
  form.addEventListener('submit', (e) => e.preventDefault());
  const status = h('div', { id: 'rot-status', 'aria-live': 'polite' });
  const counts = h('div', { id: 'rot-counts' });
  const calendar = h('section', { class: 'card', id: 'rot-calendar', 'aria-labelledby': 'rot-cal-h' });
  const lotsBox = h('section', { class: 'card', id: 'rot-lots', 'aria-labelledby': 'rot-lots-h' });
  v.append(h('h1', {}, t('rotation_title')), h('p', { class: 'muted' }, t('rotation_help')), form, status, counts, calendar, lotsBox);

  let plan = null;
  let seq = 0;
  // One key per proposed transfer for this page: a second click after a lost answer
  // replays the first instead of sending the stock twice.
  const keys = new Map();

  const whMatch = (code) => (!whSel.value ? true : whSel.value === '*mine' ? myCodes.has(code) : code === whSel.value);

  async function load() {
    const ticket = ++seq;
    status.replaceChildren(loading());
    clearProblems(form);
    try {
      const res = await get('/rotation', { within_days: win });
      if (ticket !== seq) return;
      plan = res;
      status.replaceChildren();
      render();
    } catch (err) {
      if (ticket !== seq) return;
      status.replaceChildren();
      showProblem(form, err);
    }
  }

  function render() {
    if (!plan) return;
    const lots = plan.lots.filter((l) => whMatch(l.warehouse_code));
    const s = whSel.value ? tally(lots) : plan;
    const replacement = lots.reduce((a, l) => a + (l.replacement_qty || 0), 0);
    counts.replaceChildren(h('div', { class: 'stats' },
      h('div', { class: 'stat saved', id: 'rot-saved' }, h('span', { class: 'stat-n' }, qty(s.saved_from_write_off)),
        h('span', {}, t('saved_from_write_off')), h('small', { class: 'muted' }, t('lots_units', { lots: qty(s.saved_from_write_off), units: qty(s.saved_qty) }))),
      h('div', { class: 'stat lost', id: 'rot-written' }, h('span', { class: 'stat-n' }, qty(s.written_off)),
        h('span', {}, t('written_off_h')), h('small', { class: 'muted' }, t('lots_units', { lots: qty(s.written_off), units: qty(s.written_off_qty) })))),
    h('p', { class: 'muted', id: 'rot-horizon' }, t('rotation_horizon', { horizon: plan.horizon, today: plan.today, n: qty(replacement) })));
    renderCalendar();
    renderLots(lots);
  }

  function renderCalendar() {
    const byCat = rowsBy.value === 'category';
    const buckets = plan.calendar.filter((b) => whMatch(b.warehouse_code));
    calendar.replaceChildren(h('h2', { id: 'rot-cal-h' }, t('calendar')));
    if (!buckets.length) { calendar.append(h('p', { class: 'muted' }, t('no_expiring'))); return; }
    const thisMonth = plan.today.slice(0, 7);
    const first = buckets.reduce((a, b) => (b.month < a ? b.month : a), thisMonth);
    const months = monthRange(first, plan.horizon.slice(0, 7));
    const rows = new Map();
    for (const b of buckets) {
      const k = byCat ? b.group : b.warehouse_code;
      const row = rows.get(k) || { key: k, qty: months.map(() => 0), lots: months.map(() => 0) };
      const i = months.indexOf(b.month);
      if (i >= 0) { row.qty[i] += b.qty; row.lots[i] += b.lots; }
      rows.set(k, row);
    }
    const label = (k) => (byCat ? (catName[k] ? `${catName[k]} (${k})` : k) : (whName[k] ? `${k} · ${whName[k]}` : k));
    const list = [...rows.values()].sort((a, b) => String(a.key).localeCompare(String(b.key)));
    const max = Math.max(1, ...list.flatMap((r) => r.qty));
    const colTotals = months.map((_, i) => list.reduce((a, r) => a + r.qty[i], 0));
    const sum = (xs) => xs.reduce((a, x) => a + x, 0);
    const cell = (q, n, i) => h('td', {
      class: `num${months[i] < thisMonth ? ' past' : ''}`,
      style: q ? `background:rgba(31,95,139,${(0.08 + 0.4 * (q / max)).toFixed(2)})` : null,
      title: q ? t('lots_units', { lots: qty(n), units: qty(q) }) : null,
    }, q ? qty(q) : '');
    calendar.append(h('div', { class: 'scroll-x' }, h('table', { class: 'calendar' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t(byCat ? 'category' : 'warehouse')),
        months.map((m) => h('th', { scope: 'col', class: `num${m < thisMonth ? ' past' : ''}`, 'data-month': m, title: m < thisMonth ? t('expired') : null }, m)),
        h('th', { scope: 'col', class: 'num' }, t('total')))),
      h('tbody', {}, list.map((r) => h('tr', { 'data-row': r.key }, h('th', { scope: 'row' }, label(r.key)),
        r.qty.map((q, i) => cell(q, r.lots[i], i)), h('td', { class: 'num' }, h('strong', {}, qty(sum(r.qty))))))),
      h('tfoot', {}, h('tr', { class: 'total' }, h('th', { scope: 'row' }, t('total')),
        colTotals.map((q) => h('td', { class: 'num' }, h('strong', {}, q ? qty(q) : ''))),
        h('td', { class: 'num' }, h('strong', {}, qty(sum(colTotals)))))))));
  }

  function renderLots(all) {
    const lots = actSel.value ? all.filter((l) => l.action.kind === actSel.value) : all;
    lotsBox.replaceChildren(h('h2', { id: 'rot-lots-h' }, t('lots'), ' ', h('small', { class: 'muted' }, `(${qty(lots.length)})`)));
    if (!lots.length) { lotsBox.append(h('p', { class: 'muted' }, t('no_expiring'))); return; }
    const LIMIT = 300;
    const row = (l) => {
      const left = daysBetween(plan.today, l.expires_on);
      const cls = left < 0 ? 'expired' : left <= 30 ? 'soon' : 'ok';
      const act = h('td', { class: 'act' });
      if (l.action.kind === 'transfer' && role !== 'auditor') act.append(sendButton(l, act));
      return h('tr', { class: cls === 'ok' ? '' : cls, 'data-lot': l.lot_id, 'data-action': l.action.kind },
        h('td', {}, l.expires_on, ' ', h('span', { class: `badge ${cls}` }, left < 0 ? t('expired') : left === 0 ? t('expires_today') : t('expires_in', { n: left }))),
        h('td', {}, l.warehouse_code), h('td', {}, itemName[l.sku] || l.sku, h('br'), h('small', { class: 'muted' }, l.sku)),
        h('td', { class: 'nowrap' }, l.lot_code), h('td', { class: 'num' }, qty(l.qty)),
        h('td', {}, actionCell(l.action)), h('td', {}, actionCell(l.remainder)),
        h('td', { class: 'num' }, l.replacement_qty ? qty(l.replacement_qty) : ''), act);
    };
    const tbl = table(['expires_on', 'warehouse', 'item', 'lot_code', { label: 'qty', cls: 'num' }, 'proposed_action', 'remainder',
      { label: 'replacement_qty', cls: 'num' }, ''], lots.slice(0, LIMIT).map(row), { cls: 'rotation' });
    lotsBox.append(h('div', { class: 'scroll-x' }, tbl));
    let shown = LIMIT;
    if (lots.length > shown) {
      const more = h('button', { type: 'button', class: 'secondary', id: 'rot-more' }, t('show_more', { n: Math.min(LIMIT, lots.length - shown) }));
      more.addEventListener('click', () => {
        tbl.querySelector('tbody').append(...lots.slice(shown, shown + LIMIT).map(row));
        shown += LIMIT;
        if (shown >= lots.length) more.remove(); else more.textContent = t('show_more', { n: Math.min(LIMIT, lots.length - shown) });
      });
      lotsBox.append(h('p', {}, more));
    }
  }

  /** "Create transfer": the lot's proposed transfer, as an ordinary transfer from its warehouse. */
  function sendButton(l, cell) {
    const a = l.action;
    const id = `${l.lot_id}|${a.to_code}|${a.qty}`;
    const own = role === 'clerk' && myCodes.has(l.warehouse_code);
    const b = h('button', { type: 'button', class: 'secondary', id: `rot-send-${l.lot_id}`,
      title: own ? null : t('needs_clerk_of', { code: l.warehouse_code }) }, t('send_rotation_transfer'));
    b.addEventListener('click', () => busy(b, async () => {
      if (!keys.has(id)) keys.set(id, newKey());
      try {
        const tr = await post('/transfers', { from: l.warehouse_code, to: a.to_code, lines: [{ lot_id: l.lot_id, qty: a.qty }], note: 'rotation' },
          { idempotencyKey: keys.get(id) });
        cell.replaceChildren(h('span', { class: 'pill-ok', role: 'status', 'data-transfer': tr.id },
          `✔ ${t('transfer_created', { id: shortId(tr.id) })}`));
      } catch (err) { showProblem(cell, err); }
    }));
    return b;
  }

  whSel.addEventListener('change', render);
  actSel.addEventListener('change', render);
  rowsBy.addEventListener('change', () => { sessionStorage.setItem(ROWS_KEY, rowsBy.value); if (plan) renderCalendar(); });
  await load();
}
