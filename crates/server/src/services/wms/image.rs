//! Images every operation shares: encoding in the asked format, and the message images of
//! `EXCEPTIONS=INIMAGE|BLANK`.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::cache::CachedImage;
use super::params::{MapFormat, STANDARD_DPI};
use super::protocol::WmsError;

/// Encodes an image (JPEG at quality 85; TIFF, which holds values, as PNG).
pub(super) fn encode(image: &render::Image, format: MapFormat) -> Result<CachedImage, WmsError> {
    let (encoder, format) = match format.image_format(85) {
        Some(encoder) => (encoder, format),
        None => (render::ImageFormat::Png, MapFormat::Png),
    };
    let bytes =
        render::encode(image, encoder).map_err(|e| WmsError::internal("encoding an image", &e))?;
    Ok(CachedImage {
        bytes: Bytes::from(bytes),
        content_type: format.mime(),
        etag: None,
    })
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
pub(super) fn message_image(
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
    encode(&image, format)
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
