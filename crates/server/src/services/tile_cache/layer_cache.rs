//! The cache of one layer's style in one format: a ROK4 pyramid whose slabs are metatiles,
//! opened (folder and descriptor made) at first use, with the single-flight locks of its
//! metatiles and its answers (stored tile, blank tile, 304).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use pyramid::{Pyramid, TileMatrixSet, TileMatrixSets};

use super::format::CacheFormat;
use super::metatile::Metatile;
use super::storage;
use crate::config::TileCacheConfig;
use crate::layers::Layer;
use crate::services::tiles::{bytes_response, Caching, DEFAULT_STYLE};

/// The levels from the coarsest to the finest of some ranges (empty without any).
pub fn union(ranges: &[Option<std::ops::RangeInclusive<u32>>; 2]) -> std::ops::RangeInclusive<u32> {
    let min = ranges.iter().flatten().map(|r| *r.start()).min();
    let max = ranges.iter().flatten().map(|r| *r.end()).max();
    min.unwrap_or(1)..=max.unwrap_or(0)
}

/// The id of a set's link over some levels: the set's id when they are all of its matrices,
/// else `{set}_{first}_{last}` (matrix ids, as pyramids name their subsets: `PM_0_18`).
pub fn link_id(set: &pyramid::TileMatrixSet, zooms: &std::ops::RangeInclusive<u32>) -> String {
    let whole = *zooms.start() == 0 && *zooms.end() as usize + 1 == set.matrices().len();
    if whole {
        return set.id().to_owned();
    }
    let id = |level: u32| {
        set.matrix_at(level)
            .map_or_else(|| level.to_string(), |m| m.id().to_owned())
    };
    format!("{}_{}_{}", set.id(), id(*zooms.start()), id(*zooms.end()))
}

/// Whether a layer's rendered tiles are offered on a set: the sets it names, else a set
/// `listed` in `[tile_cache] sets` that is Web Mercator or in the layer's CRS (its native set).
pub fn offered_on(layer: &Layer, set: &TileMatrixSet, listed: bool) -> bool {
    if let Some(ids) = &layer.tiles.sets {
        return ids.iter().any(|id| id == set.id());
    }
    let crs = set.crs();
    listed && (crs.equivalent(&crs::Crs::web_mercator()) || crs.equivalent(layer.crs()))
}

/// The id of a set's HiDPI variant: `{id}@2x`.
pub fn hidpi_id(id: &str) -> String {
    format!("{id}@2x")
}

/// The index of a requested style of a layer: its default for ``, `default` and
/// [`DEFAULT_STYLE`], else the style of that name.
pub fn style_index(layer: &Layer, style: &str) -> Option<usize> {
    if style.is_empty() || style == DEFAULT_STYLE || style.eq_ignore_ascii_case("default") {
        return Some(0);
    }
    layer.styles().iter().position(|s| s.name == style)
}

/// The cache of one layer's style in one format.
pub(super) struct LayerCache {
    pub(super) layer: Weak<Layer>,
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) format: CacheFormat,
    /// The cache pyramid (`None`: the folder cannot be written; tiles live in memory).
    pub(super) pyramid: Option<Pyramid>,
    /// Tile limits of the data per tile matrix index, and slab settings.
    pub(super) levels: std::collections::BTreeMap<u32, pyramid::LevelDescriptor>,
    flights: Mutex<HashMap<Metatile, Arc<tokio::sync::Mutex<()>>>>,
    blank: OnceLock<Bytes>,
}

/// What a lookup found.
pub(super) enum Found {
    /// The tile's bytes and validator.
    Tile(Bytes, String),
    /// The tile was rendered and is empty.
    Blank,
}

/// Where the caches of layers go.
pub(super) struct CachePlace<'a> {
    pub(super) root: &'a Path,
    pub(super) settings: &'a TileCacheConfig,
    pub(super) set: &'a TileMatrixSet,
}

impl LayerCache {
    /// The cache of a layer's style in a format: its folder and descriptor made when missing.
    /// Without a pyramid (and the reason) when the folder cannot be written.
    pub(super) fn open(
        place: &CachePlace<'_>,
        layer: &Arc<Layer>,
        style: usize,
        format: CacheFormat,
    ) -> (LayerCache, Option<pyramid::PyramidError>) {
        let (settings, set) = (place.settings, place.set);
        let relative = storage::relative_dir(layer, style, format, settings, set)
            .unwrap_or_else(|| PathBuf::from("_"));
        let dir = place.root.join(relative);
        let descriptor = storage::descriptor(layer, format, settings, set);
        let levels = descriptor
            .as_ref()
            .map(|d| storage::levels_by_index(d, set))
            .unwrap_or_default();
        let mut refused = None;
        let pyramid = descriptor.and_then(|descriptor| {
            let path = dir.join(format!("{}.json", pyramid::PYRAMID_NAME));
            let written = if path.is_file() {
                Ok(())
            } else {
                std::fs::create_dir_all(&dir)
                    .map_err(|source| pyramid::PyramidError::Write {
                        path: dir.clone(),
                        source,
                    })
                    .and_then(|()| pyramid::write_descriptor(&path, &descriptor))
            };
            let opened = written.and_then(|()| {
                Pyramid::from_parts(
                    &path,
                    &dir,
                    descriptor,
                    &single_set(set),
                    pyramid::CacheLimits {
                        index_bytes: 16 << 20,
                        open_files: settings.open_slabs,
                    },
                )
            });
            opened.map_err(|error| refused = Some(error)).ok()
        });
        let cache = LayerCache {
            layer: Arc::downgrade(layer),
            name: layer.name.clone(),
            dir,
            format,
            pyramid,
            levels,
            flights: Mutex::new(HashMap::new()),
            blank: OnceLock::new(),
        };
        (cache, refused)
    }

    /// Whether a metatile's slab is stored.
    pub(super) fn has_metatile(&self, metatile: Metatile) -> bool {
        self.pyramid.as_ref().is_some_and(|pyramid| {
            pyramid
                .levels()
                .iter()
                .find(|l| l.matrix_index() == metatile.level)
                .is_some_and(|l| l.slab_file(metatile.min_col, metatile.min_row).is_file())
        })
    }

    /// The single-flight lock of a metatile.
    pub(super) fn flight(&self, metatile: Metatile) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(flights.entry(metatile).or_default())
    }

    /// The metatile's render is over: later requests find its tiles stored.
    pub(super) fn land(&self, metatile: Metatile) {
        self.flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&metatile);
    }

    /// Writes a rendered metatile as one slab: `Ok(None)` without a pyramid (memory only),
    /// else the slab written and its size.
    pub(super) fn store(
        &self,
        set: &TileMatrixSet,
        metatile: Metatile,
        tiles: &[Option<Vec<u8>>],
    ) -> Result<Option<(PathBuf, u64)>, pyramid::PyramidError> {
        let (Some(pyramid), Some(level), Some(matrix)) = (
            &self.pyramid,
            self.levels.get(&metatile.level),
            set.matrix_at(metatile.level),
        ) else {
            return Ok(None);
        };
        let Some(opened) = pyramid
            .levels()
            .iter()
            .find(|l| l.matrix_index() == metatile.level)
        else {
            return Ok(None);
        };
        let path = opened.slab_file(metatile.min_col, metatile.min_row);
        let layout = pyramid::layout(
            self.format.tile_format(),
            self.format.channels(),
            matrix,
            level,
        );
        pyramid::write_slab(&path, &layout, tiles)?;
        let first = matrix.tile(i64::from(metatile.min_col), i64::from(metatile.min_row))?;
        pyramid.forget_slab(first);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        Ok(Some((path, size)))
    }

    /// The answer of a found tile.
    pub(super) fn answer(
        &self,
        found: Found,
        set: &TileMatrixSet,
        z: u32,
        request_headers: &HeaderMap,
        caching: Caching<'_>,
    ) -> Response {
        match found {
            Found::Blank => self.blank_response(set, z, request_headers, caching),
            Found::Tile(bytes, etag) => bytes_response(
                self.format.content_type(),
                bytes,
                &etag,
                request_headers,
                caching,
            ),
        }
    }

    /// A tile without anything drawn: transparent PNG, or white JPEG.
    pub(super) fn blank_response(
        &self,
        set: &TileMatrixSet,
        z: u32,
        request_headers: &HeaderMap,
        caching: Caching<'_>,
    ) -> Response {
        let bytes = self
            .blank
            .get_or_init(|| {
                let (w, h) = set
                    .matrix_at(z)
                    .map_or((256, 256), |m| (m.tile_width(), m.tile_height()));
                let colour = if self.format.transparent() {
                    [0, 0, 0, 0]
                } else {
                    [255, 255, 255, 255]
                };
                render::Image::new(w, h, colour)
                    .ok()
                    .and_then(|image| render::encode(&image, self.format.encoder()).ok())
                    .map(Bytes::from)
                    .unwrap_or_default()
            })
            .clone();
        let etag = format!("\"blank-{}\"", self.format.extension());
        bytes_response(
            self.format.content_type(),
            bytes,
            &etag,
            request_headers,
            caching,
        )
    }
}

/// A registry holding one set (the cache pyramids' own).
fn single_set(set: &TileMatrixSet) -> TileMatrixSets {
    let mut sets = TileMatrixSets::new();
    let _ = sets.insert(set.clone());
    sets
}
