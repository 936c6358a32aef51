//! Vector layers served as image tiles (WMTS, TMS), spoken to over HTTP by the real server:
//! tiles rendered in metatiles equal the WMS GetMap of the same extent; no label is cut at a
//! metatile edge; one render per metatile under concurrent requests; the cache survives a
//! restart and never answers a restyled layer's old tiles; a size cap evicts; an unwritable
//! cache folder still answers; OWSLib and GDAL read the tiles.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, get_bytes, header, Server};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const HALF: f64 = 20_037_508.342_789_244;

/// The communes fixture (Lambert-93 squares named and grouped by département) with the SLD
/// `style`, the tile cache configured by `tile_cache`, data under `dir`.
fn config(dir: &Path, style: &Path, tile_cache: &str) -> PathBuf {
    let fixtures = repo().join("fixtures");
    let text = format!(
        r#"
[data]
dir = "{data}"

[tile_cache]
{tile_cache}

[[layers]]
name = "communes"
kind = "vector"
source = "{gpkg}/communes_2154.gpkg"
table = "Communes-IDF"
style = "{style}"
"#,
        data = dir.join("data").display(),
        gpkg = fixtures.join("gpkg").display(),
        style = style.display(),
    );
    let path = dir.join("tuilerie.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Serves a configuration on the data folder beside it (kept across restarts).
fn serve(config: &Path) -> Server {
    let data = config.parent().unwrap().join("data");
    Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
}

/// The communes style with its labels (`labels`) or without, Paris in `paris` (#RRGGBB), and
/// labels in pure red without halo (easy to find in pixels).
fn style(dir: &Path, name: &str, labels: bool, paris: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("fixtures/wms/communes.sld")).unwrap();
    let mut text = text.replace("#E41A1C", paris);
    let start = text.find("<se:Rule>\n          <se:Name>labels").unwrap();
    let end = text[start..].find("</se:Rule>").unwrap() + start + "</se:Rule>".len();
    if labels {
        let rule = text[start..end]
            .replace(
                "<se:Halo><se:Radius>1</se:Radius><se:Fill><se:SvgParameter name=\"fill\">#FFFFFF</se:SvgParameter></se:Fill></se:Halo>",
                "",
            )
            .replace("#000000", "#FF0000")
            // Long labels: many cross tile and metatile edges.
            .replace(
                "<se:SvgParameter name=\"font-size\">10</se:SvgParameter>",
                "<se:SvgParameter name=\"font-size\">24</se:SvgParameter>",
            );
        // Labels only: the red Paris polygons would look like text.
        let polygons_start = text.find("<se:Rule>").unwrap();
        text.replace_range(polygons_start..end, &rule);
    } else {
        text.replace_range(start..end, "");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn metric(server: &Server, name: &str) -> u64 {
    let (_, _, text) = get(&server.url("/metrics"));
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn png(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

fn tile(server: &Server, z: u32, row: u32, col: u32) -> (u16, Vec<(String, String)>, Vec<u8>) {
    get_bytes(
        &server.url(&format!("/wmts/communes/normal/PM/{z}/{row}/{col}.png")),
        &[],
    )
}

/// Tiles cols × rows from (col0, row0) stitched into one image.
fn stitch(server: &Server, z: u32, col0: u32, row0: u32, cols: u32, rows: u32) -> image::RgbaImage {
    let mut out = image::RgbaImage::new(cols * 256, rows * 256);
    for r in 0..rows {
        for c in 0..cols {
            let (status, _, body) = tile(server, z, row0 + r, col0 + c);
            assert_eq!(status, 200, "tile {z}/{}/{}", row0 + r, col0 + c);
            image::imageops::replace(
                &mut out,
                &png(&body),
                i64::from(c * 256),
                i64::from(r * 256),
            );
        }
    }
    out
}

/// The Web Mercator extent of a block of tiles: min x, min y, max x, max y.
fn block_bbox(z: u32, col0: u32, row0: u32, cols: u32, rows: u32) -> [f64; 4] {
    let size = 2.0 * HALF / f64::from(1u32 << z);
    let min_x = -HALF + f64::from(col0) * size;
    let max_y = HALF - f64::from(row0) * size;
    [
        min_x,
        max_y - f64::from(rows) * size,
        min_x + f64::from(cols) * size,
        max_y,
    ]
}

fn get_map(server: &Server, bbox: [f64; 4], width: u32, height: u32) -> image::RgbaImage {
    let url = server.url(&format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=communes&STYLES=&CRS=EPSG:3857&BBOX={},{},{},{}&WIDTH={width}&HEIGHT={height}&FORMAT=image/png&TRANSPARENT=TRUE",
        bbox[0], bbox[1], bbox[2], bbox[3]
    ));
    let (status, _, body) = get_bytes(&url, &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    png(&body)
}

#[test]
fn capabilities_offer_images_of_vector_layers_with_their_styles_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    let (status, _, xml) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    assert_eq!(status, 200);
    let layer = &xml[xml
        .find("<ows:Identifier>communes</ows:Identifier>")
        .unwrap()..];
    let layer = &layer[..layer.find("</Layer>").unwrap()];
    for format in [
        "image/png",
        "image/jpeg",
        "application/vnd.mapbox-vector-tile",
    ] {
        assert!(
            layer.contains(&format!("<Format>{format}</Format>")),
            "{layer}"
        );
    }
    assert!(
        layer.contains("<ows:Identifier>normal</ows:Identifier>"),
        "{layer}"
    );
    assert!(
        layer.contains("<TileMatrixSet>PM_0_18</TileMatrixSet>"),
        "{layer}"
    );
    // z13 limits from the data's extent.
    let z13 = &layer[layer.find("<TileMatrix>13</TileMatrix>").unwrap()..];
    assert!(z13.contains("<MinTileCol>4145</MinTileCol>"), "{z13}");
    assert!(z13.contains("<MaxTileCol>4151</MaxTileCol>"), "{z13}");
    assert!(layer.contains("{TileCol}.png\""), "{layer}");
    // The linked set exists with levels 0 to 18.
    let set = &xml[xml
        .rfind("<ows:Identifier>PM_0_18</ows:Identifier>")
        .unwrap()..];
    assert!(set.contains("<ows:Identifier>18</ows:Identifier>"));
    assert!(!set[..set.find("</TileMatrixSet>").unwrap()]
        .contains("<ows:Identifier>19</ows:Identifier>"));
}

#[test]
fn stitched_tiles_equal_the_wms_map_of_the_same_extent() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    // 8 × 8 tiles at z13: four metatiles, their edges inside the block.
    let (z, col0, row0) = (13, 4144, 2816);
    let tiles = stitch(&server, z, col0, row0, 8, 8);
    let map = get_map(&server, block_bbox(z, col0, row0, 8, 8), 2048, 2048);
    let mut differing = 0usize;
    let mut diff = image::RgbaImage::new(2048, 2048);
    for (x, y, a) in tiles.enumerate_pixels() {
        let b = map.get_pixel(x, y);
        let far = a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 8);
        if far {
            differing += 1;
            diff.put_pixel(x, y, image::Rgba([255, 0, 255, 255]));
        }
    }
    let drawn = tiles.pixels().filter(|p| p.0[3] > 0).count();
    assert!(
        drawn > 100_000,
        "the block should hold the communes: {drawn} pixels drawn"
    );
    // Tolerance: antialiased edges may differ by a rounding; nothing else.
    if differing > 2048 * 2048 / 1000 {
        let out = std::env::temp_dir().join("tile_cache_vs_wms_diff.png");
        diff.save(&out).unwrap();
        panic!("{differing} pixels differ (diff image: {})", out.display());
    }
}

#[test]
fn no_label_is_cut_at_a_metatile_edge() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "labels.sld", true, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    // 16 × 8 tiles at z14: metatile edges at columns 8292, 8296, 8300 and row 5640.
    let (z, col0, row0, cols, rows) = (14, 8288, 5636, 16, 8);
    let red = |p: &image::Rgba<u8>| p.0[3] > 128 && p.0[0] > 160 && p.0[1] < 110 && p.0[2] < 110;
    // Red on both sides of an edge in the same row (column) is a label across that edge.
    let crossings = |img: &image::RgbaImage, vertical: &[u32], horizontal: &[u32]| {
        let mut n = 0;
        for &x in vertical {
            n += (0..img.height())
                .filter(|&y| red(img.get_pixel(x - 1, y)) && red(img.get_pixel(x, y)))
                .count();
        }
        for &y in horizontal {
            n += (0..img.width())
                .filter(|&x| red(img.get_pixel(x, y - 1)) && red(img.get_pixel(x, y)))
                .count();
        }
        n
    };
    let vertical: Vec<u32> = [8292u32, 8296, 8300]
        .iter()
        .map(|c| (c - col0) * 256)
        .collect();
    let horizontal = [(5640 - row0) * 256];
    // The same extent as one WMS map: labels do cross these lines there, so the check below
    // can fail.
    let map = get_map(
        &server,
        block_bbox(z, col0, row0, cols, rows),
        cols * 256,
        rows * 256,
    );
    let in_map = crossings(&map, &vertical, &horizontal);
    assert!(
        in_map > 0,
        "no label crosses a metatile edge in the WMS map: the test proves nothing"
    );
    let tiles = stitch(&server, z, col0, row0, cols, rows);
    let labelled = tiles.pixels().filter(|p| red(p)).count();
    assert!(
        labelled > 2000,
        "labels are drawn in tiles: {labelled} red pixels"
    );
    assert_eq!(
        crossings(&tiles, &vertical, &horizontal),
        0,
        "a label is cut at a metatile edge"
    );
    // Inside a metatile, labels cross tile edges freely (one image).
    let inner: Vec<u32> = (1..cols).filter(|c| c % 4 != 0).map(|c| c * 256).collect();
    assert!(
        crossings(&tiles, &inner, &[]) > 0,
        "labels should cross tile edges inside metatiles"
    );
}

#[test]
fn one_render_per_metatile_and_empty_tiles_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    // 16 concurrent requests for the 16 tiles of one cold metatile.
    let (z, col0, row0) = (14, 8292, 5636);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|k| {
                let server = &server;
                scope.spawn(move || tile(server, z, row0 + k / 4, col0 + k % 4).0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(metric(&server, "tuilerie_tile_cache_renders_total"), 1);
    assert_eq!(metric(&server, "tuilerie_tile_cache_hits_total"), 15);
    // A tile inside the data's limits without any feature: blank, stored, not rendered again.
    let (z, row, col) = (14, 5643, 8303);
    let (status, _, body) = tile(&server, z, row, col);
    assert_eq!(status, 200);
    let blank = png(&body);
    let renders = metric(&server, "tuilerie_tile_cache_renders_total");
    let (_, _, again) = tile(&server, z, row, col);
    assert_eq!(
        metric(&server, "tuilerie_tile_cache_renders_total"),
        renders
    );
    if blank.pixels().all(|p| p.0[3] == 0) {
        assert_eq!(body, again);
    }
    // Far from the data: blank without any render.
    let (status, headers, body) = tile(&server, 14, 100, 100);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    assert!(png(&body).pixels().all(|p| p.0[3] == 0));
    assert_eq!(
        metric(&server, "tuilerie_tile_cache_renders_total"),
        renders
    );
    // ETag and 304.
    let (_, headers, _) = tile(&server, z, row0, col0);
    let etag = header(&headers, "etag").unwrap().to_owned();
    let (status, _, _) = get_bytes(
        &server.url(&format!("/wmts/communes/normal/PM/{z}/{row0}/{col0}.png")),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(status, 304);
}

#[test]
fn bad_tile_requests_name_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    let kvp = |extra: &str| {
        get(&server.url(&format!(
            "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=communes&STYLE=normal&TILEMATRIXSET=PM_0_18&FORMAT=image/png&{extra}"
        )))
    };
    let (status, _, body) = kvp("TILEMATRIX=13&TILEROW=99999&TILECOL=4145");
    assert_eq!(status, 400);
    assert!(
        body.contains("TileOutOfRange") && body.contains("locator=\"TILEROW\""),
        "{body}"
    );
    let (status, _, body) = kvp("TILEMATRIX=19&TILEROW=0&TILECOL=0");
    assert_eq!(status, 400);
    assert!(
        body.contains("locator=\"TILEMATRIX\"") && body.contains("0 to 18"),
        "{body}"
    );
    let (status, _, body) = get(&server.url(
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=communes&STYLE=nope&TILEMATRIXSET=PM&FORMAT=image/png&TILEMATRIX=13&TILEROW=2818&TILECOL=4145",
    ));
    assert_eq!(status, 400);
    assert!(body.contains("locator=\"STYLE\""), "{body}");
    let (status, _, body) = get(&server.url(
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=communes&STYLE=&TILEMATRIXSET=PM&FORMAT=image/webp&TILEMATRIX=13&TILEROW=2818&TILECOL=4145",
    ));
    assert_eq!(status, 400);
    assert!(
        body.contains("locator=\"FORMAT\"") && body.contains("image/png"),
        "{body}"
    );
    let (status, _, _) = get(&server.url("/wmts/communes/normal/PM/13/2818/4145.gif"));
    assert_eq!(status, 404);
    // TMS: rows from the top, as for the layer's vector tiles; a TileJSON of the images.
    let (status, headers, _) = get_bytes(&server.url("/tms/1.0.0/communes/13/4145/2818.png"), &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let (status, _, json) = get(&server.url("/tms/1.0.0/communes/metadata.json?format=png"));
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["tiles"][0]
        .as_str()
        .unwrap()
        .ends_with("/tms/1.0.0/communes/{z}/{x}/{y}.png"));
    assert_eq!(json["maxzoom"], 18);
    assert!(json.get("vector_layers").is_none());
}

#[test]
fn the_cache_survives_a_restart_and_a_restyle_is_never_answered_from_old_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "communes.sld", false, "#E41A1C");
    let path = config(dir.path(), &sld, "");
    let cache = dir.path().join("data").join("tile-cache").join("communes");
    let (z, row, col) = (13, 2818, 4147);
    let before = {
        let mut server = serve(&path);
        let (_, _, body) = tile(&server, z, row, col);
        server.terminate();
        body
    };
    let folders = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let first = folders(&cache);
    assert_eq!(
        first.len(),
        1,
        "one folder per style and format asked: {first:?}"
    );
    // Unchanged: answered from the disk, no render.
    {
        let server = serve(&path);
        let (_, _, body) = tile(&server, z, row, col);
        assert_eq!(body, before);
        assert_eq!(metric(&server, "tuilerie_tile_cache_renders_total"), 0);
    }
    // Restyled (Paris in blue): the old tiles are never answered, and their folder goes.
    style(dir.path(), "communes.sld", false, "#0000FF");
    let server = serve(&path);
    let (_, _, after) = tile(&server, z, row, col);
    assert_ne!(after, before);
    assert_eq!(metric(&server, "tuilerie_tile_cache_renders_total"), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while first.iter().any(|f| f.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the old cache was not removed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_size_cap_evicts_and_an_unwritable_folder_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, "max_bytes = 1"));
    for col in [8292, 8296, 8300] {
        assert_eq!(tile(&server, 14, 5636, col).0, 200);
    }
    assert_eq!(metric(&server, "tuilerie_tile_cache_evictions_total"), 2);
    let slabs = walk(&dir.path().join("data/tile-cache"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tif"))
        .count();
    assert_eq!(slabs, 1);
    drop(server);

    // The cache folder is a file: tiles are rendered and kept in memory.
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, "x").unwrap();
    let server = serve(&config(
        dir.path(),
        &sld,
        &format!("dir = \"{}\"", blocker.display()),
    ));
    let (status, _, first) = tile(&server, 13, 2818, 4147);
    assert_eq!(status, 200);
    let (status, _, second) = tile(&server, 13, 2818, 4147);
    assert_eq!(status, 200);
    assert_eq!(first, second);
    assert_eq!(metric(&server, "tuilerie_tile_cache_renders_total"), 1);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn owslib_and_gdal_read_the_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    if common::has_owslib() {
        common::run_python_ok(&format!(
            r#"
from owslib.wmts import WebMapTileService
import io
wmts = WebMapTileService("{base}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities")
layer = wmts.contents["communes"]
assert "image/png" in layer.formats, layer.formats
tile = wmts.gettile(layer="communes", tilematrixset="PM_0_18", tilematrix="13", row=2818, column=4147, format="image/png")
data = tile.read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
print("ok")
"#,
            base = server.base
        ));
    }
    if common::has_gdalinfo() {
        let out = dir.path().join("block.png");
        let output = Command::new("gdal_translate")
            .args(["-q", "-of", "PNG", "-outsize", "256", "256", "-projwin"])
            .args(["250000", "6250000", "265000", "6235000"])
            .arg(format!(
                "WMTS:{}/wmts/1.0.0/WMTSCapabilities.xml,layer=communes,tilematrixset=PM_0_18,style=normal",
                server.base
            ))
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let img = image::open(&out).unwrap().to_rgba8();
        let drawn = img.pixels().filter(|p| p.0[3] > 0).count();
        assert!(drawn > 10_000, "GDAL read {drawn} drawn pixels");
    }
}

#[test]
fn seeded_tiles_are_answered_without_a_render() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let path = config(dir.path(), &sld, "");
    let data = dir.path().join("data");
    let seed = |extra: &[&str]| {
        Command::new(common::BIN)
            .args(["seed", "--config", path.to_str().unwrap(), "--data"])
            .arg(&data)
            .args(extra)
            .output()
            .unwrap()
    };
    let output = seed(&["--layer", "communes", "--levels", "12-13", "--threads", "2"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("seeded") && stderr.contains(" kept"),
        "{stderr}"
    );
    // Resumable: nothing left to draw.
    let output = seed(&["--layer", "communes", "--levels", "12-13"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(": 0 metatiles drawn"), "{stderr}");
    // Exit 1 with a message for what does not exist.
    for (args, text) in [
        (vec!["--layer", "nope", "--levels", "3"], "layer 'nope'"),
        (
            vec![
                "--layer",
                "communes",
                "--levels",
                "3",
                "--tms",
                "WorldCRS84Quad",
            ],
            "'WorldCRS84Quad'",
        ),
        (
            vec!["--layer", "communes", "--levels", "3-30"],
            "zoom 0 to 18",
        ),
        (
            vec!["--layer", "communes", "--levels", "3", "--style", "fancy"],
            "no style 'fancy'",
        ),
    ] {
        let output = seed(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(text), "{args:?}: {stderr}");
    }
    let output = seed(&["--layer", "communes", "--levels", "9-3"]);
    assert_eq!(output.status.code(), Some(2));
    // The server answers the seeded tiles from the disk.
    let server = serve(&path);
    for (z, row, col) in [
        (12, 1409, 2073),
        (12, 1410, 2075),
        (13, 2818, 4147),
        (13, 2821, 4150),
    ] {
        assert_eq!(tile(&server, z, row, col).0, 200);
    }
    assert_eq!(metric(&server, "tuilerie_tile_cache_renders_total"), 0);
    assert_eq!(metric(&server, "tuilerie_tile_cache_hits_total"), 4);
}

#[test]
fn layers_choose_their_formats_levels_and_caching() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let gpkg = repo().join("fixtures/gpkg/communes_2154.gpkg");
    let text = format!(
        r#"
[data]
dir = "{data}"

[tile_cache]
hidpi = false

[[layers]]
name = "communes"
kind = "vector"
source = "{gpkg}"
table = "Communes-IDF"
style = "{sld}"
cache_control = "public, max-age=60"
[layers.tiles]
formats = ["webp", "png8", "mvt"]
min_zoom = 6
max_zoom = 12
sets = ["PM"]

[[layers]]
name = "quiet"
kind = "vector"
source = "{gpkg}"
table = "Communes-IDF"
style = "{sld}"
[layers.tiles]
enabled = false
"#,
        data = dir.path().join("data").display(),
        gpkg = gpkg.display(),
        sld = sld.display(),
    );
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(&config, text).unwrap();
    let server = serve(&config);

    // Capabilities: the layer's formats only, its levels only; the quiet layer is not tiled.
    let (status, _, xml) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    assert_eq!(status, 200);
    assert!(
        !xml.contains("<ows:Identifier>quiet</ows:Identifier>"),
        "{xml}"
    );
    let layer = &xml[xml
        .find("<ows:Identifier>communes</ows:Identifier>")
        .unwrap()..];
    let layer = &layer[..layer.find("</Layer>").unwrap()];
    let formats: Vec<&str> = layer
        .match_indices("<Format>")
        .map(|(i, _)| &layer[i + 8..i + layer[i..].find("</Format>").unwrap()])
        .collect();
    assert_eq!(
        formats,
        [
            "image/webp",
            "image/png; mode=8bit",
            "application/vnd.mapbox-vector-tile"
        ]
    );
    assert!(layer.contains("<TileMatrix>6</TileMatrix>"), "{layer}");
    assert!(layer.contains("<TileMatrix>12</TileMatrix>"), "{layer}");
    assert!(!layer.contains("<TileMatrix>5</TileMatrix>"), "{layer}");
    assert!(!layer.contains("<TileMatrix>13</TileMatrix>"), "{layer}");
    // Its own sets: not its native LAMB93; no HiDPI set.
    assert!(!layer.contains("LAMB93"), "{layer}");
    assert!(!layer.contains("@2x"), "{layer}");

    // WebP: lossless, decodable, with the layer's Cache-Control and a Last-Modified that
    // If-Modified-Since answers 304 from.
    let webp_url = server.url("/wmts/communes/normal/PM_0_18/12/1409/2074.webp");
    let (status, headers, body) = get_bytes(&webp_url, &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), Some("image/webp"));
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=60")
    );
    let webp = image::load_from_memory_with_format(&body, image::ImageFormat::WebP)
        .unwrap()
        .to_rgba8();
    assert_eq!(webp.dimensions(), (256, 256));
    assert!(webp.pixels().any(|p| p.0[3] > 0), "the tile shows communes");
    let modified = header(&headers, "last-modified").unwrap().to_owned();
    let (status, _, body) = get_bytes(&webp_url, &[("If-Modified-Since", &modified)]);
    assert_eq!(status, 304);
    assert!(body.is_empty());

    // PNG8: a palette PNG (colour type 3), the same picture as the WebP within the palette.
    let (status, headers, body) = get_bytes(
        &server.url(
            "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=communes&STYLE=normal&FORMAT=image/png8&TILEMATRIXSET=PM_0_18&TILEMATRIX=12&TILEROW=1409&TILECOL=2074",
        ),
        &[],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    assert_eq!(body[25], 3, "IHDR colour type: palette");
    let png8 = png(&body);
    let far = png8
        .pixels()
        .zip(webp.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 16))
        .count();
    assert!(
        far < 256 * 256 / 100,
        "{far} pixels differ between PNG8 and WebP"
    );

    // Vector tiles, at the layer's levels, with the same caching.
    let (status, headers, _) = get_bytes(&server.url("/tms/1.0.0/communes/12/2074/1409.pbf"), &[]);
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=60")
    );
    assert_eq!(header(&headers, "last-modified"), Some(modified.as_str()));

    // What the layer does not offer is named as such.
    for (path, expected) in [
        (
            "/wmts/communes/normal/PM_0_18/12/1408/2073.png",
            "use .webp or .png8 or .pbf",
        ),
        (
            "/wmts/communes/normal/PM_0_18/13/2816/4146.webp",
            "served: 6 to 12",
        ),
        (
            "/wmts/communes/normal/PM_0_18/5/22/16.webp",
            "served: 6 to 12",
        ),
        ("/tms/1.0.0/communes/13/4146/2816.pbf", "zoom 6 to 12"),
        ("/wmts/quiet/normal/PM_0_18/12/1408/2073.png", "WMS only"),
        ("/tms/1.0.0/quiet/12/2073/1408.png", "WMS only"),
        ("/tms/1.0.0/quiet/metadata.json", "WMS only"),
        // HiDPI tiles are off.
        (
            "/wmts/communes/normal/PM_0_18@2x/12/1409/2074.webp",
            "not &apos;PM_0_18@2x&apos;",
        ),
        ("/tms/1.0.0/communes/12/2074/1409@2x.webp", "hidpi is off"),
    ] {
        let (status, _, body) = get(&server.url(path));
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(body.contains(expected), "{path}: {body}");
    }
    let (_, _, list) = get(&server.url("/tms/1.0.0"));
    assert!(list.contains("/tms/1.0.0/communes\""), "{list}");
    assert!(!list.contains("/tms/1.0.0/quiet\""), "{list}");
    // The quiet layer is still a WMS layer.
    let (status, headers, _) = get_bytes(
        &server.url("/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=quiet&STYLES=&CRS=EPSG:3857&BBOX=250000,6250000,270000,6270000&WIDTH=64&HEIGHT=64&FORMAT=image/png"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
}

/// A block of tiles of one set stitched into one image.
fn stitch_set(
    server: &Server,
    set: &str,
    size: u32,
    (z, col0, row0): (u32, u32, u32),
    n: u32,
) -> image::RgbaImage {
    let mut out = image::RgbaImage::new(n * size, n * size);
    for r in 0..n {
        for c in 0..n {
            let path = format!(
                "/wmts/communes/normal/{set}/{z}/{}/{}.png",
                row0 + r,
                col0 + c
            );
            let (status, _, body) = get_bytes(&server.url(&path), &[]);
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            let tile = png(&body);
            assert_eq!(tile.dimensions(), (size, size), "{path}");
            image::imageops::replace(&mut out, &tile, i64::from(c * size), i64::from(r * size));
        }
    }
    out
}

#[test]
fn hidpi_tiles_have_twice_the_pixels_and_labels_drawn_at_twice_the_dpi() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "labels.sld", true, "#E41A1C");
    let config = config(dir.path(), &sld, "");
    let server = serve(&config);

    // Capabilities: the layer links to the 512-pixel variant of its set too.
    let (_, _, xml) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    let layer = &xml[xml
        .find("<ows:Identifier>communes</ows:Identifier>")
        .unwrap()..];
    let layer = &layer[..layer.find("</Layer>").unwrap()];
    assert!(
        layer.contains("<TileMatrixSet>PM_0_18@2x</TileMatrixSet>"),
        "{layer}"
    );
    let set = &xml[xml
        .find("<ows:Identifier>PM_0_18@2x</ows:Identifier>")
        .unwrap()..];
    let z14 = &set[set.find("<ows:Identifier>14</ows:Identifier>").unwrap()..];
    assert!(z14.contains("<TileWidth>512</TileWidth>"), "{z14}");
    assert!(z14.contains("<MatrixWidth>16384</MatrixWidth>"), "{z14}");

    // One metatile of labels at z14: the HiDPI tiles cover the same ground with twice the
    // pixels, and their labels are drawn at twice the size in pixels (four times the pixels).
    let block = (14, 8292, 5636);
    let red = |img: &image::RgbaImage| {
        img.pixels()
            .filter(|p| p.0[3] > 128 && p.0[0] > 160 && p.0[1] < 110 && p.0[2] < 110)
            .count()
    };
    let standard = stitch_set(&server, "PM_0_18", 256, block, 4);
    let hidpi = stitch_set(&server, "PM_0_18@2x", 512, block, 4);
    let (one, two) = (red(&standard), red(&hidpi));
    assert!(one > 500, "the block should hold labels: {one} red pixels");
    let ratio = two as f64 / one as f64;
    assert!(
        (2.5..6.0).contains(&ratio),
        "labels at twice the DPI cover about 4× the pixels: {one} at 1×, {two} at 2×"
    );

    // TMS `@2x` is the same tile; TileJSON `scale=2` says so.
    let (status, headers, wmts) = get_bytes(
        &server.url("/wmts/communes/normal/PM_0_18@2x/14/5637/8293.png"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("image/png"));
    let (status, _, tms) = get_bytes(&server.url("/tms/1.0.0/communes/14/8293/5637@2x.png"), &[]);
    assert_eq!(status, 200);
    assert_eq!(tms, wmts);
    let (status, _, json) = get(&server.url("/tms/1.0.0/communes/metadata.json?scale=2"));
    assert_eq!(status, 200, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["tileSize"], 512);
    assert!(
        json["tiles"][0]
            .as_str()
            .unwrap()
            .ends_with("/tms/1.0.0/communes/{z}/{x}/{y}@2x.png"),
        "{json}"
    );
    for (path, expected) in [
        ("/tms/1.0.0/communes/14/8293/5637@2x.pbf", "only as images"),
        ("/tms/1.0.0/communes/metadata.json?scale=3", "scale=3"),
        ("/tms/1.0.0/communes?scale=2", "TileJSON"),
    ] {
        let (status, _, body) = get(&server.url(path));
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(body.contains(expected), "{path}: {body}");
    }
    // Kept in a cache of their own.
    let caches: Vec<String> = std::fs::read_dir(dir.path().join("data/tile-cache/communes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(caches.iter().any(|c| c.ends_with("-png@2x")), "{caches:?}");
    assert!(caches.iter().any(|c| c.ends_with("-png")), "{caches:?}");
}

/// QGIS (PyQGIS, headless) loads the vector layer as a WMTS layer through its capabilities,
/// on the standard set and on the HiDPI one, and draws the communes' colours.
#[test]
fn qgis_draws_the_layer_as_wmts() {
    let Some(python) = common::pyqgis() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    let script = dir.path().join("draw_wmts.py");
    std::fs::write(
        &script,
        r##"
import os, sys, urllib.parse
from qgis.core import (QgsApplication, QgsRasterLayer, QgsMapSettings,
    QgsMapRendererSequentialJob, QgsRectangle, QgsCoordinateReferenceSystem)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False)
app.initQgis()
base = sys.argv[1]
for tile_matrix_set in ("PM_0_18", "PM_0_18@2x"):
    capabilities = urllib.parse.quote(f"{base}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities", safe="")
    uri = (f"contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers=communes"
           f"&styles=normal&tileMatrixSet={tile_matrix_set}&url={capabilities}")
    layer = QgsRasterLayer(uri, "communes", "wms")
    assert layer.isValid(), (tile_matrix_set, layer.error().message())
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(QgsRectangle(243000, 6232000, 273000, 6250000))
    settings.setOutputSize(QSize(512, 300))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    counts = {}
    for x in range(0, 512, 4):
        for y in range(0, 300, 4):
            name = image.pixelColor(x, y).name()
            counts[name] = counts.get(name, 0) + 1
    for colour in ("#e41a1c", "#377eb8", "#4daf4a", "#ff7f00"):
        assert counts.get(colour, 0) > 300, (tile_matrix_set, colour, sorted(counts.items(), key=lambda kv: -kv[1])[:8])
print("ok", flush=True)
# PyQGIS 3.22 may crash while tearing down offscreen: leave at once.
os._exit(0)
"##,
    )
    .unwrap();
    common::run_pyqgis(python, &script, &[server.base.as_ref()]);
}

/// The layer's native set: Lambert-93 data are tiled on LAMB93 too (linked beside Web
/// Mercator), and a block of LAMB93 tiles equals the WMS map of the same extent in EPSG:2154.
#[test]
fn lambert_93_layers_are_tiled_on_their_native_set() {
    let dir = tempfile::tempdir().unwrap();
    let sld = style(dir.path(), "plain.sld", false, "#E41A1C");
    let server = serve(&config(dir.path(), &sld, ""));
    let (status, _, xml) = get(&server.url("/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"));
    assert_eq!(status, 200);
    let layer = &xml[xml
        .find("<ows:Identifier>communes</ows:Identifier>")
        .unwrap()..];
    let layer = &layer[..layer.find("</Layer>").unwrap()];
    let links: Vec<&str> = layer
        .match_indices("<TileMatrixSet>")
        .map(|(i, _)| &layer[i + 15..i + layer[i..].find("</TileMatrixSet>").unwrap()])
        .collect();
    assert_eq!(
        links,
        ["PM_0_18", "LAMB93_0_18", "PM_0_18@2x", "LAMB93_0_18@2x"]
    );
    let set = &xml[xml
        .find("<ows:Identifier>LAMB93_0_18</ows:Identifier>")
        .unwrap()..];
    let set = &set[..set.find("</TileMatrixSet>").unwrap()];
    assert!(
        set.contains("<ows:SupportedCRS>urn:ogc:def:crs:EPSG::2154</ows:SupportedCRS>"),
        "{set}"
    );
    assert!(set.contains("<ows:Identifier>18</ows:Identifier>"), "{set}");
    assert!(
        !set.contains("<ows:Identifier>19</ows:Identifier>"),
        "{set}"
    );

    // LAMB93 level 12 from the set's own definition.
    let tms: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("config/tilematrixsets/LAMB93.json")).unwrap(),
    )
    .unwrap();
    let matrix = tms["tileMatrices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "12")
        .unwrap();
    let cell = matrix["cellSize"].as_f64().unwrap();
    let (x0, y0) = (
        matrix["pointOfOrigin"][0].as_f64().unwrap(),
        matrix["pointOfOrigin"][1].as_f64().unwrap(),
    );
    let span = cell * 256.0;
    // Paris (652 000, 6 862 000) in a 4 × 4 block.
    let (col0, row0) = (
        ((652_000.0 - x0) / span) as u32 - 2,
        ((y0 - 6_862_000.0) / span) as u32 - 2,
    );
    let mut tiles = image::RgbaImage::new(1024, 1024);
    for r in 0..4 {
        for c in 0..4 {
            let path = format!(
                "/wmts/communes/normal/LAMB93_0_18/12/{}/{}.png",
                row0 + r,
                col0 + c
            );
            let (status, _, body) = get_bytes(&server.url(&path), &[]);
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            image::imageops::replace(
                &mut tiles,
                &png(&body),
                i64::from(c * 256),
                i64::from(r * 256),
            );
        }
    }
    let (min_x, max_y) = (x0 + f64::from(col0) * span, y0 - f64::from(row0) * span);
    let url = server.url(&format!(
        "/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=communes&STYLES=&CRS=EPSG:2154&BBOX={},{},{},{}&WIDTH=1024&HEIGHT=1024&FORMAT=image/png&TRANSPARENT=TRUE",
        min_x,
        max_y - 4.0 * span,
        min_x + 4.0 * span,
        max_y
    ));
    let (status, _, body) = get_bytes(&url, &[]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let map = png(&body);
    let drawn = tiles.pixels().filter(|p| p.0[3] > 0).count();
    assert!(
        drawn > 100_000,
        "the block should hold the communes: {drawn} pixels drawn"
    );
    let differing = tiles
        .pixels()
        .zip(map.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(p, q)| p.abs_diff(q) > 8))
        .count();
    assert!(
        differing <= 1024 * 1024 / 1000,
        "{differing} pixels differ between the LAMB93 tiles and the WMS map"
    );
    // Kept apart from the Web Mercator tiles; a tile outside the matrix is named.
    let caches: Vec<String> = std::fs::read_dir(dir.path().join("data/tile-cache/communes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        caches.iter().any(|c| c.ends_with("-LAMB93-png")),
        "{caches:?}"
    );
    let width = matrix["matrixWidth"].as_u64().unwrap();
    let (status, _, body) = get(&server.url(&format!(
        "/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=communes&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=LAMB93_0_18&TILEMATRIX=12&TILEROW=0&TILECOL={width}"
    )));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("TileOutOfRange"), "{body}");
}
