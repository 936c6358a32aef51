//! `tuilerie serve` and `tuilerie demo`: the configuration (file, environment, flags), logging,
//! then the server until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use server::{error_chain, Config};

use crate::setup::load_config;

/// Arguments of `tuilerie serve` and `tuilerie demo`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Configuration file (TOML); see config/tuilerie.toml for every key and its default.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Address and port to listen on, e.g. 0.0.0.0:8080 (overrides server.listen).
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// Data directory (overrides data.dir).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
}

/// Runs `tuilerie serve`.
pub(crate) fn serve(args: ServeArgs) -> ExitCode {
    match load_config(args.config.as_deref(), args.listen, args.data) {
        Ok((config, _logging)) => run_server(config),
        Err(code) => code,
    }
}

/// Runs the server until it is stopped.
fn run_server(config: Config) -> ExitCode {
    let published = match server::open_published(&config) {
        Ok(published) => published,
        Err(error) => {
            let error = error_chain(&error);
            tracing::error!(error = %error, "cannot publish the layers");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = match server::Server::bind(&config) {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(error = %error_chain(&error), "cannot start");
            eprintln!("error: {}", error_chain(&error));
            return ExitCode::FAILURE;
        }
    };
    // On stdout, for scripts and tests that start the server on port 0.
    println!(
        "tuilerie {} listening on http://{}",
        env!("CARGO_PKG_VERSION"),
        server.local_addr()
    );
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        data_dir = %config.data.dir.display(),
        layers = config.layers.len(),
        "starting"
    );
    match server.run(config, published) {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(error = %error_chain(&error), "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Runs `tuilerie demo`: publishes the bundled sample data when nothing is published yet,
/// then serves.
pub(crate) fn demo(args: ServeArgs) -> ExitCode {
    let (config, _logging) = match load_config(args.config.as_deref(), args.listen, args.data) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    match crate::publish::demo(&config) {
        ExitCode::SUCCESS => run_server(config),
        failure => failure,
    }
}
