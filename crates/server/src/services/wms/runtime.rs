//! The state of WMS's routes: the application's state and what WMS keeps between requests —
//! the renderer, the render pool and the caches.

use std::sync::Arc;

use super::cache::{CapabilitiesCache, ImageCache};
use super::protocol::Version;
use crate::error::error_chain;
use crate::layers::Layers;
use crate::services::ogc::Kvp;
use crate::services::render_pool::RenderPool;
use crate::state::AppState;

/// One WMS request as the operations read it: the state, the layers its caller may see, its
/// parameters and the negotiated version.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The routes' state.
    pub state: &'a WmsState,
    /// The caller's view.
    pub layers: &'a Arc<Layers>,
    /// The KVP parameters.
    pub kvp: &'a Kvp,
    /// The negotiated version.
    pub version: Version,
}

impl<'a> Call<'a> {
    /// State, view, parameters and version, for the operations to name at once.
    pub fn parts(self) -> (&'a WmsState, &'a Arc<Layers>, &'a Kvp, Version) {
        (self.state, self.layers, self.kvp, self.version)
    }
}

/// Why WMS cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The renderer (fonts) could not be set up.
    #[error("cannot set up the renderer: {}", error_chain(.0))]
    Renderer(render::RenderError),
    /// The render threads could not start.
    #[error("cannot start the render threads: {0}")]
    Threads(rayon::ThreadPoolBuildError),
}

/// The state of WMS's routes: the application's, and what WMS keeps between requests.
#[derive(Debug, Clone)]
pub struct WmsState {
    pub(super) app: AppState,
    /// The renderer, render pool and caches.
    pub wms: Arc<WmsRuntime>,
}

impl std::ops::Deref for WmsState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

/// What WMS keeps between requests: the renderer, the render pool and the caches.
#[derive(Debug)]
pub struct WmsRuntime {
    /// Draws maps and legends.
    pub renderer: std::sync::Arc<render::Renderer>,
    /// Where CPU-bound work runs (shared with vector tiles).
    pub pool: Arc<RenderPool>,
    /// Encoded GetMap answers.
    pub cache: ImageCache,
    /// Capabilities documents.
    pub capabilities: CapabilitiesCache,
}

impl WmsRuntime {
    /// The runtime of a `[wms]` configuration; its image cache's lookups counted in
    /// `counters`.
    pub(super) fn new(
        config: &crate::config::WmsConfig,
        pool: Arc<RenderPool>,
        counters: crate::metrics::CacheCounters,
    ) -> Result<WmsRuntime, StartError> {
        let renderer = render::Renderer::new(render::RendererOptions {
            font_dir: config.font_dir.clone(),
            graphics_dir: None,
        })
        .map_err(StartError::Renderer)?;
        Ok(WmsRuntime {
            renderer: std::sync::Arc::new(renderer),
            pool,
            cache: ImageCache::counted(config.cache_bytes, counters),
            capabilities: CapabilitiesCache::default(),
        })
    }
}
