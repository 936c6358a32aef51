//! The published layers: an immutable snapshot the request path reads without locks.
//!
//! Built once from the `[[layers]]` tables (and, later, from the publication API: both give the
//! same [`Layer`]); a change builds a new snapshot and swaps it whole, so a request always sees
//! one consistent set. Opening happens here, at build time — a pyramid whose descriptor is
//! broken is refused before the server starts, not at the first request.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crs::{Bbox, Crs, Transformer};
use pyramid::{CacheLimits, Interpolation, Pyramid, TileMatrix, TileMatrixSet, TileMatrixSets};

use crate::config::{Config, EmptyTile, LayerConfig, LayerKind, LayerMetadataConfig};

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
    /// A vector layer's GeoPackage could not be integrated or opened.
    #[error("layer '{layer}': cannot read its GeoPackage {path}")]
    Vector {
        /// The layer.
        layer: String,
        /// The GeoPackage.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<vectorstore::VectorError>,
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
    /// Identifies this snapshot: capabilities' `updateSequence`, cache keys. Grows with each
    /// snapshot (milliseconds since the epoch at build time, made strictly increasing).
    pub sequence: u64,
    /// Identifies which layers of the snapshot this view holds (a hash of their names):
    /// requests with different API keys see different capabilities.
    pub view: u64,
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
    /// Metadata links and attribution.
    pub metadata: LayerMetadataConfig,
    /// The data.
    pub source: LayerSource,
    /// Who may see it.
    pub access: Access,
}

/// Who may see a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Everyone.
    Open,
    /// Requests with an API key granted one of these offerings.
    Restricted(Vec<String>),
}

impl Layer {
    /// The WMS styles, the default first.
    pub fn styles(&self) -> &[LayerStyle] {
        match &self.source {
            LayerSource::Pyramid(p) => &p.styles,
            LayerSource::Vector(v) => v.relations.first().map_or(&[], |r| &r.styles),
        }
    }

    /// The style of a WMS `STYLES` entry (empty or `default`: the default style).
    pub fn style(&self, name: &str) -> Option<&LayerStyle> {
        let styles = self.styles();
        if name.is_empty() || name.eq_ignore_ascii_case("default") {
            return styles.first();
        }
        styles.iter().find(|s| s.name == name)
    }

    /// Whether WMS GetFeatureInfo answers for this layer.
    pub fn queryable(&self) -> bool {
        match &self.source {
            LayerSource::Pyramid(p) => p.getfeatureinfo,
            LayerSource::Vector(v) => v.queryable,
        }
    }

    /// The layer's native CRS.
    pub fn crs(&self) -> &Crs {
        match &self.source {
            LayerSource::Pyramid(p) => p.tile_matrix_set().crs(),
            LayerSource::Vector(v) => &v.crs,
        }
    }

    /// Extent in the native CRS and in CRS:84.
    pub fn extent(&self) -> (&Bbox, &Bbox) {
        match &self.source {
            LayerSource::Pyramid(p) => (&p.native_bbox, &p.wgs84_bbox),
            LayerSource::Vector(v) => (&v.native_bbox, &v.wgs84_bbox),
        }
    }
}

/// A named style of a layer, as WMS offers it.
#[derive(Debug)]
pub struct LayerStyle {
    /// Name used in `STYLES=`.
    pub name: String,
    /// Title.
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// The SLD style (`None` for a raster layer shown as stored).
    pub style: Option<sld::UserStyle>,
}

impl LayerStyle {
    /// Scale range over the style's rules: (min, max) scale denominators, `None` when some
    /// rule is unbounded on that side.
    pub fn scale_range(&self) -> (Option<f64>, Option<f64>) {
        let Some(style) = &self.style else {
            return (None, None);
        };
        let rules: Vec<&sld::Rule> = style
            .feature_type_styles
            .iter()
            .flat_map(|f| &f.rules)
            .collect();
        if rules.is_empty() {
            return (None, None);
        }
        let min = rules
            .iter()
            .map(|r| r.min_scale)
            .try_fold(f64::INFINITY, |acc, m| m.map(|m| acc.min(m)));
        let max = rules
            .iter()
            .map(|r| r.max_scale)
            .try_fold(0f64, |acc, m| m.map(|m| acc.max(m)));
        (min.filter(|m| *m > 0.0), max)
    }
}

/// A vector layer: tables of stored data, each drawn with its SLD, in order (a WMS-VECTOR
/// configuration may draw several tables as one layer).
#[derive(Debug)]
pub struct VectorLayer {
    /// The tables, in drawing order (at least one).
    pub relations: Vec<VectorRelation>,
    /// Native CRS (the first table's).
    pub crs: Crs,
    /// Extent in the native CRS.
    pub native_bbox: Bbox,
    /// Extent in CRS:84.
    pub wgs84_bbox: Bbox,
    /// Whether GetFeatureInfo answers.
    pub queryable: bool,
}

/// One table of a vector layer.
#[derive(Debug)]
pub struct VectorRelation {
    /// The stored data holding the table.
    pub store: Arc<vectorstore::Store>,
    /// The table's stored name.
    pub table: String,
    /// Stored attribute names, in table order.
    pub attributes: Vec<String>,
    /// The styles, the default first.
    pub styles: Vec<LayerStyle>,
}

/// Features of one table with the style to draw them.
pub type StyledFeatures<'a> = (Vec<vectorstore::Feature>, &'a sld::UserStyle);

impl VectorLayer {
    /// The features of every table inside `bbox` (in `crs`) at a scale, each with its style
    /// named `style` (or its default), in drawing order.
    pub fn fetch(
        &self,
        bbox: &Bbox,
        crs: &Crs,
        scale: f64,
        style: &str,
    ) -> Result<Vec<StyledFeatures<'_>>, vectorstore::VectorError> {
        let mut fetched = Vec::with_capacity(self.relations.len());
        for relation in &self.relations {
            let chosen = relation
                .styles
                .iter()
                .find(|s| s.name == style)
                .or_else(|| relation.styles.first())
                .and_then(|s| s.style.as_ref());
            let Some(user_style) = chosen else { continue };
            let attributes: Vec<&str> = relation.attributes.iter().map(String::as_str).collect();
            let features: Vec<vectorstore::Feature> = relation
                .store
                .features(&relation.table, bbox, crs, scale, &attributes)?
                .collect();
            fetched.push((features, user_style));
        }
        Ok(fetched)
    }

    /// Features within `tolerance` of a point, topmost table first, nearest first, at most
    /// `limit`: (table, feature).
    pub fn features_at(
        &self,
        x: f64,
        y: f64,
        crs: &Crs,
        tolerance: f64,
        limit: usize,
    ) -> Result<Vec<vectorstore::NearFeature>, vectorstore::VectorError> {
        let mut found = Vec::new();
        for relation in self.relations.iter().rev() {
            if found.len() >= limit {
                break;
            }
            let near = relation.store.features_at(
                &relation.table,
                x,
                y,
                crs,
                tolerance,
                limit - found.len(),
            )?;
            found.extend(near);
        }
        Ok(found)
    }
}

/// Where a layer's data comes from.
#[derive(Debug)]
pub enum LayerSource {
    /// A raster pyramid.
    Pyramid(Box<PyramidLayer>),
    /// Vector data, rendered by WMS.
    Vector(Box<VectorLayer>),
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
    /// WMS styles: the configured raster style, or the pixels as stored.
    pub styles: Vec<LayerStyle>,
    /// WMS resampling.
    pub interpolation: Interpolation,
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
    /// Builds the layers of a configuration (its `[[layers]]` only).
    pub fn from_config(config: &Config) -> Result<Layers, LayerError> {
        let factory = LayerFactory::new(config)?;
        let snapshot = factory.snapshot(&[], &[])?;
        let mut by_name = snapshot.wms.by_name.clone();
        by_name.extend(snapshot.tiles.by_name.clone());
        Ok(Layers::from_map(by_name, snapshot.wms.sequence))
    }

    fn from_map(by_name: BTreeMap<String, Arc<Layer>>, sequence: u64) -> Layers {
        // FNV-1a of the names.
        let mut view: u64 = 0xcbf2_9ce4_8422_2325;
        for name in by_name.keys() {
            for byte in name.bytes().chain([0]) {
                view ^= u64::from(byte);
                view = view.wrapping_mul(0x0100_0000_01b3);
            }
        }
        Layers {
            by_name,
            sequence,
            view,
        }
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
                LayerSource::Vector(_) => None,
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

/// The service a request is for: WMS, or tiles (WMTS and TMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// WMS.
    Wms,
    /// WMTS and TMS.
    Tiles,
}

/// Everything published, as the request path reads it: the layers of each service, and what
/// API keys grant. Swapped whole.
#[derive(Debug)]
pub struct Snapshot {
    /// Layers served by WMS (every one, restricted included).
    pub wms: Arc<Layers>,
    /// Layers served by WMTS and TMS.
    pub tiles: Arc<Layers>,
    /// What each key grants.
    pub grants: Vec<catalog::KeyGrant>,
    open_wms: Arc<Layers>,
    open_tiles: Arc<Layers>,
}

impl Default for Snapshot {
    fn default() -> Snapshot {
        Snapshot::new(BTreeMap::new(), BTreeMap::new(), Vec::new())
    }
}

impl Snapshot {
    fn new(
        wms: BTreeMap<String, Arc<Layer>>,
        tiles: BTreeMap<String, Arc<Layer>>,
        grants: Vec<catalog::KeyGrant>,
    ) -> Snapshot {
        let sequence = next_sequence();
        let open = |map: &BTreeMap<String, Arc<Layer>>| {
            map.iter()
                .filter(|(_, l)| l.access == Access::Open)
                .map(|(n, l)| (n.clone(), Arc::clone(l)))
                .collect()
        };
        Snapshot {
            open_wms: Arc::new(Layers::from_map(open(&wms), sequence)),
            open_tiles: Arc::new(Layers::from_map(open(&tiles), sequence)),
            wms: Arc::new(Layers::from_map(wms, sequence)),
            tiles: Arc::new(Layers::from_map(tiles, sequence)),
            grants,
        }
    }

    /// Every layer of a service.
    pub fn all(&self, service: Service) -> &Arc<Layers> {
        match service {
            Service::Wms => &self.wms,
            Service::Tiles => &self.tiles,
        }
    }

    /// Whether some layer of a service is restricted to API keys.
    pub fn has_restricted(&self, service: Service) -> bool {
        match service {
            Service::Wms => self.wms.len() != self.open_wms.len(),
            Service::Tiles => self.tiles.len() != self.open_tiles.len(),
        }
    }

    /// The layers of a service a request may see: the open ones, plus the restricted ones
    /// whose offerings `granted` names.
    pub fn view(&self, service: Service, granted: Option<&[String]>) -> Arc<Layers> {
        let (all, open) = match service {
            Service::Wms => (&self.wms, &self.open_wms),
            Service::Tiles => (&self.tiles, &self.open_tiles),
        };
        if !self.has_restricted(service) {
            return Arc::clone(all);
        }
        let Some(granted) = granted else {
            return Arc::clone(open);
        };
        let visible = all
            .by_name
            .iter()
            .filter(|(_, l)| may_see(l, granted))
            .map(|(n, l)| (n.clone(), Arc::clone(l)))
            .collect();
        Arc::new(Layers::from_map(visible, all.sequence))
    }

    /// Number of distinct layers.
    pub fn len(&self) -> usize {
        self.wms.len()
            + self
                .tiles
                .iter()
                .filter(|l| self.wms.get(&l.name).is_none())
                .count()
    }

    /// Whether nothing is published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a key granted `granted` may see a layer.
pub fn may_see(layer: &Layer, granted: &[String]) -> bool {
    match &layer.access {
        Access::Open => true,
        Access::Restricted(offerings) => offerings.iter().any(|o| granted.contains(o)),
    }
}

/// Builds snapshots: the configured layers once, the published ones at each change (reusing
/// the layers of unchanged publications, and opened stores).
pub struct LayerFactory {
    sets: TileMatrixSets,
    limits: CacheLimits,
    wms: BTreeMap<String, Arc<Layer>>,
    tiles: BTreeMap<String, Arc<Layer>>,
    stores: std::sync::Mutex<HashMap<PathBuf, Arc<vectorstore::Store>>>,
    built: std::sync::Mutex<Vec<(catalog::Publication, Arc<Layer>)>>,
    interpolation: Interpolation,
}

impl std::fmt::Debug for LayerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerFactory")
            .field("configured", &(self.wms.len() + self.tiles.len()))
            .finish_non_exhaustive()
    }
}

impl LayerFactory {
    /// Builds the configured layers.
    pub fn new(config: &Config) -> Result<LayerFactory, LayerError> {
        let mut sets = TileMatrixSets::builtin();
        if let Some(dir) = &config.tiles.tile_matrix_sets_dir {
            sets.extend_from_dir(dir)
                .map_err(|e| LayerError::TileMatrixSets(Box::new(e)))?;
        }
        let limits = CacheLimits {
            index_bytes: config.tiles.index_cache_bytes,
            open_files: config.tiles.open_slabs,
        };
        let mut wms = BTreeMap::new();
        let mut tiles = BTreeMap::new();
        let mut stores = HashMap::new();
        for layer in &config.layers {
            let built = Arc::new(build_layer(
                layer,
                &sets,
                limits,
                &config.data.dir,
                &mut stores,
            )?);
            if let LayerSource::Pyramid(_) = built.source {
                tiles.insert(layer.name.clone(), Arc::clone(&built));
            }
            wms.insert(layer.name.clone(), built);
        }
        Ok(LayerFactory {
            sets,
            limits,
            wms,
            tiles,
            stores: std::sync::Mutex::new(HashMap::new()),
            built: std::sync::Mutex::new(Vec::new()),
            interpolation: Interpolation::Bilinear,
        })
    }

    /// The tile matrix sets (built-in and configured).
    pub fn tile_matrix_sets(&self) -> &TileMatrixSets {
        &self.sets
    }

    /// A snapshot of the configured layers and these publications.
    pub fn snapshot(
        &self,
        publications: &[catalog::Publication],
        grants: &[catalog::KeyGrant],
    ) -> Result<Snapshot, LayerError> {
        let mut wms = self.wms.clone();
        let mut tiles = self.tiles.clone();
        let previous = std::mem::take(
            &mut *self
                .built
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut built = Vec::with_capacity(publications.len());
        let result = (|| {
            for publication in publications {
                let layer = match previous.iter().find(|(p, _)| p == publication) {
                    Some((_, layer)) => Arc::clone(layer),
                    None => Arc::new(self.publication_layer(publication)?),
                };
                built.push((publication.clone(), Arc::clone(&layer)));
                let map = match publication.kind {
                    catalog::ConfigurationType::WmtsTms => &mut tiles,
                    _ => &mut wms,
                };
                if self.wms.contains_key(&layer.name) || self.tiles.contains_key(&layer.name) {
                    return Err(LayerError::Invalid {
                        layer: layer.name.clone(),
                        reason: "the configuration file already declares a layer of this name: choose another layer_name".to_owned(),
                    });
                }
                if map.insert(layer.name.clone(), layer).is_some() {
                    return Err(LayerError::Invalid {
                        layer: publication.layer_name.clone(),
                        reason: "two offerings publish this layer name on one service: choose another layer_name".to_owned(),
                    });
                }
            }
            Ok(())
        })();
        let mut cache = self
            .built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(()) => {
                // Stores of stored data no longer published are closed.
                let used: Vec<&Path> = publications
                    .iter()
                    .flat_map(|p| match &p.source {
                        catalog::PublicationKind::Vector { relations } => {
                            relations.iter().map(|r| r.dir.as_path()).collect()
                        }
                        catalog::PublicationKind::Pyramid { .. } => Vec::new(),
                    })
                    .collect();
                self.stores
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .retain(|dir, _| used.contains(&dir.as_path()));
                *cache = built;
                Ok(Snapshot::new(wms, tiles, grants.to_vec()))
            }
            Err(e) => {
                *cache = previous;
                Err(e)
            }
        }
    }

    fn publication_layer(&self, publication: &catalog::Publication) -> Result<Layer, LayerError> {
        let name = &publication.layer_name;
        let source = match &publication.source {
            catalog::PublicationKind::Vector { relations } => {
                let mut specs = Vec::with_capacity(relations.len());
                for relation in relations {
                    specs.push(RelationSpec {
                        store: self.store(name, &relation.dir)?,
                        table: &relation.table,
                        style: &relation.style,
                        label: &relation.dir,
                    });
                }
                LayerSource::Vector(Box::new(vector_layer(name, &specs, true)?))
            }
            catalog::PublicationKind::Pyramid {
                descriptor,
                bottom_level,
                top_level,
                getfeatureinfo,
                styles,
                ..
            } => LayerSource::Pyramid(Box::new(pyramid_layer(
                name,
                &PyramidSettings {
                    descriptor,
                    getfeatureinfo: *getfeatureinfo,
                    empty_tile: EmptyTile::Nodata,
                    bottom_level: bottom_level.as_deref(),
                    top_level: top_level.as_deref(),
                    styles,
                    interpolation: self.interpolation,
                },
                &self.sets,
                self.limits,
            )?)),
        };
        let metadata = LayerMetadataConfig {
            metadata_urls: publication.metadata.iter().map(|m| m.url.clone()).collect(),
            attribution: publication
                .attribution
                .as_ref()
                .map(|a| a.title.clone())
                .unwrap_or_default(),
            attribution_url: publication
                .attribution
                .as_ref()
                .map(|a| a.url.clone())
                .unwrap_or_default(),
        };
        Ok(Layer {
            name: name.clone(),
            title: publication.title.clone(),
            abstract_text: publication.abstract_text.clone(),
            keywords: publication.keywords.clone(),
            metadata,
            source,
            access: if publication.open {
                Access::Open
            } else {
                Access::Restricted(vec![publication.offering.clone()])
            },
        })
    }

    fn store(&self, layer: &str, dir: &Path) -> Result<Arc<vectorstore::Store>, LayerError> {
        let mut stores = self
            .stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(store) = stores.get(dir) {
            return Ok(Arc::clone(store));
        }
        let store = Arc::new(
            vectorstore::Store::open(dir, vectorstore::StoreOptions::default()).map_err(|e| {
                LayerError::Vector {
                    layer: layer.to_owned(),
                    path: dir.to_owned(),
                    source: Box::new(e),
                }
            })?,
        );
        stores.insert(dir.to_owned(), Arc::clone(&store));
        Ok(store)
    }
}

/// A strictly increasing snapshot number (milliseconds since the epoch when possible).
fn next_sequence() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(current) => last = current,
        }
    }
}

fn build_layer(
    config: &LayerConfig,
    sets: &TileMatrixSets,
    limits: CacheLimits,
    data_dir: &Path,
    stores: &mut HashMap<PathBuf, Arc<vectorstore::Store>>,
) -> Result<Layer, LayerError> {
    let source = match &config.kind {
        LayerKind::Vector {
            source,
            table,
            style,
            queryable,
        } => LayerSource::Vector(Box::new(config_vector_layer(
            config, source, table, style, *queryable, data_dir, stores,
        )?)),
        LayerKind::Pyramid {
            pyramid,
            getfeatureinfo,
            empty_tile,
            bottom_level,
            top_level,
            style,
            interpolation,
        } => LayerSource::Pyramid(Box::new(pyramid_layer(
            &config.name,
            &PyramidSettings {
                descriptor: pyramid,
                getfeatureinfo: *getfeatureinfo,
                empty_tile: *empty_tile,
                bottom_level: bottom_level.as_deref(),
                top_level: top_level.as_deref(),
                styles: style.as_slice(),
                interpolation: *interpolation,
            },
            sets,
            limits,
        )?)),
    };
    Ok(Layer {
        name: config.name.clone(),
        title: config.title.clone(),
        abstract_text: config.abstract_text.clone(),
        keywords: config.keywords.clone(),
        metadata: config.metadata.clone(),
        source,
        access: Access::Open,
    })
}

/// How a pyramid is served.
pub(crate) struct PyramidSettings<'a> {
    pub descriptor: &'a Path,
    pub getfeatureinfo: bool,
    pub empty_tile: EmptyTile,
    pub bottom_level: Option<&'a str>,
    pub top_level: Option<&'a str>,
    /// SLD files whose styles (RasterSymbolizer) WMS offers; none: the pixels as stored.
    pub styles: &'a [PathBuf],
    pub interpolation: Interpolation,
}

/// Opens a pyramid and checks the served levels and styles.
pub(crate) fn pyramid_layer(
    name: &str,
    settings: &PyramidSettings<'_>,
    sets: &TileMatrixSets,
    limits: CacheLimits,
) -> Result<PyramidLayer, LayerError> {
    let invalid = |reason: String| LayerError::Invalid {
        layer: name.to_owned(),
        reason,
    };
    let opened =
        Pyramid::open(settings.descriptor, sets, limits).map_err(|source| LayerError::Pyramid {
            layer: name.to_owned(),
            source: Box::new(source),
        })?;
    let mut styles = Vec::new();
    for path in settings.styles {
        let loaded = load_styles(path).map_err(&invalid)?;
        let raster_only = loaded.iter().all(|s| {
            s.style.as_ref().is_some_and(|style| {
                style
                    .feature_type_styles
                    .iter()
                    .flat_map(|f| &f.rules)
                    .flat_map(|r| &r.symbolizers)
                    .any(|sym| matches!(sym, sld::Symbolizer::Raster(_)))
            })
        });
        if !raster_only {
            return Err(invalid(format!(
                "style {} has no RasterSymbolizer: a pyramid is styled with one (ColorMap, Opacity)",
                path.display()
            )));
        }
        for style in loaded {
            if !styles.iter().any(|s: &LayerStyle| s.name == style.name) {
                styles.push(style);
            }
        }
    }
    if styles.is_empty() {
        styles.push(LayerStyle {
            name: "default".to_owned(),
            title: "As stored".to_owned(),
            abstract_text: String::new(),
            style: None,
        });
    }
    let stored: Vec<u32> = opened
        .levels()
        .iter()
        .map(pyramid::Level::matrix_index)
        .collect();
    let (Some(&first), Some(&last)) = (stored.first(), stored.last()) else {
        return Err(invalid("the pyramid has no level".to_owned()));
    };
    let level_of = |id: Option<&str>, default: u32, which: &str| -> Result<u32, LayerError> {
        let Some(id) = id else { return Ok(default) };
        opened
            .level(id)
            .map(pyramid::Level::matrix_index)
            .ok_or_else(|| {
                let ids: Vec<&str> = opened.levels().iter().map(pyramid::Level::id).collect();
                invalid(format!(
                    "{which} '{id}' is not a level of the pyramid (levels: {})",
                    ids.join(", ")
                ))
            })
    };
    let top = level_of(settings.top_level, first, "top_level")?;
    let bottom = level_of(settings.bottom_level, last, "bottom_level")?;
    if top > bottom {
        return Err(invalid(
            "top_level is finer than bottom_level: swap them (top is the coarsest)".to_owned(),
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
    Ok(PyramidLayer {
        nodata_tile: std::sync::OnceLock::new(),
        link,
        pyramid: opened,
        getfeatureinfo: settings.getfeatureinfo,
        empty_tile: settings.empty_tile,
        levels: top..=bottom,
        wgs84_bbox,
        native_bbox,
        styles,
        interpolation: settings.interpolation,
    })
}

/// The WMS styles of an SLD file: each `UserStyle` of its first `NamedLayer`, the default one
/// (`IsDefault`, else the first) first; unnamed styles are named `default`, `style2`…
pub fn load_styles(path: &Path) -> Result<Vec<LayerStyle>, String> {
    styles_of(read_sld(path)?, path)
}

/// An SLD file, read, parsed and validated.
fn read_sld(path: &Path) -> Result<sld::Sld, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read style {}: {e}", path.display()))?;
    let parsed = sld::parse(&text).map_err(|e| format!("style {}: {e}", path.display()))?;
    let problems = parsed.validate();
    if let Some(problem) = problems.first() {
        return Err(format!(
            "style {} is invalid: {problem} (check it with `tuilerie style check`)",
            path.display()
        ));
    }
    Ok(parsed)
}

/// The WMS styles of a parsed SLD (see [`load_styles`]).
fn styles_of(parsed: sld::Sld, path: &Path) -> Result<Vec<LayerStyle>, String> {
    styles_for(parsed, path, &[])
}

/// The WMS styles of the `NamedLayer` named as one of `tables` (exactly, else after
/// normalisation), else of the first one: one SLD may style several tables.
fn styles_for(parsed: sld::Sld, path: &Path, tables: &[&str]) -> Result<Vec<LayerStyle>, String> {
    let mut layers = parsed.layers;
    let name_of = |l: &sld::NamedLayer| l.name.as_ref().map(|n| n.value.clone());
    let position = layers
        .iter()
        .position(|l| name_of(l).is_some_and(|n| tables.contains(&n.as_str())))
        .or_else(|| {
            let wanted: Vec<String> = tables
                .iter()
                .map(|t| vectorstore::normalize_name(t))
                .collect();
            layers.iter().position(|l| {
                name_of(l).is_some_and(|n| wanted.contains(&vectorstore::normalize_name(&n)))
            })
        })
        .unwrap_or(0);
    let mut user_styles: Vec<sld::UserStyle> = if position < layers.len() {
        layers.swap_remove(position).styles
    } else {
        Vec::new()
    };
    if user_styles.is_empty() {
        return Err(format!("style {} holds no UserStyle", path.display()));
    }
    if let Some(i) = user_styles.iter().position(|s| s.is_default) {
        let default = user_styles.remove(i);
        user_styles.insert(0, default);
    }
    let mut styles: Vec<LayerStyle> = Vec::new();
    for (k, style) in user_styles.into_iter().enumerate() {
        let mut name = style
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| {
                if k == 0 {
                    "default".to_owned()
                } else {
                    format!("style{}", k + 1)
                }
            });
        if styles.iter().any(|s| s.name == name) {
            name = format!("{name}_{}", k + 1);
        }
        styles.push(LayerStyle {
            title: style.title.clone().unwrap_or_else(|| name.clone()),
            abstract_text: style.abstract_.clone().unwrap_or_default(),
            name,
            style: Some(style),
        });
    }
    Ok(styles)
}

/// A configured vector layer: the GeoPackage is integrated once into
/// `{data}/config-layers/stored/` (the same stored form the publication API makes; integrated
/// again when the file changes), then opened; the style is checked against the table.
fn config_vector_layer(
    config: &LayerConfig,
    source: &Path,
    table: &str,
    style: &Path,
    queryable: bool,
    data_dir: &Path,
    stores: &mut HashMap<PathBuf, Arc<vectorstore::Store>>,
) -> Result<VectorLayer, LayerError> {
    let vector_error = |e: vectorstore::VectorError| LayerError::Vector {
        layer: config.name.clone(),
        path: source.to_owned(),
        source: Box::new(e),
    };
    let store = if let Some(store) = stores.get(source) {
        Arc::clone(store)
    } else {
        let store = Arc::new(open_config_store(
            source,
            data_dir,
            &config.name,
            vector_error,
        )?);
        stores.insert(source.to_owned(), Arc::clone(&store));
        store
    };
    vector_layer(
        &config.name,
        &[RelationSpec {
            store,
            table,
            style,
            label: source,
        }],
        queryable,
    )
}

/// One table to draw, before it is checked.
pub(crate) struct RelationSpec<'a> {
    pub store: Arc<vectorstore::Store>,
    pub table: &'a str,
    pub style: &'a Path,
    /// Where the data came from, for messages.
    pub label: &'a Path,
}

/// A vector layer of tables, each checked against its style.
pub(crate) fn vector_layer(
    name: &str,
    specs: &[RelationSpec<'_>],
    queryable: bool,
) -> Result<VectorLayer, LayerError> {
    let invalid = |reason: String| LayerError::Invalid {
        layer: name.to_owned(),
        reason,
    };
    let mut relations = Vec::with_capacity(specs.len());
    let mut crs: Option<Crs> = None;
    let mut native: Option<Bbox> = None;
    let mut wgs84: Option<Bbox> = None;
    let mut same_crs = true;
    for spec in specs {
        let table = spec.table;
        let metadata = spec.store.layer(table).ok_or_else(|| {
            let tables: Vec<String> = spec
                .store
                .layers()
                .iter()
                .map(|l| format!("'{}'", l.source_name))
                .collect();
            invalid(format!(
                "table '{table}' is not in {} (its tables: {})",
                spec.label.display(),
                tables.join(", ")
            ))
        })?;
        let table_crs = Crs::parse(&metadata.srs)
            .map_err(|e| invalid(format!("its CRS {} is not usable: {e}", metadata.srs)))?;
        let bbox_of = |b: Option<[f64; 4]>| {
            b.and_then(|[a, b, c, d]| Bbox::new(a, b, c, d).ok())
                .ok_or_else(|| invalid(format!("table '{table}' has no geometry to publish")))
        };
        let table_native = bbox_of(metadata.bbox)?;
        let table_wgs84 = bbox_of(metadata.bbox_wgs84)?;
        match &crs {
            None => crs = Some(table_crs),
            Some(first) => same_crs &= first.equivalent(&table_crs),
        }
        native = Some(native.map_or(table_native, |n| n.union(&table_native)));
        wgs84 = Some(wgs84.map_or(table_wgs84, |w| w.union(&table_wgs84)));
        let attributes: Vec<String> = metadata.attributes.iter().map(|a| a.name.clone()).collect();
        let style = spec.style;
        let parsed = read_sld(style).map_err(&invalid)?;
        // Property names must exist (stored or original names); a mismatch is refused here
        // rather than drawing nothing.
        let mut known: Vec<&str> = attributes.iter().map(String::as_str).collect();
        known.extend(metadata.attributes.iter().map(|a| a.source_name.as_str()));
        let errors: Vec<String> = parsed
            .check_attributes(&known)
            .into_iter()
            .filter(|p| p.severity == sld::Severity::Error)
            .map(|p| p.to_string())
            .collect();
        if !errors.is_empty() {
            return Err(invalid(format!(
                "style {} does not fit table '{table}': {} (its attributes: {})",
                style.display(),
                errors.join("; "),
                attributes.join(", ")
            )));
        }
        let styles = styles_for(
            parsed,
            style,
            &[metadata.name.as_str(), metadata.source_name.as_str()],
        )
        .map_err(&invalid)?;
        relations.push(VectorRelation {
            store: Arc::clone(&spec.store),
            table: metadata.name.clone(),
            attributes,
            styles,
        });
    }
    let (Some(crs), Some(mut native_bbox), Some(wgs84_bbox)) = (crs, native, wgs84) else {
        return Err(invalid("it draws no table".to_owned()));
    };
    if !same_crs {
        // Tables in several CRSs: the extent in the first one's, from the union in CRS:84.
        native_bbox = Transformer::new(&Crs::crs84(), &crs)
            .and_then(|t| t.transform_bbox(&wgs84_bbox))
            .map_err(|e| invalid(format!("cannot compute its extent: {e}")))?;
    }
    Ok(VectorLayer {
        relations,
        crs,
        native_bbox,
        wgs84_bbox,
        queryable,
    })
}

/// Opens the stored form of a configured GeoPackage, integrating it first when it is missing
/// or older than the file.
fn open_config_store(
    source: &Path,
    data_dir: &Path,
    layer: &str,
    error: impl Fn(vectorstore::VectorError) -> LayerError,
) -> Result<vectorstore::Store, LayerError> {
    let meta = std::fs::metadata(source).map_err(|e| {
        error(vectorstore::VectorError::Io {
            path: source.to_owned(),
            source: e,
        })
    })?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let canonical = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_owned());
    // FNV-1a of where the file is and which version of it: a changed file is integrated anew.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical
        .to_string_lossy()
        .bytes()
        .chain(meta.len().to_le_bytes())
        .chain(modified.to_le_bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let stem: String = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    let id = format!("{stem}-{hash:016x}");
    let base = data_dir.join("config-layers");
    let dir = base.join("stored").join(&id);
    if !dir.join(vectorstore::METADATA_FILE).is_file() {
        tracing::info!(layer, source = %source.display(), "integrating the GeoPackage");
        let report = vectorstore::ingest(
            source,
            &base,
            &id,
            &vectorstore::IngestOptions::default(),
            &mut |_, _| {},
        )
        .map_err(&error)?;
        if report.is_refused() {
            let findings: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.level == vectorstore::Level::Error)
                .map(ToString::to_string)
                .collect();
            return Err(LayerError::Invalid {
                layer: layer.to_owned(),
                reason: format!("{} was refused: {}", source.display(), findings.join("; ")),
            });
        }
    }
    vectorstore::Store::open(&dir, vectorstore::StoreOptions::default()).map_err(error)
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
