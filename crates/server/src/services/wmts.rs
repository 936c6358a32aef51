//! WMTS 1.0.0: GetCapabilities, GetTile and GetFeatureInfo, in KVP and RESTful encodings.
//!
//! KVP and REST requests are parsed into the same [`TileRequest`] and answered by the same
//! code, so both give identical bytes. Errors are OWS 1.1 exception reports naming the
//! parameter (`locator`) and what to send instead. Following OGC 07-057r7, an unknown layer,
//! style, format or tile matrix is `InvalidParameterValue`, a tile outside its matrix is
//! `TileOutOfRange`, both 400.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pyramid::{TileCoord, TileMatrix, TileMatrixSet};

use axum::routing::get;
use axum::{Extension, Router};

use crate::access::{self, View};
use crate::layers::{Layer, Layers, PyramidLayer, Service};
use crate::metrics;
use crate::services::info_format::InfoFormat;
use crate::services::ogc::{self, coordinate, number, xml_escape, Kvp, OwsCode, OwsException};
use crate::services::on_demand::{OnDemandFormat, OnDemandTiles, TilePlace};
use crate::services::pixel_info;
use crate::services::tile_cache::{CacheFormat, CachedTileRequest};
use crate::services::tiles;
use crate::services::vector_tiles::{self, TileAddress};
use crate::state::AppState;

pub use crate::services::tiles::DEFAULT_STYLE;

/// A parsed GetTile or GetFeatureInfo request.
#[derive(Debug)]
struct TileRequest<'a> {
    layer: &'a Layer,
    pyramid: &'a PyramidLayer,
    tile: TileCoord,
}

/// The routes of WMTS (KVP and RESTful), behind the access gate; the tiles of vector layers
/// come from `tiles`.
pub fn routes(state: &AppState, tiles: Arc<OnDemandTiles>) -> Router<AppState> {
    Router::new()
        .route("/wmts", get(kvp))
        .route("/wmts/1.0.0/WMTSCapabilities.xml", get(rest_capabilities))
        .route(
            "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{file}",
            get(rest_tile),
        )
        .route(
            "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{col}/{j}/{file}",
            get(rest_feature_info),
        )
        .route_layer(access::gate(state, Service::Tiles))
        .route_layer(metrics::label("wmts"))
        .layer(Extension(tiles))
}

/// `GET /wmts?SERVICE=WMTS&REQUEST=…`
async fn kvp(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let kvp = Kvp::parse(query.as_deref());
    let vector = kvp
        .non_empty("REQUEST")
        .filter(|r| r.eq_ignore_ascii_case("GetTile"))
        .and_then(|_| layers.get(kvp.non_empty("LAYER")?))
        .filter(|layer| vector_tiles::vector_source(layer).is_some());
    if let Some(layer) = vector {
        return match vector_kvp(&state, &tiles, &layers, layer, &kvp, &headers).await {
            Ok(response) | Err(response) => response,
        };
    }
    let styled = kvp
        .non_empty("REQUEST")
        .filter(|r| r.eq_ignore_ascii_case("GetTile"))
        .and_then(|_| layers.get(kvp.non_empty("LAYER")?))
        .and_then(|layer| Some((layer, rendered_style(&tiles, layer, kvp.get("STYLE")?)?)));
    if let Some((layer, style)) = styled {
        let asked = (|| {
            check_kvp(&kvp)?;
            let required = |name: &str, hint: &str| {
                kvp.non_empty(name)
                    .ok_or_else(|| OwsException::missing(name, hint))
            };
            let format = required("FORMAT", "use FORMAT=image/png")?;
            if CacheFormat::from_mime(format) != Some(CacheFormat::Png) {
                return Err(OwsException::invalid(
                    "FORMAT",
                    format!(
                        "style '{}' of layer '{}' is drawn as image/png, not {format}: use FORMAT=image/png",
                        layer.styles()[style].name,
                        layer.name
                    ),
                ));
            }
            Ok((
                required(
                    "TILEMATRIXSET",
                    "name the tile matrix set, as in the layer's TileMatrixSetLink",
                )?,
                required("TILEMATRIX", "name the tile matrix (zoom level)")?,
                required("TILEROW", "give the tile row (0 at the top)")?,
                required("TILECOL", "give the tile column (0 at the left)")?,
            ))
        })();
        return match asked {
            Ok(address) => styled_tile(&state, &tiles, &layers, (layer, style), address, &headers)
                .await
                .unwrap_or_else(IntoResponse::into_response),
            Err(exception) => exception.into_response(),
        };
    }
    let remote = kvp
        .non_empty("LAYER")
        .and_then(|name| layers.get(name))
        .is_some_and(|l| l.reads_object_storage());
    tiles::off_loop_when(remote, move || {
        match kvp_inner(&state, &layers, &kvp, &headers, &tiles) {
            Ok(response) => response,
            Err(exception) => exception.into_response(),
        }
    })
    .await
}

/// The index of a raster layer's style drawn by the tile cache (an SLD style named in the
/// request; `normal` is the pyramid as stored).
fn rendered_style(tiles: &OnDemandTiles, layer: &Layer, name: &str) -> Option<usize> {
    if name.is_empty() || name == DEFAULT_STYLE || name.eq_ignore_ascii_case("default") {
        return None;
    }
    let style = layer.styles().iter().position(|s| s.name == name)?;
    tiles.images.renders_style(layer, style).then_some(style)
}

/// A tile of a raster layer drawn with one of its SLD styles: rendered in metatiles on the
/// pyramid's own set and levels, and cached, as vector layers' tiles are.
async fn styled_tile(
    state: &AppState,
    tiles: &OnDemandTiles,
    layers: &Layers,
    (layer, style): (&Arc<Layer>, usize),
    (tms, matrix, row, col): (&str, &str, &str, &str),
    headers: &HeaderMap,
) -> Result<Response, Response> {
    let request = resolve(layers, &layer.name, "", tms, matrix, row, col)
        .map_err(IntoResponse::into_response)?;
    let set = tiles
        .images
        .set_index(request.pyramid.tile_matrix_set().id())
        .ok_or_else(|| {
            OwsException::internal(
                "drawing a styled tile",
                &std::io::Error::other("the pyramid's set is not known to the tile cache"),
            )
            .into_response()
        })?;
    let cached = CachedTileRequest {
        style,
        format: CacheFormat::Png,
        tile: TileAddress {
            z: request.tile.level(),
            x: request.tile.col(),
            y: request.tile.row(),
        },
        set,
        scale: 1,
    };
    tiles
        .images
        .response(
            layer,
            cached,
            headers,
            tiles::Caching::of(layer, &state.config.tiles.cache_control),
        )
        .await
        .map_err(IntoResponse::into_response)
}

/// The checks every KVP request passes: SERVICE, REQUEST, and VERSION when not
/// GetCapabilities; returns REQUEST.
fn check_kvp(kvp: &Kvp) -> Result<&str, OwsException> {
    if let Some(service) = kvp.non_empty("SERVICE") {
        if !service.eq_ignore_ascii_case("WMTS") {
            return Err(OwsException::invalid(
                "SERVICE",
                format!(
                    "SERVICE={service} is not served at /wmts: use SERVICE=WMTS (WMS is at /wms)"
                ),
            ));
        }
    }
    let request = kvp.non_empty("REQUEST").ok_or_else(|| {
        OwsException::missing(
            "REQUEST",
            "use REQUEST=GetCapabilities, GetTile or GetFeatureInfo",
        )
    })?;
    if !request.eq_ignore_ascii_case("GetCapabilities") {
        if kvp.non_empty("SERVICE").is_none() {
            return Err(OwsException::missing("SERVICE", "add SERVICE=WMTS"));
        }
        if let Some(version) = kvp.non_empty("VERSION") {
            if version != "1.0.0" {
                return Err(OwsException::invalid(
                    "VERSION",
                    format!("VERSION={version} is not supported: use VERSION=1.0.0"),
                ));
            }
        }
    }
    Ok(request)
}

/// A KVP GetTile of a vector layer.
async fn vector_kvp(
    state: &AppState,
    tiles: &OnDemandTiles,
    layers: &Arc<Layers>,
    layer: &Arc<Layer>,
    kvp: &Kvp,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    let (style, format, address) = (|| {
        check_kvp(kvp)?;
        if !tiles.tiled(layer) {
            return Err(OwsException::invalid(
                "LAYER",
                OnDemandTiles::untiled_message(layer),
            ));
        }
        let required = |name: &str, hint: &str| {
            kvp.non_empty(name)
                .ok_or_else(|| OwsException::missing(name, hint))
        };
        let tms = required(
            "TILEMATRIXSET",
            "name the tile matrix set, as in the layer's TileMatrixSetLink",
        )?;
        let matrix = required("TILEMATRIX", "name the tile matrix (zoom level)")?;
        let row = required("TILEROW", "give the tile row (0 at the top)")?;
        let col = required("TILECOL", "give the tile column (0 at the left)")?;
        let mimes = || tiles.offered_list(layer, true);
        let format = kvp
            .non_empty("FORMAT")
            .ok_or_else(|| OwsException::missing("FORMAT", &format!("use {}", mimes())))?;
        let format = OnDemandFormat::from_mime(format)
            .filter(|f| tiles.offers(layer, *f))
            .ok_or_else(|| {
                OwsException::invalid(
                    "FORMAT",
                    format!(
                        "FORMAT={format} is not offered by layer '{}': use {}",
                        layer.name,
                        mimes()
                    ),
                )
            })?;
        vector_address(
            tiles,
            layer,
            kvp.get("STYLE").unwrap_or(""),
            format,
            tms,
            matrix,
            row,
            col,
        )
    })()
    .map_err(IntoResponse::into_response)?;
    tiles
        .response(
            layers,
            layer,
            style,
            format,
            address,
            headers,
            tiles::Caching::of(layer, &state.config.tiles.cache_control),
        )
        .await
        .map_err(IntoResponse::into_response)
}

/// Style (index), format with scale, and tile of a vector layer's tile request.
#[allow(clippy::too_many_arguments)]
fn vector_address(
    tiles: &OnDemandTiles,
    layer: &Layer,
    style: &str,
    format: OnDemandFormat,
    tms: &str,
    matrix: &str,
    row: &str,
    col: &str,
) -> Result<(usize, (OnDemandFormat, TilePlace), TileAddress), OwsException> {
    let style_index = crate::services::tile_cache::style_index(layer, style).ok_or_else(|| {
        let names: Vec<&str> = std::iter::once(DEFAULT_STYLE)
            .chain(layer.styles().iter().skip(1).map(|s| s.name.as_str()))
            .collect();
        OwsException::invalid(
            "STYLE",
            format!(
                "layer '{}' has no style '{style}' (styles: {})",
                layer.name,
                names.join(", ")
            ),
        )
    })?;
    // Vector tiles are on Web Mercator only; images on the layer's sets.
    let place = tiles.place(layer, tms).filter(|place| match format {
        OnDemandFormat::Mvt => place.set == 0,
        OnDemandFormat::Image(_) => {
            tiles.images.offers_set(layer, place.set) && (place.scale == 1 || tiles.images.hidpi())
        }
    });
    let Some(place) = place else {
        return Err(OwsException::invalid(
            "TILEMATRIXSET",
            format!(
                "layer '{}' is tiled in {} on {}, not '{tms}'",
                layer.name,
                format.mime(),
                tiles
                    .links(layer)
                    .iter()
                    .filter(|l| match format {
                        OnDemandFormat::Mvt => l.place.set == 0,
                        OnDemandFormat::Image(_) => tiles.images.offers_set(layer, l.place.set),
                    })
                    .map(|l| format!("'{}'", l.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let zooms = tiles.zooms_of(layer, format);
    let z = matrix
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|z| zooms.contains(z))
        .ok_or_else(|| {
            OwsException::invalid(
                "TILEMATRIX",
                format!(
                    "tile matrix '{matrix}' is not served for layer '{}' in {} (served: {} to {})",
                    layer.name,
                    format.mime(),
                    zooms.start(),
                    zooms.end()
                ),
            )
        })?;
    let parse = |text: &str, name: &str| {
        text.trim().parse::<i64>().map_err(|_| {
            OwsException::invalid(name, format!("{name}={text} is not a whole number"))
        })
    };
    let (row_number, col_number) = (parse(row, "TILEROW")?, parse(col, "TILECOL")?);
    let address = tiles
        .address(layer, (format, place), z, col_number, row_number)
        .map_err(|error| {
            let text = match error {
                vector_tiles::AddressError::Zoom(text)
                | vector_tiles::AddressError::OutOfRange(text) => text,
            };
            let locator = if row_number < 0 || row_number >= 1i64 << z {
                "TILEROW"
            } else {
                "TILECOL"
            };
            OwsException::new(OwsCode::TileOutOfRange, locator, text)
        })?;
    Ok((style_index, (format, place), address))
}

fn kvp_inner(
    state: &AppState,
    layers: &Layers,
    kvp: &Kvp,
    headers: &HeaderMap,
    tiles: &OnDemandTiles,
) -> Result<Response, OwsException> {
    let request = check_kvp(kvp)?;
    if request.eq_ignore_ascii_case("GetCapabilities") {
        return Ok(capabilities_response(state, layers, headers, tiles));
    }
    let is_tile = request.eq_ignore_ascii_case("GetTile");
    let is_info = request.eq_ignore_ascii_case("GetFeatureInfo");
    if !is_tile && !is_info {
        return Err(OwsException::new(
            OwsCode::OperationNotSupported,
            "REQUEST",
            format!("REQUEST={request} is not a WMTS operation: use GetCapabilities, GetTile or GetFeatureInfo"),
        ));
    }
    let required = |name: &str, hint: &str| {
        kvp.non_empty(name)
            .ok_or_else(|| OwsException::missing(name, hint))
    };
    let layer = required(
        "LAYER",
        "name the layer, as in the capabilities' ows:Identifier",
    )?;
    let style = kvp.get("STYLE").unwrap_or("");
    let tms = required(
        "TILEMATRIXSET",
        "name the tile matrix set, as in the layer's TileMatrixSetLink",
    )?;
    let matrix = required("TILEMATRIX", "name the tile matrix (zoom level)")?;
    let row = required("TILEROW", "give the tile row (0 at the top)")?;
    let col = required("TILECOL", "give the tile column (0 at the left)")?;
    let request_tile = resolve(layers, layer, style, tms, matrix, row, col)?;
    if is_tile {
        let format = required("FORMAT", "give the tile format listed in the capabilities")?;
        let pyramid_format = request_tile.pyramid.pyramid.format();
        let served = offered(
            tiles::format_for_mime(pyramid_format, format),
            &format!("FORMAT={format}"),
            layer,
            &format!("FORMAT={}", tiles::offered_mimes(pyramid_format)),
        )?;
        return tile(state, &request_tile, served, headers);
    }
    let info_format = required(
        "INFOFORMAT",
        "use INFOFORMAT=application/json, text/plain, text/html or text/xml",
    )?;
    let format = InfoFormat::pixel_from_mime(info_format).ok_or_else(|| {
        OwsException::invalid(
            "INFOFORMAT",
            format!("INFOFORMAT={info_format} is not offered: use application/json, text/plain, text/html or text/xml"),
        )
    })?;
    let i = pixel(kvp, "I", &request_tile)?;
    let j = pixel(kvp, "J", &request_tile)?;
    feature_info(&request_tile, i, j, format)
}

fn pixel(kvp: &Kvp, name: &str, request: &TileRequest<'_>) -> Result<u32, OwsException> {
    let text = kvp.non_empty(name).ok_or_else(|| {
        OwsException::missing(
            name,
            "give the pixel position inside the tile (0 at the top left)",
        )
    })?;
    let size = tile_size(request, name);
    parse_pixel(text, name, size)
}

fn tile_size(request: &TileRequest<'_>, axis: &str) -> u32 {
    request
        .pyramid
        .tile_matrix_set()
        .matrix_of(request.tile)
        .map_or(0, |m| {
            if axis == "I" {
                m.tile_width()
            } else {
                m.tile_height()
            }
        })
}

fn parse_pixel(text: &str, name: &str, size: u32) -> Result<u32, OwsException> {
    match text.trim().parse::<u32>() {
        Ok(v) if v < size => Ok(v),
        _ => Err(OwsException::new(
            OwsCode::InvalidParameterValue,
            name,
            format!(
                "{name}={text} is not a pixel of the tile: use a whole number from 0 to {}",
                size.saturating_sub(1)
            ),
        )),
    }
}

/// Resolves layer, style, tile matrix set, tile matrix, row and column into a tile.
fn resolve<'a>(
    layers: &'a Layers,
    layer_name: &str,
    style: &str,
    tms: &str,
    matrix: &str,
    row: &str,
    col: &str,
) -> Result<TileRequest<'a>, OwsException> {
    let layer = layers.get(layer_name).ok_or_else(|| {
        let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
        OwsException::invalid(
            "LAYER",
            format!(
                "layer '{layer_name}' is not published here (layers: {})",
                names.join(", ")
            ),
        )
    })?;
    let crate::layers::LayerSource::Pyramid(pyramid) = &layer.source else {
        return Err(OwsException::new(
            OwsCode::OperationNotSupported,
            "LAYER",
            format!("layer '{layer_name}' is a vector layer: its tiles are vector tiles ({}), and WMS GetFeatureInfo answers for its features", vector_tiles::MIME),
        ));
    };
    if !(style.is_empty() || style == DEFAULT_STYLE || style.eq_ignore_ascii_case("default")) {
        return Err(OwsException::invalid(
            "STYLE",
            format!("layer '{layer_name}' has no style '{style}': use STYLE={DEFAULT_STYLE}"),
        ));
    }
    if !pyramid.accepts_tile_matrix_set(tms) {
        return Err(OwsException::invalid(
            "TILEMATRIXSET",
            format!(
                "layer '{layer_name}' is tiled on '{}', not '{tms}'",
                pyramid.link
            ),
        ));
    }
    let tile_matrix = pyramid.served_matrix(matrix).ok_or_else(|| {
        let served: Vec<&str> = pyramid.served_levels().map(|(_, m)| m.id()).collect();
        OwsException::invalid(
            "TILEMATRIX",
            format!(
                "tile matrix '{matrix}' is not served for layer '{layer_name}' (served: {})",
                served.join(", ")
            ),
        )
    })?;
    let parse = |text: &str, name: &str| {
        text.trim().parse::<i64>().map_err(|_| {
            OwsException::invalid(name, format!("{name}={text} is not a whole number"))
        })
    };
    let (row_number, col_number) = (parse(row, "TILEROW")?, parse(col, "TILECOL")?);
    let tile = tile_matrix.tile(col_number, row_number).map_err(|_| {
        let locator = if row_number < 0 || row_number >= i64::from(tile_matrix.matrix_height()) {
            "TILEROW"
        } else {
            "TILECOL"
        };
        OwsException::new(
            OwsCode::TileOutOfRange,
            locator,
            format!(
                "tile (row {row_number}, col {col_number}) is outside tile matrix '{matrix}': rows 0..={}, columns 0..={}",
                tile_matrix.matrix_height().saturating_sub(1),
                tile_matrix.matrix_width().saturating_sub(1)
            ),
        )
    })?;
    Ok(TileRequest {
        layer: layer.as_ref(),
        pyramid,
        tile,
    })
}

fn tile(
    state: &AppState,
    request: &TileRequest<'_>,
    served: tiles::ServedFormat,
    headers: &HeaderMap,
) -> Result<Response, OwsException> {
    tiles::tile_response(
        request.pyramid,
        request.tile,
        served,
        headers,
        tiles::Caching::of(request.layer, &state.config.tiles.cache_control),
    )
    .map_err(|error| {
        if error.is_storage_failure() {
            OwsException::storage_failure("reading a tile", &error)
        } else {
            OwsException::internal("reading a tile", &error)
        }
    })
}

fn feature_info(
    request: &TileRequest<'_>,
    i: u32,
    j: u32,
    format: InfoFormat,
) -> Result<Response, OwsException> {
    if !request.pyramid.getfeatureinfo {
        return Err(OwsException::new(
            OwsCode::OperationNotSupported,
            "LAYER",
            format!(
                "layer '{}' does not answer GetFeatureInfo",
                request.layer.name
            ),
        ));
    }
    let values = tiles::pixel_values(request.pyramid, request.tile, i, j).map_err(|error| {
        if error.is_storage_failure() {
            OwsException::storage_failure("reading pixel values", &error)
        } else {
            OwsException::internal("reading pixel values", &error)
        }
    })?;
    let matrix = request
        .pyramid
        .tile_matrix_set()
        .matrix_of(request.tile)
        .ok_or_else(|| OwsException::invalid("TILEMATRIX", "unknown tile matrix"))?;
    let bbox = matrix.tile_bbox(request.tile);
    let x = bbox.min_x() + (f64::from(i) + 0.5) * matrix.resolution();
    let y = bbox.max_y() - (f64::from(j) + 0.5) * matrix.resolution();
    Ok(pixel_info::pixel_answer(
        request.layer,
        request.pyramid,
        values.as_deref(),
        (x, y),
        format,
    ))
}

/// The segments of a RESTful tile path (`file` is `{col}.{ext}`).
#[derive(Debug, serde::Deserialize)]
struct TilePath {
    layer: String,
    style: String,
    tms: String,
    matrix: String,
    row: String,
    file: String,
}

/// The segments of a RESTful FeatureInfo path (`file` is `{i}.{ext}`).
#[derive(Debug, serde::Deserialize)]
struct FeatureInfoPath {
    layer: String,
    style: String,
    tms: String,
    matrix: String,
    row: String,
    col: String,
    j: String,
    file: String,
}

/// `GET /wmts/{layer}/{style}/{tms}/{matrix}/{row}/{col}.{ext}`
async fn rest_tile(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    Path(TilePath {
        layer,
        style,
        tms,
        matrix,
        row,
        file,
    }): Path<TilePath>,
    headers: HeaderMap,
) -> Response {
    let styled = layers
        .get(&layer)
        .and_then(|found| Some((found, rendered_style(&tiles, found, &style)?)));
    if let Some((found, style_index)) = styled {
        let extension = file.rsplit_once('.').map_or("", |(_, e)| e);
        if CacheFormat::from_extension(extension) != Some(CacheFormat::Png) {
            return rest_status(OwsException::invalid(
                "FORMAT",
                format!(
                    "style '{style}' of layer '{layer}' is drawn as PNG: ask {{TileCol}}.png, not '{file}'"
                ),
            ))
            .into_response();
        }
        let col = file.rsplit_once('.').map_or(file.as_str(), |(c, _)| c);
        return styled_tile(
            &state,
            &tiles,
            &layers,
            (found, style_index),
            (&tms, &matrix, &row, col),
            &headers,
        )
        .await
        .unwrap_or_else(|response| response);
    }
    if let Some(found) = layers
        .get(&layer)
        .filter(|l| vector_tiles::vector_source(l).is_some())
    {
        let address = (|| {
            if !tiles.tiled(found) {
                return Err(OwsException::invalid(
                    "LAYER",
                    OnDemandTiles::untiled_message(found),
                ));
            }
            let extensions = || tiles.offered_list(found, false);
            let (col, extension) = file.rsplit_once('.').ok_or_else(|| {
                OwsException::invalid(
                    "TILECOL",
                    format!("'{file}' should be COLUMN.EXTENSION ({})", extensions()),
                )
            })?;
            let format = OnDemandFormat::from_extension(extension)
                .filter(|f| tiles.offers(found, *f))
                .ok_or_else(|| {
                    OwsException::invalid(
                        "FORMAT",
                        format!(
                            "'.{extension}' is not offered by layer '{layer}': use {}",
                            extensions()
                        ),
                    )
                })?;
            vector_address(&tiles, found, &style, format, &tms, &matrix, &row, col)
        })();
        return match address {
            Ok((style, format, address)) => tiles
                .response(
                    &layers,
                    found,
                    style,
                    format,
                    address,
                    &headers,
                    tiles::Caching::of(found, &state.config.tiles.cache_control),
                )
                .await
                .unwrap_or_else(IntoResponse::into_response),
            Err(e) => rest_status(e).into_response(),
        };
    }
    let remote = layers.get(&layer).is_some_and(|l| l.reads_object_storage());
    tiles::off_loop_when(remote, move || {
        let result = (|| {
            let (col, extension) = file.rsplit_once('.').ok_or_else(|| {
                OwsException::invalid(
                    "TILECOL",
                    format!("'{file}' should be COLUMN.EXTENSION, e.g. 12.png"),
                )
            })?;
            let request = resolve(&layers, &layer, &style, &tms, &matrix, &row, col)?;
            let pyramid_format = request.pyramid.pyramid.format();
            let served = offered(
                tiles::format_for_extension(pyramid_format, extension),
                &format!("'.{extension}'"),
                &layer,
                &tiles::offered_extensions(pyramid_format),
            )?;
            tile(&state, &request, served, &headers)
        })();
        result.unwrap_or_else(|e| rest_status(e).into_response())
    })
    .await
}

/// The served format a request asked for (`found`), or the exception naming what the layer
/// offers instead.
fn offered(
    found: Option<tiles::ServedFormat>,
    asked: &str,
    layer: &str,
    instead: &str,
) -> Result<tiles::ServedFormat, OwsException> {
    found.ok_or_else(|| {
        OwsException::invalid(
            "FORMAT",
            format!("{asked} is not offered by layer '{layer}': use {instead}"),
        )
    })
}

/// `GET /wmts/{layer}/{style}/{tms}/{matrix}/{row}/{col}/{j}/{i}.{ext}`
async fn rest_feature_info(
    View(layers): View,
    Path(FeatureInfoPath {
        layer,
        style,
        tms,
        matrix,
        row,
        col,
        j,
        file,
    }): Path<FeatureInfoPath>,
) -> Response {
    let remote = layers.get(&layer).is_some_and(|l| l.reads_object_storage());
    tiles::off_loop_when(remote, move || {
        let result = (|| {
            let (i, extension) = file.rsplit_once('.').ok_or_else(|| {
                OwsException::invalid("I", format!("'{file}' should be I.EXTENSION, e.g. 12.json"))
            })?;
            let request = resolve(&layers, &layer, &style, &tms, &matrix, &row, &col)?;
            let format = InfoFormat::pixel_from_extension(extension).ok_or_else(|| {
                OwsException::invalid(
                    "INFOFORMAT",
                    format!("'.{extension}' is not offered: use .json, .txt, .html or .xml"),
                )
            })?;
            let i = parse_pixel(i, "I", tile_size(&request, "I"))?;
            let j = parse_pixel(&j, "J", tile_size(&request, "J"))?;
            feature_info(&request, i, j, format)
        })();
        result.unwrap_or_else(|e| rest_status(e).into_response())
    })
    .await
}

/// RESTful resources that do not exist are 404 (the KVP encoding keeps 400).
fn rest_status(exception: OwsException) -> OwsException {
    if exception.code() == OwsCode::InvalidParameterValue {
        exception.with_status(StatusCode::NOT_FOUND)
    } else {
        exception
    }
}

/// `GET /wmts/1.0.0/WMTSCapabilities.xml`
async fn rest_capabilities(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    headers: HeaderMap,
) -> Response {
    capabilities_response(&state, &layers, &headers, &tiles)
}

fn capabilities_response(
    state: &AppState,
    layers: &Layers,
    headers: &HeaderMap,
    tiles: &OnDemandTiles,
) -> Response {
    let base = ogc::base_url(state.config.server.public_url.as_deref(), headers);
    ogc::xml_response(capabilities(layers, &base, tiles))
}

/// The capabilities document, with URLs under `base`.
pub fn capabilities(layers: &Layers, base: &str, tiles: &OnDemandTiles) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let base = xml_escape(base);
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Capabilities xmlns=\"http://www.opengis.net/wmts/1.0\" xmlns:ows=\"http://www.opengis.net/ows/1.1\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:gml=\"http://www.opengis.net/gml\" \
         xsi:schemaLocation=\"http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd\" \
         version=\"1.0.0\">\n",
    );
    out.push_str(
        "  <ows:ServiceIdentification>\n    <ows:Title>Tuilerie WMTS</ows:Title>\n    \
         <ows:Abstract>Tiles of the pyramids published by this Tuilerie server.</ows:Abstract>\n    \
         <ows:ServiceType>OGC WMTS</ows:ServiceType>\n    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>\n  \
         </ows:ServiceIdentification>\n",
    );
    out.push_str("  <ows:OperationsMetadata>\n");
    for operation in ["GetCapabilities", "GetTile", "GetFeatureInfo"] {
        let _ = write!(
            out,
            "    <ows:Operation name=\"{operation}\">\n      <ows:DCP>\n        <ows:HTTP>\n          \
             <ows:Get xlink:href=\"{base}/wmts?\">\n            <ows:Constraint name=\"GetEncoding\">\n              \
             <ows:AllowedValues><ows:Value>KVP</ows:Value></ows:AllowedValues>\n            </ows:Constraint>\n          </ows:Get>\n          \
             <ows:Get xlink:href=\"{base}/wmts/\">\n            <ows:Constraint name=\"GetEncoding\">\n              \
             <ows:AllowedValues><ows:Value>RESTful</ows:Value></ows:AllowedValues>\n            </ows:Constraint>\n          </ows:Get>\n        \
             </ows:HTTP>\n      </ows:DCP>\n    </ows:Operation>\n"
        );
    }
    out.push_str("  </ows:OperationsMetadata>\n  <Contents>\n");
    let mut linked: Vec<&PyramidLayer> = Vec::new();
    for (layer, pyramid) in layers.pyramids() {
        let styles: Vec<&crate::layers::LayerStyle> = tiles
            .images
            .rendered_styles(layer)
            .filter_map(|i| layer.styles().get(i))
            .collect();
        write_layer(&mut out, layer, (pyramid, &styles), &base);
        if !linked.iter().any(|l| l.link == pyramid.link) {
            linked.push(pyramid);
        }
    }
    // Each set a vector layer links to is written once, over the levels of its link.
    let mut vector_sets: Vec<(String, &TileMatrixSet, std::ops::RangeInclusive<u32>)> = Vec::new();
    for layer in layers.iter() {
        let formats = tiles.formats(layer);
        let Some(vector) = vector_tiles::vector_source(layer) else {
            continue;
        };
        if formats.is_empty() {
            continue;
        }
        let links = tiles.links(layer);
        let zooms = |place: TilePlace| {
            if place.set == 0 {
                tiles.layer_zooms(layer)
            } else {
                tiles.images.zooms_of(layer)
            }
        };
        let on = VectorLayerTiles {
            vector,
            formats: &formats,
            links: links
                .iter()
                .map(|l| (l.id.as_str(), l.set, zooms(l.place)))
                .collect(),
        };
        write_vector_layer(&mut out, layer, &on, &base);
        for link in links {
            if !vector_sets.iter().any(|(id, _, _)| *id == link.id) {
                let levels = if link.place.set == 0 {
                    tiles.zooms()
                } else {
                    tiles.images.zooms()
                };
                vector_sets.push((link.id, link.set, levels));
            }
        }
    }
    for pyramid in &linked {
        write_tile_matrix_set(&mut out, pyramid);
    }
    for (link, set, levels) in vector_sets {
        if linked.iter().any(|p| p.link == link) {
            continue;
        }
        let _ = writeln!(
            out,
            "    <TileMatrixSet>\n      <ows:Identifier>{}</ows:Identifier>\n      <ows:SupportedCRS>{}</ows:SupportedCRS>",
            xml_escape(&link),
            xml_escape(&set.crs().urn())
        );
        for z in levels {
            if let Some(matrix) = set.matrix_at(z) {
                write_tile_matrix(&mut out, set, matrix);
            }
        }
        out.push_str("    </TileMatrixSet>\n");
    }
    let _ = write!(
        out,
        "  </Contents>\n  <ServiceMetadataURL xlink:href=\"{base}/wmts/1.0.0/WMTSCapabilities.xml\"/>\n</Capabilities>\n"
    );
    out
}

/// A layer's opening: title, abstract, keywords and CRS:84 extent.
fn write_layer_head(out: &mut String, layer: &Layer, b: &crs::Bbox) {
    let _ = writeln!(
        out,
        "    <Layer>\n      <ows:Title>{}</ows:Title>",
        xml_escape(&layer.title)
    );
    if !layer.abstract_text.is_empty() {
        let _ = writeln!(
            out,
            "      <ows:Abstract>{}</ows:Abstract>",
            xml_escape(&layer.abstract_text)
        );
    }
    ogc::ows_keywords(out, "      ", &layer.keywords);
    let _ = writeln!(
        out,
        "      <ows:WGS84BoundingBox crs=\"urn:ogc:def:crs:OGC:2:84\">\n        <ows:LowerCorner>{} {}</ows:LowerCorner>\n        \
         <ows:UpperCorner>{} {}</ows:UpperCorner>\n      </ows:WGS84BoundingBox>",
        coordinate(b.min_x(), true),
        coordinate(b.min_y(), true),
        coordinate(b.max_x(), true),
        coordinate(b.max_y(), true)
    );
}

/// A layer's metadata records (ISO 19115 / 19139) as ows:Metadata links.
fn write_metadata(out: &mut String, layer: &Layer) {
    for url in &layer.metadata.metadata_urls {
        let _ = writeln!(
            out,
            "      <ows:Metadata xlink:type=\"simple\" xlink:href=\"{}\"/>",
            xml_escape(url)
        );
    }
}

/// One Style of a layer.
fn write_style(out: &mut String, identifier: &str, title: &str, default: bool) {
    let _ = writeln!(
        out,
        "      <Style{}>\n        <ows:Title>{}</ows:Title>\n        <ows:Identifier>{}</ows:Identifier>\n      </Style>",
        if default { " isDefault=\"true\"" } else { "" },
        xml_escape(title),
        xml_escape(identifier)
    );
}

/// A pyramid layer: its tiles as stored (`normal`), and the SLD styles the tile cache draws
/// (as PNG).
fn write_layer(
    out: &mut String,
    layer: &Layer,
    (pyramid, styles): (&PyramidLayer, &[&crate::layers::LayerStyle]),
    base: &str,
) {
    let name = xml_escape(&layer.name);
    write_layer_head(out, layer, &pyramid.wgs84_bbox);
    let served_formats = tiles::served_formats(pyramid.pyramid.format());
    let set = pyramid.tile_matrix_set();
    let crs = set.crs();
    let native = pyramid.native_bbox.to_ogc(crs);
    let c = |v: f64| coordinate(v, crs.is_geographic());
    let _ = writeln!(
        out,
        "      <ows:Identifier>{name}</ows:Identifier>\n      <ows:BoundingBox crs=\"{}\">\n        <ows:LowerCorner>{} {}</ows:LowerCorner>\n        \
         <ows:UpperCorner>{} {}</ows:UpperCorner>\n      </ows:BoundingBox>",
        xml_escape(&crs.urn()),
        c(native[0]),
        c(native[1]),
        c(native[2]),
        c(native[3])
    );
    write_metadata(out, layer);
    write_style(out, DEFAULT_STYLE, "Default", true);
    for style in styles {
        let title = if style.title.is_empty() {
            &style.name
        } else {
            &style.title
        };
        write_style(out, &style.name, title, false);
    }
    // Styled tiles are PNG, whatever the pyramid stores.
    let png = tiles::ServedFormat {
        mime: "image/png",
        extension: "png",
    };
    let mut served_formats = served_formats.to_vec();
    if !styles.is_empty() && !served_formats.contains(&png) {
        served_formats.push(png);
    }
    for served in &served_formats {
        let _ = writeln!(out, "      <Format>{}</Format>", served.mime);
    }
    if pyramid.getfeatureinfo {
        for format in InfoFormat::PIXEL {
            let _ = writeln!(out, "      <InfoFormat>{}</InfoFormat>", format.mime());
        }
    }
    let _ = writeln!(
        out,
        "      <TileMatrixSetLink>\n        <TileMatrixSet>{}</TileMatrixSet>\n        <TileMatrixSetLimits>",
        xml_escape(&pyramid.link)
    );
    for (level, matrix) in pyramid.served_levels() {
        let l = level.limits();
        let _ = writeln!(
            out,
            "          <TileMatrixLimits>\n            <TileMatrix>{}</TileMatrix>\n            <MinTileRow>{}</MinTileRow>\n            \
             <MaxTileRow>{}</MaxTileRow>\n            <MinTileCol>{}</MinTileCol>\n            <MaxTileCol>{}</MaxTileCol>\n          </TileMatrixLimits>",
            xml_escape(matrix.id()),
            l.min_row,
            l.max_row,
            l.min_col,
            l.max_col
        );
    }
    out.push_str("        </TileMatrixSetLimits>\n      </TileMatrixSetLink>\n");
    for served in &served_formats {
        let _ = writeln!(
            out,
            "      <ResourceURL format=\"{}\" resourceType=\"tile\" template=\"{base}/wmts/{name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{}\"/>",
            served.mime, served.extension
        );
    }
    if pyramid.getfeatureinfo {
        for format in InfoFormat::PIXEL {
            let _ = writeln!(
                out,
                "      <ResourceURL format=\"{}\" resourceType=\"FeatureInfo\" template=\"{base}/wmts/{name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}/{{J}}/{{I}}.{}\"/>",
                format.mime(),
                format.extension()
            );
        }
    }
    out.push_str("    </Layer>\n");
}

/// What WMTS offers of a vector layer.
struct VectorLayerTiles<'a> {
    vector: &'a crate::layers::VectorLayer,
    formats: &'a [OnDemandFormat],
    /// The links: id, set, levels.
    links: Vec<(&'a str, &'a TileMatrixSet, std::ops::RangeInclusive<u32>)>,
}

/// A vector layer: vector tiles and rendered images on the Web Mercator set, limited to the
/// data's extent; its SLD styles are the styles of the images (the first one as
/// [`DEFAULT_STYLE`]).
fn write_vector_layer(out: &mut String, layer: &Layer, on: &VectorLayerTiles<'_>, base: &str) {
    let name = xml_escape(&layer.name);
    let b = on.vector.wgs84_bbox;
    write_layer_head(out, layer, &b);
    let _ = writeln!(out, "      <ows:Identifier>{name}</ows:Identifier>");
    write_metadata(out, layer);
    let styles = layer.styles();
    for (index, style) in styles.iter().enumerate() {
        let identifier = if index == 0 {
            DEFAULT_STYLE
        } else {
            style.name.as_str()
        };
        let title = if style.title.is_empty() {
            identifier
        } else {
            style.title.as_str()
        };
        write_style(out, identifier, title, index == 0);
    }
    if styles.is_empty() {
        write_style(out, DEFAULT_STYLE, "Default", true);
    }
    for format in on.formats {
        let _ = writeln!(out, "      <Format>{}</Format>", format.mime());
    }
    for (link, set, zooms) in &on.links {
        let _ = writeln!(
            out,
            "      <TileMatrixSetLink>\n        <TileMatrixSet>{}</TileMatrixSet>\n        <TileMatrixSetLimits>",
            xml_escape(link)
        );
        let extent = crs::Transformer::new(&crs::Crs::crs84(), set.crs())
            .and_then(|t| t.transform_bbox(&b))
            .ok();
        for z in zooms.clone() {
            let Some(range) = extent
                .as_ref()
                .and_then(|extent| set.matrix_at(z)?.tile_range(extent))
            else {
                continue;
            };
            let _ = writeln!(
                out,
                "          <TileMatrixLimits>\n            <TileMatrix>{}</TileMatrix>\n            <MinTileRow>{}</MinTileRow>\n            \
                 <MaxTileRow>{}</MaxTileRow>\n            <MinTileCol>{}</MinTileCol>\n            <MaxTileCol>{}</MaxTileCol>\n          </TileMatrixLimits>",
                set.matrix_at(z).map_or("", TileMatrix::id),
                range.min_row(),
                range.max_row(),
                range.min_col(),
                range.max_col()
            );
        }
        out.push_str("        </TileMatrixSetLimits>\n      </TileMatrixSetLink>\n");
    }
    for format in on.formats {
        let _ = writeln!(
            out,
            "      <ResourceURL format=\"{}\" resourceType=\"tile\" template=\"{base}/wmts/{name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.{}\"/>",
            format.mime(),
            format.extension()
        );
    }
    out.push_str("    </Layer>\n");
}

/// A tile matrix set as a layer links to it: the whole set, or only the served matrices.
fn write_tile_matrix_set(out: &mut String, pyramid: &PyramidLayer) {
    let set = pyramid.tile_matrix_set();
    let _ = writeln!(
        out,
        "    <TileMatrixSet>\n      <ows:Identifier>{}</ows:Identifier>\n      <ows:SupportedCRS>{}</ows:SupportedCRS>",
        xml_escape(&pyramid.link),
        xml_escape(&set.crs().urn())
    );
    for matrix in pyramid.served_matrices() {
        write_tile_matrix(out, set, matrix);
    }
    out.push_str("    </TileMatrixSet>\n");
}

fn write_tile_matrix(out: &mut String, set: &TileMatrixSet, matrix: &TileMatrix) {
    let (x, y) = matrix.top_left();
    let (first, second) = set.crs().axis_order().from_xy(x, y);
    let _ = writeln!(
        out,
        "      <TileMatrix>\n        <ows:Identifier>{}</ows:Identifier>\n        <ScaleDenominator>{}</ScaleDenominator>\n        \
         <TopLeftCorner>{} {}</TopLeftCorner>\n        <TileWidth>{}</TileWidth>\n        <TileHeight>{}</TileHeight>\n        \
         <MatrixWidth>{}</MatrixWidth>\n        <MatrixHeight>{}</MatrixHeight>\n      </TileMatrix>",
        xml_escape(matrix.id()),
        number(set.scale_denominator_of(matrix.resolution())),
        number(first),
        number(second),
        matrix.tile_width(),
        matrix.tile_height(),
        matrix.matrix_width(),
        matrix.matrix_height()
    );
}
