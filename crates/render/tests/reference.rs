//! Reference images: one case = data + style + an expected PNG under
//! `fixtures/render/expected/`, compared with an explicit per-channel tolerance.
//!
//! On a mismatch, `target/render-diffs/{case}.png` shows expected | difference | actual. With
//! `UPDATE_REFERENCES=1` the references are written anew (then look at them:
//! `target/render-diffs/contact-sheet.png` shows every case); a missing reference fails the
//! test otherwise, so CI never creates one.
#![allow(
    clippy::unwrap_used,
    clippy::too_many_lines,
    clippy::needless_raw_string_hashes,
    clippy::format_collect
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use render::{
    encode, style_raster, Image, ImageFormat, LegendOptions, MapRequest, RenderLayer, Renderer,
    RendererOptions, STANDARD_DPI,
};
use vectorstore::{Feature, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn renderer() -> Renderer {
    Renderer::new(RendererOptions {
        font_dir: None,
        graphics_dir: Some(root().join("fixtures/render")),
    })
    .unwrap()
}

fn feature(fid: i64, geometry: Geometry<f64>, properties: &[(&str, Value)]) -> Feature {
    Feature {
        fid,
        geometry,
        properties: properties
            .iter()
            .map(|(k, v)| (Arc::from(*k), v.clone()))
            .collect(),
    }
}

fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}

fn ring(points: &[(f64, f64)]) -> LineString<f64> {
    LineString::from(points.to_vec())
}

/// Four polygons: a square, an L, a square with a hole, a triangle; categories 1–4, names.
fn polygons() -> Vec<Feature> {
    vec![
        feature(
            1,
            Geometry::Polygon(Polygon::new(
                ring(&[
                    (20.0, 140.0),
                    (110.0, 140.0),
                    (110.0, 230.0),
                    (20.0, 230.0),
                    (20.0, 140.0),
                ]),
                vec![],
            )),
            &[
                ("cat", Value::Integer(1)),
                ("name", text("Alpha")),
                ("color", text("#E41A1C")),
            ],
        ),
        feature(
            2,
            Geometry::Polygon(Polygon::new(
                ring(&[
                    (140.0, 140.0),
                    (236.0, 140.0),
                    (236.0, 170.0),
                    (170.0, 170.0),
                    (170.0, 236.0),
                    (140.0, 236.0),
                    (140.0, 140.0),
                ]),
                vec![],
            )),
            &[
                ("cat", Value::Integer(2)),
                ("name", text("Bravo")),
                ("color", text("#377EB8")),
            ],
        ),
        feature(
            3,
            Geometry::Polygon(Polygon::new(
                ring(&[
                    (20.0, 20.0),
                    (120.0, 20.0),
                    (120.0, 120.0),
                    (20.0, 120.0),
                    (20.0, 20.0),
                ]),
                vec![ring(&[
                    (50.0, 50.0),
                    (90.0, 50.0),
                    (90.0, 90.0),
                    (50.0, 90.0),
                    (50.0, 50.0),
                ])],
            )),
            &[
                ("cat", Value::Integer(3)),
                ("name", text("Charlie")),
                ("color", text("#4DAF4A")),
            ],
        ),
        feature(
            4,
            Geometry::MultiPolygon(MultiPolygon(vec![Polygon::new(
                ring(&[(150.0, 20.0), (236.0, 20.0), (193.0, 110.0), (150.0, 20.0)]),
                vec![],
            )])),
            &[
                ("cat", Value::Integer(4)),
                ("name", text("Delta")),
                ("color", text("#FF7F00")),
            ],
        ),
    ]
}

/// Three lines: a straight one, a zigzag and a sine wave.
fn lines() -> Vec<Feature> {
    let sine: Vec<(f64, f64)> = (0..=60)
        .map(|k| {
            let x = 16.0 + f64::from(k) * 224.0 / 60.0;
            (x, 60.0 + 25.0 * (x / 30.0).sin())
        })
        .collect();
    vec![
        feature(
            1,
            Geometry::LineString(ring(&[(16.0, 220.0), (240.0, 200.0)])),
            &[("name", text("Rue droite")), ("kind", text("main"))],
        ),
        feature(
            2,
            Geometry::LineString(ring(&[
                (16.0, 150.0),
                (70.0, 110.0),
                (120.0, 160.0),
                (180.0, 110.0),
                (240.0, 150.0),
            ])),
            &[
                ("name", text("Chemin des zigzags")),
                ("kind", text("minor")),
            ],
        ),
        feature(
            3,
            Geometry::LineString(LineString::from(sine)),
            &[("name", text("Route de la vague")), ("kind", text("main"))],
        ),
    ]
}

/// A 4×4 grid of points with sizes, angles, names and a shape name.
fn points() -> Vec<Feature> {
    let shapes = [
        "shape://vertline",
        "shape://horline",
        "shape://slash",
        "shape://backslash",
        "shape://plus",
        "shape://times",
        "shape://oarrow",
        "shape://carrow",
        "shape://dot",
        "square",
        "circle",
        "triangle",
        "star",
        "cross",
        "x",
        "square",
    ];
    let mut out = Vec::new();
    for k in 0..16i64 {
        let (i, j) = ((k % 4) as f64, (k / 4) as f64);
        out.push(feature(
            k,
            Geometry::Point(Point::new(40.0 + i * 58.0, 216.0 - j * 58.0)),
            &[
                ("size", Value::Real(8.0 + 2.0 * k as f64)),
                ("angle", Value::Real(k as f64 * 22.5)),
                ("name", text(&format!("P{k}"))),
                ("shape", text(shapes[k as usize])),
            ],
        ));
    }
    out
}

/// Degenerate geometry: empty, one point lines, zero-area rings, NaN, huge coordinates.
fn degenerate() -> Vec<Feature> {
    let nan = f64::NAN;
    vec![
        feature(1, Geometry::Polygon(Polygon::new(ring(&[]), vec![])), &[]),
        feature(2, Geometry::LineString(ring(&[(10.0, 10.0)])), &[]),
        feature(
            3,
            Geometry::LineString(ring(&[(10.0, 10.0), (10.0, 10.0)])),
            &[],
        ),
        feature(
            4,
            Geometry::Polygon(Polygon::new(
                ring(&[(50.0, 50.0), (60.0, 50.0), (70.0, 50.0), (50.0, 50.0)]),
                vec![],
            )),
            &[],
        ),
        feature(
            5,
            Geometry::Polygon(Polygon::new(
                ring(&[(nan, 1.0), (2.0, nan), (3.0, 3.0), (nan, 1.0)]),
                vec![],
            )),
            &[],
        ),
        feature(
            6,
            Geometry::Polygon(Polygon::new(
                ring(&[
                    (-1e300, -1e300),
                    (1e300, -1e300),
                    (128.0, 1e300),
                    (-1e300, -1e300),
                ]),
                vec![],
            )),
            &[("name", text("Huge"))],
        ),
        feature(
            7,
            Geometry::LineString(ring(&[(-1e12, 128.0), (1e12, 129.0)])),
            &[("name", text("Long"))],
        ),
        feature(
            8,
            Geometry::Point(Point::new(nan, nan)),
            &[("name", text("Nowhere"))],
        ),
        feature(9, Geometry::MultiPoint(geo_types::MultiPoint(vec![])), &[]),
        feature(
            10,
            Geometry::GeometryCollection(geo_types::GeometryCollection(vec![Geometry::Point(
                Point::new(200.0, 200.0),
            )])),
            &[("name", text("In a collection"))],
        ),
        feature(
            11,
            Geometry::Rect(geo_types::Rect::new(
                Coord { x: 180.0, y: 20.0 },
                Coord { x: 230.0, y: 60.0 },
            )),
            &[("name", text("Rect"))],
        ),
    ]
}

/// An SLD 1.0.0 document around the `FeatureTypeStyle` contents given.
fn sld(rules: &str) -> sld::UserStyle {
    let text = format!(
        r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:xlink="http://www.w3.org/1999/xlink">
<NamedLayer><Name>t</Name><UserStyle><FeatureTypeStyle>{rules}</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#
    );
    let parsed = sld::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let problems = parsed.validate();
    assert!(
        problems.iter().all(|p| p.severity != sld::Severity::Error),
        "{problems:?}\n{text}"
    );
    parsed.default_style().unwrap().clone()
}

fn request(size: u32, dpi: f64) -> MapRequest {
    MapRequest {
        extent: crs::Bbox::new(0.0, 0.0, 256.0, 256.0).unwrap(),
        crs: crs::Crs::web_mercator(),
        width: size,
        height: size,
        dpi,
        background: [255, 255, 255, 255],
        transparent: false,
        buffer: 0,
    }
}

fn map(features: &[Feature], rules: &str) -> Image {
    map_with(features, rules, &request(256, STANDARD_DPI))
}

fn map_with(features: &[Feature], rules: &str, request: &MapRequest) -> Image {
    let style = sld(rules);
    renderer()
        .render(
            request,
            &[RenderLayer {
                features,
                style: &style,
            }],
        )
        .unwrap()
}

const FILL: &str = r##"<Fill><CssParameter name="fill">#6BAED6</CssParameter></Fill>"##;
const STROKE: &str = r##"<Stroke><CssParameter name="stroke">#08306B</CssParameter><CssParameter name="stroke-width">2</CssParameter></Stroke>"##;

fn mark(name: &str, size: &str, extra: &str) -> String {
    format!(
        r##"<Rule><PointSymbolizer><Graphic><Mark><WellKnownName>{name}</WellKnownName><Fill><CssParameter name="fill">#FF7F00</CssParameter></Fill><Stroke><CssParameter name="stroke">#000000</CssParameter><CssParameter name="stroke-width">1.5</CssParameter></Stroke></Mark><Size>{size}</Size>{extra}</Graphic></PointSymbolizer></Rule>"##
    )
}

fn label(extra_font: &str, placement: &str, vendor: &str) -> String {
    format!(
        r##"<TextSymbolizer><Label><ogc:PropertyName>name</ogc:PropertyName></Label><Font><CssParameter name="font-family">DejaVu Sans</CssParameter><CssParameter name="font-size">12</CssParameter>{extra_font}</Font>{placement}<Halo><Radius>1.5</Radius><Fill><CssParameter name="fill">#FFFFFF</CssParameter></Fill></Halo><Fill><CssParameter name="fill">#222222</CssParameter></Fill>{vendor}</TextSymbolizer>"##
    )
}

fn categorized() -> String {
    ["#E41A1C", "#377EB8", "#4DAF4A", "#FF7F00"]
        .iter()
        .enumerate()
        .map(|(k, c)| {
            format!(
                r##"<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>cat</ogc:PropertyName><ogc:Literal>{}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter><PolygonSymbolizer><Fill><CssParameter name="fill">{c}</CssParameter></Fill>{STROKE}</PolygonSymbolizer></Rule>"##,
                k + 1
            )
        })
        .collect()
}

/// Every case: name and its image.
fn cases() -> Vec<(&'static str, Image)> {
    let polys = polygons();
    let lines = lines();
    let points = points();
    let poly = |inner: &str| format!("<Rule><PolygonSymbolizer>{inner}</PolygonSymbolizer></Rule>");
    let line = |inner: &str| format!("<Rule><LineSymbolizer>{inner}</LineSymbolizer></Rule>");
    let stroke = |params: &str| {
        format!(r##"<Stroke><CssParameter name="stroke">#08519C</CssParameter>{params}</Stroke>"##)
    };
    let mut cases: Vec<(&'static str, Image)> = vec![
        ("polygon_fill", map(&polys, &poly(FILL))),
        ("polygon_fill_and_stroke", map(&polys, &poly(&format!("{FILL}{STROKE}")))),
        ("polygon_opacity", map(&polys, &poly(r##"<Fill><CssParameter name="fill">#08306B</CssParameter><CssParameter name="fill-opacity">0.35</CssParameter></Fill>"##))),
        ("polygon_stroke_only", map(&polys, &poly(STROKE))),
        ("polygon_categorized", map(&polys, &categorized())),
        (
            "polygon_else_filter",
            map(&polys, &format!(
                r##"<Rule><ogc:Filter><ogc:PropertyIsGreaterThan><ogc:PropertyName>cat</ogc:PropertyName><ogc:Literal>2</ogc:Literal></ogc:PropertyIsGreaterThan></ogc:Filter><PolygonSymbolizer>{FILL}</PolygonSymbolizer></Rule><Rule><ElseFilter/><PolygonSymbolizer><Fill><CssParameter name="fill">#BDBDBD</CssParameter></Fill></PolygonSymbolizer></Rule>"##
            )),
        ),
        ("polygon_fill_from_attribute", map(&polys, &poly(r#"<Fill><CssParameter name="fill"><ogc:PropertyName>color</ogc:PropertyName></CssParameter></Fill>"#))),
        (
            "polygon_hatch_fill",
            map(&polys, &poly(&format!(r##"<Fill><GraphicFill><Graphic><Mark><WellKnownName>shape://slash</WellKnownName><Stroke><CssParameter name="stroke">#990000</CssParameter><CssParameter name="stroke-width">1</CssParameter></Stroke></Mark><Size>8</Size></Graphic></GraphicFill></Fill>{STROKE}"##))),
        ),
        (
            "polygon_dot_fill",
            map(&polys, &poly(r##"<Fill><GraphicFill><Graphic><Mark><WellKnownName>circle</WellKnownName><Fill><CssParameter name="fill">#31A354</CssParameter></Fill></Mark><Size>5</Size></Graphic></GraphicFill></Fill>"##)),
        ),
        (
            "polygon_image_fill",
            map(&polys, &poly(r#"<Fill><GraphicFill><Graphic><ExternalGraphic><OnlineResource xlink:type="simple" xlink:href="pin.png"/><Format>image/png</Format></ExternalGraphic><Size>12</Size></Graphic></GraphicFill></Fill>"#)),
        ),
        (
            "polygon_displacement",
            map(&polys, &format!("{}{}", poly(r##"<Fill><CssParameter name="fill">#999999</CssParameter></Fill>"##), poly(&format!("{FILL}<Displacement><DisplacementX>-4</DisplacementX><DisplacementY>4</DisplacementY></Displacement>")))),
        ),
        ("polygon_dashed_outline", map(&polys, &poly(&stroke(r#"<CssParameter name="stroke-width">2</CssParameter><CssParameter name="stroke-dasharray">8 4</CssParameter>"#)))),
        (
            "rules_by_scale",
            map(&polys, &format!(
                r##"<Rule><MaxScaleDenominator>1000</MaxScaleDenominator><PolygonSymbolizer><Fill><CssParameter name="fill">#FF0000</CssParameter></Fill></PolygonSymbolizer></Rule><Rule><MinScaleDenominator>1000</MinScaleDenominator><MaxScaleDenominator>10000</MaxScaleDenominator><PolygonSymbolizer>{FILL}</PolygonSymbolizer></Rule>"##
            )),
        ),
        ("line_simple", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">1</CssParameter>"#)))),
        ("line_wide_round", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">10</CssParameter><CssParameter name="stroke-linecap">round</CssParameter><CssParameter name="stroke-linejoin">round</CssParameter>"#)))),
        ("line_square_caps_bevel", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">10</CssParameter><CssParameter name="stroke-linecap">square</CssParameter><CssParameter name="stroke-linejoin">bevel</CssParameter>"#)))),
        ("line_miter_butt", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">10</CssParameter>"#)))),
        ("line_dashes", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">3</CssParameter><CssParameter name="stroke-dasharray">10 5 2 5</CssParameter>"#)))),
        ("line_dash_offset", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">3</CssParameter><CssParameter name="stroke-dasharray">10 10</CssParameter><CssParameter name="stroke-dashoffset">5</CssParameter>"#)))),
        ("line_opacity", map(&lines, &line(&stroke(r#"<CssParameter name="stroke-width">12</CssParameter><CssParameter name="stroke-opacity">0.4</CssParameter>"#)))),
        (
            "line_casing",
            map(&lines, &format!(
                "{}{}",
                line(r##"<Stroke><CssParameter name="stroke">#333333</CssParameter><CssParameter name="stroke-width">9</CssParameter><CssParameter name="stroke-linecap">round</CssParameter></Stroke>"##),
                line(r##"<Stroke><CssParameter name="stroke">#FDD49E</CssParameter><CssParameter name="stroke-width">6</CssParameter><CssParameter name="stroke-linecap">round</CssParameter></Stroke>"##)
            )),
        ),
        (
            "line_perpendicular_offset",
            map(&lines, &format!(
                "{}{}",
                line(&stroke(r#"<CssParameter name="stroke-width">1</CssParameter>"#)),
                r##"<Rule><LineSymbolizer><Stroke><CssParameter name="stroke">#E31A1C</CssParameter><CssParameter name="stroke-width">2</CssParameter></Stroke><PerpendicularOffset>6</PerpendicularOffset></LineSymbolizer></Rule>"##
            )),
        ),
        (
            "line_graphic_stroke",
            map(&lines, &line(r##"<Stroke><GraphicStroke><Graphic><Mark><WellKnownName>triangle</WellKnownName><Fill><CssParameter name="fill">#6A3D9A</CssParameter></Fill></Mark><Size>8</Size></Graphic></GraphicStroke><CssParameter name="stroke-dasharray">8 6</CssParameter></Stroke>"##)),
        ),
        ("line_width_in_metres", map_with(&lines, r##"<Rule><LineSymbolizer uom="http://www.opengeospatial.org/se/units/metre"><Stroke><CssParameter name="stroke">#08519C</CssParameter><CssParameter name="stroke-width">6</CssParameter></Stroke></LineSymbolizer></Rule>"##, &request(512, STANDARD_DPI))),
        ("point_square", map(&points, &mark("square", "12", ""))),
        ("point_circle", map(&points, &mark("circle", "12", ""))),
        ("point_triangle", map(&points, &mark("triangle", "14", ""))),
        ("point_star", map(&points, &mark("star", "16", ""))),
        ("point_cross", map(&points, &mark("cross", "14", ""))),
        ("point_x", map(&points, &mark("x", "14", ""))),
        ("point_every_shape", map(&points, &every_shape())),
        ("point_size_and_rotation_from_attributes", map(&points, &mark("triangle", "<ogc:PropertyName>size</ogc:PropertyName>", "<Rotation><ogc:PropertyName>angle</ogc:PropertyName></Rotation>"))),
        (
            "point_anchor_and_displacement",
            map(&points, &format!(
                "{}{}",
                mark("circle", "4", ""),
                mark("square", "12", "<AnchorPoint><AnchorPointX>0</AnchorPointX><AnchorPointY>0</AnchorPointY></AnchorPoint><Displacement><DisplacementX>4</DisplacementX><DisplacementY>4</DisplacementY></Displacement>")
            )),
        ),
        ("point_opacity", map(&points, &mark("circle", "30", "<Opacity>0.5</Opacity>"))),
        (
            "point_external_png",
            map(&points, r#"<Rule><PointSymbolizer><Graphic><ExternalGraphic><OnlineResource xlink:type="simple" xlink:href="pin.png"/><Format>image/png</Format></ExternalGraphic><Size>24</Size></Graphic></PointSymbolizer></Rule>"#),
        ),
        ("point_default_graphic", map(&points, "<Rule><PointSymbolizer/></Rule>")),
        (
            "point_external_svg",
            map(&points, r#"<Rule><PointSymbolizer><Graphic><ExternalGraphic><OnlineResource xlink:type="simple" xlink:href="flag.svg"/><Format>image/svg+xml</Format></ExternalGraphic><Size><ogc:PropertyName>size</ogc:PropertyName></Size><Rotation><ogc:PropertyName>angle</ogc:PropertyName></Rotation></Graphic></PointSymbolizer></Rule>"#),
        ),
        (
            "point_inline_base64_png",
            map(&points, &format!(r#"<Rule><PointSymbolizer><Graphic><ExternalGraphic><InlineContent encoding="base64">{}</InlineContent><Format>image/png</Format></ExternalGraphic><Size>20</Size></Graphic></PointSymbolizer></Rule>"#, base64_of(&root().join("fixtures/render/pin.png")))),
        ),
        ("point_high_dpi", map_with(&points, &mark("star", "16", ""), &request(512, STANDARD_DPI * 2.0))),
        ("label_points_with_halo", map(&points, &format!("{}<Rule>{}</Rule>", mark("circle", "6", ""), label("", "", "")))),
        (
            "label_anchor_and_displacement",
            map(&points, &format!(
                "{}<Rule>{}</Rule>",
                mark("circle", "6", ""),
                label("", "<LabelPlacement><PointPlacement><AnchorPoint><AnchorPointX>0.5</AnchorPointX><AnchorPointY>0</AnchorPointY></AnchorPoint><Displacement><DisplacementX>0</DisplacementX><DisplacementY>6</DisplacementY></Displacement></PointPlacement></LabelPlacement>", "")
            )),
        ),
        (
            "label_rotation",
            map(&points, &format!(
                "{}<Rule>{}</Rule>",
                mark("circle", "6", ""),
                label("", "<LabelPlacement><PointPlacement><AnchorPoint><AnchorPointX>0.5</AnchorPointX><AnchorPointY>0.5</AnchorPointY></AnchorPoint><Rotation>-30</Rotation></PointPlacement></LabelPlacement>", "")
            )),
        ),
        ("label_polygons", map(&polys, &format!("{}<Rule>{}</Rule>", poly(FILL), label(r#"<CssParameter name="font-weight">bold</CssParameter>"#, "", "")))),
        (
            "label_lines_straight",
            map(&lines, &format!("{}<Rule>{}</Rule>", line(&stroke(r#"<CssParameter name="stroke-width">2</CssParameter>"#)), label("", "<LabelPlacement><LinePlacement/></LabelPlacement>", ""))),
        ),
        (
            "label_lines_follow",
            map(&lines, &format!(
                "{}<Rule>{}</Rule>",
                line(&stroke(r#"<CssParameter name="stroke-width">2</CssParameter>"#)),
                label("", "<LabelPlacement><LinePlacement><PerpendicularOffset>0</PerpendicularOffset></LinePlacement></LabelPlacement>", r#"<VendorOption name="followLine">true</VendorOption>"#)
            )),
        ),
        (
            "label_collisions_by_priority",
            map(&cluster(), &format!(
                "{}<Rule>{}</Rule>",
                mark("circle", "5", ""),
                r##"<TextSymbolizer><Label><ogc:PropertyName>name</ogc:PropertyName></Label><Font><CssParameter name="font-size">13</CssParameter></Font><Halo><Radius>1</Radius></Halo><Priority><ogc:PropertyName>rank</ogc:PropertyName></Priority></TextSymbolizer>"##
            )),
        ),
        ("label_space_around", map(&cluster(), &format!("<Rule>{}</Rule>", label("", "", r#"<VendorOption name="spaceAround">12</VendorOption>"#)))),
        ("label_max_displacement", map(&cluster(), &format!("{}<Rule>{}</Rule>", mark("circle", "5", ""), label("", "", r#"<VendorOption name="maxDisplacement">40</VendorOption>"#)))),
        ("label_group", map(&grouped_lines(), &format!("{}<Rule>{}</Rule>", line(&stroke("")), label("", "<LabelPlacement><LinePlacement/></LabelPlacement>", r#"<VendorOption name="group">yes</VendorOption>"#)))),
        ("label_scripts_and_accents", map(&scripts(), &format!("{}<Rule>{}</Rule>", mark("square", "5", ""), label("", "", "")))),
        ("label_high_dpi", map_with(&points, &format!("{}<Rule>{}</Rule>", mark("circle", "6", ""), label("", "", "")), &request(512, STANDARD_DPI * 2.0))),
        (
            "degenerate_geometry_is_skipped_or_clipped",
            map(&degenerate(), &format!("{}{}<Rule>{}</Rule>", poly(&format!("{FILL}{STROKE}")), line(&stroke(r#"<CssParameter name="stroke-width">3</CssParameter>"#)) , label("", "", ""))),
        ),
        // Features a few pixels wide are drawn in batches per paint: same look.
        ("tiny_polygons", map(&tiny(false), &categorized().replace(STROKE, ""))),
        ("tiny_lines", map(&tiny(true), &line(&stroke(r#"<CssParameter name="stroke-width">1.5</CssParameter>"#)))),
        ("transparent_background", {
            let mut r = request(256, STANDARD_DPI);
            r.transparent = true;
            map_with(&polys, &poly(&format!("{FILL}{STROKE}")), &r)
        }),
    ];
    let raster_values: Vec<f32> = (0..64 * 64)
        .map(|k| {
            if k % 64 < 4 {
                f32::NAN
            } else {
                (k % 64) as f32 * 100.0 + (k / 64) as f32 * 10.0
            }
        })
        .collect();
    for (name, map_type) in [("raster_ramp", "ramp"), ("raster_intervals", "intervals")] {
        let style = sld(&format!(
            r##"<Rule><RasterSymbolizer><ColorMap type="{map_type}"><ColorMapEntry color="#2B83BA" quantity="0"/><ColorMapEntry color="#FFFFBF" quantity="3500"/><ColorMapEntry color="#D7191C" quantity="7000"/></ColorMap></RasterSymbolizer></Rule>"##
        ));
        let sld::Symbolizer::Raster(symbolizer) =
            &style.feature_type_styles[0].rules[0].symbolizers[0]
        else {
            panic!("raster");
        };
        cases.push((
            name,
            style_raster(symbolizer, &[&raster_values], 64, 64, None).unwrap(),
        ));
    }
    let legend_style = sld(&format!(
        r##"{}<Rule><Name>roads</Name><Title>Roads</Title>{}</Rule><Rule><Name>pois</Name><Title>Points of interest</Title>{}</Rule>"##,
        categorized().replace("<Rule>", "<Rule><Title>Category</Title>"),
        r##"<LineSymbolizer><Stroke><CssParameter name="stroke">#08519C</CssParameter><CssParameter name="stroke-width">3</CssParameter></Stroke></LineSymbolizer>"##,
        r##"<PointSymbolizer><Graphic><Mark><WellKnownName>star</WellKnownName><Fill><CssParameter name="fill">#FFD700</CssParameter></Fill></Mark><Size>14</Size></Graphic></PointSymbolizer>"##
    ));
    cases.push((
        "legend_every_rule",
        renderer()
            .legend(&legend_style, &LegendOptions::default())
            .unwrap(),
    ));
    cases.push((
        "legend_one_rule",
        renderer()
            .legend(
                &legend_style,
                &LegendOptions {
                    rule: Some("pois".to_owned()),
                    width: 32,
                    height: 32,
                    ..LegendOptions::default()
                },
            )
            .unwrap(),
    ));
    cases
}

/// One rule per well-known mark, chosen by the points' `shape` attribute.
fn every_shape() -> String {
    sld::WELL_KNOWN_NAMES
        .iter()
        .map(|name| {
            format!(
                r##"<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>shape</ogc:PropertyName><ogc:Literal>{name}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter><PointSymbolizer><Graphic><Mark><WellKnownName>{name}</WellKnownName><Fill><CssParameter name="fill">#FB9A99</CssParameter></Fill><Stroke><CssParameter name="stroke">#E31A1C</CssParameter><CssParameter name="stroke-width">2</CssParameter></Stroke></Mark><Size>20</Size></Graphic></PointSymbolizer></Rule>"##
            )
        })
        .collect()
}

/// Base64 of a file (for inline graphics).
fn base64_of(path: &Path) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(path).unwrap())
}

/// A grid of 3-pixel squares in four categories, or of short strokes.
fn tiny(lines: bool) -> Vec<Feature> {
    let mut out = Vec::new();
    for i in 0..50i64 {
        for j in 0..50i64 {
            let (x, y) = (4.0 + i as f64 * 5.0, 4.0 + j as f64 * 5.0);
            let geometry = if lines {
                Geometry::LineString(ring(&[(x, y), (x + 3.0, y + (j % 3) as f64)]))
            } else {
                Geometry::Polygon(Polygon::new(
                    ring(&[
                        (x, y),
                        (x + 3.0, y),
                        (x + 3.0, y + 3.0),
                        (x, y + 3.0),
                        (x, y),
                    ]),
                    vec![],
                ))
            };
            out.push(feature(
                i * 50 + j,
                geometry,
                &[("cat", Value::Integer((i * 3 + j) % 4 + 1))],
            ));
        }
    }
    out
}

/// Points crowded together, with ranks for priorities.
fn cluster() -> Vec<Feature> {
    (0..12i64)
        .map(|k| {
            let (x, y) = (60.0 + (k % 4) as f64 * 45.0, 100.0 + (k / 4) as f64 * 22.0);
            feature(
                k,
                Geometry::Point(Point::new(x, y)),
                &[
                    ("name", text(&format!("Place n°{k}"))),
                    ("rank", Value::Integer(k)),
                ],
            )
        })
        .collect()
}

/// Four segments of one named road and a second road.
fn grouped_lines() -> Vec<Feature> {
    let mut out: Vec<Feature> = (0..4)
        .map(|k| {
            let y = 40.0 + f64::from(k) * 50.0;
            feature(
                i64::from(k),
                Geometry::LineString(ring(&[(20.0, y), (236.0, y + 10.0)])),
                &[("name", text("Avenue unique"))],
            )
        })
        .collect();
    out.push(feature(
        9,
        Geometry::LineString(ring(&[(20.0, 20.0), (236.0, 20.0)])),
        &[("name", text("Autre rue"))],
    ));
    out
}

/// Labels in several scripts.
fn scripts() -> Vec<Feature> {
    [
        "Évry-Courcouronnes",
        "Crèvecœur-le-Grand",
        "Москва",
        "Αθήνα",
        "القاهرة",
        "Łódź — Kraków",
    ]
    .iter()
    .enumerate()
    .map(|(k, name)| {
        feature(
            k as i64,
            Geometry::Point(Point::new(30.0, 230.0 - k as f64 * 40.0)),
            &[("name", text(name))],
        )
    })
    .collect()
}

/// Largest per-channel difference, and the diff image (difference × 4, alpha opaque).
fn compare(expected: &image::RgbaImage, actual: &image::RgbaImage) -> (u8, image::RgbaImage) {
    let mut worst = 0u8;
    let mut diff = image::RgbaImage::new(actual.width(), actual.height());
    for (x, y, a) in actual.enumerate_pixels() {
        let e = expected.get_pixel(x, y);
        let d: Vec<u8> = (0..4).map(|c| a.0[c].abs_diff(e.0[c])).collect();
        worst = worst.max(*d.iter().max().unwrap());
        let m = d.iter().copied().max().unwrap().saturating_mul(4);
        diff.put_pixel(x, y, image::Rgba([m, 0, 0, 255]));
    }
    (worst, diff)
}

fn side_by_side(images: &[&image::RgbaImage]) -> image::RgbaImage {
    let w: u32 = images.iter().map(|i| i.width()).sum::<u32>() + 4 * (images.len() as u32 - 1);
    let h = images.iter().map(|i| i.height()).max().unwrap();
    let mut out = image::RgbaImage::from_pixel(w, h, image::Rgba([255, 0, 255, 255]));
    let mut x0 = 0;
    for img in images {
        image::imageops::overlay(&mut out, *img, i64::from(x0), 0);
        x0 += img.width() + 4;
    }
    out
}

/// Per-channel tolerance: anti-aliasing may move by a few levels between platforms.
const TOLERANCE: u8 = 24;

#[test]
fn every_case_matches_its_reference_image() {
    let expected_dir = root().join("fixtures/render/expected");
    let diff_dir = root().join("target/render-diffs");
    std::fs::create_dir_all(&diff_dir).unwrap();
    let update = std::env::var("UPDATE_REFERENCES").is_ok_and(|v| v == "1");
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    let mut sheet_parts = Vec::new();
    for (name, image) in &cases {
        let png = encode(image, ImageFormat::Png).unwrap();
        let actual = image::load_from_memory(&png).unwrap().to_rgba8();
        let path = expected_dir.join(format!("{name}.png"));
        sheet_parts.push(actual.clone());
        if update {
            std::fs::write(&path, &png).unwrap();
            continue;
        }
        let Ok(expected) = image::open(&path) else {
            failures.push(format!(
                "{name}: no reference at {} (run with UPDATE_REFERENCES=1, then check the image)",
                path.display()
            ));
            continue;
        };
        let expected = expected.to_rgba8();
        if expected.dimensions() != actual.dimensions() {
            failures.push(format!(
                "{name}: size {:?}, reference {:?}",
                actual.dimensions(),
                expected.dimensions()
            ));
            continue;
        }
        let (worst, diff) = compare(&expected, &actual);
        if worst > TOLERANCE {
            let out = diff_dir.join(format!("{name}.png"));
            side_by_side(&[&expected, &diff, &actual])
                .save(&out)
                .unwrap();
            failures.push(format!("{name}: a channel differs by {worst} (> {TOLERANCE}); expected | diff | actual in {}", out.display()));
        }
    }
    if update {
        // Every case on one sheet, 8 per row, to look at them all at once.
        let cell = 260u32;
        let rows = (sheet_parts.len() as u32).div_ceil(8);
        let mut sheet =
            image::RgbaImage::from_pixel(cell * 8, cell * rows, image::Rgba([200, 200, 200, 255]));
        for (k, part) in sheet_parts.iter().enumerate() {
            let thumb = image::imageops::resize(
                part,
                part.width().min(256),
                part.height().min(256),
                image::imageops::FilterType::Triangle,
            );
            image::imageops::overlay(
                &mut sheet,
                &thumb,
                i64::from((k as u32 % 8) * cell),
                i64::from((k as u32 / 8) * cell),
            );
        }
        sheet.save(diff_dir.join("contact-sheet.png")).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn rendering_is_deterministic_and_thread_safe() {
    let polys = polygons();
    let style = sld(&categorized());
    let renderer = Arc::new(renderer());
    let reference = renderer
        .render(
            &request(256, STANDARD_DPI),
            &[RenderLayer {
                features: &polys,
                style: &style,
            }],
        )
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let renderer = Arc::clone(&renderer);
            let polys = polys.clone();
            let style = style.clone();
            std::thread::spawn(move || {
                renderer
                    .render(
                        &request(256, STANDARD_DPI),
                        &[RenderLayer {
                            features: &polys,
                            style: &style,
                        }],
                    )
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().to_rgba8(), reference.to_rgba8());
    }
}

#[test]
fn sizes_beyond_limits_are_errors_not_panics() {
    let style = sld(&categorized());
    let polys = polygons();
    for (w, h) in [(0, 10), (10, 0), (100_000, 10)] {
        let mut r = request(10, STANDARD_DPI);
        r.width = w;
        r.height = h;
        assert!(renderer()
            .render(
                &r,
                &[RenderLayer {
                    features: &polys,
                    style: &style
                }]
            )
            .is_err());
    }
}
