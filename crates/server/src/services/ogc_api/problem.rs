//! What every OGC API resource shares: errors as RFC 7807 problem details, the choice between
//! JSON and HTML, links, and the API's base URL.

use std::fmt::Write as _;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::services::ogc::{self, xml_escape, Kvp};
use crate::state::AppState;

/// The media type of problem details.
const PROBLEM_JSON: &str = "application/problem+json";

/// An OGC API error: RFC 7807 problem details (`type`, `title`, `status`, `detail`), with the
/// OGC API exception's `code` and `description` kept beside them for older clients.
#[derive(Debug)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short code (`InvalidParameterValue`, `NotFound`…).
    pub code: &'static str,
    /// What went wrong and what to send instead.
    pub detail: String,
}

impl Problem {
    /// 400: a parameter's value is wrong; `detail` names it and the fix.
    pub fn bad(detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameterValue",
            detail: detail.into(),
        }
    }

    /// 404: the resource does not exist.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            detail: detail.into(),
        }
    }

    /// 406: none of the formats the request accepts is offered.
    pub fn not_acceptable(detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::NOT_ACCEPTABLE,
            code: "NotAcceptable",
            detail: detail.into(),
        }
    }

    /// 503: the object storage holding the layer's data failed (logged), worth a retry.
    pub fn storage_failure(context: &str, cause: &dyn std::error::Error) -> Problem {
        crate::error::log_storage_failure(context, cause);
        Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "StorageUnavailable",
            detail: crate::error::STORAGE_FAILURE_MESSAGE.to_owned(),
        }
    }

    /// 500: logged with its cause here, answered with a generic message.
    pub fn internal(context: &str, cause: &dyn std::error::Error) -> Problem {
        tracing::error!(error = %cause, context, "internal error");
        Problem {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError",
            detail: "the server failed to answer this request; the cause is in its log".to_owned(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = json!({
            "type": format!("http://www.opengis.net/def/exceptions/ogcapi-common-1/1.0/{}", self.code),
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
            "description": self.detail,
        });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body.to_string(),
        )
            .into_response();
        // A busy render pool: worth retrying soon, as WMS and the tiles say.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            let seconds = if self.code == "StorageUnavailable" {
                crate::error::STORAGE_RETRY_AFTER_SECS
            } else {
                1
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// JSON or HTML: `f=json|html`, else the `Accept` header (browsers ask for HTML).
pub fn wants_html(kvp: &Kvp, headers: &HeaderMap) -> Result<bool, Problem> {
    match kvp.non_empty("f") {
        Some(f) if f.eq_ignore_ascii_case("json") || f.eq_ignore_ascii_case("geojson") => Ok(false),
        Some(f) if f.eq_ignore_ascii_case("html") => Ok(true),
        Some(f) => Err(Problem::bad(format!("f={f}: use f=json or f=html"))),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))),
    }
}

/// The API's root URL (`…/ogcapi`), as the client reached it.
pub fn base(state: &AppState, headers: &HeaderMap) -> String {
    format!(
        "{}/ogcapi",
        ogc::base_url(state.config.server.public_url.as_deref(), headers)
    )
}

/// A link object.
pub fn link(href: &str, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

/// A JSON document, or the same as a plain HTML page (title, links, the JSON itself).
pub fn answer(document: &Value, html: bool, title: &str) -> Response {
    if !html {
        return axum::Json(document.clone()).into_response();
    }
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1>\n<ul>\n",
        xml_escape(title)
    );
    for l in document["links"].as_array().into_iter().flatten() {
        let _ = writeln!(
            page,
            "<li><a href=\"{}\">{}</a> ({})</li>",
            xml_escape(l["href"].as_str().unwrap_or_default()),
            xml_escape(
                l["title"]
                    .as_str()
                    .unwrap_or(l["rel"].as_str().unwrap_or_default())
            ),
            xml_escape(l["rel"].as_str().unwrap_or_default())
        );
    }
    page.push_str("</ul>\n<pre>");
    page.push_str(&xml_escape(
        &serde_json::to_string_pretty(document).unwrap_or_default(),
    ));
    page.push_str("</pre></body></html>\n");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_say_what_went_wrong_and_a_busy_server_when_to_retry() {
        let response = Problem::bad("bbox=1,2: give four numbers").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static(PROBLEM_JSON))
        );
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
        let busy = Problem {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable",
            detail: "busy".to_owned(),
        }
        .into_response();
        assert_eq!(
            busy.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("1"))
        );
    }
}
