//! OGC API – Tiles and Maps over every layer, spoken to over HTTP by the real server: the
//! common resources tell the truth (each conformance class is exercised here or in wfs.rs);
//! OGC API tiles equal the WMTS tiles of the same set, level, row and column byte for byte
//! (image pyramids, elevation TIFFs, vector layers' rendered images and vector tiles, styled
//! rasters), with the same caching headers; OGC API maps equal WMS GetMap of the same request;
//! errors are problem details naming the parameter; GDAL, OWSLib and openapi-spec-validator
//! read the API.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, get_bytes, header, write_test_pyramids, Server};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A vector layer with one style (`communes`, also WFS), one with two (`countries`), a float
/// pyramid with an SLD style (`dem`) and an image pyramid (`ortho`); the tile cache also on
/// Lambert-93.
fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    write_test_pyramids(dir.path());
    let fixtures = repo().join("fixtures");
    let config = format!(
        r#"
[data]
dir = "{data}"

[tile_cache]
sets = ["PM", "LAMB93"]

[[layers]]
name = "communes"
title = "Communes"
kind = "vector"
source = "{gpkg}/communes_2154.gpkg"
table = "Communes-IDF"
style = "{wms}/communes.sld"
wfs = true

[[layers]]
name = "countries"
kind = "vector"
source = "{gpkg}/world.gpkg"
table = "countries"
style = "{wms}/countries.sld"

[[layers]]
name = "dem"
title = "Elevation"
kind = "pyramid"
pyramid = "{dir}/dem/pyramid.json"
style = "{wms}/dem.sld"
interpolation = "nearest"

[[layers]]
name = "ortho"
title = "Ortho"
kind = "pyramid"
pyramid = "{dir}/ortho/pyramid.json"
"#,
        data = dir.path().join("data").display(),
        dir = dir.path().display(),
        gpkg = fixtures.join("gpkg").display(),
        wms = fixtures.join("wms").display(),
    );
    let path = dir.path().join("tuilerie.toml");
    std::fs::write(&path, config).unwrap();
    let server = Server::start(&["--config", path.to_str().unwrap()]);
    (dir, server)
}

fn json(server: &Server, path: &str) -> Value {
    let (status, _, body) = get(&server.url(path));
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The hrefs of a document's links with relation `rel`.
fn hrefs(document: &Value, rel: &str) -> Vec<String> {
    document["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == rel)
        .map(|l| l["href"].as_str().unwrap().to_owned())
        .collect()
}

const MAP_TILESETS: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map";
const VECTOR_TILESETS: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";
const COVERAGE_TILESETS: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-coverage";
const MAP: &str = "http://www.opengis.net/def/rel/ogc/1.0/map";

/// The conformance classes, and where each is exercised.
const CLASSES: &[&str] = &[
    // Common: this file (landing, collections, JSON, HTML, the OpenAPI document).
    "ogcapi-common-1/1.0/conf/core",
    "ogcapi-common-1/1.0/conf/landing-page",
    "ogcapi-common-1/1.0/conf/json",
    "ogcapi-common-1/1.0/conf/html",
    "ogcapi-common-1/1.0/conf/oas30",
    "ogcapi-common-2/1.0/conf/collections",
    // Features: wfs.rs (OGC API – Features tests, OWSLib and GDAL's OAPIF driver).
    "ogcapi-features-1/1.0/conf/core",
    "ogcapi-features-1/1.0/conf/geojson",
    "ogcapi-features-1/1.0/conf/html",
    "ogcapi-features-1/1.0/conf/oas30",
    "ogcapi-features-2/1.0/conf/crs",
    "ogcapi-features-3/1.0/conf/queryables",
    "ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "ogcapi-features-3/1.0/conf/filter",
    "ogcapi-features-3/1.0/conf/features-filter",
    "cql2/1.0/conf/cql2-text",
    "cql2/1.0/conf/cql2-json",
    "cql2/1.0/conf/basic-cql2",
    "cql2/1.0/conf/advanced-comparison-operators",
    "cql2/1.0/conf/case-insensitive-comparison",
    "cql2/1.0/conf/basic-spatial-functions",
    "cql2/1.0/conf/basic-spatial-functions-plus",
    "cql2/1.0/conf/spatial-functions",
    // Tiles: tiles_equal_the_wmts_tiles_byte_for_byte (png: ortho and communes; jpeg:
    // communes; tiff: dem; mvt: communes), tilesets_and_tile_matrix_sets_describe_the_tiles,
    // dataset_tiles_draw_the_selected_collections (dataset tilesets, collections selection).
    "ogcapi-tiles-1/1.0/conf/core",
    "ogcapi-tiles-1/1.0/conf/tileset",
    "ogcapi-tiles-1/1.0/conf/tilesets-list",
    "ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "ogcapi-tiles-1/1.0/conf/collections-selection",
    "ogcapi-tiles-1/1.0/conf/oas30",
    "ogcapi-tiles-1/1.0/conf/png",
    "ogcapi-tiles-1/1.0/conf/jpeg",
    "ogcapi-tiles-1/1.0/conf/tiff",
    "ogcapi-tiles-1/1.0/conf/mvt",
    "tms/2.0/conf/tilematrixset",
    "tms/2.0/conf/json-tilematrixset",
    "tms/2.0/conf/tilematrixsetlimits",
    "tms/2.0/conf/json-tilematrixsetlimits",
    "tms/2.0/conf/tilesetmetadata",
    "tms/2.0/conf/json-tilesetmetadata",
    // Maps: maps_equal_wms_getmap (crs, subsetting, scaling, background, collection, dataset
    // and styled maps, PNG and JPEG).
    "ogcapi-maps-1/1.0/conf/core",
    "ogcapi-maps-1/1.0/conf/crs",
    "ogcapi-maps-1/1.0/conf/spatial-subsetting",
    "ogcapi-maps-1/1.0/conf/scaling",
    "ogcapi-maps-1/1.0/conf/background",
    "ogcapi-maps-1/1.0/conf/collection-map",
    "ogcapi-maps-1/1.0/conf/dataset-map",
    "ogcapi-maps-1/1.0/conf/styled-map",
    "ogcapi-maps-1/1.0/conf/png",
    "ogcapi-maps-1/1.0/conf/jpeg",
];

#[test]
fn the_landing_page_conformance_and_collections_tell_the_truth() {
    let (dir, server) = start();
    let landing = json(&server, "/ogcapi");
    for rel in [
        "service-desc",
        "conformance",
        "data",
        "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
        MAP,
    ] {
        assert_eq!(hrefs(&landing, rel).len(), 1, "{rel}: {landing}");
    }
    // Exactly the classes above: a class added without a test here fails.
    let conformance = json(&server, "/ogcapi/conformance");
    let listed: Vec<String> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_str()
                .unwrap()
                .trim_start_matches("http://www.opengis.net/spec/")
                .to_owned()
        })
        .collect();
    assert_eq!(listed, CLASSES, "{conformance}");

    let collections = json(&server, "/ogcapi/collections");
    let all = collections["collections"].as_array().unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["communes", "countries", "dem", "ortho"]);
    let by_id = |id: &str| all.iter().find(|c| c["id"] == id).unwrap();
    // Each collection links to what it has, and only that.
    let kinds = |id: &str| {
        let c = by_id(id);
        [
            "items",
            MAP_TILESETS,
            VECTOR_TILESETS,
            COVERAGE_TILESETS,
            MAP,
        ]
        .iter()
        .map(|rel| !hrefs(c, rel).is_empty())
        .collect::<Vec<bool>>()
    };
    assert_eq!(kinds("communes"), [true, true, true, false, true]);
    assert_eq!(kinds("countries"), [false, true, true, false, true]);
    assert_eq!(kinds("dem"), [false, false, false, true, true]);
    assert_eq!(kinds("ortho"), [false, true, false, false, true]);
    assert_eq!(by_id("communes")["itemType"], "feature");
    assert_eq!(by_id("dem")["itemType"], "coverage");
    // The dem's SLD style has a map and map tiles.
    let dem_styles = by_id("dem")["styles"].as_array().unwrap();
    assert_eq!(dem_styles.len(), 1);
    assert_eq!(dem_styles[0]["id"], "hypsometric");
    assert!(hrefs(&dem_styles[0], MAP_TILESETS)[0].ends_with("/styles/hypsometric/map/tiles"));
    let countries_styles: Vec<&str> = by_id("countries")["styles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(countries_styles, ["default", "outline"]);
    // Extent in CRS84, one box (GDAL needs exactly one).
    let bbox = by_id("ortho")["extent"]["spatial"]["bbox"]
        .as_array()
        .unwrap();
    assert_eq!(bbox.len(), 1);
    let crs = by_id("communes")["crs"].as_array().unwrap();
    assert_eq!(crs[0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    assert!(crs.contains(&Value::from("http://www.opengis.net/def/crs/EPSG/0/3857")));
    // One collection; HTML by f=html and by Accept.
    let one = json(&server, "/ogcapi/collections/ortho");
    assert_eq!(&one, by_id("ortho"));
    let (status, headers, page) = get(&server.url("/ogcapi/collections?f=html"));
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.contains("/ogcapi/collections/ortho/map/tiles"),
        "{page}"
    );
    let (_, headers, _) = get_bytes(
        &server.url("/ogcapi/tileMatrixSets"),
        &[("Accept", "text/html")],
    );
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("text/html"));
    // Unknown: a problem, 404.
    let (status, headers, body) = get(&server.url("/ogcapi/collections/nope"));
    assert_eq!(status, 404);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/problem+json")
    );
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 404);
    assert!(problem["detail"].as_str().unwrap().contains("nope"));

    // The API definition validates.
    let validator = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if validator {
        let (status, headers, api) = get(&server.url("/ogcapi/api"));
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/vnd.oai.openapi+json;version=3.0")
        );
        for path in [
            "/collections/ortho/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            "/collections/communes/tiles/{tileMatrixSetId}",
            "/collections/dem/coverage/tiles",
            "/collections/dem/styles/{styleId}/map/tiles/{tileMatrixSetId}",
            "/collections/countries/styles/{styleId}/map",
            "/map",
            "/collections/communes/items",
        ] {
            assert!(api.contains(&format!("\"{path}\"")), "{path} not in /api");
        }
        let path = dir.path().join("api.json");
        std::fs::write(&path, api).unwrap();
        common::run_python_ok(&format!(
            "import json\nfrom openapi_spec_validator import validate\nvalidate(json.load(open({:?})))\nprint('ok')\n",
            path.display().to_string()
        ));
    } else {
        eprintln!("skipped the OpenAPI check: openapi-spec-validator is not installed");
    }
}

#[test]
fn tilesets_and_tile_matrix_sets_describe_the_tiles() {
    let (_dir, server) = start();
    // The ortho pyramid has levels 2 and 3 of PM: its set is that subset, as in WMTS.
    let list = json(&server, "/ogcapi/collections/ortho/map/tiles");
    let tilesets = list["tilesets"].as_array().unwrap();
    assert_eq!(tilesets.len(), 1);
    assert_eq!(tilesets[0]["dataType"], "map");
    let tileset_url = hrefs(&tilesets[0], "self")[0].clone();
    assert!(tileset_url.ends_with("/ogcapi/collections/ortho/map/tiles/PM_2_3"));
    let tileset = json(&server, tileset_url.trim_start_matches(&server.base));
    assert_eq!(tileset["crs"], "http://www.opengis.net/def/crs/EPSG/0/3857");
    let limits = tileset["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(
        limits[1],
        serde_json::json!({"tileMatrix": "3", "minTileRow": 2, "maxTileRow": 3, "minTileCol": 3, "maxTileCol": 4})
    );
    let items: Vec<&Value> = tileset["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "item")
        .collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "image/png");
    assert_eq!(items[0]["templated"], true);
    assert!(items[0]["href"]
        .as_str()
        .unwrap()
        .ends_with("/PM_2_3/{tileMatrix}/{tileRow}/{tileCol}?f=png"));
    // Its tiling scheme: the two matrices, in both encodings (2.0, and 1.0 for GDAL 3.6).
    let scheme = &hrefs(
        &tileset,
        "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
    )[0];
    let set = json(&server, scheme.trim_start_matches(&server.base));
    assert_eq!(set["id"], "PM_2_3");
    assert_eq!(set["identifier"], "PM_2_3");
    assert_eq!(set["crs"], "http://www.opengis.net/def/crs/EPSG/0/3857");
    assert_eq!(set["supportedCRS"], set["crs"]);
    let matrices = set["tileMatrices"].as_array().unwrap();
    let ids: Vec<&str> = matrices.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["2", "3"]);
    let origin = matrices[0]["pointOfOrigin"].as_array().unwrap();
    assert!((origin[0].as_f64().unwrap() + 20_037_508.342_789).abs() < 1e-3);
    assert_eq!(matrices[0]["pointOfOrigin"], matrices[0]["topLeftCorner"]);
    assert_eq!(matrices[1]["matrixWidth"], 8);

    // A vector layer: rendered images on WebMercatorQuad (levels from 0: the registered set,
    // limited) and on Lambert-93; its vector tiles on WebMercatorQuad.
    let maps = json(&server, "/ogcapi/collections/communes/map/tiles");
    let ids: Vec<&str> = maps["tilesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["links"][0]["href"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, ["WebMercatorQuad", "LAMB93"]);
    let quad = json(
        &server,
        "/ogcapi/collections/communes/map/tiles/WebMercatorQuad",
    );
    assert_eq!(
        quad["tileMatrixSetURI"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    let formats: Vec<&str> = quad["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "item")
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["image/png", "image/jpeg"]);
    let limits = quad["tileMatrixSetLimits"].as_array().unwrap();
    assert_eq!(limits[0]["tileMatrix"], "0");
    let vector = json(
        &server,
        "/ogcapi/collections/communes/tiles/WebMercatorQuad",
    );
    assert_eq!(vector["dataType"], "vector");
    assert_eq!(vector["layers"][0]["id"], "communes");
    let quad_set = json(&server, "/ogcapi/tileMatrixSets/WebMercatorQuad");
    assert_eq!(
        quad_set["uri"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    assert_eq!(
        json(&server, "/ogcapi/tileMatrixSets/PM")["id"],
        "WebMercatorQuad"
    );
    // The list: registered sets, and the subsets layers link to.
    let sets = json(&server, "/ogcapi/tileMatrixSets");
    let ids: Vec<&str> = sets["tileMatrixSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in ["WebMercatorQuad", "WorldCRS84Quad", "LAMB93", "PM_2_3"] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    assert!(!ids.contains(&"PM"), "{ids:?}");
    // A collection without tiles of a kind: 404 naming what exists.
    let (status, _, body) = get(&server.url("/ogcapi/collections/ortho/tiles"));
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = get(&server.url("/ogcapi/collections/ortho/map/tiles/LAMB93"));
    assert_eq!(status, 404);
    assert!(body.contains("PM_2_3"), "{body}");
}

/// (OGC API tileset path, WMTS path up to the set, format, level, rows, columns).
type TileBlock = (
    &'static str,
    &'static str,
    &'static str,
    u32,
    (u32, u32),
    (u32, u32),
);

fn tile(server: &Server, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    get_bytes(&server.url(path), &[])
}

#[test]
fn tiles_equal_the_wmts_tiles_byte_for_byte() {
    let (_dir, server) = start();
    // (OGC API tile path prefix, WMTS path prefix, extension), over a block of tiles.
    let cases: &[TileBlock] = &[
        // An image pyramid, as stored.
        (
            "/ogcapi/collections/ortho/map/tiles/PM_2_3",
            "/wmts/ortho/normal/PM_2_3",
            "png",
            3,
            (2, 3),
            (3, 4),
        ),
        // An elevation pyramid's float32 TIFF (the set named as the registry names it).
        (
            "/ogcapi/collections/dem/coverage/tiles/PM_2_3",
            "/wmts/dem/normal/PM_2_3",
            "tiff",
            3,
            (2, 2),
            (3, 4),
        ),
        // The same elevation drawn with its SLD style.
        (
            "/ogcapi/collections/dem/styles/hypsometric/map/tiles/PM_2_3",
            "/wmts/dem/hypsometric/PM_2_3",
            "png",
            3,
            (2, 3),
            (3, 4),
        ),
        // A vector layer's rendered images, PNG and JPEG, and its vector tiles.
        (
            "/ogcapi/collections/communes/map/tiles/WebMercatorQuad",
            "/wmts/communes/normal/PM",
            "png",
            12,
            (1409, 1410),
            (2073, 2074),
        ),
        (
            "/ogcapi/collections/communes/map/tiles/WebMercatorQuad",
            "/wmts/communes/normal/PM",
            "jpeg",
            12,
            (1409, 1410),
            (2073, 2074),
        ),
        (
            "/ogcapi/collections/communes/tiles/WebMercatorQuad",
            "/wmts/communes/normal/PM",
            "mvt",
            12,
            (1409, 1410),
            (2073, 2074),
        ),
        // Another style of a vector layer.
        (
            "/ogcapi/collections/countries/styles/outline/map/tiles/WebMercatorQuad",
            "/wmts/countries/outline/PM",
            "png",
            2,
            (1, 2),
            (1, 2),
        ),
    ];
    // Lambert-93 images of a Lambert-93 layer, where its data is.
    let lambert = json(&server, "/ogcapi/collections/communes/map/tiles/LAMB93");
    let at_10 = lambert["tileMatrixSetLimits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["tileMatrix"] == "10")
        .unwrap()
        .clone();
    let limit = |name: &str| u32::try_from(at_10[name].as_u64().unwrap()).unwrap();
    let mut cases = cases.to_vec();
    cases.push((
        "/ogcapi/collections/communes/map/tiles/LAMB93",
        "/wmts/communes/normal/LAMB93",
        "png",
        10,
        (limit("minTileRow"), limit("maxTileRow")),
        (limit("minTileCol"), limit("maxTileCol")),
    ));
    for (ogc, wmts, f, level, (row0, row1), (col0, col1)) in &cases {
        let extension = if *f == "mvt" { "pbf" } else { f };
        let mut drawn = 0;
        for row in *row0..=*row1 {
            for col in *col0..=*col1 {
                let ogc_path = format!("{ogc}/{level}/{row}/{col}?f={f}");
                let (status, headers, ours) = tile(&server, &ogc_path);
                let (wmts_status, wmts_headers, theirs) =
                    tile(&server, &format!("{wmts}/{level}/{row}/{col}.{extension}"));
                assert_eq!(status, wmts_status, "{ogc_path}");
                assert_eq!(ours, theirs, "{ogc_path} differs from WMTS");
                for name in ["content-type", "etag", "cache-control", "last-modified"] {
                    assert_eq!(
                        header(&headers, name),
                        header(&wmts_headers, name),
                        "{name} of {ogc_path}"
                    );
                }
                if status == 200 {
                    drawn += 1;
                    // The ETag answers 304.
                    let etag = header(&headers, "etag").unwrap().to_owned();
                    let (status, _, body) =
                        get_bytes(&server.url(&ogc_path), &[("If-None-Match", &etag)]);
                    assert_eq!(status, 304, "{ogc_path}");
                    assert!(body.is_empty());
                }
            }
        }
        assert!(drawn > 0, "no tile of {ogc}");
    }
    // The format by Accept when f is not given; the first offered by default.
    let path = "/ogcapi/collections/communes/map/tiles/WebMercatorQuad/12/1409/2073";
    let (_, headers, _) = get_bytes(&server.url(path), &[("Accept", "image/jpeg")]);
    assert_eq!(header(&headers, "content-type"), Some("image/jpeg"));
    let (_, headers, _) = tile(&server, path);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    // Mistakes: problems naming what to send.
    for (path, status, words) in [
        (
            "/ogcapi/collections/ortho/map/tiles/PM_2_3/3/2/3?f=webp",
            400,
            "f=png",
        ),
        (
            "/ogcapi/collections/ortho/map/tiles/PM_2_3/3/9/3",
            404,
            "rows 0 to 7",
        ),
        (
            "/ogcapi/collections/ortho/map/tiles/PM_2_3/5/2/3",
            404,
            "2 to 3",
        ),
        (
            "/ogcapi/collections/ortho/map/tiles/PM_2_3/3/x/3",
            400,
            "tileRow",
        ),
        (
            "/ogcapi/collections/communes/styles/fancy/map/tiles/WebMercatorQuad/2/1/1",
            404,
            "fancy",
        ),
        (
            "/ogcapi/collections/communes/map/tiles/WorldCRS84Quad/2/1/1",
            404,
            "WebMercatorQuad or LAMB93",
        ),
    ] {
        let (got, headers, body) = get(&server.url(path));
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(body.contains(words), "{path}: {body}");
    }
}

#[test]
fn dataset_tiles_draw_the_selected_collections() {
    let (_dir, server) = start();
    let list = json(&server, "/ogcapi/map/tiles?collections=communes");
    let ids: Vec<String> = list["tilesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| hrefs(t, "self")[0].clone())
        .collect();
    assert!(
        ids[0].contains("/ogcapi/map/tiles/WebMercatorQuad?f=json&collections=communes"),
        "{ids:?}"
    );
    let tileset = json(
        &server,
        "/ogcapi/map/tiles/WebMercatorQuad?collections=communes",
    );
    let item = hrefs(&tileset, "item")[0].clone();
    assert!(
        item.ends_with("/{tileMatrix}/{tileRow}/{tileCol}?f=png&collections=communes"),
        "{item}"
    );
    let limits = tileset["tileMatrixSetLimits"].as_array().unwrap();
    let at_12 = limits.iter().find(|l| l["tileMatrix"] == "12").unwrap();
    let (row, col) = (
        at_12["minTileRow"].as_u64().unwrap(),
        at_12["minTileCol"].as_u64().unwrap(),
    );
    // A tile of one collection: the WMS map of the tile's box and size.
    let (status, headers, ours) = get_bytes(
        &server.url(&format!(
            "/ogcapi/map/tiles/WebMercatorQuad/12/{row}/{col}?collections=communes"
        )),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let span = 2.0 * 20_037_508.342_789_244 / 4096.0;
    let (x0, y1) = (
        -20_037_508.342_789_244 + col as f64 * span,
        20_037_508.342_789_244 - row as f64 * span,
    );
    let (_, _, theirs) = get_bytes(
        &server.url(&format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=communes&STYLES=&CRS=EPSG:3857&BBOX={x0},{},{},{y1}&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE",
            y1 - span,
            x0 + span
        )),
        &[],
    );
    let (a, b) = (rgba(&ours), rgba(&theirs));
    assert_eq!(a.dimensions(), (256, 256));
    assert!(
        max_difference(&a, &b) <= 1,
        "differs from WMS by {}",
        max_difference(&a, &b)
    );
    assert!(a.pixels().any(|p| p[3] > 0));
    // Two collections: the raster under the vectors; JPEG too.
    let (status, headers, _) = get_bytes(
        &server.url("/ogcapi/map/tiles/WebMercatorQuad/3/2/4?collections=ortho,communes&f=jpeg"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/jpeg"));
    for (path, status) in [
        (
            "/ogcapi/map/tiles/WebMercatorQuad/3/2/4?collections=nope",
            400,
        ),
        ("/ogcapi/map/tiles/WorldCRS84Quad/3/2/4", 404),
        ("/ogcapi/map/tiles/WebMercatorQuad/3/99/4", 404),
        ("/ogcapi/map/tiles/WebMercatorQuad/3/2/4?f=tiff", 400),
    ] {
        let (got, headers, body) = get(&server.url(path));
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/problem+json")
        );
    }
}

fn rgba(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

/// The largest difference of any channel between two images of the same size.
fn max_difference(a: &image::RgbaImage, b: &image::RgbaImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

#[test]
fn maps_equal_wms_getmap() {
    let (dir, server) = start();
    let wms = |query: &str| {
        let (status, _, body) = get_bytes(
            &server.url(&format!(
                "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&{query}"
            )),
            &[],
        );
        assert_eq!(status, 200, "{query}");
        body
    };
    let ogc = |path: &str| {
        let (status, headers, body) = get_bytes(&server.url(path), &[]);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        (headers, body)
    };
    // Tolerance 0: the same renderer draws the same map.
    let cases = [
        (
            "/ogcapi/collections/communes/map?bbox=2.2,48.75,2.45,48.86&width=400&height=300",
            "LAYERS=communes&STYLES=&CRS=CRS:84&BBOX=2.2,48.75,2.45,48.86&WIDTH=400&HEIGHT=300&FORMAT=image/png&TRANSPARENT=TRUE",
        ),
        (
            "/ogcapi/collections/communes/map?crs=http://www.opengis.net/def/crs/EPSG/0/3857&bbox-crs=[EPSG:3857]&bbox=250000,6230000,270000,6245000&width=300&height=225&f=jpeg",
            "LAYERS=communes&STYLES=&CRS=EPSG:3857&BBOX=250000,6230000,270000,6245000&WIDTH=300&HEIGHT=225&FORMAT=image/jpeg",
        ),
        (
            "/ogcapi/collections/countries/styles/outline/map?bbox=-10,35,30,60&width=320&height=200&bgcolor=0x102030",
            "LAYERS=countries&STYLES=outline&CRS=CRS:84&BBOX=-10,35,30,60&WIDTH=320&HEIGHT=200&FORMAT=image/png&TRANSPARENT=FALSE&BGCOLOR=0x102030",
        ),
        (
            "/ogcapi/map?collections=ortho,communes&bbox=1.5,48,3,49.5&width=256&height=256",
            "LAYERS=ortho,communes&STYLES=,&CRS=CRS:84&BBOX=1.5,48,3,49.5&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE",
        ),
        // EPSG:4326 boxes are written lat,lon by both APIs.
        (
            "/ogcapi/collections/dem/styles/hypsometric/map?crs=http://www.opengis.net/def/crs/EPSG/0/4326&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326&bbox=0,-45,45,0&width=200&height=200",
            "LAYERS=dem&STYLES=hypsometric&CRS=EPSG:4326&BBOX=0,-45,45,0&WIDTH=200&HEIGHT=200&FORMAT=image/png&TRANSPARENT=TRUE",
        ),
    ];
    for (path, query) in cases {
        let (headers, ours) = ogc(path);
        let theirs = wms(query);
        let (a, b) = (rgba(&ours), rgba(&theirs));
        let difference = max_difference(&a, &b);
        if difference > 0 {
            let out = dir.path().join("map-diff.png");
            let diff = image::RgbaImage::from_fn(a.width(), a.height(), |x, y| {
                let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
                image::Rgba([
                    p[0].abs_diff(q[0]),
                    p[1].abs_diff(q[1]),
                    p[2].abs_diff(q[2]),
                    255,
                ])
            });
            diff.save(&out).unwrap();
            panic!(
                "{path}: differs from WMS by {difference}; diff in {}",
                out.display()
            );
        }
        assert!(a.pixels().any(|p| p[3] > 0), "{path} is empty");
        assert!(header(&headers, "content-crs")
            .unwrap()
            .starts_with("<http"));
    }
    // Content-Crs and Content-Bbox say what was drawn (EPSG:4326: lat,lon).
    let (headers, _) = ogc(cases[4].0);
    assert_eq!(
        header(&headers, "content-crs"),
        Some("<http://www.opengis.net/def/crs/EPSG/0/4326>")
    );
    assert_eq!(header(&headers, "content-bbox"), Some("0,-45,45,0"));
    // Defaults: the collection's extent, CRS84, 1024 pixels on the longer side.
    let (headers, body) = ogc("/ogcapi/collections/ortho/map");
    let image = rgba(&body);
    assert_eq!(image.width().max(image.height()), 1024);
    let extent = json(&server, "/ogcapi/collections/ortho")["extent"]["spatial"]["bbox"][0].clone();
    let said: Vec<f64> = header(&headers, "content-bbox")
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    for (i, v) in said.iter().enumerate() {
        assert!(
            (v - extent[i].as_f64().unwrap()).abs() < 1e-9,
            "{said:?} {extent}"
        );
    }
    // width only: the height follows the box; scale-denominator: the size from the scale.
    let (_, body) = ogc("/ogcapi/collections/communes/map?bbox=2,48,4,49&width=300");
    assert_eq!(rgba(&body).dimensions(), (300, 150));
    let (_, body) = ogc(
        "/ogcapi/collections/communes/map?crs=[EPSG:3857]&bbox-crs=[EPSG:3857]&bbox=250000,6230000,252800,6231400&scale-denominator=10000",
    );
    assert_eq!(rgba(&body).dimensions(), (1000, 500));
    // Mistakes: problems naming the parameter.
    for (path, status, words) in [
        ("/ogcapi/collections/communes/map?bbox=1,2,3", 400, "bbox"),
        (
            "/ogcapi/collections/communes/map?bbox=nan,2,3,4",
            400,
            "bbox",
        ),
        ("/ogcapi/collections/communes/map?width=0", 400, "width"),
        (
            "/ogcapi/collections/communes/map?width=99999&height=10",
            400,
            "width",
        ),
        (
            "/ogcapi/collections/communes/map?crs=EPSG:999999",
            400,
            "crs",
        ),
        ("/ogcapi/collections/communes/map?f=gif", 400, "f=png"),
        (
            "/ogcapi/collections/communes/map?bgcolor=pink-ish",
            400,
            "bgcolor",
        ),
        ("/ogcapi/collections/communes/map?zoom=3", 400, "zoom"),
        (
            "/ogcapi/collections/communes/map?width=10&scale-denominator=1000",
            400,
            "scale-denominator",
        ),
        (
            "/ogcapi/collections/communes/styles/fancy/map",
            404,
            "fancy",
        ),
        ("/ogcapi/collections/nope/map", 404, "nope"),
        ("/ogcapi/map?collections=ortho,nope", 400, "nope"),
    ] {
        let (got, headers, body) = get(&server.url(path));
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(body.contains(words), "{path}: {body}");
    }
    let (status, _, _) = get_bytes(
        &server.url("/ogcapi/collections/communes/map"),
        &[("Accept", "application/pdf")],
    );
    assert_eq!(status, 406);
}

#[test]
fn gdal_and_owslib_read_the_maps_and_tiles() {
    if !common::has_gdalinfo() {
        return;
    }
    let (dir, server) = start();
    let collection = format!("OGCAPI:{}/ogcapi/collections/ortho", server.base);
    // A map, through GDAL's OGC API – Maps client: the collection's extent, the WMS pixels.
    let out = dir.path().join("map.tif");
    let status = Command::new("gdal_translate")
        .args(["-q", "-oo", "API=MAP", "-outsize", "512", "0", &collection])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let info = gdal_json(&out);
    let extent = json(&server, "/ogcapi/collections/ortho")["extent"]["spatial"]["bbox"][0].clone();
    let corner = &info["cornerCoordinates"];
    let near = |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6;
    assert!(
        near(&corner["upperLeft"][0], &extent[0]),
        "{corner} {extent}"
    );
    assert!(
        near(&corner["upperLeft"][1], &extent[3]),
        "{corner} {extent}"
    );
    assert!(
        near(&corner["lowerRight"][0], &extent[2]),
        "{corner} {extent}"
    );
    assert!(
        near(&corner["lowerRight"][1], &extent[1]),
        "{corner} {extent}"
    );
    let size = info["size"].as_array().unwrap();
    let (width, height) = (size[0].as_u64().unwrap(), size[1].as_u64().unwrap());
    // The same pixels as WMS draws for that box and size (the ortho tiles are flat colours).
    let png = dir.path().join("map.png");
    assert!(Command::new("gdal_translate")
        .args(["-q", "-of", "PNG"])
        .arg(&out)
        .arg(&png)
        .status()
        .unwrap()
        .success());
    let ours = rgba(&std::fs::read(&png).unwrap());
    let (_, _, theirs) = get_bytes(
        &server.url(&format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=ortho&STYLES=&CRS=CRS:84&BBOX={},{},{},{}&WIDTH={width}&HEIGHT={height}&FORMAT=image/png&TRANSPARENT=TRUE",
            extent[0], extent[1], extent[2], extent[3]
        )),
        &[],
    );
    let theirs = rgba(&theirs);
    let differing = ours
        .pixels()
        .zip(theirs.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0.iter()).any(|(x, y)| x.abs_diff(*y) > 2))
        .count();
    // GDAL reads in 256-pixel blocks: resampling at block edges may differ by a pixel.
    assert!(
        differing * 100 < ours.len() as usize / 4,
        "{differing} pixels differ"
    );

    // GDAL 3.6 reads no tiles of this API (nor of any other server's): it crops tiles with
    // the collection's CRS84 box whatever the tile matrix set's CRS, sizes a tileset's rows
    // by the whole matrix instead of its limits, and takes one tile matrix set per collection
    // (the last tileset's). GDAL 3.8 fixed these; OpenLayers reads the tiles (preview.rs).

    if common::has_owslib() {
        common::run_python_ok(&format!(
            r#"
from owslib.ogcapi.maps import Maps
api = Maps("{base}/ogcapi")
ids = [c["id"] for c in api.collections()["collections"]]
assert ids == ["communes", "countries", "dem", "ortho"], ids
assert "communes" in api.maps(), api.maps()
data = api.map("communes", bbox=[2.2, 48.75, 2.45, 48.86], width=200, height=100)
image = data.read() if hasattr(data, "read") else data
assert image[:8] == b"\x89PNG\r\n\x1a\n", image[:16]
print("ok")
"#,
            base = server.base
        ));
    }
}

fn gdal_json(path: &Path) -> Value {
    let output = Command::new("gdalinfo")
        .arg("-json")
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}
