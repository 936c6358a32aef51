//! The services, one module each, every one handing its routes to the router with `routes()`:
//! WMS, WMTS, TMS (+ TileJSON), WFS (`features`), the OGC API (`ogc_api`: its common part, Tiles
//! and Maps; Features lives in `features`), the preview page and the publication API. `ogc` (KVP parsing,
//! OWS exceptions, XML helpers), `tiles` (tile answers and HTTP caching), `info_format` and
//! `pixel_info` (GetFeatureInfo formats, pixel values as answers), `render_pool` (the threads
//! CPU-bound work runs on), `vector_tiles` (MVT made on the fly), `tile_cache` (vector layers
//! rendered into cached image tiles) and `on_demand` (both, as WMTS and TMS offer them) are
//! what several of them share.

pub mod api;
pub mod features;
pub mod info_format;
pub mod ogc;
pub mod ogc_api;
pub mod on_demand;
pub mod pixel_info;
pub mod preview;
pub mod render_pool;
pub mod tile_cache;
pub mod tiles;
pub mod tms;
pub mod vector_tiles;
pub mod wms;
pub mod wmts;
