//! GetFeatureInfo answers for pixel values, in the formats clients ask for.
//!
//! `application/json` is always a GeoJSON FeatureCollection (QGIS refuses anything else): one
//! Feature at the queried pixel's centre (in CRS:84), whose properties hold each band as
//! `band_1`… and all of them as `pixel`, as ROK4 answers; no feature where there is no data.

use std::fmt::Write as _;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use crs::{Crs, Transformer};
use serde_json::json;

use crate::layers::{Layer, PyramidLayer};
use crate::services::info_format::InfoFormat;
use crate::services::ogc::xml_escape;
use crate::services::tiles::{format_value, json_value};

/// The answer for the pixel values of a pyramid layer at a point `(x, y)` of its CRS.
pub fn pixel_answer(
    layer: &Layer,
    pyramid: &PyramidLayer,
    values: Option<&[f64]>,
    (x, y): (f64, f64),
    format: InfoFormat,
) -> Response {
    let sample_type = pyramid.pyramid.format().sample_type();
    let body = match format {
        InfoFormat::Json => {
            let features = match values {
                None => Vec::new(),
                Some(values) => {
                    let point = Transformer::new(pyramid.tile_matrix_set().crs(), &Crs::crs84())
                        .and_then(|t| t.transform_point(x, y))
                        .ok();
                    let mut properties = serde_json::Map::new();
                    for (k, v) in values.iter().enumerate() {
                        properties.insert(format!("band_{}", k + 1), json_value(sample_type, *v));
                    }
                    properties.insert(
                        "pixel".to_owned(),
                        values.iter().map(|v| json_value(sample_type, *v)).collect(),
                    );
                    vec![json!({
                        "type": "Feature",
                        "id": layer.name,
                        "geometry": point.map(|(lon, lat)| json!({"type": "Point", "coordinates": [lon, lat]})),
                        "properties": properties,
                    })]
                }
            };
            json!({"type": "FeatureCollection", "features": features}).to_string()
        }
        InfoFormat::Text => {
            let mut text = format!("Layer '{}'\n", layer.name);
            match values {
                None => text.push_str("no data\n"),
                Some(values) => {
                    for (k, v) in values.iter().enumerate() {
                        let _ =
                            writeln!(text, "band_{} = {}", k + 1, format_value(sample_type, *v));
                    }
                }
            }
            text
        }
        InfoFormat::Html => {
            let mut html = format!(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body>\n<table>\n<caption>{0}</caption>\n",
                xml_escape(&layer.title)
            );
            match values {
                None => html.push_str("<tr><td>no data</td></tr>\n"),
                Some(values) => {
                    for (k, v) in values.iter().enumerate() {
                        let _ = writeln!(
                            html,
                            "<tr><th>band_{}</th><td>{}</td></tr>",
                            k + 1,
                            format_value(sample_type, *v)
                        );
                    }
                }
            }
            html.push_str("</table>\n</body></html>\n");
            html
        }
        InfoFormat::Xml | InfoFormat::Gml => {
            let mut xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FeatureInfoResponse>\n  <FeatureInfo layer=\"{}\" x=\"{x}\" y=\"{y}\">\n",
                xml_escape(&layer.name)
            );
            if let Some(values) = values {
                for (k, v) in values.iter().enumerate() {
                    let _ = writeln!(
                        xml,
                        "    <band_{0}>{1}</band_{0}>",
                        k + 1,
                        format_value(sample_type, *v)
                    );
                }
            }
            xml.push_str("  </FeatureInfo>\n</FeatureInfoResponse>\n");
            xml
        }
    };
    let content_type = format.content_type();

    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}
