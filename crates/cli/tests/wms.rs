//! WMS 1.3.0 and 1.1.1 over vector (GeoPackage + SLD) and raster (pyramid) layers, spoken to
//! over HTTP by the real server; OWSLib and GDAL as clients where they are installed.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::float_cmp)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{elevation, get, get_bytes, header, write_test_pyramids, Server};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Config publishing countries (world.gpkg), communes and schools (communes_2154.gpkg), and
/// the test pyramids: `dem` styled with a ColorMap, `dem_raw` as stored.
fn fixture(dir: &Path) -> PathBuf {
    fixture_with(dir, "")
}

/// [`fixture`] with extra `[wms]` keys.
fn fixture_with(dir: &Path, wms_keys: &str) -> PathBuf {
    write_test_pyramids(dir);
    let fixtures = repo().join("fixtures");
    let gpkg = fixtures.join("gpkg");
    let wms = fixtures.join("wms");
    let config = format!(
        r#"
[data]
dir = "{data}"

[wms]
title = "Test WMS"
abstract = "Tuilerie's WMS tests"
keywords = ["test", "wms"]
contact_person = "Jeanne Carto"
contact_organization = "Tuilerie"
contact_email = "jeanne@example.org"
layer_limit = 4
max_width = 2048
max_height = 2048
{wms_keys}

[[layers]]
name = "countries"
title = "Countries of the world"
abstract = "Natural Earth 1:110m"
keywords = ["boundaries"]
kind = "vector"
source = "{gpkg}/world.gpkg"
table = "countries"
style = "{wms}/countries.sld"
metadata_urls = ["https://example.org/metadata/countries.xml"]
attribution = "Natural Earth"
attribution_url = "https://www.naturalearthdata.com/"

[[layers]]
name = "communes"
title = "Communes"
kind = "vector"
source = "{gpkg}/communes_2154.gpkg"
table = "Communes-IDF"
style = "{wms}/communes.sld"

[[layers]]
name = "ecoles"
title = "Écoles"
kind = "vector"
source = "{gpkg}/communes_2154.gpkg"
table = "Écoles"
style = "{wms}/ecoles.sld"
queryable = false

[[layers]]
name = "dem"
title = "Elevation"
kind = "pyramid"
pyramid = "dem/pyramid.json"
getfeatureinfo = true
style = "{wms}/dem.sld"
interpolation = "nearest"

[[layers]]
name = "dem_raw"
kind = "pyramid"
pyramid = "dem/pyramid.json"
"#,
        data = dir.join("data").display(),
        gpkg = gpkg.display(),
        wms = wms.display(),
    );
    let path = dir.join("tuilerie.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture(dir.path());
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    (dir, server)
}

/// An image answer, decoded (fails the test on anything else).
fn image(server: &Server, query: &str) -> image::RgbaImage {
    let (status, headers, body) = get_bytes(&server.url(&format!("/wms?{query}")), &[]);
    assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
    let content_type = header(&headers, "content-type").unwrap_or("");
    assert!(
        content_type.starts_with("image/"),
        "{query}: {content_type}: {}",
        String::from_utf8_lossy(&body)
    );
    image::load_from_memory(&body).unwrap().to_rgba8()
}

/// A service exception: (status, code, locator, whole body).
fn exception(server: &Server, query: &str) -> (u16, String, String) {
    let (status, headers, body) = get(&server.url(&format!("/wms?{query}")));
    let content_type = header(&headers, "content-type").unwrap_or("").to_owned();
    assert!(
        content_type.starts_with("text/xml")
            || content_type.starts_with("application/vnd.ogc.se_xml"),
        "{query}: {content_type}: {body}"
    );
    let code = body
        .split("code=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or("")
        .to_owned();
    (status, code, body)
}

fn near(a: [u8; 4], b: [u8; 4], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

const BLUE: [u8; 4] = [0x1F, 0x78, 0xB4, 255];
const SAND: [u8; 4] = [0xD9, 0xD2, 0xC5, 255];
const WHITE: [u8; 4] = [255, 255, 255, 255];

/// The pixel of (lon, lat) in a `width`×`height` map of lon/lat bounds.
fn pixel_of(lon: f64, lat: f64, bounds: [f64; 4], width: u32, height: u32) -> (u32, u32) {
    let [w, s, e, n] = bounds;
    (
        ((lon - w) / (e - w) * f64::from(width)) as u32,
        ((n - lat) / (n - s) * f64::from(height)) as u32,
    )
}

#[test]
fn capabilities_1_3_0_describe_service_layers_styles_and_extents() {
    let (_dir, server) = start();
    let (status, headers, body) = get(&server.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/xml; charset=utf-8")
    );
    for expected in [
        "<WMS_Capabilities version=\"1.3.0\"",
        "<Title>Test WMS</Title>",
        "<ContactPerson>Jeanne Carto</ContactPerson>",
        "<LayerLimit>4</LayerLimit>",
        "<MaxWidth>2048</MaxWidth>",
        "<Format>image/png; mode=8bit</Format>",
        "<Format>application/vnd.ogc.gml</Format>",
        "<sld:GetLegendGraphic>",
        "<Format>INIMAGE</Format>",
        "<Name>countries</Name>",
        "<Title>Countries of the world</Title>",
        "<Keyword>boundaries</Keyword>",
        "<CRS>EPSG:3857</CRS>",
        "<Attribution><Title>Natural Earth</Title>",
        "https://example.org/metadata/countries.xml",
        "<Name>outline</Name>",
        "REQUEST=GetLegendGraphic&amp;LAYER=countries&amp;STYLE=default",
        "<Layer queryable=\"0\" opaque=\"0\">\n<Name>ecoles</Name>",
        "<Layer queryable=\"1\" opaque=\"1\">\n<Name>dem</Name>",
        "<Name>hypsometric</Name>",
        // Communes are native EPSG:2154, listed among the common CRSs.
        "<BoundingBox CRS=\"EPSG:2154\" minx=\"640000\" miny=\"6850000\" maxx=\"659887\" maxy=\"6861863\"/>",
        // 1.3.0 EPSG:4326 bounding boxes are latitude first.
        "<BoundingBox CRS=\"EPSG:4326\" minx=\"-85.6090377746\" miny=\"-180\" maxx=\"83.64513\" maxy=\"180\"/>",
        "<BoundingBox CRS=\"CRS:84\" minx=\"-180\" miny=\"-85.6090377746\" maxx=\"180\" maxy=\"83.64513\"/>",
        "<westBoundLongitude>-180</westBoundLongitude>",
        // The labels rule is bounded, the fills are not: no MinScaleDenominator.
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    assert!(
        body.contains(&format!("xlink:href=\"{}/wms?\"", server.base)),
        "{body}"
    );
    // Communes: every rule of the style has no min scale; labels have a max scale, fills none.
    assert!(!body.contains("<MinScaleDenominator>"), "{body}");
}

#[test]
fn capabilities_1_1_1_use_srs_and_the_dtd() {
    let (_dir, server) = start();
    let (status, headers, body) =
        get(&server.url("/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities"));
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/vnd.ogc.wms_xml; charset=utf-8")
    );
    for expected in [
        "<!DOCTYPE WMT_MS_Capabilities SYSTEM",
        "<WMT_MS_Capabilities version=\"1.1.1\"",
        "<Name>OGC:WMS</Name>",
        "<SRS>EPSG:3857</SRS>",
        "<LatLonBoundingBox minx=\"-180\" miny=\"-85.6090377746\" maxx=\"180\" maxy=\"83.64513\"/>",
        // 1.1.1 bounding boxes are always x/y.
        "<BoundingBox SRS=\"EPSG:4326\" minx=\"-180\" miny=\"-85.6090377746\" maxx=\"180\" maxy=\"83.64513\"/>",
        "<Format>application/vnd.ogc.se_inimage</Format>",
        "<GetLegendGraphic>",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    // WMTVER (WMS 1.0 clients) negotiates down to 1.1.1 too.
    let (_, _, old) = get(&server.url("/wms?REQUEST=capabilities&WMTVER=1.0.0"));
    assert!(
        old.contains("<WMT_MS_Capabilities version=\"1.1.1\""),
        "{old}"
    );
}

#[test]
fn update_sequence_is_honoured() {
    let (_dir, server) = start();
    let (_, _, body) = get(&server.url("/wms?SERVICE=WMS&REQUEST=GetCapabilities"));
    let sequence: u64 = body
        .split("updateSequence=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let (status, code, _) = exception(
        &server,
        &format!("SERVICE=WMS&REQUEST=GetCapabilities&UPDATESEQUENCE={sequence}"),
    );
    assert_eq!((status, code.as_str()), (400, "CurrentUpdateSequence"));
    let (status, code, _) = exception(
        &server,
        &format!(
            "SERVICE=WMS&REQUEST=GetCapabilities&UPDATESEQUENCE={}",
            sequence + 1
        ),
    );
    assert_eq!((status, code.as_str()), (400, "InvalidUpdateSequence"));
    let (status, _, _) = get(&server.url(&format!(
        "/wms?SERVICE=WMS&REQUEST=GetCapabilities&UPDATESEQUENCE={}",
        sequence - 1
    )));
    assert_eq!(status, 200);
}

#[test]
fn axis_order_follows_the_version_and_the_crs() {
    let (_dir, server) = start();
    let bounds = [-5.0, 41.0, 10.0, 51.0];
    let common =
        "SERVICE=WMS&REQUEST=GetMap&LAYERS=countries&STYLES=&FORMAT=image/png&WIDTH=300&HEIGHT=200";
    // 1.3.0 + EPSG:4326: latitude first.
    let lat_first = image(
        &server,
        &format!("{common}&VERSION=1.3.0&CRS=EPSG:4326&BBOX=41,-5,51,10"),
    );
    let (px, py) = pixel_of(2.35, 48.85, bounds, 300, 200);
    assert!(
        near(lat_first.get_pixel(px, py).0, BLUE, 8),
        "Paris is not blue: {:?}",
        lat_first.get_pixel(px, py)
    );
    let (sx, sy) = pixel_of(-4.0, 45.5, bounds, 300, 200);
    assert_eq!(
        lat_first.get_pixel(sx, sy).0,
        WHITE,
        "Bay of Biscay is not background"
    );
    let (gx, gy) = pixel_of(8.0, 50.0, bounds, 300, 200);
    assert!(
        near(lat_first.get_pixel(gx, gy).0, SAND, 8),
        "Germany: {:?}",
        lat_first.get_pixel(gx, gy)
    );
    // The same numbers in CRS:84 order are another place: a swapped BBOX must not draw France.
    let swapped = image(
        &server,
        &format!("{common}&VERSION=1.3.0&CRS=EPSG:4326&BBOX=-5,41,10,51"),
    );
    assert_ne!(lat_first.as_raw(), swapped.as_raw());
    assert!(
        !swapped.pixels().any(|p| near(p.0, BLUE, 8)),
        "France drawn in a swapped bbox"
    );
    // CRS:84 (lon first) and 1.1.1 (always x/y) draw the same map as the lat-first request.
    let crs84 = image(
        &server,
        &format!("{common}&VERSION=1.3.0&CRS=CRS:84&BBOX=-5,41,10,51"),
    );
    assert_eq!(crs84.as_raw(), lat_first.as_raw());
    let v111 = image(
        &server,
        &format!("{common}&VERSION=1.1.1&SRS=EPSG:4326&BBOX=-5,41,10,51"),
    );
    assert_eq!(v111.as_raw(), lat_first.as_raw());
    // Projected CRSs, reprojected on the fly: Paris is blue in Web Mercator and Lambert-93.
    let mercator = image(
        &server,
        &format!("{common}&VERSION=1.3.0&CRS=EPSG:3857&BBOX=-556597,5009377,1113195,6621294"),
    );
    // Paris: (261700, 6250000) in EPSG:3857.
    let mx = ((261_700.0 + 556_597.0) / 1_669_792.0 * 300.0) as u32;
    let my = ((6_621_294.0 - 6_250_000.0) / 1_611_917.0 * 200.0) as u32;
    assert!(
        near(mercator.get_pixel(mx, my).0, BLUE, 8),
        "{:?}",
        mercator.get_pixel(mx, my)
    );
    let lambert = image(
        &server,
        &format!(
            "{common}&VERSION=1.3.0&CRS=EPSG:2154&BBOX=100000,6000000,1300000,7200000&WIDTH=200"
        ),
    );
    // Paris: (652000, 6862000) in Lambert-93.
    let lx = ((652_000.0 - 100_000.0) / 1_200_000.0 * 200.0) as u32;
    let ly = ((7_200_000.0 - 6_862_000.0) / 1_200_000.0 * 200.0) as u32;
    assert!(
        near(lambert.get_pixel(lx, ly).0, BLUE, 8),
        "{:?}",
        lambert.get_pixel(lx, ly)
    );
}

#[test]
fn formats_transparency_and_background() {
    let (_dir, server) = start();
    let base = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=CRS:84&BBOX=-5,41,10,51&WIDTH=300&HEIGHT=200";
    let (px, py) = pixel_of(2.35, 48.85, [-5.0, 41.0, 10.0, 51.0], 300, 200);
    let (sx, sy) = pixel_of(-4.0, 45.5, [-5.0, 41.0, 10.0, 51.0], 300, 200);
    for format in [
        "image/png",
        "image/png;%20mode=8bit",
        "image/jpeg",
        "image/webp",
    ] {
        let (status, headers, body) =
            get_bytes(&server.url(&format!("/wms?{base}&FORMAT={format}")), &[]);
        assert_eq!(status, 200, "{format}");
        let expected_type = format.replace("%20", " ");
        assert_eq!(
            header(&headers, "content-type"),
            Some(expected_type.as_str())
        );
        if format.contains("8bit") {
            // PNG colour type 3: palette.
            assert_eq!(body[25], 3, "not a palette PNG");
        }
        let decoded = image::load_from_memory(&body).unwrap().to_rgba8();
        assert_eq!(decoded.dimensions(), (300, 200));
        let tolerance = if format == "image/jpeg" { 24 } else { 8 };
        assert!(
            near(decoded.get_pixel(px, py).0, BLUE, tolerance),
            "{format}: {:?}",
            decoded.get_pixel(px, py)
        );
    }
    let clear = image(
        &server,
        &format!("{base}&FORMAT=image/png&TRANSPARENT=TRUE"),
    );
    assert_eq!(clear.get_pixel(sx, sy).0[3], 0, "sea not transparent");
    assert_eq!(clear.get_pixel(px, py).0[3], 255);
    let black = image(
        &server,
        &format!("{base}&FORMAT=image/png&BGCOLOR=0x000000"),
    );
    assert_eq!(black.get_pixel(sx, sy).0, [0, 0, 0, 255]);
    // JPEG cannot be transparent: the background colour is used.
    let jpeg = image(
        &server,
        &format!("{base}&FORMAT=image/jpeg&TRANSPARENT=TRUE&BGCOLOR=0x00FF00"),
    );
    assert!(
        near(jpeg.get_pixel(sx, sy).0, [0, 255, 0, 255], 24),
        "{:?}",
        jpeg.get_pixel(sx, sy)
    );
}

#[test]
fn layers_are_drawn_in_order_with_their_styles() {
    let (_dir, server) = start();
    // Around Paris in Lambert-93: communes over countries.
    let base = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&CRS=EPSG:2154&BBOX=630000,6840000,670000,6870000&WIDTH=400&HEIGHT=300&FORMAT=image/png";
    let both = image(
        &server,
        &format!("{base}&LAYERS=countries,communes&STYLES=,"),
    );
    let red = |img: &image::RgbaImage| {
        img.pixels()
            .filter(|p| near(p.0, [0xE4, 0x1A, 0x1C, 255], 6))
            .count()
    };
    assert!(red(&both) > 1000, "communes of Paris not drawn over France");
    let reversed = image(
        &server,
        &format!("{base}&LAYERS=communes,countries&STYLES=,"),
    );
    assert_eq!(red(&reversed), 0, "countries drawn under communes");
    // Named style: borders only, France's fill is gone.
    let outline = image(
        &server,
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=outline&CRS=CRS:84&BBOX=-5,41,10,51&WIDTH=300&HEIGHT=200&FORMAT=image/png",
    );
    assert!(!outline.pixels().any(|p| near(p.0, BLUE, 8)));
    let borders = outline
        .pixels()
        .filter(|p| near(p.0, [0xE3, 0x1A, 0x1C, 255], 40))
        .count();
    assert!(borders > 200, "{borders} border pixels");
    // DPI as QGIS sends it: same map, symbols twice as large in a twice larger image.
    let hi = image(
        &server,
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=outline&CRS=CRS:84&BBOX=-5,41,10,51&WIDTH=600&HEIGHT=400&FORMAT=image/png&DPI=181&MAP_RESOLUTION=181&FORMAT_OPTIONS=dpi:181",
    );
    let hi_borders = hi
        .pixels()
        .filter(|p| near(p.0, [0xE3, 0x1A, 0x1C, 255], 40))
        .count();
    assert!(
        hi_borders > borders * 3,
        "2× DPI should widen lines as well as lengthen them: {hi_borders} vs {borders}"
    );
}

#[test]
fn raster_layers_are_resampled_styled_and_exact_in_tiff() {
    let (_dir, server) = start();
    // Exactly PM tile (3, 2) of level 3.
    let tile_bbox = "-5009377.085697312,5009377.085697312,0,10018754.171394624";
    let styled = image(
        &server,
        &format!("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=dem&STYLES=&CRS=EPSG:3857&BBOX={tile_bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png"),
    );
    // ~3200 m on a 0 → 5000 green → yellow ramp: between the two.
    let p = styled.get_pixel(10, 10).0;
    assert_eq!(p[3], 255);
    assert!(p[0] > 0x1A && p[0] < 0xFF && p[1] > 0x98, "{p:?}");
    // As stored (no style): float values stretched to grey.
    let raw = image(
        &server,
        &format!("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=dem_raw&STYLES=&CRS=EPSG:3857&BBOX={tile_bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/png"),
    );
    let q = raw.get_pixel(100, 100).0;
    assert!(q[0] == q[1] && q[1] == q[2] && q[3] == 255, "{q:?}");
    // image/tiff: the stored values themselves.
    let (status, headers, body) = get_bytes(
        &server.url(&format!("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=dem&STYLES=&CRS=EPSG:3857&BBOX={tile_bbox}&WIDTH=256&HEIGHT=256&FORMAT=image/tiff")),
        &[],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), Some("image/tiff"));
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(body)).unwrap();
    let tiff::decoder::DecodingResult::F32(values) = decoder.read_image().unwrap() else {
        panic!("not float32");
    };
    for (i, j) in [(0u32, 0u32), (17, 201), (255, 255), (128, 3)] {
        assert_eq!(
            values[(j * 256 + i) as usize],
            elevation(3, 2, i, j),
            "pixel ({i}, {j})"
        );
    }
    // Outside the data: transparent.
    let empty = image(
        &server,
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=dem&STYLES=&CRS=CRS:84&BBOX=100,-40,120,-20&WIDTH=64&HEIGHT=64&FORMAT=image/png&TRANSPARENT=TRUE",
    );
    assert!(empty.pixels().all(|p| p.0[3] == 0));
    // TIFF of a vector layer is refused.
    let (status, code, _) = exception(
        &server,
        "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=CRS:84&BBOX=-5,41,10,51&WIDTH=30&HEIGHT=20&FORMAT=image/tiff",
    );
    assert_eq!((status, code.as_str()), (400, "InvalidFormat"));
}

#[test]
fn feature_info_on_vector_and_raster_layers_in_every_format() {
    let (_dir, server) = start();
    let map = "LAYERS=countries&STYLES=&BBOX=41,-5,51,10&WIDTH=300&HEIGHT=200&FORMAT=image/png";
    let (px, py) = pixel_of(2.35, 48.85, [-5.0, 41.0, 10.0, 51.0], 300, 200);
    let url = format!("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&{map}&CRS=EPSG:4326&QUERY_LAYERS=countries&INFO_FORMAT=application/json&I={px}&J={py}");
    let (status, headers, body) = get(&server.url(&url));
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["type"], "FeatureCollection");
    assert_eq!(json["features"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(json["features"][0]["properties"]["name"], "France");
    assert_eq!(json["features"][0]["geometry"]["type"], "MultiPolygon");
    // 1.1.1: X/Y and lon/lat bbox give the same answer.
    let v111 = format!("/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetFeatureInfo&LAYERS=countries&STYLES=&BBOX=-5,41,10,51&WIDTH=300&HEIGHT=200&FORMAT=image/png&SRS=EPSG:4326&QUERY_LAYERS=countries&INFO_FORMAT=text/plain&X={px}&Y={py}");
    let (status, _, text) = get(&server.url(&v111));
    assert_eq!(status, 200);
    assert!(text.contains("name = France"), "{text}");
    for (format, needle) in [
        ("text/html", "<td>France</td>"),
        ("text/xml", "<Attribute name=\"name\" value=\"France\"/>"),
        ("application/vnd.ogc.gml", "<name>France</name>"),
    ] {
        let (status, headers, body) = get(&server.url(&url.replace("application/json", format)));
        assert_eq!(status, 200);
        assert!(header(&headers, "content-type")
            .unwrap()
            .starts_with(format));
        assert!(body.contains(needle), "{format}: {body}");
    }
    // The sea: no feature.
    let (sx, sy) = pixel_of(-4.0, 45.5, [-5.0, 41.0, 10.0, 51.0], 300, 200);
    let (_, _, sea) = get(&server.url(&format!("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&{map}&CRS=EPSG:4326&QUERY_LAYERS=countries&INFO_FORMAT=application/json&I={sx}&J={sy}")));
    let sea: serde_json::Value = serde_json::from_str(&sea).unwrap();
    assert_eq!(sea["features"].as_array().unwrap().len(), 0);
    // Raster: the exact stored value of the pixel.
    let tile_bbox = "-5009377.085697312,5009377.085697312,0,10018754.171394624";
    let (status, _, body) = get(&server.url(&format!("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=dem&QUERY_LAYERS=dem&STYLES=&CRS=EPSG:3857&BBOX={tile_bbox}&WIDTH=256&HEIGHT=256&INFO_FORMAT=application/json&I=17&J=201")));
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["features"][0]["properties"]["band_1"].as_f64(),
        Some(f64::from(elevation(3, 2, 17, 201))),
        "{body}"
    );
    // Not queryable, outside the map.
    let (status, code, _) = exception(&server, "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=ecoles&QUERY_LAYERS=ecoles&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,660000,6862000&WIDTH=100&HEIGHT=100&I=5&J=5&INFO_FORMAT=text/plain");
    assert_eq!((status, code.as_str()), (400, "LayerNotQueryable"));
    let (status, code, body) = exception(&server, &format!("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&{map}&CRS=EPSG:4326&QUERY_LAYERS=countries&INFO_FORMAT=text/plain&I=300&J=5"));
    assert_eq!((status, code.as_str()), (400, "InvalidPoint"), "{body}");
    assert!(body.contains("locator=\"I\""), "{body}");
    let (status, code, _) = exception(&server, &format!("SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&{map}&CRS=EPSG:4326&QUERY_LAYERS=countries&INFO_FORMAT=image/png&I=3&J=5"));
    assert_eq!((status, code.as_str()), (400, "InvalidFormat"));
}

#[test]
fn legends_per_style_and_rule() {
    let (_dir, server) = start();
    let full = image(
        &server,
        "SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=countries&FORMAT=image/png",
    );
    let one = image(&server, "SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=countries&FORMAT=image/png&RULE=france&WIDTH=30&HEIGHT=30");
    assert!(
        full.height() > one.height(),
        "{:?} vs {:?}",
        full.dimensions(),
        one.dimensions()
    );
    assert!(
        one.pixels().any(|p| near(p.0, BLUE, 8)),
        "France's swatch is blue"
    );
    let (status, code, _) = exception(
        &server,
        "SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=countries&FORMAT=image/png&STYLE=nope",
    );
    assert_eq!((status, code.as_str()), (400, "StyleNotDefined"));
    let (status, code, _) = exception(
        &server,
        "SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=nope&FORMAT=image/png",
    );
    assert_eq!((status, code.as_str()), (400, "LayerNotDefined"));
    let (status, _, _) = exception(
        &server,
        "SERVICE=WMS&REQUEST=GetLegendGraphic&LAYER=countries&FORMAT=image/png&RULE=nope",
    );
    assert_eq!(status, 400);
}

#[test]
fn every_client_mistake_is_a_4xx_exception_naming_the_parameter() {
    let (_dir, server) = start();
    let map = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&CRS=CRS:84&BBOX=-5,41,10,51&WIDTH=30&HEIGHT=20&FORMAT=image/png";
    let cases: &[(&str, &str, &str)] = &[
        (
            "SERVICE=WMS&VERSION=1.3.0",
            "MissingParameterValue",
            "REQUEST",
        ),
        (
            "SERVICE=WMS&REQUEST=GetWhatever",
            "OperationNotSupported",
            "REQUEST",
        ),
        (
            "SERVICE=WFS&REQUEST=GetCapabilities",
            "InvalidParameterValue",
            "SERVICE",
        ),
        (map, "MissingParameterValue", "LAYERS"),
        (&format!("{map}&LAYERS=nope"), "LayerNotDefined", "LAYERS"),
        (
            &format!("{map}&LAYERS=countries,communes,ecoles,dem,dem_raw&STYLES=,,,,"),
            "InvalidParameterValue",
            "LAYERS",
        ),
        (
            &format!("{map}&LAYERS=countries&STYLES=nope"),
            "StyleNotDefined",
            "STYLES",
        ),
        (
            &format!("{map}&LAYERS=countries,communes&STYLES=a,b,c"),
            "StyleNotDefined",
            "STYLES",
        ),
        (
            &map.replace("CRS=CRS:84", "CRS=EPSG:999999")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "InvalidCRS",
            "CRS",
        ),
        (
            &map.replace("&CRS=CRS:84", "")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "MissingParameterValue",
            "CRS",
        ),
        (
            &map.replace("BBOX=-5,41,10,51", "BBOX=10,41,-5,51")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "InvalidParameterValue",
            "BBOX",
        ),
        (
            &map.replace("BBOX=-5,41,10,51", "BBOX=1,2,3")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "InvalidParameterValue",
            "BBOX",
        ),
        (
            &map.replace("WIDTH=30", "WIDTH=5000")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "InvalidParameterValue",
            "WIDTH",
        ),
        (
            &map.replace("HEIGHT=20", "HEIGHT=-3")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "InvalidParameterValue",
            "HEIGHT",
        ),
        (
            &map.replace("FORMAT=image/png", "FORMAT=image/gif")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "InvalidFormat",
            "FORMAT",
        ),
        (
            &map.replace("FORMAT=image/png", "")
                .replace("REQUEST", "LAYERS=countries&REQUEST"),
            "MissingParameterValue",
            "FORMAT",
        ),
        (
            &format!("{map}&LAYERS=countries&TRANSPARENT=maybe"),
            "InvalidParameterValue",
            "TRANSPARENT",
        ),
        (
            &format!("{map}&LAYERS=countries&BGCOLOR=red"),
            "InvalidParameterValue",
            "BGCOLOR",
        ),
        (
            &format!("{map}&LAYERS=countries&DPI=0"),
            "InvalidParameterValue",
            "DPI",
        ),
    ];
    for (query, code, locator) in cases {
        let (status, got, body) = exception(&server, query);
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(got, *code, "{query}: {body}");
        assert!(
            body.contains(&format!("locator=\"{locator}\"")),
            "{query}: {body}"
        );
    }
    // 1.1.1 dialect.
    let (status, code, body) = exception(
        &server,
        "SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=countries&STYLES=&SRS=EPSG:999999&BBOX=-5,41,10,51&WIDTH=30&HEIGHT=20&FORMAT=image/png",
    );
    assert_eq!((status, code.as_str()), (400, "InvalidSRS"), "{body}");
    assert!(body.contains("<!DOCTYPE ServiceExceptionReport"), "{body}");
    // Still serving.
    let (status, _, _) = get(&server.url("/health"));
    assert_eq!(status, 200);
}

#[test]
fn inimage_and_blank_exceptions_are_images() {
    let (_dir, server) = start();
    let bad = "SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=nope&STYLES=&CRS=CRS:84&BBOX=-5,41,10,51&WIDTH=320&HEIGHT=120&FORMAT=image/png";
    let inimage = image(&server, &format!("{bad}&EXCEPTIONS=INIMAGE"));
    assert_eq!(inimage.dimensions(), (320, 120));
    let inked = inimage
        .pixels()
        .filter(|p| p.0[0] > 100 && p.0[1] < 80)
        .count();
    assert!(inked > 50, "no message drawn ({inked} red pixels)");
    let blank = image(
        &server,
        &format!("{bad}&EXCEPTIONS=application/vnd.ogc.se_blank&TRANSPARENT=TRUE"),
    );
    assert_eq!(blank.dimensions(), (320, 120));
    assert!(blank.pixels().all(|p| p.0[3] == 0));
}

#[test]
fn owslib_reads_both_versions_and_fetches_maps_and_feature_info() {
    if !common::has_owslib() {
        return;
    }
    let (_dir, server) = start();
    let script = format!(
        r#"
from owslib.wms import WebMapService
for version in ("1.3.0", "1.1.1"):
    wms = WebMapService("{base}/wms", version=version)
    assert wms.identification.title == "Test WMS", wms.identification.title
    assert set(wms.contents) == {{"countries", "communes", "ecoles", "dem", "dem_raw"}}, list(wms.contents)
    layer = wms["countries"]
    assert "outline" in layer.styles, layer.styles
    assert layer.queryable == 1
    assert not wms["ecoles"].queryable
    assert [op.name for op in wms.operations][:3] == ["GetCapabilities", "GetMap", "GetFeatureInfo"], [op.name for op in wms.operations]
    srs = "EPSG:4326"
    bbox = (-5, 41, 10, 51)
    img = wms.getmap(layers=["countries"], styles=[""], srs=srs, bbox=bbox, size=(300, 200), format="image/png")
    data = img.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:200]
    info = wms.getfeatureinfo(layers=["countries"], styles=[""], srs=srs, bbox=bbox, size=(300, 200), format="image/png",
                              query_layers=["countries"], info_format="application/json", xy=(147, 43))
    text = info.read().decode()
    assert '"France"' in text, text
print("ok")
"#,
        base = server.base
    );
    common::run_python_ok(&script);
}

#[test]
fn gdal_reads_maps_through_its_wms_driver() {
    if !common::has_gdalinfo() {
        return;
    }
    let (dir, server) = start();
    for version in ["1.1.1", "1.3.0"] {
        let info = Command::new("gdalinfo")
            .env("GDAL_DEFAULT_WMS_CACHE_PATH", dir.path().join("gdalcache"))
            .arg(format!(
                "WMS:{}/wms?SERVICE=WMS&VERSION={version}&REQUEST=GetCapabilities",
                server.base
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&info.stdout);
        assert!(
            info.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&info.stderr)
        );
        assert!(text.contains("LAYERS=countries"), "{text}");
    }
    let out = dir.path().join("france.png");
    let translated = Command::new("gdal_translate")
        .env("GDAL_DEFAULT_WMS_CACHE_PATH", dir.path().join("gdalcache"))
        .args(["-q", "-of", "PNG", "-outsize", "300", "200", "-projwin", "-5", "51", "10", "41"])
        .arg(format!(
            "WMS:{}/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=countries&SRS=EPSG:4326&BBOX=-180,-90,180,90&FORMAT=image/png",
            server.base
        ))
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        translated.status.success(),
        "{}",
        String::from_utf8_lossy(&translated.stderr)
    );
    let img = image::open(&out).unwrap().to_rgba8();
    let (px, py) = pixel_of(2.35, 48.85, [-5.0, 41.0, 10.0, 51.0], 300, 200);
    assert!(
        near(img.get_pixel(px, py).0, BLUE, 16),
        "{:?}",
        img.get_pixel(px, py)
    );
}

#[test]
fn a_full_render_queue_answers_503_with_retry_after_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_with(
        dir.path(),
        "render_threads = 1\nrender_queue = 0\ncache_bytes = 0",
    );
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let url = server.url("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:3857&BBOX=-20000000,-15000000,20000000,15000000&WIDTH=2048&HEIGHT=1536&FORMAT=image/png");
    let handles: Vec<_> = (0..12)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let (status, headers, body) = get_bytes(&url, &[]);
                (
                    status,
                    header(&headers, "retry-after").map(str::to_owned),
                    body,
                )
            })
        })
        .collect();
    let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let busy: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    assert_eq!(ok + busy.len(), answers.len(), "only 200 or 503");
    assert!(ok >= 1, "some maps are drawn");
    assert!(
        !busy.is_empty(),
        "one render thread and no queue must refuse some of 12 maps at once"
    );
    for (_, retry, body) in &busy {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(String::from_utf8_lossy(body).contains("ServiceExceptionReport"));
    }
    // Nothing piled up: the next map is drawn.
    let (status, _, _) = get_bytes(&url, &[]);
    assert_eq!(status, 200);
}

/// A GetMap request line for `countries` at `size`², over a box shifted by `shift` (no two
/// alike, so that no cached answer replies).
fn countries_map_request(server: &Server, size: u32, shift: u32) -> Vec<u8> {
    let west = -20_000_000 + i64::from(shift) * 1000;
    format!(
        "GET /wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:3857\
         &BBOX={west},-15000000,20000000,15000000&WIDTH={size}&HEIGHT={size}&FORMAT=image/png \
         HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    )
    .into_bytes()
}

fn metric(server: &Server, name: &str) -> f64 {
    let (_, _, text) = get(&server.url("/metrics"));
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_whitespace().nth(1))
        .map_or(0.0, |value| value.parse().unwrap())
}

#[test]
fn a_client_that_half_closes_after_its_request_gets_the_map() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let config = fixture(dir.path());
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    for shift in 0..5 {
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        stream
            .write_all(&countries_map_request(&server, 256, shift))
            .unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let head_end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&answer)));
        let head = String::from_utf8_lossy(&answer[..head_end]).to_lowercase();
        assert!(head.starts_with("http/1.1 200 ok"), "{head}");
        assert!(head.contains("content-type: image/png"), "{head}");
        let image = image::load_from_memory(&answer[head_end + 4..]).unwrap();
        assert_eq!((image.width(), image.height()), (256, 256));
    }
}

#[test]
fn renders_of_clients_that_left_are_cancelled_and_free_the_pool() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_with(
        dir.path(),
        "render_threads = 1\nrender_queue = 2\ncache_bytes = 0",
    );
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    // Three big maps fill the pool (one drawing, two waiting); their clients leave at once.
    for shift in 0..3 {
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        stream
            .write_all(&countries_map_request(&server, 2048, shift))
            .unwrap();
        drop(stream);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    let cancelled = loop {
        let cancelled = metric(&server, "tuilerie_renders_cancelled_total");
        let jobs = metric(&server, "tuilerie_render_jobs");
        if cancelled >= 2.0 && jobs == 0.0 {
            break cancelled;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "abandoned renders went on: {cancelled} cancelled, {jobs} jobs"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(cancelled <= 3.0);
    // The pool is free: the next map is drawn, and the abandoned ones are counted as 499.
    let (status, headers, body) = get_bytes(
        &server.url("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:3857&BBOX=0,0,1000000,1000000&WIDTH=64&HEIGHT=64&FORMAT=image/png"),
        &[],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let (_, _, text) = get(&server.url("/metrics"));
    assert!(text.contains("status=\"499\""), "{text}");
}

/// A layer's rate limit: past its burst, a client gets 429 with Retry-After and a message
/// naming the layer; another layer and the same layer a moment later answer; counted in
/// /metrics.
#[test]
fn a_rate_limited_layer_refuses_a_client_past_its_rate() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = repo().join("fixtures");
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "[[layers]]\nname = \"communes\"\nkind = \"vector\"\nsource = \"{gpkg}/communes_2154.gpkg\"\ntable = \"Communes-IDF\"\nstyle = \"{wms}/communes.sld\"\nrate_limit = 5\n\n\
             [[layers]]\nname = \"ecoles\"\nkind = \"vector\"\nsource = \"{gpkg}/communes_2154.gpkg\"\ntable = \"Écoles\"\nstyle = \"{wms}/ecoles.sld\"\n",
            gpkg = fixtures.join("gpkg").display(),
            wms = fixtures.join("wms").display(),
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let map = |layer: &str| {
        server.url(&format!("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES=&CRS=EPSG:2154&BBOX=640000,6850000,660000,6870000&WIDTH=16&HEIGHT=16&FORMAT=image/png"))
    };
    let mut statuses = Vec::new();
    let mut refused = None;
    let started = std::time::Instant::now();
    // Until refused (at once on any machine that answers faster than 5 maps a second).
    for _ in 0..60 {
        let (status, headers, body) = get_bytes(&map("communes"), &[]);
        if status == 429 && refused.is_none() {
            refused = Some((headers, String::from_utf8_lossy(&body).into_owned()));
        }
        statuses.push(status);
        if refused.is_some() && statuses.len() >= 12 {
            break;
        }
    }
    // The burst of 5, and what refilled meanwhile (5 per second).
    let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as usize;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (5..=5 + refilled).contains(&ok),
        "{statuses:?} ({refilled} refilled)"
    );
    assert!(statuses[..5].iter().all(|s| *s == 200), "{statuses:?}");
    let (headers, body) = refused.expect("some requests are refused");
    let wait: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert!(
        body.contains("layer &apos;communes&apos; takes at most 5 requests per second"),
        "{body}"
    );
    // In WMS's own dialect, so that an OGC client shows the message.
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert!(body.contains("<ServiceException>"), "{body}");
    // The same budget through OGC API – Maps, refused as a problem.
    let (status, headers, body) = get_bytes(
        &server.url("/ogcapi/collections/communes/map?width=16"),
        &[],
    );
    if status == 429 {
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/problem+json")
        );
        assert!(String::from_utf8_lossy(&body).contains("\"status\":429"));
    }
    statuses.push(status);
    // Another layer: its own (absent) limit.
    for _ in 0..12 {
        assert_eq!(get_bytes(&map("ecoles"), &[]).0, 200);
    }
    // A moment later: answered again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get_bytes(&map("communes"), &[]).0, 200);
    let (_, _, metrics) = get(&server.url("/metrics"));
    let counted: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tuilerie_rate_limited_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        counted as usize,
        statuses.iter().filter(|s| **s == 429).count()
    );
}

/// `/metrics` counts the image cache's hits and misses (its hit ratio), and the bytes it and
/// the vector layers loaded in memory hold.
#[test]
fn the_image_cache_lookups_and_memory_are_counted() {
    let (_dir, server) = start();
    let lookups = |result: &str| -> u64 {
        let (_, _, text) = get(&server.url("/metrics"));
        text.lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "tuilerie_response_cache_lookups_total{{cache=\"wms\",result=\"{result}\"}} "
                ))
            })
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    let url = server.url("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries&STYLES=&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=64&HEIGHT=32&FORMAT=image/png");
    let memory = |part: &str| -> u64 {
        let (_, _, text) = get(&server.url("/metrics"));
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("tuilerie_memory_bytes{{part=\"{part}\"}} ")))
            .map_or(0, |v| v.trim().parse().unwrap())
    };
    let (hits, misses) = (lookups("hit"), lookups("miss"));
    let cached = memory("wms_image_cache");
    let (_, _, png) = get_bytes(&url, &[]);
    assert_eq!(get_bytes(&url, &[]).0, 200);
    assert_eq!(lookups("miss"), misses + 1);
    assert_eq!(lookups("hit"), hits + 1);
    // The new image and its key, exactly.
    let held = memory("wms_image_cache");
    assert!(
        held > cached + png.len() as u64 && held < cached + png.len() as u64 + 2048,
        "{cached} → {held} for a {}-byte image",
        png.len()
    );
    assert!(
        memory("vector_layers") > 0,
        "the countries were loaded in memory"
    );
}
