//! Where cached tiles live: one ROK4 pyramid folder per layer version, style and format,
//! named by a fingerprint of what the tiles depend on; the size cap (least recently used
//! slabs go first); and the sweep that removes the folders no layer names any more.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pyramid::{
    Descriptor, LevelDescriptor, RasterSpecifications, StorageDescriptor, TileLimits,
    TileMatrixSet, PYRAMID_NAME,
};

use super::format::CacheFormat;
use crate::config::TileCacheConfig;
use crate::layers::{Layer, LayerSource};

/// The Web Mercator set: every layer's tiles, vector tiles and TMS are on it.
pub const TILE_MATRIX_SET: &str = "PM";

/// FNV-1a, 64 bits: a stable hash (the same across runs and builds), for folder names.
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A name safe as one path segment: letters, digits, `_`, `-` and `.` kept, anything else
/// `_`, with a hash of the original when something was replaced (two names never share a
/// folder).
fn segment(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe == name && !name.starts_with('.') && !name.is_empty() {
        safe
    } else {
        format!("{safe}~{:08x}", fnv1a(name) as u32)
    }
}

/// The cache folder of a layer's style in a format on a set, relative to the cache root:
/// `{layer}/{fingerprint}-{style}-{format}` on Web Mercator, `…-{style}-{set}-{format}` on
/// another set, `@2x` after HiDPI ones. The fingerprint covers what the tiles depend
/// on — the server version, the stored data (id, size, modification time of each table's
/// GeoPackage), the tables and attributes, the SLD style itself, the tile settings — so a
/// change of any of them names another folder. For a styled raster layer, the pyramid's
/// descriptor (path and modification time) stands for the stored data. `None` for layers the
/// cache does not draw.
pub fn relative_dir(
    layer: &Layer,
    style: usize,
    format: CacheFormat,
    settings: &TileCacheConfig,
    set: &TileMatrixSet,
) -> Option<PathBuf> {
    let style_name = layer.styles().get(style)?.name.as_str();
    let mut identity = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}",
        env!("CARGO_PKG_VERSION"),
        layer.name,
        style_name,
        format.extension(),
        set.id(),
        settings.min_zoom,
        settings.max_zoom,
        settings.metatile,
        settings.buffer,
    );
    match &layer.source {
        LayerSource::Vector(vector) => {
            for relation in &vector.relations {
                identity.push('|');
                identity.push_str(&relation.store.version_stamp());
                identity.push('|');
                identity.push_str(&relation.table);
                identity.push('|');
                identity.push_str(&relation.attributes.join(","));
                identity.push('|');
                let _ = write!(identity, "{:?}", relation.user_style(style_name));
            }
        }
        LayerSource::Pyramid(pyramid) => {
            let style = pyramid.styles.get(style)?.style.as_ref()?;
            let modified = layer
                .modified()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let _ = write!(
                identity,
                "|{}|{modified}|{:?}|{:?}|{style:?}",
                pyramid.pyramid.path().display(),
                pyramid.levels,
                pyramid.interpolation
            );
        }
    }
    // HiDPI caches say their scale: `…-png@2x`.
    let scale = set
        .matrices()
        .first()
        .map_or(1, |m| m.tile_width() / 256)
        .max(1);
    let scale = if scale > 1 {
        format!("@{scale}x")
    } else {
        String::new()
    };
    // Other sets than Web Mercator say theirs: `…-LAMB93-png`.
    let base = set.id().strip_suffix(&scale).unwrap_or(set.id());
    let on = if base == TILE_MATRIX_SET {
        String::new()
    } else {
        format!("{}-", segment(base))
    };
    Some(PathBuf::from(segment(&layer.name)).join(format!(
        "{:016x}-{}-{on}{}{scale}",
        fnv1a(&identity),
        segment(style_name),
        format.extension()
    )))
}

/// The descriptor of a layer's cache pyramid: every served level the layer's extent meets,
/// limited to the tiles it covers, one slab per metatile.
pub fn descriptor(
    layer: &Layer,
    format: CacheFormat,
    settings: &TileCacheConfig,
    set: &TileMatrixSet,
) -> Option<Descriptor> {
    let extent = extent_in(layer, set)?;
    let mut levels = Vec::new();
    for level in cached_levels(layer, settings) {
        let Some(matrix) = set.matrix_at(level) else {
            continue;
        };
        let Some(range) = matrix.tile_range(&extent) else {
            continue;
        };
        let id = matrix.id().to_owned();
        levels.push(LevelDescriptor {
            tiles_per_width: settings.metatile.max(1),
            tiles_per_height: settings.metatile.max(1),
            tile_limits: TileLimits {
                min_col: range.min_col(),
                max_col: range.max_col(),
                min_row: range.min_row(),
                max_row: range.max_row(),
            },
            storage: StorageDescriptor::file(format!("{PYRAMID_NAME}/DATA/{id}"), 2),
            tables: Vec::new(),
            id,
        });
    }
    if levels.is_empty() {
        return None;
    }
    let channels = format.channels();
    Some(Descriptor {
        tile_matrix_set: set.id().to_owned(),
        format: format.tile_format().name().to_owned(),
        raster_specifications: Some(RasterSpecifications {
            channels,
            nodata: vec!["255"; usize::from(channels)].join(","),
            photometric: "rgb".to_owned(),
            interpolation: "nn".to_owned(),
        }),
        levels,
        mask_format: None,
    })
}

/// The layer's extent in the set's CRS (Web Mercator is clamped to its latitudes).
pub fn extent_in(layer: &Layer, set: &TileMatrixSet) -> Option<crs::Bbox> {
    let (native, wgs84) = layer.extent();
    // Exact in the layer's own CRS (a pyramid's extent is whole tiles of its set).
    if set.crs().equivalent(layer.crs()) {
        return Some(*native);
    }
    let clamped = crs::Bbox::new(
        wgs84.min_x().max(-180.0),
        wgs84.min_y().max(-85.051_128_78),
        wgs84.max_x().min(180.0),
        wgs84.max_y().min(85.051_128_78),
    )
    .ok()?;
    let transformer = crs::Transformer::new(&crs::Crs::crs84(), set.crs()).ok()?;
    transformer.transform_bbox(&clamped).ok()
}

/// The levels a layer's cache pyramid holds: `[tile_cache]`'s for a vector layer, the served
/// levels of a styled raster layer's pyramid.
pub fn cached_levels(layer: &Layer, settings: &TileCacheConfig) -> std::ops::RangeInclusive<u32> {
    match &layer.source {
        LayerSource::Pyramid(pyramid) => pyramid.levels.clone(),
        LayerSource::Vector(_) => settings.min_zoom..=settings.max_zoom,
    }
}

/// The slabs of the cache, least recently used first, and their bytes.
#[derive(Debug)]
pub struct Usage {
    slabs: lru::LruCache<PathBuf, u64>,
    bytes: u64,
    cap: u64,
}

impl Usage {
    /// Nothing yet, under a cap (0: none).
    pub fn new(cap: u64) -> Usage {
        Usage {
            slabs: lru::LruCache::unbounded(),
            bytes: 0,
            cap,
        }
    }

    /// Bytes of slabs known.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// A slab written: returns the slabs to remove to stay under the cap, least recently used
    /// first (never the one just added).
    pub fn add(&mut self, path: PathBuf, size: u64) -> Vec<PathBuf> {
        if let Some(old) = self.slabs.put(path, size) {
            self.bytes -= old;
        }
        self.bytes += size;
        self.evict()
    }

    /// A slab found on disk at start: less recently used than any slab already known (call
    /// newest first), and a slab already known is left as it is.
    pub fn found(&mut self, path: &Path, size: u64) {
        if self.slabs.contains(path) {
            return;
        }
        self.slabs.put(path.to_path_buf(), size);
        self.slabs.demote(path);
        self.bytes += size;
    }

    /// The slabs to remove to stay under the cap, least recently used first (never the last
    /// one).
    pub fn evict(&mut self) -> Vec<PathBuf> {
        let mut evicted = Vec::new();
        while self.cap > 0 && self.bytes > self.cap && self.slabs.len() > 1 {
            let Some((path, size)) = self.slabs.pop_lru() else {
                break;
            };
            self.bytes -= size;
            evicted.push(path);
        }
        evicted
    }

    /// A slab read: it becomes the most recently used.
    pub fn touch(&mut self, path: &Path) {
        self.slabs.get(path);
    }

    /// Forgets every slab under a folder (removed).
    pub fn forget_under(&mut self, dir: &Path) {
        let gone: Vec<PathBuf> = self
            .slabs
            .iter()
            .filter(|(p, _)| p.starts_with(dir))
            .map(|(p, _)| p.clone())
            .collect();
        for path in gone {
            if let Some(size) = self.slabs.pop(&path) {
                self.bytes -= size;
            }
        }
    }
}

/// Removes the cache folders under `root` that `live` (relative folders) does not name, and
/// returns the slab files of the live ones with their size and age (oldest first).
pub fn sweep(root: &Path, live: &HashSet<PathBuf>) -> (Vec<PathBuf>, Vec<(PathBuf, u64)>) {
    let mut removed = Vec::new();
    let mut slabs: Vec<(std::time::SystemTime, PathBuf, u64)> = Vec::new();
    let Ok(layers) = std::fs::read_dir(root) else {
        return (removed, Vec::new());
    };
    for layer in layers.flatten() {
        let layer_path = layer.path();
        if !layer_path.is_dir() {
            continue;
        }
        let Ok(versions) = std::fs::read_dir(&layer_path) else {
            continue;
        };
        let mut kept = 0;
        for version in versions.flatten() {
            let path = version.path();
            let relative = path.strip_prefix(root).map(Path::to_path_buf);
            if relative.as_ref().is_ok_and(|r| live.contains(r)) {
                kept += 1;
                collect_slabs(&path.join(PYRAMID_NAME), &mut slabs);
                continue;
            }
            let result = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match result {
                Ok(()) => removed.push(path),
                Err(error) => tracing::warn!(
                    path = %path.display(),
                    %error,
                    "cannot remove an outdated tile cache"
                ),
            }
        }
        if kept == 0 {
            let _ = std::fs::remove_dir(&layer_path);
        }
    }
    slabs.sort_by_key(|slab| slab.0);
    (
        removed,
        slabs
            .into_iter()
            .map(|(_, path, size)| (path, size))
            .collect(),
    )
}

fn collect_slabs(dir: &Path, out: &mut Vec<(std::time::SystemTime, PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_dir() {
            collect_slabs(&path, out);
        } else if is_litter(&path, &metadata) {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed a temporary slab left by a stopped process");
                }
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot remove a temporary slab");
                }
            }
        } else if path.extension().is_some_and(|e| e == "tif") {
            let modified = metadata.modified().unwrap_or(std::time::UNIX_EPOCH);
            out.push((modified, path, metadata.len()));
        }
    }
}

/// Whether `path` is the temporary of a slab write (`.{slab}.{pid}.tmp`, renamed in place when
/// whole) that nobody will finish: its process is gone (seen in `/proc`; a write takes
/// milliseconds, so one older than 2 s is not being written by a process we cannot see), or it
/// is older than 10 minutes whatever its process.
fn is_litter(path: &Path, metadata: &std::fs::Metadata) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(pid) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(|n| n.rsplit_once('.'))
        .and_then(|(_, pid)| pid.parse::<u32>().ok())
    else {
        return false;
    };
    let age = metadata
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .unwrap_or_default();
    let proc = Path::new("/proc");
    let gone = proc.join("self").exists() && !proc.join(pid.to_string()).exists();
    (gone && age > std::time::Duration::from_secs(2)) || age > std::time::Duration::from_mins(10)
}

/// Levels of a descriptor by tile matrix index.
pub fn levels_by_index(
    descriptor: &Descriptor,
    set: &TileMatrixSet,
) -> BTreeMap<u32, LevelDescriptor> {
    descriptor
        .levels
        .iter()
        .filter_map(|level| Some((set.matrix(&level.id)?.level(), level.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_safe_and_distinct() {
        assert_eq!(segment("roads_2024"), "roads_2024");
        let a = segment("a/b");
        let b = segment("a:b");
        assert!(!a.contains('/'));
        assert_ne!(a, b);
        assert!(segment("..").starts_with(".._") || !segment("..").contains('/'));
        assert_ne!(segment(".."), "..");
    }

    #[test]
    fn the_cap_evicts_the_least_recently_used() {
        let mut usage = Usage::new(100);
        assert!(usage.add("a".into(), 40).is_empty());
        assert!(usage.add("b".into(), 40).is_empty());
        usage.touch(Path::new("a"));
        let evicted = usage.add("c".into(), 40);
        assert_eq!(evicted, vec![PathBuf::from("b")]);
        assert_eq!(usage.bytes(), 80);
        usage.forget_under(Path::new("a"));
        assert_eq!(usage.bytes(), 40);
        // A slab larger than the cap stays (it was just written and is being answered).
        let mut small = Usage::new(10);
        assert!(small.add("big".into(), 50).is_empty());
        // Slabs found on disk are older than those written since, and counted once.
        let mut usage = Usage::new(100);
        assert!(usage.add("new".into(), 40).is_empty());
        usage.found(Path::new("new"), 40);
        usage.found(Path::new("old-2"), 30);
        usage.found(Path::new("old-1"), 30);
        assert_eq!(usage.bytes(), 100);
        assert!(usage.evict().is_empty());
        let evicted = usage.add("newer".into(), 20);
        assert_eq!(evicted, vec![PathBuf::from("old-1")]);
    }

    #[test]
    fn sweeping_keeps_live_folders_and_lists_their_slabs() {
        let root = std::env::temp_dir().join(format!("tuilerie-sweep-{}", std::process::id()));
        let live_dir = root.join("roads").join("00ff-default-png");
        let slab = live_dir
            .join(PYRAMID_NAME)
            .join("DATA")
            .join("3")
            .join("00")
            .join("A1.tif");
        let old_dir = root.join("roads").join("0aaa-default-png");
        let gone_layer = root.join("rivers").join("0bbb-default-png");
        for dir in [slab.parent().expect("a folder"), &old_dir, &gone_layer] {
            std::fs::create_dir_all(dir).expect("make the folders");
        }
        std::fs::write(&slab, [0u8; 12]).expect("write a slab");
        // Temporaries: of a process that is gone (pids never exceed 2^22 on Linux), of this
        // one (being written), and of a gone one but too fresh to tell from a hidden writer.
        let folder = slab.parent().expect("a folder");
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
        let dead = folder.join(".A2.tif.4194999.tmp");
        let ours = folder.join(format!(".A3.tif.{}.tmp", std::process::id()));
        let fresh = folder.join(".A4.tif.4194999.tmp");
        for temporary in [&dead, &ours, &fresh] {
            std::fs::write(temporary, [0u8; 4]).expect("write a temporary");
        }
        std::fs::File::options()
            .write(true)
            .open(&dead)
            .and_then(|f| f.set_modified(an_hour_ago))
            .expect("age it");
        let live: HashSet<PathBuf> = [PathBuf::from("roads/00ff-default-png")].into();
        let (removed, slabs) = sweep(&root, &live);
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!old_dir.exists() && !root.join("rivers").exists());
        assert_eq!(slabs, vec![(slab.clone(), 12)]);
        assert!(!dead.exists(), "a dead process's old temporary is removed");
        assert!(
            ours.exists() && fresh.exists(),
            "temporaries maybe being written are kept"
        );
        std::fs::remove_dir_all(&root).expect("clean up");
    }
}
