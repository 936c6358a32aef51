//! Black-box tests: start the real `tuilerie` binary on a free port and speak HTTP to it.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{get, header, Server, BIN};

#[test]
fn serve_on_embedded_defaults_answers_health_with_version_and_uptime() {
    let server = Server::start(&[]);
    let (status, headers, body) = get(&server.url("/health"));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("*"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["uptime_seconds"].as_f64().unwrap() >= 0.0);
}

/// The container health check: `tuilerie health` exits 0 on a live server, 1 with the reason
/// when nothing answers or the answer is not a healthy `/health`.
#[test]
fn health_subcommand_exits_0_on_a_live_server_and_1_otherwise() {
    let server = Server::start(&[]);
    let probe = |url: &str| {
        Command::new(BIN)
            .args(["health", "--url", url, "--timeout", "2"])
            .output()
            .unwrap()
    };
    let healthy = probe(&server.url("/health"));
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    // TUILERIE_LISTEN (as the image sets it, on the unspecified address) gives the default URL.
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let from_env = Command::new(BIN)
        .args(["health"])
        .env("TUILERIE_LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    assert!(from_env.status.success(), "{from_env:?}");
    // A path that is not /health answers 404: unhealthy, and said so.
    let wrong = probe(&server.url("/nothing-here"));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("404"),
        "{wrong:?}"
    );
    drop(server);
    // A free port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let free = listener.local_addr().unwrap();
    drop(listener);
    let dead = probe(&format!("http://{free}/health"));
    assert_eq!(dead.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&dead.stderr).contains("no answer"),
        "{dead:?}"
    );
}

#[test]
fn head_answers_the_get_headers_without_a_body() {
    let server = Server::start(&[]);
    let answer = server.raw(b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    assert!(body.is_empty(), "HEAD answered a body: {body:?}");
}

#[test]
fn unknown_paths_are_404_with_a_json_body() {
    let server = Server::start(&[]);
    let (status, headers, body) = get(&server.url("/no/such/thing"));
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "not_found");
    assert!(json["error_description"]
        .as_str()
        .unwrap()
        .contains("/no/such/thing"));
}

#[test]
fn wrong_methods_are_405_with_a_json_body() {
    let server = Server::start(&[]);
    let answer = server.raw(b"DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    assert!(answer.contains("method_not_allowed"), "{answer}");
}

#[test]
fn metrics_count_requests_by_service_operation_and_status() {
    let server = Server::start(&[]);
    get(&server.url("/health"));
    get(&server.url("/health"));
    get(&server.url("/nowhere"));
    let (status, headers, text) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(
        text.contains(
            r#"tuilerie_http_requests_total{service="health",operation="-",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"tuilerie_http_requests_total{service="other",operation="-",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("tuilerie_http_request_duration_seconds_bucket{le="),
        "{text}"
    );
}

#[test]
fn cors_preflight_is_answered() {
    let server = Server::start(&[]);
    let answer = server.raw(
        b"OPTIONS /health HTTP/1.1\r\nHost: x\r\nOrigin: http://example.org\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
    );
    let lower = answer.to_ascii_lowercase();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(lower.contains("access-control-allow-origin: *"), "{answer}");
    assert!(lower.contains("access-control-allow-methods:"), "{answer}");
}

#[test]
fn a_too_long_url_is_414_with_the_limit_named() {
    let server = Server::start(&[]);
    let (status, _, body) = get(&server.url(&format!("/health?x={}", "a".repeat(9000))));
    assert_eq!(status, 414);
    assert!(body.contains("max_url_length"), "{body}");
}

#[test]
fn too_large_headers_are_431() {
    let server = Server::start(&[]);
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(40_000)
    );
    let answer = server.raw(request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[test]
fn a_too_large_body_is_413_with_the_limit_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("t.toml");
    std::fs::write(&config, "[server]\nmax_body_bytes = 2048\n").unwrap();
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let request = format!(
        "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{}",
        "b".repeat(5000)
    );
    let answer = server.raw(request.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("max_body_bytes"), "{answer}");
}

#[test]
fn sigterm_stops_the_server_cleanly_even_with_an_idle_keep_alive_connection() {
    let mut server = Server::start(&[]);
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buffer = [0u8; 512];
    let read = idle.read(&mut buffer).unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let mut server = Server::start(&[]);
    // Send a request head without its final blank line: the request is in progress.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.sigterm();
    std::thread::sleep(Duration::from_millis(200));
    stream.write_all(b"Connection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "in-flight request lost: {answer:?}"
    );
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn listen_flag_wins_over_the_environment() {
    let output = Command::new(BIN)
        .args(["serve", "--listen", "not-an-address"])
        .env("TUILERIE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn version_flag_prints_the_version() {
    let output = Command::new(BIN).arg("--version").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("tuilerie {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn config_check_names_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"localhost\"\ncolour = \"blue\"\n\n[[layers]]\nname = \"elevation\"\nkind = \"pyramid\"\npyramid = \"missing/pyramid.json\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["config", "check", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let file = config.display().to_string();
    assert!(
        stderr.contains(&format!("{file}:2:10: server.listen")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:3:1: server.colour: unknown key 'colour'")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:8:11: layers[0].pyramid")),
        "{stderr}"
    );
    assert!(stderr.contains("3 problems found"), "{stderr}");

    let output = Command::new(BIN)
        .args(["config", "check", "--json", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let lines: Vec<u64> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3, 8]);
}

#[test]
fn config_check_accepts_the_shipped_config() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/tuilerie.toml");
    let output = Command::new(BIN)
        .args(["config", "check", shipped])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Slowloris: hundreds of connections that send half a request head and stall do not keep
/// other clients from their answers.
#[test]
fn slow_clients_do_not_starve_the_others() {
    let server = Server::start(&[]);
    let stalled: Vec<TcpStream> = (0..300)
        .map(|i| {
            let mut stream = TcpStream::connect(&server.addr).unwrap();
            stream
                .write_all(format!("GET /health?{i} HTTP/1.1\r\nHost: x\r\nX-Slow: ").as_bytes())
                .unwrap();
            stream
        })
        .collect();
    for _ in 0..20 {
        let (status, _, body) = get(&server.url("/health"));
        assert_eq!(status, 200, "{body}");
    }
    drop(stalled);
    let (status, _, _) = get(&server.url("/health"));
    assert_eq!(status, 200);
}

/// `server.max_connections`: past the cap a new connection waits (in the listen backlog) and
/// is served when one closes; the log says the cap was reached.
#[test]
fn past_the_connection_cap_new_connections_wait_and_the_log_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tuilerie.toml");
    std::fs::write(&config, "[server]\nmax_connections = 4\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("TUILERIE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap()
        .to_owned();
    let ask = |stream: &mut TcpStream| {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    // Four idle connections take every slot.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut fifth = TcpStream::connect(&addr).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buffer = [0u8; 64];
    let waited = fifth.read(&mut buffer);
    assert!(
        waited.is_err(),
        "a connection past the cap is not served yet: {waited:?}"
    );
    // One closes: the fifth is served; the others still are.
    drop(idle.pop());
    fifth
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    fifth.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(ask(&mut idle[0]).starts_with("HTTP/1.1 200"));
    drop(idle);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("connection limit reached"), "{log}");
}
