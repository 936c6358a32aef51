//! Pyramids in object storage, against a real S3 server started here on loopback (`s3s-fs`,
//! installed by `.ci/run` with `cargo install`): every request goes through HTTP, SigV4
//! signatures and range requests. Requests are counted from the server's own log.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyramid::{
    build, build_at, BuildOptions, CacheLimits, GeoTiff, Interpolation, Location, ObjectSettings,
    ObjectStorage, ObjectUrl, Pyramid, S3Cluster, TileFormat, TileMatrixSets,
};

const KEY: &str = "tuilerie";
const SECRET: &str = "tuilerie-secret-key";

/// An `s3s-fs` server on a free loopback port, with one bucket; killed when dropped.
struct S3Server {
    child: Child,
    port: u16,
    root: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl S3Server {
    fn start() -> Option<S3Server> {
        if Command::new("s3s-fs").arg("--version").output().is_err() {
            eprintln!("skipped: s3s-fs is not installed (cargo install s3s-fs --features binary)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("pyramids")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("s3.log");
        let child = S3Server::spawn(&root, port, &log);
        Some(S3Server {
            child,
            port,
            root,
            log,
            _dir: dir,
        })
    }

    fn spawn(root: &Path, port: u16, log: &Path) -> Child {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", KEY, "--secret-key", SECRET])
            .arg(root)
            .env("RUST_LOG", "s3s::service=debug")
            .env("NO_COLOR", "1")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.child = S3Server::spawn(&self.root, self.port, &self.log);
    }

    fn storage(&self) -> Arc<ObjectStorage> {
        Arc::new(ObjectStorage::new(ObjectSettings {
            clusters: vec![S3Cluster {
                url: format!("http://127.0.0.1:{}", self.port),
                key: KEY.to_owned(),
                secret: SECRET.to_owned(),
                region: "us-east-1".to_owned(),
            }],
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            retries: 1,
        }))
    }

    /// GET requests the server has received so far whose path contains `needle`.
    fn gets(&self, needle: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("req: Request { method: GET") && l.contains(needle))
            .count()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The RGB fixture built as PNG tiles at `out`, opened.
fn build_rgb(storage: &Arc<ObjectStorage>, out: &str) -> Pyramid {
    let rgb = GeoTiff::open(&fixture("rgb_4326.tif"), None).unwrap();
    let out = s3(out);
    build_at(
        &[rgb],
        &out,
        storage,
        &options(TileFormat::PngUint8),
        &|_, _| {},
    )
    .unwrap();
    open(&out.join("pyramid.json"), storage)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/rasters"
    ))
    .join(name)
}

fn options(format: TileFormat) -> BuildOptions {
    BuildOptions {
        tms: TileMatrixSets::builtin().get("PM").unwrap().clone(),
        bottom: "12".to_owned(),
        top: "9".to_owned(),
        format,
        interpolation: Interpolation::Bilinear,
        nodata: None,
        slab_size: (4, 4),
    }
}

fn s3(text: &str) -> Location {
    Location::parse(text).unwrap()
}

fn open(location: &Location, storage: &Arc<ObjectStorage>) -> Pyramid {
    Pyramid::open_at(
        location,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
        storage,
    )
    .unwrap()
}

/// Every tile of every level of `a` and `b`: same presence, same bytes.
fn assert_same_tiles(a: &Pyramid, b: &Pyramid) -> usize {
    assert_eq!(a.descriptor().levels.len(), b.descriptor().levels.len());
    let mut compared = 0;
    for level in a.levels() {
        let matrix = a.matrix(level).unwrap();
        let l = level.limits();
        for row in l.min_row..=l.max_row {
            for col in l.min_col..=l.max_col {
                let tile = matrix.tile(i64::from(col), i64::from(row)).unwrap();
                let left = a.read_tile(tile).unwrap().map(|t| t.bytes);
                let right = b.read_tile(tile).unwrap().map(|t| t.bytes);
                assert_eq!(left, right, "tile {}/{col}/{row}", level.id());
                compared += usize::from(left.is_some());
            }
        }
    }
    compared
}

#[test]
fn a_pyramid_built_to_s3_holds_the_tiles_of_the_same_build_on_files_in_every_format() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let storage = server.storage();
    let rgb = GeoTiff::open(&fixture("rgb_4326.tif"), None).unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let cases = [
        (&rgb, TileFormat::JpgUint8),
        (&rgb, TileFormat::PngUint8),
        (&rgb, TileFormat::ZipUint8),
        (&rgb, TileFormat::RawUint8),
        (&dem, TileFormat::ZipFloat32),
        (&dem, TileFormat::RawFloat32),
    ];
    for (input, format) in cases {
        let files = tempfile::tempdir().unwrap();
        let on_files = build(
            std::slice::from_ref(input),
            files.path(),
            &options(format),
            &|_, _| {},
        )
        .unwrap();
        let out = s3(&format!("s3://pyramids/built/{}", format.name()));
        let in_bucket = build_at(
            std::slice::from_ref(input),
            &out,
            &storage,
            &options(format),
            &|_, _| {},
        )
        .unwrap();
        assert_eq!(on_files.slabs_written, in_bucket.slabs_written, "{format}");
        assert_eq!(
            in_bucket.descriptor,
            PathBuf::from(format!(
                "s3://pyramids/built/{}/pyramid.json",
                format.name()
            ))
        );
        let a = Pyramid::open(
            &on_files.descriptor,
            &TileMatrixSets::builtin(),
            CacheLimits::default(),
        )
        .unwrap();
        let b = open(&out.join("pyramid.json"), &storage);
        assert!(b.is_remote());
        let compared = assert_same_tiles(&a, &b);
        assert!(compared > 10, "{format}: only {compared} tiles");
        // Decoded pixels too (the path WMS and GetFeatureInfo take).
        let level = a.levels().last().unwrap();
        let l = level.limits();
        let tile = a
            .matrix(level)
            .unwrap()
            .tile(i64::from(l.min_col + 1), i64::from(l.min_row + 1))
            .unwrap();
        let (pa, pb) = (a.read_pixels(tile).unwrap(), b.read_pixels(tile).unwrap());
        assert_eq!(pa.is_some(), pb.is_some());
        if let (Some(pa), Some(pb)) = (pa, pb) {
            for (i, j) in [(0, 0), (17, 200), (255, 255)] {
                assert_eq!(pa.pixel(i, j), pb.pixel(i, j));
            }
        }
    }
    // ROK4's layout in the bucket: descriptor, list, one object per slab.
    let bucket = server.root.join("pyramids/built/TIFF_PNG_UINT8");
    let list = std::fs::read_to_string(bucket.join("pyramid.list")).unwrap();
    let mut lines = list.lines();
    assert_eq!(
        lines.next(),
        Some("0=pyramids/built/TIFF_PNG_UINT8/pyramid")
    );
    assert_eq!(lines.next(), Some("#"));
    let slabs: Vec<&str> = lines.collect();
    assert!(!slabs.is_empty());
    for slab in &slabs {
        let name = slab.strip_prefix("0/").unwrap();
        assert!(name.starts_with("DATA_"), "{slab}");
        assert!(bucket.join("pyramid").join(name).is_file(), "{slab}");
    }
    let descriptor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bucket.join("pyramid.json")).unwrap()).unwrap();
    assert_eq!(
        descriptor["levels"][0]["storage"],
        serde_json::json!({
            "type": "S3",
            "image_prefix": "built/TIFF_PNG_UINT8/pyramid/DATA_9",
            "bucket_name": "pyramids"
        })
    );
}

#[test]
fn a_cold_tile_costs_two_gets_a_warm_one_one_and_a_cold_slab_is_fetched_once() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let storage = server.storage();
    let pyramid = build_rgb(&storage, "s3://pyramids/counted");
    let level = pyramid.level("12").unwrap();
    let matrix = pyramid.matrix(level).unwrap();
    let l = level.limits();
    // Four tiles of one slab (4×4 tiles per slab).
    let (c0, r0) = (l.min_col / 4 * 4 + 4, l.min_row / 4 * 4 + 4);
    let slab = level.slab_object(c0, r0).unwrap();
    let slab_path = format!("uri: /pyramids/{}, ", slab.key);
    // The build read level 12 back to make level 11: count from here.
    let built = server.gets(&slab_path);
    let first = pyramid
        .read_tile(matrix.tile(i64::from(c0), i64::from(r0)).unwrap())
        .unwrap();
    assert!(first.is_some());
    assert_eq!(server.gets(&slab_path) - built, 2, "cold: index, then tile");
    pyramid
        .read_tile(matrix.tile(i64::from(c0 + 1), i64::from(r0)).unwrap())
        .unwrap();
    assert_eq!(server.gets(&slab_path) - built, 3, "warm: the tile only");

    // Eight readers of a cold slab: its index is fetched once.
    let fresh = Arc::new(open(&s3("s3://pyramids/counted/pyramid.json"), &storage));
    let before = server.gets(&slab_path);
    let readers: Vec<_> = (0..8u32)
        .map(|k| {
            let fresh = Arc::clone(&fresh);
            std::thread::spawn(move || {
                let level = fresh.level("12").unwrap();
                let tile = fresh
                    .matrix(level)
                    .unwrap()
                    .tile(i64::from(c0 + k % 4), i64::from(r0 + k / 4))
                    .unwrap();
                fresh.read_tile(tile).unwrap()
            })
        })
        .collect();
    let read: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let with_data = read.iter().filter(|t| t.is_some()).count();
    assert_eq!(server.gets(&slab_path) - before, 1 + with_data);
}

#[test]
fn a_pyramid_in_rok4_layout_made_elsewhere_is_served_with_its_symbolic_slabs() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let storage = server.storage();
    // A file pyramid, then its slabs copied under ROK4's object names by hand, as ROK4's own
    // tools lay them out: NAME.json, NAME.list, NAME/DATA_{level}_{col}_{row}.
    let files = tempfile::tempdir().unwrap();
    let dem = GeoTiff::open(&fixture("dem_2154.tif"), None).unwrap();
    let report = build(
        &[dem],
        files.path(),
        &options(TileFormat::ZipFloat32),
        &|_, _| {},
    )
    .unwrap();
    let on_files = Pyramid::open(
        &report.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    let bucket = server.root.join("pyramids");
    let name = "ALTI/RGEALTI";
    std::fs::create_dir_all(bucket.join(name)).unwrap();
    let mut descriptor = on_files.descriptor().clone();
    let mut linked = None;
    for (level, described) in on_files.levels().iter().zip(&mut descriptor.levels) {
        assert_eq!(level.id(), described.id);
        described.storage = pyramid::StorageDescriptor::object(
            format!("{name}/DATA_{}", level.id()),
            "pyramids".to_owned(),
        );
        let l = level.limits();
        for row in (l.min_row / 4)..=(l.max_row / 4) {
            for col in (l.min_col / 4)..=(l.max_col / 4) {
                let file = level.slab_file(col * 4, row * 4);
                if !file.is_file() {
                    continue;
                }
                let object = bucket
                    .join(name)
                    .join(format!("DATA_{}_{col}_{row}", level.id()));
                if linked.is_none() {
                    // The first slab is a symbolic slab to a copy elsewhere in the bucket.
                    std::fs::create_dir_all(bucket.join("shared")).unwrap();
                    std::fs::copy(&file, bucket.join("shared/slab")).unwrap();
                    std::fs::write(&object, "SYMLINK#pyramids/shared/slab").unwrap();
                    linked = Some((level.id().to_owned(), col, row));
                } else {
                    std::fs::copy(&file, &object).unwrap();
                }
            }
        }
    }
    std::fs::write(
        bucket.join("ALTI/RGEALTI.json"),
        serde_json::to_vec(&descriptor).unwrap(),
    )
    .unwrap();
    let in_bucket = open(&s3("s3://pyramids/ALTI/RGEALTI.json"), &storage);
    assert!(assert_same_tiles(&on_files, &in_bucket) > 10);
    assert!(linked.is_some());
}

#[test]
fn missing_objects_stopped_and_silent_servers_are_errors_naming_the_bucket_and_key() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let storage = server.storage();
    let error = Pyramid::open_at(
        &s3("s3://pyramids/nothing/pyramid.json"),
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
        &storage,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("s3://pyramids/nothing/pyramid.json") && error.contains("no such object"),
        "{error}"
    );
    let pyramid = build_rgb(&storage, "s3://pyramids/faults");
    let level = pyramid.level("12").unwrap();
    let matrix = pyramid.matrix(level).unwrap();
    let l = level.limits();
    let tile_at = |col: u32, row: u32| matrix.tile(i64::from(col), i64::from(row)).unwrap();
    let (c0, r0) = (l.min_col / 4 * 4 + 4, l.min_row / 4 * 4 + 4);
    // A removed slab whose index was cached: an error for its tiles, naming the object.
    assert!(pyramid.read_tile(tile_at(c0, r0)).unwrap().is_some());
    let slab = level.slab_object(c0, r0).unwrap();
    std::fs::remove_file(server.root.join("pyramids").join(&slab.key)).unwrap();
    let error = pyramid
        .read_tile(tile_at(c0 + 1, r0))
        .unwrap_err()
        .to_string();
    assert!(error.contains(&slab.to_string()), "{error}");
    // Forgotten, it reads as no data, as a missing slab file does.
    assert!(pyramid.read_tile(tile_at(c0 + 1, r0)).unwrap().is_none());

    // The server stopped: errors naming the object, for the tiles that need it only.
    let mut other = None;
    'find: for row in l.min_row..=l.max_row {
        for col in l.min_col..=l.max_col {
            if level.slab_object(col, row) != Some(slab.clone())
                && pyramid.read_tile(tile_at(col, row)).unwrap().is_some()
            {
                other = Some((col, row));
                break 'find;
            }
        }
    }
    let (oc, or) = other.unwrap();
    let cold = open(&s3("s3://pyramids/faults/pyramid.json"), &storage);
    server.stop();
    let error = cold.read_tile(tile_at(oc, or)).unwrap_err().to_string();
    let other_slab = level.slab_object(oc, or).unwrap();
    assert!(error.contains(&other_slab.to_string()), "{error}");
    server.restart();
    assert!(cold.read_tile(tile_at(oc, or)).unwrap().is_some());

    // A server that accepts and never answers: the timeout ends the wait with an error.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let storage = Arc::new(ObjectStorage::new(ObjectSettings {
        clusters: vec![S3Cluster {
            url: format!("http://{}", silent.local_addr().unwrap()),
            key: KEY.to_owned(),
            secret: SECRET.to_owned(),
            region: "us-east-1".to_owned(),
        }],
        timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        retries: 0,
    }));
    let url = ObjectUrl::parse("pyramids/slow/pyramid.json").unwrap();
    let error = storage.get(&url).unwrap_err().to_string();
    assert!(error.contains("s3://pyramids/slow/pyramid.json"), "{error}");
    drop(silent);
}

#[test]
fn a_build_cut_by_a_stopped_server_resumes_and_keeps_the_slabs_it_wrote() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let storage = server.storage();
    let rgb = GeoTiff::open(&fixture("rgb_4326.tif"), None).unwrap();
    let out = s3("s3://pyramids/resumed");
    let stopped = std::sync::Mutex::new(Some(&mut server));
    let cut = build_at(
        std::slice::from_ref(&rgb),
        &out,
        &storage,
        &options(TileFormat::PngUint8),
        &|done, _| {
            if done >= 6 {
                if let Some(server) = stopped.lock().unwrap().take() {
                    server.stop();
                }
            }
        },
    );
    let _ = stopped.into_inner();
    let error = cut.unwrap_err().to_string();
    assert!(error.contains("s3://pyramids/resumed/"), "{error}");
    server.restart();
    // Not published: no descriptor until the build finishes.
    assert!(!server.root.join("pyramids/resumed/pyramid.json").exists());
    let resumed = build_at(
        std::slice::from_ref(&rgb),
        &out,
        &storage,
        &options(TileFormat::PngUint8),
        &|_, _| {},
    )
    .unwrap();
    assert!(resumed.slabs_skipped >= 5, "{resumed:?}");
    let files = tempfile::tempdir().unwrap();
    let on_files = build(
        &[rgb],
        files.path(),
        &options(TileFormat::PngUint8),
        &|_, _| {},
    )
    .unwrap();
    let a = Pyramid::open(
        &on_files.descriptor,
        &TileMatrixSets::builtin(),
        CacheLimits::default(),
    )
    .unwrap();
    assert!(assert_same_tiles(&a, &open(&out.join("pyramid.json"), &storage)) > 10);
}
