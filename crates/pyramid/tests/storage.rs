//! Pyramid storage: slabs written by us read back tile by tile, in every format; missing and
//! corrupt data behave; GDAL opens our slabs as tiled TIFFs (when gdalinfo is installed).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use pyramid::{
    layout, write_descriptor, CacheLimits, Descriptor, LevelDescriptor, Pyramid,
    RasterSpecifications, Samples, StorageDescriptor, TileFormat, TileImage, TileLimits,
    TileMatrixSets,
};
use pyramid::{slab_path, write_slab};

const TPW: u32 = 4;
const TPH: u32 = 2;

/// Tile content that tells tiles apart: every sample depends on (col, row, pixel, band).
fn tile_image(format: TileFormat, channels: u8, col: u32, row: u32) -> TileImage {
    let n = 256 * 256 * usize::from(channels);
    match format.sample_type() {
        pyramid::SampleType::Uint8 => {
            if format.is_lossy() {
                // Flat colour per tile: JPEG keeps it within a few levels.
                let rgb = [f64::from(col * 37 % 256), f64::from(row * 91 % 256), 128.0];
                TileImage::filled(256, 256, format.sample_type(), &rgb)
            } else {
                let samples = (0..n)
                    .map(|k| ((k as u32 + col * 7 + row * 13) % 256) as u8)
                    .collect();
                TileImage::new(256, 256, channels, Samples::U8(samples)).unwrap()
            }
        }
        pyramid::SampleType::Float32 => {
            let samples = (0..n)
                .map(|k| k as f32 * 0.5 + col as f32 * 1000.0 - row as f32)
                .collect();
            TileImage::new(256, 256, channels, Samples::F32(samples)).unwrap()
        }
    }
}

/// Writes a PM pyramid with level 3 (tiles cols 2..=5, rows 1..=3) in `dir`; tile (5, 3) absent.
fn build(dir: &Path, format: TileFormat, channels: u8) -> Pyramid {
    let sets = TileMatrixSets::builtin();
    let pm = sets.get("PM").unwrap();
    let matrix = pm.matrix("3").unwrap();
    let level = LevelDescriptor {
        id: "3".to_owned(),
        tiles_per_width: TPW,
        tiles_per_height: TPH,
        tile_limits: TileLimits {
            min_col: 2,
            max_col: 5,
            min_row: 1,
            max_row: 3,
        },
        storage: StorageDescriptor::file("pyramid/DATA/3".to_owned(), 2),
        tables: Vec::new(),
    };
    let slab_layout = layout(format, channels, matrix, &level);
    for slab_row in 0..=1 {
        for slab_col in 0..=1 {
            let mut tiles = Vec::new();
            for r in 0..TPH {
                for c in 0..TPW {
                    let (col, row) = (slab_col * TPW + c, slab_row * TPH + r);
                    let inside =
                        (2..=5).contains(&col) && (1..=3).contains(&row) && (col, row) != (5, 3);
                    tiles.push(inside.then(|| {
                        pyramid::encode_tile(format, &tile_image(format, channels, col, row))
                            .unwrap()
                    }));
                }
            }
            let path = dir
                .join("pyramid/DATA/3")
                .join(slab_path(slab_col, slab_row, 2));
            write_slab(&path, &slab_layout, &tiles).unwrap();
        }
    }
    let descriptor = Descriptor {
        tile_matrix_set: "PM".to_owned(),
        format: format.name().to_owned(),
        raster_specifications: Some(RasterSpecifications {
            channels,
            nodata: "0".to_owned(),
            photometric: if channels >= 3 { "rgb" } else { "gray" }.to_owned(),
            interpolation: "bicubic".to_owned(),
        }),
        levels: vec![level],
        mask_format: None,
    };
    write_descriptor(&dir.join("pyramid.json"), &descriptor).unwrap();
    Pyramid::open(&dir.join("pyramid.json"), &sets, CacheLimits::default()).unwrap()
}

#[test]
fn every_format_reads_back_the_tiles_it_stored() {
    for (format, channels) in [
        (TileFormat::JpgUint8, 3),
        (TileFormat::PngUint8, 1),
        (TileFormat::PngUint8, 4),
        (TileFormat::ZipUint8, 3),
        (TileFormat::RawUint8, 2),
        (TileFormat::ZipFloat32, 1),
        (TileFormat::RawFloat32, 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let pyramid = build(dir.path(), format, channels);
        let matrix = pyramid.tile_matrix_set().matrix("3").unwrap();
        for row in 1..=3 {
            for col in 2..=5 {
                let tile = matrix.tile(i64::from(col), i64::from(row)).unwrap();
                let got = pyramid.read_pixels(tile).unwrap();
                if (col, row) == (5, 3) {
                    assert!(got.is_none(), "{format}: tile (5, 3) was never written");
                    continue;
                }
                let got = got.unwrap_or_else(|| panic!("{format}: tile ({col}, {row}) missing"));
                let want = tile_image(format, channels, col, row);
                if format.is_lossy() {
                    let (g, w) = (got.pixel(100, 100).unwrap(), want.pixel(100, 100).unwrap());
                    assert!(
                        g.iter().zip(&w).all(|(a, b)| (a - b).abs() <= 3.0),
                        "{format} {g:?} vs {w:?}"
                    );
                } else {
                    assert_eq!(
                        got, want,
                        "{format} channels {channels} tile ({col}, {row})"
                    );
                }
            }
        }
    }
}

#[test]
fn tiles_outside_the_limits_or_in_missing_slabs_are_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let pyramid = build(dir.path(), TileFormat::PngUint8, 3);
    let matrix = pyramid.tile_matrix_set().matrix("3").unwrap();
    // Outside the limits.
    assert!(pyramid
        .read_tile(matrix.tile(0, 0).unwrap())
        .unwrap()
        .is_none());
    // Inside the limits, slab deleted.
    let slab = pyramid.level("3").unwrap().slab_file(2, 1);
    std::fs::remove_file(&slab).unwrap();
    let fresh = Pyramid::open(
        pyramid.path(),
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    assert!(fresh
        .read_tile(matrix.tile(2, 1).unwrap())
        .unwrap()
        .is_none());
    // Another level of the set: no data.
    let other = pyramid.tile_matrix_set().matrix("4").unwrap();
    assert!(pyramid
        .read_tile(other.tile(4, 4).unwrap())
        .unwrap()
        .is_none());
}

#[test]
fn a_truncated_slab_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pyramid = build(dir.path(), TileFormat::RawUint8, 1);
    let slab = pyramid.level("3").unwrap().slab_file(2, 1);
    let bytes = std::fs::read(&slab).unwrap();
    std::fs::write(&slab, &bytes[..bytes.len() / 2]).unwrap();
    let fresh = Pyramid::open(
        pyramid.path(),
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    let matrix = fresh.tile_matrix_set().matrix("3").unwrap();
    let results: Vec<_> = (2..=3)
        .map(|c| fresh.read_tile(matrix.tile(c, 1).unwrap()))
        .collect();
    assert!(
        results.iter().any(Result::is_err),
        "a tile beyond the end must be an error"
    );
    std::fs::write(&slab, &bytes[..100]).unwrap();
    let fresh = Pyramid::open(
        pyramid.path(),
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    assert!(fresh.read_tile(matrix.tile(2, 1).unwrap()).is_err());
}

#[test]
fn etags_differ_between_tiles_and_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let pyramid = build(dir.path(), TileFormat::PngUint8, 3);
    let matrix = pyramid.tile_matrix_set().matrix("3").unwrap();
    let a = pyramid
        .read_tile(matrix.tile(2, 1).unwrap())
        .unwrap()
        .unwrap();
    let b = pyramid
        .read_tile(matrix.tile(3, 1).unwrap())
        .unwrap()
        .unwrap();
    let a2 = pyramid
        .read_tile(matrix.tile(2, 1).unwrap())
        .unwrap()
        .unwrap();
    assert_ne!(a.etag, b.etag);
    assert_eq!(a, a2);
}

#[test]
fn a_tiny_cache_still_answers_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), TileFormat::ZipUint8, 3);
    let pyramid = Pyramid::open(
        built.path(),
        &TileMatrixSets::builtin(),
        CacheLimits {
            index_bytes: 1,
            open_files: 1,
        },
    )
    .unwrap();
    let matrix = pyramid.tile_matrix_set().matrix("3").unwrap();
    for _ in 0..3 {
        for (col, row) in [(2, 1), (5, 1), (2, 2), (4, 3)] {
            let tile = pyramid
                .read_pixels(matrix.tile(col, row).unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(
                tile,
                tile_image(TileFormat::ZipUint8, 3, col as u32, row as u32)
            );
        }
    }
}

#[test]
fn invalid_descriptors_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    let sets = TileMatrixSets::builtin();
    let cases = [
        ("not json", "expected"),
        (
            r#"{"tile_matrix_set":"NOPE","format":"TIFF_PNG_UINT8","raster_specifications":{"channels":3,"nodata":"0","photometric":"rgb","interpolation":"nn"},"levels":[]}"#,
            "tile matrix set 'NOPE' is unknown",
        ),
        (
            r#"{"tile_matrix_set":"PM","format":"TIFF_LZW_UINT8","raster_specifications":{"channels":3,"nodata":"0","photometric":"rgb","interpolation":"nn"},"levels":[]}"#,
            "unsupported pyramid format",
        ),
        (
            r#"{"tile_matrix_set":"PM","format":"TIFF_JPG_UINT8","raster_specifications":{"channels":1,"nodata":"0","photometric":"gray","interpolation":"nn"},"levels":[]}"#,
            "3 channels",
        ),
        (
            r#"{"tile_matrix_set":"PM","format":"TIFF_PNG_UINT8","raster_specifications":{"channels":3,"nodata":"0,0","photometric":"rgb","interpolation":"nn"},"levels":[]}"#,
            "2 values for 3 channels",
        ),
        (
            r#"{"tile_matrix_set":"PM","format":"TIFF_PNG_UINT8","raster_specifications":{"channels":3,"nodata":"0","photometric":"rgb","interpolation":"nn"},"levels":[{"id":"2","tiles_per_width":4,"tiles_per_height":4,"tile_limits":{"min_col":0,"max_col":9,"min_row":0,"max_row":0},"storage":{"type":"FILE","image_directory":"x","path_depth":2}}]}"#,
            "beyond the tile matrix",
        ),
        (
            r#"{"tile_matrix_set":"PM","format":"TIFF_PNG_UINT8","raster_specifications":{"channels":3,"nodata":"0","photometric":"rgb","interpolation":"nn"},"levels":[{"id":"2","tiles_per_width":4,"tiles_per_height":4,"tile_limits":{"min_col":0,"max_col":1,"min_row":0,"max_row":0},"storage":{"type":"S3","image_prefix":"x"}}]}"#,
            "open the descriptor from its bucket",
        ),
        (
            r#"{"tile_matrix_set":"PM","format":"TIFF_PNG_UINT8","raster_specifications":{"channels":3,"nodata":"0","photometric":"rgb","interpolation":"nn"},"levels":[{"id":"2","tiles_per_width":4,"tiles_per_height":4,"tile_limits":{"min_col":0,"max_col":1,"min_row":0,"max_row":0},"storage":{"type":"CEPH","image_prefix":"x","pool_name":"p"}}]}"#,
            "CEPH (rados) storage is not supported",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, text).unwrap();
        let error = Pyramid::open(&path, &sets, CacheLimits::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{text}\n→ {error}");
    }
}

#[test]
fn gdal_opens_our_slabs_as_tiled_tiffs() {
    if std::process::Command::new("gdalinfo")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: gdalinfo is not installed");
        return;
    }
    for (format, channels, compression) in [
        (TileFormat::RawUint8, 3, None),
        (TileFormat::ZipUint8, 1, Some("DEFLATE")),
        (TileFormat::ZipFloat32, 1, Some("DEFLATE")),
        (TileFormat::JpgUint8, 3, Some("JPEG")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let pyramid = build(dir.path(), format, channels);
        let slab = pyramid.level("3").unwrap().slab_file(2, 1);
        let output = std::process::Command::new("gdalinfo")
            .args(["-checksum", "-nomd"])
            .arg(&slab)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let errors = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{format}: {text}{errors}");
        assert!(text.contains("Size is 1024, 512"), "{format}: {text}");
        assert!(text.contains("Block=256x256"), "{format}: {text}");
        assert_eq!(
            text.matches("Band ").count(),
            usize::from(channels),
            "{format}: {text}"
        );
        assert!(!errors.contains("ERROR"), "{format}: {errors}");
        if let Some(compression) = compression {
            let with_md = std::process::Command::new("gdalinfo")
                .arg(&slab)
                .output()
                .unwrap();
            let described = String::from_utf8_lossy(&with_md.stdout).into_owned();
            assert!(
                described.contains("COMPRESSION=") && described.contains(compression),
                "{format}: {described}"
            );
        }
    }
}

/// A writer killed between writing a slab's temporary file and renaming it leaves
/// `.{slab}.{pid}.tmp` behind: the run that finishes the pyramid removes it and lists only
/// slabs.
#[test]
fn finishing_a_pyramid_removes_the_temporaries_of_a_killed_run() {
    let dir = tempfile::tempdir().unwrap();
    let pm = TileMatrixSets::builtin().get("PM").unwrap().clone();
    let spec = pyramid::PyramidSpec {
        format: TileFormat::PngUint8,
        channels: 3,
        nodata: vec![255.0; 3],
        interpolation: "nn".to_owned(),
        slab_size: (4, 4),
        path_depth: 2,
    };
    let mut writer = pyramid::PyramidWriter::new(dir.path(), pm, spec).unwrap();
    let limits = TileLimits {
        min_col: 0,
        max_col: 3,
        min_row: 0,
        max_row: 3,
    };
    writer.add_level("2", limits).unwrap();
    writer
        .write_slab("2", 0, 0, |col, row| {
            Ok(Some(tile_image(TileFormat::PngUint8, 3, col, row)))
        })
        .unwrap();
    let slab = dir.path().join("pyramid/DATA/2").join(slab_path(0, 0, 2));
    let leftover = slab.with_file_name(".00.tif.4242.tmp");
    std::fs::write(&leftover, b"half a slab").unwrap();
    writer.finish().unwrap();
    assert!(!leftover.exists(), "{} is left", leftover.display());
    assert!(slab.exists());
    let list = std::fs::read_to_string(dir.path().join("pyramid.list")).unwrap();
    assert!(!list.contains("4242"), "{list}");
}
