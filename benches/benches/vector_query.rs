//! Bbox queries of a stored layer, as the renderer makes them: random 256×256-pixel maps at
//! three scales (1:2 000 streets, 1:25 000 town, 1:200 000 the whole area), through the
//! in-memory rstar index and through the GeoPackage R-tree.
//!
//! Needs a stored layer: `benches/vector_1m.sh` makes a million parcels and runs this with
//! `TUILERIE_BENCH_STORE` set; without it, a small committed fixture is integrated instead.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crs::{Bbox, Crs};
use vectorstore::{Store, StoreOptions};

struct Subject {
    _temp: Option<tempfile::TempDir>,
    dir: PathBuf,
}

fn subject() -> Subject {
    if let Ok(dir) = std::env::var("TUILERIE_BENCH_STORE") {
        return Subject {
            _temp: None,
            dir: PathBuf::from(dir),
        };
    }
    let temp = tempfile::tempdir().unwrap();
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/gpkg/communes_2154.gpkg");
    let report = vectorstore::ingest(
        &fixture,
        temp.path(),
        "bench",
        &vectorstore::IngestOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let dir = report.stored.unwrap();
    Subject {
        _temp: Some(temp),
        dir,
    }
}

/// Seeded random map extents of `size` CRS units inside `extent` (xorshift: no rand crate).
fn extents(extent: [f64; 4], size: f64, n: usize) -> Vec<Bbox> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let x = extent[0] + next() * (extent[2] - extent[0] - size).max(0.0);
            let y = extent[1] + next() * (extent[3] - extent[1] - size).max(0.0);
            Bbox::new(x, y, x + size, y + size).unwrap()
        })
        .collect()
}

fn queries(c: &mut Criterion) {
    let subject = subject();
    let memory = Store::open(
        &subject.dir,
        StoreOptions {
            memory_budget_bytes: 3 << 30,
        },
    )
    .unwrap();
    let sqlite = Store::open(
        &subject.dir,
        StoreOptions {
            memory_budget_bytes: 0,
        },
    )
    .unwrap();
    let layer = memory.layers()[0].clone();
    let crs = Crs::parse(&layer.srs).unwrap();
    let extent = layer.bbox.unwrap();
    let attributes: Vec<&str> = layer
        .attributes
        .iter()
        .take(2)
        .map(|a| a.name.as_str())
        .collect();
    // Load the in-memory index before timing.
    memory.preload();
    let mut group = c.benchmark_group("vector_query");
    group.throughput(Throughput::Elements(1));
    for (label, scale) in [
        ("1:2000", 2_000.0),
        ("1:25000", 25_000.0),
        ("1:200000", 200_000.0),
    ] {
        // A 256-pixel map at this scale, 0.28 mm pixels.
        let size = 256.0 * scale * 0.000_28;
        let boxes = extents(extent, size, 64);
        for (index, store) in [("memory", &memory), ("gpkg", &sqlite)] {
            let mut k = 0;
            group.bench_function(format!("{index} {label}"), |b| {
                b.iter(|| {
                    k = (k + 1) % boxes.len();
                    let n = store
                        .features(&layer.name, &boxes[k], &crs, scale, &attributes)
                        .unwrap()
                        .count();
                    black_box(n)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
