//! Tuilerie's server library (`tuilerie-server`): the configuration, the published layers,
//! the HTTP application (state, router, middleware, one module per service) and its listener.
//! The `tuilerie` binary (crate `crates/cli`) parses arguments and calls this API; nothing
//! here knows of the command line.
//!
//! Layout, from the bottom up: [`config`](Config) (types and the key-by-key checker),
//! `layers` (the published-layers snapshot, the factory that builds it, styles, the vector
//! layer bake), `state` (what handlers reach), `access` (the API-key gate and the per-request
//! view), `services/*` (wms, wmts, tms, preview, api, and the OGC and tile helpers they
//! share), `app` (router and middleware), `listener` (accept loop, graceful shutdown),
//! `publish` (the catalog wired to the live snapshot).
#![forbid(unsafe_code)]

mod access;
mod app;
mod config;
mod connection;
mod error;
mod layers;
mod listener;
mod metrics;
mod publish;
mod rate_limit;
mod services;
mod state;

pub use access::View;
pub use app::router;
pub use config::{
    is_valid_layer_name, Config, ConfigError, LogFormat, ObjectStorageConfig, Overrides, Problem,
    Problems, TileCacheConfig,
};
pub use error::{error_chain, JsonError};
pub use layers::bake::{bake, BakeError, BakeOptions, BakeReport, MAX_BUFFER};
pub use layers::{LayerError, Layers};
pub use listener::{ServeError, Server};
pub use publish::{open as open_published, open_catalog, PublishError};
pub use services::tile_cache::{seed, CacheFormat, SeedError, SeedOptions, SeedReport};
pub use services::wms::StartError;
pub use state::{AppState, Published};
