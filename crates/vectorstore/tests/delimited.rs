//! CSV uploads without GDAL: WKT or x/y columns, `.csvt` types, `.prj`, `;` and Windows-1252
//! files as French producers write them, in a zip too; what cannot be read is named.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::Path;

use vectorstore::{AttributeType, Level, Report, Value};

const LAMBERT_93_PRJ: &str = r#"PROJCS["RGF_1993_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700000.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",49.0],PARAMETER["Standard_Parallel_2",44.0],PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]"#;

fn ingest(path: &Path, data: &Path, srs: Option<u32>) -> Report {
    vectorstore::ingest(path, data, "csv", &common::options(srs), &mut |_, _| {}).unwrap()
}

#[test]
fn a_semicolon_csv_with_wkt_and_a_prj_integrates_with_its_types() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("communes.csv");
    std::fs::write(
        &csv,
        "\u{feff}nom;code_insee;population;surface_km2;WKT\n\
         Paris;75056;2133111;105,4;POINT (652000 6862000)\n\
         Ambérieu;01004;14000;24,6;\"POLYGON ((650000 6860000, 650100 6860000, 650100 6860100, 650000 6860000))\"\n\
         Vide;;;;\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("communes.prj"), LAMBERT_93_PRJ).unwrap();
    let data = tempfile::tempdir().unwrap();
    let report = ingest(&csv, data.path(), None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let layer = &report.layers[0];
    assert_eq!(
        (layer.name.as_str(), layer.srs.as_str(), layer.features),
        ("communes", "EPSG:2154", 3)
    );
    assert_eq!(
        common::columns(layer),
        [
            ("nom", AttributeType::Text),
            ("code_insee", AttributeType::Text),
            ("population", AttributeType::Integer),
            ("surface_km2", AttributeType::Real),
        ]
    );
    let found = common::all_features(&report, &["nom", "code_insee", "surface_km2"]);
    // The feature without geometry is integrated but found by no box.
    assert_eq!(found.len(), 2);
    assert_eq!(
        found[1].property("nom"),
        Some(&Value::Text("Ambérieu".to_owned()))
    );
    assert_eq!(
        found[1].property("code_insee"),
        Some(&Value::Text("01004".to_owned()))
    );
    assert_eq!(found[0].property("surface_km2"), Some(&Value::Real(105.4)));
    assert!(matches!(found[1].geometry, geo::Geometry::Polygon(_)));
}

#[test]
fn x_and_y_columns_typed_by_a_csvt_in_latin1_make_points() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ecoles.csv");
    let mut bytes = b"id,nom,ouverte,longitude,latitude\n".to_vec();
    bytes.extend(b"007,\xc9cole Jaur\xe8s,1,2.35,48.85\n"); // Windows-1252
    bytes.extend(b"8,Coll\xe8ge,0,2.30,48.80\n");
    std::fs::write(&csv, bytes).unwrap();
    std::fs::write(
        dir.path().join("ecoles.csvt"),
        "\"Integer\",\"String(40)\",\"Integer(Boolean)\",\"CoordX\",\"CoordY\"",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let report = ingest(&csv, data.path(), Some(4326));
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let warnings: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .map(ToString::to_string)
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("Windows-1252")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("no .prj")),
        "{warnings:?}"
    );
    let layer = &report.layers[0];
    assert_eq!((layer.srs.as_str(), layer.features), ("EPSG:4326", 2));
    let types: Vec<AttributeType> = layer.attributes.iter().map(|a| a.ty).collect();
    // The .csvt says Integer: "007" is 7 (as GDAL reads it), not text.
    assert_eq!(
        types,
        [
            AttributeType::Integer,
            AttributeType::Text,
            AttributeType::Boolean
        ]
    );
    let found = common::all_features(&report, &["id", "nom", "ouverte"]);
    assert_eq!(found[0].property("id"), Some(&Value::Integer(7)));
    assert_eq!(
        found[0].property("nom"),
        Some(&Value::Text("École Jaurès".to_owned()))
    );
    assert_eq!(found[1].property("ouverte"), Some(&Value::Bool(false)));
    let geo::Geometry::Point(point) = found[0].geometry else {
        panic!("{:?}", found[0].geometry);
    };
    assert!((point.x() - 2.35).abs() < 1e-12 && (point.y() - 48.85).abs() < 1e-12);
}

#[test]
fn csvs_without_geometry_or_with_a_bad_one_are_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let cases = [
        ("a,b\n1,2\n", "has no geometry: name a column WKT"),
        (
            "nom,wkt\nx,POINT (1 2)\ny,POINT (1\n",
            "line 3: not a WKT geometry",
        ),
        (
            "nom,x,y\nx,1,deux\n",
            "line 2: 'deux' is not a coordinate (y)",
        ),
        ("nom,x,y\nx,1\n", "line 2"),
    ];
    for (k, (text, expected)) in cases.into_iter().enumerate() {
        let csv = dir.path().join(format!("bad{k}.csv"));
        std::fs::write(&csv, text).unwrap();
        let report = ingest(&csv, data.path(), Some(2154));
        assert!(report.is_refused(), "{text}");
        let errors: Vec<String> = report.errors().map(ToString::to_string).collect();
        assert!(
            errors
                .iter()
                .any(|e| e.contains(expected) && e.contains(&format!("bad{k}.csv"))),
            "{text}: {errors:?}"
        );
    }
    assert!(!data.path().join("stored/csv").exists());
}

#[test]
fn a_zip_of_a_csv_with_its_csvt_and_prj_integrates() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("livraison.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in [
        (
            "donnees/arbres.csv",
            "espece,hauteur,x,y\nchene,12.5,651000,6862000\n",
        ),
        ("donnees/arbres.csvt", "String,Real,CoordX,CoordY"),
        ("donnees/arbres.prj", LAMBERT_93_PRJ),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let data = tempfile::tempdir().unwrap();
    let report = ingest(&zip_path, data.path(), None);
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let layer = &report.layers[0];
    assert_eq!(
        (layer.name.as_str(), layer.srs.as_str(), layer.features),
        ("arbres", "EPSG:2154", 1)
    );
}
