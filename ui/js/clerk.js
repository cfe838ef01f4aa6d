// Clerk screens: stock by lot and by item, expiry profile, alerts, receive with a GS1 scan,
// issue with a FEFO suggestion, transfers, quarantine and release, blind counts.
import { get, getAll, post, put } from './api.js';
import { h, field, input, select, showProblem, showOk, busy, table, loading, qty, clearProblems } from './dom.js';
import { t, tv, nameOf, lang } from './i18n.js';
import * as store from './store.js';
import { stackedBars, legend } from './chart.js';

const today = () => new Date().toISOString().slice(0, 10);

function daysUntil(dateStr) {
  if (!dateStr) return null;
  const d = new Date(`${dateStr}T00:00:00`);
  const now = new Date(`${today()}T00:00:00`);
  return Math.round((d - now) / 86400000);
}

/** The expiry label: text and class, so colour is never the only signal. */
export function expiryBadge(lot, alertDays = 90) {
  const n = daysUntil(lot.expires_on);
  if (n === null) return { cls: 'none', text: t('no_expiry') };
  if (n < 0) return { cls: 'expired', text: t('expired') };
  if (n === 0) return { cls: 'soon', text: t('expires_today') };
  if (n <= alertDays) return { cls: 'soon', text: t('expires_in', { n }) };
  return { cls: 'ok', text: t('fresh') };
}

async function warehousePicker(onChange, { id = 'wh', allOption = false } = {}) {
  const list = await store.myWarehouses();
  const opts = store.warehouseOptions(list);
  if (allOption) opts.unshift({ value: '', label: t('all') });
  const sel = select(opts, { id, name: 'warehouse' });
  const saved = sessionStorage.getItem('stockpile.wh');
  if (saved && opts.some((o) => o.value === saved)) sel.value = saved;
  sel.addEventListener('change', () => { sessionStorage.setItem('stockpile.wh', sel.value); onChange?.(sel.value); });
  return sel;
}

// ---------------------------------------------------------------- stock

export async function stock(v) {
  const [cats, itemsList] = await Promise.all([store.categories(), store.items()]);
  const alertDaysBySku = Object.fromEntries(itemsList.map((i) => [i.sku, i.alert_days || 90]));
  const wh = await warehousePicker(() => load(), { allOption: store.role() !== 'clerk' });
  const cat = select([{ value: '', label: t('all') }, ...cats.map((c) => ({ value: c.code, label: nameOf(c) }))], { name: 'category' });
  const sku = select([{ value: '', label: t('all') }, ...store.itemOptions(itemsList)], { name: 'sku', id: 'stock-sku' });
  const status = select([{ value: '', label: t('all') }, { value: 'available', label: t('available_status') }, { value: 'quarantined', label: t('quarantined') }], { name: 'status' });
  const within = input({ type: 'number', min: 0, name: 'expiring_within_days', inputmode: 'numeric' });
  const mode = select([{ value: 'lot', label: t('by_lot') }, { value: 'item', label: t('by_item') },
    ...['warehouse', 'item', 'city', 'category'].map((g) => ({ value: `summary:${g}`, label: `${t('summary')}: ${t(g)}` }))], { name: 'mode', id: 'stock-mode' });
  const btn = h('button', { type: 'submit', id: 'stock-search' }, t('search'));
  const form = h('form', { class: 'card', id: 'stock-filter' }, h('div', { class: 'row' },
    field('warehouse', wh, { pointer: 'warehouse' }), field('category', cat, { pointer: 'category' }), field('item', sku, { pointer: 'sku' }),
    field('status', status, { pointer: 'status' }), field('expiring_within_days', within, { pointer: 'expiring_within_days' }),
    field('view', mode), btn));
  const out = h('div', { id: 'stock-result' });
  v.append(h('h1', {}, t('stock_title')), form, out);
  let rows = [];
  let cursor = null;

  async function loadSummary(groupBy) {
    out.replaceChildren(loading());
    try {
      const sum = await get('/stock/summary', { group_by: groupBy });
      const names = groupBy === 'item' ? Object.fromEntries(itemsList.map((i) => [i.sku, nameOf(i)]))
        : groupBy === 'category' ? Object.fromEntries(cats.map((c) => [c.code, nameOf(c)])) : {};
      const cols = ['on_hand', 'reserved', 'available', 'in_transit_qty', 'quarantined', 'expired', 'expiring'];
      const fig = (g, k) => (g.figures || g)[k === 'in_transit_qty' ? 'in_transit' : k];
      const rowsOut = (sum.groups || []).map((g) => h('tr', {}, h('th', { scope: 'row' }, names[g.key] ? `${names[g.key]} (${g.key})` : g.key),
        cols.map((k) => h('td', { class: 'num' }, qty(fig(g, k))))));
      if (sum.totals) rowsOut.push(h('tr', { class: 'total' }, h('th', { scope: 'row' }, t('total')), cols.map((k) => h('td', { class: 'num' }, h('strong', {}, qty(fig(sum.totals, k)))))));
      out.replaceChildren(table([groupBy, ...cols.map((k) => ({ label: k === 'expiring' ? 'expiring_soon' : k, cls: 'num' }))], rowsOut, { cls: 'summary' }));
    } catch (e) { out.replaceChildren(); showProblem(form, e); }
  }

  async function load(more = false) {
    if (mode.value.startsWith('summary:')) { await loadSummary(mode.value.split(':')[1]); return; }
    if (!more) { rows = []; cursor = null; out.replaceChildren(loading()); }
    clearProblems(form);
    try {
      const page = await get('/lots', {
        warehouse: wh.value, category: cat.value, sku: sku.value, status: status.value,
        expiring_within_days: within.value, limit: mode.value === 'item' ? 1000 : 200, cursor: more ? cursor : undefined,
      });
      rows.push(...page.items);
      cursor = page.next_cursor;
      render();
    } catch (e) { out.replaceChildren(); showProblem(form, e); }
  }

  function render() {
    if (!rows.length) { out.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
    let tbl;
    if (mode.value === 'item') {
      const by = new Map();
      for (const l of rows) {
        const k = `${l.warehouse_code}|${l.sku}`;
        const a = by.get(k) || { ...l, on_hand: 0, reserved: 0, available: 0, lots: 0, soonest: null };
        a.on_hand += l.on_hand; a.reserved += l.reserved; a.available += l.available; a.lots += 1;
        if (l.expires_on && (!a.soonest || l.expires_on < a.soonest)) a.soonest = l.expires_on;
        by.set(k, a);
      }
      tbl = table(['warehouse', 'item', 'sku', 'lots', { label: 'on_hand', cls: 'num' }, { label: 'reserved', cls: 'num' }, { label: 'available', cls: 'num' }, 'expires_on'],
        [...by.values()].map((a) => {
          const b = expiryBadge({ expires_on: a.soonest }, alertDaysBySku[a.sku]);
          return h('tr', { class: b.cls }, h('td', {}, a.warehouse_code), h('td', {}, nameOf(a, 'item_name')), h('td', {}, a.sku),
            h('td', { class: 'num' }, a.lots), h('td', { class: 'num' }, qty(a.on_hand)), h('td', { class: 'num' }, qty(a.reserved)),
            h('td', { class: 'num' }, qty(a.available)), h('td', {}, a.soonest || '', ' ', h('span', { class: `badge ${b.cls}` }, b.text)));
        }));
    } else {
      tbl = table(['warehouse', 'item', 'lot_code', 'expires_on', { label: 'on_hand', cls: 'num' }, { label: 'reserved', cls: 'num' }, { label: 'available', cls: 'num' }, 'status'],
        rows.map((l) => {
          const b = expiryBadge(l, alertDaysBySku[l.sku]);
          return h('tr', { class: b.cls, 'data-lot': l.lot_code },
            h('td', {}, l.warehouse_code), h('td', {}, nameOf(l, 'item_name'), h('br'), h('small', { class: 'muted' }, l.sku)),
            h('td', {}, lotCardButton(l)), h('td', {}, l.expires_on || '—', ' ', h('span', { class: `badge ${b.cls}` }, b.text)),
            h('td', { class: 'num' }, qty(l.on_hand)), h('td', { class: 'num' }, qty(l.reserved)), h('td', { class: 'num' }, qty(l.available)),
            h('td', {}, l.status === 'quarantined' ? h('span', { class: 'badge quarantined' }, t('quarantined')) : t('available_status')));
        }));
    }
    out.replaceChildren(tbl);
    if (cursor) {
      const more = h('button', { type: 'button', class: 'secondary' }, t('load_more'));
      more.addEventListener('click', () => busy(more, () => load(true)));
      out.append(h('p', {}, more));
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); busy(btn, () => load()); });
  // Switching between lot and item views re-groups what is loaded; summaries are fetched.
  let lastMode = mode.value;
  mode.addEventListener('change', () => {
    const wasSummary = lastMode.startsWith('summary:');
    lastMode = mode.value;
    if (mode.value.startsWith('summary:') || wasSummary) load(); else render();
  });
  await load();
}

/** The lot code as a button that opens the lot's stock card (every movement) in a dialog. */
function lotCardButton(l) {
  const b = h('button', { type: 'button', class: 'link', 'aria-haspopup': 'dialog' }, l.lot_code);
  b.addEventListener('click', () => busy(b, async () => {
    const dlg = h('dialog', { class: 'card lot-card', 'aria-labelledby': 'lot-card-h' });
    const close = h('button', { type: 'button', class: 'secondary' }, t('close'));
    close.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); b.focus(); });
    dlg.append(h('h2', { id: 'lot-card-h' }, `${nameOf(l, 'item_name')} · ${l.lot_code} · ${l.warehouse_code}`));
    try {
      const card = await get(`/lots/${l.id}/card`);
      dlg.append(table(['time', 'kind', { label: 'qty', cls: 'num' }, { label: 'reserved', cls: 'num' }, { label: 'on_hand', cls: 'num' }, 'reason', 'actor'],
        (card.movements || []).map((m) => h('tr', {}, h('td', {}, new Date(m.created_at).toLocaleString()), h('td', {}, m.kind),
          h('td', { class: 'num' }, qty(m.qty)), h('td', { class: 'num' }, qty(m.reserved_delta)), h('td', { class: 'num' }, qty(m.on_hand_after)),
          h('td', {}, [m.reason, m.note].filter(Boolean).join(' · ')), h('td', {}, m.actor)))));
    } catch (err) { showProblem(dlg, err, dlg.querySelector('h2').nextSibling); }
    dlg.append(h('p', {}, close));
    document.body.append(dlg);
    dlg.showModal();
    close.focus();
  }));
  return b;
}

// ---------------------------------------------------------------- expiry profile

export async function expiry(v) {
  const cats = await store.categories();
  const catName = Object.fromEntries(cats.map((c) => [c.code, nameOf(c)]));
  const wh = await warehousePicker(() => load(), { allOption: store.role() !== 'clerk' });
  const months = select([6, 12, 24].map((n) => ({ value: n, label: String(n) })), { name: 'months', value: 12 });
  months.value = '12';
  months.addEventListener('change', () => load());
  const out = h('div', { class: 'chart', id: 'expiry-chart' });
  const form = h('form', { class: 'card' }, h('div', { class: 'row' }, field('warehouse', wh, { pointer: 'warehouse' }), field('months_ahead', months)));
  v.append(h('h1', {}, t('expiry_title')), form, out);

  async function load() {
    out.replaceChildren(loading());
    try {
      const lots = await getAll('/lots', { warehouse: wh.value }, 20000);
      const n = Number(months.value);
      const start = new Date(`${today().slice(0, 7)}-01T00:00:00`);
      const keys = [];
      for (let i = 0; i < n; i += 1) {
        const d = new Date(start.getFullYear(), start.getMonth() + i, 1);
        keys.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`);
      }
      const expiredKey = t('expired');
      const cols = [expiredKey, ...keys];
      const byCat = new Map();
      for (const l of lots) {
        if (!l.expires_on || !l.on_hand) continue;
        const m = l.expires_on.slice(0, 7);
        const idx = l.expires_on < today() ? 0 : cols.indexOf(m);
        if (idx < 0) continue;
        const top = (l.category_code || '').split('.')[0] || l.category_code;
        const row = byCat.get(top) || new Array(cols.length).fill(0);
        row[idx] += l.on_hand;
        byCat.set(top, row);
      }
      const series = [...byCat.entries()].sort().map(([code, values]) => ({ key: code, label: catName[code] || code, values }));
      if (!series.length) { out.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
      out.replaceChildren(
        stackedBars(cols, series, { title: t('expiry_title') }), legend(series),
        h('h2', {}, t('chart_table')),
        table(['category', ...cols.map((c) => ({ label: c, cls: 'num' })), { label: 'total', cls: 'num' }],
          series.map((s) => h('tr', {}, h('th', { scope: 'row' }, s.label), s.values.map((x) => h('td', { class: 'num' }, qty(x))),
            h('td', { class: 'num' }, qty(s.values.reduce((a, b) => a + b, 0)))))));
    } catch (e) { out.replaceChildren(); showProblem(out, e); }
  }
  await load();
}

// ---------------------------------------------------------------- alerts

export async function alerts(v) {
  const wh = await warehousePicker(() => load(), { allOption: store.role() !== 'clerk' });
  const out = h('div', { id: 'alerts-result' });
  v.append(h('h1', {}, t('alerts_title')), h('form', { class: 'card' }, h('div', { class: 'row' }, field('warehouse', wh, { pointer: 'warehouse' }))), out);
  async function load() {
    out.replaceChildren(loading());
    try {
      const [res, itemsList] = await Promise.all([get('/alerts', { warehouse: wh.value || undefined }), store.items()]);
      const bySku = Object.fromEntries(itemsList.map((i) => [i.sku, i]));
      const list = (Array.isArray(res) ? res : res.alerts || res.items || []).map((a) => ({ ...a, ...(bySku[a.sku] ? { name_zh: bySku[a.sku].name_zh, name_en: bySku[a.sku].name_en } : {}) }));
      if (!list.length) { out.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
      out.replaceChildren(table(['kind', 'warehouse', 'item', 'lot_code', 'expires_on', { label: 'qty', cls: 'num' }, 'detail'],
        list.map((a) => {
          const cls = /expired/.test(a.kind) ? 'expired' : /expir/.test(a.kind) ? 'soon' : 'none';
          // A clerk can go straight from expired stock to writing it off.
          const writeOff = a.kind === 'expired' && a.lot_id && store.role() === 'clerk'
            ? h('a', { href: `#/adjust?lot=${a.lot_id}`, class: 'write-off' }, t('write_off')) : null;
          return h('tr', { class: cls }, h('td', {}, h('span', { class: `badge ${cls}` }, a.kind)), h('td', {}, a.warehouse_code || a.warehouse || ''),
            h('td', {}, nameOf(a) || a.sku || ''), h('td', {}, a.lot_code || ''), h('td', {}, a.expires_on || ''),
            h('td', { class: 'num' }, qty(a.qty ?? a.on_hand ?? a.available)), h('td', {}, a.min_qty !== undefined && a.min_qty !== null ? `< ${qty(a.min_qty)} (${t('shortfall')} ${qty(a.shortfall)})` : (a.detail || ''), writeOff));
        })));
    } catch (e) { out.replaceChildren(); showProblem(out, e); }
  }
  await load();
}

// ---------------------------------------------------------------- receive

export async function receive(v) {
  const itemsList = await store.items();
  const wh = await warehousePicker();
  const scan = input({ name: 'gs1', class: 'scan', id: 'scan', autocomplete: 'off', spellcheck: 'false' });
  const sku = select([{ value: '', label: '—' }, ...store.itemOptions(itemsList)], { name: 'sku', id: 'rc-sku' });
  const lotCode = input({ name: 'lot_code', id: 'rc-lot' });
  const exp = input({ name: 'expires_on', id: 'rc-exp', type: 'date' });
  const prod = input({ name: 'production_date', id: 'rc-prod', type: 'date' });
  const q = input({ name: 'qty', id: 'rc-qty', type: 'number', min: 1, inputmode: 'numeric' });
  const src = select(['supplier', 'donor', 'transfer'].map((x) => ({ value: x, label: t(x) })), { name: 'source', id: 'rc-source' });
  const donor = input({ name: 'donor', id: 'rc-donor' });
  const note = input({ name: 'note', id: 'rc-note' });
  const quar = h('input', { type: 'checkbox', name: 'quarantine', id: 'rc-quar' });
  const btn = h('button', { type: 'submit', id: 'rc-submit' }, t('confirm_receipt'));
  const decoded = h('div', { id: 'rc-decoded', 'aria-live': 'polite' });
  let lastScan = null;

  const form = h('form', { class: 'card', id: 'receive-form' },
    h('div', { class: 'row' }, field('warehouse', wh, { pointer: '/warehouse' })),
    h('div', { class: 'row' }, field('scan', scan, { pointer: '/lines/0/gs1' })), decoded,
    h('div', { class: 'row' },
      field('item', sku, { pointer: '/lines/0/sku' }), field('lot_code', lotCode, { pointer: '/lines/0/lot_code' }),
      field('expires_on', exp, { pointer: '/lines/0/expires_on' }), field('production_date', prod, { pointer: '/lines/0/production_date' })),
    h('div', { class: 'row' },
      field('qty', q, { pointer: '/lines/0/qty' }), field('source', src, { pointer: '/lines/0/source' }),
      field('donor_name', donor, { pointer: '/lines/0/donor' }), field('note', note, { pointer: '/lines/0/note' }),
      field('quarantine_flag', quar, { pointer: '/lines/0/quarantine' })),
    h('p', {}, btn));
  v.append(h('h1', {}, t('receive_title')), form);

  // A keyboard-wedge scanner types the code and presses Enter: decode, do not submit.
  scan.addEventListener('keydown', async (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    const raw = scan.value;
    if (!raw.trim()) return;
    decoded.replaceChildren(loading());
    try {
      const d = await post('/scans/decode', { scan: raw });
      lastScan = raw;
      clearProblems(form);
      if (d.item?.sku) sku.value = d.item.sku;
      if (d.lot_code) lotCode.value = d.lot_code;
      if (d.expires_on) exp.value = d.expires_on;
      if (d.production_date) prod.value = d.production_date;
      if (d.count) q.value = d.count;
      decoded.replaceChildren(h('div', { class: 'form-ok', role: 'status' }, t('decoded'), ' ',
        h('dl', { class: 'kv' }, h('dt', {}, t('gtin')), h('dd', {}, d.gtin || '—'),
          h('dt', {}, t('item')), h('dd', {}, d.item ? nameOf(d.item) : '—'))));
      q.focus();
    } catch (err) {
      lastScan = null;
      decoded.replaceChildren();
      showProblem(form, err);
      // Scan errors name `/scan`; show them by the scan field.
      if (!form.querySelector('.field-error')) {
        const p = h('p', { class: 'field-error', role: 'alert' }, err.problem?.detail || err.message);
        scan.closest('.field').append(p);
      }
      scan.setAttribute('aria-invalid', 'true');
      scan.select();
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const line = {
      sku: sku.value || undefined, lot_code: lotCode.value || undefined, expires_on: exp.value || undefined,
      production_date: prod.value || undefined, qty: q.value === '' ? undefined : Number(q.value), source: src.value,
      donor: donor.value || undefined, note: note.value || undefined, quarantine: quar.checked,
    };
    if (lastScan && scan.value === lastScan) line.gs1 = lastScan;
    await busy(btn, async () => {
      try {
        const res = await post(`/warehouses/${encodeURIComponent(wh.value)}/receipts`, { lines: [line] });
        const r = res.lines?.[0] || line;
        showOk(form, t('received', { qty: r.qty, sku: r.sku, lot: r.lot_code }));
        for (const el of [scan, lotCode, exp, prod, q, note]) el.value = '';
        lastScan = null; decoded.replaceChildren(); quar.checked = false;
        scan.focus();
      } catch (err) { showProblem(form, err); }
    });
  });
  scan.focus();
}

// ---------------------------------------------------------------- issue

export async function issue(v) {
  const itemsList = await store.items();
  const wh = await warehousePicker();
  const sku = select(store.itemOptions(itemsList), { name: 'sku', id: 'is-sku' });
  const q = input({ name: 'qty', id: 'is-qty', type: 'number', min: 1 });
  const reason = input({ name: 'reason', id: 'is-reason', value: 'local distribution' });
  const sug = h('button', { type: 'button', class: 'secondary', id: 'is-suggest' }, t('suggest'));
  const go = h('button', { type: 'submit', id: 'is-submit', disabled: true }, t('issue'));
  const out = h('div', { id: 'is-picks' });
  let picks = [];
  const form = h('form', { class: 'card', id: 'issue-form' },
    h('div', { class: 'row' }, field('warehouse', wh, { pointer: 'code' }), field('item', sku, { pointer: 'sku' }),
      field('qty', q, { pointer: 'qty' }), field('reason', reason, { pointer: '/lines/0/reason' }), sug), out, h('p', {}, go));
  v.append(h('h1', {}, t('issue_title')), form);

  sug.addEventListener('click', () => busy(sug, async () => {
    clearProblems(form);
    try {
      const res = await get(`/warehouses/${encodeURIComponent(wh.value)}/pick-suggestion`, { sku: sku.value, qty: q.value });
      const lots = await getAll('/lots', { warehouse: wh.value, sku: sku.value }, 2000);
      const byId = Object.fromEntries(lots.map((l) => [l.id, l]));
      picks = res.picks || [];
      out.replaceChildren(h('h2', {}, t('suggestion')), table(['lot_code', 'expires_on', { label: 'available', cls: 'num' }, { label: 'qty', cls: 'num' }],
        picks.map((p) => {
          const l = byId[p.lot_id] || {};
          const b = expiryBadge(l);
          return h('tr', {}, h('td', {}, l.lot_code || p.lot_id), h('td', {}, l.expires_on || '—', ' ', h('span', { class: `badge ${b.cls}` }, b.text)),
            h('td', { class: 'num' }, qty(l.available)), h('td', { class: 'num' }, qty(p.qty)));
        })), res.shortfall ? h('p', { class: 'form-error' }, `${t('shortfall')}: ${qty(res.shortfall)}`) : null);
      go.disabled = !picks.length;
    } catch (err) { showProblem(form, err); }
  }));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(go, async () => {
      try {
        await post(`/warehouses/${encodeURIComponent(wh.value)}/issues`, { lines: picks.map((p) => ({ lot_id: p.lot_id, qty: p.qty, reason: reason.value })) });
        showOk(form, t('issued'));
        picks = []; out.replaceChildren(); go.disabled = true;
      } catch (err) { showProblem(form, err); }
    });
  });
}

// ---------------------------------------------------------------- transfers

export async function transfers(v) {
  const all = await store.warehouses();
  const from = await warehousePicker(() => loadLots(), { id: 'tr-from' });
  const to = select(store.warehouseOptions(all), { name: 'to', id: 'tr-to' });
  const lot = select([], { name: 'lot_id', id: 'tr-lot' });
  const q = input({ name: 'qty', id: 'tr-qty', type: 'number', min: 1 });
  const note = input({ name: 'note', id: 'tr-note' });
  const btn = h('button', { type: 'submit', id: 'tr-submit' }, t('create_transfer'));
  const form = h('form', { class: 'card', id: 'transfer-form' }, h('div', { class: 'row' },
    field('from', from, { pointer: '/from' }), field('to', to, { pointer: '/to' }), field('lot', lot, { pointer: '/lines/0/lot_id' }),
    field('qty', q, { pointer: '/lines/0/qty' }), field('note', note, { pointer: '/note' }), btn));
  const list = h('div', { id: 'tr-list' });
  v.append(h('h1', {}, t('transfers_title')), form, h('h2', {}, t('in_transit')), list);

  async function loadLots() {
    const lots = await getAll('/lots', { warehouse: from.value, status: 'available' }, 2000);
    lot.replaceChildren(...lots.filter((l) => l.available > 0).map((l) => h('option', { value: l.id },
      `${nameOf(l, 'item_name')} · ${l.lot_code} · ${l.expires_on || '—'} · ${qty(l.available)}`)));
  }
  async function loadList() {
    list.replaceChildren(loading());
    try {
      const mine = new Set((await store.myWarehouses()).map((w) => w.code));
      const res = await getAll('/transfers', { status: 'in_transit' }, 500);
      const rows = res.filter((x) => mine.has(x.from) || mine.has(x.to) || mine.has(x.from_code) || mine.has(x.to_code));
      if (!rows.length) { list.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
      list.replaceChildren(table(['from', 'to', 'lines', 'status', ''], rows.map((tr) => {
        // What arrived of each line (prefilled with what was sent) and, when less did,
        // why: the service requires a reason for every short line.
        const lines = (tr.lines || []).map((l, i) => ({
          l,
          got: input({ type: 'number', class: 'num', min: 0, max: l.qty, step: 1, value: l.qty, id: `tr-recv-${tr.id}-${i}`, 'aria-label': `${t('received_qty')} ${l.lot_code || ''}` }),
          why: select([{ value: '', label: '—' }, { value: 'short', label: t('short') }, { value: 'damaged', label: t('damaged') }, { value: 'other', label: t('other_reason') }],
            { id: `tr-why-${tr.id}-${i}`, 'aria-label': t('discrepancy') }),
        }));
        const note = input({ id: `tr-rnote-${tr.id}`, maxlength: 1000, placeholder: t('note'), 'aria-label': t('note') });
        const rb = h('button', { type: 'button', class: 'secondary' }, t('receive'));
        const cb = h('button', { type: 'button', class: 'danger' }, t('cancel'));
        const cell = h('td', {}, note, ' ', rb, ' ', cb);
        rb.addEventListener('click', () => busy(rb, async () => {
          try {
            await post(`/transfers/${tr.id}/receive`, {
              lines: lines.map(({ l, got, why }) => ({ lot_id: l.lot_id, received_qty: got.value === '' ? null : Number(got.value), discrepancy_reason: why.value || null })),
              note: note.value.trim() || null,
            });
            loadList();
          } catch (err) { showProblem(cell, err); }
        }));
        cb.addEventListener('click', () => busy(cb, async () => {
          try { await post(`/transfers/${tr.id}/cancel`, {}); loadList(); } catch (err) { showProblem(cell, err); }
        }));
        return h('tr', {}, h('td', {}, tr.from_code || tr.from), h('td', {}, tr.to_code || tr.to),
          h('td', {}, lines.map(({ l, got, why }) => h('div', {}, `${l.sku || ''} ${l.lot_code || l.lot_id} × ${qty(l.qty)} · ${t('received_qty')} `, got, ' ', why))),
          h('td', {}, tr.status), cell);
      })));
    } catch (err) { list.replaceChildren(); showProblem(list, err); }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      try {
        await post('/transfers', { from: from.value, to: to.value, lines: [{ lot_id: lot.value, qty: Number(q.value) }], note: note.value || undefined });
        showOk(form, t('transfer_sent'));
        await Promise.all([loadLots(), loadList()]);
      } catch (err) { showProblem(form, err); }
    });
  });
  await Promise.all([loadLots().catch((e) => showProblem(form, e)), loadList()]);
}

// ---------------------------------------------------------------- quarantine

export async function quarantine(v) {
  const wh = await warehousePicker(() => load());
  const reason = input({ name: 'reason', id: 'qr-reason' });
  const form = h('form', { class: 'card', id: 'quarantine-form' }, h('div', { class: 'row' },
    field('warehouse', wh, { pointer: 'warehouse' }), field('reason', reason, { pointer: '/reason' })));
  const out = h('div', { id: 'qr-list' });
  v.append(h('h1', {}, t('quarantine_title')), form, out);
  async function load() {
    out.replaceChildren(loading());
    try {
      const lots = await getAll('/lots', { warehouse: wh.value }, 3000);
      out.replaceChildren(table(['item', 'lot_code', 'expires_on', { label: 'on_hand', cls: 'num' }, 'status', ''], lots.map((l) => {
        const q = l.status === 'quarantined';
        const b = h('button', { type: 'button', class: q ? 'secondary' : 'danger' }, t(q ? 'release' : 'quarantine'));
        const badge = expiryBadge(l);
        b.addEventListener('click', () => busy(b, async () => {
          try { await post(`/lots/${l.id}/${q ? 'release' : 'quarantine'}`, { reason: reason.value }); showOk(form, t('done')); load(); } catch (err) { showProblem(form, err); }
        }));
        return h('tr', { class: badge.cls, 'data-lot-id': l.id }, h('td', {}, nameOf(l, 'item_name')), h('td', {}, l.lot_code),
          h('td', {}, l.expires_on || '—', ' ', h('span', { class: `badge ${badge.cls}` }, badge.text)), h('td', { class: 'num' }, qty(l.on_hand)),
          h('td', {}, q ? h('span', { class: 'badge quarantined' }, t('quarantined')) : t('available_status')), h('td', {}, b));
      })));
    } catch (err) { out.replaceChildren(); showProblem(form, err); }
  }
  await load();
}

// ---------------------------------------------------------------- adjustments

/** Adjust or write off stock of one lot: damaged, lost, found, expired, count correction. */
export async function adjust(v) {
  const wh = await warehousePicker(() => load());
  const lot = select([], { name: 'lot_id', id: 'aj-lot' });
  const dir = select([{ value: '-1', label: t('decrease') }, { value: '1', label: t('increase') }], { id: 'aj-dir' });
  const q = input({ name: 'qty', id: 'aj-qty', type: 'number', min: 1 });
  const reason = select(['damaged', 'lost', 'found', 'expired', 'count_correction', 'other'].map((r) => ({ value: r, label: tv('ar', r) })), { id: 'aj-reason' });
  const note = input({ name: 'note', id: 'aj-note', maxlength: 1000 });
  const btn = h('button', { type: 'submit', id: 'aj-submit' }, t('adjust'));
  const form = h('form', { class: 'card', id: 'adjust-form' }, h('div', { class: 'row' },
    field('warehouse', wh, { pointer: 'code' }), field('lot', lot, { pointer: '/lines/0/lot_id' }), field('change', dir),
    field('qty', q, { pointer: '/lines/0/qty' }), field('reason', reason, { pointer: '/lines/0/reason' }),
    field('note', note, { pointer: '/lines/0/note' }), btn));
  v.append(h('h1', {}, t('adjust_title')), form);
  let lots = [];
  // Expired lots first: writing them off is the most common adjustment. Choosing one
  // proposes its whole on-hand as an expiry write-off.
  async function load() {
    lots = (await getAll('/lots', { warehouse: wh.value }, 3000)).filter((l) => l.on_hand > 0 || l.status === 'quarantined');
    lots.sort((a, b) => (expiryBadge(a).cls === 'expired' ? 0 : 1) - (expiryBadge(b).cls === 'expired' ? 0 : 1));
    lot.replaceChildren(...lots.map((l) => h('option', { value: l.id },
      `${nameOf(l, 'item_name')} · ${l.lot_code} · ${l.expires_on || '—'} (${expiryBadge(l).text}) · ${qty(l.on_hand)}${l.reserved ? ` (${t('reserved')} ${qty(l.reserved)})` : ''}`)));
    if (wanted && lots.some((l) => l.id === wanted)) lot.value = wanted;
    propose();
  }
  // `#/adjust?lot=<id>` (the alerts' write-off link) opens with that lot chosen, in its
  // warehouse.
  const wanted = new URLSearchParams(location.hash.split('?')[1] || '').get('lot');
  if (wanted) {
    const target = await get(`/lots/${encodeURIComponent(wanted)}`).catch(() => null);
    const code = target?.warehouse_code;
    if (code && [...wh.options].some((o) => o.value === code)) wh.value = code;
  }
  function propose() {
    const l = lots.find((x) => x.id === lot.value);
    if (l && expiryBadge(l).cls === 'expired') {
      dir.value = '-1'; reason.value = 'expired'; q.value = String(l.on_hand - (l.reserved || 0));
    }
  }
  lot.addEventListener('change', propose);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      try {
        const res = await post(`/warehouses/${encodeURIComponent(wh.value)}/adjustments`, {
          lines: [{ lot_id: lot.value, qty: Number(dir.value) * Number(q.value), reason: reason.value, note: note.value.trim() || null }],
        });
        const line = res.lines?.[0];
        showOk(form, t('adjusted', { lot: line?.lot_code || '', on_hand: qty(line?.on_hand) }));
        note.value = '';
        await load();
      } catch (err) { showProblem(form, err); }
    });
  });
  await load().catch((e) => showProblem(form, e));
}

// ---------------------------------------------------------------- reserve levels

/** Admin: each warehouse's reserve level per item, the floor ordinary allocation leaves. */
export async function reserveLevels(v) {
  const [all, itemsList] = await Promise.all([store.warehouses(), store.items()]);
  const wh = select(store.warehouseOptions(all), { id: 'rl-wh', name: 'warehouse' });
  const save = h('button', { type: 'submit', id: 'rl-save' }, t('saved_levels_button'));
  const rows = h('div', { id: 'rl-table' });
  const form = h('form', { class: 'card', id: 'reserve-form' }, h('div', { class: 'row' }, field('warehouse', wh, { pointer: 'code' })), rows, h('p', {}, save));
  v.append(h('h1', {}, t('reserves_title')), h('p', { class: 'muted' }, t('reserves_help')), form);
  let inputs = [];
  async function load() {
    rows.replaceChildren(loading());
    try {
      const levels = await get(`/warehouses/${encodeURIComponent(wh.value)}/reserve-levels`);
      const by = Object.fromEntries((Array.isArray(levels) ? levels : []).map((l) => [l.sku, l.min_qty]));
      inputs = itemsList.map((i, n) => ({
        sku: i.sku, was: by[i.sku] || 0,
        el: input({ type: 'number', class: 'num', min: 0, step: 1, value: by[i.sku] || 0, id: `rl-${i.sku}`, 'aria-label': `${t('min_qty')} ${nameOf(i)}` }),
      }));
      rows.replaceChildren(table(['item', 'sku', { label: 'min_qty', cls: 'num' }],
        itemsList.map((i, n) => h('tr', { class: by[i.sku] ? '' : 'muted' }, h('td', {}, nameOf(i)), h('td', {}, i.sku), h('td', { class: 'num' }, inputs[n].el)))));
    } catch (err) { rows.replaceChildren(); showProblem(form, err); }
  }
  wh.addEventListener('change', load);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      // Only what changed: an unchanged level is not rewritten (nor audited).
      const changed = inputs.filter((x) => x.el.value !== String(x.was))
        .map((x) => ({ sku: x.sku, min_qty: x.el.value === '' ? null : Number(x.el.value) }));
      if (!changed.length) { showOk(form, t('nothing_changed')); return; }
      try {
        await put(`/warehouses/${encodeURIComponent(wh.value)}/reserve-levels`, changed);
        showOk(form, t('saved_levels', { n: changed.length }));
        await load();
      } catch (err) { showProblem(form, err); }
    });
  });
  await load();
}

// ---------------------------------------------------------------- counts

export async function counts(v) {
  const wh = await warehousePicker();
  const skus = input({ name: 'skus', id: 'ct-skus' });
  const btn = h('button', { type: 'submit', id: 'ct-open' }, t('open_count'));
  const form = h('form', { class: 'card', id: 'count-form' }, h('div', { class: 'row' },
    field('warehouse', wh, { pointer: 'code' }), field('skus_optional', skus, { pointer: '/skus' }), btn));
  const out = h('div', { id: 'ct-sheet' });
  v.append(h('h1', {}, t('counts_title')), form, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      try {
        const list = skus.value.split(',').map((s) => s.trim()).filter(Boolean);
        const c = await post(`/warehouses/${encodeURIComponent(wh.value)}/counts`, list.length ? { skus: list } : {});
        sheet(c);
      } catch (err) { showProblem(form, err); }
    });
  });
  function sheet(c) {
    const inputs = [];
    const lines = c.lines || [];
    const save = h('button', { type: 'button', id: 'ct-save' }, t('save_lines'));
    const postBtn = h('button', { type: 'button', class: 'secondary', id: 'ct-post' }, t('post_count'));
    const reason = input({ name: 'reason', id: 'ct-reason' });
    const cancelBtn = h('button', { type: 'button', class: 'secondary', id: 'ct-cancel' }, t('cancel_count'));
    const box = h('div', { class: 'card' });
    box.append(h('p', {}, t('count_open', { id: c.id })), table(['item', 'lot_code', 'expires_on', { label: 'counted', cls: 'num' }], lines.map((l, i) => {
      const inp = input({ type: 'number', min: 0, id: `ct-line-${i}`, 'aria-label': `${t('counted')} ${l.lot_code || ''}` });
      inputs.push([l, inp]);
      return h('tr', {}, h('td', {}, nameOf(l, 'item_name') || l.sku), h('td', {}, l.lot_code), h('td', {}, l.expires_on || '—'), h('td', { class: 'num' }, inp));
    })), h('p', {}, save, ' ', postBtn),
    h('div', { class: 'row' }, field('cancel_reason', reason, { pointer: '/reason' }), cancelBtn));
    // The API takes a bare array of the lines counted so far; point each input at its
    // place in that array, so that errors land beside it.
    const body = () => {
      const filled = inputs.filter(([, i]) => i.value !== '');
      inputs.forEach(([, i]) => { i.dataset.pointer = ''; });
      filled.forEach(([, i], k) => { i.dataset.pointer = `/${k}/counted_qty`; });
      return filled.map(([l, i]) => ({ lot_id: l.lot_id, counted_qty: Number(i.value) }));
    };
    save.addEventListener('click', () => busy(save, async () => {
      try { await put(`/counts/${c.id}/lines`, body()); showOk(box, t('saved')); } catch (err) { showProblem(box, err); }
    }));
    postBtn.addEventListener('click', () => busy(postBtn, async () => {
      try {
        const lines = body();
        if (lines.length) await put(`/counts/${c.id}/lines`, lines);
        await post(`/counts/${c.id}/post`, {});
        showOk(box, t('posted'));
      } catch (err) { showProblem(box, err); }
    }));
    // A count that will not be finished would hold its lots; cancelling books nothing.
    cancelBtn.addEventListener('click', () => busy(cancelBtn, async () => {
      try {
        await post(`/counts/${c.id}/cancel`, { reason: reason.value });
        showOk(box, t('count_cancelled'));
      } catch (err) { showProblem(box, err); }
    }));
    out.replaceChildren(box);
  }
}

export { lang };
