//! Reading a pyramid into any map: the pixels of a bbox of any CRS at any size.
//!
//! WMS serves pyramids as images of the client's choosing — another CRS, a size between two
//! levels. As MapServer and GDAL do, the level read is the coarsest at least as fine as the
//! request (so the image is made by downsampling real pixels), the output pixel centres are
//! carried into the pyramid's CRS through an exact transform on a coarse grid checked to stay
//! within an eighth of a source pixel of the exact one, and each is resampled (nearest,
//! bilinear or bicubic) from a window assembled from the tiles under the map. Only the tiles
//! under the map are decoded, each once.

use std::ops::RangeInclusive;

use crs::{Bbox, Crs, Transformer};

use crate::build::{floor, sample, Interpolation};
use crate::grid::GRID_STEP;
use crate::matrix::CornerOfOrigin;
use crate::source::Window;
use crate::store::{Level, Pyramid};
use crate::tile::Samples;
use crate::{PyramidError, TileMatrix};

/// What to read.
#[derive(Debug, Clone)]
pub struct WarpRequest<'a> {
    /// The map's CRS.
    pub crs: &'a Crs,
    /// The map's extent in `crs`, x/y (east/north) order.
    pub bbox: &'a Bbox,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Resampling.
    pub interpolation: Interpolation,
    /// The levels (tile matrix indices, 0 = coarsest) the read may use.
    pub levels: RangeInclusive<u32>,
}

/// Pixels read from a pyramid: interleaved `f32` samples, rows top to bottom; a pixel without
/// data has `NaN` in every band.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bands per pixel.
    pub channels: u8,
    /// Samples, `width × height × channels`.
    pub data: Vec<f32>,
    /// The tile matrix read.
    pub level: String,
}

impl Raster {
    /// The samples of one band, row-major (`NaN` where there is no data).
    pub fn band(&self, band: usize) -> Vec<f32> {
        let n = usize::from(self.channels);
        self.data.iter().skip(band).step_by(n).copied().collect()
    }

    /// Whether some pixel holds data.
    pub fn has_data(&self) -> bool {
        let n = usize::from(self.channels).max(1);
        self.data.iter().step_by(n).any(|v| !v.is_nan())
    }
}

/// The value of every band at one point, and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct PointValue {
    /// Band values; empty when the pyramid holds no data there.
    pub values: Vec<f64>,
    /// The tile matrix read.
    pub level: String,
    /// The point in the pyramid's CRS (east, north).
    pub position: (f64, f64),
}

/// Largest window read for one map, per side, in pyramid pixels; a map needing more (extreme
/// reprojection distortion) reads a coarser level.
const MAX_WINDOW: i64 = 8192;

impl Pyramid {
    /// The pixels of a map; `Ok(None)` when the pyramid holds no data under it.
    pub fn warp(&self, request: &WarpRequest<'_>) -> Result<Option<Raster>, PyramidError> {
        if request.width == 0 || request.height == 0 {
            return Ok(None);
        }
        let to_pyramid = transformer(request.crs, self.tile_matrix_set().crs())?;
        let Some(mut level) = self.level_for(&to_pyramid, request) else {
            return Ok(None);
        };
        let interpolation = request.interpolation;
        loop {
            let matrix = self.matrix(level).ok_or_else(|| no_matrix(level))?;
            let pixels = source_pixels(&to_pyramid, matrix, request);
            let Some((c0, r0, c1, r1)) = window_bounds(&pixels, matrix, level, interpolation)
            else {
                return Ok(None);
            };
            if c1 - c0 > MAX_WINDOW || r1 - r0 > MAX_WINDOW {
                match self.coarser_level(level, &request.levels) {
                    Some(coarser) => {
                        level = coarser;
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            let window = self.window(level, matrix, c0, r0, c1, r1)?;
            let channels = self.channels();
            let n = usize::from(channels);
            let mut data = vec![f32::NAN; pixels.len() * n];
            let mut any = false;
            for (k, p) in pixels.iter().enumerate() {
                let Some((u, v)) = p else { continue };
                if let Some(values) = sample(&window, *u, *v, interpolation) {
                    data[k * n..(k + 1) * n].copy_from_slice(&values[..n]);
                    any = true;
                }
            }
            if !any {
                return Ok(None);
            }
            return Ok(Some(Raster {
                width: request.width,
                height: request.height,
                channels,
                data,
                level: level.id().to_owned(),
            }));
        }
    }

    /// The stored values at the centre of pixel (`i`, `j`) of a map (GetFeatureInfo on a WMS
    /// map): read from the level the map itself would be read from, nearest pixel, exact.
    pub fn value_at(
        &self,
        request: &WarpRequest<'_>,
        i: u32,
        j: u32,
    ) -> Result<Option<PointValue>, PyramidError> {
        let to_pyramid = transformer(request.crs, self.tile_matrix_set().crs())?;
        let Some(level) = self.level_for(&to_pyramid, request) else {
            return Ok(None);
        };
        let matrix = self.matrix(level).ok_or_else(|| no_matrix(level))?;
        let res_x = request.bbox.width() / f64::from(request.width);
        let res_y = request.bbox.height() / f64::from(request.height);
        let mut point = [(
            request.bbox.min_x() + (f64::from(i) + 0.5) * res_x,
            request.bbox.max_y() - (f64::from(j) + 0.5) * res_y,
        )];
        if to_pyramid.transform_points(&mut point).is_err()
            || !point[0].0.is_finite()
            || !point[0].1.is_finite()
        {
            return Ok(None);
        }
        let (x, y) = point[0];
        let mut values = Vec::new();
        if let Some(at) = matrix.point_to_tile(x, y) {
            if level.contains(at.tile.col(), at.tile.row()) {
                if let Some(tile) = self.read_pixels(at.tile)? {
                    let pixel = tile.pixel(at.i, at.j).unwrap_or_default();
                    if !self.is_nodata(&pixel) {
                        values = pixel;
                    }
                }
            }
        }
        Ok(Some(PointValue {
            values,
            level: level.id().to_owned(),
            position: (x, y),
        }))
    }

    /// Whether a pixel's values are the no-data value (every band equal to its no-data).
    fn is_nodata(&self, pixel: &[f64]) -> bool {
        let nodata = self.nodata();
        !nodata.is_empty()
            && pixel.iter().zip(nodata).all(|(v, n)| {
                (v.is_nan() && n.is_nan()) || (v - n).abs() <= f64::EPSILON * n.abs().max(1.0)
            })
    }

    /// The pyramid level of the tile matrix best suited to a map: the coarsest at least as fine
    /// as the map's resolution (measured at its centre, in the pyramid's CRS), among the
    /// request's levels that the pyramid stores.
    fn level_for(&self, to_pyramid: &Transformer, request: &WarpRequest<'_>) -> Option<&Level> {
        let stored: Vec<&Level> = self
            .levels()
            .iter()
            .filter(|l| request.levels.contains(&l.matrix_index()))
            .collect();
        if stored.is_empty() {
            return None;
        }
        let resolution = map_resolution(to_pyramid, request)?;
        let first = stored[0].matrix_index();
        let last = stored[stored.len() - 1].matrix_index();
        let tms = self.tile_matrix_set();
        let best = tms.best_matrix_for_resolution_in(resolution, first..=last)?;
        // The stored level nearest to the best matrix, finer first.
        stored
            .iter()
            .find(|l| l.matrix_index() >= best.level())
            .or_else(|| stored.last())
            .copied()
    }

    fn coarser_level(&self, level: &Level, levels: &RangeInclusive<u32>) -> Option<&Level> {
        self.levels()
            .iter()
            .rev()
            .find(|l| l.matrix_index() < level.matrix_index() && levels.contains(&l.matrix_index()))
    }

    /// The pyramid pixels of columns `c0..=c1` and rows `r0..=r1` (counted from the matrix's
    /// top edge), no-data and missing tiles as `NaN`.
    fn window(
        &self,
        level: &Level,
        matrix: &TileMatrix,
        c0: i64,
        r0: i64,
        c1: i64,
        r1: i64,
    ) -> Result<Window, PyramidError> {
        let (tw, th) = (
            i64::from(matrix.tile_width()),
            i64::from(matrix.tile_height()),
        );
        let width = (c1 - c0 + 1) as usize;
        let height = (r1 - r0 + 1) as usize;
        let n = usize::from(self.channels());
        let mut data = vec![f32::NAN; width * height * n];
        let nodata: Vec<f32> = self.nodata().iter().map(|v| *v as f32).collect();
        for display_row in r0.div_euclid(th)..=r1.div_euclid(th) {
            let row = match matrix.corner_of_origin() {
                CornerOfOrigin::TopLeft => display_row,
                CornerOfOrigin::BottomLeft => i64::from(matrix.matrix_height()) - 1 - display_row,
            };
            for col in c0.div_euclid(tw)..=c1.div_euclid(tw) {
                let Ok(tile) = matrix.tile(col, row) else {
                    continue;
                };
                if !level.contains(tile.col(), tile.row()) {
                    continue;
                }
                let Some(image) = self.read_pixels(tile)? else {
                    continue;
                };
                // Copy the part of the tile inside the window.
                let (tx0, ty0) = (col * tw, display_row * th);
                let (x_from, x_to) = (c0.max(tx0), c1.min(tx0 + tw - 1));
                let (y_from, y_to) = (r0.max(ty0), r1.min(ty0 + th - 1));
                for y in y_from..=y_to {
                    for x in x_from..=x_to {
                        let src = ((y - ty0) as usize * tw as usize + (x - tx0) as usize) * n;
                        let dst = ((y - r0) as usize * width + (x - c0) as usize) * n;
                        let pixel = &mut data[dst..dst + n];
                        match image.samples() {
                            Samples::U8(s) => {
                                for (p, v) in pixel.iter_mut().zip(&s[src..src + n]) {
                                    *p = f32::from(*v);
                                }
                            }
                            Samples::F32(s) => pixel.copy_from_slice(&s[src..src + n]),
                        }
                        let is_nodata = !nodata.is_empty()
                            && pixel
                                .iter()
                                .zip(&nodata)
                                .all(|(v, d)| v.to_bits() == d.to_bits() || v.is_nan());
                        if is_nodata {
                            pixel.fill(f32::NAN);
                        }
                    }
                }
            }
        }
        Ok(Window {
            col0: c0,
            row0: r0,
            width: width as u32,
            height: height as u32,
            channels: self.channels(),
            data,
        })
    }
}

fn transformer(from: &Crs, to: &Crs) -> Result<Transformer, PyramidError> {
    Transformer::new(from, to).map_err(|e| PyramidError::Build {
        reason: format!("cannot reproject from {from} to {to}: {e}"),
    })
}

fn no_matrix(level: &Level) -> PyramidError {
    PyramidError::Build {
        reason: format!("level {} has no tile matrix", level.id()),
    }
}

/// The map's resolution in the pyramid's CRS units, from the pixel at its centre (where
/// reprojection distorts least); `None` when the centre cannot be reprojected.
fn map_resolution(to_pyramid: &Transformer, request: &WarpRequest<'_>) -> Option<f64> {
    let bbox = request.bbox;
    let res_x = bbox.width() / f64::from(request.width);
    let res_y = bbox.height() / f64::from(request.height);
    let (cx, cy) = (
        bbox.min_x() + bbox.width() / 2.0,
        bbox.min_y() + bbox.height() / 2.0,
    );
    let mut points = [(cx, cy), (cx + res_x, cy), (cx, cy + res_y)];
    to_pyramid.transform_points(&mut points).ok()?;
    if points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return None;
    }
    let d = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).hypot(a.1 - b.1);
    let along_x = d(points[0], points[1]);
    let along_y = d(points[0], points[2]);
    let resolution = along_x.min(along_y);
    (resolution.is_finite() && resolution > 0.0).then_some(resolution)
}

/// The continuous pixel coordinates, in the matrix (columns from its west edge, rows from its
/// top edge), of every output pixel centre (row-major); `None` where the point has no image.
fn source_pixels(
    to_pyramid: &Transformer,
    matrix: &TileMatrix,
    request: &WarpRequest<'_>,
) -> Vec<Option<(f64, f64)>> {
    let (w, h) = (request.width, request.height);
    let bbox = request.bbox;
    let res_x = bbox.width() / f64::from(w);
    let res_y = bbox.height() / f64::from(h);
    let (left, top) = matrix.top_left();
    let res = matrix.resolution();
    let centre = |i: f64, j: f64| {
        (
            bbox.min_x() + (i + 0.5) * res_x,
            bbox.max_y() - (j + 0.5) * res_y,
        )
    };
    let to_pixel = |points: &mut [(f64, f64)]| -> Vec<Option<(f64, f64)>> {
        if !to_pyramid.is_identity() {
            let _ = to_pyramid.transform_points(points);
        }
        points
            .iter()
            .map(|&(x, y)| {
                (x.is_finite() && y.is_finite()).then(|| ((x - left) / res, (top - y) / res))
            })
            .collect()
    };
    let exact = || {
        let mut points: Vec<(f64, f64)> = (0..h)
            .flat_map(|j| (0..w).map(move |i| centre(f64::from(i), f64::from(j))))
            .collect();
        to_pixel(&mut points)
    };
    if to_pyramid.is_identity() || request.interpolation == Interpolation::Nearest {
        // Nearest keeps values exact: every pixel is placed with the exact transform.
        return exact();
    }
    // Grid nodes at every GRID_STEP pixels, and at the last pixel.
    let nodes = |n: u32| -> Vec<u32> {
        let mut v: Vec<u32> = (0..n).step_by(GRID_STEP as usize).collect();
        if v.last() != Some(&(n - 1)) {
            v.push(n - 1);
        }
        v
    };
    crate::grid::interpolated(w, h, &nodes(w), &nodes(h), centre, to_pixel).unwrap_or_else(exact)
}

/// The pixel window (first column, first row, last column, last row; rows from the matrix's
/// top edge) the samples need, within the level's tile limits; `None` if the map misses them.
fn window_bounds(
    pixels: &[Option<(f64, f64)>],
    matrix: &TileMatrix,
    level: &Level,
    interpolation: Interpolation,
) -> Option<(i64, i64, i64, i64)> {
    let r = interpolation.radius();
    let (mut c0, mut r0, mut c1, mut r1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for (u, v) in pixels.iter().flatten() {
        c0 = c0.min(floor(*u).saturating_sub(r));
        r0 = r0.min(floor(*v).saturating_sub(r));
        c1 = c1.max(floor(*u).saturating_add(r));
        r1 = r1.max(floor(*v).saturating_add(r));
    }
    let (tw, th) = (
        i64::from(matrix.tile_width()),
        i64::from(matrix.tile_height()),
    );
    let limits = level.limits();
    let (top_row, bottom_row) = match matrix.corner_of_origin() {
        CornerOfOrigin::TopLeft => (i64::from(limits.min_row), i64::from(limits.max_row)),
        CornerOfOrigin::BottomLeft => {
            let h = i64::from(matrix.matrix_height()) - 1;
            (h - i64::from(limits.max_row), h - i64::from(limits.min_row))
        }
    };
    c0 = c0.max(i64::from(limits.min_col) * tw);
    c1 = c1.min((i64::from(limits.max_col) + 1) * tw - 1);
    r0 = r0.max(top_row * th);
    r1 = r1.min((bottom_row + 1) * th - 1);
    (c0 <= c1 && r0 <= r1).then_some((c0, r0, c1, r1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::{PyramidSpec, PyramidWriter, TileFormat, TileImage, TileMatrixSets};

    fn tile(matrix: &TileMatrix, level: u32, col: u32, row: u32) -> TileImage {
        let coord = matrix.tile(i64::from(col), i64::from(row)).unwrap();
        let bbox = matrix.tile_bbox(coord);
        let res = matrix.resolution();
        let (tw, th) = (matrix.tile_width(), matrix.tile_height());
        let mut samples = Vec::with_capacity((tw * th) as usize);
        for j in 0..th {
            for i in 0..tw {
                let x = bbox.min_x() + (f64::from(i) + 0.5) * res;
                let y = bbox.max_y() - (f64::from(j) + 0.5) * res;
                // South of -60° is no data.
                samples.push(if y < -60.0 {
                    -99999.0
                } else {
                    (x.floor() * 1000.0 + y.floor() + f64::from(level) * 1e6) as f32
                });
            }
        }
        TileImage::new(tw, th, 1, Samples::F32(samples)).unwrap()
    }

    /// A one-level-per-matrix WorldCRS84Quad float pyramid whose pixel value is a function of
    /// its position, levels 0–3.
    fn pyramid(dir: &std::path::Path) -> Pyramid {
        let sets = TileMatrixSets::builtin();
        let tms = sets.get("WorldCRS84Quad").unwrap().clone();
        let mut writer = PyramidWriter::new(
            dir,
            tms.clone(),
            PyramidSpec {
                format: TileFormat::ZipFloat32,
                channels: 1,
                nodata: vec![-99999.0],
                interpolation: "nn".to_owned(),
                slab_size: (4, 4),
                path_depth: 2,
            },
        )
        .unwrap();
        for level in 0..=3u32 {
            let matrix = tms.matrix_at(level).unwrap().clone();
            let (w, h) = (matrix.matrix_width(), matrix.matrix_height());
            let limits = crate::TileLimits {
                min_col: 0,
                max_col: w - 1,
                min_row: 0,
                max_row: h - 1,
            };
            writer.add_level(matrix.id(), limits).unwrap();
            for slab_row in 0..h.div_ceil(4) {
                for slab_col in 0..w.div_ceil(4) {
                    writer
                        .write_slab(matrix.id(), slab_col, slab_row, |col, row| {
                            Ok(Some(tile(&matrix, level, col, row)))
                        })
                        .unwrap();
                }
            }
        }
        writer.finish().unwrap();
        Pyramid::open(
            &dir.join("pyramid.json"),
            &sets,
            crate::CacheLimits::default(),
        )
        .unwrap()
    }

    #[test]
    fn identity_nearest_reads_the_exact_values_of_the_best_level() {
        let dir = tempfile::tempdir().unwrap();
        let p = pyramid(dir.path());
        let crs84 = Crs::crs84();
        // 0.125°/px: level 3 (0.0879°/px) is the coarsest at least as fine.
        let bbox = Bbox::new(2.0, 45.0, 4.0, 46.0).unwrap();
        let request = WarpRequest {
            crs: &crs84,
            bbox: &bbox,
            width: 16,
            height: 8,
            interpolation: Interpolation::Nearest,
            levels: 0..=3,
        };
        let raster = p.warp(&request).unwrap().unwrap();
        assert_eq!(raster.level, "3");
        assert_eq!(raster.data.len(), 16 * 8);
        // Pixel (0,0) centre (2.0625, 45.9375) falls in the level-3 pixel centred at
        // (2.065, 45.923) → 2000 + 45 + 3e6.
        assert_eq!(raster.data[0], 3_002_045.0);
        // Last pixel (3.9375, 45.0625) → level-3 pixel (3.911, 45.044).
        assert_eq!(raster.data[16 * 8 - 1], 3_003_045.0);
        let value = p.value_at(&request, 0, 0).unwrap().unwrap();
        assert_eq!(value.values, vec![3_002_045.0]);
        assert_eq!(value.level, "3");
    }

    /// Coordinates far beyond any matrix (a client's BBOX of ±1e300) read nothing and never
    /// overflow the pixel arithmetic.
    #[test]
    fn absurd_boxes_read_nothing_without_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let p = pyramid(dir.path());
        let crs84 = Crs::crs84();
        let mercator = Crs::parse("EPSG:3857").unwrap();
        for (crs, b) in [
            (&crs84, [-1e300, -1e300, 1e300, 1e300]),
            (&crs84, [1e15, 1e15, 1e300, 1e300]),
            (&mercator, [-1e20, -1e300, -180.0, 1e15]),
            (&mercator, [3.4e38, -1e20, 1e300, 0.0]),
        ] {
            let bbox = Bbox::new(b[0], b[1], b[2], b[3]).unwrap();
            for interpolation in [
                Interpolation::Nearest,
                Interpolation::Bilinear,
                Interpolation::Bicubic,
            ] {
                let request = WarpRequest {
                    crs,
                    bbox: &bbox,
                    width: 16,
                    height: 16,
                    interpolation,
                    levels: 0..=3,
                };
                p.warp(&request).unwrap();
                p.value_at(&request, 3, 3).unwrap();
            }
        }
        assert_eq!(super::floor(-1e300), i64::MIN);
        assert_eq!(super::floor(1e300), i64::MAX);
        assert_eq!(super::floor(-2.5), -3);
    }

    #[test]
    fn coarse_maps_read_coarse_levels_and_restricted_levels_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let p = pyramid(dir.path());
        let crs84 = Crs::crs84();
        let bbox = Bbox::new(-180.0, -90.0, 180.0, 90.0).unwrap();
        let mut request = WarpRequest {
            crs: &crs84,
            bbox: &bbox,
            width: 256,
            height: 128,
            interpolation: Interpolation::Bilinear,
            levels: 0..=3,
        };
        let raster = p.warp(&request).unwrap().unwrap();
        assert_eq!(raster.level, "0");
        request.levels = 2..=3;
        assert_eq!(p.warp(&request).unwrap().unwrap().level, "2");
    }

    #[test]
    fn nodata_and_areas_outside_the_data_are_nan() {
        let dir = tempfile::tempdir().unwrap();
        let p = pyramid(dir.path());
        let crs84 = Crs::crs84();
        let bbox = Bbox::new(0.0, -80.0, 10.0, -70.0).unwrap();
        let request = WarpRequest {
            crs: &crs84,
            bbox: &bbox,
            width: 16,
            height: 16,
            interpolation: Interpolation::Bicubic,
            levels: 0..=3,
        };
        assert!(p.warp(&request).unwrap().is_none());
        let value = p.value_at(&request, 3, 3).unwrap().unwrap();
        assert!(value.values.is_empty());
    }

    #[test]
    fn reprojected_maps_match_exact_per_pixel_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = pyramid(dir.path());
        let mercator = Crs::from_epsg(3857).unwrap();
        let bbox = Bbox::new(200_000.0, 5_600_000.0, 450_000.0, 5_800_000.0).unwrap();
        for interpolation in [Interpolation::Nearest, Interpolation::Bilinear] {
            let request = WarpRequest {
                crs: &mercator,
                bbox: &bbox,
                width: 100,
                height: 80,
                interpolation,
                levels: 0..=3,
            };
            let raster = p.warp(&request).unwrap().unwrap();
            assert_eq!(raster.level, "3");
            for (i, j) in [(0, 0), (50, 40), (99, 79), (17, 63)] {
                let exact = p.value_at(&request, i, j).unwrap().unwrap();
                let got = f64::from(raster.data[(j * 100 + i) as usize]);
                if interpolation == Interpolation::Nearest {
                    assert_eq!(got, exact.values[0], "pixel ({i}, {j})");
                } else {
                    // Bilinear mixes neighbours: values within one step of the nearest one.
                    assert!(
                        (got - exact.values[0]).abs() <= 1001.0,
                        "pixel ({i}, {j}): {got}"
                    );
                }
            }
        }
    }
}
