//! The router in-process (`tower::ServiceExt::oneshot`, no port, no binary): routing, status
//! codes, content types, the access gate's view, the error answers and the metrics labels.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use tuilerie_server::{open_published, router, AppState, Config};

/// A router over one vector layer of the fixtures, with its catalog in a temporary folder.
fn app() -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let text = format!(
        r#"[data]
dir = "{data}"

[api]
token = "secret-token"

[[layers]]
name = "countries"
title = "Countries"
kind = "vector"
source = "{fixtures}/gpkg/world.gpkg"
table = "countries"
style = "{fixtures}/wms/countries.sld"
"#,
        data = dir.path().join("data").display(),
        fixtures = fixtures.display(),
    );
    let config = Config::parse(&text, "test.toml", dir.path()).unwrap();
    let published = open_published(&config).unwrap();
    let app = router(AppState::new(config, published)).unwrap();
    (dir, app)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String, String) {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn health_and_unknown_paths_answer_json() {
    let (_dir, app) = app();
    let (status, content_type, body) = get(&app, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    let (status, content_type, body) = get(&app, "/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    assert!(body.contains("nothing is served at /nowhere"), "{body}");
    let request = Request::builder()
        .method(Method::DELETE)
        .uri("/health")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body.contains("DELETE is not accepted on /health"), "{body}");
}

#[tokio::test]
async fn each_service_answers_in_its_own_dialect() {
    let (_dir, app) = app();
    // WMS: a ServiceExceptionReport naming the parameter.
    let (status, content_type, body) = get(&app, "/wms?SERVICE=WMS").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type, "text/xml; charset=utf-8");
    assert!(body.contains("MissingParameterValue"), "{body}");
    assert!(body.contains("locator=\"REQUEST\""), "{body}");
    // The gate gave WMS its view: the configured layer is in the capabilities.
    let (status, _, body) = get(&app, "/wms?SERVICE=WMS&REQUEST=GetCapabilities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<Name>countries</Name>"), "{body}");
    // WMTS and TMS: tiles only (a vector layer has none yet).
    let (status, _, body) = get(&app, "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("countries"), "{body}");
    let (status, _, body) = get(&app, "/wmts/countries/normal/PM/3/1/2.png").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("ExceptionReport"), "{body}");
    let (status, content_type, _) = get(&app, "/tms/1.0.0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.ends_with("/xml"), "{content_type}");
    let (status, content_type, body) = get(&app, "/tms/1.0.0/countries").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    assert!(body.contains("countries"), "{body}");
}

#[tokio::test]
async fn the_api_wants_its_token_and_limits_hold() {
    let (_dir, app) = app();
    let (status, content_type, _) = get(&app, "/api/datastores/default").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type, "application/json");
    let request = Request::get("/api/datastores/default")
        .header(header::AUTHORIZATION, "Bearer secret-token")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"_id\":\"default\""), "{body}");
    let (status, _, _) = get(&app, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let long = format!("/wms?SERVICE=WMS&X={}", "a".repeat(20_000));
    let (status, _, body) = get(&app, &long).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert!(body.contains("server.max_url_length"), "{body}");
}

#[tokio::test]
async fn metrics_are_labelled_by_the_route_that_answered() {
    let (_dir, app) = app();
    get(&app, "/wms?SERVICE=WMS&REQUEST=GetCapabilities").await;
    get(&app, "/wmts/countries/normal/PM/3/1/2.png").await;
    get(&app, "/tms/1.0.0/countries/metadata.json").await;
    get(&app, "/health").await;
    get(&app, "/nowhere").await;
    let (status, _, text) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for series in [
        r#"service="wms",operation="GetCapabilities",status="200""#,
        r#"service="wmts",operation="GetTile",status="404""#,
        r#"service="tms",operation="GetCapabilities",status="404""#,
        r#"service="health",operation="-",status="200""#,
        r#"service="other",operation="-",status="404""#,
    ] {
        assert!(
            text.contains(&format!("tuilerie_http_requests_total{{{series}}} 1")),
            "{series} missing in:\n{text}"
        );
    }
}
