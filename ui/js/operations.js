// Operations (issue 17): an operation's incidents, a rationing round's demands, its
// preview (per-line table, per-item sentences, the price of fairness, a fill-ratio chart
// and a map of each incident's source warehouses) and its commit.
//
// The commit sends exactly the body that was previewed, with the preview's digest, and an
// Idempotency-Key made with the preview: pressing Commit twice (or a retry after a lost
// answer) reserves once. Changing a demand after the preview asks for a new preview.
import { get, getAll, post, patch, newKey } from './api.js';
import { h, field, input, select, showProblem, clearProblems, busy, table, loading, qty, toast } from './dom.js';
import { t, tv, nameOf } from './i18n.js';
import * as store from './store.js';
import { createMap } from './map.js';
import { requestCard } from './dispatch.js';

/* global L */

const KINDS = ['typhoon', 'flood', 'rainstorm', 'landslide', 'fire', 'earthquake', 'epidemic', 'other'];
const LEVELS = ['county', 'city', 'province'];
const PRIORITIES = ['critical', 'high', 'normal'];
const SVGNS = 'http://www.w3.org/2000/svg';

// The screen's state, shared with the browser tests.
const S = { operation: null, preview: null, previewBody: null, commitKey: null, committed: null, map: null, layer: null };
window.stockpileOps = S;

function opId() {
  const q = location.hash.split('?')[1] || '';
  return new URLSearchParams(q).get('id');
}

const canWrite = () => store.role() === 'dispatcher';

/** The screen: the operations, one opened below them (`#/operations?id=…`). */
export async function operationsScreen(v) {
  Object.assign(S, { operation: null, preview: null, previewBody: null, commitKey: null, committed: null, map: null, layer: null });
  const list = h('div', { id: 'op-list' }, loading());
  const detail = h('div', { id: 'op-detail' });
  v.append(h('h1', {}, t('ops_title')), h('p', { class: 'muted' }, t('ops_help')));
  if (canWrite()) v.append(createForm());
  v.append(h('section', { class: 'card', 'aria-labelledby': 'op-list-h' }, h('h2', { id: 'op-list-h' }, t('ops_list')), list), detail);
  await loadList(list);
  const id = opId();
  if (id) await openOperation(detail, id);
}

function createForm() {
  const name = input({ id: 'op-name', name: 'name', maxlength: 200 });
  const note = input({ id: 'op-note', name: 'note', maxlength: 2000 });
  const btn = h('button', { type: 'submit', id: 'op-create' }, t('ops_create'));
  const form = h('form', { class: 'card', id: 'op-form' },
    h('h2', {}, t('ops_new')),
    h('div', { class: 'row' }, field('ops_name', name, { pointer: '/name' }), field('note', note, { pointer: '/note' }), btn));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      clearProblems(form);
      try {
        const op = await post('/operations', { name: name.value.trim(), note: note.value.trim() || null });
        toast(t('ops_created', { name: op.name }));
        location.hash = `#/operations?id=${op.id}`;
      } catch (err) { showProblem(form, err); }
    });
  });
  return form;
}

async function loadList(box) {
  try {
    const ops = await getAll('/operations', {}, 1000);
    if (!ops.length) { box.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
    const here = opId();
    box.replaceChildren(table(['ops_name', 'status', { label: 'incidents', cls: 'num' }, 'time', ''], ops.slice().reverse().map((o) => h('tr', { 'data-operation': o.id, class: o.id === here ? 'current' : null },
      h('td', {}, h('a', { href: `#/operations?id=${o.id}` }, o.name)),
      h('td', {}, tv('ops_status', o.status)),
      h('td', { class: 'num' }, o.incidents.length),
      h('td', { class: 'nowrap' }, new Date(o.created_at).toLocaleString()),
      h('td', {}, h('a', { href: `#/operations?id=${o.id}`, class: 'button-link', 'aria-label': `${t('open')} ${o.name}` }, t('open'))))), { cls: 'operations' }));
  } catch (err) { box.replaceChildren(); showProblem(box, err); }
}

// ---------------------------------------------------------------- one operation

async function openOperation(root, id) {
  root.replaceChildren(loading());
  let op;
  try {
    [op] = await Promise.all([get(`/operations/${encodeURIComponent(id)}`), store.items(), store.warehouses()]);
  } catch (err) { root.replaceChildren(); showProblem(root, err); return; }
  S.operation = op;
  const incidentsBox = h('div', { id: 'op-incidents' });
  const roundsBox = h('div', { id: 'op-rounds' });
  const head = h('section', { class: 'card', 'aria-labelledby': 'op-h' },
    h('h2', { id: 'op-h' }, op.name, ' · ', h('span', { id: 'op-status', 'data-status': op.status }, tv('ops_status', op.status))),
    op.note ? h('p', { class: 'muted' }, op.note) : null,
    canWrite() ? statusButton(op) : null,
    h('h3', {}, t('incidents')), incidentsBox,
    canWrite() && op.status === 'open' ? incidentForm(op) : null);
  const mapEl = h('div', { id: 'ops-map', role: 'application', 'aria-label': t('ops_map') });
  const out = h('div', { id: 'round-result', 'aria-live': 'polite' });
  const round = h('section', { class: 'card', 'aria-labelledby': 'round-h' }, h('h2', { id: 'round-h' }, t('round_title')),
    h('p', { class: 'muted' }, t('round_help')));
  if (canWrite() && op.status === 'open') round.append(demandEditor(op, out));
  round.append(out);
  root.replaceChildren(head, round,
    h('section', { class: 'card', 'aria-labelledby': 'ops-map-h' }, h('h2', { id: 'ops-map-h' }, t('ops_map')), mapEl),
    h('section', { class: 'card', 'aria-labelledby': 'rounds-h' }, h('h2', { id: 'rounds-h' }, t('rounds_committed')), roundsBox));
  renderIncidents(incidentsBox, op);
  const { map } = await createMap(mapEl);
  S.map = map;
  S.layer = L.layerGroup().addTo(map);
  drawOperation(op);
  mapEl.dataset.ready = 'true';
  await loadRounds(roundsBox, op);
}

function statusButton(op) {
  const to = op.status === 'open' ? 'closed' : 'open';
  const b = h('button', { type: 'button', class: 'secondary', id: 'op-toggle', 'data-pointer': '/status' }, t(to === 'closed' ? 'ops_close' : 'ops_reopen'));
  const p = h('p', {}, b);
  b.addEventListener('click', () => busy(b, async () => {
    try {
      await patch(`/operations/${op.id}`, { status: to });
      location.hash = `#/operations?id=${op.id}&s=${to}`;
    } catch (err) { showProblem(p, err); }
  }));
  return p;
}

function renderIncidents(box, op) {
  if (!op.incidents.length) { box.replaceChildren(h('p', { class: 'muted' }, t('ops_no_incidents'))); return; }
  box.replaceChildren(table(['name', 'response_level', { label: 'delivery_target', cls: 'num' }, 'status'], op.incidents.map((i) => h('tr', { 'data-incident': i.id },
    h('td', {}, i.name), h('td', {}, tv('level', i.response_level)),
    h('td', { class: 'num' }, t('hours_n', { n: i.delivery_target_hours })), h('td', {}, tv('ops_status', i.status)))), { cls: 'op-incidents' }));
}

function incidentForm(op) {
  const name = input({ id: 'oi-name', name: 'name', maxlength: 200 });
  const kind = select(KINDS.map((k) => ({ value: k, label: tv('kind', k) })), { id: 'oi-kind', name: 'kind', value: 'typhoon' });
  const lat = input({ id: 'oi-lat', name: 'lat', type: 'number', step: 'any' });
  const lon = input({ id: 'oi-lon', name: 'lon', type: 'number', step: 'any' });
  const level = select(LEVELS.map((l) => ({ value: l, label: tv('level', l) })), { id: 'oi-level', name: 'response_level', value: 'county' });
  const hours = input({ id: 'oi-hours', name: 'delivery_target_hours', type: 'number', min: 1, max: 72, placeholder: t('by_level') });
  const btn = h('button', { type: 'submit', id: 'oi-submit' }, t('ops_add_incident'));
  const form = h('form', { id: 'op-incident-form', novalidate: true },
    h('h3', {}, t('ops_add_incident')),
    h('div', { class: 'row' }, field('name', name, { pointer: '/name' }), field('incident_kind', kind, { pointer: '/kind' }),
      field('lat', lat, { pointer: '/point/lat' }), field('lon', lon, { pointer: '/point/lon' })),
    h('div', { class: 'row' }, field('response_level', level, { pointer: '/response_level' }),
      field('delivery_target_hours', hours, { pointer: '/delivery_target_hours' }), btn));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      clearProblems(form);
      try {
        const body = { name: name.value.trim(), kind: kind.value, point: { lat: num(lat.value), lon: num(lon.value) }, operation_id: op.id, response_level: level.value };
        if (hours.value !== '') body.delivery_target_hours = num(hours.value);
        const inc = await post('/incidents', body);
        toast(t('incident_created'));
        location.hash = `#/operations?id=${op.id}&i=${inc.id}`;
      } catch (err) { showProblem(form, err); }
    });
  });
  return form;
}

/** A number field's value: a number, or the text itself (the API names what is wrong). */
function num(s) { return s === '' || Number.isNaN(Number(s)) ? s : Number(s); }

// ---------------------------------------------------------------- demands

function demandEditor(op, out) {
  const open = op.incidents.filter((i) => i.status === 'open');
  const rows = open.length ? [{ incident_id: open[0].id, sku: '', qty: '', priority: 'critical' }] : [];
  const rowsBox = h('div', { id: 'dm-rows', 'data-pointer': '/demands' });
  const fromOpen = h('input', { type: 'checkbox', id: 'dm-open', name: 'from_open_requests' });
  const affected = h('input', { type: 'checkbox', id: 'dm-affected', name: 'include_affected_warehouses' });
  const add = h('button', { type: 'button', class: 'secondary', id: 'dm-add', disabled: !open.length }, t('add_demand'));
  const btn = h('button', { type: 'submit', id: 'round-preview' }, t('preview'));
  const form = h('form', { id: 'round-form', novalidate: true }, h('h3', {}, t('demands')), rowsBox, h('p', {}, add),
    h('div', { class: 'row' }, field('from_open_requests', fromOpen, { pointer: '/from_open_requests' }),
      field('include_affected', affected, { pointer: '/include_affected_warehouses' })),
    h('p', {}, btn));

  // What the fields hold now (a browser may fill them without an input event).
  function sync() {
    rows.forEach((r, i) => {
      const v = (k) => document.getElementById(`dm-${k}-${i}`)?.value;
      r.incident_id = v('inc') ?? r.incident_id; r.sku = v('sku') ?? r.sku;
      r.qty = v('qty') ?? r.qty; r.priority = v('prio') ?? r.priority;
    });
  }

  function render() {
    if (!open.length) { rowsBox.replaceChildren(h('p', { class: 'muted' }, t('ops_no_incidents'))); return; }
    store.items().then((items) => {
      const skuOpts = [{ value: '', label: `— ${t('item')} —` }, ...store.itemOptions(items)];
      rowsBox.replaceChildren(table(['incident', 'item', { label: 'qty', cls: 'num' }, 'priority', ''], rows.map((r, i) => {
        const inc = select(open.map((x) => ({ value: x.id, label: x.name })), { id: `dm-inc-${i}`, value: r.incident_id, 'aria-label': `${t('incident')} ${i + 1}` });
        inc.dataset.pointer = `/demands/${i}/incident_id`;
        inc.addEventListener('change', () => { r.incident_id = inc.value; });
        const sku = select(skuOpts, { id: `dm-sku-${i}`, value: r.sku, 'aria-label': `${t('item')} ${i + 1}` });
        sku.dataset.pointer = `/demands/${i}/sku`;
        sku.addEventListener('change', () => { r.sku = sku.value; });
        const q = input({ type: 'number', min: 1, step: 1, id: `dm-qty-${i}`, value: r.qty, 'aria-label': `${t('qty')} ${i + 1}`, class: 'qty-in' });
        q.dataset.pointer = `/demands/${i}/qty`;
        q.addEventListener('input', () => { r.qty = q.value; });
        const pr = select(PRIORITIES.map((p) => ({ value: p, label: tv('prio', p) })), { id: `dm-prio-${i}`, value: r.priority, 'aria-label': `${t('priority')} ${i + 1}` });
        pr.dataset.pointer = `/demands/${i}/priority`;
        pr.addEventListener('change', () => { r.priority = pr.value; });
        const rm = h('button', { type: 'button', class: 'secondary', id: `dm-rm-${i}`, 'aria-label': `${t('remove')} ${i + 1}` }, '×');
        rm.addEventListener('click', () => { sync(); rows.splice(i, 1); stale(); render(); });
        return h('tr', { class: 'demand' }, h('td', { class: 'field' }, inc), h('td', { class: 'field' }, sku), h('td', { class: 'num field' }, q),
          h('td', { class: 'field' }, pr), h('td', {}, rm));
      }), { cls: 'demands' }));
    });
  }
  render();
  add.addEventListener('click', () => {
    sync();
    const last = rows[rows.length - 1];
    rows.push({ incident_id: open[(open.findIndex((x) => x.id === last?.incident_id) + 1) % open.length].id, sku: last?.sku || '', qty: '', priority: last?.priority || 'critical' });
    stale();
    render();
  });

  // A preview answers for the demands it was made from: change them and it must be made again.
  function stale() {
    if (!S.preview || S.committed) return;
    const c = document.getElementById('round-commit');
    if (c) c.disabled = true;
    if (!document.getElementById('round-stale')) out.prepend(h('p', { class: 'notice-warn', id: 'round-stale', role: 'status' }, t('round_stale')));
  }
  form.addEventListener('input', stale);
  form.addEventListener('change', stale);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(btn, async () => {
      clearProblems(form);
      sync();
      const body = {
        demands: rows.map((r) => ({ incident_id: r.incident_id, sku: r.sku, qty: num(r.qty === '' ? '0' : String(r.qty)), priority: r.priority })),
        from_open_requests: fromOpen.checked,
        include_affected_warehouses: affected.checked,
      };
      try {
        const view = await post(`/operations/${op.id}/rationing/preview`, body);
        Object.assign(S, { preview: view, previewBody: body, commitKey: newKey(), committed: null });
        await showRound(out, view, op, form);
      } catch (err) {
        showProblem(form, err);
      }
    });
  });
  return form;
}

// ---------------------------------------------------------------- the round

async function showRound(out, view, op, form) {
  const [items, whs] = await Promise.all([store.items(), store.warehouses()]);
  const itemName = Object.fromEntries(items.map((i) => [i.sku, nameOf(i)]));
  const incName = Object.fromEntries([...(view.incidents || []), ...op.incidents].map((i) => [i.id, i.name]));
  const lines = view.lines || [];
  const parts = [];
  if (view.committed) {
    parts.push(h('div', { class: 'form-ok', role: 'status', id: 'round-committed', 'data-round': view.round_id },
      t('round_committed', { n: view.requests.length, units: qty(view.totals.delivered) })));
    if (view.replanned) {
      parts.push(h('div', { class: 'notice-warn', role: 'alert', id: 'round-replanned' }, t('round_replanned'),
        view.note ? h('div', { class: 'muted' }, view.note) : null));
    }
    parts.push(requestsTable(view, incName));
  }
  parts.push(
    h('p', { class: 'muted' }, t('round_planned', { date: view.today, digest: String(view.digest).slice(0, 12) })),
    h('h3', {}, t('round_lines')),
    h('div', { class: 'scroll-x' }, linesTable(lines, incName, itemName)),
    h('h3', {}, t('round_items')),
    h('ul', { id: 'round-sentences' }, (view.items || []).flatMap((it) => it.tiers.map((tier) => h('li', { 'data-sku': it.sku, 'data-priority': tier.priority },
      h('strong', {}, `${itemName[it.sku] || it.sku}: `), t('tier_sentence', { tier: tv('prio', tier.priority), pct: tier.min_fill_percent }),
      ` (${t('reserved_of', { reserved: qty(tier.reserved), requested: qty(tier.requested) })})`)))),
    h('h3', {}, t('round_fairness')),
    fairness(view),
    h('h3', {}, t('round_chart')),
    h('div', { class: 'chart', id: 'fill-chart' }, fillChart(lines, incName, itemName)));
  if (!view.committed && canWrite()) {
    const commit = h('button', { type: 'button', id: 'round-commit' }, t('round_commit'));
    const p = h('p', {}, commit, ' ', h('span', { class: 'muted' }, t('round_commit_help')));
    commit.addEventListener('click', () => busy(commit, async () => {
      clearProblems(out);
      try {
        const done = await post(`/operations/${op.id}/rationing`, { ...S.previewBody, preview_digest: S.preview.digest },
          { idempotencyKey: S.commitKey });
        S.committed = done;
        await showRound(out, done, op, form);
        form?.querySelectorAll('button, input, select').forEach((el) => { el.disabled = true; });
        const again = h('button', { type: 'button', class: 'secondary', id: 'round-new' }, t('round_new'));
        again.addEventListener('click', () => { location.hash = `#/operations?id=${op.id}&r=${done.round_id}`; });
        out.append(h('p', {}, again));
        const rounds = document.getElementById('op-rounds');
        if (rounds) await loadRounds(rounds, op);
      } catch (err) {
        showProblem(p, err);
      }
    }));
    parts.push(p);
  }
  out.replaceChildren(...parts);
  drawRound(view, whs);
}

function linesTable(lines, incName, itemName) {
  return table(['incident', 'item', 'priority', { label: 'requested', cls: 'num' }, { label: 'reserved', cls: 'num' },
    { label: 'shortfall', cls: 'num' }, { label: 'fill', cls: 'num' }, 'sources', 'explanation'],
  lines.map((l) => h('tr', { class: `round-line${l.shortfall > 0 ? ' short' : ''}`, 'data-incident': l.incident_id, 'data-sku': l.sku, 'data-priority': l.priority, 'data-reserved': l.reserved },
    h('td', {}, l.incident_code || incName[l.incident_id] || l.incident_id),
    h('td', {}, itemName[l.sku] || l.sku, h('div', { class: 'muted' }, l.sku)),
    h('td', {}, tv('prio', l.priority)),
    h('td', { class: 'num' }, qty(l.requested)),
    h('td', { class: 'num reserved' }, qty(l.reserved)),
    h('td', { class: 'num' }, qty(l.shortfall)),
    h('td', { class: 'num' }, pct(l.fill_percent)),
    h('td', {}, picksSummary(l.picks || [])),
    h('td', {}, explanation(l.explanation || [])))), { cls: 'round-lines' });
}

function pct(p) { return `${(Math.floor(Number(p) * 10) / 10).toLocaleString()}%`; }
function minutes(m) { return m === null || m === undefined ? '—' : `${Math.round(m)} ${t('minutes_short')}`; }

/** Picks summed per warehouse: "ZH-DM-RC × 30 · 42 min", with the worst lateness as a badge. */
function picksSummary(picks) {
  if (!picks.length) return h('span', { class: 'muted' }, t('none'));
  const by = new Map();
  for (const p of picks) {
    const s = by.get(p.warehouse_code) || { code: p.warehouse_code, qty: 0, eta: p.eta_minutes, misses: false, after: false, late: false, lots: 0 };
    s.qty += p.qty; s.lots += 1;
    s.misses ||= !!p.misses_target; s.after ||= !!p.after_needed_by; s.late ||= !!p.late;
    by.set(p.warehouse_code, s);
  }
  return h('ul', { class: 'picks-summary' }, [...by.values()].map((s) => h('li', { class: 'pick', 'data-warehouse': s.code },
    h('strong', {}, s.code), ` × ${qty(s.qty)} · ${minutes(s.eta)}`, s.lots > 1 ? h('span', { class: 'muted' }, ` (${t('lots_n', { n: s.lots })})`) : null,
    s.misses ? [' ', h('span', { class: 'badge soon misses-target' }, t('misses_target'))] : null,
    s.after ? [' ', h('span', { class: 'badge expired late' }, t('late'))] : null)));
}

function explanation(list) {
  if (!list.length) return h('span', { class: 'muted' }, '—');
  return h('details', { class: 'why' }, h('summary', {}, t('why_n', { n: list.length })),
    h('ul', {}, list.map((x) => h('li', { 'data-warehouse': x.warehouse_code, 'data-reason': x.reason },
      h('strong', {}, x.warehouse_code), `: ${tv('skip', x.reason)} · ${minutes(x.eta_minutes)} · ${t('available')} ${qty(x.available)}`,
      x.protected > 0 ? ` · ${t('held_back_n', { n: qty(x.protected) })}` : '',
      x.to_other_lines > 0 ? [' · ', h('span', { class: 'to-other-lines' }, t('to_other_lines_n', { n: qty(x.to_other_lines) }))] : ''))));
}

function fairness(view) {
  const pf = view.price_of_fairness || {};
  const more = pf.nearest_first_delivers_more || 0;
  const sooner = pf.nearest_first_mean_eta_sooner_minutes || 0;
  const units = more > 0 ? t('nf_more', { n: qty(more) }) : more < 0 ? t('nf_fewer', { n: qty(-more) }) : t('nf_same');
  const time = sooner > 0.5 ? t('nf_sooner', { n: Math.round(sooner) }) : sooner < -0.5 ? t('nf_later', { n: Math.round(-sooner) }) : t('nf_same_time');
  const a = view.totals; const b = view.nearest_first;
  return h('div', { id: 'round-fairness' },
    h('p', {}, t('nf_sentence', { units, time })),
    table(['', { label: 'units_delivered', cls: 'num' }, { label: 'mean_eta', cls: 'num' }, { label: 'qty_eta', cls: 'num' }], [
      h('tr', {}, h('th', { scope: 'row' }, t('this_plan')), h('td', { class: 'num' }, qty(a.delivered)), h('td', { class: 'num' }, minutes(a.mean_eta_minutes)), h('td', { class: 'num' }, qty(Math.round(a.qty_eta_minutes)))),
      h('tr', {}, h('th', { scope: 'row' }, t('nearest_first')), h('td', { class: 'num' }, qty(b.delivered)), h('td', { class: 'num' }, minutes(b.mean_eta_minutes)), h('td', { class: 'num' }, qty(Math.round(b.qty_eta_minutes)))),
    ], { cls: 'fairness' }));
}

function requestsTable(view, incName) {
  const detail = h('div', { id: 'round-request-detail' });
  return h('div', { id: 'round-requests' }, h('h3', {}, t('round_requests')),
    table(['request', 'incident', 'priority', 'status', ''], (view.requests || []).map((r) => {
      const open = h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('view')} ${r.id}` }, t('view'));
      open.addEventListener('click', () => busy(open, async () => {
        try { detail.replaceChildren(requestCard(await get(`/requests/${r.id}`), () => {})); } catch (err) { showProblem(detail, err); }
      }));
      return h('tr', { class: 'round-request', 'data-request': r.id, 'data-status': r.status },
        h('td', {}, h('a', { href: '#/requests', class: 'request-id' }, h('code', { class: 'hash' }, r.id)), r.created ? '' : h('span', { class: 'muted' }, ` (${t('filled_further')})`)),
        h('td', {}, incName[r.incident_id] || r.incident_id), h('td', {}, tv('prio', r.priority)), h('td', {}, tv('rs', r.status)), h('td', {}, open));
    }), { cls: 'round-requests' }),
    h('p', {}, h('a', { href: '#/requests', class: 'button-link', id: 'round-to-requests' }, t('open_requests_screen'))),
    detail);
}

/** Horizontal bars, one per line (incident × item × tier), the fill ratio 0–100 %. */
function fillChart(lines, incName, itemName) {
  const sorted = lines.slice().sort((a, b) => (a.sku.localeCompare(b.sku)) || PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority)
    || String(a.incident_code).localeCompare(String(b.incident_code)));
  const rowH = 26; const labelW = 300; const barW = 440; const width = labelW + barW + 70;
  const height = 30 + rowH * sorted.length;
  const s = (tag, attrs = {}, ...kids) => {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, val] of Object.entries(attrs)) el.setAttribute(k, String(val));
    for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return el;
  };
  const label = (l) => `${l.incident_code || incName[l.incident_id] || ''} · ${itemName[l.sku] || l.sku} · ${tv('prio', l.priority)}`;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': 'fill-title fill-desc' });
  svg.append(s('title', { id: 'fill-title' }, t('round_chart')));
  svg.append(s('desc', { id: 'fill-desc' }, sorted.map((l) => `${label(l)}: ${pct(l.fill_percent)}`).join('; ')));
  for (const v of [0, 25, 50, 75, 100]) {
    const x = labelW + (barW * v) / 100;
    svg.append(s('line', { x1: x, x2: x, y1: 4, y2: height - 20, stroke: '#ddd' }));
    svg.append(s('text', { x, y: height - 6, 'text-anchor': 'middle', 'font-size': 11 }, `${v}%`));
  }
  const colour = { critical: '#b3261e', high: '#c97a2c', normal: '#1f5f8b' };
  sorted.forEach((l, i) => {
    const y = 6 + i * rowH;
    const w = Math.max(0, Math.min(100, Number(l.fill_percent))) * barW / 100;
    svg.append(s('text', { x: labelW - 6, y: y + 15, 'text-anchor': 'end', 'font-size': 12 }, label(l)));
    svg.append(s('rect', { x: labelW, y, width: barW, height: rowH - 8, fill: '#f0f0f0', stroke: '#ccc' }));
    const bar = s('rect', { class: 'fill-bar', x: labelW, y, width: w, height: rowH - 8, fill: colour[l.priority] || '#555', 'data-sku': l.sku, 'data-incident': l.incident_id, 'data-fill': l.fill_percent });
    bar.append(s('title', {}, `${label(l)}: ${qty(l.reserved)} / ${qty(l.requested)} (${pct(l.fill_percent)})`));
    svg.append(bar);
    svg.append(s('text', { x: labelW + w + 4, y: y + 14, 'font-size': 12, 'font-weight': 600 }, pct(l.fill_percent)));
  });
  return svg;
}

// ---------------------------------------------------------------- the map

const INCIDENT_SVG = '<svg width="22" height="20" viewBox="0 0 22 20" aria-hidden="true"><path d="M11 1 21 19H1z" fill="#dd6b20" stroke="#000" stroke-width="1.5"/><text x="11" y="16" text-anchor="middle" font-size="11" font-weight="bold">!</text></svg>';

function incidentMarker(i, extra = '') {
  const icon = L.divIcon({ className: 'incident-icon ops-incident', html: INCIDENT_SVG, iconSize: [22, 20], iconAnchor: [11, 14] });
  return L.marker([i.lat, i.lon], { icon, title: i.name, alt: i.name, keyboard: true })
    .bindTooltip(`${i.name}${extra}`, { permanent: true, direction: 'top', offset: [0, -12], className: 'ops-incident-label' });
}

/** The operation's incidents, before any preview (their points come from the incidents API). */
async function drawOperation(op) {
  if (!S.layer || !op.incidents.length) return;
  try {
    const all = await Promise.all(op.incidents.map((i) => get(`/incidents/${i.id}`)));
    if (S.preview) return; // a preview drew first
    S.layer.clearLayers();
    const pts = [];
    for (const inc of all) {
      const i = { id: inc.id, name: inc.name, lat: inc.point.lat, lon: inc.point.lon };
      incidentMarker(i, ` · ${tv('level', inc.response_level)} · ${t('hours_n', { n: inc.delivery_target_hours })}`).addTo(S.layer);
      pts.push([i.lat, i.lon]);
    }
    if (pts.length) S.map.fitBounds(L.latLngBounds(pts).pad(0.5), { animate: false, maxZoom: 11 });
  } catch { /* the list above shows the incidents; the map stays empty */ }
}

/** The round's incidents, a line from each to each warehouse it draws from, and the warehouses. */
function drawRound(view, whs) {
  if (!S.layer) return;
  S.layer.clearLayers();
  const byCode = Object.fromEntries(whs.map((w) => [w.code, w]));
  const pts = [];
  const sources = new Map();
  for (const l of view.lines || []) {
    for (const p of l.picks || []) {
      const key = `${l.incident_id}|${p.warehouse_code}`;
      const s = sources.get(key) || { incident: l.incident_id, code: p.warehouse_code, qty: 0, eta: p.eta_minutes, misses: false };
      s.qty += p.qty; s.misses ||= !!p.misses_target;
      sources.set(key, s);
    }
  }
  const incs = Object.fromEntries((view.incidents || []).map((i) => [i.id, i]));
  for (const s of sources.values()) {
    const w = byCode[s.code]; const i = incs[s.incident];
    if (!w || !i) continue;
    L.polyline([[i.lat, i.lon], [w.lat, w.lon]], { color: s.misses ? '#c53030' : '#2f855a', weight: 3, opacity: 0.85, dashArray: s.misses ? '8 6' : null, className: `source-line source-${s.code}` })
      .bindTooltip(`${s.code} → ${i.name}: ${qty(s.qty)} · ${minutes(s.eta)}${s.misses ? ` · ${t('misses_target')}` : ''}`, { sticky: true })
      .addTo(S.layer);
    pts.push([w.lat, w.lon]);
  }
  const used = new Set([...sources.values()].map((s) => s.code));
  for (const code of used) {
    const w = byCode[code];
    if (!w) continue;
    L.circleMarker([w.lat, w.lon], { radius: 7, color: '#1a365d', weight: 2, fillColor: '#4299e1', fillOpacity: 0.8, className: `ops-source source-wh-${code}` })
      .bindTooltip(`${w.code} · ${nameOf(w)}`).addTo(S.layer);
  }
  for (const i of view.incidents || []) {
    incidentMarker(i, ` · ${t('hours_n', { n: i.delivery_target_hours })}`).addTo(S.layer);
    pts.push([i.lat, i.lon]);
  }
  if (pts.length) S.map.fitBounds(L.latLngBounds(pts).pad(0.2), { animate: false, maxZoom: 11 });
}

// ---------------------------------------------------------------- committed rounds

async function loadRounds(box, op) {
  box.replaceChildren(loading());
  try {
    const rounds = await get(`/operations/${op.id}/rationing`);
    if (!rounds.length) { box.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
    box.replaceChildren(table(['time', { label: 'lines', cls: 'num' }, { label: 'requested', cls: 'num' }, { label: 'reserved', cls: 'num' }, { label: 'round_requests', cls: 'num' }, ''],
      rounds.map((r) => {
        const d = Array.isArray(r.demands) ? r.demands : [];
        const sum = (k) => d.reduce((a, x) => a + (Number(x[k]) || 0), 0);
        return h('tr', { class: 'round', 'data-round': r.id },
          h('td', { class: 'nowrap' }, new Date(r.created_at).toLocaleString()), h('td', { class: 'num' }, d.length),
          h('td', { class: 'num' }, qty(sum('requested'))), h('td', { class: 'num' }, qty(sum('reserved'))), h('td', { class: 'num' }, r.requests.length),
          h('td', {}, r.replanned ? h('span', { class: 'badge soon' }, t('replanned')) : ''));
      }), { cls: 'rounds' }));
  } catch (err) { box.replaceChildren(); showProblem(box, err); }
}
