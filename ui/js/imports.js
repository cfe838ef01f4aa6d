// Admin: import a go-live file (opening stock, items, warehouses, reserve levels). The
// file is checked first (a dry run): its bad cells are shown as a table of row, cell,
// column and reason; only a clean file can then be imported, in one request.
import { api } from './api.js';
import { h, field, select, showProblem, showOk, busy, table, loading, qty, clearProblems } from './dom.js';
import { t } from './i18n.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const KINDS = ['opening-stock', 'items', 'warehouses', 'reserve-levels'];

/** Sends the chosen file as the body; returns the report, or throws the problem. */
async function send(file, kind, dryRun) {
  const type = /\.xlsx$/i.test(file.name) ? XLSX : 'text/csv';
  const body = await file.arrayBuffer();
  return api('POST', '/imports', { query: { kind, dry_run: dryRun ? 'true' : undefined }, file: body, fileType: type });
}

function report(r) {
  return h('dl', { class: 'kv', id: 'imp-report' },
    h('dt', {}, t('imp_rows')), h('dd', { id: 'imp-rows' }, qty(r.rows)),
    h('dt', {}, t('imp_created')), h('dd', { id: 'imp-created' }, qty(r.created)),
    h('dt', {}, t('imp_updated')), h('dd', {}, qty(r.updated)),
    h('dt', {}, t('imp_unchanged')), h('dd', {}, qty(r.unchanged)),
    r.total_qty ? [h('dt', {}, t('imp_total_qty')), h('dd', {}, qty(r.total_qty))] : null,
    h('dt', {}, 'SHA-256'), h('dd', {}, h('small', {}, r.sha256)),
    r.replayed ? [h('dt', {}, t('imp_replayed')), h('dd', { id: 'imp-replayed' }, t('imp_replayed_help'))] : null);
}

function cellTable(problem) {
  const cells = Array.isArray(problem.cells) ? problem.cells : [];
  return table([{ label: 'imp_row', cls: 'num' }, 'imp_cell', 'imp_column', 'reason'],
    cells.map((c) => h('tr', {}, h('td', { class: 'num' }, c.row), h('td', {}, c.cell || ''), h('td', {}, c.column), h('td', {}, c.reason))),
    { caption: t('imp_bad_cells', { n: problem.error_count ?? cells.length }), cls: 'imp-errors' });
}

export async function importScreen(v) {
  const kind = select(KINDS.map((k) => ({ value: k, label: t(`imp_kind_${k.replace(/-/g, '_')}`) })), { id: 'imp-kind', name: 'kind' });
  const file = h('input', { type: 'file', id: 'imp-file', name: 'file', accept: '.csv,.xlsx,text/csv', required: true });
  const check = h('button', { type: 'submit', id: 'imp-check' }, t('imp_check'));
  const commit = h('button', { type: 'button', id: 'imp-commit', disabled: true }, t('imp_commit'));
  const form = h('form', { class: 'card', id: 'import-form' }, h('div', { class: 'row' },
    field('imp_kind', kind, { pointer: 'kind' }), field('imp_file', file, { pointer: 'file' }), check, commit));
  const out = h('div', { id: 'imp-result', 'aria-live': 'polite' });
  v.append(h('h1', {}, t('imp_title')), h('p', { class: 'muted' }, t('imp_help')), form, out);
  const reset = () => { commit.disabled = true; out.replaceChildren(); clearProblems(form); };
  kind.addEventListener('change', reset);
  file.addEventListener('change', reset);

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!file.files[0]) return;
    busy(check, async () => {
      reset();
      out.replaceChildren(loading());
      try {
        const r = await send(file.files[0], kind.value, true);
        out.replaceChildren(h('p', { role: 'status', class: 'pill-ok', id: 'imp-clean' }, `✔ ${t('imp_clean')}`), report(r));
        commit.disabled = Boolean(r.replayed);
      } catch (err) {
        out.replaceChildren();
        if (err.problem && Array.isArray(err.problem.cells)) {
          out.append(h('p', { role: 'alert', class: 'form-error' }, err.problem.detail), cellTable(err.problem));
        } else {
          showProblem(form, err);
        }
      }
    });
  });
  commit.addEventListener('click', async () => {
    let done = false;
    await busy(commit, async () => {
      try {
        const r = await send(file.files[0], kind.value, false);
        done = true;
        out.replaceChildren(report(r));
        showOk(form, r.replayed ? t('imp_replayed_help') : t('imp_done', { n: r.rows }));
      } catch (err) { showProblem(form, err); }
    });
    // Imported: another click would only replay it; choose or check a file again.
    commit.disabled = done;
  });
}
