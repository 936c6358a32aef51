//! The OGC API under `/ogcapi`: the common part (landing page, conformance, OpenAPI
//! document, collections), Features (in `services::features`, beside WFS), Tiles and Maps.
//!
//! Each part is served by the code of its older sibling — Features by WFS's scans, Tiles by
//! WMTS's tile answers, Maps by WMS's renderer — so the two APIs never disagree. Each part's
//! routes are behind the access gate of that sibling; the common routes, which describe every
//! layer, behind the gate of every service. Errors are RFC 7807 problem details.
//!
//! Modules: `problem` (errors, JSON/HTML, links), `openapi` (pieces of the API document),
//! `common`, `tile_matrix_sets`, `tilesets` (what tiles a layer has), `tiles`, `maps`,
//! `dataset_tiles` (several collections drawn as tiles).

mod common;
mod dataset_tiles;
mod maps;
pub mod openapi;
mod problem;
mod tile_matrix_sets;
mod tiles;
mod tilesets;

pub use common::routes;
pub use problem::{base, link, wants_html, Problem};
