//! The tile cache itself: its opened caches, the request path (stored tile, single-flight
//! render, answer), the size cap and the background sweep.

use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use pyramid::{TileMatrixSet, TileMatrixSets};

use super::format::CacheFormat;
use super::layer_cache::{hidpi_id, offered_on, CachePlace, Found, LayerCache};
use super::metatile::{self, Drawing, Metatile};
use super::storage::TILE_MATRIX_SET;
use super::storage::{self, Usage};
use crate::config::{Config, TileCacheConfig};
use crate::error::JsonError;
use crate::layers::{Layer, LayerSource, Snapshot};
use crate::metrics::TileCacheMetrics;
use crate::services::render_pool::{JobError, RenderPool};
use crate::services::tiles::{content_etag, Caching};
use crate::services::vector_tiles::{AddressError, OnDemandTileError, TileAddress};
use crate::services::wms::cache::{CachedImage, ImageCache};

thread_local! {
    /// Cached-tile reads of this thread, for sampling recency.
    static TOUCHES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Bytes of rendered tiles kept in memory when the cache folder cannot be written.
const MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// One tile asked of the cache.
#[derive(Debug, Clone, Copy)]
pub struct CachedTileRequest {
    /// Index of the layer's style.
    pub style: usize,
    /// The format.
    pub format: CacheFormat,
    /// The tile (rows from the top).
    pub tile: TileAddress,
    /// The tile matrix set: its index among the cache's sets (0: Web Mercator).
    pub set: usize,
    /// Pixels per standard pixel: 1, or 2 for HiDPI (`@2x`) tiles.
    pub scale: u32,
}

/// A tile matrix set rendered tiles are cut on, with its HiDPI variant.
#[derive(Debug)]
struct CacheSet {
    standard: TileMatrixSet,
    hidpi: Option<TileMatrixSet>,
    /// Listed in `[tile_cache] sets`: offered to layers that do not choose their own.
    listed: bool,
}

/// An opened cache: (layer address, style, format, set, scale).
type CacheKey = (usize, usize, CacheFormat, usize, u32);

/// Renders, keeps and answers the tiles of vector layers.
pub struct TileCache {
    pub(super) settings: TileCacheConfig,
    root: PathBuf,
    /// The sets tiles may be cut on: Web Mercator (`PM`) first, then those the configuration
    /// names.
    sets: Vec<CacheSet>,
    pub(super) renderer: Arc<render::Renderer>,
    pool: Arc<RenderPool>,
    pub(super) metrics: TileCacheMetrics,
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// The opened caches by (layer, style, format, scale); a layer is known by its address,
    /// which its `Weak` in the cache keeps from being reused.
    caches: ArcSwap<HashMap<CacheKey, Arc<LayerCache>>>,
    opening: Mutex<()>,
    usage: Arc<Mutex<Usage>>,
    memory: ImageCache,
    refused: AtomicBool,
    swept: AtomicU64,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache")
            .field("root", &self.root)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TileCache {
    /// The tile cache of a configuration, over the published layers, drawing on `pool`.
    pub fn new(
        config: &Config,
        snapshot: Arc<ArcSwap<Snapshot>>,
        pool: Arc<RenderPool>,
        metrics: TileCacheMetrics,
    ) -> Result<TileCache, render::RenderError> {
        let settings = config.tile_cache.clone();
        let mut registry = TileMatrixSets::builtin();
        if let Some(dir) = &config.tiles.tile_matrix_sets_dir {
            // Refused at start-up by the layers when it does not load.
            let _ = registry.extend_from_dir(dir);
        }
        // Web Mercator first, then every known set: layers may name any, and styled raster
        // layers are tiled on their pyramid's.
        let mut ids: Vec<&str> = registry.iter().map(TileMatrixSet::id).collect();
        ids.sort_unstable();
        let named = std::iter::once(TILE_MATRIX_SET).chain(ids);
        let mut sets: Vec<CacheSet> = Vec::new();
        for id in named {
            let Some(set) = registry.get(id) else {
                continue;
            };
            if sets.iter().any(|s| s.standard.id() == id) {
                continue;
            }
            sets.push(CacheSet {
                hidpi: settings.hidpi.then(|| set.scaled(2, &hidpi_id(set.id()))),
                listed: settings.sets.iter().any(|s| s == id),
                standard: set.clone(),
            });
        }
        let renderer = render::Renderer::new(render::RendererOptions {
            font_dir: config.wms.font_dir.clone(),
            graphics_dir: None,
        })?;
        Ok(TileCache {
            root: settings
                .dir
                .clone()
                .unwrap_or_else(|| config.data.dir.join("tile-cache")),
            usage: Arc::new(Mutex::new(Usage::new(settings.max_bytes))),
            settings,
            sets,
            renderer: Arc::new(renderer),
            pool,
            metrics,
            snapshot,
            caches: ArcSwap::from_pointee(HashMap::new()),
            opening: Mutex::new(()),
            memory: ImageCache::new(MEMORY_BYTES),
            refused: AtomicBool::new(false),
            swept: AtomicU64::new(0),
        })
    }

    /// Whether vector layers are served as rendered tiles.
    pub fn enabled(&self) -> bool {
        self.settings.enabled && !self.sets.is_empty()
    }

    /// Whether a layer's tiles are rendered by the cache (vector layers, when enabled, in
    /// some format, on some set, at some level).
    pub fn serves(&self, layer: &Layer) -> bool {
        self.enabled()
            && matches!(layer.source, LayerSource::Vector(_))
            && layer.tiles.tiled()
            && !self.formats_of(layer).is_empty()
            && !self.zooms_of(layer).is_empty()
            && self.sets_of(layer).next().is_some()
    }

    /// Whether a layer's tiles are offered on a set: the sets it names, else each listed
    /// Web Mercator set and each listed set in the layer's CRS (its native set).
    pub fn offers_set(&self, layer: &Layer, set: usize) -> bool {
        self.sets
            .get(set)
            .is_some_and(|entry| offered_on(layer, &entry.standard, entry.listed))
    }

    /// Whether a set is one of `[tile_cache] sets` (the others are only cut for layers that
    /// name them, or for the SLD styles of pyramids on them).
    pub fn listed(&self, set: usize) -> bool {
        self.sets.get(set).is_some_and(|entry| entry.listed)
    }

    /// The sets a layer's tiles are offered on (indices).
    pub fn sets_of<'a>(&'a self, layer: &'a Layer) -> impl Iterator<Item = usize> + 'a {
        (0..self.sets.len()).filter(move |&set| self.offers_set(layer, set))
    }

    /// The index of a set by id (`PM`, `LAMB93`…), among the sets tiles may be cut on.
    pub fn set_index(&self, id: &str) -> Option<usize> {
        self.sets.iter().position(|s| s.standard.id() == id)
    }

    /// Whether a raster layer's style is drawn by the cache: an SLD style of a raster
    /// pyramid (its stored tiles are its `normal` style).
    pub fn renders_style(&self, layer: &Layer, style: usize) -> bool {
        let LayerSource::Pyramid(pyramid) = &layer.source else {
            return false;
        };
        self.settings.enabled
            && layer.tiles.tiled()
            && !pyramid.pyramid.format().is_vector()
            && pyramid.styles.get(style).is_some_and(|s| s.style.is_some())
            && self.set_index(pyramid.tile_matrix_set().id()).is_some()
    }

    /// The styles of a raster layer drawn by the cache (indices).
    pub fn rendered_styles<'a>(&'a self, layer: &'a Layer) -> impl Iterator<Item = usize> + 'a {
        (0..layer.styles().len()).filter(move |&style| self.renders_style(layer, style))
    }

    /// How many sets tiles may be cut on.
    pub fn set_count(&self) -> usize {
        self.sets.len()
    }

    /// The image formats of a layer's tiles: its own, else the server's.
    pub fn formats_of<'a>(&'a self, layer: &'a Layer) -> &'a [CacheFormat] {
        layer
            .tiles
            .formats
            .as_deref()
            .unwrap_or(&self.settings.formats)
    }

    /// The zoom levels served for any layer.
    pub fn zooms(&self) -> RangeInclusive<u32> {
        self.settings.min_zoom..=self.settings.max_zoom
    }

    /// The zoom levels of a layer's rendered tiles.
    pub fn zooms_of(&self, layer: &Layer) -> RangeInclusive<u32> {
        layer.tiles.narrow(self.zooms())
    }

    /// A set tiles are cut on at `scale` pixels per standard pixel: the set itself (1), its
    /// HiDPI variant (2, when offered).
    pub fn set_at(&self, set: usize, scale: u32) -> Option<&TileMatrixSet> {
        let entry = self.sets.get(set)?;
        match scale {
            1 => Some(&entry.standard),
            2 => entry.hidpi.as_ref(),
            _ => None,
        }
    }

    /// Whether tiles are offered at twice the pixels.
    pub fn hidpi(&self) -> bool {
        self.settings.hidpi
    }

    /// A tile address of a layer on a set from request numbers (rows from the top).
    pub fn address(
        &self,
        layer: &Layer,
        set: usize,
        z: u32,
        x: i64,
        y: i64,
    ) -> Result<TileAddress, AddressError> {
        let zooms = self.zooms_of(layer);
        let matrix = self
            .set_at(set, 1)
            .and_then(|s| s.matrix_at(z))
            .filter(|_| zooms.contains(&z))
            .ok_or_else(|| {
                AddressError::Zoom(format!(
                    "zoom level {z} is not served: rendered tiles exist for zoom {} to {}",
                    zooms.start(),
                    zooms.end()
                ))
            })?;
        let (width, height) = (matrix.matrix_width(), matrix.matrix_height());
        let (Ok(col), Ok(row)) = (u32::try_from(x), u32::try_from(y)) else {
            return Err(out_of_range(z, x, y, width, height));
        };
        if col >= width || row >= height {
            return Err(out_of_range(z, x, y, width, height));
        }
        Ok(TileAddress { z, x: col, y: row })
    }

    /// The answer for a tile of a vector layer: from the cache, or rendered now with its
    /// metatile (waiting for a render of the same metatile already running); 304 when the
    /// client's copy is current.
    pub async fn response(
        &self,
        layer: &Arc<Layer>,
        request: CachedTileRequest,
        request_headers: &HeaderMap,
        caching: Caching<'_>,
    ) -> Result<Response, OnDemandTileError> {
        self.sweep_if_changed();
        let Some(set) = self.set_at(request.set, request.scale) else {
            return Err(OnDemandTileError::Internal(JsonError::broken(
                "the tile cache has no such set at this scale",
            )));
        };
        // Fast path, a stored tile: no lock but the slab cache's, no shared reference count.
        let cache = {
            let caches = self.caches.load();
            let key = (
                Arc::as_ptr(layer) as usize,
                request.style,
                request.format,
                request.set,
                request.scale,
            );
            let opened;
            let cache = if let Some(known) = caches
                .get(&key)
                .filter(|c| std::ptr::eq(c.layer.as_ptr(), Arc::as_ptr(layer)))
            {
                known
            } else {
                opened = self.layer_cache(layer, key, set);
                &opened
            };
            if let Some(answer) = self.stored(cache, set, request.tile, request_headers, caching)? {
                return Ok(answer);
            }
            Arc::clone(cache)
        };
        let TileAddress { z, x, y } = request.tile;
        let Some(matrix) = set.matrix_at(z) else {
            return Err(OnDemandTileError::Internal(JsonError::broken(
                "a served level has no tile matrix",
            )));
        };
        let metatile = Metatile::of(matrix, x, y, self.settings.metatile);
        let flight = cache.flight(metatile);
        let guard = flight.lock().await;
        // Another request may have rendered it while this one waited.
        if let Some(found) = self.lookup(&cache, z, x, y)? {
            drop(guard);
            cache.land(metatile);
            self.metrics.hits.inc();
            return Ok(cache.answer(found, set, z, request_headers, caching));
        }
        let rendered = self.render(layer, &cache, request, metatile).await;
        drop(guard);
        cache.land(metatile);
        let tiles = rendered?;
        let found = match self.lookup(&cache, z, x, y)? {
            Some(found) => found,
            // Not stored (the disk refused it): answered from what was rendered.
            None => match tiles.get(metatile.slot(x, y)).cloned().flatten() {
                Some(bytes) => {
                    let bytes = Bytes::from(bytes);
                    let etag = content_etag("m", &bytes);
                    Found::Tile(bytes, etag)
                }
                None => Found::Blank,
            },
        };
        Ok(cache.answer(found, set, z, request_headers, caching))
    }

    /// The answer of a tile the cache holds, or that needs no render (outside the data's
    /// limits: blank); `None` when its metatile is still to render.
    fn stored(
        &self,
        cache: &LayerCache,
        set: &TileMatrixSet,
        TileAddress { z, x, y }: TileAddress,
        request_headers: &HeaderMap,
        caching: Caching<'_>,
    ) -> Result<Option<Response>, OnDemandTileError> {
        let Some(level) = cache.levels.get(&z) else {
            return Ok(Some(cache.blank_response(set, z, request_headers, caching)));
        };
        let limits = level.tile_limits;
        let inside = (limits.min_col..=limits.max_col).contains(&x)
            && (limits.min_row..=limits.max_row).contains(&y);
        if !inside {
            return Ok(Some(cache.blank_response(set, z, request_headers, caching)));
        }
        let Some(found) = self.lookup(cache, z, x, y)? else {
            return Ok(None);
        };
        self.metrics.hits.inc();
        Ok(Some(cache.answer(found, set, z, request_headers, caching)))
    }

    /// Renders a metatile on the render pool and stores it (slab, or memory when the disk
    /// refuses); returns its tiles in slab order.
    async fn render(
        &self,
        layer: &Arc<Layer>,
        cache: &Arc<LayerCache>,
        request: CachedTileRequest,
        metatile: Metatile,
    ) -> Result<Vec<Option<Vec<u8>>>, OnDemandTileError> {
        let renderer = Arc::clone(&self.renderer);
        let job_layer = Arc::clone(layer);
        let job_cache = Arc::clone(cache);
        let set = self.set_at(request.set, request.scale).cloned();
        let buffer = self.settings.buffer;
        let job = move |cancel: &crate::services::render_pool::Cancel| {
            let Some(set) = set else {
                return Ok((Vec::new(), None));
            };
            let drawing = Drawing {
                layer: &job_layer,
                style: request.style,
                format: request.format,
                set: &set,
                buffer,
                scale: request.scale,
            };
            let tiles = metatile::draw(&renderer, &drawing, metatile, cancel)?;
            let stored = job_cache.store(&set, metatile, &tiles);
            Ok((tiles, Some(stored)))
        };
        let result: Result<_, crate::services::wms::WmsError> = match self.pool.run(job).await {
            Ok(result) => result,
            Err(JobError::Busy(_)) => return Err(OnDemandTileError::Busy),
            Err(JobError::Cancelled) => return Err(OnDemandTileError::Cancelled),
            Err(JobError::Panicked(panic)) => {
                return Err(OnDemandTileError::Internal(JsonError::internal(
                    "rendering a metatile",
                    &panic,
                )))
            }
        };
        let (tiles, stored) = match result {
            Ok(done) => done,
            Err(error) if error.is_cancelled() => return Err(OnDemandTileError::Cancelled),
            // Logged where it happened.
            Err(_) => return Err(OnDemandTileError::Internal(JsonError::internal_answer())),
        };
        self.metrics.renders.inc();
        self.keep(cache, metatile, &tiles, stored.unwrap_or(Ok(None)));
        Ok(tiles)
    }

    /// Accounts a drawn metatile by how its slab write went: counted against the cap when
    /// written, else kept in memory (and the refusal said once).
    pub(super) fn keep(
        &self,
        cache: &LayerCache,
        metatile: Metatile,
        tiles: &[Option<Vec<u8>>],
        stored: Result<Option<(PathBuf, u64)>, pyramid::PyramidError>,
    ) {
        match stored {
            Ok(Some((path, size))) => self.account(path, size),
            Ok(None) => self.remember(cache, metatile, tiles),
            Err(error) => {
                self.refused(&cache.dir, &error);
                self.remember(cache, metatile, tiles);
            }
        }
    }

    /// Counts a written slab against the cap, removing the least recently used slabs.
    pub(super) fn account(&self, path: PathBuf, size: u64) {
        let (evicted, bytes) = {
            let mut usage = self
                .usage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (usage.add(path, size), usage.bytes())
        };
        self.metrics
            .bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        for slab in evicted {
            match std::fs::remove_file(&slab) {
                Ok(()) => {
                    self.metrics.evictions.inc();
                    self.forget_evicted(&slab);
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => tracing::warn!(
                    path = %slab.display(),
                    %error,
                    "cannot remove a tile cache slab"
                ),
            }
        }
    }

    /// Makes the cache whose folder holds an evicted slab look at its files again.
    fn forget_evicted(&self, slab: &Path) {
        let caches: Vec<Arc<LayerCache>> = self
            .caches
            .load()
            .values()
            .filter(|c| slab.starts_with(&c.dir))
            .cloned()
            .collect();
        for cache in caches {
            if let Some(pyramid) = &cache.pyramid {
                pyramid.forget_all_slabs();
            }
        }
    }

    /// Keeps rendered tiles in memory (the disk refused them).
    pub(super) fn remember(
        &self,
        cache: &LayerCache,
        metatile: Metatile,
        tiles: &[Option<Vec<u8>>],
    ) {
        for r in 0..metatile.rows {
            for c in 0..metatile.cols {
                let (x, y) = (metatile.min_col + c, metatile.min_row + r);
                let bytes = tiles.get(metatile.slot(x, y)).cloned().flatten();
                let image = match bytes {
                    Some(bytes) => {
                        let bytes = Bytes::from(bytes);
                        CachedImage {
                            etag: Some(Arc::from(content_etag("m", &bytes))),
                            bytes,
                            content_type: cache.format.content_type(),
                        }
                    }
                    None => CachedImage {
                        bytes: Bytes::new(),
                        content_type: cache.format.content_type(),
                        etag: None,
                    },
                };
                self.memory
                    .put(memory_key(cache, metatile.level, x, y), image);
            }
        }
    }

    /// The tile when the cache has it: `None` when its metatile was not rendered yet.
    fn lookup(
        &self,
        cache: &LayerCache,
        z: u32,
        x: u32,
        y: u32,
    ) -> Result<Option<Found>, OnDemandTileError> {
        let tile = cache
            .pyramid
            .as_ref()
            .and_then(|p| p.tile_matrix_set().matrix_at(z))
            .and_then(|m| m.tile(i64::from(x), i64::from(y)).ok());
        if let (Some(pyramid), Some(tile)) = (&cache.pyramid, tile) {
            let read = pyramid.read_tile_in_slab(tile).map_err(|error| {
                OnDemandTileError::Internal(JsonError::internal(
                    &format!("reading the tile cache of layer '{}'", cache.name),
                    &error,
                ))
            })?;
            if let Some(stored) = read {
                // Recency is sampled (one read in 16 per thread): an approximate LRU, without a
                // shared lock on every read.
                let sampled = TOUCHES.with(|n| {
                    n.set(n.get().wrapping_add(1));
                    n.get() % 16 == 0
                });
                let level = sampled
                    .then(|| pyramid.levels().iter().find(|l| l.matrix_index() == z))
                    .flatten();
                if let Some(level) = level {
                    self.usage
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .touch(&level.slab_file(x, y));
                }
                return Ok(Some(match stored {
                    Some(tile) => Found::Tile(Bytes::from(tile.bytes), tile.etag),
                    None => Found::Blank,
                }));
            }
        }
        Ok(self
            .memory
            .get(&memory_key(cache, z, x, y))
            .map(|image| match image.etag {
                Some(etag) => Found::Tile(image.bytes, etag.to_string()),
                None => Found::Blank,
            }))
    }

    /// The cache of a layer's style in a format, opened (folder and descriptor made) at
    /// its first use.
    pub(super) fn layer_cache(
        &self,
        layer: &Arc<Layer>,
        key: CacheKey,
        set: &TileMatrixSet,
    ) -> Arc<LayerCache> {
        let (_, style, format, _, _) = key;
        // One opening at a time; readers never wait (the map is swapped whole).
        let _opening = self
            .opening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = self.caches.load_full();
        if let Some(cache) = current
            .get(&key)
            .filter(|c| std::ptr::eq(c.layer.as_ptr(), Arc::as_ptr(layer)))
        {
            return Arc::clone(cache);
        }
        let cache = Arc::new(self.open(layer, style, format, set));
        let mut next: HashMap<_, _> = current
            .iter()
            .filter(|(_, c)| c.layer.strong_count() > 0)
            .map(|(k, c)| (*k, Arc::clone(c)))
            .collect();
        next.insert(key, Arc::clone(&cache));
        self.caches.store(Arc::new(next));
        cache
    }

    fn open(
        &self,
        layer: &Arc<Layer>,
        style: usize,
        format: CacheFormat,
        set: &TileMatrixSet,
    ) -> LayerCache {
        let where_ = CachePlace {
            root: &self.root,
            settings: &self.settings,
            set,
        };
        let (cache, refused) = LayerCache::open(&where_, layer, style, format);
        if let Some(error) = refused {
            self.refused(&cache.dir, &error);
        }
        cache
    }

    /// The cache folder cannot be written: said once in the log.
    pub(super) fn refused(&self, dir: &Path, error: &pyramid::PyramidError) {
        if !self.refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                dir = %dir.display(),
                error = %crate::error::error_chain(error),
                "cannot write the tile cache: tiles are rendered and kept in memory only (this is said once)"
            );
        }
    }

    /// After a publication change, removes in the background the cache folders that no
    /// published layer names any more; the first time, counts the slabs found on disk.
    fn sweep_if_changed(&self) {
        let snapshot = self.snapshot.load();
        let sequence = snapshot.tiles.sequence;
        // Read first: a write on every request would bounce the line between cores.
        if self.swept.load(Ordering::Acquire) == sequence {
            return;
        }
        let previous = self.swept.swap(sequence, Ordering::AcqRel);
        if previous == sequence {
            return;
        }
        let mut live = HashSet::new();
        for layer in snapshot.tiles.iter() {
            let pyramid_set = match &layer.source {
                LayerSource::Pyramid(pyramid) => Some(pyramid.tile_matrix_set()),
                LayerSource::Vector(_) => None,
            };
            if let Some(set) = pyramid_set {
                for style in self.rendered_styles(layer) {
                    if let Some(dir) =
                        storage::relative_dir(layer, style, CacheFormat::Png, &self.settings, set)
                    {
                        live.insert(dir);
                    }
                }
            }
        }
        for layer in snapshot.tiles.iter().filter(|l| self.serves(l)) {
            let sets: Vec<&TileMatrixSet> = self
                .sets_of(layer)
                .flat_map(|i| [self.set_at(i, 1), self.set_at(i, 2)])
                .flatten()
                .collect();
            for style in 0..layer.styles().len() {
                for &format in self.formats_of(layer) {
                    for set in &sets {
                        if let Some(dir) =
                            storage::relative_dir(layer, style, format, &self.settings, set)
                        {
                            live.insert(dir);
                        }
                    }
                }
            }
        }
        let root = self.root.clone();
        let usage = Arc::clone(&self.usage);
        let metrics = self.metrics.clone();
        let first = previous == 0;
        let sweep = move || {
            let (removed, slabs) = storage::sweep(&root, &live);
            let evicted = {
                let mut usage = usage
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for dir in &removed {
                    usage.forget_under(dir);
                }
                if first {
                    for (path, size) in slabs.into_iter().rev() {
                        usage.found(&path, size);
                    }
                }
                let evicted = usage.evict();
                metrics
                    .bytes
                    .set(i64::try_from(usage.bytes()).unwrap_or(i64::MAX));
                evicted
            };
            // Slabs beyond the cap at start: nothing has read them since.
            for slab in evicted {
                if std::fs::remove_file(&slab).is_ok() {
                    metrics.evictions.inc();
                }
            }
            if !removed.is_empty() {
                tracing::info!(folders = removed.len(), "removed outdated tile caches");
            }
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(sweep);
        } else {
            sweep();
        }
    }
}

/// The error of a tile outside its matrix.
fn out_of_range(z: u32, x: i64, y: i64, width: u32, height: u32) -> AddressError {
    AddressError::OutOfRange(format!(
        "tile {x}/{y} is outside zoom level {z}: columns go from 0 to {}, rows from 0 to {}",
        width.saturating_sub(1),
        height.saturating_sub(1)
    ))
}

fn memory_key(cache: &LayerCache, z: u32, x: u32, y: u32) -> String {
    format!("{}\u{0}{z}/{x}/{y}", cache.dir.display())
}
