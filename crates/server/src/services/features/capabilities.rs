//! GetCapabilities (2.0.0 and 1.1.0) and the stored queries: what the service does, said
//! exactly (only what is implemented is claimed), with the feature types the caller may see.

use std::fmt::Write as _;

use axum::http::HeaderMap;
use axum::response::Response;

use super::encode::Format;
use super::protocol::{Version, NAMESPACE, PREFIX};
use super::schema::FeatureType;
use crate::layers::Layers;
use crate::services::ogc::{self, coordinate, xml_escape, Kvp, OwsException};
use crate::state::AppState;

/// The comparison operators of FES 2.0 that filters may use.
const COMPARISONS: &[&str] = &[
    "PropertyIsEqualTo",
    "PropertyIsNotEqualTo",
    "PropertyIsLessThan",
    "PropertyIsGreaterThan",
    "PropertyIsLessThanOrEqualTo",
    "PropertyIsGreaterThanOrEqualTo",
    "PropertyIsLike",
    "PropertyIsNull",
    "PropertyIsNil",
    "PropertyIsBetween",
];

/// The same in Filter Encoding 1.1's words.
const COMPARISONS_1_1: &[&str] = &[
    "EqualTo",
    "NotEqualTo",
    "LessThan",
    "GreaterThan",
    "LessThanEqualTo",
    "GreaterThanEqualTo",
    "Like",
    "NullCheck",
    "Between",
];

/// The spatial operators filters may use.
const SPATIAL_OPERATORS: &[&str] = &[
    "BBOX",
    "Equals",
    "Disjoint",
    "Touches",
    "Within",
    "Overlaps",
    "Crosses",
    "Intersects",
    "Contains",
    "DWithin",
    "Beyond",
];

/// The GML geometries filters may hold.
const GEOMETRY_OPERANDS: &[&str] = &[
    "Envelope",
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiCurve",
    "MultiSurface",
];

/// The stored query every WFS 2.0 has.
pub const GET_FEATURE_BY_ID: &str = "urn:ogc:def:query:OGC-WFS::GetFeatureById";

/// Output formats of GetFeature, by version.
pub fn output_formats(version: Version) -> &'static [&'static str] {
    match version {
        Version::V200 => &[
            "application/gml+xml; version=3.2",
            "text/xml; subtype=gml/3.2",
            "application/json",
            "application/geo+json",
        ],
        Version::V110 => &[
            "text/xml; subtype=gml/3.1.1",
            "application/json",
            "application/geo+json",
        ],
    }
}

/// The format an `OUTPUTFORMAT` names; `None` when not served.
pub fn output_format(text: &str, version: Version) -> Option<Format> {
    let lower = text.to_ascii_lowercase().replace(' ', "");
    if lower.contains("json") {
        return Some(Format::GeoJson);
    }
    let gml32 = lower.contains("3.2") || lower == "gml32";
    let gml311 = lower.contains("3.1.1") || lower == "gml3" || lower == "text/xml";
    match version {
        Version::V200 if gml32 || lower == "application/gml+xml" => Some(Format::Gml32),
        Version::V110 if gml311 => Some(Format::Gml311),
        Version::V110 if gml32 => Some(Format::Gml32),
        _ => None,
    }
}

/// The capabilities document.
pub fn answer(
    state: &AppState,
    layers: &Layers,
    version: Version,
    headers: &HeaderMap,
) -> Response {
    let base = ogc::base_url(state.config.server.public_url.as_deref(), headers);
    ogc::xml_response(document(state, layers, version, &base))
}

fn document(state: &AppState, layers: &Layers, version: Version, base: &str) -> String {
    let wfs = &state.config.wfs;
    let wms = &state.config.wms;
    let base = xml_escape(base);
    // WFS 1.1.0 speaks OWS 1.0.0, WFS 2.0.0 OWS 1.1.0.
    let (namespace, schema, ows) = match version {
        Version::V200 => (
            "http://www.opengis.net/wfs/2.0",
            "http://schemas.opengis.net/wfs/2.0/wfs.xsd",
            "http://www.opengis.net/ows/1.1",
        ),
        Version::V110 => (
            "http://www.opengis.net/wfs",
            "http://schemas.opengis.net/wfs/1.1.0/wfs.xsd",
            "http://www.opengis.net/ows",
        ),
    };
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <wfs:WFS_Capabilities xmlns:wfs=\"{namespace}\" xmlns:ows=\"{ows}\" \
         xmlns:fes=\"http://www.opengis.net/fes/2.0\" xmlns:ogc=\"http://www.opengis.net/ogc\" \
         xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:{PREFIX}=\"{NAMESPACE}\" xsi:schemaLocation=\"{namespace} {schema}\" \
         version=\"{}\" updateSequence=\"{}\">\n",
        version.as_str(),
        layers.sequence
    );
    let _ = write!(
        out,
        "  <ows:ServiceIdentification>\n    <ows:Title>{}</ows:Title>\n    <ows:Abstract>{}</ows:Abstract>\n",
        xml_escape(&wfs.title),
        xml_escape(&wfs.abstract_text)
    );
    ogc::ows_keywords(&mut out, "    ", &wfs.keywords);
    let _ = write!(
        out,
        "    <ows:ServiceType>WFS</ows:ServiceType>\n    \
         <ows:ServiceTypeVersion>2.0.0</ows:ServiceTypeVersion>\n    \
         <ows:ServiceTypeVersion>1.1.0</ows:ServiceTypeVersion>\n    \
         <ows:Fees>{}</ows:Fees>\n    <ows:AccessConstraints>{}</ows:AccessConstraints>\n  \
         </ows:ServiceIdentification>\n",
        xml_escape(if wms.fees.is_empty() {
            "none"
        } else {
            &wms.fees
        }),
        xml_escape(if wms.access_constraints.is_empty() {
            "none"
        } else {
            &wms.access_constraints
        })
    );
    let _ = write!(
        out,
        "  <ows:ServiceProvider>\n    <ows:ProviderName>{}</ows:ProviderName>\n    \
         <ows:ServiceContact>\n      <ows:IndividualName>{}</ows:IndividualName>\n      \
         <ows:PositionName>{}</ows:PositionName>\n      <ows:ContactInfo>\n        \
         <ows:Phone><ows:Voice>{}</ows:Voice></ows:Phone>\n        \
         <ows:Address><ows:ElectronicMailAddress>{}</ows:ElectronicMailAddress></ows:Address>\n      \
         </ows:ContactInfo>\n    </ows:ServiceContact>\n  </ows:ServiceProvider>\n",
        xml_escape(&wms.contact_organization),
        xml_escape(&wms.contact_person),
        xml_escape(&wms.contact_position),
        xml_escape(&wms.contact_phone),
        xml_escape(&wms.contact_email)
    );

    out.push_str("  <ows:OperationsMetadata>\n");
    let formats = output_formats(version)
        .iter()
        .fold(String::new(), |mut acc, f| {
            let _ = write!(acc, "<ows:Value>{}</ows:Value>", xml_escape(f));
            acc
        });
    let mut operations = vec![
        ("GetCapabilities", String::new()),
        (
            "DescribeFeatureType",
            match version {
                Version::V200 => "<ows:Parameter name=\"outputFormat\"><ows:AllowedValues><ows:Value>application/gml+xml; version=3.2</ows:Value></ows:AllowedValues></ows:Parameter>".to_owned(),
                Version::V110 => "<ows:Parameter name=\"outputFormat\"><ows:AllowedValues><ows:Value>text/xml; subtype=gml/3.1.1</ows:Value></ows:AllowedValues></ows:Parameter>".to_owned(),
            },
        ),
        (
            "GetFeature",
            format!(
                "<ows:Parameter name=\"outputFormat\"><ows:AllowedValues>{formats}</ows:AllowedValues></ows:Parameter>\
                 <ows:Parameter name=\"resultType\"><ows:AllowedValues><ows:Value>results</ows:Value><ows:Value>hits</ows:Value></ows:AllowedValues></ows:Parameter>"
            ),
        ),
    ];
    if version == Version::V200 {
        operations.push(("GetPropertyValue", String::new()));
        operations.push(("ListStoredQueries", String::new()));
        operations.push(("DescribeStoredQueries", String::new()));
    }
    for (name, parameters) in operations {
        let _ = writeln!(
            out,
            "    <ows:Operation name=\"{name}\"><ows:DCP><ows:HTTP><ows:Get xlink:href=\"{base}/wfs?\"/><ows:Post xlink:href=\"{base}/wfs\"/></ows:HTTP></ows:DCP>{parameters}</ows:Operation>"
        );
    }
    let _ = writeln!(
        out,
        "    <ows:Parameter name=\"version\"><ows:AllowedValues><ows:Value>2.0.0</ows:Value><ows:Value>1.1.0</ows:Value></ows:AllowedValues></ows:Parameter>"
    );
    let count_default = state.config.wfs.count_default;
    if version == Version::V200 {
        for (name, value) in [
            ("ImplementsBasicWFS", "TRUE"),
            ("ImplementsTransactionalWFS", "FALSE"),
            ("ImplementsLockingWFS", "FALSE"),
            ("KVPEncoding", "TRUE"),
            ("XMLEncoding", "TRUE"),
            ("SOAPEncoding", "FALSE"),
            ("ImplementsInheritance", "FALSE"),
            ("ImplementsRemoteResolve", "FALSE"),
            ("ImplementsResultPaging", "TRUE"),
            ("ImplementsStandardJoins", "FALSE"),
            ("ImplementsSpatialJoins", "FALSE"),
            ("ImplementsTemporalJoins", "FALSE"),
            ("ImplementsFeatureVersioning", "FALSE"),
            ("ManageStoredQueries", "FALSE"),
        ] {
            let _ = writeln!(
                out,
                "    <ows:Constraint name=\"{name}\"><ows:NoValues/><ows:DefaultValue>{value}</ows:DefaultValue></ows:Constraint>"
            );
        }
        let _ = writeln!(
            out,
            "    <ows:Constraint name=\"CountDefault\"><ows:NoValues/><ows:DefaultValue>{count_default}</ows:DefaultValue></ows:Constraint>"
        );
        let _ = writeln!(
            out,
            "    <ows:Constraint name=\"QueryExpressions\"><ows:AllowedValues><ows:Value>wfs:Query</ows:Value><ows:Value>wfs:StoredQuery</ows:Value></ows:AllowedValues></ows:Constraint>"
        );
    }
    out.push_str("  </ows:OperationsMetadata>\n");

    out.push_str("  <wfs:FeatureTypeList>\n");
    if version == Version::V110 {
        out.push_str("    <wfs:Operations><wfs:Operation>Query</wfs:Operation></wfs:Operations>\n");
    }
    for feature_type in layers.iter().filter_map(|l| FeatureType::of(l)) {
        feature_type_entry(&mut out, &feature_type, version);
    }
    out.push_str("  </wfs:FeatureTypeList>\n");

    match version {
        Version::V200 => {
            out.push_str("  <fes:Filter_Capabilities>\n    <fes:Conformance>\n");
            for (name, value) in [
                ("ImplementsQuery", "TRUE"),
                ("ImplementsAdHocQuery", "TRUE"),
                ("ImplementsFunctions", "FALSE"),
                ("ImplementsResourceId", "TRUE"),
                ("ImplementsMinStandardFilter", "TRUE"),
                ("ImplementsStandardFilter", "TRUE"),
                ("ImplementsMinSpatialFilter", "TRUE"),
                ("ImplementsSpatialFilter", "TRUE"),
                ("ImplementsMinTemporalFilter", "FALSE"),
                ("ImplementsTemporalFilter", "FALSE"),
                ("ImplementsVersionNav", "FALSE"),
                ("ImplementsSorting", "TRUE"),
                ("ImplementsExtendedOperators", "FALSE"),
                ("ImplementsMinimumXPath", "FALSE"),
                ("ImplementsSchemaElementFunc", "FALSE"),
            ] {
                let _ = writeln!(
                    out,
                    "      <fes:Constraint name=\"{name}\"><ows:NoValues/><ows:DefaultValue>{value}</ows:DefaultValue></fes:Constraint>"
                );
            }
            out.push_str(
                "    </fes:Conformance>\n    <fes:Id_Capabilities><fes:ResourceIdentifier name=\"fes:ResourceId\"/></fes:Id_Capabilities>\n    <fes:Scalar_Capabilities><fes:LogicalOperators/><fes:ComparisonOperators>",
            );
            for op in COMPARISONS {
                let _ = write!(out, "<fes:ComparisonOperator name=\"{op}\"/>");
            }
            out.push_str("</fes:ComparisonOperators></fes:Scalar_Capabilities>\n    <fes:Spatial_Capabilities><fes:GeometryOperands>");
            for operand in GEOMETRY_OPERANDS {
                let _ = write!(out, "<fes:GeometryOperand name=\"gml:{operand}\"/>");
            }
            out.push_str("</fes:GeometryOperands><fes:SpatialOperators>");
            for op in SPATIAL_OPERATORS {
                let _ = write!(out, "<fes:SpatialOperator name=\"{op}\"/>");
            }
            out.push_str("</fes:SpatialOperators></fes:Spatial_Capabilities>\n  </fes:Filter_Capabilities>\n");
        }
        Version::V110 => {
            out.push_str(
                "  <ogc:Filter_Capabilities>\n    <ogc:Spatial_Capabilities><ogc:GeometryOperands>",
            );
            for operand in GEOMETRY_OPERANDS {
                let _ = write!(
                    out,
                    "<ogc:GeometryOperand>gml:{operand}</ogc:GeometryOperand>"
                );
            }
            out.push_str("</ogc:GeometryOperands><ogc:SpatialOperators>");
            for op in SPATIAL_OPERATORS {
                let _ = write!(out, "<ogc:SpatialOperator name=\"{op}\"/>");
            }
            out.push_str("</ogc:SpatialOperators></ogc:Spatial_Capabilities>\n    <ogc:Scalar_Capabilities><ogc:LogicalOperators/><ogc:ComparisonOperators>");
            for op in COMPARISONS_1_1 {
                let _ = write!(out, "<ogc:ComparisonOperator>{op}</ogc:ComparisonOperator>");
            }
            out.push_str("</ogc:ComparisonOperators></ogc:Scalar_Capabilities>\n    <ogc:Id_Capabilities><ogc:FID/><ogc:EID/></ogc:Id_Capabilities>\n  </ogc:Filter_Capabilities>\n");
        }
    }
    out.push_str("</wfs:WFS_Capabilities>\n");
    out
}

/// The CRSs a feature type is served in: its own first, then WGS 84 and Web Mercator.
pub fn served_crs(feature_type: &FeatureType<'_>) -> Vec<crs::Crs> {
    let mut out = vec![feature_type.layer.crs().clone()];
    for other in [crs::Crs::wgs84(), crs::Crs::web_mercator()] {
        if !out.iter().any(|c| c.equivalent(&other)) {
            out.push(other);
        }
    }
    out
}

fn feature_type_entry(out: &mut String, feature_type: &FeatureType<'_>, version: Version) {
    let layer = feature_type.layer;
    let _ = write!(
        out,
        "    <wfs:FeatureType>\n      <wfs:Name>{}</wfs:Name>\n      <wfs:Title>{}</wfs:Title>\n      <wfs:Abstract>{}</wfs:Abstract>\n",
        xml_escape(&feature_type.qualified_name()),
        xml_escape(&layer.title),
        xml_escape(&layer.abstract_text)
    );
    ogc::ows_keywords(out, "      ", &layer.keywords);
    let (default_tag, other_tag) = match version {
        Version::V200 => ("DefaultCRS", "OtherCRS"),
        Version::V110 => ("DefaultSRS", "OtherSRS"),
    };
    for (k, crs) in served_crs(feature_type).iter().enumerate() {
        let tag = if k == 0 { default_tag } else { other_tag };
        let _ = writeln!(out, "      <wfs:{tag}>{}</wfs:{tag}>", crs.urn());
    }
    out.push_str("      <wfs:OutputFormats>");
    for format in output_formats(version) {
        let _ = write!(out, "<wfs:Format>{}</wfs:Format>", xml_escape(format));
    }
    out.push_str("</wfs:OutputFormats>\n");
    let (_, wgs84) = layer.extent();
    let _ = write!(
        out,
        "      <ows:WGS84BoundingBox><ows:LowerCorner>{} {}</ows:LowerCorner><ows:UpperCorner>{} {}</ows:UpperCorner></ows:WGS84BoundingBox>\n    </wfs:FeatureType>\n",
        coordinate(wgs84.min_x(), true),
        coordinate(wgs84.min_y(), true),
        coordinate(wgs84.max_x(), true),
        coordinate(wgs84.max_y(), true)
    );
}

/// ListStoredQueries: GetFeatureById, for every feature type.
pub fn list_stored_queries(layers: &Layers) -> Response {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<wfs:ListStoredQueriesResponse xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" ",
    );
    let _ = write!(
        out,
        "xmlns:{PREFIX}=\"{NAMESPACE}\">\n  <wfs:StoredQuery id=\"{GET_FEATURE_BY_ID}\">\n    <wfs:Title>Get feature by identifier</wfs:Title>\n"
    );
    for feature_type in layers.iter().filter_map(|l| FeatureType::of(l)) {
        let _ = writeln!(
            out,
            "    <wfs:ReturnFeatureType>{}</wfs:ReturnFeatureType>",
            xml_escape(&feature_type.qualified_name())
        );
    }
    out.push_str("  </wfs:StoredQuery>\n</wfs:ListStoredQueriesResponse>\n");
    ogc::xml_response(out)
}

/// DescribeStoredQueries: GetFeatureById's one parameter.
pub fn describe_stored_queries(kvp: &Kvp) -> Result<Response, OwsException> {
    if let Some(ids) = kvp.non_empty("STOREDQUERY_ID") {
        if let Some(unknown) = ids
            .split(',')
            .map(str::trim)
            .find(|id| *id != GET_FEATURE_BY_ID)
        {
            return Err(OwsException::invalid(
                "STOREDQUERY_ID",
                format!("no stored query '{unknown}': this WFS has {GET_FEATURE_BY_ID}"),
            ));
        }
    }
    Ok(ogc::xml_response(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <wfs:DescribeStoredQueriesResponse xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n  \
         <wfs:StoredQueryDescription id=\"{GET_FEATURE_BY_ID}\">\n    <wfs:Title>Get feature by identifier</wfs:Title>\n    \
         <wfs:Parameter name=\"ID\" type=\"xsd:string\"/>\n    \
         <wfs:QueryExpressionText isPrivate=\"true\" language=\"urn:ogc:def:queryLanguage:OGC-WFS::WFSQueryExpression\" returnFeatureTypes=\"\"/>\n  \
         </wfs:StoredQueryDescription>\n</wfs:DescribeStoredQueriesResponse>\n"
    )))
}
