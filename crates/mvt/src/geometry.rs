//! Geometries in tile space: clipping to the buffered tile, simplification, quantization to
//! integers, valid winding, and the MVT command stream (and back).
//!
//! Tile space has x to the right and y down, 0..extent over the tile. A feature is clipped
//! in floating point (Sutherland–Hodgman for rings, Liang–Barsky per segment for lines), then
//! rounded; rounding merges vertices, so repeated points are dropped afterwards and rings or
//! lines left without extent are dropped rather than written degenerate.

use geo::Simplify;
use geo_types::{Coord, LineString};

/// A feature's geometry in tile space, before quantization.
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    /// Points (one or several).
    Points(Vec<Coord<f64>>),
    /// Lines (one or several parts).
    Lines(Vec<Vec<Coord<f64>>>),
    /// Polygons: exterior ring then holes, each ring open (no repeated first point).
    Polygons(Vec<Vec<Vec<Coord<f64>>>>),
}

impl TileGeometry {
    /// The MVT geometry type.
    pub fn kind(&self) -> crate::proto::GeomType {
        match self {
            TileGeometry::Points(_) => crate::proto::GeomType::Point,
            TileGeometry::Lines(_) => crate::proto::GeomType::Linestring,
            TileGeometry::Polygons(_) => crate::proto::GeomType::Polygon,
        }
    }

    /// How much the feature shows: area for polygons, length for lines, 0 for points. The
    /// size budget drops the smallest features first.
    pub fn size(&self) -> f64 {
        match self {
            TileGeometry::Points(_) => 0.0,
            TileGeometry::Lines(lines) => lines
                .iter()
                .flat_map(|l| l.windows(2))
                .map(|w| (w[1].x - w[0].x).hypot(w[1].y - w[0].y))
                .sum(),
            TileGeometry::Polygons(polygons) => polygons
                .iter()
                .filter_map(|rings| rings.first())
                .map(|ring| signed_area(ring).abs())
                .sum(),
        }
    }

    /// The geometry simplified (Ramer–Douglas–Peucker) within `tolerance` tile units.
    #[must_use]
    pub fn simplified(&self, tolerance: f64) -> TileGeometry {
        if tolerance <= 0.0 {
            return self.clone();
        }
        let line = |coords: &[Coord<f64>], closed: bool| -> Vec<Coord<f64>> {
            let mut all = coords.to_vec();
            if closed {
                if let Some(first) = coords.first() {
                    all.push(*first);
                }
            }
            let mut out = LineString::new(all).simplify(tolerance).0;
            if closed {
                out.pop();
            }
            out
        };
        match self {
            TileGeometry::Points(_) => self.clone(),
            TileGeometry::Lines(lines) => {
                TileGeometry::Lines(lines.iter().map(|l| line(l, false)).collect())
            }
            TileGeometry::Polygons(polygons) => TileGeometry::Polygons(
                polygons
                    .iter()
                    .map(|rings| rings.iter().map(|r| line(r, true)).collect())
                    .collect(),
            ),
        }
    }
}

/// The rectangle geometries are clipped to, in tile units: `[min_x, min_y, max_x, max_y]`.
pub type ClipRect = [f64; 4];

/// Points inside the rectangle (edges included).
pub fn clip_points(points: &[Coord<f64>], rect: ClipRect) -> Vec<Coord<f64>> {
    points
        .iter()
        .copied()
        .filter(|p| p.x >= rect[0] && p.x <= rect[2] && p.y >= rect[1] && p.y <= rect[3])
        .collect()
}

/// The parts of a line inside the rectangle (one line may leave and come back: several parts).
pub fn clip_line(line: &[Coord<f64>], rect: ClipRect) -> Vec<Vec<Coord<f64>>> {
    if line.len() < 2 {
        return Vec::new();
    }
    let (lo, hi) = bounds(line);
    if lo.x >= rect[0] && hi.x <= rect[2] && lo.y >= rect[1] && hi.y <= rect[3] {
        return vec![line.to_vec()];
    }
    if hi.x < rect[0] || lo.x > rect[2] || hi.y < rect[1] || lo.y > rect[3] {
        return Vec::new();
    }
    let mut parts: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut current: Vec<Coord<f64>> = Vec::new();
    for pair in line.windows(2) {
        if let Some((a, b)) = clip_segment(pair[0], pair[1], rect) {
            if current.last() != Some(&a) {
                if current.len() >= 2 {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
                current.push(a);
            }
            current.push(b);
            // The segment left the rectangle: the part ends here.
            if b != pair[1] {
                if current.len() >= 2 {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        } else {
            if current.len() >= 2 {
                parts.push(std::mem::take(&mut current));
            }
            current.clear();
        }
    }
    if current.len() >= 2 {
        parts.push(current);
    }
    parts
}

/// Liang–Barsky: the part of segment a→b inside the rectangle.
fn clip_segment(a: Coord<f64>, b: Coord<f64>, rect: ClipRect) -> Option<(Coord<f64>, Coord<f64>)> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [
        (-dx, a.x - rect[0]),
        (dx, rect[2] - a.x),
        (-dy, a.y - rect[1]),
        (dy, rect[3] - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
        if t0 > t1 {
            return None;
        }
    }
    let at = |t: f64| {
        if t <= 0.0 {
            a
        } else if t >= 1.0 {
            b
        } else {
            Coord {
                x: a.x + t * dx,
                y: a.y + t * dy,
            }
        }
    };
    Some((at(t0), at(t1)))
}

/// A ring clipped to the rectangle (Sutherland–Hodgman); empty when nothing is inside.
pub fn clip_ring(ring: &[Coord<f64>], rect: ClipRect) -> Vec<Coord<f64>> {
    if ring.len() < 3 {
        return Vec::new();
    }
    let (lo, hi) = bounds(ring);
    if lo.x >= rect[0] && hi.x <= rect[2] && lo.y >= rect[1] && hi.y <= rect[3] {
        return ring.to_vec();
    }
    if hi.x < rect[0] || lo.x > rect[2] || hi.y < rect[1] || lo.y > rect[3] {
        return Vec::new();
    }
    let mut points = ring.to_vec();
    // Each edge: (axis is x?, boundary, keep values above the boundary?)
    for (on_x, edge, keep_above) in [
        (true, rect[0], true),
        (true, rect[2], false),
        (false, rect[1], true),
        (false, rect[3], false),
    ] {
        if points.is_empty() {
            break;
        }
        let value = |c: &Coord<f64>| if on_x { c.x } else { c.y };
        let inside = |c: &Coord<f64>| {
            if keep_above {
                value(c) >= edge
            } else {
                value(c) <= edge
            }
        };
        let cross = |a: &Coord<f64>, b: &Coord<f64>| {
            let t = (edge - value(a)) / (value(b) - value(a));
            if on_x {
                Coord {
                    x: edge,
                    y: a.y + t * (b.y - a.y),
                }
            } else {
                Coord {
                    x: a.x + t * (b.x - a.x),
                    y: edge,
                }
            }
        };
        let mut out = Vec::with_capacity(points.len() + 4);
        let mut previous = points[points.len() - 1];
        for current in &points {
            match (inside(current), inside(&previous)) {
                (true, true) => out.push(*current),
                (true, false) => {
                    out.push(cross(&previous, current));
                    out.push(*current);
                }
                (false, true) => out.push(cross(&previous, current)),
                (false, false) => {}
            }
            previous = *current;
        }
        points = out;
    }
    points
}

fn bounds(coords: &[Coord<f64>]) -> (Coord<f64>, Coord<f64>) {
    let mut lo = Coord {
        x: f64::INFINITY,
        y: f64::INFINITY,
    };
    let mut hi = Coord {
        x: f64::NEG_INFINITY,
        y: f64::NEG_INFINITY,
    };
    for c in coords {
        lo.x = lo.x.min(c.x);
        lo.y = lo.y.min(c.y);
        hi.x = hi.x.max(c.x);
        hi.y = hi.y.max(c.y);
    }
    (lo, hi)
}

/// Twice the signed area by the surveyor's formula (positive: clockwise on screen, y down —
/// an MVT exterior ring).
fn signed_area(ring: &[Coord<f64>]) -> f64 {
    let n = ring.len();
    let mut sum = 0.0;
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        sum += a.x * b.y - b.x * a.y;
    }
    sum
}

/// An integer point of the tile grid.
pub type GridPoint = Coord<i32>;

fn quantize(coords: &[Coord<f64>]) -> Vec<GridPoint> {
    let mut out: Vec<GridPoint> = Vec::with_capacity(coords.len());
    for c in coords {
        let p = Coord {
            x: c.x.round() as i32,
            y: c.y.round() as i32,
        };
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

fn grid_area(ring: &[GridPoint]) -> f64 {
    let n = ring.len();
    let mut sum = 0i64;
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        sum += i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y);
    }
    sum as f64
}

/// A ring on the grid: rounded, repeated and closing points dropped, oriented positive
/// (`exterior`) or negative; `None` when it has no area left.
fn grid_ring(ring: &[Coord<f64>], exterior: bool) -> Option<Vec<GridPoint>> {
    let mut points = quantize(ring);
    while points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    if points.len() < 3 {
        return None;
    }
    let area = grid_area(&points);
    if area == 0.0 {
        return None;
    }
    if (area > 0.0) != exterior {
        points.reverse();
    }
    Some(points)
}

/// The command stream of a geometry, or `None` when nothing is left once on the grid.
pub fn encode_commands(geometry: &TileGeometry) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut cursor = Coord { x: 0i32, y: 0i32 };
    match geometry {
        TileGeometry::Points(points) => {
            let grid: Vec<GridPoint> = points
                .iter()
                .map(|c| Coord {
                    x: c.x.round() as i32,
                    y: c.y.round() as i32,
                })
                .collect();
            if grid.is_empty() {
                return None;
            }
            out.push(command(MOVE_TO, grid.len()));
            for p in grid {
                push_point(&mut out, &mut cursor, p);
            }
        }
        TileGeometry::Lines(lines) => {
            for line in lines {
                let grid = quantize(line);
                if grid.len() < 2 {
                    continue;
                }
                push_path(&mut out, &mut cursor, &grid, false);
            }
        }
        TileGeometry::Polygons(polygons) => {
            for rings in polygons {
                let mut rings = rings.iter();
                let Some(exterior) = rings.next().and_then(|r| grid_ring(r, true)) else {
                    continue;
                };
                push_path(&mut out, &mut cursor, &exterior, true);
                for hole in rings.filter_map(|r| grid_ring(r, false)) {
                    push_path(&mut out, &mut cursor, &hole, true);
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

fn command(id: u32, count: usize) -> u32 {
    (id & 0x7) | ((count as u32) << 3)
}

fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn unzigzag(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

fn push_point(out: &mut Vec<u32>, cursor: &mut GridPoint, p: GridPoint) {
    out.push(zigzag(p.x - cursor.x));
    out.push(zigzag(p.y - cursor.y));
    *cursor = p;
}

fn push_path(out: &mut Vec<u32>, cursor: &mut GridPoint, points: &[GridPoint], closed: bool) {
    out.push(command(MOVE_TO, 1));
    push_point(out, cursor, points[0]);
    out.push(command(LINE_TO, points.len() - 1));
    for p in &points[1..] {
        push_point(out, cursor, *p);
    }
    if closed {
        out.push(command(CLOSE_PATH, 1));
    }
}

/// A decoded geometry, in tile units (integers).
#[derive(Debug, Clone, PartialEq)]
pub enum GridGeometry {
    /// Points.
    Points(Vec<GridPoint>),
    /// Lines.
    Lines(Vec<Vec<GridPoint>>),
    /// Polygons: exterior ring then holes, rings open.
    Polygons(Vec<Vec<Vec<GridPoint>>>),
}

/// Decodes a command stream; `Err` names what is malformed.
pub fn decode_commands(
    kind: crate::proto::GeomType,
    commands: &[u32],
) -> Result<GridGeometry, String> {
    let mut paths: Vec<(Vec<GridPoint>, bool)> = Vec::new();
    let mut cursor = Coord { x: 0i32, y: 0i32 };
    let mut i = 0;
    let read_point = |i: &mut usize, cursor: &mut GridPoint| -> Result<GridPoint, String> {
        let (Some(dx), Some(dy)) = (commands.get(*i), commands.get(*i + 1)) else {
            return Err(format!("command stream ends inside a point at {i}"));
        };
        *i += 2;
        cursor.x = cursor.x.wrapping_add(unzigzag(*dx));
        cursor.y = cursor.y.wrapping_add(unzigzag(*dy));
        Ok(*cursor)
    };
    while i < commands.len() {
        let id = commands[i] & 0x7;
        let count = (commands[i] >> 3) as usize;
        i += 1;
        match id {
            MOVE_TO => {
                for _ in 0..count {
                    let p = read_point(&mut i, &mut cursor)?;
                    paths.push((vec![p], false));
                }
            }
            LINE_TO => {
                let Some((path, _)) = paths.last_mut() else {
                    return Err("LineTo before any MoveTo".to_owned());
                };
                for _ in 0..count {
                    path.push(read_point(&mut i, &mut cursor)?);
                }
            }
            CLOSE_PATH => {
                let Some((_, closed)) = paths.last_mut() else {
                    return Err("ClosePath before any MoveTo".to_owned());
                };
                *closed = true;
            }
            other => return Err(format!("unknown command {other}")),
        }
    }
    Ok(match kind {
        crate::proto::GeomType::Point => {
            GridGeometry::Points(paths.into_iter().flat_map(|(p, _)| p).collect())
        }
        crate::proto::GeomType::Linestring => {
            GridGeometry::Lines(paths.into_iter().map(|(p, _)| p).collect())
        }
        crate::proto::GeomType::Polygon => {
            let mut polygons: Vec<Vec<Vec<GridPoint>>> = Vec::new();
            for (ring, closed) in paths {
                if !closed {
                    return Err("a polygon ring without ClosePath".to_owned());
                }
                let area = grid_area(&ring);
                if area > 0.0 || polygons.is_empty() {
                    polygons.push(vec![ring]);
                } else if let Some(last) = polygons.last_mut() {
                    last.push(ring);
                }
            }
            GridGeometry::Polygons(polygons)
        }
        crate::proto::GeomType::Unknown => return Err("geometry type UNKNOWN".to_owned()),
    })
}

/// Twice the signed area of a decoded ring (positive: an exterior ring).
pub fn ring_area(ring: &[GridPoint]) -> f64 {
    grid_area(ring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::GeomType;

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    #[test]
    fn the_spec_examples_encode_as_written() {
        // MVT 2.1 spec, 4.3.5: a point at (25, 17).
        let point = TileGeometry::Points(vec![c(25.0, 17.0)]);
        assert_eq!(encode_commands(&point), Some(vec![9, 50, 34]));
        // A linestring (2,2) (2,10) (10,10).
        let line = TileGeometry::Lines(vec![vec![c(2.0, 2.0), c(2.0, 10.0), c(10.0, 10.0)]]);
        assert_eq!(
            encode_commands(&line),
            Some(vec![9, 4, 4, 18, 0, 16, 16, 0])
        );
        // A polygon (3,6) (8,12) (20,34): exterior, clockwise on screen.
        let polygon =
            TileGeometry::Polygons(vec![vec![vec![c(3.0, 6.0), c(8.0, 12.0), c(20.0, 34.0)]]]);
        assert_eq!(
            encode_commands(&polygon),
            Some(vec![9, 6, 12, 18, 10, 12, 24, 44, 15])
        );
    }

    #[test]
    fn rings_are_oriented_and_degenerate_ones_dropped() {
        // Counter-clockwise on screen exterior: reversed.
        let ring = vec![c(0.0, 0.0), c(0.0, 10.0), c(10.0, 10.0), c(10.0, 0.0)];
        let polygon = TileGeometry::Polygons(vec![vec![ring.clone(), ring]]);
        let commands = encode_commands(&polygon).expect("a polygon");
        let GridGeometry::Polygons(decoded) =
            decode_commands(GeomType::Polygon, &commands).expect("decodes")
        else {
            panic!("polygons expected");
        };
        assert_eq!(decoded.len(), 1);
        assert!(ring_area(&decoded[0][0]) > 0.0);
        assert!(ring_area(&decoded[0][1]) < 0.0);
        // Collapses to a line once rounded: nothing written.
        let thin = vec![c(0.0, 0.0), c(5.0, 0.2), c(10.0, 0.1)];
        assert_eq!(
            encode_commands(&TileGeometry::Polygons(vec![vec![thin]])),
            None
        );
        let short = TileGeometry::Lines(vec![vec![c(1.0, 1.0), c(1.2, 0.9)]]);
        assert_eq!(encode_commands(&short), None);
    }

    #[test]
    fn lines_leaving_and_reentering_make_parts() {
        let rect = [0.0, 0.0, 10.0, 10.0];
        let line = [
            c(-5.0, 5.0),
            c(5.0, 5.0),
            c(15.0, 5.0),
            c(15.0, 8.0),
            c(5.0, 8.0),
        ];
        let parts = clip_line(&line, rect);
        assert_eq!(
            parts,
            vec![
                vec![c(0.0, 5.0), c(5.0, 5.0), c(10.0, 5.0)],
                vec![c(10.0, 8.0), c(5.0, 8.0)]
            ]
        );
        assert!(clip_line(&[c(20.0, 20.0), c(30.0, 30.0)], rect).is_empty());
    }

    #[test]
    fn rings_are_clipped_to_the_rectangle() {
        let rect = [0.0, 0.0, 10.0, 10.0];
        let square = [c(-5.0, -5.0), c(5.0, -5.0), c(5.0, 5.0), c(-5.0, 5.0)];
        let clipped = clip_ring(&square, rect);
        assert!((signed_area(&clipped).abs() / 2.0 - 25.0).abs() < 1e-9);
        assert!(clip_ring(&[c(20.0, 20.0), c(30.0, 20.0), c(30.0, 30.0)], rect).is_empty());
    }

    #[test]
    fn zigzag_round_trips() {
        for n in [0, 1, -1, 2, -2, 4096, -4096, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(n)), n);
        }
    }

    mod properties {
        use super::*;
        use geo::{Area, BooleanOps, Distance, Euclidean};
        use proptest::prelude::*;

        fn star(cx: f64, cy: f64, radii: &[f64]) -> Vec<Coord<f64>> {
            let n = radii.len();
            radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    c(cx + r * a.cos(), cy + r * a.sin())
                })
                .collect()
        }

        proptest! {
            /// Clipped rings cover exactly the part of the polygon inside the rectangle
            /// (geo's exact boolean intersection as the reference).
            #[test]
            fn ring_clipping_keeps_the_inside_area(
                cx in -50.0..150.0f64, cy in -50.0..150.0f64,
                radii in prop::collection::vec(5.0..120.0f64, 3..40),
            ) {
                let rect = [0.0, 0.0, 100.0, 100.0];
                let ring = star(cx, cy, &radii);
                let clipped = clip_ring(&ring, rect);
                let mut closed = ring.clone();
                closed.push(ring[0]);
                let polygon = geo_types::Polygon::new(LineString::new(closed), vec![]);
                let square = geo_types::Rect::new(c(0.0, 0.0), c(100.0, 100.0)).to_polygon();
                let expected = polygon.intersection(&square).unsigned_area();
                let got = signed_area(&clipped).abs() / 2.0;
                prop_assert!((got - expected).abs() < 1e-6 * (1.0 + expected), "{got} vs {expected}");
                for p in &clipped {
                    prop_assert!(p.x >= -1e-9 && p.x <= 100.0 + 1e-9 && p.y >= -1e-9 && p.y <= 100.0 + 1e-9);
                }
            }

            /// Every point of the line inside the rectangle is on a clipped part, and every
            /// clipped vertex is on the line and inside the rectangle (sampling as brute force).
            #[test]
            fn line_clipping_keeps_the_inside_points(
                coords in prop::collection::vec((-60.0..160.0f64, -60.0..160.0f64), 2..12),
            ) {
                let rect = [0.0, 0.0, 100.0, 100.0];
                let line: Vec<Coord<f64>> = coords.iter().map(|(x, y)| c(*x, *y)).collect();
                let parts = clip_line(&line, rect);
                let source = LineString::new(line.clone());
                let clipped: Vec<LineString<f64>> =
                    parts.iter().map(|p| LineString::new(p.clone())).collect();
                for part in &parts {
                    prop_assert!(part.len() >= 2);
                    for p in part {
                        prop_assert!(p.x >= -1e-9 && p.x <= 100.0 + 1e-9 && p.y >= -1e-9 && p.y <= 100.0 + 1e-9);
                        let d = Euclidean.distance(&geo_types::Point(*p), &source);
                        prop_assert!(d < 1e-6, "clipped vertex {p:?} is {d} off the line");
                    }
                }
                for w in line.windows(2) {
                    for k in 0..=20 {
                        let t = f64::from(k) / 20.0;
                        let p = c(w[0].x + t * (w[1].x - w[0].x), w[0].y + t * (w[1].y - w[0].y));
                        let inside = p.x > 1e-6 && p.x < 100.0 - 1e-6 && p.y > 1e-6 && p.y < 100.0 - 1e-6;
                        if inside {
                            let d = clipped
                                .iter()
                                .map(|l| Euclidean.distance(&geo_types::Point(p), l))
                                .fold(f64::INFINITY, f64::min);
                            prop_assert!(d < 1e-6, "{p:?} inside but {d} from the clipped parts");
                        }
                    }
                }
            }

            /// Polygons round-trip through the command stream: the decoded rings are the
            /// rounded input rings, exteriors positive and holes negative.
            #[test]
            fn polygons_round_trip_on_the_grid(
                cx in 1000.0..3000.0f64, cy in 1000.0..3000.0f64,
                radii in prop::collection::vec(300.0..900.0f64, 3..30),
                reversed in any::<bool>(),
            ) {
                let mut exterior = star(cx, cy, &radii);
                if reversed {
                    exterior.reverse();
                }
                let hole = star(cx, cy, &[100.0, 120.0, 110.0, 90.0]);
                let geometry = TileGeometry::Polygons(vec![vec![exterior.clone(), hole]]);
                let commands = encode_commands(&geometry).expect("a polygon");
                let GridGeometry::Polygons(decoded) =
                    decode_commands(crate::proto::GeomType::Polygon, &commands).expect("decodes")
                else {
                    panic!("polygons expected");
                };
                prop_assert_eq!(decoded.len(), 1);
                prop_assert_eq!(decoded[0].len(), 2);
                prop_assert!(ring_area(&decoded[0][0]) > 0.0);
                prop_assert!(ring_area(&decoded[0][1]) < 0.0);
                let mut expected = quantize(&exterior);
                if grid_area(&expected) < 0.0 {
                    expected.reverse();
                }
                let mut got = decoded[0][0].clone();
                // Same ring, maybe starting elsewhere after reversal.
                let start = got.iter().position(|p| *p == expected[0]).expect("same vertices");
                got.rotate_left(start);
                prop_assert_eq!(got, expected);
            }
        }
    }
}
