//! Pieces of the OpenAPI 3.0 document (`/ogcapi/api`) that every part of the API uses.

use serde_json::{json, Value};

/// The media type of the OpenAPI document.
pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";

/// An optional query parameter (form style, lists comma-separated).
pub fn query(name: &str, description: &str, schema: Value) -> Value {
    let mut parameter = json!({"name": name, "in": "query", "required": false, "description": description, "style": "form", "explode": false});
    parameter["schema"] = schema;
    parameter
}

/// A path parameter.
pub fn path(name: &str, description: &str, schema: Value) -> Value {
    let mut parameter =
        json!({"name": name, "in": "path", "required": true, "description": description});
    parameter["schema"] = schema;
    parameter
}

/// The path parameters of a tile: `tileMatrix`, `tileRow`, `tileCol`.
pub fn tile_coordinates() -> [Value; 3] {
    [
        path(
            "tileMatrix",
            "the tile matrix (level)",
            json!({"type": "string"}),
        ),
        path(
            "tileRow",
            "the row, 0 at the top",
            json!({"type": "integer", "minimum": 0}),
        ),
        path(
            "tileCol",
            "the column, 0 at the left",
            json!({"type": "integer", "minimum": 0}),
        ),
    ]
}

/// The `f` parameter choosing among `formats`.
pub fn f(formats: &[&str]) -> Value {
    query(
        "f",
        "the format of the answer (else the Accept header decides)",
        json!({"type": "string", "enum": formats}),
    )
}

/// A problem-details answer (400, 404…).
pub fn problem() -> Value {
    json!({"description": "an error, as RFC 7807 problem details", "content": {"application/problem+json": {"schema": {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}
    }}}}})
}

/// A JSON document that also comes as HTML.
pub fn document() -> Value {
    json!({"description": "the document", "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}}
    }})
}

/// A GET operation.
pub fn get(summary: &str, operation_id: &str, parameters: Vec<Value>, responses: Value) -> Value {
    let mut operation = json!({"summary": summary, "operationId": operation_id});
    operation["parameters"] = Value::Array(parameters);
    operation["responses"] = responses;
    json!({ "get": operation })
}
