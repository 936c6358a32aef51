//! Small pyramids the fuzz targets serve or corrupt: PM level 3, columns 3 and 4, rows 2 and
//! 3, in one 4×4 slab.

use std::path::Path;

use pyramid::{
    PyramidSpec, PyramidWriter, Samples, TileFormat, TileImage, TileLimits, TileMatrixSets,
};

/// Writes a pyramid of `format` (1 channel for floats, else 3) under `dir`.
pub fn write(dir: &Path, format: TileFormat) {
    let pm = TileMatrixSets::builtin()
        .get("PM")
        .expect("PM is built in")
        .clone();
    let float = matches!(format, TileFormat::ZipFloat32 | TileFormat::RawFloat32);
    let spec = PyramidSpec {
        format,
        channels: if float { 1 } else { 3 },
        nodata: if float {
            vec![-99999.0]
        } else {
            vec![255.0; 3]
        },
        interpolation: "nn".to_owned(),
        slab_size: (4, 4),
        path_depth: 2,
    };
    let mut writer = PyramidWriter::new(dir, pm, spec).expect("a pyramid writer");
    writer
        .add_level(
            "3",
            TileLimits {
                min_col: 3,
                max_col: 4,
                min_row: 2,
                max_row: 3,
            },
        )
        .expect("a level");
    writer
        .write_slab("3", 0, 0, |col, row| {
            Ok(Some(if float {
                let values = (0..256 * 256).map(|k| (k + col * row) as f32).collect();
                TileImage::new(256, 256, 1, Samples::F32(values)).expect("a float tile")
            } else {
                TileImage::filled(
                    256,
                    256,
                    format.sample_type(),
                    &[f64::from(col * 40), f64::from(row * 40), 90.0],
                )
            }))
        })
        .expect("a slab");
    writer.finish().expect("a finished pyramid");
}
