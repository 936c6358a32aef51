//! The HTTP application: routes, the middleware every request goes through, and the one place
//! where errors become HTTP answers.
//!
//! Middleware, outermost first: request id + structured log + metrics (so every answer is
//! counted, refusals included), CORS, URL length limit (414), request timeout (408), body size
//! limit (413). Header size (431) is enforced by hyper itself, in [`crate::serve`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper::body::Body as _;
use serde_json::json;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument as _;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::layers::Snapshot;
use crate::metrics::{self, Metrics, RequestLabels};

/// What every handler can reach: one `Arc`, so that cloning it per request (axum does, for
/// each middleware) is one atomic increment.
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
    /// The publication catalog (None: the publication API is off, as in `tuilerie serve`
    /// tests that only read files).
    pub catalog: Option<Arc<catalog::Catalog>>,
    /// The publication API's bearer token.
    pub api_token: Option<String>,
    /// The metrics registry.
    pub metrics: Metrics,
    /// When the server started.
    pub started: Instant,
    /// WMS renderer, render pool and caches.
    pub wms: crate::wms::WmsRuntime,
    request_ids: AtomicU64,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State for a configuration and its layers; fails when the render threads cannot start.
    pub fn new(config: Config, published: Published) -> Result<AppState, String> {
        let wms = crate::wms::WmsRuntime::new(&config.wms)?;
        Ok(AppState(Arc::new(SharedState {
            config,
            layers: published.layers,
            catalog: published.catalog,
            api_token: published.api_token,
            metrics: Metrics::new(),
            started: Instant::now(),
            wms,
            request_ids: AtomicU64::new(1),
        })))
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

/// A client or server error answered as JSON `{"error", "error_description"}` (the
/// publication API's error shape, also used for paths outside the OGC services).
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl JsonError {
    /// A client error (4xx): the description is shown to the client.
    pub fn client(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        JsonError {
            status,
            error,
            description: description.into(),
        }
    }

    /// An internal error: logged with its cause, answered with a generic message.
    pub fn internal(context: &str, cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, context, "internal error");
        JsonError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "internal_error",
            description: "the server failed to answer this request; the cause is in its log"
                .to_owned(),
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        (self.status, Json(body)).into_response()
    }
}

/// The router with every route and middleware.
pub fn router(state: AppState) -> Router {
    let server = &state.config.server;
    let cors = cors_layer(&server.cors_allow_origin);
    let body_limit = usize::try_from(server.max_body_bytes).unwrap_or(usize::MAX);
    let ogc = Router::new()
        .route("/wms", get(crate::wms::kvp))
        .route("/wmts", get(crate::wmts::kvp))
        .route(
            "/wmts/1.0.0/WMTSCapabilities.xml",
            get(crate::wmts::rest_capabilities),
        )
        .route(
            "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{file}",
            get(crate::wmts::rest_tile),
        )
        .route(
            "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{col}/{j}/{file}",
            get(crate::wmts::rest_feature_info),
        )
        .route("/tms/1.0.0", get(crate::tms::service))
        .route("/tms/1.0.0/", get(crate::tms::service))
        .route("/tms/1.0.0/{layer}", get(crate::tms::tile_map))
        .route(
            "/tms/1.0.0/{layer}/metadata.json",
            get(crate::tms::tilejson),
        )
        .route("/tms/1.0.0/{layer}/{z}/{x}/{file}", get(crate::tms::tile))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::gate,
        ));
    Router::new()
        .route("/", get(crate::preview::page))
        .route("/preview/{file}", get(crate::preview::asset))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .merge(ogc)
        .merge(crate::api::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .layer(cors)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

fn cors_layer(allow_origin: &str) -> CorsLayer {
    let origin = if allow_origin == "*" {
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> = allow_origin
            .split(',')
            .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
            .collect();
        AllowOrigin::list(origins)
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any)
        .expose_headers([header::ETAG, header::CONTENT_LENGTH, header::CONTENT_TYPE])
        .max_age(Duration::from_hours(24))
}

/// Request id, structured log line and metrics for every request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = state.request_ids.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path();
    let service = metrics::service_of(path);
    let operation = metrics::operation_of(service, path, request.uri().query());
    // Fields are copied only when the span is enabled: no allocation at the default level.
    let span = tracing::info_span!("request", id, method = %request.method(), path = %truncated(path, 256));
    let in_flight = state.metrics.start();
    let mut response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);
    let elapsed = started.elapsed();
    let status = response.status();
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from(id));
    let bytes = response.body().size_hint().exact();
    state.metrics.observe(
        &RequestLabels {
            service,
            operation,
            status: status.as_u16(),
        },
        elapsed,
    );
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            bytes,
            service,
            operation,
            "answered"
        );
    });
    response
}

/// URL length, body size announced by Content-Length, and the request timeout.
async fn limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let server = &state.config.server;
    let target_length = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target_length > server.max_url_length {
        return JsonError::client(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request target is {target_length} bytes long; this server accepts at most {} \
                 (server.max_url_length). Send fewer parameters or use POST where the service allows it",
                server.max_url_length
            ),
        )
        .into_response();
    }
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = announced.filter(|l| *l > server.max_body_bytes) {
        return body_too_large(length, server.max_body_bytes);
    }
    let timeout = server.request_timeout;
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) if response.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            // From RequestBodyLimitLayer on a body without Content-Length: give it our shape.
            if response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|t| t == "application/json")
            {
                response
            } else {
                body_too_large(0, server.max_body_bytes)
            }
        }
        Ok(response) => response,
        Err(_) => JsonError::client(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request was not answered within {} s (server.request_timeout_secs); \
                 ask for a smaller area or image, or retry later",
                timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// At most `max` bytes of `text` (on a character boundary), so a huge URL cannot flood logs.
fn truncated(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn body_too_large(length: u64, limit: u64) -> Response {
    let size = if length > 0 {
        format!("the request body is {length} bytes")
    } else {
        "the request body is too large".to_owned()
    };
    JsonError::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("{size}; this server accepts at most {limit} bytes (server.max_body_bytes)"),
    )
    .into_response()
}

async fn health(State(state): State<AppState>) -> Response {
    let body = json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
        "layers": state.layers.load().len(),
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    match state.metrics.encode() {
        Ok(text) => (
            [(header::CONTENT_TYPE, metrics::METRICS_CONTENT_TYPE)],
            Body::from(text),
        )
            .into_response(),
        Err(error) => JsonError::internal("encoding metrics", &error).into_response(),
    }
}

async fn not_found(request: Request) -> JsonError {
    JsonError::client(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "nothing is served at {}; services are at /wms, /wmts, /tms/1.0.0, /api, /health and /metrics",
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> JsonError {
    JsonError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not accepted on {}",
            request.method(),
            request.uri().path()
        ),
    )
}
