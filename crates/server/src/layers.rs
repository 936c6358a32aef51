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
}

impl Layer {
    /// The WMS styles, the default first.
    pub fn styles(&self) -> &[LayerStyle] {
        match &self.source {
            LayerSource::Pyramid(p) => &p.styles,
            LayerSource::Vector(v) => &v.styles,
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

/// A vector layer: a table of stored data, drawn with an SLD.
#[derive(Debug)]
pub struct VectorLayer {
    /// The stored data holding the table.
    pub store: Arc<vectorstore::Store>,
    /// The table's stored name.
    pub table: String,
    /// Native CRS of the table.
    pub crs: Crs,
    /// Extent in the native CRS.
    pub native_bbox: Bbox,
    /// Extent in CRS:84.
    pub wgs84_bbox: Bbox,
    /// The styles, the default first.
    pub styles: Vec<LayerStyle>,
    /// Stored attribute names, in table order.
    pub attributes: Vec<String>,
    /// Whether GetFeatureInfo answers.
    pub queryable: bool,
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
        let mut stores = HashMap::new();
        for layer in &config.layers {
            let built = build_layer(layer, &sets, limits, &config.data.dir, &mut stores)?;
            by_name.insert(layer.name.clone(), Arc::new(built));
        }
        Ok(Layers {
            by_name,
            sequence: next_sequence(),
        })
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
    let invalid = |reason: String| LayerError::Invalid {
        layer: config.name.clone(),
        reason,
    };
    let source = match &config.kind {
        LayerKind::Vector {
            source,
            table,
            style,
            queryable,
        } => LayerSource::Vector(Box::new(vector_layer(
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
        } => {
            let opened =
                Pyramid::open(pyramid, sets, limits).map_err(|source| LayerError::Pyramid {
                    layer: config.name.clone(),
                    source: Box::new(source),
                })?;
            let styles = match style {
                None => vec![LayerStyle {
                    name: "default".to_owned(),
                    title: "As stored".to_owned(),
                    abstract_text: String::new(),
                    style: None,
                }],
                Some(path) => {
                    let styles = load_styles(path).map_err(&invalid)?;
                    let raster_only = styles.iter().all(|s| {
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
                    styles
                }
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
                styles,
                interpolation: *interpolation,
            }))
        }
    };
    Ok(Layer {
        name: config.name.clone(),
        title: config.title.clone(),
        abstract_text: config.abstract_text.clone(),
        keywords: config.keywords.clone(),
        metadata: config.metadata.clone(),
        source,
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
    let mut user_styles: Vec<sld::UserStyle> = parsed
        .layers
        .into_iter()
        .next()
        .map(|l| l.styles)
        .unwrap_or_default();
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

/// A vector layer: the GeoPackage is integrated once into `{data}/config-layers/stored/` (the
/// same stored form the publication API makes; integrated again when the file changes), then
/// opened; the style is checked against the table.
fn vector_layer(
    config: &LayerConfig,
    source: &Path,
    table: &str,
    style: &Path,
    queryable: bool,
    data_dir: &Path,
    stores: &mut HashMap<PathBuf, Arc<vectorstore::Store>>,
) -> Result<VectorLayer, LayerError> {
    let invalid = |reason: String| LayerError::Invalid {
        layer: config.name.clone(),
        reason,
    };
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
    let metadata = store.layer(table).ok_or_else(|| {
        let tables: Vec<String> = store
            .layers()
            .iter()
            .map(|l| format!("'{}'", l.source_name))
            .collect();
        invalid(format!(
            "table '{table}' is not in {} (its tables: {})",
            source.display(),
            tables.join(", ")
        ))
    })?;
    let crs = Crs::parse(&metadata.srs)
        .map_err(|e| invalid(format!("its CRS {} is not usable: {e}", metadata.srs)))?;
    let bbox_of = |b: Option<[f64; 4]>| {
        b.and_then(|[a, b, c, d]| Bbox::new(a, b, c, d).ok())
            .ok_or_else(|| invalid(format!("table '{table}' has no geometry to publish")))
    };
    let native_bbox = bbox_of(metadata.bbox)?;
    let wgs84_bbox = bbox_of(metadata.bbox_wgs84)?;
    let attributes: Vec<String> = metadata.attributes.iter().map(|a| a.name.clone()).collect();
    let parsed = read_sld(style).map_err(&invalid)?;
    // Property names must exist (stored or original names); a mismatch is refused here rather
    // than drawing nothing.
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
    let styles = styles_of(parsed, style).map_err(&invalid)?;
    Ok(VectorLayer {
        table: metadata.name.clone(),
        crs,
        native_bbox,
        wgs84_bbox,
        styles,
        attributes,
        queryable,
        store,
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
