//! Accuracy against PROJ: `fixtures/crs/reference.csv` holds WGS 84 points inside the area of use
//! of every EPSG CRS we know, projected by PROJ's cs2cs (see `fixtures/crs/make_reference.sh`).
//! Ours must agree within 1 mm (1e-8° for geographic CRSs), both ways: forward from the WGS 84
//! points, and inverse from PROJ's projected points back to what PROJ gives for them.

use std::collections::BTreeSet;

use crs::{Crs, Transformer};

const TABLE: &str = include_str!("../../../fixtures/crs/reference.csv");

struct Row {
    code: u32,
    lon: f64,
    lat: f64,
    x: f64,
    y: f64,
    lon_back: f64,
    lat_back: f64,
}

fn rows() -> Vec<Row> {
    let mut lines = TABLE.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(
        lines.next(),
        Some("code,lon,lat,x,y,lon_back,lat_back"),
        "header of reference.csv"
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 7, "bad line {line:?}");
            let num = |i: usize| {
                f[i].parse::<f64>()
                    .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            };
            Row {
                code: f[0].parse().unwrap_or_else(|e| panic!("{line:?}: {e}")),
                lon: num(1),
                lat: num(2),
                x: num(3),
                y: num(4),
                lon_back: num(5),
                lat_back: num(6),
            }
        })
        .collect()
}

#[test]
fn every_epsg_crs_we_know_has_reference_points() {
    let covered: BTreeSet<u32> = rows().iter().map(|r| r.code).collect();
    let missing: Vec<String> = Crs::known()
        .filter_map(|c| c.epsg())
        .filter(|code| !covered.contains(code))
        .map(|code| code.to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "no reference points for EPSG {}",
        missing.join(", ")
    );
}

#[test]
fn transforms_agree_with_proj_within_a_millimetre() {
    let wgs84 = Crs::crs84();
    let (mut worst_metres, mut worst_degrees, mut worst_inverse) = (0.0_f64, 0.0_f64, 0.0_f64);
    let mut worst_where = String::new();
    let mut worst_inverse_where = String::new();
    let mut worst_inverse_vs_proj = 0.0_f64;
    let mut failures = Vec::new();
    let rows = rows();
    for row in &rows {
        let crs = Crs::from_epsg(row.code).expect("known code");
        let forward = Transformer::new(&wgs84, &crs).expect("transformer");
        let inverse = Transformer::new(&crs, &wgs84).expect("transformer");
        let (x, y) = forward.transform_point(row.lon, row.lat).expect("forward");
        let err = (x - row.x).abs().max((y - row.y).abs());
        let tolerance = if crs.is_geographic() { 1e-8 } else { 1e-3 };
        if crs.is_geographic() {
            worst_degrees = worst_degrees.max(err);
        } else if err > worst_metres {
            worst_metres = err;
            worst_where = format!("EPSG:{} at {} {}", row.code, row.lon, row.lat);
        }
        if err > tolerance {
            failures.push(format!(
                "EPSG:{} forward ({}, {}): ours ({x}, {y}), PROJ ({}, {}), off by {err}",
                row.code, row.lon, row.lat, row.x, row.y
            ));
        }
        let (lon, lat) = inverse.transform_point(row.x, row.y).expect("inverse");
        // PROJ's own inverse is the reference, except where it is itself off the exact point:
        // PROJ 9.1 inverts LAEA (EPSG:3035) through a truncated series for the authalic latitude,
        // about 1e-8° off, where proj4rs is exact. So the inverse must be within 1e-8° of PROJ's
        // inverse or of the exact starting point. (The NTF round trip does not close in PROJ
        // either — the Helmert shift drops heights — and there ours matches PROJ's inverse.)
        let err_proj = (lon - row.lon_back).abs().max((lat - row.lat_back).abs());
        let err_exact = (lon - row.lon).abs().max((lat - row.lat).abs());
        let err = err_proj.min(err_exact);
        worst_inverse_vs_proj = worst_inverse_vs_proj.max(err_proj);
        if err > worst_inverse {
            worst_inverse = err;
            worst_inverse_where = format!("EPSG:{} at {} {}", row.code, row.x, row.y);
        }
        if err > 1e-8 {
            failures.push(format!(
                "EPSG:{} inverse ({}, {}): ours ({lon}, {lat}), PROJ ({}, {}), off by {err}°",
                row.code, row.x, row.y, row.lon_back, row.lat_back
            ));
        }
    }
    println!(
        "{} reference points; worst forward error {worst_metres:e} m ({worst_where}), \
         {worst_degrees:e}° on geographic CRSs; worst inverse error {worst_inverse:e}° ({worst_inverse_where}), \
         {worst_inverse_vs_proj:e}° to PROJ's inverse",
        rows.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements with PROJ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ignf_twins_transform_exactly_as_their_epsg_crs() {
    let wgs84 = Crs::crs84();
    for row in rows() {
        let epsg = Crs::from_epsg(row.code).expect("known code");
        for twin in Crs::known().filter(|c| c.equivalent(&epsg) && c != &epsg) {
            let t = Transformer::new(&wgs84, &twin).expect("transformer");
            let (x, y) = t.transform_point(row.lon, row.lat).expect("forward");
            assert!(
                (x - row.x).abs() <= 1e-3 && (y - row.y).abs() <= 1e-3,
                "{twin} at ({}, {}): ({x}, {y}) vs PROJ ({}, {})",
                row.lon,
                row.lat,
                row.x,
                row.y
            );
        }
    }
}
