//! OGC API – Maps, Part 1: a map of one collection (`/collections/{id}/map`), of one of its
//! styles (`/collections/{id}/styles/{style}/map`) or of several (`/map?collections=…`),
//! drawn by WMS's renderer, pool and cache: the request becomes a WMS 1.3.0 GetMap, so an
//! OGC API map equals the WMS map of the same box, size and style.
//!
//! Defaults, as the standard lets the server choose them: the map covers the collections'
//! extent, in CRS84, 1024 pixels on its longer side, PNG, transparent.

use std::sync::Arc;

use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use crs::{Bbox, Crs, Transformer};
use serde_json::{json, Value};

use super::problem::{answer, base, link, wants_html, Problem};
use crate::access::{self, View};
use crate::layers::{Layer, LayerSource, Layers, Service};
use crate::metrics;
use crate::services::ogc::Kvp;
use crate::services::wms::{MapFormat, Maps, WmsError};
use crate::state::AppState;

/// The conformance classes of OGC API – Maps served here.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/spatial-subsetting",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/scaling",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/background",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/collection-map",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/dataset-map",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/styled-map",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/png",
    "http://www.opengis.net/spec/ogcapi-maps-1/1.0/conf/jpeg",
];

/// The link relation from a collection to its map.
pub const MAP_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/map";

/// Pixels on the longer side of a map whose request gives no size.
const DEFAULT_SIZE: u32 = 1024;

/// The OGC standard pixel, in metres.
const PIXEL_METRES: f64 = 0.000_28;

/// The routes of OGC API – Maps, behind the access gate of WMS.
pub fn routes(state: &AppState, maps: Maps) -> Router<AppState> {
    Router::new()
        .route("/ogcapi/map", get(dataset_map))
        .route("/ogcapi/collections/{layer}/map", get(collection_map))
        .route("/ogcapi/collections/{layer}/styles", get(styles))
        .route(
            "/ogcapi/collections/{layer}/styles/{style}/map",
            get(styled_map),
        )
        .route_layer(access::gate(state, Service::Wms))
        .route_layer(metrics::label("ogcapi"))
        .layer(Extension(maps))
}

/// What Maps adds to a collection: the link to its map and to its styles (empty when WMS
/// does not serve it to this request).
pub fn collection_links(wms: &Layers, id: &str, here: &str) -> Vec<Value> {
    if wms.get(id).is_none() {
        return Vec::new();
    }
    vec![
        link(
            &format!("{here}/map?f=png"),
            MAP_REL,
            "image/png",
            "the collection as a map (PNG)",
        ),
        link(
            &format!("{here}/map?f=jpeg"),
            MAP_REL,
            "image/jpeg",
            "the collection as a map (JPEG)",
        ),
        link(
            &format!("{here}/styles"),
            "http://www.opengis.net/def/rel/ogc/1.0/styles",
            "application/json",
            "the styles of the collection's maps",
        ),
    ]
}

/// The style names of a layer (the first is its default).
fn style_names(layer: &Layer) -> Vec<&str> {
    layer.styles().iter().map(|s| s.name.as_str()).collect()
}

fn wms_layer<'a>(layers: &'a Layers, id: &str) -> Result<&'a Arc<Layer>, Problem> {
    layers.get(id).ok_or_else(|| {
        Problem::not_found(format!(
            "no collection '{id}' is drawn as a map: GET /ogcapi/collections lists them"
        ))
    })
}

/// `GET /ogcapi/collections/{id}/styles`
async fn styles(
    View(layers): View,
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    let layer = wms_layer(&layers, &id)?;
    let here = format!("{}/collections/{id}", base(&state, &headers));
    let names = style_names(layer);
    let styles: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "id": name,
                "title": name,
                "links": [link(&format!("{here}/styles/{name}/map?f=png"), MAP_REL, "image/png", &format!("the map in style {name}"))],
            })
        })
        .collect();
    let document = json!({
        "default": names.first(),
        "styles": styles,
        "links": [link(&format!("{here}/styles?f=json"), "self", "application/json", "the styles")],
    });
    Ok(answer(
        &document,
        html,
        &format!("Styles of {}", layer.title),
    ))
}

/// `GET /ogcapi/map?collections=…`: several collections on one map, in the order given (by
/// default every one, rasters first).
async fn dataset_map(
    View(layers): View,
    Extension(maps): Extension<Maps>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let chosen = dataset_collections(&layers, &kvp)?;
    let styles = vec![String::new(); chosen.len()];
    draw(&maps, &layers, &chosen, &styles, &kvp, &headers).await
}

/// The collections of a dataset map or tile: `collections=a,b` in that order, else every
/// one (rasters first, so that vectors are drawn over them).
pub fn dataset_collections<'a>(
    layers: &'a Layers,
    kvp: &Kvp,
) -> Result<Vec<&'a Arc<Layer>>, Problem> {
    let names: Vec<String> = if let Some(list) = kvp.non_empty("collections") {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        let rasters = layers
            .iter()
            .filter(|l| matches!(l.source, LayerSource::Pyramid(_)));
        let vectors = layers
            .iter()
            .filter(|l| !matches!(l.source, LayerSource::Pyramid(_)));
        rasters.chain(vectors).map(|l| l.name.clone()).collect()
    };
    if names.is_empty() {
        return Err(Problem::bad(
            "collections is empty: name one collection or more, e.g. collections=roads,relief",
        ));
    }
    let mut chosen = Vec::new();
    for name in &names {
        chosen.push(wms_layer(layers, name).map_err(|_| {
            Problem::bad(format!(
                "collections: '{name}' is not drawn as a map here (GET /ogcapi/collections lists the collections)"
            ))
        })?);
    }
    Ok(chosen)
}

/// `GET /ogcapi/collections/{id}/map`
async fn collection_map(
    View(layers): View,
    Extension(maps): Extension<Maps>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let layer = wms_layer(&layers, &id)?;
    draw(&maps, &layers, &[layer], &[String::new()], &kvp, &headers).await
}

/// `GET /ogcapi/collections/{id}/styles/{style}/map`
async fn styled_map(
    View(layers): View,
    Extension(maps): Extension<Maps>,
    Path((id, style)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let layer = wms_layer(&layers, &id)?;
    if !style_names(layer).contains(&style.as_str()) {
        return Err(Problem::not_found(format!(
            "collection '{id}' has no style '{style}': its styles are {}",
            style_names(layer).join(", ")
        )));
    }
    draw(&maps, &layers, &[layer], &[style], &kvp, &headers).await
}

/// A map request's parameters, checked.
#[derive(Debug)]
pub struct MapRequest {
    /// The map's CRS.
    pub crs: Crs,
    /// Its box, in `crs`.
    pub bbox: Bbox,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// The image format.
    pub format: MapFormat,
    /// Whether the background is transparent.
    pub transparent: bool,
    /// The background colour.
    pub bgcolor: Option<[u8; 3]>,
    /// Dots per inch of the display (`mm-per-pixel`).
    pub dpi: Option<f64>,
}

async fn draw(
    maps: &Maps,
    layers: &Arc<Layers>,
    chosen: &[&Arc<Layer>],
    styles: &[String],
    kvp: &Kvp,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let request = parse(kvp, headers, chosen)?;
    draw_request(maps, layers, chosen, styles, &request).await
}

/// Draws a checked request as WMS GetMap, with `Content-Crs` and `Content-Bbox`.
pub async fn draw_request(
    maps: &Maps,
    layers: &Arc<Layers>,
    chosen: &[&Arc<Layer>],
    styles: &[String],
    request: &MapRequest,
) -> Result<Response, Problem> {
    let bbox = request.bbox.to_ogc(&request.crs);
    let names: Vec<&str> = chosen.iter().map(|l| l.name.as_str()).collect();
    let mut pairs = vec![
        ("SERVICE", "WMS".to_owned()),
        ("VERSION", "1.3.0".to_owned()),
        ("REQUEST", "GetMap".to_owned()),
        ("LAYERS", names.join(",")),
        ("STYLES", styles.join(",")),
        ("CRS", request.crs.code().to_owned()),
        (
            "BBOX",
            bbox.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("WIDTH", request.width.to_string()),
        ("HEIGHT", request.height.to_string()),
        ("FORMAT", request.format.mime().to_owned()),
        (
            "TRANSPARENT",
            if request.transparent { "TRUE" } else { "FALSE" }.to_owned(),
        ),
    ];
    if let Some([r, g, b]) = request.bgcolor {
        pairs.push(("BGCOLOR", format!("0x{r:02X}{g:02X}{b:02X}")));
    }
    if let Some(dpi) = request.dpi {
        pairs.push(("DPI", format!("{dpi:?}")));
    }
    let wms_kvp = Kvp::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    let mut response = maps
        .get_map(layers, &wms_kvp)
        .await
        .map_err(|e| from_wms(&e))?;
    if response.status().is_success() {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&format!("<{}>", request.crs.uri())) {
            headers.insert("content-crs", value);
        }
        let bbox_text = bbox
            .iter()
            .map(|v| crate::services::ogc::number(*v))
            .collect::<Vec<_>>()
            .join(",");
        if let Ok(value) = HeaderValue::from_str(&bbox_text) {
            headers.insert("content-bbox", value);
        }
    }
    Ok(response)
}

/// A WMS error as a problem naming the OGC API parameter.
fn from_wms(error: &WmsError) -> Problem {
    if !error.status_is_client() {
        let mut problem = Problem::bad(error.text().to_owned());
        problem.status = error.status();
        problem.code = if error.is_cancelled() {
            "ClientClosedRequest"
        } else if error.status().as_u16() == 503 {
            "ServiceUnavailable"
        } else {
            "InternalError"
        };
        return problem;
    }
    let parameter = match error.locator() {
        Some("LAYERS") => "collections",
        Some("STYLES") => "style",
        Some("CRS") => "crs",
        Some("BBOX") => "bbox",
        Some("WIDTH") => "width",
        Some("HEIGHT") => "height",
        Some("FORMAT") => "f",
        Some("BGCOLOR") => "bgcolor",
        Some("DPI") => "mm-per-pixel",
        Some(other) => other,
        None => "request",
    };
    let mut problem = Problem::bad(format!("{parameter}: {}", error.text()));
    problem.status = error.status();
    problem
}

fn parse(kvp: &Kvp, headers: &HeaderMap, chosen: &[&Arc<Layer>]) -> Result<MapRequest, Problem> {
    let known = [
        "f",
        "bbox",
        "bbox-crs",
        "crs",
        "width",
        "height",
        "scale-denominator",
        "bgcolor",
        "transparent",
        "collections",
        "mm-per-pixel",
        "apikey",
        "datetime",
    ];
    if let Some((name, _)) = kvp
        .pairs()
        .find(|(name, _)| !known.iter().any(|k| name.eq_ignore_ascii_case(k)))
    {
        return Err(Problem::bad(format!(
            "unknown parameter '{name}': a map takes {}",
            known.join(", ")
        )));
    }
    let format = format(kvp, headers)?;
    let crs = crs_parameter(kvp, "crs")?.unwrap_or_else(Crs::crs84);
    let bbox_crs = crs_parameter(kvp, "bbox-crs")?.unwrap_or_else(Crs::crs84);
    let asked_bbox = match kvp.non_empty("bbox") {
        Some(text) => Some(bbox_parameter(text, &bbox_crs)?),
        None => None,
    };
    let (bbox, from) = match asked_bbox {
        Some(bbox) => (bbox, bbox_crs),
        None => (extent(chosen)?, Crs::crs84()),
    };
    let bbox = if from.uri() == crs.uri() {
        bbox
    } else {
        into_crs(&bbox, &from, &crs)?
    };
    let (width, height) = size(kvp, &bbox, &crs)?;
    let transparent = match kvp.non_empty("transparent") {
        None => kvp.non_empty("bgcolor").is_none(),
        Some(t) if t.eq_ignore_ascii_case("true") => true,
        Some(t) if t.eq_ignore_ascii_case("false") => false,
        Some(t) => {
            return Err(Problem::bad(format!(
                "transparent={t}: use transparent=true or transparent=false"
            )))
        }
    };
    let bgcolor = kvp
        .non_empty("bgcolor")
        .map(|text| {
            colour(text).ok_or_else(|| {
                Problem::bad(format!(
                    "bgcolor={text}: give a hexadecimal colour (0xRRGGBB or RRGGBB) or a web colour name (white, black, navy…)"
                ))
            })
        })
        .transpose()?;
    let dpi = kvp
        .non_empty("mm-per-pixel")
        .map(|text| {
            text.trim()
                .parse::<f64>()
                .ok()
                .map(|mm| 25.4 / mm)
                .filter(|dpi| (1.0..=2400.0).contains(dpi))
                .ok_or_else(|| {
                    Problem::bad(format!(
                        "mm-per-pixel={text}: give the size of a display pixel in millimetres, e.g. 0.28 (0.14 for a HiDPI screen)"
                    ))
                })
        })
        .transpose()?;
    Ok(MapRequest {
        crs,
        bbox,
        width,
        height,
        format,
        transparent,
        bgcolor,
        dpi,
    })
}

/// The image format: `f=png|jpeg`, else the first of `Accept` offered, else PNG.
pub fn format(kvp: &Kvp, headers: &HeaderMap) -> Result<MapFormat, Problem> {
    const OFFERED: &str = "f=png or f=jpeg";
    if let Some(f) = kvp.non_empty("f") {
        return match f.to_ascii_lowercase().as_str() {
            "png" | "image/png" => Ok(MapFormat::Png),
            "jpeg" | "jpg" | "image/jpeg" => Ok(MapFormat::Jpeg),
            "webp" | "image/webp" => Ok(MapFormat::Webp),
            "tiff" | "tif" | "image/tiff" | "geotiff" => Ok(MapFormat::Tiff),
            _ => Err(Problem::bad(format!("f={f}: use {OFFERED}"))),
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    for item in accept.split(',') {
        let mime = item.split(';').next().unwrap_or("").trim();
        match mime.to_ascii_lowercase().as_str() {
            "image/png" | "image/*" | "*/*" => return Ok(MapFormat::Png),
            "image/jpeg" => return Ok(MapFormat::Jpeg),
            "image/webp" => return Ok(MapFormat::Webp),
            _ => {}
        }
    }
    if accept.trim().is_empty() || accept.contains("text/html") {
        return Ok(MapFormat::Png);
    }
    Err(Problem::not_acceptable(format!(
        "Accept: {accept} names no format of this map: accept image/png or image/jpeg, or use {OFFERED}"
    )))
}

fn crs_parameter(kvp: &Kvp, name: &str) -> Result<Option<Crs>, Problem> {
    kvp.non_empty(name)
        .map(|text| {
            let text = text.trim_start_matches('[').trim_end_matches(']');
            Crs::parse(text).map_err(|e| {
                Problem::bad(format!(
                    "{name}={text}: {e}; give a CRS URI such as http://www.opengis.net/def/crs/EPSG/0/3857 (or [EPSG:3857])"
                ))
            })
        })
        .transpose()
}

fn bbox_parameter(text: &str, crs: &Crs) -> Result<Bbox, Problem> {
    let numbers: Result<Vec<f64>, _> = text.split(',').map(|p| p.trim().parse::<f64>()).collect();
    let values = match numbers {
        Ok(n) if n.len() == 4 && n.iter().all(|v| v.is_finite()) => [n[0], n[1], n[2], n[3]],
        Ok(n) if n.len() == 6 && n.iter().all(|v| v.is_finite()) => [n[0], n[1], n[3], n[4]],
        _ => {
            return Err(Problem::bad(format!(
                "bbox={text}: give four finite numbers (min, min, max, max in the axis order of bbox-crs, CRS84 by default: lon,lat)"
            )))
        }
    };
    Bbox::from_ogc(values, crs).map_err(|e| Problem::bad(format!("bbox={text}: {e}")))
}

/// The union of the collections' extents, in CRS84.
fn extent(chosen: &[&Arc<Layer>]) -> Result<Bbox, Problem> {
    chosen
        .iter()
        .map(|l| *l.extent().1)
        .reduce(|a, b| a.union(&b))
        .ok_or_else(|| Problem::bad("collections: name one collection or more"))
}

/// A box brought into another CRS (within the target's area of use).
fn into_crs(bbox: &Bbox, from: &Crs, to: &Crs) -> Result<Bbox, Problem> {
    let fail = || {
        Problem::bad(format!(
            "bbox: the box cannot be brought from {} into {}: give a box inside the area of {}",
            from.uri(),
            to.uri(),
            to.uri()
        ))
    };
    let area = to.valid_area();
    let to_crs84 = Transformer::new(from, &Crs::crs84()).map_err(|_| fail())?;
    let clipped = to_crs84
        .transform_bbox(bbox)
        .ok()
        .and_then(|b| b.intersection(&area))
        .ok_or_else(fail)?;
    let transformer = Transformer::new(&Crs::crs84(), to).map_err(|_| fail())?;
    let out = transformer.transform_bbox(&clipped).map_err(|_| fail())?;
    let finite = [out.min_x(), out.min_y(), out.max_x(), out.max_y()]
        .iter()
        .all(|v| v.is_finite());
    if !finite || out.width() <= 0.0 || out.height() <= 0.0 {
        return Err(fail());
    }
    Ok(out)
}

/// Width and height: as given; one of them, the other from the box's shape; a scale
/// denominator; else 1024 pixels on the longer side.
fn size(kvp: &Kvp, bbox: &Bbox, crs: &Crs) -> Result<(u32, u32), Problem> {
    let dimension = |name: &str| -> Result<Option<u32>, Problem> {
        kvp.non_empty(name)
            .map(|text| match text.trim().parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(Problem::bad(format!(
                    "{name}={text}: give a whole number of pixels, at least 1"
                ))),
            })
            .transpose()
    };
    let (width, height) = (dimension("width")?, dimension("height")?);
    let aspect = bbox.width() / bbox.height();
    let other = |given: u32, ratio: f64| ((f64::from(given) * ratio).round().max(1.0)) as u32;
    if let Some(text) = kvp.non_empty("scale-denominator") {
        if width.is_some() || height.is_some() {
            return Err(Problem::bad(
                "scale-denominator: give either scale-denominator or width/height, not both",
            ));
        }
        let scale = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or_else(|| {
                Problem::bad(format!(
                    "scale-denominator={text}: give a positive number, e.g. 25000"
                ))
            })?;
        let resolution = scale * PIXEL_METRES / crs.metres_per_unit();
        let pixels = |span: f64| (span / resolution).round();
        let (w, h) = (pixels(bbox.width()), pixels(bbox.height()));
        if !(w >= 1.0 && h >= 1.0 && w <= f64::from(u32::MAX) && h <= f64::from(u32::MAX)) {
            return Err(Problem::bad(format!(
                "scale-denominator={text}: the box at this scale is {w}×{h} pixels: choose another scale or box"
            )));
        }
        return Ok((w as u32, h as u32));
    }
    Ok(match (width, height) {
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, other(w, 1.0 / aspect)),
        (None, Some(h)) => (other(h, aspect), h),
        (None, None) if aspect >= 1.0 => (DEFAULT_SIZE, other(DEFAULT_SIZE, 1.0 / aspect)),
        (None, None) => (other(DEFAULT_SIZE, aspect), DEFAULT_SIZE),
    })
}

/// `0xRRGGBB`, `RRGGBB`, `#RRGGBB`, or a web colour name.
fn colour(text: &str) -> Option<[u8; 3]> {
    const NAMES: &[(&str, [u8; 3])] = &[
        ("white", [255, 255, 255]),
        ("black", [0, 0, 0]),
        ("red", [255, 0, 0]),
        ("lime", [0, 255, 0]),
        ("green", [0, 128, 0]),
        ("blue", [0, 0, 255]),
        ("navy", [0, 0, 128]),
        ("yellow", [255, 255, 0]),
        ("gray", [128, 128, 128]),
        ("grey", [128, 128, 128]),
        ("silver", [192, 192, 192]),
        ("aqua", [0, 255, 255]),
        ("teal", [0, 128, 128]),
        ("fuchsia", [255, 0, 255]),
        ("purple", [128, 0, 128]),
        ("maroon", [128, 0, 0]),
        ("olive", [128, 128, 0]),
    ];
    let text = text.trim();
    if let Some((_, rgb)) = NAMES.iter().find(|(n, _)| text.eq_ignore_ascii_case(n)) {
        return Some(*rgb);
    }
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .or_else(|| text.strip_prefix('#'))
        .unwrap_or(text);
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// The CRS URIs a collection's maps are drawn in: CRS84 first, its own, then WMS's list.
pub fn map_crs(layer: &Layer, advertised: &[String]) -> Vec<String> {
    let mut uris = vec![Crs::crs84().uri(), layer.crs().uri()];
    for code in advertised {
        if let Ok(crs) = Crs::parse(code) {
            let uri = crs.uri();
            if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
    }
    uris
}

/// The paths Maps adds to the OpenAPI document: the dataset's map, and each collection's
/// map, styles and styled maps.
pub fn openapi_paths(layers: &Layers, paths: &mut serde_json::Map<String, Value>) {
    use super::openapi;
    let error = openapi::problem();
    let image = json!({"200": {"description": "the map", "headers": {
            "Content-Crs": {"description": "the map's CRS, <URI>", "schema": {"type": "string"}},
            "Content-Bbox": {"description": "the map's box, in the axis order of its CRS", "schema": {"type": "string"}}
        }, "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}
        }}, "400": error, "404": error, "406": error});
    let mut parameters = vec![
        openapi::query(
            "bbox",
            "the box to draw (bbox-crs, CRS84 by default; default: the collections' extent)",
            json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
        ),
        openapi::query("bbox-crs", "the CRS of bbox", json!({"type": "string"})),
        openapi::query(
            "crs",
            "the CRS of the map (CRS84 by default)",
            json!({"type": "string"}),
        ),
        openapi::query(
            "width",
            "pixels across",
            json!({"type": "integer", "minimum": 1}),
        ),
        openapi::query(
            "height",
            "pixels down",
            json!({"type": "integer", "minimum": 1}),
        ),
        openapi::query(
            "scale-denominator",
            "the scale (instead of width and height)",
            json!({"type": "number", "exclusiveMinimum": true, "minimum": 0}),
        ),
        openapi::query(
            "mm-per-pixel",
            "the size of a display pixel (0.28 by default)",
            json!({"type": "number", "exclusiveMinimum": true, "minimum": 0}),
        ),
        openapi::query(
            "bgcolor",
            "the background (0xRRGGBB or a web colour name)",
            json!({"type": "string"}),
        ),
        openapi::query(
            "transparent",
            "whether the background is transparent (default: true unless bgcolor is given)",
            json!({"type": "boolean"}),
        ),
        openapi::f(&["png", "jpeg"]),
    ];
    let mut dataset = parameters.clone();
    dataset.push(openapi::query(
        "collections",
        "the collections to draw, in order (default: every one)",
        json!({"type": "array", "items": {"type": "string"}}),
    ));
    paths.insert(
        "/map".to_owned(),
        openapi::get(
            "a map of several collections",
            "getDatasetMap",
            dataset,
            image.clone(),
        ),
    );
    for layer in layers.iter() {
        let id = &layer.name;
        paths.insert(
            format!("/collections/{id}/map"),
            openapi::get(
                &format!("a map of {id}"),
                &format!("getCollectionMap_{id}"),
                parameters.clone(),
                image.clone(),
            ),
        );
        paths.insert(
            format!("/collections/{id}/styles"),
            openapi::get(
                &format!("the styles of {id}"),
                &format!("getStyles_{id}"),
                vec![openapi::f(&["json", "html"])],
                json!({"200": openapi::document(), "404": error}),
            ),
        );
        let mut styled = vec![openapi::path(
            "styleId",
            "the style",
            json!({"type": "string", "enum": style_names(layer)}),
        )];
        styled.append(&mut parameters.clone());
        paths.insert(
            format!("/collections/{id}/styles/{{styleId}}/map"),
            openapi::get(
                &format!("a map of {id} in a style"),
                &format!("getStyledMap_{id}"),
                styled,
                image.clone(),
            ),
        );
    }
    parameters.clear();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_read_in_every_spelling() {
        assert_eq!(colour("0xFF8000"), Some([255, 128, 0]));
        assert_eq!(colour("ff8000"), Some([255, 128, 0]));
        assert_eq!(colour("#FF8000"), Some([255, 128, 0]));
        assert_eq!(colour("Navy"), Some([0, 0, 128]));
        assert_eq!(colour("0xFF80"), None);
        assert_eq!(colour("0xGG8000"), None);
    }

    #[test]
    fn sizes_follow_the_box_shape() {
        let bbox = Bbox::new(0.0, 0.0, 20.0, 10.0).unwrap();
        let crs = Crs::crs84();
        let kvp = |q: &str| Kvp::parse_as_sent(Some(q));
        assert_eq!(size(&kvp(""), &bbox, &crs).unwrap(), (1024, 512));
        assert_eq!(size(&kvp("width=400"), &bbox, &crs).unwrap(), (400, 200));
        assert_eq!(size(&kvp("height=100"), &bbox, &crs).unwrap(), (200, 100));
        assert_eq!(
            size(&kvp("width=300&height=300"), &bbox, &crs).unwrap(),
            (300, 300)
        );
        assert!(size(&kvp("width=0"), &bbox, &crs).is_err());
        assert!(size(&kvp("width=10&scale-denominator=1000"), &bbox, &crs).is_err());
        let metres = Bbox::new(0.0, 0.0, 2800.0, 1400.0).unwrap();
        let mercator = Crs::parse("EPSG:3857").unwrap();
        // 2 800 m at 1:10 000 with 0.28 mm pixels: 1 000 pixels.
        assert_eq!(
            size(&kvp("scale-denominator=10000"), &metres, &mercator).unwrap(),
            (1000, 500)
        );
    }
}
