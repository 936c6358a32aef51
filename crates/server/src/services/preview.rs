//! The preview page at `/`: every layer the caller may see, each on an OpenLayers map as WMS
//! and as WMTS (vector layers: their rendered tiles, features from WMS GetFeatureInfo), with
//! GetFeatureInfo on click; vector layers also as vector tiles drawn with their GL style
//! (`ol-mapbox-style`), with the attributes of the features under a click.
//!
//! OpenLayers and proj4js come from npm, bundled by `preview/` (esbuild) into
//! `assets/preview.js`, which is embedded in the binary: no CDN at run time. The page carries
//! the visible layers as JSON; restricted layers show when the page is opened with an
//! `apikey` that grants them (the key is then passed on to every request of the map).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use axum::routing::get;
use axum::Router;

use crate::layers::{Layers, Service};
use crate::metrics;
use crate::services::ogc::xml_escape;
use crate::state::AppState;

const SCRIPT: &[u8] = include_bytes!("../../assets/preview.js");
const STYLE: &[u8] = include_bytes!("../../assets/ol.css");

/// The page and its assets. Not behind the access gate: the page computes the views of both
/// services itself, from the key in its query.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/preview/{file}", get(asset))
        .route_layer(metrics::label("preview"))
}

/// Query of the page.
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    apikey: Option<String>,
}

/// `GET /`
async fn page(State(state): State<AppState>, Query(query): Query<PageQuery>) -> Response {
    let snapshot = state.layers.load_full();
    let key = query.apikey.filter(|k| !k.is_empty());
    let granted = key
        .as_deref()
        .and_then(|k| crate::access::grant_of(&snapshot, k));
    let wms = snapshot.view(Service::Wms, granted);
    let tiles = snapshot.view(Service::Tiles, granted);
    let html = render(
        &wms,
        &tiles,
        key.as_deref().filter(|_| granted.is_some()),
        (
            state.config.tile_cache.enabled,
            state.config.vector_tiles.enabled,
        ),
    );
    // With a key, the page lists what the key grants and carries the key: no shared cache.
    let cache_control = if key.is_some() {
        "private, no-cache"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_FRAME_OPTIONS,
                HeaderValue::from_static("SAMEORIGIN"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
        ],
        html,
    )
        .into_response()
}

/// The page loads its script, style and images from this server only (the inline `<style>`
/// block is the page's own); it may be framed by pages of this server only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
    style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/// `GET /preview/preview.js` and `/preview/ol.css`.
async fn asset(
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let (bytes, content_type) = match file.as_str() {
        "preview.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "ol.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let etag = format!("\"{}-{}\"", env!("CARGO_PKG_VERSION"), bytes.len());
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}

struct Entry<'a> {
    layer: &'a crate::layers::Layer,
    wms: bool,
    wmts: bool,
    mvt: bool,
}

/// The page; vector layers are WMTS image layers (`[tile_cache]`) and vector tiles
/// (`[vector_tiles]`) when these are on.
fn render(
    wms: &Layers,
    tiles: &Layers,
    apikey: Option<&str>,
    (rendered_tiles, vector_tiles): (bool, bool),
) -> String {
    let mut entries: BTreeMap<&str, Entry<'_>> = BTreeMap::new();
    for layer in wms.iter() {
        entries.insert(
            &layer.name,
            Entry {
                layer,
                wms: true,
                wmts: false,
                mvt: false,
            },
        );
    }
    for layer in tiles.iter() {
        // Browsers draw JPEG and PNG tiles; data tiles (TIFF, float) are for clients such as
        // GDAL and QGIS, and show here through WMS. Vector layers: rendered tiles and MVT.
        let mvt = vector_tiles && matches!(&layer.source, crate::layers::LayerSource::Vector(_));
        let viewable = match &layer.source {
            crate::layers::LayerSource::Pyramid(p) => {
                matches!(p.pyramid.format().mime_type(), "image/png" | "image/jpeg")
            }
            crate::layers::LayerSource::Vector(_) => rendered_tiles,
        };
        entries
            .entry(&layer.name)
            .and_modify(|e| {
                e.wmts = viewable;
                e.mvt = mvt;
            })
            .or_insert(Entry {
                layer,
                wms: false,
                wmts: viewable,
                mvt,
            });
    }
    entries.retain(|_, e| e.wms || e.wmts || e.mvt);
    let mut projections = serde_json::Map::new();
    let mut layers = Vec::new();
    let mut list = String::new();
    for entry in entries.values() {
        let layer = entry.layer;
        let crs = layer.crs();
        projections.insert(crs.code().to_owned(), json!(crs.proj4()));
        let (_, wgs84) = layer.extent();
        layers.push(json!({
            "name": layer.name,
            "title": layer.title,
            "abstract": layer.abstract_text,
            "crs": crs.code(),
            "bbox84": [wgs84.min_x(), wgs84.min_y(), wgs84.max_x(), wgs84.max_y()],
            "wms": entry.wms,
            "wmts": entry.wmts,
            "mvt": entry.mvt,
            "ogcmap": entry.wmts,
            "ogcmvt": entry.mvt,
            "queryable": layer.queryable(),
        }));
        let name = xml_escape(&layer.name);
        let mut links = String::new();
        if entry.wms {
            let _ = write!(
                links,
                "<a href=\"#layer={name}&amp;service=wms\" data-layer=\"{name}\" data-service=\"wms\">WMS</a> "
            );
        }
        if entry.wmts {
            let _ = write!(
                links,
                "<a href=\"#layer={name}&amp;service=wmts\" data-layer=\"{name}\" data-service=\"wmts\">WMTS</a> "
            );
        }
        if entry.mvt {
            let _ = write!(
                links,
                "<a href=\"#layer={name}&amp;service=mvt\" data-layer=\"{name}\" data-service=\"mvt\">MVT</a> "
            );
        }
        if entry.wmts {
            let _ = write!(
                links,
                "<a href=\"#layer={name}&amp;service=ogcmap\" data-layer=\"{name}\" data-service=\"ogcmap\" title=\"OGC API – Tiles, map tiles\">OGC tiles</a> "
            );
        }
        if entry.mvt {
            let _ = write!(
                links,
                "<a href=\"#layer={name}&amp;service=ogcmvt\" data-layer=\"{name}\" data-service=\"ogcmvt\" title=\"OGC API – Tiles, vector tiles\">OGC MVT</a>"
            );
        }
        let _ = writeln!(
            list,
            "<li><strong>{}</strong> <code>{name}</code> <small>{}</small><br>{links}</li>",
            xml_escape(&layer.title),
            xml_escape(crs.code()),
        );
    }
    let config = json!({ "layers": layers, "projections": projections, "apikey": apikey });
    // `</` cannot close the script element from inside the JSON.
    let config = config.to_string().replace("</", "<\\/");
    let empty = if layers.is_empty() {
        "<p>Nothing is published yet. Publish a layer with the API (<code>/api</code>), \
         <code>tuilerie publish</code>, or start <code>tuilerie demo</code>.</p>"
    } else {
        ""
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tuilerie — published layers</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/preview/ol.css">
<style>
  html, body {{ margin: 0; height: 100%; font: 14px/1.4 system-ui, sans-serif; }}
  body {{ display: flex; }}
  nav {{ width: 300px; overflow: auto; padding: 12px; border-right: 1px solid #ccc; box-sizing: border-box; }}
  nav ul {{ list-style: none; padding: 0; }} nav li {{ margin-bottom: 10px; }}
  nav a {{ margin-right: 6px; }} nav a.active {{ font-weight: bold; }}
  main {{ flex: 1; display: flex; flex-direction: column; }}
  header {{ padding: 8px 12px; border-bottom: 1px solid #ccc; }}
  #map {{ flex: 1; }}
  .popup {{ background: white; border: 1px solid #888; border-radius: 4px; padding: 8px 20px 8px 8px; position: relative; min-width: 160px; max-width: 360px; max-height: 240px; overflow: auto; }}
  .popup table {{ border-collapse: collapse; }} .popup th {{ text-align: left; padding-right: 8px; }}
  #popup-closer {{ position: absolute; top: 2px; right: 6px; text-decoration: none; }}
  #selftest {{ display: none; }}
</style>
</head>
<body>
<nav>
<h1>Tuilerie</h1>
<p>Published layers: <a href="/wms?SERVICE=WMS&amp;REQUEST=GetCapabilities">WMS</a>,
<a href="/wmts?SERVICE=WMTS&amp;REQUEST=GetCapabilities">WMTS</a>,
<a href="/tms/1.0.0">TMS</a>, <a href="/ogcapi">OGC API</a>, <a href="/api/openapi.json">API</a>.</p>
{empty}<ul>
{list}</ul>
</nav>
<main>
<header><strong id="title"></strong> <span id="abstract"></span></header>
<div id="map"></div>
</main>
<div id="popup" class="popup" hidden><a href="#" id="popup-closer">×</a><div id="popup-content"></div></div>
<pre id="selftest"></pre>
<script id="tuilerie-layers" type="application/json">{config}</script>
<script src="/preview/preview.js"></script>
</body>
</html>
"##
    )
}
