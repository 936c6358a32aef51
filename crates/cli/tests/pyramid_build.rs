//! End to end: `tuilerie pyramid build` on the committed GeoTIFFs, then WMTS and TMS over the
//! result — tiles present where the data is, GetFeatureInfo answering the source's values.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::float_cmp)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, get_bytes, header, Server, SmallDisk, BIN};
use crs::{Crs, Transformer};
use pyramid::GeoTiff;

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/rasters"
    ))
    .join(name)
}

fn build(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["pyramid", "build"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_built_pyramid_is_served_and_answers_the_source_values() {
    let dir = tempfile::tempdir().unwrap();
    let dem_out = dir.path().join("dem");
    let output = build(&[
        "--input",
        fixture("dem_2154.tif").to_str().unwrap(),
        "--tms",
        "PM",
        "--bottom",
        "13",
        "--top",
        "8",
        "--format",
        "TIFF_ZIP_FLOAT32",
        "--interpolation",
        "nearest",
        "--out",
        dem_out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("tiles in"));
    let rgb_out = dir.path().join("rgb");
    let output = build(&[
        "--input",
        fixture("rgb_4326.tif").to_str().unwrap(),
        "--tms",
        "PM",
        "--bottom",
        "14",
        "--top",
        "10",
        "--format",
        "TIFF_JPG_UINT8",
        "--out",
        rgb_out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        "[[layers]]\nname = \"dem\"\nkind = \"pyramid\"\npyramid = \"dem/pyramid.json\"\ngetfeatureinfo = true\n\
         [[layers]]\nname = \"ortho\"\nkind = \"pyramid\"\npyramid = \"rgb/pyramid.json\"\n",
    )
    .unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);

    // GetFeatureInfo at points of the DEM equals the source pixel under the queried pixel.
    let source = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let to_pm = Transformer::new(&Crs::from_epsg(2154).unwrap(), &Crs::web_mercator()).unwrap();
    let to_source = Transformer::new(&Crs::web_mercator(), source.crs()).unwrap();
    let pm = pyramid::TileMatrixSets::builtin()
        .get("PM")
        .unwrap()
        .clone();
    let z13 = pm.matrix("13").unwrap();
    for (x, y) in [
        (645_123.0, 6_870_456.0),
        (652_000.0, 6_861_500.0),
        (659_900.0, 6_875_900.0),
    ] {
        let (mx, my) = to_pm.transform_point(x, y).unwrap();
        let hit = z13.point_to_tile(mx, my).unwrap();
        // The centre of the queried pixel, back in the source: its source pixel is the oracle.
        let bbox = z13.tile_bbox(hit.tile);
        let cx = bbox.min_x() + (f64::from(hit.i) + 0.5) * z13.resolution();
        let cy = bbox.max_y() - (f64::from(hit.j) + 0.5) * z13.resolution();
        let (sx, sy) = to_source.transform_point(cx, cy).unwrap();
        let (u, v) = source.transform().invert(sx, sy).unwrap();
        let (col, row) = (u.floor() as i64, v.floor() as i64);
        let expected = source
            .window(col, row, 1, 1)
            .unwrap()
            .pixel(col, row)
            .unwrap()[0];
        let url = format!(
            "/wmts/dem/normal/PM_8_13/13/{}/{}/{}/{}.json",
            hit.tile.row(),
            hit.tile.col(),
            hit.j,
            hit.i
        );
        let (status, _, body) = get(&server.url(&url));
        assert_eq!(status, 200, "{url}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let value = json["features"][0]["properties"]["band_1"]
            .as_f64()
            .unwrap();
        assert_eq!(value as f32, expected, "{url}");
        // GDAL reads the same value from our float32 TIFF tiles (its WMTS driver assumes 4 Byte
        // bands, so the tiles are read through GDAL_WMS's TMS minidriver, told the data type).
        if Command::new("gdallocationinfo")
            .arg("--version")
            .output()
            .is_ok()
        {
            let xml = format!(
                "<GDAL_WMS><Service name=\"TMS\"><ServerUrl>{}/wmts/dem/normal/PM/${{z}}/${{y}}/${{x}}.tiff</ServerUrl></Service>\
                 <DataWindow><UpperLeftX>-20037508.3427892</UpperLeftX><UpperLeftY>20037508.3427892</UpperLeftY>\
                 <LowerRightX>20037508.3427892</LowerRightX><LowerRightY>-20037508.3427892</LowerRightY>\
                 <TileLevel>13</TileLevel><TileCountX>1</TileCountX><TileCountY>1</TileCountY><YOrigin>top</YOrigin></DataWindow>\
                 <Projection>EPSG:3857</Projection><BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY>\
                 <BandsCount>1</BandsCount><DataType>Float32</DataType></GDAL_WMS>",
                server.base
            );
            let output = Command::new("gdallocationinfo")
                .env("GDAL_DEFAULT_WMS_CACHE_PATH", dir.path().join("gdalcache"))
                .args([
                    "-valonly",
                    "-geoloc",
                    &xml,
                    &cx.to_string(),
                    &cy.to_string(),
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&output.stdout);
            let gdal: f32 = text.trim().parse().unwrap_or_else(|_| {
                panic!(
                    "gdallocationinfo: {text}{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
            assert_eq!(gdal, expected, "GDAL reading our TIFF tile at {cx},{cy}");
        }
    }

    // The JPEG layer: a tile over the image is a JPEG; TMS gives the same bytes.
    let z14 = pm.matrix("14").unwrap();
    let (mx, my) = Transformer::new(&Crs::crs84(), &Crs::web_mercator())
        .unwrap()
        .transform_point(2.2, 48.85)
        .unwrap();
    let hit = z14.point_to_tile(mx, my).unwrap();
    let (status, headers, jpeg) = get_bytes(
        &server.url(&format!(
            "/wmts/ortho/normal/PM_10_14/14/{}/{}.jpeg",
            hit.tile.row(),
            hit.tile.col()
        )),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/jpeg"));
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let tms_row = z14.tms_row(hit.tile.row()).unwrap();
    let (_, _, from_tms) = get_bytes(
        &server.url(&format!(
            "/tms/1.0.0/ortho/14/{}/{tms_row}.jpeg",
            hit.tile.col()
        )),
        &[],
    );
    assert_eq!(from_tms, jpeg);
}

#[test]
fn pyramid_build_refuses_bad_arguments_with_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let input = fixture("dem_2154.tif");
    for (args, expected) in [
        (
            vec![
                "--tms",
                "NOPE",
                "--bottom",
                "1",
                "--top",
                "0",
                "--format",
                "TIFF_PNG_UINT8",
            ],
            "--tms 'NOPE' is unknown",
        ),
        (
            vec![
                "--tms", "PM", "--bottom", "1", "--top", "0", "--format", "TIFF_GIF",
            ],
            "unsupported pyramid format",
        ),
        (
            vec![
                "--tms",
                "PM",
                "--bottom",
                "1",
                "--top",
                "0",
                "--format",
                "TIFF_PNG_UINT8",
                "--interpolation",
                "magic",
            ],
            "unknown interpolation",
        ),
        (
            vec![
                "--tms",
                "PM",
                "--bottom",
                "1",
                "--top",
                "0",
                "--format",
                "TIFF_PNG_UINT8",
                "--nodata",
                "x",
            ],
            "--nodata 'x'",
        ),
    ] {
        let mut all = vec![
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        all.extend(args);
        let output = build(&all);
        assert_eq!(output.status.code(), Some(2), "{all:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    assert!(!out.exists(), "a refused build must write nothing");
}

#[test]
fn a_vector_layer_renders_into_a_pyramid_whose_tiles_meet() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\ndir = \"{}\"\n[[layers]]\nname = \"countries\"\nkind = \"vector\"\nsource = \"{}\"\ntable = \"countries\"\nstyle = \"{}\"\n",
            dir.path().join("data").display(),
            root.join("fixtures/gpkg/world.gpkg").display(),
            root.join("fixtures/wms/countries.sld").display()
        ),
    )
    .unwrap();
    let out = dir.path().join("pyr");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--layer",
        "countries",
        "--tms",
        "PM",
        "--bottom",
        "4",
        "--top",
        "2",
        "--format",
        "TIFF_PNG_UINT8",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = build(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let descriptor = std::fs::read_to_string(out.join("pyramid.json")).unwrap();
    assert!(descriptor.contains("\"channels\": 4"), "{descriptor}");
    // Restarted: every slab is kept.
    let again = build(&args);
    let text = String::from_utf8_lossy(&again.stderr);
    assert!(
        again.status.success() && text.contains("0 tiles in 0 slabs written"),
        "{text}"
    );

    std::fs::write(
        dir.path().join("serve.toml"),
        format!(
            "[[layers]]\nname = \"rendered\"\nkind = \"pyramid\"\npyramid = \"{}\"\n",
            out.join("pyramid.json").display()
        ),
    )
    .unwrap();
    let server = Server::start(&["--config", dir.path().join("serve.toml").to_str().unwrap()]);
    // PM level 4: Paris is in tile (col 8, row 5); the tile west of it holds Brittany.
    let tile = |col: u32| {
        let (status, _, body) = get_bytes(
            &server.url(&format!("/wmts/rendered/normal/PM_2_4/4/5/{col}.png")),
            &[],
        );
        assert_eq!(status, 200);
        image::load_from_memory(&body).unwrap().to_rgba8()
    };
    let (paris, west) = (tile(8), tile(7));
    let blue = |p: &image::Rgba<u8>| {
        p.0[0].abs_diff(0x1F) < 10
            && p.0[1].abs_diff(0x78) < 10
            && p.0[2].abs_diff(0xB4) < 10
            && p.0[3] == 255
    };
    assert!(
        paris.pixels().filter(|p| blue(p)).count() > 1000,
        "France is drawn"
    );
    // Along the shared edge, France's pixels on both sides line up (the tiles meet).
    let edge: Vec<bool> = (0..256).map(|y| blue(paris.get_pixel(0, y))).collect();
    let other: Vec<bool> = (0..256).map(|y| blue(west.get_pixel(255, y))).collect();
    let differing = edge.iter().zip(&other).filter(|(a, b)| a != b).count();
    assert!(
        edge.iter().any(|b| *b),
        "France touches the tile's west edge"
    );
    assert!(
        differing <= 4,
        "{differing} rows differ across the tile edge"
    );
    // Sea (the Bay of Biscay, about 5° W 44.5° N) is transparent.
    assert_eq!(west.get_pixel(200, 190).0[3], 0);
}

/// Whether a file name is a slab's (`.tif`).
fn is_slab(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tif"))
}

/// The disk fills up during a build: a clear error naming the file and the cause, exit 1,
/// nothing published (no descriptor, no list), no temporary file left; once there is room,
/// the same command resumes and keeps the slabs already written.
#[test]
fn a_full_disk_stops_a_build_cleanly_and_the_build_resumes_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path(), "256k") else {
        return;
    };
    let out = disk.0.join("pyr");
    let input = fixture("rgb_4326.tif");
    let args = [
        "--tms",
        "PM",
        "--bottom",
        "13",
        "--top",
        "8",
        "--format",
        "TIFF_PNG_UINT8",
    ];
    let run = || {
        Command::new(BIN)
            .args(["pyramid", "build", "-i"])
            .arg(&input)
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let output = run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains(&out.display().to_string()),
        "{stderr}"
    );
    assert!(!out.join("pyramid.json").exists());
    assert!(!out.join("pyramid.list").exists());
    let mut files = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    assert!(
        files.iter().all(|f| is_slab(f) || f == "build.json"),
        "temporary files left: {files:?}"
    );
    let kept = files.iter().filter(|f| is_slab(f)).count();
    assert!(kept > 0, "no slab was finished before the disk was full");
    // Room again: the build resumes.
    disk.grow("16m");
    let output = run();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!("{kept} slabs kept from an earlier run")),
        "{said}"
    );
    assert!(out.join("pyramid.json").exists());
}
