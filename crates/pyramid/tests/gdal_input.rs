//! Inputs the GeoTIFF reader does not decode are read through GDAL with the `gdal` feature: a
//! YCbCr JPEG-compressed GeoTIFF and a JPEG 2000 copy of `rgb_4326.tif` give the same pixels
//! (within the lossy codecs' tolerance) and the same georeferencing.
#![cfg(feature = "gdal")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use pyramid::GeoTiff;

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/rasters"
    ))
    .join(name)
}

#[test]
fn jpeg_tiff_and_jpeg_2000_inputs_open_through_gdal_with_the_source_pixels() {
    let original = GeoTiff::open(&fixture("rgb_4326.tif"), None).unwrap();
    let want = original.window(0, 0, 400, 300).unwrap();
    for name in ["rgb_4326_ycbcr_jpeg.tif", "rgb_4326.jp2"] {
        assert!(
            GeoTiff::open(&fixture(name), None).is_err(),
            "{name} is not one the GeoTIFF reader decodes"
        );
        let scratch = tempfile::tempdir().unwrap();
        let opened = GeoTiff::open_any(&fixture(name), None, scratch.path()).unwrap();
        assert_eq!(opened.size(), (400, 300), "{name}");
        assert_eq!(opened.channels(), 3, "{name}");
        assert_eq!(opened.crs(), original.crs(), "{name}");
        assert_eq!(opened.transform(), original.transform(), "{name}");
        let got = opened.window(0, 0, 400, 300).unwrap();
        let mut total = 0.0;
        let mut count = 0.0;
        for row in (0..300).step_by(7) {
            for col in (0..400).step_by(7) {
                let a = got.pixel(col, row).unwrap();
                let b = want.pixel(col, row).unwrap();
                for (x, y) in a.iter().zip(b) {
                    total += f64::from((x - y).abs());
                    count += 1.0;
                }
            }
        }
        let mean = total / count;
        assert!(mean < 6.0, "{name}: mean difference {mean}");
    }
}
