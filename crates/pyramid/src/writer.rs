//! Writing a pyramid: levels, slabs, then the descriptor and the slab list.
//!
//! Slabs are written whole and crash-safe ([`crate::slab::write_slab`]); the descriptor is
//! written last, so a pyramid folder without `pyramid.json` is an unfinished build, and a
//! slab that exists is complete — which is what makes a build resumable.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::slab::{self, slab_path};
use crate::store::{
    write_descriptor, Descriptor, LevelDescriptor, RasterSpecifications, StorageDescriptor,
    TileLimits,
};
use crate::tile::{self, TileImage};
use crate::{layout, PyramidError, TileFormat, TileMatrix, TileMatrixSet};

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
    dir: PathBuf,
    tms: TileMatrixSet,
    spec: PyramidSpec,
    levels: Vec<LevelDescriptor>,
}

impl PyramidWriter {
    /// A writer into `dir` (created if needed).
    pub fn new(
        dir: &Path,
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
        std::fs::create_dir_all(dir).map_err(|source| PyramidError::Write {
            path: dir.to_owned(),
            source,
        })?;
        Ok(PyramidWriter {
            dir: dir.to_owned(),
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
            storage: StorageDescriptor {
                kind: "FILE".to_owned(),
                image_directory: Some(format!("{PYRAMID_NAME}/DATA/{matrix_id}")),
                path_depth: Some(self.spec.path_depth),
                mask_directory: None,
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

    /// The slab file of slab (col, row) of a level.
    pub fn slab_file(&self, matrix_id: &str, slab_col: u32, slab_row: u32) -> PathBuf {
        self.dir
            .join(PYRAMID_NAME)
            .join("DATA")
            .join(matrix_id)
            .join(slab_path(slab_col, slab_row, self.spec.path_depth))
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
        slab::write_slab(
            &self.slab_file(matrix_id, slab_col, slab_row),
            &slab_layout,
            &tiles,
        )?;
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

    /// Writes the slab list and the descriptor; returns the descriptor's path.
    pub fn finish(self) -> Result<PathBuf, PyramidError> {
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
