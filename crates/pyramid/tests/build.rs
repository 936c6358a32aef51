//! Pyramid generation from the committed GeoTIFF fixtures: georeferencing read right (GDAL as
//! oracle where installed), nearest-neighbour values exact, upper levels averaged from the level
//! below, limits covering the data, resumable builds.
#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::many_single_char_names)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crs::{Crs, Transformer};
use pyramid::{
    build, BuildOptions, CacheLimits, GeoTiff, Interpolation, Pyramid, TileFormat, TileMatrixSets,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/rasters"
    ))
    .join(name)
}

fn options(
    tms: &str,
    bottom: &str,
    top: &str,
    format: TileFormat,
    interpolation: Interpolation,
) -> BuildOptions {
    BuildOptions {
        tms: TileMatrixSets::builtin().get(tms).unwrap().clone(),
        bottom: bottom.to_owned(),
        top: top.to_owned(),
        format,
        interpolation,
        nodata: None,
        slab_size: (4, 4),
    }
}

#[test]
fn geotiff_georeferencing_is_read() {
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    assert_eq!(dem.size(), (200, 160));
    assert_eq!(dem.crs().epsg(), Some(2154));
    assert_eq!(dem.nodata(), Some(-99999.0));
    let bbox = dem.bbox().unwrap();
    assert_eq!(
        (bbox.min_x(), bbox.min_y(), bbox.max_x(), bbox.max_y()),
        (640_000.0, 6_860_000.0, 660_000.0, 6_876_000.0)
    );
    let rgb = GeoTiff::open(&fixture("rgb_4326.tif"), None).unwrap();
    assert_eq!(rgb.channels(), 3);
    assert_eq!(rgb.crs().epsg(), Some(4326));
    let bbox = rgb.bbox().unwrap();
    assert!(
        (bbox.min_x() - 2.0).abs() < 1e-9 && (bbox.max_y() - 49.0).abs() < 1e-9,
        "{bbox:?}"
    );
    // Pixels read back as written: the grid line at column 50 is dark, no-data is NaN.
    let window = rgb.window(50, 10, 1, 1).unwrap();
    assert_eq!(window.pixel(50, 10).unwrap(), &[20.0, 20.0, 20.0]);
    let corner = dem.window(0, 0, 2, 2).unwrap();
    assert!(corner.pixel(0, 0).is_none());
}

#[test]
fn geotiff_pixels_match_gdal() {
    if Command::new("gdallocationinfo")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: gdallocationinfo is not installed");
        return;
    }
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    for (col, row) in [(25, 30), (199, 159), (64, 64), (130, 7)] {
        let output = Command::new("gdallocationinfo")
            .args([
                "-valonly",
                &fixture("dem_2154.tif").display().to_string(),
                &col.to_string(),
                &row.to_string(),
            ])
            .output()
            .unwrap();
        let gdal: f32 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap();
        let ours = dem.window(col, row, 1, 1).unwrap().pixel(col, row).unwrap()[0];
        assert_eq!(ours, gdal, "pixel ({col}, {row})");
    }
}

/// The value of the source pixel under a point of the tile matrix set's CRS.
fn source_value(dem: &GeoTiff, crs: &Crs, x: f64, y: f64) -> Option<f32> {
    let (sx, sy) = Transformer::new(crs, dem.crs())
        .unwrap()
        .transform_point(x, y)
        .unwrap();
    let (u, v) = dem.transform().invert(sx, sy).unwrap();
    let (col, row) = (u.floor() as i64, v.floor() as i64);
    dem.window(col, row, 1, 1)
        .unwrap()
        .pixel(col, row)
        .map(|p| p[0])
}

#[test]
fn a_float_dem_built_with_nearest_keeps_the_source_values_exactly() {
    let out = tempfile::tempdir().unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let report = build(
        std::slice::from_ref(&dem),
        out.path(),
        &options(
            "PM",
            "12",
            "9",
            TileFormat::ZipFloat32,
            Interpolation::Nearest,
        ),
        &|_, _| {},
    )
    .unwrap();
    assert!(
        report.slabs_written > 0 && report.tiles_written > 0,
        "{report:?}"
    );
    let pyramid = Pyramid::open(
        &report.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    assert_eq!(
        pyramid
            .levels()
            .iter()
            .map(pyramid::Level::id)
            .collect::<Vec<_>>(),
        ["9", "10", "11", "12"]
    );
    assert_eq!(pyramid.nodata(), &[-99999.0]);
    let level = pyramid.level("12").unwrap();
    let matrix = pyramid.matrix(level).unwrap();
    let crs = pyramid.tile_matrix_set().crs().clone();
    // Every pixel of every stored tile of the bottom level equals the source pixel under its
    // centre (or no-data where the source has none).
    let l = level.limits();
    let mut checked = 0;
    for row in l.min_row..=l.max_row {
        for col in l.min_col..=l.max_col {
            let tile = matrix.tile(i64::from(col), i64::from(row)).unwrap();
            let Some(image) = pyramid.read_pixels(tile).unwrap() else {
                continue;
            };
            let bbox = matrix.tile_bbox(tile);
            for (i, j) in [(0, 0), (17, 200), (128, 128), (255, 255), (90, 3)] {
                let x = bbox.min_x() + (f64::from(i) + 0.5) * matrix.resolution();
                let y = bbox.max_y() - (f64::from(j) + 0.5) * matrix.resolution();
                let stored = image.pixel(i, j).unwrap()[0] as f32;
                match source_value(&dem, &crs, x, y) {
                    Some(value) => assert_eq!(stored, value, "tile {col}/{row} pixel {i},{j}"),
                    None => assert_eq!(stored, -99999.0, "tile {col}/{row} pixel {i},{j}"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn limits_cover_exactly_the_tiles_holding_data() {
    let out = tempfile::tempdir().unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let report = build(
        std::slice::from_ref(&dem),
        out.path(),
        &options(
            "PM",
            "11",
            "10",
            TileFormat::ZipFloat32,
            Interpolation::Bilinear,
        ),
        &|_, _| {},
    )
    .unwrap();
    let pyramid = Pyramid::open(
        &report.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    for level in pyramid.levels() {
        let matrix = pyramid.matrix(level).unwrap();
        let l = level.limits();
        // Brute force: tiles of a margin around the limits hold data only inside them, and
        // every edge row and column of the limits holds some data.
        let (mut min_col, mut max_col, mut min_row, mut max_row) = (u32::MAX, 0, u32::MAX, 0);
        for row in l.min_row.saturating_sub(2)..=l.max_row + 2 {
            for col in l.min_col.saturating_sub(2)..=l.max_col + 2 {
                let tile = matrix.tile(i64::from(col), i64::from(row)).unwrap();
                if pyramid.read_tile(tile).unwrap().is_some() {
                    min_col = min_col.min(col);
                    max_col = max_col.max(col);
                    min_row = min_row.min(row);
                    max_row = max_row.max(row);
                }
            }
        }
        assert_eq!(
            (min_col, max_col, min_row, max_row),
            (l.min_col, l.max_col, l.min_row, l.max_row),
            "level {}",
            level.id()
        );
    }
}

#[test]
fn upper_levels_average_the_level_below() {
    let out = tempfile::tempdir().unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let report = build(
        std::slice::from_ref(&dem),
        out.path(),
        &options(
            "LAMB93_10m",
            "11",
            "10",
            TileFormat::RawFloat32,
            Interpolation::Bilinear,
        ),
        &|_, _| {},
    )
    .unwrap();
    let pyramid = Pyramid::open(
        &report.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    let tms = pyramid.tile_matrix_set();
    let (upper, lower) = (tms.matrix("10").unwrap(), tms.matrix("11").unwrap());
    assert!((upper.resolution() / lower.resolution() - 2.0).abs() < 1e-9);
    let l = pyramid.level("10").unwrap().limits();
    let mut checked = 0;
    for row in l.min_row..=l.max_row {
        for col in l.min_col..=l.max_col {
            let tile = upper.tile(i64::from(col), i64::from(row)).unwrap();
            let Some(image) = pyramid.read_pixels(tile).unwrap() else {
                continue;
            };
            let bbox = upper.tile_bbox(tile);
            for (i, j) in (0..256u32)
                .step_by(7)
                .flat_map(|j| (0..256u32).step_by(11).map(move |i| (i, j)))
            {
                let value = image.pixel(i, j).unwrap()[0];
                if value == -99999.0 {
                    continue;
                }
                let x = bbox.min_x() + (f64::from(i) + 0.5) * upper.resolution();
                let y = bbox.max_y() - (f64::from(j) + 0.5) * upper.resolution();
                // The four lower pixels around (x, y).
                let mut sum = 0.0;
                let mut n = 0.0;
                for (dx, dy) in [(-0.5, 0.5), (0.5, 0.5), (-0.5, -0.5), (0.5, -0.5)] {
                    let (px, py) = (x + dx * lower.resolution(), y + dy * lower.resolution());
                    let hit = lower.point_to_tile(px, py).unwrap();
                    let lower_image = pyramid.read_pixels(hit.tile).unwrap().unwrap();
                    let v = lower_image.pixel(hit.i, hit.j).unwrap()[0];
                    if v != -99999.0 {
                        sum += v;
                        n += 1.0;
                    }
                }
                assert!((value - sum / n).abs() < 1e-3, "{value} vs {}", sum / n);
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn an_rgb_image_is_reprojected_into_web_mercator_as_jpeg() {
    let out = tempfile::tempdir().unwrap();
    let rgb = GeoTiff::open(&fixture("rgb_4326.tif"), None).unwrap();
    let report = build(
        std::slice::from_ref(&rgb),
        out.path(),
        &options(
            "PM",
            "14",
            "12",
            TileFormat::JpgUint8,
            Interpolation::Bicubic,
        ),
        &|_, _| {},
    )
    .unwrap();
    let pyramid = Pyramid::open(
        &report.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    let matrix = pyramid.tile_matrix_set().matrix("14").unwrap();
    // A point inside a smooth area of the source (away from grid lines): lon 2.125, lat 48.875
    // is column 125, row 125 → colour (79, 106, 83) in the source.
    let (x, y) = Transformer::new(&Crs::crs84(), &Crs::web_mercator())
        .unwrap()
        .transform_point(2.1255, 48.8745)
        .unwrap();
    let hit = matrix.point_to_tile(x, y).unwrap();
    let image = pyramid.read_pixels(hit.tile).unwrap().unwrap();
    let got = image.pixel(hit.i, hit.j).unwrap();
    let source = rgb.window(125, 125, 1, 1).unwrap();
    let want = source.pixel(125, 125).unwrap();
    for (g, w) in got.iter().zip(want) {
        assert!((g - f64::from(*w)).abs() <= 8.0, "{got:?} vs {want:?}");
    }
}

#[test]
fn a_restarted_build_skips_finished_slabs_and_other_parameters_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let opts = options(
        "PM",
        "11",
        "9",
        TileFormat::ZipFloat32,
        Interpolation::Nearest,
    );
    let first = build(std::slice::from_ref(&dem), out.path(), &opts, &|_, _| {}).unwrap();
    let descriptor = std::fs::read(&first.descriptor).unwrap();
    // Simulate an interrupted run: one slab lost, descriptor not written yet.
    let pyramid = Pyramid::open(
        &first.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    let level = pyramid.level("11").unwrap();
    let l = level.limits();
    let lost = level.slab_file(l.min_col, l.min_row);
    let lost_bytes = std::fs::read(&lost).unwrap();
    std::fs::remove_file(&lost).unwrap();
    std::fs::remove_file(&first.descriptor).unwrap();
    let second = build(std::slice::from_ref(&dem), out.path(), &opts, &|_, _| {}).unwrap();
    assert_eq!(second.slabs_written, 1, "{second:?}");
    assert_eq!(
        second.slabs_skipped,
        first.slabs_written - 1 + (first.slabs_skipped),
        "{second:?}"
    );
    assert_eq!(std::fs::read(&lost).unwrap(), lost_bytes);
    assert_eq!(std::fs::read(&second.descriptor).unwrap(), descriptor);
    // Same folder, other parameters: refused, nothing touched.
    let other = options(
        "PM",
        "12",
        "9",
        TileFormat::ZipFloat32,
        Interpolation::Nearest,
    );
    let error = build(std::slice::from_ref(&dem), out.path(), &other, &|_, _| {}).unwrap_err();
    assert!(error.to_string().contains("other parameters"), "{error}");
}

#[test]
fn bad_parameters_are_refused_with_the_fix() {
    let out = tempfile::tempdir().unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let cases = [
        (
            options(
                "PM",
                "9",
                "12",
                TileFormat::ZipFloat32,
                Interpolation::Nearest,
            ),
            "--top 12 is finer",
        ),
        (
            options(
                "PM",
                "99",
                "0",
                TileFormat::ZipFloat32,
                Interpolation::Nearest,
            ),
            "no level '99'",
        ),
        (
            options(
                "PM",
                "12",
                "9",
                TileFormat::JpgUint8,
                Interpolation::Nearest,
            ),
            "3 channels",
        ),
    ];
    for (opts, expected) in cases {
        let error = build(std::slice::from_ref(&dem), out.path(), &opts, &|_, _| {}).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
        let _ = std::fs::remove_dir_all(out.path());
    }
    assert!("sinc".parse::<Interpolation>().is_err());
    assert!(GeoTiff::open(Path::new("/nonexistent.tif"), None).is_err());
    assert!(GeoTiff::open(&fixture("README.md"), None)
        .unwrap_err()
        .to_string()
        .contains("not a readable TIFF"));
}
