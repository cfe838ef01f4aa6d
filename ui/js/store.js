// Reference data shared by the screens (catalogue, warehouses, categories), loaded once
// per sign-in, and the signed-in user's scope.
import { get, getAll, session } from './api.js';
import { nameOf } from './i18n.js';

const cache = {};

export async function items() {
  cache.items ||= getAll('/items', {}, 5000);
  return cache.items;
}
export async function warehouses() {
  cache.warehouses ||= getAll('/warehouses', {}, 5000);
  return cache.warehouses;
}
export async function categories() {
  cache.categories ||= get('/categories').then((r) => (Array.isArray(r) ? r : r.items || []));
  return cache.categories;
}
export function reset() { for (const k of Object.keys(cache)) delete cache[k]; }

/** The warehouses the user works in: a clerk's own, everyone else's all. */
export async function myWarehouses() {
  const all = await warehouses();
  const user = session.user();
  if (user?.role === 'clerk' && Array.isArray(user.warehouses) && user.warehouses.length) {
    const mine = new Set(user.warehouses.map((w) => (typeof w === 'string' ? w : w.code)));
    return all.filter((w) => mine.has(w.code));
  }
  return all;
}

export function role() { return session.user()?.role || null; }

/** Options for a warehouse <select>, names in the current language. */
export function warehouseOptions(list) {
  return list.map((w) => ({ value: w.code, label: `${w.code} · ${nameOf(w)}` }));
}
export function itemOptions(list) {
  return list.map((i) => ({ value: i.sku, label: `${nameOf(i)} (${i.sku})` }));
}
