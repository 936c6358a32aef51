//! An S3 server for the tests: `s3s-fs` (installed by `.ci/run`) on a free loopback port, real
//! HTTP, SigV4 signatures and range requests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "tuilerie";
pub const SECRET: &str = "tuilerie-secret-key";

/// `s3s-fs` on a free port over `root` (which holds the bucket `pyramids`); killed on drop.
pub struct S3 {
    child: Option<Child>,
    port: u16,
    pub root: PathBuf,
}

impl S3 {
    pub fn start(root: &Path) -> Option<S3> {
        if Command::new("s3s-fs").arg("--version").output().is_err() {
            eprintln!("skipped: s3s-fs is not installed (cargo install s3s-fs --features binary)");
            return None;
        }
        std::fs::create_dir_all(root.join("pyramids")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s3 = S3 {
            child: None,
            port,
            root: root.to_owned(),
        };
        s3.run();
        Some(s3)
    }

    pub fn run(&mut self) {
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", KEY, "--secret-key", SECRET])
            .arg(&self.root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The `[object_storage]` section of a config file that reaches this server.
    pub fn config_section(&self) -> String {
        format!(
            "[object_storage]\nurl = \"{}\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\n",
            self.url()
        )
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.stop();
    }
}
