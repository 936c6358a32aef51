//! OGC API – Features, Part 1 (core, GeoJSON, HTML, OpenAPI 3.0) and Part 2 (CRS by
//! reference), under `/ogcapi`: the same feature types as WFS, the same scans and the same
//! streamed GeoJSON.
//!
//! The landing page, `/conformance`, `/api` and the collections are the API's common part
//! (`services::ogc_api`): this module hands it what Features adds to them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use crs::{AxisOrder, Bbox, Crs};
use serde_json::{json, Value};

use super::encode::{Format, OgcApiTail, Summary};
use super::get_feature::{count_matches, stream_answer, Query, TypeQuery};
use super::schema::FeatureType;
use crate::access::{self, View};
use crate::layers::{Layers, Service};
use crate::metrics;
use crate::services::ogc::{xml_escape, Kvp};
use crate::services::ogc_api::base;
use crate::services::ogc_api::link;
use crate::services::ogc_api::openapi;
use crate::services::ogc_api::wants_html;
use crate::services::ogc_api::Problem;
use crate::state::AppState;

/// The conformance classes of OGC API – Features served here.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
];

const GEOJSON: &str = "application/geo+json";
const DEFAULT_LIMIT: u64 = 10;

/// The routes of OGC API – Features, behind the access gate of the feature service.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/ogcapi/collections/{layer}/items", get(items))
        .route("/ogcapi/collections/{layer}/queryables", get(queryables))
        .route("/ogcapi/collections/{layer}/items/{feature}", get(item))
        .route_layer(access::gate(state, Service::Features))
        .route_layer(metrics::label("ogcapi"))
}

/// The CRSs a collection is served in, as URIs: CRS84 first (the default), then its own.
fn crs_uris(feature_type: &FeatureType<'_>) -> Vec<String> {
    let mut uris = vec![Crs::crs84().uri()];
    for crs in super::capabilities::served_crs(feature_type) {
        let uri = crs.uri();
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    uris
}

fn feature_type<'a>(layers: &'a Layers, id: &str) -> Result<FeatureType<'a>, Problem> {
    layers
        .get(id)
        .and_then(|l| FeatureType::of(l))
        .ok_or_else(|| {
            Problem::not_found(format!(
                "no collection '{id}': GET /ogcapi/collections lists them"
            ))
        })
}

/// `crs=` (Part 2): one of the collection's CRSs; CRS84 by default.
fn output_crs(kvp: &Kvp, feature_type: &FeatureType<'_>) -> Result<Crs, Problem> {
    let Some(text) = kvp.non_empty("crs") else {
        return Ok(Crs::crs84());
    };
    let crs = Crs::parse(text).map_err(|e| Problem::bad(format!("crs={text}: {e}")))?;
    if !crs_uris(feature_type).contains(&crs.uri()) {
        return Err(Problem::bad(format!(
            "crs={text} is not offered by this collection: use one of {}",
            crs_uris(feature_type).join(", ")
        )));
    }
    Ok(crs)
}

/// `bbox=` (4 numbers, or 6 with heights, which are ignored) in `bbox-crs` (CRS84 by
/// default), in that CRS's axis order.
fn bbox(kvp: &Kvp, feature_type: &FeatureType<'_>) -> Result<Option<(Bbox, Crs)>, Problem> {
    let Some(text) = kvp.non_empty("bbox") else {
        return Ok(None);
    };
    let crs = match kvp.non_empty("bbox-crs") {
        None => Crs::crs84(),
        Some(c) => {
            let crs = Crs::parse(c).map_err(|e| Problem::bad(format!("bbox-crs={c}: {e}")))?;
            if !crs_uris(feature_type).contains(&crs.uri()) {
                return Err(Problem::bad(format!(
                    "bbox-crs={c} is not offered by this collection: use one of {}",
                    crs_uris(feature_type).join(", ")
                )));
            }
            crs
        }
    };
    let numbers: Result<Vec<f64>, _> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|_| p.trim().to_owned()))
        .collect();
    let values = match numbers {
        Ok(n) if n.len() == 4 && n.iter().all(|v| v.is_finite()) => [n[0], n[1], n[2], n[3]],
        Ok(n) if n.len() == 6 && n.iter().all(|v| v.is_finite()) => [n[0], n[1], n[3], n[4]],
        _ => {
            return Err(Problem::bad(format!(
                "bbox={text}: give four numbers (min x, min y, max x, max y in the axis order of bbox-crs)"
            )))
        }
    };
    let bbox =
        Bbox::from_ogc(values, &crs).map_err(|e| Problem::bad(format!("bbox={text}: {e}")))?;
    Ok(Some((bbox, crs)))
}

fn whole(kvp: &Kvp, name: &str, default: u64, min: u64) -> Result<u64, Problem> {
    match kvp.non_empty(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(Problem::bad(format!(
                "{name}={text} is not a whole number of at least {min}"
            ))),
        },
    }
}

/// Equality filters on properties (`?departement=Paris`).
fn property_filter(
    kvp: &Kvp,
    feature_type: &FeatureType<'_>,
) -> Result<Option<sld::Filter>, Problem> {
    const KNOWN: &[&str] = &[
        "f",
        "limit",
        "offset",
        "bbox",
        "bbox-crs",
        "crs",
        "datetime",
        "apikey",
        "filter",
        "filter-lang",
        "filter-crs",
    ];
    let mut filters = Vec::new();
    for (name, value) in kvp.pairs() {
        if KNOWN.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            continue;
        }
        let Some(attribute) = feature_type
            .meta
            .attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        else {
            return Err(Problem::bad(format!(
                "unknown parameter '{name}': the parameters are {}, and the properties of {} ({})",
                KNOWN.join(", "),
                feature_type.name(),
                feature_type.attribute_list()
            )));
        };
        filters.push(sld::Filter::equal(&attribute.name, value));
    }
    if let Some(text) = kvp.non_empty("filter") {
        let crs = match kvp.non_empty("filter-crs") {
            None => Crs::crs84(),
            Some(c) => Crs::parse(c).map_err(|e| Problem::bad(format!("filter-crs={c}: {e}")))?,
        };
        let parsed = super::cql::parse(text, kvp.non_empty("filter-lang"), crs.code())
            .map_err(Problem::bad)?;
        super::filter::check_properties(&parsed, feature_type).map_err(|_| {
            Problem::bad(format!(
                "filter names a property {} does not have: its queryables are geom, {}",
                feature_type.name(),
                feature_type.attribute_list()
            ))
        })?;
        filters.push(parsed);
    }
    Ok(match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(sld::Filter::And {
            filters,
            pos: sld::Pos::default(),
        }),
    })
}

async fn items(
    View(layers): View,
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    items_inner(&state, &layers, &id, &kvp, &headers, None).await
}

async fn item(
    View(layers): View,
    State(state): State<AppState>,
    Path((id, feature)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let kvp = Kvp::parse_as_sent(query.as_deref());
    let fid = feature.parse::<i64>().map_err(|_| {
        Problem::not_found(format!(
            "no feature '{feature}' in collection '{id}': feature ids are numbers"
        ))
    })?;
    items_inner(&state, &layers, &id, &kvp, &headers, Some(fid)).await
}

async fn items_inner(
    state: &AppState,
    layers: &Arc<Layers>,
    id: &str,
    kvp: &Kvp,
    headers: &HeaderMap,
    fid: Option<i64>,
) -> Result<Response, Problem> {
    let html = wants_html(kvp, headers)?;
    let feature_type = feature_type(layers, id)?;
    let crs = output_crs(kvp, &feature_type)?;
    let max = state.config.wfs.count_default;
    let limit = whole(kvp, "limit", DEFAULT_LIMIT, 1)?.min(max);
    let offset = whole(kvp, "offset", 0, 0)?;
    let bbox = if fid.is_some() {
        None
    } else {
        bbox(kvp, &feature_type)?
    };
    let filter = if fid.is_some() {
        None
    } else {
        property_filter(kvp, &feature_type)?
            .map(|f| super::filter::localize(&f, &Crs::crs84(), &crs))
            .transpose()
            .map_err(|_| {
                Problem::bad("filter: a geometry cannot be brought into the answer's CRS")
            })?
    };
    let query = Query {
        types: vec![TypeQuery {
            name: feature_type.name().to_owned(),
            ids: fid.map(|f| vec![f]),
            attributes: None,
            crs: crs.clone(),
            filter,
        }],
        bbox,
        sort: Vec::new(),
        start: if fid.is_some() { 0 } else { offset },
        count: if fid.is_some() { 1 } else { limit },
        hits: false,
        format: Format::GeoJson,
        by_id: fid.is_some(),
        value_reference: None,
    };
    let matched = count_matches(layers, &query)
        .await
        .map_err(|error| Problem::internal("counting features", &std::io::Error::other(error)))?;
    let total: u64 = matched.iter().sum();
    if fid.is_some() && total == 0 {
        return Err(Problem::not_found(format!(
            "no feature {} in collection '{id}'",
            fid.unwrap_or_default()
        )));
    }
    let returned = query.count.min(total.saturating_sub(query.start));
    let here = format!("{}/collections/{id}/items", base(state, headers));
    let page = |kvp: &Kvp, offset: u64, f: &str| {
        let kvp = kvp
            .with("offset", &offset.to_string())
            .with("limit", &limit.to_string())
            .with("f", f);
        format!("{here}?{}", kvp.to_query())
    };
    let mut links = vec![
        link(&page(kvp, offset, "json"), "self", GEOJSON, "this page"),
        link(
            &page(kvp, offset, "html"),
            "alternate",
            "text/html",
            "this page as HTML",
        ),
        link(
            &format!("{}/collections/{id}", base(state, headers)),
            "collection",
            "application/json",
            "the collection",
        ),
    ];
    if fid.is_none() && offset + returned < total {
        links.push(link(
            &page(kvp, offset + returned, "json"),
            "next",
            GEOJSON,
            "next page",
        ));
    }
    if fid.is_none() && offset > 0 {
        links.push(link(
            &page(kvp, offset.saturating_sub(limit), "json"),
            "prev",
            GEOJSON,
            "previous page",
        ));
    }
    let content_crs = HeaderValue::from_str(&format!("<{}>", crs.uri())).unwrap_or_else(|_| {
        HeaderValue::from_static("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>")
    });
    if html {
        return Ok(html_items(layers, &query, &matched, &feature_type, &links).await);
    }
    let json_north_east = crs.axis_order() == AxisOrder::NorthEast;
    let summary = Summary {
        matched: total,
        returned,
        hits: false,
        value_reference: None,
        next: None,
        previous: None,
        schema_location: String::new(),
        crs_urn: crs.urn(),
        north_east: json_north_east,
        ogc_api: Some(OgcApiTail {
            links,
            json_north_east,
        }),
    };
    let mut response = stream_answer(layers, query, matched, summary, GEOJSON);
    response.headers_mut().insert("content-crs", content_crs);
    Ok(response)
}

/// The features of a page as an HTML table.
async fn html_items(
    layers: &Arc<Layers>,
    query: &Query,
    matched: &[u64],
    feature_type: &FeatureType<'_>,
    links: &[Value],
) -> Response {
    let summary = Summary {
        matched: matched.iter().sum(),
        returned: query.count,
        hits: false,
        value_reference: None,
        next: None,
        previous: None,
        schema_location: String::new(),
        crs_urn: String::new(),
        north_east: false,
        ogc_api: Some(OgcApiTail::default()),
    };
    // Read the page as GeoJSON, then lay it out.
    let response = stream_answer(layers, query.clone(), matched.to_vec(), summary, GEOJSON);
    let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap_or_default();
    let collection: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut columns: Vec<String> = feature_type
        .meta
        .attributes
        .iter()
        .map(|a| a.name.clone())
        .collect();
    columns.insert(0, "id".to_owned());
    let mut rows = Vec::new();
    for feature in collection["features"].as_array().into_iter().flatten() {
        let mut cells = BTreeMap::new();
        cells.insert("id".to_owned(), feature["id"].to_string());
        for (k, v) in feature["properties"].as_object().into_iter().flatten() {
            cells.insert(
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            );
        }
        rows.push(cells);
    }
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1>\n<p>{1} of {2} features</p>\n<ul>",
        xml_escape(&feature_type.layer.title),
        rows.len(),
        collection["numberMatched"]
    );
    for l in links {
        let _ = write!(
            page,
            "<li><a href=\"{}\">{}</a></li>",
            xml_escape(l["href"].as_str().unwrap_or_default()),
            xml_escape(l["title"].as_str().unwrap_or_default())
        );
    }
    page.push_str("</ul>\n<table border=\"1\"><tr>");
    for c in &columns {
        let _ = write!(page, "<th>{}</th>", xml_escape(c));
    }
    page.push_str("</tr>\n");
    for row in rows {
        page.push_str("<tr>");
        for c in &columns {
            let _ = write!(
                page,
                "<td>{}</td>",
                xml_escape(row.get(c).map_or("", String::as_str))
            );
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table></body></html>\n");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// `GET /ogcapi/collections/{id}/queryables` (Part 3): the properties filters may use, as a
/// JSON Schema.
async fn queryables(
    View(layers): View,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let feature_type = feature_type(&layers, &id)?;
    let mut properties = serde_json::Map::new();
    properties.insert(
        super::schema::GEOMETRY_PROPERTY.to_owned(),
        json!({"title": "geometry", "format": "geometry-any"}),
    );
    for attribute in &feature_type.meta.attributes {
        let kind = match attribute.ty {
            vectorstore::AttributeType::Integer => json!({"type": "integer"}),
            vectorstore::AttributeType::Real => json!({"type": "number"}),
            vectorstore::AttributeType::Boolean => json!({"type": "boolean"}),
            vectorstore::AttributeType::Date => json!({"type": "string", "format": "date"}),
            vectorstore::AttributeType::DateTime => {
                json!({"type": "string", "format": "date-time"})
            }
            vectorstore::AttributeType::Text | vectorstore::AttributeType::Blob => {
                json!({"type": "string"})
            }
        };
        let mut kind = kind;
        kind["title"] = json!(attribute.name);
        properties.insert(attribute.name.clone(), kind);
    }
    let here = format!("{}/collections/{id}/queryables", base(&state, &headers));
    Ok((
        [(header::CONTENT_TYPE, "application/schema+json")],
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": here,
            "type": "object",
            "title": feature_type.layer.title,
            "properties": properties,
            "additionalProperties": false,
        })
        .to_string(),
    )
        .into_response())
}

/// The paths OGC API – Features adds to the OpenAPI document: each feature type's items
/// (its properties as query parameters), one item, and queryables.
pub fn openapi_paths(features: &Layers, most: u64, paths: &mut serde_json::Map<String, Value>) {
    let f = openapi::f(&["json", "html"]);
    let error = openapi::problem();
    for feature_type in features.iter().filter_map(|l| FeatureType::of(l)) {
        let id = feature_type.name();
        let mut item_parameters = vec![
            f.clone(),
            openapi::query(
                "limit",
                "most features in a page",
                json!({"type": "integer", "minimum": 1, "maximum": most, "default": DEFAULT_LIMIT}),
            ),
            openapi::query(
                "offset",
                "features skipped",
                json!({"type": "integer", "minimum": 0, "default": 0}),
            ),
            openapi::query(
                "bbox",
                "features meeting this box (bbox-crs, CRS84 by default)",
                json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
            ),
            openapi::query(
                "bbox-crs",
                "the CRS of bbox",
                json!({"type": "string", "format": "uri", "enum": crs_uris(&feature_type)}),
            ),
            openapi::query(
                "crs",
                "the CRS of the answer",
                json!({"type": "string", "format": "uri", "enum": crs_uris(&feature_type)}),
            ),
            openapi::query(
                "datetime",
                "accepted; the collections have no time",
                json!({"type": "string"}),
            ),
            openapi::query(
                "filter",
                "a CQL2 filter (text or JSON)",
                json!({"type": "string"}),
            ),
            openapi::query(
                "filter-lang",
                "the language of filter",
                json!({"type": "string", "enum": ["cql2-text", "cql2-json"]}),
            ),
        ];
        for attribute in &feature_type.meta.attributes {
            item_parameters.push(openapi::query(
                &attribute.name,
                "features whose property equals this value",
                json!({"type": "string"}),
            ));
        }
        paths.insert(
            format!("/collections/{id}/items"),
            openapi::get(
                &format!("features of {id}"),
                &format!("getFeatures_{id}"),
                item_parameters,
                json!({
                    "200": {"description": "a page of features", "content": {GEOJSON: {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}},
                    "400": error, "404": error
                }),
            ),
        );
        paths.insert(
            format!("/collections/{id}/queryables"),
            openapi::get(
                &format!("queryables of {id}"),
                &format!("getQueryables_{id}"),
                Vec::new(),
                json!({
                    "200": {"description": "the properties filters may use (JSON Schema)", "content": {"application/schema+json": {"schema": {"type": "object"}}}},
                    "404": error
                }),
            ),
        );
        paths.insert(
            format!("/collections/{id}/items/{{featureId}}"),
            openapi::get(
                &format!("one feature of {id}"),
                &format!("getFeature_{id}"),
                vec![
                    openapi::path("featureId", "the feature's id", json!({"type": "integer"})),
                    f.clone(),
                    openapi::query(
                        "crs",
                        "the CRS of the answer",
                        json!({"type": "string", "format": "uri"}),
                    ),
                ],
                json!({
                    "200": {"description": "the feature", "content": {GEOJSON: {"schema": {"type": "object"}}}},
                    "404": error
                }),
            ),
        );
    }
}

/// What OGC API – Features adds to a collection: `itemType`, its CRSs and links to its items
/// (`None` when the layer is not a feature type the request may see).
pub fn collection_part(features: &Layers, id: &str, here: &str) -> Option<FeaturesPart> {
    let feature_type = FeatureType::of(features.get(id)?)?;
    Some(FeaturesPart {
        crs: crs_uris(&feature_type),
        storage_crs: feature_type.layer.crs().uri(),
        links: vec![
            link(
                &format!("{here}/items?f=json"),
                "items",
                GEOJSON,
                "the features",
            ),
            link(
                &format!("{here}/items?f=html"),
                "items",
                "text/html",
                "the features as HTML",
            ),
            link(
                &format!("{here}/queryables"),
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "the properties filters may use",
            ),
        ],
    })
}

/// See [`collection_part`].
#[derive(Debug)]
pub struct FeaturesPart {
    /// The CRSs features are served in, CRS84 first.
    pub crs: Vec<String>,
    /// The CRS the features are stored in.
    pub storage_crs: String,
    /// Links to the items.
    pub links: Vec<Value>,
}
