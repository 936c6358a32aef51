//! The `tuilerie` command line (clap): parse arguments, load the configuration, call the
//! libraries. Exit status: 0 success, 1 failure (invalid config, server error), 2 usage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::cli_ingest::IngestArgs;
use crate::config::{Config, ConfigError, LogFormat, Overrides};

/// Tuilerie: a self-hosted WMS / WMTS / TMS map server.
#[derive(Debug, Parser)]
#[command(name = "tuilerie", version, about, long_about = None)]
pub struct Cli {
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
    /// Check a GeoPackage (or a zip of them) and integrate it into the data directory.
    Ingest(IngestArgs),
    /// Build pyramids.
    #[command(subcommand)]
    Pyramid(crate::cli_pyramid::PyramidCommand),
    /// Work with SLD styles.
    #[command(subcommand)]
    Style(crate::cli_style::StyleCommand),
    /// Publish data through the catalog of the data directory (upload, checks, processing,
    /// style, configuration, offering), as the API does.
    #[command(subcommand)]
    Publish(crate::cli_publish::PublishCommand),
    /// Publish the bundled sample data (a vector WMS layer, raster WMTS/TMS/WMS layers) on an
    /// empty data directory, then serve.
    Demo(ServeArgs),
}

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
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Config(ConfigCommand::Check { file, json }) => config_check(&file, json),
        Command::Ingest(args) => crate::cli_ingest::ingest(&args),
        Command::Pyramid(command) => crate::cli_pyramid::run(&command),
        Command::Style(command) => crate::cli_style::run(&command),
        Command::Publish(command) => crate::cli_publish::run(&command),
        Command::Demo(args) => crate::cli_publish::demo(args),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    match load_config(args.config.as_deref(), args.listen, args.data) {
        Ok(config) => run_server(config),
        Err(code) => code,
    }
}

/// The configuration of a command: the file (or the embedded defaults), then environment
/// overrides, then flags; logging is started.
pub(crate) fn load_config(
    file: Option<&Path>,
    listen: Option<String>,
    data: Option<PathBuf>,
) -> Result<Config, ExitCode> {
    let mut config = match file {
        Some(path) => match Config::load(path) {
            Ok(config) => config,
            Err(error) => return Err(report_config_error(&error)),
        },
        None => Config::default(),
    };
    let flags = Overrides {
        listen,
        data_dir: data,
        ..Overrides::default()
    };
    if let Err(error) = config.apply(&Overrides::from_env().then(flags)) {
        return Err(report_config_error(&error));
    }
    init_logging(&config);
    Ok(config)
}

/// Runs the server until it is stopped.
pub(crate) fn run_server(config: Config) -> ExitCode {
    let published = match crate::publish::open(&config) {
        Ok(published) => published,
        Err(error) => {
            tracing::error!(error = %error, "cannot publish the layers");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let server = match crate::serve::Server::bind(&config) {
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

fn config_check(file: &Path, json: bool) -> ExitCode {
    let result = Config::load(file);
    if json {
        let document = match &result {
            Ok(config) => serde_json::json!({
                "file": file.display().to_string(),
                "valid": true,
                "layers": config.layers.len(),
                "problems": [],
            }),
            Err(ConfigError::Invalid(problems)) => serde_json::json!({
                "file": file.display().to_string(),
                "valid": false,
                "problems": problems.problems,
            }),
            Err(error) => serde_json::json!({
                "file": file.display().to_string(),
                "valid": false,
                "problems": [{"line": 0, "column": 0, "key": "", "message": error_chain(error), "hint": null}],
            }),
        };
        println!("{document:#}");
        return if result.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    match result {
        Ok(config) => {
            println!(
                "{}: valid ({} layer{})",
                file.display(),
                config.layers.len(),
                if config.layers.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(error) => report_config_error(&error),
    }
}

fn report_config_error(error: &ConfigError) -> ExitCode {
    match error {
        ConfigError::Invalid(problems) => {
            eprintln!("{problems}");
            eprintln!(
                "{} problem{} found",
                problems.problems.len(),
                if problems.problems.len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
        other => eprintln!("error: {}", error_chain(other)),
    }
    ExitCode::FAILURE
}

/// An error and its causes, joined by ": ".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn init_logging(config: &Config) {
    // TUILERIE_LOG (already in config.log.level) wins; else RUST_LOG; else the file's level.
    let filter = if std::env::var_os("TUILERIE_LOG").is_none() {
        EnvFilter::try_from_default_env().ok()
    } else {
        None
    }
    .or_else(|| EnvFilter::try_new(&config.log.level).ok())
    .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(error) = result {
        eprintln!("warning: logging not initialised: {error}");
    }
}
