// Dispatcher screens: the map (closures, incidents, planning) and the list of requests.
import { get, getAll, post, del } from './api.js';
import { h, field, input, select, showProblem, showOk, busy, table, loading, qty, clearProblems, toast } from './dom.js';
import { t, tv, nameOf } from './i18n.js';
import * as store from './store.js';
import { createMap, networkLayer, warehouseLayer, incidentLayer, closureLayer, stateLabel } from './map.js';

/* global L */

const KINDS = ['typhoon', 'flood', 'rainstorm', 'landslide', 'fire', 'earthquake', 'epidemic', 'other'];

// The map screen keeps its state here, so tests and the console share one source.
const S = { map: null, layers: {}, tool: null, picked: new Set(), polygon: [], draft: null, incidents: [], network: null, warehouses: [] };
window.stockpileMap = S;

export async function mapScreen(v) {
  const [itemsList, whs] = await Promise.all([store.items(), store.warehouses()]);
  S.warehouses = whs;
  S.picked = new Set(); S.polygon = []; S.tool = null;
  const mapEl = h('div', { id: 'map', role: 'application', 'aria-label': t('map_title') });
  const sizeSku = select([{ value: '', label: t('all') }, ...store.itemOptions(itemsList)], { id: 'size-sku', name: 'size_sku' });
  const tools = [['polygon', 'draw_closure'], ['edges', 'pick_edges'], ['incident', 'new_incident']].map(([id, label]) => {
    const b = h('button', { type: 'button', class: 'secondary', id: `tool-${id}`, 'aria-pressed': 'false' }, t(label));
    b.addEventListener('click', () => setTool(S.tool === id ? null : id));
    return b;
  });
  const toolPanel = h('div', { id: 'tool-panel' });
  const planPanel = h('div', { id: 'plan-panel' });
  const closureList = h('div', { id: 'closure-list' });
  const panel = h('div', { class: 'panel' },
    h('div', { class: 'card' }, field('stock_of', sizeSku), h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': t('map_title') }, tools), toolPanel),
    h('section', { class: 'card', 'aria-labelledby': 'plan-h' }, h('h2', { id: 'plan-h' }, t('incidents')), planPanel),
    h('section', { class: 'card', 'aria-labelledby': 'cl-h' }, h('h2', { id: 'cl-h' }, t('closures')), closureList));
  v.append(h('h1', {}, t('map_title')), h('div', { class: 'split' }, mapEl, panel));

  const { map } = await createMap(mapEl);
  S.map = map;
  S.layers = { draft: L.layerGroup().addTo(map), routes: L.layerGroup().addTo(map) };
  map.on('click', onMapClick);
  sizeSku.addEventListener('change', () => drawWarehouses(sizeSku.value));

  function setTool(id) {
    S.tool = id;
    for (const b of tools) b.setAttribute('aria-pressed', String(b.id === `tool-${id}`));
    mapEl.style.cursor = id ? 'crosshair' : '';
    S.polygon = []; S.layers.draft.clearLayers();
    if (id !== 'edges') { S.picked.clear(); restyleEdges(); }
    renderToolPanel();
  }

  function onMapClick(e) {
    const { lat, lng } = e.latlng;
    if (S.tool === 'polygon' || (S.tool === 'incident' && S.drawingArea)) {
      S.polygon.push([lng, lat]);
      drawDraft();
      renderToolPanel();
    } else if (S.tool === 'incident') {
      S.draft = { lat: +lat.toFixed(5), lon: +lng.toFixed(5) };
      renderToolPanel();
    }
  }

  function drawDraft() {
    S.layers.draft.clearLayers();
    const pts = S.polygon.map(([lon, lat]) => [lat, lon]);
    pts.forEach((p) => L.circleMarker(p, { radius: 4, color: '#000' }).addTo(S.layers.draft));
    if (pts.length > 1) L.polygon(pts, { color: '#000', dashArray: '4 4', fillOpacity: 0.1 }).addTo(S.layers.draft);
    if (S.draft) L.circleMarker([S.draft.lat, S.draft.lon], { radius: 7, color: '#dd6b20', weight: 3 }).addTo(S.layers.draft);
  }

  function ring() {
    if (S.polygon.length < 3) return null;
    return { type: 'Polygon', coordinates: [[...S.polygon, S.polygon[0]]] };
  }

  function renderToolPanel() {
    toolPanel.replaceChildren();
    if (S.tool === 'polygon' || S.tool === 'edges') {
      const name = input({ id: 'cl-name', name: 'name' });
      const reason = input({ id: 'cl-reason', name: 'reason', value: S.tool === 'edges' ? 'typhoon signal 8' : '' });
      const edgeSel = h('select', { id: 'cl-edges', multiple: true, size: 6 });
      for (const f of S.network?.features || []) {
        const o = h('option', { value: f.properties.id }, `${f.properties.name} · ${stateLabel(f.properties.state)}`);
        o.selected = S.picked.has(f.properties.id);
        edgeSel.append(o);
      }
      edgeSel.addEventListener('change', () => { S.picked = new Set([...edgeSel.selectedOptions].map((o) => o.value)); restyleEdges(); });
      const btn = h('button', { type: 'submit', id: 'cl-submit' }, t('create_closure'));
      const clear = h('button', { type: 'button', class: 'secondary' }, t('clear'));
      clear.addEventListener('click', () => { S.polygon = []; S.picked.clear(); drawDraft(); restyleEdges(); renderToolPanel(); });
      const form = h('form', { id: 'closure-form' },
        field('closure_name', name, { pointer: '/name' }), field('reason', reason, { pointer: '/reason' }),
        S.tool === 'edges' ? field('selected_edges', edgeSel, { pointer: '/edge_ids' })
          : h('p', { class: 'muted', 'data-pointer': '/area', id: 'cl-area' }, `${t('polygon_points')}: ${S.polygon.length}`),
        h('p', {}, btn, ' ', clear));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(btn, async () => {
          try {
            const body = { name: name.value, reason: reason.value };
            if (S.tool === 'edges') body.edge_ids = [...S.picked]; else body.area = ring();
            await post('/closures', body);
            toast(t('closure_created'));
            setTool(null);
            await Promise.all([loadNetwork(), loadClosures()]);
          } catch (err) { showProblem(form, err); }
        });
      });
      toolPanel.append(form);
    } else if (S.tool === 'incident') {
      const name = input({ id: 'inc-name', name: 'name' });
      const kind = select(KINDS.map((k) => ({ value: k, label: tv('kind', k) })), { id: 'inc-kind', name: 'kind' });
      const lat = input({ id: 'inc-lat', name: 'lat', type: 'number', step: 'any', value: S.draft?.lat ?? '' });
      const lon = input({ id: 'inc-lon', name: 'lon', type: 'number', step: 'any', value: S.draft?.lon ?? '' });
      const pop = input({ id: 'inc-pop', name: 'population', type: 'number', min: 0, value: '' });
      const areaBtn = h('button', { type: 'button', class: 'secondary', id: 'inc-area', 'aria-pressed': String(!!S.drawingArea) }, t('draw_area'));
      areaBtn.addEventListener('click', () => { S.drawingArea = !S.drawingArea; if (!S.drawingArea) { /* keep points */ } renderToolPanel(); });
      const btn = h('button', { type: 'submit', id: 'inc-submit' }, t('create_incident'));
      const form = h('form', { id: 'incident-form' },
        h('div', { class: 'row' }, field('name', name, { pointer: '/name' }), field('incident_kind', kind, { pointer: '/kind' })),
        h('div', { class: 'row' }, field('lat', lat, { pointer: '/point/lat' }), field('lon', lon, { pointer: '/point/lon' }), field('population', pop, { pointer: '/population' })),
        h('p', { 'data-pointer': '/affected_area', class: 'muted' }, areaBtn, ` ${t('polygon_points')}: ${S.polygon.length}`),
        h('p', {}, btn));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(btn, async () => {
          try {
            const body = { name: name.value, kind: kind.value, point: { lat: Number(lat.value), lon: Number(lon.value) } };
            if (pop.value !== '') body.population = Number(pop.value);
            if (ring()) body.affected_area = ring();
            const inc = await post('/incidents', body);
            toast(t('incident_created'));
            S.drawingArea = false; S.draft = null;
            setTool(null);
            await loadIncidents(inc.id);
          } catch (err) { showProblem(form, err); }
        });
      });
      toolPanel.append(form);
      if (!S.draft) lat.focus();
    }
  }

  function restyleEdges() {
    S.layers.network?.eachLayer((layer) => {
      const id = layer.feature.properties.id;
      const base = layer.options.className;
      if (S.picked.has(id)) layer.setStyle({ color: '#f0b400', weight: 7, dashArray: null });
      else S.layers.network.resetStyle(layer);
      layer.getElement()?.setAttribute('class', `${base} leaflet-interactive${S.picked.has(id) ? ' picked' : ''}`);
    });
  }

  async function loadNetwork() {
    try {
      S.network = await get('/network');
      S.layers.network?.remove();
      S.layers.network = networkLayer(S.network, (f) => {
        if (S.tool !== 'edges') return;
        const id = f.properties.id;
        if (S.picked.has(id)) S.picked.delete(id); else S.picked.add(id);
        restyleEdges();
        renderToolPanel();
      }).addTo(S.map);
    } catch (err) { showProblem(toolPanel, err); }
  }

  async function drawWarehouses(sku) {
    S.layers.warehouses?.remove();
    let amount = () => 0;
    let unit = '';
    if (!sku) {
      // No item chosen: size by the total available of all items.
      try {
        const sum = await get('/stock/summary', { group_by: 'warehouse' });
        const by = Object.fromEntries((sum.groups || []).map((g) => [g.key, g.figures?.available ?? g.available ?? 0]));
        amount = (w) => by[w.code] || 0;
      } catch { /* plain markers when the summary is unavailable */ }
    } else {
      const lots = await getAll('/lots', { sku, status: 'available' }, 20000);
      const by = {};
      for (const l of lots) by[l.warehouse_code] = (by[l.warehouse_code] || 0) + l.available;
      amount = (w) => by[w.code] || 0;
      unit = lots[0]?.unit_zh || '';
    }
    S.layers.warehouses = warehouseLayer(S.warehouses, amount, unit).addTo(S.map);
  }

  async function loadClosures() {
    closureList.replaceChildren(loading());
    try {
      const res = await get('/closures', { active: true });
      const list = (Array.isArray(res) ? res : res.items || []).filter((c) => c.active !== false);
      S.layers.closures?.remove();
      S.layers.closures = closureLayer(list).addTo(S.map);
      if (!list.length) { closureList.replaceChildren(h('p', { class: 'muted' }, t('none'))); return; }
      closureList.replaceChildren(h('ul', { id: 'closures' }, list.map((c) => {
        const end = h('button', { type: 'button', class: 'secondary' }, t('end_closure'));
        const li = h('li', { 'data-closure': c.id }, h('strong', {}, c.name), ` — ${c.reason} · ${(c.closed_edge_ids || c.edge_ids || []).length} ${t('roads_closed')} `, end);
        end.addEventListener('click', () => busy(end, async () => {
          try { await del(`/closures/${c.id}`); await Promise.all([loadNetwork(), loadClosures()]); } catch (err) { showProblem(li, err); }
        }));
        return li;
      })));
    } catch (err) { closureList.replaceChildren(); showProblem(closureList, err); }
  }

  async function loadIncidents(selectId) {
    try {
      S.incidents = await getAll('/incidents', { status: 'open' }, 500);
    } catch (err) { S.incidents = []; planPanel.replaceChildren(); showProblem(planPanel, err); return; }
    S.layers.incidents?.remove();
    S.layers.incidents = incidentLayer(S.incidents).addTo(S.map);
    planner(planPanel, S.incidents, selectId);
  }

  await Promise.all([loadNetwork(), drawWarehouses(''), loadClosures(), loadIncidents()]);
  mapEl.dataset.ready = 'true';
  performance.mark('stockpile-map-drawn');
}

// ---------------------------------------------------------------- planning

function planner(root, incidents, selectId) {
  root.replaceChildren();
  if (!incidents.length) { root.append(h('p', { class: 'muted' }, t('none'))); return; }
  const incSel = select(incidents.map((i) => ({ value: i.id, label: `${i.name} (${tv('kind', i.kind)})` })), { id: 'plan-incident', name: 'incident_id' });
  if (selectId) incSel.value = selectId;
  const pop = input({ id: 'ne-pop', type: 'number', min: 0, name: 'population' });
  const days = input({ id: 'ne-days', type: 'number', min: 1, name: 'days', value: '3' });
  const neBtn = h('button', { type: 'button', class: 'secondary', id: 'ne-submit' }, t('needs_estimate'));
  const linesBox = h('div', { id: 'plan-lines' });
  const prio = select(['critical', 'high', 'normal'].map((p) => ({ value: p, label: tv('prio', p) })), { id: 'plan-priority', name: 'priority', value: 'high' });
  const neededBy = input({ id: 'plan-needed-by', type: 'datetime-local', name: 'needed_by' });
  const incl = h('input', { type: 'checkbox', id: 'plan-include-affected', name: 'include_affected_warehouses' });
  const prevBtn = h('button', { type: 'button', id: 'plan-preview' }, t('preview'));
  const resBtn = h('button', { type: 'button', id: 'plan-reserve', class: 'secondary' }, t('reserve'));
  const out = h('div', { id: 'plan-result', 'aria-live': 'polite' });
  const form = h('form', { id: 'plan-form' },
    field('incident', incSel, { pointer: '/incident_id' }),
    h('div', { class: 'row' }, field('population', pop, { pointer: '/population' }), field('days', days, { pointer: '/days' }), neBtn),
    linesBox,
    h('div', { class: 'row' }, field('priority', prio, { pointer: '/priority' }), field('needed_by', neededBy, { pointer: '/needed_by' }),
      field('include_affected', incl, { pointer: '/include_affected_warehouses' })),
    h('p', {}, prevBtn, ' ', resBtn), out);
  root.append(form);
  let lines = [];
  const inc = () => incidents.find((i) => i.id === incSel.value);
  pop.value = inc()?.population || '';
  incSel.addEventListener('change', () => { pop.value = inc()?.population || ''; S.layers.routes.clearLayers(); out.replaceChildren(); });

  async function renderLines() {
    const itemsList = await store.items();
    const opts = store.itemOptions(itemsList);
    // One compact row per line; each input is labelled for screen readers by its row.
    linesBox.replaceChildren(h('h3', {}, t('lines')), table(['item', { label: 'qty', cls: 'num' }, ''], lines.map((l, i) => {
      const s = select(opts, { id: `pl-sku-${i}`, value: l.sku, 'aria-label': `${t('item')} ${i + 1}` });
      s.dataset.pointer = `/lines/${i}/sku`;
      s.addEventListener('change', () => { l.sku = s.value; });
      const q = input({ type: 'number', min: 1, id: `pl-qty-${i}`, value: l.qty, 'aria-label': `${t('qty')} ${i + 1}`, style: 'width:7em' });
      q.dataset.pointer = `/lines/${i}/qty`;
      q.addEventListener('input', () => { l.qty = Number(q.value); });
      const rm = h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('remove')} ${i + 1}` }, '×');
      rm.addEventListener('click', () => { lines.splice(i, 1); renderLines(); });
      return h('tr', {}, h('td', { class: 'field' }, s), h('td', { class: 'num field' }, q), h('td', {}, rm));
    }), { cls: 'plan-lines' }));
    const add = h('button', { type: 'button', class: 'secondary', id: 'pl-add' }, t('add_line'));
    add.addEventListener('click', () => { lines.push({ sku: itemsList[0]?.sku, qty: 1 }); renderLines(); });
    linesBox.append(h('p', {}, add));
  }
  renderLines();

  neBtn.addEventListener('click', () => busy(neBtn, async () => {
    clearProblems(form);
    try {
      const est = await post(`/incidents/${incSel.value}/needs-estimate`, { population: pop.value === '' ? undefined : Number(pop.value), days: Number(days.value) });
      lines = (est.lines || []).map((l) => ({ sku: l.sku, qty: l.qty }));
      await renderLines();
    } catch (err) { showProblem(form, err); }
  }));

  const body = () => {
    const b = { priority: prio.value, lines: lines.map((l) => ({ sku: l.sku, qty: Number(l.qty) })), include_affected_warehouses: incl.checked };
    if (neededBy.value) b.needed_by = new Date(neededBy.value).toISOString();
    return b;
  };

  prevBtn.addEventListener('click', () => busy(prevBtn, async () => {
    clearProblems(form);
    try {
      const plan = await post('/allocation/preview', { incident_id: incSel.value, ...body() });
      await showPlan(out, plan, inc());
    } catch (err) { showProblem(form, err); }
  }));
  resBtn.addEventListener('click', () => busy(resBtn, async () => {
    clearProblems(form);
    try {
      const req = await post(`/incidents/${incSel.value}/requests`, body());
      toast(t('reserved_ok', { status: req.status }));
      await showPlan(out, req, inc());
      out.append(requestCard(req, () => {}));
    } catch (err) { showProblem(form, err); }
  }));
}

/** Draws each source warehouse's route to the incident, and lists picks and skips. */
async function showPlan(out, plan, incident) {
  const whs = await store.warehouses();
  const byCode = Object.fromEntries(whs.map((w) => [w.code, w]));
  S.layers.routes?.clearLayers();
  const sources = new Map();
  for (const line of plan.lines || []) {
    for (const p of line.picks || []) {
      const s = sources.get(p.warehouse_code) || { eta: p.eta_minutes, km: p.distance_km, qty: 0 };
      s.qty += p.qty;
      sources.set(p.warehouse_code, s);
    }
  }
  const drawn = [];
  await Promise.all([...sources.entries()].map(async ([code, s]) => {
    const w = byCode[code];
    if (!w || !incident) return;
    let latlngs = [[w.lat, w.lon], [incident.point.lat, incident.point.lon]];
    let dashed = true;
    try {
      const r = await get('/routes', { from: `${w.lat},${w.lon}`, to: `${incident.point.lat},${incident.point.lon}` });
      if (r.path?.coordinates?.length) { latlngs = r.path.coordinates.map(([lon, lat]) => [lat, lon]); dashed = false; }
    } catch { /* straight line, dashed, when the route service is unavailable */ }
    if (S.layers.routes) {
      const line = L.polyline(latlngs, { color: '#2f855a', weight: 5, opacity: 0.9, dashArray: dashed ? '2 8' : null, className: `route route-${code}` })
        .bindTooltip(`${code} → ${Math.round(s.eta)} min · ${qty(s.qty)}`, { permanent: true, direction: 'center', className: 'eta-label' })
        .addTo(S.layers.routes);
      drawn.push(line);
    }
  }));
  if (drawn.length && S.map) S.map.fitBounds(L.featureGroup(drawn).getBounds().pad(0.2), { animate: false });
  const itemName = Object.fromEntries((await store.items()).map((i) => [i.sku, nameOf(i)]));
  out.replaceChildren(
    h('p', {}, `${t('plan_status')}: `, h('strong', { id: 'plan-status', 'data-status': plan.status }, tv('rs', plan.status))),
    h('h3', {}, t('picks')),
    table(['item', 'warehouse', 'lot_code', 'expires_on', { label: 'qty', cls: 'num' }, { label: 'eta', cls: 'num' }, { label: 'distance', cls: 'num' }, 'late'],
      (plan.lines || []).flatMap((l) => [
        ...(l.picks || []).map((p) => h('tr', { class: 'pick' }, h('td', {}, itemName[l.sku] || l.sku), h('td', {}, p.warehouse_code), h('td', {}, p.lot_code),
          h('td', {}, p.expires_on || '—'), h('td', { class: 'num' }, qty(p.qty)), h('td', { class: 'num' }, Math.round(p.eta_minutes)),
          h('td', { class: 'num' }, p.distance_km === null || p.distance_km === undefined ? '' : p.distance_km.toFixed(1)), h('td', {}, p.late ? `⚠ ${t('late')}` : ''))),
        l.shortfall ? h('tr', { class: 'expired' }, h('td', {}, itemName[l.sku] || l.sku), h('td', { colspan: 3 }, `${t('shortfall')}`), h('td', { class: 'num' }, qty(l.shortfall)), h('td', { colspan: 3 })) : null,
      ]), { cls: 'picks' }),
    h('h3', {}, t('explanation')),
    table(['item', 'warehouse', 'reason', { label: 'eta', cls: 'num' }, { label: 'available', cls: 'num' }],
      (plan.lines || []).flatMap((l) => (Array.isArray(l.explanation) ? l.explanation : []).map((x) => h('tr', {},
        h('td', {}, itemName[l.sku] || l.sku), h('td', {}, x.warehouse_code), h('td', {}, String(x.reason).replaceAll('_', ' ')),
        h('td', { class: 'num' }, x.eta_minutes === null || x.eta_minutes === undefined ? '—' : Math.round(x.eta_minutes)), h('td', { class: 'num' }, qty(x.available))))), { cls: 'explanation' }));
}

/** A request with its lifecycle buttons: dispatch, deliver (per shipment), cancel, replan. */
export function requestCard(req, onChange) {
  const box = h('div', { class: 'card request', 'data-request': req.id });
  const render = (r) => {
    const dispatch = h('button', { type: 'button', id: `rq-dispatch-${r.id}` }, t('dispatch'));
    const cancel = h('button', { type: 'button', class: 'danger', id: `rq-cancel-${r.id}` }, t('cancel'));
    const replan = h('button', { type: 'button', class: 'secondary', id: `rq-replan-${r.id}` }, t('replan'));
    const act = (btn, path, okKey) => btn.addEventListener('click', () => busy(btn, async () => {
      try {
        const res = await post(`/requests/${r.id}/${path}`, {});
        const fresh = res?.id ? res : await get(`/requests/${r.id}`);
        render(fresh.lines ? fresh : await get(`/requests/${r.id}`));
        showOk(box, t(okKey));
        onChange?.();
      } catch (err) { showProblem(box, err); }
    }));
    act(dispatch, 'dispatch', 'dispatched'); act(cancel, 'cancel', 'cancelled'); act(replan, 'replan', 'done');
    const ships = (r.shipments || []).map((s) => {
      const head = `${s.warehouse_code} · ${tv('rs', s.status)} · `;
      if (s.status === 'delivered') {
        return h('li', {}, head, s.lines.map((l) => `${l.sku} ${qty(l.received_qty)}/${qty(l.qty)}`).join(', '),
          s.delivery_note ? ` · ${s.delivery_note}` : '');
      }
      // What arrived, per lot (prefilled with what was shipped), and a note that the
      // service requires when anything is missing.
      const got = s.lines.map((l) => h('input', { type: 'number', class: 'num', min: 0, max: l.qty, step: 1, value: l.qty,
        id: `sh-recv-${s.id}-${l.lot_id}`, 'aria-label': `${t('received_qty')} ${l.sku} ${l.lot_code}` }));
      const note = h('input', { type: 'text', id: `sh-note-${s.id}`, maxlength: 1000, size: 40, placeholder: t('delivery_note'), 'aria-label': t('delivery_note') });
      const dl = h('button', { type: 'button', class: 'secondary', id: `sh-deliver-${s.id}` }, t('deliver'));
      dl.addEventListener('click', () => busy(dl, async () => {
        try {
          const lines = s.lines.map((l, i) => ({ lot_id: l.lot_id, received_qty: got[i].value === '' ? null : Number(got[i].value) }));
          await post(`/shipments/${s.id}/deliver`, { lines, note: note.value.trim() || null });
          render(await get(`/requests/${r.id}`));
          showOk(box, t('delivered'));
        } catch (err) { showProblem(box, err); }
      }));
      return h('li', {}, head,
        h('ul', {}, s.lines.map((l, i) => h('li', {}, `${l.sku} ${l.lot_code} · ${t('shipped')} ${qty(l.qty)} · ${t('received_qty')} `, got[i]))),
        note, ' ', dl);
    });
    box.replaceChildren(
      h('h3', {}, `${t('request')} ${String(r.id).slice(-8)} · `, h('span', { class: 'rq-status', 'data-status': r.status }, tv('rs', r.status)), ` · ${tv('prio', r.priority)}`),
      table(['sku', { label: 'requested', cls: 'num' }, { label: 'reserved', cls: 'num' }, { label: 'shortfall', cls: 'num' }],
        (r.lines || []).map((l) => h('tr', {}, h('td', {}, l.sku), h('td', { class: 'num' }, qty(l.requested)), h('td', { class: 'num' }, qty(l.reserved)), h('td', { class: 'num' }, qty(l.shortfall))))),
      ships.length ? h('div', {}, h('h4', {}, t('shipments')), h('ul', {}, ships)) : null,
      h('p', {}, ['reserved', 'partially_reserved'].includes(r.status) ? [dispatch, ' '] : null,
        ['reserved', 'partially_reserved', 'unfilled'].includes(r.status) ? [cancel, ' ', replan] : null));
  };
  render(req);
  return box;
}

// ---------------------------------------------------------------- requests list

export async function requests(v) {
  const status = select(['', 'reserved', 'partially_reserved', 'unfilled', 'dispatched', 'delivered', 'cancelled'].map((s) => ({ value: s, label: s ? tv('rs', s) : t('all') })), { id: 'rq-status', name: 'status' });
  const out = h('div', { id: 'rq-list' });
  const detail = h('div', { id: 'rq-detail' });
  // A receiving team may hold only a shipment id (from the waybill): find its request.
  const shipment = input({ id: 'rq-shipment', name: 'shipment' });
  const find = h('button', { type: 'submit', class: 'secondary', id: 'rq-find' }, t('find_shipment'));
  const form = h('form', { class: 'card' }, h('div', { class: 'row' }, field('status', status, { pointer: 'status' }),
    field('shipment_id', shipment, { pointer: 'id' }), find));
  v.append(h('h1', {}, t('requests_title')), form, h('div', { class: 'split' }, out, detail));
  status.addEventListener('change', load);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(find, async () => {
      clearProblems(form);
      try {
        const s = await get(`/shipments/${encodeURIComponent(shipment.value.trim())}`);
        detail.replaceChildren(requestCard(await get(`/requests/${s.request_id}`), load));
      } catch (err) { showProblem(form, err); }
    });
  });
  async function load() {
    out.replaceChildren(loading());
    try {
      const list = await getAll('/requests', { status: status.value }, 500);
      const incidents = Object.fromEntries((await getAll('/incidents', {}, 500).catch(() => [])).map((i) => [i.id, i.name]));
      if (!list.length) { out.replaceChildren(h('p', { class: 'muted' }, t('none_found'))); return; }
      out.replaceChildren(table(['incident', 'priority', 'status', 'time', ''], list.map((r) => {
        const open = h('button', { type: 'button', class: 'secondary' }, t('view'));
        open.addEventListener('click', () => busy(open, async () => {
          try { detail.replaceChildren(requestCard(await get(`/requests/${r.id}`), load)); } catch (err) { showProblem(detail, err); }
        }));
        return h('tr', {}, h('td', {}, incidents[r.incident_id] || r.incident_id), h('td', {}, tv('prio', r.priority)), h('td', {}, tv('rs', r.status)),
          h('td', {}, new Date(r.created_at).toLocaleString()), h('td', {}, open));
      })));
    } catch (err) { out.replaceChildren(); showProblem(out, err); }
  }
  await load();
}
