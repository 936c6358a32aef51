//! WMTS and TMS over real pyramids, spoken to over HTTP; OWSLib and GDAL as clients where
//! they are installed.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{elevation, get, get_bytes, header, write_test_pyramids, Server};

/// Writes the `dem` and `ortho` pyramids of [`common::write_test_pyramids`] and a config
/// publishing both; returns its path.
fn fixture(dir: &Path) -> std::path::PathBuf {
    write_test_pyramids(dir);
    let config = dir.join("tuilerie.toml");
    std::fs::write(
        &config,
        "[[layers]]\nname = \"dem\"\ntitle = \"Elevation\"\nabstract = \"Heights & depths\"\nkeywords = [\"DEM\"]\nkind = \"pyramid\"\npyramid = \"dem/pyramid.json\"\ngetfeatureinfo = true\n\n\
         [[layers]]\nname = \"ortho\"\ntitle = \"Ortho\"\nkind = \"pyramid\"\npyramid = \"ortho/pyramid.json\"\n",
    )
    .unwrap();
    config
}

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture(dir.path());
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    (dir, server)
}

#[test]
fn capabilities_are_the_same_in_kvp_and_rest_and_describe_the_layers() {
    let (_dir, server) = start();
    let (status, headers, kvp) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/xml"));
    let (_, _, rest) = get(&server.url("/wmts/1.0.0/WMTSCapabilities.xml"));
    assert_eq!(kvp, rest);
    for expected in [
        "<ows:Identifier>dem</ows:Identifier>",
        "<ows:Title>Elevation</ows:Title>",
        "<ows:Abstract>Heights &amp; depths</ows:Abstract>",
        "<Format>image/x-bil;bits=32</Format>",
        "<Format>image/png</Format>",
        "<InfoFormat>application/json</InfoFormat>",
        "<TileMatrixSet>PM_2_3</TileMatrixSet>",
        "<ows:Identifier>PM_2_3</ows:Identifier>",
        "<TileMatrix>3</TileMatrix>\n            <MinTileRow>2</MinTileRow>\n            <MaxTileRow>3</MaxTileRow>\n            <MinTileCol>3</MinTileCol>",
        "<ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>",
        "<TopLeftCorner>-20037508.3427892 20037508.3427892</TopLeftCorner>",
        "<ScaleDenominator>139770566.00717",
        "<ows:BoundingBox crs=\"urn:ogc:def:crs:EPSG::3857\">\n        <ows:LowerCorner>-5009377.0856973 0</ows:LowerCorner>",
        &format!("template=\"{}/wmts/dem/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.bil\"", server.base),
        &format!("xlink:href=\"{}/wmts?\"", server.base),
    ] {
        assert!(kvp.contains(expected), "missing {expected}\n{kvp}");
    }
    // ortho has no GetFeatureInfo.
    let ortho = &kvp[kvp.find("<ows:Identifier>ortho</ows:Identifier>").unwrap()..];
    let ortho = &ortho[..ortho.find("</Layer>").unwrap()];
    assert!(!ortho.contains("InfoFormat"), "{ortho}");
}

#[test]
fn capabilities_urls_follow_the_proxy_headers() {
    let (_dir, server) = start();
    let (_, _, body) = get_bytes(
        &server.url("/wmts/1.0.0/WMTSCapabilities.xml"),
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "maps.example.org"),
        ],
    );
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains("https://maps.example.org/wmts/dem/"),
        "{body}"
    );
    assert!(!body.contains(&server.base), "{body}");
}

#[test]
fn kvp_and_rest_tiles_are_identical_and_cacheable() {
    let (_dir, server) = start();
    let kvp = server.url("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ortho&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=3&TILEROW=2&TILECOL=4");
    let (status, headers, kvp_bytes) = get_bytes(&kvp, &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let etag = header(&headers, "etag").unwrap().to_owned();
    assert!(header(&headers, "cache-control")
        .unwrap()
        .contains("max-age"));
    let (_, _, rest_bytes) = get_bytes(&server.url("/wmts/ortho/normal/PM/3/2/4.png"), &[]);
    let (status, _, linked) = get_bytes(&server.url("/wmts/ortho/normal/PM_2_3/3/2/4.png"), &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&linked));
    assert_eq!(linked, rest_bytes);
    assert_eq!(kvp_bytes, rest_bytes);
    let image = image::load_from_memory(&kvp_bytes).unwrap().into_rgb8();
    assert_eq!(image.get_pixel(10, 10).0, [160, 80, 90]);
    let (status, _, body) = get_bytes(&kvp, &[("If-None-Match", &etag)]);
    assert_eq!(status, 304);
    assert!(body.is_empty());
    // Last-Modified is the descriptor's time; If-Modified-Since answers 304 from it on, and
    // If-None-Match decides when both are sent.
    let modified = header(&headers, "last-modified").unwrap().to_owned();
    let (status, _, _) = get_bytes(&kvp, &[("If-Modified-Since", &modified)]);
    assert_eq!(status, 304);
    let (status, _, _) = get_bytes(
        &kvp,
        &[("If-Modified-Since", "Thu, 01 Jan 1998 00:00:00 GMT")],
    );
    assert_eq!(status, 200);
    let (status, _, _) = get_bytes(
        &kvp,
        &[
            ("If-Modified-Since", &modified),
            ("If-None-Match", "\"other\""),
        ],
    );
    assert_eq!(status, 200);
}

/// `/metrics` reports the bytes of slab indexes the pyramid layers keep: none before a tile
/// is read, some after.
#[test]
fn the_slab_indexes_held_are_reported() {
    let (_dir, server) = start();
    let held = || -> u64 {
        let (_, _, text) = get(&server.url("/metrics"));
        text.lines()
            .find_map(|l| l.strip_prefix("tuilerie_memory_bytes{part=\"slab_indexes\"} "))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    assert_eq!(held(), 0);
    let (status, _, _) = get_bytes(&server.url("/wmts/ortho/normal/PM/3/2/4.png"), &[]);
    assert_eq!(status, 200);
    assert!(held() > 0);
}

#[test]
fn tms_rows_are_flipped_relative_to_wmts_rows() {
    let (_dir, server) = start();
    // Level 3 has 8 rows: WMTS row 2 is TMS row 5.
    let (status, headers, tms) = get_bytes(&server.url("/tms/1.0.0/ortho/3/4/5.png"), &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&tms));
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let (_, _, wmts) = get_bytes(&server.url("/wmts/ortho/normal/PM/3/2/4.png"), &[]);
    assert_eq!(tms, wmts);
    let (_, _, other) = get_bytes(&server.url("/tms/1.0.0/ortho/3/4/2.png"), &[]);
    assert_ne!(tms, other);
}

#[test]
fn tms_documents_list_layers_and_tile_sets() {
    let (_dir, server) = start();
    let (status, _, service) = get(&server.url("/tms/1.0.0"));
    assert_eq!(status, 200);
    assert!(
        service.contains(&format!("href=\"{}/tms/1.0.0/dem\"", server.base)),
        "{service}"
    );
    assert!(service.contains("profile=\"global-mercator\""), "{service}");
    let (status, _, map) = get(&server.url("/tms/1.0.0/ortho"));
    assert_eq!(status, 200);
    assert!(map.contains("<SRS>EPSG:3857</SRS>"), "{map}");
    assert!(
        map.contains("<Origin x=\"-20037508.3427892\" y=\"-20037508.3427892\"/>"),
        "{map}"
    );
    assert!(map.contains(&format!("<TileSet href=\"{}/tms/1.0.0/ortho/3\" units-per-pixel=\"19567.8792410051\" order=\"1\"/>", server.base)), "{map}");
    let (status, _, json) = get(&server.url("/tms/1.0.0/ortho/metadata.json"));
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["tilejson"], "3.0.0");
    assert_eq!(json["minzoom"], 2);
    assert_eq!(json["maxzoom"], 3);
    assert_eq!(
        json["tiles"][0],
        format!("{}/wmts/ortho/normal/PM/{{z}}/{{y}}/{{x}}.png", server.base)
    );
}

#[test]
fn feature_info_returns_the_stored_float_values_exactly() {
    let (_dir, server) = start();
    let url = server.url("/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=dem&STYLE=normal&FORMAT=image/x-bil;bits=32&TILEMATRIXSET=PM&TILEMATRIX=3&TILEROW=3&TILECOL=3&I=17&J=201&INFOFORMAT=application/json");
    let (status, headers, body) = get(&url);
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["type"], "FeatureCollection");
    let expected = f64::from(elevation(3, 3, 17, 201));
    assert_eq!(
        json["features"][0]["properties"]["band_1"].as_f64(),
        Some(expected)
    );
    assert_eq!(
        json["features"][0]["properties"]["pixel"][0].as_f64(),
        Some(expected)
    );
    let lon = json["features"][0]["geometry"]["coordinates"][0]
        .as_f64()
        .unwrap();
    assert!((-45.0..0.0).contains(&lon), "{lon}");
    // REST encoding, plain text.
    let (status, _, text) = get(&server.url("/wmts/dem/normal/PM/3/3/3/201/17.txt"));
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("band_1 = {}", elevation(3, 3, 17, 201))),
        "{text}"
    );
    // In the hole: no feature.
    let (_, _, empty) = get(&server.url("/wmts/dem/normal/PM/3/3/4/10/10.json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&empty).unwrap()["features"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[test]
fn errors_are_ows_exception_reports_naming_the_parameter() {
    let (_dir, server) = start();
    let base = "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM";
    let cases = [
        (format!("{base}&LAYER=ortho&TILEMATRIX=3&TILEROW=9&TILECOL=1"), 400, "TileOutOfRange", "TILEROW"),
        (format!("{base}&LAYER=ortho&TILEMATRIX=3&TILEROW=1&TILECOL=-1"), 400, "TileOutOfRange", "TILECOL"),
        (format!("{base}&LAYER=nope&TILEMATRIX=3&TILEROW=1&TILECOL=1"), 400, "InvalidParameterValue", "LAYER"),
        (format!("{base}&LAYER=ortho&TILEMATRIX=9&TILEROW=1&TILECOL=1"), 400, "InvalidParameterValue", "TILEMATRIX"),
        (format!("{base}&LAYER=ortho&TILEMATRIX=3&TILECOL=1"), 400, "MissingParameterValue", "TILEROW"),
        (format!("{base}&LAYER=ortho&TILEMATRIX=3&TILEROW=x&TILECOL=1"), 400, "InvalidParameterValue", "TILEROW"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ortho&STYLE=normal&FORMAT=image/jpeg&TILEMATRIXSET=PM&TILEMATRIX=3&TILEROW=2&TILECOL=3".to_owned(), 400, "InvalidParameterValue", "FORMAT"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ortho&STYLE=fancy&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=3&TILEROW=2&TILECOL=3".to_owned(), 400, "InvalidParameterValue", "STYLE"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=ortho&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=LAMB93&TILEMATRIX=3&TILEROW=2&TILECOL=3".to_owned(), 400, "InvalidParameterValue", "TILEMATRIXSET"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=ortho&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=3&TILEROW=2&TILECOL=3&I=1&J=1&INFOFORMAT=text/plain".to_owned(), 501, "OperationNotSupported", "LAYER"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetFeatureInfo&VERSION=1.0.0&LAYER=dem&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX=3&TILEROW=2&TILECOL=3&I=256&J=1&INFOFORMAT=text/plain".to_owned(), 400, "InvalidParameterValue", "I"),
        ("/wmts?SERVICE=WMTS&REQUEST=DropTable".to_owned(), 501, "OperationNotSupported", "REQUEST"),
        ("/wmts?SERVICE=WMTS".to_owned(), 400, "MissingParameterValue", "REQUEST"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=2.0.0".to_owned(), 400, "InvalidParameterValue", "VERSION"),
    ];
    for (path, status, code, locator) in cases {
        let (got, headers, body) = get(&server.url(&path));
        assert_eq!(got, status, "{path}\n{body}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/xml"),
            "{path}"
        );
        assert!(
            body.contains(&format!("exceptionCode=\"{code}\" locator=\"{locator}\"")),
            "{path}\n{body}"
        );
        assert!(body.contains("<ExceptionText>"), "{body}");
    }
    // RESTful resources that do not exist are 404.
    let (status, _, body) = get(&server.url("/wmts/nope/normal/PM/3/2/3.png"));
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = get(&server.url("/tms/1.0.0/ortho/3/99/1.png"));
    assert_eq!(status, 400);
    let (status, _, _) = get(&server.url("/tms/1.0.0/nope"));
    assert_eq!(status, 404);
}

#[test]
fn tiles_without_data_are_nodata_tiles_by_default() {
    let (_dir, server) = start();
    let (status, headers, body) = get_bytes(&server.url("/wmts/ortho/normal/PM/3/3/4.png"), &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let image = image::load_from_memory(&body).unwrap();
    assert_eq!(image.to_rgb8().get_pixel(0, 0).0, [255, 255, 255]);
    // Inside the matrix, outside the pyramid's limits: also no data.
    let (status, _, _) = get_bytes(&server.url("/wmts/ortho/normal/PM/3/0/0.png"), &[]);
    assert_eq!(status, 200);
}

#[test]
fn owslib_reads_the_capabilities_and_fetches_tiles() {
    if !common::has_owslib() {
        return;
    }
    let (_dir, server) = start();
    let script = format!(
        r#"
from owslib.wmts import WebMapTileService
from owslib.tms import TileMapService
wmts = WebMapTileService("{base}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
assert set(wmts.contents) == {{"dem", "ortho"}}, list(wmts.contents)
layer = wmts.contents["ortho"]
assert list(layer.tilematrixsetlinks) == ["PM_2_3"], layer.tilematrixsetlinks
assert list(wmts.tilematrixsets["PM_2_3"].tilematrix) == ["2", "3"]
assert wmts.tilematrixsets["PM_2_3"].tilematrix["3"].matrixwidth == 8
tile = wmts.gettile(layer="ortho", tilematrixset="PM_2_3", tilematrix="3", row=2, column=4, format="image/png")
data = tile.read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
tms = TileMapService("{base}/tms/1.0.0")
assert len(tms.items()) == 2, tms.items()
print("ok")
"#,
        base = server.base
    );
    common::run_python_ok(&script);
}

#[test]
fn gdal_reads_the_layer_through_its_wmts_driver() {
    if !common::has_gdalinfo() {
        return;
    }
    let (dir, server) = start();
    let output = Command::new("gdalinfo")
        .arg(format!(
            "WMTS:{}/wmts/1.0.0/WMTSCapabilities.xml,layer=ortho",
            server.base
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("Driver: WMTS"), "{text}");
    assert!(
        text.contains("PROJCRS[\"WGS 84 / Pseudo-Mercator\"") || text.contains("Pseudo-Mercator"),
        "{text}"
    );
    // Level 3 limits: cols 3..=4, rows 2..=3 → 512×512 pixels.
    assert!(text.contains("Size is 512, 512"), "{text}");
    let translated = Command::new("gdal_translate")
        .env("GDAL_DEFAULT_WMS_CACHE_PATH", dir.path().join("gdalcache"))
        .args(["-q", "-of", "PNG"])
        .arg(format!(
            "WMTS:{}/wmts/1.0.0/WMTSCapabilities.xml,layer=ortho",
            server.base
        ))
        .arg(dir.path().join("out.png"))
        .output()
        .unwrap();
    assert!(
        translated.status.success(),
        "{}",
        String::from_utf8_lossy(&translated.stderr)
    );
    let image = image::open(dir.path().join("out.png")).unwrap().to_rgb8();
    // Top-left tile of the extent is (col 3, row 2).
    assert_eq!(
        image.get_pixel(5, 5).0,
        [120, 80, 90],
        "{}",
        String::from_utf8_lossy(&translated.stderr)
    );
}

/// A raster layer's SLD styles are WMTS styles too: their tiles are drawn by the WMS renderer
/// on the pyramid's own set and levels (PNG), cached, and equal the WMS map of the tile.
#[test]
fn styled_raster_tiles_are_drawn_with_the_layer_styles() {
    let dir = tempfile::tempdir().unwrap();
    write_test_pyramids(dir.path());
    let sld = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wms/dem.sld");
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "[[layers]]\nname = \"dem\"\nkind = \"pyramid\"\npyramid = \"dem/pyramid.json\"\nstyle = \"{}\"\ninterpolation = \"nearest\"\n",
            sld.display()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let (_, _, xml) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    let layer = &xml[xml.find("<ows:Identifier>dem</ows:Identifier>").unwrap()..];
    let layer = &layer[..layer.find("</Layer>").unwrap()];
    for expected in [
        "<ows:Identifier>normal</ows:Identifier>",
        "<ows:Title>Elevation tints</ows:Title>\n        <ows:Identifier>hypsometric</ows:Identifier>",
        "<Format>image/x-bil;bits=32</Format>",
        "<Format>image/png</Format>",
        "<TileMatrixSet>PM_2_3</TileMatrixSet>",
    ] {
        assert!(layer.contains(expected), "missing {expected}\n{layer}");
    }

    let rest = server.url("/wmts/dem/hypsometric/PM_2_3/3/2/4.png");
    let (status, headers, body) = get_bytes(&rest, &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let etag = header(&headers, "etag").unwrap().to_owned();
    let (_, _, kvp) = get_bytes(
        &server.url("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=dem&STYLE=hypsometric&FORMAT=image/png&TILEMATRIXSET=PM_2_3&TILEMATRIX=3&TILEROW=2&TILECOL=4"),
        &[],
    );
    assert_eq!(kvp, body);
    let (status, _, _) = get_bytes(&rest, &[("If-None-Match", &etag)]);
    assert_eq!(status, 304);
    let tile = image::load_from_memory(&body).unwrap().to_rgba8();
    assert_eq!(tile.dimensions(), (256, 256));
    // The WMS map of the same extent, same style.
    let size = 2.0 * 20_037_508.342_789_244 / 8.0;
    let (min_x, max_y) = (
        -20_037_508.342_789_244 + 4.0 * size,
        20_037_508.342_789_244 - 2.0 * size,
    );
    let (status, _, map) = get_bytes(
        &server.url(&format!(
            "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=dem&STYLES=hypsometric&CRS=EPSG:3857&BBOX={},{},{},{}&WIDTH=256&HEIGHT=256&FORMAT=image/png&TRANSPARENT=TRUE",
            min_x,
            max_y - size,
            min_x + size,
            max_y
        )),
        &[],
    );
    assert_eq!(status, 200);
    let map = image::load_from_memory(&map).unwrap().to_rgba8();
    let coloured = tile.pixels().filter(|p| p.0[3] > 0).count();
    assert!(
        coloured > 1000,
        "the tile shows the elevations: {coloured} pixels"
    );
    let differing = tile
        .pixels()
        .zip(map.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 8))
        .count();
    assert!(
        differing < 256 * 256 / 100,
        "{differing} pixels differ from the WMS map"
    );
    // Not the stored values: the tints.
    let (_, _, stored) = get_bytes(&server.url("/wmts/dem/normal/PM_2_3/3/2/4.bil"), &[]);
    assert_eq!(stored.len(), 256 * 256 * 4);
    for (path, expected) in [
        ("/wmts/dem/hypsometric/PM_2_3/3/2/4.bil", "drawn as PNG"),
        ("/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=dem&STYLE=hypsometric&FORMAT=image/tiff&TILEMATRIXSET=PM_2_3&TILEMATRIX=3&TILEROW=2&TILECOL=4", "FORMAT=image/png"),
        ("/wmts/dem/hypsometric/PM_2_3/9/2/4.png", "not served"),
        ("/wmts/dem/hypsometric/WebMercatorQuad/3/2/4.png", "PM_2_3"),
        ("/wmts/dem/fancy/PM_2_3/3/2/4.png", "no style"),
    ] {
        let (status, _, body) = get(&server.url(path));
        assert!((400..500).contains(&status), "{path}: {status} {body}");
        assert!(body.contains(expected), "{path}: {body}");
    }
    let caches: Vec<String> = std::fs::read_dir(data.join("tile-cache/dem"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        caches.iter().any(|c| c.ends_with("-hypsometric-png")),
        "{caches:?}"
    );
}
