//! Findings and the metadata of stored layers.
//!
//! A refused upload must say why in terms a producer can act on ("layer 'parcelles' is in
//! EPSG:4326 but the upload declares EPSG:2154"), and a long list of identical defects must not
//! drown the one that matters: per-feature findings are capped per layer and kind, and the rest
//! is counted in a summary finding.

use std::collections::HashMap;
use std::fmt;

use crate::value::{AttributeType, Value};

/// How serious a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// The upload is refused.
    Error,
    /// Worth knowing; the upload is integrated anyway.
    Warning,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
        })
    }
}

/// One result of the checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// ERROR refuses the upload, WARNING does not.
    pub level: Level,
    /// The layer (source table name) concerned, if any.
    pub layer: Option<String>,
    /// The feature id concerned, if any.
    pub feature: Option<i64>,
    /// What is wrong, and what to do when it is not obvious.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.level)?;
        if let Some(layer) = &self.layer {
            write!(f, " [{layer}]")?;
        }
        if let Some(fid) = self.feature {
            write!(f, " feature {fid}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// An attribute of a stored layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttributeMetadata {
    /// The normalised (stored) name.
    pub name: String,
    /// The name in the uploaded file.
    pub source_name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: AttributeType,
    /// Every distinct non-null value, in order of first appearance, when there are at most
    /// [`crate::DISTINCT_VALUES_LIMIT`] of them (small domains: categories for styles).
    pub distinct_values: Option<Vec<Value>>,
}

/// A stored (or checked) layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerMetadata {
    /// The normalised (stored) table name.
    pub name: String,
    /// The table name in the uploaded file.
    pub source_name: String,
    /// The uploaded file (name only) the layer came from.
    pub source_file: String,
    /// The CRS code (`EPSG:2154`).
    pub srs: String,
    /// The `srs_id` used in the stored GeoPackage.
    pub srs_id: i64,
    /// The declared geometry type (`MULTIPOLYGON`, `GEOMETRY`…).
    pub geometry_type: String,
    /// Number of features (rows, including those without geometry).
    pub features: u64,
    /// Extent in the native CRS, `[min_x, min_y, max_x, max_y]`; `None` without geometries.
    pub bbox: Option<[f64; 4]>,
    /// Extent in WGS 84 longitude, latitude (`[min_lon, min_lat, max_lon, max_lat]`).
    pub bbox_wgs84: Option<[f64; 4]>,
    /// Attribute columns in table order.
    pub attributes: Vec<AttributeMetadata>,
    /// Total size of the stored geometry blobs, to size in-memory indexes.
    pub geometry_bytes: u64,
    /// Number of geometries found invalid (kept, but worth fixing).
    pub invalid_geometries: u64,
}

impl LayerMetadata {
    /// The attribute of that stored or original name.
    pub fn attribute(&self, name: &str) -> Option<&AttributeMetadata> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .or_else(|| self.attributes.iter().find(|a| a.source_name == name))
            .or_else(|| {
                let normalized = crate::normalize_name(name);
                self.attributes.iter().find(|a| a.name == normalized)
            })
    }
}

/// What the checks (and the integration, when it ran) produced.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// Every finding, in the order found.
    pub findings: Vec<Finding>,
    /// The layers as they are (or would be) stored.
    pub layers: Vec<LayerMetadata>,
    /// The stored data directory, when the upload was integrated.
    pub stored: Option<std::path::PathBuf>,
}

impl Report {
    /// Whether any finding is an ERROR.
    pub fn is_refused(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }

    /// The ERROR findings.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.level == Level::Error)
    }
}

/// Collects findings, capping repeated per-feature ones.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) list: Vec<Finding>,
    counts: HashMap<(String, &'static str), u64>,
}

/// Individual findings of one kind shown per layer before they are only counted.
pub(crate) const PER_KIND_CAP: u64 = 5;

impl Findings {
    pub(crate) fn push(&mut self, level: Level, layer: Option<&str>, message: impl Into<String>) {
        self.list.push(Finding {
            level,
            layer: layer.map(str::to_owned),
            feature: None,
            message: message.into(),
        });
    }

    pub(crate) fn error(&mut self, layer: Option<&str>, message: impl Into<String>) {
        self.push(Level::Error, layer, message);
    }

    pub(crate) fn warning(&mut self, layer: Option<&str>, message: impl Into<String>) {
        self.push(Level::Warning, layer, message);
    }

    /// A per-feature finding of some `kind`: kept for the first [`PER_KIND_CAP`] of its kind in
    /// the layer, only counted afterwards (see [`Findings::summarize`]).
    pub(crate) fn feature(
        &mut self,
        level: Level,
        layer: &str,
        fid: i64,
        kind: &'static str,
        message: String,
    ) {
        let count = self.counts.entry((layer.to_owned(), kind)).or_insert(0);
        *count += 1;
        if *count <= PER_KIND_CAP {
            self.list.push(Finding {
                level,
                layer: Some(layer.to_owned()),
                feature: Some(fid),
                message,
            });
        }
    }

    /// How many per-feature findings of `kind` a layer had.
    pub(crate) fn count(&self, layer: &str, kind: &'static str) -> u64 {
        self.counts
            .get(&(layer.to_owned(), kind))
            .copied()
            .unwrap_or(0)
    }

    /// Adds "… and N more" findings for the kinds that went over the cap in `layer`.
    pub(crate) fn summarize(&mut self, layer: &str, level_of: impl Fn(&'static str) -> Level) {
        let mut over: Vec<(&'static str, u64)> = self
            .counts
            .iter()
            .filter(|((l, _), n)| l == layer && **n > PER_KIND_CAP)
            .map(|((_, kind), n)| (*kind, *n))
            .collect();
        over.sort_unstable();
        for (kind, n) in over {
            self.push(
                level_of(kind),
                Some(layer),
                format!("{n} features in all: {kind} (only the first {PER_KIND_CAP} are listed)"),
            );
        }
    }
}
