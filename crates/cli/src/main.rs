//! The `tuilerie` binary: parse arguments (clap), call the libraries, show progress
//! (indicatif). Everything a command does lives in the libraries — the server in
//! `tuilerie-server`, the data in `catalog`, `vectorstore`, `pyramid`, `sld` — so that this crate
//! stays thin. Exit status: 0 success, 1 failure (invalid config, server error), 2 usage error.
#![forbid(unsafe_code)]

mod config_check;
mod health;
mod ingest;
mod log_writer;
mod progress;
mod publish;
mod pyramid;
mod seed;
mod serve;
mod setup;
mod style;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::ingest::IngestArgs;
use crate::serve::ServeArgs;

/// Tuilerie: a self-hosted WMS / WMTS / TMS map server.
#[derive(Debug, Parser)]
#[command(name = "tuilerie", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (embedded defaults without --config).
    Serve(ServeArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check a GeoPackage, a Shapefile or a CSV (or a zip of them) and integrate it into the data directory.
    Ingest(IngestArgs),
    /// Build pyramids.
    #[command(subcommand)]
    Pyramid(crate::pyramid::PyramidCommand),
    /// Render a vector layer's tiles into its tile cache ahead of time (resumable).
    Seed(crate::seed::SeedArgs),
    /// Work with SLD styles.
    #[command(subcommand)]
    Style(crate::style::StyleCommand),
    /// Publish data through the catalog of the data directory (upload, checks, processing,
    /// style, configuration, offering), as the API does.
    #[command(subcommand)]
    Publish(crate::publish::PublishCommand),
    /// Publish the bundled sample data (a vector WMS layer, raster WMTS/TMS/WMS layers) on an
    /// empty data directory, then serve.
    Demo(ServeArgs),
    /// Manage the users of the publication API (who log in at POST /api/auth/token).
    #[command(subcommand)]
    User(crate::user::UserCommand),
    /// Ask a running server's /health; exit 0 when it answers ok, 1 otherwise (for container
    /// health checks).
    Health(crate::health::HealthArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every problem of a configuration file; exit 1 if there is any.
    Check {
        /// The file to check.
        file: PathBuf,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command line and returns the process exit status.
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Config(ConfigCommand::Check { file, json }) => config_check::run(&file, json),
        Command::Ingest(args) => ingest::ingest(&args),
        Command::Pyramid(command) => pyramid::run(&command),
        Command::Seed(args) => seed::run(&args),
        Command::Style(command) => style::run(&command),
        Command::Publish(command) => publish::run(&command),
        Command::Demo(args) => serve::demo(args),
        Command::Health(args) => health::run(&args),
        Command::User(command) => user::run(&command),
    }
}
