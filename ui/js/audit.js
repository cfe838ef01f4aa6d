// Auditor screens (filled in next).
import { h } from './dom.js';
export async function events(v) { v.append(h('h1', {}, 'Audit')); }
export async function exportsScreen(v) { v.append(h('h1', {}, 'Exports')); }
export async function asOf(v) { v.append(h('h1', {}, 'As of')); }
