//! Feeds arbitrary HTTP requests to the whole application in process (the router with every
//! service and middleware, over a fixture vector layer and two small pyramids, elevation
//! and image): the KVP parsers of WMS, WMTS and WFS, the WMTS/TMS/OGC API path parsers and the
//! publication API's JSON bodies. No request may panic or be answered 5xx (but 501, which OWS
//! Common prescribes for OperationNotSupported, and 503, which a busy render pool answers).
//!
//! Input: the first line is `METHOD TARGET` (the target is a path and a query), the rest the
//! body. Seed corpus: `fuzz/corpus/http_request/`.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[path = "pyramids.rs"]
mod pyramids;

struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let dir = tempfile::tempdir().expect("a temporary directory");
        pyramids::write(&dir.path().join("dem"), pyramid::TileFormat::ZipFloat32);
        pyramids::write(&dir.path().join("ortho"), pyramid::TileFormat::PngUint8);
        let config = format!(
            r#"
[data]
dir = "{data}"

[api]
token = "fuzz-token"

[[layers]]
name = "communes"
kind = "vector"
source = "{fixtures}/gpkg/communes_2154.gpkg"
table = "Communes-IDF"
style = "{fixtures}/wms/communes.sld"
wfs = true

[[layers]]
name = "dem"
kind = "pyramid"
pyramid = "{dir}/dem/pyramid.json"
getfeatureinfo = true
style = "{fixtures}/wms/dem.sld"

[[layers]]
name = "ortho"
kind = "pyramid"
pyramid = "{dir}/ortho/pyramid.json"
"#,
            dir = dir.path().display(),
            data = dir.path().join("data").display(),
            fixtures = fixtures.display(),
        );
        let config = tuilerie_server::Config::parse(&config, "fuzz.toml", dir.path())
            .expect("the fuzz configuration");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let router = runtime.block_on(async {
            let published =
                tuilerie_server::open_published(&config).expect("the fixture layers publish");
            tuilerie_server::router(tuilerie_server::AppState::new(config, published))
                .expect("the router")
        });
        App {
            runtime,
            router,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (line, body) = text.split_once('\n').unwrap_or((&text, ""));
    let (method, target) = line.split_once(' ').unwrap_or(("GET", line));
    let target = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("/{target}")
    };
    let Ok(request) = Request::builder()
        .method(method)
        .uri(target.as_str())
        .header("authorization", "Bearer fuzz-token")
        .header(
            "content-type",
            if body.starts_with('<') {
                "text/xml"
            } else {
                "application/json"
            },
        )
        .body(Body::from(body.to_owned()))
    else {
        return;
    };
    let app = app();
    let router = app.router.clone();
    let response = app
        .runtime
        .block_on(async move { router.oneshot(request).await })
        .expect("the router never fails");
    let status = response.status().as_u16();
    assert!(
        status < 500 || status == 501 || status == 503,
        "{method} {target}: answered {status}"
    );
});
