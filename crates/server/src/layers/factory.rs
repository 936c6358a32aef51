//! Building layers: from the `[[layers]]` tables once, from the catalog's publications at
//! each change (reusing the layers of unchanged publications and the opened stores). Every
//! check that can refuse a layer — a broken pyramid, levels it lacks, a style that does not fit
//! its table — runs here, before the layer is served.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crs::{Bbox, Crs, Transformer};
use pyramid::{CacheLimits, Interpolation, Pyramid, TileMatrix, TileMatrixSets};

use super::layer::{
    file_modified, newest, Access, Layer, LayerError, LayerSource, LayerStyle, Layers,
    PyramidLayer, RateLimit, VectorLayer, VectorRelation,
};
use super::snapshot::Snapshot;
use super::styles::{load_styles, read_sld, styles_for};
use crate::config::{
    Config, EmptyTile, LayerConfig, LayerKind, LayerMetadataConfig, LayerTilesConfig,
    RateLimitsConfig,
};

impl Layers {
    /// Builds the layers of a configuration (its `[[layers]]` only).
    pub fn from_config(config: &Config) -> Result<Layers, LayerError> {
        let factory = LayerFactory::new(config)?;
        let snapshot = factory.snapshot(&[], &[])?;
        let mut by_name = snapshot.wms.by_name.clone();
        by_name.extend(snapshot.tiles.by_name.clone());
        Ok(Layers::from_map(by_name, snapshot.wms.sequence))
    }
}

/// Builds snapshots: the configured layers once, the published ones at each change (reusing
/// the layers of unchanged publications, and opened stores).
pub struct LayerFactory {
    sets: TileMatrixSets,
    limits: CacheLimits,
    /// Where `s3://` pyramids are read from.
    storage: Arc<pyramid::ObjectStorage>,
    wms: BTreeMap<String, Arc<Layer>>,
    tiles: BTreeMap<String, Arc<Layer>>,
    features: BTreeMap<String, Arc<Layer>>,
    stores: std::sync::Mutex<HashMap<PathBuf, Arc<vectorstore::Store>>>,
    built: std::sync::Mutex<Vec<(catalog::Publication, Vec<Arc<Layer>>)>>,
    interpolation: Interpolation,
    /// Whether vector layers are tiled layers too (vector tiles made on the fly, rendered
    /// images cached).
    vector_tiles: bool,
    /// Request rates of published layers.
    rate_limits: RateLimitsConfig,
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
        let storage = Arc::new(
            config
                .object_storage
                .storage()
                .map_err(|e| LayerError::ObjectStorage(Box::new(e)))?,
        );
        let mut wms = BTreeMap::new();
        let mut tiles = BTreeMap::new();
        let mut features = BTreeMap::new();
        let mut stores = HashMap::new();
        for layer in &config.layers {
            let built = Arc::new(build_layer(
                layer,
                &sets,
                limits,
                &storage,
                &config.data.dir,
                &mut stores,
            )?);
            if matches!(built.source, LayerSource::Pyramid(_))
                || config.vector_tiles.enabled
                || config.tile_cache.enabled
            {
                tiles.insert(layer.name.clone(), Arc::clone(&built));
            }
            if let LayerKind::Vector { wfs: true, .. } = layer.kind {
                features.insert(layer.name.clone(), Arc::clone(&built));
            }
            // A vector pyramid is vector tiles only: WMS has no pixels to draw from it.
            let vector_pyramid = matches!(&built.source,
                LayerSource::Pyramid(p) if p.pyramid.format().is_vector());
            if !vector_pyramid {
                wms.insert(layer.name.clone(), built);
            }
        }
        Ok(LayerFactory {
            sets,
            limits,
            storage,
            wms,
            tiles,
            features,
            stores: std::sync::Mutex::new(HashMap::new()),
            built: std::sync::Mutex::new(Vec::new()),
            interpolation: Interpolation::Bilinear,
            vector_tiles: config.vector_tiles.enabled || config.tile_cache.enabled,
            rate_limits: config.rate_limits,
        })
    }

    /// The tile matrix sets (built-in and configured).
    pub fn tile_matrix_sets(&self) -> &TileMatrixSets {
        &self.sets
    }

    /// The object storage of `s3://` pyramids (`[object_storage]` and ROK4's variables).
    pub fn object_storage(&self) -> &Arc<pyramid::ObjectStorage> {
        &self.storage
    }

    /// A snapshot of the configured layers and these publications.
    pub fn snapshot(
        &self,
        publications: &[catalog::Publication],
        grants: &[catalog::KeyGrant],
    ) -> Result<Snapshot, LayerError> {
        let mut wms = self.wms.clone();
        let mut tiles = self.tiles.clone();
        let mut features = self.features.clone();
        let previous = std::mem::take(
            &mut *self
                .built
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut built = Vec::with_capacity(publications.len());
        let result = (|| {
            for publication in publications {
                let layers = match previous.iter().find(|(p, _)| p == publication) {
                    Some((_, layers)) => layers.clone(),
                    None => self
                        .publication_layers(publication)?
                        .into_iter()
                        .map(Arc::new)
                        .collect(),
                };
                built.push((publication.clone(), layers.clone()));
                let (map, configured) = match publication.kind {
                    catalog::ConfigurationType::WmtsTms => (
                        &mut tiles,
                        self.wms.contains_key(&publication.layer_name)
                            || self.tiles.contains_key(&publication.layer_name),
                    ),
                    catalog::ConfigurationType::Wfs => (&mut features, false),
                    _ => (
                        &mut wms,
                        self.wms.contains_key(&publication.layer_name)
                            || self.tiles.contains_key(&publication.layer_name),
                    ),
                };
                for layer in layers {
                    let configured = if publication.kind == catalog::ConfigurationType::Wfs {
                        self.features.contains_key(&layer.name)
                    } else {
                        configured
                    };
                    if configured {
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
            }
            Ok(())
        })();
        let mut cache = self
            .built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(()) => {
                // Vector layers are tiled layers too (vector tiles, rendered images), unless a pyramid of the
                // same name is published on the tile services.
                if self.vector_tiles {
                    for (name, layer) in &wms {
                        if matches!(layer.source, LayerSource::Vector(_)) {
                            tiles
                                .entry(name.clone())
                                .or_insert_with(|| Arc::clone(layer));
                        }
                    }
                }
                // Stores of stored data no longer published are closed.
                let used: Vec<&Path> = publications
                    .iter()
                    .flat_map(|p| match &p.source {
                        catalog::PublicationKind::Vector { relations } => {
                            relations.iter().map(|r| r.dir.as_path()).collect()
                        }
                        catalog::PublicationKind::Features { types } => {
                            types.iter().map(|t| t.dir.as_path()).collect()
                        }
                        catalog::PublicationKind::Pyramid { .. } => Vec::new(),
                    })
                    .collect();
                self.stores
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .retain(|dir, _| used.contains(&dir.as_path()));
                *cache = built;
                Ok(Snapshot::new(wms, tiles, features, grants.to_vec()))
            }
            Err(e) => {
                *cache = previous;
                Err(e)
            }
        }
    }

    /// The layers of a publication: one, or one per feature type of a WFS publication.
    fn publication_layers(
        &self,
        publication: &catalog::Publication,
    ) -> Result<Vec<Layer>, LayerError> {
        let catalog::PublicationKind::Features { types } = &publication.source else {
            return Ok(vec![self.publication_layer(publication)?]);
        };
        let mut layers = Vec::with_capacity(types.len());
        for feature_type in types {
            let name = &feature_type.public_name;
            let spec = RelationSpec {
                store: self.store(name, &feature_type.dir)?,
                table: &feature_type.table,
                style: None,
                label: &feature_type.dir,
            };
            layers.push(Layer {
                name: name.clone(),
                title: if feature_type.title.is_empty() {
                    name.clone()
                } else {
                    feature_type.title.clone()
                },
                abstract_text: feature_type.abstract_text.clone(),
                keywords: feature_type.keywords.clone(),
                metadata: publication_metadata(publication),
                source: LayerSource::Vector(Box::new(vector_layer(name, &[spec], false)?)),
                access: publication_access(publication),
                tiles: LayerTilesConfig::default(),
                rate: self.publication_rate(publication),
            });
        }
        Ok(layers)
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
                        style: Some(&relation.style),
                        label: &relation.dir,
                    });
                }
                LayerSource::Vector(Box::new(vector_layer(name, &specs, true)?))
            }
            catalog::PublicationKind::Features { .. } => {
                return Err(LayerError::Invalid {
                    layer: name.clone(),
                    reason: "a WFS publication is one layer per feature type (publication_layers)"
                        .to_owned(),
                })
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
                &self.storage,
            )?)),
        };
        Ok(Layer {
            name: name.clone(),
            title: publication.title.clone(),
            abstract_text: publication.abstract_text.clone(),
            keywords: publication.keywords.clone(),
            metadata: publication_metadata(publication),
            source,
            access: publication_access(publication),
            tiles: LayerTilesConfig::default(),
            rate: self.publication_rate(publication),
        })
    }

    /// The request rates of a publication's layer: its configuration type's through the
    /// service it is offered on, and `[rate_limits]`' tiles and features where it is also
    /// served so.
    fn publication_rate(&self, publication: &catalog::Publication) -> RateLimit {
        let limits = &self.rate_limits;
        let wms = match publication.kind {
            catalog::ConfigurationType::WmsVector => limits.wms_vector,
            catalog::ConfigurationType::WmsRaster => limits.wms_raster,
            catalog::ConfigurationType::WmtsTms | catalog::ConfigurationType::Wfs => 0,
        };
        RateLimit {
            wms,
            tiles: limits.tiles,
            features: limits.features,
        }
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

fn build_layer(
    config: &LayerConfig,
    sets: &TileMatrixSets,
    limits: CacheLimits,
    storage: &Arc<pyramid::ObjectStorage>,
    data_dir: &Path,
    stores: &mut HashMap<PathBuf, Arc<vectorstore::Store>>,
) -> Result<Layer, LayerError> {
    let source = match &config.kind {
        LayerKind::Vector {
            source,
            table,
            style,
            queryable,
            wfs: _,
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
            storage,
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
        tiles: config.tiles.clone(),
        rate: RateLimit::all(config.rate_limit),
    })
}

/// How a pyramid is served.
pub(crate) struct PyramidSettings<'a> {
    pub descriptor: &'a pyramid::Location,
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
    storage: &Arc<pyramid::ObjectStorage>,
) -> Result<PyramidLayer, LayerError> {
    let invalid = |reason: String| LayerError::Invalid {
        layer: name.to_owned(),
        reason,
    };
    let opened =
        Pyramid::open_at(settings.descriptor, sets, limits, storage).map_err(|source| {
            LayerError::Pyramid {
                layer: name.to_owned(),
                source: Box::new(source),
            }
        })?;
    let vector = opened.format().is_vector();
    if vector && !settings.styles.is_empty() {
        return Err(invalid(
            "a vector pyramid (TIFF_PBF_MVT) is served as vector tiles, which SLD styles do not draw: remove its styles".to_owned(),
        ));
    }
    let mut styles = Vec::new();
    for path in settings.styles {
        let loaded = load_styles(path).map_err(|e| invalid(e.to_string()))?;
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
    let (native_bbox, wgs84_bbox) = data_extent(&opened, bottom).ok_or_else(|| {
        invalid(
            "cannot compute its extent: no tile of the finest served level maps to CRS:84"
                .to_owned(),
        )
    })?;
    let set = opened.tile_matrix_set();
    let link = if top == 0 && bottom as usize + 1 == set.matrices().len() {
        set.id().to_owned()
    } else {
        let id = |level: u32| set.matrix_at(level).map_or("", TileMatrix::id).to_owned();
        format!("{}_{}_{}", set.id(), id(top), id(bottom))
    };
    // An object descriptor has no file date: the styles' dates (if any) stand for it.
    let descriptor_file = match settings.descriptor {
        pyramid::Location::File(path) => Some(path.as_path()),
        pyramid::Location::Object(_) => None,
    };
    let modified = newest(
        descriptor_file
            .into_iter()
            .chain(settings.styles.iter().map(PathBuf::as_path))
            .map(file_modified),
    );
    Ok(PyramidLayer {
        modified,
        nodata_tile: std::sync::OnceLock::new(),
        link,
        pyramid: opened,
        // Vector tiles have no pixel to query (as ROK4 serves them).
        getfeatureinfo: settings.getfeatureinfo && !vector,
        empty_tile: settings.empty_tile,
        levels: top..=bottom,
        wgs84_bbox,
        native_bbox,
        styles,
        interpolation: settings.interpolation,
    })
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
            style: Some(style),
            label: source,
        }],
        queryable,
    )
}

/// One table to draw, before it is checked.
pub(crate) struct RelationSpec<'a> {
    pub store: Arc<vectorstore::Store>,
    pub table: &'a str,
    /// The SLD (`None`: a feature type, not drawn).
    pub style: Option<&'a Path>,
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
        let styles = match spec.style {
            Some(style) => checked_styles(style, metadata, &attributes).map_err(invalid)?,
            None => Vec::new(),
        };
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
    let modified = newest(
        specs
            .iter()
            .flat_map(|s| [s.store.modified(), s.style.and_then(file_modified)]),
    );
    Ok(VectorLayer {
        relations,
        crs,
        native_bbox,
        wgs84_bbox,
        queryable,
        modified,
    })
}

/// Metadata links and attribution of a publication.
fn publication_metadata(publication: &catalog::Publication) -> LayerMetadataConfig {
    LayerMetadataConfig {
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
    }
}

/// Who may see a publication's layers.
fn publication_access(publication: &catalog::Publication) -> Access {
    if publication.open {
        Access::Open
    } else {
        Access::Restricted(vec![publication.offering.clone()])
    }
}

/// The styles of an SLD file for a table, refused when a property it uses is not the table's.
fn checked_styles(
    style: &Path,
    metadata: &vectorstore::LayerMetadata,
    attributes: &[String],
) -> Result<Vec<LayerStyle>, String> {
    let table = &metadata.name;
    let parsed = read_sld(style).map_err(|e| e.to_string())?;
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
        return Err(format!(
            "style {} does not fit table '{table}': {} (its attributes: {})",
            style.display(),
            errors.join("; "),
            attributes.join(", ")
        ));
    }
    styles_for(
        parsed,
        style,
        &[metadata.name.as_str(), metadata.source_name.as_str()],
    )
    .map_err(|e| e.to_string())
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

/// The extent of the tiles of the finest served level, in the pyramid's CRS and in CRS:84
/// (`None` when no level or no valid tile range is stored at or above `bottom`, or the extent
/// has no image in CRS:84).
fn data_extent(pyramid: &Pyramid, bottom: u32) -> Option<(Bbox, Bbox)> {
    let tms = pyramid.tile_matrix_set();
    let level = pyramid
        .levels()
        .iter()
        .rfind(|l| l.matrix_index() <= bottom)?;
    let native = pyramid.level_bbox(level)?;
    let wgs84 = Transformer::new(tms.crs(), &Crs::crs84())
        .and_then(|t| t.transform_bbox(&native))
        .ok()?;
    Some((native, wgs84))
}
