//! Who sees what: the API key gate of the OGC services, and the per-request view of the
//! published layers.
//!
//! Restricted offerings (`open: false`) are served only to requests carrying an API key
//! (`apikey` query parameter or `X-Api-Key` header) that grants them: 401 without a valid key,
//! 403 with a key that does not grant the layer asked for. The middleware resolves the key
//! once, answers those refusals, and runs the handler with the request's *view* — the layers
//! of its service it may see — in a task-local, which the handlers read with [`view`]. So a
//! restricted layer never appears in anonymous capabilities, and handlers stay unaware of keys.
//! Keys are compared as SHA-256 hashes in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use crate::http::{AppState, JsonError};
use crate::layers::{may_see, Layers, Service, Snapshot};

tokio::task_local! {
    static VIEW: Arc<Layers>;
}

/// The layers the current request may see (empty outside the gate).
pub fn view() -> Arc<Layers> {
    VIEW.try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::new(Layers::default()))
}

/// The gate of `/wms`, `/wmts…` and `/tms…`.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let service = if path.starts_with("/wms") && !path.starts_with("/wmts") {
        Service::Wms
    } else {
        Service::Tiles
    };
    let snapshot = state.layers.load_full();
    // The common case: nothing restricted on this service, nothing to check.
    if !snapshot.has_restricted(service) {
        let all = Arc::clone(snapshot.all(service));
        return VIEW.scope(all, next.run(request)).await;
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
    for name in named_layers(&request, service) {
        let Some(layer) = all.get(&name) else {
            continue;
        };
        if matches!(layer.access, crate::layers::Access::Open) {
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
    VIEW.scope(view, next.run(request)).await
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
pub(crate) fn grant_of<'a>(snapshot: &'a Snapshot, value: &str) -> Option<&'a [String]> {
    let hash = catalog::hash_key(value);
    let mut found = None;
    for grant in &snapshot.grants {
        if bool::from(grant.hash.ct_eq(&hash)) {
            found = Some(grant.offerings.as_slice());
        }
    }
    found
}

/// The layer names a request designates (KVP LAYER(S) / QUERY_LAYERS, or the REST path).
fn named_layers(request: &Request, service: Service) -> Vec<String> {
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
    if service == Service::Tiles {
        let path = request.uri().path();
        let rest = path
            .strip_prefix("/tms/1.0.0/")
            .or_else(|| path.strip_prefix("/wmts/"));
        if let Some(first) = rest.and_then(|r| r.split('/').next()) {
            if !first.is_empty() && first != "1.0.0" {
                names.push(percent_decode(first));
            }
        }
    }
    names
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, v)| v.into_owned())
}
