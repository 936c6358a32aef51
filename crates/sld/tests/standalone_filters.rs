//! Standalone filters as WFS sends them (`FILTER=`): FES 2.0 and Filter Encoding 1.1, with
//! the spatial operators, read by `sld::parse_filter`.
#![allow(clippy::unwrap_used, clippy::float_cmp)]

use sld::{Filter, GmlGeometry, SldError, SpatialOp};

#[test]
fn fes_2_0_with_a_spatial_operator_reads_into_the_model() {
    let text = r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2">
  <fes:And>
    <fes:PropertyIsGreaterThan><fes:ValueReference>population</fes:ValueReference><fes:Literal>50000</fes:Literal></fes:PropertyIsGreaterThan>
    <fes:Intersects><fes:ValueReference>geom</fes:ValueReference>
      <gml:Polygon gml:id="p1" srsName="urn:ogc:def:crs:EPSG::2154"><gml:exterior><gml:LinearRing>
        <gml:posList srsDimension="2">640000 6850000 650000 6850000 650000 6860000 640000 6850000</gml:posList>
      </gml:LinearRing></gml:exterior></gml:Polygon>
    </fes:Intersects>
  </fes:And>
</fes:Filter>"#;
    let Filter::And { filters, .. } = sld::parse_filter(text).unwrap() else {
        panic!("not an And");
    };
    let Filter::Spatial {
        op,
        property,
        geometry,
        crs,
        distance,
        ..
    } = &filters[1]
    else {
        panic!("{:?}", filters[1]);
    };
    assert_eq!(*op, SpatialOp::Intersects);
    assert_eq!(property.as_deref(), Some("geom"));
    assert_eq!(crs.as_deref(), Some("urn:ogc:def:crs:EPSG::2154"));
    assert_eq!(*distance, None);
    let GmlGeometry::Polygon(rings) = geometry else {
        panic!("{geometry:?}");
    };
    assert_eq!(rings[0].len(), 4);
    assert_eq!(rings[0][1], [650_000.0, 6_850_000.0]);
}

#[test]
fn filter_encoding_1_1_dwithin_points_envelopes_and_ids() {
    let text = r#"<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml">
  <ogc:Or>
    <ogc:DWithin><ogc:PropertyName>geom</ogc:PropertyName><gml:Point><gml:pos>2.35 48.85</gml:pos></gml:Point><ogc:Distance units="m">0.5</ogc:Distance></ogc:DWithin>
    <ogc:Within><ogc:PropertyName>geom</ogc:PropertyName><gml:Envelope><gml:lowerCorner>1 2</gml:lowerCorner><gml:upperCorner>3 4</gml:upperCorner></gml:Envelope></ogc:Within>
    <ogc:PropertyIsLike wildCard="*" singleChar="?" escapeChar="\"><ogc:PropertyName>nom</ogc:PropertyName><ogc:Literal>Par*</ogc:Literal></ogc:PropertyIsLike>
  </ogc:Or>
</ogc:Filter>"#;
    let Filter::Or { filters, .. } = sld::parse_filter(text).unwrap() else {
        panic!();
    };
    assert!(matches!(
        &filters[0],
        Filter::Spatial { op: SpatialOp::DWithin, geometry: GmlGeometry::Point([x, _]), distance: Some(d), .. } if *x == 2.35 && *d == 0.5
    ));
    assert!(matches!(
        &filters[1],
        Filter::Spatial {
            geometry: GmlGeometry::Envelope([1.0, 2.0, 3.0, 4.0]),
            ..
        }
    ));
    let ids = sld::parse_filter(
        r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:ResourceId rid="communes.3"/><fes:ResourceId rid="communes.9"/></fes:Filter>"#,
    )
    .unwrap();
    assert!(matches!(ids, Filter::Id { ids, .. } if ids == ["communes.3", "communes.9"]));
}

#[test]
fn mistakes_are_refused_with_their_line_and_a_fix() {
    for (text, expected) in [
        (
            r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo><fes:ValueReference>a</fes:ValueReference></fes:PropertyIsEqualTo></fes:Filter>"#,
            "PropertyIsEqualTo",
        ),
        (
            r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsSimilar/></fes:Filter>"#,
            "is not a filter",
        ),
        (
            r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"><fes:DWithin><fes:ValueReference>g</fes:ValueReference><gml:Point><gml:pos>1 2</gml:pos></gml:Point></fes:DWithin></fes:Filter>"#,
            "no <Distance>",
        ),
        (
            r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"><fes:Intersects><fes:ValueReference>g</fes:ValueReference><gml:Point><gml:pos>1 x</gml:pos></gml:Point></fes:Intersects></fes:Filter>"#,
            "coordinate pairs",
        ),
        ("<Style/>", "is not a filter"),
        (
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\"/>",
            "DOCTYPE",
        ),
        ("<fes:Filter", "malformed"),
    ] {
        let error: SldError = sld::parse_filter(text).unwrap_err();
        assert!(error.to_string().contains(expected), "{text}: {error}");
        assert!(error.pos().is_some(), "{error}");
    }
}

#[test]
fn styles_still_refuse_spatial_operators() {
    let style = r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:gml="http://www.opengis.net/gml"><NamedLayer><Name>t</Name><UserStyle><FeatureTypeStyle><Rule><ogc:Filter><ogc:Intersects><ogc:PropertyName>g</ogc:PropertyName><gml:Point><gml:pos>1 2</gml:pos></gml:Point></ogc:Intersects></ogc:Filter><PointSymbolizer/></Rule></FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#;
    let problems = sld::check(style, None, None);
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("not supported in styles")),
        "{problems:?}"
    );
}
