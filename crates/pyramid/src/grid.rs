//! The approximate transform shared by pyramid builds and WMS reads.
//!
//! Reprojecting every pixel centre of a tile or a map dominates both, so, as GDAL's warper
//! does, the exact transform runs on a grid of nodes (every [`GRID_STEP`] pixels) and the
//! pixels between are interpolated bilinearly — when the interpolation stays within
//! [`GRID_TOLERANCE`] source pixel of the exact transform at the centre of every cell;
//! otherwise the caller transforms every pixel exactly.

/// Grid step, in output pixels, of the approximate transform.
pub(crate) const GRID_STEP: u32 = 16;
/// Largest error, in source pixels, accepted from the approximate transform.
pub(crate) const GRID_TOLERANCE: f64 = 0.125;

/// The source positions of the `w`×`h` pixels (row-major) interpolated on the grid whose
/// node columns are `xs` and node rows `ys` (every [`GRID_STEP`] pixels, ascending);
/// `centre(i, j)` is the point of pixel (i, j), `to_pixel` carries points into source pixels
/// (`None` where they have no image). `None` when the grid cannot be used or is not precise
/// enough.
pub(crate) fn interpolated(
    w: u32,
    h: u32,
    xs: &[u32],
    ys: &[u32],
    centre: impl Fn(f64, f64) -> (f64, f64),
    to_pixel: impl Fn(&mut [(f64, f64)]) -> Vec<Option<(f64, f64)>>,
) -> Option<Vec<Option<(f64, f64)>>> {
    if xs.len() < 2 || ys.len() < 2 {
        return None;
    }
    let mut grid_points: Vec<(f64, f64)> = ys
        .iter()
        .flat_map(|&j| xs.iter().map(move |&i| (i, j)))
        .map(|(i, j)| centre(f64::from(i), f64::from(j)))
        .collect();
    let grid: Vec<(f64, f64)> = to_pixel(&mut grid_points)
        .into_iter()
        .collect::<Option<_>>()?;
    let gw = xs.len();
    let cell = |nodes: &[u32], p: u32| -> usize { ((p / GRID_STEP) as usize).min(nodes.len() - 2) };
    let interpolate = |i: u32, j: u32| -> (f64, f64) {
        let (gi, gj) = (cell(xs, i), cell(ys, j));
        let fx = f64::from(i - xs[gi]) / f64::from(xs[gi + 1] - xs[gi]);
        let fy = f64::from(j - ys[gj]) / f64::from(ys[gj + 1] - ys[gj]);
        let at = |a: usize, b: usize| grid[b * gw + a];
        let (p00, p10, p01, p11) = (
            at(gi, gj),
            at(gi + 1, gj),
            at(gi, gj + 1),
            at(gi + 1, gj + 1),
        );
        let mix = |a: f64, b: f64, c: f64, d: f64| {
            (a * (1.0 - fx) + b * fx) * (1.0 - fy) + (c * (1.0 - fx) + d * fx) * fy
        };
        (
            mix(p00.0, p10.0, p01.0, p11.0),
            mix(p00.1, p10.1, p01.1, p11.1),
        )
    };
    // Check the interpolation at the centre of every cell.
    let mut probes = Vec::with_capacity((xs.len() - 1) * (ys.len() - 1));
    for gj in 0..ys.len() - 1 {
        for gi in 0..xs.len() - 1 {
            probes.push((xs[gi].midpoint(xs[gi + 1]), ys[gj].midpoint(ys[gj + 1])));
        }
    }
    let mut probe_points: Vec<(f64, f64)> = probes
        .iter()
        .map(|&(i, j)| centre(f64::from(i), f64::from(j)))
        .collect();
    let probe_exact = to_pixel(&mut probe_points);
    for (&(i, j), exact_pixel) in probes.iter().zip(&probe_exact) {
        let (u, v) = (*exact_pixel)?;
        let (iu, iv) = interpolate(i, j);
        if (iu - u).abs() > GRID_TOLERANCE || (iv - v).abs() > GRID_TOLERANCE {
            return None;
        }
    }
    Some(
        (0..h)
            .flat_map(|j| (0..w).map(move |i| (i, j)))
            .map(|(i, j)| Some(interpolate(i, j)))
            .collect(),
    )
}
