//! Map coordinates to pixels, clipped to the image plus a margin.
//!
//! tiny-skia draws what it is given, and a polygon of a whole country with coordinates a
//! million pixels away, a NaN, or 1e300, must neither panic nor cost time: rings are clipped
//! (Sutherland–Hodgman) and lines cut (per segment, Liang–Barsky) to a rectangle a margin wider
//! than the image — wider than any stroke, so the cut edges are never seen.

/// A point in pixels (x right, y down).
pub type Px = (f32, f32);

/// Map → pixel transform and the clip rectangle.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    min_x: f64,
    max_y: f64,
    res_x: f64,
    res_y: f64,
    /// Clip rectangle in pixels: [x0, y0, x1, y1].
    clip: [f64; 4],
}

impl Frame {
    /// The frame of an extent drawn in `width`×`height` pixels, clipping `margin` pixels out.
    pub fn new(extent: &crs::Bbox, width: u32, height: u32, margin: f64) -> Frame {
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        Frame {
            min_x: extent.min_x(),
            max_y: extent.max_y(),
            res_x: extent.width() / w,
            res_y: extent.height() / h,
            clip: [-margin, -margin, w + margin, h + margin],
        }
    }

    /// The same frame clipping `margin` pixels around the image instead.
    #[must_use]
    pub fn with_margin(&self, margin: f64) -> Frame {
        let (w, h) = (self.clip[2] + self.clip[0], self.clip[3] + self.clip[1]);
        Frame {
            clip: [-margin, -margin, w + margin, h + margin],
            ..*self
        }
    }

    /// A point in pixels (unclipped; may be far outside or not finite).
    pub fn pixel(&self, x: f64, y: f64) -> (f64, f64) {
        ((x - self.min_x) / self.res_x, (self.max_y - y) / self.res_y)
    }

    /// A ring in pixels, clipped to the frame; empty when nothing of it is inside or it is
    /// degenerate (fewer than 3 distinct points, a non-finite coordinate).
    pub fn ring(&self, coords: &[geo_types::Coord<f64>]) -> Vec<Px> {
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(coords.len());
        for c in coords {
            let p = self.pixel(c.x, c.y);
            if !(p.0.is_finite() && p.1.is_finite()) {
                return Vec::new();
            }
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
        if points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        if points.len() < 3 {
            return Vec::new();
        }
        let [x0, y0, x1, y1] = self.clip;
        let inside_all = points
            .iter()
            .all(|&(x, y)| x >= x0 && x <= x1 && y >= y0 && y <= y1);
        let clipped = if inside_all {
            points
        } else {
            let mut ring = points;
            for edge in 0..4 {
                ring = clip_edge(&ring, edge, self.clip);
                if ring.len() < 3 {
                    return Vec::new();
                }
            }
            ring
        };
        clipped
            .into_iter()
            .map(|(x, y)| (x as f32, y as f32))
            .collect()
    }

    /// A line in pixels, cut into the pieces inside the frame (each of at least 2 points).
    pub fn line(&self, coords: &[geo_types::Coord<f64>]) -> Vec<Vec<Px>> {
        let mut pieces: Vec<Vec<Px>> = Vec::new();
        let mut current: Vec<Px> = Vec::new();
        let mut previous: Option<(f64, f64)> = None;
        for c in coords {
            let p = self.pixel(c.x, c.y);
            if !(p.0.is_finite() && p.1.is_finite()) {
                flush(&mut pieces, &mut current);
                previous = None;
                continue;
            }
            if let Some(a) = previous {
                if a == p {
                    continue;
                }
                match clip_segment(a, p, self.clip) {
                    Some((s, e, s_cut, e_cut)) => {
                        if s_cut || current.is_empty() {
                            flush(&mut pieces, &mut current);
                            current.push((s.0 as f32, s.1 as f32));
                        }
                        current.push((e.0 as f32, e.1 as f32));
                        if e_cut {
                            flush(&mut pieces, &mut current);
                        }
                    }
                    None => flush(&mut pieces, &mut current),
                }
            }
            previous = Some(p);
        }
        flush(&mut pieces, &mut current);
        pieces
    }

    /// Whether a pixel point is inside the frame.
    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        let [x0, y0, x1, y1] = self.clip;
        x.is_finite() && y.is_finite() && x >= x0 && x <= x1 && y >= y0 && y <= y1
    }
}

fn flush(pieces: &mut Vec<Vec<Px>>, current: &mut Vec<Px>) {
    if current.len() >= 2 {
        pieces.push(std::mem::take(current));
    } else {
        current.clear();
    }
}

/// One Sutherland–Hodgman step: keep the part of `ring` inside edge `edge` (0 left, 1 top,
/// 2 right, 3 bottom) of `clip`.
fn clip_edge(ring: &[(f64, f64)], edge: usize, clip: [f64; 4]) -> Vec<(f64, f64)> {
    let inside = |p: (f64, f64)| match edge {
        0 => p.0 >= clip[0],
        1 => p.1 >= clip[1],
        2 => p.0 <= clip[2],
        _ => p.1 <= clip[3],
    };
    // The crossing lies exactly on the clip line; the other coordinate follows the edge's
    // slope (not `a + t·(b − a)`, which loses everything to rounding with 1e300 coordinates).
    let cross = |a: (f64, f64), b: (f64, f64)| -> (f64, f64) {
        let along = |c: f64, a0: f64, a1: f64, b0: f64, b1: f64| -> f64 {
            let slope = (b1 - a1) / (b0 - a0);
            let v = a1 + (c - a0) * slope;
            if v.is_finite() {
                v.clamp(-1e15, 1e15)
            } else {
                a1.clamp(-1e15, 1e15)
            }
        };
        match edge {
            0 => (clip[0], along(clip[0], a.0, a.1, b.0, b.1)),
            2 => (clip[2], along(clip[2], a.0, a.1, b.0, b.1)),
            1 => (along(clip[1], a.1, a.0, b.1, b.0), clip[1]),
            _ => (along(clip[3], a.1, a.0, b.1, b.0), clip[3]),
        }
    };
    let mut out = Vec::with_capacity(ring.len() + 4);
    let Some(&last) = ring.last() else {
        return out;
    };
    let mut a = last;
    for &b in ring {
        match (inside(a), inside(b)) {
            (true, true) => out.push(b),
            (true, false) => out.push(cross(a, b)),
            (false, true) => {
                out.push(cross(a, b));
                out.push(b);
            }
            (false, false) => {}
        }
        a = b;
    }
    out
}

/// Liang–Barsky: the part of segment a→b inside `clip`, and whether each end was cut.
/// A clipped segment: start, end, and whether each was cut.
type Clipped = ((f64, f64), (f64, f64), bool, bool);

fn clip_segment(a: (f64, f64), b: (f64, f64), clip: [f64; 4]) -> Option<Clipped> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [
        (-dx, a.0 - clip[0]),
        (dx, clip[2] - a.0),
        (-dy, a.1 - clip[1]),
        (dy, clip[3] - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return None;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return None;
                }
                t1 = t1.min(r);
            }
        }
    }
    // Rounding with huge coordinates may leave the ends a little outside: pull them in.
    let inside = |p: (f64, f64)| (p.0.clamp(clip[0], clip[2]), p.1.clamp(clip[1], clip[3]));
    let start = inside((a.0 + t0 * dx, a.1 + t0 * dy));
    let end = inside((a.0 + t1 * dx, a.1 + t1 * dy));
    Some((start, end, t0 > 0.0, t1 < 1.0))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use geo_types::Coord;
    use proptest::prelude::*;

    fn frame() -> Frame {
        Frame::new(
            &crs::Bbox::new(0.0, 0.0, 100.0, 100.0).unwrap(),
            100,
            100,
            10.0,
        )
    }

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    #[test]
    fn rings_inside_are_kept_and_huge_ones_clipped() {
        let f = frame();
        let ring = f.ring(&[c(10.0, 10.0), c(20.0, 10.0), c(20.0, 20.0), c(10.0, 10.0)]);
        assert_eq!(ring.len(), 3);
        assert_eq!(ring[0], (10.0, 90.0));
        let huge = f.ring(&[
            c(-1e300, -1e300),
            c(1e300, -1e300),
            c(1e300, 1e300),
            c(-1e300, 1e300),
        ]);
        assert!(huge.len() >= 4);
        for (x, y) in huge {
            assert!(
                (-10.0..=110.0).contains(&x) && (-10.0..=110.0).contains(&y),
                "{x},{y}"
            );
        }
        assert!(f
            .ring(&[c(0.0, 0.0), c(f64::NAN, 1.0), c(3.0, 3.0)])
            .is_empty());
        assert!(f.ring(&[c(1.0, 1.0), c(1.0, 1.0), c(1.0, 1.0)]).is_empty());
        assert!(f
            .ring(&[c(500.0, 500.0), c(600.0, 500.0), c(600.0, 600.0)])
            .is_empty());
    }

    #[test]
    fn a_triangle_of_huge_coordinates_around_the_frame_clips_to_the_frame() {
        let f = frame();
        let around = f.ring(&[
            c(-1e300, -1e300),
            c(1e300, -1e300),
            c(50.0, 1e300),
            c(-1e300, -1e300),
        ]);
        let xs: Vec<f32> = around.iter().map(|p| p.0).collect();
        let ys: Vec<f32> = around.iter().map(|p| p.1).collect();
        let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
        let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert!(min(&xs) <= -10.0 && max(&xs) >= 110.0, "{around:?}");
        assert!(min(&ys) <= -10.0 && max(&ys) >= 110.0, "{around:?}");
    }

    #[test]
    fn lines_are_cut_into_visible_pieces() {
        let f = frame();
        // In, out far away, back in: two pieces.
        let pieces = f.line(&[
            c(10.0, 50.0),
            c(50.0, 50.0),
            c(5000.0, 50.0),
            c(5000.0, 60.0),
            c(50.0, 60.0),
            c(20.0, 60.0),
        ]);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(pieces[0].first(), Some(&(10.0, 50.0)));
        assert_eq!(pieces[0].last(), Some(&(110.0, 50.0)));
        assert_eq!(pieces[1].first(), Some(&(110.0, 40.0)));
        assert!(f.line(&[c(1.0, 1.0)]).is_empty());
        assert!(f.line(&[c(1.0, 1.0), c(1.0, 1.0)]).is_empty());
    }

    proptest! {
        #[test]
        fn clipped_output_always_lies_in_the_frame(points in prop::collection::vec((-1e7f64..1e7, -1e7f64..1e7), 0..20)) {
            let f = frame();
            let coords: Vec<Coord<f64>> = points.iter().map(|&(x, y)| c(x, y)).collect();
            for (x, y) in f.ring(&coords).into_iter().chain(f.line(&coords).into_iter().flatten()) {
                prop_assert!((-10.001..=110.001).contains(&f64::from(x)) && (-10.001..=110.001).contains(&f64::from(y)));
            }
        }

        #[test]
        fn segment_clipping_matches_brute_force_sampling(ax in -300f64..300.0, ay in -300f64..300.0, bx in -300f64..300.0, by in -300f64..300.0) {
            let clip = [-10.0, -10.0, 110.0, 110.0];
            let inside = |p: (f64, f64)| p.0 >= clip[0] - 1e-9 && p.0 <= clip[2] + 1e-9 && p.1 >= clip[1] - 1e-9 && p.1 <= clip[3] + 1e-9;
            let samples: Vec<(f64, f64)> = (0..=200).map(|k| {
                let t = f64::from(k) / 200.0;
                (ax + t * (bx - ax), ay + t * (by - ay))
            }).collect();
            let any_inside = samples.iter().any(|p| inside(*p));
            match clip_segment((ax, ay), (bx, by), clip) {
                Some((s, e, _, _)) => {
                    prop_assert!(inside(s) && inside(e));
                    prop_assert!(inside((s.0.midpoint(e.0), s.1.midpoint(e.1))));
                }
                None => prop_assert!(!any_inside),
            }
        }
    }
}
