//! Map drawing: a dense layer (10 000 polygons, 5 categories, outlines, labels) and a line
//! network (2 000 polylines, cased), at 256×256 and 1024×768, whole-area and zoomed-in views;
//! then the PNG encoding of a 1024×768 map. Features are built in memory (no I/O timed).
#![allow(
    clippy::unwrap_used,
    clippy::needless_raw_string_hashes,
    clippy::format_collect
)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use geo_types::{Geometry, LineString, Polygon};
use render::{MapRequest, RenderLayer, Renderer, RendererOptions, STANDARD_DPI};
use vectorstore::{Feature, Value};

/// xorshift, seeded: the same features every run.
fn random(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

fn polygons() -> Vec<Feature> {
    let mut seed = 7u64;
    let mut out = Vec::with_capacity(10_000);
    for i in 0..100 {
        for j in 0..100 {
            let (x, y) = (f64::from(i) * 1000.0, f64::from(j) * 1000.0);
            let mut jitter = || (random(&mut seed) - 0.5) * 300.0;
            let ring = LineString::from(vec![
                (x + jitter(), y + jitter()),
                (x + 1000.0 + jitter(), y + jitter()),
                (x + 1000.0 + jitter(), y + 1000.0 + jitter()),
                (x + jitter(), y + 1000.0 + jitter()),
            ]);
            let mut ring = ring;
            ring.close();
            out.push(Feature {
                fid: i64::from(i * 100 + j),
                geometry: Geometry::Polygon(Polygon::new(ring, vec![])),
                properties: vec![
                    (
                        Arc::from("cat"),
                        Value::Integer(i64::from((i * 7 + j * 3) % 5)),
                    ),
                    (Arc::from("name"), Value::Text(format!("Parcel {i}-{j}"))),
                ],
            });
        }
    }
    out
}

fn lines() -> Vec<Feature> {
    let mut seed = 11u64;
    (0..2000)
        .map(|k| {
            let (mut x, mut y) = (random(&mut seed) * 100_000.0, random(&mut seed) * 100_000.0);
            let mut points = vec![(x, y)];
            for _ in 0..12 {
                x += (random(&mut seed) - 0.3) * 2000.0;
                y += (random(&mut seed) - 0.5) * 2000.0;
                points.push((x, y));
            }
            Feature {
                fid: k,
                geometry: Geometry::LineString(LineString::from(points)),
                properties: vec![(Arc::from("name"), Value::Text(format!("Rue {k}")))],
            }
        })
        .collect()
}

fn style(text: &str) -> sld::UserStyle {
    let sld = sld::parse(&format!(
        r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc"><NamedLayer><Name>b</Name><UserStyle><FeatureTypeStyle>{text}</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#
    ))
    .unwrap();
    sld.default_style().unwrap().clone()
}

fn categorized() -> sld::UserStyle {
    let colours = ["#E41A1C", "#377EB8", "#4DAF4A", "#984EA3", "#FF7F00"];
    let mut rules: String = colours
        .iter()
        .enumerate()
        .map(|(k, c)| format!(r#"<Rule><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>cat</ogc:PropertyName><ogc:Literal>{k}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter><PolygonSymbolizer><Fill><CssParameter name="fill">{c}</CssParameter></Fill><Stroke><CssParameter name="stroke">#333333</CssParameter></Stroke></PolygonSymbolizer></Rule>"#))
        .collect();
    rules.push_str(r#"<Rule><MaxScaleDenominator>60000</MaxScaleDenominator><TextSymbolizer><Label><ogc:PropertyName>name</ogc:PropertyName></Label><Font><CssParameter name="font-size">10</CssParameter></Font><Halo><Radius>1</Radius></Halo></TextSymbolizer></Rule>"#);
    style(&rules)
}

fn cased() -> sld::UserStyle {
    style(
        r##"<Rule><LineSymbolizer><Stroke><CssParameter name="stroke">#555555</CssParameter><CssParameter name="stroke-width">5</CssParameter><CssParameter name="stroke-linecap">round</CssParameter></Stroke></LineSymbolizer><LineSymbolizer><Stroke><CssParameter name="stroke">#FFFFFF</CssParameter><CssParameter name="stroke-width">3</CssParameter><CssParameter name="stroke-linecap">round</CssParameter></Stroke></LineSymbolizer></Rule><Rule><MaxScaleDenominator>60000</MaxScaleDenominator><TextSymbolizer><Label><ogc:PropertyName>name</ogc:PropertyName></Label><LabelPlacement><LinePlacement/></LabelPlacement><Halo/></TextSymbolizer></Rule>"##,
    )
}

fn request(bbox: [f64; 4], width: u32, height: u32) -> MapRequest {
    MapRequest {
        extent: crs::Bbox::new(bbox[0], bbox[1], bbox[2], bbox[3]).unwrap(),
        crs: crs::Crs::web_mercator(),
        width,
        height,
        dpi: STANDARD_DPI,
        background: [255, 255, 255, 255],
        transparent: false,
        buffer: 0,
    }
}

fn maps(c: &mut Criterion) {
    let renderer = Renderer::new(RendererOptions::default()).unwrap();
    let polys = polygons();
    let network = lines();
    let (polygon_style, line_style) = (categorized(), cased());
    let whole = [0.0, 0.0, 100_000.0, 100_000.0];
    // 1:20 000 at 0.28 mm: 5.6 m per pixel.
    let zoomed = |w: u32, h: u32| {
        let (cx, cy) = (50_000.0, 50_000.0);
        let (hw, hh) = (f64::from(w) * 5.6 / 2.0, f64::from(h) * 5.6 / 2.0);
        [cx - hw, cy - hh, cx + hw, cy + hh]
    };
    let mut group = c.benchmark_group("render_map");
    for (w, h) in [(256u32, 256u32), (1024, 768)] {
        for (view, bbox) in [("whole", whole), ("1:20000", zoomed(w, h))] {
            let r = request(bbox, w, h);
            // Only the features the map shows, as the WMS asks the store for them.
            let visible = |features: &[Feature]| -> Vec<Feature> {
                use geo::{BoundingRect, Intersects};
                let rect = geo_types::Rect::new((bbox[0], bbox[1]), (bbox[2], bbox[3]));
                features
                    .iter()
                    .filter(|f| {
                        f.geometry
                            .bounding_rect()
                            .is_some_and(|b| b.intersects(&rect))
                    })
                    .cloned()
                    .collect()
            };
            let (p, l) = (visible(&polys), visible(&network));
            group.bench_function(format!("polygons {w}x{h} {view}"), |b| {
                b.iter(|| {
                    black_box(
                        renderer
                            .render(
                                &r,
                                &[RenderLayer {
                                    features: &p,
                                    style: &polygon_style,
                                }],
                            )
                            .unwrap(),
                    )
                });
            });
            group.bench_function(format!("lines {w}x{h} {view}"), |b| {
                b.iter(|| {
                    black_box(
                        renderer
                            .render(
                                &r,
                                &[RenderLayer {
                                    features: &l,
                                    style: &line_style,
                                }],
                            )
                            .unwrap(),
                    )
                });
            });
        }
    }
    let image = renderer
        .render(
            &request(zoomed(1024, 768), 1024, 768),
            &[RenderLayer {
                features: &polys,
                style: &polygon_style,
            }],
        )
        .unwrap();
    group.bench_function("encode png 1024x768", |b| {
        b.iter(|| black_box(render::encode(&image, render::ImageFormat::Png).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, maps);
criterion_main!(benches);
