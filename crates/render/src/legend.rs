//! Legends for GetLegendGraphic: one swatch per rule (each symbolizer drawn on a sample square,
//! line or point) with the rule's title beside it; a colour map gives one swatch per entry; a
//! single rule (`RULE=`) is its swatch alone, `WIDTH`×`HEIGHT` exactly.

use geo_types::{Geometry, LineString, Point, Polygon};
use tiny_skia::Pixmap;

use crate::labels::{draw_legend_text, text_width, Labeler};
use crate::{new_pixmap, Image, MapRequest, RenderError, RenderFeature, Renderer};

/// Options of a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendOptions {
    /// One rule only (by name, or title).
    pub rule: Option<String>,
    /// Swatch width in pixels.
    pub width: u32,
    /// Swatch height in pixels.
    pub height: u32,
    /// Only the rules that apply at this scale denominator.
    pub scale: Option<f64>,
    /// DPI of the symbols and labels.
    pub dpi: f64,
    /// Transparent background (else white).
    pub transparent: bool,
    /// Rule titles beside the swatches.
    pub with_labels: bool,
}

impl Default for LegendOptions {
    fn default() -> Self {
        LegendOptions {
            rule: None,
            width: 20,
            height: 20,
            scale: None,
            dpi: crate::STANDARD_DPI,
            transparent: false,
            with_labels: true,
        }
    }
}

/// A sample feature without attributes.
struct Sample(Geometry<f64>);

impl RenderFeature for Sample {
    fn geometry(&self) -> &Geometry<f64> {
        &self.0
    }
    fn attribute(&self, _: &str) -> Option<sld::Value> {
        None
    }
    fn id(&self) -> i64 {
        0
    }
}

enum Entry<'a> {
    Rule(&'a sld::Rule),
    Colour([u8; 4]),
}

pub fn legend(
    renderer: &Renderer,
    style: &sld::UserStyle,
    options: &LegendOptions,
) -> Result<Image, RenderError> {
    let rules: Vec<&sld::Rule> = style
        .feature_type_styles
        .iter()
        .flat_map(|f| &f.rules)
        .filter(|r| options.scale.is_none_or(|s| r.applies_at(s)))
        .collect();
    let (w, h) = (options.width.clamp(1, 512), options.height.clamp(1, 512));
    let background = if options.transparent {
        [255, 255, 255, 0]
    } else {
        [255, 255, 255, 255]
    };
    if let Some(name) = &options.rule {
        let rule = rules
            .iter()
            .find(|r| {
                r.name.as_deref() == Some(name.as_str())
                    || r.title.as_deref() == Some(name.as_str())
            })
            .ok_or_else(|| RenderError::UnknownRule {
                rule: name.clone(),
                known: rules
                    .iter()
                    .filter_map(|r| r.name.as_deref().or(r.title.as_deref()))
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut pixmap = new_pixmap(w, h)?;
        fill(&mut pixmap, background);
        swatch(
            renderer,
            &mut pixmap,
            &Entry::Rule(rule),
            0,
            w,
            h,
            options.dpi,
        );
        return Ok(Image::from_pixmap(pixmap));
    }
    let mut entries: Vec<(Entry<'_>, String)> = Vec::new();
    for rule in &rules {
        let color_map = rule.symbolizers.iter().find_map(|s| match s {
            sld::Symbolizer::Raster(r) => r.color_map.as_ref(),
            _ => None,
        });
        if let Some(map) = color_map {
            {
                for e in &map.entries {
                    if let Some(c) = sld::Color::parse(&e.color) {
                        let a = (f64::from(c.a) * e.opacity.unwrap_or(1.0).clamp(0.0, 1.0)).round()
                            as u8;
                        let label = e.label.clone().unwrap_or_else(|| format!("{}", e.quantity));
                        entries.push((Entry::Colour([c.r, c.g, c.b, a]), label));
                    }
                }
            }
        } else {
            let title = rule
                .title
                .clone()
                .or_else(|| rule.name.clone())
                .unwrap_or_default();
            entries.push((Entry::Rule(rule), title));
        }
    }
    let gap = 2u32;
    let font = (12.0 * options.dpi / crate::STANDARD_DPI) as f32;
    let labels_width = if options.with_labels {
        entries
            .iter()
            .map(|(_, t)| text_width(&renderer.fonts, t, font))
            .fold(0.0f32, f32::max)
    } else {
        0.0
    };
    let width = if labels_width > 0.0 {
        w + 6 + labels_width.ceil() as u32 + 4
    } else {
        w
    };
    let count = entries.len().max(1) as u32;
    let height = count * h + (count - 1) * gap;
    let mut pixmap = new_pixmap(width.min(4096), height.min(16_384))?;
    fill(&mut pixmap, background);
    for (k, (entry, label)) in entries.iter().enumerate() {
        let top = k as u32 * (h + gap);
        swatch(renderer, &mut pixmap, entry, top, w, h, options.dpi);
        if labels_width > 0.0 && !label.is_empty() {
            draw_legend_text(
                &mut pixmap,
                &renderer.fonts,
                label,
                ((w + 6) as f32, top as f32 + h as f32 / 2.0),
                font,
            );
        }
    }
    Ok(Image::from_pixmap(pixmap))
}

fn fill(pixmap: &mut Pixmap, c: [u8; 4]) {
    pixmap.fill(tiny_skia::Color::from_rgba8(c[0], c[1], c[2], c[3]));
}

/// Draws one swatch at (0, top).
fn swatch(
    renderer: &Renderer,
    target: &mut Pixmap,
    entry: &Entry<'_>,
    top: u32,
    w: u32,
    h: u32,
    dpi: f64,
) {
    let Some(mut cell) = Pixmap::new(w, h) else {
        return;
    };
    match entry {
        Entry::Colour(c) => {
            if let Some(rect) = tiny_skia::Rect::from_xywh(1.0, 1.0, w as f32 - 2.0, h as f32 - 2.0)
            {
                let mut paint = tiny_skia::Paint::default();
                paint.set_color_rgba8(c[0], c[1], c[2], c[3]);
                cell.fill_rect(rect, &paint, tiny_skia::Transform::identity(), None);
            }
        }
        Entry::Rule(rule) => {
            let (fw, fh) = (f64::from(w), f64::from(h));
            let Ok(extent) = crs::Bbox::new(0.0, 0.0, fw, fh) else {
                return;
            };
            let request = MapRequest {
                extent,
                crs: crs::Crs::web_mercator(),
                width: w,
                height: h,
                dpi,
                background: [0, 0, 0, 0],
                transparent: true,
                buffer: 0,
            };
            let context = crate::draw::Context::new(&request, &renderer.graphics);
            let mut labeler = Labeler::new(&request, &renderer.fonts);
            let inset = 1.0;
            for symbolizer in &rule.symbolizers {
                let geometry: Geometry<f64> = match symbolizer {
                    sld::Symbolizer::Polygon(_) => Geometry::Polygon(Polygon::new(
                        LineString::from(vec![
                            (inset, inset),
                            (fw - inset, inset),
                            (fw - inset, fh - inset),
                            (inset, fh - inset),
                            (inset, inset),
                        ]),
                        vec![],
                    )),
                    sld::Symbolizer::Line(_) => Geometry::LineString(LineString::from(vec![
                        (inset, fh / 2.0),
                        (fw - inset, fh / 2.0),
                    ])),
                    sld::Symbolizer::Point(_) => Geometry::Point(Point::new(fw / 2.0, fh / 2.0)),
                    _ => continue,
                };
                let single = sld::Rule {
                    symbolizers: vec![symbolizer.clone()],
                    filter: None,
                    else_filter: false,
                    min_scale: None,
                    max_scale: None,
                    ..(*rule).clone()
                };
                context.draw_rule(&mut cell, &single, &Sample(geometry), &mut labeler, 0);
                context.flush(&mut cell);
            }
            if rule
                .symbolizers
                .iter()
                .all(|s| matches!(s, sld::Symbolizer::Text(_)))
            {
                draw_legend_text(
                    &mut cell,
                    &renderer.fonts,
                    "Aa",
                    (1.0, h as f32 / 2.0),
                    (h as f32 * 0.6).max(6.0),
                );
            }
        }
    }
    target.draw_pixmap(
        0,
        top as i32,
        cell.as_ref(),
        &tiny_skia::PixmapPaint::default(),
        tiny_skia::Transform::identity(),
        None,
    );
}
