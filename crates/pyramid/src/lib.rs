//! Tile matrix sets and tile math for Tuilerie's pyramids.
//!
//! A pyramid is a stack of images cut into tiles on a *tile matrix set* (TMS): for each level
//! (a *tile matrix*), a resolution, a point of origin and a grid of fixed-size tiles. WMTS, TMS
//! and ROK4 pyramids all address tiles as (matrix, column, row), and WMS GetMap needs the
//! reverse: which level, and which tiles, cover a bbox at a resolution. This module answers
//! those questions once, with the boundary rules written down, so that the services, the
//! pyramid reader and the generator agree to the pixel.
//!
//! - [`TileMatrixSet`] reads ROK4's TMS JSON and OGC 2D-TMS 2.0 JSON
//!   ([`TileMatrixSet::from_json`], [`TileMatrixSet::load`]); [`TileMatrixSets`] loads a
//!   directory such as `config/tilematrixsets/` and resolves `PM` ↔ `WebMercatorQuad`.
//! - [`TileMatrix`] does the tile math: [`TileMatrix::tile_bbox`],
//!   [`TileMatrix::point_to_tile`], [`TileMatrix::tile_range`], TMS row flipping.
//! - [`TileCoord`] and [`TileRange`] can only be built inside their matrix: code that holds one
//!   never has to re-check bounds, and a tile outside the matrix is a
//!   [`PyramidError::TileOutOfRange`] at the edge of the system, where the request is parsed.
//! - Scales use the OGC 0.28 mm standard pixel ([`scale_denominator_from_resolution`]).
//!
//! Coordinates are always `(x, y)` = (east, north); the CRS's axis order only matters when
//! reading `pointOfOrigin` (done here, through `orderedAxes`) and writing OGC documents.
//! This part does no I/O except in the `load` functions.
//!
//! ```
//! use pyramid::{Bbox, TileMatrixSet};
//!
//! let tms = TileMatrixSet::from_json(r#"{
//!     "id": "Tiny", "crs": "EPSG:3857", "orderedAxes": ["X", "Y"],
//!     "tileMatrices": [{
//!         "id": "0", "scaleDenominator": 357142.857142857, "cellSize": 100.0,
//!         "pointOfOrigin": [0.0, 1000.0], "tileWidth": 2, "tileHeight": 2,
//!         "matrixWidth": 4, "matrixHeight": 3
//!     }]
//! }"#)?;
//! let level = tms.matrix("0").expect("level 0");
//!
//! // Tiles are 200 units wide; rows count down from y = 1000.
//! let tile = level.tile(1, 2)?;
//! assert_eq!(level.tile_bbox(tile), Bbox::new(200.0, 400.0, 400.0, 600.0).expect("bbox"));
//! assert!(level.tile(4, 0).is_err()); // only columns 0..=3
//!
//! // The point (250, 590) is in that tile, pixel column 0, pixel row 0 (from the top).
//! let hit = level.point_to_tile(250.0, 590.0).expect("inside");
//! assert_eq!((hit.tile, hit.i, hit.j), (tile, 0, 0));
//!
//! // A bbox edge on a tile boundary (x = 400) does not bring in the next column.
//! let range = level.tile_range(&Bbox::new(250.0, 450.0, 400.0, 650.0).expect("bbox")).expect("tiles");
//! assert_eq!((range.min_col(), range.max_col(), range.min_row(), range.max_row()), (1, 1, 1, 2));
//! assert_eq!(range.iter().count(), 2);
//!
//! // TMS 1.0.0 counts rows from the bottom.
//! assert_eq!(level.tms_row(2), Some(0));
//! # Ok::<(), pyramid::PyramidError>(())
//! ```
#![forbid(unsafe_code)]

mod build;
mod error;
mod format;
mod grid;
mod matrix;
mod object;
mod registry;
mod set;
mod slab;
mod source;
mod store;
mod tile;
mod warp;
mod writer;

pub use build::{build, build_at, BuildOptions, BuildReport, Interpolation};
pub use crs::Bbox;
pub use error::PyramidError;
pub use format::{SampleType, TileFormat};
pub use matrix::{
    resolution_from_scale_denominator, scale_denominator_from_resolution, CornerOfOrigin,
    TileCoord, TileMatrix, TilePixel, TileRange, TileRangeIter, STANDARD_PIXEL_SIZE_M,
};
pub use object::{
    Location, ObjectCounters, ObjectSettings, ObjectStorage, ObjectUrl, RangeRead, S3Cluster,
};
pub use registry::TileMatrixSets;
pub use set::{TileMatrixSet, TmsFormat};
pub use slab::{parse_slab_path, slab_path, write_slab};
pub use source::{GeoTiff, GeoTransform, Window};
pub use store::{
    layout, parse_nodata, write_descriptor, CacheLimits, Descriptor, Level, LevelDescriptor,
    Pyramid, RasterSpecifications, StorageDescriptor, StoredTile, TileLimits, VectorAttribute,
    VectorTable,
};
pub use tile::{
    decode as decode_tile, encode as encode_tile, encode_float_tiff, Samples, TileImage,
};
pub use warp::{PointValue, Raster, WarpRequest};
pub use writer::{PyramidSpec, PyramidWriter, PYRAMID_NAME};
