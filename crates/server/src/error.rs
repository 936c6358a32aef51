//! The errors every part of the server shares: the formatter of an error's cause chain (for
//! logs and messages), and the JSON error answer of paths outside the OGC services.
//!
//! OGC services answer their own exception documents (`services::ogc`, `services::wms`); the
//! publication API, the access gate and the middleware answer [`JsonError`], the Entrepôt's
//! `{"error", "error_description"}` shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error and its causes, joined by ": " (the workspace's one formatter, from the data
/// layer every crate above it shares).
pub use vectorstore::error_chain;

/// A client or server error answered as JSON `{"error", "error_description"}` (the
/// publication API's error shape, also used for paths outside the OGC services).
#[derive(Debug)]
pub struct JsonError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

/// The message of an object storage failure (the cause is logged, never shown).
pub const STORAGE_FAILURE_MESSAGE: &str =
    "the object storage holding this layer's data did not answer; retry in a few seconds";

/// `Retry-After` of an object storage failure, in seconds.
pub const STORAGE_RETRY_AFTER_SECS: u32 = 5;

/// Logs an object storage failure: a warning (the store, not this server, failed).
pub fn log_storage_failure(context: &str, cause: &dyn std::error::Error) {
    tracing::warn!(error = %error_chain(cause), context, "object storage failure");
}

/// The message of every internal error: the cause is logged, never shown.
const INTERNAL_MESSAGE: &str = "the server failed to answer this request; the cause is in its log";

impl JsonError {
    /// A client error (4xx): the description is shown to the client.
    pub fn client(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        JsonError {
            status,
            error,
            description: description.into(),
        }
    }

    /// An internal error: logged with its cause, answered with a generic message.
    pub fn internal(context: &str, cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %error_chain(cause), context, "internal error");
        Self::internal_answer()
    }

    /// The object storage holding a layer's data failed: logged, answered 503 with
    /// `Retry-After`.
    pub fn storage_failure(context: &str, cause: &dyn std::error::Error) -> Self {
        log_storage_failure(context, cause);
        JsonError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "storage_unavailable",
            description: STORAGE_FAILURE_MESSAGE.to_owned(),
        }
    }

    /// The catalog's database (PostgreSQL) cannot be reached: logged, answered 503 with
    /// `Retry-After`. Published layers keep being served from the server's snapshot.
    pub fn catalog_unavailable(cause: &dyn std::error::Error) -> Self {
        tracing::warn!(error = %error_chain(cause), "catalog database unavailable");
        JsonError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "catalog_unavailable",
            description: "the publication catalog's database does not answer; published layers \
                          are still served; retry in a few seconds"
                .to_owned(),
        }
    }

    /// An internal error without an error value (a broken invariant): logged, answered with
    /// the generic message.
    pub fn broken(context: &str) -> Self {
        tracing::error!(context, "internal error");
        Self::internal_answer()
    }

    /// The generic answer of an internal error already logged where it happened.
    pub(crate) fn internal_answer() -> Self {
        JsonError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "internal_error",
            description: INTERNAL_MESSAGE.to_owned(),
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, Json(body)).into_response();
        if self.error == "storage_unavailable" || self.error == "catalog_unavailable" {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(STORAGE_RETRY_AFTER_SECS),
            );
        }
        response
    }
}
