//! The output formats of GetFeatureInfo, one vocabulary for WMS (features of vector layers,
//! pixel values of pyramids) and WMTS (pixel values). GML is offered for features only: WMTS
//! takes [`InfoFormat::PIXEL`].

/// A GetFeatureInfo output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoFormat {
    /// GeoJSON FeatureCollection (QGIS refuses anything else as JSON).
    Json,
    /// Plain text.
    Text,
    /// HTML tables.
    Html,
    /// XML (QGIS Server's shape).
    Xml,
    /// GML (MapServer's shape).
    Gml,
}

impl InfoFormat {
    /// The formats of WMS, in capabilities order.
    pub const WMS: [InfoFormat; 5] = [
        InfoFormat::Json,
        InfoFormat::Html,
        InfoFormat::Text,
        InfoFormat::Xml,
        InfoFormat::Gml,
    ];

    /// The formats of pixel values (WMTS), in capabilities order.
    pub const PIXEL: [InfoFormat; 4] = [
        InfoFormat::Json,
        InfoFormat::Text,
        InfoFormat::Html,
        InfoFormat::Xml,
    ];

    /// The advertised MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            InfoFormat::Json => "application/json",
            InfoFormat::Text => "text/plain",
            InfoFormat::Html => "text/html",
            InfoFormat::Xml => "text/xml",
            InfoFormat::Gml => "application/vnd.ogc.gml",
        }
    }

    /// The Content-Type of an answer.
    pub fn content_type(self) -> &'static str {
        match self {
            InfoFormat::Json => "application/json",
            InfoFormat::Text => "text/plain; charset=utf-8",
            InfoFormat::Html => "text/html; charset=utf-8",
            InfoFormat::Xml => "text/xml; charset=utf-8",
            InfoFormat::Gml => "application/vnd.ogc.gml; charset=utf-8",
        }
    }

    /// The RESTful extension.
    pub fn extension(self) -> &'static str {
        match self {
            InfoFormat::Json => "json",
            InfoFormat::Text => "txt",
            InfoFormat::Html => "html",
            InfoFormat::Xml => "xml",
            InfoFormat::Gml => "gml",
        }
    }

    /// The format of a MIME type (parameters such as `; charset=utf-8` ignored, case-insensitive,
    /// common aliases accepted).
    pub fn from_mime(mime: &str) -> Option<InfoFormat> {
        let essence = mime
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "application/geo+json" | "application/geojson" | "json" => {
                Some(InfoFormat::Json)
            }
            "text/plain" => Some(InfoFormat::Text),
            "text/html" => Some(InfoFormat::Html),
            "text/xml" | "application/xml" => Some(InfoFormat::Xml),
            "application/vnd.ogc.gml" | "application/gml+xml" | "gml" => Some(InfoFormat::Gml),
            _ => None,
        }
    }

    /// The pixel-value format of a MIME type (no GML).
    pub fn pixel_from_mime(mime: &str) -> Option<InfoFormat> {
        InfoFormat::from_mime(mime).filter(|f| InfoFormat::PIXEL.contains(f))
    }

    /// The pixel-value format of a RESTful extension (`geojson` too).
    pub fn pixel_from_extension(extension: &str) -> Option<InfoFormat> {
        InfoFormat::PIXEL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(extension))
            .or_else(|| (extension.eq_ignore_ascii_case("geojson")).then_some(InfoFormat::Json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_and_gml_is_for_features_only() {
        for f in InfoFormat::WMS {
            assert_eq!(InfoFormat::from_mime(f.mime()), Some(f));
        }
        for f in InfoFormat::PIXEL {
            assert_eq!(InfoFormat::pixel_from_extension(f.extension()), Some(f));
        }
        assert_eq!(
            InfoFormat::from_mime("text/html; charset=utf-8"),
            Some(InfoFormat::Html)
        );
        assert_eq!(InfoFormat::pixel_from_mime("application/vnd.ogc.gml"), None);
        assert_eq!(InfoFormat::pixel_from_extension("gml"), None);
        assert_eq!(InfoFormat::from_mime("image/png"), None);
    }
}
