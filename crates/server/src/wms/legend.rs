//! GetLegendGraphic (SLD 1.1.0 profile of WMS), legend sizes for the capabilities' LegendURL,
//! and the images of `EXCEPTIONS=INIMAGE|BLANK`.

use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::cache::CachedImage;
use super::params::{MapFormat, STANDARD_DPI};
use super::pool::JobError;
use super::{name_list, Code, Version, WmsError};
use crate::http::AppState;
use crate::layers::{Layer, LayerStyle};
use crate::ogc::Kvp;

/// Swatch size when WIDTH / HEIGHT are not given.
const DEFAULT_SWATCH: u32 = 20;

pub async fn answer(state: &AppState, kvp: &Kvp, _version: Version) -> Result<Response, WmsError> {
    let layers = crate::access::view();
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
    let job = move || legend_image(&renderer, &layer, style_index, &options, format);
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
    super::map::encode(&image, format)
}

/// The size of a style's default legend, for LegendURL; `None` for styles without legend.
pub fn legend_size(state: &AppState, _layer: &Layer, style: &LayerStyle) -> Option<(u32, u32)> {
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

/// The style drawing INIMAGE messages: left-anchored dark text with a white halo.
fn message_style() -> Option<&'static sld::UserStyle> {
    static STYLE: OnceLock<Option<sld::UserStyle>> = OnceLock::new();
    STYLE
        .get_or_init(|| {
            let text = r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc">
  <NamedLayer><Name>message</Name><UserStyle><FeatureTypeStyle><Rule>
    <TextSymbolizer>
      <Label><ogc:PropertyName>text</ogc:PropertyName></Label>
      <Font><CssParameter name="font-family">DejaVu Sans</CssParameter><CssParameter name="font-size">11</CssParameter></Font>
      <LabelPlacement><PointPlacement><AnchorPoint><AnchorPointX>0</AnchorPointX><AnchorPointY>0.5</AnchorPointY></AnchorPoint></PointPlacement></LabelPlacement>
      <Halo><Radius>1.5</Radius><Fill><CssParameter name="fill">#FFFFFF</CssParameter></Fill></Halo>
      <Fill><CssParameter name="fill">#B00020</CssParameter></Fill>
      <VendorOption name="conflictResolution">false</VendorOption>
    </TextSymbolizer>
  </Rule></FeatureTypeStyle></UserStyle></NamedLayer>
</StyledLayerDescriptor>"#;
            sld::parse(text).ok()?.default_style().cloned()
        })
        .as_ref()
}

/// An image of `width`×`height` holding `message` (wrapped), or blank when `None`.
pub fn message_image(
    renderer: &render::Renderer,
    width: u32,
    height: u32,
    transparent: bool,
    message: Option<&str>,
    format: MapFormat,
) -> Result<CachedImage, WmsError> {
    let background = [255, 255, 255, if transparent { 0 } else { 255 }];
    let extent = crs::Bbox::new(0.0, 0.0, f64::from(width), f64::from(height))
        .map_err(|e| WmsError::internal("message image extent", &e))?;
    let request = render::MapRequest {
        extent,
        crs: crs::Crs::web_mercator(),
        width,
        height,
        dpi: STANDARD_DPI,
        background,
        transparent,
        buffer: 0,
    };
    let mut features = Vec::new();
    if let Some(message) = message {
        // ~6.5 px per character at 11 px.
        let per_line = ((width.saturating_sub(16)) / 7).max(8) as usize;
        for (k, line) in wrap(message, per_line).into_iter().enumerate() {
            let y = f64::from(height) - 14.0 * (k as f64 + 1.0);
            if y < 0.0 {
                break;
            }
            features.push(vectorstore::Feature {
                fid: k as i64,
                geometry: geo_types::Geometry::Point(geo_types::Point::new(8.0, y)),
                properties: vec![(Arc::from("text"), vectorstore::Value::Text(line))],
            });
        }
    }
    let image = match message_style() {
        Some(style) if !features.is_empty() => {
            let layers = [render::RenderLayer {
                features: &features,
                style,
            }];
            renderer.render(&request, &layers)
        }
        _ => renderer.render::<vectorstore::Feature>(&request, &[]),
    }
    .map_err(|e| WmsError::internal("drawing an exception image", &e))?;
    super::map::encode(&image, format)
}

/// Words wrapped into lines of at most `width` characters (long words cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_owned();
        while word.chars().count() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_cuts_long_ones() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert!(wrap("", 5).is_empty());
        assert!(message_style().is_some(), "the INIMAGE style parses");
    }
}
