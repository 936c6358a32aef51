//! The layer types: a published layer (vector tables with their styles, or a pyramid with the
//! levels it serves), its access, and a set of layers by name.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;

use crs::{Bbox, Crs};
use pyramid::{Interpolation, Pyramid, TileMatrix, TileMatrixSet};

use crate::config::{EmptyTile, LayerMetadataConfig, LayerTilesConfig};

/// Errors of building the layers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The extra tile matrix sets could not be loaded.
    #[error("cannot load the tile matrix sets")]
    TileMatrixSets(#[source] Box<pyramid::PyramidError>),
    /// The object storage settings (`[object_storage]`, `ROK4_S3_*`) are not usable.
    #[error("cannot configure object storage")]
    ObjectStorage(#[source] Box<pyramid::PyramidError>),
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
    pub(super) by_name: BTreeMap<String, Arc<Layer>>,
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
    /// Its own tile settings (API-published layers: none, the server's apply).
    pub tiles: LayerTilesConfig,
    /// Requests per second per client on it, by service (0: no limit).
    pub rate: RateLimit,
}

/// Requests per second per client on a layer, by service; 0: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Through WMS.
    pub wms: u32,
    /// Tiles (WMTS, TMS).
    pub tiles: u32,
    /// Features (WFS, OGC API – Features).
    pub features: u32,
}

impl RateLimit {
    /// The same limit on every service.
    pub fn all(rate: u32) -> RateLimit {
        RateLimit {
            wms: rate,
            tiles: rate,
            features: rate,
        }
    }
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
    /// Whether reading this layer's data waits on the network (a pyramid in object
    /// storage): its readers run off the event loops.
    pub fn reads_object_storage(&self) -> bool {
        matches!(&self.source, LayerSource::Pyramid(p) if p.pyramid.is_remote())
    }

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

    /// When its data or style files last changed, to the second: the `Last-Modified` of its
    /// tiles.
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        match &self.source {
            LayerSource::Pyramid(p) => p.modified,
            LayerSource::Vector(v) => v.modified,
        }
    }

    /// The `Cache-Control` of the layer's tiles: its own, else `default`.
    pub fn cache_control<'a>(&'a self, default: &'a str) -> &'a str {
        self.tiles.cache_control.as_deref().unwrap_or(default)
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
    /// When its stored data or SLD files last changed, to the second.
    pub modified: Option<std::time::SystemTime>,
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

impl VectorRelation {
    /// The SLD style named `name`, else the table's default; `None` when it has none.
    pub fn user_style(&self, name: &str) -> Option<&sld::UserStyle> {
        self.styles
            .iter()
            .find(|s| s.name == name)
            .or_else(|| self.styles.first())
            .and_then(|s| s.style.as_ref())
    }

    /// The table's metadata (geometry type, attributes with their types).
    pub fn metadata(&self) -> Option<&vectorstore::LayerMetadata> {
        self.store
            .metadata()
            .layers
            .iter()
            .find(|l| l.name == self.table)
    }
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
            let Some(user_style) = relation.user_style(style) else {
                continue;
            };
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
    /// When its descriptor or style files last changed, to the second.
    pub modified: Option<std::time::SystemTime>,
}

/// The newest of some modification times, to the whole second (HTTP dates have no less):
/// `None` when none is known.
pub(crate) fn newest(
    times: impl IntoIterator<Item = Option<std::time::SystemTime>>,
) -> Option<std::time::SystemTime> {
    let newest = times.into_iter().flatten().max()?;
    let seconds = newest.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// A file's modification time, `None` when unknown.
pub(crate) fn file_modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
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
    pub(super) fn from_map(by_name: BTreeMap<String, Arc<Layer>>, sequence: u64) -> Layers {
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
