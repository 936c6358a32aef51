//! Seeding (`tuilerie seed`): the tiles of a vector layer rendered into its cache ahead of
//! time — the same metatiles, slabs and folder the server renders into on first request, so
//! a seeded tile is answered at once. Metatiles are drawn in parallel (rayon); those whose
//! slab is already stored are skipped, so an interrupted seed restarted with the same
//! arguments goes on where it stopped (`refresh` draws them again).

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::format::CacheFormat;
use super::layer_cache::{
    hidpi_id, link_id, offered_on, style_index, union, CachePlace, LayerCache,
};
use super::metatile::{self, Drawing, Metatile};
use super::storage::TILE_MATRIX_SET;
use crate::config::Config;
use crate::layers::{LayerError, LayerSource, Layers};
use crate::services::render_pool::Cancel;

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions<'a> {
    /// The vector layer of the configuration.
    pub layer: &'a str,
    /// Its style (`None`: the default).
    pub style: Option<&'a str>,
    /// The tile matrix set (`PM`, or the `PM_{min}_{max}` link of the capabilities).
    pub tms: &'a str,
    /// Zoom levels.
    pub levels: RangeInclusive<u32>,
    /// Only the tiles meeting this extent, in CRS:84 (lon/lat); `None`: the data's extent.
    pub bbox: Option<crs::Bbox>,
    /// The image format.
    pub format: CacheFormat,
    /// Threads drawing (0: one per CPU).
    pub threads: usize,
    /// Draw stored metatiles again.
    pub refresh: bool,
}

/// What a seed did.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// Metatiles drawn.
    pub rendered: u64,
    /// Metatiles already stored and kept.
    pub kept: u64,
    /// Tiles in the metatiles drawn.
    pub tiles: u64,
    /// The cache folder.
    pub dir: PathBuf,
}

/// Why a seed could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// The configuration has no such layer.
    #[error("layer '{layer}' is not in the configuration (its vector layers: {})", known.join(", "))]
    UnknownLayer {
        /// The name asked for.
        layer: String,
        /// The configuration's vector layers.
        known: Vec<String>,
    },
    /// The layer is a pyramid: its tiles exist already.
    #[error("layer '{0}' is a pyramid: its tiles are stored already, there is nothing to seed")]
    NotVector(String),
    /// The layer has no such style.
    #[error("layer '{layer}' has no style '{style}' (styles: {})", known.join(", "))]
    UnknownStyle {
        /// The layer.
        layer: String,
        /// The style asked for.
        style: String,
        /// Its styles.
        known: Vec<String>,
    },
    /// The layer's tiles are not offered on the tile matrix set.
    #[error("tile matrix set '{0}' is not served for this layer's rendered tiles: use one of [tile_cache] sets (PM for Web Mercator; a set in the layer's CRS) or of its [layers.tiles] sets, with @2x for HiDPI tiles when [tile_cache] hidpi is on")]
    UnknownSet(String),
    /// The layer's tiles are not offered in that format.
    #[error("layer '{layer}' has no {format} tiles (its formats: {})", if offered.is_empty() { "none, its tiles are turned off".to_owned() } else { offered.join(", ") })]
    Format {
        /// The layer.
        layer: String,
        /// The format asked for.
        format: &'static str,
        /// Its image formats.
        offered: Vec<&'static str>,
    },
    /// The levels are not served.
    #[error("levels {asked}: rendered tiles of this layer are served for zoom {min} to {max} ([tile_cache] and the layer's min_zoom and max_zoom)")]
    Levels {
        /// The levels asked for.
        asked: String,
        /// The first served.
        min: u32,
        /// The last served.
        max: u32,
    },
    /// The tile cache is off in the configuration.
    #[error("the tile cache is off ([tile_cache] enabled = false): there is nothing to seed")]
    Disabled,
    /// The cache folder cannot be written.
    #[error("cannot write the tile cache")]
    Storage(#[source] pyramid::PyramidError),
    /// The configuration's layers could not be opened.
    #[error(transparent)]
    Layers(#[from] LayerError),
    /// The renderer could not start.
    #[error(transparent)]
    Renderer(#[from] render::RenderError),
    /// A metatile could not be drawn or stored (the cause is logged).
    #[error("metatile {level}/{col}/{row}: {reason}")]
    Metatile {
        /// Its level.
        level: u32,
        /// Its first column.
        col: u32,
        /// Its first row.
        row: u32,
        /// What went wrong.
        reason: String,
    },
}

/// Seeds the cache of `options.layer` of `config`; `progress(done, total)` is called as
/// metatiles are done.
pub fn seed(
    config: &Config,
    options: &SeedOptions<'_>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SeedReport, SeedError> {
    let settings = &config.tile_cache;
    if !settings.enabled {
        return Err(SeedError::Disabled);
    }
    let mut sets = pyramid::TileMatrixSets::builtin();
    if let Some(dir) = &config.tiles.tile_matrix_sets_dir {
        // Refused with a message when the layers are read.
        let _ = sets.extend_from_dir(dir);
    }
    // `{set}@2x`: the HiDPI tiles.
    let (base, scale) = match options.tms.strip_suffix("@2x") {
        Some(base) if settings.hidpi => (base, 2),
        _ => (options.tms, 1),
    };
    // A set by id, or by the link id capabilities name it with (`PM_0_18`).
    let vector = &config.vector_tiles;
    let set = sets
        .iter()
        .find(|set| {
            let zooms = if set.id() == TILE_MATRIX_SET {
                union(&[
                    vector.enabled.then_some(vector.min_zoom..=vector.max_zoom),
                    Some(settings.min_zoom..=settings.max_zoom),
                ])
            } else {
                settings.min_zoom..=settings.max_zoom
            };
            set.id() == base || link_id(set, &zooms) == base
        })
        .ok_or_else(|| SeedError::UnknownSet(options.tms.to_owned()))?;
    let layers = Layers::from_config(config)?;
    let Some(layer) = layers.get(options.layer) else {
        return Err(SeedError::UnknownLayer {
            layer: options.layer.to_owned(),
            known: layers
                .iter()
                .filter(|l| matches!(l.source, LayerSource::Vector(_)))
                .map(|l| l.name.clone())
                .collect(),
        });
    };
    if !matches!(layer.source, LayerSource::Vector(_)) {
        return Err(SeedError::NotVector(options.layer.to_owned()));
    }
    if !offered_on(layer, set, settings.sets.iter().any(|s| s == set.id())) {
        return Err(SeedError::UnknownSet(options.tms.to_owned()));
    }
    let scaled;
    let set = if scale == 2 {
        scaled = set.scaled(2, &hidpi_id(set.id()));
        &scaled
    } else {
        set
    };
    let offered = layer.tiles.formats.as_deref().unwrap_or(&settings.formats);
    if !layer.tiles.tiled() || !offered.contains(&options.format) {
        return Err(SeedError::Format {
            layer: layer.name.clone(),
            format: options.format.name(),
            offered: if layer.tiles.tiled() {
                offered.iter().map(|f| f.name()).collect()
            } else {
                Vec::new()
            },
        });
    }
    let served = layer.tiles.narrow(settings.min_zoom..=settings.max_zoom);
    if options.levels.is_empty()
        || !served.contains(options.levels.start())
        || !served.contains(options.levels.end())
    {
        return Err(SeedError::Levels {
            asked: format!("{}-{}", options.levels.start(), options.levels.end()),
            min: *served.start(),
            max: *served.end(),
        });
    }
    let style = match options.style {
        None => 0,
        Some(name) => style_index(layer, name).ok_or_else(|| SeedError::UnknownStyle {
            layer: layer.name.clone(),
            style: name.to_owned(),
            known: layer.styles().iter().map(|s| s.name.clone()).collect(),
        })?,
    };
    let root = settings
        .dir
        .clone()
        .unwrap_or_else(|| config.data.dir.join("tile-cache"));
    let place = CachePlace {
        root: &root,
        settings,
        set,
    };
    let (cache, refused) = LayerCache::open(&place, layer, style, options.format);
    if let Some(error) = refused {
        return Err(SeedError::Storage(error));
    }
    let metatiles = plan(
        &cache,
        set,
        settings.metatile,
        (&options.levels, options.bbox.as_ref()),
    )?;
    let renderer = render::Renderer::new(render::RendererOptions {
        font_dir: config.wms.font_dir.clone(),
        graphics_dir: None,
    })?;
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        options.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("seed-{i}"))
        .build()
        .map_err(|e| SeedError::Metatile {
            level: 0,
            col: 0,
            row: 0,
            reason: format!("cannot start the seeding threads: {e}"),
        })?;
    let total = metatiles.len() as u64;
    let (done, rendered, tiles) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    progress(0, total);
    let drawing = Drawing {
        layer,
        style,
        format: options.format,
        set,
        buffer: settings.buffer,
        scale,
    };
    let cancel = Cancel::never();
    pool.install(|| {
        metatiles.par_iter().try_for_each(|metatile| {
            if options.refresh || !cache.has_metatile(*metatile) {
                let failed = |reason: String| SeedError::Metatile {
                    level: metatile.level,
                    col: metatile.min_col,
                    row: metatile.min_row,
                    reason,
                };
                let drawn = metatile::draw(&renderer, &drawing, *metatile, &cancel)
                    .map_err(|e| failed(e.text().to_owned()))?;
                cache
                    .store(set, *metatile, &drawn)
                    .map_err(|e| failed(crate::error::error_chain(&e)))?;
                rendered.fetch_add(1, Ordering::Relaxed);
                tiles.fetch_add(u64::from(metatile.cols * metatile.rows), Ordering::Relaxed);
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            Ok::<(), SeedError>(())
        })
    })?;
    let rendered = rendered.into_inner();
    Ok(SeedReport {
        rendered,
        kept: total - rendered,
        tiles: tiles.into_inner(),
        dir: cache.dir.clone(),
    })
}

/// The metatiles of the asked levels over the data (or the asked extent, CRS:84), coarsest
/// first.
pub(super) fn plan(
    cache: &LayerCache,
    set: &pyramid::TileMatrixSet,
    size: u32,
    (levels, bbox): (&RangeInclusive<u32>, Option<&crs::Bbox>),
) -> Result<Vec<Metatile>, SeedError> {
    let extent = match bbox {
        Some(bbox) => Some(
            crs::Transformer::new(&crs::Crs::crs84(), set.crs())
                .and_then(|t| t.transform_bbox(&clamp_latitudes(bbox)))
                .map_err(|e| SeedError::Metatile {
                    level: 0,
                    col: 0,
                    row: 0,
                    reason: format!("the extent cannot be put in {}: {e}", set.id()),
                })?,
        ),
        None => None,
    };
    let mut out = Vec::new();
    for z in levels.clone() {
        let (Some(level), Some(matrix)) = (cache.levels.get(&z), set.matrix_at(z)) else {
            continue;
        };
        let l = level.tile_limits;
        let (mut min_col, mut max_col, mut min_row, mut max_row) =
            (l.min_col, l.max_col, l.min_row, l.max_row);
        if let Some(extent) = &extent {
            let Some(range) = matrix.tile_range(extent) else {
                continue;
            };
            min_col = min_col.max(range.min_col());
            max_col = max_col.min(range.max_col());
            min_row = min_row.max(range.min_row());
            max_row = max_row.min(range.max_row());
            if min_col > max_col || min_row > max_row {
                continue;
            }
        }
        let size = size.max(1);
        for row in (min_row / size)..=(max_row / size) {
            for col in (min_col / size)..=(max_col / size) {
                out.push(Metatile::of(matrix, col * size, row * size, size));
            }
        }
    }
    Ok(out)
}

fn clamp_latitudes(bbox: &crs::Bbox) -> crs::Bbox {
    crs::Bbox::new(
        bbox.min_x().max(-180.0),
        bbox.min_y().max(-85.051_128_78),
        bbox.max_x().min(180.0),
        bbox.max_y().min(85.051_128_78),
    )
    .unwrap_or(*bbox)
}
