//! End to end on object storage: `tuilerie pyramid build --out s3://…` into a real S3 server
//! started here on loopback (`s3s-fs`), then the same pyramid served from the bucket and from
//! files side by side — WMTS, TMS, WMS and GetFeatureInfo answer the same bytes — and a stopped
//! S3 server fails only the tiles it holds.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::s3::{KEY, S3, SECRET};
use common::{get_bytes, header, run_ok, Server, BIN};
use crs::{Crs, Transformer};

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/rasters"
    ))
    .join(name)
}

fn build(dir: &Path, s3: &S3, out: &str) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(["pyramid", "build", "--input"])
        .arg(fixture("dem_2154.tif"))
        .args(["--tms", "PM", "--bottom", "13", "--top", "8"])
        .args(["--format", "TIFF_ZIP_FLOAT32", "--interpolation", "nearest"])
        .args(["--slab-size", "4", "--out", out])
        .env("ROK4_S3_URL", s3.url())
        .env("ROK4_S3_KEY", KEY)
        .env("ROK4_S3_SECRETKEY", SECRET)
        .output()
        .unwrap()
}

#[test]
fn a_pyramid_built_to_s3_is_served_like_the_same_pyramid_on_files() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut s3) = S3::start(&dir.path().join("s3")) else {
        return;
    };
    for out in ["files/dem", "s3://pyramids/alti/dem"] {
        let output = build(dir.path(), &s3, out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{out}: {stderr}");
        assert!(stderr.contains("tiles in"), "{stderr}");
    }
    assert!(s3
        .root
        .join("pyramids/alti/dem/pyramid/DATA_13_0_0")
        .parent()
        .unwrap()
        .is_dir());
    assert!(!dir.path().join("s3:").exists());

    // Any other scheme is refused before anything is written.
    let output = build(dir.path(), &s3, "swift://container/dem");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'swift://' is not a storage"), "{stderr}");
    assert!(!dir.path().join("swift:").exists());

    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "[object_storage]\nurl = \"{}\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\ntimeout_secs = 2\nretries = 0\n\n\
             [[layers]]\nname = \"dem_file\"\nkind = \"pyramid\"\npyramid = \"files/dem/pyramid.json\"\ngetfeatureinfo = true\n\n\
             [[layers]]\nname = \"dem_s3\"\nkind = \"pyramid\"\npyramid = \"s3://pyramids/alti/dem/pyramid.json\"\ngetfeatureinfo = true\n",
            s3.url()
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);

    let pm = pyramid::TileMatrixSets::builtin()
        .get("PM")
        .unwrap()
        .clone();
    let z13 = pm.matrix("13").unwrap();
    let to_pm = Transformer::new(&Crs::from_epsg(2154).unwrap(), &Crs::web_mercator()).unwrap();
    let points = [
        (645_123.0, 6_870_456.0),
        (652_000.0, 6_861_500.0),
        (659_900.0, 6_875_900.0),
    ];
    for (x, y) in points {
        let (mx, my) = to_pm.transform_point(x, y).unwrap();
        let hit = z13.point_to_tile(mx, my).unwrap();
        let (row, col) = (hit.tile.row(), hit.tile.col());
        let tms_row = z13.tms_row(row).unwrap();
        for path in [
            format!("/wmts/@L@/normal/PM/13/{row}/{col}.tiff"),
            format!("/wmts/@L@/normal/PM_8_13/13/{row}/{col}/{}/{}.json", hit.j, hit.i),
            format!("/tms/1.0.0/@L@/13/{col}/{tms_row}.tiff"),
            format!("/ogcapi/collections/@L@/coverage/tiles/PM_8_13/13/{row}/{col}"),
            format!(
                "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=@L@&STYLE=normal\
                 &TILEMATRIXSET=PM&TILEMATRIX=13&TILEROW={row}&TILECOL={col}&FORMAT=image/x-bil;bits=32"
            ),
            format!(
                "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=@L@&STYLES=&CRS=EPSG:3857\
                 &BBOX={},{},{},{}&WIDTH=300&HEIGHT=200&FORMAT=image/png",
                mx - 3000.0,
                my - 2000.0,
                mx + 3000.0,
                my + 2000.0
            ),
            format!(
                "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=@L@&QUERY_LAYERS=@L@\
                 &STYLES=&CRS=EPSG:3857&BBOX={},{},{},{}&WIDTH=300&HEIGHT=200&I=150&J=100\
                 &INFO_FORMAT=application/json",
                mx - 3000.0,
                my - 2000.0,
                mx + 3000.0,
                my + 2000.0
            ),
        ] {
            let (status, _, on_files) = get_bytes(&server.url(&path.replace("@L@", "dem_file")), &[]);
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&on_files));
            let (status, _, in_bucket) = get_bytes(&server.url(&path.replace("@L@", "dem_s3")), &[]);
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&in_bucket));
            let same = if path.contains(".json") || path.contains("GetFeatureInfo") {
                // The layer's name is in the answer.
                String::from_utf8_lossy(&on_files).replace("dem_file", "X")
                    == String::from_utf8_lossy(&in_bucket).replace("dem_s3", "X")
            } else {
                on_files == in_bucket
            };
            assert!(same, "{path}: the two layers differ");
        }
    }

    // The S3 server stopped: the bucket's tiles fail (503 + Retry-After, naming no internals), the
    // files' tiles are still served; back once the S3 server is.
    let (mx, my) = to_pm.transform_point(641_000.0, 6_875_000.0).unwrap();
    let cold = z13.point_to_tile(mx, my).unwrap().tile;
    let path = format!("/wmts/@L@/normal/PM/13/{}/{}.tiff", cold.row(), cold.col());
    s3.stop();
    let (status, headers, body) = get_bytes(&server.url(&path.replace("@L@", "dem_s3")), &[]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert_eq!(header(&headers, "retry-after"), Some("5"));
    assert!(body.contains("object storage"), "{body}");
    assert!(
        !body.contains(SECRET) && !body.contains("127.0.0.1"),
        "{body}"
    );
    let (status, _, _) = get_bytes(&server.url(&path.replace("@L@", "dem_file")), &[]);
    assert_eq!(status, 200);
    s3.run();
    let (status, _, body) = get_bytes(&server.url(&path.replace("@L@", "dem_s3")), &[]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{body}");
}

/// `[api] pyramid_storage = "s3://…"`: the API's pyramid processing writes its pyramid to the
/// bucket (nothing of it on disk), the published layer serves it as the same build on files,
/// the stored data says where it is, and deleting the stored data removes its objects.
#[test]
fn api_pyramids_go_to_object_storage_and_leave_with_their_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s3) = S3::start(&dir.path().join("s3")) else {
        return;
    };
    let data = dir.path().join("data");
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[api]\npyramid_storage = \"s3://pyramids/api\"\n\n\
             [[layers]]\nname = \"dem_file\"\nkind = \"pyramid\"\npyramid = \"files/dem/pyramid.json\"\n",
            s3.config_section()
        ),
    )
    .unwrap();
    // The same pyramid on files, as the processing builds it (16×16-tile slabs).
    run_ok(
        Command::new(BIN)
            .current_dir(dir.path())
            .args(["pyramid", "build", "--input"])
            .arg(fixture("dem_2154.tif"))
            .args(["--tms", "PM", "--bottom", "13", "--top", "8"])
            .args(["--format", "TIFF_ZIP_FLOAT32", "--interpolation", "nearest"])
            .args(["--out", "files/dem"]),
    );
    run_ok(
        Command::new(BIN)
            .args(["publish", "raster"])
            .arg(fixture("dem_2154.tif"))
            .args(["--tms", "PM", "--levels", "8-13", "--layer-name", "dem_api"])
            .args(["--format", "TIFF_ZIP_FLOAT32", "--interpolation", "nearest"])
            .arg("--config")
            .arg(&config)
            .arg("--data")
            .arg(&data),
    );
    let prefixes: Vec<PathBuf> = std::fs::read_dir(s3.root.join("pyramids/api"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(prefixes.len(), 1, "{prefixes:?}");
    let stored_id = prefixes[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(prefixes[0].join("pyramid.json").is_file());
    assert!(prefixes[0].join("pyramid.list").is_file());
    assert!(!data.join("stored").join(&stored_id).exists());

    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let pm = pyramid::TileMatrixSets::builtin()
        .get("PM")
        .unwrap()
        .clone();
    let z13 = pm.matrix("13").unwrap();
    let to_pm = Transformer::new(&Crs::from_epsg(2154).unwrap(), &Crs::web_mercator()).unwrap();
    for (x, y) in [(645_123.0, 6_870_456.0), (659_900.0, 6_875_900.0)] {
        let (mx, my) = to_pm.transform_point(x, y).unwrap();
        let tile = z13.point_to_tile(mx, my).unwrap().tile;
        let path = format!("normal/PM/13/{}/{}.tiff", tile.row(), tile.col());
        let (status, _, on_files) = get_bytes(&server.url(&format!("/wmts/dem_file/{path}")), &[]);
        assert_eq!(status, 200);
        let (status, _, in_bucket) = get_bytes(&server.url(&format!("/wmts/dem_api/{path}")), &[]);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&in_bucket));
        assert!(on_files == in_bucket, "{path}: the two layers differ");
    }

    // The API says where the stored data is; deleting it (unpublished first) removes the objects.
    let token = std::fs::read_to_string(data.join("api-token")).unwrap();
    let auth = format!("Bearer {}", token.trim());
    let agent = common::agent();
    let api = |method: &str, path: &str| -> (u16, serde_json::Value) {
        let url = server.url(&format!("/api/datastores/default/{path}"));
        let answer = match method {
            "GET" => agent.get(&url).header("Authorization", &auth).call(),
            _ => agent.delete(&url).header("Authorization", &auth).call(),
        }
        .unwrap();
        let status = answer.status().as_u16();
        let text = answer.into_body().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    };
    let (status, stored) = api("GET", &format!("stored_data/{stored_id}"));
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["storage"]["type"], "S3", "{stored}");
    assert_eq!(
        stored["storage"]["location"],
        format!("s3://pyramids/api/{stored_id}"),
        "{stored}"
    );
    assert!(stored["size"].as_u64().unwrap() > 10_000, "{stored}");
    let (_, offerings) = api("GET", "offerings");
    for offering in offerings.as_array().unwrap() {
        let id = offering["_id"].as_str().unwrap();
        let (status, body) = api("DELETE", &format!("offerings/{id}"));
        assert!(status < 300, "{status} {body}");
    }
    let (_, configurations) = api("GET", "configurations");
    for configuration in configurations.as_array().unwrap() {
        let id = configuration["_id"].as_str().unwrap();
        let (status, body) = api("DELETE", &format!("configurations/{id}"));
        assert!(status < 300, "{status} {body}");
    }
    let (status, body) = api("DELETE", &format!("stored_data/{stored_id}"));
    assert!(status < 300, "{status} {body}");
    let left: Vec<_> = walk(&prefixes[0]);
    assert!(left.is_empty(), "{left:?}");
}

/// The files under `dir`, at any depth (none when it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
