//! The publication API (`/api/…`): the Entrepôt's routes over the catalog, behind the admin
//! bearer token.
//!
//! Every route is declared once in [`ROUTES`] with its method, path, summary and body; the
//! router and the OpenAPI document (`/api/openapi.json`) are both built from that table, so
//! they cannot drift apart. Catalog calls block (SQLite, files) and run on tokio's blocking
//! pool; uploads stream from the socket to the file through a bounded channel, never held
//! whole in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, MatchedPath, Path, Query, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;
use serde_json::{json, Value as JsonValue};
use subtle::ConstantTimeEq as _;

use catalog::{Catalog, CatalogError};

use crate::error::JsonError;
use crate::services::tile_cache::{NewSeed, SeedJob, SeedJobs, SeedStatus, SeedView, TileCache};
use crate::state::AppState;

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiRoute {
    /// HTTP method.
    pub method: &'static str,
    /// Path (axum syntax: `{param}`).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The request body: `json:Schema`, `file` (multipart or raw), `multipart` or none.
    pub body: Option<&'static str>,
    /// Success status.
    pub status: u16,
    /// Whether it needs the bearer token.
    pub auth: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    status: u16,
) -> ApiRoute {
    ApiRoute {
        method,
        path,
        summary,
        body,
        status,
        auth: true,
    }
}

const DS: &str = "/api/datastores/{datastore}";

/// The six routes of tags and comments of one kind of resource.
macro_rules! annotation_routes {
    ($resource:literal, $noun:literal) => {
        [
            route(
                "POST",
                concat!("/api/datastores/{datastore}/", $resource, "/{id}/tags"),
                concat!(
                    "Add or replace tags of ",
                    $noun,
                    " (a JSON object of strings)"
                ),
                Some("json:Tags"),
                200,
            ),
            route(
                "DELETE",
                concat!("/api/datastores/{datastore}/", $resource, "/{id}/tags"),
                concat!("Remove tags of ", $noun, " (query tags[]=name, repeated)"),
                None,
                204,
            ),
            route(
                "GET",
                concat!("/api/datastores/{datastore}/", $resource, "/{id}/comments"),
                concat!("The comments on ", $noun),
                None,
                200,
            ),
            route(
                "POST",
                concat!("/api/datastores/{datastore}/", $resource, "/{id}/comments"),
                concat!("Comment on ", $noun),
                Some("json:NewComment"),
                201,
            ),
            route(
                "PUT",
                concat!(
                    "/api/datastores/{datastore}/",
                    $resource,
                    "/{id}/comments/{comment}"
                ),
                concat!("Change a comment on ", $noun),
                Some("json:NewComment"),
                200,
            ),
            route(
                "DELETE",
                concat!(
                    "/api/datastores/{datastore}/",
                    $resource,
                    "/{id}/comments/{comment}"
                ),
                concat!("Delete a comment on ", $noun),
                None,
                204,
            ),
        ]
    };
}

/// The routes of tags and comments, the same for uploads, stored data and configurations.
const ANNOTATION_ROUTES: [[ApiRoute; 6]; 3] = [
    annotation_routes!("uploads", "an upload"),
    annotation_routes!("stored_data", "a stored data"),
    annotation_routes!("configurations", "a configuration"),
];

/// Every route of the API: [`ROUTES`] and [`ANNOTATION_ROUTES`].
pub fn all_routes() -> impl Iterator<Item = &'static ApiRoute> {
    ROUTES.iter().chain(ANNOTATION_ROUTES.iter().flatten())
}

/// The routes of the API but those of tags and comments.
pub const ROUTES: &[ApiRoute] = &[
    ApiRoute {
        auth: false,
        ..route("GET", "/api/openapi.json", "This document", None, 200)
    },
    ApiRoute {
        auth: false,
        ..route(
            "POST",
            "/api/auth/token",
            "Log in (OAuth2, as Keycloak answers): grant_type=password with username and password, or client_credentials with client_id and client_secret, form-encoded; answers access_token, expires_in, token_type",
            Some("form:token"),
            200,
        )
    },
    route(
        "GET",
        "/api/users/me",
        "The caller: login, communities and the datastores they may use",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}",
        "A datastore and its endpoints",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/processings",
        "The processings",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/processings/{id}",
        "A processing and its parameters",
        None,
        200,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/uploads",
        "Create an upload (OPEN)",
        Some("json:NewUpload"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/uploads",
        "List uploads",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/uploads/{id}",
        "An upload",
        None,
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/uploads/{id}",
        "Delete an upload and its files",
        None,
        204,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/uploads/{id}/data",
        "Push a file (query: path)",
        Some("file"),
        200,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/uploads/{id}/md5",
        "Declare MD5 sums (md5sum format)",
        Some("file"),
        200,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/uploads/{id}/close",
        "Close an upload: its checks run",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/uploads/{id}/checks",
        "An upload's checks by state",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/uploads/{id}/tree",
        "The files of an upload as a tree (directories with children, files with their size)",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/checks/executions/{id}",
        "A check execution",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/checks/executions/{id}/logs",
        "A check execution's log lines",
        None,
        200,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/processings/executions",
        "Create a processing execution (and its stored data)",
        Some("json:NewExecution"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/processings/executions",
        "List processing executions",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/processings/executions/{id}",
        "A processing execution",
        None,
        200,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/processings/executions/{id}/launch",
        "Launch a processing execution",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/processings/executions/{id}/logs",
        "A processing execution's log lines",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/stored_data",
        "List stored data",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/stored_data/{id}",
        "A stored data",
        None,
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/stored_data/{id}",
        "Delete a stored data no configuration uses",
        None,
        204,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/statics",
        "Upload an SLD style (multipart: file, name, type, description)",
        Some("multipart"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/statics",
        "List statics",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/statics/{id}",
        "A static",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/statics/{id}/file",
        "A static's file",
        None,
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/statics/{id}",
        "Delete a static no configuration uses",
        None,
        204,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/configurations",
        "Create a configuration",
        Some("json:Configuration"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/configurations",
        "List configurations",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/configurations/{id}",
        "A configuration",
        None,
        200,
    ),
    route(
        "PUT",
        "/api/datastores/{datastore}/configurations/{id}",
        "Replace a configuration (live when published)",
        Some("json:Configuration"),
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/configurations/{id}",
        "Delete an unpublished configuration",
        None,
        204,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/configurations/{id}/offerings",
        "Publish a configuration on an endpoint (idempotent)",
        Some("json:NewOffering"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/configurations/{id}/offerings",
        "A configuration's offerings",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/offerings",
        "List offerings",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/offerings/{id}",
        "An offering",
        None,
        200,
    ),
    route(
        "PUT",
        "/api/datastores/{datastore}/offerings/{id}",
        "Open or restrict an offering ({open}); without a body, synchronize it (a no-op here: publications are live)",
        Some("json:OfferingUpdate"),
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/offerings/{id}",
        "Unpublish",
        None,
        204,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/permissions",
        "Create a permission granting offerings",
        Some("json:NewPermission"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/permissions",
        "List permissions",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/permissions/{id}",
        "A permission",
        None,
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/permissions/{id}",
        "Delete a permission",
        None,
        204,
    ),
    route(
        "POST",
        "/api/datastores/{datastore}/seeds",
        "Draw a published layer's tiles ahead of time into the tile cache (in the background; stored metatiles are kept unless refresh)",
        Some("json:NewSeed"),
        201,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/seeds",
        "List seed jobs (since the server started)",
        None,
        200,
    ),
    route(
        "GET",
        "/api/datastores/{datastore}/seeds/{id}",
        "A seed job: status, progress in metatiles",
        None,
        200,
    ),
    route(
        "DELETE",
        "/api/datastores/{datastore}/seeds/{id}",
        "Abort a waiting or running seed job",
        None,
        204,
    ),
    route(
        "POST",
        "/api/users/me/keys",
        "Create an API key (its value is answered once)",
        Some("json:NewKey"),
        201,
    ),
    route(
        "GET",
        "/api/users/me/keys",
        "List API keys (without values)",
        None,
        200,
    ),
    route(
        "DELETE",
        "/api/users/me/keys/{id}",
        "Delete an API key",
        None,
        204,
    ),
    route(
        "POST",
        "/api/users/me/keys/{id}/accesses",
        "Add an access (permission, offerings) to a key",
        Some("json:KeyAccess"),
        200,
    ),
];

/// The API router (mounted at the root; every path starts with `/api`).
/// The routes of the publication API: the bearer token checked on every route that needs it.
pub fn routes(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    let mut by_path: BTreeMap<&str, MethodRouter<AppState>> = BTreeMap::new();
    for r in all_routes() {
        let Some(handler) = handler(r) else {
            tracing::error!(
                path = r.path,
                method = r.method,
                "an API route has no handler"
            );
            continue;
        };
        let filter = match r.method {
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::GET,
        };
        let entry = by_path.remove(r.path).unwrap_or_default();
        by_path.insert(r.path, entry.merge(on(filter, handler)));
    }
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
        .route_layer(crate::metrics::label("api"))
        // Uploads stream to disk under the catalog's own limit (`api.max_upload_bytes`) and the
        // server's (`server.max_body_bytes`): axum's 2 MB default for multipart bodies would
        // refuse any real GeoPackage.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// The handler of a route of [`ROUTES`].
fn handler(r: &ApiRoute) -> Option<MethodRouter<AppState>> {
    use axum::routing::{delete, get, post, put};
    let suffix = r.path.strip_prefix(DS).unwrap_or(r.path);
    // Tags and comments: the same handlers for the three resources (see `annotated`).
    let annotation = ["/uploads", "/stored_data", "/configurations"]
        .iter()
        .find_map(|resource| suffix.strip_prefix(resource))
        .filter(|rest| rest.starts_with("/{id}/tags") || rest.starts_with("/{id}/comments"));
    if let Some(rest) = annotation {
        return Some(match (r.method, rest) {
            ("POST", "/{id}/tags") => post(add_tags),
            ("DELETE", "/{id}/tags") => delete(remove_tags),
            ("GET", "/{id}/comments") => get(list_comments),
            ("POST", "/{id}/comments") => post(add_comment),
            ("PUT", "/{id}/comments/{comment}") => put(edit_comment),
            ("DELETE", "/{id}/comments/{comment}") => delete(delete_comment),
            _ => return None,
        });
    }
    Some(match (r.method, suffix) {
        ("GET", "/api/openapi.json") => get(openapi),
        ("POST", "/api/auth/token") => post(issue_token),
        ("GET", "/api/users/me") => get(me),
        ("GET", "") => get(datastore),
        ("GET", "/processings") => get(processings),
        ("GET", "/processings/{id}") => get(processing),
        ("POST", "/uploads") => post(create_upload),
        ("GET", "/uploads") => get(list_uploads),
        ("GET", "/uploads/{id}") => get(upload),
        ("DELETE", "/uploads/{id}") => delete(delete_upload),
        ("POST", "/uploads/{id}/data") => post(upload_data),
        ("POST", "/uploads/{id}/md5") => post(upload_md5),
        ("POST", "/uploads/{id}/close") => post(close_upload),
        ("GET", "/uploads/{id}/checks") => get(upload_checks),
        ("GET", "/uploads/{id}/tree") => get(upload_tree),
        ("GET", "/checks/executions/{id}") => get(check_execution),
        ("GET", "/checks/executions/{id}/logs") => get(check_logs),
        ("POST", "/processings/executions") => post(create_execution),
        ("GET", "/processings/executions") => get(list_executions),
        ("GET", "/processings/executions/{id}") => get(execution),
        ("POST", "/processings/executions/{id}/launch") => post(launch_execution),
        ("GET", "/processings/executions/{id}/logs") => get(execution_logs),
        ("GET", "/stored_data") => get(list_stored_data),
        ("GET", "/stored_data/{id}") => get(stored_data),
        ("DELETE", "/stored_data/{id}") => delete(delete_stored_data),
        ("POST", "/statics") => post(create_static),
        ("GET", "/statics") => get(list_statics),
        ("GET", "/statics/{id}") => get(static_info),
        ("GET", "/statics/{id}/file") => get(static_file),
        ("DELETE", "/statics/{id}") => delete(delete_static),
        ("POST", "/configurations") => post(create_configuration),
        ("GET", "/configurations") => get(list_configurations),
        ("GET", "/configurations/{id}") => get(configuration),
        ("PUT", "/configurations/{id}") => put(replace_configuration),
        ("DELETE", "/configurations/{id}") => delete(delete_configuration),
        ("POST", "/configurations/{id}/offerings") => post(create_offering),
        ("GET", "/configurations/{id}/offerings") => get(configuration_offerings),
        ("GET", "/offerings") => get(list_offerings),
        ("GET", "/offerings/{id}") => get(offering),
        ("PUT", "/offerings/{id}") => put(update_offering),
        ("DELETE", "/offerings/{id}") => delete(delete_offering),
        ("POST", "/permissions") => post(create_permission),
        ("GET", "/permissions") => get(list_permissions),
        ("GET", "/permissions/{id}") => get(permission),
        ("DELETE", "/permissions/{id}") => delete(delete_permission),
        ("POST", "/seeds") => post(create_seed),
        ("GET", "/seeds") => get(list_seeds),
        ("GET", "/seeds/{id}") => get(seed_job),
        ("DELETE", "/seeds/{id}") => delete(abort_seed),
        ("POST", "/api/users/me/keys") => post(create_key),
        ("GET", "/api/users/me/keys") => get(list_keys),
        ("DELETE", "/api/users/me/keys/{id}") => delete(delete_key),
        ("POST", "/api/users/me/keys/{id}/accesses") => post(add_key_access),
        _ => return None,
    })
}

/// Who is calling the API: the admin token's holder, or a user with a token of
/// `POST /api/auth/token`.
#[derive(Debug, Clone)]
enum Caller {
    Admin,
    User(catalog::User),
}

/// Requires `Authorization: Bearer <token>`: the admin token (constant-time comparison) or a
/// user's unexpired token; a user reaches only the datastores they belong to (403 otherwise).
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == "/api/openapi.json" || path == "/api/auth/token" {
        return next.run(request).await;
    }
    let Some(token) = state.api_token.as_deref() else {
        return api_disabled().into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let is_admin = presented.as_deref().is_some_and(|p| {
        p.len() == token.len() && bool::from(p.as_bytes().ct_eq(token.as_bytes()))
    });
    let caller = if is_admin {
        Some(Caller::Admin)
    } else if let Some(value) = presented.clone() {
        match blocking(&state, move |catalog| catalog.token_user(&value)).await {
            Ok(user) => user.map(Caller::User),
            Err(error) => return error.into_response(),
        }
    } else {
        None
    };
    let Some(caller) = caller else {
        let mut response = JsonError::client(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            if presented.is_some() {
                "the bearer token is neither this server's API token nor a valid user token (expired? log in again at POST /api/auth/token)"
            } else {
                "the publication API needs the header 'Authorization: Bearer <token>' (a user's token from POST /api/auth/token, or the admin token: api.token, TUILERIE_API_TOKEN, or the api-token file of the data directory)"
            },
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    if let Caller::User(user) = &caller {
        let datastore = request
            .uri()
            .path()
            .strip_prefix("/api/datastores/")
            .map(|rest| rest.split('/').next().unwrap_or(""));
        if let Some(datastore) = datastore.filter(|d| !user.datastores.iter().any(|m| m == d)) {
            return JsonError::client(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "user '{}' is not a member of datastore '{datastore}'; their datastores: {}",
                    user.login,
                    user.datastores.join(", ")
                ),
            )
            .into_response();
        }
    }
    let mut request = request;
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// `POST /api/auth/token`: a bearer token for a user's credentials, in Keycloak's shape.
async fn issue_token(State(state): State<AppState>, body: Bytes) -> Result<Response, JsonError> {
    let fields: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let (login, password) = match field("grant_type") {
        Some("password") => (field("username"), field("password")),
        Some("client_credentials") => (field("client_id"), field("client_secret")),
        Some(other) => {
            return Err(JsonError::client(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported: use password (username, password) or client_credentials (client_id, client_secret)"),
            ))
        }
        None => {
            return Err(JsonError::client(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing: send grant_type=password&username=…&password=… as application/x-www-form-urlencoded",
            ))
        }
    };
    let (Some(login), Some(password)) = (login, password) else {
        return Err(JsonError::client(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the credentials are missing: username and password (grant_type=password), or client_id and client_secret (client_credentials)",
        ));
    };
    let (login, password) = (login.to_owned(), password.to_owned());
    let lifetime = state.config.api.token_lifetime;
    let issued = blocking(&state, move |c| c.issue_token(&login, &password, lifetime)).await?;
    let Some(issued) = issued else {
        return Err(JsonError::client(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "Invalid user credentials",
        ));
    };
    let mut response = ok(
        StatusCode::OK,
        &json!({
            "access_token": issued.value,
            "expires_in": issued.expires_in.as_secs(),
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "",
        }),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/users/me`: the caller as the Entrepôt describes its users — one community per
/// datastore they belong to.
async fn me(axum::Extension(caller): axum::Extension<Caller>) -> Response {
    let (id, login, datastores, creation, administrator) = match caller {
        Caller::Admin => (
            "admin".to_owned(),
            "admin".to_owned(),
            vec![catalog::DEFAULT_DATASTORE.to_owned()],
            None,
            true,
        ),
        Caller::User(user) => (
            user.id,
            user.login,
            user.datastores,
            Some(user.creation),
            false,
        ),
    };
    let communities: Vec<JsonValue> = datastores
        .iter()
        .map(|datastore| {
            json!({
                "rights": ["COMMUNITY", "UPLOAD", "PROCESSING", "DATASTORE", "BROADCAST", "ANNEX", "SHEET"],
                "community": {
                    "_id": datastore,
                    "name": datastore,
                    "technical_name": datastore,
                    "datastore": datastore,
                    "public": false,
                },
            })
        })
        .collect();
    ok(
        StatusCode::OK,
        &json!({
            "_id": id,
            "email": "",
            "first_name": login,
            "last_name": login,
            "login": login,
            "creation": creation,
            "administrator": administrator,
            "communities_member": communities,
        }),
    )
}

fn catalog_error(error: &CatalogError) -> JsonError {
    match error {
        CatalogError::NotFound { .. } => {
            JsonError::client(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        CatalogError::Invalid(_) => invalid(error.to_string()),
        CatalogError::Conflict(_) => {
            JsonError::client(StatusCode::CONFLICT, "conflict", error.to_string())
        }
        CatalogError::Unavailable(_) => JsonError::catalog_unavailable(error),
        other => JsonError::internal("publication API", other),
    }
}

fn api_disabled() -> JsonError {
    JsonError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_disabled",
        "the publication API is off on this server (no catalog)",
    )
}

/// A client error of the request (400 `invalid_request`).
fn invalid(message: impl Into<String>) -> JsonError {
    JsonError::client(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// Runs a catalog call on the blocking pool.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Catalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, JsonError> {
    let catalog = state.catalog.clone().ok_or_else(api_disabled)?;
    match tokio::task::spawn_blocking(move || work(&catalog)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(catalog_error(&error)),
        Err(error) => Err(JsonError::internal("publication API task", &error)),
    }
}

/// Runs a catalog call and answers its value as JSON with `status` (nothing for 204).
async fn answer<T: serde::Serialize + Send + 'static>(
    state: &AppState,
    status: StatusCode,
    work: impl FnOnce(&Catalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<Response, JsonError> {
    let value = blocking(state, work).await?;
    Ok(if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        ok(status, &value)
    })
}

fn ok<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

/// A JSON body, with errors that say what is wrong where.
struct ApiJson<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = JsonError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| invalid(format!("cannot read the body: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| invalid(format!("the body is not the JSON expected: {e}")))
    }
}

type Ids = Path<(String, String)>;

/// A handler answering `c.$method(&datastore, &id)` with `$status`.
macro_rules! by_id {
    ($name:ident, $status:ident, $method:ident) => {
        async fn $name(
            State(state): State<AppState>,
            Path((ds, id)): Ids,
        ) -> Result<Response, JsonError> {
            answer(&state, StatusCode::$status, move |c| c.$method(&ds, &id)).await
        }
    };
}

async fn datastore(
    State(state): State<AppState>,
    Path(ds): Path<String>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, move |c| c.datastore(&ds)).await
}

/// A list route: the datastore's resources, filtered and paginated as the Entrepôt does
/// (see [`paginated`]).
macro_rules! listing {
    ($name:ident, $method:ident) => {
        async fn $name(
            State(state): State<AppState>,
            Path(ds): Path<String>,
            RawQuery(query): RawQuery,
        ) -> Result<Response, JsonError> {
            let items = blocking(&state, move |c| c.$method(&ds)).await?;
            paginated(&items, query.as_deref())
        }
    };
}

/// Most items one page may hold.
const MAX_PAGE_LIMIT: usize = 1000;

/// A listing as the Entrepôt answers it: filtered by the query's fields (`name=…`, `type=…`,
/// `status=…`, any other field of the resource, `tags[key]=…`; `%` and `*` are wildcards,
/// else the value must be equal), cut to `page` (from 1) of `limit` items when `limit` is
/// given, with `Content-Range: first-last/total` so that clients (IGN's SDK) fetch every page.
/// `fields` and `sort` are accepted and ignored (every field is answered).
fn paginated<T: serde::Serialize>(items: &[T], query: Option<&str>) -> Result<Response, JsonError> {
    let mut page = 1_usize;
    let mut limit = None;
    let mut filters = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "page" => {
                page = value.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                    invalid(format!(
                        "page={value} is not a page number: give a whole number from 1"
                    ))
                })?;
            }
            "limit" => {
                limit = Some(
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|l| (1..=MAX_PAGE_LIMIT).contains(l))
                        .ok_or_else(|| {
                            invalid(format!(
                                "limit={value} is not a page size: give a whole number from 1 to {MAX_PAGE_LIMIT}"
                            ))
                        })?,
                );
            }
            "fields" | "fields[]" | "sort" => {}
            _ => filters.push((key.into_owned(), value.into_owned())),
        }
    }
    let mut kept = Vec::new();
    for item in items {
        let value =
            serde_json::to_value(item).map_err(|e| JsonError::internal("listing resources", &e))?;
        if filters
            .iter()
            .all(|(key, wanted)| filter_matches(&value, key, wanted))
        {
            kept.push(value);
        }
    }
    let total = kept.len();
    let (start, end) = match limit {
        None => (0, total),
        Some(limit) => {
            let start = (page - 1).saturating_mul(limit).min(total);
            (start, start.saturating_add(limit).min(total))
        }
    };
    let last = if end > start { end - 1 } else { start };
    let page_items: Vec<JsonValue> = kept.drain(start..end).collect();
    let mut response = ok(StatusCode::OK, &page_items);
    if let Ok(range) = HeaderValue::from_str(&format!("{start}-{last}/{total}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, range);
    }
    Ok(response)
}

/// Whether a resource passes one listing filter.
fn filter_matches(item: &JsonValue, key: &str, wanted: &str) -> bool {
    let field = match key.strip_prefix("tags[").and_then(|k| k.strip_suffix(']')) {
        Some(tag) => item.get("tags").and_then(|tags| tags.get(tag)),
        None => item.get(key),
    };
    let matches = |value: &JsonValue| match value {
        JsonValue::String(s) => text_matches(s, wanted),
        JsonValue::Number(_) | JsonValue::Bool(_) => text_matches(&value.to_string(), wanted),
        _ => false,
    };
    match field {
        Some(JsonValue::Array(values)) => values.iter().any(matches),
        Some(value) => matches(value),
        None => false,
    }
}

/// `text` equals `pattern`, or matches it where `pattern` holds `%` or `*` wildcards (any run
/// of characters, case-insensitive).
fn text_matches(text: &str, pattern: &str) -> bool {
    if !pattern.contains(['%', '*']) {
        return text == pattern;
    }
    let text = text.to_lowercase();
    let pattern = pattern.to_lowercase();
    let parts: Vec<&str> = pattern.split(['%', '*']).collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return true;
    };
    if !text.starts_with(first) {
        return false;
    }
    let mut rest = &text[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    parts.len() == 1 || rest.ends_with(last)
}

async fn processings(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, JsonError> {
    let all = blocking(&state, move |c| {
        c.datastore(&ds)?;
        Ok(c.processings())
    })
    .await?;
    paginated(&all, query.as_deref())
}

async fn processing(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, move |c| {
        c.datastore(&ds)?;
        c.processing(&id)
    })
    .await
}

async fn create_upload(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    ApiJson(new): ApiJson<catalog::NewUpload>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::CREATED, move |c| {
        c.create_upload(&ds, new)
    })
    .await
}

listing!(list_uploads, uploads);

/// `GET …/uploads/{id}/tree`: the upload's files as the Entrepôt's tree, which IGN's SDK reads
/// to resume an interrupted upload (a file already there with the same size is not sent again).
async fn upload_tree(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
) -> Result<Response, JsonError> {
    let upload = blocking(&state, move |c| c.upload(&ds, &id)).await?;
    let files: Vec<(&str, u64)> = upload
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.size))
        .collect();
    Ok(ok(StatusCode::OK, &file_tree(&files)))
}

/// Paths and sizes as a tree: `[{type: "directory", name, size, children: […]}, {type: "file",
/// name, size}]`, directories first, by name.
fn file_tree(files: &[(&str, u64)]) -> Vec<JsonValue> {
    let mut directories: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    let mut here: Vec<(&str, u64)> = Vec::new();
    for &(path, size) in files {
        match path.split_once('/') {
            Some((directory, rest)) if !rest.is_empty() => {
                directories.entry(directory).or_default().push((rest, size));
            }
            _ => here.push((path, size)),
        }
    }
    here.sort_unstable();
    let mut tree: Vec<JsonValue> = directories
        .into_iter()
        .map(|(name, inside)| {
            let size: u64 = inside.iter().map(|(_, s)| s).sum();
            json!({"type": "directory", "name": name, "size": size, "children": file_tree(&inside)})
        })
        .collect();
    tree.extend(
        here.into_iter()
            .map(|(name, size)| json!({"type": "file", "name": name, "size": size})),
    );
    tree
}

async fn upload(State(state): State<AppState>, Path((ds, id)): Ids) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, move |c| c.upload(&ds, &id)).await
}

by_id!(delete_upload, NO_CONTENT, delete_upload);

/// A blocking reader over body chunks sent from the async side.
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(error)) => return Err(error),
                None => return Ok(0),
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

#[derive(Debug, serde::Deserialize)]
struct PathQuery {
    path: Option<String>,
}

async fn upload_data(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
    Query(query): Query<PathQuery>,
    request: Request,
) -> Result<Response, JsonError> {
    let multipart = is_multipart(&request);
    if multipart {
        let mut form = axum::extract::Multipart::from_request(request, &state)
            .await
            .map_err(|e| invalid(format!("the multipart body cannot be read: {e}")))?;
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| invalid(format!("the multipart body cannot be read: {e}")))?;
            let Some(mut field) = field else {
                return Err(invalid(
                    "the multipart body holds no file part: send the file in a part named 'file'",
                ));
            };
            if field.file_name().is_none() && field.name() != Some("file") {
                continue;
            }
            let path = query
                .path
                .clone()
                .or_else(|| field.file_name().map(str::to_owned))
                .ok_or_else(|| invalid("say where the file goes: ?path=data/file.gpkg"))?;
            let sink = UploadSink::open(&state, ds, id, path)?;
            loop {
                let chunk = match field.chunk().await {
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => break,
                    Err(e) => Err(std::io::Error::other(e)),
                };
                if !sink.send(chunk).await {
                    break;
                }
            }
            return sink.finish().await;
        }
    }
    let path = query.path.ok_or_else(|| {
        invalid(
            "query parameter 'path' is missing: say where the file goes, e.g. ?path=data/file.gpkg",
        )
    })?;
    let sink = UploadSink::open(&state, ds, id, path)?;
    let mut body: Body = request.into_body();
    while let Some(frame) = body.frame().await {
        let chunk = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => Ok(data),
                Err(_) => continue,
            },
            Err(e) => Err(std::io::Error::other(e)),
        };
        if !sink.send(chunk).await {
            break;
        }
    }
    sink.finish().await
}

/// A file of an upload being written: body chunks go through a bounded channel to the
/// catalog, which writes them on the blocking pool.
struct UploadSink {
    sender: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    task: tokio::task::JoinHandle<Result<catalog::UploadFile, CatalogError>>,
}

impl UploadSink {
    fn open(
        state: &AppState,
        ds: String,
        id: String,
        path: String,
    ) -> Result<UploadSink, JsonError> {
        let catalog = state.catalog.clone().ok_or_else(api_disabled)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let task = tokio::task::spawn_blocking(move || {
            let mut reader = ChannelReader {
                chunks: receiver,
                current: Bytes::new(),
            };
            catalog.add_upload_file(&ds, &id, &path, &mut reader)
        });
        Ok(UploadSink { sender, task })
    }

    /// Passes a chunk (or the transfer's error) on; false when the writer stopped reading
    /// (it refused the file) or after an error: stop sending then.
    async fn send(&self, chunk: Result<Bytes, std::io::Error>) -> bool {
        let failed = chunk.is_err();
        self.sender.send(chunk).await.is_ok() && !failed
    }

    /// Ends the body and answers with what the catalog stored, or why it refused.
    async fn finish(self) -> Result<Response, JsonError> {
        drop(self.sender);
        match self.task.await {
            Ok(Ok(file)) => Ok(ok(StatusCode::OK, &file)),
            Ok(Err(error)) => Err(catalog_error(&error)),
            Err(error) => Err(JsonError::internal("upload task", &error)),
        }
    }
}

async fn upload_md5(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
    request: Request,
) -> Result<Response, JsonError> {
    let text = file_or_body_text(request, &state).await?;
    answer(&state, StatusCode::OK, move |c| {
        c.declare_upload_md5(&ds, &id, &text)
    })
    .await
}

/// A small file sent as a multipart part or as the raw body, as text.
async fn file_or_body_text(request: Request, state: &AppState) -> Result<String, JsonError> {
    let form = small_form(request, state).await?;
    let bytes = form.file.unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| invalid("the file is not UTF-8 text"))
}

/// A small multipart form (statics, MD5 files), or a raw body as its file.
#[derive(Default)]
struct SmallForm {
    file: Option<Vec<u8>>,
    fields: BTreeMap<String, String>,
}

fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"))
}

const SMALL_FORM_LIMIT: usize = 16 * 1024 * 1024;

async fn small_form(request: Request, state: &AppState) -> Result<SmallForm, JsonError> {
    let multipart = is_multipart(&request);
    let mut form = SmallForm::default();
    if !multipart {
        let bytes = axum::body::to_bytes(request.into_body(), SMALL_FORM_LIMIT)
            .await
            .map_err(|e| {
                invalid(format!(
                    "cannot read the body ({e}); at most {SMALL_FORM_LIMIT} bytes"
                ))
            })?;
        form.file = Some(bytes.to_vec());
        return Ok(form);
    }
    let mut parts = axum::extract::Multipart::from_request(request, state)
        .await
        .map_err(|e| invalid(format!("the multipart body cannot be read: {e}")))?;
    while let Some(mut field) = parts
        .next_field()
        .await
        .map_err(|e| invalid(format!("the multipart body cannot be read: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some() || name == "file";
        // Read chunk by chunk: a part larger than the limit is refused before it is held.
        let mut bytes = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| invalid(format!("part '{name}' cannot be read: {e}")))?
        {
            if bytes.len() + chunk.len() > SMALL_FORM_LIMIT {
                return Err(invalid(format!(
                    "part '{name}' is larger than {SMALL_FORM_LIMIT} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            form.file = Some(bytes);
        } else {
            form.fields
                .insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(form)
}

by_id!(close_upload, OK, close_upload);

by_id!(upload_checks, OK, upload_checks);

by_id!(check_execution, OK, check_execution);

by_id!(check_logs, OK, check_logs);

async fn create_execution(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    ApiJson(new): ApiJson<catalog::NewExecution>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::CREATED, move |c| {
        c.create_execution(&ds, new)
    })
    .await
}

listing!(list_executions, executions);

by_id!(execution, OK, execution);

by_id!(launch_execution, OK, launch_execution);

by_id!(execution_logs, OK, execution_logs);

listing!(list_stored_data, stored_datas);

by_id!(stored_data, OK, stored_data);

by_id!(delete_stored_data, NO_CONTENT, delete_stored_data);

#[derive(Debug, serde::Deserialize)]
struct StaticQuery {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
}

async fn create_static(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    Query(query): Query<StaticQuery>,
    request: Request,
) -> Result<Response, JsonError> {
    let mut form = small_form(request, &state).await?;
    let content = form
        .file
        .take()
        .ok_or_else(|| invalid("no file: send the SLD in a multipart part named 'file'"))?;
    let field = |form: &SmallForm, name: &str, fallback: Option<String>| {
        form.fields
            .get(name)
            .cloned()
            .or(fallback)
            .unwrap_or_default()
    };
    let name = field(&form, "name", query.name);
    let kind = field(&form, "type", query.kind);
    let description = field(&form, "description", query.description);
    answer(&state, StatusCode::CREATED, move |c| {
        c.create_static(&ds, &name, &kind, &description, &content)
    })
    .await
}

listing!(list_statics, statics);

by_id!(static_info, OK, static_file_info);

async fn static_file(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
) -> Result<Response, JsonError> {
    let bytes = blocking(&state, move |c| c.static_content(&ds, &id)).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/vnd.ogc.sld+xml")],
        bytes,
    )
        .into_response())
}

by_id!(delete_static, NO_CONTENT, delete_static);

async fn create_configuration(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    ApiJson(body): ApiJson<catalog::ConfigurationBody>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::CREATED, move |c| {
        c.create_configuration(&ds, body)
    })
    .await
}

listing!(list_configurations, configurations);

by_id!(configuration, OK, configuration);

async fn replace_configuration(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
    ApiJson(body): ApiJson<catalog::ConfigurationBody>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, move |c| {
        c.replace_configuration(&ds, &id, body)
    })
    .await
}

by_id!(delete_configuration, NO_CONTENT, delete_configuration);

async fn create_offering(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
    ApiJson(new): ApiJson<catalog::NewOffering>,
) -> Result<Response, JsonError> {
    let (offering, created) = blocking(&state, move |c| c.create_offering(&ds, &id, &new)).await?;
    Ok(ok(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &offering,
    ))
}

async fn configuration_offerings(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, move |c| {
        c.configuration(&ds, &id)?;
        Ok(c.offerings(&ds)?
            .into_iter()
            .filter(|o| o.configuration.id == id)
            .collect::<Vec<_>>())
    })
    .await
}

listing!(list_offerings, offerings);

by_id!(offering, OK, offering);

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct OfferingUpdate {
    open: bool,
}

/// `PUT …/offerings/{id}`: with `{"open": …}`, opens or restricts it; without a body, the
/// Entrepôt's "synchronize" (IGN's SDK sends it after changing a configuration), which here has
/// nothing to do — publications are live as soon as they change — and answers the offering.
async fn update_offering(
    State(state): State<AppState>,
    Path((ds, id)): Ids,
    body: Bytes,
) -> Result<Response, JsonError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return answer(&state, StatusCode::OK, move |c| c.offering(&ds, &id)).await;
    }
    let update: OfferingUpdate = serde_json::from_slice(&body).map_err(|e| {
        invalid(format!(
            "the body is not an offering update ({e}): send {{\"open\": true|false}}, or no body to synchronize"
        ))
    })?;
    answer(&state, StatusCode::OK, move |c| {
        c.set_offering_open(&ds, &id, update.open)
    })
    .await
}

by_id!(delete_offering, NO_CONTENT, delete_offering);

async fn create_permission(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    ApiJson(new): ApiJson<catalog::NewPermission>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::CREATED, move |c| {
        c.create_permission(&ds, new)
    })
    .await
}

listing!(list_permissions, permissions);

by_id!(permission, OK, permission);

by_id!(delete_permission, NO_CONTENT, delete_permission);

async fn create_key(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<catalog::NewKey>,
) -> Result<Response, JsonError> {
    let (key, value) = blocking(&state, move |c| c.create_key(new)).await?;
    let mut body = serde_json::to_value(&key).unwrap_or(JsonValue::Null);
    if let Some(object) = body.as_object_mut() {
        object.insert("key".to_owned(), JsonValue::String(value));
    }
    Ok(ok(StatusCode::CREATED, &body))
}

/// The resource a tags or comments route is about, from the route it matched.
fn annotated(route: &MatchedPath) -> catalog::Annotated {
    let route = route.as_str();
    if route.contains("/stored_data/") {
        catalog::Annotated::StoredData
    } else if route.contains("/configurations/") {
        catalog::Annotated::Configuration
    } else {
        catalog::Annotated::Upload
    }
}

async fn add_tags(
    State(state): State<AppState>,
    route: MatchedPath,
    Path((ds, id)): Ids,
    ApiJson(tags): ApiJson<BTreeMap<String, JsonValue>>,
) -> Result<Response, JsonError> {
    let what = annotated(&route);
    answer(&state, StatusCode::OK, move |c| {
        c.add_tags(&ds, what, &id, &tags)
    })
    .await
}

async fn remove_tags(
    State(state): State<AppState>,
    route: MatchedPath,
    Path((ds, id)): Ids,
    RawQuery(query): RawQuery,
) -> Result<Response, JsonError> {
    let what = annotated(&route);
    // `tags[]=a&tags[]=b` (as IGN's SDK sends them) or `tags=a,b`.
    let keys: Vec<String> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "tags[]" || key == "tags")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    if keys.is_empty() {
        return Err(invalid(
            "name the tags to remove: tags[]=name (repeated) or tags=a,b".to_owned(),
        ));
    }
    answer(&state, StatusCode::NO_CONTENT, move |c| {
        c.remove_tags(&ds, what, &id, &keys)
    })
    .await
}

async fn list_comments(
    State(state): State<AppState>,
    route: MatchedPath,
    Path((ds, id)): Ids,
    RawQuery(query): RawQuery,
) -> Result<Response, JsonError> {
    let what = annotated(&route);
    let comments = blocking(&state, move |c| c.comments(&ds, what, &id)).await?;
    paginated(&comments, query.as_deref())
}

async fn add_comment(
    State(state): State<AppState>,
    route: MatchedPath,
    Path((ds, id)): Ids,
    ApiJson(new): ApiJson<catalog::NewComment>,
) -> Result<Response, JsonError> {
    let what = annotated(&route);
    answer(&state, StatusCode::CREATED, move |c| {
        c.add_comment(&ds, what, &id, new)
    })
    .await
}

async fn edit_comment(
    State(state): State<AppState>,
    route: MatchedPath,
    Path((ds, id, comment)): Path<(String, String, String)>,
    ApiJson(new): ApiJson<catalog::NewComment>,
) -> Result<Response, JsonError> {
    let what = annotated(&route);
    answer(&state, StatusCode::OK, move |c| {
        c.edit_comment(&ds, what, &id, &comment, new)
    })
    .await
}

async fn delete_comment(
    State(state): State<AppState>,
    route: MatchedPath,
    Path((ds, id, comment)): Path<(String, String, String)>,
) -> Result<Response, JsonError> {
    let what = annotated(&route);
    answer(&state, StatusCode::NO_CONTENT, move |c| {
        c.delete_comment(&ds, what, &id, &comment)
    })
    .await
}

async fn list_keys(State(state): State<AppState>) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, Catalog::keys).await
}

async fn delete_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::NO_CONTENT, move |c| c.delete_key(&id)).await
}

async fn add_key_access(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(access): ApiJson<catalog::KeyAccess>,
) -> Result<Response, JsonError> {
    answer(&state, StatusCode::OK, move |c| {
        c.add_key_access(&id, access)
    })
    .await
}

/// The schema a route answers: its name and whether it is a list (`None`: no JSON body).
fn response_schema(r: &ApiRoute) -> Option<(&'static str, bool)> {
    let path = r.path;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let last = parts.last().copied().unwrap_or_default();
    let list = r.method == "GET" && !last.starts_with('{');
    let noun = parts
        .iter()
        .rev()
        .find(|p| !p.starts_with('{'))
        .copied()
        .unwrap_or_default();
    let schema = match noun {
        _ if r.method == "DELETE" => return None,
        "logs" => return Some(("LogLine", true)),
        "{datastore}" | "datastores" => return Some(("Datastore", false)),
        "processings" => "Processing",
        "uploads" | "md5" | "close" => "Upload",
        "data" => return Some(("UploadFile", false)),
        "checks" => return Some(("UploadChecks", false)),
        "executions" if path.contains("/checks/") => "CheckExecution",
        "executions" | "launch" => "Execution",
        "stored_data" => "StoredData",
        "statics" => "Static",
        "configurations" => "Configuration",
        "offerings" => "Offering",
        "permissions" => "Permission",
        "keys" | "accesses" => "Key",
        _ => return None,
    };
    Some((schema, list && !matches!(noun, "launch" | "md5" | "close")))
}

/// The component schemas, from the catalog's types.
fn component_schemas() -> JsonValue {
    use schemars::generate::SchemaSettings;
    // OpenAPI 3.1 schemas are JSON Schema 2020-12, kept under components/schemas.
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let mut schemas = serde_json::Map::new();
    macro_rules! add {
        ($($name:literal => $ty:ty),* $(,)?) => {
            $(
                let schema = generator.subschema_for::<$ty>();
                schemas.insert($name.to_owned(), schema.to_value());
            )*
        };
    }
    add!(
        "Datastore" => catalog::Datastore,
        "Tags" => BTreeMap<String, String>,
        "NewComment" => catalog::NewComment,
        "Comment" => catalog::Comment,
        "Processing" => catalog::Processing,
        "NewUpload" => catalog::NewUpload,
        "Upload" => catalog::Upload,
        "UploadFile" => catalog::UploadFile,
        "UploadChecks" => catalog::UploadChecks,
        "CheckExecution" => catalog::CheckExecution,
        "NewExecution" => catalog::NewExecution,
        "Execution" => catalog::Execution,
        "StoredData" => catalog::StoredData,
        "Static" => catalog::Static,
        "Configuration" => catalog::Configuration,
        "ConfigurationBody" => catalog::ConfigurationBody,
        "NewOffering" => catalog::NewOffering,
        "OfferingUpdate" => OfferingUpdate,
        "Offering" => catalog::Offering,
        "NewPermission" => catalog::NewPermission,
        "Permission" => catalog::Permission,
        "NewKey" => catalog::NewKey,
        "KeyAccess" => catalog::KeyAccess,
        "Key" => catalog::Key,
        "NewSeed" => NewSeed,
        "Seed" => SeedView,
    );
    // The types' own definitions replace the references `subschema_for` answered for them.
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    // A schema that is itself a reference (`subschema_for` of a type kept in the definitions)
    // is replaced by what it refers to.
    let resolved: Vec<(String, JsonValue)> = schemas
        .iter()
        .filter_map(|(name, schema)| {
            let target = schema.get("$ref")?.as_str()?.rsplit('/').next()?.to_owned();
            (target != *name).then(|| {
                (
                    name.clone(),
                    schemas.get(&target).cloned().unwrap_or_default(),
                )
            })
        })
        .collect();
    for (name, schema) in resolved {
        schemas.insert(name, schema);
    }
    schemas.insert("LogLine".to_owned(), json!({"type": "string"}));
    JsonValue::Object(schemas)
}

fn schema_ref(name: &str, list: bool) -> JsonValue {
    let reference = json!({"$ref": format!("#/components/schemas/{name}")});
    if list {
        json!({"type": "array", "items": reference})
    } else {
        reference
    }
}

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn openapi_document() -> JsonValue {
    let mut paths = serde_json::Map::new();
    for r in all_routes() {
        let parameters: Vec<JsonValue> = r
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .chain(
                (r.path.ends_with("/data")).then(|| json!({"name": "path", "in": "query", "required": false, "description": "where the file goes in the upload (default: the multipart file name)", "schema": {"type": "string"}})),
            )
            .collect();
        let success = match response_schema(r) {
            Some((name, list)) => {
                json!({"description": "success", "content": {"application/json": {"schema": schema_ref(name, list)}}})
            }
            None if r.path.ends_with("/file") => {
                json!({"description": "the file", "content": {"application/vnd.ogc.sld+xml": {"schema": {"type": "string"}}}})
            }
            None => json!({"description": "success"}),
        };
        let mut operation = json!({
            "summary": r.summary,
            "operationId": operation_id(r),
            "parameters": parameters,
            "responses": {
                r.status.to_string(): success,
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "409": {"$ref": "#/components/responses/Error"},
            },
        });
        if !r.auth {
            operation["security"] = json!([]);
        }
        match r.body {
            Some(body) if body.starts_with("json:") => {
                let name = match &body[5..] {
                    "Configuration" => "ConfigurationBody",
                    other => other,
                };
                operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema_ref(name, false)}}});
            }
            Some("form:token") => {
                operation["requestBody"] = json!({"required": true, "content": {
                    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                        "grant_type": {"type": "string", "enum": ["password", "client_credentials"]},
                        "username": {"type": "string"}, "password": {"type": "string"},
                        "client_id": {"type": "string"}, "client_secret": {"type": "string"}
                    }, "required": ["grant_type"]}}
                }});
            }
            Some("file") => {
                operation["requestBody"] = json!({"required": true, "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}
                }});
            }
            Some(_) => {
                operation["requestBody"] = json!({"required": true, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"}, "type": {"type": "string", "enum": ["GEOSERVER-STYLE"]}, "description": {"type": "string"}
                    }, "required": ["file", "name"]}}
                }});
            }
            None => {}
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = operation;
    }
    let mut schemas = component_schemas();
    if let Some(map) = schemas.as_object_mut() {
        map.insert(
            "Error".to_owned(),
            json!({
            "type": "object", "required": ["error", "error_description"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}}),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tuilerie publication API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "A self-hostable subset of the Géoplateforme Entrepôt API: uploads, processings, stored data, statics, configurations, offerings, permissions and keys."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {"Error": {"description": "a client error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
        },
        "paths": paths,
    })
}

fn operation_id(r: &ApiRoute) -> String {
    let mut id = r.method.to_ascii_lowercase();
    for part in r.path.trim_start_matches("/api/").split('/') {
        if part == "{datastore}" || part == "datastores" {
            continue;
        }
        id.push('_');
        id.push_str(
            part.trim_start_matches('{')
                .trim_end_matches('}')
                .trim_end_matches(".json"),
        );
    }
    id
}

async fn openapi() -> Response {
    static DOCUMENT: std::sync::LazyLock<Arc<Vec<u8>>> = std::sync::LazyLock::new(|| {
        Arc::new(serde_json::to_vec_pretty(&openapi_document()).unwrap_or_default())
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(DOCUMENT.as_ref().clone()),
    )
        .into_response()
}

/// `POST …/seeds`: a layer of one of the datastore's offerings, seeded in the background.
async fn create_seed(
    State(state): State<AppState>,
    Path(ds): Path<String>,
    axum::Extension(images): axum::Extension<Arc<TileCache>>,
    axum::Extension(jobs): axum::Extension<Arc<SeedJobs>>,
    ApiJson(new): ApiJson<NewSeed>,
) -> Result<Response, JsonError> {
    let (datastore, name) = (ds.clone(), new.layer.clone());
    let offered = blocking(&state, move |c| {
        Ok(c.offerings(&datastore)?
            .into_iter()
            .any(|o| o.layer_name == name))
    })
    .await?;
    let snapshot = state.layers.load();
    let layer = offered
        .then(|| {
            snapshot
                .tiles
                .get(&new.layer)
                .or_else(|| snapshot.wms.get(&new.layer))
        })
        .flatten()
        .cloned()
        .ok_or_else(|| {
            JsonError::client(
                StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "no published layer '{}' in datastore '{ds}': name the layer_name of one of its offerings",
                    new.layer
                ),
            )
        })?;
    let (plan, tms) = images.plan_seed(&layer, &new).map_err(invalid)?;
    let view = SeedView {
        id: uuid::Uuid::new_v4().to_string(),
        datastore: ds,
        layer: layer.name.clone(),
        style: layer
            .styles()
            .get(plan.style)
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        tms,
        levels: format!("{}-{}", plan.levels.start(), plan.levels.end()),
        format: plan.format.name().to_owned(),
        status: SeedStatus::Waiting,
        progress: crate::services::tile_cache::SeedProgress { done: 0, total: 0 },
        rendered: 0,
        creation: crate::services::tile_cache::seed_now(),
        start: None,
        finish: None,
        message: None,
    };
    let job = Arc::new(SeedJob::new(view));
    jobs.add(Arc::clone(&job));
    images
        .start_seed(layer, plan, Arc::clone(&job))
        .map_err(|e| JsonError::internal("starting a seed job", &e))?;
    Ok(ok(StatusCode::CREATED, &job.view()))
}

/// `GET …/seeds`
async fn list_seeds(
    Path(ds): Path<String>,
    axum::Extension(jobs): axum::Extension<Arc<SeedJobs>>,
) -> Response {
    let views: Vec<SeedView> = jobs.of(&ds).iter().map(|j| j.view()).collect();
    ok(StatusCode::OK, &views)
}

fn seed_not_found(id: &str) -> JsonError {
    JsonError::client(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no seed job '{id}' in this datastore (jobs are kept in memory until a restart)"),
    )
}

/// `GET …/seeds/{id}`
async fn seed_job(
    Path((ds, id)): Ids,
    axum::Extension(jobs): axum::Extension<Arc<SeedJobs>>,
) -> Result<Response, JsonError> {
    let job = jobs.get(&ds, &id).ok_or_else(|| seed_not_found(&id))?;
    Ok(ok(StatusCode::OK, &job.view()))
}

/// `DELETE …/seeds/{id}`: stops a waiting or running job (409 when it has ended).
async fn abort_seed(
    Path((ds, id)): Ids,
    axum::Extension(jobs): axum::Extension<Arc<SeedJobs>>,
) -> Result<Response, JsonError> {
    let job = jobs.get(&ds, &id).ok_or_else(|| seed_not_found(&id))?;
    if job.abort() {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(JsonError::client(
            StatusCode::CONFLICT,
            "conflict",
            format!("seed job '{id}' has ended ({:?})", job.view().status),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_tree_nests_directories_and_sums_their_sizes() {
        let tree = file_tree(&[
            ("data/ain/b.tif", 20),
            ("data/ain/a.tif", 10),
            ("data/readme.txt", 1),
            ("ain.md5", 5),
        ]);
        assert_eq!(
            serde_json::Value::Array(tree),
            json!([
                {"type": "directory", "name": "data", "size": 31, "children": [
                    {"type": "directory", "name": "ain", "size": 30, "children": [
                        {"type": "file", "name": "a.tif", "size": 10},
                        {"type": "file", "name": "b.tif", "size": 20},
                    ]},
                    {"type": "file", "name": "readme.txt", "size": 1},
                ]},
                {"type": "file", "name": "ain.md5", "size": 5},
            ])
        );
    }

    #[test]
    fn every_schema_reference_of_the_document_resolves() {
        let document = openapi_document();
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.rsplit('/').next().unwrap();
            assert!(
                target.starts_with("#/components/")
                    && (schemas.contains_key(name) || target.contains("/responses/")),
                "dangling {target}"
            );
        }
        let upload = &schemas["Upload"];
        assert!(upload["properties"]["_id"].is_object(), "{upload}");
        assert!(upload["properties"]["status"].is_object(), "{upload}");
    }

    #[test]
    fn every_route_has_a_handler_and_an_operation() {
        let document = openapi_document();
        let mut operations = std::collections::HashSet::new();
        for r in all_routes() {
            let suffix = r.path.strip_prefix(DS).unwrap_or(r.path);
            assert!(handler(r).is_some(), "no handler for {} {suffix}", r.method);
            let op = &document["paths"][r.path][r.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {}", r.method, r.path);
            assert!(
                operations.insert(op["operationId"].as_str().unwrap().to_owned()),
                "duplicate operationId for {}",
                r.path
            );
        }
    }
}
