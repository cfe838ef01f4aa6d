// Admin: the users of the console — list, create, edit (display name, role, a clerk's
// warehouses), disable or enable, and reset a password. Disabling a user or resetting the
// password signs the user out everywhere at once (the API revokes the tokens). Every error
// of the API shows beside its field.
import { get, post, patch } from './api.js';
import { h, field, input, select, showProblem, showOk, busy, table, loading } from './dom.js';
import { t } from './i18n.js';
import * as store from './store.js';

const ROLES = ['clerk', 'dispatcher', 'auditor', 'admin'];

/** A random password of 16 characters from an alphabet without look-alikes. */
function randomPassword() {
  const abc = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return Array.from(crypto.getRandomValues(new Uint32Array(16)), (n) => abc[n % abc.length]).join('');
}

/** A password input with a button that fills it with a random password, shown. */
function passwordField(id, name, label) {
  const el = input({ type: 'password', id, name, autocomplete: 'new-password', minlength: 8 });
  const gen = h('button', { type: 'button', class: 'secondary', id: `${id}-generate` }, t('us_generate'));
  gen.addEventListener('click', () => { el.type = 'text'; el.value = randomPassword(); el.focus(); el.select(); });
  return { el, node: h('div', { class: 'row' }, field(label, el, { pointer: '/password' }), gen) };
}

export async function usersScreen(v) {
  const warehouses = await store.warehouses();
  const f = {
    username: input({ name: 'username', id: 'us-username', required: true, autocomplete: 'off' }),
    display_name: input({ name: 'display_name', id: 'us-display' }),
    role: select(ROLES.map((r) => ({ value: r, label: t(`role_${r}`) })), { name: 'role', id: 'us-role' }),
    warehouses: select(store.warehouseOptions(warehouses), { name: 'warehouses', id: 'us-warehouses', multiple: true, size: 6 }),
    active: h('input', { type: 'checkbox', name: 'active', id: 'us-active', checked: true }),
  };
  const initial = passwordField('us-password', 'password', 'us_initial_password');
  const save = h('button', { type: 'submit', id: 'us-save' }, t('save'));
  const fresh = h('button', { type: 'button', id: 'us-new', class: 'secondary' }, t('md_new'));
  const heading = h('h2', { id: 'us-form-title' }, t('us_new'));
  const scopeHelp = h('p', { class: 'muted', id: 'us-scope-help' }, t('us_scope_help'));
  const form = h('form', { class: 'card', id: 'user-form' }, heading,
    h('div', { class: 'row' }, field('username', f.username, { pointer: '/username' }),
      field('us_display_name', f.display_name, { pointer: '/display_name' }),
      field('us_role', f.role, { pointer: '/role' }), field('us_active', f.active, { pointer: '/active' })),
    h('div', { class: 'row' }, field('warehouses', f.warehouses, { pointer: '/warehouses' }), scopeHelp),
    initial.node,
    h('div', { class: 'row' }, save, fresh));

  // Reset password: its own form, shown while a user is being edited.
  const reset = passwordField('us-new-password', 'new_password', 'us_new_password');
  const resetBtn = h('button', { type: 'submit', id: 'us-reset' }, t('us_reset'));
  const resetTitle = h('h2', { id: 'us-reset-title' });
  const resetForm = h('form', { class: 'card', id: 'reset-form', hidden: true }, resetTitle,
    h('p', { class: 'muted' }, t('us_reset_help')), reset.node, h('div', { class: 'row' }, resetBtn));

  const list = h('div', { id: 'users-table' });
  v.append(h('h1', {}, t('us_title')), h('p', { class: 'muted' }, t('us_help')), form, resetForm, list);
  let editing = null;

  const syncScope = () => {
    const clerk = f.role.value === 'clerk';
    f.warehouses.disabled = !clerk;
    if (!clerk) for (const o of f.warehouses.options) o.selected = false;
  };
  f.role.addEventListener('change', syncScope);

  function edit(u) {
    editing = u;
    heading.textContent = u ? t('us_edit', { username: u.username }) : t('us_new');
    f.username.value = u?.username || '';
    f.username.readOnly = Boolean(u);
    f.display_name.value = u?.display_name || '';
    f.role.value = u?.role || 'clerk';
    const mine = new Set(u?.warehouses || []);
    for (const o of f.warehouses.options) o.selected = mine.has(o.value);
    f.active.checked = u ? u.active : true;
    // The password is set on creation; an existing user's is reset in its own form.
    initial.node.hidden = Boolean(u);
    initial.el.required = !u;
    initial.el.value = '';
    initial.el.type = 'password';
    resetForm.hidden = !u;
    resetTitle.textContent = u ? t('us_reset_for', { username: u.username }) : '';
    reset.el.value = '';
    reset.el.type = 'password';
    syncScope();
    (u ? f.display_name : f.username).focus();
  }

  async function load() {
    list.replaceChildren(loading());
    const users = await get('/users');
    const rows = Array.isArray(users) ? users : users.items || [];
    list.replaceChildren(table(['username', 'us_display_name', 'us_role', 'warehouses', 'status', ''],
      rows.map((u) => {
        const editBtn = h('button', { type: 'button', class: 'secondary', 'data-edit': u.username }, t('edit'));
        editBtn.addEventListener('click', () => edit(u));
        const toggle = h('button', { type: 'button', class: 'secondary', 'data-toggle': u.username }, t(u.active ? 'us_disable' : 'us_enable'));
        toggle.addEventListener('click', () => busy(toggle, async () => {
          try {
            const out = await patch(`/users/${encodeURIComponent(u.username)}`, { active: !u.active });
            showOk(form, t(out.active ? 'us_enabled' : 'us_disabled', { username: u.username }));
            if (editing?.username === u.username) edit(out);
            await load();
          } catch (err) { showProblem(form, err); }
        }));
        return h('tr', { class: u.active ? '' : 'muted', 'data-username': u.username }, h('td', {}, u.username),
          h('td', {}, u.display_name), h('td', {}, t(`role_${u.role}`)), h('td', {}, (u.warehouses || []).join(' ') || '—'),
          h('td', {}, t(u.active ? 'us_active_status' : 'us_disabled_status')), h('td', {}, editBtn, ' ', toggle));
      }), { cls: 'users' }));
  }

  fresh.addEventListener('click', () => edit(null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      const role = f.role.value;
      const codes = role === 'clerk' ? [...f.warehouses.selectedOptions].map((o) => o.value) : [];
      const display = f.display_name.value.trim();
      try {
        const out = editing
          ? await patch(`/users/${encodeURIComponent(editing.username)}`, {
            display_name: display || undefined, role, warehouses: codes, active: f.active.checked,
          })
          : await post('/users', {
            username: f.username.value.trim(), display_name: display || undefined, role,
            warehouses: codes, active: f.active.checked, password: initial.el.value,
          });
        showOk(form, t('us_saved', { username: out.username }));
        edit(out);
        await load();
      } catch (err) { showProblem(form, err); }
    });
  });
  resetForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!editing) return;
    busy(resetBtn, async () => {
      try {
        await patch(`/users/${encodeURIComponent(editing.username)}`, { password: reset.el.value });
        showOk(resetForm, t('us_reset_done', { username: editing.username }));
        reset.el.value = '';
        reset.el.type = 'password';
      } catch (err) { showProblem(resetForm, err); }
    });
  });
  edit(null);
  await load();
}
