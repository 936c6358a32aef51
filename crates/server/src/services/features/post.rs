//! WFS requests in XML (`POST /wfs`): read into the same parameters as the KVP encoding, so
//! that one code path answers both. `GetFeature` with `wfs:Query` (typeNames, srsName,
//! PropertyName, fes:Filter, fes:SortBy) or `wfs:StoredQuery`, `DescribeFeatureType`,
//! `GetCapabilities` and the stored-query listings.
//!
//! The filter is handed on as text: its element cut out of the body, with the namespace
//! declarations of its ancestors copied onto it so that it stands alone. A DOCTYPE is refused
//! (as styles refuse it); the body is bounded by [`MAX_BODY_BYTES`].

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::services::ogc::{Kvp, OwsCode, OwsException};

/// The largest XML request read.
pub const MAX_BODY_BYTES: usize = 1 << 20;

fn parsing(message: impl Into<String>) -> OwsException {
    OwsException::new(OwsCode::OperationParsingFailed, "request", message)
}

fn local(name: &str) -> String {
    name.rsplit_once(':').map_or(name, |(_, l)| l).to_owned()
}

fn attributes(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, OwsException> {
    let mut out = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| parsing(format!("a malformed attribute: {e}")))?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| {
                parsing(format!(
                    "a malformed attribute value: {e} (only the five predefined entities and character references are allowed)"
                ))
            })?;
        out.push((
            AsRef::<str>::as_ref(&attribute.key).to_owned(),
            value.into_owned(),
        ));
    }
    Ok(out)
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(k, _)| local(k).eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The parameters of an XML request.
pub fn read(body: &str) -> Result<Kvp, OwsException> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut type_names: Vec<String> = Vec::new();
    let mut properties: Vec<String> = Vec::new();
    let mut sort: Vec<String> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    // Open elements: local name and namespace declarations.
    let mut stack: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut text = String::new();
    let mut filter_start: Option<usize> = None;
    let mut filter_depth = 0usize;
    let mut filter_namespaces: Vec<(String, String)> = Vec::new();
    let mut parameter: Option<String> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader
            .read_event()
            .map_err(|e| parsing(format!("malformed XML at byte {before}: {e}")))?;
        match event {
            Event::DocType(_) => {
                return Err(parsing(
                    "a DOCTYPE declaration is not allowed (DTDs and external entities are refused for safety)",
                ))
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local(AsRef::<str>::as_ref(&start.name()));
                let attrs = attributes(start)?;
                let namespaces: Vec<(String, String)> = attrs
                    .iter()
                    .filter(|(k, _)| k == "xmlns" || k.starts_with("xmlns:"))
                    .cloned()
                    .collect();
                if stack.is_empty() {
                    pairs.push(("REQUEST".to_owned(), name.clone()));
                    for (key, parameter) in [
                        ("service", "SERVICE"),
                        ("version", "VERSION"),
                        ("outputFormat", "OUTPUTFORMAT"),
                        ("count", "COUNT"),
                        ("maxFeatures", "MAXFEATURES"),
                        ("startIndex", "STARTINDEX"),
                        ("resultType", "RESULTTYPE"),
                        ("valueReference", "VALUEREFERENCE"),
                    ] {
                        if let Some(value) = attribute(&attrs, key) {
                            pairs.push((parameter.to_owned(), value.to_owned()));
                        }
                    }
                }
                if filter_start.is_none() && name == "Filter" {
                    // The position is that of the previous event's end: skip to the tag.
                    filter_start = Some(before + body[before..].find('<').unwrap_or(0));
                    filter_depth = stack.len();
                    filter_namespaces = stack
                        .iter()
                        .flat_map(|(_, ns)| ns.iter().cloned())
                        .filter(|(k, _)| !namespaces.iter().any(|(n, _)| n == k))
                        .collect();
                }
                match name.as_str() {
                    "Query" if filter_start.is_none() => {
                        if let Some(names) = attribute(&attrs, "typeNames")
                            .or_else(|| attribute(&attrs, "typeName"))
                        {
                            type_names.push(names.to_owned());
                        }
                        if let Some(srs) = attribute(&attrs, "srsName") {
                            pairs.push(("SRSNAME".to_owned(), srs.to_owned()));
                        }
                    }
                    "StoredQuery" => {
                        if let Some(id) = attribute(&attrs, "id") {
                            pairs.push(("STOREDQUERY_ID".to_owned(), id.to_owned()));
                        }
                    }
                    "Parameter" => parameter = attribute(&attrs, "name").map(str::to_owned),
                    _ => {}
                }
                if empty {
                    if let (Some(start), true) = (filter_start, name == "Filter") {
                        pairs.push(("FILTER".to_owned(), standalone(&body[start..reader_position(&reader)], &filter_namespaces)));
                        filter_start = None;
                    }
                } else {
                    stack.push((name, namespaces));
                }
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = sld::entity_text(&reference.xml10_content());
                match resolved {
                    Some(resolved) => text.push_str(&resolved),
                    None => {
                        return Err(parsing(format!(
                            "entity '&{};' is not defined: only the five predefined entities and character references are allowed",
                            reference.xml10_content()
                        )))
                    }
                }
            }
            Event::End(_) => {
                let Some((name, _)) = stack.pop() else {
                    return Err(parsing("an end tag without its start"));
                };
                if let Some(start) = filter_start {
                    if name == "Filter" && stack.len() == filter_depth {
                        let end = reader_position(&reader);
                        pairs.push((
                            "FILTER".to_owned(),
                            standalone(&body[start..end], &filter_namespaces),
                        ));
                        filter_start = None;
                    }
                    text.clear();
                    continue;
                }
                let value = text.trim().to_owned();
                let parent = stack.last().map(|(n, _)| n.as_str()).unwrap_or_default();
                match name.as_str() {
                    "PropertyName" | "ValueReference" if parent == "SortProperty" => {
                        sort.push(value);
                    }
                    "SortOrder" => {
                        if let Some(last) = sort.last_mut() {
                            last.push(' ');
                            last.push_str(&value);
                        }
                    }
                    "PropertyName" if parent == "Query" => properties.push(value),
                    "TypeName" if parent == "DescribeFeatureType" => type_names.push(value),
                    "Version" if parent == "AcceptVersions" => versions.push(value),
                    "Parameter" => {
                        if let Some(name) = parameter.take() {
                            pairs.push((name.to_ascii_uppercase(), value));
                        }
                    }
                    "StoredQueryId" => pairs.push(("STOREDQUERY_ID".to_owned(), value)),
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((open, _)) = stack.last() {
        return Err(parsing(format!(
            "malformed XML: <{open}> is not closed (the body ends first)"
        )));
    }
    if pairs.is_empty() {
        return Err(parsing("the body holds no XML request: send e.g. <wfs:GetFeature service=\"WFS\" version=\"2.0.0\"><wfs:Query typeNames=\"…\"/></wfs:GetFeature>"));
    }
    for (parameter, values) in [
        ("TYPENAMES", type_names),
        ("PROPERTYNAME", properties),
        ("SORTBY", sort),
        ("ACCEPTVERSIONS", versions),
    ] {
        if !values.is_empty() {
            pairs.push((parameter.to_owned(), values.join(",")));
        }
    }
    Ok(Kvp::from_pairs(pairs))
}

fn reader_position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// The filter element with its ancestors' namespace declarations on its start tag.
fn standalone(element: &str, namespaces: &[(String, String)]) -> String {
    let Some(end_of_name) = element.find(|c: char| c.is_whitespace() || c == '>' || c == '/')
    else {
        return element.to_owned();
    };
    let mut out = String::with_capacity(element.len() + 128);
    out.push_str(&element[..end_of_name]);
    for (key, value) in namespaces {
        let _ = write!(out, " {key}=\"{}\"", value.replace('"', "&quot;"));
    }
    out.push_str(&element[end_of_name..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_get_feature_reads_into_kvp_with_a_standalone_filter() {
        let body = r#"<?xml version="1.0"?>
<wfs:GetFeature service="WFS" version="2.0.0" outputFormat="application/json" count="5" startIndex="2"
  xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:tuilerie="urn:x-tuilerie:features">
  <wfs:Query typeNames="tuilerie:communes" srsName="urn:ogc:def:crs:EPSG::4326">
    <wfs:PropertyName>population</wfs:PropertyName>
    <fes:Filter><fes:PropertyIsGreaterThan><fes:ValueReference>population</fes:ValueReference><fes:Literal>5</fes:Literal></fes:PropertyIsGreaterThan></fes:Filter>
    <fes:SortBy><fes:SortProperty><fes:ValueReference>population</fes:ValueReference><fes:SortOrder>DESC</fes:SortOrder></fes:SortProperty></fes:SortBy>
  </wfs:Query>
</wfs:GetFeature>"#;
        let kvp = read(body).unwrap();
        assert_eq!(kvp.get("REQUEST"), Some("GetFeature"));
        assert_eq!(kvp.get("COUNT"), Some("5"));
        assert_eq!(kvp.get("STARTINDEX"), Some("2"));
        assert_eq!(kvp.get("TYPENAMES"), Some("tuilerie:communes"));
        assert_eq!(kvp.get("SRSNAME"), Some("urn:ogc:def:crs:EPSG::4326"));
        assert_eq!(kvp.get("PROPERTYNAME"), Some("population"));
        assert_eq!(kvp.get("SORTBY"), Some("population DESC"));
        let filter = kvp.get("FILTER").unwrap();
        assert!(filter.starts_with("<fes:Filter xmlns:wfs="), "{filter}");
        assert!(sld::parse_filter(filter).is_ok(), "{filter}");
    }

    #[test]
    fn stored_queries_describe_and_capabilities() {
        let kvp = read(r#"<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0"><wfs:StoredQuery id="urn:ogc:def:query:OGC-WFS::GetFeatureById"><wfs:Parameter name="ID">communes.3</wfs:Parameter></wfs:StoredQuery></wfs:GetFeature>"#).unwrap();
        assert_eq!(
            kvp.get("STOREDQUERY_ID"),
            Some("urn:ogc:def:query:OGC-WFS::GetFeatureById")
        );
        assert_eq!(kvp.get("ID"), Some("communes.3"));
        let kvp = read(r#"<DescribeFeatureType service="WFS" version="2.0.0"><TypeName>a</TypeName><TypeName>b</TypeName></DescribeFeatureType>"#).unwrap();
        assert_eq!(kvp.get("TYPENAMES"), Some("a,b"));
        let kvp = read(r#"<GetCapabilities service="WFS"><AcceptVersions><Version>1.1.0</Version></AcceptVersions></GetCapabilities>"#).unwrap();
        assert_eq!(kvp.get("ACCEPTVERSIONS"), Some("1.1.0"));
    }

    #[test]
    fn hostile_or_broken_bodies_are_refused() {
        for body in [
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><GetFeature/>",
            "<GetFeature><Query></GetFeature>",
            "<GetFeature service=\"WFS\"><Query>",
            "",
            "not xml",
            "<GetFeature a=\"&unknown;\"/>",
        ] {
            assert!(read(body).is_err(), "{body}");
        }
    }
}
