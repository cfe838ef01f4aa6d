// Auditor screens: audit events with filters, chain verification, export downloads with
// every option, and stock as of a chosen instant.
import { api, get, getAll } from './api.js';
import { h, field, input, select, showProblem, showOk, busy, table, loading, qty, clearProblems } from './dom.js';
import { t, nameOf } from './i18n.js';
import * as store from './store.js';

/** `datetime-local` value → RFC 3339 (UTC), or undefined. */
const rfc3339 = (v) => (v ? new Date(v).toISOString() : undefined);

export async function events(v) {
  const from = input({ type: 'datetime-local', id: 'ev-from', name: 'from' });
  const to = input({ type: 'datetime-local', id: 'ev-to', name: 'to' });
  const actor = input({ id: 'ev-actor', name: 'actor' });
  const entity = input({ id: 'ev-entity', name: 'entity', placeholder: 'lot | lot:<id>' });
  const action = input({ id: 'ev-action', name: 'action', placeholder: 'stock.' });
  const btn = h('button', { type: 'submit', id: 'ev-submit' }, t('filter'));
  const verifyBtn = h('button', { type: 'button', id: 'verify', class: 'secondary' }, t('verify'));
  const verifyOut = h('div', { id: 'verify-result', 'aria-live': 'polite' });
  const form = h('form', { class: 'card', id: 'events-form' }, h('div', { class: 'row' },
    field('from', from, { pointer: 'from' }), field('to', to, { pointer: 'to' }), field('actor', actor, { pointer: 'actor' }),
    field('entity', entity, { pointer: 'entity' }), field('action', action, { pointer: 'action' }), btn));
  const out = h('div', { id: 'events-result' });
  v.append(h('h1', {}, t('audit_title')), h('div', { class: 'card' }, verifyBtn, verifyOut), form, out);

  verifyBtn.addEventListener('click', () => busy(verifyBtn, async () => {
    verifyOut.replaceChildren(loading());
    try {
      const r = await get('/audit/verify');
      verifyOut.replaceChildren(h('p', { role: 'status' }, h('span', { class: r.ok ? 'pill-ok' : 'pill-bad', id: 'verify-ok' }, r.ok ? `✔ ${t('chain_ok')}` : `✘ ${t('chain_broken')}`)),
        h('dl', { class: 'kv' }, h('dt', {}, t('events_checked')), h('dd', { id: 'verify-count' }, qty(r.events_checked)),
          r.movements_checked !== undefined ? [h('dt', {}, t('movements')), h('dd', {}, qty(r.movements_checked))] : null,
          r.ok ? null : [h('dt', {}, t('first_broken_seq')), h('dd', {}, r.first_broken_seq ?? r.first_broken_movement_id ?? ''),
            h('dt', {}, t('reason')), h('dd', {}, r.reason || '')]));
    } catch (err) { verifyOut.replaceChildren(); showProblem(verifyOut, err); }
  }));

  let cursor = null;
  async function load(more) {
    if (!more) { out.replaceChildren(loading()); cursor = null; }
    clearProblems(form);
    try {
      const page = await get('/audit/events', { from: rfc3339(from.value), to: rfc3339(to.value), actor: actor.value, entity: entity.value, action: action.value, limit: 100, cursor: more ? cursor : undefined });
      cursor = page.next_cursor;
      const rows = page.items.map((e) => h('tr', {}, h('td', { class: 'num' }, e.seq), h('td', {}, new Date(e.at).toLocaleString()), h('td', {}, e.actor_username),
        h('td', {}, e.action), h('td', {}, `${e.entity_kind}:${e.entity_id}`), h('td', {}, h('small', {}, e.request_id || '')),
        h('td', {}, e.before || e.after ? h('details', {}, h('summary', {}, t('detail')),
          h('pre', { class: 'json' }, JSON.stringify({ before: e.before ?? null, after: e.after ?? null }, null, 1))) : '')));
      if (!more) out.replaceChildren(table([{ label: 'seq', cls: 'num' }, 'time', 'actor', 'action', 'entity', 'request', 'detail'], rows, { cls: 'events' }));
      else out.querySelector('tbody').append(...rows);
      out.querySelector('.more')?.remove();
      if (cursor) {
        const m = h('button', { type: 'button', class: 'secondary more' }, t('load_more'));
        m.addEventListener('click', () => busy(m, () => load(true)));
        out.append(m);
      }
    } catch (err) { out.replaceChildren(); showProblem(form, err); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); busy(btn, () => load(false)); });
  await load(false);
}

const KINDS = {
  movements: { label: 'movements', params: ['from', 'to', 'warehouse', 'sku'] },
  'audit-events': { label: 'audit_events', params: ['from', 'to', 'actor', 'entity', 'action'] },
  'stock-as-of': { label: 'stock_as_of', params: ['at'] },
  requests: { label: 'requests_export', params: ['incident'] },
};

/** Fetches an export with the bearer token and saves it under the server's file name. */
export async function download(path, query) {
  const res = await api('GET', path, { query, raw: true });
  const blob = await res.blob();
  const cd = res.headers.get('content-disposition') || '';
  const name = (/filename="?([^";]+)"?/.exec(cd) || [])[1] || `${path.split('/').pop()}.${query.format || 'csv'}`;
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
  return { name, bytes: blob.size, headers: {
    seqFrom: res.headers.get('x-audit-seq-from'), seqTo: res.headers.get('x-audit-seq-to'), lastHash: res.headers.get('x-audit-last-hash'),
  } };
}

export async function exportsScreen(v) {
  const whs = await store.warehouses();
  const itemsList = await store.items();
  const kind = select(Object.entries(KINDS).map(([k, x]) => ({ value: k, label: t(x.label) })), { id: 'ex-kind', name: 'kind' });
  const format = select(['csv', 'jsonl', 'xlsx'].map((f) => ({ value: f, label: f })), { id: 'ex-format', name: 'format' });
  const bom = h('input', { type: 'checkbox', id: 'ex-bom', name: 'bom' });
  const hxl = h('input', { type: 'checkbox', id: 'ex-hxl', name: 'hxl' });
  const inputs = {
    from: field('from', input({ type: 'datetime-local', id: 'ex-from', name: 'from' }), { pointer: 'from' }),
    to: field('to', input({ type: 'datetime-local', id: 'ex-to', name: 'to' }), { pointer: 'to' }),
    warehouse: field('warehouse', select([{ value: '', label: t('all') }, ...store.warehouseOptions(whs)], { id: 'ex-warehouse', name: 'warehouse' }), { pointer: 'warehouse' }),
    sku: field('item', select([{ value: '', label: t('all') }, ...store.itemOptions(itemsList)], { id: 'ex-sku', name: 'sku' }), { pointer: 'sku' }),
    actor: field('actor', input({ id: 'ex-actor', name: 'actor' }), { pointer: 'actor' }),
    entity: field('entity', input({ id: 'ex-entity', name: 'entity' }), { pointer: 'entity' }),
    action: field('action', input({ id: 'ex-action', name: 'action' }), { pointer: 'action' }),
    at: field('at', input({ type: 'datetime-local', id: 'ex-at', name: 'at' }), { pointer: 'at' }),
    incident: field('incident', input({ id: 'ex-incident', name: 'incident' }), { pointer: 'incident' }),
  };
  const btn = h('button', { type: 'submit', id: 'ex-submit' }, t('download'));
  const params = h('div', { class: 'row' });
  const form = h('form', { class: 'card', id: 'export-form' },
    h('div', { class: 'row' }, field('export_kind', kind), field('format', format, { pointer: 'format' }), field('bom', bom, { pointer: 'bom' }), field('hxl', hxl, { pointer: 'hxl' })),
    params, h('p', {}, btn));
  const result = h('div', { id: 'ex-result', 'aria-live': 'polite' });
  v.append(h('h1', {}, t('exports_title')), form, result);
  const showParams = () => {
    params.replaceChildren(...KINDS[kind.value].params.map((p) => inputs[p]));
    bom.disabled = format.value !== 'csv';
  };
  kind.addEventListener('change', showParams);
  format.addEventListener('change', showParams);
  showParams();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      clearProblems(form);
      result.replaceChildren(loading());
      const q = { format: format.value };
      if (bom.checked && format.value === 'csv') q.bom = true;
      if (hxl.checked) q.hxl = true;
      for (const p of KINDS[kind.value].params) {
        const el = inputs[p].querySelector('input, select');
        if (!el.value) continue;
        q[p] = el.type === 'datetime-local' ? rfc3339(el.value) : el.value;
      }
      try {
        const r = await download(`/exports/${kind.value}`, q);
        result.replaceChildren();
        showOk(result, t('downloaded', { name: r.name, bytes: r.bytes }));
        if (r.headers.seqTo) result.append(h('dl', { class: 'kv' }, h('dt', {}, t('seq')), h('dd', {}, `${r.headers.seqFrom}–${r.headers.seqTo}`),
          h('dt', {}, 'hash'), h('dd', {}, h('code', { class: 'hash' }, r.headers.lastHash || ''))));
      } catch (err) { result.replaceChildren(); showProblem(form, err); }
    });
  });
}

export async function asOf(v) {
  const at = input({ type: 'datetime-local', id: 'asof-at', name: 'at', step: 0.001 });
  // Now, to the millisecond: a value rounded down to the second (or minute) would miss
  // the movements made earlier in that second, such as a receipt booked just before
  // the page opened.
  const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000);
  at.value = now.toISOString().slice(0, 23);
  const wh = select([{ value: '', label: t('all') }, ...store.warehouseOptions(await store.warehouses())], { id: 'asof-wh', name: 'warehouse' });
  const btn = h('button', { type: 'submit', id: 'asof-submit' }, t('show'));
  const form = h('form', { class: 'card', id: 'asof-form' }, h('div', { class: 'row' }, field('at', at, { pointer: 'at' }), field('warehouse', wh), btn));
  const out = h('div', { id: 'asof-result' });
  v.append(h('h1', {}, t('asof_title')), form, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      clearProblems(form);
      out.replaceChildren(loading());
      try {
        const res = await api('GET', '/exports/stock-as-of', { query: { at: rfc3339(at.value), format: 'jsonl' }, raw: true });
        const text = await res.text();
        const rows = text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => !r.manifest && !r._manifest && r.kind !== 'manifest' && (r.lot_id || r.lot_code));
        const shown = rows.filter((r) => !wh.value || (r.warehouse_code || r.warehouse) === wh.value);
        const byItem = Object.fromEntries((await store.items()).map((i) => [i.sku, i]));
        out.replaceChildren(h('p', { class: 'muted', id: 'asof-count' }, t('rows', { n: shown.length })),
          table(['warehouse', 'item', 'lot_code', 'expires_on', { label: 'on_hand', cls: 'num' }, { label: 'reserved', cls: 'num' }],
            shown.slice(0, 1000).map((r) => h('tr', {}, h('td', {}, r.warehouse_code || r.warehouse), h('td', {}, byItem[r.sku] ? nameOf(byItem[r.sku]) : r.sku),
              h('td', {}, r.lot_code), h('td', {}, r.expires_on || '—'), h('td', { class: 'num' }, qty(r.on_hand)), h('td', { class: 'num' }, qty(r.reserved))))));
      } catch (err) { out.replaceChildren(); showProblem(form, err); }
    });
  });
}

/** Ledger movements with filters and a cursor. */
export async function movements(v) {
  const whs = await store.warehouses();
  const itemsList = await store.items();
  const wh = select([{ value: '', label: t('all') }, ...store.warehouseOptions(whs)], { id: 'mv-warehouse', name: 'warehouse' });
  const sku = select([{ value: '', label: t('all') }, ...store.itemOptions(itemsList)], { id: 'mv-sku', name: 'sku' });
  const kind = select(['', 'receipt', 'issue', 'transfer_out', 'transfer_in', 'transfer_return', 'adjustment', 'count_adjustment', 'reserve', 'release', 'dispatch', 'seed']
    .map((k) => ({ value: k, label: k || t('all') })), { id: 'mv-kind', name: 'kind' });
  const from = input({ type: 'datetime-local', id: 'mv-from', name: 'from' });
  const to = input({ type: 'datetime-local', id: 'mv-to', name: 'to' });
  const btn = h('button', { type: 'submit', id: 'mv-submit' }, t('filter'));
  const form = h('form', { class: 'card', id: 'movements-form' }, h('div', { class: 'row' },
    field('warehouse', wh, { pointer: 'warehouse' }), field('item', sku, { pointer: 'sku' }), field('kind', kind, { pointer: 'kind' }),
    field('from', from, { pointer: 'from' }), field('to', to, { pointer: 'to' }), btn));
  const out = h('div', { id: 'movements-result' });
  v.append(h('h1', {}, t('movements')), form, out);
  let cursor = null;
  async function load(more) {
    if (!more) { out.replaceChildren(loading()); cursor = null; }
    clearProblems(form);
    try {
      const page = await get('/movements', { warehouse: wh.value, sku: sku.value, kind: kind.value, from: rfc3339(from.value), to: rfc3339(to.value), limit: 100, cursor: more ? cursor : undefined });
      cursor = page.next_cursor;
      const rows = page.items.map((m) => h('tr', {}, h('td', { class: 'num' }, m.id), h('td', {}, new Date(m.created_at).toLocaleString()),
        h('td', {}, m.warehouse_code), h('td', {}, m.sku), h('td', {}, m.lot_code), h('td', {}, m.kind), h('td', { class: 'num' }, qty(m.qty)),
        h('td', { class: 'num' }, qty(m.reserved_delta)), h('td', { class: 'num' }, qty(m.on_hand_after)), h('td', {}, m.actor),
        h('td', {}, [m.reason, m.note].filter(Boolean).join(' · '))));
      if (!more) out.replaceChildren(table([{ label: 'seq', cls: 'num' }, 'time', 'warehouse', 'sku', 'lot_code', 'kind', { label: 'qty', cls: 'num' },
        { label: 'reserved', cls: 'num' }, { label: 'on_hand', cls: 'num' }, 'actor', 'reason'], rows, { cls: 'movements' }));
      else out.querySelector('tbody').append(...rows);
      out.querySelector('.more')?.remove();
      if (cursor) {
        const m = h('button', { type: 'button', class: 'secondary more' }, t('load_more'));
        m.addEventListener('click', () => busy(m, () => load(true)));
        out.append(m);
      }
    } catch (err) { out.replaceChildren(); showProblem(form, err); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); busy(btn, () => load(false)); });
  await load(false);
}

export { getAll };
