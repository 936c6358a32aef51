//! Dataset map tiles (OGC API – Tiles, dataset tilesets and collections selection):
//! `/ogcapi/map/tiles[/{set}[/{tileMatrix}/{tileRow}/{tileCol}]]?collections=a,b` — several
//! collections drawn together on the sets of the tile cache, each tile the WMS GetMap of its
//! box and size (WMS's image cache keeps them; the tile cache keeps one layer per pyramid).

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use pyramid::TileMatrixSet;
use serde_json::{json, Value};

use super::maps::{self, MapRequest};
use super::problem::{answer, base, link, wants_html, Problem};
use super::tile_matrix_sets;
use super::tiles::{extent_limits, locate, TILING_SCHEME};
use super::tilesets::{ogc_id, OgcTiles};
use crate::access::{self, View};
use crate::layers::Service;
use crate::metrics;
use crate::services::ogc::Kvp;
use crate::services::wms::{MapFormat, Maps};
use crate::state::AppState;

/// The routes of dataset map tiles, behind the access gate of WMS (they are maps).
pub fn routes(state: &AppState, tiles: Arc<OgcTiles>, maps: Maps) -> Router<AppState> {
    Router::new()
        .route("/ogcapi/map/tiles", get(list))
        .route("/ogcapi/map/tiles/{tms}", get(tileset))
        .route("/ogcapi/map/tiles/{tms}/{matrix}/{row}/{col}", get(tile))
        .route_layer(access::gate(state, Service::Wms))
        .route_layer(metrics::label("ogcapi"))
        .layer(Extension(tiles))
        .layer(Extension(maps))
}

/// The sets dataset tiles are cut on: `[tile_cache] sets`, over the tile cache's levels.
fn sets(tiles: &OgcTiles) -> Vec<(&TileMatrixSet, RangeInclusive<u32>)> {
    let images = &tiles.on_demand.images;
    let zooms = images.zooms();
    (0..images.set_count())
        .filter(|index| images.listed(*index))
        .filter_map(|index| images.set_at(index, 1))
        .map(|set| {
            let last = u32::try_from(set.matrices().len().saturating_sub(1)).unwrap_or(0);
            (set, *zooms.start()..=(*zooms.end()).min(last))
        })
        .collect()
}

fn set_of<'a>(
    tiles: &'a OgcTiles,
    id: &str,
) -> Result<(&'a TileMatrixSet, RangeInclusive<u32>), Problem> {
    let all = sets(tiles);
    let names: Vec<&str> = all.iter().map(|(set, _)| ogc_id(set)).collect();
    let message = format!(
        "dataset tiles are not cut on '{id}': use {}",
        names.join(" or ")
    );
    all.into_iter()
        .find(|(set, _)| set.id() == id || ogc_id(set) == id)
        .ok_or_else(|| Problem::not_found(message))
}

/// `&collections=…` as the request gave it, for links.
fn selection(kvp: &Kvp) -> String {
    kvp.non_empty("collections")
        .map(|c| {
            format!(
                "&collections={}",
                form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default()
}

async fn list(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OgcTiles>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let html = wants_html(&kvp, &headers)?;
    maps::dataset_collections(&layers, &kvp)?;
    let base = base(&state, &headers);
    let selection = selection(&kvp);
    let tilesets: Vec<Value> = sets(&tiles)
        .iter()
        .map(|(set, _)| {
            let id = ogc_id(set);
            json!({
                "title": format!("The dataset ({id})"),
                "dataType": "map",
                "crs": set.crs().uri(),
                "tileMatrixSetURI": tile_matrix_sets::uri(&tiles.registry, set, id, &base),
                "links": [
                    link(&format!("{base}/map/tiles/{id}?f=json{selection}"), "self", "application/json", "the tileset"),
                    link(&format!("{base}/tileMatrixSets/{id}"), TILING_SCHEME, "application/json", "the tile matrix set"),
                ],
            })
        })
        .collect();
    let document = json!({
        "links": [link(&format!("{base}/map/tiles?f=json{selection}"), "self", "application/json", "the dataset's tilesets")],
        "tilesets": tilesets,
    });
    Ok(answer(&document, html, "Dataset map tilesets"))
}

async fn tileset(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OgcTiles>>,
    Path(tms): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let html = wants_html(&kvp, &headers)?;
    let chosen = maps::dataset_collections(&layers, &kvp)?;
    let (set, levels) = set_of(&tiles, &tms)?;
    let id = ogc_id(set);
    let base = base(&state, &headers);
    let selection = selection(&kvp);
    let here = format!("{base}/map/tiles/{id}");
    let extent = chosen
        .iter()
        .map(|l| *l.extent().1)
        .reduce(|a, b| a.union(&b));
    let limits = extent.map_or_else(Vec::new, |e| extent_limits(set, &levels, &e));
    let mut links = vec![
        link(
            &format!("{here}?f=json{selection}"),
            "self",
            "application/json",
            "this tileset",
        ),
        link(
            &format!("{base}/tileMatrixSets/{id}"),
            TILING_SCHEME,
            "application/json",
            "the tile matrix set",
        ),
    ];
    for (mime, f) in [("image/png", "png"), ("image/jpeg", "jpeg")] {
        let mut item = link(
            &format!("{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f={f}{selection}"),
            "item",
            mime,
            &format!("a tile ({f})"),
        );
        item["templated"] = json!(true);
        links.push(item);
    }
    let document = json!({
        "title": format!("The dataset ({id})"),
        "dataType": "map",
        "crs": set.crs().uri(),
        "tileMatrixSetURI": tile_matrix_sets::uri(&tiles.registry, set, id, &base),
        "tileMatrixSetLimits": limits,
        "links": links,
    });
    Ok(answer(&document, html, &format!("The dataset ({id})")))
}

/// The path segments of a tile.
#[derive(Debug, serde::Deserialize)]
struct TilePath {
    tms: String,
    matrix: String,
    row: String,
    col: String,
}

async fn tile(
    View(layers): View,
    Extension(tiles): Extension<Arc<OgcTiles>>,
    Extension(maps): Extension<Maps>,
    Path(path): Path<TilePath>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let chosen = maps::dataset_collections(&layers, &kvp)?;
    let format = maps::format(&kvp, &headers)?;
    if !matches!(format, MapFormat::Png | MapFormat::Jpeg) {
        return Err(Problem::bad("f: dataset tiles are f=png or f=jpeg"));
    }
    let (set, levels) = set_of(&tiles, &path.tms)?;
    let located = locate(set, &levels, (&path.matrix, &path.row, &path.col))?;
    let (matrix, tile) = (located.matrix, located.tile()?);
    let request = MapRequest {
        crs: set.crs().clone(),
        bbox: matrix.tile_bbox(tile),
        width: matrix.tile_width(),
        height: matrix.tile_height(),
        format,
        transparent: format == MapFormat::Png,
        bgcolor: None,
        dpi: None,
    };
    let styles = vec![String::new(); chosen.len()];
    maps::draw_request(&maps, &layers, &chosen, &styles, &request).await
}

/// The paths dataset tiles add to the OpenAPI document.
pub fn openapi_paths(tiles: &OgcTiles, paths: &mut serde_json::Map<String, Value>) {
    use super::openapi;
    let mut ids: Vec<&str> = sets(tiles).iter().map(|(set, _)| ogc_id(set)).collect();
    ids.sort_unstable();
    ids.dedup();
    let error = openapi::problem();
    let collections = openapi::query(
        "collections",
        "the collections to draw, in order (default: every one)",
        json!({"type": "array", "items": {"type": "string"}}),
    );
    let f = openapi::f(&["json", "html"]);
    paths.insert(
        "/map/tiles".to_owned(),
        openapi::get(
            "the dataset's map tilesets",
            "getDatasetMapTilesets",
            vec![collections.clone(), f.clone()],
            json!({"200": openapi::document(), "400": error}),
        ),
    );
    let set = openapi::path(
        "tileMatrixSetId",
        "the tile matrix set",
        json!({"type": "string", "enum": ids}),
    );
    paths.insert(
        "/map/tiles/{tileMatrixSetId}".to_owned(),
        openapi::get(
            "a dataset map tileset",
            "getDatasetMapTileset",
            vec![set.clone(), collections.clone(), f],
            json!({"200": openapi::document(), "400": error, "404": error}),
        ),
    );
    paths.insert(
        "/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}".to_owned(),
        openapi::get(
            "a dataset map tile",
            "getDatasetMapTile",
            [set]
                .into_iter()
                .chain(openapi::tile_coordinates())
                .chain([collections, openapi::f(&["png", "jpeg"])])
                .collect(),
            json!({
                "200": {"description": "the tile", "content": {
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}
                }},
                "400": error,
                "404": error
            }),
        ),
    );
}
