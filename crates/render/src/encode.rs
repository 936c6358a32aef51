//! Encoders: PNG (fast settings; RGB when the image is opaque), palette PNG for
//! `image/png; mode=8bit` (NeuQuant, alpha in tRNS), JPEG (flattened over white: it has no
//! alpha) and lossless WebP.

use image::{ExtendedColorType, ImageEncoder as _};

use crate::{Image, RenderError};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// 24/32-bit PNG.
    Png,
    /// 8-bit palette PNG.
    Png8,
    /// JPEG at a quality (1–100).
    Jpeg {
        /// Quality.
        quality: u8,
    },
    /// Lossless WebP.
    Webp,
}

impl ImageFormat {
    /// The format of a MIME type (`image/png; mode=8bit`, `image/png8` too).
    pub fn from_mime(mime: &str) -> Option<ImageFormat> {
        let lower = mime.trim().to_ascii_lowercase();
        let mut parts = lower.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        let eight = parts.any(|p| p.replace(' ', "") == "mode=8bit");
        match essence {
            "image/png" if eight => Some(ImageFormat::Png8),
            "image/png" => Some(ImageFormat::Png),
            "image/png8" | "png8" => Some(ImageFormat::Png8),
            "image/jpeg" | "image/jpg" => Some(ImageFormat::Jpeg { quality: 85 }),
            "image/webp" => Some(ImageFormat::Webp),
            _ => None,
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Png8 => "image/png; mode=8bit",
            ImageFormat::Jpeg { .. } => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// Encodes an image.
pub fn encode(image: &Image, format: ImageFormat) -> Result<Vec<u8>, RenderError> {
    let (w, h) = (image.width(), image.height());
    let error = |reason: String| RenderError::Encode {
        format: format.mime(),
        reason,
    };
    let opaque = image.is_opaque();
    let mut out = Vec::with_capacity((w * h) as usize);
    match format {
        ImageFormat::Png8 => {
            palette_png(&image.to_rgba8(), w, h, opaque, &mut out).map_err(error)?;
        }
        ImageFormat::Jpeg { quality } => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .write_image(&image.to_rgb8(), w, h, ExtendedColorType::Rgb8)
                .map_err(|e| error(e.to_string()))?;
        }
        ImageFormat::Png | ImageFormat::Webp => {
            // Opaque maps (most) need no demultiplication: RGB straight from the pixels.
            let (pixels, color) = if opaque {
                (image.to_rgb8(), ExtendedColorType::Rgb8)
            } else {
                (image.to_rgba8(), ExtendedColorType::Rgba8)
            };
            if format == ImageFormat::Png {
                image::codecs::png::PngEncoder::new_with_quality(
                    &mut out,
                    image::codecs::png::CompressionType::Fast,
                    image::codecs::png::FilterType::Sub,
                )
                .write_image(&pixels, w, h, color)
            } else {
                image::codecs::webp::WebPEncoder::new_lossless(&mut out)
                    .write_image(&pixels, w, h, color)
            }
            .map_err(|e| error(e.to_string()))?;
        }
    }
    Ok(out)
}

fn palette_png(rgba: &[u8], w: u32, h: u32, opaque: bool, out: &mut Vec<u8>) -> Result<(), String> {
    // Exact palette when the image has at most 256 colours (maps often do), else NeuQuant.
    let mut exact: Vec<[u8; 4]> = Vec::new();
    let mut index_of = std::collections::HashMap::new();
    let mut indices = Vec::with_capacity(rgba.len() / 4);
    for p in rgba.chunks_exact(4) {
        let key = [p[0], p[1], p[2], p[3]];
        if let Some(&i) = index_of.get(&key) {
            indices.push(i);
            continue;
        }
        if exact.len() == 256 {
            indices.clear();
            break;
        }
        let i = exact.len() as u8;
        exact.push(key);
        index_of.insert(key, i);
        indices.push(i);
    }
    let palette: Vec<[u8; 4]> = if indices.len() == rgba.len() / 4 {
        exact
    } else {
        let quantizer = color_quant::NeuQuant::new(10, 256, rgba);
        let map = quantizer.color_map_rgba();
        indices = rgba
            .chunks_exact(4)
            .map(|p| quantizer.index_of(p) as u8)
            .collect();
        map.chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect()
    };
    let mut encoder = png::Encoder::new(out, w, h);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_palette(
        palette
            .iter()
            .flat_map(|c| [c[0], c[1], c[2]])
            .collect::<Vec<u8>>(),
    );
    if !opaque {
        encoder.set_trns(palette.iter().map(|c| c[3]).collect::<Vec<u8>>());
    }
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&indices)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gradient() -> Image {
        let mut rgba = Vec::new();
        for y in 0..64u32 {
            for x in 0..64u32 {
                rgba.extend_from_slice(&[
                    (x * 4) as u8,
                    (y * 4) as u8,
                    128,
                    if x < 8 { 0 } else { 255 },
                ]);
            }
        }
        Image::from_rgba8(64, 64, rgba).unwrap()
    }

    #[test]
    fn every_format_decodes_back() {
        let image = gradient();
        for format in [
            ImageFormat::Png,
            ImageFormat::Png8,
            ImageFormat::Jpeg { quality: 90 },
            ImageFormat::Webp,
        ] {
            let bytes = encode(&image, format).unwrap();
            let decoded = image::load_from_memory(&bytes).unwrap().to_rgba8();
            assert_eq!(decoded.dimensions(), (64, 64), "{format:?}");
            let p = decoded.get_pixel(40, 20).0;
            let tolerance = if matches!(format, ImageFormat::Png | ImageFormat::Webp) {
                0
            } else {
                24
            };
            assert!(
                p[0].abs_diff(160) <= tolerance && p[1].abs_diff(80) <= tolerance,
                "{format:?}: {p:?}"
            );
            let clear = decoded.get_pixel(2, 2).0;
            match format {
                ImageFormat::Jpeg { .. } => assert!(
                    clear[0] > 230 && clear[1] > 230,
                    "JPEG flattens over white: {clear:?}"
                ),
                _ => assert_eq!(clear[3], 0, "{format:?} keeps transparency"),
            }
        }
        // Palette PNG: colour type 3.
        let png8 = encode(&image, ImageFormat::Png8).unwrap();
        assert_eq!(png8[25], 3);
        assert_eq!(
            ImageFormat::from_mime("image/png; mode=8bit"),
            Some(ImageFormat::Png8)
        );
    }
}
