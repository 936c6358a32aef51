//! OGC API – Tiles, Part 1: the tilesets of each collection and their tiles, answered by the
//! same code as WMTS and TMS (pyramid reads, the tile cache's metatiles, vector tiles), so a
//! tile here is byte for byte the WMTS tile of the same set, level, row and column, with the
//! same ETag, `Last-Modified` and `Cache-Control`.
//!
//! A collection has, by kind of data:
//! - **map** tilesets (`/collections/{id}/map/tiles/{set}`): the images of an image pyramid as
//!   stored, and the rendered images of a vector layer on each set of the tile cache; each
//!   SLD style's images under `/collections/{id}/styles/{style}/map/tiles/{set}`;
//! - **vector** tilesets (`/collections/{id}/tiles/{set}`): MVT of a vector layer (made on
//!   the fly) or of a vector pyramid (as stored);
//! - **coverage** tilesets (`/collections/{id}/coverage/tiles/{set}`): the float32 TIFF tiles
//!   of an elevation pyramid.
//!
//! A set is named by its OGC id (`WebMercatorQuad`), or by the level subset the layer links
//! to in WMTS (`PM_2_3`) when it serves only some levels.

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use pyramid::{TileCoord, TileMatrix, TileMatrixSet};
use serde_json::{json, Value};

use super::problem::{answer, base, link, wants_html, Problem};
use super::tile_matrix_sets;
use super::tilesets::{DataType, Format, OgcTiles, Source, Tileset};
use crate::access::{self, View};
use crate::layers::{Layer, LayerSource, Layers, PyramidLayer, Service};
use crate::metrics;
use crate::services::ogc::Kvp;
use crate::services::on_demand::OnDemandFormat;
use crate::services::tile_cache::{style_index, CachedTileRequest};
use crate::services::tiles::{self as tile_answers, Caching};
use crate::services::vector_tiles::{AddressError, OnDemandTileError, TileAddress};
use crate::state::AppState;

/// The conformance classes of OGC API – Tiles and of the tile matrix set documents.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/collections-selection",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/jpeg",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tiff",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixsetlimits",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixsetlimits",
    "http://www.opengis.net/spec/tms/2.0/conf/tilesetmetadata",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilesetmetadata",
];

/// The link relation to a tile matrix set's definition.
pub const TILING_SCHEME: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";

/// The routes of OGC API – Tiles, behind the access gate of WMTS and TMS.
pub fn routes(state: &AppState, tiles: Arc<OgcTiles>) -> Router<AppState> {
    Router::new()
        .route("/ogcapi/collections/{layer}/tiles", get(vector_list))
        .route(
            "/ogcapi/collections/{layer}/tiles/{tms}",
            get(vector_tileset),
        )
        .route(
            "/ogcapi/collections/{layer}/tiles/{tms}/{matrix}/{row}/{col}",
            get(vector_tile),
        )
        .route("/ogcapi/collections/{layer}/map/tiles", get(map_list))
        .route(
            "/ogcapi/collections/{layer}/map/tiles/{tms}",
            get(map_tileset),
        )
        .route(
            "/ogcapi/collections/{layer}/map/tiles/{tms}/{matrix}/{row}/{col}",
            get(map_tile),
        )
        .route(
            "/ogcapi/collections/{layer}/coverage/tiles",
            get(coverage_list),
        )
        .route(
            "/ogcapi/collections/{layer}/coverage/tiles/{tms}",
            get(coverage_tileset),
        )
        .route(
            "/ogcapi/collections/{layer}/coverage/tiles/{tms}/{matrix}/{row}/{col}",
            get(coverage_tile),
        )
        .route(
            "/ogcapi/collections/{layer}/styles/{style}/map/tiles",
            get(styled_list),
        )
        .route(
            "/ogcapi/collections/{layer}/styles/{style}/map/tiles/{tms}",
            get(styled_tileset),
        )
        .route(
            "/ogcapi/collections/{layer}/styles/{style}/map/tiles/{tms}/{matrix}/{row}/{col}",
            get(styled_tile),
        )
        .route_layer(access::gate(state, Service::Tiles))
        .route_layer(metrics::label("ogcapi"))
        .layer(Extension(tiles))
}

/// What Tiles adds to a collection: links to its tilesets of each kind (none when WMTS/TMS
/// do not serve it to this request).
pub fn collection_links(tiles: &OgcTiles, layers: &Layers, id: &str, here: &str) -> Vec<Value> {
    let Some(layer) = layers.get(id) else {
        return Vec::new();
    };
    DataType::ALL
        .iter()
        .filter(|kind| !tiles.tilesets(layer, **kind, None).is_empty())
        .map(|kind| {
            link(
                &format!("{here}/{}", kind.path()),
                kind.rel(),
                "application/json",
                &format!("{} tilesets", kind.name()),
            )
        })
        .collect()
}

/// The data types a collection's tiles have (for `/collections`).
pub fn data_types(tiles: &OgcTiles, layers: &Layers, id: &str) -> Vec<&'static str> {
    let Some(layer) = layers.get(id) else {
        return Vec::new();
    };
    DataType::ALL
        .iter()
        .filter(|kind| !tiles.tilesets(layer, **kind, None).is_empty())
        .map(|kind| kind.name())
        .collect()
}

/// The layer of a collection, or 404.
fn collection<'a>(layers: &'a Layers, id: &str) -> Result<&'a Arc<Layer>, Problem> {
    layers.get(id).ok_or_else(|| {
        Problem::not_found(format!(
            "no collection '{id}' has tiles: GET /ogcapi/collections lists the collections"
        ))
    })
}

/// The index of a style by its name in a URL (`None`: the default).
fn style_of(tiles: &OgcTiles, layer: &Layer, name: Option<&str>) -> Result<Option<usize>, Problem> {
    let Some(name) = name else {
        return Ok(None);
    };
    let index = match &layer.source {
        LayerSource::Pyramid(_) => layer.styles().iter().position(|s| s.name == name),
        LayerSource::Vector(_) => style_index(layer, name),
    };
    index
        .filter(|i| !tiles.tilesets(layer, DataType::Map, Some(*i)).is_empty())
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = tiles.map_styles(layer).iter().map(|(_, n)| *n).collect();
            Problem::not_found(format!(
                "collection '{}' has no style '{name}' drawn as tiles{}",
                layer.name,
                if names.is_empty() {
                    String::new()
                } else {
                    format!(": its styles are {}", names.join(", "))
                }
            ))
        })
}

/// The base path of a collection's tilesets of a kind in a style.
fn tilesets_path(base: &str, layer: &str, data_type: DataType, style: Option<&str>) -> String {
    match style {
        Some(style) => format!("{base}/collections/{layer}/styles/{style}/map/tiles"),
        None => format!("{base}/collections/{layer}/{}", data_type.path()),
    }
}

/// A tileset's metadata (OGC 2D-TMS 2.0 tileset metadata).
fn tileset_document(
    registry: &pyramid::TileMatrixSets,
    layer: &Layer,
    tileset: &Tileset<'_>,
    here: &str,
    base: &str,
    limits: &[Value],
) -> Value {
    let set = tileset.set;
    let mut links = vec![
        link(
            &format!("{here}?f=json"),
            "self",
            "application/json",
            "this tileset",
        ),
        link(
            &format!("{here}?f=html"),
            "alternate",
            "text/html",
            "this tileset as HTML",
        ),
        link(
            &format!("{base}/tileMatrixSets/{}", tileset.id),
            TILING_SCHEME,
            "application/json",
            "the tile matrix set",
        ),
        link(
            &format!("{base}/collections/{}", layer.name),
            "http://www.opengis.net/def/rel/ogc/1.0/geodata",
            "application/json",
            "the collection",
        ),
    ];
    for format in &tileset.formats {
        let mut item = link(
            &format!(
                "{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f={}",
                format.short()
            ),
            "item",
            format.mime(),
            &format!("a tile ({})", format.short()),
        );
        item["templated"] = json!(true);
        links.push(item);
    }
    let (_, wgs84) = layer.extent();
    let mut document = json!({
        "title": format!("{} ({})", layer.title, tileset.id),
        "dataType": tileset.data_type.name(),
        "crs": set.crs().uri(),
        "tileMatrixSetURI": tile_matrix_sets::uri(registry, set, &tileset.id, base),
        "tileMatrixSetLimits": limits,
        "boundingBox": {
            "lowerLeft": [wgs84.min_x(), wgs84.min_y()],
            "upperRight": [wgs84.max_x(), wgs84.max_y()],
            "crs": crs::Crs::crs84().uri(),
        },
        "links": links,
    });
    if tileset.data_type == DataType::Vector {
        document["layers"] = json!([{
            "id": vector_layer_name(layer),
            "dataType": "vector",
            "minTileMatrix": set.matrix_at(*tileset.levels.start()).map(pyramid::TileMatrix::id),
            "maxTileMatrix": set.matrix_at(*tileset.levels.end()).map(pyramid::TileMatrix::id),
        }]);
    }
    document
}

/// The name of the MVT layer a vector layer's tiles hold.
fn vector_layer_name(layer: &Layer) -> &str {
    &layer.name
}

/// The limits of a tileset: the tiles of each level that hold data.
fn limits(tileset: &Tileset<'_>, layer: &Layer) -> Vec<Value> {
    let entry = |id: &str, (min_row, max_row, min_col, max_col): (u32, u32, u32, u32)| json!({"tileMatrix": id, "minTileRow": min_row, "maxTileRow": max_row, "minTileCol": min_col, "maxTileCol": max_col});
    if let (Source::Pyramid(_) | Source::Styled { .. }, Some(pyramid)) =
        (tileset.source, pyramid_of(layer))
    {
        return pyramid
            .served_levels()
            .map(|(level, matrix)| {
                let l = level.limits();
                entry(matrix.id(), (l.min_row, l.max_row, l.min_col, l.max_col))
            })
            .collect();
    }
    let (_, wgs84) = layer.extent();
    extent_limits(tileset.set, &tileset.levels, wgs84)
}

/// `tileMatrixSetLimits` of the tiles of `levels` of a set that meet a CRS84 box.
pub fn extent_limits(
    set: &TileMatrixSet,
    levels: &RangeInclusive<u32>,
    wgs84: &crs::Bbox,
) -> Vec<Value> {
    let Ok(extent) =
        crs::Transformer::new(&crs::Crs::crs84(), set.crs()).and_then(|t| t.transform_bbox(wgs84))
    else {
        return Vec::new();
    };
    levels
        .clone()
        .filter_map(|z| {
            let matrix = set.matrix_at(z)?;
            let range = matrix.tile_range(&extent)?;
            Some(json!({
                "tileMatrix": matrix.id(),
                "minTileRow": range.min_row(),
                "maxTileRow": range.max_row(),
                "minTileCol": range.min_col(),
                "maxTileCol": range.max_col(),
            }))
        })
        .collect()
}

fn pyramid_of(layer: &Layer) -> Option<&PyramidLayer> {
    match &layer.source {
        LayerSource::Pyramid(pyramid) => Some(pyramid),
        LayerSource::Vector(_) => None,
    }
}

/// The request's parts every tiles handler reads: the state, the caller's view of the tiled
/// layers, the tiles, the query and the headers.
struct Asked {
    state: AppState,
    layers: Arc<Layers>,
    tiles: Arc<OgcTiles>,
    query: Option<String>,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for Asked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Asked, Response> {
        let View(layers) = View::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let tiles = parts
            .extensions
            .get::<Arc<OgcTiles>>()
            .cloned()
            .ok_or_else(|| {
                crate::error::JsonError::broken("the OGC API tiles routes lost their tiles")
                    .into_response()
            })?;
        Ok(Asked {
            state: state.clone(),
            layers,
            tiles,
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
        })
    }
}

/// A list of tilesets.
fn list(
    asked: &Asked,
    id: &str,
    data_type: DataType,
    style: Option<&str>,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(asked.query.as_deref()), &asked.headers)?;
    let layer = collection(&asked.layers, id)?;
    let index = style_of(&asked.tiles, layer, style)?;
    let base = base(&asked.state, &asked.headers);
    let path = tilesets_path(&base, id, data_type, style);
    let tilesets: Vec<Value> = asked
        .tiles
        .tilesets(layer, data_type, index)
        .iter()
        .map(|tileset| {
            let here = format!("{path}/{}", tileset.id);
            json!({
                "title": format!("{} ({})", layer.title, tileset.id),
                "dataType": data_type.name(),
                "crs": tileset.set.crs().uri(),
                "tileMatrixSetURI": tile_matrix_sets::uri(&asked.tiles.registry, tileset.set, &tileset.id, &base),
                "links": [
                    link(&here, "self", "application/json", "the tileset"),
                    link(&format!("{base}/tileMatrixSets/{}", tileset.id), TILING_SCHEME, "application/json", "the tile matrix set"),
                ],
            })
        })
        .collect();
    if tilesets.is_empty() {
        return Err(Problem::not_found(format!(
            "collection '{id}' has no {} tiles{}",
            data_type.name(),
            style
                .map(|s| format!(" in style '{s}'"))
                .unwrap_or_default()
        )));
    }
    let document = json!({
        "links": [link(&format!("{path}?f=json"), "self", "application/json", "the tilesets")],
        "tilesets": tilesets,
    });
    Ok(answer(
        &document,
        html,
        &format!("Tilesets of {}", layer.title),
    ))
}

fn tileset_of<'a>(
    tiles: &'a OgcTiles,
    layer: &'a Layer,
    data_type: DataType,
    style: Option<usize>,
    tms: &str,
) -> Result<Tileset<'a>, Problem> {
    let all = tiles.tilesets(layer, data_type, style);
    let names: Vec<String> = all.iter().map(|t| t.id.clone()).collect();
    all.into_iter().find(|t| t.answers_to(tms)).ok_or_else(|| {
        Problem::not_found(format!(
            "collection '{}' has no {} tiles on tile matrix set '{tms}': use {}",
            layer.name,
            data_type.name(),
            if names.is_empty() {
                "another kind of tiles (see the collection's links)".to_owned()
            } else {
                names.join(" or ")
            }
        ))
    })
}

/// One tileset's metadata.
fn tileset(
    asked: &Asked,
    id: &str,
    data_type: DataType,
    style: Option<&str>,
    tms: &str,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(asked.query.as_deref()), &asked.headers)?;
    let layer = collection(&asked.layers, id)?;
    let index = style_of(&asked.tiles, layer, style)?;
    let tileset = tileset_of(&asked.tiles, layer, data_type, index, tms)?;
    let base = base(&asked.state, &asked.headers);
    let here = format!(
        "{}/{}",
        tilesets_path(&base, id, data_type, style),
        tileset.id
    );
    let limits = limits(&tileset, layer);
    let document = tileset_document(
        &asked.tiles.registry,
        layer,
        &tileset,
        &here,
        &base,
        &limits,
    );
    Ok(answer(
        &document,
        html,
        &format!("{} ({})", layer.title, tileset.id),
    ))
}

/// The format a tile request asks for: `f`, else the first of `Accept` offered, else the
/// tileset's first.
fn chosen_format(tileset: &Tileset<'_>, kvp: &Kvp, headers: &HeaderMap) -> Result<Format, Problem> {
    let offered = || {
        tileset
            .formats
            .iter()
            .map(|f| format!("f={}", f.short()))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    if let Some(f) = kvp.non_empty("f") {
        let wanted = f.to_ascii_lowercase();
        let wanted = match wanted.as_str() {
            "jpg" => "jpeg",
            "pbf" => "mvt",
            "tif" => "tiff",
            other => other,
        };
        return tileset
            .formats
            .iter()
            .copied()
            .find(|format| format.short() == wanted || format.mime() == wanted)
            .ok_or_else(|| {
                Problem::bad(format!(
                    "f={f} is not offered by this tileset: use {}",
                    offered()
                ))
            });
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    for item in accept.split(',') {
        let mime = item.split(';').next().unwrap_or("").trim();
        if let Some(format) = tileset.formats.iter().find(|f| f.mime() == mime) {
            return Ok(*format);
        }
    }
    tileset
        .formats
        .first()
        .copied()
        .ok_or_else(|| Problem::not_found("this tileset has no format"))
}

/// The path segments of a tile.
#[derive(Debug, serde::Deserialize)]
struct TilePath {
    layer: String,
    tms: String,
    matrix: String,
    row: String,
    col: String,
}

/// The path segments of a styled tile.
#[derive(Debug, serde::Deserialize)]
struct StyledTilePath {
    layer: String,
    style: String,
    tms: String,
    matrix: String,
    row: String,
    col: String,
}

/// One tile.
async fn tile(
    asked: &Asked,
    data_type: DataType,
    style: Option<&str>,
    path: &TilePath,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(asked.query.as_deref());
    let layer = collection(&asked.layers, &path.layer)?;
    let index = style_of(&asked.tiles, layer, style)?;
    let tileset = tileset_of(&asked.tiles, layer, data_type, index, &path.tms)?;
    let format = chosen_format(&tileset, &kvp, &asked.headers)?;
    let located = locate(
        tileset.set,
        &tileset.levels,
        (&path.matrix, &path.row, &path.col),
    )?;
    let (matrix, row, col) = (located.matrix, located.row, located.col);
    let caching = Caching::of(layer, &asked.state.config.tiles.cache_control);
    let tiles = &asked.tiles.on_demand;
    match (tileset.source, format) {
        (Source::Pyramid(pyramid), Format::Stored(served)) => {
            let tile = located.tile()?;
            if !layer.reads_object_storage() {
                return stored_tile(pyramid, tile, served, &asked.headers, caching);
            }
            // An S3 round trip: off the event loop, as WMTS and TMS read it.
            let layers = Arc::clone(&asked.layers);
            let name = path.layer.clone();
            let headers = asked.headers.clone();
            let state = asked.state.clone();
            Ok(tile_answers::off_loop_when(true, move || {
                let Some(layer) = layers.get(&name) else {
                    return Problem::not_found(format!("no collection '{name}'")).into_response();
                };
                let LayerSource::Pyramid(pyramid) = &layer.source else {
                    return Problem::not_found(format!("'{name}' has no stored tiles"))
                        .into_response();
                };
                let caching = Caching::of(layer, &state.config.tiles.cache_control);
                stored_tile(pyramid, tile, served, &headers, caching)
                    .unwrap_or_else(IntoResponse::into_response)
            })
            .await)
        }
        (Source::Styled { set }, Format::OnDemand(OnDemandFormat::Image(format))) => {
            let tile = located.tile()?;
            let request = CachedTileRequest {
                style: index.unwrap_or(0),
                format,
                tile: TileAddress {
                    z: tile.level(),
                    x: tile.col(),
                    y: tile.row(),
                },
                set,
                scale: 1,
            };
            tiles
                .images
                .response(layer, request, &asked.headers, caching)
                .await
                .map_err(|e| from_on_demand(&e))
        }
        (Source::OnDemand(place), Format::OnDemand(format)) => {
            let address = tiles
                .address(layer, (format, place), matrix.level(), col, row)
                .map_err(|error| match error {
                    AddressError::Zoom(message) | AddressError::OutOfRange(message) => {
                        Problem::not_found(message)
                    }
                })?;
            tiles
                .response(
                    &asked.layers,
                    layer,
                    index.unwrap_or(0),
                    (format, place),
                    address,
                    &asked.headers,
                    caching,
                )
                .await
                .map_err(|e| from_on_demand(&e))
        }
        _ => Err(Problem::internal(
            "answering an OGC API tile",
            &std::io::Error::other("a tileset's source and format do not match"),
        )),
    }
}

/// A stored tile of a pyramid, answered as WMTS answers it.
fn stored_tile(
    pyramid: &PyramidLayer,
    tile: TileCoord,
    served: tile_answers::ServedFormat,
    headers: &HeaderMap,
    caching: Caching<'_>,
) -> Result<Response, Problem> {
    tile_answers::tile_response(pyramid, tile, served, headers, caching).map_err(|error| {
        if error.is_storage_failure() {
            Problem::storage_failure("reading a tile", &error)
        } else {
            Problem::internal("reading a tile", &error)
        }
    })
}

/// A tile's address in a request, read against a set's levels: its matrix, and its row and
/// column as numbers (on-demand tiles check them against their own zooms).
pub struct Located<'a> {
    /// The tile matrix.
    pub matrix: &'a TileMatrix,
    /// The row, 0 at the top.
    pub row: i64,
    /// The column, 0 at the left.
    pub col: i64,
}

impl Located<'_> {
    /// The tile, or a 404 naming the matrix's rows and columns.
    pub fn tile(&self) -> Result<TileCoord, Problem> {
        self.matrix.tile(self.col, self.row).map_err(|_| {
            Problem::not_found(format!(
                "tile (row {}, column {}) is outside tile matrix '{}': rows 0 to {}, columns 0 to {}",
                self.row,
                self.col,
                self.matrix.id(),
                self.matrix.matrix_height().saturating_sub(1),
                self.matrix.matrix_width().saturating_sub(1)
            ))
        })
    }
}

/// Reads a tile's (matrix, row, column) path segments against a set restricted to `levels`:
/// 404 for a matrix outside them, 400 for a row or column that is not a whole number.
pub fn locate<'a>(
    set: &'a TileMatrixSet,
    levels: &RangeInclusive<u32>,
    (matrix_id, row, col): (&str, &str, &str),
) -> Result<Located<'a>, Problem> {
    let matrix = set
        .matrix(matrix_id)
        .filter(|m| levels.contains(&m.level()))
        .ok_or_else(|| {
            let id = |level: u32| set.matrix_at(level).map_or("?", TileMatrix::id);
            Problem::not_found(format!(
                "tile matrix '{matrix_id}' is not in this tileset: its matrices are {} to {}",
                id(*levels.start()),
                id(*levels.end())
            ))
        })?;
    let number = |text: &str, name: &str| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| Problem::bad(format!("{name}={text}: give a whole number")))
    };
    Ok(Located {
        matrix,
        row: number(row, "tileRow")?,
        col: number(col, "tileCol")?,
    })
}

/// An on-demand tile's failure as a problem.
fn from_on_demand(error: &OnDemandTileError) -> Problem {
    match error {
        OnDemandTileError::Busy => Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable",
            detail: "the server is making as many tiles as it can queue; retry in a second"
                .to_owned(),
        },
        OnDemandTileError::Cancelled => Problem {
            status: StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            code: "ClientClosedRequest",
            detail: "the client closed its connection before the tile was ready".to_owned(),
        },
        OnDemandTileError::Internal(_) => Problem {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            detail: "the server failed to answer this request; the cause is in its log".to_owned(),
        },
    }
}

macro_rules! handlers {
    ($list:ident, $tileset:ident, $tile:ident, $kind:expr) => {
        async fn $list(asked: Asked, Path(layer): Path<String>) -> Result<Response, Problem> {
            list(&asked, &layer, $kind, None)
        }

        async fn $tileset(
            asked: Asked,
            Path((layer, tms)): Path<(String, String)>,
        ) -> Result<Response, Problem> {
            tileset(&asked, &layer, $kind, None, &tms)
        }

        async fn $tile(asked: Asked, Path(path): Path<TilePath>) -> Result<Response, Problem> {
            tile(&asked, $kind, None, &path).await
        }
    };
}

handlers!(vector_list, vector_tileset, vector_tile, DataType::Vector);
handlers!(map_list, map_tileset, map_tile, DataType::Map);
handlers!(
    coverage_list,
    coverage_tileset,
    coverage_tile,
    DataType::Coverage
);

async fn styled_list(
    asked: Asked,
    Path((layer, style)): Path<(String, String)>,
) -> Result<Response, Problem> {
    list(&asked, &layer, DataType::Map, Some(&style))
}

async fn styled_tileset(
    asked: Asked,
    Path((layer, style, tms)): Path<(String, String, String)>,
) -> Result<Response, Problem> {
    tileset(&asked, &layer, DataType::Map, Some(&style), &tms)
}

async fn styled_tile(asked: Asked, Path(path): Path<StyledTilePath>) -> Result<Response, Problem> {
    let plain = TilePath {
        layer: path.layer,
        tms: path.tms,
        matrix: path.matrix,
        row: path.row,
        col: path.col,
    };
    tile(&asked, DataType::Map, Some(&path.style), &plain).await
}

/// The styles whose map tiles a collection has (for the collection's links).
pub fn tiled_styles<'a>(tiles: &OgcTiles, layer: &'a Layer) -> Vec<&'a str> {
    tiles
        .map_styles(layer)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

/// A style's map tiles in the OpenAPI document: the first style's index, and every name.
type Styled<'a> = (usize, Vec<&'a str>);

/// The paths Tiles adds to the OpenAPI document, per collection and kind of tiles.
pub fn openapi_paths(
    tiles: &OgcTiles,
    layers: &Layers,
    paths: &mut serde_json::Map<String, Value>,
) {
    use super::openapi;
    let f = openapi::f(&["json", "html"]);
    let error = openapi::problem();
    for layer in layers.iter() {
        let id = &layer.name;
        let styles = tiles.map_styles(layer);
        let mut kinds: Vec<(DataType, Option<Styled<'_>>)> = DataType::ALL
            .iter()
            .filter(|kind| !tiles.tilesets(layer, **kind, None).is_empty())
            .map(|kind| (*kind, None))
            .collect();
        if let Some((first, _)) = styles.first() {
            kinds.push((
                DataType::Map,
                Some((*first, styles.iter().map(|(_, n)| *n).collect())),
            ));
        }
        for (kind, styled) in kinds {
            let (prefix, mut parameters, style_index) = match &styled {
                None => (
                    format!("/collections/{id}/{}", kind.path()),
                    Vec::new(),
                    None,
                ),
                Some((first, names)) => (
                    format!("/collections/{id}/styles/{{styleId}}/map/tiles"),
                    vec![openapi::path(
                        "styleId",
                        "the style",
                        json!({"type": "string", "enum": names}),
                    )],
                    Some(*first),
                ),
            };
            let tilesets = tiles.tilesets(layer, kind, style_index);
            let ids: Vec<&str> = tilesets.iter().map(|t| t.id.as_str()).collect();
            let mut formats: Vec<&str> = Vec::new();
            for format in tilesets.iter().flat_map(|t| t.formats.iter()) {
                if !formats.contains(&format.short()) {
                    formats.push(format.short());
                }
            }
            let operation = |suffix: &str| {
                format!(
                    "{}_{}_{id}{}",
                    kind.name(),
                    if styled.is_some() { "styled" } else { "plain" },
                    suffix
                )
            };
            let mut list_parameters = parameters.clone();
            list_parameters.push(f.clone());
            paths.insert(
                prefix.clone(),
                openapi::get(
                    &format!("the {} tilesets of {id}", kind.name()),
                    &operation("tilesets"),
                    list_parameters,
                    json!({"200": openapi::document(), "404": error}),
                ),
            );
            parameters.push(openapi::path(
                "tileMatrixSetId",
                "the tile matrix set",
                json!({"type": "string", "enum": ids}),
            ));
            let mut tileset_parameters = parameters.clone();
            tileset_parameters.push(f.clone());
            paths.insert(
                format!("{prefix}/{{tileMatrixSetId}}"),
                openapi::get(
                    &format!("a {} tileset of {id}", kind.name()),
                    &operation("tileset"),
                    tileset_parameters,
                    json!({"200": openapi::document(), "404": error}),
                ),
            );
            parameters.extend(openapi::tile_coordinates());
            parameters.push(openapi::f(&formats));
            let content: serde_json::Map<String, Value> = tilesets
                .iter()
                .flat_map(|t| t.formats.iter())
                .map(|f| {
                    (
                        f.mime().to_owned(),
                        json!({"schema": {"type": "string", "format": "binary"}}),
                    )
                })
                .collect();
            paths.insert(
                format!("{prefix}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"),
                openapi::get(
                    &format!("a {} tile of {id}", kind.name()),
                    &operation("tile"),
                    parameters,
                    json!({
                        "200": {"description": "the tile", "content": content},
                        "304": {"description": "not modified since the ETag or date the request gave"},
                        "400": error,
                        "404": error
                    }),
                ),
            );
        }
    }
}
