//! A temporary PostgreSQL cluster for tests: the real server, from the machine's PostgreSQL
//! binaries (Debian's `postgresql` package), in a temporary folder, on a free loopback port,
//! with trust authentication, stopped and removed when the test ends.
//!
//! Why not an in-memory stand-in: the catalog's locks, transactions and migrations are what is
//! tested, and only PostgreSQL itself behaves as PostgreSQL does.
//!
//! `initdb` refuses to run as root: a root test process runs the binaries as the `postgres`
//! system user (created by Debian's package) through `runuser`. A watchdog shell stops the
//! cluster when the test process goes away without dropping it (a process-wide cluster in a
//! `static` is never dropped; a panicking test may abort).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// A running cluster; stopped and removed on drop.
#[derive(Debug)]
pub struct Cluster {
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    run_as: Option<String>,
    /// The server options that turn TLS on (empty: none), kept for a restart.
    tls_options: String,
    /// Removed on drop, after the server stopped.
    dir: tempfile::TempDir,
}

/// The folder of the newest PostgreSQL binaries on this machine (`TUILERIE_PG_BIN`, else
/// `/usr/lib/postgresql/<newest>/bin`, else the folder of an `initdb` on the `PATH`).
pub fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TUILERIE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|dir| dir.join("initdb").is_file()))
}

/// Whether PostGIS is installed for these binaries (its control file in the share folder).
pub fn has_postgis(bin: &Path) -> bool {
    let share = Command::new(bin.join("pg_config"))
        .arg("--sharedir")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    share.is_some_and(|share| share.join("extension/postgis.control").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .is_some_and(|uid| uid.trim() == "0")
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Cluster {
    /// Starts a cluster, or says why it cannot (binaries missing, `initdb` failed…): tests
    /// print the reason and skip.
    pub fn start() -> Result<Cluster, String> {
        Cluster::start_with(None)
    }

    /// Starts a cluster that also accepts TLS, with this certificate and key (PEM).
    pub fn start_with_tls(cert: &Path, key: &Path) -> Result<Cluster, String> {
        Cluster::start_with(Some((cert, key)))
    }

    fn start_with(tls: Option<(&Path, &Path)>) -> Result<Cluster, String> {
        let bin = binaries().ok_or_else(|| {
            "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on the PATH; \
             Debian: apt-get install postgresql postgresql-15-postgis-3)"
                .to_owned()
        })?;
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new()
            .prefix("tuilerie-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        let mut tls_options = String::new();
        if let Some((cert, key)) = tls {
            // Beside the data folder (initdb wants that one empty), the key private to its
            // owner as PostgreSQL demands.
            let copied = |from: &Path, name: &str| -> Result<PathBuf, String> {
                let to = dir.path().join(name);
                std::fs::copy(from, &to)
                    .map_err(|e| format!("cannot copy {}: {e}", from.display()))?;
                Ok(to)
            };
            let cert = copied(cert, "server.crt")?;
            let key = copied(key, "server.key")?;
            run(Command::new("chmod").arg("600").arg(&key))?;
            tls_options = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            );
        }
        if let Some(user) = &run_as {
            // The system user must reach and own the cluster's folder.
            run(Command::new("chmod").arg("755").arg(dir.path()))?;
            run(Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:"))
                .arg(dir.path()))?;
        }
        let cluster_command = |program: &str| {
            let mut command = binary_command(&bin, run_as.as_deref(), program);
            command.current_dir(dir.path());
            command
        };
        run(cluster_command("initdb")
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            .args(["--no-sync", "--locale=C", "-D"])
            .arg(&data))?;
        // A few attempts: the free port found may be taken before the server binds it.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let options = server_options(port, &data, &tls_options);
            let started = cluster_command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-w", "-t", "30", "-o", &options, "-l"])
                .arg(data.join("server.log"))
                .arg("start")
                .stdout(Stdio::null())
                .status();
            match started {
                Ok(status) if status.success() => {
                    let cluster = Cluster {
                        port,
                        bin,
                        data,
                        run_as,
                        tls_options,
                        dir,
                    };
                    cluster.watch_this_process()?;
                    return Ok(cluster);
                }
                Ok(_) => {
                    last = std::fs::read_to_string(data.join("server.log")).unwrap_or_default();
                }
                Err(e) => return Err(format!("cannot run pg_ctl: {e}")),
            }
        }
        Err(format!("PostgreSQL did not start: {last}"))
    }

    /// A process-wide cluster, started on first use (for test binaries whose every test wants
    /// a database: one cluster, one database per test).
    pub fn shared() -> Result<Arc<Cluster>, String> {
        static SHARED: OnceLock<Result<Arc<Cluster>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Cluster::start().map(Arc::new))
            .clone()
    }

    /// Its loopback TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL to a database of the cluster (as the superuser `postgres`).
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new, empty database with a name unique in this process, and answers its URL.
    pub fn new_database(&self) -> Result<String, String> {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// Runs SQL through `psql` (stops at the first error), answering its output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-U",
                "postgres",
                "-p",
                &self.port.to_string(),
                "-d",
                database,
            ])
            .args(["-c", sql])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "psql failed on {sql:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Stops the server (`pg_ctl stop`, fast mode); [`Cluster::restart`] starts it again on the
    /// same port, for tests of a database that goes away.
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["-w", "-m", "fast", "stop"])
    }

    /// Starts a stopped server again, on the same port.
    pub fn restart(&self) -> Result<(), String> {
        let options = server_options(self.port, &self.data, &self.tls_options);
        let log = self.data.join("server.log");
        let log = log.to_string_lossy();
        self.pg_ctl(&["-w", "-t", "30", "-o", &options, "-l", &log, "start"])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        run(binary_command(&self.bin, self.run_as.as_deref(), "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .stdout(Stdio::null()))
    }

    /// A shell that stops the cluster once this process is gone, whatever way it goes.
    fn watch_this_process(&self) -> Result<(), String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let prefix = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- "),
            None => String::new(),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {prefix}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.data.display(),
            dir = self.dir.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
            .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}

/// A PostgreSQL program of `bin`, run as `run_as` when given (root cannot run them).
fn binary_command(bin: &Path, run_as: Option<&str>, program: &str) -> Command {
    match run_as {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(bin.join(program));
            command
        }
        None => Command::new(bin.join(program)),
    }
}

/// The server's options: loopback only on `port`, its socket in `data`, durability off (a
/// test cluster), and TLS when `tls_options` turns it on.
fn server_options(port: u16, data: &Path, tls_options: &str) -> String {
    format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200{tls_options}",
        data.display()
    )
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_and_stops() {
        let cluster = match Cluster::start() {
            Ok(cluster) => cluster,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return;
            }
        };
        let url = cluster.new_database().expect("a database");
        let name = url.rsplit('/').next().expect("a name");
        assert_eq!(cluster.psql(name, "SELECT 40 + 2").expect("psql"), "42");
        let data = cluster.data.clone();
        drop(cluster);
        assert!(!data.exists(), "the cluster's folder is removed");
    }
}
