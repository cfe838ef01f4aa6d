// Dispatcher screens (filled in next).
import { h } from './dom.js';
export async function mapScreen(v) { v.append(h('h1', {}, 'Map')); }
export async function requests(v) { v.append(h('h1', {}, 'Requests')); }
