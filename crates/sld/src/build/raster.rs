//! What a rule draws for coverages: `RasterSymbolizer`, with its band selection, contrast
//! enhancement and colour map (SLD 1.0.0 `ColorMapEntry`s, or SE's `Categorize` and
//! `Interpolate`, turned into entries).

use super::{shorten, text_of, Builder};
use crate::model::{
    ChannelSelection, ColorMap, ColorMapEntry, ColorMapKind, Common, ContrastEnhancement,
    ContrastMethod, RasterSymbolizer, SelectedChannel,
};
use crate::xml::Element;
use crate::Pos;

/// A colour map entry written as SE values (no opacity, no label).
fn entry(color: String, quantity: f64, pos: Pos) -> ColorMapEntry {
    ColorMapEntry {
        color,
        opacity: None,
        quantity,
        label: None,
        pos,
    }
}

impl Builder {
    pub(super) fn raster_symbolizer(
        &mut self,
        element: &Element,
        common: Common,
    ) -> RasterSymbolizer {
        let mut raster = RasterSymbolizer {
            common,
            opacity: None,
            channel_selection: None,
            color_map: None,
            contrast_enhancement: None,
        };
        let own = [
            "Opacity",
            "ChannelSelection",
            "OverlapBehavior",
            "ColorMap",
            "ContrastEnhancement",
            "ShadedRelief",
            "ImageOutline",
        ];
        self.symbolizer_children(element, &mut raster.common, &own, |builder, child| {
            match child.name.as_str() {
                "Opacity" => raster.opacity = builder.content(child),
                "ChannelSelection" => raster.channel_selection = builder.channel_selection(child),
                "ColorMap" => raster.color_map = Some(builder.color_map(child)),
                "ContrastEnhancement" => {
                    raster.contrast_enhancement = Some(builder.contrast(child));
                }
                "OverlapBehavior" => {}
                "ShadedRelief" | "ImageOutline" => builder.warning(
                    child.pos,
                    format!("<{}> is not supported and is ignored", child.display_name()),
                    Some("remove it".to_owned()),
                ),
                _ => return false,
            }
            true
        });
        raster
    }

    fn contrast(&mut self, element: &Element) -> ContrastEnhancement {
        let mut contrast = ContrastEnhancement {
            method: None,
            gamma: None,
            pos: element.pos,
        };
        let expected = ["Normalize", "Histogram", "GammaValue"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "Normalize" => contrast.method = Some(ContrastMethod::Normalize),
                "Histogram" => contrast.method = Some(ContrastMethod::Histogram),
                "GammaValue" => contrast.gamma = builder.number(child, "GammaValue"),
                _ => return false,
            }
            true
        });
        contrast
    }

    /// A number (`what` names it in the message).
    fn number(&mut self, element: &Element, what: &str) -> Option<f64> {
        let text = element.text();
        let parsed = text.trim().parse::<f64>().ok().filter(|n| !n.is_nan());
        if parsed.is_none() {
            self.error(
                element.pos,
                format!("{what} must be a number, got '{}'", shorten(text.trim())),
                Some("write a plain decimal number such as 1.5".to_owned()),
            );
        }
        parsed
    }

    fn channel_selection(&mut self, element: &Element) -> Option<ChannelSelection> {
        let (mut red, mut green, mut blue, mut gray) = (None, None, None, None);
        let expected = ["RedChannel", "GreenChannel", "BlueChannel", "GrayChannel"];
        self.style_children(element, &expected, |builder, child| {
            let slot = match child.name.as_str() {
                "RedChannel" => &mut red,
                "GreenChannel" => &mut green,
                "BlueChannel" => &mut blue,
                "GrayChannel" => &mut gray,
                _ => return false,
            };
            *slot = Some(builder.selected_channel(child));
            true
        });
        match (red, green, blue, gray) {
            (Some(red), Some(green), Some(blue), None) => {
                Some(ChannelSelection::Rgb { red, green, blue })
            }
            (None, None, None, Some(gray)) => Some(ChannelSelection::Gray(gray)),
            _ => {
                self.error(
                    element.pos,
                    "<ChannelSelection> needs either a <GrayChannel> or all three of \
                     <RedChannel>, <GreenChannel> and <BlueChannel>",
                    Some("write <GrayChannel><SourceChannelName>1</SourceChannelName></GrayChannel> for one band, or the three colour channels".to_owned()),
                );
                None
            }
        }
    }

    /// `RedChannel`, `GreenChannel`, `BlueChannel` or `GrayChannel`.
    fn selected_channel(&mut self, element: &Element) -> SelectedChannel {
        let mut channel = SelectedChannel {
            name: String::new(),
            contrast_enhancement: None,
            pos: element.pos,
        };
        let expected = ["SourceChannelName", "ContrastEnhancement"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "SourceChannelName" => channel.name = text_of(child).unwrap_or_default(),
                "ContrastEnhancement" => {
                    channel.contrast_enhancement = Some(builder.contrast(child));
                }
                _ => return false,
            }
            true
        });
        if channel.name.is_empty() {
            self.error(
                element.pos,
                format!("<{}> has no <SourceChannelName>", element.display_name()),
                Some("name the band, e.g. <SourceChannelName>1</SourceChannelName>".to_owned()),
            );
        }
        channel
    }

    fn color_map(&mut self, element: &Element) -> ColorMap {
        let kind = match element.attr("type").map(str::trim) {
            None | Some("ramp") => ColorMapKind::Ramp,
            Some("intervals") => ColorMapKind::Intervals,
            Some("values") => ColorMapKind::Values,
            Some(other) => {
                self.error(
                    element.pos,
                    format!("unknown ColorMap type '{other}'"),
                    Some("use type=\"ramp\", \"intervals\" or \"values\"".to_owned()),
                );
                ColorMapKind::Ramp
            }
        };
        let mut map = ColorMap {
            kind,
            entries: Vec::new(),
            extended: element.attr("extended").is_some_and(|t| t.trim() == "true"),
            pos: element.pos,
        };
        let expected = ["ColorMapEntry", "Categorize", "Interpolate"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "ColorMapEntry" => map.entries.extend(builder.color_map_entry(child)),
                "Categorize" => {
                    map.kind = ColorMapKind::Intervals;
                    builder.se_color_map(child, &mut map, true);
                }
                "Interpolate" => {
                    map.kind = ColorMapKind::Ramp;
                    builder.se_color_map(child, &mut map, false);
                }
                _ => return false,
            }
            true
        });
        map
    }

    fn color_map_entry(&mut self, element: &Element) -> Option<ColorMapEntry> {
        let Some(color) = element.attr("color") else {
            self.error(
                element.pos,
                "<ColorMapEntry> has no color attribute",
                Some("write <ColorMapEntry color=\"#RRGGBB\" quantity=\"…\"/>".to_owned()),
            );
            return None;
        };
        let quantity = match element.attr("quantity").map(str::trim) {
            None => {
                self.error(
                    element.pos,
                    "<ColorMapEntry> has no quantity attribute",
                    Some("add quantity=\"…\" (the pixel value this colour applies to)".to_owned()),
                );
                return None;
            }
            Some(text) => match text.parse::<f64>() {
                Ok(n) if !n.is_nan() => n,
                _ => {
                    self.error(
                        element.pos,
                        format!("ColorMapEntry quantity must be a number, got '{text}'"),
                        Some("write a plain number such as quantity=\"100.5\"".to_owned()),
                    );
                    return None;
                }
            },
        };
        let opacity = match element.attr("opacity").map(str::trim) {
            None => None,
            Some(text) => match text.parse::<f64>() {
                Ok(n) if (0.0..=1.0).contains(&n) => Some(n),
                _ => {
                    self.error(
                        element.pos,
                        format!("ColorMapEntry opacity must be a number from 0 to 1, got '{text}'"),
                        Some(
                            "write opacity=\"0\" (transparent) to opacity=\"1\" (opaque)"
                                .to_owned(),
                        ),
                    );
                    None
                }
            },
        };
        Some(ColorMapEntry {
            color: color.trim().to_owned(),
            opacity,
            quantity,
            label: element.attr("label").map(str::to_owned),
            pos: element.pos,
        })
    }

    /// SE `Categorize` (Value, Threshold, Value…) or `Interpolate` (InterpolationPoint: Data,
    /// Value) inside a `ColorMap`, turned into entries.
    fn se_color_map(&mut self, element: &Element, map: &mut ColorMap, categorize: bool) {
        let mut pending_color: Option<(String, Pos)> = None;
        let mut threshold: Option<f64> = None;
        let expected: &[&str] = if categorize {
            &["LookupValue", "Value", "Threshold"]
        } else {
            &["LookupValue", "InterpolationPoint"]
        };
        self.style_children(element, expected, |builder, child| {
            match child.name.as_str() {
                "LookupValue" => {}
                "Value" if categorize => {
                    let color = text_of(child).unwrap_or_default();
                    if let Some((previous, pos)) = pending_color.take() {
                        // The previous value colours everything below this threshold.
                        let below = threshold.unwrap_or(f64::NEG_INFINITY);
                        map.entries.push(entry(previous, below, pos));
                    }
                    pending_color = Some((color, child.pos));
                }
                "Threshold" if categorize => {
                    threshold = builder.number(child, "Threshold");
                    if let (Some((color, pos)), Some(t)) = (pending_color.take(), threshold) {
                        map.entries.push(entry(color, t, pos));
                    }
                }
                "InterpolationPoint" if !categorize => {
                    map.entries.extend(builder.interpolation_point(child));
                }
                _ => return false,
            }
            true
        });
        if let Some((color, pos)) = pending_color {
            map.entries.push(entry(color, f64::INFINITY, pos));
        }
    }

    /// An SE `InterpolationPoint` (`Data`, `Value`) of a colour map; `None` when either is
    /// missing.
    fn interpolation_point(&mut self, element: &Element) -> Option<ColorMapEntry> {
        let (mut data, mut value) = (None, None);
        self.style_children(element, &["Data", "Value"], |builder, child| {
            match child.name.as_str() {
                "Data" => data = builder.number(child, "Data"),
                "Value" => value = text_of(child),
                _ => return false,
            }
            true
        });
        Some(entry(value?, data?, element.pos))
    }
}
