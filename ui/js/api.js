// The API client: bearer token from sessionStorage, problem+json errors as ApiError,
// an Idempotency-Key on every mutation.

const KEY = 'stockpile.session';

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
  },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
  token() { return this.get()?.token || null; },
  user() { return this.get()?.user || null; },
};

/** An API failure: `status`, and the problem document (`detail`, `errors[]{pointer, detail}`). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function qs(query) {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Calls the API. Returns parsed JSON (or the Response with `raw: true`); throws ApiError. */
export async function api(method, path, { body, query, raw, idempotencyKey, file, fileType } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (file !== undefined) headers['Content-Type'] = fileType;
  if (method !== 'GET' && method !== 'HEAD') headers['Idempotency-Key'] = idempotencyKey || newKey();
  let res;
  try {
    res = await fetch(`/api/v1${path}${qs(query)}`, {
      method, headers, body: file !== undefined ? file : (body === undefined ? undefined : JSON.stringify(body)),
    });
  } catch (e) {
    throw new ApiError(0, { detail: `network error: ${e.message}` });
  }
  if (!res.ok) {
    let problem;
    const text = await res.text();
    try { problem = JSON.parse(text); } catch { problem = { detail: text || res.statusText }; }
    if (res.status === 401 && path !== '/auth/login') onUnauthorized(problem);
    throw new ApiError(res.status, problem);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path, query) => api('GET', path, { query });
export const post = (path, body, opts = {}) => api('POST', path, { body, ...opts });
export const put = (path, body) => api('PUT', path, { body });
export const patch = (path, body) => api('PATCH', path, { body });
export const del = (path) => api('DELETE', path);

/** Every item of a cursor-paginated list, up to `max`. */
export async function getAll(path, query = {}, max = 5000) {
  const out = [];
  let cursor;
  do {
    const page = await get(path, { ...query, limit: Math.min(1000, max), cursor });
    out.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

export { qs, newKey };
