//! Feature types as WFS describes them: the table behind each, its attribute and geometry
//! types in XML Schema and GML terms, and the application schema (XSD) DescribeFeatureType
//! answers, generated from the stored table.

use std::fmt::Write as _;

use vectorstore::{AttributeType, LayerMetadata};

use axum::response::{IntoResponse, Response};

use super::protocol::{Version, NAMESPACE, PREFIX};
use crate::layers::{Layer, LayerSource, Layers, VectorRelation};
use crate::services::ogc::{xml_escape, Kvp, OwsException};

/// A layer offered as a WFS feature type: its one table.
#[derive(Debug, Clone, Copy)]
pub struct FeatureType<'a> {
    /// The layer (name, title, abstract, keywords, extents).
    pub layer: &'a Layer,
    /// Its table.
    pub relation: &'a VectorRelation,
    /// The table's stored description.
    pub meta: &'a LayerMetadata,
}

impl<'a> FeatureType<'a> {
    /// The feature type of a vector layer (its first table).
    pub fn of(layer: &'a Layer) -> Option<FeatureType<'a>> {
        let LayerSource::Vector(vector) = &layer.source else {
            return None;
        };
        let relation = vector.relations.first()?;
        let meta = relation.store.layer(&relation.table)?;
        Some(FeatureType {
            layer,
            relation,
            meta,
        })
    }

    /// The name in requests (`countries`).
    pub fn name(&self) -> &str {
        &self.layer.name
    }

    /// The qualified name (`tuilerie:countries`).
    pub fn qualified_name(&self) -> String {
        format!("{PREFIX}:{}", self.layer.name)
    }

    /// The attribute names, comma-separated (for messages).
    pub fn attribute_list(&self) -> String {
        self.meta
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The declared geometry type, upper case (`MULTIPOLYGON`).
    pub fn geometry_type(&self) -> String {
        self.meta.geometry_type.to_ascii_uppercase()
    }
}

/// The name of the geometry property in documents.
pub const GEOMETRY_PROPERTY: &str = "geom";

/// The XML Schema type of an attribute.
pub fn xsd_type(ty: AttributeType) -> &'static str {
    match ty {
        AttributeType::Boolean => "xsd:boolean",
        AttributeType::Integer => "xsd:long",
        AttributeType::Real => "xsd:double",
        AttributeType::Text => "xsd:string",
        AttributeType::Date => "xsd:date",
        AttributeType::DateTime => "xsd:dateTime",
        AttributeType::Blob => "xsd:hexBinary",
    }
}

/// The GML property type of a declared geometry type.
pub fn gml_property_type(geometry_type: &str) -> &'static str {
    match geometry_type {
        "POINT" => "gml:PointPropertyType",
        "MULTIPOINT" => "gml:MultiPointPropertyType",
        "LINESTRING" => "gml:CurvePropertyType",
        "MULTILINESTRING" => "gml:MultiCurvePropertyType",
        "POLYGON" => "gml:SurfacePropertyType",
        "MULTIPOLYGON" => "gml:MultiSurfacePropertyType",
        _ => "gml:GeometryPropertyType",
    }
}

/// The application schema of `types`.
pub fn describe(types: &[FeatureType<'_>], version: Version) -> String {
    let (gml, gml_schema, base, group) = match version {
        Version::V200 => (
            "http://www.opengis.net/gml/3.2",
            "http://schemas.opengis.net/gml/3.2.1/gml.xsd",
            "gml:AbstractFeatureType",
            "gml:AbstractFeature",
        ),
        Version::V110 => (
            "http://www.opengis.net/gml",
            "http://schemas.opengis.net/gml/3.1.1/base/gml.xsd",
            "gml:AbstractFeatureType",
            "gml:_Feature",
        ),
    };
    let mut out = String::with_capacity(1024);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <xsd:schema xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:gml=\"{gml}\" \
         xmlns:{PREFIX}=\"{NAMESPACE}\" targetNamespace=\"{NAMESPACE}\" \
         elementFormDefault=\"qualified\" version=\"1.0\">\n  \
         <xsd:import namespace=\"{gml}\" schemaLocation=\"{gml_schema}\"/>\n"
    );
    for feature_type in types {
        let name = xml_escape(feature_type.name());
        let _ = write!(
            out,
            "  <xsd:complexType name=\"{name}Type\">\n    <xsd:complexContent>\n      \
             <xsd:extension base=\"{base}\">\n        <xsd:sequence>\n          \
             <xsd:element name=\"{GEOMETRY_PROPERTY}\" type=\"{}\" minOccurs=\"0\" nillable=\"true\"/>\n",
            gml_property_type(&feature_type.geometry_type())
        );
        for attribute in &feature_type.meta.attributes {
            let _ = writeln!(
                out,
                "          <xsd:element name=\"{}\" type=\"{}\" minOccurs=\"0\" nillable=\"true\"/>",
                xml_escape(&attribute.name),
                xsd_type(attribute.ty)
            );
        }
        let _ = write!(
            out,
            "        </xsd:sequence>\n      </xsd:extension>\n    </xsd:complexContent>\n  \
             </xsd:complexType>\n  \
             <xsd:element name=\"{name}\" type=\"{PREFIX}:{name}Type\" substitutionGroup=\"{group}\"/>\n"
        );
    }
    out.push_str("</xsd:schema>\n");
    out
}

/// The feature types a request names (`TYPENAMES`, or 1.1.0's `TYPENAME`), with or without
/// prefix; all of them when `required` is false and none is named.
pub fn requested_types<'a>(
    layers: &'a Layers,
    kvp: &Kvp,
    required: bool,
) -> Result<Vec<FeatureType<'a>>, OwsException> {
    let (locator, names) = match (kvp.non_empty("TYPENAMES"), kvp.non_empty("TYPENAME")) {
        (Some(names), _) => ("TYPENAMES", names),
        (None, Some(names)) => ("TYPENAME", names),
        (None, None) if required => {
            return Err(OwsException::missing(
                "TYPENAMES",
                "name the feature types, e.g. TYPENAMES=tuilerie:countries (GetCapabilities lists them)",
            ))
        }
        (None, None) => {
            return Ok(layers.iter().filter_map(|l| FeatureType::of(l)).collect());
        }
    };
    let mut types = Vec::new();
    for name in names
        .split([',', '(', ')'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let local = name.rsplit_once(':').map_or(name, |(_, local)| local);
        let found = layers.get(local).and_then(|l| FeatureType::of(l));
        let Some(feature_type) = found else {
            let known: Vec<String> = layers
                .iter()
                .filter_map(|l| FeatureType::of(l).map(|t| t.qualified_name()))
                .collect();
            return Err(OwsException::invalid(
                locator,
                format!(
                    "{locator}: no feature type '{name}'; this WFS serves: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        if !types.iter().any(|t: &FeatureType<'_>| t.name() == local) {
            types.push(feature_type);
        }
    }
    Ok(types)
}

/// DescribeFeatureType.
pub fn answer_describe(
    layers: &Layers,
    kvp: &Kvp,
    version: Version,
) -> Result<Response, OwsException> {
    if let Some(format) = kvp.non_empty("OUTPUTFORMAT") {
        let lower = format.to_ascii_lowercase();
        if !(lower.contains("xmlschema") || lower.contains("gml") || lower.contains("xml")) {
            return Err(OwsException::invalid(
                "OUTPUTFORMAT",
                format!("OUTPUTFORMAT={format}: the schema is XML Schema only (application/gml+xml; version=3.2)"),
            ));
        }
    }
    let types = requested_types(layers, kvp, false)?;
    let body = describe(&types, version);
    let content_type = match version {
        Version::V200 => "application/gml+xml; version=3.2",
        Version::V110 => "text/xml; subtype=gml/3.1.1",
    };
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response())
}
