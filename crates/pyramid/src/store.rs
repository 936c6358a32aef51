//! Pyramids on disk: the ROK4 descriptor (`pyramid.json`), its levels, and tile reads.
//!
//! A pyramid lives in one folder: `NAME.json` (the descriptor), `NAME.list` (the slabs, one per
//! line) and `NAME/DATA/{level}/…/XY.tif` (the slabs). The descriptor's `image_directory` is
//! relative to the folder holding the descriptor, as ROK4 writes it.
//!
//! A tile read is one cached index lookup plus one positioned read of the tile's bytes, never a
//! read of the whole slab: the slab's open file and its offset/size table stay in an LRU cache
//! bounded in bytes and in open files. A missing slab or a zero size is "no data" (`Ok(None)`),
//! cached as well. The lock is held only to look up or insert, never during I/O; concurrent
//! reads of a slab that is not cached wait for one load of its index.
//!
//! Pyramids in object storage (ROK4's `S3` levels: `{image_prefix}_{col}_{row}` objects in a
//! bucket) are read the same way: a cold tile costs one ranged GET of the slab's header and
//! index, then one of the tile; a warm one, the second only. Symbolic slabs (small objects
//! holding `SYMLINK#bucket/key`, as ROK4 writes them) are followed.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::format::TileFormat;
use crate::object::{Location, ObjectStorage, ObjectUrl};
use crate::slab::{self, SlabLayout, HEADER_SIZE};
use crate::tile::{self, TileImage};
use crate::{PyramidError, TileCoord, TileMatrix, TileMatrixSet, TileMatrixSets};

/// The ROK4 pyramid descriptor, as serialized in `pyramid.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Tile matrix set id (`PM`, `LAMB93_10cm`…).
    pub tile_matrix_set: String,
    /// Tile format (`TIFF_JPG_UINT8`…).
    pub format: String,
    /// Raster specifications (absent for vector pyramids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raster_specifications: Option<RasterSpecifications>,
    /// Levels, coarsest first as ROK4 writes them (any order is accepted).
    pub levels: Vec<LevelDescriptor>,
    /// Present when the pyramid stores masks (ignored when reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_format: Option<String>,
}

/// `raster_specifications` of a descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RasterSpecifications {
    /// Samples per pixel.
    pub channels: u8,
    /// No-data value of each channel, comma-separated (`"255,255,255"`, `"-99999"`).
    pub nodata: String,
    /// `rgb` or `gray`.
    pub photometric: String,
    /// Resampling used to build the levels (`nn`, `linear`, `bicubic`, `lanczos`).
    pub interpolation: String,
}

/// One level of a descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelDescriptor {
    /// Tile matrix id.
    pub id: String,
    /// Tiles per slab, across.
    pub tiles_per_width: u32,
    /// Tiles per slab, down.
    pub tiles_per_height: u32,
    /// The tiles that may hold data.
    pub tile_limits: TileLimits,
    /// Where the slabs are.
    pub storage: StorageDescriptor,
    /// Vector pyramids: the tables (MVT layers) the level's tiles hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<VectorTable>,
}

/// A table of a vector pyramid's level, as ROK4 describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorTable {
    /// The table (the MVT layer name).
    pub name: String,
    /// Its geometry type (`MULTIPOLYGON`…).
    pub geometry: String,
    /// Its attributes.
    #[serde(default)]
    pub attributes: Vec<VectorAttribute>,
}

/// An attribute of a [`VectorTable`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorAttribute {
    /// The name.
    pub name: String,
    /// Its type, as the source database names it (`integer`, `character varying`…).
    #[serde(rename = "type")]
    pub ty: String,
    /// How many distinct values it has, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Its distinct values, when few.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// Inclusive tile limits of a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileLimits {
    /// First column.
    pub min_col: u32,
    /// Last column.
    pub max_col: u32,
    /// First row.
    pub min_row: u32,
    /// Last row.
    pub max_row: u32,
}

/// `storage` of a level: `FILE` (a folder of slab files) or `S3` (objects of a bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageDescriptor {
    /// `FILE` or `S3` (`CEPH` is recognised and refused with a clear message).
    #[serde(rename = "type")]
    pub kind: String,
    /// Folder of the level's slabs, relative to the descriptor's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_directory: Option<String>,
    /// Number of folder levels in slab paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_depth: Option<u32>,
    /// Mask folder (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_directory: Option<String>,
    /// Object levels: the key prefix of the level's slabs (`{prefix}_{col}_{row}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_prefix: Option<String>,
    /// Object levels: the bucket (`bucket` or `bucket@host`; default: the descriptor's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// Object levels: mask key prefix (ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_prefix: Option<String>,
}

impl StorageDescriptor {
    /// A level of slab files under `image_directory`.
    pub fn file(image_directory: String, path_depth: u32) -> StorageDescriptor {
        StorageDescriptor {
            kind: "FILE".to_owned(),
            image_directory: Some(image_directory),
            path_depth: Some(path_depth),
            mask_directory: None,
            image_prefix: None,
            bucket_name: None,
            mask_prefix: None,
        }
    }

    /// A level of slab objects `{image_prefix}_{col}_{row}` in `bucket_name`.
    pub fn object(image_prefix: String, bucket_name: String) -> StorageDescriptor {
        StorageDescriptor {
            kind: "S3".to_owned(),
            image_directory: None,
            path_depth: None,
            mask_directory: None,
            image_prefix: Some(image_prefix),
            bucket_name: Some(bucket_name),
            mask_prefix: None,
        }
    }
}

/// A level of an opened pyramid.
#[derive(Debug, Clone)]
pub struct Level {
    id: String,
    matrix_index: u32,
    limits: TileLimits,
    tiles_per_width: u32,
    tiles_per_height: u32,
    slabs: SlabStore,
    /// Small integer naming this level in cache keys.
    ordinal: u32,
}

/// Where the slabs of a level are.
#[derive(Debug, Clone)]
enum SlabStore {
    /// Files named from the slab's column and row in base 36.
    Files { directory: PathBuf, depth: u32 },
    /// Objects `{prefix}_{col}_{row}`.
    Objects {
        storage: Arc<ObjectStorage>,
        prefix: ObjectUrl,
    },
}

impl Level {
    /// Tile matrix id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Index of the tile matrix in the set (0 = coarsest).
    pub fn matrix_index(&self) -> u32 {
        self.matrix_index
    }
    /// Tile limits.
    pub fn limits(&self) -> TileLimits {
        self.limits
    }
    /// Whether (col, row) is within the limits.
    pub fn contains(&self, col: u32, row: u32) -> bool {
        (self.limits.min_col..=self.limits.max_col).contains(&col)
            && (self.limits.min_row..=self.limits.max_row).contains(&row)
    }
    /// Tiles per slab (across, down).
    pub fn slab_size(&self) -> (u32, u32) {
        (self.tiles_per_width, self.tiles_per_height)
    }
    /// The slab file holding tile (col, row); for object levels, the object's `s3://` URL as
    /// a path (for messages: it is not a file).
    pub fn slab_file(&self, col: u32, row: u32) -> PathBuf {
        match &self.slabs {
            SlabStore::Files { directory, depth } => directory.join(slab::slab_path(
                col / self.tiles_per_width,
                row / self.tiles_per_height,
                *depth,
            )),
            SlabStore::Objects { .. } => PathBuf::from(
                self.slab_object(col, row)
                    .map(|url| url.to_string())
                    .unwrap_or_default(),
            ),
        }
    }

    /// The object holding tile (col, row), for object levels.
    pub fn slab_object(&self, col: u32, row: u32) -> Option<ObjectUrl> {
        match &self.slabs {
            SlabStore::Files { .. } => None,
            SlabStore::Objects { prefix, .. } => Some(prefix.with_key(&format!(
                "{}_{}_{}",
                prefix.key,
                col / self.tiles_per_width,
                row / self.tiles_per_height
            ))),
        }
    }
}

/// A stored tile, as bytes in the pyramid's format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTile {
    /// The tile bytes (a JPEG or PNG file, or raw / zlib samples).
    pub bytes: Vec<u8>,
    /// A strong validator for HTTP caching: changes whenever the stored bytes can change.
    pub etag: String,
}

/// An opened pyramid: descriptor, tile matrix set and slab cache.
#[derive(Debug)]
pub struct Pyramid {
    path: PathBuf,
    descriptor: Descriptor,
    format: TileFormat,
    channels: u8,
    nodata: Vec<f64>,
    tms: TileMatrixSet,
    /// Sorted coarsest first.
    levels: Vec<Level>,
    cache: SlabCache,
}

/// Cache limits of an opened pyramid.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    /// Bytes of slab indexes kept in memory.
    pub index_bytes: usize,
    /// Slab files kept open.
    pub open_files: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            index_bytes: 16 * 1024 * 1024,
            open_files: 256,
        }
    }
}

impl Pyramid {
    /// Opens a pyramid from its descriptor, resolving its tile matrix set in `sets`.
    pub fn open(
        path: &Path,
        sets: &TileMatrixSets,
        limits: CacheLimits,
    ) -> Result<Pyramid, PyramidError> {
        let text = std::fs::read_to_string(path).map_err(|source| PyramidError::Io {
            path: path.to_owned(),
            source,
        })?;
        let descriptor: Descriptor =
            serde_json::from_str(&text).map_err(|e| descriptor_error(path, format!("{e}")))?;
        let root = path.parent().unwrap_or_else(|| Path::new("."));
        Pyramid::from_parts(path, root, descriptor, sets, limits)
    }

    /// Opens a pyramid from its descriptor, on files or in object storage.
    pub fn open_at(
        descriptor: &Location,
        sets: &TileMatrixSets,
        limits: CacheLimits,
        storage: &Arc<ObjectStorage>,
    ) -> Result<Pyramid, PyramidError> {
        let url = match descriptor {
            Location::File(path) => return Pyramid::open(path, sets, limits),
            Location::Object(url) => url,
        };
        let path = descriptor.display_path();
        let bytes = storage.get(url)?.ok_or_else(|| {
            descriptor_error(
                &path,
                "no such object: check the bucket and the key (a pyramid descriptor is \
                 {folder}/pyramid.json, or NAME.json as ROK4 names it)"
                    .to_owned(),
            )
        })?;
        let parsed: Descriptor =
            serde_json::from_slice(&bytes).map_err(|e| descriptor_error(&path, format!("{e}")))?;
        Pyramid::from_object_parts(url, parsed, sets, limits, storage)
    }

    /// A pyramid in object storage from a descriptor in memory (e.g. one being built);
    /// `descriptor` is where its descriptor is (or will be).
    pub fn from_object_parts(
        descriptor_url: &ObjectUrl,
        descriptor: Descriptor,
        sets: &TileMatrixSets,
        limits: CacheLimits,
        storage: &Arc<ObjectStorage>,
    ) -> Result<Pyramid, PyramidError> {
        let path = PathBuf::from(descriptor_url.to_string());
        Pyramid::assemble(
            &path,
            &Root::Object {
                descriptor: descriptor_url,
                storage,
            },
            descriptor,
            sets,
            limits,
        )
    }

    /// A pyramid from a descriptor in memory (e.g. one being built), rooted at `root`.
    pub fn from_parts(
        path: &Path,
        root: &Path,
        descriptor: Descriptor,
        sets: &TileMatrixSets,
        limits: CacheLimits,
    ) -> Result<Pyramid, PyramidError> {
        Pyramid::assemble(path, &Root::Dir(root), descriptor, sets, limits)
    }

    fn assemble(
        path: &Path,
        root: &Root<'_>,
        descriptor: Descriptor,
        sets: &TileMatrixSets,
        limits: CacheLimits,
    ) -> Result<Pyramid, PyramidError> {
        let fail = |reason: String| descriptor_error(path, reason);
        let format: TileFormat = descriptor
            .format
            .parse()
            .map_err(|e: PyramidError| fail(e.to_string()))?;
        // Vector pyramids have no pixels: one pseudo-channel, no no-data.
        let (channels, nodata) = if format.is_vector() {
            (1, Vec::new())
        } else {
            let specs = descriptor.raster_specifications.as_ref().ok_or_else(|| {
                fail(format!(
                    "no raster_specifications: a {format} pyramid needs them"
                ))
            })?;
            format
                .check_channels(specs.channels)
                .map_err(|reason| fail(format!("raster_specifications.channels: {reason}")))?;
            let nodata = parse_nodata(&specs.nodata, specs.channels)
                .map_err(|reason| fail(format!("raster_specifications.nodata: {reason}")))?;
            (specs.channels, nodata)
        };
        let tms = sets
            .get(&descriptor.tile_matrix_set)
            .cloned()
            .ok_or_else(|| {
                let known: Vec<&str> = sets.iter().map(TileMatrixSet::id).collect();
                fail(format!(
                    "tile matrix set '{}' is unknown (known: {})",
                    descriptor.tile_matrix_set,
                    known.join(", ")
                ))
            })?;
        if descriptor.levels.is_empty() {
            return Err(fail("no level".to_owned()));
        }
        let mut levels = Vec::with_capacity(descriptor.levels.len());
        for (ordinal, level) in descriptor.levels.iter().enumerate() {
            levels.push(
                open_level(root, &tms, level, ordinal as u32)
                    .map_err(|reason| fail(format!("level '{}': {reason}", level.id)))?,
            );
        }
        levels.sort_by_key(Level::matrix_index);
        if levels
            .windows(2)
            .any(|w| w[0].matrix_index == w[1].matrix_index)
        {
            return Err(fail("a level is listed twice".to_owned()));
        }
        Ok(Pyramid {
            path: path.to_owned(),
            format,
            channels,
            nodata,
            tms,
            levels,
            cache: SlabCache::new(limits),
            descriptor,
        })
    }

    /// The descriptor file (for object pyramids, its `s3://` URL as a path).
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Bytes of slab indexes held by its cache now (bounded by `tiles.index_cache_bytes`).
    pub fn index_cache_bytes(&self) -> usize {
        self.cache
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .bytes
    }

    /// Whether the slabs are in object storage (a read waits for the network).
    pub fn is_remote(&self) -> bool {
        self.levels
            .iter()
            .any(|l| matches!(l.slabs, SlabStore::Objects { .. }))
    }
    /// The descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }
    /// Tile format.
    pub fn format(&self) -> TileFormat {
        self.format
    }
    /// Samples per pixel.
    pub fn channels(&self) -> u8 {
        self.channels
    }
    /// No-data value per channel.
    pub fn nodata(&self) -> &[f64] {
        &self.nodata
    }
    /// The tile matrix set.
    pub fn tile_matrix_set(&self) -> &TileMatrixSet {
        &self.tms
    }
    /// Levels, coarsest first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }
    /// The level of a tile matrix id.
    pub fn level(&self, id: &str) -> Option<&Level> {
        self.levels.iter().find(|l| l.id == id)
    }
    /// The tile matrix of a level.
    pub fn matrix(&self, level: &Level) -> Option<&TileMatrix> {
        self.tms.matrix_at(level.matrix_index)
    }

    /// The extent of a level's tile limits in the pyramid's CRS (exact tile edges); `None` when
    /// its limits are not a valid range of its matrix.
    pub fn level_bbox(&self, level: &Level) -> Option<crs::Bbox> {
        let matrix = self.matrix(level)?;
        let l = level.limits();
        let range = matrix
            .range(l.min_col, l.max_col, l.min_row, l.max_row)
            .ok()?;
        let first = matrix
            .tile(i64::from(range.min_col()), i64::from(range.min_row()))
            .ok()?;
        let last = matrix
            .tile(i64::from(range.max_col()), i64::from(range.max_row()))
            .ok()?;
        Some(matrix.tile_bbox(first).union(&matrix.tile_bbox(last)))
    }

    /// The stored bytes of a tile; `Ok(None)` when the pyramid holds no data there.
    pub fn read_tile(&self, tile: TileCoord) -> Result<Option<StoredTile>, PyramidError> {
        Ok(self.read_tile_in_slab(tile)?.flatten())
    }

    /// What the slab of a tile says of it: `Ok(None)` when there is no such slab (or the tile
    /// is outside the levels and limits), `Ok(Some(None))` when the slab holds no data for
    /// the tile. A tile cache tells "not rendered yet" from "rendered empty" this way.
    pub fn read_tile_in_slab(
        &self,
        tile: TileCoord,
    ) -> Result<Option<Option<StoredTile>>, PyramidError> {
        let Some(level) = self.levels.iter().find(|l| l.matrix_index == tile.level()) else {
            return Ok(None);
        };
        let (col, row) = (tile.col(), tile.row());
        if !level.contains(col, row) {
            return Ok(None);
        }
        let key = SlabKey {
            level: level.ordinal,
            col: col / level.tiles_per_width,
            row: row / level.tiles_per_height,
        };
        let Some(slab) = self
            .cache
            .slab(key, || Pyramid::load_slab(level, col, row))?
        else {
            return Ok(None);
        };
        let index = ((row % level.tiles_per_height) * level.tiles_per_width
            + (col % level.tiles_per_width)) as usize;
        let (offset, size) = slab.entry(index);
        if size == 0 {
            return Ok(Some(None));
        }
        if u64::from(offset) + u64::from(size) > slab.file_length {
            return Err(PyramidError::Slab {
                path: level.slab_file(col, row),
                reason: format!("tile {index} ends beyond the end of the file"),
            });
        }
        let bytes = match &slab.data {
            SlabData::File(file) => {
                let mut bytes = vec![0u8; size as usize];
                read_exact_at(file, &mut bytes, u64::from(offset)).map_err(|source| {
                    PyramidError::Io {
                        path: level.slab_file(col, row),
                        source,
                    }
                })?;
                bytes
            }
            SlabData::Object { storage, url } => {
                let start = u64::from(offset);
                let read = storage.get_range(url, start..start + u64::from(size))?;
                match read {
                    Some(read) if read.bytes.len() == size as usize => read.bytes.to_vec(),
                    _ => {
                        // Rewritten or removed since its index was read: read it again next time.
                        self.forget_slab(tile);
                        return Err(PyramidError::Slab {
                            path: PathBuf::from(url.to_string()),
                            reason: format!(
                                "tile {index} could not be read whole: the object changed \
                                 since its index was read"
                            ),
                        });
                    }
                }
            }
        };
        Ok(Some(Some(StoredTile {
            bytes,
            etag: format!("\"{:x}-{offset:x}-{size:x}\"", slab.stamp),
        })))
    }

    /// Forgets what the slab cache holds for the slab of `tile` (its index, or that it is
    /// missing): the next read looks at the file again. For pyramids written while served (a
    /// tile cache writes slabs as it renders them, and removes them to stay under its cap).
    pub fn forget_slab(&self, tile: TileCoord) {
        let Some(level) = self.levels.iter().find(|l| l.matrix_index == tile.level()) else {
            return;
        };
        let key = SlabKey {
            level: level.ordinal,
            col: tile.col() / level.tiles_per_width,
            row: tile.row() / level.tiles_per_height,
        };
        self.cache.forget(key);
    }

    /// Forgets every slab the cache holds (files were removed).
    pub fn forget_all_slabs(&self) {
        self.cache.clear();
    }

    /// The decoded pixels of a tile; `Ok(None)` when the pyramid holds no data there.
    pub fn read_pixels(&self, tile: TileCoord) -> Result<Option<TileImage>, PyramidError> {
        let Some(stored) = self.read_tile(tile)? else {
            return Ok(None);
        };
        let matrix = self.tms.matrix_of(tile).ok_or_else(|| PyramidError::Tile {
            level: tile.level().to_string(),
            col: tile.col(),
            row: tile.row(),
            reason: "no tile matrix".to_owned(),
        })?;
        tile::decode(
            self.format,
            self.channels,
            matrix.tile_width(),
            matrix.tile_height(),
            &stored.bytes,
        )
        .map(Some)
        .map_err(|reason| PyramidError::Tile {
            level: matrix.id().to_owned(),
            col: tile.col(),
            row: tile.row(),
            reason,
        })
    }

    fn load_slab(level: &Level, col: u32, row: u32) -> Result<Option<SlabIndex>, PyramidError> {
        if let SlabStore::Objects { storage, .. } = &level.slabs {
            let Some(url) = level.slab_object(col, row) else {
                return Ok(None);
            };
            return load_object_slab(level, storage, url);
        }
        let path = level.slab_file(col, row);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(PyramidError::Io { path, source }),
        };
        let metadata = file.metadata().map_err(|source| PyramidError::Io {
            path: path.clone(),
            source,
        })?;
        let n = level.tiles_per_width as usize * level.tiles_per_height as usize;
        let mut table = vec![0u8; 8 * n];
        if metadata.len() < (HEADER_SIZE + 8 * n) as u64 {
            return Err(PyramidError::Slab {
                path,
                reason: format!(
                    "{} bytes is too short for the header and index of {n} tiles",
                    metadata.len()
                ),
            });
        }
        read_exact_at(&file, &mut table, HEADER_SIZE as u64).map_err(|source| {
            PyramidError::Io {
                path: path.clone(),
                source,
            }
        })?;
        let words: Box<[u32]> = table
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(Some(SlabIndex {
            data: SlabData::File(file),
            file_length: metadata.len(),
            words,
            tiles: n,
            stamp: modified ^ (metadata.len().rotate_left(32)),
        }))
    }
}

/// Symbolic slabs followed before giving up (ROK4 writes one level of links).
const MAX_SYMBOLIC_LINKS: usize = 4;

/// The header and index of a slab object: one ranged GET (plus one per symbolic link).
fn load_object_slab(
    level: &Level,
    storage: &Arc<ObjectStorage>,
    mut url: ObjectUrl,
) -> Result<Option<SlabIndex>, PyramidError> {
    let n = level.tiles_per_width as usize * level.tiles_per_height as usize;
    let wanted = (HEADER_SIZE + 8 * n) as u64;
    let Some(mut read) = storage.get_range(&url, 0..wanted)? else {
        return Ok(None);
    };
    let mut links = 0;
    while let Some(target) = read.bytes.strip_prefix(b"SYMLINK#".as_slice()) {
        let fail = |reason: String| PyramidError::Slab {
            path: PathBuf::from(url.to_string()),
            reason,
        };
        links += 1;
        if links > MAX_SYMBOLIC_LINKS {
            return Err(fail(format!(
                "more than {MAX_SYMBOLIC_LINKS} symbolic slabs in a row"
            )));
        }
        let target = std::str::from_utf8(target)
            .ok()
            .and_then(|t| ObjectUrl::parse(t.trim()).ok())
            .ok_or_else(|| fail("a symbolic slab that names no bucket/key".to_owned()))?;
        let target = ObjectUrl {
            cluster: url.cluster.clone(),
            ..target
        };
        read = storage.get_range(&target, 0..wanted)?.ok_or_else(|| {
            fail(format!(
                "symbolic slab to s3://{}/{}, which does not exist",
                target.bucket, target.key
            ))
        })?;
        url = target;
    }
    if (read.bytes.len() as u64) < wanted {
        return Err(PyramidError::Slab {
            path: PathBuf::from(url.to_string()),
            reason: format!(
                "{} bytes is too short for the header and index of {n} tiles",
                read.size
            ),
        });
    }
    let words: Box<[u32]> = read.bytes[HEADER_SIZE..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Some(SlabIndex {
        data: SlabData::Object {
            storage: Arc::clone(storage),
            url,
        },
        file_length: read.size,
        words,
        tiles: n,
        stamp: read.stamp,
    }))
}

/// Writes a descriptor crash-safe.
pub fn write_descriptor(path: &Path, descriptor: &Descriptor) -> Result<(), PyramidError> {
    let text = serde_json::to_string_pretty(descriptor)
        .map_err(|e| descriptor_error(path, e.to_string()))?;
    slab::write_atomically(path, text.as_bytes())
}

/// The slab layout of a level of a pyramid.
pub fn layout(
    format: TileFormat,
    channels: u8,
    matrix: &TileMatrix,
    level: &LevelDescriptor,
) -> SlabLayout {
    SlabLayout {
        format,
        channels,
        tile_width: matrix.tile_width(),
        tile_height: matrix.tile_height(),
        tiles_per_width: level.tiles_per_width,
        tiles_per_height: level.tiles_per_height,
    }
}

fn descriptor_error(path: &Path, reason: String) -> PyramidError {
    PyramidError::Descriptor {
        path: path.to_owned(),
        reason,
    }
}

/// Parses `"255,255,255"` into one value per channel (one value applies to all).
pub fn parse_nodata(text: &str, channels: u8) -> Result<Vec<f64>, String> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("'{v}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match values.len() {
        1 => Ok(vec![values[0]; usize::from(channels)]),
        n if n == usize::from(channels) => Ok(values),
        n => Err(format!("{n} values for {channels} channels")),
    }
}

/// Where a descriptor is, to resolve its levels' storage.
enum Root<'a> {
    Dir(&'a Path),
    Object {
        descriptor: &'a ObjectUrl,
        storage: &'a Arc<ObjectStorage>,
    },
}

fn open_level(
    root: &Root<'_>,
    tms: &TileMatrixSet,
    level: &LevelDescriptor,
    ordinal: u32,
) -> Result<Level, String> {
    let matrix = tms.matrix(&level.id).ok_or_else(|| {
        format!(
            "tile matrix set '{}' has no tile matrix '{}'",
            tms.id(),
            level.id
        )
    })?;
    let slabs = match (level.storage.kind.as_str(), root) {
        ("FILE", Root::Dir(root)) => {
            let directory = level
                .storage
                .image_directory
                .as_deref()
                .ok_or("storage.image_directory is missing")?;
            SlabStore::Files {
                directory: root.join(directory),
                depth: level.storage.path_depth.unwrap_or(2),
            }
        }
        (
            "S3",
            Root::Object {
                descriptor,
                storage,
            },
        ) => {
            let prefix = level
                .storage
                .image_prefix
                .as_deref()
                .filter(|p| !p.trim_matches('/').is_empty())
                .ok_or("storage.image_prefix is missing")?;
            let bucket = match level.storage.bucket_name.as_deref() {
                Some(name) => {
                    let named = ObjectUrl::parse(name)
                        .map_err(|reason| format!("storage.bucket_name: {reason}"))?;
                    ObjectUrl {
                        cluster: named.cluster.or_else(|| descriptor.cluster.clone()),
                        ..named
                    }
                }
                None => descriptor.with_key(""),
            };
            SlabStore::Objects {
                storage: Arc::clone(storage),
                prefix: bucket.with_key(prefix),
            }
        }
        ("FILE", Root::Object { .. }) => {
            return Err(
                "a FILE level in a descriptor in object storage: ROK4 keeps a pyramid's \
                 descriptor and slabs in the same storage"
                    .to_owned(),
            )
        }
        ("S3", Root::Dir(_)) => {
            return Err(
                "an S3 level in a descriptor on files: open the descriptor from its bucket \
                 (s3://bucket/key.json), as ROK4 keeps a pyramid's descriptor and slabs in \
                 the same storage"
                    .to_owned(),
            )
        }
        ("CEPH", _) => {
            return Err(
                "CEPH (rados) storage is not supported: serve the pool through Ceph's \
                 S3 gateway (RGW) and describe the levels as S3"
                    .to_owned(),
            )
        }
        (other, _) => {
            return Err(format!(
                "storage type '{other}' is unknown: FILE or S3 (ROK4's CEPH is not supported)"
            ))
        }
    };
    if level.tiles_per_width == 0 || level.tiles_per_height == 0 {
        return Err("tiles_per_width and tiles_per_height must be at least 1".to_owned());
    }
    let l = level.tile_limits;
    if l.min_col > l.max_col || l.min_row > l.max_row {
        return Err("tile_limits are inverted (min > max)".to_owned());
    }
    if l.max_col >= matrix.matrix_width() || l.max_row >= matrix.matrix_height() {
        return Err(format!(
            "tile_limits reach column {} / row {}, beyond the tile matrix ({}×{} tiles)",
            l.max_col,
            l.max_row,
            matrix.matrix_width(),
            matrix.matrix_height()
        ));
    }
    Ok(Level {
        id: level.id.clone(),
        matrix_index: matrix.level(),
        limits: l,
        tiles_per_width: level.tiles_per_width,
        tiles_per_height: level.tiles_per_height,
        slabs,
        ordinal,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SlabKey {
    level: u32,
    col: u32,
    row: u32,
}

#[derive(Debug)]
enum SlabData {
    File(File),
    Object {
        storage: Arc<ObjectStorage>,
        url: ObjectUrl,
    },
}

#[derive(Debug)]
struct SlabIndex {
    data: SlabData,
    file_length: u64,
    /// n offsets then n sizes.
    words: Box<[u32]>,
    tiles: usize,
    stamp: u64,
}

impl SlabIndex {
    fn entry(&self, index: usize) -> (u32, u32) {
        (
            self.words.get(index).copied().unwrap_or(0),
            self.words.get(self.tiles + index).copied().unwrap_or(0),
        )
    }
    fn cost(&self) -> usize {
        self.words.len() * 4 + 128
    }
}

/// LRU of slab indexes (and absent slabs), bounded in bytes and open files.
#[derive(Debug)]
struct SlabCache {
    inner: Mutex<CacheInner>,
    limits: CacheLimits,
}

/// A slab's index as cached: `None` when the slab does not exist.
type Cached = Option<Arc<SlabIndex>>;
/// A load in progress that other readers of the same slab wait for.
type Loading = Arc<OnceLock<Result<Cached, Arc<PyramidError>>>>;

#[derive(Debug)]
struct CacheInner {
    entries: lru::LruCache<SlabKey, Cached>,
    loading: HashMap<SlabKey, Loading>,
    bytes: usize,
    open: usize,
}

fn cost(entry: &Cached) -> usize {
    entry.as_ref().map_or(32, |s| s.cost())
}

fn open_files(entry: &Cached) -> usize {
    usize::from(matches!(
        entry.as_deref(),
        Some(SlabIndex {
            data: SlabData::File(_),
            ..
        })
    ))
}

impl SlabCache {
    fn new(limits: CacheLimits) -> SlabCache {
        SlabCache {
            inner: Mutex::new(CacheInner {
                entries: lru::LruCache::unbounded(),
                loading: HashMap::new(),
                bytes: 0,
                open: 0,
            }),
            limits: CacheLimits {
                index_bytes: limits.index_bytes.max(1),
                open_files: limits.open_files.max(1),
            },
        }
    }

    /// The cached index of a slab, or the one `load` reads: one load at a time per slab, the
    /// other readers wait for it (one GET of an object's index however many tiles ask).
    fn slab(
        &self,
        key: SlabKey,
        load: impl FnOnce() -> Result<Option<SlabIndex>, PyramidError>,
    ) -> Result<Cached, PyramidError> {
        let loading = {
            let Ok(mut inner) = self.inner.lock() else {
                return Ok(load()?.map(Arc::new));
            };
            if let Some(hit) = inner.entries.get(&key) {
                return Ok(hit.clone());
            }
            Arc::clone(inner.loading.entry(key).or_default())
        };
        let mut ran = false;
        let outcome = loading
            .get_or_init(|| {
                ran = true;
                load().map(|s| s.map(Arc::new)).map_err(Arc::new)
            })
            .clone();
        if ran {
            if let Ok(mut inner) = self.inner.lock() {
                // Lookups see the entry or the load, never neither: both change under one lock.
                inner.loading.remove(&key);
                if let Ok(loaded) = &outcome {
                    self.insert(&mut inner, key, loaded.clone());
                }
            }
        }
        match outcome {
            Ok(loaded) => Ok(loaded),
            Err(error) if ran => Err(Arc::try_unwrap(error).unwrap_or_else(PyramidError::Shared)),
            Err(error) => Err(PyramidError::Shared(error)),
        }
    }

    fn insert(&self, inner: &mut CacheInner, key: SlabKey, loaded: Cached) {
        inner.bytes += cost(&loaded);
        inner.open += open_files(&loaded);
        if let Some(old) = inner.entries.put(key, loaded) {
            inner.bytes -= cost(&old);
            inner.open -= open_files(&old);
        }
        while inner.bytes > self.limits.index_bytes || inner.open > self.limits.open_files {
            let Some((_, evicted)) = inner.entries.pop_lru() else {
                break;
            };
            inner.bytes -= cost(&evicted);
            inner.open -= open_files(&evicted);
        }
    }

    fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.entries.clear();
            inner.bytes = 0;
            inner.open = 0;
        }
    }

    fn forget(&self, key: SlabKey) {
        if let Ok(mut inner) = self.inner.lock() {
            if let Some(old) = inner.entries.pop(&key) {
                inner.bytes -= cost(&old);
                inner.open -= open_files(&old);
            }
        }
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buffer.is_empty() {
        let read = std::os::windows::fs::FileExt::seek_read(file, buffer, offset)?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer = &mut buffer[read..];
        offset += read as u64;
    }
    Ok(())
}
