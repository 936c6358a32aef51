//! Seeding inside the running server, started through the publication API: a published
//! layer's tiles drawn ahead of time by the server's own tile cache — the same caches,
//! single-flight locks and size cap as requests, so a seed and a request never draw one
//! metatile twice and no slab index goes stale (as it could beside a `tuilerie seed` process).
//! Jobs live in memory: a restart forgets them, and launching the seed again skips the
//! metatiles already stored.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::cache::TileCache;
use super::format::CacheFormat;
use super::layer_cache::LayerCache;
use super::metatile::Metatile;
use super::metatile::{self, Drawing};
use super::seed;
use crate::layers::Layer;
use crate::services::render_pool::Cancel;

/// Finished jobs kept for `GET`, beside the running ones.
const KEPT_FINISHED: usize = 100;

/// `POST /api/datastores/{datastore}/seeds`: draw a published layer's tiles ahead of time.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSeed {
    /// The published layer (the `layer_name` of one of the datastore's offerings).
    pub layer: String,
    /// Its style (default: its default style; a raster layer's: one of its SLD styles).
    #[serde(default)]
    pub style: Option<String>,
    /// Tile matrix set: its id or the link id of the capabilities, `@2x` for HiDPI tiles
    /// (default: `PM`; a raster layer's: its pyramid's).
    #[serde(default)]
    pub tms: Option<String>,
    /// Levels: `N` or `MIN-MAX`.
    pub levels: String,
    /// Only the tiles meeting `[west, south, east, north]` in CRS:84 (default: the data's
    /// extent).
    #[serde(default)]
    pub bbox: Option<[f64; 4]>,
    /// `png` (default), `png8`, `jpeg` or `webp`.
    #[serde(default)]
    pub format: Option<String>,
    /// Draw stored metatiles again.
    #[serde(default)]
    pub refresh: bool,
    /// Threads drawing (default 1: requests keep the others; at most the CPUs).
    #[serde(default)]
    pub threads: Option<usize>,
}

/// What a seed job draws.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Index of the layer's style.
    pub style: usize,
    /// The image format.
    pub format: CacheFormat,
    /// The set (index in the cache) and scale.
    pub set: usize,
    /// Pixels per standard pixel (2: HiDPI tiles).
    pub scale: u32,
    /// Levels.
    pub levels: RangeInclusive<u32>,
    /// Only the tiles meeting this CRS:84 extent (`None`: the data's extent).
    pub bbox: Option<crs::Bbox>,
    /// Draw stored metatiles again.
    pub refresh: bool,
    /// Threads drawing.
    pub threads: usize,
}

/// Where a seed job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum SeedStatus {
    /// Not started yet.
    Waiting,
    /// Drawing.
    Progress,
    /// Every metatile is stored.
    Success,
    /// Stopped by an error (see `message`).
    Failure,
    /// Stopped by `DELETE`.
    Aborted,
}

/// Metatiles done of all.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SeedProgress {
    /// Metatiles drawn or found stored.
    pub done: u64,
    /// Metatiles to do.
    pub total: u64,
}

/// A seed job as the API shows it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SeedView {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The datastore that started it.
    pub datastore: String,
    /// The layer.
    pub layer: String,
    /// Its style.
    pub style: String,
    /// The tile matrix set.
    pub tms: String,
    /// Levels, `min-max`.
    pub levels: String,
    /// Image format.
    pub format: String,
    /// Where it is.
    pub status: SeedStatus,
    /// Metatiles done.
    pub progress: SeedProgress,
    /// Metatiles drawn (the others were stored already).
    pub rendered: u64,
    /// When created, started and finished (RFC 3339).
    pub creation: String,
    /// When started.
    pub start: Option<String>,
    /// When finished.
    pub finish: Option<String>,
    /// Why it failed.
    pub message: Option<String>,
}

/// One seed job.
#[derive(Debug)]
pub struct SeedJob {
    view: Mutex<SeedView>,
    done: AtomicU64,
    rendered: AtomicU64,
    cancel: AtomicBool,
}

impl SeedJob {
    /// A waiting job described by `view`.
    pub fn new(view: SeedView) -> SeedJob {
        SeedJob {
            view: Mutex::new(view),
            done: AtomicU64::new(0),
            rendered: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
        }
    }

    /// What the API shows.
    pub fn view(&self) -> SeedView {
        let mut view = self.lock().clone();
        view.progress.done = self.done.load(Ordering::Relaxed);
        view.rendered = self.rendered.load(Ordering::Relaxed);
        view
    }

    /// Asks a waiting or running job to stop; false when it had ended.
    pub fn abort(&self) -> bool {
        let running = matches!(
            self.lock().status,
            SeedStatus::Waiting | SeedStatus::Progress
        );
        if running {
            self.cancel.store(true, Ordering::Relaxed);
        }
        running
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SeedView> {
        self.view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn finish(&self, status: SeedStatus, message: Option<String>) {
        let mut view = self.lock();
        view.status = status;
        view.message = message;
        view.finish = Some(seed_now());
    }
}

/// The seed jobs of the server.
#[derive(Debug, Default)]
pub struct SeedJobs {
    jobs: Mutex<Vec<Arc<SeedJob>>>,
}

impl SeedJobs {
    /// Keeps a job (forgetting the oldest finished ones beyond a hundred).
    pub fn add(&self, job: Arc<SeedJob>) {
        let mut jobs = self.lock();
        jobs.push(job);
        let finished = jobs
            .iter()
            .filter(|j| !matches!(j.lock().status, SeedStatus::Waiting | SeedStatus::Progress))
            .count();
        if finished > KEPT_FINISHED {
            let mut excess = finished - KEPT_FINISHED;
            jobs.retain(|j| {
                let ended = !matches!(j.lock().status, SeedStatus::Waiting | SeedStatus::Progress);
                if ended && excess > 0 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// The jobs of a datastore, oldest first.
    pub fn of(&self, datastore: &str) -> Vec<Arc<SeedJob>> {
        self.lock()
            .iter()
            .filter(|j| j.lock().datastore == datastore)
            .cloned()
            .collect()
    }

    /// A job of a datastore.
    pub fn get(&self, datastore: &str, id: &str) -> Option<Arc<SeedJob>> {
        self.of(datastore).into_iter().find(|j| j.lock().id == id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SeedJob>>> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl TileCache {
    /// The plan of a seed request over a layer, and the names it shows; the message says
    /// what is wrong and how to fix it.
    pub fn plan_seed(&self, layer: &Layer, new: &NewSeed) -> Result<(SeedPlan, String), String> {
        let pyramid = match &layer.source {
            crate::layers::LayerSource::Pyramid(pyramid) => Some(pyramid),
            crate::layers::LayerSource::Vector(_) => None,
        };
        let style = match (pyramid, new.style.as_deref()) {
            (None, name) => super::layer_cache::style_index(layer, name.unwrap_or("")).ok_or_else(|| {
                format!(
                    "layer '{}' has no style '{}' (styles: {})",
                    layer.name,
                    name.unwrap_or(""),
                    style_names(layer)
                )
            })?,
            (Some(_), name) => layer
                .styles()
                .iter()
                .position(|s| Some(s.name.as_str()) == name)
                .filter(|&i| self.renders_style(layer, i))
                .ok_or_else(|| {
                    format!(
                        "layer '{}' is a pyramid: its stored tiles need no seed; seed one of its SLD styles ({})",
                        layer.name,
                        style_names(layer)
                    )
                })?,
        };
        if pyramid.is_none() && !self.serves(layer) {
            return Err(format!(
                "layer '{}' has no rendered tiles ([tile_cache] or its tile settings turn them off)",
                layer.name
            ));
        }
        let format = match new.format.as_deref() {
            None => CacheFormat::Png,
            Some(name) => CacheFormat::from_name(name)
                .ok_or_else(|| format!("format '{name}': use png, png8, jpeg or webp"))?,
        };
        let offered: &[CacheFormat] = if pyramid.is_some() {
            &[CacheFormat::Png]
        } else {
            self.formats_of(layer)
        };
        if !offered.contains(&format) {
            return Err(format!(
                "layer '{}' has no {} tiles (its formats: {})",
                layer.name,
                format.name(),
                offered
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let default_tms = pyramid.map_or(super::storage::TILE_MATRIX_SET, |p| {
            p.tile_matrix_set().id()
        });
        let tms = new.tms.as_deref().unwrap_or(default_tms);
        let (base, scale) = match tms.strip_suffix("@2x") {
            Some(base) if pyramid.is_none() && self.hidpi() => (base, 2),
            _ => (tms, 1),
        };
        let set = (0..self.set_count())
            .find(|&i| self.set_at(i, 1).is_some_and(|s| names_set(s, base)))
            .filter(|&i| match pyramid {
                Some(p) => self
                    .set_at(i, 1)
                    .is_some_and(|s| s.id() == p.tile_matrix_set().id()),
                None => self.offers_set(layer, i),
            })
            .ok_or_else(|| {
                format!(
                    "layer '{}' is not tiled on '{tms}' (use {})",
                    layer.name,
                    match pyramid {
                        Some(p) => p.link.clone(),
                        None => self
                            .sets_of(layer)
                            .filter_map(|i| self.set_at(i, 1).map(|s| s.id().to_owned()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                )
            })?;
        let served = match pyramid {
            Some(p) => p.levels.clone(),
            None => self.zooms_of(layer),
        };
        let levels = parse_levels(&new.levels)
            .filter(|l| served.contains(l.start()) && served.contains(l.end()))
            .ok_or_else(|| {
                format!(
                    "levels '{}': give N or MIN-MAX within {} to {}",
                    new.levels,
                    served.start(),
                    served.end()
                )
            })?;
        let bbox =
            match new.bbox {
                None => None,
                Some([w, s, e, n]) => Some(crs::Bbox::new(w, s, e, n).map_err(|e| {
                    format!("bbox: {e}; give [west, south, east, north] in degrees")
                })?),
            };
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let plan = SeedPlan {
            style,
            format,
            set,
            scale,
            levels,
            bbox,
            refresh: new.refresh,
            threads: new.threads.unwrap_or(1).clamp(1, cpus),
        };
        Ok((plan, tms.to_owned()))
    }

    /// Starts drawing a layer's tiles on a thread of its own; `job` tells how far it is.
    pub fn start_seed(
        self: &Arc<Self>,
        layer: Arc<Layer>,
        plan: SeedPlan,
        job: Arc<SeedJob>,
    ) -> std::io::Result<()> {
        let cache = Arc::clone(self);
        std::thread::Builder::new()
            .name("tuilerie-seed".to_owned())
            .spawn(move || {
                let outcome = cache.run_seed(&layer, &plan, &job);
                let (status, message) = match outcome {
                    Ok(()) => (SeedStatus::Success, None),
                    Err(None) => (SeedStatus::Aborted, None),
                    Err(Some(message)) => {
                        tracing::warn!(layer = %layer.name, %message, "a seed job failed");
                        (SeedStatus::Failure, Some(message))
                    }
                };
                job.finish(status, message);
            })
            .map(drop)
    }

    /// Draws what the plan asks; `Err(None)` when aborted.
    fn run_seed(
        &self,
        layer: &Arc<Layer>,
        plan: &SeedPlan,
        job: &SeedJob,
    ) -> Result<(), Option<String>> {
        let Some(set) = self.set_at(plan.set, plan.scale).cloned() else {
            return Err(Some(
                "the tile matrix set is not known to the tile cache".to_owned(),
            ));
        };
        let key = (
            Arc::as_ptr(layer) as usize,
            plan.style,
            plan.format,
            plan.set,
            plan.scale,
        );
        let cache = self.layer_cache(layer, key, &set);
        if cache.pyramid.is_none() {
            return Err(Some(format!(
                "the tile cache folder {} cannot be written",
                cache.dir.display()
            )));
        }
        let metatiles = seed::plan(
            &cache,
            &set,
            self.settings.metatile,
            (&plan.levels, plan.bbox.as_ref()),
        )
        .map_err(|e| Some(e.to_string()))?;
        {
            let mut view = job.lock();
            view.status = SeedStatus::Progress;
            view.start = Some(seed_now());
            view.progress.total = metatiles.len() as u64;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(plan.threads.max(1))
            .thread_name(|i| format!("tuilerie-seed-{i}"))
            .build()
            .map_err(|e| Some(format!("cannot start the seeding threads: {e}")))?;
        let drawing = Drawing {
            layer,
            style: plan.style,
            format: plan.format,
            set: &set,
            buffer: self.settings.buffer,
            scale: plan.scale,
        };
        let cancel = Cancel::never();
        pool.install(|| {
            metatiles.par_iter().try_for_each(|&metatile| {
                if job.cancel.load(Ordering::Relaxed) {
                    return Err(None);
                }
                if plan.refresh || !cache.has_metatile(metatile) {
                    // The lock requests take: a request of this metatile waits for this draw.
                    let flight = cache.flight(metatile);
                    let guard = flight.blocking_lock();
                    let stored = !plan.refresh && cache.has_metatile(metatile);
                    let drawn = if stored {
                        Ok(())
                    } else {
                        self.draw_and_keep(&drawing, &cache, metatile, &cancel)
                    };
                    drop(guard);
                    cache.land(metatile);
                    drawn?;
                    if !stored {
                        job.rendered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                job.done.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
        })
    }

    /// Draws one metatile and stores it (or keeps it in memory when the disk refuses).
    fn draw_and_keep(
        &self,
        drawing: &Drawing<'_>,
        cache: &LayerCache,
        metatile: Metatile,
        cancel: &Cancel,
    ) -> Result<(), Option<String>> {
        let tiles = metatile::draw(&self.renderer, drawing, metatile, cancel).map_err(|e| {
            Some(format!(
                "metatile {}/{}/{}: {}",
                metatile.level,
                metatile.min_col,
                metatile.min_row,
                e.text()
            ))
        })?;
        self.metrics.renders.inc();
        let stored = cache.store(drawing.set, metatile, &tiles);
        self.keep(cache, metatile, &tiles, stored);
        Ok(())
    }
}

/// Whether `name` names a set: its id, or a link id over some of its matrices
/// (`{id}_{first}_{last}`).
fn names_set(set: &pyramid::TileMatrixSet, name: &str) -> bool {
    if name == set.id() {
        return true;
    }
    let Some(rest) = name
        .strip_prefix(set.id())
        .and_then(|r| r.strip_prefix('_'))
    else {
        return false;
    };
    set.matrices().iter().any(|first| {
        rest.strip_prefix(first.id())
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|last| set.matrix(last).is_some())
    })
}

/// `N` or `MIN-MAX`.
fn parse_levels(text: &str) -> Option<RangeInclusive<u32>> {
    let (min, max) = text.split_once('-').unwrap_or((text, text));
    let (min, max) = (min.trim().parse().ok()?, max.trim().parse().ok()?);
    (min <= max).then_some(min..=max)
}

/// A layer's style names, for messages.
fn style_names(layer: &Layer) -> String {
    layer
        .styles()
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Now, RFC 3339 in UTC to the second.
pub fn seed_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
