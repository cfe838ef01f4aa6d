// The console shell: sign-in, language switch, role-aware navigation and a hash router.
import { api, session, setUnauthorizedHandler } from './api.js';
import { h, field, input, showProblem, busy } from './dom.js';
import { t, lang, setLang, translateStatic } from './i18n.js';
import * as store from './store.js';
import * as clerk from './clerk.js';
import * as dispatch from './dispatch.js';
import * as audit from './audit.js';
import * as imports from './imports.js';
import * as masterdata from './masterdata.js';
import * as users from './users.js';
import * as network from './network.js';
import * as operations from './operations.js';

/** The reserve screens load on first visit: the first screen does not need them. */
const reserve = (name) => async (v) => (await import('./reserve.js'))[name](v);

const C = 'clerk'; const D = 'dispatcher'; const A = 'auditor'; const ADM = 'admin';

/** Every screen: hash, nav label, the roles that see it, and its renderer. */
const ROUTES = [
  { path: 'stock', label: 'nav_stock', roles: [C, D, A, ADM], render: clerk.stock },
  { path: 'expiry', label: 'nav_expiry', roles: [C, A, ADM], render: clerk.expiry },
  { path: 'alerts', label: 'nav_alerts', roles: [C, D, A, ADM], render: clerk.alerts },
  { path: 'receive', label: 'nav_receive', roles: [C], render: clerk.receive },
  { path: 'issue', label: 'nav_issue', roles: [C], render: clerk.issue },
  { path: 'transfers', label: 'nav_transfers', roles: [C], render: clerk.transfers },
  { path: 'adjust', label: 'nav_adjust', roles: [C], render: clerk.adjust },
  { path: 'quarantine', label: 'nav_quarantine', roles: [C], render: clerk.quarantine },
  { path: 'counts', label: 'nav_counts', roles: [C], render: clerk.counts },
  { path: 'map', label: 'nav_map', roles: [D, ADM], render: dispatch.mapScreen },
  { path: 'operations', label: 'nav_operations', roles: [D, ADM], render: operations.operationsScreen },
  { path: 'reserves', label: 'nav_reserves', roles: [ADM], render: clerk.reserveLevels },
  { path: 'readiness', label: 'nav_readiness', roles: [D, A, ADM], render: reserve('readiness') },
  { path: 'rotation', label: 'nav_rotation', roles: [C, A, ADM], render: reserve('rotation') },
  { path: 'items', label: 'nav_items', roles: [ADM], render: masterdata.itemsScreen },
  { path: 'warehouses', label: 'nav_warehouses', roles: [ADM], render: masterdata.warehousesScreen },
  { path: 'import', label: 'nav_import', roles: [ADM], render: imports.importScreen },
  { path: 'network', label: 'nav_network', roles: [ADM], render: network.networkScreen },
  { path: 'users', label: 'nav_users', roles: [ADM], render: users.usersScreen },
  { path: 'requests', label: 'nav_requests', roles: [D, A, ADM], render: dispatch.requests },
  { path: 'audit', label: 'nav_audit', roles: [A, ADM], render: audit.events },
  { path: 'movements', label: 'nav_movements', roles: [C, A, ADM], render: audit.movements },
  { path: 'exports', label: 'nav_exports', roles: [A, ADM], render: audit.exportsScreen },
  { path: 'asof', label: 'nav_asof', roles: [A, ADM], render: audit.asOf },
];

const HOME = { clerk: 'stock', dispatcher: 'map', auditor: 'audit', admin: 'map' };

const view = () => document.getElementById('view');

function currentPath() {
  return (location.hash.replace(/^#\/?/, '').split('?')[0]) || '';
}

function renderNav() {
  const nav = document.getElementById('nav');
  const user = session.user();
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  nav.replaceChildren();
  if (!user) { who.textContent = ''; out.hidden = true; return; }
  const here = currentPath();
  for (const r of ROUTES.filter((x) => x.roles.includes(user.role))) {
    nav.append(h('a', { href: `#/${r.path}`, 'aria-current': here === r.path ? 'page' : null, 'data-route': r.path }, t(r.label)));
  }
  who.textContent = t('signed_in_as', { name: user.display_name || user.username, role: t(`role_${user.role}`) });
  out.hidden = false;
}

async function route() {
  translateStatic();
  const user = session.user();
  const path = currentPath();
  renderNav();
  const v = view();
  if (!user) { renderSignIn(v); return; }
  if (!path || path === 'signin') { location.hash = `#/${HOME[user.role] || 'stock'}`; return; }
  const r = ROUTES.find((x) => x.path === path);
  v.replaceChildren();
  if (!r) { v.append(h('p', { role: 'alert' }, t('not_found'))); return; }
  if (!r.roles.includes(user.role)) { v.append(h('p', { role: 'alert', class: 'form-error' }, t('not_allowed'))); return; }
  document.title = `${t(r.label)} · Stockpile`;
  try {
    await r.render(v);
  } catch (e) {
    showProblem(v, e);
  }
}

function renderSignIn(v) {
  document.title = `${t('sign_in')} · Stockpile`;
  const u = input({ name: 'username', autocomplete: 'username', required: true });
  const p = input({ name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', id: 'signin-submit' }, t('sign_in'));
  const form = h('form', { class: 'card signin', id: 'signin-form' },
    h('h1', {}, t('sign_in')),
    field('username', u, { pointer: '/username' }),
    field('password', p, { pointer: '/password' }),
    h('p', {}, btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(btn, async () => {
      try {
        const res = await api('POST', '/auth/login', { body: { username: u.value.trim(), password: p.value } });
        session.set({ token: res.token, expires_at: res.expires_at, user: res.user });
        store.reset();
        location.hash = `#/${HOME[res.user.role] || 'stock'}`;
        route();
      } catch (err) {
        showProblem(form, err, form.querySelector('h1').nextSibling);
      }
    });
  });
  v.replaceChildren(form);
  u.focus();
}

async function signOut() {
  try { await api('POST', '/auth/logout', {}); } catch { /* the token may already be gone */ }
  session.clear();
  store.reset();
  location.hash = '#/signin';
  route();
}

setUnauthorizedHandler(() => {
  session.clear();
  store.reset();
  if (currentPath() !== 'signin') location.hash = '#/signin';
});

// Uncaught errors are kept for the browser tests (and shown, so a user can report them).
window.stockpileErrors = [];
window.addEventListener('error', (e) => { window.stockpileErrors.push(String(e.message)); });
window.addEventListener('unhandledrejection', (e) => { window.stockpileErrors.push(String(e.reason?.message || e.reason)); });

function init() {
  const sel = document.getElementById('lang');
  sel.value = lang();
  sel.addEventListener('change', () => { setLang(sel.value); route(); });
  document.getElementById('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', route);
  route();
}

init();
