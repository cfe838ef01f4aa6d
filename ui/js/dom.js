// Small DOM helpers: element builder, labelled fields, problem display, spinners.
import { t } from './i18n.js';

let uid = 0;

/** Builds an element: h('div', {class: 'x', onclick: fn}, child, 'text', [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/**
 * A labelled input: field(labelKey, inputElement, {pointer}). The input gets an id tied to
 * its label, and `data-pointer` names the JSON pointer of the API field it feeds, so that
 * problem+json errors land next to it.
 */
export function field(label, input, { pointer, cls } = {}) {
  if (!input.id) input.id = `f${++uid}`;
  if (pointer) input.dataset.pointer = pointer;
  const isCheck = input.type === 'checkbox';
  const lab = h('label', { for: input.id }, t(label));
  return h('div', { class: `field${isCheck ? ' check' : ''}${cls ? ` ${cls}` : ''}` },
    isCheck ? [input, lab] : [lab, input]);
}

export function input(attrs = {}) { return h('input', { type: 'text', ...attrs }); }

export function select(options, attrs = {}) {
  const s = h('select', attrs);
  for (const o of options) {
    const opt = h('option', { value: o.value }, o.label);
    if (attrs.value !== undefined && String(attrs.value) === String(o.value)) opt.selected = true;
    s.append(opt);
  }
  return s;
}

/** Removes the error marks that showProblem left in `root`. */
export function clearProblems(root) {
  root.querySelectorAll('.field-error, .form-error, .form-ok').forEach((e) => e.remove());
  root.querySelectorAll('[aria-invalid="true"]').forEach((e) => {
    e.removeAttribute('aria-invalid');
    e.removeAttribute('aria-describedby');
  });
}

function findField(root, pointer) {
  const all = [...root.querySelectorAll('[data-pointer]')];
  const exact = all.find((e) => e.dataset.pointer === pointer);
  if (exact) return exact;
  // Fall back to the last segment: `/lines/0/qty` → a field whose pointer ends in `/qty`,
  // or a query parameter name such as `from`.
  const last = pointer.split('/').filter(Boolean).pop();
  // An element of a list (`/gtins/1`) lands on the list's field (`/gtins`).
  const parent = all.find((e) => e.dataset.pointer.startsWith('/') && pointer.startsWith(`${e.dataset.pointer}/`));
  if (parent) return parent;
  return all.find((e) => e.dataset.pointer.split('/').pop() === last)
    || root.querySelector(`[name="${CSS.escape(last || pointer)}"]`);
}

/**
 * Shows an API error in `root`: each `errors[]` entry next to the field its pointer names,
 * and the problem's `detail` at the top of the form (or `at`).
 */
export function showProblem(root, err, at) {
  clearProblems(root);
  const problem = err?.problem || { detail: String(err?.message || err) };
  const box = h('div', { class: 'form-error', role: 'alert' },
    err?.status ? `${err.status} · ` : '', problem.detail || problem.title || t('error'));
  (at || root).prepend(box);
  for (const e of problem.errors || []) {
    const target = findField(root, e.pointer || '');
    if (!target) {
      box.append(h('div', {}, `${e.pointer}: ${e.detail}`));
      continue;
    }
    const id = `${target.id || 'x'}-err`;
    target.setAttribute('aria-invalid', 'true');
    target.setAttribute('aria-describedby', id);
    const msg = h('p', { class: 'field-error', id, role: 'alert' }, e.detail);
    (target.closest('.field') || target).append(msg);
  }
}

export function showOk(root, text, at) {
  clearProblems(root);
  (at || root).prepend(h('div', { class: 'form-ok', role: 'status' }, text));
}

/** Runs `fn` with `button` disabled and a spinner in it; returns fn's result. */
export async function busy(button, fn) {
  const old = [...button.childNodes];
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.prepend(h('span', { class: 'spinner', 'aria-hidden': 'true' }));
  try {
    return await fn();
  } finally {
    button.replaceChildren(...old);
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

export function toast(text) {
  const el = document.getElementById('toast');
  el.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.textContent = ''; }, 4000);
}

export function table(headers, rows, { caption, cls } = {}) {
  return h('table', { class: cls },
    caption ? h('caption', { class: 'muted' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => (typeof x === 'string'
      ? h('th', { scope: 'col' }, t(x)) : h('th', { scope: 'col', class: x.cls }, t(x.label)))))),
    h('tbody', {}, rows));
}

/** A loading placeholder with a spinner. */
export function loading() {
  return h('p', { class: 'muted', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('loading'));
}

/** Formats an integer quantity with thousands separators. */
export function qty(n) {
  return n === null || n === undefined ? '' : Number(n).toLocaleString();
}
