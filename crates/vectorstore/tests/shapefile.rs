//! Shapefiles without GDAL: `fixtures/ogr/parcelles_2154.*` (made by ogr2ogr from the QGIS
//! fixture `fixtures/gpkg/qgis_3_22.gpkg`: a polygon with a hole, NULLs, a date, UTF-8 names)
//! integrate with the values GDAL reads from them (`ogrinfo` shown in the comments), alone or
//! zipped in a folder; a missing `.dbf` or an unknown `.cpg` is a clear error.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use vectorstore::{AttributeType, IngestOptions, Level, Report, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ogr")
        .join(name)
}

fn ingest(path: &Path, data: &Path) -> Report {
    vectorstore::ingest(path, data, "shp", &IngestOptions::default(), &mut |_, _| {}).unwrap()
}

const PARTS: [&str; 5] = ["shp", "shx", "dbf", "prj", "cpg"];

#[test]
fn a_shapefile_integrates_with_the_values_gdal_reads() {
    let data = tempfile::tempdir().unwrap();
    let report = ingest(&fixture("parcelles_2154.shp"), data.path());
    assert!(!report.is_refused(), "{:#?}", report.findings);
    // Its .cpg and its ESRI .prj (no EPSG authority: recognised by its parameters) are read.
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.message.contains(".cpg") || f.message.contains(".prj")),
        "{:#?}",
        report.findings
    );
    let layer = &report.layers[0];
    assert_eq!(
        (layer.name.as_str(), layer.srs.as_str(), layer.features),
        ("parcelles_2154", "EPSG:2154", 4)
    );
    assert_eq!(
        common::columns(layer),
        [
            ("numero", AttributeType::Integer),
            ("nom_commun", AttributeType::Text),
            ("surface_m2", AttributeType::Real),
            ("bati", AttributeType::Integer),
            ("date_maj", AttributeType::Date),
        ]
    );

    let features =
        common::all_features(&report, &["numero", "nom_commun", "surface_m2", "date_maj"]);
    let text = |v: &str| Value::Text(v.to_owned());
    // ogrinfo: Numéro, Nom-Commun, Surface m2, Date MAJ of the four features.
    let expected = [
        (1, text("Paris"), 10_000.0, text("2024-03-01")),
        (2, text("Montreuil"), 30_000.0, text("2023-12-24")),
        (3, text("Vincennes"), 2_700.0, Value::Null),
        (4, Value::Null, 5_000.0, text("2025-01-15")),
    ];
    assert_eq!(features.len(), 4);
    for (feature, (numero, nom, surface, date)) in features.iter().zip(expected) {
        assert_eq!(feature.property("numero"), Some(&Value::Integer(numero)));
        assert_eq!(feature.property("nom_commun"), Some(&nom));
        assert_eq!(feature.property("surface_m2"), Some(&Value::Real(surface)));
        assert_eq!(feature.property("date_maj"), Some(&date));
    }
    // Montreuil: a 200 m square with a 100 m hole, as its ring winding says.
    let geo::Geometry::MultiPolygon(montreuil) = &features[1].geometry else {
        panic!("{:?}", features[1].geometry);
    };
    assert_eq!(montreuil.0.len(), 1);
    assert_eq!(montreuil.0[0].interiors().len(), 1);
    let area = geo::Area::unsigned_area(montreuil);
    assert!((area - 30_000.0).abs() < 1e-6, "{area}");
}

#[test]
fn a_zip_of_shapefiles_in_folders_integrates_each_as_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("livraison.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for folder in ["PARCELLES", "COPIE"] {
        for part in PARTS {
            let name = if folder == "COPIE" {
                format!("{folder}/autres_parcelles.{}", part.to_uppercase())
            } else {
                format!("{folder}/parcelles_2154.{part}")
            };
            zip.start_file(name, options).unwrap();
            zip.write_all(&std::fs::read(fixture(&format!("parcelles_2154.{part}"))).unwrap())
                .unwrap();
        }
    }
    zip.start_file("LISEZMOI.txt", options).unwrap();
    zip.write_all(b"livraison").unwrap();
    zip.finish().unwrap();

    let data = tempfile::tempdir().unwrap();
    let report = ingest(&zip_path, data.path());
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let mut tables: Vec<(&str, u64)> = report
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.features))
        .collect();
    tables.sort_unstable();
    assert_eq!(tables, [("autres_parcelles", 4), ("parcelles_2154", 4)]);
    assert!(report
        .findings
        .iter()
        .any(|f| f.message.contains("LISEZMOI.txt")));
}

#[test]
fn a_shapefile_without_its_dbf_or_with_an_unknown_encoding_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let copy = |parts: &[&str]| {
        for part in parts {
            std::fs::copy(
                fixture(&format!("parcelles_2154.{part}")),
                dir.path().join(format!("lots.{part}")),
            )
            .unwrap();
        }
        dir.path().join("lots.shp")
    };
    let shp = copy(&["shp", "shx", "prj"]);
    let data = tempfile::tempdir().unwrap();
    let report = ingest(&shp, data.path());
    assert!(report.is_refused());
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("without its .dbf") && e.contains("lots.dbf")),
        "{errors:?}"
    );
    assert!(!data.path().join("stored/shp").exists());

    copy(&["dbf"]);
    std::fs::write(dir.path().join("lots.cpg"), "KLINGON-8").unwrap();
    let report = ingest(&shp, data.path());
    let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
    assert!(
        errors.iter().any(|e| e.contains("'KLINGON-8'")),
        "{errors:?}"
    );

    // No .cpg and no .prj: read as UTF-8 in the declared CRS, each said in a warning.
    std::fs::remove_file(dir.path().join("lots.cpg")).unwrap();
    std::fs::remove_file(dir.path().join("lots.prj")).unwrap();
    let options = IngestOptions {
        declared_srs: Some(crs::Crs::from_epsg(2154).unwrap()),
        ..IngestOptions::default()
    };
    let report = vectorstore::ingest(&shp, data.path(), "shp", &options, &mut |_, _| {}).unwrap();
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let warnings: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .map(ToString::to_string)
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("no .cpg")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("no .prj")),
        "{warnings:?}"
    );
    assert_eq!(report.layers[0].srs, "EPSG:2154");
}

/// Found by the `vector_upload` fuzzer: a 700-byte `.shp` whose record counts two billion
/// parts made the reader reserve 4.5 GB. Records are now checked against their length and the
/// file's before anything is read.
#[test]
fn records_that_claim_more_than_they_hold_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(fixture("parcelles_2154.shp")).unwrap();
    // The first record's part count, its point count, its length (big-endian words), and where
    // the second record's second part starts (a huge start made the reader reserve 30 GB for
    // that part: found by the fuzzer too).
    let cases: [(usize, [u8; 4], &str); 4] = [
        (
            100 + 8 + 36,
            0x7fff_ffff_i32.to_le_bytes(),
            "counts more parts or points",
        ),
        (
            100 + 8 + 40,
            0x4000_0000_i32.to_le_bytes(),
            "counts more parts or points",
        ),
        (
            100 + 4,
            0x7fff_ffff_i32.to_be_bytes(),
            "claims 4294967294 bytes",
        ),
        (
            100 + 8 + 128 + 8 + 48,
            (-7_i32).to_le_bytes(),
            "part 1 starts at point -7",
        ),
    ];
    for (k, (at, bytes, expected)) in cases.into_iter().enumerate() {
        let mut hostile = original.clone();
        hostile[at..at + 4].copy_from_slice(&bytes);
        let shp = dir.path().join(format!("hostile{k}.shp"));
        std::fs::write(&shp, hostile).unwrap();
        std::fs::copy(fixture("parcelles_2154.dbf"), shp.with_extension("dbf")).unwrap();
        let data = tempfile::tempdir().unwrap();
        let report = ingest(&shp, data.path());
        let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("is damaged") && e.contains(expected)),
            "{k}: {errors:?}"
        );
    }
}
