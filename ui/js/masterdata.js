// Admin: the catalogue's items and the network's warehouses — list, create, edit, and
// retire or reactivate an item. Every error of the API shows beside its field.
import { post, patch, getAll } from './api.js';
import { h, field, input, select, showProblem, showOk, busy, table, loading } from './dom.js';
import { t, nameOf } from './i18n.js';
import * as store from './store.js';

const num = (v) => (v === '' || v === null || v === undefined ? null : Number(v));
const blankNull = (v) => (v.trim() === '' ? null : v.trim());

// ---------------------------------------------------------------- items

export async function itemsScreen(v) {
  const cats = await store.categories();
  const f = {
    sku: input({ name: 'sku', id: 'it-sku', required: true }),
    name_zh: input({ name: 'name_zh', id: 'it-name-zh', required: true }),
    name_en: input({ name: 'name_en', id: 'it-name-en', required: true }),
    category_code: select(cats.map((c) => ({ value: c.code, label: `${c.code} · ${nameOf(c)}` })), { name: 'category_code', id: 'it-category' }),
    unit_zh: input({ name: 'unit_zh', id: 'it-unit-zh', required: true }),
    unit_en: input({ name: 'unit_en', id: 'it-unit-en', required: true }),
    spec: input({ name: 'spec', id: 'it-spec' }),
    gtins: input({ name: 'gtins', id: 'it-gtins', placeholder: '06975301011120; 6975301011212' }),
    shelf_life_days: input({ type: 'number', name: 'shelf_life_days', id: 'it-life', class: 'num' }),
    min_remaining_days: input({ type: 'number', name: 'min_remaining_days', id: 'it-min', class: 'num', value: 0 }),
    alert_days: input({ type: 'number', name: 'alert_days', id: 'it-alert', class: 'num', value: 0 }),
    storage_class: select(['ambient', 'cool', 'frozen'].map((s) => ({ value: s, label: t(`sc_${s}`) })), { name: 'storage_class', id: 'it-storage' }),
  };
  const save = h('button', { type: 'submit', id: 'it-save' }, t('save'));
  const fresh = h('button', { type: 'button', id: 'it-new', class: 'secondary' }, t('md_new'));
  const heading = h('h2', { id: 'it-form-title' }, t('md_new_item'));
  const form = h('form', { class: 'card', id: 'item-form' }, heading,
    h('div', { class: 'row' }, field('sku', f.sku, { pointer: '/sku' }), field('name_zh', f.name_zh, { pointer: '/name_zh' }),
      field('name_en', f.name_en, { pointer: '/name_en' }), field('category', f.category_code, { pointer: '/category_code' })),
    h('div', { class: 'row' }, field('unit_zh', f.unit_zh, { pointer: '/unit_zh' }), field('unit_en', f.unit_en, { pointer: '/unit_en' }),
      field('spec', f.spec, { pointer: '/spec' }), field('gtins', f.gtins, { pointer: '/gtins' })),
    h('div', { class: 'row' }, field('shelf_life_days', f.shelf_life_days, { pointer: '/shelf_life_days' }),
      field('min_remaining_days', f.min_remaining_days, { pointer: '/min_remaining_days' }),
      field('alert_days', f.alert_days, { pointer: '/alert_days' }), field('storage_class', f.storage_class, { pointer: '/storage_class' }),
      save, fresh));
  const list = h('div', { id: 'items-table' });
  v.append(h('h1', {}, t('md_items_title')), h('p', { class: 'muted' }, t('md_items_help')), form, list);
  let editing = null;

  function edit(item) {
    editing = item;
    heading.textContent = item ? t('md_edit_item', { sku: item.sku }) : t('md_new_item');
    f.sku.value = item?.sku || '';
    f.sku.readOnly = Boolean(item);
    for (const k of ['name_zh', 'name_en', 'unit_zh', 'unit_en', 'spec']) f[k].value = item?.[k] || '';
    f.category_code.value = item?.category_code || cats[0]?.code || '';
    f.gtins.value = (item?.gtins || []).join('; ');
    f.shelf_life_days.value = item?.shelf_life_days ?? '';
    f.min_remaining_days.value = item?.min_remaining_days ?? 0;
    f.alert_days.value = item?.alert_days ?? 0;
    f.storage_class.value = item?.storage_class || 'ambient';
    (item ? f.name_zh : f.sku).focus();
  }

  async function load() {
    list.replaceChildren(loading());
    const all = await getAll('/items', {}, 5000);
    list.replaceChildren(table(['sku', 'item', 'category', 'gtins', { label: 'shelf_life_days', cls: 'num' }, 'status', ''],
      all.map((i) => {
        const editBtn = h('button', { type: 'button', class: 'secondary', 'data-edit': i.sku }, t('edit'));
        editBtn.addEventListener('click', () => edit(i));
        const retired = i.status === 'retired';
        const toggle = h('button', { type: 'button', class: 'secondary', 'data-toggle': i.sku }, t(retired ? 'md_reactivate' : 'md_retire'));
        toggle.addEventListener('click', () => busy(toggle, async () => {
          try {
            await post(`/items/${encodeURIComponent(i.sku)}/${retired ? 'reactivate' : 'retire'}`, {});
            store.reset();
            showOk(form, t(retired ? 'md_reactivated' : 'md_retired', { sku: i.sku }));
            await load();
          } catch (err) { showProblem(form, err); }
        }));
        return h('tr', { class: retired ? 'muted' : '', 'data-sku': i.sku }, h('td', {}, i.sku), h('td', {}, nameOf(i)), h('td', {}, i.category_code),
          h('td', {}, (i.gtins || []).join(' ')), h('td', { class: 'num' }, i.shelf_life_days ?? '—'),
          h('td', {}, t(`md_status_${i.status || 'active'}`)), h('td', {}, editBtn, ' ', toggle));
      }), { cls: 'items' }));
  }

  fresh.addEventListener('click', () => edit(null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      const body = {
        name_zh: f.name_zh.value.trim(), name_en: f.name_en.value.trim(), category_code: f.category_code.value,
        unit_zh: f.unit_zh.value.trim(), unit_en: f.unit_en.value.trim(), spec: blankNull(f.spec.value),
        gtins: f.gtins.value.split(/[;,\s]+/).filter(Boolean), shelf_life_days: num(f.shelf_life_days.value),
        min_remaining_days: num(f.min_remaining_days.value) ?? 0, alert_days: num(f.alert_days.value) ?? 0,
        storage_class: f.storage_class.value,
      };
      try {
        const out = editing
          ? await patch(`/items/${encodeURIComponent(editing.sku)}`, body)
          : await post('/items', { sku: f.sku.value.trim(), ...body, spec: body.spec ?? undefined, shelf_life_days: body.shelf_life_days ?? undefined });
        store.reset();
        showOk(form, t('md_saved', { code: out.sku }));
        edit(out);
        await load();
      } catch (err) { showProblem(form, err); }
    });
  });
  edit(null);
  await load();
}

// ---------------------------------------------------------------- warehouses

const TIERS = ['regional_centre', 'city', 'district', 'community', 'agreement'];

export async function warehousesScreen(v) {
  const all = await getAll('/warehouses', {}, 5000);
  const f = {
    code: input({ name: 'code', id: 'wh-code', required: true }),
    name_zh: input({ name: 'name_zh', id: 'wh-name-zh', required: true }),
    name_en: input({ name: 'name_en', id: 'wh-name-en', required: true }),
    city: input({ name: 'city', id: 'wh-city', required: true }),
    district: input({ name: 'district', id: 'wh-district' }),
    tier: select(TIERS.map((x) => ({ value: x, label: t(`tier_${x}`) })), { name: 'tier', id: 'wh-tier' }),
    lat: input({ type: 'number', step: 'any', name: 'lat', id: 'wh-lat', class: 'num', required: true }),
    lon: input({ type: 'number', step: 'any', name: 'lon', id: 'wh-lon', class: 'num', required: true }),
    outside: h('input', { type: 'checkbox', name: 'outside_service_area', id: 'wh-outside' }),
    handling_minutes: input({ type: 'number', name: 'handling_minutes', id: 'wh-handling', class: 'num', value: 30 }),
    status: select([{ value: 'active', label: t('md_status_active') }, { value: 'inactive', label: t('md_status_inactive') }], { name: 'status', id: 'wh-status' }),
    parent: select([{ value: '', label: t('none') }, ...store.warehouseOptions(all)], { name: 'parent', id: 'wh-parent' }),
  };
  const save = h('button', { type: 'submit', id: 'wh-save' }, t('save'));
  const fresh = h('button', { type: 'button', id: 'wh-new', class: 'secondary' }, t('md_new'));
  const heading = h('h2', { id: 'wh-form-title' }, t('md_new_warehouse'));
  const form = h('form', { class: 'card', id: 'warehouse-form' }, heading,
    h('div', { class: 'row' }, field('code', f.code, { pointer: '/code' }), field('name_zh', f.name_zh, { pointer: '/name_zh' }),
      field('name_en', f.name_en, { pointer: '/name_en' }), field('city', f.city, { pointer: '/city' }), field('district', f.district, { pointer: '/district' })),
    h('div', { class: 'row' }, field('tier', f.tier, { pointer: '/tier' }), field('lat', f.lat, { pointer: '/lat' }), field('lon', f.lon, { pointer: '/lon' }),
      field('outside_service_area', f.outside, { pointer: '/outside_service_area' })),
    h('div', { class: 'row' }, field('handling_minutes', f.handling_minutes, { pointer: '/handling_minutes' }),
      field('status', f.status, { pointer: '/status' }), field('parent', f.parent, { pointer: '/parent' }), save, fresh));
  const list = h('div', { id: 'warehouses-table' });
  v.append(h('h1', {}, t('md_warehouses_title')), h('p', { class: 'muted' }, t('md_warehouses_help')), form, list);
  let editing = null;

  function edit(w) {
    editing = w;
    heading.textContent = w ? t('md_edit_warehouse', { code: w.code }) : t('md_new_warehouse');
    f.code.value = w?.code || '';
    f.code.readOnly = Boolean(w);
    for (const k of ['name_zh', 'name_en', 'city', 'district']) f[k].value = w?.[k] || '';
    f.tier.value = w?.tier || 'community';
    f.lat.value = w?.lat ?? '';
    f.lon.value = w?.lon ?? '';
    f.outside.checked = false;
    f.handling_minutes.value = w?.handling_minutes ?? 30;
    f.status.value = w?.status || 'active';
    f.parent.value = w?.parent || '';
  }

  async function load() {
    list.replaceChildren(loading());
    const rows = await getAll('/warehouses', {}, 5000);
    list.replaceChildren(table(['code', 'warehouse', 'city', 'tier', 'lat', 'lon', 'parent', 'status', ''],
      rows.map((w) => {
        const editBtn = h('button', { type: 'button', class: 'secondary', 'data-edit': w.code }, t('edit'));
        editBtn.addEventListener('click', () => edit(w));
        return h('tr', { class: w.status === 'inactive' ? 'muted' : '', 'data-code': w.code }, h('td', {}, w.code), h('td', {}, nameOf(w)),
          h('td', {}, w.city), h('td', {}, t(`tier_${w.tier}`)), h('td', { class: 'num' }, w.lat), h('td', { class: 'num' }, w.lon),
          h('td', {}, w.parent || '—'), h('td', {}, t(`md_status_${w.status}`)), h('td', {}, editBtn));
      }), { cls: 'warehouses' }));
  }

  fresh.addEventListener('click', () => edit(null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      const body = {
        name_zh: f.name_zh.value.trim(), name_en: f.name_en.value.trim(), city: f.city.value.trim(),
        district: blankNull(f.district.value), tier: f.tier.value, lat: num(f.lat.value), lon: num(f.lon.value),
        outside_service_area: f.outside.checked || undefined, handling_minutes: num(f.handling_minutes.value) ?? 30,
        status: f.status.value, parent: f.parent.value || null,
      };
      try {
        const out = editing
          ? await patch(`/warehouses/${encodeURIComponent(editing.code)}`, body)
          : await post('/warehouses', { code: f.code.value.trim(), ...body, district: body.district ?? undefined, parent: body.parent ?? undefined });
        store.reset();
        showOk(form, t('md_saved', { code: out.code }));
        edit(out);
        await load();
      } catch (err) { showProblem(form, err); }
    });
  });
  edit(null);
  await load();
}
