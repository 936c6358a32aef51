//! Prometheus metrics: request count and latency by service, operation and status.
//!
//! Labels are kept to a closed vocabulary (known services and OGC operations, "other" for the
//! rest) so that a client sending random `REQUEST=` values cannot grow the series without bound.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The labels of one request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `wms`, `wmts`, `tms`, `api`, `health`, `metrics`, `preview` or `other`.
    pub service: &'static str,
    /// OGC operation (`GetMap`, `GetTile`…), or `-`.
    pub operation: &'static str,
    /// HTTP status code.
    pub status: u16,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The server's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    in_flight: Gauge,
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
        Metrics {
            registry,
            requests,
            durations,
            in_flight,
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

/// The service label of a request path.
pub fn service_of(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "" => "preview",
        "wms" => "wms",
        "wmts" => "wmts",
        "tms" => "tms",
        "api" => "api",
        "health" => "health",
        "metrics" => "metrics",
        _ => "other",
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
];

/// The operation label of a request: the `REQUEST` KVP parameter when it names a known OGC
/// operation (case-insensitive), `GetTile` for RESTful tile paths, else `-`.
pub fn operation_of(service: &'static str, path: &str, query: Option<&str>) -> &'static str {
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
    match service {
        "wmts" | "tms"
            if path
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains('.')) =>
        {
            let extension = path.rsplit('.').next().unwrap_or("");
            if extension.eq_ignore_ascii_case("xml") || extension.eq_ignore_ascii_case("json") {
                "GetCapabilities"
            } else {
                "GetTile"
            }
        }
        "tms" => "GetCapabilities",
        _ => "-",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_a_closed_vocabulary() {
        assert_eq!(service_of("/wms"), "wms");
        assert_eq!(service_of("/"), "preview");
        assert_eq!(service_of("/x/y"), "other");
        assert_eq!(
            operation_of("wms", "/wms", Some("service=WMS&request=getmap")),
            "GetMap"
        );
        assert_eq!(
            operation_of("wms", "/wms", Some("REQUEST=DropTables")),
            "other"
        );
        assert_eq!(
            operation_of("wmts", "/wmts/a/b/PM/1/2/3.png", None),
            "GetTile"
        );
        assert_eq!(
            operation_of("tms", "/tms/1.0.0/a/1/2/3.png", None),
            "GetTile"
        );
        assert_eq!(
            operation_of("tms", "/tms/1.0.0/a/metadata.json", None),
            "GetCapabilities"
        );
        assert_eq!(operation_of("health", "/health", None), "-");
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
