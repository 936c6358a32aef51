// The preview page: each published layer on an OpenLayers map, as WMS or as WMTS, in its own
// CRS when it is projected (Lambert-93 stays Lambert-93), with GetFeatureInfo on click; vector
// layers also as vector tiles (MVT) drawn with their published GL style (ol-mapbox-style),
// with the attributes of the features under a click; and through OGC API – Tiles, map tiles
// (ol/source/OGCMapTile) and vector tiles (ol/source/OGCVectorTile) on Web Mercator.
//
// The page's HTML (served by Tuilerie at /) holds the layers the caller may see in
// <script id="tuilerie-layers" type="application/json">. With `selftest` in the URL's hash,
// the page checks itself once drawn: it counts the drawn pixels, asks GetFeatureInfo at the
// centre of the data, and writes the outcome into <pre id="selftest"> (read by the headless
// Chromium test).

import Map from 'ol/Map.js';
import View from 'ol/View.js';
import Overlay from 'ol/Overlay.js';
import ImageLayer from 'ol/layer/Image.js';
import TileLayer from 'ol/layer/Tile.js';
import VectorTileLayer from 'ol/layer/VectorTile.js';
import { applyStyle } from 'ol-mapbox-style';
import ImageWMS from 'ol/source/ImageWMS.js';
import WMTS, { optionsFromCapabilities } from 'ol/source/WMTS.js';
import OGCMapTile from 'ol/source/OGCMapTile.js';
import OGCVectorTile from 'ol/source/OGCVectorTile.js';
import MVT from 'ol/format/MVT.js';
import WMTSCapabilities from 'ol/format/WMTSCapabilities.js';
import { register } from 'ol/proj/proj4.js';
import { get as getProjection, transformExtent } from 'ol/proj.js';
import { getCenter } from 'ol/extent.js';
import proj4 from 'proj4';

const config = JSON.parse(document.getElementById('tuilerie-layers').textContent);
const apikey = config.apikey || null;
const selftest = location.hash.includes('selftest');

for (const [code, definition] of Object.entries(config.projections)) {
  proj4.defs(code, definition);
}
register(proj4);

function withKey(url) {
  if (!apikey) return url;
  return url + (url.includes('?') ? '&' : '?') + 'apikey=' + encodeURIComponent(apikey);
}

const popupElement = document.getElementById('popup');
const popupContent = document.getElementById('popup-content');
const overlay = new Overlay({ element: popupElement, autoPan: false });
popupElement.querySelector('#popup-closer').onclick = () => {
  overlay.setPosition(undefined);
  return false;
};

let map = null;
let current = null;

function viewProjection(layer, service) {
  if (service === 'wmts') return null; // from the tile matrix set
  const native = getProjection(layer.crs);
  if (native && native.getUnits() !== 'degrees' && layer.crs !== 'EPSG:3857') return native;
  return getProjection('EPSG:3857');
}

function resetMap(projection, extent) {
  if (map) map.setTarget(null);
  popupElement.hidden = false;
  overlay.setPosition(undefined);
  map = new Map({
    target: 'map',
    overlays: [overlay],
    view: new View({ projection }),
  });
  map.getView().fit(extent, { padding: [20, 20, 20, 20] });
  return map;
}

function showPopup(coordinate, html) {
  popupContent.innerHTML = html;
  overlay.setPosition(coordinate);
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

function featuresHtml(collection) {
  const features = (collection && collection.features) || [];
  if (features.length === 0) return '<em>nothing here</em>';
  return features
    .slice(0, 5)
    .map((feature) => {
      const rows = Object.entries(feature.properties || {})
        .map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(Array.isArray(v) ? v.join(', ') : v)}</td></tr>`)
        .join('');
      return `<table>${rows}</table>`;
    })
    .join('<hr>');
}

async function showWms(layer) {
  const projection = viewProjection(layer, 'wms');
  const extent = transformExtent(layer.bbox84, 'EPSG:4326', projection);
  const params = { LAYERS: layer.name, STYLES: '', VERSION: '1.3.0', FORMAT: 'image/png', TRANSPARENT: true };
  if (apikey) params.apikey = apikey;
  const source = new ImageWMS({ url: '/wms', params, ratio: 1, projection });
  const m = resetMap(projection, extent);
  m.addLayer(new ImageLayer({ source }));
  const info = async (coordinate) => {
    const url = source.getFeatureInfoUrl(coordinate, m.getView().getResolution(), projection, {
      INFO_FORMAT: 'application/json',
      FEATURE_COUNT: 5,
    });
    const response = await fetch(url);
    const html = response.ok ? featuresHtml(await response.json()) : `<em>${escape(await response.text())}</em>`;
    showPopup(coordinate, html);
    return html;
  };
  return { map: m, info, center: getCenter(extent) };
}

async function showWmts(layer) {
  const response = await fetch(withKey('/wmts?SERVICE=WMTS&REQUEST=GetCapabilities'));
  const capabilities = new WMTSCapabilities().read(await response.text());
  // Vector layers offer images and vector tiles: the WMTS view shows the images.
  const wanted = { layer: layer.name };
  if (layer.mvt) wanted.format = 'image/png';
  const options = optionsFromCapabilities(capabilities, wanted);
  if (!options) throw new Error(`layer ${layer.name} is not in the WMTS capabilities`);
  if (apikey) {
    options.urls = options.urls.map(withKey);
  }
  const source = new WMTS(options);
  const projection = options.projection;
  const extent = transformExtent(layer.bbox84, 'EPSG:4326', projection);
  const m = resetMap(projection, extent);
  m.addLayer(new TileLayer({ source }));
  const described = capabilities.Contents.Layer.find((l) => l.Identifier === layer.name);
  const template = ((described && described.ResourceURL) || []).find(
    (r) => r.resourceType === 'FeatureInfo' && r.format === 'application/json',
  );
  // Rendered tiles of a vector layer: its features come from WMS GetFeatureInfo.
  const wmsInfo = layer.wms && layer.queryable && !template
    ? new ImageWMS({ url: withKey('/wms'), params: { LAYERS: layer.name }, projection })
    : null;
  const info = async (coordinate) => {
    if (wmsInfo) {
      const url = wmsInfo.getFeatureInfoUrl(coordinate, m.getView().getResolution(), projection, {
        INFO_FORMAT: 'application/json',
        FEATURE_COUNT: 5,
      });
      const answer = await fetch(url);
      const html = answer.ok ? featuresHtml(await answer.json()) : `<em>${escape(await answer.text())}</em>`;
      showPopup(coordinate, html);
      return html;
    }
    if (!template) {
      showPopup(coordinate, '<em>this layer answers no GetFeatureInfo</em>');
      return '';
    }
    const grid = source.getTileGrid();
    const z = grid.getZForResolution(m.getView().getResolution());
    const tile = grid.getTileCoordForCoordAndZ(coordinate, z);
    const tileExtent = grid.getTileCoordExtent(tile);
    const resolution = grid.getResolution(z);
    const i = Math.floor((coordinate[0] - tileExtent[0]) / resolution);
    const j = Math.floor((tileExtent[3] - coordinate[1]) / resolution);
    const url = template.template
      .replace('{Style}', options.style || 'default')
      .replace('{TileMatrixSet}', options.matrixSet)
      .replace('{TileMatrix}', grid.getMatrixId(z))
      .replace('{TileRow}', String(tile[2]))
      .replace('{TileCol}', String(tile[1]))
      .replace('{J}', String(j))
      .replace('{I}', String(i));
    const answer = await fetch(withKey(url));
    const html = answer.ok ? featuresHtml(await answer.json()) : `<em>${escape(await answer.text())}</em>`;
    showPopup(coordinate, html);
    return html;
  };
  return { map: m, info, center: getCenter(extent) };
}

async function showMvt(layer) {
  const projection = getProjection('EPSG:3857');
  const extent = transformExtent(layer.bbox84, 'EPSG:4326', projection);
  const m = resetMap(projection, extent);
  const tiles = new VectorTileLayer({ declutter: true });
  // The style names the TileJSON, which names the tiles: every request carries the key.
  await applyStyle(tiles, withKey(`/tms/1.0.0/${encodeURIComponent(layer.name)}/style.json`), {
    transformRequest: (url) => withKey(url),
  });
  m.addLayer(tiles);
  return vectorTilesView(m, tiles, extent);
}

// A view of vector tiles: a click lists the attributes of the features under it; the centre of
// the data may fall between features, so the self-test clicks the first drawn feature found
// on a grid over the view.
function vectorTilesView(m, tiles, extent) {
  const info = async (coordinate) => {
    const pixel = m.getPixelFromCoordinate(coordinate);
    const features = m.getFeaturesAtPixel(pixel, { layerFilter: (l) => l === tiles, hitTolerance: 2 });
    const collection = {
      features: features.map((f) => {
        const properties = { ...f.getProperties() };
        delete properties.geometry;
        delete properties.layer;
        return { properties };
      }),
    };
    const html = featuresHtml(collection);
    showPopup(coordinate, html);
    return html;
  };
  const probe = () => {
    const [width, height] = m.getSize();
    for (let y = 0.5; y < 20; y += 1) {
      for (let x = 0.5; x < 20; x += 1) {
        const pixel = [(x * width) / 20, (y * height) / 20];
        if (m.getFeaturesAtPixel(pixel, { layerFilter: (l) => l === tiles }).length > 0) {
          return m.getCoordinateFromPixel(pixel);
        }
      }
    }
    return getCenter(extent);
  };
  return { map: m, info, center: getCenter(extent), probe };
}

// The collection's tileset of a kind (`map/tiles` or `tiles`) on Web Mercator: the registered
// set, or the level subset a pyramid links to.
async function webMercatorTileset(layer, kind) {
  const response = await fetch(withKey(`/ogcapi/collections/${encodeURIComponent(layer.name)}/${kind}`), {
    headers: { Accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`${kind} of ${layer.name}: ${response.status}`);
  const list = await response.json();
  const tileset = list.tilesets.find((t) => t.crs === 'http://www.opengis.net/def/crs/EPSG/0/3857');
  if (!tileset) throw new Error(`${layer.name} has no ${kind} on Web Mercator`);
  return tileset.links.find((l) => l.rel === 'self').href;
}

// OGC API sources read their tileset and tile matrix set first: the map waits for them, so
// that its first render draws tiles.
function ready(source) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const state = source.getState();
      if (state === 'ready') resolve();
      else if (state === 'error') reject(new Error(String(source.getError ? source.getError() : 'source error')));
      else source.once('change', check);
    };
    check();
  });
}

async function showOgcMapTiles(layer) {
  const projection = getProjection('EPSG:3857');
  const extent = transformExtent(layer.bbox84, 'EPSG:4326', projection);
  const m = resetMap(projection, extent);
  const source = new OGCMapTile({ url: withKey(await webMercatorTileset(layer, 'map/tiles')) });
  await ready(source);
  m.addLayer(new TileLayer({ source }));
  // Map tiles hold pixels only: the popup names the tile under the click.
  const info = async (coordinate) => {
    const grid = source.getTileGrid();
    if (!grid) return '';
    const z = grid.getZForResolution(m.getView().getResolution());
    const tile = grid.getTileCoordForCoordAndZ(coordinate, z);
    const html = `OGC API map tile ${tile[0]}/${tile[2]}/${tile[1]}`;
    showPopup(coordinate, escape(html));
    return html;
  };
  return { map: m, info, center: getCenter(extent) };
}

async function showOgcVectorTiles(layer) {
  const projection = getProjection('EPSG:3857');
  const extent = transformExtent(layer.bbox84, 'EPSG:4326', projection);
  const m = resetMap(projection, extent);
  const source = new OGCVectorTile({
    url: withKey(await webMercatorTileset(layer, 'tiles')),
    format: new MVT(),
  });
  await ready(source);
  const tiles = new VectorTileLayer({ source });
  m.addLayer(tiles);
  return vectorTilesView(m, tiles, extent);
}

function drawnPixels(m) {
  let drawn = 0;
  for (const canvas of m.getViewport().querySelectorAll('canvas')) {
    const context = canvas.getContext('2d');
    if (!context || canvas.width === 0 || canvas.height === 0) continue;
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let k = 3; k < data.length; k += 4) {
      if (data[k] !== 0) drawn += 1;
    }
  }
  return drawn;
}

async function select(name, service) {
  const layer = config.layers.find((l) => l.name === name);
  if (!layer) return;
  document.getElementById('title').textContent = `${layer.title} — ${service.toUpperCase()}`;
  document.getElementById('abstract').textContent = layer.abstract || '';
  for (const link of document.querySelectorAll('[data-layer]')) {
    link.classList.toggle('active', link.dataset.layer === name && link.dataset.service === service);
  }
  const status = document.getElementById('selftest');
  try {
    const show =
      { wms: showWms, wmts: showWmts, mvt: showMvt, ogcmap: showOgcMapTiles, ogcmvt: showOgcVectorTiles }[service] ||
      showWms;
    current = await show(layer);
  } catch (error) {
    status.textContent = JSON.stringify({ error: String(error) });
    return;
  }
  current.map.on('singleclick', (event) => current.info(event.coordinate));
  if (selftest) {
    current.map.once('rendercomplete', async () => {
      const drawn = drawnPixels(current.map);
      let popup = '';
      try {
        popup = await current.info(current.probe ? current.probe() : current.center);
      } catch (error) {
        popup = `error: ${error}`;
      }
      status.textContent = JSON.stringify({ layer: name, service, drawn, popup: popupContent.textContent, html: popup.length });
    });
  }
}

function route() {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const first = config.layers[0];
  const name = hash.get('layer') || (first && first.name);
  const layer = config.layers.find((l) => l.name === name);
  if (!layer) return;
  let service = hash.get('service');
  if (!service || !layer[service]) {
    service = layer.wms ? 'wms' : 'wmts';
  }
  select(name, service);
}

window.addEventListener('hashchange', route);
route();
