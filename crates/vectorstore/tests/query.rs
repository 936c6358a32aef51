//! Queries of the feature store: bbox queries against a brute-force scan on seeded random data
//! (both indexes), reprojection, point queries, and name resolution.

mod common;

use std::sync::OnceLock;

use common::{fixture, ingest};
use crs::{Bbox, Crs};
use geo::Intersects;
use geo_types::{Coord, Geometry, Rect};
use proptest::prelude::*;
use vectorstore::{GeoPackage, IndexKind, Store, StoreOptions, Value};

struct Fixture {
    _data: tempfile::TempDir,
    memory: Store,
    sqlite: Store,
    /// (layer, fid, geometry, k) read straight from the source file.
    source: Vec<(String, i64, Geometry<f64>, i64)>,
}

fn random() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let data = tempfile::tempdir().expect("tempdir");
        let report = ingest("random_4326.gpkg", data.path(), "random", None);
        let dir = report.stored.expect("stored");
        let memory = Store::open(&dir, StoreOptions::default()).expect("opens");
        let sqlite = Store::open(
            &dir,
            StoreOptions {
                memory_budget_bytes: 0,
            },
        )
        .expect("opens");
        let gpkg = GeoPackage::open(&fixture("random_4326.gpkg")).expect("opens");
        let mut source = Vec::new();
        for layer in gpkg.layers().expect("layers") {
            let k = layer
                .attributes
                .iter()
                .position(|a| a.name == "k")
                .expect("k");
            gpkg.for_each_feature(&layer, |f| {
                let g = vectorstore::decode(f.blob.expect("geometry"))
                    .expect("decodes")
                    .geometry
                    .expect("not empty");
                let Value::Integer(kv) = f.values[k] else {
                    panic!("k is an integer")
                };
                source.push((layer.table.clone(), f.fid, g, kv));
                Ok::<(), ()>(())
            })
            .expect("reads")
            .expect("no callback error");
        }
        Fixture {
            _data: data,
            memory,
            sqlite,
            source,
        }
    })
}

fn brute_force(layer: &str, bbox: &Bbox) -> Vec<(i64, i64)> {
    let rect = Rect::new(
        Coord {
            x: bbox.min_x(),
            y: bbox.min_y(),
        },
        Coord {
            x: bbox.max_x(),
            y: bbox.max_y(),
        },
    );
    let mut out: Vec<(i64, i64)> = random()
        .source
        .iter()
        .filter(|(l, _, g, _)| l == layer && g.intersects(&rect))
        .map(|(_, fid, _, k)| (*fid, *k))
        .collect();
    out.sort_unstable();
    out
}

fn queried(store: &Store, layer: &str, bbox: &Bbox) -> Vec<(i64, i64)> {
    store
        .features(layer, bbox, &Crs::wgs84(), 1e6, &["k"])
        .expect("query")
        .map(|f| match f.property("k") {
            Some(Value::Integer(k)) => (f.fid, *k),
            other => panic!("k is {other:?}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn bbox_queries_return_exactly_what_a_brute_force_scan_returns(
        x in -12.0f64..10.0, y in 38.0f64..55.0, w in 0.0f64..6.0, h in 0.0f64..6.0, polygons in any::<bool>(),
    ) {
        let layer = if polygons { "polygons" } else { "points" };
        let bbox = Bbox::new(x, y, x + w, y + h).expect("valid");
        let expected = brute_force(layer, &bbox);
        prop_assert_eq!(&queried(&random().memory, layer, &bbox), &expected);
        prop_assert_eq!(&queried(&random().sqlite, layer, &bbox), &expected);
    }
}

#[test]
fn the_memory_budget_decides_which_index_answers() {
    let f = random();
    let everything = Bbox::world();
    assert_eq!(queried(&f.memory, "points", &everything).len(), 2000);
    assert_eq!(queried(&f.sqlite, "polygons", &everything).len(), 500);
    assert_eq!(
        f.memory.index_kind("points").expect("layer"),
        IndexKind::Memory
    );
    assert_eq!(
        f.sqlite.index_kind("polygons").expect("layer"),
        IndexKind::GeoPackage
    );
}

#[test]
fn queries_in_another_crs_return_geometries_in_that_crs() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("communes_2154.gpkg", data.path(), "c", None);
    let store = Store::open(
        report.stored.as_ref().expect("stored"),
        StoreOptions::default(),
    )
    .expect("opens");
    let lamb93 = Crs::from_epsg(2154).expect("known");
    let native = Bbox::new(640_000.0, 6_850_000.0, 641_000.0, 6_851_000.0).expect("bbox");
    let in_lamb93: Vec<i64> = store
        .features("communes_idf", &native, &lamb93, 1e4, &[])
        .expect("query")
        .map(|f| f.fid)
        .collect();
    assert_eq!(in_lamb93, [1]);
    // The same box in Web Mercator.
    let mercator = Crs::web_mercator();
    let to_merc = crs::Transformer::new(&lamb93, &mercator).expect("transform");
    let merc_box = to_merc.transform_bbox(&native).expect("box");
    let features: Vec<_> = store
        .features("communes_idf", &merc_box, &mercator, 1e4, &["population"])
        .expect("query")
        .collect();
    assert!(features.iter().any(|f| f.fid == 1));
    let first = features.iter().find(|f| f.fid == 1).expect("feature 1");
    let Geometry::MultiPolygon(mp) = &first.geometry else {
        panic!("multipolygon")
    };
    let c = mp.0[0].exterior().0[0];
    let (x, y) = to_merc
        .transform_point(640_000.0, 6_850_000.0)
        .expect("point");
    assert!(
        (c.x - x).abs() < 1e-6 && (c.y - y).abs() < 1e-6,
        "{c:?} vs {x},{y}"
    );
}

#[test]
fn point_queries_return_features_within_the_tolerance_nearest_first() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("communes_2154.gpkg", data.path(), "c", None);
    let store = Store::open(
        report.stored.as_ref().expect("stored"),
        StoreOptions::default(),
    )
    .expect("opens");
    let lamb93 = Crs::from_epsg(2154).expect("known");
    // Inside commune 1 (the square at 640000, 6850000, at least 1000 m wide).
    let hits = store
        .features_at("Communes-IDF", 640_500.0, 6_850_500.0, &lamb93, 5.0, 10)
        .expect("query");
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].feature.fid, hits[0].distance), (1, 0.0));
    assert_eq!(hits[0].feature.properties.len(), 6, "all attributes");
    assert_eq!(
        hits[0].feature.property("nom_de_la_commune"),
        Some(&Value::Text("Paris 0".to_owned()))
    );
    // Just left of commune 1: nothing within 5 m, commune 1 within 50 m.
    assert!(store
        .features_at("communes_idf", 639_990.0, 6_850_500.0, &lamb93, 5.0, 10)
        .expect("query")
        .is_empty());
    let near = store
        .features_at("communes_idf", 639_990.0, 6_850_500.0, &lamb93, 50.0, 10)
        .expect("query");
    assert_eq!(near.len(), 1);
    assert!((near[0].distance - 10.0).abs() < 1e-9);
    // Random points: sorted by distance, capped.
    let f = random();
    let hits = f
        .memory
        .features_at("points", 0.0, 47.0, &Crs::wgs84(), 0.5, 5)
        .expect("query");
    assert!(hits.len() <= 5 && !hits.is_empty());
    assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
}

#[test]
fn names_from_the_original_file_resolve_and_unknown_ones_say_what_exists() {
    let f = random();
    let bbox = Bbox::new(0.0, 45.0, 1.0, 46.0).expect("bbox");
    assert!(f.memory.layer("POINTS").is_some());
    let err = f
        .memory
        .features("roads", &bbox, &Crs::wgs84(), 1e6, &[])
        .expect_err("unknown layer");
    assert_eq!(
        err.to_string(),
        "no layer 'roads' in this stored data; layers: points, polygons"
    );
    let err = f
        .memory
        .features("points", &bbox, &Crs::wgs84(), 1e6, &["nope"])
        .expect_err("unknown attribute");
    assert_eq!(
        err.to_string(),
        "layer 'points' has no attribute 'nope'; attributes: k, label"
    );
    assert!(f
        .memory
        .features("points", &bbox, &Crs::wgs84(), 1e6, &["K"])
        .is_ok());
}

#[test]
fn small_scales_answer_simplified_geometries_of_the_same_features() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("world.gpkg", data.path(), "w", None);
    let dir = report.stored.expect("stored");
    let memory = Store::open(&dir, StoreOptions::default()).expect("opens");
    let sqlite = Store::open(
        &dir,
        StoreOptions {
            memory_budget_bytes: 0,
        },
    )
    .expect("opens");
    let crs = Crs::crs84();
    let world = Bbox::world();
    let points = |g: &Geometry<f64>| -> usize {
        use geo::CoordsIter;
        g.coords_count()
    };
    for store in [&memory, &sqlite] {
        let full: Vec<_> = store
            .features("countries", &world, &crs, 0.0, &["name"])
            .expect("query")
            .collect();
        let detailed: Vec<_> = store
            .features("countries", &world, &crs, 10_000.0, &["name"])
            .expect("query")
            .collect();
        let coarse: Vec<_> = store
            .features("countries", &world, &crs, 500_000_000.0, &["name"])
            .expect("query")
            .collect();
        assert_eq!(full.len(), 177);
        let fids = |v: &[vectorstore::Feature]| v.iter().map(|f| f.fid).collect::<Vec<_>>();
        assert_eq!(
            fids(&full),
            fids(&coarse),
            "simplification drops no feature"
        );
        let count =
            |v: &[vectorstore::Feature]| v.iter().map(|f| points(&f.geometry)).sum::<usize>();
        // At 1:10 000 next to nothing of a 1:110m dataset can be removed; at 1:500M (the world in 256
        // pixels) much can.
        assert!(
            count(&detailed) * 100 >= count(&full) * 99,
            "{} of {}",
            count(&detailed),
            count(&full)
        );
        assert!(
            count(&coarse) * 2 < count(&full),
            "{} of {} coordinates kept",
            count(&coarse),
            count(&full)
        );
        // Simplified geometries stay where they were: within half a pixel (~0.63° here).
        for (a, b) in full.iter().zip(&coarse) {
            use geo::BoundingRect;
            let (ra, rb) = (
                a.geometry.bounding_rect().expect("rect"),
                b.geometry.bounding_rect().expect("rect"),
            );
            assert!(
                (ra.min().x - rb.min().x).abs() <= 0.63 && (ra.max().y - rb.max().y).abs() <= 0.63
            );
        }
    }
}
