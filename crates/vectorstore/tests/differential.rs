//! Differential test: every feature and attribute we read equals what GDAL reads
//! (`ogr2ogr -f GeoJSON`). Runs only where `ogr2ogr` is installed; says so when it skips.

mod common;

use std::process::Command;

use common::fixture;
use geo::CoordsIter;
use serde_json::Value as Json;
use vectorstore::GeoPackage;

fn ogr2ogr_available() -> bool {
    Command::new("ogr2ogr")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn gdal_features(file: &str, layer: &str) -> Vec<Json> {
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/"])
        .arg(fixture(file))
        .arg(layer)
        .output()
        .expect("ogr2ogr runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Json = serde_json::from_slice(&out.stdout).expect("GeoJSON");
    doc["features"].as_array().expect("features").clone()
}

fn flatten(json: &Json, out: &mut Vec<(f64, f64)>) {
    match json {
        Json::Array(items) if items.first().is_some_and(Json::is_number) => {
            out.push((items[0].as_f64().expect("x"), items[1].as_f64().expect("y")));
        }
        Json::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        _ => {}
    }
}

fn gdal_coords(geometry: &Json) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    if geometry.is_null() {
        return out;
    }
    if let Some(parts) = geometry.get("geometries").and_then(Json::as_array) {
        for part in parts {
            flatten(&part["coordinates"], &mut out);
        }
    } else {
        flatten(&geometry["coordinates"], &mut out);
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

fn same_value(ours: &vectorstore::Value, theirs: &Json) -> bool {
    let ours = serde_json::to_value(ours).expect("json");
    match (&ours, theirs) {
        (Json::Number(a), Json::Number(b)) => close(
            a.as_f64().unwrap_or(f64::NAN),
            b.as_f64().unwrap_or(f64::NAN),
        ),
        _ => &ours == theirs,
    }
}

#[test]
fn every_feature_and_attribute_matches_what_gdal_reads() {
    if !ogr2ogr_available() {
        println!("skipped: ogr2ogr not found (install GDAL to run this differential test)");
        return;
    }
    let mut compared = 0;
    for file in [
        "world.gpkg",
        "communes_2154.gpkg",
        "qgis_3_22.gpkg",
        "edge_cases.gpkg",
        "random_4326.gpkg",
    ] {
        let gpkg = GeoPackage::open(&fixture(file)).expect("opens");
        for layer in gpkg.layers().expect("layers") {
            let theirs = gdal_features(file, &layer.table);
            let mut ours = Vec::new();
            gpkg.for_each_feature(&layer, |f| {
                let geometry = f
                    .blob
                    .and_then(|b| vectorstore::decode(b).ok())
                    .and_then(|d| d.geometry);
                ours.push((geometry, f.values));
                Ok::<(), ()>(())
            })
            .expect("reads")
            .expect("no callback error");
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{file}/{}: feature count",
                layer.table
            );
            for (i, ((geometry, values), gdal)) in ours.iter().zip(&theirs).enumerate() {
                let what = format!("{file}/{} feature #{i}", layer.table);
                let mine: Vec<(f64, f64)> = geometry
                    .iter()
                    .flat_map(|g| g.coords_iter().map(|c| (c.x, c.y)).collect::<Vec<_>>())
                    .collect();
                let gdal_xy = gdal_coords(&gdal["geometry"]);
                // GDAL keeps an unclosed ring open; geo-types closes it.
                let gdal_xy = if mine.len() == gdal_xy.len() + 1 {
                    [gdal_xy.clone(), vec![gdal_xy[0]]].concat()
                } else {
                    gdal_xy
                };
                assert_eq!(mine.len(), gdal_xy.len(), "{what}: coordinate count");
                for (a, b) in mine.iter().zip(&gdal_xy) {
                    assert!(close(a.0, b.0) && close(a.1, b.1), "{what}: {a:?} vs {b:?}");
                }
                for (attribute, value) in layer.attributes.iter().zip(values) {
                    let theirs = gdal["properties"]
                        .get(&attribute.name)
                        .unwrap_or(&Json::Null);
                    assert!(
                        same_value(value, theirs),
                        "{what}.{}: {value:?} vs {theirs}",
                        attribute.name
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 2800, "{compared}");
}
