//! Mapbox Vector Tiles (MVT 2.1) for Tuilerie: the encoder the server uses for tiles made on
//! the fly and for vector pyramids, and a decoder for checks.
//!
//! Why our own geometry code over prost: the protobuf is prost's (the messages are declared
//! in [`proto`] with its derive, no `protoc`), but what makes a tile correct is the geometry
//! work around it — clipping to the buffered tile, rounding to the grid without leaving
//! repeated points or flat rings, exterior rings clockwise on screen and holes the other way,
//! one feature per geometry type — and the size budget. Writers that stop at the command
//! encoding (geozero's MVT writer) would have needed all of it wrapped around them anyway.
//!
//! ```
//! use mvt::{Tile, TileOptions, Value};
//! use geo_types::{point, Geometry};
//!
//! let mut tile = Tile::new(TileOptions::new([0.0, 0.0, 1000.0, 1000.0]));
//! tile.add_feature("places", Some(7), &Geometry::Point(point!(x: 250.0, y: 750.0)),
//!     vec![("name".to_owned(), Value::String("Lyon".to_owned()))]);
//! let encoded = tile.encode();
//! let layers = mvt::decode(&encoded.bytes)?;
//! assert_eq!(layers[0].features[0].id, Some(7));
//! # Ok::<(), mvt::MvtError>(())
//! ```
#![forbid(unsafe_code)]

mod decode;
mod geometry;
pub mod proto;
mod tile;

pub use crate::decode::{decode, DecodedFeature, DecodedLayer};
pub use crate::geometry::{ring_area, GridGeometry, GridPoint};
pub use crate::tile::{Encoded, Thinning, Tile, TileOptions, TileSettings, Value};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MvtError {
    /// Bytes that are not a valid vector tile.
    #[error("invalid vector tile: {0}")]
    Invalid(String),
}
