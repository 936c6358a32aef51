//! GeoTIFF input for pyramid generation, read with the `tiff` crate.
//!
//! Georeferencing comes from ModelTiepoint + ModelPixelScale or ModelTransformation, the CRS from
//! the GeoKeys (ProjectedCSType, else GeographicType → EPSG), no-data from GDAL's tag 42113.
//! Pixels are read chunk by chunk (strips or tiles) on demand through a small LRU, so memory
//! stays bounded whatever the raster's size: a build asks for the window one tile needs.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crs::{Bbox, Crs};
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::Tag;

use crate::{PyramidError, SampleType};

type TiffDecoder = Decoder<BufReader<File>>;

/// An affine pixel → CRS transform: `x = x0 + col·dx + row·rx`, `y = y0 + col·ry + row·dy`,
/// where (col, row) are continuous pixel coordinates (0, 0 at the top-left corner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoTransform {
    /// x of the top-left corner.
    pub x0: f64,
    /// x step per column.
    pub dx: f64,
    /// x step per row (rotation; usually 0).
    pub rx: f64,
    /// y of the top-left corner.
    pub y0: f64,
    /// y step per column (rotation; usually 0).
    pub ry: f64,
    /// y step per row (negative for north-up images).
    pub dy: f64,
}

impl GeoTransform {
    /// CRS coordinates of continuous pixel coordinates.
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        (
            self.x0 + col * self.dx + row * self.rx,
            self.y0 + col * self.ry + row * self.dy,
        )
    }

    /// Continuous pixel coordinates of CRS coordinates; `None` if the transform is singular.
    pub fn invert(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let det = self.dx * self.dy - self.rx * self.ry;
        if det.abs() < f64::EPSILON * (self.dx.abs() + self.dy.abs()).max(1e-300) {
            return None;
        }
        let (u, v) = (x - self.x0, y - self.y0);
        Some((
            (u * self.dy - v * self.rx) / det,
            (v * self.dx - u * self.ry) / det,
        ))
    }
}

/// An opened GeoTIFF.
#[derive(Debug)]
pub struct GeoTiff {
    path: PathBuf,
    width: u32,
    height: u32,
    channels: u8,
    sample_type: SampleType,
    crs: Crs,
    transform: GeoTransform,
    nodata: Option<f64>,
    chunk_width: u32,
    chunk_height: u32,
    chunks_across: u32,
    chunks_per_plane: u32,
    planar: bool,
    decoders: Mutex<Vec<TiffDecoder>>,
    cache: Mutex<lru::LruCache<u32, Arc<Vec<f32>>>>,
}

fn source_error(path: &Path, reason: impl Into<String>) -> PyramidError {
    PyramidError::Source {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl GeoTiff {
    /// Opens a build input: a GeoTIFF directly; with the crate feature `gdal`, any raster GDAL
    /// reads (JPEG-compressed or palette TIFFs, JPEG 2000, ECW, VRT…) when the GeoTIFF reader
    /// cannot, copied first by GDAL into a tiled, deflated GeoTIFF under `scratch` (which
    /// must outlive the build).
    pub fn open_any(
        path: &Path,
        default_crs: Option<&Crs>,
        scratch: &Path,
    ) -> Result<GeoTiff, PyramidError> {
        match GeoTiff::open(path, default_crs) {
            Ok(opened) => Ok(opened),
            #[cfg(feature = "gdal")]
            Err(direct) => {
                let copy = gdal_copy(path, scratch).map_err(|reason| {
                    source_error(path, format!("{direct}; and through GDAL: {reason}"))
                })?;
                GeoTiff::open(&copy, default_crs)
            }
            #[cfg(not(feature = "gdal"))]
            Err(direct) => {
                let _ = scratch;
                Err(direct)
            }
        }
    }

    /// Opens a GeoTIFF and reads its georeferencing; `default_crs` applies when it has no GeoKeys.
    pub fn open(path: &Path, default_crs: Option<&Crs>) -> Result<GeoTiff, PyramidError> {
        let mut decoder = open_decoder(path)?;
        let fail = |what: &str, e: tiff::TiffError| source_error(path, format!("{what}: {e}"));
        let (width, height) = decoder.dimensions().map_err(|e| fail("dimensions", e))?;
        let colour = decoder.colortype().map_err(|e| fail("colour type", e))?;
        // 8-bit samples are images; anything wider (16-bit integers, floats) holds values that
        // only a float pyramid keeps.
        let sample_type = match colour {
            tiff::ColorType::Gray(8)
            | tiff::ColorType::GrayA(8)
            | tiff::ColorType::RGB(8)
            | tiff::ColorType::RGBA(8)
            | tiff::ColorType::Multiband { bit_depth: 8, .. } => SampleType::Uint8,
            _ => SampleType::Float32,
        };
        let channels = match colour {
            tiff::ColorType::Gray(_) => 1,
            tiff::ColorType::GrayA(_) => 2,
            tiff::ColorType::RGB(_) => 3,
            tiff::ColorType::RGBA(_) => 4,
            tiff::ColorType::Multiband { num_samples, .. } if (1..=4).contains(&num_samples) => num_samples as u8,
            other => {
                return Err(source_error(
                    path,
                    format!("colour type {other:?} is not supported: use gray, RGB or RGBA samples (1 to 4 bands)"),
                ))
            }
        };
        let transform = read_transform(&mut decoder).ok_or_else(|| {
            source_error(
                path,
                "no georeferencing (ModelTiepoint + ModelPixelScale, or ModelTransformation): \
                 georeference it first, e.g. gdal_translate -a_ullr … -a_srs EPSG:n",
            )
        })?;
        let crs = match read_epsg(&mut decoder) {
            Some(code) => Crs::from_epsg(code)
                .map_err(|e| source_error(path, format!("CRS EPSG:{code}: {e}")))?,
            None => default_crs.cloned().ok_or_else(|| {
                source_error(
                    path,
                    "no EPSG code in its GeoKeys: give the CRS with --srs EPSG:n",
                )
            })?,
        };
        let nodata = decoder
            .get_tag_ascii_string(Tag::GdalNodata)
            .ok()
            .and_then(|t| t.trim_matches(char::from(0)).trim().parse::<f64>().ok());
        let planar = decoder
            .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
            .ok()
            .flatten()
            == Some(2);
        let (chunk_width, chunk_height) = decoder.chunk_dimensions();
        if chunk_width == 0 || chunk_height == 0 {
            return Err(source_error(path, "chunks of size 0"));
        }
        let chunks_across = width.div_ceil(chunk_width);
        let chunks_down = height.div_ceil(chunk_height);
        Ok(GeoTiff {
            path: path.to_owned(),
            width,
            height,
            channels,
            sample_type,
            crs,
            transform,
            nodata,
            chunk_width,
            chunk_height,
            chunks_across,
            chunks_per_plane: chunks_across * chunks_down,
            planar,
            decoders: Mutex::new(vec![decoder]),
            cache: Mutex::new(lru::LruCache::new(chunk_cache_capacity(
                chunk_width,
                chunk_height,
                channels,
            ))),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
    /// Bands.
    pub fn channels(&self) -> u8 {
        self.channels
    }
    /// The samples' type: [`SampleType::Uint8`] for 8-bit images, [`SampleType::Float32`] for
    /// anything wider (elevations, 16-bit scans), which an 8-bit pyramid would truncate.
    pub fn sample_type(&self) -> SampleType {
        self.sample_type
    }
    /// CRS.
    pub fn crs(&self) -> &Crs {
        &self.crs
    }
    /// Pixel → CRS transform.
    pub fn transform(&self) -> GeoTransform {
        self.transform
    }
    /// No-data value (GDAL_NODATA), if any.
    pub fn nodata(&self) -> Option<f64> {
        self.nodata
    }
    /// Pixel size along x in CRS units (absolute).
    pub fn resolution(&self) -> f64 {
        self.transform.dx.hypot(self.transform.ry)
    }

    /// The extent in the file's CRS.
    pub fn bbox(&self) -> Result<Bbox, PyramidError> {
        let corners = [
            self.transform.apply(0.0, 0.0),
            self.transform.apply(f64::from(self.width), 0.0),
            self.transform.apply(0.0, f64::from(self.height)),
            self.transform
                .apply(f64::from(self.width), f64::from(self.height)),
        ];
        let min_x = corners.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        let max_x = corners
            .iter()
            .map(|c| c.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let min_y = corners.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
        let max_y = corners
            .iter()
            .map(|c| c.1)
            .fold(f64::NEG_INFINITY, f64::max);
        Bbox::new(min_x, min_y, max_x, max_y).map_err(|e| source_error(&self.path, e.to_string()))
    }

    /// Copies the pixels of columns `col0..col0+w`, rows `row0..row0+h` (clipped to the image;
    /// pixels outside are `None` in the window) into a window.
    pub fn window(&self, col0: i64, row0: i64, w: u32, h: u32) -> Result<Window, PyramidError> {
        let c = usize::from(self.channels);
        let mut data = vec![f32::NAN; w as usize * h as usize * c];
        let col_start = col0.max(0);
        let row_start = row0.max(0);
        let col_end = (col0 + i64::from(w)).min(i64::from(self.width));
        let row_end = (row0 + i64::from(h)).min(i64::from(self.height));
        if col_start < col_end && row_start < row_end {
            let cw = i64::from(self.chunk_width);
            let ch = i64::from(self.chunk_height);
            for chunk_row in (row_start / ch)..=((row_end - 1) / ch) {
                for chunk_col in (col_start / cw)..=((col_end - 1) / cw) {
                    let index = chunk_row as u32 * self.chunks_across + chunk_col as u32;
                    let chunk = self.chunk(index)?;
                    let (chunk_w, _) = self.chunk_data_size(index);
                    let r0 = (chunk_row * ch).max(row_start);
                    let r1 = ((chunk_row + 1) * ch).min(row_end);
                    let c0 = (chunk_col * cw).max(col_start);
                    let c1 = ((chunk_col + 1) * cw).min(col_end);
                    // One copy per row segment.
                    let count = (c1 - c0) as usize * c;
                    for row in r0..r1 {
                        let src_row = (row - chunk_row * ch) as usize;
                        let src = (src_row * chunk_w as usize + (c0 - chunk_col * cw) as usize) * c;
                        let dst = ((row - row0) as usize * w as usize + (c0 - col0) as usize) * c;
                        if let (Some(from), Some(to)) =
                            (chunk.get(src..src + count), data.get_mut(dst..dst + count))
                        {
                            to.copy_from_slice(from);
                        }
                    }
                }
            }
        }
        // No-data samples become NaN, the window's marker of "no value".
        if let Some(nodata) = self.nodata {
            let nodata = nodata as f32;
            for pixel in data.chunks_exact_mut(c) {
                if pixel.iter().all(|v| v.to_bits() == nodata.to_bits()) {
                    pixel.fill(f32::NAN);
                }
            }
        }
        Ok(Window {
            col0,
            row0,
            width: w,
            height: h,
            channels: self.channels,
            data,
        })
    }

    /// Size of the data of a chunk: edge tiles and the last strip are clipped to the image.
    fn chunk_data_size(&self, index: u32) -> (u32, u32) {
        let chunk_col = index % self.chunks_across;
        let chunk_row = index / self.chunks_across;
        let w = self
            .chunk_width
            .min(self.width.saturating_sub(chunk_col * self.chunk_width));
        let h = self
            .chunk_height
            .min(self.height.saturating_sub(chunk_row * self.chunk_height));
        (w, h)
    }

    /// Decodes every chunk once, so that a damaged file is refused when it is checked rather
    /// than in the middle of a pyramid build (a truncated download, a corrupt JPEG strip).
    /// Nothing is kept: memory stays at one chunk.
    pub fn verify(&self) -> Result<(), PyramidError> {
        let mut decoder = open_decoder(&self.path)?;
        let planes = if self.planar {
            u32::from(self.channels)
        } else {
            1
        };
        for index in 0..self.chunks_per_plane * planes {
            decoder.read_chunk(index).map_err(|e| {
                let (col, row) = (index % self.chunks_across, (index % self.chunks_per_plane) / self.chunks_across);
                source_error(
                    &self.path,
                    format!(
                        "cannot decode chunk {index} (pixels from {}, {}): {e}; the file is damaged — produce or download it again",
                        col * self.chunk_width,
                        row * self.chunk_height
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// Decoded samples of a chunk (pixel-interleaved, the chunk's data width per row).
    fn chunk(&self, index: u32) -> Result<Arc<Vec<f32>>, PyramidError> {
        if let Ok(mut cache) = self.cache.lock() {
            if let Some(hit) = cache.get(&index) {
                return Ok(hit.clone());
            }
        }
        let mut decoder = match self.decoders.lock().ok().and_then(|mut pool| pool.pop()) {
            Some(decoder) => decoder,
            None => open_decoder(&self.path)?,
        };
        let read = |decoder: &mut TiffDecoder, index: u32| {
            decoder
                .read_chunk(index)
                .map(to_f32)
                .map_err(|e| source_error(&self.path, format!("cannot decode chunk {index}: {e}")))
        };
        let samples = if self.planar {
            let planes: Vec<Vec<f32>> = (0..u32::from(self.channels))
                .map(|band| read(&mut decoder, band * self.chunks_per_plane + index))
                .collect::<Result<_, _>>()?;
            let n = planes.iter().map(Vec::len).min().unwrap_or(0);
            let mut interleaved = Vec::with_capacity(n * planes.len());
            for k in 0..n {
                for plane in &planes {
                    interleaved.push(plane[k]);
                }
            }
            interleaved
        } else {
            read(&mut decoder, index)?
        };
        if let Ok(mut pool) = self.decoders.lock() {
            pool.push(decoder);
        }
        let samples = Arc::new(samples);
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(index, samples.clone());
        }
        Ok(samples)
    }
}

/// Decoded chunks kept per input: 64 MiB of f32 samples, at least 16 chunks.
fn chunk_cache_capacity(
    chunk_width: u32,
    chunk_height: u32,
    channels: u8,
) -> std::num::NonZeroUsize {
    let bytes = chunk_width as usize * chunk_height as usize * usize::from(channels) * 4;
    let count = (64 * 1024 * 1024 / bytes.max(1)).max(16);
    std::num::NonZeroUsize::new(count).unwrap_or(std::num::NonZeroUsize::MIN)
}

fn open_decoder(path: &Path) -> Result<TiffDecoder, PyramidError> {
    let file = File::open(path).map_err(|source| PyramidError::Io {
        path: path.to_owned(),
        source,
    })?;
    Decoder::new(BufReader::new(file))
        .map(|d| d.with_limits(Limits::unlimited()))
        .map_err(|e| source_error(path, format!("not a readable TIFF: {e}")))
}

fn read_transform(decoder: &mut TiffDecoder) -> Option<GeoTransform> {
    if let Ok(m) = decoder.get_tag_f64_vec(Tag::ModelTransformationTag) {
        if m.len() >= 8 {
            return Some(GeoTransform {
                x0: m[3],
                dx: m[0],
                rx: m[1],
                y0: m[7],
                ry: m[4],
                dy: m[5],
            });
        }
    }
    let scale = decoder.get_tag_f64_vec(Tag::ModelPixelScaleTag).ok()?;
    let tie = decoder.get_tag_f64_vec(Tag::ModelTiepointTag).ok()?;
    if scale.len() < 2 || tie.len() < 6 {
        return None;
    }
    // Tiepoint (i, j, k, x, y, z): raster point (i, j) is at (x, y).
    let (i, j, x, y) = (tie[0], tie[1], tie[3], tie[4]);
    let mut transform = GeoTransform {
        x0: x - i * scale[0],
        dx: scale[0],
        rx: 0.0,
        y0: y + j * scale[1],
        ry: 0.0,
        dy: -scale[1],
    };
    // RasterPixelIsPoint (GTRasterTypeGeoKey 1025 = 2): the tiepoint is a pixel centre.
    if geo_key(decoder, 1025) == Some(2) {
        transform.x0 -= 0.5 * transform.dx;
        transform.y0 -= 0.5 * transform.dy;
    }
    Some(transform)
}

/// The value of a short GeoKey (stored in the directory itself).
fn geo_key(decoder: &mut TiffDecoder, key: u16) -> Option<u16> {
    let keys = decoder.get_tag_u16_vec(Tag::GeoKeyDirectoryTag).ok()?;
    keys.get(4..)?
        .chunks_exact(4)
        .find(|entry| entry[0] == key && entry[1] == 0)
        .map(|entry| entry[3])
}

fn read_epsg(decoder: &mut TiffDecoder) -> Option<u32> {
    // ProjectedCSTypeGeoKey, else GeographicTypeGeoKey; 32767 = user-defined.
    [3072u16, 2048]
        .into_iter()
        .filter_map(|key| geo_key(decoder, key))
        .find(|code| *code != 32767 && *code != 0)
        .map(u32::from)
}

// `half::f16` is not a dependency of ours, so its method cannot be named as a path.
#[allow(clippy::redundant_closure_for_method_calls)]
fn to_f32(result: DecodingResult) -> Vec<f32> {
    match result {
        DecodingResult::U8(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::U32(v) => v.into_iter().map(|s| s as f32).collect(),
        DecodingResult::U64(v) => v.into_iter().map(|s| s as f32).collect(),
        DecodingResult::F16(v) => v.into_iter().map(|s| s.to_f32()).collect(),
        DecodingResult::F32(v) => v,
        DecodingResult::F64(v) => v.into_iter().map(|s| s as f32).collect(),
        DecodingResult::I8(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::I16(v) => v.into_iter().map(f32::from).collect(),
        DecodingResult::I32(v) => v.into_iter().map(|s| s as f32).collect(),
        DecodingResult::I64(v) => v.into_iter().map(|s| s as f32).collect(),
    }
}

/// A rectangle of source pixels copied out of a raster; NaN marks "no value".
#[derive(Debug, Clone)]
pub struct Window {
    /// Column of the window's first pixel in the source.
    pub col0: i64,
    /// Row of the window's first pixel in the source.
    pub row0: i64,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Bands.
    pub channels: u8,
    /// Samples, pixel-interleaved.
    pub data: Vec<f32>,
}

impl Window {
    /// The samples of source pixel (col, row), `None` outside the window or without value.
    pub fn pixel(&self, col: i64, row: i64) -> Option<&[f32]> {
        // Checked: sample positions far outside any matrix saturate at i64's ends.
        let (Some(c), Some(r)) = (col.checked_sub(self.col0), row.checked_sub(self.row0)) else {
            return None;
        };
        if c < 0 || r < 0 || c >= i64::from(self.width) || r >= i64::from(self.height) {
            return None;
        }
        let n = usize::from(self.channels);
        let start = (r as usize * self.width as usize + c as usize) * n;
        let pixel = self.data.get(start..start + n)?;
        (!pixel[0].is_nan()).then_some(pixel)
    }
}

/// Copies a GDAL-readable raster into `scratch/{stem}.tif` (tiled, deflate, georeferenced).
#[cfg(feature = "gdal")]
fn gdal_copy(path: &Path, scratch: &Path) -> Result<std::path::PathBuf, String> {
    let source = gdal::Dataset::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    std::fs::create_dir_all(scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let stem = path
        .file_stem()
        .map_or_else(|| "input".to_owned(), |s| s.to_string_lossy().into_owned());
    let target = scratch.join(format!("{stem}.tif"));
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").map_err(|e| e.to_string())?;
    let options = gdal::raster::RasterCreationOptions::from_iter([
        "TILED=YES",
        "COMPRESS=DEFLATE",
        "BIGTIFF=IF_SAFER",
    ]);
    source
        .create_copy(&driver, &target, &options)
        .map_err(|e| format!("cannot copy it to GeoTIFF: {e}"))?;
    Ok(target)
}
