//! GetCapabilities 1.3.0 (`WMS_Capabilities`, XML Schema) and 1.1.1 (`WMT_MS_Capabilities`,
//! DTD), element order as their schemas require.
//!
//! Every published layer is a child of one root layer that lists the CRSs offered to all
//! (`[wms] crs`); a child adds its native CRS when it is not among them. Bounding boxes are
//! given for every CRS, in that CRS's axis order for 1.3.0 (EPSG:4326 is lat,lon) and x/y for
//! 1.1.1, computed from the layer's extent clipped to the CRS's area of use. Documents are
//! cached per (snapshot, version, base URL) — they change only with a publication.

use std::fmt::Write as _;

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use crs::{Bbox, Crs, Transformer};

use super::params::MapFormat;
use super::protocol::{Code, Version, WmsError};
use super::runtime::{Call, WmsState};
use crate::config::WmsConfig;
use crate::layers::{Layer, LayerStyle, Layers};
use crate::services::info_format::InfoFormat;
use crate::services::ogc::{self, coordinate, number, xml_escape};

pub fn answer(call: Call<'_>, headers: &HeaderMap) -> Result<Response, WmsError> {
    let (state, layers, kvp, version) = call.parts();
    if let Some(requested) = kvp.non_empty("UPDATESEQUENCE") {
        let current = layers.sequence;
        match requested.trim().parse::<u64>() {
            Ok(n) if n == current => {
                return Err(WmsError::new(
                    Code::CurrentUpdateSequence,
                    "UPDATESEQUENCE",
                    format!("the capabilities have not changed since update sequence {current}"),
                ))
            }
            Ok(n) if n > current => {
                return Err(WmsError::new(
                    Code::InvalidUpdateSequence,
                    "UPDATESEQUENCE",
                    format!("update sequence {n} is later than this server's ({current})"),
                ))
            }
            Ok(_) => {}
            Err(_) => {
                return Err(WmsError::new(
                    Code::InvalidUpdateSequence,
                    "UPDATESEQUENCE",
                    format!(
                        "UPDATESEQUENCE={requested} is not a number; this server's is {current}"
                    ),
                ))
            }
        }
    }
    if let Some(format) = kvp.non_empty("FORMAT") {
        let ok = ["text/xml", "application/xml", "application/vnd.ogc.wms_xml"]
            .iter()
            .any(|f| format.trim().eq_ignore_ascii_case(f));
        if !ok {
            return Err(WmsError::new(
                Code::InvalidFormat,
                "FORMAT",
                format!("capabilities are offered as text/xml (1.3.0) or application/vnd.ogc.wms_xml (1.1.1), not {format}"),
            ));
        }
    }
    let base = ogc::base_url(state.config.server.public_url.as_deref(), headers);
    let doc =
        state
            .wms
            .capabilities
            .get_or_build((layers.sequence, layers.view), version, &base, || {
                document(state, layers, version, &base)
            });
    let content_type = match version {
        Version::V130 => "text/xml; charset=utf-8",
        Version::V111 => "application/vnd.ogc.wms_xml; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        doc,
    )
        .into_response())
}

/// The capabilities document.
pub fn document(state: &WmsState, layers: &Layers, version: Version, base: &str) -> String {
    let config = &state.config.wms;
    let url = format!("{base}/wms?");
    let href = xml_escape(&url);
    let mut x = String::with_capacity(16 * 1024);
    match version {
        Version::V130 => {
            let _ = write!(
                x,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <WMS_Capabilities version=\"1.3.0\" updateSequence=\"{}\" \
                 xmlns=\"http://www.opengis.net/wms\" \
                 xmlns:sld=\"http://www.opengis.net/sld\" \
                 xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                 xsi:schemaLocation=\"http://www.opengis.net/wms http://schemas.opengis.net/wms/1.3.0/capabilities_1_3_0.xsd \
                 http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/sld_capabilities.xsd\">\n",
                layers.sequence
            );
        }
        Version::V111 => {
            let _ = write!(
                x,
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
                 <!DOCTYPE WMT_MS_Capabilities SYSTEM \"http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd\">\n\
                 <WMT_MS_Capabilities version=\"1.1.1\" updateSequence=\"{}\">\n",
                layers.sequence
            );
        }
    }
    service(&mut x, config, version, &href);
    x.push_str("<Capability>\n<Request>\n");
    let capabilities_format = match version {
        Version::V130 => "text/xml",
        Version::V111 => "application/vnd.ogc.wms_xml",
    };
    operation(
        &mut x,
        "GetCapabilities",
        &[capabilities_format],
        &href,
        version,
    );
    let map_formats: Vec<&str> = MapFormat::ALL.iter().map(|f| f.mime()).collect();
    operation(&mut x, "GetMap", &map_formats, &href, version);
    let mut info_formats: Vec<&str> = InfoFormat::WMS.iter().map(|f| f.mime()).collect();
    info_formats.dedup();
    operation(&mut x, "GetFeatureInfo", &info_formats, &href, version);
    let legend_formats = ["image/png", "image/jpeg", "image/webp"];
    match version {
        Version::V130 => operation(
            &mut x,
            "sld:GetLegendGraphic",
            &legend_formats,
            &href,
            version,
        ),
        Version::V111 => operation(&mut x, "GetLegendGraphic", &legend_formats, &href, version),
    }
    x.push_str("</Request>\n<Exception>\n");
    let exceptions: &[&str] = match version {
        Version::V130 => &["XML", "INIMAGE", "BLANK"],
        Version::V111 => &[
            "application/vnd.ogc.se_xml",
            "application/vnd.ogc.se_inimage",
            "application/vnd.ogc.se_blank",
        ],
    };
    for format in exceptions {
        let _ = writeln!(x, "<Format>{format}</Format>");
    }
    x.push_str("</Exception>\n");
    root_layer(&mut x, state, layers, version, base);
    x.push_str("</Capability>\n");
    x.push_str(match version {
        Version::V130 => "</WMS_Capabilities>\n",
        Version::V111 => "</WMT_MS_Capabilities>\n",
    });
    x
}

fn online_resource(href: &str, version: Version) -> String {
    match version {
        Version::V130 => format!("<OnlineResource xlink:type=\"simple\" xlink:href=\"{href}\"/>"),
        Version::V111 => format!(
            "<OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" xlink:type=\"simple\" xlink:href=\"{href}\"/>"
        ),
    }
}

fn service(x: &mut String, config: &WmsConfig, version: Version, href: &str) {
    x.push_str("<Service>\n");
    let name = match version {
        Version::V130 => "WMS",
        Version::V111 => "OGC:WMS",
    };
    let _ = writeln!(x, "<Name>{name}</Name>");
    let _ = writeln!(x, "<Title>{}</Title>", xml_escape(&config.title));
    if !config.abstract_text.is_empty() {
        let _ = writeln!(
            x,
            "<Abstract>{}</Abstract>",
            xml_escape(&config.abstract_text)
        );
    }
    keywords(x, &config.keywords);
    let _ = writeln!(x, "{}", online_resource(href, version));
    let has_contact = [
        &config.contact_person,
        &config.contact_organization,
        &config.contact_position,
        &config.contact_email,
        &config.contact_phone,
    ]
    .iter()
    .any(|v| !v.is_empty());
    if has_contact {
        x.push_str("<ContactInformation>\n");
        if !config.contact_person.is_empty() || !config.contact_organization.is_empty() {
            let _ = writeln!(
                x,
                "<ContactPersonPrimary><ContactPerson>{}</ContactPerson><ContactOrganization>{}</ContactOrganization></ContactPersonPrimary>",
                xml_escape(&config.contact_person),
                xml_escape(&config.contact_organization)
            );
        }
        if !config.contact_position.is_empty() {
            let _ = writeln!(
                x,
                "<ContactPosition>{}</ContactPosition>",
                xml_escape(&config.contact_position)
            );
        }
        if !config.contact_phone.is_empty() {
            let _ = writeln!(
                x,
                "<ContactVoiceTelephone>{}</ContactVoiceTelephone>",
                xml_escape(&config.contact_phone)
            );
        }
        if !config.contact_email.is_empty() {
            let _ = writeln!(
                x,
                "<ContactElectronicMailAddress>{}</ContactElectronicMailAddress>",
                xml_escape(&config.contact_email)
            );
        }
        x.push_str("</ContactInformation>\n");
    }
    let _ = writeln!(x, "<Fees>{}</Fees>", xml_escape(&config.fees));
    let _ = writeln!(
        x,
        "<AccessConstraints>{}</AccessConstraints>",
        xml_escape(&config.access_constraints)
    );
    if version == Version::V130 {
        let _ = writeln!(x, "<LayerLimit>{}</LayerLimit>", config.layer_limit);
        let _ = writeln!(x, "<MaxWidth>{}</MaxWidth>", config.max_width);
        let _ = writeln!(x, "<MaxHeight>{}</MaxHeight>", config.max_height);
    }
    x.push_str("</Service>\n");
}

fn keywords(x: &mut String, keywords: &[String]) {
    if keywords.is_empty() {
        return;
    }
    x.push_str("<KeywordList>");
    for keyword in keywords {
        let _ = write!(x, "<Keyword>{}</Keyword>", xml_escape(keyword));
    }
    x.push_str("</KeywordList>\n");
}

fn operation(x: &mut String, name: &str, formats: &[&str], href: &str, version: Version) {
    let _ = writeln!(x, "<{name}>");
    for format in formats {
        let _ = writeln!(x, "<Format>{}</Format>", xml_escape(format));
    }
    let resource = online_resource(href, version);
    let _ = writeln!(x, "<DCPType><HTTP><Get>{resource}</Get></HTTP></DCPType>");
    let _ = writeln!(x, "</{name}>");
}

/// The CRSs offered for every layer (configured, parsed, deduplicated).
fn common_crs(config: &WmsConfig) -> Vec<(String, Crs)> {
    let mut list: Vec<(String, Crs)> = Vec::new();
    for code in &config.crs {
        if let Ok(crs) = Crs::parse(code) {
            if !list.iter().any(|(c, _)| c == code) {
                list.push((code.clone(), crs));
            }
        }
    }
    list
}

fn root_layer(x: &mut String, state: &WmsState, layers: &Layers, version: Version, base: &str) {
    let config = &state.config.wms;
    let common = common_crs(config);
    x.push_str("<Layer>\n");
    let _ = writeln!(x, "<Title>{}</Title>", xml_escape(&config.title));
    if !config.abstract_text.is_empty() {
        let _ = writeln!(
            x,
            "<Abstract>{}</Abstract>",
            xml_escape(&config.abstract_text)
        );
    }
    for (code, _) in &common {
        crs_element(x, code, version);
    }
    let extent = layers
        .iter()
        .map(|l| *l.extent().1)
        .reduce(|a, b| a.union(&b))
        .unwrap_or_else(Bbox::world);
    geographic_bbox(x, &extent, version);
    for (code, crs) in &common {
        bounding_box(x, code, crs, None, &extent, version);
    }
    for layer in layers.iter() {
        child_layer(x, state, layer, &common, version, base);
    }
    x.push_str("</Layer>\n");
}

fn crs_element(x: &mut String, code: &str, version: Version) {
    match version {
        Version::V130 => {
            let _ = writeln!(x, "<CRS>{}</CRS>", xml_escape(code));
        }
        Version::V111 => {
            let _ = writeln!(x, "<SRS>{}</SRS>", xml_escape(code));
        }
    }
}

fn geographic_bbox(x: &mut String, wgs84: &Bbox, version: Version) {
    let c = |v: f64| coordinate(v, true);
    match version {
        Version::V130 => {
            let _ = writeln!(
                x,
                "<EX_GeographicBoundingBox><westBoundLongitude>{}</westBoundLongitude><eastBoundLongitude>{}</eastBoundLongitude><southBoundLatitude>{}</southBoundLatitude><northBoundLatitude>{}</northBoundLatitude></EX_GeographicBoundingBox>",
                c(wgs84.min_x()),
                c(wgs84.max_x()),
                c(wgs84.min_y()),
                c(wgs84.max_y())
            );
        }
        Version::V111 => {
            let _ = writeln!(
                x,
                "<LatLonBoundingBox minx=\"{}\" miny=\"{}\" maxx=\"{}\" maxy=\"{}\"/>",
                c(wgs84.min_x()),
                c(wgs84.min_y()),
                c(wgs84.max_x()),
                c(wgs84.max_y())
            );
        }
    }
}

/// A BoundingBox element for `crs`: from the native extent when `crs` is the native CRS, else
/// from the CRS:84 extent clipped to the CRS's area of use. Nothing when it cannot be computed.
fn bounding_box(
    x: &mut String,
    code: &str,
    crs: &Crs,
    native: Option<(&Crs, &Bbox)>,
    wgs84: &Bbox,
    version: Version,
) {
    let bbox = match native {
        Some((native_crs, native_bbox)) if native_crs.equivalent(crs) => Some(*native_bbox),
        _ => wgs84.intersection(&crs.valid_area()).and_then(|clipped| {
            Transformer::new(&Crs::crs84(), crs)
                .and_then(|t| t.transform_bbox(&clipped))
                .ok()
        }),
    };
    let Some(bbox) = bbox else { return };
    let geographic = crs.is_geographic();
    let values = match version {
        Version::V130 => bbox.to_ogc(crs),
        Version::V111 => [bbox.min_x(), bbox.min_y(), bbox.max_x(), bbox.max_y()],
    };
    let attribute = match version {
        Version::V130 => "CRS",
        Version::V111 => "SRS",
    };
    let _ = writeln!(
        x,
        "<BoundingBox {attribute}=\"{}\" minx=\"{}\" miny=\"{}\" maxx=\"{}\" maxy=\"{}\"/>",
        xml_escape(code),
        coordinate(values[0], geographic),
        coordinate(values[1], geographic),
        coordinate(values[2], geographic),
        coordinate(values[3], geographic)
    );
}

fn child_layer(
    x: &mut String,
    state: &WmsState,
    layer: &Layer,
    common: &[(String, Crs)],
    version: Version,
    base: &str,
) {
    let queryable = u8::from(layer.queryable());
    let opaque = u8::from(matches!(
        layer.source,
        crate::layers::LayerSource::Pyramid(_)
    ));
    let _ = writeln!(x, "<Layer queryable=\"{queryable}\" opaque=\"{opaque}\">");
    let _ = writeln!(x, "<Name>{}</Name>", xml_escape(&layer.name));
    let _ = writeln!(x, "<Title>{}</Title>", xml_escape(&layer.title));
    if !layer.abstract_text.is_empty() {
        let _ = writeln!(
            x,
            "<Abstract>{}</Abstract>",
            xml_escape(&layer.abstract_text)
        );
    }
    keywords(x, &layer.keywords);
    let native = layer.crs();
    let native_code = native.code().to_owned();
    let native_listed = common.iter().any(|(_, c)| c.equivalent(native));
    if !native_listed {
        crs_element(x, &native_code, version);
    }
    let (native_bbox, wgs84) = layer.extent();
    geographic_bbox(x, wgs84, version);
    if !native_listed {
        bounding_box(
            x,
            &native_code,
            native,
            Some((native, native_bbox)),
            wgs84,
            version,
        );
    }
    for (code, crs) in common {
        bounding_box(x, code, crs, Some((native, native_bbox)), wgs84, version);
    }
    let metadata = &layer.metadata;
    if !metadata.attribution.is_empty() || !metadata.attribution_url.is_empty() {
        x.push_str("<Attribution>");
        if !metadata.attribution.is_empty() {
            let _ = write!(x, "<Title>{}</Title>", xml_escape(&metadata.attribution));
        }
        if !metadata.attribution_url.is_empty() {
            x.push_str(&online_resource(
                &xml_escape(&metadata.attribution_url),
                version,
            ));
        }
        x.push_str("</Attribution>\n");
    }
    for url in &metadata.metadata_urls {
        let kind = match version {
            Version::V130 => "ISO19115:2003",
            Version::V111 => "TC211",
        };
        let _ = writeln!(
            x,
            "<MetadataURL type=\"{kind}\"><Format>text/xml</Format>{}</MetadataURL>",
            online_resource(&xml_escape(url), version)
        );
    }
    for style in layer.styles() {
        style_element(x, state, layer, style, version, base);
    }
    let (min, max) = layer
        .styles()
        .first()
        .map_or((None, None), LayerStyle::scale_range);
    match version {
        Version::V130 => {
            if let Some(min) = min {
                let _ = writeln!(
                    x,
                    "<MinScaleDenominator>{}</MinScaleDenominator>",
                    number(min)
                );
            }
            if let Some(max) = max {
                let _ = writeln!(
                    x,
                    "<MaxScaleDenominator>{}</MaxScaleDenominator>",
                    number(max)
                );
            }
        }
        Version::V111 => {
            if min.is_some() || max.is_some() {
                // ScaleHint: diagonal ground size of a 0.28 mm pixel.
                let hint = |s: f64| s * 0.00028 * std::f64::consts::SQRT_2;
                let _ = writeln!(
                    x,
                    "<ScaleHint min=\"{}\" max=\"{}\"/>",
                    number(hint(min.unwrap_or(0.0))),
                    max.map_or_else(|| "Infinity".to_owned(), |m| number(hint(m)))
                );
            }
        }
    }
    x.push_str("</Layer>\n");
}

fn style_element(
    x: &mut String,
    state: &WmsState,
    layer: &Layer,
    style: &LayerStyle,
    version: Version,
    base: &str,
) {
    x.push_str("<Style>");
    let _ = write!(x, "<Name>{}</Name>", xml_escape(&style.name));
    let _ = write!(x, "<Title>{}</Title>", xml_escape(&style.title));
    if !style.abstract_text.is_empty() {
        let _ = write!(
            x,
            "<Abstract>{}</Abstract>",
            xml_escape(&style.abstract_text)
        );
    }
    if let Some((width, height)) = super::legend::legend_size(state, layer, style) {
        let url = format!(
            "{base}/wms?SERVICE=WMS&VERSION={}&REQUEST=GetLegendGraphic&LAYER={}&STYLE={}&FORMAT=image/png&SLD_VERSION=1.1.0",
            version.as_str(),
            encode(&layer.name),
            encode(&style.name)
        );
        let _ = write!(
            x,
            "<LegendURL width=\"{width}\" height=\"{height}\"><Format>image/png</Format>{}</LegendURL>",
            online_resource(&xml_escape(&url), version)
        );
    }
    x.push_str("</Style>\n");
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
