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

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{from_fn_with_state, FromFnLayer, Next};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use crate::error::JsonError;
use crate::layers::{may_see, Access, Layers, Service, Snapshot};
use crate::state::AppState;

/// The layers the current request may see, set by the gate of its service.
#[derive(Debug, Clone)]
pub struct View(pub Arc<Layers>);

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

/// What the gate of one service needs: the state and the service it guards.
#[derive(Debug, Clone)]
pub struct Guard {
    state: AppState,
    service: Service,
}

/// The gate of a service's routes (`route_layer`).
pub fn gate(state: &AppState, service: Service) -> GateLayer {
    let guard = Guard {
        state: state.clone(),
        service,
    };
    from_fn_with_state(guard, check as fn(_, _, _) -> _)
}

/// The future of [`gate`]'s middleware.
pub type GateFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// The layer [`gate`] makes.
pub type GateLayer =
    FromFnLayer<fn(State<Guard>, Request, Next) -> GateFuture, Guard, (State<Guard>, Request)>;

fn check(State(guard): State<Guard>, request: Request, next: Next) -> GateFuture {
    Box::pin(admit(guard, request, next))
}

async fn admit(guard: Guard, request: Request, next: Next) -> Response {
    let service = guard.service;
    let snapshot = guard.state.layers.load_full();
    // The common case: nothing restricted on this service, nothing to check.
    if !snapshot.has_restricted(service) {
        let all = Arc::clone(snapshot.all(service));
        let mut request = request;
        request.extensions_mut().insert(View(all));
        return next.run(request).await;
    }
    let presented = presented_key(&request);
    let granted: Option<&[String]> =
        match &presented {
            None => None,
            Some(value) => match grant_of(&snapshot, value) {
                Some(offerings) => Some(offerings),
                None => return refusal(
                    StatusCode::UNAUTHORIZED,
                    "invalid_key",
                    "the API key is not valid (revoked or mistyped): ask the publisher for a key",
                ),
            },
        };
    let all = snapshot.all(service);
    let (request, layer) = path_layer(request).await;
    let mut request = request;
    for name in named_layers(&request, layer) {
        let Some(layer) = all.get(&name) else {
            continue;
        };
        if matches!(layer.access, Access::Open) {
            continue;
        }
        match granted {
            None => {
                return refusal(
                    StatusCode::UNAUTHORIZED,
                    "key_required",
                    &format!(
                        "layer '{name}' is restricted: send an API key granted it, as the apikey parameter or the X-Api-Key header"
                    ),
                )
            }
            Some(offerings) if !may_see(layer, offerings) => {
                return refusal(
                    StatusCode::FORBIDDEN,
                    "not_granted",
                    &format!("this API key does not grant layer '{name}': ask the publisher for access"),
                )
            }
            Some(_) => {}
        }
    }
    let view = snapshot.view(service, granted);
    request.extensions_mut().insert(View(view));
    next.run(request).await
}

fn refusal(status: StatusCode, error: &'static str, message: &str) -> Response {
    JsonError::client(status, error, message).into_response()
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
fn named_layers(request: &Request, path_layer: Option<String>) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(query) = request.uri().query() {
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if ["layers", "layer", "query_layers"]
                .iter()
                .any(|k| key.eq_ignore_ascii_case(k))
            {
                names.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                );
            }
        }
    }
    names.extend(path_layer);
    names
}

/// The `{layer}` parameter of the matched route, percent-decoded.
async fn path_layer(request: Request) -> (Request, Option<String>) {
    let (mut parts, body) = request.into_parts();
    let layer = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(key, _)| *key == "layer")
                .map(|(_, value)| value.to_owned())
        });
    (Request::from_parts(parts, body), layer)
}
