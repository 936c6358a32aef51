//! `tuilerie health`: ask a running server whether it is healthy, for container health checks
//! (Docker's `HEALTHCHECK`, Kubernetes' exec probes) where no HTTP client can be assumed: the
//! image's `/bin/sh` is dash, which has no `/dev/tcp`. Exit 0 when `/health` answers 200 with
//! `"status": "ok"`, 1 otherwise, with the reason on stderr.
//!
//! Plain HTTP/1.0 over a `TcpStream` with a deadline: the probe talks to the server on its own
//! loopback, so it needs neither TLS nor a client library.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `tuilerie health`.
#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The server's health URL (http only). Default: `/health` on the address of
    /// `TUILERIE_LISTEN` (an unspecified address such as 0.0.0.0 is asked on loopback), else
    /// on 127.0.0.1:8080.
    #[arg(long)]
    url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
}

/// Runs the probe; exit 0 healthy, 1 not.
pub fn run(args: &HealthArgs) -> ExitCode {
    let url = args.url.clone().unwrap_or_else(default_url);
    match probe(&url, Duration::from_secs(args.timeout.max(1))) {
        Ok(()) => {
            println!("healthy: {url}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("error: {url}: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn default_url() -> String {
    let listen = std::env::var("TUILERIE_LISTEN")
        .ok()
        .and_then(|text| text.trim().parse::<SocketAddr>().ok());
    let address = match listen {
        Some(mut address) => {
            if address.ip().is_unspecified() {
                address.set_ip(if address.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                });
            }
            address
        }
        None => SocketAddr::from(([127, 0, 0, 1], 8080)),
    };
    format!("http://{address}/health")
}

/// Why a server is not healthy.
#[derive(Debug, thiserror::Error)]
enum Unhealthy {
    #[error("only http:// URLs can be probed (the probe runs beside the server)")]
    NotHttp,
    #[error("cannot resolve the host: {0}")]
    Resolve(std::io::Error),
    #[error("the host resolves to no address")]
    NoAddress,
    #[error("no answer: {0}")]
    Io(#[from] std::io::Error),
    #[error("the answer is not HTTP")]
    NotHttpAnswer,
    #[error("answered {0}")]
    Status(String),
    #[error("answered 200 without \"status\": \"ok\"")]
    NotOk,
}

fn probe(url: &str, timeout: Duration) -> Result<(), Unhealthy> {
    let rest = url.strip_prefix("http://").ok_or(Unhealthy::NotHttp)?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/health"),
    };
    let host_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let address = host_port
        .to_socket_addrs()
        .map_err(Unhealthy::Resolve)?
        .next()
        .ok_or(Unhealthy::NoAddress)?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: tuilerie-health\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    // The body of /health is small: a bounded read keeps a confused peer from flooding us.
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/")) {
        return Err(Unhealthy::NotHttpAnswer);
    }
    let code = parts.next().unwrap_or("");
    if code != "200" {
        return Err(Unhealthy::Status(
            status_line
                .split_once(' ')
                .map_or("", |(_, s)| s)
                .to_owned(),
        ));
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let healthy = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("status").and_then(|s| s.as_str()) == Some("ok"));
    if healthy {
        Ok(())
    } else {
        Err(Unhealthy::NotOk)
    }
}
