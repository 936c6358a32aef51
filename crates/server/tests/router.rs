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
    // WMTS and TMS: a vector layer's tiles are vector tiles and images; asking it for GIF is
    // a WMTS exception, and TMS errors are JSON.
    let (status, _, body) = get(&app, "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<ows:Identifier>countries</ows:Identifier>"),
        "{body}"
    );
    assert!(
        body.contains("application/vnd.mapbox-vector-tile"),
        "{body}"
    );
    let (status, _, body) = get(&app, "/wmts/countries/normal/PM/3/1/2.gif").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("ExceptionReport"), "{body}");
    let (status, content_type, _) = get(&app, "/tms/1.0.0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.ends_with("/xml"), "{content_type}");
    let (status, content_type, body) = get(&app, "/tms/1.0.0/countries/3/1/2.gif").await;
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
    // IGN's SDK workflows find the endpoints by the Géoplateforme's technical names.
    for name in [
        "gpf-geoserver-wms-v",
        "gpf-rok4-server-wms-r",
        "gpf-rok4-server-wmts-tms",
    ] {
        assert!(body.contains(name), "{body}");
    }
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
    get(&app, "/wmts/countries/normal/PM/3/1/2.gif").await;
    get(&app, "/tms/1.0.0/nowhere/metadata.json").await;
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

fn preflight(uri: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(uri)
        .header(header::ORIGIN, "http://elsewhere.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .unwrap()
}

/// The map services are callable from any page; the publication API from none by default; a
/// preflight on a path nothing serves is a 404; no answer may be sniffed into another type;
/// the preview page says where its content may come from and who may frame it.
#[tokio::test]
async fn cors_is_per_service_and_answers_carry_hardening_headers() {
    let (_dir, app) = app();
    let allowed = |response: &axum::response::Response| {
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let wms = app.clone().oneshot(preflight("/wms")).await.unwrap();
    assert_eq!(wms.status(), StatusCode::OK);
    assert_eq!(allowed(&wms).as_deref(), Some("*"));
    let api = app
        .clone()
        .oneshot(preflight("/api/datastores/default/uploads"))
        .await
        .unwrap();
    assert_eq!(allowed(&api), None, "{:?}", api.headers());
    let nowhere = app
        .clone()
        .oneshot(preflight("/no/such/path"))
        .await
        .unwrap();
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);

    for uri in [
        "/health",
        "/nowhere",
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities",
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get(header::X_CONTENT_TYPE_OPTIONS)
                .unwrap(),
            "nosniff",
            "{uri}"
        );
    }
    let page = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = page
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );
    assert_eq!(
        page.headers().get(header::X_FRAME_OPTIONS).unwrap(),
        "SAMEORIGIN"
    );
}

/// An API whose config names origins answers their preflights.
#[tokio::test]
async fn the_api_answers_the_origins_its_config_names() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[data]\ndir = \"{}\"\n[api]\ntoken = \"t\"\ncors_allow_origin = \"https://atelier.example\"\n",
        dir.path().join("data").display()
    );
    let config = Config::parse(&text, "test.toml", dir.path()).unwrap();
    let published = open_published(&config).unwrap();
    let app = router(AppState::new(config, published)).unwrap();
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/datastores/default/uploads")
        .header(header::ORIGIN, "https://atelier.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .unwrap(),
        "https://atelier.example"
    );
}

/// Boxes whose width overflows are the client's mistake (400 naming BBOX); boxes far beyond
/// any CRS's domain are answered (an empty map), never a 500.
#[tokio::test]
async fn overflowing_and_absurd_bounding_boxes_are_never_server_errors() {
    let (_dir, app) = app();
    for crs in ["CRS:84", "EPSG:4326", "EPSG:3857", "EPSG:2154"] {
        for request in ["GetMap", "GetFeatureInfo"] {
            let uri = |bbox: &str| {
                format!(
                    "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST={request}&LAYERS=countries&STYLES=&CRS={crs}\
                     &BBOX={bbox}&WIDTH=64&HEIGHT=64&FORMAT=image/png&QUERY_LAYERS=countries&I=10&J=10\
                     &INFO_FORMAT=application/json"
                )
            };
            let (status, _, body) = get(&app, &uri("-1e308,-1e308,1e308,1e308")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{crs} {request}: {body}");
            assert!(
                body.contains("InvalidParameterValue") && body.contains("BBOX"),
                "{body}"
            );
            for bbox in [
                "-1e300,-1e300,1e300,1e300",
                "1e15,1e15,1e300,1e300",
                "-1e20,-1e300,-180,1e15",
                "-180,-90,180,90",
            ] {
                let (status, _, body) = get(&app, &uri(bbox)).await;
                assert!(
                    !status.is_server_error(),
                    "{crs} {request} {bbox}: {status} {body}"
                );
            }
        }
    }
}

/// Lists are filtered by the query's fields and paginated with a `Content-Range`, as IGN's SDK
/// expects: before, `?name=x` answered every upload, and the SDK took another upload for the
/// one it was creating.
#[tokio::test]
async fn lists_are_filtered_and_paginated_with_a_content_range() {
    let (_dir, app) = app();
    let authorised = |method: Method, uri: &str, body: Body| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer secret-token")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap()
    };
    for (name, kind) in [
        ("Ortho 2023", "RASTER"),
        ("Ortho 2024", "RASTER"),
        ("Communes", "VECTOR"),
    ] {
        let body = format!(
            r#"{{"name": "{name}", "type": "{kind}", "srs": "EPSG:2154", "description": "d"}}"#
        );
        let request = authorised(
            Method::POST,
            "/api/datastores/default/uploads",
            Body::from(body),
        );
        let (status, _, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let list = |query: &'static str| {
        let app = app.clone();
        async move {
            let uri = format!("/api/datastores/default/uploads{query}");
            let response = app
                .oneshot(authorised(Method::GET, &uri, Body::empty()))
                .await
                .unwrap();
            let status = response.status();
            let range = response
                .headers()
                .get(header::CONTENT_RANGE)
                .map(|v| v.to_str().unwrap().to_owned());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (status, range, json)
        }
    };
    let names = |json: &serde_json::Value| -> Vec<String> {
        json.as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, range, all) = list("").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(range.as_deref(), Some("0-2/3"));
    assert_eq!(all.as_array().unwrap().len(), 3);
    let (_, range, one) = list("?name=Ortho%202024").await;
    assert_eq!(names(&one), ["Ortho 2024"]);
    assert_eq!(range.as_deref(), Some("0-0/1"));
    let (_, _, none) = list("?name=Ortho").await;
    assert!(names(&none).is_empty());
    let (_, _, orthos) = list("?name=ortho%25&type=RASTER").await;
    assert_eq!(orthos.as_array().unwrap().len(), 2);
    let (_, _, vector) = list("?type=VECTOR&fields=name&fields=type").await;
    assert_eq!(names(&vector), ["Communes"]);
    let (_, _, tagged) = list("?tags%5Bmode%5D=x").await;
    assert!(names(&tagged).is_empty());
    // Pages of two: the SDK reads the total from Content-Range and asks for the next page.
    let (_, range, first) = list("?limit=2&page=1").await;
    assert_eq!(
        (range.as_deref(), first.as_array().unwrap().len()),
        (Some("0-1/3"), 2)
    );
    let (_, range, second) = list("?limit=2&page=2").await;
    assert_eq!(
        (range.as_deref(), second.as_array().unwrap().len()),
        (Some("2-2/3"), 1)
    );
    let mut seen = names(&first);
    seen.extend(names(&second));
    seen.sort();
    assert_eq!(seen, ["Communes", "Ortho 2023", "Ortho 2024"]);
    // Processings are found by their Géoplateforme name, and each has its own URL.
    let processings = |query: String| {
        let app = app.clone();
        async move {
            let request = authorised(
                Method::GET,
                &format!("/api/datastores/default/processings{query}"),
                Body::empty(),
            );
            send(&app, request).await
        }
    };
    let (status, _, body) =
        processings("?name=Calcul%20ou%20mise%20%C3%A0%20jour%20de%20pyramide%20raster".to_owned())
            .await;
    assert_eq!(status, StatusCode::OK);
    let found: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{body}");
    let id = found[0]["_id"].as_str().unwrap().to_owned();
    let (status, _, body) = processings(format!("/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("parallelization"), "{body}");
    let (status, _, _) = processings("/nope".to_owned()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = list("?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = list("?limit=100000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Tags and comments on uploads (stored data and configurations share the routes), as IGN's
/// SDK sends them: tags found again by a list filter, removed with `tags[]=`; comments written,
/// changed, listed and deleted.
#[tokio::test]
async fn tags_and_comments_of_an_upload() {
    let (_dir, app) = app();
    let call = |method: Method, uri: String, body: &str| {
        let app = app.clone();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer secret-token")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        async move { send(&app, request).await }
    };
    let base = "/api/datastores/default/uploads";
    let (status, _, body) = call(
        Method::POST,
        base.to_owned(),
        r#"{"name": "Communes", "type": "VECTOR", "srs": "EPSG:2154", "description": "d"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let upload: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = upload["_id"].as_str().unwrap().to_owned();
    let (status, _, body) = call(
        Method::POST,
        format!("{base}/{id}/tags"),
        r#"{"datasheet_name": "communes", "proc_int_id": "42"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, body) = call(
        Method::GET,
        format!("{base}?tags%5Bdatasheet_name%5D=communes"),
        "",
    )
    .await;
    assert!(body.contains(&id), "{body}");
    let (status, _, _) = call(
        Method::DELETE,
        format!("{base}/{id}/tags?tags%5B%5D=proc_int_id"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, body) = call(Method::GET, format!("{base}/{id}"), "").await;
    let upload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        upload["tags"],
        serde_json::json!({"datasheet_name": "communes"})
    );

    let (status, _, body) = call(
        Method::POST,
        format!("{base}/{id}/comments"),
        r#"{"text": "Livraison de mars"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let comment: serde_json::Value = serde_json::from_str(&body).unwrap();
    let comment_id = comment["_id"].as_str().unwrap().to_owned();
    let (status, _, _) = call(
        Method::PUT,
        format!("{base}/{id}/comments/{comment_id}"),
        r#"{"text": "Livraison d'avril"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, body) = call(Method::GET, format!("{base}/{id}/comments"), "").await;
    assert!(body.contains("Livraison d'avril"), "{body}");
    let (status, _, body) = call(
        Method::POST,
        format!("{base}/{id}/comments"),
        r#"{"text": ""}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = call(
        Method::DELETE,
        format!("{base}/{id}/comments/{comment_id}"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(
        Method::GET,
        "/api/datastores/default/stored_data/nope/comments".to_owned(),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
