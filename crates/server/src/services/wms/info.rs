//! GetFeatureInfo: what is under a pixel of a map.
//!
//! Vector layers answer the features within `[wms] info_tolerance_px` pixels of the pixel's
//! centre, nearest first, with all their attributes; pyramid layers answer the stored value of
//! every band at that point, read from the level the map itself is drawn from (exact for
//! FLOAT32 pyramids). `application/json` is always a GeoJSON FeatureCollection in CRS:84 (QGIS
//! refuses anything else); `application/vnd.ogc.gml` is MapServer's `msGMLOutput`, which QGIS
//! and OWSLib read; `text/xml` is QGIS Server's `GetFeatureInfoResponse`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use crs::{Crs, Transformer};
use geo_types::Geometry;
use serde_json::{json, Value as Json};

use super::params::{parse_map, MapParams};
use super::protocol::{name_list, Code, Version, WmsError};
use super::runtime::Call;
use crate::layers::{Layer, LayerSource};
use crate::services::info_format::InfoFormat;
use crate::services::ogc::{xml_escape, Kvp};
use crate::services::render_pool::JobError;

/// One feature of the answer.
#[derive(Debug, Clone)]
struct InfoFeature {
    id: String,
    /// In the map's CRS.
    geometry: Option<Geometry<f64>>,
    properties: Vec<(String, Json)>,
}

/// The features of one queried layer.
#[derive(Debug, Clone)]
struct LayerResult {
    name: String,
    title: String,
    features: Vec<InfoFeature>,
}

pub async fn answer(call: Call<'_>) -> Result<Response, WmsError> {
    let (state, layers, kvp, version) = call.parts();
    let config = &state.config.wms;
    let layers_param = if kvp.non_empty("LAYERS").is_some() {
        "LAYERS"
    } else {
        "QUERY_LAYERS"
    };
    let defaulted;
    let kvp = if kvp.non_empty("FORMAT").is_none() {
        // FORMAT only matters to GetMap; GetFeatureInfo requests often leave it out.
        defaulted = kvp.with("FORMAT", "image/png");
        &defaulted
    } else {
        kvp
    };
    let map = parse_map(kvp, version, layers, config, layers_param)?;
    let queried = kvp.non_empty("QUERY_LAYERS").ok_or_else(|| {
        WmsError::missing(
            "QUERY_LAYERS",
            "name the layers to query, separated by commas",
        )
    })?;
    let mut query_layers: Vec<Arc<Layer>> = Vec::new();
    for name in queried.split(',').map(str::trim) {
        let layer = layers.get(name).ok_or_else(|| {
            WmsError::new(
                Code::LayerNotDefined,
                "QUERY_LAYERS",
                format!(
                    "layer '{name}' is not published here; the layers are {}",
                    name_list(layers.iter().map(|l| l.name.as_str()))
                ),
            )
        })?;
        if !layer.queryable() {
            return Err(WmsError::new(
                Code::LayerNotQueryable,
                "QUERY_LAYERS",
                format!(
                    "layer '{name}' does not answer GetFeatureInfo (queryable=\"0\" in the capabilities); queryable layers: {}",
                    name_list(layers.iter().filter(|l| l.queryable()).map(|l| l.name.as_str()))
                ),
            ));
        }
        query_layers.push(Arc::clone(layer));
    }
    let format = match kvp.non_empty("INFO_FORMAT") {
        None => InfoFormat::Text,
        Some(text) => InfoFormat::from_mime(text).ok_or_else(|| {
            WmsError::new(
                Code::InvalidFormat,
                "INFO_FORMAT",
                format!(
                    "INFO_FORMAT={text} is not offered; use one of {}",
                    InfoFormat::WMS.map(InfoFormat::mime).join(", ")
                ),
            )
        })?,
    };
    let (i_name, j_name) = match version {
        Version::V130 => ("I", "J"),
        Version::V111 => ("X", "Y"),
    };
    let i = pixel(kvp, i_name, ["I", "X"], map.width)?;
    let j = pixel(kvp, j_name, ["J", "Y"], map.height)?;
    let feature_count = match kvp.non_empty("FEATURE_COUNT") {
        None => 1,
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n.min(1000),
            _ => {
                return Err(WmsError::invalid(
                    "FEATURE_COUNT",
                    format!("FEATURE_COUNT={text} is not a whole number of at least 1"),
                ))
            }
        },
    };
    let tolerance_px = f64::from(config.info_tolerance_px);
    let map = Arc::new(map);
    let job_map = Arc::clone(&map);
    let results = state
        .wms
        .pool
        .run(move |_| query(&job_map, &query_layers, i, j, feature_count, tolerance_px))
        .await;
    let results = match results {
        Ok(Ok(results)) => results,
        Ok(Err(error)) => return Err(error),
        Err(JobError::Cancelled) => return Err(WmsError::cancelled()),
        Err(JobError::Busy(_)) => return Err(WmsError::busy()),
        Err(JobError::Panicked(p)) => return Err(WmsError::internal("GetFeatureInfo", &p)),
    };
    let body = match format {
        InfoFormat::Json => json_body(&results, &map.crs),
        InfoFormat::Text => text_body(&results),
        InfoFormat::Html => html_body(&results),
        InfoFormat::Xml => xml_body(&results),
        InfoFormat::Gml => gml_body(&results, &map.crs),
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response())
}

/// I/J (X/Y): a pixel inside the map.
fn pixel(kvp: &Kvp, name: &'static str, aliases: [&str; 2], size: u32) -> Result<u32, WmsError> {
    let text = kvp
        .non_empty(name)
        .or_else(|| aliases.iter().find_map(|a| kvp.non_empty(a)))
        .ok_or_else(|| {
            WmsError::missing(name, "give the queried pixel: I and J in 1.3.0, X and Y in 1.1.1, counted from the top-left corner")
        })?;
    // Some clients send pixel positions as decimals ("128.0").
    let value = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < f64::from(size))
        .ok_or_else(|| {
            WmsError::new(
                Code::InvalidPoint,
                name,
                format!(
                    "{name}={text} is not a pixel of the map: use a whole number from 0 to {}",
                    size - 1
                ),
            )
        })?;
    Ok(value.floor() as u32)
}

fn query(
    map: &MapParams,
    layers: &[Arc<Layer>],
    i: u32,
    j: u32,
    feature_count: usize,
    tolerance_px: f64,
) -> Result<Vec<LayerResult>, WmsError> {
    let res_x = map.bbox.width() / f64::from(map.width);
    let res_y = map.bbox.height() / f64::from(map.height);
    let x = map.bbox.min_x() + (f64::from(i) + 0.5) * res_x;
    let y = map.bbox.max_y() - (f64::from(j) + 0.5) * res_y;
    let mut results = Vec::with_capacity(layers.len());
    for layer in layers {
        let features = match &layer.source {
            LayerSource::Vector(vector) => {
                // Half a pixel, so that clicking a pixel finds what is drawn in it, plus the
                // tolerance.
                let tolerance = (tolerance_px + 0.5) * res_x.max(res_y);
                let near = vector
                    .features_at(x, y, &map.crs, tolerance, feature_count)
                    .map_err(|e| WmsError::internal("GetFeatureInfo on a vector layer", &e))?;
                near.into_iter()
                    .map(|n| InfoFeature {
                        id: format!("{}.{}", layer.name, n.feature.fid),
                        geometry: Some(n.feature.geometry),
                        properties: n
                            .feature
                            .properties
                            .iter()
                            .map(|(k, v)| (k.to_string(), value_json(v)))
                            .collect(),
                    })
                    .collect()
            }
            LayerSource::Pyramid(pyramid) => {
                let request = pyramid::WarpRequest {
                    crs: &map.crs,
                    bbox: &map.bbox,
                    width: map.width,
                    height: map.height,
                    interpolation: pyramid::Interpolation::Nearest,
                    levels: pyramid.levels.clone(),
                };
                let value = pyramid
                    .pyramid
                    .value_at(&request, i, j)
                    .map_err(|e| WmsError::internal("GetFeatureInfo on a pyramid", &e))?;
                match value {
                    Some(value) if !value.values.is_empty() => {
                        let sample_type = pyramid.pyramid.format().sample_type();
                        let number = |v: f64| crate::services::tiles::json_value(sample_type, v);
                        let mut properties: Vec<(String, Json)> = value
                            .values
                            .iter()
                            .enumerate()
                            .map(|(k, v)| (format!("band_{}", k + 1), number(*v)))
                            .collect();
                        properties.push((
                            "pixel".to_owned(),
                            Json::Array(value.values.iter().map(|v| number(*v)).collect()),
                        ));
                        properties.push(("level".to_owned(), Json::String(value.level)));
                        vec![InfoFeature {
                            id: layer.name.clone(),
                            geometry: Some(Geometry::Point(geo_types::Point::new(x, y))),
                            properties,
                        }]
                    }
                    _ => Vec::new(),
                }
            }
        };
        results.push(LayerResult {
            name: layer.name.clone(),
            title: layer.title.clone(),
            features,
        });
    }
    Ok(results)
}

fn value_json(value: &vectorstore::Value) -> Json {
    match value {
        vectorstore::Value::Null => Json::Null,
        vectorstore::Value::Bool(b) => Json::Bool(*b),
        vectorstore::Value::Integer(i) => json!(i),
        vectorstore::Value::Real(r) => {
            serde_json::Number::from_f64(*r).map_or(Json::Null, Json::Number)
        }
        vectorstore::Value::Text(t) => Json::String(t.clone()),
        vectorstore::Value::Blob(b) => Json::String(format!("<{} bytes>", b.len())),
    }
}

/// A property as text (strings without quotes).
fn display(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(display).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

fn json_body(results: &[LayerResult], crs: &Crs) -> String {
    let to_wgs84 = Transformer::new(crs, &Crs::crs84()).ok();
    let features: Vec<Json> = results
        .iter()
        .flat_map(|r| {
            r.features.iter().map(|f| {
                let mut properties = serde_json::Map::new();
                for (k, v) in &f.properties {
                    properties.insert(k.clone(), v.clone());
                }
                let geometry = match (&f.geometry, &to_wgs84) {
                    (Some(g), Some(t)) => geometry_json(g, t),
                    _ => Json::Null,
                };
                json!({
                    "type": "Feature",
                    "id": f.id,
                    "layer": r.name,
                    "geometry": geometry,
                    "properties": properties,
                })
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

/// A geometry as GeoJSON, reprojected (coordinates rounded to 1e-7°, ~1 cm).
fn geometry_json(geometry: &Geometry<f64>, to: &Transformer) -> Json {
    let point = |c: geo_types::Coord<f64>| -> Json {
        let (x, y) = to.transform_point(c.x, c.y).unwrap_or((f64::NAN, f64::NAN));
        let round = |v: f64| (v * 1e7).round() / 1e7;
        if x.is_finite() && y.is_finite() {
            json!([round(x), round(y)])
        } else {
            Json::Null
        }
    };
    let line = |l: &geo_types::LineString<f64>| -> Json { l.0.iter().map(|c| point(*c)).collect() };
    let polygon = |p: &geo_types::Polygon<f64>| -> Json {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .map(line)
            .collect()
    };
    match geometry {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": point(p.0)}),
        Geometry::MultiPoint(m) => {
            json!({"type": "MultiPoint", "coordinates": m.0.iter().map(|p| point(p.0)).collect::<Vec<_>>()})
        }
        Geometry::Line(l) => {
            json!({"type": "LineString", "coordinates": [point(l.start), point(l.end)]})
        }
        Geometry::LineString(l) => json!({"type": "LineString", "coordinates": line(l)}),
        Geometry::MultiLineString(m) => {
            json!({"type": "MultiLineString", "coordinates": m.0.iter().map(line).collect::<Vec<_>>()})
        }
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": polygon(p)}),
        Geometry::MultiPolygon(m) => {
            json!({"type": "MultiPolygon", "coordinates": m.0.iter().map(polygon).collect::<Vec<_>>()})
        }
        Geometry::Rect(r) => json!({"type": "Polygon", "coordinates": polygon(&r.to_polygon())}),
        Geometry::Triangle(t) => {
            json!({"type": "Polygon", "coordinates": polygon(&t.to_polygon())})
        }
        Geometry::GeometryCollection(c) => json!({
            "type": "GeometryCollection",
            "geometries": c.0.iter().map(|g| geometry_json(g, to)).collect::<Vec<_>>()
        }),
    }
}

fn text_body(results: &[LayerResult]) -> String {
    let mut text = String::from("GetFeatureInfo results:\n");
    for r in results {
        let _ = writeln!(text, "\nLayer '{}'", r.name);
        if r.features.is_empty() {
            text.push_str("  no feature here\n");
        }
        for f in &r.features {
            let _ = writeln!(text, "  Feature {}:", f.id);
            for (k, v) in &f.properties {
                let _ = writeln!(text, "    {k} = {}", display(v));
            }
        }
    }
    text
}

fn html_body(results: &[LayerResult]) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>GetFeatureInfo</title>\n\
         <style>table{border-collapse:collapse;margin:4px 0}th,td{border:1px solid #bbb;padding:2px 6px;font:12px sans-serif}caption{font:bold 13px sans-serif;text-align:left}</style>\n\
         </head><body>\n",
    );
    for r in results {
        let _ = writeln!(html, "<table>\n<caption>{}</caption>", xml_escape(&r.title));
        if r.features.is_empty() {
            html.push_str("<tr><td>no feature here</td></tr>\n</table>\n");
            continue;
        }
        html.push_str("<tr>");
        for (k, _) in &r.features[0].properties {
            let _ = write!(html, "<th>{}</th>", xml_escape(k));
        }
        html.push_str("</tr>\n");
        for f in &r.features {
            html.push_str("<tr>");
            for (_, v) in &f.properties {
                let _ = write!(html, "<td>{}</td>", xml_escape(&display(v)));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

fn xml_body(results: &[LayerResult]) -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetFeatureInfoResponse>\n");
    for r in results {
        let _ = writeln!(xml, "  <Layer name=\"{}\">", xml_escape(&r.name));
        for f in &r.features {
            let _ = writeln!(xml, "    <Feature id=\"{}\">", xml_escape(&f.id));
            for (k, v) in &f.properties {
                let _ = writeln!(
                    xml,
                    "      <Attribute name=\"{}\" value=\"{}\"/>",
                    xml_escape(k),
                    xml_escape(&display(v))
                );
            }
            xml.push_str("    </Feature>\n");
        }
        xml.push_str("  </Layer>\n");
    }
    xml.push_str("</GetFeatureInfoResponse>\n");
    xml
}

/// A name usable as an XML element name.
fn element_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

fn gml_body(results: &[LayerResult], crs: &Crs) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <msGMLOutput xmlns:gml=\"http://www.opengis.net/gml\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
    );
    for r in results {
        let name = element_name(&r.name);
        let _ = writeln!(
            xml,
            "  <{name}_layer>\n    <gml:name>{}</gml:name>",
            xml_escape(&r.title)
        );
        for f in &r.features {
            let _ = writeln!(xml, "    <{name}_feature>");
            if let Some(bbox) = f
                .geometry
                .as_ref()
                .and_then(geo::BoundingRect::bounding_rect)
            {
                let _ = writeln!(
                    xml,
                    "      <gml:boundedBy><gml:Box srsName=\"{}\"><gml:coordinates>{},{} {},{}</gml:coordinates></gml:Box></gml:boundedBy>",
                    xml_escape(crs.code()),
                    bbox.min().x,
                    bbox.min().y,
                    bbox.max().x,
                    bbox.max().y
                );
            }
            for (k, v) in &f.properties {
                let k = element_name(k);
                let _ = writeln!(xml, "      <{k}>{}</{k}>", xml_escape(&display(v)));
            }
            let _ = writeln!(xml, "    </{name}_feature>");
        }
        let _ = writeln!(xml, "  </{name}_layer>");
    }
    xml.push_str("</msGMLOutput>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_names_are_valid_xml_names() {
        assert_eq!(element_name("communes"), "communes");
        assert_eq!(element_name("1st layer"), "_1st_layer");
        assert_eq!(element_name("a<b"), "a_b");
    }
}
