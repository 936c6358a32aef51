//! Tile answers shared by WMTS and TMS: the served format of a pyramid, the tile bytes (as
//! stored, or converted when the stored form is not an image a browser reads), empty tiles,
//! HTTP caching (ETag, 304, Cache-Control), and pixel values for GetFeatureInfo.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pyramid::{SampleType, TileCoord, TileFormat, TileImage};

use crate::config::EmptyTile;
use crate::layers::{Layer, PyramidLayer};

/// The style identifier of a tiled layer's default style (ROK4's): a pyramid's only style.
pub const DEFAULT_STYLE: &str = "normal";

/// How a tile answer may be cached: the layer's `Cache-Control`, and when its data or style
/// last changed (`Last-Modified`, and 304 on `If-Modified-Since`).
#[derive(Debug, Clone, Copy)]
pub struct Caching<'a> {
    /// `Cache-Control`.
    pub cache_control: &'a str,
    /// `Last-Modified` (`None`: not sent).
    pub modified: Option<std::time::SystemTime>,
}

impl<'a> Caching<'a> {
    /// The caching of a layer's tiles: its own `Cache-Control`, else `default`.
    pub fn of(layer: &'a Layer, default: &'a str) -> Caching<'a> {
        Caching {
            cache_control: layer.cache_control(default),
            modified: layer.modified(),
        }
    }
}

/// The format tiles of a pyramid are served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedFormat {
    /// MIME type (the WMTS `Format`).
    pub mime: &'static str,
    /// File extension in RESTful URLs.
    pub extension: &'static str,
}

const JPEG: ServedFormat = ServedFormat {
    mime: "image/jpeg",
    extension: "jpeg",
};
const PNG: ServedFormat = ServedFormat {
    mime: "image/png",
    extension: "png",
};
const WEBP: ServedFormat = ServedFormat {
    mime: "image/webp",
    extension: "webp",
};
const TIFF: ServedFormat = ServedFormat {
    mime: "image/tiff",
    extension: "tiff",
};
const BIL: ServedFormat = ServedFormat {
    mime: "image/x-bil;bits=32",
    extension: "bil",
};
const MVT: ServedFormat = ServedFormat {
    mime: "application/vnd.mapbox-vector-tile",
    extension: "pbf",
};

/// The formats tiles of a pyramid are served in, the preferred one first. JPEG and PNG
/// pyramids serve their tiles as stored; other 8-bit pyramids are converted to PNG; float
/// pyramids are served as float32 TIFF (which GDAL and QGIS read, with the no-data value) or
/// as little-endian 32-bit BIL; vector pyramids serve their vector tiles as stored.
pub fn served_formats(format: TileFormat) -> &'static [ServedFormat] {
    match format {
        TileFormat::JpgUint8 | TileFormat::Jpg90Uint8 => &[JPEG],
        TileFormat::ZipFloat32 | TileFormat::RawFloat32 => &[TIFF, BIL],
        TileFormat::PbfMvt => &[MVT],
        TileFormat::WebpUint8 => &[WEBP],
        _ => &[PNG],
    }
}

/// The preferred served format of a pyramid.
pub fn served_format(format: TileFormat) -> ServedFormat {
    served_formats(format)[0]
}

/// Whether a RESTful extension names a served format (`jpg`/`jpeg`, `png`, `tif`/`tiff`, `bil`,
/// `pbf`/`mvt`).
pub fn extension_matches(served: ServedFormat, extension: &str) -> bool {
    let extension = extension.to_ascii_lowercase();
    match served.extension {
        "jpeg" => extension == "jpeg" || extension == "jpg",
        "tiff" => extension == "tiff" || extension == "tif",
        "pbf" => extension == "pbf" || extension == "mvt",
        other => extension == other,
    }
}

/// The served format of a pyramid named by a RESTful extension.
pub fn format_for_extension(format: TileFormat, extension: &str) -> Option<ServedFormat> {
    served_formats(format)
        .iter()
        .copied()
        .find(|served| extension_matches(*served, extension))
}

/// The served format of a pyramid named by a MIME type.
pub fn format_for_mime(format: TileFormat, mime: &str) -> Option<ServedFormat> {
    served_formats(format)
        .iter()
        .copied()
        .find(|served| mime_matches(*served, mime))
}

/// The MIME types a pyramid's tiles are offered in, for messages: `image/tiff or image/x-bil…`.
pub fn offered_mimes(format: TileFormat) -> String {
    let mimes: Vec<&str> = served_formats(format).iter().map(|f| f.mime).collect();
    mimes.join(" or ")
}

/// The RESTful extensions a pyramid's tiles are offered in, for messages: `.tiff or .bil`.
pub fn offered_extensions(format: TileFormat) -> String {
    let extensions: Vec<String> = served_formats(format)
        .iter()
        .map(|f| format!(".{}", f.extension))
        .collect();
    extensions.join(" or ")
}

/// Whether a requested MIME type names a served format (parameters and case ignored).
pub fn mime_matches(served: ServedFormat, requested: &str) -> bool {
    let normalise = |m: &str| m.to_ascii_lowercase().replace(' ', "");
    let requested = normalise(requested);
    requested == normalise(served.mime)
        || (served.extension == "jpeg" && requested == "image/jpg")
        || (served.extension == "tiff" && requested == "image/geotiff")
        || (served.extension == "bil" && requested == "image/x-bil")
}

/// Errors of answering a tile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// Reading or decoding the stored tile failed.
    #[error(transparent)]
    Pyramid(#[from] pyramid::PyramidError),
    /// Converting the tile to the served format failed.
    #[error("cannot encode the tile: {0}")]
    Encode(String),
}

impl TileError {
    /// Whether the object storage holding the pyramid failed (worth a retry: 503).
    pub fn is_storage_failure(&self) -> bool {
        matches!(self, TileError::Pyramid(error) if error.is_storage_failure())
    }
}

/// Runs `answer` on the blocking pool when it reads object storage (`remote`): an S3 round
/// trip must not hold an event loop, which serves many connections. Inline otherwise (a
/// file read is faster than the hop).
pub async fn off_loop_when(
    remote: bool,
    answer: impl FnOnce() -> Response + Send + 'static,
) -> Response {
    if !remote {
        return answer();
    }
    match tokio::task::spawn_blocking(answer).await {
        Ok(response) => response,
        Err(error) => {
            crate::error::JsonError::internal("reading object storage", &error).into_response()
        }
    }
}

/// The answer to a tile request for a tile inside the served matrix.
pub fn tile_response(
    layer: &PyramidLayer,
    tile: TileCoord,
    served: ServedFormat,
    request_headers: &HeaderMap,
    caching: Caching<'_>,
) -> Result<Response, TileError> {
    let pyramid = &layer.pyramid;
    let Some(stored) = pyramid.read_tile(tile)? else {
        return empty_tile(layer, tile, served, request_headers, caching);
    };
    // One resource, several representations: the validator names the format too.
    let stored = if served_formats(pyramid.format()).len() > 1 {
        pyramid::StoredTile {
            etag: format!(
                "{}-{}\"",
                stored.etag.trim_end_matches('"'),
                served.extension
            ),
            bytes: stored.bytes,
        }
    } else {
        stored
    };
    if not_modified(request_headers, &stored.etag, caching) {
        return Ok(with_cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &stored.etag,
            caching,
        ));
    }
    let etag = stored.etag.clone();
    let as_stored = matches!(
        (pyramid.format(), served.extension),
        (TileFormat::JpgUint8 | TileFormat::Jpg90Uint8, "jpeg")
            | (TileFormat::PngUint8, "png")
            | (TileFormat::WebpUint8, "webp")
            | (TileFormat::RawFloat32, "bil")
            | (TileFormat::PbfMvt, "pbf")
    );
    let body = if as_stored {
        Bytes::from(stored.bytes)
    } else {
        let Some(image) = pyramid.read_pixels(tile)? else {
            return empty_tile(layer, tile, served, request_headers, caching);
        };
        Bytes::from(encode_served(&image, served, pyramid.nodata())?)
    };
    let response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(served.mime))],
        Body::from(body),
    )
        .into_response();
    Ok(with_cache_headers(response, &etag, caching))
}

fn empty_tile(
    layer: &PyramidLayer,
    tile: TileCoord,
    served: ServedFormat,
    request_headers: &HeaderMap,
    caching: Caching<'_>,
) -> Result<Response, TileError> {
    match layer.empty_tile {
        EmptyTile::NoContent => Ok(StatusCode::NO_CONTENT.into_response()),
        EmptyTile::NotFound => Ok((
            StatusCode::NOT_FOUND,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            "no data in this tile\n",
        )
            .into_response()),
        // A vector tile without data is no content: there are no pixels to fill.
        EmptyTile::Nodata if layer.pyramid.format().is_vector() => {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        EmptyTile::Nodata => {
            let pyramid = &layer.pyramid;
            let Some(matrix) = pyramid.tile_matrix_set().matrix_of(tile) else {
                return Ok(StatusCode::NO_CONTENT.into_response());
            };
            let etag = format!("\"nodata-{}\"", served.extension);
            if not_modified(request_headers, &etag, caching) {
                return Ok(with_cache_headers(
                    StatusCode::NOT_MODIFIED.into_response(),
                    &etag,
                    caching,
                ));
            }
            let size = (matrix.tile_width(), matrix.tile_height());
            // Encoded once per layer and tile size: edges of a pyramid ask for it a lot.
            let cached = layer
                .nodata_tile
                .get()
                .filter(|(cached, _)| *cached == (size, served.extension))
                .map(|(_, bytes)| bytes.clone());
            let bytes = if let Some(bytes) = cached {
                bytes
            } else {
                let image = TileImage::filled(
                    size.0,
                    size.1,
                    pyramid.format().sample_type(),
                    pyramid.nodata(),
                );
                let bytes = Bytes::from(encode_served(&image, served, pyramid.nodata())?);
                let _ = layer
                    .nodata_tile
                    .set(((size, served.extension), bytes.clone()));
                bytes
            };
            let response = (
                [(header::CONTENT_TYPE, HeaderValue::from_static(served.mime))],
                Body::from(bytes),
            )
                .into_response();
            Ok(with_cache_headers(response, &etag, caching))
        }
    }
}

/// Encodes decoded pixels in the served format. 8-bit pixels equal to the no-data value are
/// made transparent in PNG (an alpha channel is added where the pyramid has none).
fn encode_served(
    image: &TileImage,
    served: ServedFormat,
    nodata: &[f64],
) -> Result<Vec<u8>, TileError> {
    match served.extension {
        "tiff" => {
            pyramid::encode_float_tiff(image, nodata.first().copied()).map_err(TileError::Encode)
        }
        "bil" => match image.samples() {
            pyramid::Samples::F32(values) => {
                Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
            pyramid::Samples::U8(_) => {
                Err(TileError::Encode("8-bit tile served as BIL".to_owned()))
            }
        },
        "jpeg" => pyramid::encode_tile(TileFormat::JpgUint8, image).map_err(TileError::Encode),
        _ => {
            let with_alpha = with_nodata_alpha(image, nodata);
            pyramid::encode_tile(TileFormat::PngUint8, with_alpha.as_ref().unwrap_or(image))
                .map_err(TileError::Encode)
        }
    }
}

/// Gray or RGB 8-bit pixels with an alpha channel: 0 where every band equals its no-data
/// value, 255 elsewhere. `None` when the image already has alpha or is not 8-bit.
fn with_nodata_alpha(image: &TileImage, nodata: &[f64]) -> Option<TileImage> {
    let pyramid::Samples::U8(samples) = image.samples() else {
        return None;
    };
    let channels = usize::from(image.channels());
    if !(channels == 1 || channels == 3) || nodata.len() != channels {
        return None;
    }
    let nodata: Vec<u8> = nodata
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    let mut out = Vec::with_capacity(samples.len() / channels * (channels + 1));
    for pixel in samples.chunks_exact(channels) {
        out.extend_from_slice(pixel);
        out.push(if pixel == nodata.as_slice() { 0 } else { 255 });
    }
    TileImage::new(
        image.width(),
        image.height(),
        image.channels() + 1,
        pyramid::Samples::U8(out),
    )
}

/// The answer of tile bytes made or kept by the server (vector tiles, rendered tiles): 304
/// when the client's copy is current, else the bytes, with the validator and Cache-Control.
pub(crate) fn bytes_response(
    mime: &'static str,
    bytes: Bytes,
    etag: &str,
    request_headers: &HeaderMap,
    caching: Caching<'_>,
) -> Response {
    if not_modified(request_headers, etag, caching) {
        return with_cache_headers(StatusCode::NOT_MODIFIED.into_response(), etag, caching);
    }
    let response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        Body::from(bytes),
    )
        .into_response();
    with_cache_headers(response, etag, caching)
}

/// A strong validator of bytes the server made: `"{prefix}-{hash}-{length}"`, the same for the
/// same bytes across restarts.
pub(crate) fn content_etag(prefix: &str, bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("\"{prefix}-{:016x}-{}\"", hasher.finish(), bytes.len())
}

/// Whether the client's copy is current (RFC 9110 §13.2.2): `If-None-Match` decides when
/// present (weak comparison); else `If-Modified-Since`, against the layer's last change.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str, caching: Caching<'_>) -> bool {
    let mut tags = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .peekable();
    if tags.peek().is_some() {
        return tags.flat_map(|v| v.split(',')).any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || candidate.trim_start_matches("W/") == etag
        });
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    matches!((caching.modified, since), (Some(modified), Some(since)) if modified <= since)
}

pub(crate) fn with_cache_headers(
    mut response: Response,
    etag: &str,
    caching: Caching<'_>,
) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(caching.cache_control) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Some(modified) = caching.modified {
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
            headers.insert(header::LAST_MODIFIED, value);
        }
    }
    response
}

/// The stored values of every band at pixel (i, j) of a tile; `None` where there is no data.
pub fn pixel_values(
    layer: &PyramidLayer,
    tile: TileCoord,
    i: u32,
    j: u32,
) -> Result<Option<Vec<f64>>, TileError> {
    let Some(image) = layer.pyramid.read_pixels(tile)? else {
        return Ok(None);
    };
    let Some(values) = image.pixel(i, j) else {
        return Ok(None);
    };
    let nodata = layer.pyramid.nodata();
    // Exact comparison on purpose: no-data is a stored sentinel value, not a measurement.
    #[allow(clippy::float_cmp)]
    let is_nodata = !nodata.is_empty() && values.iter().zip(nodata).all(|(v, n)| v == n);
    if is_nodata {
        return Ok(None);
    }
    Ok(Some(values))
}

/// A sample value as text: float32 samples in their shortest exact form.
pub fn format_value(sample_type: SampleType, value: f64) -> String {
    match sample_type {
        SampleType::Float32 => format!("{}", value as f32),
        SampleType::Uint8 => format!("{value}"),
    }
}

/// A sample value as JSON.
pub fn json_value(sample_type: SampleType, value: f64) -> serde_json::Value {
    match sample_type {
        SampleType::Uint8 => serde_json::Value::from(value as u64),
        SampleType::Float32 => format!("{}", value as f32)
            .parse::<serde_json::Number>()
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
    }
}
