//! MapServer as an oracle: the same GeoPackage drawn with the same SLD by `mapserv` (Debian's
//! cgi-mapserver, run as a CGI with `SLD_BODY`) and by this crate, compared pixel by pixel.
//!
//! Not a pixel-equality test — anti-aliasing, label fonts and placement differ — but a guard
//! against gross errors: a wrong colour, a wrong rule, a missing or misplaced feature. Each case
//! prints its similarity (the share of pixels whose colours agree within 48 levels) and how
//! many pixels of each of the style's colours both images hold; side-by-side images (MapServer |
//! Tuilerie) go to `target/render-vs-mapserver/`. Skipped, with a message, without mapserv.
#![allow(clippy::unwrap_used, clippy::needless_raw_string_hashes)]

use std::path::{Path, PathBuf};
use std::process::Command;

use render::{MapRequest, RenderLayer, Renderer, RendererOptions, STANDARD_DPI};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mapserv() -> Option<PathBuf> {
    ["/usr/lib/cgi-bin/mapserv", "/usr/bin/mapserv"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

struct Case {
    name: &'static str,
    gpkg: &'static str,
    table: &'static str,
    /// Mapfile layer name (= the SLD's NamedLayer name).
    layer: &'static str,
    epsg: u32,
    sld: String,
    /// EPSG:3857 bbox.
    bbox: [f64; 4],
    size: (u32, u32),
    /// Colours the style paints, each expected in both images in similar amounts.
    colours: Vec<[u8; 3]>,
}

fn countries_sld(body: &str) -> String {
    format!(
        r##"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc"><NamedLayer><Name>countries</Name><UserStyle><Name>s</Name><FeatureTypeStyle>{body}</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"##
    )
}

fn cases() -> Vec<Case> {
    let europe = [-1_200_000.0, 4_300_000.0, 2_800_000.0, 7_300_000.0];
    let categorized = r##"
<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>France</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>
  <PolygonSymbolizer><Fill><CssParameter name="fill">#1F78B4</CssParameter></Fill><Stroke><CssParameter name="stroke">#333333</CssParameter><CssParameter name="stroke-width">1</CssParameter></Stroke></PolygonSymbolizer></Rule>
<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>Germany</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>
  <PolygonSymbolizer><Fill><CssParameter name="fill">#E31A1C</CssParameter></Fill><Stroke><CssParameter name="stroke">#333333</CssParameter><CssParameter name="stroke-width">1</CssParameter></Stroke></PolygonSymbolizer></Rule>
<Rule><ElseFilter/>
  <PolygonSymbolizer><Fill><CssParameter name="fill">#D9D2C5</CssParameter></Fill><Stroke><CssParameter name="stroke">#333333</CssParameter><CssParameter name="stroke-width">1</CssParameter></Stroke></PolygonSymbolizer></Rule>"##;
    // MapServer reads one FeatureTypeStyle per layer: the labels go inside each rule.
    let labelled = categorized.replace(
        "</PolygonSymbolizer></Rule>",
        r##"</PolygonSymbolizer><TextSymbolizer><Label><ogc:PropertyName>name</ogc:PropertyName></Label><Font><CssParameter name="font-family">DejaVu Sans</CssParameter><CssParameter name="font-size">11</CssParameter></Font><Halo><Radius>1.5</Radius><Fill><CssParameter name="fill">#FFFFFF</CssParameter></Fill></Halo><Fill><CssParameter name="fill">#000000</CssParameter></Fill></TextSymbolizer></Rule>"##,
    );
    vec![
        Case {
            name: "countries_categorized",
            gpkg: "world.gpkg",
            table: "countries",
            layer: "countries",
            epsg: 4326,
            sld: countries_sld(categorized),
            bbox: europe,
            size: (400, 300),
            colours: vec![[0x1F, 0x78, 0xB4], [0xE3, 0x1A, 0x1C], [0xD9, 0xD2, 0xC5]],
        },
        Case {
            name: "countries_categorized_labelled",
            gpkg: "world.gpkg",
            table: "countries",
            layer: "countries",
            epsg: 4326,
            sld: countries_sld(&labelled),
            bbox: europe,
            size: (800, 600),
            colours: vec![[0x1F, 0x78, 0xB4], [0xE3, 0x1A, 0x1C], [0xD9, 0xD2, 0xC5]],
        },
        Case {
            name: "countries_outline",
            gpkg: "world.gpkg",
            table: "countries",
            layer: "countries",
            epsg: 4326,
            sld: countries_sld(r##"<Rule><LineSymbolizer><Stroke><CssParameter name="stroke">#E31A1C</CssParameter><CssParameter name="stroke-width">2</CssParameter></Stroke></LineSymbolizer></Rule>"##),
            bbox: europe,
            size: (400, 300),
            colours: vec![[0xE3, 0x1A, 0x1C]],
        },
        Case {
            name: "schools_circles",
            gpkg: "communes_2154.gpkg",
            table: "Écoles",
            layer: "ecoles",
            epsg: 2154,
            sld: r##"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc"><NamedLayer><Name>ecoles</Name><UserStyle><Name>s</Name><FeatureTypeStyle>
<Rule><PointSymbolizer><Graphic><Mark><WellKnownName>circle</WellKnownName><Fill><CssParameter name="fill">#6A3D9A</CssParameter></Fill></Mark><Size>10</Size></Graphic></PointSymbolizer></Rule>
</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"##.to_owned(),
            bbox: [258_000.0, 6_240_000.0, 287_000.0, 6_262_000.0],
            size: (400, 300),
            colours: vec![[0x6A, 0x3D, 0x9A]],
        },
    ]
}

fn mapfile(dir: &Path, case: &Case) -> PathBuf {
    let font = root().join("crates/render/fonts/DejaVuSans.ttf");
    let bold = root().join("crates/render/fonts/DejaVuSans-Bold.ttf");
    let fonts = dir.join("fonts.txt");
    std::fs::write(
        &fonts,
        format!(
            "\"DejaVu Sans\" {0}\n\"DejaVu Sans-bold\" {1}\n\"DejaVu Sans-italic\" {0}\n\"DejaVu Sans-bold-italic\" {1}\n",
            font.display(),
            bold.display()
        ),
    )
    .unwrap();
    let map = format!(
        r#"MAP
  NAME "oracle"
  EXTENT -20037508 -20037508 20037508 20037508
  SIZE 400 300
  MAXSIZE 4096
  FONTSET "{fonts}"
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:3857" END
  OUTPUTFORMAT NAME "png" DRIVER "AGG/PNG" MIMETYPE "image/png" IMAGEMODE RGB EXTENSION "png" END
  WEB METADATA "wms_title" "oracle" "wms_enable_request" "*" "wms_srs" "EPSG:3857" END END
  LAYER
    NAME "{layer}"
    TYPE {kind}
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "{gpkg}"
    DATA "{table}"
    PROJECTION "init=epsg:{epsg}" END
    METADATA "wms_title" "{layer}" END
    CLASS STYLE COLOR 128 128 128 END END
  END
END
"#,
        fonts = fonts.display(),
        layer = case.layer,
        kind = if case.layer == "ecoles" {
            "POINT"
        } else {
            "POLYGON"
        },
        gpkg = root().join("fixtures/gpkg").join(case.gpkg).display(),
        table = case.table,
        epsg = case.epsg,
    );
    let path = dir.join(format!("{}.map", case.name));
    std::fs::write(&path, map).unwrap();
    path
}

fn encode_query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The image MapServer draws, through its CGI interface.
fn mapserver_image(binary: &Path, dir: &Path, case: &Case) -> image::RgbaImage {
    let map = mapfile(dir, case);
    let config = dir.join("mapserver.conf");
    std::fs::write(
        &config,
        format!(
            "CONFIG\n  ENV\n    MS_MAP_PATTERN \"^{}\"\n  END\nEND\n",
            dir.display()
        ),
    )
    .unwrap();
    let bbox = case.bbox.map(|v| v.to_string()).join(",");
    let (w, h) = (case.size.0.to_string(), case.size.1.to_string());
    let query = encode_query(&[
        ("map", map.to_str().unwrap()),
        ("SERVICE", "WMS"),
        ("VERSION", "1.3.0"),
        ("REQUEST", "GetMap"),
        ("LAYERS", case.layer),
        ("STYLES", ""),
        ("CRS", "EPSG:3857"),
        ("BBOX", &bbox),
        ("WIDTH", &w),
        ("HEIGHT", &h),
        ("FORMAT", "image/png"),
        ("SLD_BODY", &case.sld),
    ]);
    let output = Command::new(binary)
        .env("MAPSERVER_CONFIG_FILE", &config)
        .env("REQUEST_METHOD", "GET")
        .env("QUERY_STRING", &query)
        .output()
        .unwrap();
    let body = output.stdout;
    let start = body.windows(4).position(|w| w == b"\r\n\r\n").map_or_else(
        || panic!("no CGI header: {}", String::from_utf8_lossy(&body)),
        |p| p + 4,
    );
    image::load_from_memory(&body[start..])
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: {}",
                case.name,
                String::from_utf8_lossy(&body[start..])
            )
        })
        .to_rgba8()
}

/// The image this crate draws from the same data.
fn our_image(data: &Path, case: &Case) -> image::RgbaImage {
    let report = vectorstore::ingest(
        &root().join("fixtures/gpkg").join(case.gpkg),
        data,
        &format!("oracle_{}", case.name),
        &vectorstore::IngestOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let store = vectorstore::Store::open(
        &report.stored.unwrap(),
        vectorstore::StoreOptions::default(),
    )
    .unwrap();
    let crs = crs::Crs::web_mercator();
    let [a, b, c, d] = case.bbox;
    let extent = crs::Bbox::new(a, b, c, d).unwrap();
    let request = MapRequest {
        extent,
        crs: crs.clone(),
        width: case.size.0,
        height: case.size.1,
        dpi: STANDARD_DPI,
        background: [255, 255, 255, 255],
        transparent: false,
        buffer: 0,
    };
    let layer = store.layer(case.table).unwrap().clone();
    let attributes: Vec<&str> = layer.attributes.iter().map(|a| a.name.as_str()).collect();
    let features: Vec<vectorstore::Feature> = store
        .features(
            &layer.name,
            &extent,
            &crs,
            request.scale_denominator(),
            &attributes,
        )
        .unwrap()
        .collect();
    let sld = sld::parse(&case.sld).unwrap();
    let style = sld.default_style().unwrap();
    let renderer = Renderer::new(RendererOptions::default()).unwrap();
    let image = renderer
        .render(
            &request,
            &[RenderLayer {
                features: &features,
                style,
            }],
        )
        .unwrap();
    image::RgbaImage::from_raw(case.size.0, case.size.1, image.to_rgba8()).unwrap()
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

#[test]
fn mapserver_and_tuilerie_draw_the_same_maps() {
    let Some(binary) = mapserv() else {
        eprintln!("skipped: mapserv (Debian cgi-mapserver) is not installed");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let out = root().join("target/render-vs-mapserver");
    std::fs::create_dir_all(&out).unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let theirs = mapserver_image(&binary, temp.path(), &case);
        let ours = our_image(&temp.path().join("data"), &case);
        assert_eq!(theirs.dimensions(), ours.dimensions());
        let total = f64::from(ours.width() * ours.height());
        let agreeing = ours
            .pixels()
            .zip(theirs.pixels())
            .filter(|(a, b)| close([a[0], a[1], a[2]], [b[0], b[1], b[2]], 48))
            .count() as f64;
        let similarity = agreeing / total;
        let mut counts = Vec::new();
        for colour in &case.colours {
            let count = |img: &image::RgbaImage| {
                img.pixels()
                    .filter(|p| close([p[0], p[1], p[2]], *colour, 24))
                    .count()
            };
            counts.push((*colour, count(&theirs), count(&ours)));
        }
        let mut sheet = image::RgbaImage::from_pixel(
            ours.width() * 2 + 4,
            ours.height(),
            image::Rgba([255, 0, 255, 255]),
        );
        image::imageops::overlay(&mut sheet, &theirs, 0, 0);
        image::imageops::overlay(&mut sheet, &ours, i64::from(ours.width() + 4), 0);
        sheet.save(out.join(format!("{}.png", case.name))).unwrap();
        println!(
            "{:34} similarity {:.3}  colour pixels (mapserver, tuilerie): {counts:?}",
            case.name, similarity
        );
        if similarity < 0.9 {
            failures.push(format!("{}: similarity {similarity:.3} < 0.9", case.name));
        }
        for (colour, theirs, ours) in counts {
            let (t, o) = (theirs as f64, ours as f64);
            if t < 50.0 || (o - t).abs() > 0.2 * t + 50.0 {
                failures.push(format!(
                    "{}: colour {colour:?}: {theirs} pixels in MapServer's image, {ours} in ours",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(side by side in {})",
        failures.join("\n"),
        out.display()
    );
}
