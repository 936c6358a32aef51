//! Malformed and hostile requests over every route, generated from a fixed seed and sent raw
//! over TCP (so that anything goes: bad percent-encoding, traversal, odd methods, hostile XML
//! and JSON bodies): the server answers every one without a 5xx and stays healthy. The counts
//! by status are printed.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{get, write_test_pyramids, Server};

const REQUESTS: usize = 10_000;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const LAYERS: &[&str] = &[
    "communes",
    "dem",
    "ortho",
    "nope",
    "",
    "communes,dem",
    "COMMUNES",
    "../dem",
    "dem%00",
];
const VALUES: &[&str] = &[
    "",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "-1e308",
    "1e308",
    "1e309",
    "0",
    "-1",
    "99999999999999999999",
    "4294967296",
    "2147483648",
    "0.5",
    "1,2",
    "1,2,3,4",
    "-1e308,-1e308,1e308,1e308",
    "NaN,NaN,NaN,NaN",
    "inf,-inf,inf,-inf",
    "180,90,-180,-90",
    "%",
    "%zz",
    "%ff%fe",
    "%00",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "EPSG:4326",
    "EPSG:3857",
    "EPSG:2154",
    "EPSG:999999",
    "CRS:84",
    "urn:ogc:def:crs:EPSG::4326",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/png8",
    "image/gif",
    "application/json",
    "text/html",
    "application/vnd.mapbox-vector-tile",
    "image/tiff",
    "1.3.0",
    "1.1.1",
    "2.0.0",
    "1.0.0",
    "9.9.9",
    "GetMap",
    "GetCapabilities",
    "GetFeatureInfo",
    "GetLegendGraphic",
    "GetTile",
    "GetFeature",
    "DescribeFeatureType",
    "GetPropertyValue",
    "WMS",
    "WMTS",
    "WFS",
    "PM",
    "PM_0_18",
    "PM_2_3",
    "PM_0_18@2x",
    "LAMB93_0_18",
    "WebMercatorQuad",
    "-0",
    "+1",
    "0x10",
    "1e3",
    "TRUE",
    "false",
    "yes",
    "normal",
    "default",
    "hypsometric",
    "fancy",
    "communes",
    "dem",
    "tuilerie:communes",
    "communes.1",
    "communes.999999999999",
    "(communes)(dem)",
    "S_INTERSECTS(geom,POINT(1 2))",
    "name = 'x'",
    "name LIKE '%",
    "BBOX(0,0,1,1",
    "((((((((((",
    "json",
    "html",
    "geojson",
    "xml",
    "65536",
    "16384",
    "2048",
    "100000",
];
const WMS_KEYS: &[&str] = &[
    "SERVICE",
    "REQUEST",
    "VERSION",
    "LAYERS",
    "STYLES",
    "CRS",
    "SRS",
    "BBOX",
    "WIDTH",
    "HEIGHT",
    "FORMAT",
    "TRANSPARENT",
    "BGCOLOR",
    "QUERY_LAYERS",
    "INFO_FORMAT",
    "I",
    "J",
    "X",
    "Y",
    "FEATURE_COUNT",
    "DPI",
    "MAP_RESOLUTION",
    "FORMAT_OPTIONS",
    "EXCEPTIONS",
    "LAYER",
    "SLD_BODY",
    "TIME",
    "apikey",
];
const WMTS_KEYS: &[&str] = &[
    "SERVICE",
    "REQUEST",
    "VERSION",
    "LAYER",
    "STYLE",
    "FORMAT",
    "TILEMATRIXSET",
    "TILEMATRIX",
    "TILEROW",
    "TILECOL",
    "INFOFORMAT",
    "I",
    "J",
    "apikey",
];
const WFS_KEYS: &[&str] = &[
    "SERVICE",
    "REQUEST",
    "VERSION",
    "TYPENAMES",
    "TYPENAME",
    "COUNT",
    "MAXFEATURES",
    "STARTINDEX",
    "BBOX",
    "SRSNAME",
    "OUTPUTFORMAT",
    "RESULTTYPE",
    "FILTER",
    "RESOURCEID",
    "FEATUREID",
    "PROPERTYNAME",
    "SORTBY",
    "VALUEREFERENCE",
    "STOREDQUERY_ID",
    "ID",
];
const OGCAPI_KEYS: &[&str] = &[
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "departement",
    "datetime",
    "properties",
    "sortby",
    "width",
    "height",
    "scale-denominator",
    "mm-per-pixel",
    "bgcolor",
    "transparent",
    "collections",
];
const TMS_KEYS: &[&str] = &["format", "scale", "style", "apikey"];
const METHODS: &[&str] = &[
    "GET", "GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE",
    "BREW",
];
const XML_BODIES: &[&str] = &[
    "",
    "<",
    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]><wfs:GetFeature xmlns:wfs=\"http://www.opengis.net/wfs/2.0\">&c;</wfs:GetFeature>",
    "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><GetFeature>&e;</GetFeature>",
    "<wfs:GetFeature service=\"WFS\" version=\"2.0.0\" xmlns:wfs=\"http://www.opengis.net/wfs/2.0\" xmlns:fes=\"http://www.opengis.net/fes/2.0\"><wfs:Query typeNames=\"communes\"><fes:Filter><fes:BBOX><fes:ValueReference>geom</fes:ValueReference></fes:BBOX></fes:Filter></wfs:Query></wfs:GetFeature>",
    "<wfs:GetFeature service=\"WFS\" version=\"2.0.0\" count=\"-5\" xmlns:wfs=\"http://www.opengis.net/wfs/2.0\"><wfs:Query typeNames=\"\"/></wfs:GetFeature>",
    "{\"not\": \"xml\"}",
    "\u{0}\u{1}\u{2}binary",
];
const JSON_BODIES: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "{\"name\": 5}",
    "{\"layer\": \"communes\", \"levels\": \"0-99\"}",
    "{\"type\": \"WMS-VECTOR\", \"layer_name\": \"../x\"}",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}}}",
    "{\"endpoint\": \"wms-vector\", \"open\": \"maybe\"}",
    "\"\u{7f}\"",
];

/// A query string of `n` random parameters among `keys` (and some unknown ones, repeated ones,
/// huge values and broken encodings).
fn query(rng: &mut Rng, keys: &[&str]) -> String {
    let mut out = String::new();
    let n = rng.below(12);
    for i in 0..n {
        if i > 0 {
            out.push('&');
        }
        let key = if rng.chance(10) {
            rng.pick(&["", "%zz", "a%20b", "x", "&&", "=", "service", "Service"])
        } else {
            rng.pick(keys)
        };
        let value = if rng.chance(3) {
            "x".repeat(1 + rng.below(6000))
        } else if rng.chance(20) {
            rng.pick(LAYERS).to_owned()
        } else {
            rng.pick(VALUES).to_owned()
        };
        let _ = write!(out, "{key}={}", value.replace(' ', "%20"));
    }
    out
}

fn number(rng: &mut Rng) -> String {
    rng.pick(&[
        "0",
        "1",
        "2",
        "3",
        "12",
        "-1",
        "99999999999",
        "NaN",
        "a",
        "",
        "1.5",
        "%31",
        "0x1",
        "18446744073709551616",
        "1409",
        "2074",
    ])
    .to_owned()
}

/// One request target and body.
fn target(rng: &mut Rng) -> (String, &'static str, String) {
    let layer = rng.pick(LAYERS);
    let ext = rng.pick(&[
        "png", "jpeg", "jpg", "webp", "png8", "pbf", "mvt", "tiff", "bil", "gif", "", "png.png",
        "%2e",
    ]);
    let (z, x, y) = (number(rng), number(rng), number(rng));
    match rng.below(20) {
        0..=3 => (format!("/wms?{}", query(rng, WMS_KEYS)), "", String::new()),
        4..=5 => (
            format!("/wmts?{}", query(rng, WMTS_KEYS)),
            "",
            String::new(),
        ),
        6..=7 => {
            let style = rng.pick(&["normal", "default", "hypsometric", "fancy", "", "%zz"]);
            let set = rng.pick(&[
                "PM",
                "PM_0_18",
                "PM_2_3",
                "PM_0_18@2x",
                "LAMB93_0_18",
                "x",
                "",
            ]);
            (
                format!("/wmts/{layer}/{style}/{set}/{z}/{y}/{x}.{ext}"),
                "",
                String::new(),
            )
        }
        8..=9 => (
            format!("/tms/1.0.0/{layer}/{z}/{x}/{y}.{ext}"),
            "",
            String::new(),
        ),
        10 => (
            format!(
                "/tms/1.0.0/{layer}/{}?{}",
                rng.pick(&["metadata.json", "style.json", "", "x", "../../x"]),
                query(rng, TMS_KEYS)
            ),
            "",
            String::new(),
        ),
        11..=12 => (format!("/wfs?{}", query(rng, WFS_KEYS)), "", String::new()),
        13 => (
            format!("/wfs?{}", query(rng, WFS_KEYS)),
            "application/xml",
            rng.pick(XML_BODIES).to_owned(),
        ),
        14..=15 => {
            let path = rng.pick(&[
                "",
                "/conformance",
                "/api",
                "/collections",
                "/collections/communes",
                "/collections/communes/items",
                "/collections/communes/items/1",
                "/collections/communes/items/999999999999999999999",
                "/collections/nope/items",
                "/collections/communes/queryables",
                "/collections/%zz/items",
                "/map",
                "/collections/communes/map",
                "/collections/dem/map",
                "/collections/dem/styles/hypsometric/map",
                "/collections/communes/styles/nope/map",
                "/collections/communes/styles",
                "/tileMatrixSets",
                "/tileMatrixSets/PM_2_3",
                "/tileMatrixSets/%00",
                "/collections/communes/map/tiles",
                "/collections/communes/map/tiles/WebMercatorQuad",
                "/collections/communes/map/tiles/WebMercatorQuad/12/1409/2073",
                "/collections/communes/map/tiles/WebMercatorQuad/99/-1/1e9",
                "/collections/communes/tiles/WebMercatorQuad/12/1409/2073",
                "/collections/dem/coverage/tiles/PM_2_3/3/2/3",
                "/collections/dem/coverage/tiles/PM_2_3/3/99999999999999999999/3",
                "/collections/dem/styles/hypsometric/map/tiles/PM_2_3/3/2/3",
                "/collections/ortho/map/tiles/PM_2_3/nan/2/3",
            ]);
            (
                format!("/ogcapi{path}?{}", query(rng, OGCAPI_KEYS)),
                "",
                String::new(),
            )
        }
        16..=17 => {
            let path = rng.pick(&[
                "/api/datastores/default/uploads",
                "/api/datastores/default/seeds",
                "/api/datastores/other/offerings",
                "/api/auth/token",
                "/api/users/me",
                "/api/openapi.json",
                "/api/datastores/default/configurations/x",
                "/api/datastores/../../etc/processings",
            ]);
            let content = rng.pick(&[
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "",
            ]);
            (path.to_owned(), content, rng.pick(JSON_BODIES).to_owned())
        }
        _ => {
            let path = rng.pick(&[
                "/",
                "/health",
                "/metrics",
                "/%2e%2e/%2e%2e/etc/passwd",
                "/../../etc/passwd",
                "//",
                "/preview.js",
                "/?layer=communes&service=wmts",
                "/?apikey=%zz",
                "/wms/../wmts",
                "/tms/1.0.0",
                "/tms/1.0.0/",
                "/wmts/1.0.0/WMTSCapabilities.xml",
                "/%ff",
                "/x?%",
                "/wms?&&&&",
                "/wms?=%",
                "*",
            ]);
            (path.to_owned(), "", String::new())
        }
    }
}

#[test]
fn ten_thousand_malformed_requests_get_no_5xx() {
    let dir = tempfile::tempdir().unwrap();
    write_test_pyramids(dir.path());
    let fixtures = repo().join("fixtures");
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "[api]\ntoken = \"secret-token-for-tests\"\n\n\
             [[layers]]\nname = \"communes\"\nkind = \"vector\"\nsource = \"{gpkg}/communes_2154.gpkg\"\ntable = \"Communes-IDF\"\nstyle = \"{wms}/communes.sld\"\nwfs = true\n\n\
             [[layers]]\nname = \"dem\"\nkind = \"pyramid\"\npyramid = \"dem/pyramid.json\"\ngetfeatureinfo = true\nstyle = \"{wms}/dem.sld\"\n\n\
             [[layers]]\nname = \"ortho\"\nkind = \"pyramid\"\npyramid = \"ortho/pyramid.json\"\n",
            gpkg = fixtures.join("gpkg").display(),
            wms = fixtures.join("wms").display(),
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let mut rng = Rng(0x5eed_2026_1205_0017);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for _ in 0..REQUESTS {
        let (target, content_type, body) = target(&mut rng);
        // Mostly the method the route takes (POST where there is a body), else any.
        let method = if rng.chance(20) {
            rng.pick(METHODS)
        } else if content_type.is_empty() {
            "GET"
        } else {
            "POST"
        };
        let mut request =
            format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if rng.chance(10) {
            request.push_str("X-Api-Key: wrong-key\r\n");
        }
        if rng.chance(5) {
            request.push_str("Authorization: Bearer secret-token-for-tests\r\n");
        }
        if !content_type.is_empty() {
            let _ = write!(request, "Content-Type: {content_type}\r\n");
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            let _ = write!(request, "Content-Length: {}\r\n", body.len());
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let answer = server.raw(request.as_bytes());
        let status = answer
            .split_whitespace()
            .nth(1)
            .unwrap_or("no-answer")
            .to_owned();
        if status.starts_with('5') || status == "no-answer" {
            failures.push(format!(
                "{status} for {method} {}",
                &target[..target.len().min(300)]
            ));
        }
        *counts.entry(status).or_default() += 1;
    }
    println!("{REQUESTS} malformed or hostile requests, by status: {counts:?}");
    assert!(
        failures.is_empty(),
        "{} requests got a 5xx or no answer, e.g.:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    let (status, _, body) = get(&server.url("/health"));
    assert_eq!(status, 200, "{body}");
}
