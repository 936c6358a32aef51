//! The HTTP application: routes, the middleware every request goes through, and the one place
//! where errors become HTTP answers.
//!
//! Middleware, outermost first: request id + structured log + metrics (so every answer is
//! counted, refusals included), URL length limit (414), request timeout (408), body size
//! limit (413); CORS wraps each group of routes (the map services; the API with its own
//! origins), so that preflights are answered on served paths only. Header size (431) is
//! enforced by hyper itself, in [`crate::listener`].
//!
//! Each service lives in its own module under `services/` and hands its routes over with
//! `routes()`; the access gate wraps the OGC services' routes with the service it guards, and
//! every service's routes carry their metrics label (see [`crate::metrics::label`]).

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

use crate::error::JsonError;
use crate::metrics::{self, RequestLabels, Route};
use crate::services::on_demand::OnDemandTiles;
use crate::services::render_pool::RenderPool;
use crate::services::tile_cache::{SeedJobs, TileCache};
use crate::services::vector_tiles::VectorTiler;
use crate::services::{api, features, ogc_api, preview, tms, wms, wmts};
use crate::state::AppState;

/// The router with every route and middleware; fails when a service cannot start (the WMS
/// render threads).
pub fn router(state: AppState) -> Result<Router, wms::StartError> {
    let server = &state.config.server;
    let cors = cors_layer(&server.cors_allow_origin);
    let body_limit = usize::try_from(server.max_body_bytes).unwrap_or(usize::MAX);
    let health = Router::new()
        .route("/health", get(health))
        .route_layer(metrics::label("health"));
    let metrics = Router::new()
        .route("/metrics", get(metrics_text))
        .route_layer(metrics::label("metrics"));
    // CORS per group of routes (after each group's 405 fallback, so that it wraps it): a
    // preflight is answered on served paths only, and the publication API gets its own
    // origins (none by default).
    // One render pool for everything CPU-bound: WMS maps and vector tiles.
    let pool = Arc::new(
        RenderPool::new(
            state.config.wms.render_threads,
            state.config.wms.render_queue,
            state.metrics.render.clone(),
        )
        .map_err(wms::StartError::Threads)?,
    );
    let tiler = Arc::new(VectorTiler::new(
        &state.config.vector_tiles,
        Arc::clone(&pool),
        state.metrics.cache("vector_tiles"),
    ));
    let images = TileCache::new(
        &state.config,
        Arc::clone(&state.layers),
        Arc::clone(&pool),
        state.metrics.tile_cache.clone(),
    )
    .map_err(wms::StartError::Renderer)?;
    let images = Arc::new(images);
    let on_demand = Arc::new(OnDemandTiles {
        vector: tiler,
        images: Arc::clone(&images),
    });
    let maps = wms::Maps::new(&state, Arc::clone(&pool))?;
    let services = Router::new()
        .merge(preview::routes())
        .merge(health)
        .merge(metrics)
        .merge(wms::routes(&state, &maps))
        .merge(wmts::routes(&state, Arc::clone(&on_demand)))
        .merge(tms::routes(&state, Arc::clone(&on_demand)))
        .merge(features::routes(&state))
        .merge(ogc_api::routes(
            &state,
            on_demand,
            maps,
            tile_matrix_sets(&state),
        ))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors);
    let mut api = api::routes(&state)
        .layer(axum::Extension(images))
        .layer(axum::Extension(Arc::new(SeedJobs::default())))
        .method_not_allowed_fallback(method_not_allowed);
    if !state.config.api.cors_allow_origin.trim().is_empty() {
        api = api.layer(cors_layer(&state.config.api.cors_allow_origin));
    }
    Ok(Router::new()
        .merge(services)
        .merge(api)
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state))
}

/// The known tile matrix sets: built in, and `[tiles] tile_matrix_sets_dir` (a directory that
/// does not load was refused at start-up by the layers naming its sets).
fn tile_matrix_sets(state: &AppState) -> pyramid::TileMatrixSets {
    let mut sets = pyramid::TileMatrixSets::builtin();
    if let Some(dir) = &state.config.tiles.tile_matrix_sets_dir {
        let _ = sets.extend_from_dir(dir);
    }
    sets
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
        // Content-Crs and Content-Bbox: what an OGC API map covers, for scripts that place it.
        .expose_headers([
            header::ETAG,
            header::CONTENT_LENGTH,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("content-crs"),
            header::HeaderName::from_static("content-bbox"),
        ])
        .max_age(Duration::from_hours(24))
}

/// Request id, structured log line and metrics for every request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = state.next_request_id();
    // The request's own line (below) names it; the span that gives the same names to every
    // line logged while answering is a debug one: formatting its fields for every request
    // cost more than the line itself.
    let method = request.method().clone();
    let path = truncated(request.uri().path(), 256).to_owned();
    let span = tracing::debug_span!("request", id);
    let in_flight = state.metrics.start();
    let mut response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);
    let elapsed = started.elapsed();
    let status = response.status();
    // Stamped by the routes' label layer; a request no route matched is "other".
    let Route { service, operation } = response
        .extensions()
        .get::<Route>()
        .copied()
        .unwrap_or(Route::UNMATCHED);
    let headers = response.headers_mut();
    headers.insert("x-request-id", HeaderValue::from(id));
    // No answer of this server is to be sniffed into another type (an SLD or a GML answered
    // as XML must not run as HTML).
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
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
        // Display, not Debug: a path hyper accepted has no space, quote or control character
        // to escape, and the escaping writer cost more than the rest of the line.
        tracing::info!(
            id,
            %method,
            path = %path,
            status = status.as_u16(),
            // Whole microseconds: `0.039`, not `0.039335999999999996`; a number in JSON.
            duration_ms = elapsed.as_micros() as f64 / 1000.0,
            bytes,
            service = %service,
            operation = %operation,
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
            // From RequestBodyLimitLayer on a body without Content-Length (plain text): give
            // it our shape. A service's own answer (JSON, an OGC exception) stays.
            let plain = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
            if plain {
                body_too_large(0, server.max_body_bytes)
            } else {
                response
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

/// Sets the memory gauges that no cache keeps up to date itself: the vector layers loaded in
/// memory and the pyramids' slab indexes, each stored data or pyramid counted once however
/// many layers and services share it.
fn set_memory_gauges(state: &AppState) {
    use crate::layers::{LayerSource, Service};
    let snapshot = state.layers.load();
    let mut stores = std::collections::HashSet::new();
    let mut pyramids = std::collections::HashSet::new();
    let (mut loaded, mut indexes) = (0u64, 0usize);
    for service in [Service::Wms, Service::Tiles] {
        for layer in snapshot.all(service).iter() {
            match &layer.source {
                LayerSource::Vector(vector) => {
                    for relation in &vector.relations {
                        if stores.insert(std::sync::Arc::as_ptr(&relation.store)) {
                            loaded += relation.store.memory_bytes();
                        }
                    }
                }
                LayerSource::Pyramid(layer) => {
                    if pyramids.insert(std::ptr::from_ref(&layer.pyramid)) {
                        indexes += layer.pyramid.index_cache_bytes();
                    }
                }
            }
        }
    }
    let gauge = |part, bytes: u64| {
        state
            .metrics
            .memory(part)
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    };
    gauge("vector_layers", loaded);
    gauge("slab_indexes", indexes as u64);
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    set_memory_gauges(&state);
    if let Some(catalog) = &state.catalog {
        let catalog = std::sync::Arc::clone(catalog);
        let counts = tokio::task::spawn_blocking(move || catalog.job_counts()).await;
        match counts {
            Ok(Ok(counts)) => state.metrics.set_jobs(counts),
            Ok(Err(error)) => {
                let error = crate::error::error_chain(&error);
                tracing::warn!(%error, "cannot count the jobs for /metrics");
            }
            Err(error) => tracing::warn!(%error, "cannot count the jobs for /metrics"),
        }
    }
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
