//! The published layers: an immutable snapshot the request path reads without locks.
//!
//! Built from the `[[layers]]` tables and from the publication API's publications (both give
//! the same [`Layer`]); a change builds a new snapshot and swaps it whole, so a request always
//! sees one consistent set. Opening happens at build time — a pyramid whose descriptor is
//! broken is refused before it is served, not at the first request.
//!
//! `layer` holds the layer types, `snapshot` the per-service sets and views, `factory` the
//! building, `styles` the SLD files, `vector_tile` a vector layer's Mapbox Vector Tiles,
//! [`bake`] the rendering of a vector layer into a pyramid (images or vector tiles).
//! This file only declares and re-exports.

pub mod bake;
mod factory;
mod layer;
mod snapshot;
mod styles;
mod vector_tile;

pub use factory::LayerFactory;
pub use layer::{
    Access, Layer, LayerError, LayerSource, LayerStyle, Layers, PyramidLayer, StyledFeatures,
    VectorLayer, VectorRelation,
};
pub use snapshot::{may_see, Service, Snapshot};
pub use vector_tile::MvtSettings;
