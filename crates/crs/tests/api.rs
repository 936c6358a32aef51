//! Parsing, axis order, equivalence, bounding boxes and transforms through the public API.
#![allow(clippy::float_cmp)]

use crs::{AxisOrder, Bbox, Crs, CrsError, Transformer};

fn parse(text: &str) -> Crs {
    Crs::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn every_ogc_spelling_of_an_epsg_code_parses_to_the_same_crs() {
    for text in [
        "EPSG:2154",
        "epsg:2154",
        " EPSG:2154 ",
        "urn:ogc:def:crs:EPSG::2154",
        "URN:OGC:DEF:CRS:EPSG::2154",
        "urn:ogc:def:crs:EPSG:6.6:2154",
        "urn:ogc:def:crs:EPSG:2154",
        "urn:x-ogc:def:crs:EPSG:2154",
        "http://www.opengis.net/def/crs/EPSG/0/2154",
        "HTTP://WWW.OPENGIS.NET/def/crs/epsg/0/2154",
        "https://www.opengis.net/def/crs/EPSG/0/2154",
        "http://www.opengis.net/gml/srs/epsg.xml#2154",
    ] {
        let crs = parse(text);
        assert_eq!(crs.code(), "EPSG:2154", "{text}");
        assert_eq!(crs.epsg(), Some(2154), "{text}");
        assert_eq!(crs, Crs::from_epsg(2154).expect("known"));
        assert_eq!(text.trim().parse::<Crs>().expect("FromStr"), crs);
    }
}

#[test]
fn every_spelling_of_crs84_parses_to_crs84() {
    for text in [
        "CRS:84",
        "crs:84",
        "OGC:CRS84",
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "urn:ogc:def:crs:OGC::CRS84",
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/OGC/0/CRS84",
    ] {
        assert_eq!(parse(text), Crs::crs84(), "{text}");
    }
    assert_eq!(Crs::crs84().code(), "CRS:84");
    assert_eq!(Crs::crs84().epsg(), None);
}

#[test]
fn ignf_names_keep_their_identity_and_are_equivalent_to_their_epsg_twin() {
    let cases = [
        ("IGNF:LAMB93", 2154),
        ("ignf:lamb93", 2154),
        ("IGNF:RGF93LAMB93", 2154),
        ("urn:ogc:def:crs:IGNF:1.0:LAMB93", 2154),
        ("IGNF:LAMBE", 27572),
        ("IGNF:RGF93CC46", 3946),
        ("IGNF:UTM20W84GUAD", 32620),
        ("IGNF:UTM20W84MART", 32620),
        ("IGNF:UTM22RGFG95", 2972),
        ("IGNF:RGR92UTM40S", 2975),
        ("IGNF:RGM04UTM38S", 4471),
        ("IGNF:RGAF09UTM20", 5490),
        ("IGNF:WGS84WMSV", 3857),
        ("IGNF:UTM01SW84", 32701),
    ];
    for (text, epsg) in cases {
        let crs = parse(text);
        let twin = Crs::from_epsg(epsg).expect("known");
        assert!(crs.code().starts_with("IGNF:"), "{text}");
        assert_ne!(crs, twin, "{text}: a different identifier");
        assert!(
            crs.equivalent(&twin) && twin.equivalent(&crs),
            "{text} ≡ EPSG:{epsg}"
        );
        assert_eq!(crs.epsg(), Some(epsg), "{text}");
        assert_eq!(crs.urn(), format!("urn:ogc:def:crs:EPSG::{epsg}"));
        assert_eq!(crs.axis_order(), AxisOrder::EastNorth);
        assert!(Transformer::new(&crs, &twin)
            .expect("transformer")
            .is_identity());
    }
    assert_eq!(parse("IGNF:RGF93LAMB93").code(), "IGNF:LAMB93");
    assert_eq!(parse("IGNF:LAMB93").to_string(), "IGNF:LAMB93");
}

#[test]
fn ignf_geographic_crss_are_longitude_first() {
    for (text, epsg) in [
        ("IGNF:WGS84G", 4326),
        ("IGNF:RGF93G", 4171),
        ("IGNF:ETRS89G", 4258),
    ] {
        let crs = parse(text);
        let twin = Crs::from_epsg(epsg).expect("known");
        assert_eq!(crs.axis_order(), AxisOrder::EastNorth, "{text}");
        assert_eq!(twin.axis_order(), AxisOrder::NorthEast, "EPSG:{epsg}");
        assert!(crs.equivalent(&twin), "{text}");
        assert_eq!(crs.epsg(), None, "{text}: not EPSG's axis order");
        assert!(crs.is_geographic());
    }
    assert!(parse("IGNF:WGS84G").equivalent(&Crs::crs84()));
    assert_eq!(parse("IGNF:WGS84G").urn(), "urn:ogc:def:crs:OGC:1.3:CRS84");
    assert_eq!(parse("IGNF:RGF93G").urn(), "urn:ogc:def:crs:IGNF::RGF93G");
    assert_eq!(parse(&parse("IGNF:RGF93G").urn()), parse("IGNF:RGF93G"));
}

#[test]
fn web_mercator_aliases_parse_to_epsg_3857() {
    for text in [
        "EPSG:900913",
        "EPSG:3785",
        "EPSG:102100",
        "EPSG:102113",
        "EPSG:3857",
    ] {
        assert_eq!(parse(text), Crs::web_mercator(), "{text}");
    }
    assert_eq!(Crs::from_epsg(900_913).expect("alias"), Crs::web_mercator());
}

#[test]
fn axis_order_follows_epsg() {
    let north_east = ["EPSG:4326", "EPSG:4258", "EPSG:4171", "EPSG:3035"];
    let east_north = [
        "CRS:84",
        "EPSG:2154",
        "EPSG:3857",
        "EPSG:27572",
        "EPSG:32631",
        "EPSG:32740",
    ];
    for text in north_east {
        assert_eq!(parse(text).axis_order(), AxisOrder::NorthEast, "{text}");
    }
    for text in east_north {
        assert_eq!(parse(text).axis_order(), AxisOrder::EastNorth, "{text}");
    }
    assert_eq!(parse("IGNF:ETRS89LAEA").axis_order(), AxisOrder::EastNorth);
    assert_eq!(
        parse("IGNF:ETRS89LAEA").epsg(),
        None,
        "EPSG:3035 is northing first"
    );
    assert_eq!(AxisOrder::NorthEast.to_xy(1.0, 2.0), (2.0, 1.0));
    assert_eq!(AxisOrder::NorthEast.from_xy(2.0, 1.0), (1.0, 2.0));
    assert_eq!(AxisOrder::EastNorth.to_xy(1.0, 2.0), (1.0, 2.0));
}

#[test]
fn units_names_and_identifiers() {
    let wgs84 = Crs::wgs84();
    assert!(wgs84.is_geographic());
    assert_eq!(
        wgs84.metres_per_unit(),
        2.0 * std::f64::consts::PI * 6_378_137.0 / 360.0
    );
    assert_eq!(Crs::web_mercator().metres_per_unit(), 1.0);
    assert_eq!(wgs84.urn(), "urn:ogc:def:crs:EPSG::4326");
    assert_eq!(wgs84.uri(), "http://www.opengis.net/def/crs/EPSG/0/4326");
    assert_eq!(Crs::crs84().urn(), "urn:ogc:def:crs:OGC:1.3:CRS84");
    assert_eq!(
        Crs::crs84().uri(),
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    assert_eq!(parse("EPSG:2154").name(), "RGF93 v1 / Lambert-93");
    assert_eq!(format!("{}", parse("EPSG:32631")), "EPSG:32631");
    assert_eq!(format!("{:?}", parse("EPSG:32631")), "Crs(\"EPSG:32631\")");
    assert!(parse("EPSG:2154").proj4().starts_with("+proj=lcc"));
    let area = Crs::web_mercator().valid_area();
    assert_eq!(area.max_y(), 85.051_128_779_806_6);
    assert_eq!(
        parse("EPSG:32631").valid_area(),
        Bbox::new(0.0, 0.0, 6.0, 84.0).expect("bbox")
    );
}

#[test]
fn urns_and_uris_parse_back_to_the_same_crs() {
    for crs in Crs::known() {
        assert_eq!(parse(crs.code()), crs);
        assert!(parse(&crs.urn()).equivalent(&crs), "{}", crs.urn());
        assert!(parse(&crs.uri()).equivalent(&crs), "{}", crs.uri());
        assert_eq!(
            parse(&crs.urn()).axis_order(),
            crs.axis_order(),
            "{}",
            crs.urn()
        );
    }
}

#[test]
fn known_lists_the_required_crss_and_every_definition_works() {
    let mut required = vec![
        4326, 4258, 4171, 3857, 2154, 27572, 3035, 2972, 2975, 4471, 5490,
    ];
    required.extend(3942..=3950);
    required.extend(32601..=32660);
    required.extend(32701..=32760);
    let known: Vec<Crs> = Crs::known().collect();
    for code in required {
        assert!(
            known.iter().any(|c| c.code() == format!("EPSG:{code}")),
            "EPSG:{code}"
        );
    }
    for crs in &known {
        let t = Transformer::new(&Crs::crs84(), crs).expect("every definition parses");
        let (lon, lat) = crs.valid_area().center();
        let (x, y) = t
            .transform_point(lon, lat)
            .unwrap_or_else(|e| panic!("{crs}: {e}"));
        let (lon2, lat2) = t
            .inverse()
            .expect("inverse")
            .transform_point(x, y)
            .expect("back");
        // 1e-7°: the NTF Helmert shift drops heights, so its round trip closes to ~1e-8° only.
        assert!(
            (lon - lon2).abs() < 1e-7 && (lat - lat2).abs() < 1e-7,
            "{crs}"
        );
    }
}

#[test]
fn errors_say_what_to_write() {
    let err = Crs::parse("EPSG:99999").expect_err("unknown");
    assert!(matches!(err, CrsError::Unknown(_)));
    let message = err.to_string();
    assert!(
        message.contains("'EPSG:99999'") && message.contains("2154"),
        "{message}"
    );
    let err = Crs::parse("WGS84").expect_err("malformed");
    assert!(matches!(err, CrsError::Malformed(_)));
    assert!(err.to_string().contains("urn:ogc:def:crs:EPSG::n"), "{err}");
    for text in [
        "",
        "EPSG:",
        "EPSG:abc",
        "urn:ogc:def:crs:EPSG",
        "http://www.opengis.net/def/crs/EPSG/4326",
    ] {
        assert!(Crs::parse(text).is_err(), "{text:?}");
    }
    assert!(matches!(Crs::parse("IGNF:NOPE"), Err(CrsError::Unknown(_))));
    assert!(matches!(Crs::parse("CRS:83"), Err(CrsError::Unknown(_))));
}

#[test]
fn bboxes_cannot_be_inverted_or_nan() {
    assert!(Bbox::new(0.0, 0.0, 1.0, 1.0).is_ok());
    assert!(
        Bbox::new(1.0, 1.0, 1.0, 1.0).is_ok(),
        "a point is a valid box"
    );
    assert!(matches!(
        Bbox::new(2.0, 0.0, 1.0, 1.0),
        Err(CrsError::InvalidBbox { .. })
    ));
    assert!(Bbox::new(0.0, 2.0, 1.0, 1.0).is_err());
    assert!(Bbox::new(f64::NAN, 0.0, 1.0, 1.0).is_err());
    assert!(Bbox::new(0.0, 0.0, f64::INFINITY, 1.0).is_err());
    let err = Bbox::new(2.0, 0.0, 1.0, 1.0).expect_err("inverted");
    assert_eq!(
        err.to_string(),
        "invalid bounding box 2,0,1,1: min x is greater than max x"
    );
}

#[test]
fn bbox_operations() {
    let a = Bbox::new(0.0, 0.0, 10.0, 5.0).expect("bbox");
    let b = Bbox::new(5.0, 2.0, 20.0, 8.0).expect("bbox");
    let c = Bbox::new(10.0, 5.0, 11.0, 6.0).expect("bbox");
    let d = Bbox::new(30.0, 30.0, 31.0, 31.0).expect("bbox");
    assert_eq!((a.width(), a.height(), a.center()), (10.0, 5.0, (5.0, 2.5)));
    assert!(a.intersects(&b) && a.intersects(&c) && !a.intersects(&d));
    assert_eq!(
        a.intersection(&b),
        Some(Bbox::new(5.0, 2.0, 10.0, 5.0).expect("bbox"))
    );
    assert_eq!(
        a.intersection(&c),
        Some(Bbox::new(10.0, 5.0, 10.0, 5.0).expect("bbox"))
    );
    assert_eq!(a.intersection(&d), None);
    assert_eq!(a.union(&d), Bbox::new(0.0, 0.0, 31.0, 31.0).expect("bbox"));
    assert!(a.contains_point(0.0, 5.0) && !a.contains_point(10.1, 1.0));
    assert!(a.union(&b).contains(&a) && !a.contains(&b));
    assert_eq!(a.to_string(), "0,0,10,5");
}

#[test]
fn ogc_bboxes_follow_the_axis_order_of_their_crs() {
    let wms13 = [43.0, 1.0, 44.0, 3.0];
    let b = Bbox::from_ogc(wms13, &Crs::wgs84()).expect("bbox");
    assert_eq!(
        (b.min_x(), b.min_y(), b.max_x(), b.max_y()),
        (1.0, 43.0, 3.0, 44.0)
    );
    assert_eq!(b.to_ogc(&Crs::wgs84()), wms13);
    assert_eq!(b.to_ogc(&Crs::crs84()), [1.0, 43.0, 3.0, 44.0]);
    let wms111 = Bbox::from_axis_order([1.0, 43.0, 3.0, 44.0], AxisOrder::EastNorth).expect("bbox");
    assert_eq!(wms111, b);
    assert_eq!(b.to_axis_order(AxisOrder::NorthEast), wms13);
    let lamb93 = Bbox::from_ogc([100.0, 200.0, 300.0, 400.0], &parse("EPSG:2154")).expect("bbox");
    assert_eq!(lamb93.min_x(), 100.0);
    // Inverted once read in the CRS's order: refused.
    assert!(Bbox::from_ogc([44.0, 1.0, 43.0, 3.0], &Crs::wgs84()).is_err());
}

#[test]
fn transformers_take_and_give_degrees() {
    let t = Transformer::new(&Crs::wgs84(), &Crs::web_mercator()).expect("transformer");
    let (x, y) = t.transform_point(180.0, 0.0).expect("point");
    assert!((x - 20_037_508.342_789_244).abs() < 1e-6 && y.abs() < 1e-6);
    let (x, y) = t.transform_point(0.0, 85.051_128_779_806_6).expect("point");
    assert!(
        x.abs() < 1e-6 && (y - 20_037_508.342_789_244).abs() < 1e-6,
        "{y}"
    );
    let back = t.inverse().expect("inverse");
    let (lon, lat) = back
        .transform_point(20_037_508.342_789_244, 0.0)
        .expect("point");
    assert!((lon - 180.0).abs() < 1e-9 && lat.abs() < 1e-9);
    assert!(matches!(
        t.transform_point(f64::NAN, 0.0),
        Err(CrsError::Transform { .. })
    ));
    let err = t
        .transform_point(0.0, 90.0)
        .expect_err("the pole is at infinity");
    assert!(
        err.to_string().contains("from EPSG:4326 to EPSG:3857"),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn identity_transforms_change_nothing() {
    let t = Transformer::new(&Crs::wgs84(), &Crs::crs84()).expect("transformer");
    assert!(t.is_identity());
    assert_eq!(t.transform_point(1.5, 2.5).expect("point"), (1.5, 2.5));
    let b = Bbox::new(1.0, 2.0, 3.0, 4.0).expect("bbox");
    assert_eq!(t.transform_bbox(&b).expect("bbox"), b);
    assert!(!Transformer::new(&Crs::wgs84(), &parse("EPSG:4258"))
        .expect("t")
        .is_identity());
    assert!(
        !parse("EPSG:4171").equivalent(&parse("EPSG:4258")),
        "different datums"
    );
}

#[test]
fn transform_points_marks_failures_as_nan_and_goes_on() {
    let t = Transformer::new(&Crs::crs84(), &Crs::web_mercator()).expect("transformer");
    let mut points = [(0.0, 0.0), (0.0, 90.0), (180.0, 0.0)];
    assert!(t.transform_points(&mut points).is_err());
    assert_eq!(points[0], (0.0, 0.0));
    assert!(points[1].0.is_nan());
    assert!((points[2].0 - 20_037_508.342_789_244).abs() < 1e-6);
    let mut ok = [(1.0, 1.0), (2.0, 2.0)];
    t.transform_points(&mut ok).expect("all in range");
}

#[test]
fn bboxes_into_web_mercator_are_clamped_to_its_square_world() {
    let t = Transformer::new(&Crs::crs84(), &Crs::web_mercator()).expect("transformer");
    let m = t.transform_bbox(&Bbox::world()).expect("world");
    let half = 20_037_508.342_789_244;
    for (got, want) in [
        (m.min_x(), -half),
        (m.min_y(), -half),
        (m.max_x(), half),
        (m.max_y(), half),
    ] {
        assert!((got - want).abs() < 1e-3, "{m}");
    }
    let arctic = Bbox::new(-10.0, 80.0, 10.0, 90.0).expect("bbox");
    let m = t.transform_bbox(&arctic).expect("arctic");
    assert!((m.max_y() - half).abs() < 1e-3, "{m}");
    // Beyond the world: clamped to it, or refused when nothing is left.
    let wide = t
        .transform_bbox(&Bbox::new(-200.0, -10.0, 200.0, 10.0).expect("bbox"))
        .expect("wide");
    assert!((wide.min_x() + half).abs() < 1e-3 && (wide.max_x() - half).abs() < 1e-3);
    let outside = Bbox::new(190.0, 0.0, 200.0, 10.0).expect("bbox");
    assert!(matches!(
        t.transform_bbox(&outside),
        Err(CrsError::OutsideValidArea { .. })
    ));
}

#[test]
fn boxes_over_a_pole_or_the_antimeridian_get_every_longitude() {
    // A LAEA Europe box around the north pole.
    let laea = parse("EPSG:3035");
    let to_wgs84 = Transformer::new(&laea, &Crs::crs84()).expect("transformer");
    let (px, py) = to_wgs84
        .inverse()
        .expect("inv")
        .transform_point(0.0, 90.0)
        .expect("pole");
    let around = Bbox::new(px - 1e5, py - 1e5, px + 1e5, py + 1e5).expect("bbox");
    let g = to_wgs84.transform_bbox(&around).expect("bbox");
    assert_eq!(
        (g.min_x(), g.max_x(), g.max_y()),
        (-180.0, 180.0, 90.0),
        "{g}"
    );
    assert!(g.min_y() > 88.0, "{g}");
    // UTM zone 60 straddling the antimeridian.
    let utm60 = parse("EPSG:32660");
    let to_wgs84 = Transformer::new(&utm60, &Crs::crs84()).expect("transformer");
    let b = Bbox::new(700_000.0, 5_000_000.0, 900_000.0, 5_100_000.0).expect("bbox");
    let g = to_wgs84.transform_bbox(&b).expect("bbox");
    assert_eq!((g.min_x(), g.max_x()), (-180.0, 180.0), "{g}");
    let to_mercator = Transformer::new(&utm60, &Crs::web_mercator()).expect("transformer");
    let m = to_mercator.transform_bbox(&b).expect("bbox");
    assert!(
        (m.width() - 2.0 * 20_037_508.342_789_244).abs() < 1e-3,
        "{m}"
    );
}

#[test]
fn a_reprojected_bbox_holds_the_curved_footprint() {
    // Parallels are arcs in Lambert-93: the middle of the bottom edge of a lon/lat box lies
    // south of its corners, so the corners alone would miss it.
    let t = Transformer::new(&Crs::crs84(), &parse("EPSG:2154")).expect("transformer");
    let b = Bbox::new(-5.0, 42.0, 10.0, 51.0).expect("bbox");
    let p = t.transform_bbox(&b).expect("bbox");
    let (_, bottom_middle) = t.transform_point(3.0, 42.0).expect("point");
    let (_, bottom_corner) = t.transform_point(10.0, 42.0).expect("point");
    assert!(
        bottom_middle < bottom_corner - 10_000.0 && p.min_y() <= bottom_middle,
        "{p}"
    );
}

#[test]
fn a_box_whose_edges_all_fail_is_read_from_its_inside() {
    // The whole world into Lambert-93: the poles and the antimeridian do not project, yet the
    // box holds France, which does.
    let t = Transformer::new(&Crs::crs84(), &parse("EPSG:2154")).expect("transformer");
    let world = Bbox::new(-180.0, -90.0, 180.0, 90.0).expect("bbox");
    let p = t.transform_bbox(&world).expect("the inside transforms");
    let (x, y) = t.transform_point(2.35, 48.85).expect("Paris");
    assert!(p.contains_point(x, y), "{p}");
    // Far beyond any CRS's domain: nothing transforms, and the error says the box is outside.
    let mercator = Transformer::new(&parse("EPSG:3857"), &parse("EPSG:2154")).expect("t");
    let absurd = Bbox::new(-1e300, -1e300, 1e300, 1e300).expect("bbox");
    assert!(matches!(
        mercator.transform_bbox(&absurd),
        Err(CrsError::OutsideValidArea { .. }) | Ok(_)
    ));
}

#[test]
fn transformers_and_crss_are_shareable_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    fn shareable_ref<T: Send + Sync>() {}
    shareable::<Crs>();
    shareable::<Bbox>();
    shareable_ref::<Transformer>();
    shareable_ref::<CrsError>();
}
