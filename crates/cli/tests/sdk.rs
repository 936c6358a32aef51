//! IGN's own client of the Entrepôt API, `sdk-entrepot-gpf` (PyPI), against a real server: the
//! SDK logs in, delivers a raster dataset and runs its bundled `generic_raster` tutorial
//! workflow unchanged, step by step; only its ini file points at Tuilerie. Each result is then
//! checked from outside (capabilities, a tile, a map).
//!
//! Skipped with a message where the SDK or GDAL's `gdalwarp` (which makes the Lambert-93 input
//! from a committed fixture) is missing; CI installs both.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{get, get_bytes, Server, BIN};

/// The SDK's package directory, when the SDK is installed.
fn sdk_dir() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, sdk_entrepot_gpf; print(os.path.dirname(sdk_entrepot_gpf.__file__))",
        ])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

/// Runs the SDK's command line; its output, asserting success.
fn sdk(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("python3")
        .args(["-m", "sdk_entrepot_gpf", "--ini", "config.ini"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && !text.contains("ERREUR"),
        "sdk {args:?}:\n{text}"
    );
    text
}

#[test]
fn the_sdk_delivers_a_raster_and_runs_its_generic_raster_workflow_unchanged() {
    let Some(package) = sdk_dir() else {
        eprintln!("sdk-entrepot-gpf is not installed (pip install sdk-entrepot-gpf): skipped");
        return;
    };
    if Command::new("gdalwarp").arg("--version").output().is_err() {
        eprintln!("gdalwarp is missing: skipped");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let server = Server::start(&["--data", &data_arg]);

    let mut add = Command::new(BIN)
        .args([
            "user",
            "add",
            "producteur",
            "--password-stdin",
            "--data",
            &data_arg,
        ])
        .env("TUILERIE_LOG", "warn")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"un mot de passe\n")
        .unwrap();
    assert!(add.wait().unwrap().success());

    // A small Lambert-93 orthophoto (the SDK's own sample raster is damaged: GDAL fails on it
    // too), delivered under the name the tutorial workflow looks for.
    let dataset = work.path().join("dataset");
    std::fs::create_dir_all(dataset.join("ain")).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rasters/rgb_4326.tif");
    let warped = Command::new("gdalwarp")
        .args([
            "-q",
            "-t_srs",
            "EPSG:2154",
            "-te",
            "648000",
            "6858000",
            "649000",
            "6859000",
        ])
        .args([
            "-tr",
            "2",
            "2",
            "-co",
            "TILED=YES",
            "-co",
            "COMPRESS=DEFLATE",
        ])
        .arg(&fixture)
        .arg(dataset.join("ain/ortho.tif"))
        .output()
        .unwrap();
    assert!(warped.status.success(), "{warped:?}");
    let md5 = Command::new("md5sum")
        .arg("ain/ortho.tif")
        .current_dir(&dataset)
        .output()
        .unwrap();
    std::fs::write(dataset.join("ain.md5"), &md5.stdout).unwrap();
    std::fs::write(
        dataset.join("upload_descriptor.jsonc"),
        r#"{"datasets": [{"data_dirs": ["ain"], "upload_infos": {"description": "Orthophoto",
            "name": "EXAMPLE_DATASET_RASTER", "srs": "EPSG:2154", "type": "RASTER"},
            "comments": ["un jeu raster"], "tags": {"tuto": "oui"}}]}"#,
    )
    .unwrap();
    // Only the ini changes: where the API and its token endpoint are, who logs in.
    std::fs::write(
        work.path().join("config.ini"),
        format!(
            "[store_authentification]\ntoken_url={base}/api/auth/token\nlogin=producteur\n\
             password=un mot de passe\ncheck_status_url=\n\
             [store_api]\nroot_url={base}/api\ndatastore=default\ncheck_status_url=\n",
            base = server.base
        ),
    )
    .unwrap();

    let me = sdk(work.path(), &["me"]);
    assert!(me.contains("producteur"), "{me}");
    let delivered = sdk(
        work.path(),
        &[
            "delivery",
            dataset.join("upload_descriptor.jsonc").to_str().unwrap(),
        ],
    );
    assert!(
        delivered.contains("les 1 livraisons se sont bien passées"),
        "{delivered}"
    );

    let workflow = package.join("_data/workflows/generic_raster.jsonc");
    for step in [
        "pyramide",
        "configuration-WMTS",
        "publication-WMTS",
        "configuration-WMS",
        "publication-WMS",
    ] {
        sdk(
            work.path(),
            &["workflow", "-f", workflow.to_str().unwrap(), "-s", step],
        );
    }

    // From outside: both layers listed, a tile and a map drawn.
    let (_, _, wmts) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    assert!(
        wmts.contains("<ows:Identifier>producteur__raster_wmts</ows:Identifier>"),
        "{wmts}"
    );
    let (_, _, wms) = get(&server.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"));
    assert!(wms.contains("<Name>producteur__raster_wms</Name>"), "{wms}");
    let (status, headers, png) = get_bytes(
        &server.url(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=producteur__raster_wms&STYLES=\
             &CRS=EPSG:2154&BBOX=648000,6858000,649000,6859000&WIDTH=64&HEIGHT=64&FORMAT=image/png",
        ),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(common::header(&headers, "content-type"), Some("image/png"));
    let image = image::load_from_memory(&png).unwrap().to_rgba8();
    let drawn = image.pixels().filter(|p| p[3] > 0).count();
    assert!(drawn > 64 * 64 / 2, "only {drawn} pixels drawn");
}
