//! What every OGC service shares: case-insensitive KVP parameters, the public base URL that
//! capabilities advertise, XML escaping, and OWS exception reports.

use std::fmt::Write as _;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// KVP parameters of a request: names case-insensitive, values as sent (percent-decoded).
#[derive(Debug, Default, Clone)]
pub struct Kvp {
    pairs: Vec<(String, String)>,
}

impl Kvp {
    /// Parses a query string, names kept as sent (OGC API parameters are lower case and
    /// echoed in links); lookups stay case-insensitive.
    pub fn parse_as_sent(query: Option<&str>) -> Kvp {
        Kvp::parse_with(query, str::to_owned)
    }

    /// Parameters read from elsewhere (an XML request), names as given.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Kvp {
        Kvp { pairs }
    }

    /// Parses a query string.
    pub fn parse(query: Option<&str>) -> Kvp {
        Kvp::parse_with(query, str::to_ascii_uppercase)
    }

    fn parse_with(query: Option<&str>, name: fn(&str) -> String) -> Kvp {
        let pairs = query
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (name(&k), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Kvp { pairs }
    }

    /// The value of a parameter (first occurrence), `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A copy with `name` set to `value` (replacing any occurrence, in any case).
    #[must_use]
    pub fn with(&self, name: &str, value: &str) -> Kvp {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
            .cloned()
            .collect();
        pairs.push((name.to_owned(), value.to_owned()));
        Kvp { pairs }
    }

    /// Every parameter, in order (names upper case).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The parameters as a query string (names upper case).
    pub fn to_query(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            serializer.append_pair(k, v);
        }
        serializer.finish()
    }

    /// The value of a parameter, treating an empty value as absent.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }
}

/// The base URL clients must use to reach this server (no trailing slash): the configured
/// `public_url`, else from `Forwarded` / `X-Forwarded-Proto` + `X-Forwarded-Host`, else `Host`.
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(url) = public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let mut proto: Option<String> = None;
    let mut host: Option<String> = None;
    if let Some(forwarded) = text("forwarded") {
        // First proxy hop only: `for=…;proto=https;host=example.org, for=…`.
        let first = forwarded.split(',').next().unwrap_or("");
        for part in first.split(';') {
            if let Some((k, v)) = part.split_once('=') {
                let v = v.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = Some(v.to_owned()),
                    "host" => host = Some(v.to_owned()),
                    _ => {}
                }
            }
        }
    }
    let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_owned();
    let proto = proto
        .or_else(|| text("x-forwarded-proto").map(first))
        .filter(|p| p == "http" || p == "https")
        .unwrap_or_else(|| "http".to_owned());
    let host = host
        .or_else(|| text("x-forwarded-host").map(first))
        .or_else(|| text("host").map(str::to_owned))
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()) && !h.contains('/'))
        .unwrap_or_else(|| "localhost".to_owned());
    let prefix = text("x-forwarded-prefix")
        .map(|p| p.trim_end_matches('/').to_owned())
        .filter(|p| p.starts_with('/') && p.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_default();
    format!("{proto}://{host}{prefix}")
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['<', '>', '&', '"', '\''])
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes `<ows:Keywords>` (nothing when there are none) on one line after `indent`.
pub fn ows_keywords(out: &mut String, indent: &str, keywords: &[String]) {
    if keywords.is_empty() {
        return;
    }
    out.push_str(indent);
    out.push_str("<ows:Keywords>");
    for keyword in keywords {
        let _ = write!(out, "<ows:Keyword>{}</ows:Keyword>", xml_escape(keyword));
    }
    out.push_str("</ows:Keywords>\n");
}

/// OWS 1.1 exception codes used by WMTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwsCode {
    /// A required parameter is missing.
    MissingParameterValue,
    /// A parameter has a value the server does not accept.
    InvalidParameterValue,
    /// A tile outside its tile matrix.
    TileOutOfRange,
    /// The operation is not supported.
    OperationNotSupported,
    /// An option of the request is not supported (WFS).
    OptionNotSupported,
    /// A parameter could not be read (a malformed WFS filter).
    OperationParsingFailed,
    /// None of the versions asked for is served.
    VersionNegotiationFailed,
    /// The server failed.
    NoApplicableCode,
}

impl OwsCode {
    fn name(self) -> &'static str {
        match self {
            OwsCode::MissingParameterValue => "MissingParameterValue",
            OwsCode::InvalidParameterValue => "InvalidParameterValue",
            OwsCode::TileOutOfRange => "TileOutOfRange",
            OwsCode::OperationNotSupported => "OperationNotSupported",
            OwsCode::OptionNotSupported => "OptionNotSupported",
            OwsCode::OperationParsingFailed => "OperationParsingFailed",
            OwsCode::VersionNegotiationFailed => "VersionNegotiationFailed",
            OwsCode::NoApplicableCode => "NoApplicableCode",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            OwsCode::OperationNotSupported => StatusCode::NOT_IMPLEMENTED,
            OwsCode::NoApplicableCode => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An OWS 1.1 `ExceptionReport` (WMTS errors).
#[derive(Debug)]
pub struct OwsException {
    code: OwsCode,
    locator: Option<String>,
    text: String,
    status: Option<StatusCode>,
}

impl OwsException {
    /// An exception about a parameter (`locator`).
    pub fn new(code: OwsCode, locator: &str, text: impl Into<String>) -> Self {
        OwsException {
            code,
            locator: Some(locator.to_owned()),
            text: text.into(),
            status: None,
        }
    }

    /// A missing parameter.
    pub fn missing(parameter: &str, hint: &str) -> Self {
        Self::new(
            OwsCode::MissingParameterValue,
            parameter,
            format!("parameter {parameter} is missing: {hint}"),
        )
    }

    /// An invalid parameter value.
    pub fn invalid(parameter: &str, text: impl Into<String>) -> Self {
        Self::new(OwsCode::InvalidParameterValue, parameter, text)
    }

    /// Overrides the HTTP status (e.g. 404 for an unknown layer in a RESTful path).
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// An internal failure: logged with its cause, answered generically.
    pub fn internal(context: &str, cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            let _ = write!(chain, ": {s}");
            source = s.source();
        }
        tracing::error!(error = %chain, context, "internal error");
        OwsException {
            code: OwsCode::NoApplicableCode,
            locator: None,
            text: "the server failed to answer this request; the cause is in its log".to_owned(),
            status: None,
        }
    }

    /// The object storage holding the layer's data failed: logged, answered 503 with
    /// `Retry-After`.
    pub fn storage_failure(context: &str, cause: &dyn std::error::Error) -> Self {
        crate::error::log_storage_failure(context, cause);
        OwsException {
            code: OwsCode::NoApplicableCode,
            locator: None,
            text: crate::error::STORAGE_FAILURE_MESSAGE.to_owned(),
            status: Some(StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    /// The exception code.
    pub fn code(&self) -> OwsCode {
        self.code
    }
}

impl IntoResponse for OwsException {
    fn into_response(self) -> Response {
        let locator = self
            .locator
            .as_deref()
            .map(|l| format!(" locator=\"{}\"", xml_escape(l)))
            .unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <ExceptionReport xmlns=\"http://www.opengis.net/ows/1.1\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsi:schemaLocation=\"http://www.opengis.net/ows/1.1 http://schemas.opengis.net/ows/1.1.0/owsExceptionReport.xsd\" \
             version=\"1.0.0\" xml:lang=\"en\">\n  \
             <Exception exceptionCode=\"{}\"{locator}>\n    <ExceptionText>{}</ExceptionText>\n  </Exception>\n\
             </ExceptionReport>\n",
            self.code.name(),
            xml_escape(&self.text)
        );
        let status = self.status.unwrap_or_else(|| self.code.status());
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            )],
            body,
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::error::STORAGE_RETRY_AFTER_SECS),
            );
        }
        response
    }
}

/// An XML document answer.
pub fn xml_response(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )],
        body,
    )
        .into_response()
}

/// Formats a computed coordinate: rounded to 1e-7 CRS units for projected CRSs (0.1 µm) and
/// 1e-10 degrees for geographic ones, so that float noise (-20037508.342789244) prints as the
/// value it stands for (-20037508.3427892).
pub fn coordinate(value: f64, geographic: bool) -> String {
    let scale = if geographic { 1e10 } else { 1e7 };
    let rounded = (value * scale).round() / scale;
    number(if rounded == 0.0 { 0.0 } else { rounded })
}

/// Formats a number for XML documents: shortest round-trip form, no exponent for usual values.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}").trim_end_matches(".0").to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::unreadable_literal)]
mod tests {
    use super::*;

    #[test]
    fn kvp_names_are_case_insensitive_and_values_decoded() {
        let kvp = Kvp::parse(Some(
            "service=WMTS&Request=GetTile&layer=a%20b&FORMAT=image%2Fpng&empty=",
        ));
        assert_eq!(kvp.get("SERVICE"), Some("WMTS"));
        assert_eq!(kvp.get("request"), Some("GetTile"));
        assert_eq!(kvp.get("LAYER"), Some("a b"));
        assert_eq!(kvp.get("format"), Some("image/png"));
        assert_eq!(kvp.get("empty"), Some(""));
        assert_eq!(kvp.non_empty("empty"), None);
        assert_eq!(kvp.get("missing"), None);
    }

    #[test]
    fn base_url_prefers_config_then_forwarded_then_host() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("internal:8080"));
        assert_eq!(base_url(None, &headers), "http://internal:8080");
        assert_eq!(
            base_url(Some("https://maps.example.org/t/"), &headers),
            "https://maps.example.org/t"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("maps.example.org"),
        );
        assert_eq!(base_url(None, &headers), "https://maps.example.org");
        headers.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=https;host=\"geo.example.net\""),
        );
        assert_eq!(base_url(None, &headers), "https://geo.example.net");
        headers.insert("x-forwarded-prefix", HeaderValue::from_static("/tiles/"));
        assert_eq!(base_url(None, &headers), "https://geo.example.net/tiles");
    }

    #[test]
    fn base_url_ignores_hostile_hosts() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("evil.example/<script>"));
        assert_eq!(base_url(None, &headers), "http://localhost");
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(xml_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(xml_escape("plain"), "plain");
    }

    #[test]
    fn numbers_print_without_noise() {
        assert_eq!(number(256.0), "256");
        assert_eq!(number(-20037508.3427892), "-20037508.3427892");
        assert_eq!(number(559082264.0287178), "559082264.0287178");
        assert_eq!(coordinate(-20037508.342789244, false), "-20037508.3427892");
        assert_eq!(coordinate(-0.000000022351741790771484, false), "0");
        assert_eq!(coordinate(2.123456789012345, true), "2.123456789");
    }
}
