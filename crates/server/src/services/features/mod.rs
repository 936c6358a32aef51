//! The features themselves: WFS 2.0.0 and 1.1.0 over the vector layers offered as WFS.
//!
//! A feature type is one table of stored data (a `[[layers]]` vector layer with `wfs = true`
//! names its table). Requests read the table through [`vectorstore::Store::scan`], in feature
//! id order, and answers are written as they are read (see [`stream`]), so that an export of
//! every feature runs in constant memory. `schema` describes the types (XSD), `capabilities`
//! the service, `get_feature` the queries, `encode` the documents (GML 3.2, GML 3.1.1,
//! GeoJSON); `ogc_api` serves the same feature types as OGC API – Features.

mod capabilities;
mod cql;
mod encode;
mod filter;
mod get_feature;
mod ogc_api;
mod post;
mod protocol;
mod schema;
mod stream;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::access::{self, View};
use crate::layers::{Layers, Service};
use crate::metrics;
use crate::services::ogc::{Kvp, OwsCode, OwsException};
use crate::state::AppState;

use protocol::Version;

pub use ogc_api::{collection_part, openapi_paths, CONFORMANCE};

/// The routes of WFS and OGC API – Features, behind the access gate.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/wfs", get(kvp).post(xml))
        .route_layer(access::gate(state, Service::Features))
        .route_layer(metrics::label("wfs"))
        .merge(ogc_api::routes(state))
}

/// `GET /wfs?SERVICE=WFS&REQUEST=…`
async fn kvp(
    View(layers): View,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let kvp = Kvp::parse(query.as_deref());
    match dispatch(&state, &layers, &kvp, &headers).await {
        Ok(response) => response,
        Err(exception) => exception.into_response(),
    }
}

/// `POST /wfs` with an XML request.
async fn xml(
    View(layers): View,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Refused before it is read when its length says so (the client is still sending).
    let fits = announced.is_none_or(|length| length <= post::MAX_BODY_BYTES);
    let read = if fits {
        axum::body::to_bytes(body, post::MAX_BODY_BYTES).await.ok()
    } else {
        None
    };
    let Some(bytes) = read else {
        return OwsException::invalid(
            "request",
            format!(
                "the XML request is larger than {} bytes (or was cut): send a smaller one",
                post::MAX_BODY_BYTES
            ),
        )
        .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
        .into_response();
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return OwsException::new(
            OwsCode::OperationParsingFailed,
            "request",
            "the XML request is not UTF-8",
        )
        .with_status(axum::http::StatusCode::BAD_REQUEST)
        .into_response();
    };
    let result = match post::read(text) {
        Ok(kvp) => dispatch(&state, &layers, &kvp, &headers).await,
        Err(error) => Err(error),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn dispatch(
    state: &AppState,
    layers: &std::sync::Arc<Layers>,
    kvp: &Kvp,
    headers: &HeaderMap,
) -> Result<Response, OwsException> {
    if let Some(service) = kvp.non_empty("SERVICE") {
        if !service.eq_ignore_ascii_case("WFS") {
            return Err(OwsException::invalid(
                "SERVICE",
                format!("SERVICE={service} is not served at /wfs: use SERVICE=WFS"),
            ));
        }
    }
    let request = kvp.non_empty("REQUEST").ok_or_else(|| {
        OwsException::missing(
            "REQUEST",
            "use REQUEST=GetCapabilities, DescribeFeatureType, GetFeature, ListStoredQueries or DescribeStoredQueries",
        )
    })?;
    if request.eq_ignore_ascii_case("GetCapabilities") {
        let version = negotiate(kvp)?;
        return Ok(capabilities::answer(state, layers, version, headers));
    }
    if kvp.non_empty("SERVICE").is_none() {
        return Err(OwsException::missing("SERVICE", "add SERVICE=WFS"));
    }
    let version = match kvp.non_empty("VERSION") {
        None => Version::V200,
        Some(v) => Version::parse(v).ok_or_else(|| {
            OwsException::invalid(
                "VERSION",
                format!("VERSION={v} is not served: use VERSION=2.0.0 or VERSION=1.1.0"),
            )
        })?,
    };
    match request.to_ascii_lowercase().as_str() {
        "describefeaturetype" => schema::answer_describe(layers, kvp, version),
        "getfeature" => get_feature::answer(state, layers, kvp, version, headers).await,
        "getpropertyvalue" if version == Version::V200 => {
            get_feature::answer(state, layers, kvp, version, headers).await
        }
        "liststoredqueries" => Ok(capabilities::list_stored_queries(layers)),
        "describestoredqueries" => Ok(capabilities::describe_stored_queries(kvp)?),
        "getpropertyvalue" => Err(OwsException::new(
            OwsCode::OperationNotSupported,
            "REQUEST",
            "GetPropertyValue is a WFS 2.0.0 operation: use VERSION=2.0.0",
        )),
        "transaction" | "lockfeature" | "getfeaturewithlock"
        | "createstoredquery" | "dropstoredquery" => Err(OwsException::new(
            OwsCode::OperationNotSupported,
            "REQUEST",
            format!("REQUEST={request} is not supported by this read-only WFS"),
        )),
        _ => Err(OwsException::invalid(
            "REQUEST",
            format!(
                "REQUEST={request} is not a WFS operation: use GetCapabilities, DescribeFeatureType or GetFeature"
            ),
        )),
    }
}

/// GetCapabilities' version: `ACCEPTVERSIONS` (the first served), else `VERSION`, else 2.0.0.
fn negotiate(kvp: &Kvp) -> Result<Version, OwsException> {
    if let Some(accepted) = kvp.non_empty("ACCEPTVERSIONS") {
        return accepted.split(',').find_map(Version::parse).ok_or_else(|| {
            OwsException::new(
                OwsCode::VersionNegotiationFailed,
                "AcceptVersions",
                format!(
                    "none of ACCEPTVERSIONS={accepted} is served: this WFS speaks 2.0.0 and 1.1.0"
                ),
            )
        });
    }
    Ok(kvp
        .non_empty("VERSION")
        .and_then(Version::parse)
        .unwrap_or(Version::V200))
}
