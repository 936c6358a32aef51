//! The WMS protocol's vocabulary: the versions this server speaks and their negotiation, the
//! exception codes, and the service exception report in each version's dialect.

use std::fmt::Write as _;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::error_chain;
use crate::services::ogc::xml_escape;

/// A WMS version this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// 1.1.1 (also answers 1.0.0 and 1.1.0 requests).
    V111,
    /// 1.3.0.
    V130,
}

impl Version {
    /// The version string.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V111 => "1.1.1",
            Version::V130 => "1.3.0",
        }
    }

    /// Version negotiation (WMS 1.3.0 §6.2.4): the highest supported version not above the
    /// requested one, or the lowest when the request is below every supported one.
    pub fn negotiate(requested: Option<&str>) -> Version {
        let Some(requested) = requested.map(str::trim).filter(|v| !v.is_empty()) else {
            return Version::V130;
        };
        let parts: Vec<u32> = requested
            .split('.')
            .map(|p| p.trim().parse::<u32>().unwrap_or(0))
            .collect();
        let key = (
            parts.first().copied().unwrap_or(0),
            parts.get(1).copied().unwrap_or(0),
            parts.get(2).copied().unwrap_or(0),
        );
        if key >= (1, 3, 0) {
            Version::V130
        } else {
            Version::V111
        }
    }

    /// The name of the CRS parameter.
    pub fn crs_param(self) -> &'static str {
        match self {
            Version::V111 => "SRS",
            Version::V130 => "CRS",
        }
    }
}

/// WMS exception codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the OGC exception codes, as WMS names them
pub enum Code {
    /// A required parameter is missing.
    MissingParameterValue,
    /// A parameter has a value the server does not accept.
    InvalidParameterValue,
    /// FORMAT or INFO_FORMAT is not offered.
    InvalidFormat,
    /// The CRS / SRS is not known (1.1.1 calls it InvalidSRS).
    InvalidCrs,
    /// A layer is not published.
    LayerNotDefined,
    /// A style is not one of the layer's.
    StyleNotDefined,
    /// GetFeatureInfo on a layer that does not answer it.
    LayerNotQueryable,
    /// I/J (X/Y) outside the map.
    InvalidPoint,
    /// UPDATESEQUENCE equals the current one.
    CurrentUpdateSequence,
    /// UPDATESEQUENCE is greater than the current one.
    InvalidUpdateSequence,
    /// REQUEST is not a WMS operation.
    OperationNotSupported,
    /// The server failed or is overloaded.
    NoApplicableCode,
}

impl Code {
    fn name(self, version: Version) -> &'static str {
        match self {
            Code::MissingParameterValue => "MissingParameterValue",
            Code::InvalidParameterValue => "InvalidParameterValue",
            Code::InvalidFormat => "InvalidFormat",
            Code::InvalidCrs => match version {
                Version::V111 => "InvalidSRS",
                Version::V130 => "InvalidCRS",
            },
            Code::LayerNotDefined => "LayerNotDefined",
            Code::StyleNotDefined => "StyleNotDefined",
            Code::LayerNotQueryable => "LayerNotQueryable",
            Code::InvalidPoint => "InvalidPoint",
            Code::CurrentUpdateSequence => "CurrentUpdateSequence",
            Code::InvalidUpdateSequence => "InvalidUpdateSequence",
            Code::OperationNotSupported => "OperationNotSupported",
            Code::NoApplicableCode => "NoApplicableCode",
        }
    }
}

/// The status of a request whose client left (nginx's).
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// A WMS service exception.
#[derive(Debug)]
pub struct WmsError {
    code: Code,
    locator: Option<&'static str>,
    text: String,
    status: StatusCode,
}

impl WmsError {
    /// A client error about parameter `locator`.
    pub fn new(code: Code, locator: &'static str, text: impl Into<String>) -> WmsError {
        WmsError {
            code,
            locator: Some(locator),
            text: text.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// A missing parameter.
    pub fn missing(parameter: &'static str, hint: &str) -> WmsError {
        WmsError::new(
            Code::MissingParameterValue,
            parameter,
            format!("parameter {parameter} is missing: {hint}"),
        )
    }

    /// An invalid parameter value.
    pub fn invalid(parameter: &'static str, text: impl Into<String>) -> WmsError {
        WmsError::new(Code::InvalidParameterValue, parameter, text)
    }

    /// An internal failure: logged with its cause chain, answered generically with 500.
    pub fn internal(context: &str, cause: &dyn std::error::Error) -> WmsError {
        let chain = error_chain(cause);
        tracing::error!(error = %chain, context, "internal error");
        WmsError {
            code: Code::NoApplicableCode,
            locator: None,
            text: "the server failed to answer this request; the cause is in its log".to_owned(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The render queue is full: 503, to be retried.
    pub fn busy() -> WmsError {
        WmsError {
            code: Code::NoApplicableCode,
            locator: None,
            text: "the server is rendering as many maps as it can queue; retry in a second"
                .to_owned(),
            status: StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The client left before its answer was ready: nobody reads this; 499 (as nginx logs
    /// a closed request) counts it apart in `/metrics`.
    pub fn cancelled() -> WmsError {
        WmsError {
            code: Code::NoApplicableCode,
            locator: None,
            text: "the client closed its connection before the answer was ready".to_owned(),
            status: StatusCode::from_u16(CLIENT_CLOSED_REQUEST)
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    /// Whether the client left before the answer was ready.
    pub fn is_cancelled(&self) -> bool {
        self.status.as_u16() == CLIENT_CLOSED_REQUEST
    }

    /// Whether this is a client's mistake (4xx), not a failure, an overload or a client that
    /// left.
    pub fn status_is_client(&self) -> bool {
        self.status.is_client_error() && self.status.as_u16() != CLIENT_CLOSED_REQUEST
    }

    /// The message.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parameter at fault, for client errors.
    pub fn locator(&self) -> Option<&'static str> {
        self.locator
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The exception report in a version's dialect.
    pub fn into_report(self, version: Version) -> Response {
        let locator = self
            .locator
            .map(|l| format!(" locator=\"{l}\""))
            .unwrap_or_default();
        let code = self.code.name(version);
        let text = xml_escape(&self.text);
        let (body, content_type) = match version {
            Version::V130 => (
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                     <ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\" \
                     xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                     xsi:schemaLocation=\"http://www.opengis.net/ogc http://schemas.opengis.net/wms/1.3.0/exceptions_1_3_0.xsd\">\n  \
                     <ServiceException code=\"{code}\"{locator}>{text}</ServiceException>\n\
                     </ServiceExceptionReport>\n"
                ),
                "text/xml; charset=utf-8",
            ),
            Version::V111 => (
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
                     <!DOCTYPE ServiceExceptionReport SYSTEM \"http://schemas.opengis.net/wms/1.1.1/exception_1_1_1.dtd\">\n\
                     <ServiceExceptionReport version=\"1.1.1\">\n  \
                     <ServiceException code=\"{code}\"{locator}>{text}</ServiceException>\n\
                     </ServiceExceptionReport>\n"
                ),
                "application/vnd.ogc.se_xml; charset=utf-8",
            ),
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A short list of names for messages: `'a', 'b', 'c'` (at most 20, then "…").
pub(super) fn name_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (k, name) in names.enumerate() {
        if k == 20 {
            out.push_str(", …");
            break;
        }
        if k > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "'{name}'");
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_negotiation_follows_the_standard() {
        assert_eq!(Version::negotiate(None), Version::V130);
        assert_eq!(Version::negotiate(Some("1.3.0")), Version::V130);
        assert_eq!(Version::negotiate(Some("2.0.0")), Version::V130);
        assert_eq!(Version::negotiate(Some("1.1.1")), Version::V111);
        assert_eq!(Version::negotiate(Some("1.1.0")), Version::V111);
        assert_eq!(Version::negotiate(Some("1.0.0")), Version::V111);
        assert_eq!(Version::negotiate(Some("1.2")), Version::V111);
        assert_eq!(Version::negotiate(Some("garbage")), Version::V111);
    }

    #[test]
    fn exception_dialects_differ_by_version() {
        let e = WmsError::new(Code::InvalidCrs, "CRS", "EPSG:9 <unknown>");
        let r = e.into_report(Version::V130);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/xml; charset=utf-8");
        let e = WmsError::new(Code::InvalidCrs, "SRS", "x");
        let r = e.into_report(Version::V111);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/vnd.ogc.se_xml; charset=utf-8"
        );
        assert_eq!(Code::InvalidCrs.name(Version::V111), "InvalidSRS");
        assert_eq!(Code::InvalidCrs.name(Version::V130), "InvalidCRS");
        let busy = WmsError::busy().into_report(Version::V130);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    }
}
