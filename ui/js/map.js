// Leaflet map pieces: the offline basemap, road edges styled by state, warehouses sized by
// stock, incidents, closures and planned routes. Styles pair colour with a dash pattern or
// a text label, so colour is never the only signal.
import { t, nameOf } from './i18n.js';

/* global L */

let basemapCache = null;

export const EDGE_STYLE = {
  open: { color: '#2b6cb0', weight: 3, opacity: 0.85, dashArray: null },
  closed: { color: '#c53030', weight: 4, opacity: 0.95, dashArray: '10 7' },
  no_trucks: { color: '#6b46c1', weight: 3, opacity: 0.85, dashArray: '2 6' },
};

/** A map over the GBA with the offline basemap (land, city seats) and a legend. */
export async function createMap(el) {
  const map = L.map(el, { zoomSnap: 0.25, minZoom: 7, maxZoom: 14, keyboard: true, attributionControl: true });
  map.fitBounds([[21.75, 112.3], [23.6, 114.75]]);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution('Basemap © OpenStreetMap contributors (ODbL), via @geo-maps · Leaflet');
  basemapCache ||= fetch('/ui/data/gba-basemap.geojson').then((r) => r.json());
  const base = await basemapCache;
  // The basemap sits in its own pane under the overlays, so roads, warehouses and
  // incidents always draw above the land.
  map.createPane('basemap');
  map.getPane('basemap').style.zIndex = 250;
  const baseRenderer = L.svg({ pane: 'basemap', padding: 0.5 });
  const land = L.geoJSON(base, {
    pane: 'basemap',
    renderer: baseRenderer,
    filter: (f) => f.properties.kind === 'land',
    style: (f) => ({ color: '#a89f8c', weight: f.properties.a3 === 'CHN' ? 0.8 : 1.4, dashArray: f.properties.a3 === 'CHN' ? null : '4 3', fillColor: '#f3efe6', fillOpacity: 1, interactive: false }),
    interactive: false,
  }).addTo(map);
  const cities = L.layerGroup(base.features.filter((f) => f.properties.kind === 'city').map((f) => {
    const [lon, lat] = f.geometry.coordinates;
    return L.circleMarker([lat, lon], { pane: 'basemap', renderer: baseRenderer, radius: 2, color: '#55504a', weight: 1, fillOpacity: 1, interactive: false })
      .bindTooltip(nameOf(f.properties), { permanent: true, direction: 'right', className: 'city-label', interactive: false });
  })).addTo(map);
  legend().addTo(map);
  return { map, land, cities };
}

function legend() {
  const c = L.control({ position: 'bottomleft' });
  c.onAdd = () => {
    const div = L.DomUtil.create('div', 'legend');
    div.setAttribute('role', 'note');
    div.innerHTML = '';
    const row = (style, label, cls = '') => {
      const r = document.createElement('div');
      const i = document.createElement('i');
      i.className = cls;
      i.style.borderTopColor = style.color;
      r.append(i, label);
      return r;
    };
    const title = document.createElement('strong');
    title.textContent = t('legend');
    div.append(title, row(EDGE_STYLE.open, t('road_open')), row(EDGE_STYLE.closed, t('road_closed'), 'dash'),
      row(EDGE_STYLE.no_trucks, t('road_no_trucks'), 'dash'), row({ color: '#2f855a' }, t('route')));
    const w = document.createElement('div');
    w.textContent = `● ${t('warehouse_marker')}`;
    const inc = document.createElement('div');
    inc.textContent = `▲ ${t('incident_marker')}`;
    div.append(w, inc);
    return div;
  };
  return c;
}

export function stateLabel(state) {
  return t(`state_${state}`) || state;
}

/** The road network as a GeoJSON layer; `onClick(feature, layer)` for edge picking. */
export function networkLayer(geojson, onClick) {
  return L.geoJSON(geojson, {
    style: (f) => ({ ...(EDGE_STYLE[f.properties.state] || EDGE_STYLE.open), className: `edge edge-${f.properties.id} state-${f.properties.state}` }),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(`${f.properties.name} · ${stateLabel(f.properties.state)}`, { sticky: true });
      if (onClick) layer.on('click', (e) => { L.DomEvent.stopPropagation(e); onClick(f, layer); });
    },
  });
}

/** Warehouses as circles whose area grows with `amount(w)`. Canvas-rendered: 500+ stay fast. */
export function warehouseLayer(warehouses, amount, unitLabel = '') {
  const renderer = L.canvas({ padding: 0.3 });
  const max = Math.max(1, ...warehouses.map(amount));
  return L.layerGroup(warehouses.map((w) => {
    const a = amount(w);
    const r = 4 + 22 * Math.sqrt(a / max);
    return L.circleMarker([w.lat, w.lon], { renderer, radius: r, color: '#1a365d', weight: 1.5, fillColor: a > 0 ? '#4299e1' : '#ffffff', fillOpacity: 0.55 })
      .bindTooltip(`${w.code} · ${nameOf(w)}<br>${t('available')}: ${a.toLocaleString()} ${unitLabel}`);
  }));
}

/** Incidents: a triangle marker at the point and the affected area, hatched by dashes. */
export function incidentLayer(incidents) {
  const g = L.layerGroup();
  for (const inc of incidents) {
    if (inc.affected_area) {
      L.geoJSON(inc.affected_area, { style: { color: '#dd6b20', weight: 2, dashArray: '6 4', fillColor: '#f6ad55', fillOpacity: 0.25 }, interactive: false }).addTo(g);
    }
    const icon = L.divIcon({ className: 'incident-icon', html: '<svg width="22" height="20" viewBox="0 0 22 20" aria-hidden="true"><path d="M11 1 21 19H1z" fill="#dd6b20" stroke="#000" stroke-width="1.5"/><text x="11" y="16" text-anchor="middle" font-size="11" font-weight="bold">!</text></svg>', iconSize: [22, 20], iconAnchor: [11, 14] });
    L.marker([inc.point.lat, inc.point.lon], { icon, title: inc.name, keyboard: true, alt: inc.name })
      .bindTooltip(`${inc.name} · ${inc.kind} · ${inc.status}`).addTo(g);
  }
  return g;
}

/** Active closure areas: red, dashed, labelled. */
export function closureLayer(closures) {
  const g = L.layerGroup();
  for (const c of closures.filter((x) => x.active !== false && x.area)) {
    L.geoJSON(c.area, { style: { color: '#c53030', weight: 2, dashArray: '10 7', fillColor: '#fc8181', fillOpacity: 0.18 } })
      .bindTooltip(`${c.name}: ${c.reason}`).addTo(g);
  }
  return g;
}
