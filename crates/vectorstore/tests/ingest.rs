//! Checks and integration of real (ogr2ogr-written), hand-built and bad GeoPackages.

mod common;

use common::{fixture, ingest, messages, options, tree};
use vectorstore::{AttributeType, GeoPackage, Level, Store, StoreOptions, Value};

#[test]
fn natural_earth_countries_written_by_ogr2ogr_integrate_with_srs_count_and_attributes() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("world.gpkg", data.path(), "world", None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let stored = report.stored.as_ref().expect("stored");
    assert_eq!(stored, &data.path().join("stored/world"));
    assert_eq!(
        tree(data.path()),
        [
            "stored",
            "stored/world",
            "stored/world/data.gpkg",
            "stored/world/metadata.json"
        ]
    );
    let layer = &report.layers[0];
    assert_eq!(
        (layer.name.as_str(), layer.srs.as_str(), layer.features),
        ("countries", "EPSG:4326", 177)
    );
    assert_eq!(
        common::columns(layer),
        [("id", AttributeType::Text), ("name", AttributeType::Text)]
    );
    assert_eq!(
        layer.attributes[1].distinct_values, None,
        "177 names is not a small domain"
    );
    let [min_x, min_y, max_x, max_y] = layer.bbox_wgs84.expect("extent");
    assert!(
        (min_x + 180.0).abs() < 1e-6 && (max_x - 180.0).abs() < 1e-6,
        "{min_x} {max_x}"
    );
    assert!(min_y < -85.0 && max_y > 83.0, "{min_y} {max_y}");
    assert_eq!(
        layer.bbox, layer.bbox_wgs84,
        "EPSG:4326 and CRS:84 share x/y"
    );
    // The metadata on disk is what the report says.
    let store = Store::open(stored, StoreOptions::default()).expect("opens");
    assert_eq!(store.layers(), report.layers.as_slice());
}

#[test]
fn a_geopackage_written_by_qgis_integrates_with_srs_counts_types_and_values() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("qgis_3_22.gpkg", data.path(), "qgis", None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let summary: Vec<(&str, &str, &str, u64)> = report
        .layers
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.source_name.as_str(),
                l.srs.as_str(),
                l.features,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("arbres_remarquables", "Arbres remarquables", "EPSG:4326", 3),
            (
                "parcelles_cadastrales",
                "Parcelles cadastrales",
                "EPSG:2154",
                4
            ),
        ]
    );
    let parcels = &report.layers[1];
    let attributes: Vec<(&str, &str, AttributeType)> = parcels
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.source_name.as_str(), a.ty))
        .collect();
    assert_eq!(
        attributes,
        [
            ("numero", "Numéro", AttributeType::Integer),
            ("nom_commune", "Nom-Commune", AttributeType::Text),
            ("surface_m2", "Surface m2", AttributeType::Real),
            ("bati", "Bâti", AttributeType::Boolean),
            ("date_maj", "Date MAJ", AttributeType::Date),
        ]
    );
    assert_eq!(parcels.geometry_type, "POLYGON");
    assert_eq!(parcels.invalid_geometries, 0);
    let store = Store::open(
        report.stored.as_ref().expect("stored"),
        StoreOptions::default(),
    )
    .expect("opens");
    let features: Vec<vectorstore::Feature> = store
        .features(
            "parcelles_cadastrales",
            &crs::Bbox::new(650_000.0, 6_861_000.0, 652_000.0, 6_863_000.0).expect("bbox"),
            &crs::Crs::from_epsg(2154).expect("crs"),
            1000.0,
            &["numero", "nom_commune", "bati", "date_maj"],
        )
        .expect("query")
        .collect();
    assert_eq!(features.len(), 4);
    let second = &features[1];
    assert_eq!(
        second.property("nom_commune"),
        Some(&Value::Text("Montreuil".into()))
    );
    assert_eq!(second.property("bati"), Some(&Value::Bool(false)));
    assert_eq!(
        second.property("date_maj"),
        Some(&Value::Text("2023-12-24".into()))
    );
    let geo_types::Geometry::Polygon(polygon) = &second.geometry else {
        panic!("{:?}", second.geometry)
    };
    assert_eq!(polygon.interiors().len(), 1, "the hole QGIS wrote is kept");
    assert_eq!(features[3].property("nom_commune"), Some(&Value::Null));
}

#[test]
fn attribute_and_layer_names_are_normalised_and_the_mapping_reported() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("communes_2154.gpkg", data.path(), "communes", Some(2154));
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let names: Vec<&str> = report.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["communes_idf", "ecoles"]);
    let communes = &report.layers[0];
    assert_eq!(communes.srs, "EPSG:2154");
    assert_eq!(communes.features, 60);
    let attributes: Vec<(&str, &str, AttributeType)> = communes
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.source_name.as_str(), a.ty))
        .collect();
    assert_eq!(
        attributes,
        [
            (
                "nom_de_la_commune",
                "Nom de la Commune",
                AttributeType::Text
            ),
            ("code_insee", "Code-INSEE", AttributeType::Text),
            ("departement", "Département", AttributeType::Text),
            ("population", "Population", AttributeType::Integer),
            ("surface_km2", "Surface km2", AttributeType::Real),
            ("actif", "Actif", AttributeType::Boolean),
        ]
    );
    let departements = communes
        .attribute("Département")
        .and_then(|a| a.distinct_values.clone());
    assert_eq!(departements.map(|v| v.len()), Some(4));
    assert_eq!(
        communes
            .attribute("actif")
            .and_then(|a| a.distinct_values.clone()),
        Some(vec![Value::Bool(false), Value::Bool(true)])
    );
    let warnings = messages(&report, Level::Warning).join("\n");
    assert!(
        warnings.contains("layer 'Communes-IDF' is stored as 'communes_idf'"),
        "{warnings}"
    );
    assert!(
        warnings.contains("'Code-INSEE' → 'code_insee'"),
        "{warnings}"
    );
    assert!(
        warnings.contains("'Département' → 'departement'"),
        "{warnings}"
    );
    let [min_x, min_y, ..] = communes.bbox.expect("extent");
    assert!((min_x - 640_000.0).abs() < 1e-6 && (min_y - 6_850_000.0).abs() < 1e-6);
    let [lon, lat, ..] = communes.bbox_wgs84.expect("extent");
    assert!(
        (2.0..2.5).contains(&lon) && (48.5..49.0).contains(&lat),
        "{lon} {lat}"
    );
}

#[test]
fn a_layer_in_another_srs_than_declared_is_refused_and_nothing_is_stored() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("world.gpkg", data.path(), "world", Some(2154));
    assert!(report.is_refused());
    let errors = messages(&report, Level::Error);
    assert_eq!(
        errors,
        ["ERROR [countries]: layer 'countries' is in EPSG:4326 but the upload declares EPSG:2154"]
    );
    assert_eq!(report.stored, None);
    assert_eq!(tree(data.path()), ["stored"]);
}

#[test]
fn every_geometry_type_envelope_kind_and_dimension_reads_and_defects_are_warned() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("edge_cases.gpkg", data.path(), "edge", None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let layers: Vec<(&str, &str, u64)> = report
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.srs.as_str(), l.features))
        .collect();
    assert_eq!(
        layers,
        [
            ("lambert_93", "EPSG:2154", 10),
            ("all_types", "EPSG:4326", 16),
            ("empty_layer", "EPSG:4326", 0),
            ("invalid", "EPSG:4326", 4),
            ("wkt_only", "EPSG:2154", 1),
        ]
    );
    let warnings = messages(&report, Level::Warning).join("\n");
    for expected in [
        "layer 'empty_layer' is empty",
        "1 features of layer 'all_types' have no geometry",
        "3 features of layer 'all_types' have an empty geometry",
        "layer 'invalid' has 3 invalid geometries",
        "ring is not closed",
        "ring with 3 points",
        "'Nom-Site' → 'nom_site'",
        "'Année' → 'annee'",
        "'Date' → 'date'",
    ] {
        assert!(
            warnings.contains(expected),
            "missing '{expected}' in\n{warnings}"
        );
    }
    let all = &report.layers[1];
    let kinds = all
        .attribute("kind")
        .and_then(|a| a.distinct_values.clone())
        .expect("small domain");
    assert_eq!(kinds.len(), 16);
    assert_eq!(report.layers[3].invalid_geometries, 3);
    // Z and M are dropped; the stored file reads back as 2D with the same xy.
    let store = Store::open(
        report.stored.as_ref().expect("stored"),
        StoreOptions::default(),
    )
    .expect("opens");
    let world = crs::Bbox::world();
    let got: Vec<(i64, Option<Value>)> = store
        .features("all_types", &world, &crs::Crs::crs84(), 1e6, &["kind"])
        .expect("query")
        .map(|f| (f.fid, f.property("kind").cloned()))
        .collect();
    assert_eq!(
        got.len(),
        12,
        "7 types + 5 envelope kinds; empty and null geometries are not drawn"
    );
    let env4 = store
        .features(
            "all_types",
            &crs::Bbox::new(8.9, 44.9, 9.1, 45.1).expect("bbox"),
            &crs::Crs::crs84(),
            1e6,
            &[],
        )
        .expect("query")
        .next()
        .expect("the xyzm point");
    assert_eq!(
        env4.geometry,
        geo_types::Geometry::Point(geo_types::point!(x: 9.0, y: 45.0))
    );
}

#[test]
fn the_stored_geopackage_is_itself_a_valid_geopackage() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("edge_cases.gpkg", data.path(), "edge", None);
    let stored = report.stored.expect("stored").join("data.gpkg");
    let again = vectorstore::check(&stored, &options(None), &mut |_, _| {}).expect("check runs");
    assert!(!again.is_refused(), "{:#?}", again.findings);
    assert!(messages(&again, Level::Warning)
        .iter()
        .all(|w| !w.contains("renamed")));
    let gpkg = GeoPackage::open(&stored).expect("opens");
    assert_eq!(gpkg.application_id().expect("reads"), 0x4750_4B47);
    let names: Vec<String> = gpkg
        .layers()
        .expect("layers")
        .into_iter()
        .map(|l| l.table)
        .collect();
    assert_eq!(
        names,
        [
            "all_types",
            "empty_layer",
            "invalid",
            "lambert_93",
            "wkt_only"
        ],
        "sorted by name"
    );
}

#[test]
fn a_missing_srs_row_is_refused_unless_the_upload_declares_the_srs() {
    let data = tempfile::tempdir().expect("tempdir");
    let refused = ingest("missing_srs_row.gpkg", data.path(), "p", None);
    let errors = messages(&refused, Level::Error).join("\n");
    assert!(
        errors.contains("the SRS of layer 'parcelles' cannot be detected (srs_id 2154 (missing from gpkg_spatial_ref_sys))"),
        "{errors}"
    );
    assert_eq!(tree(data.path()), ["stored"]);
    let accepted = ingest("missing_srs_row.gpkg", data.path(), "p", Some(2154));
    assert!(!accepted.is_refused(), "{:#?}", accepted.findings);
    assert_eq!(accepted.layers[0].srs, "EPSG:2154");
    assert!(messages(&accepted, Level::Warning)
        .join("\n")
        .contains("using the declared EPSG:2154"));
}

#[test]
fn geometries_of_the_wrong_type_or_unreadable_are_errors_naming_the_feature() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("type_mismatch.gpkg", data.path(), "t", None);
    let errors: Vec<(Option<i64>, String)> = report
        .errors()
        .map(|f| (f.feature, f.message.clone()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0],
        (Some(2), "a POLYGON in a POINT column".to_owned())
    );
    assert_eq!(errors[1].0, Some(3));
    assert!(errors[1].1.starts_with("unreadable geometry"), "{errors:?}");
    assert!(report
        .errors()
        .all(|f| f.layer.as_deref() == Some("points")));
    assert_eq!(tree(data.path()), ["stored"]);
}

#[test]
fn bad_files_are_refused_with_a_reason_and_leave_nothing_behind() {
    let cases = [
        ("truncated.gpkg", "is damaged"),
        ("not_sqlite.gpkg", "it is not an SQLite database"),
        ("plain_sqlite.gpkg", "table gpkg_spatial_ref_sys is missing"),
        (
            "unknown_crs.gpkg",
            "layer 'roads' is in EPSG:999999, a CRS Tuilerie does not know",
        ),
        (
            "traversal.zip",
            "entry '../../evil.gpkg' points outside the archive",
        ),
        ("bomb.zip", "a zip bomb?"),
        (
            "no_gpkg.zip",
            // Its data.shp is read as a Shapefile now, and lacks its attributes.
            "'data.shp' comes without its .dbf",
        ),
        ("does_not_exist.gpkg", "cannot read"),
    ];
    for (file, reason) in cases {
        let parent = tempfile::tempdir().expect("tempdir");
        let data = parent.path().join("data");
        let report = ingest(file, &data, "x", None);
        assert!(
            report.is_refused(),
            "{file} accepted: {:#?}",
            report.findings
        );
        let errors = messages(&report, Level::Error).join("\n");
        assert!(
            errors.contains(reason),
            "{file}: expected '{reason}' in\n{errors}"
        );
        assert_eq!(
            tree(parent.path()),
            ["data", "data/stored"],
            "{file} left files behind"
        );
    }
}

#[test]
fn a_zip_holding_a_geopackage_integrates_and_other_entries_are_ignored() {
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("communes.zip", data.path(), "communes", None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    assert_eq!(report.layers.len(), 2);
    assert_eq!(report.layers[0].source_file, "livraison/communes_2154.gpkg");
    assert!(messages(&report, Level::Warning).join("\n").contains(
        "entries that are neither GeoPackages nor Shapefiles were ignored: livraison/LISEZMOI.txt"
    ));
    assert_eq!(
        tree(data.path()),
        [
            "stored",
            "stored/communes",
            "stored/communes/data.gpkg",
            "stored/communes/metadata.json"
        ]
    );
}

#[test]
fn integrating_again_replaces_the_stored_data_and_cleans_an_interrupted_run() {
    let data = tempfile::tempdir().expect("tempdir");
    assert!(ingest("world.gpkg", data.path(), "d", None)
        .stored
        .is_some());
    // A crash mid-way left a partial directory behind.
    std::fs::create_dir_all(data.path().join("stored/.d.partial")).expect("mkdir");
    std::fs::write(data.path().join("stored/.d.partial/data.gpkg"), b"half").expect("write");
    let report = ingest("communes_2154.gpkg", data.path(), "d", None);
    assert!(report.stored.is_some());
    assert_eq!(
        tree(data.path()),
        [
            "stored",
            "stored/d",
            "stored/d/data.gpkg",
            "stored/d/metadata.json"
        ]
    );
    let store = Store::open(&data.path().join("stored/d"), StoreOptions::default()).expect("opens");
    assert_eq!(store.layers().len(), 2);
    // A refused rerun keeps the previous good data.
    let refused = ingest("not_sqlite.gpkg", data.path(), "d", None);
    assert!(refused.is_refused());
    assert_eq!(
        Store::open(&data.path().join("stored/d"), StoreOptions::default())
            .expect("opens")
            .layers()
            .len(),
        2
    );
}

#[test]
fn check_alone_writes_nothing_and_reports_progress() {
    let mut calls = Vec::new();
    let report = vectorstore::check(
        &fixture("random_4326.gpkg"),
        &options(None),
        &mut |done, total| {
            calls.push((done, total));
        },
    )
    .expect("check runs");
    assert!(!report.is_refused());
    assert_eq!(report.stored, None);
    assert_eq!(calls.first(), Some(&(0, 2500)));
    assert_eq!(calls.last(), Some(&(2500, 2500)));
}

#[test]
fn an_invalid_stored_id_is_an_error_not_a_path() {
    let data = tempfile::tempdir().expect("tempdir");
    let result = vectorstore::ingest(
        &fixture("world.gpkg"),
        data.path(),
        "../x",
        &options(None),
        &mut |_, _| {},
    );
    assert!(matches!(
        result,
        Err(vectorstore::VectorError::InvalidId(_))
    ));
}

#[test]
#[allow(clippy::unwrap_used)]
fn the_extent_in_longitude_latitude_is_the_datas_own_not_a_padded_box() {
    use geo::CoordsIter;
    let data = tempfile::tempdir().expect("tempdir");
    let report = ingest("communes_2154.gpkg", data.path(), "communes", None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let store = Store::open(report.stored.as_ref().unwrap(), StoreOptions::default()).unwrap();
    let lambert = crs::Crs::from_epsg(2154).unwrap();
    let to = crs::Transformer::new(&lambert, &crs::Crs::crs84()).unwrap();
    for layer in &report.layers {
        // Brute force: every vertex, reprojected.
        let mut expected = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        let native = crs::Bbox::new(-1e7, -1e7, 1e7, 1e8).unwrap();
        for feature in store
            .features(&layer.name, &native, &lambert, 0.0, &[])
            .unwrap()
        {
            for c in feature.geometry.coords_iter() {
                let (x, y) = to.transform_point(c.x, c.y).unwrap();
                expected = [
                    expected[0].min(x),
                    expected[1].min(y),
                    expected[2].max(x),
                    expected[3].max(y),
                ];
            }
        }
        let got = layer.bbox_wgs84.unwrap();
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() < 1e-12,
                "{}: {got:?} vs {expected:?}",
                layer.name
            );
        }
        // Tighter than the native box's conservative image.
        let [a, b, c, d] = layer.bbox.unwrap();
        let padded = to
            .transform_bbox(&crs::Bbox::new(a, b, c, d).unwrap())
            .unwrap();
        assert!(padded.min_x() <= got[0] && padded.max_x() >= got[2]);
        assert!(padded.width() > got[2] - got[0]);
    }
}
