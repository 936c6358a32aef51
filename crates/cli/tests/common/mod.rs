//! Shared helpers of the black-box tests: start the real binary, speak HTTP to it.
#![allow(dead_code, clippy::unwrap_used)]

pub mod api;
pub mod s3;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use pyramid::{
    PyramidSpec, PyramidWriter, Samples, TileFormat, TileImage, TileLimits, TileMatrixSets,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_tuilerie");

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub addr: String,
    /// The data directory made for this server when the arguments name none.
    pub data: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `tuilerie serve` with `args`; without `--data`, on a fresh data directory.
    pub fn start(args: &[&str]) -> Server {
        Server::start_command("serve", args)
    }

    /// Starts `tuilerie {subcommand}` (serve, demo) on a free port.
    pub fn start_command(subcommand: &str, args: &[&str]) -> Server {
        Server::start_with_env(subcommand, args, &[])
    }

    /// Starts `tuilerie {subcommand}` on a free port with environment variables set.
    pub fn start_with_env(subcommand: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let data = (!args.contains(&"--data")).then(|| tempfile::tempdir().unwrap());
        let mut command = Command::new(BIN);
        command
            .arg(subcommand)
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        if let Some(dir) = &data {
            command.arg("--data").arg(dir.path());
        }
        command.envs(env.iter().copied());
        let mut child = command
            .env("TUILERIE_LOG", "warn")
            .env_remove("TUILERIE_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tuilerie");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in first stdout line: {line:?}"))
            .to_owned();
        let addr = base.trim_start_matches("http://").to_owned();
        Server {
            child,
            base,
            addr,
            data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, without waiting (the drop reaps it).
    pub fn sigkill(&self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }

    pub fn sigterm(&self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }

    /// Sends raw bytes and returns the raw answer (status line first).
    pub fn raw(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }
}

/// nginx in front of `upstreams` (`host:port`), round robin as in `deploy/nginx.conf`, on a
/// free loopback port, as a [`Server`] (killed when dropped); `None` where nginx is missing.
pub fn start_nginx(upstreams: &[&str]) -> Option<Server> {
    let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| Path::new(path).is_file())?;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let servers: Vec<String> = upstreams
        .iter()
        .map(|upstream| format!("    server {upstream} max_fails=3 fail_timeout=5s;\n"))
        .collect();
    let servers = servers.concat();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         upstream tuilerie {{\n{servers}    keepalive 16;\n  }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    client_max_body_size 0;\n\
         location / {{\n      proxy_pass http://tuilerie;\n      proxy_http_version 1.1;\n\
         proxy_set_header Connection \"\";\n      proxy_set_header Host $http_host;\n\
         proxy_next_upstream error timeout;\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new(binary)
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Server {
        child,
        base: format!("http://{addr}"),
        addr,
        data: Some(dir),
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether GDAL's `gdalinfo` is there (prints why a test skips when not).
pub fn has_gdalinfo() -> bool {
    let ok = Command::new("gdalinfo").arg("--version").output().is_ok();
    if !ok {
        eprintln!("skipped: gdalinfo is not installed");
    }
    ok
}

/// Debian's python3 with PyQGIS (python3-qgis), or `None` (the test says why it skips).
pub fn pyqgis() -> Option<&'static str> {
    let python = "/usr/bin/python3";
    let ok = Command::new(python)
        .args(["-c", "import qgis.core"])
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: PyQGIS (python3-qgis) is not installed");
    }
    ok.then_some(python)
}

/// Runs a PyQGIS script (offscreen) with arguments; asserts it printed `ok`.
pub fn run_pyqgis(python: &str, script: &Path, args: &[&std::ffi::OsStr]) {
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .env("QT_QPA_PLATFORM", "offscreen")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether python3 with OWSLib is there (prints why a test skips when not).
pub fn has_owslib() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import owslib"])
        .output();
    let ok = probe.is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: python3 with owslib is not installed");
    }
    ok
}

/// Runs a command that must succeed; its output (the failure shows its stderr).
pub fn run_ok(command: &mut Command) -> std::process::Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        command,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs a python3 script that must succeed and print "ok".
pub fn run_python_ok(script: &str) {
    let output = Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub fn get(url: &str) -> (u16, Vec<(String, String)>, String) {
    let (status, headers, body) = get_bytes(url, &[]);
    (status, headers, String::from_utf8(body).unwrap())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// GET with extra request headers; the body as bytes.
pub fn get_bytes(
    url: &str,
    request_headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut request = agent().get(url);
    for (name, value) in request_headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.body_mut().read_to_vec().unwrap();
    (status, headers, body)
}

/// Elevation-like float value of pixel (i, j) of tile (col, row): exact in f32, unique.
pub fn elevation(col: u32, row: u32, i: u32, j: u32) -> f32 {
    (col * 1000 + row * 100) as f32 + i as f32 * 0.25 + j as f32 * 0.5 + 0.125
}

/// Builds two pyramids on PM level 3 (cols 3..=4, rows 2..=3) and level 2 (col 1..=2, row 1):
/// `dem` (ZIP FLOAT32, values [`elevation`], tile (4, 3) of level 3 missing) and `ortho` (PNG RGB,
/// a flat colour per tile), in `dir/dem` and `dir/ortho`.
pub fn write_test_pyramids(dir: &Path) {
    let sets = TileMatrixSets::builtin();
    let pm = sets.get("PM").unwrap().clone();
    for (name, format, channels, nodata) in [
        ("dem", TileFormat::ZipFloat32, 1u8, vec![-99999.0]),
        ("ortho", TileFormat::PngUint8, 3, vec![255.0, 255.0, 255.0]),
    ] {
        let spec = PyramidSpec {
            format,
            channels,
            nodata,
            interpolation: "nn".to_owned(),
            slab_size: (4, 4),
            path_depth: 2,
        };
        let mut writer = PyramidWriter::new(&dir.join(name), pm.clone(), spec).unwrap();
        writer
            .add_level(
                "3",
                TileLimits {
                    min_col: 3,
                    max_col: 4,
                    min_row: 2,
                    max_row: 3,
                },
            )
            .unwrap();
        writer
            .add_level(
                "2",
                TileLimits {
                    min_col: 1,
                    max_col: 2,
                    min_row: 1,
                    max_row: 1,
                },
            )
            .unwrap();
        for (level, slab_col) in [("2", 0), ("3", 0), ("3", 1)] {
            writer
                .write_slab(level, slab_col, 0, |col, row| {
                    if (level, col, row) == ("3", 4, 3) {
                        return Ok(None); // a hole
                    }
                    Ok(Some(match format {
                        TileFormat::ZipFloat32 => {
                            let values = (0..256 * 256)
                                .map(|k| elevation(col, row, k % 256, k / 256))
                                .collect();
                            TileImage::new(256, 256, 1, Samples::F32(values)).unwrap()
                        }
                        _ => TileImage::filled(
                            256,
                            256,
                            format.sample_type(),
                            &[f64::from(col * 40), f64::from(row * 40), 90.0],
                        ),
                    }))
                })
                .unwrap();
        }
        writer.finish().unwrap();
    }
}

/// A small tmpfs mounted for a test and unmounted when dropped.
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    /// A tmpfs of `size` (`256k`) at a fresh folder, or `None` (with a message) where this
    /// process may not mount (not root, or no CAP_SYS_ADMIN in a container).
    pub fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        SmallDisk::mount_at(&dir.join("disk"), size)
    }

    /// A tmpfs of `size` mounted at `at` (made when missing).
    pub fn mount_at(at: &Path, size: &str) -> Option<SmallDisk> {
        let at = at.to_owned();
        std::fs::create_dir_all(&at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .is_ok_and(|o| o.status.success());
        if !mounted {
            eprintln!("skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
            return None;
        }
        Some(SmallDisk(at))
    }

    pub fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
