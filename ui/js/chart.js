// A stacked bar chart in inline SVG: quantity expiring per month, stacked by category.
// Patterns as well as colours tell the categories apart, and a data table follows.
import { h } from './dom.js';

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const SVGNS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

/**
 * months: ['2026-11', ...]; series: [{key, label, values: [qty per month]}].
 * Returns an <svg> with a <title> and <desc> for screen readers.
 */
export function stackedBars(months, series, { title, width = 860, height = 300 } = {}) {
  const pad = { l: 64, r: 10, t: 16, b: 44 };
  const totals = months.map((_, i) => series.reduce((a, x) => a + (x.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const bw = (width - pad.l - pad.r) / Math.max(1, months.length);
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', width, height });
  svg.append(s('title', { id: 'chart-title' }, title || ''));
  svg.append(s('desc', { id: 'chart-desc' }, months.map((m, i) => `${m}: ${totals[i]}`).join('; ')));
  const defs = s('defs');
  series.forEach((_, k) => {
    const p = s('pattern', { id: `pat${k}`, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: `rotate(${(k * 37) % 180})` });
    p.append(s('rect', { width: 6, height: 6, fill: COLOURS[k % COLOURS.length] }));
    if (k % 2 === 1) p.append(s('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#fff', 'stroke-width': 2 }));
    defs.append(p);
  });
  svg.append(defs);
  for (let i = 0; i <= 4; i += 1) {
    const v = Math.round((max * i) / 4);
    svg.append(s('line', { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), stroke: '#ddd' }));
    svg.append(s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11 }, v.toLocaleString()));
  }
  months.forEach((m, i) => {
    let acc = 0;
    series.forEach((ser, k) => {
      const v = ser.values[i] || 0;
      if (!v) return;
      const rect = s('rect', { x: pad.l + i * bw + 2, y: y(acc + v), width: Math.max(1, bw - 4), height: y(acc) - y(acc + v), fill: `url(#pat${k})`, stroke: '#333', 'stroke-width': 0.5 });
      rect.append(s('title', {}, `${m} · ${ser.label}: ${v.toLocaleString()}`));
      svg.append(rect);
      acc += v;
    });
    svg.append(s('text', { x: pad.l + i * bw + bw / 2, y: height - pad.b + 14, 'text-anchor': 'middle', 'font-size': 11 }, m));
  });
  return svg;
}

export function legend(series) {
  return h('div', { class: 'legend-row' }, series.map((ser, k) => h('span', {},
    h('span', { class: 'swatch', style: `background:${COLOURS[k % COLOURS.length]}` }), ser.label)));
}
