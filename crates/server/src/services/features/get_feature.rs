//! GetFeature: which features (types, BBOX, RESOURCEID, the GetFeatureById stored query), in
//! which order (SORTBY), which page (STARTINDEX, COUNT capped by `wfs.count_default`), which
//! properties (PROPERTYNAME), in which CRS (SRSNAME) and format (OUTPUTFORMAT), or only how
//! many (RESULTTYPE=hits).
//!
//! Every parameter is checked before the first byte is written, so that a mistake is an
//! exception naming the parameter. The features are then counted (the GML root carries
//! `numberMatched` and `numberReturned`), and streamed.

use std::io::Write;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use crs::{Bbox, Crs};

use super::capabilities::{output_format, GET_FEATURE_BY_ID};
use super::encode::{self, Format, Summary};
use super::filter::{self, Candidate, Operands};
use super::protocol::{Version, PREFIX};
use super::schema::requested_types;
use super::schema::FeatureType;
use super::stream;
use crate::layers::Layers;
use crate::services::ogc::{self, Kvp, OwsCode, OwsException};
use crate::state::AppState;

/// One feature type's part of a query, owned (it runs on a blocking thread).
#[derive(Debug, Clone)]
pub struct TypeQuery {
    /// The feature type.
    pub name: String,
    /// Only these feature numbers.
    pub ids: Option<Vec<i64>>,
    /// Only these properties (`None`: all).
    pub attributes: Option<Vec<String>>,
    /// The CRS of the answer.
    pub crs: Crs,
    /// A filter, in `crs`, x/y.
    pub filter: Option<sld::Filter>,
}

/// A checked query.
#[derive(Debug, Clone)]
pub struct Query {
    /// Its feature types, in order.
    pub types: Vec<TypeQuery>,
    /// Only features meeting this box (in that CRS).
    pub bbox: Option<(Bbox, Crs)>,
    /// The order (property, ascending), then feature number.
    pub sort: Vec<(String, bool)>,
    /// Features skipped.
    pub start: u64,
    /// Most features answered.
    pub count: u64,
    /// Only the number.
    pub hits: bool,
    /// The document.
    pub format: Format,
    /// GetFeatureById: the feature alone, 404 when absent.
    pub by_id: bool,
    /// GetPropertyValue: the property whose values are answered (`None`: the geometry).
    pub value_reference: Option<String>,
}

/// How many features of each type `query` selects, counted off the event loop.
pub async fn count_matches(layers: &Arc<Layers>, query: &Query) -> Result<Vec<u64>, String> {
    let layers = Arc::clone(layers);
    let query = query.clone();
    match tokio::task::spawn_blocking(move || count(&layers, &query)).await {
        Ok(Ok(matched)) => Ok(matched),
        Ok(Err(error)) => Err(vectorstore::error_chain(&error)),
        Err(error) => Err(error.to_string()),
    }
}

/// The answer, streamed from a blocking task as the features are read.
pub fn stream_answer(
    layers: &Arc<Layers>,
    query: Query,
    matched: Vec<u64>,
    summary: Summary,
    content_type: &'static str,
) -> Response {
    let (writer, chunks) = stream::channel();
    let layers = Arc::clone(layers);
    tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        match write_answer(&mut writer, &layers, &query, &matched, &summary) {
            Ok(()) => {
                let _ = writer.finish();
            }
            Err(WriteError::ClientGone) => {
                tracing::info!("feature answer stopped: the client closed the connection");
            }
            Err(WriteError::Store(error)) => {
                tracing::error!(error = %vectorstore::error_chain(&error), "reading features failed mid-answer");
                writer.fail("reading features failed");
            }
        }
    });
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        Body::from_stream(chunks),
    )
        .into_response()
}

pub async fn answer(
    state: &AppState,
    layers: &Arc<Layers>,
    kvp: &Kvp,
    version: Version,
    headers: &HeaderMap,
) -> Result<Response, OwsException> {
    let query = parse(state, layers, kvp, version)?;
    let base = ogc::base_url(state.config.server.public_url.as_deref(), headers);
    let matched = count_matches(layers, &query).await.map_err(|error| {
        OwsException::internal("counting features", &std::io::Error::other(error))
    })?;
    let total: u64 = matched.iter().sum();
    let returned = if query.hits {
        0
    } else {
        query.count.min(total.saturating_sub(query.start))
    };
    if query.by_id && total == 0 {
        return Err(
            OwsException::invalid("ID", "no feature has this identifier")
                .with_status(StatusCode::NOT_FOUND),
        );
    }
    let page_end = query.start + returned;
    let link = |start: u64| {
        let kvp = kvp
            .with("STARTINDEX", &start.to_string())
            .with("COUNT", &query.count.to_string());
        format!("{base}/wfs?{}", kvp.to_query())
    };
    let type_names = query
        .types
        .iter()
        .map(|t| format!("{PREFIX}:{}", t.name))
        .collect::<Vec<_>>()
        .join(",");
    let schema_query = form_urlencoded::Serializer::new(String::new())
        .append_pair("SERVICE", "WFS")
        .append_pair("VERSION", version.as_str())
        .append_pair("REQUEST", "DescribeFeatureType")
        .append_pair("TYPENAMES", &type_names)
        .finish();
    let first_crs = query
        .types
        .first()
        .map_or_else(Crs::wgs84, |t| t.crs.clone());
    let summary = Summary {
        matched: total,
        returned,
        hits: query.hits,
        value_reference: query.value_reference.clone(),
        next: (!query.hits && !query.by_id && page_end < total).then(|| link(page_end)),
        previous: (!query.hits && !query.by_id && query.start > 0)
            .then(|| link(query.start.saturating_sub(query.count))),
        schema_location: format!("{base}/wfs?{schema_query}"),
        crs_urn: first_crs.urn(),
        north_east: first_crs.axis_order() == crs::AxisOrder::NorthEast,
        ogc_api: None,
    };

    let content_type = query.format.content_type();
    Ok(stream_answer(layers, query, matched, summary, content_type))
}

enum WriteError {
    ClientGone,
    Store(vectorstore::VectorError),
}

impl From<std::io::Error> for WriteError {
    fn from(_: std::io::Error) -> WriteError {
        WriteError::ClientGone
    }
}

fn scan_of<'a>(
    feature_type: &'a FeatureType<'a>,
    type_query: &'a TypeQuery,
    query: &'a Query,
    attributes: &'a [&'a str],
    sort: &'a [(&'a str, bool)],
) -> vectorstore::Scan<'a> {
    vectorstore::Scan {
        layer: &feature_type.relation.table,
        bbox: query.bbox.as_ref().map(|(b, c)| (b, c)),
        crs: Some(&type_query.crs),
        // A filter may read any property: all are read, the unasked dropped after.
        attributes: type_query
            .attributes
            .as_ref()
            .filter(|_| type_query.filter.is_none())
            .map(|_| attributes),
        ids: type_query.ids.as_deref(),
        sort,
    }
}

fn count(layers: &Layers, query: &Query) -> Result<Vec<u64>, vectorstore::VectorError> {
    let mut matched = Vec::with_capacity(query.types.len());
    for type_query in &query.types {
        let Some(feature_type) = layers
            .get(&type_query.name)
            .and_then(|l| FeatureType::of(l))
        else {
            matched.push(0);
            continue;
        };
        let scan = scan_of(&feature_type, type_query, query, &[], &[]);
        match &type_query.filter {
            None => matched.push(feature_type.relation.store.count(&scan)?),
            Some(type_filter) => {
                let operands = Operands::default();
                let mut count = 0u64;
                feature_type.relation.store.scan(&scan, &mut |record| {
                    if passes(type_filter, &record, &type_query.name, &operands) {
                        count += 1;
                    }
                    ControlFlow::Continue(())
                })?;
                matched.push(count);
            }
        }
    }
    Ok(matched)
}

fn write_answer(
    out: &mut stream::ChunkWriter,
    layers: &Layers,
    query: &Query,
    matched: &[u64],
    summary: &Summary,
) -> Result<(), WriteError> {
    if !query.by_id {
        encode::start(out, query.format, summary)?;
    }
    let mut skip = query.start;
    let mut remaining = summary.returned;
    let mut first = true;
    for (type_query, &type_matched) in query.types.iter().zip(matched) {
        if remaining == 0 {
            break;
        }
        if skip >= type_matched {
            skip -= type_matched;
            continue;
        }
        let Some(feature_type) = layers
            .get(&type_query.name)
            .and_then(|l| FeatureType::of(l))
        else {
            continue;
        };
        let attributes: Vec<&str> = type_query
            .attributes
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let sort: Vec<(&str, bool)> = query.sort.iter().map(|(n, a)| (n.as_str(), *a)).collect();
        let scan = scan_of(&feature_type, type_query, query, &attributes, &sort);
        let type_summary = Summary {
            crs_urn: type_query.crs.urn(),
            north_east: type_query.crs.axis_order() == crs::AxisOrder::NorthEast,
            ..summary.clone()
        };
        let mut failed = None;
        let operands = Operands::default();
        let result = feature_type.relation.store.scan(&scan, &mut |mut record| {
            if let Some(type_filter) = &type_query.filter {
                if !passes(type_filter, &record, &type_query.name, &operands) {
                    return ControlFlow::Continue(());
                }
                if let Some(asked) = &type_query.attributes {
                    record
                        .properties
                        .retain(|(name, _)| asked.iter().any(|a| **a == **name));
                }
            }
            if skip > 0 {
                skip -= 1;
                return ControlFlow::Continue(());
            }
            let written = if query.by_id {
                single(out, query.format, &type_summary, &type_query.name, &record)
            } else {
                encode::feature(
                    out,
                    query.format,
                    &type_summary,
                    &type_query.name,
                    &record,
                    first,
                )
            };
            if let Err(error) = written {
                failed = Some(error);
                return ControlFlow::Break(());
            }
            first = false;
            remaining -= 1;
            if remaining == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if let Some(error) = failed {
            return Err(error.into());
        }
        result.map_err(WriteError::Store)?;
    }
    if !query.by_id {
        encode::end(out, query.format, summary)?;
    }
    Ok(())
}

/// Whether a record passes a filter.
fn passes(
    filter: &sld::Filter,
    record: &vectorstore::Record,
    type_name: &str,
    operands: &Operands,
) -> bool {
    filter.matches(&Candidate {
        record,
        id: format!("{type_name}.{}", record.fid),
        operands,
    })
}

/// GetFeatureById's answer: the feature alone.
fn single(
    out: &mut stream::ChunkWriter,
    format: Format,
    summary: &Summary,
    type_name: &str,
    record: &vectorstore::Record,
) -> std::io::Result<()> {
    match format {
        Format::GeoJson | Format::Values => {
            encode::feature(out, format, summary, type_name, record, true)
        }
        Format::Gml32 | Format::Gml311 => {
            // The member element's content, with the namespaces declared on the feature.
            let mut buffer = Vec::new();
            encode::feature(&mut buffer, format, summary, type_name, record, true)?;
            let text = String::from_utf8_lossy(&buffer);
            let start = text.find(&format!("<{PREFIX}:")).unwrap_or(0);
            let end = text.rfind("</").unwrap_or(text.len());
            let element = &text[start..end];
            let gml = if format == Format::Gml32 {
                "http://www.opengis.net/gml/3.2"
            } else {
                "http://www.opengis.net/gml"
            };
            let open_end = element.find(' ').unwrap_or(element.len());
            write!(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{} xmlns:{PREFIX}=\"{}\" xmlns:gml=\"{gml}\"{}\n",
                &element[..open_end],
                super::protocol::NAMESPACE,
                &element[open_end..]
            )
        }
    }
}

fn parse(
    state: &AppState,
    layers: &Layers,
    kvp: &Kvp,
    version: Version,
) -> Result<Query, OwsException> {
    let values = kvp
        .get("REQUEST")
        .is_some_and(|r| r.eq_ignore_ascii_case("GetPropertyValue"));
    let format = match kvp.non_empty("OUTPUTFORMAT") {
        _ if values => Format::Values,
        None => match version {
            Version::V200 => Format::Gml32,
            Version::V110 => Format::Gml311,
        },
        Some(text) => output_format(text, version).ok_or_else(|| {
            OwsException::invalid(
                "OUTPUTFORMAT",
                format!(
                    "OUTPUTFORMAT={text} is not served: use {}",
                    super::capabilities::output_formats(version).join(", ")
                ),
            )
        })?,
    };
    if let Some(language) = kvp.non_empty("FILTER_LANGUAGE") {
        if !language.contains("OGC-FES") && !language.eq_ignore_ascii_case("fes") {
            return Err(OwsException::new(
                OwsCode::OptionNotSupported,
                "FILTER_LANGUAGE",
                format!("FILTER_LANGUAGE={language} is not supported: send Filter Encoding (urn:ogc:def:query:Language:OGC-FES:Filter)"),
            )
            .with_status(StatusCode::BAD_REQUEST));
        }
    }
    let parsed_filter = kvp.non_empty("FILTER").map(filter::parse).transpose()?;

    // Which features: a stored query, identifiers, or types.
    let mut by_id = false;
    let mut ids: Option<Vec<(String, i64)>> = None;
    if let Some(stored) = kvp.non_empty("STOREDQUERY_ID") {
        if stored != GET_FEATURE_BY_ID {
            return Err(OwsException::invalid(
                "STOREDQUERY_ID",
                format!("no stored query '{stored}': this WFS has {GET_FEATURE_BY_ID}"),
            ));
        }
        let id = kvp
            .non_empty("ID")
            .ok_or_else(|| OwsException::missing("ID", "GetFeatureById needs ID=type.number"))?;
        ids = Some(vec![parse_id(layers, id, "ID")?]);
        by_id = true;
    } else if let Some((locator, list)) = kvp
        .non_empty("RESOURCEID")
        .map(|l| ("RESOURCEID", l))
        .or_else(|| kvp.non_empty("FEATUREID").map(|l| ("FEATUREID", l)))
    {
        ids = Some(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|id| parse_id(layers, id, locator))
                .collect::<Result<_, _>>()?,
        );
    }
    let feature_types: Vec<FeatureType<'_>> = match &ids {
        Some(ids)
            if kvp.non_empty("TYPENAMES").is_none() && kvp.non_empty("TYPENAME").is_none() =>
        {
            let mut names: Vec<&str> = Vec::new();
            for (name, _) in ids {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
            names
                .iter()
                .filter_map(|n| layers.get(n).and_then(|l| FeatureType::of(l)))
                .collect()
        }
        _ => requested_types(layers, kvp, true)?,
    };

    let srs = match kvp.non_empty("SRSNAME") {
        None => None,
        Some(text) => Some(
            Crs::parse(text)
                .map_err(|e| OwsException::invalid("SRSNAME", format!("SRSNAME={text}: {e}")))?,
        ),
    };
    let bbox = match kvp.non_empty("BBOX") {
        None => None,
        Some(text) => Some(parse_bbox(text, feature_types.first())?),
    };
    let property_names: Option<Vec<String>> = kvp
        .non_empty("PROPERTYNAME")
        .map(|text| {
            text.split([',', '(', ')'])
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| n.rsplit_once(':').map_or(n, |(_, l)| l).to_owned())
                .collect::<Vec<String>>()
        })
        // `*` (OWSLib's default) is every property.
        .filter(|names| !names.iter().any(|n| n == "*"));
    let value_reference = if values {
        let text = kvp.non_empty("VALUEREFERENCE").ok_or_else(|| {
            OwsException::missing(
                "VALUEREFERENCE",
                "name the property whose values you want, e.g. VALUEREFERENCE=population",
            )
        })?;
        let local = text.trim().rsplit_once(':').map_or(text.trim(), |(_, l)| l);
        let local = local.trim_start_matches('@').to_owned();
        if local == super::schema::GEOMETRY_PROPERTY {
            Some(None)
        } else {
            for feature_type in &feature_types {
                if feature_type.meta.attribute(&local).is_none() {
                    return Err(OwsException::invalid(
                        "VALUEREFERENCE",
                        format!(
                            "{} has no property '{local}': its properties are {}, {}",
                            feature_type.qualified_name(),
                            super::schema::GEOMETRY_PROPERTY,
                            feature_type.attribute_list()
                        ),
                    ));
                }
            }
            Some(Some(local))
        }
    } else {
        None
    };
    let property_names = match &value_reference {
        Some(reference) => Some(reference.iter().cloned().collect()),
        None => property_names,
    };
    let sort = match kvp.non_empty("SORTBY") {
        None => Vec::new(),
        Some(text) => parse_sort(text)?,
    };

    let mut types = Vec::with_capacity(feature_types.len());
    for feature_type in &feature_types {
        let known = |name: &str| feature_type.meta.attribute(name).is_some();
        let attributes = match &property_names {
            None => None,
            Some(names) => {
                let mut kept = Vec::new();
                for name in names {
                    if name == super::schema::GEOMETRY_PROPERTY {
                        continue;
                    }
                    if !known(name) {
                        return Err(OwsException::invalid(
                            "PROPERTYNAME",
                            format!(
                                "{} has no property '{name}': its properties are {}, {}",
                                feature_type.qualified_name(),
                                super::schema::GEOMETRY_PROPERTY,
                                feature_type.attribute_list()
                            ),
                        ));
                    }
                    kept.push(name.clone());
                }
                Some(kept)
            }
        };
        for (name, _) in &sort {
            if !known(name) {
                return Err(OwsException::invalid(
                    "SORTBY",
                    format!(
                        "{} has no property '{name}' to sort by: its properties are {}",
                        feature_type.qualified_name(),
                        feature_type.attribute_list()
                    ),
                ));
            }
        }
        let type_ids = ids.as_ref().map(|ids| {
            ids.iter()
                .filter(|(n, _)| n == feature_type.name())
                .map(|(_, fid)| *fid)
                .collect()
        });
        let crs = srs
            .clone()
            .unwrap_or_else(|| feature_type.layer.crs().clone());
        let type_filter = match &parsed_filter {
            None => None,
            Some(parsed) => {
                filter::check_properties(parsed, feature_type)?;
                Some(filter::localize(parsed, feature_type.layer.crs(), &crs)?)
            }
        };
        types.push(TypeQuery {
            name: feature_type.name().to_owned(),
            ids: type_ids,
            attributes,
            crs,
            filter: type_filter,
        });
    }

    let count_default = state.config.wfs.count_default;
    let count_parameter = match version {
        Version::V200 => "COUNT",
        Version::V110 => "MAXFEATURES",
    };
    let count = match kvp
        .non_empty(count_parameter)
        .map(|v| (count_parameter, v))
        .or_else(|| kvp.non_empty("COUNT").map(|v| ("COUNT", v)))
        .or_else(|| kvp.non_empty("MAXFEATURES").map(|v| ("MAXFEATURES", v)))
    {
        None => count_default,
        Some((name, text)) => match text.trim().parse::<u64>() {
            Ok(n) if n >= 1 => n.min(count_default),
            _ => {
                return Err(OwsException::invalid(
                    name,
                    format!("{name}={text} is not a whole number of at least 1"),
                ))
            }
        },
    };
    let start = match kvp.non_empty("STARTINDEX") {
        None => 0,
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            OwsException::invalid(
                "STARTINDEX",
                format!("STARTINDEX={text} is not a whole number (0 for the first feature)"),
            )
        })?,
    };
    let hits = match kvp.non_empty("RESULTTYPE") {
        None => false,
        Some(t) if t.eq_ignore_ascii_case("results") => false,
        Some(t) if t.eq_ignore_ascii_case("hits") => true,
        Some(t) => {
            return Err(OwsException::invalid(
                "RESULTTYPE",
                format!("RESULTTYPE={t}: use results or hits"),
            ))
        }
    };
    Ok(Query {
        types,
        bbox,
        sort,
        start,
        count,
        hits,
        format,
        by_id: by_id && !values,
        value_reference: value_reference.flatten(),
    })
}

/// `countries.12` → (`countries`, 12).
fn parse_id(layers: &Layers, id: &str, locator: &str) -> Result<(String, i64), OwsException> {
    let invalid = || {
        OwsException::invalid(
            locator,
            format!("{locator}: '{id}' is not a feature identifier of this WFS (they read type.number, e.g. countries.12)"),
        )
    };
    let (name, number) = id.rsplit_once('.').ok_or_else(invalid)?;
    let name = name.rsplit_once(':').map_or(name, |(_, l)| l);
    let fid: i64 = number.parse().map_err(|_| invalid())?;
    if layers.get(name).and_then(|l| FeatureType::of(l)).is_none() {
        return Err(invalid());
    }
    Ok((name.to_owned(), fid))
}

/// `x1,y1,x2,y2[,crs]` in the CRS's axis order (the feature type's CRS when none is named).
fn parse_bbox(text: &str, first: Option<&FeatureType<'_>>) -> Result<(Bbox, Crs), OwsException> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.len() != 4 && parts.len() != 5 {
        return Err(OwsException::invalid(
            "BBOX",
            format!("BBOX={text}: give four numbers and an optional CRS, min then max corner"),
        ));
    }
    let mut values = [0.0; 4];
    for (value, part) in values.iter_mut().zip(&parts) {
        *value = part
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                OwsException::invalid(
                    "BBOX",
                    format!("BBOX={text}: '{part}' is not a finite number"),
                )
            })?;
    }
    let crs = match parts.get(4) {
        Some(code) => Crs::parse(code)
            .map_err(|e| OwsException::invalid("BBOX", format!("BBOX={text}: {e}")))?,
        None => first.map_or_else(Crs::wgs84, |t| t.layer.crs().clone()),
    };
    let bbox = Bbox::from_ogc(values, &crs).map_err(|e| {
        OwsException::invalid(
            "BBOX",
            format!("BBOX={text}: {e} (the minimum corner comes first)"),
        )
    })?;
    Ok((bbox, crs))
}

/// `name ASC,pop DESC` (also `name A`, `pop D`, and 1.1.0's `name+ASC`).
fn parse_sort(text: &str) -> Result<Vec<(String, bool)>, OwsException> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let mut words = item.split([' ', '+']).filter(|w| !w.is_empty());
            let name = words.next().unwrap_or_default();
            let name = name.rsplit_once(':').map_or(name, |(_, l)| l).to_owned();
            let ascending = match words.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC" | "A") => true,
                Some("DESC" | "D") => false,
                Some(other) => {
                    return Err(OwsException::invalid(
                        "SORTBY",
                        format!("SORTBY={text}: '{other}' is not an order: use ASC or DESC"),
                    ))
                }
            };
            Ok((name, ascending))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sort_orders_read_every_spelling() {
        assert_eq!(
            parse_sort("name ASC,tuilerie:pop DESC,area,code D").unwrap(),
            vec![
                ("name".to_owned(), true),
                ("pop".to_owned(), false),
                ("area".to_owned(), true),
                ("code".to_owned(), false)
            ]
        );
        assert!(parse_sort("name UP").is_err());
    }

    #[test]
    fn bboxes_follow_the_axis_order_of_their_crs() {
        let (bbox, crs) = parse_bbox("45,2,46,3,urn:ogc:def:crs:EPSG::4326", None).unwrap();
        assert_eq!(crs.epsg(), Some(4326));
        assert_eq!((bbox.min_x(), bbox.min_y()), (2.0, 45.0));
        let (bbox, _) = parse_bbox("2,45,3,46,CRS:84", None).unwrap();
        assert_eq!((bbox.min_x(), bbox.min_y()), (2.0, 45.0));
        for bad in [
            "1,2,3",
            "a,b,c,d",
            "1,2,3,NaN",
            "3,3,1,1,EPSG:3857",
            "1,2,3,4,EPSG:0",
        ] {
            assert!(parse_bbox(bad, None).is_err(), "{bad}");
        }
    }
}
