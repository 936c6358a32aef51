//! Reprojection cost: WMS GetMap in a CRS other than the data's transforms every vertex.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use crs::{Bbox, Crs, Transformer};

fn transforms(c: &mut Criterion) {
    let wgs84 = Crs::parse("CRS:84").unwrap();
    for target in ["EPSG:3857", "EPSG:2154", "EPSG:32631"] {
        let to = Crs::parse(target).unwrap();
        let t = Transformer::new(&wgs84, &to).unwrap();
        c.bench_function(
            &format!("point_crs84_to_{}", target.replace(':', "")),
            |b| {
                b.iter(|| {
                    t.transform_point(black_box(2.35), black_box(48.85))
                        .unwrap()
                });
            },
        );
    }
    let t = Transformer::new(&wgs84, &Crs::parse("EPSG:2154").unwrap()).unwrap();
    let bbox = Bbox::new(-5.0, 41.0, 10.0, 51.5).unwrap();
    c.bench_function("bbox_crs84_to_EPSG2154_densified", |b| {
        b.iter(|| t.transform_bbox(black_box(&bbox)).unwrap());
    });
    let points: Vec<(f64, f64)> = (0..10_000)
        .map(|i| {
            (
                -5.0 + 15.0 * f64::from(i) / 10_000.0,
                41.0 + 10.0 * f64::from(i % 97) / 97.0,
            )
        })
        .collect();
    c.bench_function("10k_points_crs84_to_EPSG2154", |b| {
        b.iter(|| {
            let mut batch = points.clone();
            t.transform_points(black_box(&mut batch)).unwrap();
            batch
        });
    });
}

criterion_group!(benches, transforms);
criterion_main!(benches);
