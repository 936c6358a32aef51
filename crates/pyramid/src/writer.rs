//! Writing a pyramid: levels, slabs, then the descriptor and the slab list.
//!
//! Slabs are written whole and crash-safe ([`crate::slab::write_slab`]); the descriptor is
//! written last, so a pyramid folder without `pyramid.json` is an unfinished build, and a
//! slab that exists is complete — which is what makes a build resumable.
//!
//! In object storage the pyramid is laid out as ROK4 lays it out: under the folder key `F`,
//! `F/pyramid.json`, `F/pyramid.list` and one object per slab, `F/pyramid/DATA_{level}_{col}_{row}`
//! (an object appears only once whole, so the same rules hold).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::object::{Location, ObjectStorage, ObjectUrl};
use crate::slab::{self, slab_path};
use crate::store::{
    write_descriptor, Descriptor, LevelDescriptor, RasterSpecifications, StorageDescriptor,
    TileLimits,
};
use crate::tile::{self, TileImage};
use crate::{
    layout, CacheLimits, Pyramid, PyramidError, TileFormat, TileMatrix, TileMatrixSet,
    TileMatrixSets,
};

/// The name of the descriptor, list and data folder inside a pyramid folder.
pub const PYRAMID_NAME: &str = "pyramid";

/// Settings of a pyramid to write.
#[derive(Debug, Clone)]
pub struct PyramidSpec {
    /// Tile format.
    pub format: TileFormat,
    /// Samples per pixel.
    pub channels: u8,
    /// No-data value per channel.
    pub nodata: Vec<f64>,
    /// Resampling name written in the descriptor (`nn`, `linear`, `bicubic`, `lanczos`).
    pub interpolation: String,
    /// Tiles per slab, across and down.
    pub slab_size: (u32, u32),
    /// Folder levels in slab paths.
    pub path_depth: u32,
}

/// Writes the slabs of a pyramid into a folder, then its descriptor.
#[derive(Debug)]
pub struct PyramidWriter {
    /// The folder, or for object storage its URL as a path (messages only).
    dir: PathBuf,
    /// Object storage and the folder key, when writing there.
    object: Option<(Arc<ObjectStorage>, ObjectUrl)>,
    tms: TileMatrixSet,
    spec: PyramidSpec,
    levels: Vec<LevelDescriptor>,
}

impl PyramidWriter {
    /// A writer into `out`: a folder (created if needed) or a folder key in object storage.
    pub fn create(
        out: &Location,
        tms: TileMatrixSet,
        spec: PyramidSpec,
        storage: &Arc<ObjectStorage>,
    ) -> Result<PyramidWriter, PyramidError> {
        match out {
            Location::File(dir) => PyramidWriter::new(dir, tms, spec),
            Location::Object(folder) => {
                let mut writer = PyramidWriter::new_unchecked(out.display_path(), tms, spec)?;
                writer.object = Some((Arc::clone(storage), folder.clone()));
                Ok(writer)
            }
        }
    }

    /// A writer into `dir` (created if needed).
    pub fn new(
        dir: &Path,
        tms: TileMatrixSet,
        spec: PyramidSpec,
    ) -> Result<PyramidWriter, PyramidError> {
        let writer = PyramidWriter::new_unchecked(dir.to_owned(), tms, spec)?;
        std::fs::create_dir_all(dir).map_err(|source| PyramidError::Write {
            path: dir.to_owned(),
            source,
        })?;
        Ok(writer)
    }

    fn new_unchecked(
        dir: PathBuf,
        tms: TileMatrixSet,
        spec: PyramidSpec,
    ) -> Result<PyramidWriter, PyramidError> {
        spec.format
            .check_channels(spec.channels)
            .map_err(|reason| PyramidError::Descriptor {
                path: dir.join(format!("{PYRAMID_NAME}.json")),
                reason,
            })?;
        if !spec.format.is_vector() && spec.nodata.len() != usize::from(spec.channels) {
            return Err(PyramidError::Descriptor {
                path: dir.join(format!("{PYRAMID_NAME}.json")),
                reason: format!(
                    "{} no-data values for {} channels",
                    spec.nodata.len(),
                    spec.channels
                ),
            });
        }
        Ok(PyramidWriter {
            dir,
            object: None,
            tms,
            spec,
            levels: Vec::new(),
        })
    }

    /// The tile matrix set.
    pub fn tile_matrix_set(&self) -> &TileMatrixSet {
        &self.tms
    }

    /// The settings.
    pub fn spec(&self) -> &PyramidSpec {
        &self.spec
    }

    /// The tile matrix of an id of the set.
    fn matrix(&self, matrix_id: &str) -> Result<&TileMatrix, PyramidError> {
        self.tms
            .matrix(matrix_id)
            .ok_or_else(|| PyramidError::UnknownTileMatrix {
                tms: self.tms.id().to_owned(),
                matrix: matrix_id.to_owned(),
            })
    }

    /// Declares a level and the tiles it may hold.
    pub fn add_level(&mut self, matrix_id: &str, limits: TileLimits) -> Result<(), PyramidError> {
        let matrix = self.matrix(matrix_id)?;
        matrix.range(
            limits.min_col,
            limits.max_col,
            limits.min_row,
            limits.max_row,
        )?;
        self.levels.retain(|l| l.id != matrix_id);
        self.levels.push(LevelDescriptor {
            id: matrix_id.to_owned(),
            tiles_per_width: self.spec.slab_size.0,
            tiles_per_height: self.spec.slab_size.1,
            tile_limits: limits,
            storage: match &self.object {
                None => StorageDescriptor::file(
                    format!("{PYRAMID_NAME}/DATA/{matrix_id}"),
                    self.spec.path_depth,
                ),
                Some((_, folder)) => StorageDescriptor::object(
                    folder.join(&format!("{PYRAMID_NAME}/DATA_{matrix_id}")).key,
                    folder.bucket_name(),
                ),
            },
            tables: Vec::new(),
        });
        Ok(())
    }

    /// Vector pyramids: the tables a declared level's tiles hold.
    pub fn set_level_tables(
        &mut self,
        matrix_id: &str,
        tables: Vec<crate::store::VectorTable>,
    ) -> Result<(), PyramidError> {
        let level = self
            .levels
            .iter_mut()
            .find(|l| l.id == matrix_id)
            .ok_or_else(|| PyramidError::UnknownTileMatrix {
                tms: self.tms.id().to_owned(),
                matrix: matrix_id.to_owned(),
            })?;
        level.tables = tables;
        Ok(())
    }

    /// Declares every level of `levels` (tile matrix indices, coarsest first) that `extent`
    /// (in the set's CRS) overlaps, with the tiles it covers; returns them, coarsest first.
    pub fn add_levels_over(
        &mut self,
        levels: std::ops::RangeInclusive<u32>,
        extent: &crs::Bbox,
    ) -> Result<Vec<(u32, TileLimits)>, PyramidError> {
        let mut added = Vec::new();
        for level in levels {
            let Some(matrix) = self.tms.matrix_at(level) else {
                continue;
            };
            let Some(range) = matrix.tile_range(extent) else {
                continue;
            };
            let limits = TileLimits {
                min_col: range.min_col(),
                max_col: range.max_col(),
                min_row: range.min_row(),
                max_row: range.max_row(),
            };
            let id = matrix.id().to_owned();
            self.add_level(&id, limits)?;
            added.push((level, limits));
        }
        Ok(added)
    }

    /// The slab file of slab (col, row) of a level (in object storage: its URL as a path).
    pub fn slab_file(&self, matrix_id: &str, slab_col: u32, slab_row: u32) -> PathBuf {
        if let Some(url) = self.slab_object(matrix_id, slab_col, slab_row) {
            return PathBuf::from(url.to_string());
        }
        self.dir
            .join(PYRAMID_NAME)
            .join("DATA")
            .join(matrix_id)
            .join(slab_path(slab_col, slab_row, self.spec.path_depth))
    }

    fn slab_object(&self, matrix_id: &str, slab_col: u32, slab_row: u32) -> Option<ObjectUrl> {
        let (_, folder) = self.object.as_ref()?;
        Some(folder.join(&format!(
            "{PYRAMID_NAME}/DATA_{matrix_id}_{slab_col}_{slab_row}"
        )))
    }

    /// Whether slab (col, row) of a level is written (complete: slabs appear whole).
    pub fn slab_exists(
        &self,
        matrix_id: &str,
        slab_col: u32,
        slab_row: u32,
    ) -> Result<bool, PyramidError> {
        match (
            &self.object,
            self.slab_object(matrix_id, slab_col, slab_row),
        ) {
            (Some((storage, _)), Some(url)) => storage.exists(&url),
            _ => Ok(self.slab_file(matrix_id, slab_col, slab_row).is_file()),
        }
    }

    /// Where `name` is in the pyramid's folder (for files beside the pyramid: `build.json`).
    pub fn location_of(&self, name: &str) -> Location {
        match &self.object {
            Some((_, folder)) => Location::Object(folder.join(name)),
            None => Location::File(self.dir.join(name)),
        }
    }

    /// The bytes of a file of the pyramid's folder; `Ok(None)` when it does not exist.
    pub fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, PyramidError> {
        match (&self.object, self.location_of(name)) {
            (Some((storage, _)), Location::Object(url)) => {
                Ok(storage.get(&url)?.map(|b| b.to_vec()))
            }
            (_, location) => {
                let path = location.display_path();
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(PyramidError::Io { path, source }),
                }
            }
        }
    }

    /// Writes a file of the pyramid's folder whole.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<(), PyramidError> {
        match (&self.object, self.location_of(name)) {
            (Some((storage, _)), Location::Object(url)) => {
                storage.put(&url, bytes::Bytes::copy_from_slice(bytes))
            }
            (_, location) => slab::write_atomically(&location.display_path(), bytes),
        }
    }

    /// The pyramid as written so far (its declared levels), to read lower levels back.
    pub fn opened(&self, limits: CacheLimits) -> Result<Pyramid, PyramidError> {
        let mut sets = TileMatrixSets::new();
        sets.insert(self.tms.clone())?;
        let descriptor = self.descriptor();
        match &self.object {
            Some((storage, folder)) => Pyramid::from_object_parts(
                &folder.join(&format!("{PYRAMID_NAME}.json")),
                descriptor,
                &sets,
                limits,
                storage,
            ),
            None => Pyramid::from_parts(
                &self.dir.join(format!("{PYRAMID_NAME}.json")),
                &self.dir,
                descriptor,
                &sets,
                limits,
            ),
        }
    }

    /// Encodes and writes one slab; `tile(col, row)` gives each tile of the slab inside the
    /// level's limits (`None`: no data; an error stops the slab). A slab without any tile is
    /// not written.
    /// Returns whether a file was written.
    pub fn write_slab(
        &self,
        matrix_id: &str,
        slab_col: u32,
        slab_row: u32,
        tile: impl Fn(u32, u32) -> Result<Option<TileImage>, PyramidError> + Sync,
    ) -> Result<bool, PyramidError> {
        self.write_slab_bytes(matrix_id, slab_col, slab_row, |col, row| {
            let Some(image) = tile(col, row)? else {
                return Ok(None);
            };
            tile::encode(self.spec.format, &image)
                .map(Some)
                .map_err(|reason| PyramidError::Tile {
                    level: matrix_id.to_owned(),
                    col,
                    row,
                    reason,
                })
        })
    }

    /// Writes one slab of tiles already encoded (vector tiles, or images from elsewhere);
    /// `tile(col, row)` as for [`PyramidWriter::write_slab`].
    pub fn write_slab_bytes(
        &self,
        matrix_id: &str,
        slab_col: u32,
        slab_row: u32,
        tile: impl Fn(u32, u32) -> Result<Option<Vec<u8>>, PyramidError> + Sync,
    ) -> Result<bool, PyramidError> {
        let level = self
            .levels
            .iter()
            .find(|l| l.id == matrix_id)
            .ok_or_else(|| PyramidError::UnknownTileMatrix {
                tms: self.tms.id().to_owned(),
                matrix: matrix_id.to_owned(),
            })?;
        let matrix = self.matrix(matrix_id)?;
        let (tpw, tph) = (level.tiles_per_width, level.tiles_per_height);
        let l = level.tile_limits;
        // Tiles are computed and encoded in parallel (rayon), written in slab order.
        let tiles: Vec<Option<Vec<u8>>> = (0..tpw * tph)
            .into_par_iter()
            .map(|k| {
                let (col, row) = (slab_col * tpw + k % tpw, slab_row * tph + k / tpw);
                let inside = (l.min_col..=l.max_col).contains(&col)
                    && (l.min_row..=l.max_row).contains(&row);
                if !inside {
                    return Ok(None);
                }
                tile(col, row)
            })
            .collect::<Result<_, PyramidError>>()?;
        let any = tiles.iter().any(Option::is_some);
        if !any {
            return Ok(false);
        }
        let slab_layout = layout(self.spec.format, self.spec.channels, matrix, level);
        let path = self.slab_file(matrix_id, slab_col, slab_row);
        match (
            &self.object,
            self.slab_object(matrix_id, slab_col, slab_row),
        ) {
            (Some((storage, _)), Some(url)) => {
                let bytes = slab::slab_bytes(&path, &slab_layout, &tiles)?;
                storage.put(&url, bytes::Bytes::from(bytes))?;
            }
            _ => slab::write_slab(&path, &slab_layout, &tiles)?,
        }
        Ok(true)
    }

    /// The descriptor of what was declared.
    pub fn descriptor(&self) -> Descriptor {
        let mut levels = self.levels.clone();
        levels.sort_by_key(|l| self.tms.matrix(&l.id).map_or(0, crate::TileMatrix::level));
        let photometric = if self.spec.channels >= 3 {
            "rgb"
        } else {
            "gray"
        };
        let raster = !self.spec.format.is_vector();
        Descriptor {
            tile_matrix_set: self.tms.id().to_owned(),
            format: self.spec.format.name().to_owned(),
            raster_specifications: raster.then(|| RasterSpecifications {
                channels: self.spec.channels,
                nodata: self
                    .spec
                    .nodata
                    .iter()
                    .map(|v| format!("{v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                photometric: photometric.to_owned(),
                interpolation: self.spec.interpolation.clone(),
            }),
            levels,
            mask_format: None,
        }
    }

    /// Writes the slab list and the descriptor; returns the descriptor's path (in object
    /// storage, its URL as a path).
    pub fn finish(self) -> Result<PathBuf, PyramidError> {
        if let Some((storage, folder)) = &self.object {
            return self.finish_objects(storage, folder);
        }
        let data = self.dir.join(PYRAMID_NAME);
        let root = std::fs::canonicalize(&data).unwrap_or_else(|_| data.clone());
        let mut list = format!("0={}\n#\n", root.display());
        for level in &self.levels {
            let level_dir = data.join("DATA").join(&level.id);
            let mut slabs = Vec::new();
            // Also removes the temporaries of a run killed mid-write (`.{slab}.{pid}.tmp`).
            collect_slabs(&level_dir, &level_dir, &mut slabs);
            slabs.sort();
            for slab in slabs {
                let _ = writeln!(list, "0/DATA/{}/{slab}", level.id);
            }
        }
        slab::write_atomically(
            &self.dir.join(format!("{PYRAMID_NAME}.list")),
            list.as_bytes(),
        )?;
        let path = self.dir.join(format!("{PYRAMID_NAME}.json"));
        write_descriptor(&path, &self.descriptor())?;
        Ok(path)
    }
}

impl PyramidWriter {
    /// ROK4's list of an object pyramid: the root `bucket/key/pyramid`, then one
    /// `0/DATA_{level}_{col}_{row}` line per slab; then the descriptor, last.
    fn finish_objects(
        &self,
        storage: &Arc<ObjectStorage>,
        folder: &ObjectUrl,
    ) -> Result<PathBuf, PyramidError> {
        let data = folder.join(PYRAMID_NAME);
        let mut list = format!("0={}/{}\n#\n", folder.bucket, data.key);
        let mut names = storage.list(&data)?;
        names.retain(|name| {
            self.levels.iter().any(|level| {
                name.strip_prefix("DATA_")
                    .and_then(|rest| rest.strip_prefix(level.id.as_str()))
                    .and_then(|rest| rest.strip_prefix('_'))
                    .is_some_and(|rest| {
                        let mut parts = rest.split('_');
                        let numbers = parts
                            .by_ref()
                            .take(2)
                            .filter(|p| p.parse::<u32>().is_ok())
                            .count();
                        numbers == 2 && parts.next().is_none()
                    })
            })
        });
        names.sort();
        for name in names {
            let _ = writeln!(list, "0/{name}");
        }
        storage.put(
            &folder.join(&format!("{PYRAMID_NAME}.list")),
            bytes::Bytes::from(list),
        )?;
        let url = folder.join(&format!("{PYRAMID_NAME}.json"));
        let text = serde_json::to_string_pretty(&self.descriptor()).map_err(|e| {
            PyramidError::Descriptor {
                path: PathBuf::from(url.to_string()),
                reason: e.to_string(),
            }
        })?;
        storage.put(&url, bytes::Bytes::from(text))?;
        Ok(PathBuf::from(url.to_string()))
    }
}

/// The slabs under `dir` (paths relative to `root`); temporary files left there by a writer
/// that was killed before renaming them are removed (the writer finishing owns the folder:
/// its own temporaries were all renamed or removed).
fn collect_slabs(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            collect_slabs(root, &path, out);
        } else if name.starts_with('.') && path.extension().is_some_and(|e| e == "tmp") {
            // One that cannot be removed is only litter: the pyramid does not read it.
            let _ = std::fs::remove_file(&path);
        } else if path.extension().is_some_and(|e| e == "tif") {
            if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
}
