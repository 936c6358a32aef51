//! GetLegendGraphic (SLD 1.1.0 profile of WMS), legend sizes for the capabilities' LegendURL,
//! and the images of `EXCEPTIONS=INIMAGE|BLANK`.

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::cache::CachedImage;
use super::params::{MapFormat, STANDARD_DPI};
use super::protocol::{name_list, Code, WmsError};
use super::runtime::{Call, WmsState};
use crate::layers::{Layer, LayerStyle};
use crate::services::render_pool::{Cancel, JobError};

/// Swatch size when WIDTH / HEIGHT are not given.
const DEFAULT_SWATCH: u32 = 20;

pub async fn answer(call: Call<'_>) -> Result<Response, WmsError> {
    let Call {
        state, layers, kvp, ..
    } = call;
    let name = kvp
        .non_empty("LAYER")
        .ok_or_else(|| WmsError::missing("LAYER", "name the layer whose legend you want"))?;
    let layer = layers.get(name).cloned().ok_or_else(|| {
        WmsError::new(
            Code::LayerNotDefined,
            "LAYER",
            format!(
                "layer '{name}' is not published here; the layers are {}",
                name_list(layers.iter().map(|l| l.name.as_str()))
            ),
        )
    })?;
    let style_name = kvp.non_empty("STYLE").unwrap_or("");
    let style_index = if style_name.is_empty() || style_name.eq_ignore_ascii_case("default") {
        0
    } else {
        layer
            .styles()
            .iter()
            .position(|s| s.name == style_name)
            .ok_or_else(|| {
                WmsError::new(
                    Code::StyleNotDefined,
                    "STYLE",
                    format!(
                        "layer '{name}' has no style '{style_name}'; its styles are {}",
                        name_list(layer.styles().iter().map(|s| s.name.as_str()))
                    ),
                )
            })?
    };
    let format = match kvp.non_empty("FORMAT") {
        None => MapFormat::Png,
        Some(text) => MapFormat::from_mime(text)
            .filter(|f| *f != MapFormat::Tiff)
            .ok_or_else(|| {
                WmsError::new(
                    Code::InvalidFormat,
                    "FORMAT",
                    format!(
                        "legends are offered as image/png, image/jpeg or image/webp, not {text}"
                    ),
                )
            })?,
    };
    let swatch = |param: &'static str| -> Result<u32, WmsError> {
        match kvp.non_empty(param) {
            None => Ok(DEFAULT_SWATCH),
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|v| (1..=512).contains(v))
                .ok_or_else(|| {
                    WmsError::invalid(
                        param,
                        format!("{param}={text} is not a swatch size from 1 to 512 pixels"),
                    )
                }),
        }
    };
    let width = swatch("WIDTH")?;
    let height = swatch("HEIGHT")?;
    let scale = match kvp.non_empty("SCALE") {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| {
                    WmsError::invalid(
                        "SCALE",
                        format!("SCALE={text} is not a positive scale denominator"),
                    )
                })?,
        ),
    };
    let rule = kvp.non_empty("RULE").map(str::to_owned);
    let transparent = kvp
        .non_empty("TRANSPARENT")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        && format.has_alpha();
    let options = render::LegendOptions {
        rule,
        width,
        height,
        scale,
        dpi: STANDARD_DPI,
        transparent,
        with_labels: true,
    };
    let renderer = Arc::clone(&state.wms.renderer);
    let job = move |_: &Cancel| legend_image(&renderer, &layer, style_index, &options, format);
    match state.wms.pool.run(job).await {
        Ok(Ok(image)) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(image.content_type),
            )],
            image.bytes,
        )
            .into_response()),
        Ok(Err(e)) => Err(e),
        Err(JobError::Cancelled) => Err(WmsError::cancelled()),
        Err(JobError::Busy(_)) => Err(WmsError::busy()),
        Err(JobError::Panicked(p)) => Err(WmsError::internal("GetLegendGraphic", &p)),
    }
}

fn legend_image(
    renderer: &render::Renderer,
    layer: &Layer,
    style_index: usize,
    options: &render::LegendOptions,
    format: MapFormat,
) -> Result<CachedImage, WmsError> {
    let Some(style) = layer
        .styles()
        .get(style_index)
        .and_then(|s| s.style.as_ref())
    else {
        return Err(WmsError::invalid(
            "LAYER",
            format!(
                "layer '{}' is shown as stored and has no legend",
                layer.name
            ),
        ));
    };
    let image = renderer.legend(style, options).map_err(|e| match e {
        render::RenderError::UnknownRule { .. } => WmsError::invalid("RULE", e.to_string()),
        other => WmsError::internal("drawing a legend", &other),
    })?;
    super::image::encode(&image, format)
}

/// The size of a style's default legend, for LegendURL; `None` for styles without legend.
pub fn legend_size(state: &WmsState, _layer: &Layer, style: &LayerStyle) -> Option<(u32, u32)> {
    let user_style = style.style.as_ref()?;
    let options = render::LegendOptions {
        rule: None,
        width: DEFAULT_SWATCH,
        height: DEFAULT_SWATCH,
        scale: None,
        dpi: STANDARD_DPI,
        transparent: false,
        with_labels: true,
    };
    let image = state.wms.renderer.legend(user_style, &options).ok()?;
    Some((image.width(), image.height()))
}
