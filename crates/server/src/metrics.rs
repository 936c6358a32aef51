//! Prometheus metrics: request count and latency by service, operation and status.
//!
//! Labels are kept to a closed vocabulary (known services and OGC operations, "other" for the
//! rest) so that a client sending random `REQUEST=` values cannot grow the series without bound.
//! Each service's routes name their service with [`label`], which also reads the operation from
//! the route the request matched (axum's `MatchedPath`) or its `REQUEST` parameter: nothing is
//! guessed from URL prefixes.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower::{Layer, Service};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The labels of one request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `wms`, `wmts`, `tms`, `wfs`, `api`, `health`, `metrics`, `preview` or `other`.
    pub service: &'static str,
    /// OGC operation (`GetMap`, `GetTile`…), or `-`.
    pub operation: &'static str,
    /// HTTP status code.
    pub status: u16,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The labels of one response cache's lookups.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `wms` (GetMap images) or `vector_tiles`.
    pub cache: &'static str,
    /// `hit` or `miss`.
    pub result: &'static str,
}

/// The labels of one part of the server's memory.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MemoryLabels {
    /// `wms_image_cache`, `vector_tile_cache` (response caches), `vector_layers` (features of
    /// vector layers loaded in memory, estimated) or `slab_indexes` (pyramid layers' caches of
    /// slab indexes).
    pub part: &'static str,
}

/// The labels of a count of jobs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// `processing` (executions) or `check` (upload checks).
    pub kind: &'static str,
    /// The Entrepôt status: `WAITING`, `PROGRESS`, `SUCCESS`, `FAILURE`…
    pub status: String,
}

/// The hit and miss counters of one response cache.
#[derive(Debug, Clone, Default)]
pub struct CacheCounters {
    /// Lookups answered from the cache.
    pub hits: Counter,
    /// Lookups that had to make the answer.
    pub misses: Counter,
    /// Bytes the cache holds now.
    pub bytes: Gauge,
}

/// What the render pool reports to `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct RenderMetrics {
    /// Jobs cancelled because their client left.
    pub cancelled: Counter,
    /// Jobs admitted: running or waiting.
    pub admitted: Gauge,
}

/// What the tile cache of rendered layers reports to `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct TileCacheMetrics {
    /// Tiles answered from the cache.
    pub hits: Counter,
    /// Metatiles rendered (each serves up to metatile² tiles).
    pub renders: Counter,
    /// Slabs removed to keep the cache under its size cap.
    pub evictions: Counter,
    /// Bytes of slabs in the cache.
    pub bytes: Gauge,
}

/// The server's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    in_flight: Gauge,
    /// Requests refused by a rate limit.
    pub rate_limited: Counter,
    /// Lookups of the response caches, by cache and result (their hit ratio).
    caches: Family<CacheLabels, Counter>,
    /// What the render pool reports.
    pub render: RenderMetrics,
    /// What the tile cache reports.
    pub tile_cache: TileCacheMetrics,
    /// Bytes held, by part.
    memory: Family<MemoryLabels, Gauge>,
    /// Jobs of the publication API by kind and status (set from the catalog when read).
    jobs: Family<JobLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~16 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with the request metrics and build information.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tuilerie");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let in_flight = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, in seconds",
            durations.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered",
            in_flight.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "Version of the running server", build);
        let caches = Family::<CacheLabels, Counter>::default();
        registry.register(
            "response_cache_lookups",
            "Lookups of the in-memory response caches (WMS images, vector tiles), by result",
            caches.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited",
            "Requests refused (429) by a layer's rate limit",
            rate_limited.clone(),
        );
        let render = RenderMetrics::default();
        registry.register(
            "renders_cancelled",
            "Renders stopped or never started because their client had left",
            render.cancelled.clone(),
        );
        registry.register(
            "render_jobs",
            "Render jobs admitted to the render pool: running or waiting",
            render.admitted.clone(),
        );
        let tile_cache = TileCacheMetrics::default();
        registry.register(
            "tile_cache_hits",
            "Rendered-layer tiles answered from the tile cache",
            tile_cache.hits.clone(),
        );
        registry.register(
            "tile_cache_renders",
            "Metatiles rendered for the tile cache",
            tile_cache.renders.clone(),
        );
        registry.register(
            "tile_cache_evictions",
            "Tile cache slabs removed to stay under the size cap",
            tile_cache.evictions.clone(),
        );
        registry.register(
            "tile_cache_bytes",
            "Bytes of slabs in the tile cache",
            tile_cache.bytes.clone(),
        );
        let memory = Family::<MemoryLabels, Gauge>::default();
        registry.register(
            "memory_bytes",
            "Bytes held by the parts of the server that grow with use: response caches \
             (counted exactly) and vector layers loaded in memory (estimated)",
            memory.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Jobs of the publication API (processing executions, upload checks) by status",
            jobs.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            in_flight,
            rate_limited,
            caches,
            render,
            tile_cache,
            memory,
            jobs,
        }
    }

    /// The gauge of one part of the memory.
    pub fn memory(&self, part: &'static str) -> Gauge {
        self.memory.get_or_create(&MemoryLabels { part }).clone()
    }

    /// Sets the job counts (`(kind, status, count)`), as the catalog has them now.
    pub fn set_jobs(&self, counts: Vec<(&'static str, String, u64)>) {
        self.jobs.clear();
        for (kind, status, count) in counts {
            self.jobs
                .get_or_create(&JobLabels { kind, status })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// The counters of a response cache.
    pub fn cache(&self, cache: &'static str) -> CacheCounters {
        let counter = |result| {
            self.caches
                .get_or_create(&CacheLabels { cache, result })
                .clone()
        };
        let part = match cache {
            "wms" => "wms_image_cache",
            "vector_tiles" => "vector_tile_cache",
            _ => cache,
        };
        CacheCounters {
            hits: counter("hit"),
            misses: counter("miss"),
            bytes: self.memory(part),
        }
    }

    /// Records one answered request.
    pub fn observe(&self, labels: &RequestLabels, elapsed: Duration) {
        self.requests.get_or_create(labels).inc();
        self.durations
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a request as started; the guard counts it as finished when dropped.
    pub fn start(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// The text exposition (OpenMetrics, which Prometheus scrapes natively).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(4096);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Content-Type of [`Metrics::encode`].
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The labels of the route that answered a request, set on the response by [`label`] and read
/// by the outer observing middleware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The service.
    pub service: &'static str,
    /// The operation.
    pub operation: &'static str,
}

impl Route {
    /// The labels of a request no route matched.
    pub const UNMATCHED: Route = Route {
        service: "other",
        operation: "-",
    };
}

/// The layer that labels the routes of a service (`route_layer`, so that it runs once a route
/// matched, with its `MatchedPath`).
pub fn label(service: &'static str) -> Label {
    Label { service }
}

/// The layer [`label`] makes: a plain tower layer whose future stamps the response, so that
/// labelling costs no allocation beyond the response's extension (a tile is answered in a few
/// microseconds; `from_fn` would box a service and a future per request).
#[derive(Clone, Copy, Debug)]
pub struct Label {
    service: &'static str,
}

impl<S> Layer<S> for Label {
    type Service = Labelled<S>;

    fn layer(&self, inner: S) -> Labelled<S> {
        Labelled {
            inner,
            service: self.service,
        }
    }
}

/// A route's service with its metrics label.
#[derive(Clone, Debug)]
pub struct Labelled<S> {
    inner: S,
    service: &'static str,
}

impl<S> Service<Request> for Labelled<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Stamped<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        let operation = operation_of(route, request.uri().query());
        Stamped {
            inner: self.inner.call(request),
            route: Route {
                service: self.service,
                operation,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Labelled`]: the route's answer, with its [`Route`] stamped on.
    pub struct Stamped<F> {
        #[pin]
        inner: F,
        route: Route,
    }
}

impl<F, E> Future for Stamped<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        response.extensions_mut().insert(*this.route);
        Poll::Ready(Ok(response))
    }
}

const OPERATIONS: &[&str] = &[
    "GetCapabilities",
    "GetMap",
    "GetFeatureInfo",
    "GetLegendGraphic",
    "GetTile",
    "DescribeLayer",
    "GetStyles",
    "DescribeFeatureType",
    "GetFeature",
    "GetPropertyValue",
    "ListStoredQueries",
    "DescribeStoredQueries",
];

/// The operation of a request: the `REQUEST` KVP parameter when it names a known OGC
/// operation (case-insensitive, else `other`), else the operation of the matched RESTful
/// route, else `-`.
pub fn operation_of(route: &str, query: Option<&str>) -> &'static str {
    if let Some(query) = query {
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key.eq_ignore_ascii_case("request") {
                return OPERATIONS
                    .iter()
                    .find(|op| op.eq_ignore_ascii_case(value))
                    .copied()
                    .unwrap_or("other");
            }
        }
    }
    match route {
        "/wmts/1.0.0/WMTSCapabilities.xml"
        | "/tms/1.0.0"
        | "/tms/1.0.0/"
        | "/tms/1.0.0/{layer}"
        | "/tms/1.0.0/{layer}/metadata.json" => "GetCapabilities",
        "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{file}"
        | "/tms/1.0.0/{layer}/{z}/{x}/{file}" => "GetTile",
        "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{col}/{j}/{file}" => "GetFeatureInfo",
        _ => "-",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operations_come_from_a_closed_vocabulary() {
        assert_eq!(
            operation_of("/wms", Some("service=WMS&request=getmap")),
            "GetMap"
        );
        assert_eq!(operation_of("/wms", Some("REQUEST=DropTables")), "other");
        assert_eq!(
            operation_of("/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{file}", None),
            "GetTile"
        );
        assert_eq!(
            operation_of("/tms/1.0.0/{layer}/{z}/{x}/{file}", None),
            "GetTile"
        );
        assert_eq!(
            operation_of("/tms/1.0.0/{layer}/metadata.json", None),
            "GetCapabilities"
        );
        assert_eq!(
            operation_of(
                "/wmts/{layer}/{style}/{tms}/{matrix}/{row}/{col}/{j}/{file}",
                None
            ),
            "GetFeatureInfo"
        );
        assert_eq!(operation_of("/health", None), "-");
    }

    #[test]
    fn exposition_holds_the_observed_series() {
        let metrics = Metrics::new();
        let labels = RequestLabels {
            service: "wms",
            operation: "GetMap",
            status: 200,
        };
        metrics.observe(&labels, Duration::from_millis(3));
        metrics.observe(&labels, Duration::from_millis(5));
        let text = metrics.encode().unwrap();
        assert!(text.contains(
            "tuilerie_http_requests_total{service=\"wms\",operation=\"GetMap\",status=\"200\"} 2"
        ));
        assert!(text.contains("tuilerie_http_request_duration_seconds_count{service=\"wms\",operation=\"GetMap\",status=\"200\"} 2"));
        assert!(text.contains("tuilerie_build_info{version="));
    }
}
