//! Paints, strokes and graphics: SLD fills, strokes, well-known marks and external images,
//! evaluated per feature.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tiny_skia::{
    Color, FillRule, LineCap, LineJoin, Paint, Path, PathBuilder, Pixmap, Stroke, StrokeDash,
    Transform,
};

/// Sizes in the style's unit → pixels.
#[derive(Debug, Clone, Copy)]
pub struct Units {
    /// Image pixels per style pixel (DPI / 90.714).
    pub symbol_scale: f64,
    /// Ground metres per image pixel.
    pub metres_per_pixel: f64,
    /// The symbolizer's unit.
    pub uom: sld::Uom,
}

impl Units {
    /// A length of the style, in image pixels (0 for nonsense values).
    pub fn px(&self, value: f64) -> f32 {
        let px = match self.uom {
            sld::Uom::Metre => value / self.metres_per_pixel,
            sld::Uom::Foot => value * 0.3048 / self.metres_per_pixel,
            _ => value * self.symbol_scale,
        };
        if px.is_finite() {
            px.clamp(-100_000.0, 100_000.0) as f32
        } else {
            0.0
        }
    }
}

/// A colour with an opacity applied.
pub fn color(c: sld::Color, opacity: f64) -> Color {
    let opacity = if opacity.is_finite() {
        opacity.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let alpha = (f64::from(c.a) * opacity).round().clamp(0.0, 255.0) as u8;
    Color::from_rgba8(c.r, c.g, c.b, alpha)
}

fn number(expr: Option<&sld::Expression>, attrs: &dyn sld::Attributes) -> Option<f64> {
    expr.and_then(|e| e.evaluate_number(attrs))
        .filter(|v| v.is_finite())
}

/// SE's default fill.
const GREY: sld::Color = sld::Color {
    r: 128,
    g: 128,
    b: 128,
    a: 255,
};
/// SE's default stroke.
const BLACK: sld::Color = sld::Color {
    r: 0,
    g: 0,
    b: 0,
    a: 255,
};

/// The colour of a fill (`#808080` when absent, as SE says).
pub fn fill_color(fill: &sld::Fill, attrs: &dyn sld::Attributes) -> Color {
    let (c, opacity) = colour_and_opacity(fill.color.as_ref(), fill.opacity.as_ref(), GREY, attrs);
    color(c, opacity)
}

/// A colour expression (`default` when absent or not a colour) and an opacity (1 when absent).
fn colour_and_opacity(
    color: Option<&sld::Expression>,
    opacity: Option<&sld::Expression>,
    default: sld::Color,
    attrs: &dyn sld::Attributes,
) -> (sld::Color, f64) {
    let c = color
        .and_then(|e| e.evaluate_color(attrs))
        .unwrap_or(default);
    (c, number(opacity, attrs).unwrap_or(1.0))
}

/// A stroke's paint colour and geometry; `None` when it draws nothing.
pub fn stroke(
    stroke: &sld::Stroke,
    attrs: &dyn sld::Attributes,
    units: &Units,
) -> Option<(Color, Stroke)> {
    let (c, opacity) =
        colour_and_opacity(stroke.color.as_ref(), stroke.opacity.as_ref(), BLACK, attrs);
    let width = units.px(number(stroke.width.as_ref(), attrs).unwrap_or(1.0));
    if width <= 0.0 || opacity <= 0.0 {
        return None;
    }
    let text = |e: Option<&sld::Expression>| {
        e.and_then(|e| e.evaluate(attrs).as_text())
            .map(|t| t.trim().to_ascii_lowercase())
    };
    let line_join = match text(stroke.line_join.as_ref()).as_deref() {
        Some("round") => LineJoin::Round,
        Some("bevel") => LineJoin::Bevel,
        _ => LineJoin::Miter,
    };
    let line_cap = match text(stroke.line_cap.as_ref()).as_deref() {
        Some("round") => LineCap::Round,
        Some("square") => LineCap::Square,
        _ => LineCap::Butt,
    };
    let dash = text(stroke.dash_array.as_ref()).and_then(|d| {
        let mut values: Vec<f32> = d
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse::<f64>().ok())
            .map(|v| units.px(v).max(0.0))
            .collect();
        if values.len() % 2 == 1 {
            let copy = values.clone();
            values.extend(copy);
        }
        let offset = units.px(number(stroke.dash_offset.as_ref(), attrs).unwrap_or(0.0));
        (values.iter().any(|v| *v > 0.0)).then_some(())?;
        StrokeDash::new(values, offset)
    });
    Some((
        color(c, opacity),
        Stroke {
            width,
            miter_limit: 4.0,
            line_cap,
            line_join,
            dash,
        },
    ))
}

/// A paint of one colour, anti-aliased.
pub fn paint(c: Color) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color(c);
    paint.anti_alias = true;
    paint
}

/// The path of a well-known mark, centred on (0, 0), `size` wide; and whether it is filled
/// (the `shape://` line marks are strokes only).
pub fn mark_path(name: &str, size: f32) -> Option<(Path, bool)> {
    if !(size.is_finite() && size > 0.0) {
        return None;
    }
    let h = size / 2.0;
    let mut pb = PathBuilder::new();
    let lower = name.trim().to_ascii_lowercase();
    let filled = match lower.as_str() {
        "circle" => {
            pb.push_circle(0.0, 0.0, h);
            true
        }
        "triangle" => {
            let r = h;
            pb.move_to(0.0, -r);
            pb.line_to(r * 0.866, r * 0.5);
            pb.line_to(-r * 0.866, r * 0.5);
            pb.close();
            true
        }
        "star" => {
            for k in 0..10 {
                let angle =
                    std::f32::consts::PI * (f32::from(k as u8) / 5.0) - std::f32::consts::FRAC_PI_2;
                let r = if k % 2 == 0 { h } else { h * 0.382 };
                let (x, y) = (r * angle.cos(), r * angle.sin());
                if k == 0 {
                    pb.move_to(x, y);
                } else {
                    pb.line_to(x, y);
                }
            }
            pb.close();
            true
        }
        "cross" => {
            push_cross(&mut pb, h, size / 8.0);
            true
        }
        "x" => {
            // A cross with arms as long as the square's diagonal allows, turned by 45°.
            let mut cross = PathBuilder::new();
            push_cross(&mut cross, h, size / 8.0 * std::f32::consts::SQRT_2);
            let path = cross.finish()?.transform(Transform::from_rotate(45.0))?;
            return Some((path, true));
        }
        "shape://vertline" => {
            pb.move_to(0.0, -h);
            pb.line_to(0.0, h);
            false
        }
        "shape://horline" => {
            pb.move_to(-h, 0.0);
            pb.line_to(h, 0.0);
            false
        }
        "shape://slash" => {
            pb.move_to(-h, h);
            pb.line_to(h, -h);
            false
        }
        "shape://backslash" => {
            pb.move_to(-h, -h);
            pb.line_to(h, h);
            false
        }
        "shape://dot" => {
            pb.push_circle(0.0, 0.0, (size / 8.0).max(0.5));
            true
        }
        "shape://plus" => {
            pb.move_to(0.0, -h);
            pb.line_to(0.0, h);
            pb.move_to(-h, 0.0);
            pb.line_to(h, 0.0);
            false
        }
        "shape://times" => {
            pb.move_to(-h, -h);
            pb.line_to(h, h);
            pb.move_to(-h, h);
            pb.line_to(h, -h);
            false
        }
        "shape://oarrow" => {
            pb.move_to(-h, -h);
            pb.line_to(h, 0.0);
            pb.line_to(-h, h);
            false
        }
        "shape://carrow" => {
            pb.move_to(-h, -h);
            pb.line_to(h, 0.0);
            pb.line_to(-h, h);
            pb.close();
            true
        }
        // `square` and anything unknown (SE's default mark).
        _ => {
            pb.push_rect(tiny_skia::Rect::from_xywh(-h, -h, size, size)?);
            true
        }
    };
    Some((pb.finish()?, filled))
}

/// A plus-shaped outline: arms of half-length `h` and half-thickness `t`.
fn push_cross(pb: &mut PathBuilder, h: f32, t: f32) {
    let outline = [
        (-t, -h),
        (t, -h),
        (t, -t),
        (h, -t),
        (h, t),
        (t, t),
        (t, h),
        (-t, h),
        (-t, t),
        (-h, t),
        (-h, -t),
        (-t, -t),
    ];
    pb.move_to(outline[0].0, outline[0].1);
    for (x, y) in &outline[1..] {
        pb.line_to(*x, *y);
    }
    pb.close();
}

/// A loaded external graphic: pixels, or an SVG drawn at the size asked (sharp at any size).
pub enum Loaded {
    /// PNG, JPEG…
    Raster(Pixmap),
    /// SVG.
    Svg(Box<resvg::usvg::Tree>),
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loaded::Raster(p) => write!(f, "Raster({}×{})", p.width(), p.height()),
            Loaded::Svg(t) => write!(f, "Svg({}×{})", t.size().width(), t.size().height()),
        }
    }
}

impl Loaded {
    fn size(&self) -> (f32, f32) {
        match self {
            Loaded::Raster(p) => (p.width() as f32, p.height() as f32),
            Loaded::Svg(t) => (t.size().width(), t.size().height()),
        }
    }
}

/// External graphics loaded from local files or inline content, kept once loaded.
#[derive(Debug)]
pub struct Graphics {
    dir: Option<PathBuf>,
    cache: Mutex<HashMap<String, Option<Arc<Loaded>>>>,
}

/// Most external graphics kept in memory.
const MAX_GRAPHICS: usize = 256;

impl Graphics {
    /// Graphics resolved against `dir`.
    pub fn new(dir: Option<PathBuf>) -> Graphics {
        Graphics {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The graphic of an `ExternalGraphic` source: a local PNG, JPEG or SVG file (relative to
    /// the graphics folder, absolute, or `file://`), or SE inline content (base64 of such a
    /// file, or SVG markup); `None` when it cannot be read. URLs of other schemes are never
    /// fetched.
    pub fn image(&self, source: &sld::GraphicSource) -> Option<Arc<Loaded>> {
        let key = match source {
            sld::GraphicSource::Href(href) => href.clone(),
            sld::GraphicSource::Inline { encoding, content } => {
                format!("inline:{encoding}:{content}")
            }
            _ => return None,
        };
        {
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(hit) = cache.get(&key) {
                return hit.clone();
            }
        }
        let bytes = match source {
            sld::GraphicSource::Href(href) => self.read(href),
            sld::GraphicSource::Inline { encoding, content } => {
                if encoding.eq_ignore_ascii_case("base64") {
                    use base64::Engine as _;
                    let compact: String = content.split_whitespace().collect();
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .ok()
                } else {
                    Some(content.as_bytes().to_vec())
                }
            }
            _ => None,
        };
        let loaded = bytes.and_then(|b| decode(&b)).map(Arc::new);
        let href = key;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_GRAPHICS {
            cache.clear();
        }
        cache.insert(href, loaded.clone());
        loaded
    }

    fn read(&self, href: &str) -> Option<Vec<u8>> {
        let path = if let Some(rest) = href.strip_prefix("file://") {
            PathBuf::from(rest)
        } else if href.contains("://") {
            return None;
        } else {
            let p = PathBuf::from(href);
            if p.is_absolute() {
                p
            } else {
                self.dir.as_ref()?.join(p)
            }
        };
        let metadata = std::fs::metadata(&path).ok()?;
        // A symbol, not a map: anything larger is a mistake.
        if metadata.len() > 16 << 20 {
            return None;
        }
        std::fs::read(&path).ok()
    }
}

/// PNG, JPEG… pixels, or an SVG tree (sniffed from the bytes).
fn decode(bytes: &[u8]) -> Option<Loaded> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    if head.contains("<svg") || head.trim_start().starts_with("<?xml") {
        let tree = resvg::usvg::Tree::from_data(bytes, &resvg::usvg::Options::default()).ok()?;
        return Some(Loaded::Svg(Box::new(tree)));
    }
    let decoded = image::load_from_memory(bytes).ok()?.into_rgba8();
    let (w, h) = decoded.dimensions();
    let mut data = decoded.into_raw();
    for p in data.chunks_exact_mut(4) {
        let a = u16::from(p[3]);
        for c in &mut p[..3] {
            *c = ((u16::from(*c) * a + 127) / 255) as u8;
        }
    }
    Pixmap::from_vec(data, tiny_skia::IntSize::from_wh(w, h)?).map(Loaded::Raster)
}

/// A graphic drawn once into its own pixmap, with the point of it that sits on the anchor.
#[derive(Debug)]
pub struct Stamp {
    /// The pixels.
    pub pixmap: Pixmap,
    /// Where, in the pixmap, the graphic's anchor point is.
    pub anchor: (f32, f32),
}

/// Renders a `Graphic` for one feature: size, rotation (degrees clockwise), anchor point,
/// displacement (x right, y up) and opacity. `default_anchor` is (0.5, 0.5) for points.
pub fn stamp(
    graphic: &sld::Graphic,
    attrs: &dyn sld::Attributes,
    units: &Units,
    graphics: &Graphics,
    extra_rotation: f32,
) -> Option<(Stamp, (f32, f32))> {
    let size = number(graphic.size.as_ref(), attrs).map(|s| units.px(s));
    let rotation = number(graphic.rotation.as_ref(), attrs).unwrap_or(0.0) as f32 + extra_rotation;
    let opacity = number(graphic.opacity.as_ref(), attrs)
        .unwrap_or(1.0)
        .clamp(0.0, 1.0) as f32;
    let anchor = graphic.anchor_point.as_ref().map_or((0.5, 0.5), |p| {
        (
            p.x.evaluate_number(attrs).unwrap_or(0.5) as f32,
            p.y.evaluate_number(attrs).unwrap_or(0.5) as f32,
        )
    });
    let displacement = graphic.displacement.as_ref().map_or((0.0, 0.0), |p| {
        (
            units.px(p.x.evaluate_number(attrs).unwrap_or(0.0)),
            units.px(p.y.evaluate_number(attrs).unwrap_or(0.0)),
        )
    });
    let stamp_mark = |mark: &sld::Mark| {
        mark_stamp(
            mark,
            attrs,
            units,
            size.unwrap_or_else(|| units.px(6.0)),
            rotation,
            opacity,
            anchor,
        )
    };
    // The first symbol that can be drawn wins (SE).
    for symbol in &graphic.symbols {
        let drawn = match symbol {
            sld::GraphicSymbol::External(external) => {
                external_stamp(external, size, rotation, opacity, anchor, graphics)
            }
            sld::GraphicSymbol::Mark(mark) => stamp_mark(mark),
            _ => None,
        };
        if let Some(stamp) = drawn {
            return Some((stamp, displacement));
        }
    }
    if graphic.symbols.is_empty() {
        // SE's default: a 6-pixel grey square with a black outline.
        let mark = sld::Mark {
            well_known_name: None,
            fill: None,
            stroke: Some(sld::Stroke::default()),
            pos: sld::Pos::default(),
        };
        let stamp = stamp_mark(&mark)?;
        return Some((stamp, displacement));
    }
    None
}

/// The anchor's position in a rotated box of `w`×`h`, and the pixmap size that holds it.
fn frame_for(w: f32, h: f32, rotation: f32, margin: f32) -> (u32, u32, Transform) {
    let diagonal = w.hypot(h) + 2.0 * margin;
    let side = diagonal.ceil().clamp(1.0, 4096.0) as u32;
    let centre = side as f32 / 2.0;
    let transform = Transform::from_translate(centre, centre).pre_rotate(rotation);
    (side, side, transform)
}

fn mark_stamp(
    mark: &sld::Mark,
    attrs: &dyn sld::Attributes,
    units: &Units,
    size: f32,
    rotation: f32,
    opacity: f32,
    anchor: (f32, f32),
) -> Option<Stamp> {
    if !(size.is_finite() && size > 0.0) {
        return None;
    }
    let name = mark
        .well_known_name
        .as_ref()
        .map_or("square", |t| t.value.as_str());
    let (path, filled) = mark_path(name, size)?;
    let stroke = match &mark.stroke {
        Some(s) => stroke(s, attrs, units),
        None if !filled => Some((Color::BLACK, Stroke::default())),
        None => None,
    };
    let margin = stroke.as_ref().map_or(1.0, |(_, s)| s.width) + 1.0;
    let (w, h, transform) = frame_for(size, size, rotation, margin);
    let mut pixmap = Pixmap::new(w, h)?;
    if filled {
        let fill = match &mark.fill {
            Some(fill) => Some(fill_color(fill, attrs)),
            // A mark without Fill is grey (SE), unless it has a stroke only by intent: keep SE.
            None => Some(Color::from_rgba8(128, 128, 128, 255)),
        };
        if let Some(c) = fill {
            pixmap.fill_path(&path, &paint(c), FillRule::Winding, transform, None);
        }
    }
    if let Some((c, s)) = &stroke {
        pixmap.stroke_path(&path, &paint(*c), s, transform, None);
    }
    apply_opacity(&mut pixmap, opacity);
    Some(Stamp {
        pixmap,
        anchor: anchor_in(transform, anchor, size, size),
    })
}

fn external_stamp(
    external: &sld::ExternalGraphic,
    size: Option<f32>,
    rotation: f32,
    opacity: f32,
    anchor: (f32, f32),
    graphics: &Graphics,
) -> Option<Stamp> {
    let image = graphics.image(&external.source)?;
    let (iw, ih) = image.size();
    if !(iw > 0.0 && ih > 0.0) {
        return None;
    }
    // Size is the height; the width keeps the aspect ratio.
    let scale = size.map_or(1.0, |s| s / ih);
    if !(scale.is_finite() && scale > 0.0) {
        return None;
    }
    let (w, h) = (iw * scale, ih * scale);
    let (pw, ph, transform) = frame_for(w, h, rotation, 1.0);
    let mut pixmap = Pixmap::new(pw, ph)?;
    let placed = transform
        .pre_translate(-w / 2.0, -h / 2.0)
        .pre_scale(scale, scale);
    match image.as_ref() {
        Loaded::Raster(raster) => pixmap.draw_pixmap(
            0,
            0,
            raster.as_ref(),
            &tiny_skia::PixmapPaint {
                opacity,
                quality: tiny_skia::FilterQuality::Bicubic,
                ..tiny_skia::PixmapPaint::default()
            },
            placed,
            None,
        ),
        Loaded::Svg(tree) => {
            resvg::render(tree, placed, &mut pixmap.as_mut());
            apply_opacity(&mut pixmap, opacity);
        }
    }
    Some(Stamp {
        pixmap,
        anchor: anchor_in(transform, anchor, w, h),
    })
}

/// Where an anchor point (0..1 of a `w`×`h` box centred on the frame, y up) lands in the
/// stamp's pixmap once the box is rotated by `transform`.
fn anchor_in(transform: Transform, anchor: (f32, f32), w: f32, h: f32) -> (f32, f32) {
    let mut p = [tiny_skia::Point::from_xy(
        (anchor.0 - 0.5) * w,
        (0.5 - anchor.1) * h,
    )];
    transform.map_points(&mut p);
    (p[0].x, p[0].y)
}

fn apply_opacity(pixmap: &mut Pixmap, opacity: f32) {
    if opacity >= 1.0 {
        return;
    }
    let o = (opacity.clamp(0.0, 1.0) * 255.0).round() as u16;
    for byte in pixmap.data_mut() {
        *byte = ((u16::from(*byte) * o + 127) / 255) as u8;
    }
}

/// Draws a stamp so that its anchor lands on pixel (x, y), moved by `displacement` (y up).
pub fn place(target: &mut Pixmap, stamp: &Stamp, (x, y): (f32, f32), displacement: (f32, f32)) {
    let left = x + displacement.0 - stamp.anchor.0;
    let top = y - displacement.1 - stamp.anchor.1;
    if !(left.is_finite() && top.is_finite()) {
        return;
    }
    target.draw_pixmap(
        0,
        0,
        stamp.pixmap.as_ref(),
        &tiny_skia::PixmapPaint::default(),
        Transform::from_translate(left, top),
        None,
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_well_known_mark_has_a_path() {
        for name in sld::WELL_KNOWN_NAMES.iter().chain(&["unknown"]) {
            let (path, _) = mark_path(name, 10.0).unwrap();
            let b = path.bounds();
            assert!(b.width() <= 10.01 && b.height() <= 10.01, "{name}: {b:?}");
        }
        assert!(mark_path("square", 0.0).is_none());
    }

    #[test]
    fn uom_converts_lengths() {
        let pixel = Units {
            symbol_scale: 2.0,
            metres_per_pixel: 5.0,
            uom: sld::Uom::Pixel,
        };
        assert!((pixel.px(3.0) - 6.0).abs() < 1e-6);
        let metre = Units {
            uom: sld::Uom::Metre,
            ..pixel
        };
        assert!((metre.px(50.0) - 10.0).abs() < 1e-6);
        assert!(metre.px(f64::NAN).abs() < f32::EPSILON);
    }
}
