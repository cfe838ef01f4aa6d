// Admin: replace the road network with an uploaded GeoJSON file. A file with problems is
// refused whole (nothing is stored) and every problem is shown as a table row by edge:
// its position in the file, its id, the field and the reason.
import { api, get } from './api.js';
import { h, field, showProblem, showOk, busy, table, loading, qty, clearProblems } from './dom.js';
import { t } from './i18n.js';

function edgeTable(problem) {
  const edges = Array.isArray(problem.edges) ? problem.edges : [];
  return table([{ label: 'net_feature', cls: 'num' }, 'net_edge_id', 'net_field', 'reason'],
    edges.map((e) => h('tr', { 'data-index': e.index ?? '' },
      h('td', { class: 'num' }, e.index ?? '—'), h('td', {}, e.edge_id ?? '—'), h('td', {}, e.field || '—'), h('td', {}, e.reason))),
    { caption: t('net_bad_edges', { n: problem.error_count ?? edges.length }), cls: 'net-errors' });
}

async function summary(out) {
  out.replaceChildren(loading());
  try {
    const net = await get('/network');
    const edges = Array.isArray(net.features) ? net.features : [];
    const noTrucks = edges.filter((e) => e.properties?.trucks_allowed === false).length;
    out.replaceChildren(h('dl', { class: 'kv' },
      h('dt', {}, t('net_edges')), h('dd', { id: 'net-edge-count' }, qty(edges.length)),
      h('dt', {}, t('net_no_trucks')), h('dd', {}, qty(noTrucks))));
  } catch (err) {
    out.replaceChildren();
    showProblem(out, err);
  }
}

export async function networkScreen(v) {
  const file = h('input', { type: 'file', id: 'net-file', name: 'file', accept: '.geojson,.json,application/geo+json,application/json', required: true });
  const upload = h('button', { type: 'submit', id: 'net-upload' }, t('net_upload'));
  const form = h('form', { class: 'card', id: 'network-form' },
    h('div', { class: 'row' }, field('net_file', file, { pointer: 'file' }), upload));
  const current = h('div', { id: 'net-current' });
  const out = h('div', { id: 'net-result', 'aria-live': 'polite' });
  v.append(h('h1', {}, t('net_title')), h('p', { class: 'muted' }, t('net_help')),
    h('h2', {}, t('net_current')), current, form, out);
  file.addEventListener('change', () => { out.replaceChildren(); clearProblems(form); });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!file.files[0]) return;
    busy(upload, async () => {
      clearProblems(form);
      out.replaceChildren(loading());
      try {
        const text = await file.files[0].text();
        const r = await api('PUT', '/network', { file: text, fileType: 'application/json' });
        out.replaceChildren();
        showOk(form, t('net_stored', { version: r.version, edges: qty(r.edge_count), nodes: qty(r.node_count) }));
        await summary(current);
      } catch (err) {
        out.replaceChildren();
        if (err.problem && Array.isArray(err.problem.edges)) {
          out.append(h('p', { role: 'alert', class: 'form-error' }, err.problem.detail), edgeTable(err.problem));
        } else {
          showProblem(form, err);
        }
      }
    });
  });
  await summary(current);
}
