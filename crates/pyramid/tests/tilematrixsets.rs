//! The shipped tile matrix sets load, and match their published definitions.
// The WebMercatorQuad table keeps the digits as published.
#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::excessive_precision)]

use pyramid::{Bbox, PyramidError, TileMatrixSet, TileMatrixSets, TmsFormat};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/tilematrixsets");

/// OGC 17-083r2, Annex D (WebMercatorQuad): (scale denominator, cell size) of levels 0 to 24.
const WEB_MERCATOR_QUAD: [(f64, f64); 25] = [
    (559_082_264.028_717_8, 156_543.033_928_041_0),
    (279_541_132.014_358_9, 78_271.516_964_020_48),
    (139_770_566.007_179_4, 39_135.758_482_010_23),
    (69_885_283.003_589_72, 19_567.879_241_005_12),
    (34_942_641.501_794_86, 9_783.939_620_502_561),
    (17_471_320.750_897_43, 4_891.969_810_251_280),
    (8_735_660.375_448_715, 2_445.984_905_125_640),
    (4_367_830.187_724_357, 1_222.992_452_562_820),
    (2_183_915.093_862_179, 611.496_226_281_410_0),
    (1_091_957.546_931_089, 305.748_113_140_704_8),
    (545_978.773_465_544_7, 152.874_056_570_352_5),
    (272_989.386_732_772_3, 76.437_028_285_176_24),
    (136_494.693_366_386_2, 38.218_514_142_588_13),
    (68_247.346_683_193_09, 19.109_257_071_294_06),
    (34_123.673_341_596_54, 9.554_628_535_647_032),
    (17_061.836_670_798_27, 4.777_314_267_823_516),
    (8_530.918_335_399_136, 2.388_657_133_911_758),
    (4_265.459_167_699_568, 1.194_328_566_955_879),
    (2_132.729_583_849_784, 0.597_164_283_477_939_5),
    (1_066.364_791_924_892, 0.298_582_141_738_969_7),
    (533.182_395_962_446_0, 0.149_291_070_869_484_9),
    (266.591_197_981_223_0, 0.074_645_535_434_742_44),
    (133.295_598_990_611_5, 0.037_322_767_717_371_22),
    (66.647_799_495_305_75, 0.018_661_383_858_685_61),
    (33.323_899_747_652_87, 0.009_330_691_929_342_804),
];
const WEB_MERCATOR_ORIGIN: (f64, f64) = (-20_037_508.342_789_2, 20_037_508.342_789_2);

fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * a.abs().max(b.abs())
}

fn load(id: &str) -> TileMatrixSet {
    TileMatrixSet::load(format!("{DIR}/{id}.json")).unwrap_or_else(|e| panic!("{id}: {e} ({e:?})"))
}

fn assert_web_mercator_quad(tms: &TileMatrixSet, levels: usize) {
    assert_eq!(tms.matrices().len(), levels, "{}", tms.id());
    for (z, m) in tms.matrices().iter().enumerate() {
        let (scale, cell) = WEB_MERCATOR_QUAD[z];
        assert_eq!(m.id(), z.to_string());
        assert_eq!(m.level() as usize, z);
        assert!(
            close(m.scale_denominator(), scale, 1e-8),
            "{} level {z}: scale {}",
            tms.id(),
            m.scale_denominator()
        );
        assert!(
            close(m.resolution(), cell, 1e-8),
            "{} level {z}: cell size {}",
            tms.id(),
            m.resolution()
        );
        assert!(
            close(tms.scale_denominator_of(m.resolution()), scale, 1e-8),
            "level {z}: 0.28 mm scale"
        );
        assert_eq!(m.point_of_origin(), WEB_MERCATOR_ORIGIN);
        assert_eq!(m.top_left(), WEB_MERCATOR_ORIGIN);
        assert_eq!((m.tile_width(), m.tile_height()), (256, 256));
        assert_eq!((m.matrix_width(), m.matrix_height()), (1 << z, 1 << z));
        let extent = m.extent();
        for (got, want) in [
            (extent.min_x(), WEB_MERCATOR_ORIGIN.0),
            (extent.max_x(), -WEB_MERCATOR_ORIGIN.0),
            (extent.min_y(), -WEB_MERCATOR_ORIGIN.1),
            (extent.max_y(), WEB_MERCATOR_ORIGIN.1),
        ] {
            assert!(close(got, want, 1e-8), "level {z}: extent {extent:?}");
        }
    }
}

#[test]
fn every_shipped_file_loads_and_the_directory_loads_as_a_registry() {
    let mut count = 0;
    for entry in std::fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let tms = TileMatrixSet::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e} ({e:?})", path.display()));
            assert_eq!(
                format!("{}.json", tms.id()),
                path.file_name().unwrap().to_string_lossy()
            );
            let resolutions: Vec<f64> = tms
                .matrices()
                .iter()
                .map(pyramid::TileMatrix::resolution)
                .collect();
            assert!(
                resolutions.windows(2).all(|w| w[0] > w[1]),
                "{}: levels not coarsest first",
                tms.id()
            );
            count += 1;
        }
    }
    let sets = TileMatrixSets::load_dir(DIR).unwrap();
    assert_eq!(sets.len(), count);
    for id in [
        "PM",
        "WebMercatorQuad",
        "WorldCRS84Quad",
        "WGS84G",
        "LAMB93",
        "LAMB93_10cm",
        "LAMB93_1M_MNT",
    ] {
        assert_eq!(sets.get(id).map(TileMatrixSet::id), Some(id));
    }
}

#[test]
fn pm_matches_the_published_web_mercator_quad_table() {
    let pm = load("PM");
    assert_eq!(pm.format(), TmsFormat::Rok4);
    assert_eq!(pm.crs().epsg(), Some(3857));
    assert_web_mercator_quad(&pm, 22);
}

#[test]
fn ogc_web_mercator_quad_matches_the_published_table_on_all_25_levels() {
    let wmq = load("WebMercatorQuad");
    assert_eq!(wmq.format(), TmsFormat::Ogc);
    assert_eq!(wmq.crs().epsg(), Some(3857));
    assert_web_mercator_quad(&wmq, 25);
}

#[test]
fn geographic_sets_have_their_origin_at_minus_180_90_in_east_north_order() {
    for id in ["WorldCRS84Quad", "WGS84G"] {
        let tms = load(id);
        let top = &tms.matrices()[0];
        assert_eq!(top.point_of_origin(), (-180.0, 90.0), "{id}");
        assert_eq!((top.matrix_width(), top.matrix_height()), (2, 1), "{id}");
        assert_eq!(top.resolution(), 0.703_125, "{id}");
        assert_eq!(
            top.extent(),
            Bbox::new(-180.0, -90.0, 180.0, 90.0).unwrap(),
            "{id}"
        );
    }
}

#[test]
fn lambert_93_sets_have_rok4_origins_and_fine_levels() {
    for id in ["LAMB93", "LAMB93_IGNF", "LAMB93_10cm", "LAMB93_5cm"] {
        let tms = load(id);
        assert!(
            tms.matrices()
                .iter()
                .all(|m| m.point_of_origin() == (0.0, 12_000_000.0)),
            "{id}"
        );
    }
    let fine = load("LAMB93_10cm");
    let bottom = fine.matrix("21").unwrap();
    assert_eq!(bottom.resolution(), 0.1);
    assert_eq!(
        (bottom.matrix_width(), bottom.matrix_height()),
        (50_400, 420_409)
    );
    assert_eq!(fine.matrices().last().unwrap().id(), "21");
    let mnt = load("LAMB93_1M_MNT");
    assert_eq!(
        mnt.matrix("8").unwrap().point_of_origin(),
        (-0.5, 12_000_000.5)
    );
}

#[test]
fn pm_and_web_mercator_quad_are_aliases_when_only_one_is_loaded() {
    let mut sets = TileMatrixSets::new();
    sets.insert(load("PM")).unwrap();
    assert_eq!(
        sets.get("WebMercatorQuad").map(TileMatrixSet::id),
        Some("PM")
    );
    assert!(sets.get("pm").is_none());
    let mut sets = TileMatrixSets::new();
    sets.insert(load("WebMercatorQuad")).unwrap();
    assert_eq!(
        sets.get("PM").map(TileMatrixSet::id),
        Some("WebMercatorQuad")
    );
    let err = sets.insert(load("WebMercatorQuad")).unwrap_err();
    assert!(
        matches!(err, PyramidError::DuplicateTileMatrixSet { ref id, .. } if id == "WebMercatorQuad")
    );
}

#[test]
fn pm_tile_math_agrees_with_the_xyz_convention() {
    let pm = load("PM");
    let z1 = pm.matrix("1").unwrap();
    // Paris is in the north-east quarter: XYZ tile 1/1/0.
    let hit = z1.point_to_tile(261_845.7, 6_250_564.3).unwrap();
    assert_eq!((hit.tile.col(), hit.tile.row()), (1, 0));
    assert_eq!(z1.tms_row(hit.tile.row()), Some(1));
    assert_eq!(z1.tile_tms(1, 1).unwrap(), hit.tile);
    let bbox = z1.tile_bbox(hit.tile);
    assert!(bbox.min_x().abs() < 1e-6, "{bbox:?}");
    assert_eq!(bbox.max_y(), WEB_MERCATOR_ORIGIN.1);
    // The whole world at level 3 is the whole matrix; the east and south edges add nothing.
    let z3 = pm.matrix("3").unwrap();
    let range = z3.tile_range(&z3.extent()).unwrap();
    assert_eq!(range, z3.full_range());
    assert_eq!(range.len(), 64);
    assert!(z3.point_to_tile(z3.extent().max_x(), 0.0).is_none());
    assert!(z3.point_to_tile(0.0, z3.extent().min_y()).is_none());
    assert_eq!(
        z3.point_to_tile(1.0, z3.extent().max_y()).unwrap().tile,
        z3.tile(4, 0).unwrap()
    );
}

#[test]
fn best_matrix_is_the_coarsest_at_least_as_fine_as_the_request() {
    let pm = load("PM");
    for m in pm.matrices() {
        let r = m.resolution();
        assert_eq!(pm.best_matrix_for_resolution(r).id(), m.id());
        assert_eq!(
            pm.best_matrix_for_resolution(r * (1.0 + 1e-12)).id(),
            m.id(),
            "rounding"
        );
        assert_eq!(
            pm.best_matrix_for_resolution(r * 1.5).id(),
            m.id(),
            "coarser request"
        );
        let finer = (m.level() + 1).min(pm.matrices().len() as u32 - 1);
        assert_eq!(
            pm.best_matrix_for_resolution(r / 1.5).level(),
            finer,
            "finer request"
        );
    }
    assert_eq!(pm.best_matrix_for_resolution(1e-6).id(), "21");
    assert_eq!(pm.best_matrix_for_resolution(1e9).id(), "0");
    let r5 = pm.matrix("5").unwrap().resolution();
    assert_eq!(
        pm.best_matrix_for_resolution_in(r5 / 100.0, 3..=10)
            .map(pyramid::TileMatrix::id),
        Some("10")
    );
    assert_eq!(
        pm.best_matrix_for_resolution_in(1e9, 3..=10)
            .map(pyramid::TileMatrix::id),
        Some("3")
    );
    assert_eq!(
        pm.best_matrix_for_resolution_in(r5, 3..=10)
            .map(pyramid::TileMatrix::id),
        Some("5")
    );
    assert_eq!(
        pm.best_matrix_for_resolution_in(r5 * 1.2, 18..=40)
            .map(pyramid::TileMatrix::id),
        Some("18")
    );
    assert!(pm.best_matrix_for_resolution_in(r5, 30..=40).is_none());
}
