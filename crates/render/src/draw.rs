//! Drawing one rule's symbolizers for one feature: polygons, lines and points; text goes to
//! the labeler, drawn at the end.

use geo::{Area, Centroid};
use geo_types::Geometry;
use tiny_skia::{FillRule, Path, PathBuilder, Pixmap, Transform};

use crate::clip::{Frame, Px};
use crate::labels::Labeler;
use crate::symbol::{self, Graphics, Units};
use crate::{Attrs, MapRequest, RenderFeature};

/// Margin of the clip rectangle, in pixels: wider than any stroke or symbol.
const CLIP_MARGIN: f64 = 256.0;

/// What drawing needs to know about the map.
pub struct Context<'a> {
    frame: Frame,
    symbol_scale: f64,
    metres_per_pixel: f64,
    graphics: &'a Graphics,
    /// Paths of tiny features waiting to be drawn together.
    batches: std::cell::RefCell<Batches>,
}

/// Features smaller than this (pixels, both sides) are drawn in batches: in a whole-country
/// view most features are a few pixels wide, and drawing them one call each costs far more than
/// covering their pixels.
const TINY: f32 = 4.0;

/// Tiny features' paths, one per paint, drawn at [`Context::flush`]: per feature type style,
/// so the order between feature type styles is kept.
#[derive(Default)]
struct Batches {
    fills: Vec<(tiny_skia::Color, PathBuilder)>,
    strokes: Vec<(tiny_skia::Color, tiny_skia::Stroke, PathBuilder)>,
}

fn same_stroke(a: &tiny_skia::Stroke, b: &tiny_skia::Stroke) -> bool {
    a.width.to_bits() == b.width.to_bits()
        && a.line_cap == b.line_cap
        && a.line_join == b.line_join
        && a.dash.is_none()
        && b.dash.is_none()
}

fn is_tiny(path: &Path) -> bool {
    let b = path.bounds();
    b.width() <= TINY && b.height() <= TINY
}

impl<'a> Context<'a> {
    pub fn new(request: &MapRequest, graphics: &'a Graphics) -> Context<'a> {
        Context {
            frame: Frame::new(&request.extent, request.width, request.height, CLIP_MARGIN),
            symbol_scale: request.symbol_scale(),
            metres_per_pixel: request.metres_per_pixel(),
            graphics,
            batches: std::cell::RefCell::new(Batches::default()),
        }
    }

    /// Draws the batched tiny features.
    pub fn flush(&self, pixmap: &mut Pixmap) {
        let batches = std::mem::take(&mut *self.batches.borrow_mut());
        for (c, pb) in batches.fills {
            if let Some(path) = pb.finish() {
                pixmap.fill_path(
                    &path,
                    &symbol::paint(c),
                    FillRule::EvenOdd,
                    Transform::identity(),
                    None,
                );
            }
        }
        for (c, stroke, pb) in batches.strokes {
            if let Some(path) = pb.finish() {
                pixmap.stroke_path(
                    &path,
                    &symbol::paint(c),
                    &stroke,
                    Transform::identity(),
                    None,
                );
            }
        }
    }

    fn batch_fill(&self, c: tiny_skia::Color, path: &Path) {
        let mut batches = self.batches.borrow_mut();
        if let Some((_, pb)) = batches.fills.iter_mut().find(|(k, _)| *k == c) {
            pb.push_path(path);
        } else {
            let mut pb = PathBuilder::new();
            pb.push_path(path);
            batches.fills.push((c, pb));
        }
    }

    fn batch_stroke(&self, c: tiny_skia::Color, stroke: &tiny_skia::Stroke, path: &Path) {
        let mut batches = self.batches.borrow_mut();
        if let Some((_, _, pb)) = batches
            .strokes
            .iter_mut()
            .find(|(k, s, _)| *k == c && same_stroke(s, stroke))
        {
            pb.push_path(path);
        } else {
            let mut pb = PathBuilder::new();
            pb.push_path(path);
            batches.strokes.push((c, stroke.clone(), pb));
        }
    }

    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    pub fn units(&self, uom: sld::Uom) -> Units {
        Units {
            symbol_scale: self.symbol_scale,
            metres_per_pixel: self.metres_per_pixel,
            uom,
        }
    }

    /// Draws every symbolizer of `rule` for `feature` (text symbolizers become label
    /// candidates).
    pub fn draw_rule<F: RenderFeature>(
        &self,
        pixmap: &mut Pixmap,
        rule: &sld::Rule,
        feature: &F,
        labels: &mut Labeler<'_>,
        layer_index: usize,
    ) {
        let attrs = Attrs(feature);
        let geometry = feature.geometry();
        for symbolizer in &rule.symbolizers {
            match symbolizer {
                sld::Symbolizer::Polygon(s) => self.polygon(pixmap, s, geometry, &attrs),
                sld::Symbolizer::Line(s) => self.line(pixmap, s, geometry, &attrs),
                sld::Symbolizer::Point(s) => self.point(pixmap, s, geometry, &attrs),
                sld::Symbolizer::Text(s) => labels.add(self, s, geometry, &attrs, layer_index),
                _ => {}
            }
        }
    }

    fn polygon(
        &self,
        pixmap: &mut Pixmap,
        s: &sld::PolygonSymbolizer,
        geometry: &Geometry<f64>,
        attrs: &dyn sld::Attributes,
    ) {
        let units = self.units(s.common.uom);
        let (dx, dy) = s.displacement.as_ref().map_or((0.0, 0.0), |p| {
            (
                units.px(p.x.evaluate_number(attrs).unwrap_or(0.0)),
                units.px(p.y.evaluate_number(attrs).unwrap_or(0.0)),
            )
        });
        let Some(path) = polygons_path(&self.frame, geometry) else {
            return;
        };
        let transform = Transform::from_translate(dx, -dy);
        let batch = dx == 0.0 && dy == 0.0 && is_tiny(&path);
        if let Some(fill) = &s.fill {
            if let Some(graphic) = &fill.graphic_fill {
                if let Some(pattern) = self.pattern(graphic, attrs, &units) {
                    let paint = tiny_skia::Paint {
                        anti_alias: true,
                        shader: tiny_skia::Pattern::new(
                            pattern.as_ref(),
                            tiny_skia::SpreadMode::Repeat,
                            tiny_skia::FilterQuality::Nearest,
                            1.0,
                            Transform::identity(),
                        ),
                        ..tiny_skia::Paint::default()
                    };
                    pixmap.fill_path(&path, &paint, FillRule::EvenOdd, transform, None);
                }
            } else {
                let c = symbol::fill_color(fill, attrs);
                if batch {
                    self.batch_fill(c, &path);
                } else {
                    pixmap.fill_path(&path, &symbol::paint(c), FillRule::EvenOdd, transform, None);
                }
            }
        }
        if let Some(stroke) = &s.stroke {
            if let Some((c, st)) = symbol::stroke(stroke, attrs, &units) {
                if batch && st.dash.is_none() {
                    self.batch_stroke(c, &st, &path);
                } else {
                    pixmap.stroke_path(&path, &symbol::paint(c), &st, transform, None);
                }
            }
        }
    }

    /// One tile of a GraphicFill: the graphic centred in a cell of its own size.
    fn pattern(
        &self,
        graphic: &sld::Graphic,
        attrs: &dyn sld::Attributes,
        units: &Units,
    ) -> Option<Pixmap> {
        let (stamp, _) = symbol::stamp(graphic, attrs, units, self.graphics, 0.0)?;
        let size = graphic
            .size
            .as_ref()
            .and_then(|e| e.evaluate_number(attrs))
            .map_or(stamp.pixmap.width() as f32, |s| units.px(s));
        let side = size.round().clamp(1.0, 512.0) as u32;
        let mut tile = Pixmap::new(side, side)?;
        let centre = side as f32 / 2.0;
        // Draw the stamp around the centre and wrapped copies, so that marks larger than their
        // cell (hatches) continue across cell edges.
        for (ox, oy) in [(0.0, 0.0), (-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)] {
            symbol::place(
                &mut tile,
                &stamp,
                (centre + ox * side as f32, centre + oy * side as f32),
                (0.0, 0.0),
            );
        }
        Some(tile)
    }

    fn line(
        &self,
        pixmap: &mut Pixmap,
        s: &sld::LineSymbolizer,
        geometry: &Geometry<f64>,
        attrs: &dyn sld::Attributes,
    ) {
        let Some(stroke) = &s.stroke else { return };
        let units = self.units(s.common.uom);
        let offset = s
            .perpendicular_offset
            .as_ref()
            .and_then(|e| e.evaluate_number(attrs))
            .map_or(0.0, |v| units.px(v));
        let mut lines = lines_px(&self.frame, geometry);
        if offset != 0.0 {
            lines = lines.iter().map(|l| offset_line(l, offset)).collect();
        }
        if let Some(graphic) = &stroke.graphic_stroke {
            self.graphic_stroke(pixmap, graphic, &lines, attrs, &units, stroke);
            return;
        }
        let Some((c, st)) = symbol::stroke(stroke, attrs, &units) else {
            return;
        };
        let Some(path) = lines_path(&lines) else {
            return;
        };
        if st.dash.is_none() && is_tiny(&path) {
            self.batch_stroke(c, &st, &path);
        } else {
            pixmap.stroke_path(&path, &symbol::paint(c), &st, Transform::identity(), None);
        }
    }

    /// A graphic repeated along lines, rotated with them, every graphic size (plus the dash
    /// array's gap, when one is given).
    fn graphic_stroke(
        &self,
        pixmap: &mut Pixmap,
        graphic: &sld::Graphic,
        lines: &[Vec<Px>],
        attrs: &dyn sld::Attributes,
        units: &Units,
        stroke: &sld::Stroke,
    ) {
        let Some((base, _)) = symbol::stamp(graphic, attrs, units, self.graphics, 0.0) else {
            return;
        };
        let size = graphic
            .size
            .as_ref()
            .and_then(|e| e.evaluate_number(attrs))
            .map_or(base.pixmap.width() as f32 / 1.5, |s| units.px(s));
        let gap = stroke
            .dash_array
            .as_ref()
            .and_then(|e| e.evaluate(attrs).as_text())
            .and_then(|t| {
                t.split_whitespace()
                    .filter_map(|v| v.parse::<f64>().ok())
                    .nth(1)
            })
            .map_or(0.0, |g| units.px(g));
        let step = (size + gap).max(1.0);
        let mut placed = 0usize;
        for line in lines {
            let mut carry = step / 2.0;
            for pair in line.windows(2) {
                let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                let length = (x1 - x0).hypot(y1 - y0);
                if length <= 0.0 {
                    continue;
                }
                let angle = (y1 - y0).atan2(x1 - x0).to_degrees();
                let mut at = carry;
                while at <= length {
                    let t = at / length;
                    let point = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
                    if let Some((stamp, _)) =
                        symbol::stamp(graphic, attrs, units, self.graphics, angle)
                    {
                        symbol::place(pixmap, &stamp, point, (0.0, 0.0));
                    }
                    placed += 1;
                    if placed > 100_000 {
                        return;
                    }
                    at += step;
                }
                carry = at - length;
            }
        }
    }

    fn point(
        &self,
        pixmap: &mut Pixmap,
        s: &sld::PointSymbolizer,
        geometry: &Geometry<f64>,
        attrs: &dyn sld::Attributes,
    ) {
        let units = self.units(s.common.uom);
        let default_graphic;
        let graphic = if let Some(g) = &s.graphic {
            g
        } else {
            default_graphic = sld::Graphic {
                symbols: Vec::new(),
                opacity: None,
                size: None,
                rotation: None,
                anchor_point: None,
                displacement: None,
                pos: sld::Pos::default(),
            };
            &default_graphic
        };
        let points = anchor_points(geometry);
        if points.is_empty() {
            return;
        }
        let Some((stamp, displacement)) = symbol::stamp(graphic, attrs, &units, self.graphics, 0.0)
        else {
            return;
        };
        for (x, y) in points {
            let p = self.frame.pixel(x, y);
            if self.frame.contains(p) {
                symbol::place(pixmap, &stamp, (p.0 as f32, p.1 as f32), displacement);
            }
        }
    }
}

/// Where point symbols go: points themselves; the middle of lines; the interior point of
/// polygons (inside even for concave shapes).
pub fn anchor_points(geometry: &Geometry<f64>) -> Vec<(f64, f64)> {
    match geometry {
        Geometry::Point(p) => vec![(p.x(), p.y())],
        Geometry::MultiPoint(m) => m.iter().map(|p| (p.x(), p.y())).collect(),
        Geometry::LineString(l) => line_middle(l).into_iter().collect(),
        Geometry::MultiLineString(m) => m.iter().filter_map(line_middle).collect(),
        Geometry::Polygon(p) => label_point(p).into_iter().collect(),
        // One symbol or label per feature: on its largest part (the mainland, not the isles).
        Geometry::MultiPolygon(m) => m
            .iter()
            .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
            .and_then(label_point)
            .into_iter()
            .collect(),
        Geometry::GeometryCollection(c) => c.iter().flat_map(anchor_points).collect(),
        Geometry::Rect(r) => vec![(r.center().x, r.center().y)],
        Geometry::Triangle(t) => {
            let c = t.centroid();
            vec![(c.x(), c.y())]
        }
        Geometry::Line(l) => vec![(l.start.x.midpoint(l.end.x), l.start.y.midpoint(l.end.y))],
    }
}

/// A point inside a polygon (holes excluded), robust to invalid rings: on the horizontal
/// line through the polygon that crosses it most widely (of a few tried), the middle of the
/// widest inside stretch. Linear in the vertices, never fails on self-intersections.
pub fn label_point(polygon: &geo_types::Polygon<f64>) -> Option<(f64, f64)> {
    use geo::BoundingRect;
    let rect = polygon.exterior().bounding_rect()?;
    let (y0, y1) = (rect.min().y, rect.max().y);
    if !(y0.is_finite() && y1.is_finite()) {
        return None;
    }
    let rings: Vec<&geo_types::LineString<f64>> = std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .collect();
    let mut best: Option<(f64, (f64, f64))> = None;
    let mut crossings: Vec<f64> = Vec::new();
    for fraction in [0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9] {
        // Nudged off round fractions so that the line rarely runs along a horizontal edge.
        let y = y0 + (y1 - y0) * (fraction + 1e-7 * std::f64::consts::PI);
        crossings.clear();
        for ring in &rings {
            for segment in ring.lines() {
                let (from, to) = (segment.start, segment.end);
                // Half-open in y, so vertices on the line count once.
                if (from.y <= y) != (to.y <= y) {
                    let t = (y - from.y) / (to.y - from.y);
                    let x = from.x + t * (to.x - from.x);
                    if x.is_finite() {
                        crossings.push(x);
                    }
                }
            }
        }
        crossings.sort_by(f64::total_cmp);
        for pair in crossings.chunks_exact(2) {
            let width = pair[1] - pair[0];
            // Ties go to the lines tried first (nearest the middle).
            if best.is_none_or(|(w, _)| width > w * 1.01) {
                best = Some((width, (pair[0].midpoint(pair[1]), y)));
            }
        }
    }
    best.map(|(_, p)| p).or_else(|| {
        use geo::Centroid;
        polygon.centroid().map(|c| (c.x(), c.y()))
    })
}

/// The point halfway along a line.
fn line_middle(line: &geo_types::LineString<f64>) -> Option<(f64, f64)> {
    let total: f64 = line.lines().map(|s| s.dx().hypot(s.dy())).sum();
    if !(total.is_finite() && total > 0.0) {
        return line.0.first().map(|c| (c.x, c.y));
    }
    let mut left = total / 2.0;
    for segment in line.lines() {
        let length = segment.dx().hypot(segment.dy());
        if length >= left && length > 0.0 {
            let t = left / length;
            return Some((
                segment.start.x + t * segment.dx(),
                segment.start.y + t * segment.dy(),
            ));
        }
        left -= length;
    }
    line.0.last().map(|c| (c.x, c.y))
}

/// The rings of every polygon of a geometry, clipped, as one even-odd path (holes included).
pub fn polygons_path(frame: &Frame, geometry: &Geometry<f64>) -> Option<Path> {
    let mut pb = PathBuilder::new();
    let mut add = |polygon: &geo_types::Polygon<f64>| {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            let points = frame.ring(&ring.0);
            push_ring(&mut pb, &points);
        }
    };
    visit_polygons(geometry, &mut add);
    pb.finish()
}

fn visit_polygons(geometry: &Geometry<f64>, f: &mut impl FnMut(&geo_types::Polygon<f64>)) {
    match geometry {
        Geometry::Polygon(p) => f(p),
        Geometry::MultiPolygon(m) => m.iter().for_each(&mut *f),
        Geometry::Rect(r) => f(&r.to_polygon()),
        Geometry::Triangle(t) => f(&t.to_polygon()),
        Geometry::GeometryCollection(c) => c.iter().for_each(|g| visit_polygons(g, f)),
        _ => {}
    }
}

fn push_ring(pb: &mut PathBuilder, points: &[Px]) {
    if points.len() < 3 {
        return;
    }
    pb.move_to(points[0].0, points[0].1);
    for p in &points[1..] {
        pb.line_to(p.0, p.1);
    }
    pb.close();
}

/// Every linear part of a geometry (lines, and polygon rings), clipped, in pixels.
pub fn lines_px(frame: &Frame, geometry: &Geometry<f64>) -> Vec<Vec<Px>> {
    let mut out = Vec::new();
    visit_lines(geometry, &mut |coords| out.extend(frame.line(coords)));
    out
}

fn visit_lines(geometry: &Geometry<f64>, f: &mut impl FnMut(&[geo_types::Coord<f64>])) {
    match geometry {
        Geometry::LineString(l) => f(&l.0),
        Geometry::MultiLineString(m) => m.iter().for_each(|l| f(&l.0)),
        Geometry::Line(l) => f(&[l.start, l.end]),
        Geometry::Polygon(p) => {
            f(&p.exterior().0);
            p.interiors().iter().for_each(|r| f(&r.0));
        }
        Geometry::MultiPolygon(m) => m.iter().for_each(|p| {
            f(&p.exterior().0);
            p.interiors().iter().for_each(|r| f(&r.0));
        }),
        Geometry::Rect(r) => f(&r.to_polygon().exterior().0),
        Geometry::Triangle(t) => f(&t.to_polygon().exterior().0),
        Geometry::GeometryCollection(c) => c.iter().for_each(|g| visit_lines(g, f)),
        Geometry::Point(_) | Geometry::MultiPoint(_) => {}
    }
}

/// One path of polylines.
pub fn lines_path(lines: &[Vec<Px>]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for line in lines {
        if line.len() < 2 {
            continue;
        }
        pb.move_to(line[0].0, line[0].1);
        for p in &line[1..] {
            pb.line_to(p.0, p.1);
        }
    }
    pb.finish()
}

/// A polyline moved `offset` pixels to its left (SE PerpendicularOffset: positive is left of
/// the direction of the line), with mitred vertices (limited to 4× the offset).
pub fn offset_line(line: &[Px], offset: f32) -> Vec<Px> {
    let n = line.len();
    if n < 2 {
        return line.to_vec();
    }
    let normal = |a: Px, b: Px| -> Option<(f32, f32)> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let l = dx.hypot(dy);
        // Left of the direction on screen (y down): (dy, -dx) / l.
        (l > 0.0).then(|| (dy / l, -dx / l))
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let before = if i > 0 {
            normal(line[i - 1], line[i])
        } else {
            None
        };
        let after = if i + 1 < n {
            normal(line[i], line[i + 1])
        } else {
            None
        };
        let (nx, ny) = match (before, after) {
            (Some(a), Some(b)) => {
                let (sx, sy) = (a.0 + b.0, a.1 + b.1);
                let dot = 1.0 + a.0 * b.0 + a.1 * b.1;
                if dot < 0.25 {
                    b
                } else {
                    let scale = (2.0 / dot).min(16.0);
                    (sx * scale / 2.0, sy * scale / 2.0)
                }
            }
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => (0.0, 0.0),
        };
        out.push((line[i].0 + nx * offset, line[i].1 + ny * offset));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn offsets_move_lines_to_their_left() {
        // Eastwards on screen; left is up (smaller y).
        let moved = offset_line(&[(0.0, 10.0), (10.0, 10.0)], 3.0);
        assert_eq!(moved, vec![(0.0, 7.0), (10.0, 7.0)]);
        // A right angle keeps the offset distance from both segments.
        let corner = offset_line(&[(0.0, 10.0), (10.0, 10.0), (10.0, 20.0)], 2.0);
        assert!(
            (corner[1].0 - 12.0).abs() < 1e-4 && (corner[1].1 - 8.0).abs() < 1e-4,
            "{corner:?}"
        );
    }

    #[test]
    fn label_points_survive_invalid_polygons() {
        use geo_types::polygon;
        // A bow tie, a spike, a ring with repeated points: no panic, a point on the shape.
        let bow =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 10.0), (x: 10.0, y: 0.0), (x: 0.0, y: 10.0)];
        let p = label_point(&bow).unwrap();
        assert!((0.0..=10.0).contains(&p.0) && (0.0..=10.0).contains(&p.1));
        let spike = polygon![(x: 0.0, y: 0.0), (x: 5.0, y: 0.0), (x: 5.0, y: 0.0), (x: 5.0, y: 100.0), (x: 5.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 5.0), (x: 0.0, y: 5.0)];
        assert!(label_point(&spike).is_some());
        // A square with a hole in its middle: the point is in the ring, not the hole.
        let holed = geo_types::Polygon::new(
            geo_types::LineString::from(vec![
                (0.0, 0.0),
                (10.0, 0.0),
                (10.0, 10.0),
                (0.0, 10.0),
                (0.0, 0.0),
            ]),
            vec![geo_types::LineString::from(vec![
                (2.0, 2.0),
                (8.0, 2.0),
                (8.0, 8.0),
                (2.0, 8.0),
                (2.0, 2.0),
            ])],
        );
        let q = label_point(&holed).unwrap();
        let in_hole = q.0 > 2.0 && q.0 < 8.0 && q.1 > 2.0 && q.1 < 8.0;
        assert!(!in_hole, "{q:?}");
    }

    #[test]
    fn anchors_of_each_geometry_kind() {
        use geo::Contains;
        use geo_types::{line_string, polygon, Point};
        assert_eq!(
            anchor_points(&Geometry::Point(Point::new(1.0, 2.0))),
            vec![(1.0, 2.0)]
        );
        let l = line_string![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0)];
        assert_eq!(anchor_points(&Geometry::LineString(l)), vec![(10.0, 0.0)]);
        // A U shape: the interior point is inside, not at the centroid (which is outside).
        let u = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 8.0, y: 10.0), (x: 8.0, y: 2.0), (x: 2.0, y: 2.0), (x: 2.0, y: 10.0), (x: 0.0, y: 10.0)];
        let p = anchor_points(&Geometry::Polygon(u.clone()))[0];
        assert!(u.contains(&Point::new(p.0, p.1)), "{p:?}");
        assert!(anchor_points(&Geometry::LineString(line_string![])).is_empty());
    }
}
