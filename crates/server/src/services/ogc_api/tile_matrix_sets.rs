//! `/tileMatrixSets`: the tile matrix sets the tiles are cut on, as OGC 2D-TMS 2.0 JSON.
//!
//! Each document also carries the keys of the older 1.0 encoding (`type`, `identifier`,
//! `supportedCRS`, `boundingBox`, and per matrix `identifier`, `topLeftCorner`): GDAL 3.6's
//! OGCAPI driver reads only those, and newer clients ignore them. Besides the registered sets,
//! the level subsets layers link to (`PM_2_3`: the Géoplateforme's way of saying "levels 2 to
//! 3 of PM") are sets of their own, so that a client's grid starts at the layer's first level.

use std::ops::RangeInclusive;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use crs::AxisOrder;
use pyramid::{CornerOfOrigin, TileMatrixSet};
use serde_json::{json, Value};

use super::problem::{answer, base, link, wants_html, Problem};
use super::tilesets::{ogc_id, OgcTiles};
use crate::access::View;
use crate::layers::{LayerSource, Layers};
use crate::services::ogc::Kvp;
use crate::state::AppState;

/// A set by an id of a request: an OGC id, a registry id (`PM` and `WebMercatorQuad` name the
/// same set), or a level subset `{set}_{first}_{last}` a visible layer links to, with the
/// levels it keeps.
pub fn find<'a>(
    tiles: &'a OgcTiles,
    layers: &'a Layers,
    id: &str,
) -> Option<(&'a TileMatrixSet, RangeInclusive<u32>)> {
    let registered = if id == "PM" || id == "WebMercatorQuad" {
        tiles
            .registry
            .get("WebMercatorQuad")
            .or_else(|| tiles.registry.get(id))
    } else {
        tiles.registry.get(id)
    };
    if let Some(set) = registered {
        return Some((set, 0..=last_level(set)));
    }
    subsets(tiles, layers)
        .into_iter()
        .find(|(name, _, _)| name == id)
        .map(|(_, set, levels)| (set, levels))
}

fn last_level(set: &TileMatrixSet) -> u32 {
    u32::try_from(set.matrices().len().saturating_sub(1)).unwrap_or(0)
}

/// The level subsets visible layers link to: (id, set, levels).
pub fn subsets<'a>(
    tiles: &'a OgcTiles,
    layers: &'a Layers,
) -> Vec<(String, &'a TileMatrixSet, RangeInclusive<u32>)> {
    let mut found: Vec<(String, &TileMatrixSet, RangeInclusive<u32>)> = Vec::new();
    for layer in layers.iter() {
        match &layer.source {
            LayerSource::Pyramid(pyramid) => {
                let set = pyramid.tile_matrix_set();
                if pyramid.link != set.id() && !found.iter().any(|(id, _, _)| *id == pyramid.link) {
                    found.push((pyramid.link.clone(), set, pyramid.levels.clone()));
                }
            }
            LayerSource::Vector(_) => {
                for tileset in tiles.vector_layer_sets(layer) {
                    if tileset.link != tileset.set.id()
                        && !found.iter().any(|(id, _, _)| *id == tileset.link)
                    {
                        found.push((tileset.link, tileset.set, tileset.levels));
                    }
                }
            }
        }
    }
    found
}

/// The URI of a set: its registered URI (the registry's set of that id has one), else its
/// document here.
pub fn uri(
    registry: &pyramid::TileMatrixSets,
    set: &TileMatrixSet,
    id: &str,
    base: &str,
) -> String {
    let registered = (id == ogc_id(set))
        .then(|| registry.get(id))
        .flatten()
        .and_then(TileMatrixSet::uri);
    registered.map_or_else(|| format!("{base}/tileMatrixSets/{id}"), str::to_owned)
}

/// A set (its `levels` only) as a TMS 2.0 document with the 1.0 keys beside.
pub fn document(set: &TileMatrixSet, id: &str, levels: &RangeInclusive<u32>) -> Value {
    let crs = set.crs();
    let north_first = crs.axis_order() == AxisOrder::NorthEast;
    let ordered = |(x, y): (f64, f64)| if north_first { [y, x] } else { [x, y] };
    let axes = match (crs.is_geographic(), north_first) {
        (true, true) => ["Lat", "Lon"],
        (true, false) => ["Lon", "Lat"],
        (false, true) => ["Y", "X"],
        (false, false) => ["X", "Y"],
    };
    let matrices: Vec<_> = set
        .matrices()
        .iter()
        .filter(|m| levels.contains(&m.level()))
        .collect();
    let mut extent: Option<crs::Bbox> = None;
    let tile_matrices: Vec<Value> = matrices
        .iter()
        .map(|m| {
            let whole = m.extent();
            extent = Some(extent.map_or(whole, |e| e.union(&whole)));
            let mut matrix = json!({
                "id": m.id(),
                "scaleDenominator": m.scale_denominator(),
                "cellSize": m.resolution(),
                "pointOfOrigin": ordered(m.point_of_origin()),
                "tileWidth": m.tile_width(),
                "tileHeight": m.tile_height(),
                "matrixWidth": m.matrix_width(),
                "matrixHeight": m.matrix_height(),
                "identifier": m.id(),
                "topLeftCorner": ordered(m.top_left()),
            });
            if m.corner_of_origin() == CornerOfOrigin::BottomLeft {
                matrix["cornerOfOrigin"] = json!("bottomLeft");
            }
            matrix
        })
        .collect();
    let mut document = json!({
        "id": id,
        "title": set.title().unwrap_or(id),
        "crs": crs.uri(),
        "orderedAxes": axes,
        "tileMatrices": tile_matrices,
        "type": "TileMatrixSetType",
        "identifier": id,
        "supportedCRS": crs.uri(),
    });
    if let Some(uri) = set.uri().filter(|_| id == ogc_id(set)) {
        document["uri"] = json!(uri);
    }
    if let Some(scale_set) = set.well_known_scale_set().filter(|_| id == ogc_id(set)) {
        document["wellKnownScaleSet"] = json!(scale_set);
    }
    if let Some(e) = extent {
        let [a, b, c, d] = e.to_ogc(crs);
        document["boundingBox"] = json!({
            "type": "BoundingBoxType",
            "crs": crs.uri(),
            "lowerCorner": [a, b],
            "upperCorner": [c, d],
        });
    }
    document
}

/// The routes of `/tileMatrixSets`, behind the access gate of WMTS and TMS (the level
/// subsets come from the layers a request may see).
pub fn routes(state: &AppState, tiles: std::sync::Arc<OgcTiles>) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/ogcapi/tileMatrixSets", axum::routing::get(list))
        .route("/ogcapi/tileMatrixSets/{tms}", axum::routing::get(one))
        .route_layer(crate::access::gate(state, crate::layers::Service::Tiles))
        .route_layer(crate::metrics::label("ogcapi"))
        .layer(axum::Extension(tiles))
}

/// `GET /ogcapi/tileMatrixSets`
async fn list(
    View(layers): View,
    State(state): State<AppState>,
    axum::Extension(tiles): axum::Extension<std::sync::Arc<OgcTiles>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    let base = base(&state, &headers);
    let mut entries: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    // `PM` is listed as the OGC's `WebMercatorQuad`, with its registered URI.
    let has_quad = tiles.registry.get("WebMercatorQuad").is_some();
    let registered = tiles
        .registry
        .iter()
        .filter(|set| !(has_quad && set.id() == "PM"))
        .map(|set| (ogc_id(set).to_owned(), set));
    let subsets = subsets(&tiles, &layers)
        .into_iter()
        .map(|(id, set, _)| (id, set));
    for (id, set) in registered.chain(subsets) {
        if ids.contains(&id) {
            continue;
        }
        let href = format!("{base}/tileMatrixSets/{id}");
        let mut entry = json!({
            "id": id,
            "title": set.title().unwrap_or(&id),
            "crs": set.crs().uri(),
            "links": [link(&href, "self", "application/json", &id)],
        });
        if let Some(uri) = set.uri().filter(|_| id == ogc_id(set)) {
            entry["uri"] = json!(uri);
        }
        entries.push(entry);
        ids.push(id);
    }
    let document = json!({
        "links": [link(&format!("{base}/tileMatrixSets?f=json"), "self", "application/json", "the tile matrix sets")],
        "tileMatrixSets": entries,
    });
    Ok(answer(&document, html, "Tile matrix sets"))
}

/// `GET /ogcapi/tileMatrixSets/{id}`
async fn one(
    View(layers): View,
    axum::Extension(tiles): axum::Extension<std::sync::Arc<OgcTiles>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    let (set, levels) = find(&tiles, &layers, &id).ok_or_else(|| {
        Problem::not_found(format!(
            "no tile matrix set '{id}': GET /ogcapi/tileMatrixSets lists them"
        ))
    })?;
    // A registered set is shown by its OGC id (`PM` is `WebMercatorQuad`), a subset by its own.
    let shown = if tiles.registry.get(&id).is_some() {
        ogc_id(set).to_owned()
    } else {
        id.clone()
    };
    Ok(answer(&document(set, &shown, &levels), html, &shown))
}
