//! Feeds arbitrary bytes to the slab reader as the slab of a small pyramid (ROK4 TIFF: header,
//! tile index, tiles), then reads every tile of it as stored and decoded: no input may panic,
//! loop or allocate without bound; a bad slab is an error. Seed corpus: the slabs of the
//! pyramids this target writes (`fuzz/corpus/slab_tiles/`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pyramid::{CacheLimits, Pyramid, TileFormat, TileMatrixSets};

#[path = "pyramids.rs"]
mod pyramids;

/// The pyramids whose slab is replaced by each input: (descriptor, slab file).
fn pyramids() -> &'static (tempfile::TempDir, Vec<(PathBuf, PathBuf)>) {
    static PYRAMIDS: OnceLock<(tempfile::TempDir, Vec<(PathBuf, PathBuf)>)> = OnceLock::new();
    PYRAMIDS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut found = Vec::new();
        for (name, format) in [
            ("png", TileFormat::PngUint8),
            ("jpeg", TileFormat::JpgUint8),
            ("float", TileFormat::ZipFloat32),
        ] {
            let root = dir.path().join(name);
            pyramids::write(&root, format);
            let descriptor = root.join("pyramid.json");
            let pyramid = Pyramid::open(
                &descriptor,
                &TileMatrixSets::builtin(),
                CacheLimits::default(),
            )
            .expect("the written pyramid opens");
            let slab = pyramid.levels()[0].slab_file(3, 2);
            found.push((descriptor, slab));
        }
        (dir, found)
    })
}

fuzz_target!(|data: &[u8]| {
    let sets = TileMatrixSets::builtin();
    for (descriptor, slab) in &pyramids().1 {
        std::fs::write(slab, data).expect("the slab is written");
        let Ok(pyramid) = Pyramid::open(descriptor, &sets, CacheLimits::default()) else {
            continue;
        };
        let matrix = pyramid
            .tile_matrix_set()
            .matrix("3")
            .expect("level 3")
            .clone();
        for (col, row) in [(3, 2), (4, 2), (3, 3), (4, 3)] {
            let tile = matrix.tile(col, row).expect("inside the matrix");
            let _ = pyramid.read_tile(tile);
            let _ = pyramid.read_pixels(tile);
        }
    }
});
