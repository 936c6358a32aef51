//! What every command that reads a configuration does first: load it (file or embedded
//! defaults, then environment, then flags), report its problems, start logging.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use server::{error_chain, Config, ConfigError, LogFormat, Overrides};
use tracing_subscriber::EnvFilter;

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

pub(crate) fn report_config_error(error: &ConfigError) -> ExitCode {
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
