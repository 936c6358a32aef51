//! Tile math checked against brute force on seeded random tile matrices.
//!
//! The seed is fixed so a failure reproduces; proptest's shrinking still reports the smallest
//! failing matrix and point.
#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::many_single_char_names)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};
use pyramid::{
    resolution_from_scale_denominator, scale_denominator_from_resolution, Bbox, CornerOfOrigin,
    PyramidError, TileCoord, TileMatrix, TileMatrixSet,
};

fn config() -> Config {
    Config {
        cases: 256,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0054_494c_4552_4945),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A one-matrix set with a small grid, any origin, resolution and corner.
#[derive(Debug, Clone)]
struct Grid {
    origin: (f64, f64),
    resolution: f64,
    tile: (u32, u32),
    size: (u32, u32),
    bottom_left: bool,
}

impl Grid {
    fn tms(&self) -> TileMatrixSet {
        let json = format!(
            r#"{{"id": "G", "crs": "EPSG:3857", "orderedAxes": ["X", "Y"], "tileMatrices": [{{
                "id": "z", "scaleDenominator": 1.0, "cellSize": {res:?}, "pointOfOrigin": [{ox:?}, {oy:?}],
                "tileWidth": {tw}, "tileHeight": {th}, "matrixWidth": {mw}, "matrixHeight": {mh},
                "cornerOfOrigin": "{corner}" }}]}}"#,
            res = self.resolution,
            ox = self.origin.0,
            oy = self.origin.1,
            tw = self.tile.0,
            th = self.tile.1,
            mw = self.size.0,
            mh = self.size.1,
            corner = if self.bottom_left {
                "bottomLeft"
            } else {
                "topLeft"
            },
        );
        TileMatrixSet::from_json(&json).unwrap()
    }
}

fn grid() -> impl Strategy<Value = Grid> {
    (
        (-1e7..1e7_f64, -1e7..1e7_f64),
        prop_oneof![
            Just(1.0),
            Just(0.1),
            Just(0.703_125),
            Just(156_543.033_928_041),
            1e-3..1e4_f64
        ],
        (1_u32..=8, 1_u32..=8),
        (1_u32..=9, 1_u32..=9),
        any::<bool>(),
    )
        .prop_map(|(origin, resolution, tile, size, bottom_left)| Grid {
            origin,
            resolution,
            tile,
            size,
            bottom_left,
        })
}

fn all_tiles(m: &TileMatrix) -> Vec<TileCoord> {
    let mut tiles = Vec::new();
    for row in 0..m.matrix_height() {
        for col in 0..m.matrix_width() {
            tiles.push(m.tile(i64::from(col), i64::from(row)).unwrap());
        }
    }
    tiles
}

/// A coordinate from one tile before `lo` to one tile after `hi`; `t` in 0..1.
fn around(lo: f64, hi: f64, span: f64, t: f64) -> f64 {
    (lo - span) + t * (hi - lo + 2.0 * span)
}

/// The brute-force owner of a point: the tile whose bbox holds it, half-open as documented
/// (west edge in, east edge out; edge on the corner-of-origin side in, the opposite one out).
fn owner(m: &TileMatrix, x: f64, y: f64) -> Vec<TileCoord> {
    all_tiles(m)
        .into_iter()
        .filter(|&t| {
            let b = m.tile_bbox(t);
            let in_x = b.min_x() <= x && x < b.max_x();
            let in_y = match m.corner_of_origin() {
                CornerOfOrigin::TopLeft => b.min_y() < y && y <= b.max_y(),
                CornerOfOrigin::BottomLeft => b.min_y() <= y && y < b.max_y(),
            };
            in_x && in_y
        })
        .collect()
}

/// A point in or around the matrix; `edges` says which coordinates sit exactly on tile edges.
fn point(m: &TileMatrix, edges: (bool, bool), t: (f64, f64), k: (u32, u32)) -> (f64, f64) {
    let e = m.extent();
    let (x0, y0) = m.point_of_origin();
    let x = if edges.0 {
        x0 + f64::from(k.0 % (m.matrix_width() + 1)) * m.tile_span_x()
    } else {
        around(e.min_x(), e.max_x(), m.tile_span_x(), t.0)
    };
    let y = if edges.1 {
        let k = f64::from(k.1 % (m.matrix_height() + 1)) * m.tile_span_y();
        match m.corner_of_origin() {
            CornerOfOrigin::TopLeft => y0 - k,
            CornerOfOrigin::BottomLeft => y0 + k,
        }
    } else {
        around(e.min_y(), e.max_y(), m.tile_span_y(), t.1)
    };
    (x, y)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn point_to_tile_finds_the_one_tile_brute_force_finds(
        g in grid(), edges in any::<(bool, bool)>(), t in (0.0..1.0_f64, 0.0..1.0_f64), k in any::<(u32, u32)>(),
    ) {
        let tms = g.tms();
        let m = &tms.matrices()[0];
        let (x, y) = point(m, edges, t, k);
        let expected = owner(m, x, y);
        prop_assert!(expected.len() <= 1, "tiles overlap: {expected:?}");
        let got = m.point_to_tile(x, y);
        prop_assert_eq!(got.map(|p| p.tile), expected.first().copied(), "point ({}, {})", x, y);
        if let Some(hit) = got {
            // The pixel is in the tile and holds the point (to rounding).
            prop_assert!(hit.i < m.tile_width() && hit.j < m.tile_height());
            let b = m.tile_bbox(hit.tile);
            let r = m.resolution();
            let slack = 1e-9 * (b.max_x().abs().max(b.max_y().abs()) + r);
            let px = b.min_x() + f64::from(hit.i) * r;
            let py = b.max_y() - f64::from(hit.j) * r;
            prop_assert!(px - slack <= x && x <= px + r + slack, "pixel column {} of {:?} vs x {}", hit.i, b, x);
            prop_assert!(py - r - slack <= y && y <= py + slack, "pixel row {} of {:?} vs y {}", hit.j, b, y);
        }
    }

    #[test]
    fn the_bbox_of_the_tile_under_a_point_contains_it(
        g in grid(), t in (0.0..1.0_f64, 0.0..1.0_f64),
    ) {
        let tms = g.tms();
        let m = &tms.matrices()[0];
        let e = m.extent();
        let (x, y) = (e.min_x() + t.0 * e.width(), e.min_y() + t.1 * e.height());
        if let Some(hit) = m.point_to_tile(x, y) {
            let b = m.tile_bbox(hit.tile);
            prop_assert!(b.min_x() <= x && x <= b.max_x() && b.min_y() <= y && y <= b.max_y(), "{:?} vs ({}, {})", b, x, y);
        } else {
            // Only the far edges of the extent are outside.
            prop_assert!(x >= e.max_x() || y <= e.min_y() || y >= e.max_y(), "({}, {}) in {:?}", x, y, e);
        }
    }

    #[test]
    fn tile_range_is_the_set_of_tiles_whose_interior_meets_the_bbox(
        g in grid(),
        edges in any::<(bool, bool, bool, bool)>(),
        t in (0.0..1.0_f64, 0.0..1.0_f64, 0.0..1.0_f64, 0.0..1.0_f64),
        k in any::<(u32, u32, u32, u32)>(),
    ) {
        let tms = g.tms();
        let m = &tms.matrices()[0];
        let (xa, ya) = point(m, (edges.0, edges.1), (t.0, t.1), (k.0, k.1));
        let (xb, yb) = point(m, (edges.2, edges.3), (t.2, t.3), (k.2, k.3));
        let bbox = Bbox::new(xa.min(xb), ya.min(yb), xa.max(xb), ya.max(yb)).unwrap();
        let expected: BTreeSet<TileCoord> = all_tiles(m)
            .into_iter()
            .filter(|&t| {
                let b = m.tile_bbox(t);
                b.min_x() < bbox.max_x() && b.max_x() > bbox.min_x() && b.min_y() < bbox.max_y() && b.max_y() > bbox.min_y()
            })
            .collect();
        let got: BTreeSet<TileCoord> = m.tile_range(&bbox).map(|r| r.iter().collect()).unwrap_or_default();
        prop_assert_eq!(&got, &expected, "bbox {:?}", bbox);
        if let Some(range) = m.tile_range(&bbox) {
            prop_assert_eq!(range.len(), got.len() as u64);
            prop_assert!(got.iter().all(|&t| range.contains(t)));
        }
    }

    #[test]
    fn a_tile_bbox_maps_back_to_exactly_that_tile(g in grid(), c in any::<u32>(), r in any::<u32>()) {
        let tms = g.tms();
        let m = &tms.matrices()[0];
        let tile = m.tile(i64::from(c % m.matrix_width()), i64::from(r % m.matrix_height())).unwrap();
        let b = m.tile_bbox(tile);
        let range = m.tile_range(&b).unwrap();
        prop_assert_eq!(range.iter().collect::<Vec<_>>(), vec![tile]);
        let centre = m.point_to_tile(f64::midpoint(b.min_x(), b.max_x()), f64::midpoint(b.min_y(), b.max_y())).unwrap();
        prop_assert_eq!(centre.tile, tile);
    }

    #[test]
    fn tile_coords_outside_the_matrix_cannot_be_built(g in grid(), c in -5_i64..20, r in -5_i64..20) {
        let tms = g.tms();
        let m = &tms.matrices()[0];
        let inside = (0..i64::from(m.matrix_width())).contains(&c) && (0..i64::from(m.matrix_height())).contains(&r);
        match m.tile(c, r) {
            Ok(tile) => {
                prop_assert!(inside);
                prop_assert_eq!((i64::from(tile.col()), i64::from(tile.row())), (c, r));
            }
            Err(PyramidError::TileOutOfRange { col, row, max_col, max_row, .. }) => {
                prop_assert!(!inside);
                prop_assert_eq!((col, row, max_col + 1, max_row + 1), (c, r, m.matrix_width(), m.matrix_height()));
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
        // TMS rows: same validity, and flipping twice is the identity.
        prop_assert_eq!(m.tile_tms(c, r).is_ok(), inside);
        if let Ok(row) = u32::try_from(r) {
            let in_rows = row < m.matrix_height();
            prop_assert_eq!(m.tms_row(row).is_some(), in_rows);
            prop_assert_eq!(m.tms_row(row).and_then(|t| m.tms_row(t)), in_rows.then_some(row));
        }
    }

    #[test]
    fn resolution_and_scale_denominator_round_trip(res in 1e-9..1e9_f64, geographic in any::<bool>()) {
        let mpu = if geographic { 2.0 * std::f64::consts::PI * 6_378_137.0 / 360.0 } else { 1.0 };
        let scale = scale_denominator_from_resolution(res, mpu);
        prop_assert!((scale - res * mpu / 0.000_28).abs() <= 1e-12 * scale);
        let back = resolution_from_scale_denominator(scale, mpu);
        prop_assert!((back - res).abs() <= 1e-12 * res, "{} -> {} -> {}", res, scale, back);
    }
}
