//! Tile math on the hot path of GetTile and GetMap-over-pyramid: point → tile, bbox → tiles.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use pyramid::{Bbox, TileMatrixSets};

fn tile_math(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/tilematrixsets");
    let sets = TileMatrixSets::load_dir(dir).unwrap();
    let pm = sets.get("PM").unwrap();
    let z15 = pm.matrix("15").unwrap();
    c.bench_function("pm_z15_point_to_tile", |b| {
        b.iter(|| z15.point_to_tile(black_box(261_600.5), black_box(6_250_300.25)));
    });
    let bbox = Bbox::new(250_000.0, 6_240_000.0, 270_000.0, 6_260_000.0).unwrap();
    c.bench_function("pm_z15_tile_range", |b| {
        b.iter(|| z15.tile_range(black_box(&bbox)));
    });
    c.bench_function("pm_best_level", |b| {
        b.iter(|| pm.best_matrix_for_resolution(black_box(3.2)).level());
    });
}

criterion_group!(benches, tile_math);
criterion_main!(benches);
