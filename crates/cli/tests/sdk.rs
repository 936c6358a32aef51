//! IGN's own client of the Entrepôt API, `sdk-entrepot-gpf` (PyPI), against a real server: the
//! SDK logs in, delivers a raster dataset and a Shapefile and runs its bundled `generic_raster`
//! and `generic_vecteur` tutorial workflows unchanged, step by step; only its ini file points
//! at Tuilerie. Each result is then checked from outside (capabilities, features, tiles, maps).
//!
//! Skipped with a message where the SDK or GDAL's `gdalwarp`/`ogr2ogr` (which make the inputs
//! from a committed fixture and from the SDK's damaged sample) are missing; CI installs them.
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

/// The SDK's package directory, a work folder and a server on its `data/` with the user
/// `producteur` and the SDK's ini in the work folder (only where the API and its token
/// endpoint are, and who logs in); `None`, with a message, without the SDK or `tool`.
fn producer_setup(tool: &str) -> Option<(PathBuf, tempfile::TempDir, Server)> {
    let Some(package) = sdk_dir() else {
        eprintln!("sdk-entrepot-gpf is not installed (pip install sdk-entrepot-gpf): skipped");
        return None;
    };
    if Command::new(tool).arg("--version").output().is_err() {
        eprintln!("{tool} is missing: skipped");
        return None;
    }
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let data = data.to_str().unwrap();
    let server = Server::start(&["--data", data]);
    let mut add = Command::new(BIN)
        .args([
            "user",
            "add",
            "producteur",
            "--password-stdin",
            "--data",
            data,
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
    Some((package, work, server))
}

#[test]
fn the_sdk_delivers_a_raster_and_runs_its_generic_raster_workflow_unchanged() {
    let Some((package, work, server)) = producer_setup("gdalwarp") else {
        return;
    };

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

/// The SDK's `generic_vecteur` tutorial workflow, unchanged: a Shapefile delivery (`CANTON/`
/// with its `.shx`, `.dbf`, `.prj` as separate files, and an `.md5`), its SLD as a static, then
/// integration, WFS and WMS configurations and offerings on the endpoints the SDK finds by
/// their Géoplateforme names, a vector pyramid and its TMS offering. The SDK's own CANTON is
/// damaged from its 31st feature on (GDAL reads those geometries as NULL), so its first 30
/// features are delivered, copied by `ogr2ogr -limit 30` under the same names.
#[test]
fn the_sdk_delivers_a_shapefile_and_runs_its_generic_vecteur_workflow_unchanged() {
    let Some((package, work, server)) = producer_setup("ogr2ogr") else {
        return;
    };
    let sample = package.join("_data/datasets/1_dataset_vector");
    let dataset = work.path().join("dataset");
    std::fs::create_dir_all(dataset.join("CANTON")).unwrap();
    let copied = Command::new("ogr2ogr")
        .args(["-f", "ESRI Shapefile", "-limit", "30"])
        .arg(dataset.join("CANTON/CANTON.shp"))
        .arg(sample.join("CANTON/CANTON.shp"))
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    let md5 = Command::new("sh")
        .args(["-c", "md5sum CANTON/*"])
        .current_dir(&dataset)
        .output()
        .unwrap();
    std::fs::write(dataset.join("CANTON.md5"), &md5.stdout).unwrap();
    for file in ["upload_descriptor.json", "CANTON_style.sld"] {
        std::fs::copy(sample.join(file), dataset.join(file)).unwrap();
    }
    std::fs::write(
        dataset.join("static.jsonc"),
        format!(
            r#"{{"static": [{{"file": "{}", "name": "style_canton", "type": "GEOSERVER-STYLE"}}]}}"#,
            dataset.join("CANTON_style.sld").display()
        ),
    )
    .unwrap();
    for descriptor in ["upload_descriptor.json", "static.jsonc"] {
        let delivered = sdk(
            work.path(),
            &["delivery", dataset.join(descriptor).to_str().unwrap()],
        );
        assert!(delivered.contains("se sont bien passées"), "{delivered}");
    }
    let workflow = package.join("_data/workflows/generic_vecteur.jsonc");
    for step in [
        "mise-en-base",
        "configuration-wfs-bdd",
        "publication-wfs-bdd",
        "configuration-wms-bdd",
        "publication-wms-bdd",
        "création-pyramide",
        "configuration-tms-py",
        "publication-tms-py",
    ] {
        sdk(
            work.path(),
            &["workflow", "-f", workflow.to_str().unwrap(), "-s", step],
        );
    }

    // From outside: the 30 cantons through WFS, drawn through WMS, cut in vector tiles.
    let (status, _, json) = get(&server.url(
        "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=tuilerie:canton\
         &OUTPUTFORMAT=application/json",
    ));
    assert_eq!(status, 200, "{json}");
    let features: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(features["features"].as_array().unwrap().len(), 30);
    let (status, _, png) = get_bytes(
        &server.url(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=producteur__vecteur_wms_bdd\
             &STYLES=&CRS=EPSG:2154&BBOX=637000,6846000,670000,6874000&WIDTH=330&HEIGHT=280\
             &FORMAT=image/png",
        ),
        &[],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&png));
    let image = image::load_from_memory(&png).unwrap().to_rgba8();
    let styled = image
        .pixels()
        .filter(|p| p[3] > 0 && p.0[..3] != [255, 255, 255])
        .count();
    assert!(styled > 10_000, "only {styled} pixels drawn");
    let (status, headers, tile) = get_bytes(
        &server.url("/tms/1.0.0/producteur__vecteur_tms_py/9/259/176.pbf"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(
        common::header(&headers, "content-type"),
        Some("application/vnd.mapbox-vector-tile")
    );
    let layers = mvt::decode(&tile).unwrap();
    assert_eq!(layers[0].name, "canton");
    assert!(!layers[0].features.is_empty());
}
