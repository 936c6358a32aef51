//! GetMap: layers drawn in order into one image, encoded in the asked format.
//!
//! Consecutive vector layers are drawn by one `render` call (so their labels share one
//! collision space); pyramid layers are read at the level best suited to the map, reprojected
//! and resampled by `pyramid::warp`, styled by their RasterSymbolizer, and composited in
//! order. `image/tiff` answers the pixel values themselves (float32 GeoTIFF) for one pyramid
//! layer. Everything CPU-bound runs on the render pool; answers are cached by request.

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::cache::CachedImage;
use super::image::encode;
use super::params::{exception_mode, parse_map, ExceptionMode, MapFormat, MapParams};
use super::protocol::{Code, WmsError};
use super::runtime::{Call, WmsState};
use crate::layers::{Layer, LayerSource, PyramidLayer};
use crate::services::ogc::Kvp;
use crate::services::render_pool::{Cancel, JobError};

pub async fn answer(call: Call<'_>) -> Result<Response, WmsError> {
    let Call {
        state,
        layers: _,
        kvp,
        version: _,
    } = call;
    let mode = exception_mode(kvp);
    match answer_inner(call).await {
        Ok(response) => Ok(response),
        Err(error) if mode != ExceptionMode::Xml && error.status_is_client() => {
            error_image(state, kvp, &error, mode).await
        }
        Err(error) => Err(error),
    }
}

async fn answer_inner(call: Call<'_>) -> Result<Response, WmsError> {
    let (state, layers, kvp, version) = call.parts();
    let map = parse_map(kvp, version, layers, &state.config.wms, "LAYERS")?;
    if map.format == MapFormat::Tiff {
        check_tiff(&map)?;
    }
    let key = map.cache_key(layers.sequence);
    if let Some(hit) = state.wms.cache.get(&key) {
        return Ok(image_response(hit));
    }
    let renderer = Arc::clone(&state.wms.renderer);
    let job = move |cancel: &Cancel| draw(&renderer, &map, cancel);
    let image = match state.wms.pool.run(job).await {
        Ok(result) => result?,
        Err(JobError::Busy(_)) => return Err(WmsError::busy()),
        Err(JobError::Cancelled) => return Err(WmsError::cancelled()),
        Err(JobError::Panicked(p)) => return Err(WmsError::internal("GetMap", &p)),
    };
    state.wms.cache.put(key, image.clone());
    Ok(image_response(image))
}

fn image_response(image: CachedImage) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(image.content_type),
        )],
        image.bytes,
    )
        .into_response()
}

fn check_tiff(map: &MapParams) -> Result<(), WmsError> {
    let single_pyramid =
        map.layers.len() == 1 && matches!(map.layers[0].0.source, LayerSource::Pyramid(_));
    if single_pyramid {
        Ok(())
    } else {
        Err(WmsError::new(
            Code::InvalidFormat,
            "FORMAT",
            "image/tiff gives the pixel values of one pyramid layer: ask for a single raster layer, or use image/png for maps",
        ))
    }
}

/// Stops a render whose client has left.
fn check(cancel: &Cancel) -> Result<(), WmsError> {
    if cancel.is_cancelled() {
        Err(WmsError::cancelled())
    } else {
        Ok(())
    }
}

/// Draws and encodes a map (on the render pool), asking `cancel` between steps.
fn draw(
    renderer: &render::Renderer,
    map: &MapParams,
    cancel: &Cancel,
) -> Result<CachedImage, WmsError> {
    if map.format == MapFormat::Tiff {
        return tiff(map);
    }
    let canvas = draw_image(renderer, map, cancel)?;
    encode(&canvas, map.format)
}

/// Draws a map (not TIFF) as an image, asking `cancel` between steps: what GetMap encodes,
/// and what the tile cache cuts metatiles from — tiles and maps come from one renderer.
pub(crate) fn draw_image(
    renderer: &render::Renderer,
    map: &MapParams,
    cancel: &Cancel,
) -> Result<render::Image, WmsError> {
    let background = if map.transparent && map.format.has_alpha() {
        [map.bgcolor[0], map.bgcolor[1], map.bgcolor[2], 0]
    } else {
        [map.bgcolor[0], map.bgcolor[1], map.bgcolor[2], 255]
    };
    let mut canvas = render::Image::new(map.width, map.height, background)
        .map_err(|e| WmsError::internal("GetMap canvas", &e))?;
    let mut k = 0;
    while k < map.layers.len() {
        check(cancel)?;
        match &map.layers[k].0.source {
            LayerSource::Vector(_) => {
                let start = k;
                while k < map.layers.len()
                    && matches!(map.layers[k].0.source, LayerSource::Vector(_))
                {
                    k += 1;
                }
                draw_vectors(renderer, map, &map.layers[start..k], &mut canvas, cancel)?;
            }
            LayerSource::Pyramid(pyramid) => {
                let (layer, style) = &map.layers[k];
                if let Some(image) = draw_pyramid(layer, pyramid, *style, map)? {
                    check(cancel)?;
                    canvas.draw_over(&image);
                }
                k += 1;
            }
        }
    }
    check(cancel)?;
    Ok(canvas)
}

fn draw_vectors(
    renderer: &render::Renderer,
    map: &MapParams,
    layers: &[(Arc<Layer>, usize)],
    canvas: &mut render::Image,
    cancel: &Cancel,
) -> Result<(), WmsError> {
    let request = render::MapRequest {
        extent: map.bbox,
        crs: map.crs.clone(),
        width: map.width,
        height: map.height,
        dpi: map.dpi,
        background: [0, 0, 0, 0],
        transparent: true,
        buffer: map.label_buffer,
    };
    let scale = request.scale_denominator();
    // Features of every layer first (they must outlive the render call).
    let mut fetched: Vec<crate::layers::StyledFeatures<'_>> = Vec::with_capacity(layers.len());
    // Margin: symbols and labels of features just outside the map reach into it.
    let margin = map.resolution() * 64.0;
    let query = crs::Bbox::new(
        map.bbox.min_x() - margin,
        map.bbox.min_y() - margin,
        map.bbox.max_x() + margin,
        map.bbox.max_y() + margin,
    )
    .unwrap_or(map.bbox);
    for (layer, style) in layers {
        let LayerSource::Vector(vector) = &layer.source else {
            continue;
        };
        let Some(style_name) = layer.styles().get(*style).map(|s| s.name.as_str()) else {
            continue;
        };
        let styled = vector
            .fetch(&query, &map.crs, scale, style_name)
            .map_err(|e| WmsError::internal("reading features for GetMap", &e))?;
        fetched.extend(styled);
        check(cancel)?;
    }
    let render_layers: Vec<render::RenderLayer<'_, vectorstore::Feature>> = fetched
        .iter()
        .map(|(features, style)| render::RenderLayer { features, style })
        .collect();
    let stop = || cancel.is_cancelled();
    if renderer.render_onto_until(canvas, &request, &render_layers, &stop) {
        Ok(())
    } else {
        Err(WmsError::cancelled())
    }
}

/// A pyramid layer as an image; `None` where it holds no data under the map.
fn draw_pyramid(
    layer: &Layer,
    pyramid: &PyramidLayer,
    style: usize,
    map: &MapParams,
) -> Result<Option<render::Image>, WmsError> {
    let Some(raster) = warp(pyramid, map)? else {
        return Ok(None);
    };
    let symbolizer = pyramid
        .styles
        .get(style)
        .and_then(|s| s.style.as_ref())
        .and_then(raster_symbolizer);
    let sample_type = pyramid.pyramid.format().sample_type();
    let failed = |e: render::RenderError| {
        WmsError::internal(&format!("styling pyramid layer '{}'", layer.name), &e)
    };
    let image = match symbolizer {
        Some(symbolizer) => {
            let bands: Vec<Vec<f32>> = (0..usize::from(raster.channels))
                .map(|b| raster.band(b))
                .collect();
            let refs: Vec<&[f32]> = bands.iter().map(Vec::as_slice).collect();
            render::style_raster(symbolizer, &refs, raster.width, raster.height, None)
                .map_err(failed)?
        }
        None => render::Image::from_rgba8(
            raster.width,
            raster.height,
            plain_rgba(&raster, sample_type),
        )
        .map_err(failed)?,
    };
    Ok(Some(image))
}

fn warp(pyramid: &PyramidLayer, map: &MapParams) -> Result<Option<pyramid::Raster>, WmsError> {
    let request = pyramid::WarpRequest {
        crs: &map.crs,
        bbox: &map.bbox,
        width: map.width,
        height: map.height,
        interpolation: pyramid.interpolation,
        levels: pyramid.levels.clone(),
    };
    pyramid
        .pyramid
        .warp(&request)
        .map_err(|e| WmsError::internal("reading a pyramid for GetMap", &e))
}

fn raster_symbolizer(style: &sld::UserStyle) -> Option<&sld::RasterSymbolizer> {
    style
        .feature_type_styles
        .iter()
        .flat_map(|f| &f.rules)
        .flat_map(|r| &r.symbolizers)
        .find_map(|s| match s {
            sld::Symbolizer::Raster(r) => Some(r),
            _ => None,
        })
}

/// Pixels shown as stored: 1 band grey, 2 grey + alpha, 3 RGB, 4 RGBA; float data stretched
/// over its own range (style it with a ColorMap for meaningful colours); no data transparent.
fn plain_rgba(raster: &pyramid::Raster, sample_type: pyramid::SampleType) -> Vec<u8> {
    let n = usize::from(raster.channels);
    let (mut lo, mut hi) = (0f32, 255f32);
    if sample_type == pyramid::SampleType::Float32 {
        lo = f32::INFINITY;
        hi = f32::NEG_INFINITY;
        for v in raster.data.iter().filter(|v| v.is_finite()) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
    }
    let scale = |v: f32| (((v - lo) / (hi - lo)) * 255.0).round().clamp(0.0, 255.0) as u8;
    let mut out = Vec::with_capacity(raster.data.len() / n * 4);
    for pixel in raster.data.chunks_exact(n) {
        if pixel[0].is_nan() {
            out.extend_from_slice(&[0, 0, 0, 0]);
            continue;
        }
        let rgba = match n {
            1 => [scale(pixel[0]), scale(pixel[0]), scale(pixel[0]), 255],
            2 => [
                scale(pixel[0]),
                scale(pixel[0]),
                scale(pixel[0]),
                scale(pixel[1]),
            ],
            3 => [scale(pixel[0]), scale(pixel[1]), scale(pixel[2]), 255],
            _ => [
                scale(pixel[0]),
                scale(pixel[1]),
                scale(pixel[2]),
                scale(pixel[3]),
            ],
        };
        out.extend_from_slice(&rgba);
    }
    out
}

/// The pixel values of one pyramid layer as a float32 GeoTIFF (no data = NaN).
fn tiff(map: &MapParams) -> Result<CachedImage, WmsError> {
    let LayerSource::Pyramid(pyramid) = &map.layers[0].0.source else {
        return Err(WmsError::invalid(
            "FORMAT",
            "image/tiff needs a pyramid layer",
        ));
    };
    let channels = pyramid.pyramid.channels();
    let raster = warp(pyramid, map)?.unwrap_or_else(|| pyramid::Raster {
        width: map.width,
        height: map.height,
        channels,
        data: vec![f32::NAN; map.width as usize * map.height as usize * usize::from(channels)],
        level: String::new(),
    });
    let bytes = super::geotiff::encode(&raster, &map.crs, &map.bbox)
        .map_err(|reason| WmsError::new(Code::InvalidFormat, "FORMAT", reason))?;
    Ok(CachedImage {
        bytes: Bytes::from(bytes),
        content_type: "image/tiff",
        etag: None,
    })
}

/// EXCEPTIONS=INIMAGE|BLANK: the error as an image of the asked size and format (200).
async fn error_image(
    state: &WmsState,
    kvp: &Kvp,
    error: &WmsError,
    mode: ExceptionMode,
) -> Result<Response, WmsError> {
    let size = |name: &str, max: u32| {
        kvp.non_empty(name)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|v| (1..=max).contains(v))
            .unwrap_or(256)
    };
    let (width, height) = (
        size("WIDTH", state.config.wms.max_width),
        size("HEIGHT", state.config.wms.max_height),
    );
    let format = kvp
        .non_empty("FORMAT")
        .and_then(MapFormat::from_mime)
        .filter(|f| *f != MapFormat::Tiff)
        .unwrap_or(MapFormat::Png);
    let transparent = kvp
        .non_empty("TRANSPARENT")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && format.has_alpha();
    let message = match mode {
        ExceptionMode::InImage => Some(error.text().to_owned()),
        _ => None,
    };
    let renderer = Arc::clone(&state.wms.renderer);
    let job = move |_: &Cancel| {
        super::image::message_image(
            &renderer,
            width,
            height,
            transparent,
            message.as_deref(),
            format,
        )
    };
    match state.wms.pool.run(job).await {
        Ok(Ok(image)) => Ok(image_response(image)),
        Ok(Err(e)) => Err(e),
        Err(JobError::Cancelled) => Err(WmsError::cancelled()),
        Err(JobError::Busy(_)) => Err(WmsError::busy()),
        Err(JobError::Panicked(p)) => Err(WmsError::internal("GetMap error image", &p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_rasters_are_stretched_and_nodata_is_transparent() {
        let raster = pyramid::Raster {
            width: 3,
            height: 1,
            channels: 1,
            data: vec![100.0, f32::NAN, 300.0],
            level: "0".into(),
        };
        let rgba = plain_rgba(&raster, pyramid::SampleType::Float32);
        assert_eq!(&rgba[0..4], &[0, 0, 0, 255]);
        assert_eq!(&rgba[4..8], &[0, 0, 0, 0]);
        assert_eq!(&rgba[8..12], &[255, 255, 255, 255]);
    }
}
