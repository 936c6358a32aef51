//! `tuilerie demo` publishes the sample data, and the preview page shows it: each layer drawn
//! by OpenLayers in headless Chromium (Debian's, driven by playwright-core from npm), with a
//! GetFeatureInfo popup holding a value; OpenLayers' OGC API – Tiles sources (OGCMapTile,
//! OGCVectorTile) draw the same layers.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{get, Server};
use serde_json::Value;

fn browser_ready() -> bool {
    let preview = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../preview");
    let ok = Path::new("/usr/bin/chromium").exists()
        && preview.join("node_modules/playwright-core").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: needs chromium, node and `npm ci` in preview/ (.ci/run installs them)");
    }
    ok
}

fn selftest(server: &Server, target: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../preview/selftest.mjs");
    let url = server.url(&format!("/#{target}&selftest"));
    let output = Command::new("node")
        .arg(&script)
        .arg(&url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "{target}: {e}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn the_demo_publishes_sample_layers_once_and_the_preview_page_draws_them_with_popups() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    {
        let server = Server::start_command("demo", &["--data", &data_arg]);
        let (status, _, wms) = get(&server.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"));
        assert_eq!(status, 200);
        for layer in ["communes", "ortho", "altitude"] {
            assert!(
                wms.contains(&format!("<Name>{layer}</Name>")),
                "{layer}: {wms}"
            );
        }
        let (_, _, wmts) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
        for layer in ["ortho", "altitude"] {
            assert!(
                wmts.contains(&format!("<ows:Identifier>{layer}</ows:Identifier>")),
                "{layer}"
            );
        }
        let (status, headers, page) = get(&server.url("/"));
        assert_eq!(status, 200);
        assert_eq!(
            common::header(&headers, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.contains("Communes d'Île-de-France (sample)"), "{page}");
        let (status, headers, script) = get(&server.url("/preview/preview.js"));
        assert_eq!(status, 200);
        assert!(common::header(&headers, "content-type")
            .unwrap()
            .starts_with("text/javascript"));
        assert!(script.len() > 100_000, "OpenLayers is bundled");

        if browser_ready() {
            for (target, expected) in [
                ("layer=communes&service=wms", "nom_de_la_commune"),
                ("layer=communes&service=mvt", "nom_de_la_commune"),
                ("layer=communes&service=wmts", "nom_de_la_commune"),
                ("layer=ortho&service=wmts", "band_1"),
                ("layer=altitude&service=wms", "band_1"),
                // OGC API – Tiles through OpenLayers' own clients.
                ("layer=communes&service=ogcmap", "OGC API map tile"),
                ("layer=ortho&service=ogcmap", "OGC API map tile"),
                ("layer=communes&service=ogcmvt", "nom_de_la_commune"),
            ] {
                let result = selftest(&server, target);
                assert!(result.get("error").is_none(), "{target}: {result}");
                assert!(
                    result["drawn"].as_u64().unwrap() > 1000,
                    "{target}: nothing drawn: {result}"
                );
                let popup = result["popup"].as_str().unwrap();
                assert!(popup.contains(expected), "{target}: popup {popup:?}");
                assert_eq!(
                    result["errors"],
                    Value::Array(Vec::new()),
                    "{target}: {result}"
                );
            }
        }
    }
    // Started again on the same data directory: nothing is published twice.
    let server = Server::start_command("demo", &["--data", &data_arg]);
    let token = std::fs::read_to_string(data.path().join("api-token")).unwrap();
    let mut response = common::agent()
        .get(server.url("/api/datastores/default/offerings"))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .unwrap();
    let offerings: Value =
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(offerings.as_array().unwrap().len(), 6, "{offerings}");
}
