//! The published layers: an immutable snapshot the request path reads without locks.
//!
//! Built once from the `[[layers]]` tables (and, later, from the publication API: both give the
//! same [`Layer`]); a change builds a new snapshot and swaps it whole, so a request always sees
//! one consistent set. Opening happens here, at build time — a pyramid whose descriptor is
//! broken is refused before the server starts, not at the first request.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use crs::{Bbox, Crs, Transformer};
use pyramid::{CacheLimits, Pyramid, TileMatrix, TileMatrixSet, TileMatrixSets};

use crate::config::{Config, EmptyTile, LayerConfig, LayerKind};

/// Errors of building the layers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The extra tile matrix sets could not be loaded.
    #[error("cannot load the tile matrix sets")]
    TileMatrixSets(#[source] Box<pyramid::PyramidError>),
    /// A pyramid could not be opened.
    #[error("layer '{layer}': cannot open its pyramid")]
    Pyramid {
        /// The layer.
        layer: String,
        /// Why.
        #[source]
        source: Box<pyramid::PyramidError>,
    },
    /// A layer's settings do not fit its data.
    #[error("layer '{layer}': {reason}")]
    Invalid {
        /// The layer.
        layer: String,
        /// What is wrong.
        reason: String,
    },
}

/// All published layers.
#[derive(Debug, Default)]
pub struct Layers {
    by_name: BTreeMap<String, Arc<Layer>>,
}

/// One published layer.
#[derive(Debug)]
pub struct Layer {
    /// Name used in requests.
    pub name: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// The data.
    pub source: LayerSource,
}

/// Where a layer's data comes from.
#[derive(Debug)]
pub enum LayerSource {
    /// A raster pyramid.
    Pyramid(Box<PyramidLayer>),
    /// Vector data, rendered by WMS (served once the WMS issue lands).
    Vector,
}

/// An encoded no-data tile: ((tile width, height), format extension) and its bytes.
pub type NodataTile = (((u32, u32), &'static str), bytes::Bytes);

/// A pyramid layer, with the levels it serves.
#[derive(Debug)]
pub struct PyramidLayer {
    /// The opened pyramid.
    pub pyramid: Pyramid,
    /// Whether GetFeatureInfo answers pixel values.
    pub getfeatureinfo: bool,
    /// Answer to tiles without data.
    pub empty_tile: EmptyTile,
    /// Served tile matrices (indices in the set, coarsest first), within the pyramid's levels.
    pub levels: RangeInclusive<u32>,
    /// Extent of the data in CRS:84 (lon/lat), from the finest served level's tile limits.
    pub wgs84_bbox: Bbox,
    /// The same extent in the tile matrix set's CRS (exact tile edges).
    pub native_bbox: Bbox,
    /// The encoded no-data tile ((tile size, format), bytes), made at the first request needing it.
    pub nodata_tile: std::sync::OnceLock<NodataTile>,
    /// The tile matrix set id capabilities link the layer to: the set's own id when every
    /// matrix is served, else `{set}_{top}_{bottom}`, a set restricted to the served matrices
    /// (as the Géoplateforme does) — clients such as GDAL and QGIS pick the finest matrix of
    /// the linked set, which must be one the layer has.
    pub link: String,
}

impl PyramidLayer {
    /// The tile matrix set.
    pub fn tile_matrix_set(&self) -> &TileMatrixSet {
        self.pyramid.tile_matrix_set()
    }

    /// Whether a request's tile matrix set id designates this layer's set.
    pub fn accepts_tile_matrix_set(&self, id: &str) -> bool {
        id == self.link || id == self.tile_matrix_set().id()
    }

    /// The served tile matrices, coarsest first.
    pub fn served_matrices(&self) -> impl Iterator<Item = &TileMatrix> {
        let set = self.tile_matrix_set();
        self.levels.clone().filter_map(|level| set.matrix_at(level))
    }

    /// The served tile matrix of an id, or `None` when the layer does not serve it.
    pub fn served_matrix(&self, id: &str) -> Option<&TileMatrix> {
        self.tile_matrix_set()
            .matrix(id)
            .filter(|m| self.levels.contains(&m.level()))
    }

    /// The served levels with their matrix and limits (coarsest first).
    pub fn served_levels(&self) -> impl Iterator<Item = (&pyramid::Level, &TileMatrix)> {
        self.pyramid.levels().iter().filter_map(|level| {
            let matrix = self.pyramid.matrix(level)?;
            self.levels
                .contains(&matrix.level())
                .then_some((level, matrix))
        })
    }
}

impl Layers {
    /// Builds the layers of a configuration.
    pub fn from_config(config: &Config) -> Result<Layers, LayerError> {
        let mut sets = TileMatrixSets::builtin();
        if let Some(dir) = &config.tiles.tile_matrix_sets_dir {
            sets.extend_from_dir(dir)
                .map_err(|e| LayerError::TileMatrixSets(Box::new(e)))?;
        }
        let limits = CacheLimits {
            index_bytes: config.tiles.index_cache_bytes,
            open_files: config.tiles.open_slabs,
        };
        let mut by_name = BTreeMap::new();
        for layer in &config.layers {
            let built = build_layer(layer, &sets, limits)?;
            by_name.insert(layer.name.clone(), Arc::new(built));
        }
        Ok(Layers { by_name })
    }

    /// The layer of a name.
    pub fn get(&self, name: &str) -> Option<&Arc<Layer>> {
        self.by_name.get(name)
    }

    /// Every layer, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Layer>> {
        self.by_name.values()
    }

    /// The pyramid layers, by name.
    pub fn pyramids(&self) -> impl Iterator<Item = (&Layer, &PyramidLayer)> {
        self.by_name
            .values()
            .filter_map(|layer| match &layer.source {
                LayerSource::Pyramid(p) => Some((layer.as_ref(), p.as_ref())),
                LayerSource::Vector => None,
            })
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

fn build_layer(
    config: &LayerConfig,
    sets: &TileMatrixSets,
    limits: CacheLimits,
) -> Result<Layer, LayerError> {
    let source = match &config.kind {
        LayerKind::Vector { .. } => LayerSource::Vector,
        LayerKind::Pyramid {
            pyramid,
            getfeatureinfo,
            empty_tile,
            bottom_level,
            top_level,
        } => {
            let opened =
                Pyramid::open(pyramid, sets, limits).map_err(|source| LayerError::Pyramid {
                    layer: config.name.clone(),
                    source: Box::new(source),
                })?;
            let invalid = |reason: String| LayerError::Invalid {
                layer: config.name.clone(),
                reason,
            };
            let stored: Vec<u32> = opened
                .levels()
                .iter()
                .map(pyramid::Level::matrix_index)
                .collect();
            let (Some(&first), Some(&last)) = (stored.first(), stored.last()) else {
                return Err(invalid("the pyramid has no level".to_owned()));
            };
            let level_of =
                |id: &Option<String>, default: u32, which: &str| -> Result<u32, LayerError> {
                    let Some(id) = id else { return Ok(default) };
                    opened
                        .level(id)
                        .map(pyramid::Level::matrix_index)
                        .ok_or_else(|| {
                            let ids: Vec<&str> =
                                opened.levels().iter().map(pyramid::Level::id).collect();
                            invalid(format!(
                                "{which} '{id}' is not a level of the pyramid (levels: {})",
                                ids.join(", ")
                            ))
                        })
                };
            let top = level_of(top_level, first, "top_level")?;
            let bottom = level_of(bottom_level, last, "bottom_level")?;
            if top > bottom {
                return Err(invalid(
                    "top_level is finer than bottom_level: swap them (top is the coarsest)"
                        .to_owned(),
                ));
            }
            let (native_bbox, wgs84_bbox) = data_extent(&opened, bottom)
                .map_err(|reason| invalid(format!("cannot compute its extent: {reason}")))?;
            let set = opened.tile_matrix_set();
            let link = if top == 0 && bottom as usize + 1 == set.matrices().len() {
                set.id().to_owned()
            } else {
                let id = |level: u32| set.matrix_at(level).map_or("", TileMatrix::id).to_owned();
                format!("{}_{}_{}", set.id(), id(top), id(bottom))
            };
            LayerSource::Pyramid(Box::new(PyramidLayer {
                nodata_tile: std::sync::OnceLock::new(),
                link,
                pyramid: opened,
                getfeatureinfo: *getfeatureinfo,
                empty_tile: *empty_tile,
                levels: top..=bottom,
                wgs84_bbox,
                native_bbox,
            }))
        }
    };
    Ok(Layer {
        name: config.name.clone(),
        title: config.title.clone(),
        abstract_text: config.abstract_text.clone(),
        keywords: config.keywords.clone(),
        source,
    })
}

/// The extent of the tiles of the finest served level, in the pyramid's CRS and in CRS:84.
fn data_extent(pyramid: &Pyramid, bottom: u32) -> Result<(Bbox, Bbox), String> {
    let tms = pyramid.tile_matrix_set();
    let level = pyramid
        .levels()
        .iter()
        .rfind(|l| l.matrix_index() <= bottom)
        .ok_or("no level at or above the bottom level")?;
    let matrix = pyramid.matrix(level).ok_or("level without tile matrix")?;
    let l = level.limits();
    let range = matrix
        .range(l.min_col, l.max_col, l.min_row, l.max_row)
        .map_err(|e| e.to_string())?;
    let first = matrix
        .tile(i64::from(range.min_col()), i64::from(range.min_row()))
        .map_err(|e| e.to_string())?;
    let last = matrix
        .tile(i64::from(range.max_col()), i64::from(range.max_row()))
        .map_err(|e| e.to_string())?;
    let native = matrix.tile_bbox(first).union(&matrix.tile_bbox(last));
    let to_wgs84 = Transformer::new(tms.crs(), &Crs::crs84()).map_err(|e| e.to_string())?;
    let wgs84 = to_wgs84
        .transform_bbox(&native)
        .map_err(|e| e.to_string())?;
    Ok((native, wgs84))
}
