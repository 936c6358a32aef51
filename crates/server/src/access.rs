//! Who sees what: the API key gate of the OGC services, and the per-request view of the
//! published layers.
//!
//! Restricted offerings (`open: false`) are served only to requests carrying an API key
//! (`apikey` query parameter or `X-Api-Key` header) that grants them: 401 without a valid key,
//! 403 with a key that does not grant the layer asked for. The middleware resolves the key
//! once, answers those refusals, and hands the handler the request's *view* — the layers of
//! its service it may see — as the [`View`] extractor. So a restricted layer never appears in
//! anonymous capabilities, and handlers stay unaware of keys. A handler whose route was left
//! outside the gate gets no view: its request is answered 500 and logged, never served an
//! empty list. Keys are compared as SHA-256 hashes in constant time.

use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;
use tower::Layer;

use crate::connection::ClientAddr;
use crate::error::JsonError;
use crate::layers::{may_see, Access, Layers, Service, Snapshot};
use crate::rate_limit::Client;
use crate::state::AppState;

/// The layers the current request may see, set by the gate of its service.
#[derive(Debug, Clone)]
pub struct View(pub Arc<Layers>);

/// The layers the current request may see through each service, set by the gate of routes
/// about every service at once (the OGC API's landing page and collections).
#[derive(Debug, Clone)]
pub struct Views {
    /// Through WMS (and OGC API – Maps).
    pub wms: Arc<Layers>,
    /// Through WMTS and TMS (and OGC API – Tiles).
    pub tiles: Arc<Layers>,
    /// Through WFS (and OGC API – Features).
    pub features: Arc<Layers>,
}

impl<S: Send + Sync> FromRequestParts<S> for Views {
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Views, JsonError> {
        parts.extensions.get::<Views>().cloned().ok_or_else(|| {
            JsonError::broken(
                "a route that reads the published layers of every service is not behind the gate of every service",
            )
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for View {
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<View, JsonError> {
        parts.extensions.get::<View>().cloned().ok_or_else(|| {
            JsonError::broken(
                "a route that reads the published layers is not behind the access gate",
            )
        })
    }
}

/// What the gate of one service needs: the state and the service it guards (`None`: every
/// service, for resources about all of them).
#[derive(Debug, Clone)]
pub struct Guard {
    state: AppState,
    service: Option<Service>,
}

/// The gate of a service's routes (`route_layer`).
pub fn gate(state: &AppState, service: Service) -> Guard {
    Guard {
        state: state.clone(),
        service: Some(service),
    }
}

/// The gate of routes about every service (`route_layer`): their handlers read [`Views`].
/// A layer a request names must be visible through some service; no rate limit applies
/// (these routes describe layers, they draw nothing).
pub fn gate_every(state: &AppState) -> Guard {
    Guard {
        state: state.clone(),
        service: None,
    }
}

impl<S> Layer<S> for Guard {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            guard: self.clone(),
        }
    }
}

/// A route's service behind the gate. A plain tower service, decided synchronously: the
/// gate costs no allocation on the path of a tile.
#[derive(Debug, Clone)]
pub struct Gated<S> {
    inner: S,
    guard: Guard,
}

impl<S> tower::Service<Request> for Gated<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match admit(&self.guard, &mut request) {
            Ok(shield) => GateFuture::Admitted {
                inner: self.inner.call(request),
                shield,
            },
            Err(refusal) => GateFuture::Refused {
                refusal: Some(refusal.into_response()),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Gated`]: the refusal, or the route's answer shielded from shared caches
    /// as its layers require.
    #[project = GateProjection]
    pub enum GateFuture<F> {
        /// Refused before the route ran.
        Refused { refusal: Option<Response> },
        /// Let through.
        Admitted { #[pin] inner: F, shield: Shield },
    }
}

impl<F, E> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GateProjection::Refused { refusal } => Poll::Ready(Ok(refusal
                .take()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()))),
            GateProjection::Admitted { inner, shield } => {
                let mut response = ready!(inner.poll(cx))?;
                shield.apply(&mut response);
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// What an answer's cache headers must say about the key it was answered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shield {
    /// Nothing restricted on this service: answers are the same for everyone.
    Open,
    /// Answers may differ by key: they vary on `X-Api-Key`.
    Vary,
    /// This answer shows what a key granted: `private`, and varies on `X-Api-Key`.
    Private,
}

impl Shield {
    /// Answers of a service with restricted layers depend on the key: they vary on
    /// `X-Api-Key`, and those that show restricted content are `private`, so that no shared
    /// cache (a proxy's `proxy_cache`, a CDN) hands them to a client without the key.
    fn apply(self, response: &mut Response) {
        if self == Shield::Open {
            return;
        }
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("x-api-key"));
        if self != Shield::Private {
            return;
        }
        let directives = headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "private".to_owned(), private_directives);
        if let Ok(value) = HeaderValue::from_str(&directives) {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
}

/// `Cache-Control` directives with `public` (and `s-maxage`, which is for shared caches)
/// replaced by `private`.
fn private_directives(value: &str) -> String {
    let kept = value.split(',').map(str::trim).filter(|d| {
        let name = d.split('=').next().unwrap_or("").trim();
        !d.is_empty()
            && !name.eq_ignore_ascii_case("public")
            && !name.eq_ignore_ascii_case("private")
            && !name.eq_ignore_ascii_case("s-maxage")
    });
    std::iter::once("private")
        .chain(kept)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lets a request through with its [`View`], or answers its refusal.
fn admit(guard: &Guard, request: &mut Request) -> Result<Shield, Refusal> {
    let Some(service) = guard.service else {
        return admit_every(guard, request);
    };
    let snapshot = guard.state.layers.load();
    if snapshot.has_rate_limits(service) {
        within_rates(guard, service, &snapshot, request)?;
    }
    // The common case: nothing restricted on this service, nothing to check.
    if !snapshot.has_restricted(service) {
        let all = Arc::clone(snapshot.all(service));
        request.extensions_mut().insert(View(all));
        return Ok(Shield::Open);
    }
    let granted = granted_offerings(&snapshot, request)?;
    let shield = check_named(request, granted, &[snapshot.all(service)])?;
    let view = snapshot.view(service, granted);
    request.extensions_mut().insert(View(view));
    Ok(shield)
}

/// [`admit`] for routes about every service: the request's [`Views`].
fn admit_every(guard: &Guard, request: &mut Request) -> Result<Shield, Refusal> {
    const SERVICES: [Service; 3] = [Service::Wms, Service::Tiles, Service::Features];
    let snapshot = guard.state.layers.load();
    if !SERVICES.iter().any(|s| snapshot.has_restricted(*s)) {
        request.extensions_mut().insert(Views {
            wms: Arc::clone(snapshot.all(Service::Wms)),
            tiles: Arc::clone(snapshot.all(Service::Tiles)),
            features: Arc::clone(snapshot.all(Service::Features)),
        });
        return Ok(Shield::Open);
    }
    let granted = granted_offerings(&snapshot, request)?;
    let all = SERVICES.map(|s| snapshot.all(s));
    let shield = check_named(request, granted, &all)?;
    request.extensions_mut().insert(Views {
        wms: snapshot.view(Service::Wms, granted),
        tiles: snapshot.view(Service::Tiles, granted),
        features: snapshot.view(Service::Features, granted),
    });
    Ok(shield)
}

/// The offerings the request's key grants (`None` without a key); 401 for a key that is not
/// valid.
fn granted_offerings<'a>(
    snapshot: &'a Snapshot,
    request: &Request,
) -> Result<Option<&'a [String]>, Refusal> {
    match presented_key(request) {
        None => Ok(None),
        Some(value) => grant_of(snapshot, &value).map(Some).ok_or_else(|| {
            refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_key",
                "the API key is not valid (revoked or mistyped): ask the publisher for a key",
            )
        }),
    }
}

/// Refuses a request naming a restricted layer (of any of `services`) its key does not
/// grant; else how its answer must be shielded from shared caches.
fn check_named(
    request: &Request,
    granted: Option<&[String]>,
    services: &[&Arc<Layers>],
) -> Result<Shield, Refusal> {
    let names = named_layers(request);
    // An answer about no layer in particular (capabilities) lists what the key grants.
    let mut shield = if names.is_empty() && granted.is_some() {
        Shield::Private
    } else {
        Shield::Vary
    };
    for name in names {
        let restricted = services
            .iter()
            .filter_map(|all| all.get(&name))
            .filter(|layer| !matches!(layer.access, Access::Open));
        for layer in restricted {
            shield = Shield::Private;
            match granted {
                None => {
                    return Err(refusal(
                        StatusCode::UNAUTHORIZED,
                        "key_required",
                        &format!(
                            "layer '{name}' is restricted: send an API key granted it, as the apikey parameter or the X-Api-Key header"
                        ),
                    ))
                }
                Some(offerings) if !may_see(layer, offerings) => {
                    return Err(refusal(
                        StatusCode::FORBIDDEN,
                        "not_granted",
                        &format!("this API key does not grant layer '{name}': ask the publisher for access"),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(shield)
}

/// Refuses a request past the rate of a layer it names, for its client (its API key, else
/// its address).
fn within_rates(
    guard: &Guard,
    service: Service,
    snapshot: &Snapshot,
    request: &Request,
) -> Result<(), Refusal> {
    let all = snapshot.all(service);
    let names = named_layers(request);
    let limited = names
        .iter()
        .filter_map(|name| all.get(name))
        .filter(|layer| layer.rate.of(service) > 0);
    let mut client = None;
    let now = std::time::Instant::now();
    for layer in limited {
        let client = *client.get_or_insert_with(|| match presented_key(request) {
            Some(key) => Client::key(&key),
            None => Client::Address(
                request
                    .extensions()
                    .get::<ClientAddr>()
                    .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.0),
            ),
        });
        let rate = layer.rate.of(service);
        if let Err(wait) = guard
            .state
            .rate_limiter
            .check(&layer.name, client, rate, now)
        {
            guard.state.metrics.rate_limited.inc();
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                error: "too_many_requests",
                message: format!(
                    "layer '{}' takes at most {rate} requests per second from one client: retry in {seconds} s",
                    layer.name
                ),
                retry_after: Some(seconds.max(1)),
                dialect: Dialect::of(service, request.uri().path()),
            });
        }
    }
    Ok(())
}

/// Why the gate refused a request.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    error: &'static str,
    message: String,
    /// Seconds to wait (429).
    retry_after: Option<u64>,
    /// How the service the request spoke to writes errors.
    dialect: Dialect,
}

/// The error format of a service, so that its clients read a refusal as they read its other
/// errors (an OGC client shows an exception's text; it cannot read a JSON error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `{"error", "error_description"}` (TMS, the API, key refusals).
    Json,
    /// A WMS 1.3.0 `ServiceExceptionReport`.
    Wms,
    /// An OWS `ExceptionReport` (WMTS, WFS).
    Ows,
    /// RFC 7807 problem details (OGC API).
    Problem,
}

impl Dialect {
    fn of(service: Service, path: &str) -> Dialect {
        if path.starts_with("/ogcapi") {
            return Dialect::Problem;
        }
        match service {
            Service::Wms => Dialect::Wms,
            Service::Tiles if path.starts_with("/wmts") => Dialect::Ows,
            Service::Features => Dialect::Ows,
            Service::Tiles => Dialect::Json,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = match self.dialect {
            Dialect::Json => {
                JsonError::client(self.status, self.error, self.message).into_response()
            }
            Dialect::Ows => {
                crate::services::ogc::OwsException::new(
                    crate::services::ogc::OwsCode::NoApplicableCode,
                    "LAYER",
                    self.message,
                )
                .with_status(self.status)
                .into_response()
            }
            Dialect::Wms => (
                self.status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                     <ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\">\n  \
                     <ServiceException>{}</ServiceException>\n</ServiceExceptionReport>\n",
                    crate::services::ogc::xml_escape(&self.message)
                ),
            )
                .into_response(),
            Dialect::Problem => crate::services::ogc_api::Problem {
                status: self.status,
                code: "TooManyRequests",
                detail: self.message,
            }
            .into_response(),
        };
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn refusal(status: StatusCode, error: &'static str, message: &str) -> Refusal {
    Refusal {
        status,
        error,
        message: message.to_owned(),
        retry_after: None,
        dialect: Dialect::Json,
    }
}

/// The key a request carries.
fn presented_key(request: &Request) -> Option<String> {
    if let Some(value) = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(value.trim().to_owned());
    }
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("apikey"))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The offerings a key grants, or `None` when no key has this value (every key is compared,
/// in constant time).
pub fn grant_of<'a>(snapshot: &'a Snapshot, value: &str) -> Option<&'a [String]> {
    let hash = catalog::hash_key(value);
    let mut found = None;
    for grant in &snapshot.grants {
        if bool::from(grant.hash.ct_eq(&hash)) {
            found = Some(grant.offerings.as_slice());
        }
    }
    found
}

/// The layer names a request designates: KVP LAYER(S) / QUERY_LAYERS, and the `{layer}` of a
/// RESTful route.
fn named_layers(request: &Request) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(query) = request.uri().query() {
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let is = |keys: &[&str]| keys.iter().any(|k| key.eq_ignore_ascii_case(k));
            // WMS and WMTS name layers; WFS names feature types (with or without prefix, in
            // parentheses for several queries) or features (`type.12`).
            let ids = is(&["resourceid", "featureid", "id"]);
            // OGC API – Maps and Tiles name collections.
            if !(ids
                || is(&[
                    "layers",
                    "layer",
                    "query_layers",
                    "typenames",
                    "typename",
                    "collections",
                ]))
            {
                continue;
            }
            for name in value
                .split([',', '(', ')'])
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                let name = name.rsplit_once(':').map_or(name, |(_, local)| local);
                let name = if ids {
                    name.rsplit_once('.').map_or(name, |(layer, _)| layer)
                } else {
                    name
                };
                names.push(name.to_owned());
            }
        }
    }
    names.extend(path_layer(request));
    names
}

/// The `{layer}` segment of the matched route, percent-decoded as axum's `Path` decodes it.
fn path_layer(request: &Request) -> Option<String> {
    let route = request.extensions().get::<MatchedPath>()?.as_str();
    let index = route.split('/').position(|segment| segment == "{layer}")?;
    let segment = request.uri().path().split('/').nth(index)?;
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    Some(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::private_directives;

    #[test]
    fn shared_cache_directives_become_private() {
        assert_eq!(
            private_directives("public, max-age=86400"),
            "private, max-age=86400"
        );
        assert_eq!(private_directives("no-cache"), "private, no-cache");
        assert_eq!(
            private_directives("Public,s-maxage=60, max-age=10"),
            "private, max-age=10"
        );
        assert_eq!(private_directives("private"), "private");
    }
}
