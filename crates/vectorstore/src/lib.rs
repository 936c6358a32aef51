//! Vector data for Tuilerie: GeoPackage checks, integration, and an indexed feature store.
//!
//! A producer uploads a GeoPackage (or a zip holding some); the Géoplateforme then runs four
//! steps — load, standard checks, vector checks, integration into its database — which "can
//! take a few minutes". Here they are one pass over the features ([`ingest`]) that either
//! refuses the upload with [`Finding`]s naming the layer, the feature and the reason, or
//! stores it as `{data}/stored/{id}/data.gpkg` (normalised names, 2D geometries, an R-tree per
//! layer) with `metadata.json` beside it (extent in the native CRS and in WGS 84, feature
//! count, attributes with types and small domains). Nothing half-written ever appears there.
//!
//! The renderer then asks a [`Store`] for the features in a bounding box, in its map's CRS,
//! thousands of times per second; GetFeatureInfo asks for the features near a point.
//!
//! ```no_run
//! use std::path::Path;
//! use vectorstore::{ingest, IngestOptions, Store, StoreOptions};
//!
//! let options = IngestOptions { declared_srs: Some(crs::Crs::from_epsg(2154)?), ..IngestOptions::default() };
//! let report = ingest(Path::new("communes.zip"), Path::new("data"), "communes", &options, &mut |_, _| {})?;
//! for finding in &report.findings {
//!     eprintln!("{finding}");
//! }
//! if let Some(dir) = &report.stored {
//!     let store = Store::open(dir, StoreOptions::default())?;
//!     let bbox = crs::Bbox::new(640_000.0, 6_850_000.0, 660_000.0, 6_870_000.0)?;
//!     for feature in store.features("communes", &bbox, &crs::Crs::from_epsg(2154)?, 50_000.0, &["nom"])? {
//!         println!("{} {:?}", feature.fid, feature.property("nom"));
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod archive;
mod delimited;
mod fsutil;
mod geom;
mod gpkg;
mod ingest;
mod names;
#[cfg(feature = "gdal")]
mod ogr;
mod report;
mod scan;
mod shp;
mod srs;
mod store;
mod table_copy;
mod tiles;
mod value;
mod writer;

use std::path::PathBuf;

pub use crate::archive::ZipLimits;
pub use crate::geom::{decode, encode, parse_header, BlobError, BlobHeader, Decoded, GeometryKind};
pub use crate::gpkg::{GeoPackage, RawFeature, SourceAttribute, SourceLayer};
pub use crate::ingest::{
    check, error_chain, ingest, IngestOptions, Progress, StoredMetadata, DATA_FILE,
    DISTINCT_VALUES_LIMIT, METADATA_FILE,
};
pub use crate::names::normalize_name;
pub use crate::report::{AttributeMetadata, Finding, LayerMetadata, Level, Report};
pub use crate::scan::{Record, Scan};
pub use crate::srs::SrsDetection;
pub use crate::store::{Feature, Features, IndexKind, NearFeature, Store, StoreOptions};
pub use crate::value::{AttributeType, Value};

/// Errors of this crate. Problems of an uploaded file are not errors but [`Finding`]s in a
/// [`Report`]; these are failures to read, write or query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// A file system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed on a file.
    #[error("{}: SQLite error", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not an SQLite database.
    #[error("{} is not an SQLite database (so not a GeoPackage)", path.display())]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// A JSON metadata file could not be written or read.
    #[error("{}: invalid metadata JSON", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A stored data id that is not a safe directory name.
    #[error("invalid stored data id '{0}': use 1 to 128 letters, digits, '_', '-' or '.', not starting with '.'")]
    InvalidId(String),
    /// No such layer in the store.
    #[error("no layer '{name}' in this stored data; layers: {known}")]
    UnknownLayer {
        /// The name asked for.
        name: String,
        /// The stored layer names.
        known: String,
    },
    /// No such attribute in the layer.
    #[error("layer '{layer}' has no attribute '{name}'; attributes: {known}")]
    UnknownAttribute {
        /// The layer.
        layer: String,
        /// The name asked for.
        name: String,
        /// The layer's attribute names.
        known: String,
    },
    /// A CRS could not be used (unknown, or a transform failed).
    #[error("{context}: CRS error")]
    Crs {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: crs::CrsError,
    },
}
