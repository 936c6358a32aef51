//! Pyramid generation from georeferenced rasters.
//!
//! The bottom level is resampled from the inputs (mosaicked in the order given: the first input
//! with a value wins), reprojected into the tile matrix set's CRS; every upper level is built
//! from the level below by averaging the lower pixels under each pixel (nearest: the top-left
//! one), never re-reading the inputs. Work is cut by slab and spread over threads with rayon;
//! memory stays bounded (a slab of tiles and the source window each tile needs). A slab that
//! exists is complete (written atomically), so a restarted build skips it; `build.json` records
//! the parameters so that a folder is never resumed with different ones.

// Resampling code reads best with the usual short names (x, y, u, v, i, j, n).
#![allow(clippy::many_single_char_names)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crs::{Bbox, Transformer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::grid::GRID_STEP;
use crate::object::{Location, ObjectStorage};
use crate::source::{GeoTiff, Window};
use crate::store::{CacheLimits, Pyramid, TileLimits};
use crate::tile::{Samples, TileImage};
use crate::writer::{PyramidSpec, PyramidWriter};
use crate::{PyramidError, SampleType, TileFormat, TileMatrix, TileMatrixSet};

/// Resampling of the bottom level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// Nearest neighbour: values are copied, never mixed (use it for exact values).
    Nearest,
    /// Bilinear.
    Bilinear,
    /// Bicubic (Keys, a = −0.5).
    Bicubic,
    /// Lanczos, 3 lobes.
    Lanczos,
}

impl Interpolation {
    /// The name ROK4 writes in `raster_specifications.interpolation`.
    pub fn rok4_name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nn",
            Interpolation::Bilinear => "linear",
            Interpolation::Bicubic => "bicubic",
            Interpolation::Lanczos => "lanczos",
        }
    }

    /// Kernel radius in source pixels.
    pub(crate) fn radius(self) -> i64 {
        match self {
            Interpolation::Nearest | Interpolation::Bilinear => 1,
            Interpolation::Bicubic => 2,
            Interpolation::Lanczos => 3,
        }
    }

    fn weight(self, d: f64) -> f64 {
        let d = d.abs();
        match self {
            Interpolation::Nearest => 0.0,
            Interpolation::Bilinear => (1.0 - d).max(0.0),
            Interpolation::Bicubic => {
                const A: f64 = -0.5;
                if d <= 1.0 {
                    ((A + 2.0) * d - (A + 3.0)) * d * d + 1.0
                } else if d < 2.0 {
                    ((A * d - 5.0 * A) * d + 8.0 * A) * d - 4.0 * A
                } else {
                    0.0
                }
            }
            Interpolation::Lanczos => {
                if d < 1e-12 {
                    1.0
                } else if d < 3.0 {
                    let pd = std::f64::consts::PI * d;
                    3.0 * pd.sin() * (pd / 3.0).sin() / (pd * pd)
                } else {
                    0.0
                }
            }
        }
    }
}

impl FromStr for Interpolation {
    type Err = PyramidError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "nn" | "nearest" => Ok(Interpolation::Nearest),
            "linear" | "bilinear" => Ok(Interpolation::Bilinear),
            "bicubic" | "cubic" => Ok(Interpolation::Bicubic),
            "lanczos" => Ok(Interpolation::Lanczos),
            other => Err(PyramidError::Build {
                reason: format!(
                    "unknown interpolation '{other}': use nearest, bilinear, bicubic or lanczos"
                ),
            }),
        }
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The tile matrix set.
    pub tms: TileMatrixSet,
    /// Finest tile matrix id.
    pub bottom: String,
    /// Coarsest tile matrix id.
    pub top: String,
    /// Tile format.
    pub format: TileFormat,
    /// Resampling of the bottom level.
    pub interpolation: Interpolation,
    /// No-data per channel (None: the inputs' no-data, else 0 for floats / 255 for 8-bit).
    pub nodata: Option<Vec<f64>>,
    /// Tiles per slab, across and down.
    pub slab_size: (u32, u32),
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// The written descriptor.
    pub descriptor: PathBuf,
    /// Slabs written by this run.
    pub slabs_written: u64,
    /// Slabs found complete from an earlier run and skipped.
    pub slabs_skipped: u64,
    /// Non-empty tiles written by this run.
    pub tiles_written: u64,
}

/// Parameters recorded in `build.json`, compared when a build resumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BuildParams {
    inputs: Vec<(String, u64)>,
    tms: String,
    bottom: String,
    top: String,
    format: String,
    interpolation: Interpolation,
    nodata: Vec<f64>,
    slab_size: (u32, u32),
}

/// Builds a pyramid from `inputs` into the folder `out`; `progress(done, total)` is called as
/// slabs finish.
pub fn build(
    inputs: &[GeoTiff],
    out: &Path,
    options: &BuildOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BuildReport, PyramidError> {
    let storage = Arc::new(ObjectStorage::new(crate::ObjectSettings::default()));
    build_at(
        inputs,
        &Location::File(out.to_owned()),
        &storage,
        options,
        progress,
    )
}

/// Builds a pyramid from `inputs` into `out`, a folder or a folder key in object storage.
pub fn build_at(
    inputs: &[GeoTiff],
    out: &Location,
    storage: &Arc<ObjectStorage>,
    options: &BuildOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BuildReport, PyramidError> {
    let fail = |reason: String| PyramidError::Build { reason };
    let first = inputs
        .first()
        .ok_or_else(|| fail("no input: give at least one --input".to_owned()))?;
    if options.format.is_vector() {
        return Err(fail(
            "TIFF_PBF_MVT is a vector pyramid: it is cut from vector data, not from rasters"
                .to_owned(),
        ));
    }
    let channels = first.channels();
    if let Some(other) = inputs.iter().find(|i| i.channels() != channels) {
        return Err(fail(format!(
            "{} has {} bands but {} has {channels}: mosaicked inputs need the same bands",
            other.path().display(),
            other.channels(),
            first.path().display()
        )));
    }
    options.format.check_channels(channels).map_err(fail)?;
    let tms = &options.tms;
    let bottom = tms.matrix(&options.bottom).ok_or_else(|| {
        fail(format!(
            "tile matrix set {} has no level '{}' (--bottom)",
            tms.id(),
            options.bottom
        ))
    })?;
    let top = tms.matrix(&options.top).ok_or_else(|| {
        fail(format!(
            "tile matrix set {} has no level '{}' (--top)",
            tms.id(),
            options.top
        ))
    })?;
    if top.level() > bottom.level() {
        return Err(fail(format!(
            "--top {} is finer than --bottom {}: the top is the coarsest level",
            options.top, options.bottom
        )));
    }
    let nodata = match &options.nodata {
        Some(values) if values.len() == usize::from(channels) => values.clone(),
        Some(values) if values.len() == 1 => vec![values[0]; usize::from(channels)],
        Some(values) => {
            return Err(fail(format!(
                "{} no-data values for {channels} bands",
                values.len()
            )));
        }
        None => {
            let default = match options.format.sample_type() {
                SampleType::Float32 => first.nodata().unwrap_or(-99_999.0),
                SampleType::Uint8 => first.nodata().unwrap_or(255.0),
            };
            vec![default; usize::from(channels)]
        }
    };

    // Extent of the inputs in the tile matrix set's CRS.
    let mut extent: Option<Bbox> = None;
    for input in inputs {
        let to_tms = Transformer::new(input.crs(), tms.crs())
            .map_err(|e| fail(format!("{}: {e}", input.path().display())))?;
        let bbox = to_tms.transform_bbox(&input.bbox()?).map_err(|e| {
            fail(format!(
                "{}: cannot place it in {}: {e}",
                input.path().display(),
                tms.crs()
            ))
        })?;
        extent = Some(extent.map_or(bbox, |e| e.union(&bbox)));
    }
    let extent = extent.ok_or_else(|| fail("no input".to_owned()))?;

    // Never resume a folder built with other parameters.
    let params = BuildParams {
        inputs: inputs
            .iter()
            .map(|i| {
                let size = std::fs::metadata(i.path()).map_or(0, |m| m.len());
                (i.path().display().to_string(), size)
            })
            .collect(),
        tms: tms.id().to_owned(),
        bottom: options.bottom.clone(),
        top: options.top.clone(),
        format: options.format.name().to_owned(),
        interpolation: options.interpolation,
        nodata: nodata.clone(),
        slab_size: options.slab_size,
    };
    let spec = PyramidSpec {
        format: options.format,
        channels,
        nodata: nodata.clone(),
        interpolation: options.interpolation.rok4_name().to_owned(),
        slab_size: options.slab_size,
        path_depth: 2,
    };
    let mut writer = PyramidWriter::create(out, tms.clone(), spec, storage)?;
    if let Some(text) = writer.read_file("build.json")? {
        let previous: Option<BuildParams> = serde_json::from_slice(&text).ok();
        if previous.as_ref() != Some(&params) {
            return Err(fail(format!(
                "{out} holds a build with other parameters: remove it or choose another --out"
            )));
        }
    }
    let params_text = serde_json::to_string_pretty(&params).map_err(|e| fail(e.to_string()))?;
    writer.write_file("build.json", params_text.as_bytes())?;

    // Levels, bottom to top, each with its tile limits.
    let levels: Vec<(&TileMatrix, TileLimits)> = writer
        .add_levels_over(top.level()..=bottom.level(), &extent)?
        .into_iter()
        .rev()
        .filter_map(|(level, limits)| Some((tms.matrix_at(level)?, limits)))
        .collect();
    if levels.is_empty() {
        return Err(fail(format!(
            "the inputs do not overlap tile matrix set {}",
            tms.id()
        )));
    }
    let slabs_of = |limits: &TileLimits| -> Vec<(u32, u32)> {
        let (w, h) = options.slab_size;
        let mut slabs = Vec::new();
        for row in (limits.min_row / h)..=(limits.max_row / h) {
            for col in (limits.min_col / w)..=(limits.max_col / w) {
                slabs.push((col, row));
            }
        }
        slabs
    };
    let total: u64 = levels.iter().map(|(_, l)| slabs_of(l).len() as u64).sum();
    let done = AtomicU64::new(0);
    let written = AtomicU64::new(0);
    let skipped = AtomicU64::new(0);
    let tiles = AtomicU64::new(0);
    progress(0, total);

    let mut below: Option<Pyramid> = None;
    for (matrix, limits) in &levels {
        let slabs = slabs_of(limits);
        slabs
            .par_iter()
            .try_for_each(|&(slab_col, slab_row)| -> Result<(), PyramidError> {
                if writer.slab_exists(matrix.id(), slab_col, slab_row)? {
                    skipped.fetch_add(1, Ordering::Relaxed);
                } else {
                    let wrote =
                        writer.write_slab(matrix.id(), slab_col, slab_row, |col, row| {
                            let image = match &below {
                                None => tile_from_inputs(
                                    inputs, matrix, tms, col, row, options, &nodata,
                                )?,
                                Some(lower) => {
                                    tile_from_lower(lower, matrix, col, row, options, &nodata)?
                                }
                            };
                            if image.is_some() {
                                tiles.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(image)
                        })?;
                    if wrote {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                Ok(())
            })?;
        // The level just written becomes the source of the next one.
        below = Some(writer.opened(CacheLimits::default())?);
    }
    let descriptor = writer.finish()?;
    Ok(BuildReport {
        descriptor,
        slabs_written: written.into_inner(),
        slabs_skipped: skipped.into_inner(),
        tiles_written: tiles.into_inner(),
    })
}

/// Largest source window one tile may need, per side, before the build refuses.
const MAX_WINDOW: i64 = 8192;

/// A bottom-level tile resampled from the inputs; `None` when no input covers it.
fn tile_from_inputs(
    inputs: &[GeoTiff],
    matrix: &TileMatrix,
    tms: &TileMatrixSet,
    col: u32,
    row: u32,
    options: &BuildOptions,
    nodata: &[f64],
) -> Result<Option<TileImage>, PyramidError> {
    let tile = matrix.tile(i64::from(col), i64::from(row))?;
    let bbox = matrix.tile_bbox(tile);
    let (tw, th) = (matrix.tile_width() as usize, matrix.tile_height() as usize);
    let res = matrix.resolution();
    let channels = usize::from(inputs.first().map_or(1, GeoTiff::channels));
    let mut out = vec![f32::NAN; tw * th * channels];
    let mut filled = vec![false; tw * th];
    let interpolation = options.interpolation;
    for input in inputs {
        if filled.iter().all(|f| *f) {
            break;
        }
        // Pixel centres of the tile, in the input's pixel space.
        let to_input =
            Transformer::new(tms.crs(), input.crs()).map_err(|e| PyramidError::Build {
                reason: e.to_string(),
            })?;
        // Nearest keeps values exact: every pixel is placed with the exact transform.
        let approximate = interpolation != Interpolation::Nearest;
        let pixel = source_pixels(
            &to_input,
            input.transform(),
            &bbox,
            res,
            tw,
            th,
            approximate,
        );
        let (width, height) = input.size();
        let r = interpolation.radius();
        let (mut c0, mut r0, mut c1, mut r1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        for (u, v) in pixel.iter().flatten() {
            c0 = c0.min(floor(*u) - r);
            r0 = r0.min(floor(*v) - r);
            c1 = c1.max(floor(*u) + r);
            r1 = r1.max(floor(*v) + r);
        }
        c0 = c0.max(0);
        r0 = r0.max(0);
        c1 = c1.min(i64::from(width) - 1);
        r1 = r1.min(i64::from(height) - 1);
        if c0 > c1 || r0 > r1 {
            continue;
        }
        if c1 - c0 > MAX_WINDOW || r1 - r0 > MAX_WINDOW {
            return Err(PyramidError::Build {
                reason: format!(
                    "tile {}/{col}/{row} covers {}×{} pixels of {}: the bottom level is much coarser than the input; choose a finer --bottom",
                    matrix.id(),
                    c1 - c0,
                    r1 - r0,
                    input.path().display()
                ),
            });
        }
        let window = input.window(c0, r0, (c1 - c0 + 1) as u32, (r1 - r0 + 1) as u32)?;
        for (k, p) in pixel.iter().enumerate() {
            if filled[k] {
                continue;
            }
            let Some((u, v)) = p else { continue };
            if let Some(values) = sample(&window, *u, *v, interpolation) {
                out[k * channels..(k + 1) * channels].copy_from_slice(&values[..channels]);
                filled[k] = true;
            }
        }
    }
    let filled = filled.iter().any(|f| *f);
    Ok(filled.then(|| to_tile(matrix, channels, &out, options.format, nodata)))
}

/// The source pixel coordinates of every pixel centre of a tile (row-major): through the
/// approximate transform of [`crate::grid`] (`approximate`, not used for nearest-neighbour
/// builds, whose values must be the source pixels exactly under each centre) when it is
/// precise enough, else every pixel transformed exactly.
fn source_pixels(
    to_input: &Transformer,
    geo: crate::source::GeoTransform,
    bbox: &Bbox,
    res: f64,
    tw: usize,
    th: usize,
    approximate: bool,
) -> Vec<Option<(f64, f64)>> {
    let centre = |i: f64, j: f64| {
        (
            bbox.min_x() + (i + 0.5) * res,
            bbox.max_y() - (j + 0.5) * res,
        )
    };
    let to_pixel = |points: &mut [(f64, f64)]| -> Vec<Option<(f64, f64)>> {
        let _ = to_input.transform_points(points);
        points
            .iter()
            .map(|&(x, y)| {
                if x.is_finite() && y.is_finite() {
                    geo.invert(x, y)
                } else {
                    None
                }
            })
            .collect()
    };
    let exact = || {
        let mut points: Vec<(f64, f64)> = (0..th)
            .flat_map(|j| (0..tw).map(move |i| (i as f64, j as f64)))
            .map(|(i, j)| centre(i, j))
            .collect();
        to_pixel(&mut points)
    };
    if to_input.is_identity()
        || !approximate
        || !tw.is_multiple_of(GRID_STEP as usize)
        || !th.is_multiple_of(GRID_STEP as usize)
    {
        return if to_input.is_identity() {
            (0..th)
                .flat_map(|j| (0..tw).map(move |i| (i as f64, j as f64)))
                .map(|(i, j)| {
                    let (x, y) = centre(i, j);
                    geo.invert(x, y)
                })
                .collect()
        } else {
            exact()
        };
    }
    // Nodes every GRID_STEP pixels, the last one at the tile's far edge.
    let nodes = |n: usize| -> Vec<u32> { (0..=n as u32).step_by(GRID_STEP as usize).collect() };
    crate::grid::interpolated(
        tw as u32,
        th as u32,
        &nodes(tw),
        &nodes(th),
        centre,
        to_pixel,
    )
    .unwrap_or_else(exact)
}

/// `x.floor() as i64` without the libm call (the baseline x86-64 target has no SSE4.1 `roundsd`);
/// saturates like `as` for out-of-range values.
#[inline]
pub(crate) fn floor(x: f64) -> i64 {
    let t = x as i64;
    if (t as f64) > x {
        // Saturating: below i64::MIN, `t` is already i64::MIN.
        t.saturating_sub(1)
    } else {
        t
    }
}

/// Samples a window at continuous source pixel coordinates (u, v).
pub(crate) fn sample(
    window: &Window,
    u: f64,
    v: f64,
    interpolation: Interpolation,
) -> Option<[f32; 4]> {
    let nearest = window.pixel(floor(u), floor(v))?;
    let mut result = [0f32; 4];
    let n = nearest.len().min(4);
    if interpolation == Interpolation::Nearest {
        result[..n].copy_from_slice(&nearest[..n]);
        return Some(result);
    }
    let (x, y) = (u - 0.5, v - 0.5);
    let (cx, cy) = (floor(x), floor(y));
    if interpolation == Interpolation::Bilinear {
        let (fx, fy) = (x - cx as f64, y - cy as f64);
        let taps = [
            (cx, cy, (1.0 - fx) * (1.0 - fy)),
            (cx + 1, cy, fx * (1.0 - fy)),
            (cx, cy + 1, (1.0 - fx) * fy),
            (cx + 1, cy + 1, fx * fy),
        ];
        let mut sums = [0f64; 4];
        let mut total = 0f64;
        for (col, row, w) in taps {
            if let Some(p) = window.pixel(col, row) {
                for b in 0..n {
                    sums[b] += w * f64::from(p[b]);
                }
                total += w;
            }
        }
        if total < 1e-9 {
            result[..n].copy_from_slice(&nearest[..n]);
        } else {
            for b in 0..n {
                result[b] = (sums[b] / total) as f32;
            }
        }
        return Some(result);
    }
    let r = interpolation.radius();
    // Separable kernel: the weights of the 2r columns and 2r rows around (x, y).
    let taps = (2 * r) as usize;
    let mut wx = [0f64; 6];
    let mut wy = [0f64; 6];
    for k in 0..taps {
        let offset = k as i64 - r + 1;
        wx[k] = interpolation.weight(x - (cx + offset) as f64);
        wy[k] = interpolation.weight(y - (cy + offset) as f64);
    }
    let mut sums = [0f64; 4];
    let mut total = 0f64;
    for (ky, weight_y) in wy.iter().enumerate().take(taps) {
        if *weight_y == 0.0 {
            continue;
        }
        let row = cy + ky as i64 - r + 1;
        for (kx, weight_x) in wx.iter().enumerate().take(taps) {
            let w = weight_x * weight_y;
            if w == 0.0 {
                continue;
            }
            if let Some(p) = window.pixel(cx + kx as i64 - r + 1, row) {
                for b in 0..n {
                    sums[b] += w * f64::from(p[b]);
                }
                total += w;
            }
        }
    }
    if total.abs() < 1e-9 {
        result[..n].copy_from_slice(&nearest[..n]);
        return Some(result);
    }
    for b in 0..n {
        result[b] = (sums[b] / total) as f32;
    }
    Some(result)
}

/// An upper-level tile built from the level below; `None` when the lower level has no data.
fn tile_from_lower(
    lower: &Pyramid,
    matrix: &TileMatrix,
    col: u32,
    row: u32,
    options: &BuildOptions,
    nodata: &[f64],
) -> Result<Option<TileImage>, PyramidError> {
    let tms = lower.tile_matrix_set();
    let Some(lower_matrix) = tms.matrix_at(matrix.level() + 1) else {
        return Ok(None);
    };
    let tile = matrix.tile(i64::from(col), i64::from(row))?;
    let bbox = matrix.tile_bbox(tile);
    let Some(range) = lower_matrix.tile_range(&bbox) else {
        return Ok(None);
    };
    let channels = usize::from(lower.channels());
    let (ltw, lth) = (
        i64::from(lower_matrix.tile_width()),
        i64::from(lower_matrix.tile_height()),
    );
    // A window over the lower tiles, in lower-level global pixel coordinates.
    let col0 = i64::from(range.min_col()) * ltw;
    let row0 = i64::from(range.min_row()) * lth;
    let width = (i64::from(range.width()) * ltw) as u32;
    let height = (i64::from(range.height()) * lth) as u32;
    let mut data = vec![f32::NAN; width as usize * height as usize * channels];
    let mut any = false;
    for lower_tile in range {
        let Some(image) = lower.read_pixels(lower_tile)? else {
            continue;
        };
        any = true;
        let ox = (i64::from(lower_tile.col()) * ltw - col0) as usize;
        let oy = (i64::from(lower_tile.row()) * lth - row0) as usize;
        let samples: Vec<f32> = match image.samples() {
            Samples::U8(v) => v.iter().map(|s| f32::from(*s)).collect(),
            Samples::F32(v) => v.clone(),
        };
        let nodata32: Vec<f32> = nodata.iter().map(|n| *n as f32).collect();
        let iw = image.width() as usize;
        for (j, line) in samples.chunks_exact(iw * channels).enumerate() {
            let row_start = ((oy + j) * width as usize + ox) * channels;
            let target = &mut data[row_start..row_start + iw * channels];
            for (pixel, to) in line
                .chunks_exact(channels)
                .zip(target.chunks_exact_mut(channels))
            {
                #[allow(clippy::float_cmp)]
                let is_nodata = pixel.iter().zip(&nodata32).all(|(v, n)| v == n);
                if !is_nodata {
                    for (t, v) in to.iter_mut().zip(pixel) {
                        *t = *v;
                    }
                }
            }
        }
    }
    if !any {
        return Ok(None);
    }
    let window = Window {
        col0,
        row0,
        width,
        height,
        channels: lower.channels(),
        data,
    };
    let (tw, th) = (matrix.tile_width() as usize, matrix.tile_height() as usize);
    let (lx0, ly0) = lower_matrix.top_left();
    let lres = lower_matrix.resolution();
    let half = matrix.resolution() / lres / 2.0;
    // The lower pixels under each upper column and row (the same for every row / column).
    let span = |centre: f64| -> (i64, i64) {
        let first = (centre - half - 0.5).ceil() as i64;
        let last = ((centre + half - 0.5).ceil() as i64 - 1).max(first);
        (first, last)
    };
    let columns: Vec<(i64, i64)> = (0..tw)
        .map(|i| span((bbox.min_x() + (i as f64 + 0.5) * matrix.resolution() - lx0) / lres))
        .collect();
    let rows: Vec<(i64, i64)> = (0..th)
        .map(|j| span((ly0 - (bbox.max_y() - (j as f64 + 0.5) * matrix.resolution())) / lres))
        .collect();
    let nearest = options.interpolation == Interpolation::Nearest;
    let mut out = vec![f32::NAN; tw * th * channels];
    let mut filled = false;
    for (j, &(r_first, r_last)) in rows.iter().enumerate() {
        for (i, &(c_first, c_last)) in columns.iter().enumerate() {
            let mut sums = [0f64; 4];
            let mut count = 0u32;
            'gather: for r in r_first..=r_last {
                for c in c_first..=c_last {
                    if let Some(p) = window.pixel(c, r) {
                        for (b, value) in p.iter().enumerate().take(channels) {
                            sums[b] += f64::from(*value);
                        }
                        count += 1;
                        if nearest {
                            break 'gather;
                        }
                    }
                }
            }
            if count > 0 {
                filled = true;
                let k = (j * tw + i) * channels;
                for b in 0..channels {
                    out[k + b] = (sums[b] / f64::from(count)) as f32;
                }
            }
        }
    }
    Ok(filled.then(|| to_tile(matrix, channels, &out, options.format, nodata)))
}

/// Samples (NaN = no value) into a tile of the format's sample type, no value → no-data.
fn to_tile(
    matrix: &TileMatrix,
    channels: usize,
    samples: &[f32],
    format: TileFormat,
    nodata: &[f64],
) -> TileImage {
    let (tw, th) = (matrix.tile_width(), matrix.tile_height());
    let fill: Vec<f32> = nodata.iter().map(|n| *n as f32).collect();
    let value = |k: usize, v: f32| if v.is_nan() { fill[k % channels] } else { v };
    let image = match format.sample_type() {
        SampleType::Float32 => Samples::F32(
            samples
                .iter()
                .enumerate()
                .map(|(k, v)| value(k, *v))
                .collect(),
        ),
        SampleType::Uint8 => Samples::U8(
            samples
                .iter()
                .enumerate()
                .map(|(k, v)| (value(k, *v) + 0.5).clamp(0.0, 255.0) as u8)
                .collect(),
        ),
    };
    TileImage::new(tw, th, channels as u8, image)
        .unwrap_or_else(|| TileImage::filled(tw, th, format.sample_type(), nodata))
}
