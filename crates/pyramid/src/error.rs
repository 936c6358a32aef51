//! The one error type of this crate.

use std::fmt;
use std::path::{Path, PathBuf};

/// Errors of the `pyramid` crate.
///
/// Every variant carries the context needed to act on it (file, tile matrix set, tile matrix,
/// JSON field, line and column) and keeps its cause as [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PyramidError {
    /// A pyramid format name that is not supported.
    #[error(
        "unsupported pyramid format '{format}': use TIFF_JPG_UINT8, TIFF_JPG90_UINT8, TIFF_PNG_UINT8, \
         TIFF_ZIP_UINT8, TIFF_RAW_UINT8, TIFF_ZIP_FLOAT32 or TIFF_RAW_FLOAT32"
    )]
    UnsupportedFormat {
        /// The name as given.
        format: String,
    },
    /// A pyramid descriptor (`pyramid.json`) that cannot be used.
    #[error("pyramid descriptor {}: {reason}", path.display())]
    Descriptor {
        /// The descriptor.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A slab file that is not a valid ROK4 slab (truncated index, tile beyond the end…).
    #[error("slab {}: {reason}", path.display())]
    Slab {
        /// The slab file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A storage location that is not a path or a URL of a supported storage.
    #[error("storage location '{text}': {reason}")]
    Location {
        /// The location as given.
        text: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// An object storage request that failed (missing object, access denied, timeout…).
    #[error("object {url}: {reason}")]
    Object {
        /// `s3://bucket/key` of the object.
        url: String,
        /// What went wrong, with the storage's own words.
        reason: String,
    },
    /// The error another request met while loading what this one waited for.
    #[error(transparent)]
    Shared(std::sync::Arc<PyramidError>),
    /// An input raster that cannot be used (not a TIFF, no georeferencing, unknown CRS…).
    #[error("input {}: {reason}", path.display())]
    Source {
        /// The input file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A pyramid build that cannot go on (bad parameters, another build in the folder…).
    #[error("pyramid build: {reason}")]
    Build {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A tile could not be encoded or decoded.
    #[error("tile {level}/{col}/{row}: {reason}")]
    Tile {
        /// Tile matrix id.
        level: String,
        /// Column.
        col: u32,
        /// Row.
        row: u32,
        /// What went wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not JSON, or not shaped like a tile matrix set (missing field, wrong type,
    /// zero where a positive integer is required…).
    #[error("{}invalid tile matrix set JSON at line {line}, column {column}", InFile(path.as_deref()))]
    Json {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's error, which names the field and what was expected.
        #[source]
        source: serde_json::Error,
    },
    /// The tile matrix set's `crs` is not one the `crs` crate knows.
    #[error("{}tile matrix set '{tms}': unsupported CRS '{crs}'", InFile(path.as_deref()))]
    Crs {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The tile matrix set id.
        tms: String,
        /// The CRS as written.
        crs: String,
        /// Why the `crs` crate refused it.
        #[source]
        source: Box<crs::CrsError>,
    },
    /// The tile matrix set as a whole is invalid (no tile matrix, duplicate tile matrix ids…).
    #[error("{}tile matrix set '{tms}': field '{field}': {reason}", InFile(path.as_deref()))]
    InvalidTileMatrixSet {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The tile matrix set id.
        tms: String,
        /// The JSON field at fault.
        field: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// One tile matrix is invalid (non-positive cell size, non-finite origin…).
    #[error(
        "{}tile matrix set '{tms}', tile matrix '{matrix}': field '{field}': {reason}",
        InFile(path.as_deref())
    )]
    InvalidTileMatrix {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The tile matrix set id.
        tms: String,
        /// The tile matrix id.
        matrix: String,
        /// The JSON field at fault.
        field: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// The tile matrix set uses a feature of OGC 2D-TMS 2.0 that this crate does not support.
    #[error(
        "{}tile matrix set '{tms}', tile matrix '{matrix}': '{field}' is not supported",
        InFile(path.as_deref())
    )]
    Unsupported {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// The tile matrix set id.
        tms: String,
        /// The tile matrix id.
        matrix: String,
        /// The unsupported JSON field.
        field: &'static str,
    },
    /// Two files of a directory define the same tile matrix set id.
    #[error("tile matrix set '{id}' is defined twice: {} and {}", first.display(), second.display())]
    DuplicateTileMatrixSet {
        /// The duplicated id.
        id: String,
        /// The file read first.
        first: PathBuf,
        /// The file read second.
        second: PathBuf,
    },
    /// A tile coordinate outside its tile matrix (OGC exception code `TileOutOfRange`).
    #[error(
        "tile (col {col}, row {row}) is outside tile matrix '{matrix}' \
         (columns 0..={max_col}, rows 0..={max_row})"
    )]
    TileOutOfRange {
        /// The tile matrix id.
        matrix: String,
        /// The requested column.
        col: i64,
        /// The requested row.
        row: i64,
        /// The last valid column (`matrixWidth - 1`).
        max_col: u32,
        /// The last valid row (`matrixHeight - 1`).
        max_row: u32,
    },
    /// A tile matrix id that the tile matrix set does not have (a request's `TileMatrix`).
    #[error("tile matrix set '{tms}' has no tile matrix '{matrix}'")]
    UnknownTileMatrix {
        /// The tile matrix set id.
        tms: String,
        /// The requested tile matrix id.
        matrix: String,
    },
    /// A tile range whose bounds are reversed (`min > max`).
    #[error(
        "tile range of tile matrix '{matrix}' is empty: columns {min_col}..={max_col}, rows {min_row}..={max_row}"
    )]
    EmptyTileRange {
        /// The tile matrix id.
        matrix: String,
        /// First column.
        min_col: u32,
        /// Last column.
        max_col: u32,
        /// First row.
        min_row: u32,
        /// Last row.
        max_row: u32,
    },
}

impl PyramidError {
    /// Wraps a serde_json error with its position.
    pub(crate) fn json(source: serde_json::Error) -> Self {
        PyramidError::Json {
            path: None,
            line: source.line(),
            column: source.column(),
            source,
        }
    }

    /// Whether the object storage failed (unreachable, timed out, refused the request): the
    /// data may well be fine, the request worth retrying.
    pub fn is_storage_failure(&self) -> bool {
        match self {
            PyramidError::Object { .. } => true,
            PyramidError::Shared(inner) => inner.is_storage_failure(),
            _ => false,
        }
    }

    /// Records the file a parse error came from (no effect on other variants).
    #[must_use]
    pub(crate) fn in_file(mut self, file: &Path) -> Self {
        match &mut self {
            PyramidError::Json { path, .. }
            | PyramidError::Crs { path, .. }
            | PyramidError::InvalidTileMatrixSet { path, .. }
            | PyramidError::InvalidTileMatrix { path, .. }
            | PyramidError::Unsupported { path, .. } => *path = Some(file.to_path_buf()),
            _ => {}
        }
        self
    }
}

/// Displays `"<path>: "` or nothing.
struct InFile<'a>(Option<&'a Path>);

impl fmt::Display for InFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "{}: ", path.display()),
            None => Ok(()),
        }
    }
}
