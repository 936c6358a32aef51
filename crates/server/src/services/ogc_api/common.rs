//! The common part of the OGC API (Common Part 1 and 2): the landing page, `/conformance`,
//! `/api` and the collections. A collection is a layer the caller may see through some
//! service; its document links to what each part serves of it: features (WFS layers), tiles
//! (WMTS/TMS layers) and maps (WMS layers).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use crs::Crs;
use serde_json::{json, Value};

use super::dataset_tiles;
use super::maps::{self, map_crs};
use super::openapi;
use super::problem::{answer, base, link, wants_html, Problem};
use super::tile_matrix_sets;
use super::tiles;
use super::tilesets::{DataType, OgcTiles};
use crate::access::{self, Views};
use crate::layers::Layer;
use crate::metrics;
use crate::services::features;
use crate::services::ogc::Kvp;
use crate::services::on_demand::OnDemandTiles;
use crate::services::wms::Maps;
use crate::state::AppState;

/// The conformance classes of the common part.
const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
];

/// The routes of the common part, Tiles and Maps (Features' routes are WFS's).
pub fn routes(
    state: &AppState,
    on_demand: Arc<OnDemandTiles>,
    maps: Maps,
    registry: pyramid::TileMatrixSets,
) -> Router<AppState> {
    let tiles = Arc::new(OgcTiles {
        on_demand,
        registry,
    });
    Router::new()
        .merge(common_routes(state, Arc::clone(&tiles)))
        .merge(tile_matrix_sets::routes(state, Arc::clone(&tiles)))
        .merge(tiles::routes(state, Arc::clone(&tiles)))
        .merge(dataset_tiles::routes(state, tiles, maps.clone()))
        .merge(maps::routes(state, maps))
}

/// The routes of the common part, behind the gate of every service.
fn common_routes(state: &AppState, tiles: Arc<OgcTiles>) -> Router<AppState> {
    Router::new()
        .route("/ogcapi", get(landing))
        .route("/ogcapi/", get(landing))
        .route("/ogcapi/conformance", get(conformance))
        .route("/ogcapi/api", get(api))
        .route("/ogcapi/collections", get(collections))
        .route("/ogcapi/collections/{layer}", get(collection))
        .route_layer(access::gate_every(state))
        .route_layer(metrics::label("ogcapi"))
        .layer(Extension(tiles))
}

async fn landing(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    let base = base(&state, &headers);
    let document = json!({
        "title": state.config.wfs.title,
        "description": state.config.wfs.abstract_text,
        "links": [
            link(&format!("{base}?f=json"), "self", "application/json", "this document"),
            link(&format!("{base}?f=html"), "alternate", "text/html", "this document as HTML"),
            link(&format!("{base}/api"), "service-desc", openapi::OPENAPI_JSON, "the API definition"),
            link(&format!("{base}/conformance"), "conformance", "application/json", "conformance classes"),
            link(&format!("{base}/collections"), "data", "application/json", "collections"),
            link(&format!("{base}/tileMatrixSets"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "application/json", "tile matrix sets"),
            link(&format!("{base}/map?f=png"), maps::MAP_REL, "image/png", "a map of every collection"),
            link(&format!("{base}/map/tiles"), DataType::Map.rel(), "application/json", "map tiles of every collection"),
        ]
    });
    Ok(answer(&document, html, &state.config.wfs.title))
}

/// Every conformance class served, of every part.
fn conformance_classes() -> Vec<&'static str> {
    CONFORMANCE
        .iter()
        .chain(features::CONFORMANCE)
        .chain(tiles::CONFORMANCE)
        .chain(maps::CONFORMANCE)
        .copied()
        .collect()
}

async fn conformance(RawQuery(query): RawQuery, headers: HeaderMap) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    Ok(answer(
        &json!({"conformsTo": conformance_classes()}),
        html,
        "Conformance",
    ))
}

/// The names of every layer the request may see through some service, sorted.
fn collection_ids(views: &Views) -> Vec<String> {
    let mut ids: Vec<String> = views
        .wms
        .iter()
        .chain(views.tiles.iter())
        .chain(views.features.iter())
        .map(|l| l.name.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The layer behind a collection (the WMS one first: they share a name and data).
fn layer_of<'a>(views: &'a Views, id: &str) -> Option<&'a Arc<Layer>> {
    views
        .wms
        .get(id)
        .or_else(|| views.tiles.get(id))
        .or_else(|| views.features.get(id))
}

fn collection_document(
    state: &AppState,
    views: &Views,
    tiles: &OgcTiles,
    id: &str,
    base: &str,
) -> Option<Value> {
    let layer = layer_of(views, id)?;
    let here = format!("{base}/collections/{id}");
    let (_, wgs84) = layer.extent();
    let features = features::collection_part(&views.features, id, &here);
    let mut links = vec![
        link(
            &format!("{here}?f=json"),
            "self",
            "application/json",
            "this collection",
        ),
        link(
            &format!("{here}?f=html"),
            "alternate",
            "text/html",
            "this collection as HTML",
        ),
    ];
    if let Some(part) = &features {
        links.extend(part.links.iter().cloned());
    }
    links.extend(tiles::collection_links(tiles, &views.tiles, id, &here));
    links.extend(maps::collection_links(&views.wms, id, &here));
    let mut crs_list = features.as_ref().map(|p| p.crs.clone()).unwrap_or_default();
    if let Some(wms) = views.wms.get(id) {
        for uri in map_crs(wms, &state.config.wms.crs) {
            if !crs_list.contains(&uri) {
                crs_list.push(uri);
            }
        }
    }
    if crs_list.is_empty() {
        crs_list.push(Crs::crs84().uri());
    }
    let data_types = tiles::data_types(tiles, &views.tiles, id);
    let item_type = if features.is_some() {
        "feature"
    } else if data_types.contains(&"vector") {
        "vector"
    } else if data_types.contains(&"coverage") {
        "coverage"
    } else {
        "map"
    };
    let mut document = json!({
        "id": id,
        "title": layer.title,
        "description": layer.abstract_text,
        "keywords": layer.keywords,
        "itemType": item_type,
        "extent": {"spatial": {
            "bbox": [[wgs84.min_x(), wgs84.min_y(), wgs84.max_x(), wgs84.max_y()]],
            "crs": Crs::crs84().uri()
        }},
        "crs": crs_list,
        "storageCrs": features.as_ref().map_or_else(|| layer.crs().uri(), |p| p.storage_crs.clone()),
        "links": links,
    });
    // Each style: its map (WMS layers) and its map tiles (where the tile cache draws it).
    let tiled = views
        .tiles
        .get(id)
        .map(|l| tiles::tiled_styles(tiles, l))
        .unwrap_or_default();
    let drawn = views.wms.get(id).is_some();
    let styles: Vec<Value> = layer
        .styles()
        .iter()
        .filter(|s| drawn || tiled.contains(&s.name.as_str()))
        .map(|s| {
            let mut links = Vec::new();
            if drawn {
                links.push(link(
                    &format!("{here}/styles/{}/map?f=png", s.name),
                    maps::MAP_REL,
                    "image/png",
                    "the map in this style",
                ));
            }
            if tiled.contains(&s.name.as_str()) {
                links.push(link(
                    &format!("{here}/styles/{}/map/tiles", s.name),
                    DataType::Map.rel(),
                    "application/json",
                    "the map tiles in this style",
                ));
            }
            let title = if s.title.is_empty() {
                &s.name
            } else {
                &s.title
            };
            json!({"id": s.name, "title": title, "links": links})
        })
        .collect();
    if !styles.is_empty() {
        document["styles"] = json!(styles);
    }
    Some(document)
}

async fn collections(
    views: Views,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OgcTiles>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    let base = base(&state, &headers);
    let collections: Vec<Value> = collection_ids(&views)
        .iter()
        .filter_map(|id| collection_document(&state, &views, &tiles, id, &base))
        .collect();
    let document = json!({
        "links": [
            link(&format!("{base}/collections?f=json"), "self", "application/json", "the collections"),
            link(&format!("{base}/collections?f=html"), "alternate", "text/html", "the collections as HTML"),
        ],
        "collections": collections,
    });
    Ok(answer(&document, html, "Collections"))
}

async fn collection(
    views: Views,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OgcTiles>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let html = wants_html(&Kvp::parse_as_sent(query.as_deref()), &headers)?;
    let document = collection_document(&state, &views, &tiles, &id, &base(&state, &headers))
        .ok_or_else(|| {
            Problem::not_found(format!(
                "no collection '{id}': GET /ogcapi/collections lists them"
            ))
        })?;
    let title = document["title"].as_str().unwrap_or(&id).to_owned();
    Ok(answer(&document, html, &title))
}

/// `GET /ogcapi/api`: the OpenAPI 3.0 definition of the routes, per collection.
async fn api(
    views: Views,
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<OgcTiles>>,
    headers: HeaderMap,
) -> Response {
    let base = base(&state, &headers);
    let f = openapi::f(&["json", "html"]);
    let error = openapi::problem();
    let mut paths = serde_json::Map::new();
    for (path, summary, id) in [
        ("/", "the landing page", "getLandingPage"),
        ("/conformance", "the conformance classes", "getConformance"),
        ("/collections", "the collections", "getCollections"),
        (
            "/tileMatrixSets",
            "the tile matrix sets",
            "getTileMatrixSets",
        ),
    ] {
        paths.insert(
            path.to_owned(),
            openapi::get(
                summary,
                id,
                vec![f.clone()],
                json!({"200": openapi::document(), "400": error}),
            ),
        );
    }
    paths.insert(
        "/tileMatrixSets/{tileMatrixSetId}".to_owned(),
        openapi::get(
            "a tile matrix set",
            "getTileMatrixSet",
            vec![
                openapi::path("tileMatrixSetId", "the set's id", json!({"type": "string"})),
                f.clone(),
            ],
            json!({"200": openapi::document(), "404": error}),
        ),
    );
    paths.insert(
        "/api".to_owned(),
        openapi::get(
            "this API definition",
            "getApi",
            Vec::new(),
            json!({"200": {"description": "the OpenAPI 3.0 document", "content": {openapi::OPENAPI_JSON: {"schema": {"type": "object"}}}}}),
        ),
    );
    let ids = collection_ids(&views);
    for id in &ids {
        paths.insert(
            format!("/collections/{id}"),
            openapi::get(
                &format!("collection {id}"),
                &format!("describeCollection_{id}"),
                vec![f.clone()],
                json!({"200": openapi::document(), "404": error}),
            ),
        );
    }
    features::openapi_paths(&views.features, state.config.wfs.count_default, &mut paths);
    tiles::openapi_paths(&tiles, &views.tiles, &mut paths);
    maps::openapi_paths(&views.wms, &mut paths);
    dataset_tiles::openapi_paths(&tiles, &mut paths);
    let document = json!({
        "openapi": "3.0.3",
        "info": {"title": state.config.wfs.title, "version": env!("CARGO_PKG_VERSION"), "description": "OGC API – Features, Tiles and Maps of this Tuilerie server"},
        "servers": [{"url": base}],
        "paths": paths,
    });
    (
        [(header::CONTENT_TYPE, openapi::OPENAPI_JSON)],
        document.to_string(),
    )
        .into_response()
}
