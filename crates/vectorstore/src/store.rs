//! The feature store the renderer and GetFeatureInfo query.
//!
//! A GetMap asks for the features of a layer inside a bounding box, in the map's CRS, thousands
//! of times per second. Layers that fit a memory budget are loaded once into an in-memory
//! R-tree (rstar) of decoded geometries; larger ones are answered from the stored GeoPackage's
//! R-tree through a small pool of read-only SQLite connections. Either way the answer is the
//! same: the features whose geometry intersects the box, in feature id order (the drawing
//! order), reprojected when the map's CRS is not the layer's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crs::{Bbox, Crs, Transformer};
use geo::{BoundingRect, Distance, Euclidean, Intersects, MapCoords, Simplify};
use geo_types::{Coord, Geometry, Point, Rect};
use rstar::{Envelope, RTree, RTreeObject, AABB};
use rusqlite::{Connection, OpenFlags};

use crate::gpkg::quote;
use crate::ingest::{StoredMetadata, DATA_FILE, METADATA_FILE};
use crate::report::LayerMetadata;
use crate::value::{AttributeType, Value};
use crate::VectorError;

/// Options of a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Bytes of decoded features the store may keep in memory, over all its layers. A layer
    /// whose estimated size does not fit is queried through the GeoPackage R-tree.
    pub memory_budget_bytes: u64,
}

impl Default for StoreOptions {
    /// 256 MiB.
    fn default() -> StoreOptions {
        StoreOptions {
            memory_budget_bytes: 256 << 20,
        }
    }
}

/// A feature as the renderer sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The feature id.
    pub fid: i64,
    /// The geometry, in the requested CRS.
    pub geometry: Geometry<f64>,
    /// The requested attributes (stored names), in the requested order.
    pub properties: Vec<(Arc<str>, Value)>,
}

impl Feature {
    /// The value of an attribute, by stored name.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }
}

/// A feature near a queried point, with its distance in the query CRS's units.
#[derive(Debug, Clone, PartialEq)]
pub struct NearFeature {
    /// The feature, with all its attributes.
    pub feature: Feature,
    /// Distance from the point to the geometry (0 inside a polygon).
    pub distance: f64,
}

/// The features answered by [`Store::features`], in feature id order.
#[derive(Debug)]
pub struct Features {
    inner: std::vec::IntoIter<Feature>,
}

impl Iterator for Features {
    type Item = Feature;

    fn next(&mut self) -> Option<Feature> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Features {}

/// How a layer is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Not decided yet (no query so far).
    Undecided,
    /// In-memory rstar tree.
    Memory,
    /// The GeoPackage R-tree.
    GeoPackage,
}

/// One stored data (`stored/{id}/`), open for queries. Cheap to share across threads.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    metadata: StoredMetadata,
    layers: Vec<LayerState>,
    pool: Mutex<Vec<Connection>>,
    budget_left: AtomicU64,
    budget: u64,
}

#[derive(Debug)]
struct LayerState {
    crs: Crs,
    names: Vec<Arc<str>>,
    memory: OnceLock<Option<Arc<MemoryLayer>>>,
}

#[derive(Debug)]
struct MemoryLayer {
    tree: RTree<Entry>,
    features: Vec<StoredFeature>,
    /// Simplified geometries per zoom band (aligned with `features`), made at first use.
    bands: [OnceLock<Vec<Geometry<f64>>>; BANDS],
    /// Tolerance of band 0, in native units; band k is `base × 4^k`.
    base_tolerance: f64,
    /// Geometries reprojected into other CRSs, per (CRS code, band), made at first use and
    /// kept: maps are asked again and again in the same few CRSs, and reprojection costs more
    /// than the query. `None` where a geometry has no image in that CRS.
    reprojected: Mutex<HashMap<(String, Option<usize>), Reprojected>>,
}

/// Geometries in another CRS, aligned with a layer's features.
type Reprojected = Arc<Vec<Option<Geometry<f64>>>>;

/// Most (CRS, band) reprojected copies kept per layer.
const MAX_REPROJECTED: usize = 16;

/// Zoom bands of simplified geometries: tolerances from `base` to `base × 4^(BANDS-1)`.
const BANDS: usize = 10;

/// The band whose tolerance is the largest not above `tolerance`; `None` when even band 0 is
/// coarser (full geometries then).
fn band_for(base: f64, tolerance: f64) -> Option<usize> {
    if !(tolerance.is_finite() && base > 0.0) || tolerance < base {
        return None;
    }
    let k = ((tolerance / base).ln() / 4f64.ln()).floor();
    Some((k as usize).min(BANDS - 1))
}

/// A geometry simplified (Ramer–Douglas–Peucker) within `tolerance`; points unchanged.
fn simplified(geometry: &Geometry<f64>, tolerance: f64) -> Geometry<f64> {
    match geometry {
        Geometry::LineString(g) => Geometry::LineString(g.simplify(tolerance)),
        Geometry::MultiLineString(g) => Geometry::MultiLineString(g.simplify(tolerance)),
        Geometry::Polygon(g) => Geometry::Polygon(g.simplify(tolerance)),
        Geometry::MultiPolygon(g) => Geometry::MultiPolygon(g.simplify(tolerance)),
        Geometry::GeometryCollection(c) => {
            Geometry::GeometryCollection(c.iter().map(|g| simplified(g, tolerance)).collect())
        }
        other => other.clone(),
    }
}

/// Native units of half a pixel at a scale: geometry details below it cannot be seen.
fn simplify_tolerance(scale_denominator: f64, native: &Crs) -> f64 {
    if !(scale_denominator.is_finite() && scale_denominator > 0.0) {
        return 0.0;
    }
    scale_denominator * 0.000_28 / native.metres_per_unit() / 2.0
}

#[derive(Debug)]
struct StoredFeature {
    fid: i64,
    geometry: Geometry<f64>,
    values: Vec<Value>,
}

#[derive(Debug)]
struct Entry {
    envelope: AABB<[f64; 2]>,
    index: usize,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> AABB<[f64; 2]> {
        self.envelope
    }
}

/// Connections kept open per store.
const POOL_SIZE: usize = 8;

impl Store {
    /// Opens `stored/{id}/` (the directory holding `data.gpkg` and `metadata.json`).
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store, VectorError> {
        let meta_path = dir.join(METADATA_FILE);
        let bytes = std::fs::read(&meta_path).map_err(|source| VectorError::Io {
            path: meta_path.clone(),
            source,
        })?;
        let metadata: StoredMetadata =
            serde_json::from_slice(&bytes).map_err(|source| VectorError::Json {
                path: meta_path.clone(),
                source,
            })?;
        let mut layers = Vec::with_capacity(metadata.layers.len());
        for layer in &metadata.layers {
            let crs = Crs::parse(&layer.srs).map_err(|source| VectorError::Crs {
                context: format!("layer '{}' of {}", layer.name, meta_path.display()),
                source,
            })?;
            layers.push(LayerState {
                crs,
                names: layer
                    .attributes
                    .iter()
                    .map(|a| Arc::from(a.name.as_str()))
                    .collect(),
                memory: OnceLock::new(),
            });
        }
        let store = Store {
            dir: dir.to_owned(),
            metadata,
            layers,
            pool: Mutex::new(Vec::new()),
            budget_left: AtomicU64::new(options.memory_budget_bytes),
            budget: options.memory_budget_bytes,
        };
        // Fail now, not at the first GetMap, if the GeoPackage is missing or unreadable.
        let conn = store.connection()?;
        store.release(conn);
        Ok(store)
    }

    /// What changes whenever the stored data can have changed: its id and the GeoPackage's
    /// size and modification time (caches of rendered tiles are named by it).
    pub fn version_stamp(&self) -> String {
        let data = std::fs::metadata(self.dir.join(DATA_FILE));
        let (len, modified) = data.map_or((0, 0), |m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (m.len(), modified)
        });
        format!("{}:{len}:{modified}", self.metadata.id)
    }

    /// When the stored GeoPackage last changed (`None` when the system cannot tell).
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.dir.join(DATA_FILE))
            .and_then(|m| m.modified())
            .ok()
    }

    /// Estimated bytes of the layers loaded in memory so far (their decoded features; the
    /// simplified and reprojected copies made from them come on top).
    pub fn memory_bytes(&self) -> u64 {
        self.budget
            .saturating_sub(self.budget_left.load(Ordering::Relaxed))
    }

    /// The stored data's metadata.
    pub fn metadata(&self) -> &StoredMetadata {
        &self.metadata
    }

    /// The stored layers.
    pub fn layers(&self) -> &[LayerMetadata] {
        &self.metadata.layers
    }

    /// A layer by stored name, by its name in the uploaded file, or by the normalised form of
    /// either (`Cantons-Lux` finds `cantons_lux`).
    pub fn layer(&self, name: &str) -> Option<&LayerMetadata> {
        self.layer_index(name).map(|i| &self.metadata.layers[i])
    }

    fn layer_index(&self, name: &str) -> Option<usize> {
        let layers = &self.metadata.layers;
        layers
            .iter()
            .position(|l| l.name == name)
            .or_else(|| layers.iter().position(|l| l.source_name == name))
            .or_else(|| {
                let normalized = crate::normalize_name(name);
                layers.iter().position(|l| l.name == normalized)
            })
    }

    pub(crate) fn resolve_layer(&self, name: &str) -> Result<usize, VectorError> {
        self.resolve(name)
    }

    /// The native CRS of layer `i`.
    pub(crate) fn layer_crs(&self, i: usize) -> &Crs {
        &self.layers[i].crs
    }

    /// The shared attribute names of layer `i`, in table order.
    pub(crate) fn layer_names(&self, i: usize) -> &[Arc<str>] {
        &self.layers[i].names
    }

    fn resolve(&self, name: &str) -> Result<usize, VectorError> {
        self.layer_index(name)
            .ok_or_else(|| VectorError::UnknownLayer {
                name: name.to_owned(),
                known: self
                    .metadata
                    .layers
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// How a layer is (or will be) answered.
    pub fn index_kind(&self, layer: &str) -> Result<IndexKind, VectorError> {
        let i = self.resolve(layer)?;
        Ok(match self.layers[i].memory.get() {
            None => IndexKind::Undecided,
            Some(Some(_)) => IndexKind::Memory,
            Some(None) => IndexKind::GeoPackage,
        })
    }

    /// Loads every layer that fits the memory budget now rather than at its first query.
    pub fn preload(&self) {
        for i in 0..self.layers.len() {
            let _ = self.memory_layer(i);
        }
    }

    /// The features of `layer` whose geometry intersects `bbox` (given in `crs`, x/y order),
    /// with geometries in `crs` and the named `attributes` (stored or original names).
    ///
    /// At small scales (a whole country), geometries are simplified within half a pixel of
    /// the scale (0.28 mm pixels): precomputed per zoom band for in-memory layers, simplified
    /// as read otherwise; pass 0 for full geometries.
    pub fn features(
        &self,
        layer: &str,
        bbox: &Bbox,
        crs: &Crs,
        scale_denominator: f64,
        attributes: &[&str],
    ) -> Result<Features, VectorError> {
        let i = self.resolve(layer)?;
        let columns = self.attribute_indexes(i, attributes)?;
        let tolerance = simplify_tolerance(scale_denominator, &self.layers[i].crs);
        let features = self.query(i, bbox, crs, &columns, tolerance)?;
        Ok(Features {
            inner: features.into_iter(),
        })
    }

    /// GetFeatureInfo: the features of `layer` within `tolerance` (in `crs` units, typically a
    /// few pixels' size) of the point `(x, y)`, nearest first (ties by feature id), at most
    /// `max_features`, with all their attributes.
    pub fn features_at(
        &self,
        layer: &str,
        x: f64,
        y: f64,
        crs: &Crs,
        tolerance: f64,
        max_features: usize,
    ) -> Result<Vec<NearFeature>, VectorError> {
        let i = self.resolve(layer)?;
        let tolerance = if tolerance.is_finite() {
            tolerance.max(0.0)
        } else {
            0.0
        };
        let bbox = Bbox::new(x - tolerance, y - tolerance, x + tolerance, y + tolerance).map_err(
            |source| VectorError::Crs {
                context: format!("point query at ({x}, {y})"),
                source,
            },
        )?;
        let all: Vec<usize> = (0..self.layers[i].names.len()).collect();
        let point = Point::new(x, y);
        let mut near: Vec<NearFeature> = self
            .query(i, &bbox, crs, &all, 0.0)?
            .into_iter()
            .filter_map(|feature| {
                let distance = Euclidean.distance(&point, &feature.geometry);
                (distance <= tolerance).then_some(NearFeature { feature, distance })
            })
            .collect();
        near.sort_by(|a, b| {
            a.distance
                .total_cmp(&b.distance)
                .then(a.feature.fid.cmp(&b.feature.fid))
        });
        near.truncate(max_features);
        Ok(near)
    }

    pub(crate) fn attribute_indexes(
        &self,
        layer: usize,
        attributes: &[&str],
    ) -> Result<Vec<usize>, VectorError> {
        let meta = &self.metadata.layers[layer];
        attributes
            .iter()
            .map(|name| {
                meta.attribute(name)
                    .and_then(|a| meta.attributes.iter().position(|b| b.name == a.name))
                    .ok_or_else(|| VectorError::UnknownAttribute {
                        layer: meta.name.clone(),
                        name: (*name).to_owned(),
                        known: meta
                            .attributes
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            })
            .collect()
    }

    fn query(
        &self,
        i: usize,
        bbox: &Bbox,
        crs: &Crs,
        columns: &[usize],
        tolerance: f64,
    ) -> Result<Vec<Feature>, VectorError> {
        let state = &self.layers[i];
        let native = &state.crs;
        let crs_error = |source| VectorError::Crs {
            context: format!(
                "layer '{}' queried in {}",
                self.metadata.layers[i].name,
                crs.code()
            ),
            source,
        };
        // Coordinates are x/y in every CRS of this API, so equivalent CRSs share them.
        let (native_bbox, back) = if crs.equivalent(native) {
            (*bbox, None)
        } else {
            let to_native = Transformer::new(crs, native).map_err(crs_error)?;
            let native_bbox = match to_native.transform_bbox(bbox) {
                Ok(b) => b,
                // A box wholly outside the layer CRS's domain holds none of its features.
                Err(crs::CrsError::OutsideValidArea { .. }) => return Ok(Vec::new()),
                Err(e) => return Err(crs_error(e)),
            };
            (
                native_bbox,
                Some(Transformer::new(native, crs).map_err(crs_error)?),
            )
        };
        let rect = Rect::new(
            Coord {
                x: native_bbox.min_x(),
                y: native_bbox.min_y(),
            },
            Coord {
                x: native_bbox.max_x(),
                y: native_bbox.max_y(),
            },
        );
        let mut found = if let Some(memory) = self.memory_layer(i) {
            let k = band_for(memory.base_tolerance, tolerance);
            let band = k.map(|k| {
                let base = memory.base_tolerance * 4f64.powi(k as i32);
                memory.bands[k].get_or_init(|| {
                    memory
                        .features
                        .iter()
                        .map(|f| simplified(&f.geometry, base))
                        .collect()
                })
            });
            let source = match &back {
                None => band.map_or(Geometries::Native, |b| Geometries::Band(b)),
                Some(back) => Geometries::Reprojected(memory.reprojected(
                    crs,
                    k,
                    band.map(Vec::as_slice),
                    back,
                )),
            };
            let mut found = query_memory(&memory, &source, &state.names, &rect, columns);
            found.sort_unstable_by_key(|f| f.fid);
            return Ok(found);
        } else {
            let mut found = self.query_sqlite(i, &rect, columns)?;
            if tolerance > 0.0 {
                for f in &mut found {
                    f.geometry = simplified(&f.geometry, tolerance);
                }
            }
            found
        };
        found.sort_unstable_by_key(|f| f.fid);
        if let Some(back) = back {
            found.retain_mut(|f| {
                match f
                    .geometry
                    .try_map_coords(|c| back.transform_point(c.x, c.y).map(|(x, y)| Coord { x, y }))
                {
                    Ok(g) => {
                        f.geometry = g;
                        true
                    }
                    // Parts outside the target CRS's domain cannot be drawn in it.
                    Err(_) => false,
                }
            });
        }
        Ok(found)
    }

    fn memory_layer(&self, i: usize) -> Option<Arc<MemoryLayer>> {
        self.layers[i]
            .memory
            .get_or_init(|| {
                let meta = &self.metadata.layers[i];
                let estimate = meta.geometry_bytes.saturating_mul(2).saturating_add(
                    meta.features
                        .saturating_mul(96 + 48 * meta.attributes.len() as u64),
                );
                self.budget_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                        left.checked_sub(estimate)
                    })
                    .ok()?;
                // A layer that fails to load is answered from the GeoPackage, which reports
                // the error at query time.
                let loaded = self.load(i).ok().map(Arc::new);
                if loaded.is_none() {
                    self.budget_left.fetch_add(estimate, Ordering::SeqCst);
                }
                loaded
            })
            .clone()
    }

    fn load(&self, i: usize) -> Result<MemoryLayer, VectorError> {
        let meta = &self.metadata.layers[i];
        let conn = self.connection()?;
        let result = (|| {
            let mut columns = vec!["fid".to_owned(), "geom".to_owned()];
            columns.extend(meta.attributes.iter().map(|a| quote(&a.name)));
            let sql = format!(
                "SELECT {} FROM {} WHERE geom IS NOT NULL ORDER BY fid",
                columns.join(", "),
                quote(&meta.name)
            );
            let types: Vec<AttributeType> = meta.attributes.iter().map(|a| a.ty).collect();
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut features = Vec::new();
            let mut entries = Vec::new();
            while let Some(row) = rows.next()? {
                let Some(stored) = read_row(row, &types)? else {
                    continue;
                };
                if let Some(r) = stored.geometry.bounding_rect() {
                    entries.push(Entry {
                        envelope: AABB::from_corners(
                            [r.min().x, r.min().y],
                            [r.max().x, r.max().y],
                        ),
                        index: features.len(),
                    });
                    features.push(stored);
                }
            }
            // Band 0: a millionth of the layer's extent (sub-centimetre for a country).
            let extent = meta.bbox.map_or(1.0, |[a, b, c, d]| (c - a).max(d - b));
            let base_tolerance = if extent.is_finite() && extent > 0.0 {
                extent * 1e-6
            } else {
                1e-6
            };
            Ok::<_, rusqlite::Error>(MemoryLayer {
                tree: RTree::bulk_load(entries),
                features,
                bands: std::array::from_fn(|_| OnceLock::new()),
                base_tolerance,
                reprojected: Mutex::new(HashMap::new()),
            })
        })();
        self.release(conn);
        result.map_err(|source| self.sqlite_error(source))
    }

    fn query_sqlite(
        &self,
        i: usize,
        rect: &Rect<f64>,
        columns: &[usize],
    ) -> Result<Vec<Feature>, VectorError> {
        let meta = &self.metadata.layers[i];
        let names = &self.layers[i].names;
        let conn = self.connection()?;
        let result = (|| {
            let mut select = vec!["t.fid".to_owned(), "t.geom".to_owned()];
            select.extend(
                columns
                    .iter()
                    .map(|&c| format!("t.{}", quote(&meta.attributes[c].name))),
            );
            let sql = format!(
                "SELECT {} FROM {} t JOIN {} r ON r.id = t.fid \
                 WHERE r.minx <= ?3 AND r.maxx >= ?1 AND r.miny <= ?4 AND r.maxy >= ?2",
                select.join(", "),
                quote(&meta.name),
                quote(&format!("rtree_{}_geom", meta.name))
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params![
                rect.min().x,
                rect.min().y,
                rect.max().x,
                rect.max().y
            ])?;
            let types: Vec<AttributeType> =
                columns.iter().map(|&c| meta.attributes[c].ty).collect();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let Some(stored) = read_row(row, &types)? else {
                    continue;
                };
                if intersects(&stored.geometry, rect) {
                    out.push(Feature {
                        fid: stored.fid,
                        geometry: stored.geometry,
                        properties: columns
                            .iter()
                            .zip(stored.values)
                            .map(|(&c, v)| (names[c].clone(), v))
                            .collect(),
                    });
                }
            }
            Ok::<_, rusqlite::Error>(out)
        })();
        self.release(conn);
        result.map_err(|source| self.sqlite_error(source))
    }

    pub(crate) fn sqlite_error(&self, source: rusqlite::Error) -> VectorError {
        VectorError::Sqlite {
            path: self.dir.join(DATA_FILE),
            source,
        }
    }

    pub(crate) fn connection(&self) -> Result<Connection, VectorError> {
        if let Some(conn) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(conn);
        }
        let path = self.dir.join(DATA_FILE);
        if !path.is_file() {
            return Err(VectorError::Io {
                path,
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| self.sqlite_error(source))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    pub(crate) fn release(&self, conn: Connection) {
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < POOL_SIZE {
                pool.push(conn);
            }
        }
    }
}

/// Reads a row `fid, geom, values…`, the values typed by `types`. `None` for a row without a
/// readable geometry.
fn read_row(
    row: &rusqlite::Row<'_>,
    types: &[AttributeType],
) -> rusqlite::Result<Option<StoredFeature>> {
    let fid: i64 = row.get(0)?;
    let geometry = match row.get_ref(1)? {
        rusqlite::types::ValueRef::Blob(b) => crate::geom::decode(b).ok().and_then(|d| d.geometry),
        _ => None,
    };
    let Some(geometry) = geometry else {
        return Ok(None);
    };
    let mut values = Vec::with_capacity(types.len());
    for (k, ty) in types.iter().enumerate() {
        values.push(Value::from_sql(row.get_ref(k + 2)?, *ty));
    }
    Ok(Some(StoredFeature {
        fid,
        geometry,
        values,
    }))
}

/// Where the geometries of an in-memory answer come from.
enum Geometries<'a> {
    /// The stored ones.
    Native,
    /// A simplified band.
    Band(&'a [Geometry<f64>]),
    /// A reprojected copy (`None`: no image in the target CRS).
    Reprojected(Reprojected),
}

impl MemoryLayer {
    /// The geometries (of a band, or full) in another CRS, made once.
    fn reprojected(
        &self,
        crs: &Crs,
        band: Option<usize>,
        simplified: Option<&[Geometry<f64>]>,
        to: &Transformer,
    ) -> Reprojected {
        let key = (crs.code().to_owned(), band);
        {
            let cache = self
                .reprojected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(hit) = cache.get(&key) {
                return Arc::clone(hit);
            }
        }
        let made: Vec<Option<Geometry<f64>>> = (0..self.features.len())
            .map(|k| {
                let geometry = simplified
                    .and_then(|b| b.get(k))
                    .unwrap_or(&self.features[k].geometry);
                geometry
                    .try_map_coords(|c| to.transform_point(c.x, c.y).map(|(x, y)| Coord { x, y }))
                    .ok()
            })
            .collect();
        let made = Arc::new(made);
        let mut cache = self
            .reprojected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_REPROJECTED {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&made));
        made
    }
}

fn query_memory(
    memory: &MemoryLayer,
    source: &Geometries<'_>,
    names: &[Arc<str>],
    rect: &Rect<f64>,
    columns: &[usize],
) -> Vec<Feature> {
    let envelope = AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
    memory
        .tree
        .locate_in_envelope_intersecting(&envelope)
        .filter_map(|entry| {
            let f = &memory.features[entry.index];
            let inside = envelope.contains_envelope(&entry.envelope);
            if !(inside || intersects(&f.geometry, rect)) {
                return None;
            }
            let geometry = match source {
                Geometries::Native => f.geometry.clone(),
                Geometries::Band(b) => b.get(entry.index).unwrap_or(&f.geometry).clone(),
                Geometries::Reprojected(r) => r.get(entry.index)?.clone()?,
            };
            Some(Feature {
                fid: f.fid,
                geometry,
                properties: columns
                    .iter()
                    .map(|&c| (names[c].clone(), f.values[c].clone()))
                    .collect(),
            })
        })
        .collect()
}

fn intersects(geometry: &Geometry<f64>, rect: &Rect<f64>) -> bool {
    geometry.intersects(rect)
}
