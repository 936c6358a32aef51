//! TMS 1.0.0 (OSGeo Tile Map Service) and TileJSON 3.0.
//!
//! TMS counts tile rows from the bottom: row `y` of TMS is row `matrixHeight − 1 − y` of WMTS.
//! Tile sets are the layer's served tile matrices, `z` being the tile matrix id. TileJSON is
//! offered for Web Mercator layers only (TileJSON has no CRS), with XYZ URLs that point at the
//! WMTS RESTful tiles (rows from the top, as XYZ clients expect).
//!
//! Vector layers are served as vector tiles (`.pbf` or `.mvt`) on the Web Mercator grid with
//! rows counted from the top, as the Géoplateforme's TMS (ROK4) serves them: MapLibre styles
//! written for `data.geopf.fr/tms/1.0.0/{layer}/{z}/{x}/{y}.pbf` work unchanged here. Their
//! TileMap says so, and their TileJSON lists the tables as `vector_layers`.

use std::fmt::Write as _;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde_json::json;

use axum::routing::get;
use axum::Router;

use crate::access::{self, View};
use crate::error::JsonError;
use crate::layers::{Layer, LayerSource, PyramidLayer, Service, VectorLayer};
use crate::metrics;
use crate::services::ogc::{self, coordinate, number, xml_escape};
use crate::services::on_demand::{OnDemandFormat, OnDemandTiles, TilePlace};
use crate::services::tiles;
use crate::services::tiles::DEFAULT_STYLE;
use crate::services::vector_tiles::{self, AddressError};
use crate::state::AppState;

/// The routes of TMS and TileJSON, behind the access gate; the tiles of vector layers come
/// from `tiles`.
pub fn routes(state: &AppState, tiles: Arc<OnDemandTiles>) -> Router<AppState> {
    Router::new()
        .route("/tms/1.0.0", get(service))
        .route("/tms/1.0.0/", get(service))
        .route(
            "/tms/1.0.0/{layer}",
            get(|view, state, tiles, path, query, headers| async move {
                describe(
                    Description::TileMap,
                    view,
                    state,
                    tiles,
                    path,
                    query,
                    &headers,
                )
            }),
        )
        .route(
            "/tms/1.0.0/{layer}/metadata.json",
            get(|view, state, tiles, path, query, headers| async move {
                describe(
                    Description::TileJson,
                    view,
                    state,
                    tiles,
                    path,
                    query,
                    &headers,
                )
            }),
        )
        .route("/tms/1.0.0/{layer}/style.json", get(gl_style))
        .route("/tms/1.0.0/{layer}/{z}/{x}/{file}", get(tile))
        .route_layer(access::gate(state, Service::Tiles))
        .route_layer(metrics::label("tms"))
        .layer(Extension(tiles))
}

/// `GET /tms/1.0.0`
async fn service(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    headers: HeaderMap,
) -> Response {
    let base = ogc::base_url(state.config.server.public_url.as_deref(), &headers);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TileMapService version=\"1.0.0\" services=\"{}/tms/\">\n  \
         <Title>Tuilerie TMS</Title>\n  <Abstract>Tiles of the pyramids published by this Tuilerie server.</Abstract>\n  <TileMaps>\n",
        xml_escape(&base)
    );
    for layer in layers.iter() {
        let (srs, profile) = match &layer.source {
            LayerSource::Pyramid(pyramid) => {
                (pyramid.tile_matrix_set().crs().code(), profile(pyramid))
            }
            LayerSource::Vector(_) if !tiles.tiled(layer) => continue,
            LayerSource::Vector(_) => ("EPSG:3857", "global-mercator"),
        };
        let _ = writeln!(
            out,
            "    <TileMap title=\"{}\" srs=\"{}\" profile=\"{profile}\" href=\"{}/tms/1.0.0/{}\"/>",
            xml_escape(&layer.title),
            xml_escape(srs),
            xml_escape(&base),
            xml_escape(&layer.name)
        );
    }
    out.push_str("  </TileMaps>\n</TileMapService>\n");
    ogc::xml_response(out)
}

/// What describes a layer: its TMS TileMap, or its TileJSON.
#[derive(Debug, Clone, Copy)]
enum Description {
    TileMap,
    TileJson,
}

/// `GET /tms/1.0.0/{layer}` (TileMap) and `GET /tms/1.0.0/{layer}/metadata.json` (TileJSON).
fn describe(
    description: Description,
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    Path(layer): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: &HeaderMap,
) -> Response {
    let base = ogc::base_url(state.config.server.public_url.as_deref(), headers);
    if let Some(found) = layers.get(&layer) {
        if let LayerSource::Vector(vector) = &found.source {
            if !tiles.tiled(found) {
                return JsonError::client(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    OnDemandTiles::untiled_message(found),
                )
                .into_response();
            }
            let kvp = ogc::Kvp::parse(query.as_deref());
            let scale = match kvp.non_empty("scale").map(str::trim) {
                None | Some("1") => 1,
                Some("2") if tiles.images.hidpi() => 2,
                Some(other) => {
                    return JsonError::client(
                        StatusCode::BAD_REQUEST,
                        "invalid_scale",
                        format!(
                            "scale={other} is not offered: use scale=1{}",
                            if tiles.images.hidpi() {
                                " or scale=2 (HiDPI images)"
                            } else {
                                " ([tile_cache] hidpi is off)"
                            }
                        ),
                    )
                    .into_response()
                }
            };
            // Without vector tiles (or for HiDPI tiles), a vector layer's tiles are its images.
            let first_image = || {
                tiles.formats(found).into_iter().find_map(|f| match f {
                    OnDemandFormat::Image(image) => Some(image.extension()),
                    OnDemandFormat::Mvt => None,
                })
            };
            let asked = kvp.non_empty("format").or_else(|| {
                (scale == 2 || !tiles.offers(found, OnDemandFormat::Mvt))
                    .then(first_image)
                    .flatten()
            });
            if let Some(asked) = asked {
                return image_description(
                    description,
                    &tiles,
                    found,
                    vector,
                    (asked, scale),
                    &base,
                );
            }
            let zooms = tiles.vector.zooms_of(found);
            return match description {
                Description::TileMap => ogc::xml_response(vector_tile_map(
                    found,
                    vector,
                    &zooms,
                    OnDemandFormat::Mvt,
                    &base,
                )),
                Description::TileJson => {
                    let mut json = vector_tiles::tilejson(
                        found,
                        vector,
                        &zooms,
                        &format!("{base}/tms/1.0.0/{}/{{z}}/{{x}}/{{y}}.pbf", found.name),
                    );
                    // Not a TileJSON field: where the layer's GL style is.
                    json["style"] = format!("{base}/tms/1.0.0/{}/style.json", found.name).into();
                    Json(json).into_response()
                }
            };
        }
    }
    let (layer, pyramid) = match pyramid_layer(layers.get(&layer).map(AsRef::as_ref), &layer) {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    match description {
        Description::TileMap => ogc::xml_response(tile_map_document(layer, pyramid, &base)),
        Description::TileJson => tilejson(layer, pyramid, &base),
    }
}

fn tile_map_document(layer: &Layer, pyramid: &PyramidLayer, base: &str) -> String {
    let set = pyramid.tile_matrix_set();
    let geographic = set.crs().is_geographic();
    let c = |v: f64| coordinate(v, geographic);
    let served = tiles::served_format(pyramid.pyramid.format());
    let base = xml_escape(base);
    let name = xml_escape(&layer.name);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TileMap version=\"1.0.0\" tilemapservice=\"{base}/tms/1.0.0/\">\n  \
         <Title>{}</Title>\n  <Abstract>{}</Abstract>\n",
        xml_escape(&layer.title),
        xml_escape(&layer.abstract_text),
    );
    if !layer.keywords.is_empty() {
        let _ = writeln!(
            out,
            "  <KeywordList>{}</KeywordList>",
            xml_escape(&layer.keywords.join(" "))
        );
    }
    for url in &layer.metadata.metadata_urls {
        let _ = writeln!(
            out,
            "  <Metadata type=\"TC211\" mime-type=\"text/xml\" href=\"{}\"/>",
            xml_escape(url)
        );
    }
    if !layer.metadata.attribution.is_empty() {
        let _ = writeln!(
            out,
            "  <Attribution><Title>{}</Title></Attribution>",
            xml_escape(&layer.metadata.attribution)
        );
    }
    let _ = writeln!(out, "  <SRS>{}</SRS>", xml_escape(set.crs().code()));
    let extent = pyramid.native_bbox;
    let _ = writeln!(
        out,
        "  <BoundingBox minx=\"{}\" miny=\"{}\" maxx=\"{}\" maxy=\"{}\"/>",
        c(extent.min_x()),
        c(extent.min_y()),
        c(extent.max_x()),
        c(extent.max_y())
    );
    if let Some((_, matrix)) = pyramid.served_levels().next() {
        let origin = matrix.extent();
        let _ = writeln!(
            out,
            "  <Origin x=\"{}\" y=\"{}\"/>\n  <TileFormat width=\"{}\" height=\"{}\" mime-type=\"{}\" extension=\"{}\"/>",
            c(origin.min_x()),
            c(origin.min_y()),
            matrix.tile_width(),
            matrix.tile_height(),
            served.mime,
            served.extension
        );
    }
    let _ = writeln!(out, "  <TileSets profile=\"{}\">", profile(pyramid));
    for (order, (_, matrix)) in pyramid.served_levels().enumerate() {
        let _ = writeln!(
            out,
            "    <TileSet href=\"{base}/tms/1.0.0/{name}/{}\" units-per-pixel=\"{}\" order=\"{order}\"/>",
            xml_escape(matrix.id()),
            number(matrix.resolution())
        );
    }
    out.push_str("  </TileSets>\n</TileMap>\n");
    out
}

/// The TileMap of a vector layer's tiles: Web Mercator, rows from the top (see the module).
fn vector_tile_map(
    layer: &Layer,
    vector: &VectorLayer,
    zooms: &std::ops::RangeInclusive<u32>,
    format: OnDemandFormat,
    base: &str,
) -> String {
    let base = xml_escape(base);
    let name = xml_escape(&layer.name);
    let half = 20_037_508.342_789_244_f64;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TileMap version=\"1.0.0\" tilemapservice=\"{base}/tms/1.0.0/\">\n  \
         <Title>{}</Title>\n  <Abstract>{}</Abstract>\n  <SRS>EPSG:3857</SRS>\n",
        xml_escape(&layer.title),
        xml_escape(&layer.abstract_text),
    );
    let extent = crs::Transformer::new(&crs::Crs::crs84(), &crs::Crs::web_mercator())
        .and_then(|t| t.transform_bbox(&vector.wgs84_bbox))
        .ok();
    if let Some(extent) = extent {
        let _ = writeln!(
            out,
            "  <BoundingBox minx=\"{}\" miny=\"{}\" maxx=\"{}\" maxy=\"{}\"/>",
            number(extent.min_x()),
            number(extent.min_y()),
            number(extent.max_x()),
            number(extent.max_y())
        );
    }
    let _ = writeln!(
        out,
        "  <Origin x=\"{}\" y=\"{}\"/>\n  <TileFormat width=\"256\" height=\"256\" mime-type=\"{}\" extension=\"{}\"/>\n  \
         <!-- Tiles of a vector layer: rows are counted from the top (XYZ), as the Géoplateforme serves them. -->\n  \
         <TileSets profile=\"global-mercator\">",
        number(-half),
        number(half),
        format.mime(),
        format.extension()
    );
    for (order, z) in zooms.clone().enumerate() {
        let _ = writeln!(
            out,
            "    <TileSet href=\"{base}/tms/1.0.0/{name}/{z}\" units-per-pixel=\"{}\" order=\"{order}\"/>",
            number(2.0 * half / 256.0 / f64::from(1u32 << z.min(30)))
        );
    }
    out.push_str("  </TileSets>\n</TileMap>\n");
    out
}

fn profile(pyramid: &PyramidLayer) -> &'static str {
    let crs = pyramid.tile_matrix_set().crs();
    if crs.equivalent(&crs::Crs::web_mercator()) {
        "global-mercator"
    } else if crs.is_geographic() {
        "global-geodetic"
    } else {
        "none"
    }
}

fn pyramid_layer<'a>(
    layer: Option<&'a Layer>,
    name: &str,
) -> Result<(&'a Layer, &'a PyramidLayer), JsonError> {
    match layer.map(|l| (l, &l.source)) {
        Some((layer, LayerSource::Pyramid(pyramid))) => Ok((layer, pyramid)),
        Some(_) => Err(JsonError::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("layer '{name}' has no tiles: it is a WMS layer, ask /wms for it"),
        )),
        None => Err(JsonError::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no tile map '{name}': see /tms/1.0.0 for the list"),
        )),
    }
}

/// `GET /tms/1.0.0/{layer}/{z}/{x}/{y}.{ext}`
async fn tile(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    Path((layer, z, x, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(found) = layers.get(&layer) {
        if let LayerSource::Vector(_) = &found.source {
            return match vector_tile(&tiles, &layers, found, (&z, &x, &file), &headers, &state)
                .await
            {
                Ok(response) | Err(response) => response,
            };
        }
    }
    let remote = layers.get(&layer).is_some_and(|l| l.reads_object_storage());
    tiles::off_loop_when(remote, move || {
        let result = (|| {
            let (found, pyramid) = pyramid_layer(layers.get(&layer).map(AsRef::as_ref), &layer)?;
            let not_found =
                |text: String| JsonError::client(StatusCode::NOT_FOUND, "not_found", text);
            let (y, extension) = file
                .rsplit_once('.')
                .ok_or_else(|| not_found(format!("'{file}' should be Y.EXTENSION, e.g. 3.png")))?;
            let pyramid_format = pyramid.pyramid.format();
            let served =
                tiles::format_for_extension(pyramid_format, extension).ok_or_else(|| {
                    not_found(format!(
                        "'.{extension}' is not offered by '{layer}': use {}",
                        tiles::offered_extensions(pyramid_format)
                    ))
                })?;
            let matrix = pyramid.served_matrix(&z).ok_or_else(|| {
                not_found(format!(
                    "tile set '{z}' is not served for '{layer}': see /tms/1.0.0/{layer}"
                ))
            })?;
            let (Ok(x), Ok(y)) = (x.parse::<i64>(), y.parse::<i64>()) else {
                return Err(not_found(format!("'{x}/{y}' are not tile numbers")));
            };
            // Vector pyramids count rows from the top, as the Géoplateforme serves them.
            let tile = if pyramid_format.is_vector() {
                matrix.tile(x, y)
            } else {
                matrix.tile_tms(x, y)
            };
            let tile = tile.map_err(|_| {
                JsonError::client(
                    StatusCode::BAD_REQUEST,
                    "tile_out_of_range",
                    format!(
                        "tile {x}/{y} is outside tile set '{z}': x 0..={}, y 0..={}",
                        matrix.matrix_width().saturating_sub(1),
                        matrix.matrix_height().saturating_sub(1)
                    ),
                )
            })?;
            tiles::tile_response(
                pyramid,
                tile,
                served,
                &headers,
                tiles::Caching::of(found, &state.config.tiles.cache_control),
            )
            .map_err(|error| {
                if error.is_storage_failure() {
                    JsonError::storage_failure("reading a tile", &error)
                } else {
                    JsonError::internal("reading a tile", &error)
                }
            })
        })();
        result.unwrap_or_else(IntoResponse::into_response)
    })
    .await
}

/// `GET /tms/1.0.0/{layer}/style.json[?style=NAME]`: the MapLibre/Mapbox GL style of a
/// vector layer, from its SLD style `NAME` (default: its default style).
async fn gl_style(
    View(layers): View,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OnDemandTiles>>,
    Path(layer): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some((found, vector)) = layers
        .get(&layer)
        .and_then(|l| vector_tiles::vector_source(l).map(|v| (l, v)))
    else {
        return JsonError::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no vector layer '{layer}': see /tms/1.0.0 for the list"),
        )
        .into_response();
    };
    let kvp = ogc::Kvp::parse(query.as_deref());
    let style = kvp.get("style").unwrap_or("");
    if !style.is_empty() && found.style(style).is_none() {
        let names: Vec<&str> = found.styles().iter().map(|s| s.name.as_str()).collect();
        return JsonError::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "layer '{layer}' has no style '{style}': styles: {}",
                names.join(", ")
            ),
        )
        .into_response();
    }
    let base = ogc::base_url(state.config.server.public_url.as_deref(), &headers);
    let document = vector_tiles::gl_style(
        found,
        vector,
        style,
        &format!("{base}/tms/1.0.0/{}/metadata.json", found.name),
        tiles.vector.glyphs_url(),
    );
    Json(document.json).into_response()
}

/// A tile of a vector layer, rows from the top: `z/x/y.pbf` (or `.mvt`) a vector tile,
/// `z/x/y.png` (or `.jpeg`) a rendered image of its default style (`?style=NAME` for another).
async fn vector_tile(
    tiles: &OnDemandTiles,
    layers: &crate::layers::Layers,
    layer: &Arc<Layer>,
    (z, x, file): (&str, &str, &str),
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Response, Response> {
    let not_found =
        |text: String| JsonError::client(StatusCode::NOT_FOUND, "not_found", text).into_response();
    if !tiles.tiled(layer) {
        return Err(not_found(OnDemandTiles::untiled_message(layer)));
    }
    let extensions = || tiles.offered_list(layer, false);
    let (y, extension) = file
        .rsplit_once('.')
        .ok_or_else(|| not_found(format!("'{file}' should be Y.EXTENSION ({})", extensions())))?;
    let format = OnDemandFormat::from_extension(extension)
        .filter(|f| tiles.offers(layer, *f))
        .ok_or_else(|| {
            not_found(format!(
                "'.{extension}' is not offered by vector layer '{}': use {}",
                layer.name,
                extensions()
            ))
        })?;
    // `{y}@2x.png`: the HiDPI tile (512 pixels, twice the DPI).
    let (y, scale) = match y.strip_suffix("@2x") {
        Some(y) if tiles.images.hidpi() && matches!(format, OnDemandFormat::Image(_)) => (y, 2),
        Some(_) => {
            return Err(not_found(format!(
                "'{file}': @2x tiles are offered only as images{}",
                if tiles.images.hidpi() {
                    ""
                } else {
                    " ([tile_cache] hidpi is off)"
                }
            )))
        }
        None => (y, 1),
    };
    if matches!(format, OnDemandFormat::Image(_)) && !tiles.images.offers_set(layer, 0) {
        return Err(not_found(format!(
            "the images of layer '{}' are not on Web Mercator: ask WMTS for them (sets: {})",
            layer.name,
            tiles.link_list(layer)
        )));
    }
    let (Ok(z), Ok(x), Ok(y)) = (z.parse::<u32>(), x.parse::<i64>(), y.parse::<i64>()) else {
        return Err(not_found(format!("'{z}/{x}/{y}' are not tile numbers")));
    };
    let place = TilePlace::web_mercator(scale);
    let tile = tiles
        .address(layer, (format, place), z, x, y)
        .map_err(|error| match error {
            AddressError::Zoom(text) => not_found(text),
            AddressError::OutOfRange(text) => {
                JsonError::client(StatusCode::BAD_REQUEST, "tile_out_of_range", text)
                    .into_response()
            }
        })?;
    tiles
        .response(
            layers,
            layer,
            0,
            (format, place),
            tile,
            headers,
            tiles::Caching::of(layer, &state.config.tiles.cache_control),
        )
        .await
        .map_err(IntoResponse::into_response)
}

/// The TileMap or TileJSON of a vector layer's rendered images (`?format=png|jpeg…`), at
/// `scale` pixels per standard pixel (`?scale=2`: HiDPI, TileJSON only).
fn image_description(
    description: Description,
    tiles: &OnDemandTiles,
    layer: &Layer,
    vector: &VectorLayer,
    (asked, scale): (&str, u32),
    base: &str,
) -> Response {
    let format = OnDemandFormat::from_extension(asked)
        .or_else(|| OnDemandFormat::from_mime(asked))
        .filter(|f| matches!(f, OnDemandFormat::Image(_)))
        .filter(|f| tiles.formats(layer).contains(f));
    let Some(format) = format else {
        return JsonError::client(
            StatusCode::BAD_REQUEST,
            "invalid_format",
            format!(
                "format '{asked}' is not offered as images of layer '{}': use {}",
                layer.name,
                tiles
                    .formats(layer)
                    .iter()
                    .map(|f| match f {
                        OnDemandFormat::Mvt => "no format for its vector tiles".to_owned(),
                        other @ OnDemandFormat::Image(_) => format!("format={}", other.extension()),
                    })
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )
        .into_response();
    };
    let zooms = tiles.zooms_of(layer, format);
    let template = format!(
        "{base}/tms/1.0.0/{}/{{z}}/{{x}}/{{y}}{}.{}",
        layer.name,
        if scale == 2 { "@2x" } else { "" },
        format.extension()
    );
    match description {
        Description::TileJson => {
            let mut json = vector_tiles::tilejson(layer, vector, &zooms, &template);
            if let Some(object) = json.as_object_mut() {
                object.remove("vector_layers");
                // Read by MapLibre from TileJSON: the pixels of one tile.
                object.insert("tileSize".to_owned(), (256 * scale).into());
            }
            Json(json).into_response()
        }
        Description::TileMap if scale == 2 => JsonError::client(
            StatusCode::BAD_REQUEST,
            "invalid_scale",
            "a TMS TileMap cannot name @2x tiles: ask metadata.json?scale=2 (TileJSON) for HiDPI tiles"
                .to_owned(),
        )
        .into_response(),
        Description::TileMap => {
            ogc::xml_response(vector_tile_map(layer, vector, &zooms, format, base))
        }
    }
}

/// TileJSON 3.0.0 of a layer, for Web Mercator layers.
fn tilejson(layer: &Layer, pyramid: &PyramidLayer, base: &str) -> Response {
    let set = pyramid.tile_matrix_set();
    let zooms: Option<Vec<u32>> = pyramid
        .served_levels()
        .map(|(_, m)| m.id().parse::<u32>().ok())
        .collect();
    let (Some(zooms), true) = (zooms, set.crs().equivalent(&crs::Crs::web_mercator())) else {
        return JsonError::client(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "TileJSON describes Web Mercator tiles only; layer '{}' is tiled on '{}': use WMTS or TMS",
                layer.name,
                set.id()
            ),
        )
        .into_response();
    };
    let served = tiles::served_format(pyramid.pyramid.format());
    let b = pyramid.wgs84_bbox;
    let minzoom = zooms.iter().min().copied().unwrap_or(0);
    let maxzoom = zooms.iter().max().copied().unwrap_or(0);
    let (cx, cy) = b.center();
    if pyramid.pyramid.format().is_vector() {
        return Json(vector_pyramid_tilejson(layer, pyramid, base)).into_response();
    }
    Json(json!({
        "tilejson": "3.0.0",
        "name": layer.name,
        "description": layer.abstract_text,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [format!("{base}/wmts/{}/{DEFAULT_STYLE}/{}/{{z}}/{{y}}/{{x}}.{}", layer.name, set.id(), served.extension)],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [b.min_x(), b.min_y(), b.max_x(), b.max_y()],
        "center": [cx, cy, minzoom],
    }))
    .into_response()
}

/// A table of a vector pyramid in its TileJSON: name, geometry, fields, min and max zoom.
type TableEntry = (
    String,
    String,
    serde_json::Map<String, serde_json::Value>,
    u32,
    u32,
);

/// TileJSON of a vector pyramid: XYZ URLs under TMS (rows from the top) and the tables of its
/// levels as `vector_layers`, each with the zooms whose tiles hold it.
fn vector_pyramid_tilejson(layer: &Layer, pyramid: &PyramidLayer, base: &str) -> serde_json::Value {
    let mut tables: Vec<TableEntry> = Vec::new();
    let mut zooms = Vec::new();
    for (level, matrix) in pyramid.served_levels() {
        let Ok(z) = matrix.id().parse::<u32>() else {
            continue;
        };
        zooms.push(z);
        let Some(described) = pyramid
            .pyramid
            .descriptor()
            .levels
            .iter()
            .find(|l| l.id == level.id())
        else {
            continue;
        };
        for table in &described.tables {
            let fields: serde_json::Map<String, serde_json::Value> = table
                .attributes
                .iter()
                .map(|a| {
                    let ty = a.ty.to_ascii_lowercase();
                    let kind = if ["int", "real", "double", "float", "numeric", "decimal"]
                        .iter()
                        .any(|t| ty.contains(t))
                    {
                        "Number"
                    } else if ty.starts_with("bool") {
                        "Boolean"
                    } else {
                        "String"
                    };
                    (a.name.clone(), serde_json::Value::from(kind))
                })
                .collect();
            match tables.iter_mut().find(|t| t.0 == table.name) {
                Some(entry) => {
                    entry.3 = entry.3.min(z);
                    entry.4 = entry.4.max(z);
                    entry.2.extend(fields);
                }
                None => tables.push((table.name.clone(), table.geometry.clone(), fields, z, z)),
            }
        }
    }
    let b = pyramid.wgs84_bbox;
    let (cx, cy) = b.center();
    let minzoom = zooms.iter().min().copied().unwrap_or(0);
    let maxzoom = zooms.iter().max().copied().unwrap_or(0);
    let vector_layers: Vec<serde_json::Value> = tables
        .into_iter()
        .map(|(id, geometry, fields, min, max)| {
            json!({"id": id, "description": geometry, "minzoom": min, "maxzoom": max, "fields": fields})
        })
        .collect();
    json!({
        "tilejson": "3.0.0",
        "name": layer.name,
        "description": layer.abstract_text,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [format!("{base}/tms/1.0.0/{}/{{z}}/{{x}}/{{y}}.pbf", layer.name)],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": [b.min_x(), b.min_y(), b.max_x(), b.max_y()],
        "center": [cx, cy, minzoom],
        "vector_layers": vector_layers,
    })
}
