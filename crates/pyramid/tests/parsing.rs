//! Reading tile matrix set JSON: axis order, OGC extras, and errors that say where.
#![allow(clippy::unwrap_used, clippy::float_cmp)]

use pyramid::{Bbox, CornerOfOrigin, PyramidError, TileMatrixSet, TmsFormat};

fn tms(crs: &str, axes: &str, matrix_extra: &str, origin: &str) -> String {
    format!(
        r#"{{"id": "T", "crs": {crs}, {axes} "tileMatrices": [
            {{"id": "a", "scaleDenominator": 1000.0, "cellSize": 2.0, "pointOfOrigin": {origin},
              "tileWidth": 4, "tileHeight": 2, "matrixWidth": 3, "matrixHeight": 5 {matrix_extra}}},
            {{"id": "b", "scaleDenominator": 2000.0, "cellSize": 4.0, "pointOfOrigin": {origin},
              "tileWidth": 4, "tileHeight": 2, "matrixWidth": 2, "matrixHeight": 3 {matrix_extra}}}
        ]}}"#
    )
}

#[test]
fn point_of_origin_follows_ordered_axes_then_the_crs_axis_order() {
    // OGC style: EPSG:4326 with latitude first.
    let lat_lon = TileMatrixSet::from_json(&tms(
        r#""EPSG:4326""#,
        r#""orderedAxes": ["Lat", "Lon"],"#,
        "",
        "[90, -180]",
    ))
    .unwrap();
    assert_eq!(lat_lon.matrices()[0].point_of_origin(), (-180.0, 90.0));
    // ROK4 style: EPSG:4326 file that declares Lon, Lat.
    let lon_lat = TileMatrixSet::from_json(&tms(
        r#""EPSG:4326""#,
        r#""orderedAxes": ["Lon", "Lat"],"#,
        "",
        "[-180, 90]",
    ))
    .unwrap();
    assert_eq!(lon_lat.matrices()[0].point_of_origin(), (-180.0, 90.0));
    // No orderedAxes: the CRS's own order (latitude first for EPSG:4326).
    let native = TileMatrixSet::from_json(&tms(r#""EPSG:4326""#, "", "", "[90, -180]")).unwrap();
    assert_eq!(native.matrices()[0].point_of_origin(), (-180.0, 90.0));
    let projected = TileMatrixSet::from_json(&tms(r#""EPSG:3857""#, "", "", "[-10, 20]")).unwrap();
    assert_eq!(projected.matrices()[0].point_of_origin(), (-10.0, 20.0));
    // Writing back keeps the declared order.
    let again = TileMatrixSet::from_json(&lat_lon.to_json()).unwrap();
    assert_eq!(again.matrices(), lat_lon.matrices());
    assert!(lat_lon.to_json().contains("\"Lat\""));
}

#[test]
fn matrices_are_sorted_coarsest_first_and_levels_numbered() {
    let t = TileMatrixSet::from_json(&tms(r#""EPSG:3857""#, "", "", "[0, 0]")).unwrap();
    let ids: Vec<&str> = t.matrices().iter().map(pyramid::TileMatrix::id).collect();
    assert_eq!(ids, ["b", "a"]);
    assert_eq!(t.matrix("a").unwrap().level(), 1);
    assert_eq!(t.matrix_at(0).unwrap().id(), "b");
    assert_eq!(t.format(), TmsFormat::Rok4);
}

#[test]
fn crs_given_as_uri_object_and_bottom_left_corner_are_read() {
    // The stub `crs` crate only parses `EPSG:n`; the object form is what matters here.
    let t = TileMatrixSet::from_json(&tms(
        r#"{"uri": "EPSG:3857"}"#,
        "",
        r#", "cornerOfOrigin": "bottomLeft""#,
        "[100, 50]",
    ))
    .unwrap();
    assert_eq!(t.format(), TmsFormat::Ogc);
    let m = t.matrix("a").unwrap();
    assert_eq!(m.corner_of_origin(), CornerOfOrigin::BottomLeft);
    // Tiles are 8 × 4 units; row 0 is the southernmost, starting at y = 50.
    let tile = m.tile(1, 0).unwrap();
    assert_eq!(
        m.tile_bbox(tile),
        Bbox::new(108.0, 50.0, 116.0, 54.0).unwrap()
    );
    assert_eq!(m.top_left(), (100.0, 70.0));
    assert_eq!(m.tms_row(0), Some(0));
    let hit = m.point_to_tile(109.0, 53.5).unwrap();
    assert_eq!((hit.tile, hit.i, hit.j), (tile, 0, 0));
    assert_eq!(m.point_to_tile(109.0, 50.0).unwrap().tile, tile);
    assert!(m.point_to_tile(109.0, 70.0).is_none());
    assert!(t.to_json().contains("bottomLeft"));
}

#[test]
fn syntax_and_shape_errors_carry_line_and_column() {
    let err = TileMatrixSet::from_json(
        "{\n  \"id\": \"T\",\n  \"crs\": \"EPSG:3857\"\n  \"tileMatrices\": []\n}",
    )
    .unwrap_err();
    assert!(matches!(err, PyramidError::Json { line: 4, .. }), "{err:?}");
    let zero_width = tms(r#""EPSG:3857""#, "", "", "[0, 0]").replacen(
        "\"matrixWidth\": 3",
        "\"matrixWidth\": 0",
        1,
    );
    let err = TileMatrixSet::from_json(&zero_width).unwrap_err();
    let PyramidError::Json { line, source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*line, 3);
    assert!(source.to_string().contains("nonzero"), "{source}");
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn invalid_values_name_the_matrix_and_the_field() {
    let bad_cell = tms(r#""EPSG:3857""#, "", "", "[0, 0]").replacen(
        "\"cellSize\": 2.0",
        "\"cellSize\": -2.0",
        1,
    );
    let err = TileMatrixSet::from_json(&bad_cell).unwrap_err();
    assert!(
        matches!(&err, PyramidError::InvalidTileMatrix { tms, matrix, field: "cellSize", .. } if tms == "T" && matrix == "a"),
        "{err:?}"
    );
    assert!(err.to_string().contains("tile matrix 'a'"), "{err}");

    let dup = tms(r#""EPSG:3857""#, "", "", "[0, 0]").replacen("\"id\": \"b\"", "\"id\": \"a\"", 1);
    let err = TileMatrixSet::from_json(&dup).unwrap_err();
    assert!(
        matches!(
            err,
            PyramidError::InvalidTileMatrixSet {
                field: "tileMatrices",
                ..
            }
        ),
        "{err:?}"
    );

    let variable = tms(
        r#""EPSG:3857""#,
        "",
        r#", "variableMatrixWidths": [{"coalesce": 2, "minTileRow": 0, "maxTileRow": 0}]"#,
        "[0, 0]",
    );
    let err = TileMatrixSet::from_json(&variable).unwrap_err();
    assert!(
        matches!(
            err,
            PyramidError::Unsupported {
                field: "variableMatrixWidths",
                ..
            }
        ),
        "{err:?}"
    );

    let axes = tms(
        r#""EPSG:3857""#,
        r#""orderedAxes": ["Up", "Down"],"#,
        "",
        "[0, 0]",
    );
    let err = TileMatrixSet::from_json(&axes).unwrap_err();
    assert!(
        matches!(
            err,
            PyramidError::InvalidTileMatrixSet {
                field: "orderedAxes",
                ..
            }
        ),
        "{err:?}"
    );

    let huge = tms(r#""EPSG:3857""#, "", "", "[1e300, 0]");
    let err = TileMatrixSet::from_json(&huge).unwrap_err();
    assert!(
        matches!(
            err,
            PyramidError::InvalidTileMatrix {
                field: "tileWidth",
                ..
            }
        ),
        "{err:?}"
    );

    let err = TileMatrixSet::from_json(&tms(r#""NOT:A:CRS""#, "", "", "[0, 0]")).unwrap_err();
    assert!(
        matches!(&err, PyramidError::Crs { crs, .. } if crs == "NOT:A:CRS"),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn missing_files_and_parse_errors_name_the_file() {
    let err = TileMatrixSet::load("/nonexistent/tms.json").unwrap_err();
    assert!(matches!(err, PyramidError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/tms.json"));
    let dir = std::env::temp_dir().join(format!("tuilerie-pyramid-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.json");
    std::fs::write(&file, "{\"id\": 3}").unwrap();
    let err = TileMatrixSet::load(&file).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        matches!(&err, PyramidError::Json { path: Some(p), line: 1, .. } if p == &file),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&file.display().to_string()),
        "{err}"
    );
}

#[test]
fn tiles_outside_the_matrix_cannot_be_built() {
    let t = TileMatrixSet::from_json(&tms(r#""EPSG:3857""#, "", "", "[0, 0]")).unwrap();
    let m = t.matrix("a").unwrap();
    assert!(m.tile(2, 4).is_ok());
    let err = m.tile(3, 0).unwrap_err();
    assert!(
        matches!(&err, PyramidError::TileOutOfRange { matrix, col: 3, row: 0, max_col: 2, max_row: 4 } if matrix == "a"),
        "{err:?}"
    );
    assert!(matches!(
        m.tile(-1, 0),
        Err(PyramidError::TileOutOfRange { col: -1, .. })
    ));
    assert!(matches!(
        m.tile_tms(0, 5),
        Err(PyramidError::TileOutOfRange { row: 5, .. })
    ));
    assert!(
        matches!(t.tile("zz", 0, 0), Err(PyramidError::UnknownTileMatrix { ref matrix, .. }) if matrix == "zz")
    );
    assert_eq!(t.tile("a", 1, 1).unwrap(), m.tile(1, 1).unwrap());
    assert!(m.range(0, 2, 1, 4).is_ok());
    assert!(matches!(
        m.range(2, 1, 0, 0),
        Err(PyramidError::EmptyTileRange { .. })
    ));
    assert!(matches!(
        m.range(0, 3, 0, 0),
        Err(PyramidError::TileOutOfRange { .. })
    ));
}
