//! What every handler can reach: the configuration, the published layers, the catalog, the
//! metrics. Services import this module; it imports none of them — a service that keeps
//! state of its own (WMS: renderer, render pool, caches) holds it in its own router state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::layers::Snapshot;
use crate::metrics::Metrics;

/// The shared state of the application: one `Arc`, so that cloning it per request (axum does,
/// for each middleware) is one atomic increment.
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

/// The shared state behind [`AppState`].
#[derive(Debug)]
pub struct SharedState {
    /// The running configuration.
    pub config: Config,
    /// The published layers: a snapshot swapped whole when publications change (shared with
    /// the catalog's publisher, which swaps it).
    pub layers: Arc<ArcSwap<Snapshot>>,
    /// The publication catalog (None: the publication API is off, as for a server that only
    /// serves `[[layers]]` files).
    pub catalog: Option<Arc<catalog::Catalog>>,
    /// The publication API's bearer token.
    pub api_token: Option<String>,
    /// The metrics registry.
    pub metrics: Metrics,
    /// When the server started.
    pub started: Instant,
    /// Request rates per client and layer.
    pub rate_limiter: crate::rate_limit::RateLimiter,
    request_ids: AtomicU64,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State for a configuration and what is published.
    pub fn new(config: Config, published: Published) -> AppState {
        AppState(Arc::new(SharedState {
            config,
            layers: published.layers,
            catalog: published.catalog,
            api_token: published.api_token,
            metrics: Metrics::new(),
            started: Instant::now(),
            rate_limiter: crate::rate_limit::RateLimiter::default(),
            request_ids: AtomicU64::new(1),
        }))
    }

    /// A new request id (grows by one per request).
    pub fn next_request_id(&self) -> u64 {
        self.request_ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// What is published and how to change it: the live snapshot, the catalog and the API token.
#[derive(Debug, Clone)]
pub struct Published {
    /// The live snapshot.
    pub layers: Arc<ArcSwap<Snapshot>>,
    /// The catalog.
    pub catalog: Option<Arc<catalog::Catalog>>,
    /// The API token.
    pub api_token: Option<String>,
}

impl Published {
    /// A fixed snapshot, without catalog.
    pub fn fixed(snapshot: Snapshot) -> Published {
        Published {
            layers: Arc::new(ArcSwap::from_pointee(snapshot)),
            catalog: None,
            api_token: None,
        }
    }
}
