//! WMS 1.3.0 and 1.1.1: GetCapabilities, GetMap, GetFeatureInfo and GetLegendGraphic.
//!
//! One entry point parses the KVP request, negotiates the version and dispatches; every
//! client mistake becomes a `ServiceExceptionReport` in the version's own dialect (1.3.0:
//! `text/xml`, `InvalidCRS`; 1.1.1: `application/vnd.ogc.se_xml`, `InvalidSRS`) with a 4xx
//! status, a `locator` naming the parameter, and a message that says what to send instead.
//! GetMap honours `EXCEPTIONS=INIMAGE|BLANK` by answering an image.
//!
//! Rendering and pyramid reads never run on the event loops: they go to the render pool
//! (`crate::services::render_pool`, shared with vector tiles), whose bounded queue answers 503 + `Retry-After` instead of piling up latency,
//! and encoded maps are kept in a byte-bounded LRU ([`cache`]) keyed by the normalised request
//! and the layer snapshot's sequence, so a publication change never serves a stale map.

//!
//! Modules: `protocol` (versions, exception codes and reports), `runtime` (the routes' state:
//! renderer, pool, caches), `params` (GetMap parameters), one module per operation
//! (`capabilities`, `map`, `info`, `legend`), and `image` (encoding, message images).

pub(crate) mod cache;
mod capabilities;
mod geotiff;
mod image;
mod info;
mod legend;
mod map;
mod params;
mod protocol;
mod runtime;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::access::{self, View};
use crate::layers::{Layers, Service};
use crate::metrics;
use crate::services::ogc::Kvp;
use crate::services::render_pool::RenderPool;
use crate::state::AppState;

pub(crate) use map::draw_image;
pub(crate) use params::{MapFormat, MapParams, STANDARD_DPI};
pub(crate) use protocol::WmsError;
use protocol::{Code, Version};
pub use runtime::StartError;
use runtime::{Call, WmsRuntime, WmsState};

/// WMS's renderer, render pool and map cache, shared with the services that draw maps the
/// same way (OGC API – Maps).
#[derive(Debug, Clone)]
pub struct Maps(WmsState);

impl Maps {
    /// The map service of a state, drawing on `pool`; fails when the renderer cannot start.
    pub fn new(state: &AppState, pool: Arc<RenderPool>) -> Result<Maps, StartError> {
        Ok(Maps(WmsState {
            app: state.clone(),
            wms: Arc::new(WmsRuntime::new(
                &state.config.wms,
                pool,
                state.metrics.cache("wms"),
            )?),
        }))
    }

    /// A WMS 1.3.0 GetMap of `kvp` (LAYERS, STYLES, CRS, BBOX, WIDTH, HEIGHT, FORMAT,
    /// TRANSPARENT, BGCOLOR…) over the layers a caller may see; its errors as WMS raises them.
    pub async fn get_map(&self, layers: &Arc<Layers>, kvp: &Kvp) -> Result<Response, WmsError> {
        let call = Call {
            state: &self.0,
            layers,
            kvp,
            version: Version::V130,
        };
        map::answer(call).await
    }
}

/// The routes of WMS, behind the access gate, drawing with `maps`.
pub fn routes(state: &AppState, maps: &Maps) -> Router<AppState> {
    Router::new()
        .route("/wms", get(kvp))
        .route_layer(access::gate(state, Service::Wms))
        .route_layer(metrics::label("wms"))
        .with_state(maps.0.clone())
}

/// `GET /wms?SERVICE=WMS&REQUEST=…`
async fn kvp(
    State(state): State<WmsState>,
    View(layers): View,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let kvp = Kvp::parse(query.as_deref());
    let version = Version::negotiate(kvp.non_empty("VERSION").or(kvp.non_empty("WMTVER")));
    let call = Call {
        state: &state,
        layers: &layers,
        kvp: &kvp,
        version,
    };
    match dispatch(call, &headers).await {
        Ok(response) => response,
        Err(error) => error.into_report(version),
    }
}

async fn dispatch(call: Call<'_>, headers: &HeaderMap) -> Result<Response, WmsError> {
    let kvp = call.kvp;
    if let Some(service) = kvp.non_empty("SERVICE") {
        if !service.eq_ignore_ascii_case("WMS") {
            return Err(WmsError::invalid(
                "SERVICE",
                format!("SERVICE={service} is not served at /wms: use SERVICE=WMS (WMTS is at /wmts, TMS at /tms/1.0.0)"),
            ));
        }
    }
    let request = kvp.non_empty("REQUEST").ok_or_else(|| {
        WmsError::missing(
            "REQUEST",
            "use REQUEST=GetCapabilities, GetMap, GetFeatureInfo or GetLegendGraphic",
        )
    })?;
    let request = request.to_ascii_lowercase();
    match request.as_str() {
        "getcapabilities" | "capabilities" => {
            if kvp.non_empty("SERVICE").is_none() && request == "getcapabilities" {
                return Err(WmsError::missing("SERVICE", "add SERVICE=WMS"));
            }
            capabilities::answer(call, headers)
        }
        "getmap" | "map" => map::answer(call).await,
        "getfeatureinfo" | "feature_info" => info::answer(call).await,
        "getlegendgraphic" => legend::answer(call).await,
        other => Err(WmsError::new(
            Code::OperationNotSupported,
            "REQUEST",
            format!(
                "REQUEST={other} is not a WMS operation of this server: use GetCapabilities, GetMap, GetFeatureInfo or GetLegendGraphic"
            ),
        )),
    }
}
