//! Labels: TextSymbolizer candidates gathered while features are drawn, then placed last, over
//! everything, highest `Priority` first (ties in rule and feature order), never overlapping.
//!
//! Point labels sit at points, polygon interiors or line middles, with anchor point,
//! displacement and rotation; with `maxDisplacement`, a label that collides tries positions
//! around its anchor. Line labels (LinePlacement) follow the line's direction, kept upright; with
//! `followLine` each glyph follows the curve. `spaceAround` widens the collision boxes; `group`
//! labels one text once. A halo is the glyphs' outline stroked at twice its radius, under the fill.

use std::collections::HashSet;

use geo_types::Geometry;
use tiny_skia::{Color, FillRule, LineJoin, Path, PathBuilder, Pixmap, Stroke, Transform};

use crate::clip::Px;
use crate::draw::{anchor_points, lines_px, Context};
use crate::fonts::{glyph_outline, shape, FontFace, Fonts, Shaped, Sprite, SpriteKey};
use crate::symbol;
use crate::MapRequest;

#[derive(Debug, Clone)]
enum Where {
    Point {
        /// Positions to try, in order (the first that fits is used).
        at: Vec<Px>,
        anchor: (f32, f32),
        displacement: (f32, f32),
        rotation: f32,
    },
    Line {
        lines: Vec<Vec<Px>>,
        follow: bool,
        offset: f32,
    },
}

#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // independent SLD switches
struct Candidate {
    priority: f64,
    order: usize,
    text: String,
    families: Vec<String>,
    bold: bool,
    italic: bool,
    size: f32,
    fill: Color,
    halo: Option<(f32, Color)>,
    place: Where,
    space_around: f32,
    group: bool,
    max_displacement: f32,
    conflicts: bool,
}

/// An axis-aligned box in pixels: [x0, y0, x1, y1].
type Box2 = [f32; 4];

fn overlaps(a: &Box2, b: &Box2) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Collects label candidates, then places and draws them.
pub struct Labeler<'a> {
    fonts: &'a Fonts,
    candidates: Vec<Candidate>,
    area: Box2,
}

impl<'a> Labeler<'a> {
    pub fn new(request: &MapRequest, fonts: &'a Fonts) -> Labeler<'a> {
        let b = request.buffer as f32;
        Labeler {
            fonts,
            candidates: Vec::new(),
            area: [-b, -b, request.width as f32 + b, request.height as f32 + b],
        }
    }

    /// A label candidate for a feature.
    pub fn add(
        &mut self,
        context: &Context<'_>,
        s: &sld::TextSymbolizer,
        geometry: &Geometry<f64>,
        attrs: &dyn sld::Attributes,
        _layer_index: usize,
    ) {
        let Some(label) = &s.label else { return };
        let text = label.evaluate(attrs).as_text().unwrap_or_default();
        let text = text.trim();
        if text.is_empty() || self.candidates.len() >= 100_000 {
            return;
        }
        // One line: labels are short; newlines become spaces.
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(256)
            .collect();
        let units = context.units(s.common.uom);
        let font = s.font.clone().unwrap_or_default();
        let families: Vec<String> = font
            .family
            .iter()
            .filter_map(|e| e.evaluate(attrs).as_text())
            .collect();
        let word = |e: Option<&sld::Expression>| {
            e.and_then(|e| e.evaluate(attrs).as_text())
                .map(|t| t.trim().to_ascii_lowercase())
                .unwrap_or_default()
        };
        let bold = matches!(
            word(font.weight.as_ref()).as_str(),
            "bold" | "bolder" | "700" | "800" | "900"
        );
        let italic = matches!(word(font.style.as_ref()).as_str(), "italic" | "oblique");
        let size = units.px(font
            .size
            .as_ref()
            .and_then(|e| e.evaluate_number(attrs))
            .unwrap_or(10.0));
        if !(size > 0.5 && size < 500.0) {
            return;
        }
        let fill = s
            .fill
            .as_ref()
            .map_or(Color::BLACK, |f| symbol::fill_color(f, attrs));
        let fill = if s.fill.as_ref().is_some_and(|f| f.color.is_none()) {
            // A Fill without colour in a TextSymbolizer means black, not SE's grey.
            Color::from_rgba(0.0, 0.0, 0.0, fill.alpha()).unwrap_or(Color::BLACK)
        } else {
            fill
        };
        let halo = s.halo.as_ref().map(|h| {
            let radius = units.px(h
                .radius
                .as_ref()
                .and_then(|e| e.evaluate_number(attrs))
                .unwrap_or(1.0));
            let c = h
                .fill
                .as_ref()
                .filter(|f| f.color.is_some())
                .map_or(Color::WHITE, |f| symbol::fill_color(f, attrs));
            (radius.max(0.0), c)
        });
        let vendor = |name: &str| {
            s.common
                .vendor_options
                .iter()
                .find(|o| o.name.eq_ignore_ascii_case(name))
                .map(|o| o.value.trim().to_ascii_lowercase())
        };
        let truthy =
            |name: &str| vendor(name).is_some_and(|v| v == "true" || v == "yes" || v == "1");
        let vendor_px = |name: &str| {
            vendor(name)
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0.0, |v| units.px(v))
        };
        let priority = s
            .priority
            .as_ref()
            .and_then(|e| e.evaluate_number(attrs))
            .unwrap_or(1000.0);
        let frame = context.frame();
        let is_line = matches!(
            geometry,
            Geometry::LineString(_) | Geometry::MultiLineString(_) | Geometry::Line(_)
        );
        let mut places = Vec::new();
        match &s.placement {
            Some(sld::LabelPlacement::Line {
                perpendicular_offset,
                ..
            }) => {
                let offset = perpendicular_offset
                    .as_ref()
                    .and_then(|e| e.evaluate_number(attrs))
                    .map_or(0.0, |v| units.px(v));
                if is_line {
                    places.extend(line_place(frame, geometry, truthy("followLine"), offset));
                } else {
                    // LinePlacement on polygons: label the interior, as GeoServer does.
                    places.extend(point_places(frame, geometry, (0.5, 0.5), (0.0, 0.0), 0.0));
                }
            }
            Some(sld::LabelPlacement::Point {
                anchor_point,
                displacement,
                rotation,
                ..
            }) => {
                let anchor = anchor_point.as_ref().map_or((0.0, 0.5), |p| {
                    (
                        p.x.evaluate_number(attrs).unwrap_or(0.0) as f32,
                        p.y.evaluate_number(attrs).unwrap_or(0.5) as f32,
                    )
                });
                let displacement = displacement.as_ref().map_or((0.0, 0.0), |p| {
                    (
                        units.px(p.x.evaluate_number(attrs).unwrap_or(0.0)),
                        units.px(p.y.evaluate_number(attrs).unwrap_or(0.0)),
                    )
                });
                let rotation = rotation
                    .as_ref()
                    .and_then(|e| e.evaluate_number(attrs))
                    .unwrap_or(0.0) as f32;
                places.extend(point_places(
                    frame,
                    geometry,
                    anchor,
                    displacement,
                    rotation,
                ));
            }
            _ => {
                if is_line {
                    places.extend(line_place(frame, geometry, truthy("followLine"), 0.0));
                } else {
                    // SE default anchor for points: (0, 0.5); polygons are centred, as GeoServer.
                    let anchor = if matches!(geometry, Geometry::Point(_) | Geometry::MultiPoint(_))
                    {
                        (0.0, 0.5)
                    } else {
                        (0.5, 0.5)
                    };
                    places.extend(point_places(frame, geometry, anchor, (0.0, 0.0), 0.0));
                }
            }
        }
        let conflicts = vendor("conflictResolution").is_none_or(|v| v != "false");
        for place in places {
            let order = self.candidates.len();
            self.candidates.push(Candidate {
                priority,
                order,
                text: text.clone(),
                families: families.clone(),
                bold,
                italic,
                size,
                fill,
                halo,
                place,
                space_around: vendor_px("spaceAround"),
                group: truthy("group"),
                max_displacement: vendor_px("maxDisplacement"),
                conflicts,
            });
        }
    }

    /// Places and draws every label that fits.
    pub fn draw(mut self, pixmap: &mut Pixmap) {
        self.candidates.sort_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then(a.order.cmp(&b.order))
        });
        let mut placed: Vec<Box2> = Vec::new();
        let mut grouped: HashSet<String> = HashSet::new();
        for c in &self.candidates {
            if c.group && grouped.contains(&c.text) {
                continue;
            }
            let Some(face) = self.fonts.select(&c.families, c.bold, c.italic) else {
                continue;
            };
            let shaped = shape(face, &c.text, c.size);
            if shaped.glyphs.is_empty() || shaped.width <= 0.0 {
                continue;
            }
            let halo = c.halo.map_or(0.0, |(r, _)| r);
            let layouts = match &c.place {
                Where::Point {
                    at,
                    anchor,
                    displacement,
                    rotation,
                } => point_layouts(
                    &shaped,
                    at,
                    *anchor,
                    *displacement,
                    *rotation,
                    c.max_displacement,
                    halo,
                ),
                Where::Line {
                    lines,
                    follow,
                    offset,
                } => line_layouts(&shaped, lines, *follow, *offset, halo),
            };
            let fits = |boxes: &[Box2]| {
                boxes.iter().all(|b| {
                    b[0] >= self.area[0]
                        && b[1] >= self.area[1]
                        && b[2] <= self.area[2]
                        && b[3] <= self.area[3]
                }) && (!c.conflicts
                    || boxes.iter().all(|b| {
                        let grown = [
                            b[0] - c.space_around,
                            b[1] - c.space_around,
                            b[2] + c.space_around,
                            b[3] + c.space_around,
                        ];
                        placed.iter().all(|p| !overlaps(&grown, p))
                    }))
            };
            let Some(layout) = layouts.into_iter().find(|l| fits(&l.boxes)) else {
                continue;
            };
            if layout.glyphs.iter().all(|(_, _, angle)| *angle == 0.0) {
                // Upright text: glyphs drawn once, then copied (halos first, then fills).
                self.draw_sprites(pixmap, face, &shaped, &layout, c);
            } else {
                let mut pb = PathBuilder::new();
                for (glyph, origin, angle) in &layout.glyphs {
                    glyph_outline(face, *glyph, shaped.scale, *origin, *angle, &mut pb);
                }
                if let Some(path) = pb.finish() {
                    draw_text(pixmap, &path, c.fill, c.halo);
                }
            }
            if c.conflicts {
                placed.extend(layout.boxes.iter().copied());
            }
            if c.group {
                grouped.insert(c.text.clone());
            }
        }
    }
}

impl Labeler<'_> {
    fn draw_sprites(
        &self,
        pixmap: &mut Pixmap,
        face: &FontFace,
        shaped: &Shaped,
        layout: &Layout,
        c: &Candidate,
    ) {
        let paint = tiny_skia::PixmapPaint::default();
        let mut passes: Vec<(Color, Option<f32>)> = Vec::with_capacity(2);
        if let Some((radius, color)) = c.halo.filter(|(r, _)| *r > 0.0) {
            passes.push((color, Some(radius)));
        }
        passes.push((c.fill, None));
        for (color, halo) in passes {
            for (glyph, origin, _) in &layout.glyphs {
                // Subpixel x in quarters (spacing stays even), whole pixels in y (one baseline).
                let (x, y) = (origin.0.floor(), origin.1.round());
                let quarter = ((origin.0 - x) * 4.0).round().min(3.0) as u8;
                let key = SpriteKey {
                    face: std::ptr::from_ref(face) as usize,
                    glyph: *glyph,
                    size: shaped.scale.to_bits(),
                    quarter,
                    color: color_key(color),
                    halo: halo.map(f32::to_bits),
                };
                if let Some(sprite) = self.fonts.sprite(key, || {
                    make_sprite(
                        face,
                        *glyph,
                        shaped.scale,
                        f32::from(quarter) / 4.0,
                        color,
                        halo,
                    )
                }) {
                    pixmap.draw_pixmap(
                        x as i32 + sprite.left,
                        y as i32 + sprite.top,
                        sprite.pixmap.as_ref(),
                        &paint,
                        Transform::identity(),
                        None,
                    );
                }
            }
        }
    }
}

fn color_key(c: Color) -> u32 {
    let c = c.to_color_u8();
    u32::from_be_bytes([c.red(), c.green(), c.blue(), c.alpha()])
}

/// One glyph (or its halo) drawn into its own small pixmap.
fn make_sprite(
    face: &FontFace,
    glyph: u16,
    scale: f32,
    dx: f32,
    color: Color,
    halo: Option<f32>,
) -> Option<Sprite> {
    let mut pb = PathBuilder::new();
    glyph_outline(face, glyph, scale, (dx, 0.0), 0.0, &mut pb);
    let path = pb.finish()?;
    let b = path.bounds();
    let pad = halo.unwrap_or(0.0) + 2.0;
    let (left, top) = ((b.left() - pad).floor(), (b.top() - pad).floor());
    let (w, h) = (
        (b.right() + pad - left).ceil().max(1.0) as u32,
        (b.bottom() + pad - top).ceil().max(1.0) as u32,
    );
    let mut sprite = Pixmap::new(w.min(1024), h.min(1024))?;
    let at = Transform::from_translate(-left, -top);
    let paint = symbol::paint(color);
    if let Some(radius) = halo {
        let stroke = Stroke {
            width: radius * 2.0,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        sprite.stroke_path(&path, &paint, &stroke, at, None);
    }
    sprite.fill_path(&path, &paint, FillRule::Winding, at, None);
    Some(Sprite {
        pixmap: sprite,
        left: left as i32,
        top: top as i32,
    })
}

fn line_place(
    frame: &crate::clip::Frame,
    geometry: &Geometry<f64>,
    follow: bool,
    offset: f32,
) -> Option<Where> {
    let lines = lines_px(frame, geometry);
    (!lines.is_empty()).then_some(Where::Line {
        lines,
        follow,
        offset,
    })
}

fn point_places(
    frame: &crate::clip::Frame,
    geometry: &Geometry<f64>,
    anchor: (f32, f32),
    displacement: (f32, f32),
    rotation: f32,
) -> Vec<Where> {
    let image = frame.with_margin(0.0);
    // Off the map, or so close to its edge that the label may not fit: polygons also try the
    // interior of their visible part.
    let near_edge = |(x, y): (f64, f64)| {
        let inner = image.with_margin(-24.0);
        !inner.contains((x, y))
    };
    anchor_points(geometry)
        .into_iter()
        .map(|(x, y)| frame.pixel(x, y))
        .filter_map(|p| {
            let mut at: Vec<Px> = Vec::with_capacity(2);
            if frame.contains(p) {
                at.push((p.0 as f32, p.1 as f32));
            }
            if near_edge(p) {
                if let Some(v) = visible_interior(&image, geometry) {
                    at.push((v.0 as f32, v.1 as f32));
                }
            }
            (!at.is_empty()).then_some(Where::Point {
                at,
                anchor,
                displacement,
                rotation,
            })
        })
        .collect()
}

/// The interior point, in pixels, of the part of a polygon's largest piece inside the image.
fn visible_interior(image: &crate::clip::Frame, geometry: &Geometry<f64>) -> Option<(f64, f64)> {
    use geo::Area;
    let polygon = match geometry {
        Geometry::Polygon(p) => p.clone(),
        Geometry::MultiPolygon(m) => m
            .iter()
            .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?
            .clone(),
        _ => return None,
    };
    let ring = image.ring(&polygon.exterior().0);
    if ring.len() < 3 {
        return None;
    }
    let mut coords: Vec<(f64, f64)> = ring
        .iter()
        .map(|&(x, y)| (f64::from(x), f64::from(y)))
        .collect();
    coords.push(coords[0]);
    let clipped = geo_types::Polygon::new(geo_types::LineString::from(coords), vec![]);
    crate::draw::label_point(&clipped)
}

/// Glyphs placed (id, origin, angle) and the boxes they cover.
struct Layout {
    glyphs: Vec<(u16, (f32, f32), f32)>,
    boxes: Vec<Box2>,
}

fn point_layouts(
    shaped: &Shaped,
    at: &[Px],
    anchor: (f32, f32),
    displacement: (f32, f32),
    rotation: f32,
    max_displacement: f32,
    halo: f32,
) -> Vec<Layout> {
    let height = shaped.ascent + shaped.descent;
    let mut offsets = vec![(0.0f32, 0.0f32)];
    if max_displacement > 0.0 {
        let mut r = (height / 2.0).max(2.0);
        while r <= max_displacement {
            for k in 0..8 {
                let a = std::f32::consts::FRAC_PI_4 * k as f32;
                offsets.push((r * a.cos(), r * a.sin()));
            }
            r += (height / 2.0).max(2.0);
        }
    }
    let angle = rotation.to_radians();
    at.iter()
        .flat_map(|at| offsets.iter().map(move |o| (at, *o)))
        .map(|(at, (ox, oy))| {
            // Anchor (0..1 of the label box, y up) on the point; displacement y up.
            let left = -anchor.0 * shaped.width;
            let baseline = (anchor.1 - 1.0) * height + shaped.ascent;
            let (cx, cy) = (at.0 + displacement.0 + ox, at.1 - displacement.1 + oy);
            let (cos, sin) = (angle.cos(), angle.sin());
            let map = |x: f32, y: f32| (cx + x * cos - y * sin, cy + x * sin + y * cos);
            let glyphs = shaped
                .glyphs
                .iter()
                .map(|(g, x, dy, _)| (*g, map(left + x, baseline + dy), angle))
                .collect();
            let corners = [
                map(left - halo, baseline - shaped.ascent - halo),
                map(left + shaped.width + halo, baseline - shaped.ascent - halo),
                map(left - halo, baseline + shaped.descent + halo),
                map(left + shaped.width + halo, baseline + shaped.descent + halo),
            ];
            Layout {
                glyphs,
                boxes: vec![bounds(&corners)],
            }
        })
        .collect()
}

fn bounds(points: &[(f32, f32)]) -> Box2 {
    let mut b = [
        f32::INFINITY,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
    ];
    for (x, y) in points {
        b[0] = b[0].min(*x);
        b[1] = b[1].min(*y);
        b[2] = b[2].max(*x);
        b[3] = b[3].max(*y);
    }
    b
}

/// Positions along a polyline: (point, direction angle) at a distance from its start.
fn along(line: &[Px], distance: f32) -> Option<(Px, f32)> {
    let mut left = distance;
    for pair in line.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let length = (b.0 - a.0).hypot(b.1 - a.1);
        if length <= 0.0 {
            continue;
        }
        if left <= length {
            let t = left / length;
            return Some((
                (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)),
                (b.1 - a.1).atan2(b.0 - a.0),
            ));
        }
        left -= length;
    }
    None
}

fn length_of(line: &[Px]) -> f32 {
    line.windows(2)
        .map(|p| (p[1].0 - p[0].0).hypot(p[1].1 - p[0].1))
        .sum()
}

fn line_layouts(
    shaped: &Shaped,
    lines: &[Vec<Px>],
    follow: bool,
    offset: f32,
    halo: f32,
) -> Vec<Layout> {
    // The longest piece, labelled at its middle (then at a third and two thirds).
    let Some(line) = lines
        .iter()
        .max_by(|a, b| length_of(a).total_cmp(&length_of(b)))
    else {
        return Vec::new();
    };
    let total = length_of(line);
    if total < shaped.width + 2.0 * halo {
        return Vec::new();
    }
    // Read left to right: reverse lines that run right to left.
    let reversed: Vec<Px>;
    let line: &[Px] = if line.last().map(|p| p.0) < line.first().map(|p| p.0) {
        reversed = line.iter().rev().copied().collect();
        &reversed
    } else {
        line
    };
    let middle_shift = shaped.ascent / 2.0 - shaped.descent / 2.0;
    let mut layouts = Vec::new();
    for fraction in [0.5f32, 0.33, 0.67] {
        let start = total * fraction - shaped.width / 2.0;
        if start < 0.0 || start + shaped.width > total {
            continue;
        }
        if follow {
            let mut glyphs = Vec::new();
            let mut boxes = Vec::new();
            let mut ok = true;
            let mut previous_angle: Option<f32> = None;
            for (g, x, dy, advance) in &shaped.glyphs {
                let centre = start + x + advance / 2.0;
                let Some(((px, py), angle)) = along(line, centre) else {
                    ok = false;
                    break;
                };
                // Too sharp a bend between glyphs: the label would be unreadable.
                if let Some(p) = previous_angle {
                    let mut d = (angle - p).abs();
                    if d > std::f32::consts::PI {
                        d = 2.0 * std::f32::consts::PI - d;
                    }
                    if d > 0.6 {
                        ok = false;
                        break;
                    }
                }
                previous_angle = Some(angle);
                let (cos, sin) = (angle.cos(), angle.sin());
                // Normal to the left on screen is (sin, -cos); the text's middle sits on the line.
                let lift = middle_shift + offset;
                let bx = px - advance / 2.0 * cos + lift * sin;
                let by = py - advance / 2.0 * sin - lift * cos;
                let origin = (bx + dy * -sin, by + dy * cos);
                glyphs.push((*g, origin, angle));
                let r = shaped.ascent.midpoint(shaped.descent) + halo;
                boxes.push([
                    px - r - advance / 2.0,
                    py - r - advance / 2.0 - offset.abs(),
                    px + r + advance / 2.0,
                    py + r + advance / 2.0 + offset.abs(),
                ]);
            }
            if ok {
                layouts.push(Layout { glyphs, boxes });
            }
        } else {
            let Some(((px, py), _)) = along(line, start + shaped.width / 2.0) else {
                continue;
            };
            let (Some((a, _)), Some((b, _))) =
                (along(line, start), along(line, start + shaped.width))
            else {
                continue;
            };
            let mut angle = (b.1 - a.1).atan2(b.0 - a.0);
            if angle.abs() > std::f32::consts::FRAC_PI_2 {
                angle += std::f32::consts::PI;
            }
            let (cos, sin) = (angle.cos(), angle.sin());
            let lift = middle_shift + offset;
            let map = |x: f32, y: f32| {
                let y = y - lift;
                (px + x * cos - y * sin, py + x * sin + y * cos)
            };
            let left = -shaped.width / 2.0;
            let glyphs = shaped
                .glyphs
                .iter()
                .map(|(g, x, dy, _)| (*g, map(left + x, *dy), angle))
                .collect();
            let corners = [
                map(left - halo, -shaped.ascent - halo),
                map(-left + halo, -shaped.ascent - halo),
                map(left - halo, shaped.descent + halo),
                map(-left + halo, shaped.descent + halo),
            ];
            layouts.push(Layout {
                glyphs,
                boxes: vec![bounds(&corners)],
            });
        }
    }
    layouts
}

fn draw_text(pixmap: &mut Pixmap, path: &Path, fill: Color, halo: Option<(f32, Color)>) {
    if let Some((radius, color)) = halo {
        if radius > 0.0 {
            let stroke = Stroke {
                width: radius * 2.0,
                line_join: LineJoin::Round,
                ..Stroke::default()
            };
            pixmap.stroke_path(
                path,
                &symbol::paint(color),
                &stroke,
                Transform::identity(),
                None,
            );
            pixmap.fill_path(
                path,
                &symbol::paint(color),
                FillRule::Winding,
                Transform::identity(),
                None,
            );
        }
    }
    pixmap.fill_path(
        path,
        &symbol::paint(fill),
        FillRule::Winding,
        Transform::identity(),
        None,
    );
}

/// Draws one text at a point for legends (left end of the baseline's middle).
pub fn draw_legend_text(pixmap: &mut Pixmap, fonts: &Fonts, text: &str, at: Px, size: f32) -> f32 {
    let Some(face) = fonts.select(&[], false, false) else {
        return 0.0;
    };
    let shaped = shape(face, text, size);
    let baseline = at.1 + (shaped.ascent - shaped.descent) / 2.0;
    let mut pb = PathBuilder::new();
    for (g, x, dy, _) in &shaped.glyphs {
        glyph_outline(
            face,
            *g,
            shaped.scale,
            (at.0 + x, baseline + dy),
            0.0,
            &mut pb,
        );
    }
    if let Some(path) = pb.finish() {
        draw_text(pixmap, &path, Color::BLACK, None);
    }
    shaped.width
}

/// Width of a text at a size in the default face.
pub fn text_width(fonts: &Fonts, text: &str, size: f32) -> f32 {
    fonts
        .select(&[], false, false)
        .map_or(0.0, |face| shape(face, text, size).width)
}
