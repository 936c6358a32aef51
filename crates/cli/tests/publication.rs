//! The publication workflow over HTTP, as the seeds describe it: GeoPackage → checks →
//! integration → SLD → WMS-VECTOR configuration → offering → visible in WMS; GeoTIFF → pyramid
//! → WMTS-TMS (and WMS-RASTER) → tiles and pixel values; the validations, the idempotent
//! retry, API keys, and crash recovery.
#![allow(
    clippy::unwrap_used,
    clippy::needless_raw_string_hashes,
    clippy::unused_self,
    clippy::needless_pass_by_value,
    clippy::format_push_string
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::api::{id, wms_vector, Api, DS};
use common::{agent, get, get_bytes, header, Server};
use serde_json::{json, Value};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

fn capabilities(server: &Server, key: Option<&str>) -> String {
    let mut url = server.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities");
    if let Some(key) = key {
        url.push_str(&format!("&apikey={key}"));
    }
    get(&url).2
}

const COMMUNES_MAP: &str = "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=communes&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,670000,6880000&WIDTH=256&HEIGHT=256&FORMAT=image/png";
/// A vector tile over the communes (zoom 10).
const COMMUNES_TILE: &str = "/tms/1.0.0/communes/10/518/352.pbf";
/// A rendered tile over Paris (z12).
const COMMUNES_PNG_TILE: &str = "/wmts/communes/normal/PM/12/1409/2074.png";

#[test]
fn a_geopackage_is_checked_integrated_styled_published_restyled_restricted_and_unpublished() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    let api = Api::new(&server, data.path());

    // Without the token: 401.
    let (status, _, body) = get(&server.url(&format!("{DS}/uploads")));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");

    // The datastore lists its endpoints; the processings are listed.
    let datastore = api.ok(api.send("GET", DS, "application/json", Vec::new()), 200);
    let endpoints: Vec<&str> = datastore["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["endpoint"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["WMS-VECTOR", "WFS", "WMS-RASTER", "WMTS-TMS"]);
    let processings = api.ok(api.get("/processings"), 200);
    assert_eq!(processings.as_array().unwrap().len(), 4);

    // A declared SRS that is not the file's: UNSTABLE with a readable reason.
    let wrong = api.upload(
        "VECTOR",
        "EPSG:4326",
        &[("communes.zip", &fixture("gpkg/communes.zip"))],
    );
    assert_eq!(wrong["files"][0]["path"], "communes.zip");
    assert_eq!(wrong["status"], "UNSTABLE");
    let checks = api.ok(api.get(&format!("/uploads/{}/checks", id(&wrong))), 200);
    let failed = &checks["failed"][0];
    let logs = api.ok(
        api.get(&format!("/checks/executions/{}/logs", id(failed))),
        200,
    );
    let logs = logs.to_string();
    assert!(
        logs.contains("EPSG:2154") && logs.contains("EPSG:4326"),
        "{logs}"
    );

    // Paths stay inside the upload.
    let open_upload = api.ok(
        api.post(
            "/uploads",
            &json!({"name": "x", "type": "VECTOR", "srs": "EPSG:2154"}),
        ),
        201,
    );
    let (status, body) = api.send(
        "POST",
        &format!(
            "{DS}/uploads/{}/data?path=../../evil.gpkg",
            id(&open_upload)
        ),
        "application/octet-stream",
        b"x".to_vec(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains("'..'"),
        "{body}"
    );
    assert!(!data.path().join("evil.gpkg").exists());
    // A multipart file larger than axum's 2 MB default streams through.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|k| (k.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let boundary = "XbigX";
    let mut multipart = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.gpkg\"\r\n\r\n").into_bytes();
    multipart.extend(&big);
    multipart.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let (status, body) = api.send(
        "POST",
        &format!("{DS}/uploads/{}/data", id(&open_upload)),
        &format!("multipart/form-data; boundary={boundary}"),
        multipart,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["size"], 3_000_000);

    // The producer path.
    let upload = api.upload(
        "VECTOR",
        "EPSG:2154",
        &[("data/communes.gpkg", &fixture("gpkg/communes_2154.gpkg"))],
    );
    assert_eq!(upload["status"], "CLOSED", "{upload:#}");
    let checks = api.ok(api.get(&format!("/uploads/{}/checks", id(&upload))), 200);
    assert_eq!(checks["passed"].as_array().unwrap().len(), 2, "{checks:#}");
    let (execution, stored) = api.process("integration-vector-db", &id(&upload), json!({}));
    assert_eq!(execution["status"], "SUCCESS", "{execution:#}");
    assert_eq!(stored["status"], "GENERATED");
    assert_eq!(stored["type"], "VECTOR-DB");
    // /metrics counts the jobs by state.
    let (_, _, metrics) = get(&server.url("/metrics"));
    for line in [
        "tuilerie_jobs{kind=\"processing\",status=\"SUCCESS\"} 1",
        "tuilerie_jobs{kind=\"check\",status=\"SUCCESS\"} ",
        "tuilerie_jobs{kind=\"check\",status=\"FAILURE\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    let relations = stored["type_infos"]["relations"].as_array().unwrap();
    let communes = relations
        .iter()
        .find(|r| r["name"] == "communes_idf")
        .unwrap();
    assert_eq!(communes["source_name"], "Communes-IDF");
    assert!(
        communes["attributes"].get("nom_de_la_commune").is_some(),
        "{communes:#}"
    );
    let stored_id = id(&stored);

    // Statics: a broken SLD is refused with its line; the real one is taken.
    let (status, body) = api.style("broken", "<StyledLayerDescriptor><NamedLayer>");
    assert_eq!(status, 400, "{body}");
    let sld = std::fs::read_to_string(fixture("wms/communes.sld")).unwrap();
    let style = api.ok(api.style("communes", &sld), 201);
    let style_id = id(&style);

    // Validations that help.
    let (status, body) = api.post(
        "/configurations",
        &wms_vector("1communes", &stored_id, "communes_idf", &style_id),
    );
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("layer_name '1communes' is not allowed"),
        "{body}"
    );
    let (status, body) = api.post(
        "/configurations",
        &wms_vector("communes", &stored_id, "parcelles", &style_id),
    );
    assert_eq!(status, 400);
    let message = body["error_description"].as_str().unwrap();
    assert!(
        message.contains("'parcelles'") && message.contains("communes_idf"),
        "{message}"
    );
    let other_layer = sld.replace(
        "<se:Name>communes_idf</se:Name>",
        "<se:Name>parcelles</se:Name>",
    );
    let other_style = id(&api.ok(api.style("other", &other_layer), 201));
    let (status, body) = api.post(
        "/configurations",
        &wms_vector("communes", &stored_id, "communes_idf", &other_style),
    );
    assert_eq!(status, 400);
    let message = body["error_description"].as_str().unwrap();
    assert!(
        message.contains("'parcelles'") && message.contains("communes_idf"),
        "{message}"
    );
    let bad_property = sld.replace(
        "<ogc:PropertyName>departement</ogc:PropertyName>",
        "<ogc:PropertyName>dept</ogc:PropertyName>",
    );
    let bad_style = id(&api.ok(api.style("bad", &bad_property), 201));
    let (status, body) = api.post(
        "/configurations",
        &wms_vector("communes", &stored_id, "communes_idf", &bad_style),
    );
    assert_eq!(status, 400);
    let message = body["error_description"].as_str().unwrap();
    assert!(
        message.contains("'dept'") && message.contains("population"),
        "{message}"
    );

    // Names written against the original file resolve, with a warning.
    let original_names = sld.replace(
        "<se:Name>communes_idf</se:Name>",
        "<se:Name>Communes-IDF</se:Name>",
    );
    let original_style = id(&api.ok(api.style("original", &original_names), 201));
    let config = api.ok(
        api.post(
            "/configurations",
            &wms_vector("communes", &stored_id, "Communes-IDF", &original_style),
        ),
        201,
    );
    assert_eq!(config["status"], "UNPUBLISHED");
    assert!(
        !config["warnings"].as_array().unwrap().is_empty(),
        "{config:#}"
    );
    let config_id = id(&config);
    let (status, body) = api.post(
        "/configurations",
        &wms_vector("communes", &stored_id, "communes_idf", &style_id),
    );
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(&format!("already used by configuration {config_id}")),
        "{body}"
    );

    // Publishing: the wrong endpoint is refused; the right one publishes; a retry is the same.
    let (status, body) = api.post(
        &format!("/configurations/{config_id}/offerings"),
        &json!({"endpoint": "wmts-tms"}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("wms-vector"),
        "{body}"
    );
    assert!(!capabilities(&server, None).contains("<Name>communes</Name>"));
    let offering = api.ok(
        api.post(
            &format!("/configurations/{config_id}/offerings"),
            &json!({"endpoint": "wms-vector", "open": true}),
        ),
        201,
    );
    let retry = api.ok(
        api.post(
            &format!("/configurations/{config_id}/offerings"),
            &json!({"endpoint": "wms-vector", "open": true}),
        ),
        200,
    );
    assert_eq!(id(&offering), id(&retry));
    assert_eq!(
        api.ok(api.get("/offerings"), 200).as_array().unwrap().len(),
        1
    );
    let offering_id = id(&offering);
    let caps = capabilities(&server, None);
    assert!(caps.contains("<Name>communes</Name>"), "{caps}");
    assert!(
        caps.contains("Communes d'Île-de-France") || caps.contains("Communes d&apos;Île-de-France"),
        "{caps}"
    );
    assert!(
        caps.contains("https://example.org/metadata/communes.xml"),
        "{caps}"
    );
    let (status, headers, first) = get_bytes(&server.url(COMMUNES_MAP), &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    assert_eq!(common::header(&headers, "content-type"), Some("image/png"));
    let pixels = image::load_from_memory(&first).unwrap().to_rgba8();
    assert!(
        pixels.pixels().any(|p| p.0 == [0xE4, 0x1A, 0x1C, 255]),
        "Paris is drawn in red"
    );

    // A style in use cannot be deleted.
    let (status, body) = api.send(
        "DELETE",
        &format!("{DS}/statics/{original_style}"),
        "application/json",
        Vec::new(),
    );
    assert_eq!(status, 409);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(&config_id),
        "{body}"
    );

    // Stored data in use cannot be deleted.
    let (status, body) = api.send(
        "DELETE",
        &format!("{DS}/stored_data/{stored_id}"),
        "application/json",
        Vec::new(),
    );
    assert_eq!(status, 409);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(&config_id),
        "{body}"
    );

    // Its rendered tiles (the tile cache): Paris in red, cached in a folder of this style.
    let has = |png: &[u8], colour: [u8; 4]| {
        image::load_from_memory(png)
            .unwrap()
            .to_rgba8()
            .pixels()
            .any(|p| p.0 == colour)
    };
    let (status, _, red_tile) = get_bytes(&server.url(COMMUNES_PNG_TILE), &[]);
    assert_eq!(status, 200);
    assert!(has(&red_tile, [0xE4, 0x1A, 0x1C, 255]), "Paris is red");
    let cache = data.path().join("tile-cache").join("communes");
    let red_folders: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(red_folders.len(), 1);

    // Another style: the live service changes.
    let blue = original_names.replace("#E41A1C", "#0000FF");
    let blue_style = id(&api.ok(api.style("blue", &blue), 201));
    api.ok(
        api.put(
            &format!("/configurations/{config_id}"),
            &wms_vector("communes", &stored_id, "Communes-IDF", &blue_style),
        ),
        200,
    );
    let (_, _, second) = get_bytes(&server.url(COMMUNES_MAP), &[]);
    let pixels = image::load_from_memory(&second).unwrap().to_rgba8();
    assert!(
        pixels.pixels().any(|p| p.0 == [0, 0, 255, 255]),
        "Paris is now blue"
    );
    assert!(!pixels.pixels().any(|p| p.0 == [0xE4, 0x1A, 0x1C, 255]));
    // The rendered tile too: never the old style's, whose cached tiles are removed.
    let (status, _, blue_tile) = get_bytes(&server.url(COMMUNES_PNG_TILE), &[]);
    assert_eq!(status, 200);
    assert!(
        has(&blue_tile, [0, 0, 255, 255]),
        "Paris is now blue in tiles"
    );
    assert!(!has(&blue_tile, [0xE4, 0x1A, 0x1C, 255]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while red_folders.iter().any(|f| f.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the old style's tiles were not removed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Swaps never fail a request: maps are asked for while the style changes back and forth.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = std::sync::Arc::clone(&stop);
        let url = server.url(COMMUNES_MAP);
        std::thread::spawn(move || {
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, _, body) = get_bytes(&url, &[]);
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                answered += 1;
                // Under the layer's default rate limit (50 maps a second for WMS-VECTOR).
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
            answered
        })
    };
    for style in [&original_style, &blue_style, &original_style, &blue_style] {
        api.ok(
            api.put(
                &format!("/configurations/{config_id}"),
                &wms_vector("communes", &stored_id, "Communes-IDF", style),
            ),
            200,
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(hammer.join().unwrap() > 0);

    // Published vector layers are vector tiles too, open while the offering is.
    let (status, headers, tile) = get_bytes(&server.url(COMMUNES_TILE), &[]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.mapbox-vector-tile")
    );
    assert!(header(&headers, "cache-control")
        .unwrap()
        .contains("public"));
    assert!(!mvt::decode(&tile).unwrap()[0].features.is_empty());

    // Restricted: gone from anonymous capabilities; 401 without key, 403 with a key that does
    // not grant it, 200 with one that does.
    api.ok(
        api.put(
            &format!("/offerings/{offering_id}"),
            &json!({"open": false}),
        ),
        200,
    );
    assert!(!capabilities(&server, None).contains("<Name>communes</Name>"));
    let (status, _, _) = get_bytes(&server.url(COMMUNES_MAP), &[]);
    assert_eq!(status, 401);
    // The SDK's "synchronize": PUT without a body answers the offering, unchanged.
    let synced = api.ok(
        api.send(
            "PUT",
            &format!("{DS}/offerings/{offering_id}"),
            "application/json",
            Vec::new(),
        ),
        200,
    );
    assert_eq!(synced["open"], false, "{synced}");
    let permission = api.ok(
        api.post(
            "/permissions",
            &json!({"licence": "test", "offerings": [offering_id]}),
        ),
        201,
    );
    let (status, granted) = api.send("POST", "/api/users/me/keys", "application/json", serde_json::to_vec(&json!({"name": "granted", "accesses": [{"permission": id(&permission), "offerings": []}]})).unwrap());
    assert_eq!(status, 201, "{granted}");
    let granted_key = granted["key"].as_str().unwrap().to_owned();
    let (_, keys) = api.send("GET", "/api/users/me/keys", "application/json", Vec::new());
    assert!(
        !keys.to_string().contains(&granted_key),
        "key values are never listed"
    );
    let (_, other) = api.send(
        "POST",
        "/api/users/me/keys",
        "application/json",
        serde_json::to_vec(&json!({"name": "other"})).unwrap(),
    );
    let other_key = other["key"].as_str().unwrap().to_owned();
    let (status, _, _) = get_bytes(&server.url(COMMUNES_MAP), &[("X-Api-Key", &other_key)]);
    assert_eq!(status, 403);
    let (status, _, _) = get_bytes(&server.url(&format!("{COMMUNES_MAP}&apikey=wrong")), &[]);
    assert_eq!(status, 401);
    let (status, _, _) = get_bytes(&server.url(COMMUNES_MAP), &[("X-Api-Key", &granted_key)]);
    assert_eq!(status, 200);
    // Its vector tiles, rendered tiles (every set and scale) and TileJSON follow the offering:
    // the key's answers are private.
    for path in [
        COMMUNES_TILE,
        "/tms/1.0.0/communes/metadata.json",
        "/tms/1.0.0/communes/metadata.json?scale=2",
        "/tms/1.0.0/communes/12/2074/1409.png",
        "/wmts/communes/normal/PM_0_18/12/1409/2074.png",
        "/wmts/communes/normal/PM_0_18@2x/12/1409/2074.png",
        "/wmts/communes/normal/LAMB93_0_18/12/786/99.png",
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=communes&STYLE=normal&FORMAT=image/jpeg&TILEMATRIXSET=PM_0_18&TILEMATRIX=12&TILEROW=1409&TILECOL=2074",
    ] {
        assert_eq!(get_bytes(&server.url(path), &[]).0, 401, "{path}");
        let other = get_bytes(&server.url(path), &[("X-Api-Key", &other_key)]);
        assert_eq!(other.0, 403, "{path}");
        let (status, headers, _) = get_bytes(&server.url(path), &[("X-Api-Key", &granted_key)]);
        assert_eq!(status, 200, "{path}");
        assert!(header(&headers, "cache-control")
            .unwrap()
            .starts_with("private"));
    }
    assert!(capabilities(&server, Some(&granted_key)).contains("<Name>communes</Name>"));
    assert!(!capabilities(&server, Some(&other_key)).contains("<Name>communes</Name>"));
    // WMTS capabilities name the layer and its sets to the granted key only.
    let wmts =
        |key: &str| get(&server.url(&format!("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities{key}"))).2;
    assert!(wmts(&format!("&apikey={granted_key}"))
        .contains("<ows:Identifier>communes</ows:Identifier>"));
    for anonymous in [String::new(), format!("&apikey={other_key}")] {
        let xml = wmts(&anonymous);
        assert!(!xml.contains("communes"), "{xml}");
        assert!(!xml.contains("LAMB93_0_18"), "{xml}");
    }

    // Unpublished: gone.
    assert_eq!(api.delete(&format!("/offerings/{offering_id}")), 204);
    let (status, _, _) = get_bytes(&server.url(COMMUNES_MAP), &[("X-Api-Key", &granted_key)]);
    assert_eq!(status, 400, "LayerNotDefined once unpublished");
    assert_eq!(
        api.ok(api.get(&format!("/configurations/{config_id}")), 200)["status"],
        "UNPUBLISHED"
    );
    // As the Entrepôt (and IGN's SDK, which waits for it): the first DELETE leaves the
    // offering readable as UNPUBLISHED, the second removes it.
    assert_eq!(
        api.ok(api.get(&format!("/offerings/{offering_id}")), 200)["status"],
        "UNPUBLISHED"
    );
    assert_eq!(api.delete(&format!("/offerings/{offering_id}")), 204);
    assert_eq!(api.get(&format!("/offerings/{offering_id}")).0, 404);

    // The OpenAPI document needs no token and lists the routes.
    let (status, _, document) = get(&server.url("/api/openapi.json"));
    assert_eq!(status, 200);
    let parsed: Value = serde_json::from_str(&document).unwrap();
    assert!(
        parsed["paths"]["/api/datastores/{datastore}/configurations/{id}/offerings"]["post"]
            .is_object()
    );
    // Valid OpenAPI 3.1, by an independent validator where it is installed (CI installs it).
    let has_validator = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_validator {
        let file = data.path().join("openapi.json");
        std::fs::write(&file, &document).unwrap();
        common::run_python_ok(&format!(
            "import json; from openapi_spec_validator import validate; validate(json.load(open({:?}))); print('ok')",
            file.to_str().unwrap()
        ));
    } else {
        eprintln!("skipped the OpenAPI validation: pip install openapi-spec-validator");
    }
}

fn raster_upload_and_pyramid(api: &Api<'_>, bottom: &str) -> (Value, Value) {
    let upload = api.upload(
        "RASTER",
        "EPSG:4326",
        &[("rgb.tif", &fixture("rasters/rgb_4326.tif"))],
    );
    assert_eq!(upload["status"], "CLOSED", "{upload:#}");
    api.process(
        "generation-pyramid-raster",
        &id(&upload),
        json!({"tms": "PM", "bottom_level": bottom, "top_level": "8", "compression": "png", "interpolation": "nearest"}),
    )
}

/// The disk of the stored data fills up during a pyramid processing: the execution ends FAILURE
/// with the cause in its logs (and no server path), the stored data is UNSTABLE with nothing
/// left on that disk (the space is given back at once), the server keeps answering, and the same
/// processing succeeds once there is room.
#[test]
fn a_full_disk_fails_a_pyramid_processing_and_gives_its_space_back() {
    let data = tempfile::tempdir().unwrap();
    let stored_dir = data.path().join("stored");
    let Some(disk) = common::SmallDisk::mount_at(&stored_dir, "256k") else {
        return;
    };
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    let api = Api::new(&server, data.path());
    let (execution, stored) = raster_upload_and_pyramid(&api, "13");
    assert_eq!(execution["status"], "FAILURE", "{execution:#}");
    let logs = api.ok(
        api.get(&format!("/processings/executions/{}/logs", id(&execution))),
        200,
    );
    let logs = logs.to_string();
    assert!(logs.contains("No space left on device"), "{logs}");
    assert!(!logs.contains(&data.path().display().to_string()), "{logs}");
    assert_eq!(stored["status"], "UNSTABLE", "{stored:#}");
    let left: Vec<_> = std::fs::read_dir(&stored_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left on the full disk: {left:?}");
    let (status, _, _) = get(&server.url("/health"));
    assert_eq!(status, 200);

    disk.grow("16m");
    let (execution, stored) = raster_upload_and_pyramid(&api, "13");
    assert_eq!(execution["status"], "SUCCESS", "{execution:#}");
    assert_eq!(stored["status"], "GENERATED");
}

#[test]
fn a_geotiff_becomes_a_pyramid_published_on_wmts_tms_and_wms() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    let api = Api::new(&server, data.path());

    // A bad parameter is refused at creation, naming the choices.
    let upload = api.upload(
        "RASTER",
        "EPSG:4326",
        &[("rgb.tif", &fixture("rasters/rgb_4326.tif"))],
    );
    let (status, body) = api.post(
        "/processings/executions",
        &json!({"processing": "generation-pyramid-raster", "inputs": {"upload": [id(&upload)]}, "output": {"stored_data": {"name": "x"}}, "parameters": {"tms": "PM", "bottom_level": "33"}}),
    );
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("bottom_level '33' is not a level of PM"),
        "{body}"
    );

    let (execution, stored) = raster_upload_and_pyramid(&api, "11");
    assert_eq!(execution["status"], "SUCCESS", "{execution:#}");
    assert_eq!(stored["type"], "ROK4-PYRAMID-RASTER");
    assert_eq!(
        stored["type_infos"]["levels"],
        json!(["8", "9", "10", "11"])
    );
    let stored_id = id(&stored);
    let logs = api.ok(
        api.get(&format!("/processings/executions/{}/logs", id(&execution))),
        200,
    );
    assert!(logs.to_string().contains("slabs"), "{logs}");

    let wmts = |bottom: &str| {
        json!({
            "type": "WMTS-TMS", "name": "scan", "layer_name": "scan",
            "type_infos": {"title": "Scan", "abstract": "a raster", "keywords": ["raster"],
                           "used_data": [{"stored_data": stored_id, "bottom_level": bottom, "top_level": "8"}]},
            // Beside type_infos, as the Entrepôt's tutorial writes it.
            "getfeatureinfo": {"stored_data": true},
            "metadata": [{"format": "application/xml", "url": "https://example.org/scan.xml", "type": "ISO19115:2003"}],
            "attribution": {"title": "Synthetic", "url": "https://example.org"}
        })
    };
    let (status, body) = api.post("/configurations", &wmts("14"));
    assert_eq!(status, 400);
    let message = body["error_description"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "level 14 is not in stored data {stored_id}, which has levels 8 to 11"
        )),
        "{message}"
    );
    let config = api.ok(api.post("/configurations", &wmts("11")), 201);
    let (status, _) = api.post(
        &format!("/configurations/{}/offerings", id(&config)),
        &json!({"endpoint": "wms-raster"}),
    );
    assert_eq!(status, 400);
    api.ok(
        api.post(
            &format!("/configurations/{}/offerings", id(&config)),
            &json!({"endpoint": "wmts-tms"}),
        ),
        201,
    );

    let (status, _, caps) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    assert_eq!(status, 200);
    assert!(
        caps.contains("<ows:Identifier>scan</ows:Identifier>"),
        "{caps}"
    );
    assert!(
        caps.contains("https://example.org/scan.xml"),
        "metadata link: {caps}"
    );
    let (status, _, tms) = get(&server.url("/tms/1.0.0"));
    assert_eq!(status, 200);
    assert!(tms.contains("/tms/1.0.0/scan"), "{tms}");
    let (_, _, tile_map) = get(&server.url("/tms/1.0.0/scan"));
    assert!(
        tile_map.contains("href=\"https://example.org/scan.xml\""),
        "{tile_map}"
    );
    assert!(
        tile_map.contains("<Attribution><Title>Synthetic</Title></Attribution>"),
        "{tile_map}"
    );
    // Lon 2.2, lat 48.85 at PM level 11: col 1036, row 704.
    let (status, headers, tile) =
        get_bytes(&server.url("/wmts/scan/default/PM/11/704/1036.png"), &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&tile));
    assert_eq!(common::header(&headers, "content-type"), Some("image/png"));
    let (status, _, info) = get(&server.url("/wmts/scan/default/PM/11/704/1036/128/128.json"));
    assert_eq!(status, 200, "{info}");
    assert!(info.contains("band_1"), "{info}");
    // Not in WMS: it was published on the WMTS-TMS endpoint only.
    assert!(!capabilities(&server, None).contains("<Name>scan</Name>"));

    // A WMS-RASTER configuration of the same pyramid, same name: served by WMS too.
    let wms = json!({
        "type": "WMS-RASTER", "name": "scan wms", "layer_name": "scan",
        "type_infos": {"title": "Scan", "used_data": [{"stored_data": stored_id}]}
    });
    let config = api.ok(api.post("/configurations", &wms), 201);
    api.ok(
        api.post(
            &format!("/configurations/{}/offerings", id(&config)),
            &json!({"endpoint": "wms-raster"}),
        ),
        201,
    );
    assert!(capabilities(&server, None).contains("<Name>scan</Name>"));
    let (status, headers, _) = get_bytes(
        &server.url("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=scan&STYLES=&CRS=CRS:84&BBOX=2.0,48.7,2.4,49.0&WIDTH=200&HEIGHT=150&FORMAT=image/png"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(common::header(&headers, "content-type"), Some("image/png"));
}

#[test]
fn a_killed_server_resumes_its_pyramid_generation_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let execution_id;
    {
        let server = Server::start(&["--data", &data_arg]);
        let api = Api::new(&server, data.path());
        execution_id = api.launch_long_pyramid(&fixture("rasters/rgb_4326.tif"));
        // `server` is dropped here: SIGKILL, mid-generation.
    }
    let server = Server::start(&["--data", &data_arg]);
    let api = Api::new(&server, data.path());
    let logs = api.finished_long_pyramid(&execution_id);
    assert!(logs.contains("resumed") || logs.contains("done"), "{logs}");
}

fn tuilerie(args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::BIN)
        .args(args)
        .env("TUILERIE_LOG", "warn")
        .output()
        .unwrap()
}

/// Polls `url` (with headers) until it answers `status`.
fn wait_for_status(url: &str, headers: &[(&str, &str)], status: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (answered, _, _) = get_bytes(url, headers);
        if answered == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} still answers {answered}, not {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A Shapefile (`.shp` + `.dbf`/`.shx`/`.prj`/`.cpg`, ESRI `.prj`, made by ogr2ogr) goes the
/// whole way without GDAL: `tuilerie publish vector` uploads its parts, the check and the
/// integration read it, and WMS draws it where its `.prj` puts it while WFS answers its
/// attributes as GDAL reads them.
#[test]
fn a_shapefile_is_published_and_served_as_wms_and_wfs() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let sld = data.path().join("parcelles.sld");
    std::fs::write(
        &sld,
        r#"<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld"
 xmlns:se="http://www.opengis.net/se"><NamedLayer><se:Name>parcelles_2154</se:Name><UserStyle>
 <se:FeatureTypeStyle><se:Rule><se:PolygonSymbolizer><se:Fill>
 <se:SvgParameter name="fill">#FF0000</se:SvgParameter></se:Fill></se:PolygonSymbolizer>
 </se:Rule></se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#,
    )
    .unwrap();
    let published = tuilerie(&[
        "publish",
        "vector",
        fixture("ogr/parcelles_2154.shp").to_str().unwrap(),
        "--style",
        sld.to_str().unwrap(),
        "--layer-name",
        "parcelles",
        "--data",
        &data_arg,
    ]);
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let server = Server::start(&["--data", &data_arg]);
    // Paris's parcel, 651000–651100 × 6862000–6862100 in Lambert-93: red in the middle.
    let (status, _, png) = get_bytes(
        &server.url(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=parcelles&STYLES=&CRS=EPSG:2154\
             &BBOX=650950,6861950,651150,6862150&WIDTH=100&HEIGHT=100&FORMAT=image/png",
        ),
        &[],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&png));
    let image = image::load_from_memory(&png).unwrap().to_rgba8();
    assert_eq!(image.get_pixel(50, 50).0, [255, 0, 0, 255]);
    assert_eq!(
        image.get_pixel(5, 5).0,
        [255, 255, 255, 255],
        "outside the parcel"
    );
    let (status, _, json) = get(&server.url(
        "/wfs?SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES=tuilerie:parcelles\
         &OUTPUTFORMAT=application/json",
    ));
    assert_eq!(status, 200, "{json}");
    let features: Value = serde_json::from_str(&json).unwrap();
    let mut names: Vec<String> = features["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["properties"]["nom_commun"]
                .as_str()
                .unwrap_or("NULL")
                .to_owned()
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Montreuil", "NULL", "Paris", "Vincennes"]);
}

#[test]
fn tuilerie_publish_publishes_on_the_data_directory_of_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let server = Server::start(&["--data", &data_arg]);
    let gpkg = fixture("gpkg/communes_2154.gpkg");
    let sld = fixture("wms/communes.sld");

    // A refused file: exit 1 and the check's reason.
    let refused = tuilerie(&[
        "publish",
        "vector",
        gpkg.to_str().unwrap(),
        "--style",
        sld.to_str().unwrap(),
        "--layer-name",
        "communes",
        "--srs",
        "EPSG:4326",
        "--data",
        &data_arg,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("EPSG:2154"),
        "{stderr}"
    );

    let vector = tuilerie(&[
        "publish",
        "vector",
        gpkg.to_str().unwrap(),
        "--style",
        sld.to_str().unwrap(),
        "--tables",
        "communes_idf",
        "--layer-name",
        "communes",
        "--title",
        "Communes",
        "--data",
        &data_arg,
    ]);
    assert!(
        vector.status.success(),
        "{}",
        String::from_utf8_lossy(&vector.stderr)
    );
    let stdout = String::from_utf8_lossy(&vector.stdout);
    assert!(
        stdout.contains("published 'communes' (WMS-VECTOR)"),
        "{stdout}"
    );
    assert!(stdout.contains("published 'communes' (WFS)"), "{stdout}");
    wait_for_status(&server.url(COMMUNES_MAP), &[], 200);
    // WFS beside WMS: the one table as the feature type `communes`.
    let features = server
        .url("/wfs?SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=tuilerie:communes&RESULTTYPE=hits");
    wait_for_status(&features, &[], 200);
    assert!(get(&features).2.contains("numberMatched=\"60\""));

    let tif = fixture("rasters/rgb_4326.tif");
    let raster = tuilerie(&[
        "publish",
        "raster",
        tif.to_str().unwrap(),
        "--tms",
        "PM",
        "--levels",
        "8-10",
        "--layer-name",
        "scan",
        "--compression",
        "png",
        "--restricted",
        "--data",
        &data_arg,
    ]);
    assert!(
        raster.status.success(),
        "{}",
        String::from_utf8_lossy(&raster.stderr)
    );
    let stdout = String::from_utf8_lossy(&raster.stdout).into_owned();
    let key = stdout
        .lines()
        .find_map(|l| l.split("X-Api-Key: ").nth(1))
        .unwrap_or_else(|| panic!("{stdout}"))
        .trim()
        .to_owned();
    let tile = server.url("/wmts/scan/default/PM/10/352/518.png");
    wait_for_status(&tile, &[("X-Api-Key", &key)], 200);
    // A restricted tile must never be kept by a shared cache (nginx proxy_cache, a CDN).
    let (_, headers, _) = get_bytes(&tile, &[("X-Api-Key", &key)]);
    let cache_control = common::header(&headers, "cache-control").unwrap_or("");
    assert!(
        cache_control.starts_with("private") && !cache_control.contains("public"),
        "{cache_control}"
    );
    let vary = common::header(&headers, "vary").unwrap_or("");
    assert!(
        vary.to_ascii_lowercase().contains("x-api-key"),
        "{headers:?}"
    );
    let (status, _, _) = get_bytes(&tile, &[]);
    assert_eq!(status, 401);
    // Open layers stay cacheable by everyone.
    let (_, headers, _) = get_bytes(
        &server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
        &[],
    );
    let cache_control = common::header(&headers, "cache-control").unwrap_or("");
    assert!(!cache_control.contains("private"), "{cache_control}");
    let capabilities = server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities");
    let (_, _, anonymous) = get(&capabilities);
    assert!(!anonymous.contains("<ows:Identifier>scan</ows:Identifier>"));
    let (_, _, granted) = get(&format!("{capabilities}&apikey={key}"));
    assert!(granted.contains("<ows:Identifier>scan</ows:Identifier>"));
    let (_, _, tms) = get(&server.url("/tms/1.0.0"));
    assert!(!tms.contains("/tms/1.0.0/scan"), "{tms}");
    // The preview page lists it only for a key that grants it.
    let (_, _, page) = get(&server.url("/"));
    assert!(page.contains("<code>communes</code>") && !page.contains("<code>scan</code>"));
    let (_, _, page) = get(&server.url(&format!("/?apikey={key}")));
    assert!(page.contains("<code>scan</code>"), "{page}");
}

/// Writes a GeoPackage of `count` points (EPSG:2154) with Python's sqlite3: big enough that
/// its integration takes a while.
fn write_points_gpkg(path: &Path, count: u32) {
    common::run_python_ok(&format!(
        r#"
import sqlite3, struct
c = sqlite3.connect({path:?})
c.executescript("""
PRAGMA application_id = 1196444487; PRAGMA user_version = 10300;
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT INTO gpkg_spatial_ref_sys VALUES ('RGF93 / Lambert-93', 2154, 'EPSG', 2154, 'undefined', NULL);
CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT, description TEXT,
  last_change TEXT, min_x REAL, min_y REAL, max_x REAL, max_y REAL, srs_id INTEGER);
CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT, srs_id INTEGER, z INTEGER, m INTEGER);
CREATE TABLE points (fid INTEGER PRIMARY KEY, geom BLOB, name TEXT, value REAL);
INSERT INTO gpkg_contents VALUES ('points', 'features', 'points', '', '2026-01-01T00:00:00Z', 600000, 6800000, 700000, 6900000, 2154);
INSERT INTO gpkg_geometry_columns VALUES ('points', 'geom', 'POINT', 2154, 0, 0);
""")
def blob(x, y):
    return b'GP' + bytes([0, 1]) + struct.pack('<i', 2154) + struct.pack('<BIdd', 1, 1, x, y)
n = {count}
c.executemany('INSERT INTO points (geom, name, value) VALUES (?, ?, ?)',
    ((blob(600000 + (k * 7919) % 100000, 6800000 + (k * 104729) % 100000), 'p%d' % k, k * 0.5) for k in range(n)))
c.commit()
print('ok')
"#,
        path = path.to_str().unwrap()
    ));
}

#[test]
fn a_killed_server_resumes_its_integration_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let big = data.path().join("points.gpkg");
    write_points_gpkg(&big, 400_000);
    let (execution_id, stored_id, killed_in_progress);
    {
        let server = Server::start(&["--data", &data_arg]);
        let api = Api::new(&server, data.path());
        let upload = api.upload("VECTOR", "EPSG:2154", &[("points.gpkg", &big)]);
        assert_eq!(upload["status"], "CLOSED", "{upload:#}");
        let execution = api.ok(
            api.post(
                "/processings/executions",
                &json!({"processing": "integration-vector-db", "inputs": {"upload": [id(&upload)]}, "output": {"stored_data": {"name": "points"}}}),
            ),
            201,
        );
        execution_id = id(&execution);
        stored_id = execution["output"]["stored_data"]["_id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.ok(
            api.post(
                &format!("/processings/executions/{execution_id}/launch"),
                &json!({}),
            ),
            200,
        );
        let state = api.wait(
            &format!("/processings/executions/{execution_id}"),
            &["PROGRESS", "SUCCESS", "FAILURE"],
        );
        killed_in_progress = state["status"] == "PROGRESS";
        // `server` is dropped here: SIGKILL, mid-integration.
    }
    let server = Server::start(&["--data", &data_arg]);
    let api = Api::new(&server, data.path());
    let execution = api.wait(
        &format!("/processings/executions/{execution_id}"),
        &["SUCCESS", "FAILURE"],
    );
    assert_eq!(execution["status"], "SUCCESS", "{execution:#}");
    let logs = api
        .ok(
            api.get(&format!("/processings/executions/{execution_id}/logs")),
            200,
        )
        .to_string();
    if killed_in_progress {
        assert!(logs.contains("resumed"), "{logs}");
    } else {
        eprintln!("the integration ended before the kill: nothing was interrupted this run");
    }
    let stored = api.ok(api.get(&format!("/stored_data/{stored_id}")), 200);
    assert_eq!(stored["status"], "GENERATED");
    assert_eq!(stored["type_infos"]["relations"][0]["features"], 400_000);
    assert!(!data
        .path()
        .join("stored")
        .join(format!(".{stored_id}.partial"))
        .exists());
    let (status, _, _) = get(&server.url("/health"));
    assert_eq!(status, 200);
}

/// An elevation model published with the defaults (no compression, no format) keeps its float
/// values: the WMS GetFeatureInfo of the published layer answers what GDAL reads from the
/// source at 20 points (before, the pyramid was silently 8-bit: every value cut to 0–255).
#[test]
#[allow(clippy::float_cmp)] // exact: the pyramid keeps the source's samples
fn a_published_elevation_model_answers_the_values_gdal_reads_from_its_source() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let server = Server::start(&["--data", &data_arg]);
    let dem = fixture("rasters/dem_2154.tif");
    let published = tuilerie(&[
        "publish",
        "raster",
        dem.to_str().unwrap(),
        "--tms",
        "LAMB93",
        "--levels",
        "11-13",
        "--interpolation",
        "nearest",
        "--layer-name",
        "mnt",
        "--wms",
        "--data",
        &data_arg,
    ]);
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let info = |x: f64, y: f64| {
        format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=mnt&QUERY_LAYERS=mnt\
             &STYLES=&CRS=EPSG:2154&BBOX={},{},{},{}&WIDTH=1&HEIGHT=1&I=0&J=0\
             &INFO_FORMAT=application/json",
            x - 6.0,
            y - 6.0,
            x + 6.0,
            y + 6.0
        )
    };
    wait_for_status(&server.url(&info(650_000.0, 6_868_000.0)), &[], 200);
    let gdal = Command::new("gdallocationinfo").arg("--version").output();
    let mut compared = 0;
    for k in 0..20_u32 {
        // Source pixel centres spread over the raster, outside its no-data corner.
        let (col, row) = (25 + (k * 37) % 170, 25 + (k * 53) % 130);
        let (x, y) = (
            640_000.0 + (f64::from(col) + 0.5) * 100.0,
            6_876_000.0 - (f64::from(row) + 0.5) * 100.0,
        );
        let (status, _, body) = get(&server.url(&info(x, y)));
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        let served = json["features"][0]["properties"]["band_1"]
            .as_f64()
            .unwrap_or_else(|| panic!("{body}"));
        if gdal.is_err() {
            eprintln!("gdallocationinfo missing: value {served} at {x},{y} not compared");
            continue;
        }
        let output = Command::new("gdallocationinfo")
            .args(["-valonly", "-geoloc", dem.to_str().unwrap()])
            .args([x.to_string(), y.to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let expected: f32 = text.trim().parse().unwrap_or_else(|_| panic!("{text}"));
        assert_eq!(served as f32, expected, "at {x},{y}");
        compared += 1;
    }
    assert!(gdal.is_err() || compared == 20);
}

/// IGN's SDK logs in as Keycloak's clients do: a user made with `tuilerie user add` gets a
/// bearer token at `POST /api/auth/token`, sees itself at `/api/users/me`, reaches its
/// datastore and no other; wrong credentials are Keycloak's `invalid_grant`; a new password
/// revokes the token.
#[test]
fn a_user_logs_in_for_a_token_that_reaches_only_its_datastores() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let server = Server::start(&["--data", &data_arg]);
    let user = |args: &[&str], stdin: &str| {
        use std::io::Write as _;
        let mut child = Command::new(common::BIN)
            .arg("user")
            .args(args)
            .args(["--data", &data_arg])
            .env("TUILERIE_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let added = user(
        &["add", "producteur", "--password-stdin"],
        "un mot de passe\n",
    );
    assert!(added.status.success(), "{added:?}");
    let again = user(
        &["add", "producteur", "--password-stdin"],
        "un mot de passe\n",
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let no_stdin = user(&["add", "autre"], "");
    assert_eq!(no_stdin.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_stdin.stderr).contains("--password-stdin"));

    let login = |form: &str| {
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(server.url("/api/auth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.as_bytes().to_vec())
            .unwrap();
        let mut response = agent().run(request).unwrap();
        let status = response.status().as_u16();
        let body: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        (status, body)
    };
    let (status, body) = login("grant_type=password&username=producteur&password=faux+mot");
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = login("username=producteur&password=un+mot+de+passe");
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        login("grant_type=password&client_id=guichet&username=producteur&password=un+mot+de+passe");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, _) =
        login("grant_type=client_credentials&client_id=producteur&client_secret=un+mot+de+passe");
    assert_eq!(status, 200);

    let api = Api {
        server: &server,
        token: token.clone(),
    };
    let (status, me) = api.send("GET", "/api/users/me", "application/json", Vec::new());
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["last_name"], "producteur");
    assert_eq!(
        me["communities_member"][0]["community"]["datastore"],
        "default"
    );
    api.ok(api.get("/uploads"), 200);
    let (status, body) = api.send(
        "GET",
        "/api/datastores/voisin/uploads",
        "application/json",
        Vec::new(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("not a member of datastore 'voisin'"));

    let changed = user(
        &["passwd", "producteur", "--password-stdin"],
        "un autre mot de passe\n",
    );
    assert!(changed.status.success(), "{changed:?}");
    let (status, _) = api.get("/uploads");
    assert_eq!(status, 401);
}

#[test]
fn a_geopackage_published_as_wfs_serves_its_feature_types_restricted_to_keys() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    let api = Api::new(&server, data.path());
    let upload = api.upload(
        "VECTOR",
        "EPSG:2154",
        &[("communes.gpkg", &fixture("gpkg/communes_2154.gpkg"))],
    );
    let (_, stored) = api.process("integration-vector-db", &id(&upload), json!({}));
    let stored_id = id(&stored);
    let wfs = |relations: Value| {
        json!({
            "type": "WFS",
            "name": "wfs config",
            "layer_name": "communes_wfs",
            "type_infos": {"used_data": [{"stored_data": stored_id, "relations": relations}]}
        })
    };
    // Validations naming what exists.
    let (status, body) = api.post(
        "/configurations",
        &wfs(json!([{"native_name": "routes", "public_name": "routes"}])),
    );
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("communes_idf") && text.contains("ecoles"),
        "{text}"
    );
    let (status, body) = api.post(
        "/configurations",
        &wfs(json!([
            {"native_name": "Communes-IDF", "public_name": "same"},
            {"native_name": "Écoles", "public_name": "same"}
        ])),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("twice"), "{body}");
    let (status, body) = api.post(
        "/configurations",
        &wfs(json!([{"native_name": "Écoles", "public_name": "1 bad name"}])),
    );
    assert_eq!(status, 400, "{body}");

    // The SDK's shape: relations with native and public names, titles, keywords, abstracts.
    let configuration = api.ok(
        api.post(
            "/configurations",
            &wfs(json!([
                {"native_name": "Communes-IDF", "public_name": "communes", "title": "Communes", "keywords": ["IDF"], "abstract": "Les communes"},
                {"native_name": "Écoles", "public_name": "ecoles", "title": "Écoles"}
            ])),
        ),
        201,
    );
    assert_eq!(configuration["type"], "WFS");
    let offering = api.ok(
        api.post(
            &format!("/configurations/{}/offerings", id(&configuration)),
            &json!({"endpoint": "wfs", "open": false}),
        ),
        201,
    );
    assert!(
        offering["urls"].to_string().contains("/wfs?SERVICE=WFS"),
        "{offering}"
    );
    let capabilities = server.url("/wfs?SERVICE=WFS&REQUEST=GetCapabilities");
    let features = server.url(
        "/wfs?SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=tuilerie:communes&OUTPUTFORMAT=application/json",
    );
    // Restricted: anonymous callers see nothing and get 401.
    wait_for_status(&features, &[], 401);
    let (_, _, anonymous) = get(&capabilities);
    assert!(!anonymous.contains("communes"), "{anonymous}");
    // The same through OGC API – Features: not listed, and 401 on its paths.
    let (_, _, collections) = get(&server.url("/ogcapi/collections"));
    assert!(!collections.contains("communes"), "{collections}");
    for path in [
        "/ogcapi/collections/communes",
        "/ogcapi/collections/communes/items",
        "/ogcapi/collections/communes/items/1",
    ] {
        let (status, _, body) = get(&server.url(path));
        assert_eq!(status, 401, "{path}: {body}");
        assert!(!body.contains("Paris"), "{body}");
    }
    let permission = api.ok(
        api.post(
            "/permissions",
            &json!({"licence": "test", "offerings": [id(&offering)]}),
        ),
        201,
    );
    let (status, key) = api.send(
        "POST",
        "/api/users/me/keys",
        "application/json",
        serde_json::to_vec(
            &json!({"name": "wfs", "accesses": [{"permission": id(&permission), "offerings": []}]}),
        )
        .unwrap(),
    );
    assert_eq!(status, 201, "{key}");
    let key = key["key"].as_str().unwrap().to_owned();
    let (_, _, granted) = get(&format!("{capabilities}&apikey={key}"));
    assert!(
        granted.contains("<wfs:Name>tuilerie:communes</wfs:Name>"),
        "{granted}"
    );
    assert!(granted.contains("<wfs:Name>tuilerie:ecoles</wfs:Name>"));
    assert!(granted.contains("<wfs:Title>Communes</wfs:Title>"));
    assert!(granted.contains("<ows:Keyword>IDF</ows:Keyword>"));
    let (status, headers, body) = get_bytes(&features, &[("X-Api-Key", &key)]);
    assert_eq!(status, 200);
    assert!(header(&headers, "cache-control").is_none_or(|c| !c.contains("public")));
    let collection: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(collection["numberMatched"], 60);
    assert_eq!(collection["features"][0]["properties"]["population"], 14692);
    // GDAL reads every published feature back, the key in the URL it keeps on every request.
    if Command::new("ogr2ogr").arg("--version").output().is_ok() {
        let out = data.path().join("wfs-copy.json");
        let status = Command::new("ogr2ogr")
            .args(["--config", "OGR_WFS_PAGING_ALLOWED", "ON"])
            .args(["--config", "OGR_WFS_PAGE_SIZE", "25"])
            .args(["-f", "GeoJSON"])
            .arg(&out)
            .arg(format!("WFS:{}/wfs?apikey={key}", server.base))
            .arg("tuilerie:communes")
            .status()
            .unwrap();
        assert!(status.success());
        let copy: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        let features = copy["features"].as_array().unwrap();
        assert_eq!(features.len(), 60);
        let codes: std::collections::BTreeSet<&str> = features
            .iter()
            .map(|f| f["properties"]["code_insee"].as_str().unwrap())
            .collect();
        assert_eq!(codes.len(), 60);
    }
    let (status, _, _) = get_bytes(
        &server.url("/wfs?SERVICE=WFS&REQUEST=GetFeature&TYPENAMES=ecoles&RESULTTYPE=hits"),
        &[("X-Api-Key", &key)],
    );
    assert_eq!(status, 200);
    let (status, _, body) = get_bytes(
        &server.url("/ogcapi/collections/communes/items?limit=1"),
        &[("X-Api-Key", &key)],
    );
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("Paris 0"));

    // Unpublished: gone from the WFS.
    assert_eq!(api.delete(&format!("/offerings/{}", id(&offering))), 204);
    wait_for_status(&features, &[("X-Api-Key", &key)], 400);
}

/// The SDK's generic_vecteur steps after the integration: "Calcul ou mise à jour de pyramide
/// vecteur" with a composition (checked against the tables and attributes, the geometry column
/// named among the attributes as the Géoplateforme's workflows do), a ROK4-PYRAMID-VECTOR
/// stored data, a WMTS-TMS configuration and offering, and its vector tiles under TMS.
#[test]
fn a_vector_pyramid_processing_publishes_vector_tiles_on_tms() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    publish_vector_pyramid(&server, data.path());
}

/// With `[api] pyramid_storage = "s3://…"` the vector pyramid processing writes its slabs to the
/// bucket (a real S3 server on loopback) and nothing of them to the data directory; the TMS
/// tiles are served from there.
#[test]
fn a_vector_pyramid_processing_writes_to_object_storage_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s3) = common::s3::S3::start(&dir.path().join("s3")) else {
        return;
    };
    let data = dir.path().join("data");
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[api]\npyramid_storage = \"s3://pyramids/api\"\n",
            s3.config_section()
        ),
    )
    .unwrap();
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let pyramid_id = publish_vector_pyramid(&server, &data);
    let objects = s3.root.join("pyramids/api").join(&pyramid_id);
    assert!(objects.join("pyramid.json").is_file(), "{objects:?}");
    assert!(objects.join("pyramid.list").is_file());
    let slabs = std::fs::read_dir(objects.join(pyramid::PYRAMID_NAME))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("DATA_")
        })
        .count();
    assert!(slabs > 0, "no slab object under {objects:?}");
    assert!(!data.join("stored").join(&pyramid_id).exists());
}

/// Runs the SDK's vector pyramid steps on a fresh server (see the test above) and checks their
/// tiles; the pyramid's stored data id.
fn publish_vector_pyramid(server: &Server, data: &Path) -> String {
    let api = Api::new(server, data);
    let upload = api.upload(
        "VECTOR",
        "EPSG:2154",
        &[("communes.gpkg", &fixture("gpkg/communes_2154.gpkg"))],
    );
    let (_, stored) = api.process("integration-vector-db", &id(&upload), json!({}));
    let vector_id = id(&stored);
    let processings = api.ok(api.get("/processings"), 200);
    let processing = processings
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Calcul ou mise à jour de pyramide vecteur")
        .expect("the vector pyramid processing is listed")["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let execution = |composition: Value| {
        json!({"processing": processing, "inputs": {"stored_data": [vector_id]},
               "output": {"stored_data": {"name": "pyramide", "storage_tags": ["PYRAMIDE"]}},
               "parameters": {"bottom_level": "12", "top_level": "8", "composition": composition}})
    };
    for (composition, expected) in [
        (
            json!([{"table": "routes", "bottom_level": "12", "top_level": "8"}]),
            "tables: communes_idf, ecoles",
        ),
        (
            json!([{"table": "communes_idf", "bottom_level": "12", "top_level": "8", "attributes": ["nope"]}]),
            "no attribute 'nope'",
        ),
        (
            json!([{"table": "communes_idf", "bottom_level": "22", "top_level": "8"}]),
            "not a level of PM",
        ),
    ] {
        let (status, body) = api.post("/processings/executions", &execution(composition));
        assert_eq!(status, 400, "{body}");
        let message = body["error_description"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let created = api.ok(
        api.post(
            "/processings/executions",
            &execution(
                json!([{"table": "communes_idf", "bottom_level": "12", "top_level": "9",
                               "attributes": ["nom_de_la_commune", "population", "wkb_geometry"]}]),
            ),
        ),
        201,
    );
    let execution_id = id(&created);
    api.ok(
        api.post(
            &format!("/processings/executions/{execution_id}/launch"),
            &json!({}),
        ),
        200,
    );
    let done = api.wait(
        &format!("/processings/executions/{execution_id}"),
        &["SUCCESS", "FAILURE"],
    );
    assert_eq!(
        done["status"],
        "SUCCESS",
        "{done}\n{:?}",
        api.get(&format!("/processings/executions/{execution_id}/logs"))
    );
    let pyramid_id = done["output"]["stored_data"]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pyramid = api.ok(api.get(&format!("/stored_data/{pyramid_id}")), 200);
    assert_eq!(pyramid["type"], "ROK4-PYRAMID-VECTOR", "{pyramid}");
    assert_eq!(pyramid["status"], "GENERATED");
    assert_eq!(pyramid["type_infos"]["format"], "TIFF_PBF_MVT");
    // The composition starts at level 9: no level 8 in the pyramid.
    assert_eq!(
        pyramid["type_infos"]["levels"],
        json!(["9", "10", "11", "12"])
    );

    // WMS has no pixels to draw from it; WMTS-TMS publishes it.
    let config = |kind: &str| {
        json!({"type": kind, "name": "pyramide", "layer_name": "communes_pbf",
               "type_infos": {"title": "Communes (tuiles vectorielles)", "used_data": [{"stored_data": pyramid_id, "bottom_level": "12", "top_level": "9"}]}})
    };
    let (status, body) = api.post("/configurations", &config("WMS-RASTER"));
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("ROK4-PYRAMID-RASTER"), "{body}");
    let configuration = api.ok(api.post("/configurations", &config("WMTS-TMS")), 201);
    api.ok(
        api.post(
            &format!("/configurations/{}/offerings", id(&configuration)),
            &json!({"endpoint": "wmts-tms"}),
        ),
        201,
    );
    wait_for_status(&server.url(COMMUNES_PBF), &[], 200);
    let (_, headers, bytes) = get_bytes(&server.url(COMMUNES_PBF), &[]);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.mapbox-vector-tile")
    );
    let layers = mvt::decode(&bytes).unwrap();
    assert_eq!(layers[0].name, "communes_idf");
    let feature = &layers[0].features[0];
    let mut names: Vec<&str> = feature.properties.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["nom_de_la_commune", "population"]);
    let (status, _, tilejson) = get(&server.url("/tms/1.0.0/communes_pbf/metadata.json"));
    assert_eq!(status, 200);
    let tilejson: Value = serde_json::from_str(&tilejson).unwrap();
    assert_eq!(tilejson["vector_layers"][0]["minzoom"], 9);
    assert_eq!(
        tilejson["vector_layers"][0]["fields"]["population"],
        "Number"
    );
    // Outside the data, inside the matrix: no content.
    let (status, _, _) = get_bytes(&server.url("/tms/1.0.0/communes_pbf/10/0/0.pbf"), &[]);
    assert_eq!(status, 204);
    pyramid_id
}

/// A vector tile of the API-published vector pyramid (zoom 10).
const COMMUNES_PBF: &str = "/tms/1.0.0/communes_pbf/10/518/352.pbf";

/// A published layer is seeded through the API: the job runs in the background, its
/// progress is shown, the seeded tiles are then answered without a render; mistakes are named,
/// and another datastore's layer is not found.
#[test]
fn a_published_layer_is_seeded_through_the_api() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    let api = Api::new(&server, data.path());
    let upload = api.upload(
        "VECTOR",
        "EPSG:2154",
        &[("communes.gpkg", &fixture("gpkg/communes_2154.gpkg"))],
    );
    let (_, stored) = api.process("integration-vector-db", &id(&upload), json!({}));
    let sld = std::fs::read_to_string(fixture("wms/communes.sld")).unwrap();
    let style = api.ok(api.style("communes", &sld), 201);
    let config = api.ok(
        api.post(
            "/configurations",
            &wms_vector("communes", &id(&stored), "communes_idf", &id(&style)),
        ),
        201,
    );
    api.ok(
        api.post(
            &format!("/configurations/{}/offerings", id(&config)),
            &json!({"endpoint": "wms-vector", "open": true}),
        ),
        201,
    );
    for (body, status, expected) in [
        (
            json!({"layer": "nowhere", "levels": "10"}),
            404,
            "no published layer 'nowhere'",
        ),
        (
            json!({"layer": "communes", "levels": "10-40"}),
            400,
            "within 0 to 18",
        ),
        (
            json!({"layer": "communes", "levels": "10", "tms": "WorldCRS84Quad"}),
            400,
            "not tiled on 'WorldCRS84Quad'",
        ),
        (
            json!({"layer": "communes", "levels": "10", "format": "gif"}),
            400,
            "use png, png8, jpeg or webp",
        ),
        (
            json!({"layer": "communes", "levels": "10", "style": "fancy"}),
            400,
            "no style 'fancy'",
        ),
        (
            json!({"layer": "communes", "levels": "10", "colour": "red"}),
            400,
            "unknown field `colour`",
        ),
    ] {
        let (got, answer) = api.post("/seeds", &body);
        assert_eq!(got, status, "{body}: {answer}");
        let message = answer["error_description"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let created = api.ok(
        api.post(
            "/seeds",
            &json!({"layer": "communes", "levels": "9-12", "tms": "PM_0_18", "bbox": [2.2, 48.8, 2.5, 48.95]}),
        ),
        201,
    );
    let job = id(&created);
    assert_eq!(created["layer"], "communes");
    assert_eq!(created["levels"], "9-12");
    let done = api.wait(&format!("/seeds/{job}"), &["SUCCESS", "FAILURE"]);
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let total = done["progress"]["total"].as_u64().unwrap();
    assert!(total > 0, "{done}");
    assert_eq!(done["progress"]["done"], total, "{done}");
    assert_eq!(done["rendered"], total, "{done}");
    let listed = api.ok(api.get("/seeds"), 200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The seeded tiles are answered from the cache: no render.
    let renders = || {
        let (_, _, text) = get(&server.url("/metrics"));
        text.lines()
            .find_map(|l| l.strip_prefix("tuilerie_tile_cache_renders_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap()
    };
    let before = renders();
    for (z, row, col) in [(12, 1409, 2074), (11, 704, 1037), (9, 176, 259)] {
        let (status, _, body) = get_bytes(
            &server.url(&format!(
                "/wmts/communes/normal/PM_0_18/{z}/{row}/{col}.png"
            )),
            &[],
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(renders(), before, "seeded tiles are not drawn again");
    // Again: every metatile is kept; an ended job cannot be aborted.
    let again = api.ok(
        api.post(
            "/seeds",
            &json!({"layer": "communes", "levels": "9-12", "bbox": [2.2, 48.8, 2.5, 48.95]}),
        ),
        201,
    );
    let again = api.wait(&format!("/seeds/{}", id(&again)), &["SUCCESS", "FAILURE"]);
    assert_eq!(again["rendered"], 0, "{again}");
    assert_eq!(again["progress"]["done"], total, "{again}");
    assert_eq!(api.delete(&format!("/seeds/{job}")), 409);
    assert_eq!(api.delete("/seeds/nope"), 404);
}

/// A restricted offering never leaks: over every endpoint that names layers, without a key,
/// with a wrong key and with another offering's key, the layer's name appears in no answer and
/// every data request is refused (401 / 403); the granted key gets the data, privately.
#[test]
fn a_restricted_offering_leaks_through_no_endpoint() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data", data.path().to_str().unwrap()]);
    let api = Api::new(&server, data.path());
    let upload = api.upload(
        "VECTOR",
        "EPSG:2154",
        &[("communes.gpkg", &fixture("gpkg/communes_2154.gpkg"))],
    );
    let (_, stored) = api.process("integration-vector-db", &id(&upload), json!({}));
    let sld = std::fs::read_to_string(fixture("wms/communes.sld")).unwrap();
    let style = api.ok(api.style("communes", &sld), 201);
    // The secret layer, and an open one beside it (whose key is "another offering's key").
    let mut offerings = Vec::new();
    for (name, open) in [("secretlayer", false), ("openlayer", true)] {
        let config = api.ok(
            api.post(
                "/configurations",
                &wms_vector(name, &id(&stored), "communes_idf", &id(&style)),
            ),
            201,
        );
        let offering = api.ok(
            api.post(
                &format!("/configurations/{}/offerings", id(&config)),
                &json!({"endpoint": "wms-vector", "open": open}),
            ),
            201,
        );
        offerings.push(id(&offering));
    }
    let key_for = |offering: &str| {
        let permission = api.ok(
            api.post(
                "/permissions",
                &json!({"licence": "test", "offerings": [offering]}),
            ),
            201,
        );
        let (status, key) = api.send(
            "POST",
            "/api/users/me/keys",
            "application/json",
            serde_json::to_vec(&json!({"name": offering, "accesses": [{"permission": id(&permission), "offerings": []}]})).unwrap(),
        );
        assert_eq!(status, 201, "{key}");
        key["key"].as_str().unwrap().to_owned()
    };
    let granted = key_for(&offerings[0]);
    let other = key_for(&offerings[1]);
    wait_for_status(
        &server.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"),
        &[],
        200,
    );

    let secret = "secretlayer";
    let data_requests = [
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=secretlayer&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,670000,6880000&WIDTH=64&HEIGHT=64&FORMAT=image/png",
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=openlayer,secretlayer&STYLES=,&CRS=EPSG:2154&BBOX=640000,6850000,670000,6880000&WIDTH=64&HEIGHT=64&FORMAT=image/png",
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=secretlayer&QUERY_LAYERS=secretlayer&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,670000,6880000&WIDTH=64&HEIGHT=64&I=32&J=32&INFO_FORMAT=application/json",
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&LAYER=secretlayer&FORMAT=image/png",
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=secretlayer&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM_0_18&TILEMATRIX=12&TILEROW=1409&TILECOL=2074",
        "/wmts/secretlayer/normal/PM_0_18/12/1409/2074.png",
        "/wmts/secretlayer/normal/PM_0_18@2x/12/1409/2074.png",
        "/wmts/secretlayer/normal/LAMB93_0_18/12/786/99.png",
        "/wmts/secretlayer/normal/PM_0_18/10/352/518.pbf",
        "/tms/1.0.0/secretlayer",
        "/tms/1.0.0/secretlayer/10/518/352.pbf",
        "/tms/1.0.0/secretlayer/12/2074/1409.png",
        "/tms/1.0.0/secretlayer/12/2074/1409@2x.png",
        "/tms/1.0.0/secretlayer/metadata.json",
        "/tms/1.0.0/secretlayer/metadata.json?format=png&scale=2",
        "/tms/1.0.0/secretlayer/style.json",
        "/ogcapi/collections/secretlayer",
        "/ogcapi/collections/secretlayer/styles",
        "/ogcapi/collections/secretlayer/map?width=64",
        "/ogcapi/collections/secretlayer/styles/departements/map?width=64",
        "/ogcapi/map?collections=secretlayer&width=64",
        "/ogcapi/map?collections=openlayer,secretlayer&width=64",
        "/ogcapi/collections/secretlayer/map/tiles",
        "/ogcapi/collections/secretlayer/map/tiles/WebMercatorQuad",
        "/ogcapi/collections/secretlayer/map/tiles/WebMercatorQuad/12/1409/2074",
        "/ogcapi/collections/secretlayer/map/tiles/LAMB93/12/786/99?f=png",
        "/ogcapi/collections/secretlayer/tiles/WebMercatorQuad",
        "/ogcapi/collections/secretlayer/tiles/WebMercatorQuad/10/352/518",
        "/ogcapi/map/tiles/WebMercatorQuad/12/1409/2074?collections=secretlayer",
        "/ogcapi/map/tiles/WebMercatorQuad?collections=openlayer,secretlayer",
    ];
    let listings = [
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities",
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1",
        "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities",
        "/wmts/1.0.0/WMTSCapabilities.xml",
        "/tms/1.0.0",
        "/ogcapi/collections",
        "/ogcapi/api",
        "/ogcapi/tileMatrixSets",
        "/",
        "/preview.js",
        "/metrics",
        "/health",
    ];
    let with_key = |path: &str, key: Option<&str>| {
        let headers: Vec<(&str, &str)> = key.map(|k| ("X-Api-Key", k)).into_iter().collect();
        get_bytes(&server.url(path), &headers)
    };
    for (who, key, refused) in [
        ("anonymous", None, 401),
        ("a wrong key", Some("not-a-key"), 401),
        ("another offering's key", Some(other.as_str()), 403),
    ] {
        for path in data_requests {
            let (status, _, body) = with_key(path, key);
            assert_eq!(
                status,
                refused,
                "{who}: {path}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        for path in listings {
            let (status, _, body) = with_key(path, key);
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains(secret),
                "{who}: {path} names the layer ({status})"
            );
        }
    }
    // The listings do list (the open layer): the checks above could fail.
    for path in &listings[..5] {
        let (status, _, body) = with_key(path, None);
        assert_eq!(status, 200, "{path}");
        assert!(
            String::from_utf8_lossy(&body).contains("openlayer"),
            "{path}"
        );
    }
    // The granted key: the data, never shared by a cache.
    for path in data_requests {
        let (status, headers, body) = with_key(path, Some(&granted));
        assert!(
            status == 200 || status == 204,
            "granted: {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let cache_control = header(&headers, "cache-control").unwrap_or("private");
        assert!(
            cache_control.starts_with("private") || cache_control.contains("no-store"),
            "granted: {path}: Cache-Control {cache_control}"
        );
    }
    let (_, _, capabilities) = get(&server.url(&format!(
        "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&apikey={granted}"
    )));
    assert!(capabilities.contains(secret));
}

/// Restyles cut by SIGKILL at random moments (the configuration's PUT in flight, maps and tiles
/// being drawn and cached): after each restart the layer is whole in one style, the one the
/// catalog names, which maps and rendered tiles both show (never the other), and the tile cache
/// holds no temporary file.
#[test]
fn restyles_killed_at_random_moments_leave_one_style_served_everywhere() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let red = [0xE4, 0x1A, 0x1C, 255];
    let blue = [0, 0, 255, 255];
    let (config_id, stored_id, red_style, blue_style) = {
        let server = Server::start(&["--data", &data_arg]);
        let api = Api::new(&server, data.path());
        let communes = api.publish_red_blue_communes(
            &fixture("gpkg/communes_2154.gpkg"),
            &fixture("wms/communes.sld"),
        );
        (
            communes.config,
            communes.stored,
            communes.red_style,
            communes.blue_style,
        )
    };
    let has = |png: &[u8], colour: [u8; 4]| {
        image::load_from_memory(png)
            .unwrap()
            .to_rgba8()
            .pixels()
            .any(|p| p.0 == colour)
    };
    let mut seed: u64 = 0x0dd_ba11;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut changed = 0;
    let mut previous = red_style.clone();
    for round in 0..20 {
        let server = Server::start(&["--data", &data_arg]);
        let api = Api::new(&server, data.path());
        // Whole in one style: the catalog's, in maps and in rendered tiles.
        let config = api.ok(api.get(&format!("/configurations/{config_id}")), 200);
        let named = config["type_infos"]["used_data"][0]["relations"][0]["style"]
            .as_str()
            .unwrap()
            .to_owned();
        let (shown, hidden) = if named == red_style {
            (red, blue)
        } else {
            (blue, red)
        };
        for path in [COMMUNES_MAP, COMMUNES_PNG_TILE] {
            let (status, _, body) = get_bytes(&server.url(path), &[]);
            assert_eq!(status, 200, "round {round}: {path}");
            assert!(
                has(&body, shown) && !has(&body, hidden),
                "round {round}: {path} is not drawn in the style the catalog names ({named})"
            );
        }
        if named != previous {
            changed += 1;
        }
        previous = named.clone();
        // Restyle to the other one, and kill the server while it may be at it.
        let target = if named == red_style {
            &blue_style
        } else {
            &red_style
        };
        let body = wms_vector("communes", &stored_id, "communes_idf", target).to_string();
        let url = server.url(&format!("{DS}/configurations/{config_id}"));
        let auth = format!("Bearer {}", api.token);
        let wait = Duration::from_millis(next(40));
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _ = agent()
                    .put(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .send(body.as_bytes());
            });
            // Tiles of metatiles not drawn yet being rendered and cached at the same time.
            let row = 5604 + 4 * round;
            let server = &server;
            scope.spawn(move || {
                for col in 8290..8298 {
                    let tile = format!("/wmts/communes/normal/PM/14/{row}/{col}.png");
                    let _ = agent().get(&server.url(&tile)).call();
                }
            });
            std::thread::sleep(wait);
            server.sigkill();
        });
    }
    eprintln!("{changed} of 20 restyles went through before their kill");
    assert!(
        changed >= 5,
        "only {changed} restyles went through: the kills came too early"
    );
    let temporaries = || {
        let mut found = Vec::new();
        let mut stack = vec![data.path().join("tile-cache")];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                } else if entry.file_name().to_string_lossy().ends_with(".tmp") {
                    found.push(entry.path());
                }
            }
        }
        found
    };
    eprintln!("{} slab temporaries left by the kills", temporaries().len());
    // Slab temporaries of killed writes are litter once their process is gone (and 2 s old):
    // the tile cache's sweep, on its first tile, removes them.
    std::thread::sleep(Duration::from_millis(2500));
    let server = Server::start(&["--data", &data_arg]);
    let (status, _, _) = get_bytes(&server.url(COMMUNES_PNG_TILE), &[]);
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !temporaries().is_empty() {
        assert!(Instant::now() < deadline, "left: {:?}", temporaries());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Chaos: twenty publication jobs (vector integrations and raster pyramids), each server
/// SIGKILLed at a pseudo-random moment after the launch, then restarted on the same data
/// directory: every job ends SUCCESS or FAILURE with a log, what is GENERATED is whole (all
/// its features, a pyramid that reads), nothing half-published is served, and no staging
/// folder is left behind.
#[test]
fn jobs_killed_at_random_moments_end_whole_or_failed_with_nothing_left_half_done() {
    let data = tempfile::tempdir().unwrap();
    let data_arg = data.path().to_str().unwrap().to_owned();
    let points = data.path().join("points.gpkg");
    write_points_gpkg(&points, 30_000);
    let raster = fixture("rasters/rgb_4326.tif");
    // A fixed seed: the same kill moments on every run.
    let mut seed: u64 = 0x5eed_cafe;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut jobs: Vec<(String, String, bool)> = Vec::new();
    let mut interrupted = 0;
    for round in 0..20 {
        let server = Server::start(&["--data", &data_arg]);
        let api = Api::new(&server, data.path());
        let vector = round % 2 == 0;
        let (upload, processing, parameters) = if vector {
            (
                api.upload("VECTOR", "EPSG:2154", &[("points.gpkg", &points)]),
                "integration-vector-db",
                json!({}),
            )
        } else {
            (
                api.upload("RASTER", "EPSG:4326", &[("rgb.tif", &raster)]),
                "generation-pyramid-raster",
                json!({"tms": "PM", "bottom_level": "12", "top_level": "8", "compression": "png", "interpolation": "nearest"}),
            )
        };
        if upload["status"] != "CLOSED" {
            // Killed before the upload's checks ended in an earlier round: not this one.
            continue;
        }
        let execution = api.ok(
            api.post(
                "/processings/executions",
                &json!({"processing": processing, "inputs": {"upload": [id(&upload)]}, "output": {"stored_data": {"name": format!("round{round}")}}, "parameters": parameters}),
            ),
            201,
        );
        let execution_id = id(&execution);
        let stored_id = execution["output"]["stored_data"]["_id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.ok(
            api.post(
                &format!("/processings/executions/{execution_id}/launch"),
                &json!({}),
            ),
            200,
        );
        std::thread::sleep(Duration::from_millis(next(400)));
        let state = api.ok(
            api.get(&format!("/processings/executions/{execution_id}")),
            200,
        );
        if state["status"] != "SUCCESS" && state["status"] != "FAILURE" {
            interrupted += 1;
        }
        jobs.push((execution_id, stored_id, vector));
        // `server` is dropped here: SIGKILL.
    }
    assert!(jobs.len() >= 18, "only {} jobs were launched", jobs.len());
    // Most kills must land inside a job, or this test proves nothing.
    assert!(
        interrupted >= 5,
        "only {interrupted} jobs were running when killed"
    );
    let server = Server::start(&["--data", &data_arg]);
    let api = Api::new(&server, data.path());
    let mut ended = std::collections::BTreeMap::new();
    for (execution_id, stored_id, vector) in &jobs {
        let execution = api.wait(
            &format!("/processings/executions/{execution_id}"),
            &["SUCCESS", "FAILURE", "ABORTED"],
        );
        let status = execution["status"].as_str().unwrap().to_owned();
        assert!(
            status == "SUCCESS" || status == "FAILURE",
            "{execution_id} ended {status}"
        );
        let logs = api.ok(
            api.get(&format!("/processings/executions/{execution_id}/logs")),
            200,
        );
        assert!(
            !logs.as_array().unwrap().is_empty(),
            "{execution_id} ended {status} without a log"
        );
        let stored = api.ok(api.get(&format!("/stored_data/{stored_id}")), 200);
        if status == "SUCCESS" {
            assert_eq!(stored["status"], "GENERATED", "{stored:#}");
            if *vector {
                assert_eq!(stored["type_infos"]["relations"][0]["features"], 30_000);
            } else {
                assert_eq!(stored["type"], "ROK4-PYRAMID-RASTER");
            }
        } else {
            assert_ne!(stored["status"], "GENERATED", "{stored:#}");
        }
        *ended.entry(status).or_insert(0) += 1;
    }
    println!(
        "{} jobs killed at random moments ({interrupted} while running) ended: {ended:?}",
        jobs.len()
    );
    // No staging folder is left, in the stored data or the uploads.
    let mut leftovers = Vec::new();
    let mut stack = vec![data.path().to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if extension.eq_ignore_ascii_case("partial") || extension.eq_ignore_ascii_case("tmp") {
                leftovers.push(path.display().to_string());
            } else if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    let (status, _, _) = get(&server.url("/health"));
    assert_eq!(status, 200);
}
