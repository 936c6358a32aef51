//! Other vector formats through GDAL/OGR (feature `gdal`): Shapefile, GeoJSON and FlatGeobuf
//! integrate like the GeoPackage they were made from (`fixtures/ogr/`, made by ogr2ogr from
//! `fixtures/gpkg/qgis_3_22.gpkg`).
#![cfg(feature = "gdal")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use vectorstore::{AttributeType, IngestOptions, Report};

fn ingest(file: &str, data: &Path) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/ogr")
        .join(file);
    vectorstore::ingest(
        &path,
        data,
        "ogr",
        &IngestOptions::default(),
        &mut |_, _| {},
    )
    .unwrap()
}

/// Shapefiles are read without GDAL in every build (`tests/shapefile.rs`); with the feature
/// on, the result is the one OGR gave before.
#[test]
fn a_shapefile_integrates_with_its_srs_recognised_from_the_prj() {
    let data = tempfile::tempdir().unwrap();
    let report = ingest("parcelles_2154.shp", data.path());
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let layer = &report.layers[0];
    assert_eq!(
        (layer.name.as_str(), layer.srs.as_str(), layer.features),
        ("parcelles_2154", "EPSG:2154", 4)
    );
    let names: Vec<&str> = layer.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["numero", "nom_commun", "surface_m2", "bati", "date_maj"]
    );
    assert!(!report
        .findings
        .iter()
        .any(|f| f.message.contains("through GDAL/OGR")));
}

#[test]
fn geojson_and_flatgeobuf_integrate_with_types_and_counts() {
    let data = tempfile::tempdir().unwrap();
    let report = ingest("parcelles_4326.geojson", data.path());
    assert!(!report.is_refused(), "{:#?}", report.findings);
    let layer = &report.layers[0];
    assert_eq!((layer.srs.as_str(), layer.features), ("EPSG:4326", 4));
    assert_eq!(
        common::columns(layer),
        [
            ("numero", AttributeType::Integer),
            ("nom_commune", AttributeType::Text),
            ("surface_m2", AttributeType::Real),
            ("bati", AttributeType::Integer),
            ("date_maj", AttributeType::Date),
        ]
    );
    let data = tempfile::tempdir().unwrap();
    let report = ingest("arbres.fgb", data.path());
    assert!(!report.is_refused(), "{:#?}", report.findings);
    assert_eq!(
        (
            report.layers[0].srs.as_str(),
            report.layers[0].features,
            report.layers[0].geometry_type.as_str()
        ),
        ("EPSG:4326", 3, "POINT")
    );
}

#[test]
fn a_file_gdal_cannot_read_as_vector_is_refused_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rasters/rgb_4326.tif");
    let report = vectorstore::ingest(
        &path,
        data.path(),
        "x",
        &IngestOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    assert!(report.is_refused());
    let message = report.errors().next().unwrap().message.clone();
    assert!(
        message.contains("neither a GeoPackage nor a zip"),
        "{message}"
    );
    assert!(!data.path().join("stored/x").exists());
}
