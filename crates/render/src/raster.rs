//! RasterSymbolizer styling of pixel values (WMS over pyramids): a ColorMap (ramp, intervals
//! or exact values) on one band, or bands shown as grey / RGB / RGBA; opacity; no data (NaN)
//! transparent.

use crate::{Image, RenderError};

/// One parsed colour map entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    quantity: f64,
    rgba: [f32; 4],
}

/// Colours pixel bands (each `width × height` values, NaN = no data) with a RasterSymbolizer.
pub fn style_raster(
    symbolizer: &sld::RasterSymbolizer,
    bands: &[&[f32]],
    width: u32,
    height: u32,
    nodata: Option<f32>,
) -> Result<Image, RenderError> {
    let n = width as usize * height as usize;
    if let Some(bad) = bands.iter().find(|b| b.len() != n) {
        return Err(RenderError::Bands {
            len: bad.len(),
            width,
            height,
        });
    }
    let no_attrs: std::collections::HashMap<String, sld::Value> = std::collections::HashMap::new();
    let opacity = symbolizer
        .opacity
        .as_ref()
        .and_then(|e| e.evaluate_number(&no_attrs))
        .unwrap_or(1.0)
        .clamp(0.0, 1.0) as f32;
    let is_nodata = |v: f32| v.is_nan() || nodata.is_some_and(|d| v.to_bits() == d.to_bits());
    let mut rgba = vec![0u8; n * 4];
    let entries: Vec<Entry> = symbolizer
        .color_map
        .as_ref()
        .map(|map| {
            map.entries
                .iter()
                .filter_map(|e| {
                    let c = sld::Color::parse(&e.color)?;
                    let a = f64::from(c.a) / 255.0 * e.opacity.unwrap_or(1.0).clamp(0.0, 1.0);
                    Some(Entry {
                        quantity: e.quantity,
                        rgba: [
                            f32::from(c.r),
                            f32::from(c.g),
                            f32::from(c.b),
                            (a * 255.0) as f32,
                        ],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let band_of = |name: &str| -> usize {
        name.trim()
            .parse::<usize>()
            .ok()
            .and_then(|b| b.checked_sub(1))
            .unwrap_or(0)
    };
    if let (Some(map), false) = (&symbolizer.color_map, entries.is_empty()) {
        let band = match &symbolizer.channel_selection {
            Some(sld::ChannelSelection::Gray(c)) => band_of(&c.name),
            _ => 0,
        };
        let Some(values) = bands.get(band).or_else(|| bands.first()) else {
            return Image::from_rgba8(width, height, rgba);
        };
        for (k, v) in values.iter().enumerate() {
            if is_nodata(*v) {
                continue;
            }
            if let Some(c) = colour_of(map.kind, &entries, f64::from(*v)) {
                let out = &mut rgba[k * 4..k * 4 + 4];
                out[0] = c[0].round() as u8;
                out[1] = c[1].round() as u8;
                out[2] = c[2].round() as u8;
                out[3] = (c[3] * opacity).round().clamp(0.0, 255.0) as u8;
            }
        }
        return Image::from_rgba8(width, height, rgba);
    }
    // No colour map: bands as grey, grey + alpha, RGB or RGBA (values 0–255).
    let selected: Vec<&[f32]> = match &symbolizer.channel_selection {
        Some(sld::ChannelSelection::Rgb { red, green, blue }) => [red, green, blue]
            .iter()
            .filter_map(|c| bands.get(band_of(&c.name)).copied())
            .collect(),
        Some(sld::ChannelSelection::Gray(c)) => {
            bands.get(band_of(&c.name)).copied().into_iter().collect()
        }
        _ => bands.to_vec(),
    };
    let byte = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    for k in 0..n {
        if selected.first().is_none_or(|b| is_nodata(b[k])) {
            continue;
        }
        let out = &mut rgba[k * 4..k * 4 + 4];
        let (rgb, alpha) = match selected.len() {
            1 => ([byte(selected[0][k]); 3], 255u8),
            2 => ([byte(selected[0][k]); 3], byte(selected[1][k])),
            3 => (
                [
                    byte(selected[0][k]),
                    byte(selected[1][k]),
                    byte(selected[2][k]),
                ],
                255,
            ),
            _ => (
                [
                    byte(selected[0][k]),
                    byte(selected[1][k]),
                    byte(selected[2][k]),
                ],
                byte(selected[3][k]),
            ),
        };
        out[..3].copy_from_slice(&rgb);
        out[3] = (f32::from(alpha) * opacity).round() as u8;
    }
    Image::from_rgba8(width, height, rgba)
}

/// The colour of a value: interpolated between entries (ramp; clamped to the end colours),
/// of the first entry whose quantity exceeds it (intervals), or of an equal entry (values).
fn colour_of(kind: sld::ColorMapKind, entries: &[Entry], v: f64) -> Option<[f32; 4]> {
    match kind {
        sld::ColorMapKind::Values => entries
            .iter()
            .find(|e| (e.quantity - v).abs() <= 1e-9 * e.quantity.abs().max(1.0))
            .map(|e| e.rgba),
        sld::ColorMapKind::Intervals => entries.iter().find(|e| v < e.quantity).map(|e| e.rgba),
        _ => {
            let first = entries.first()?;
            if v <= first.quantity {
                return Some(first.rgba);
            }
            for pair in entries.windows(2) {
                let (low, high) = (pair[0], pair[1]);
                if v <= high.quantity {
                    let span = high.quantity - low.quantity;
                    let t = if span > 0.0 {
                        ((v - low.quantity) / span) as f32
                    } else {
                        1.0
                    };
                    let mut mixed = low.rgba;
                    for (m, h) in mixed.iter_mut().zip(high.rgba) {
                        *m += t * (h - *m);
                    }
                    return Some(mixed);
                }
            }
            entries.last().map(|e| e.rgba)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn symbolizer(map: &str) -> sld::RasterSymbolizer {
        let text = format!(
            r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"><NamedLayer><Name>r</Name><UserStyle><FeatureTypeStyle><Rule><RasterSymbolizer><Opacity>1</Opacity>{map}</RasterSymbolizer></Rule></FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#
        );
        let sld = sld::parse(&text).unwrap();
        let rule = sld.rules().next().unwrap().clone();
        match &rule.symbolizers[0] {
            sld::Symbolizer::Raster(r) => r.clone(),
            _ => panic!("not raster"),
        }
    }

    #[test]
    fn ramps_intervals_and_values() {
        let values = [0.0f32, 50.0, 100.0, 200.0, f32::NAN, -5.0];
        let ramp = symbolizer(
            r##"<ColorMap><ColorMapEntry color="#000000" quantity="0"/><ColorMapEntry color="#FF0000" quantity="100"/></ColorMap>"##,
        );
        let img = style_raster(&ramp, &[&values], 6, 1, None)
            .unwrap()
            .to_rgba8();
        assert_eq!(&img[0..4], &[0, 0, 0, 255]);
        assert!((i32::from(img[4]) - 128).abs() <= 1);
        assert_eq!(&img[8..12], &[255, 0, 0, 255]);
        assert_eq!(&img[12..16], &[255, 0, 0, 255]);
        assert_eq!(img[19], 0, "NaN is transparent");
        let intervals = symbolizer(
            r##"<ColorMap type="intervals"><ColorMapEntry color="#0000FF" quantity="10"/><ColorMapEntry color="#00FF00" quantity="150"/></ColorMap>"##,
        );
        let img = style_raster(&intervals, &[&values], 6, 1, None)
            .unwrap()
            .to_rgba8();
        assert_eq!(&img[0..4], &[0, 0, 255, 255]);
        assert_eq!(&img[4..8], &[0, 255, 0, 255]);
        assert_eq!(img[15], 0, "above the last interval: nothing");
        let exact = symbolizer(
            r##"<ColorMap type="values"><ColorMapEntry color="#FFFF00" quantity="50" opacity="0.5"/></ColorMap>"##,
        );
        let img = style_raster(&exact, &[&values], 6, 1, Some(-5.0))
            .unwrap()
            .to_rgba8();
        assert_eq!(img[3], 0);
        assert_eq!(&img[4..8], &[255, 255, 0, 128]);
        assert_eq!(img[23], 0, "no-data value is transparent");
    }

    #[test]
    fn bands_without_colour_map_are_grey_or_rgb() {
        let plain = symbolizer("");
        let r = [10.0f32, 20.0];
        let g = [30.0f32, 40.0];
        let b = [50.0f32, 300.0];
        let img = style_raster(&plain, &[&r, &g, &b], 2, 1, None)
            .unwrap()
            .to_rgba8();
        assert_eq!(img, vec![10, 30, 50, 255, 20, 40, 255, 255]);
        let grey = style_raster(&plain, &[&r], 2, 1, None).unwrap().to_rgba8();
        assert_eq!(&grey[0..4], &[10, 10, 10, 255]);
        assert!(style_raster(&plain, &[&r[..1]], 2, 1, None).is_err());
    }
}
