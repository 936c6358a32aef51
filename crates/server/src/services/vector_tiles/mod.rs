//! Vector tiles made on the fly: every vector layer is also served as Mapbox Vector Tiles on
//! the Web Mercator grid (WebMercatorQuad, `PM`), through TMS, WMTS and TileJSON.
//!
//! A tile holds one MVT layer per table of the layer (named as the table), with every
//! attribute, the feature ids, geometries clipped to the tile and its buffer and simplified
//! within one tile unit (the store's zoom bands). Layers in other CRSs are reprojected by the
//! store. Making a tile is CPU work: it runs on the render pool shared with WMS (503 when the
//! pool is full, cancelled when the client leaves). Encoded tiles go to a byte-bounded LRU
//! keyed by the snapshot's sequence, so a republished layer never serves an old tile; the
//! ETag is a hash of the bytes, so a client's copy stays valid across restarts as long as the
//! tile is the same. A tile without features is `204 No Content`, as Martin answers.

mod gl_style;

pub use gl_style::gl_style;

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use crs::Crs;

use crate::config::VectorTilesConfig;
use crate::error::JsonError;
use crate::layers::{Layer, LayerSource, Layers, MvtSettings, VectorLayer};
use crate::services::render_pool::{Cancel, JobError, RenderPool};
use crate::services::tiles::{bytes_response, content_etag, Caching};
use crate::services::wms::cache::{CachedImage, ImageCache};

/// The MIME type of vector tiles.
pub const MIME: &str = "application/vnd.mapbox-vector-tile";

/// Half the side of the Web Mercator square, in metres.
const HALF_WORLD: f64 = 20_037_508.342_789_244;

/// A tile of the Web Mercator grid, rows from the top (XYZ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileAddress {
    /// Zoom level.
    pub z: u32,
    /// Column.
    pub x: u32,
    /// Row from the top.
    pub y: u32,
}

impl TileAddress {
    /// A tile of the Web Mercator grid from request numbers (rows from the top), on one of
    /// `zooms`; errors say what `exist` for which zooms, then `beyond`.
    pub fn checked(
        zooms: &RangeInclusive<u32>,
        exist: &str,
        beyond: &str,
        (z, x, y): (u32, i64, i64),
    ) -> Result<TileAddress, AddressError> {
        if !zooms.contains(&z) {
            return Err(AddressError::Zoom(format!(
                "zoom level {z} is not served: {exist} for zoom {} to {}{beyond}",
                zooms.start(),
                zooms.end()
            )));
        }
        let size = 1i64 << z;
        if !(0..size).contains(&x) || !(0..size).contains(&y) {
            return Err(AddressError::OutOfRange(format!(
                "tile {x}/{y} is outside zoom level {z}: columns and rows go from 0 to {}",
                size - 1
            )));
        }
        Ok(TileAddress {
            z,
            x: x as u32,
            y: y as u32,
        })
    }

    /// The tile's extent in Web Mercator metres: `[min_x, min_y, max_x, max_y]`.
    pub fn bounds(self) -> [f64; 4] {
        let size = 2.0 * HALF_WORLD / f64::from(1u32 << self.z.min(30));
        let min_x = -HALF_WORLD + f64::from(self.x) * size;
        let max_y = HALF_WORLD - f64::from(self.y) * size;
        [min_x, max_y - size, min_x + size, max_y]
    }
}

/// Why a tile address is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// The zoom level is not served.
    Zoom(String),
    /// The column or row is outside the zoom level's matrix.
    OutOfRange(String),
}

/// Why a tile made on demand (a vector tile, or a rendered tile of the tile cache) could not be
/// made.
#[derive(Debug)]
pub enum OnDemandTileError {
    /// The render pool is full: 503, retry.
    Busy,
    /// The client left.
    Cancelled,
    /// Reading the data failed (logged; answered with a generic message).
    Internal(JsonError),
}

impl IntoResponse for OnDemandTileError {
    fn into_response(self) -> Response {
        match self {
            OnDemandTileError::Busy => {
                let mut response = JsonError::client(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the server is making as many tiles as it can queue; retry in a second",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            OnDemandTileError::Cancelled => JsonError::client(
                StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "cancelled",
                "the client closed its connection before the tile was ready",
            )
            .into_response(),
            OnDemandTileError::Internal(error) => error.into_response(),
        }
    }
}

/// Makes, caches and answers vector tiles.
#[derive(Debug)]
pub struct VectorTiler {
    settings: VectorTilesConfig,
    pool: Arc<RenderPool>,
    cache: ImageCache,
}

impl VectorTiler {
    /// A tiler for `[vector_tiles]`, drawing on `pool`, its cache lookups counted in
    /// `counters`.
    pub fn new(
        settings: &VectorTilesConfig,
        pool: Arc<RenderPool>,
        counters: crate::metrics::CacheCounters,
    ) -> VectorTiler {
        VectorTiler {
            settings: settings.clone(),
            pool,
            cache: ImageCache::counted(settings.cache_bytes, counters),
        }
    }

    /// Whether vector layers are served as vector tiles.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Whether a layer is served as vector tiles: a vector layer, when enabled and not turned
    /// off for it, at some level.
    pub fn serves(&self, layer: &Layer) -> bool {
        self.enabled()
            && vector_source(layer).is_some()
            && layer.tiles.tiled()
            && layer.tiles.vector_tiles != Some(false)
            && !self.zooms_of(layer).is_empty()
    }

    /// The zoom levels of a layer's vector tiles.
    pub fn zooms_of(&self, layer: &Layer) -> RangeInclusive<u32> {
        layer.tiles.narrow(self.zooms())
    }

    /// The glyphs URL template GL styles name (`None`: none configured).
    pub fn glyphs_url(&self) -> Option<&str> {
        Some(self.settings.glyphs_url.as_str()).filter(|u| !u.is_empty())
    }

    /// The served zoom levels.
    pub fn zooms(&self) -> RangeInclusive<u32> {
        self.settings.min_zoom..=self.settings.max_zoom
    }

    /// A tile address of a layer from request numbers (rows from the top).
    pub fn address(
        &self,
        layer: &Layer,
        z: u32,
        x: i64,
        y: i64,
    ) -> Result<TileAddress, AddressError> {
        TileAddress::checked(
            &self.zooms_of(layer),
            "vector tiles exist",
            " (clients overzoom beyond)",
            (z, x, y),
        )
    }

    /// The answer for a tile of a vector layer: the tile (from the cache or made now), 204
    /// when it has no feature, 304 when the client's copy is current.
    pub async fn response(
        &self,
        layers: &Layers,
        layer: &Arc<Layer>,
        tile: TileAddress,
        request_headers: &HeaderMap,
        caching: Caching<'_>,
    ) -> Result<Response, OnDemandTileError> {
        let key = format!(
            "{}\u{0}{}\u{0}{}/{}/{}",
            layers.sequence, layer.name, tile.z, tile.x, tile.y
        );
        let cached = if let Some(hit) = self.cache.get(&key) {
            hit
        } else {
            let job_layer = Arc::clone(layer);
            let settings = self.settings.clone();
            let made = match self
                .pool
                .run(move |cancel| make(&job_layer, tile, &settings, cancel))
                .await
            {
                Ok(Ok(Some(made))) => made,
                Ok(Ok(None)) | Err(JobError::Cancelled) => {
                    return Err(OnDemandTileError::Cancelled)
                }
                Ok(Err(error)) => {
                    return Err(OnDemandTileError::Internal(JsonError::internal(
                        &format!(
                            "making vector tile {}/{}/{} of layer '{}'",
                            tile.z, tile.x, tile.y, layer.name
                        ),
                        &error,
                    )))
                }
                Err(JobError::Busy(_)) => return Err(OnDemandTileError::Busy),
                Err(JobError::Panicked(panic)) => {
                    return Err(OnDemandTileError::Internal(JsonError::internal(
                        "making a vector tile",
                        &panic,
                    )))
                }
            };
            self.cache.put(key, made.clone());
            made
        };
        let Some(etag) = cached.etag.as_deref() else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        Ok(bytes_response(
            MIME,
            cached.bytes.clone(),
            etag,
            request_headers,
            caching,
        ))
    }
}

/// TileJSON 3.0.0 of a vector layer's tiles: `tiles` is the URL template (XYZ rows).
pub fn tilejson(
    layer: &Layer,
    vector: &VectorLayer,
    zooms: &RangeInclusive<u32>,
    tiles: &str,
) -> serde_json::Value {
    let b = vector.wgs84_bbox;
    let (cx, cy) = b.center();
    // The zoom at which the data's width fills a 256-pixel tile or so.
    let fit = (360.0 / b.width().max(1e-9)).log2().floor();
    let center_zoom = if fit.is_finite() {
        (fit.max(0.0) as u32).clamp(*zooms.start(), *zooms.end())
    } else {
        *zooms.start()
    };
    let vector_layers: Vec<serde_json::Value> = vector
        .relations
        .iter()
        .map(|relation| {
            let metadata = relation.metadata();
            let mut fields = serde_json::Map::new();
            for name in &relation.attributes {
                let ty = metadata.and_then(|m| m.attribute(name)).map(|a| a.ty);
                let kind = match ty {
                    Some(
                        vectorstore::AttributeType::Integer | vectorstore::AttributeType::Real,
                    ) => "Number",
                    Some(vectorstore::AttributeType::Boolean) => "Boolean",
                    Some(vectorstore::AttributeType::Blob) => continue,
                    _ => "String",
                };
                fields.insert(name.clone(), serde_json::Value::from(kind));
            }
            serde_json::json!({
                "id": relation.table,
                "description": metadata.map_or("", |m| m.geometry_type.as_str()),
                "minzoom": zooms.start(),
                "maxzoom": zooms.end(),
                "fields": fields,
            })
        })
        .collect();
    let mut out = serde_json::json!({
        "tilejson": "3.0.0",
        "name": layer.name,
        "description": layer.abstract_text,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tiles],
        "minzoom": zooms.start(),
        "maxzoom": zooms.end(),
        "bounds": [b.min_x(), b.min_y(), b.max_x(), b.max_y()],
        "center": [cx, cy, center_zoom],
        "vector_layers": vector_layers,
    });
    if !layer.metadata.attribution.is_empty() {
        out["attribution"] = serde_json::Value::from(layer.metadata.attribution.clone());
    }
    out
}

/// The vector layer of a layer, when it has one.
pub fn vector_source(layer: &Layer) -> Option<&VectorLayer> {
    match &layer.source {
        LayerSource::Vector(vector) => Some(vector),
        LayerSource::Pyramid(_) => None,
    }
}

/// Makes a tile: `None` when cancelled. An empty tile has no ETag and no bytes.
fn make(
    layer: &Layer,
    tile: TileAddress,
    settings: &VectorTilesConfig,
    cancel: &Cancel,
) -> Result<Option<CachedImage>, vectorstore::VectorError> {
    let Some(vector) = vector_source(layer) else {
        return Ok(Some(empty()));
    };
    let mvt_settings = MvtSettings {
        extent: settings.extent,
        buffer: settings.buffer,
        max_bytes: settings.max_tile_bytes,
    };
    let Some(encoded) =
        vector.vector_tile(tile.bounds(), &Crs::web_mercator(), mvt_settings, &|| {
            cancel.is_cancelled()
        })?
    else {
        return Ok(None);
    };
    if let Some(thinning) = &encoded.thinning {
        tracing::warn!(
            layer = %layer.name,
            z = tile.z,
            x = tile.x,
            y = tile.y,
            original_bytes = thinning.original_bytes,
            bytes = encoded.bytes.len(),
            tolerance = thinning.tolerance,
            dropped = thinning.dropped,
            "vector tile thinned to fit [vector_tiles] max_tile_bytes"
        );
    }
    if encoded.features == 0 {
        return Ok(Some(empty()));
    }
    let etag = content_etag("mvt", &encoded.bytes);
    Ok(Some(CachedImage {
        bytes: Bytes::from(encoded.bytes),
        content_type: MIME,
        etag: Some(Arc::from(etag)),
    }))
}

fn empty() -> CachedImage {
    CachedImage {
        bytes: Bytes::new(),
        content_type: MIME,
        etag: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::float_cmp)] // exact: powers of two of the same constant
    fn tile_bounds_follow_the_xyz_grid() {
        let world = TileAddress { z: 0, x: 0, y: 0 }.bounds();
        assert_eq!(world, [-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD]);
        let top_right = TileAddress { z: 1, x: 1, y: 0 }.bounds();
        assert_eq!(top_right, [0.0, 0.0, HALF_WORLD, HALF_WORLD]);
    }
}
