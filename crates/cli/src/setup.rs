//! What every command that reads a configuration does first: load it (file or embedded
//! defaults, then environment, then flags), report its problems, start logging.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use server::{error_chain, Config, ConfigError, LogFormat, Overrides};
use tracing_subscriber::EnvFilter;

/// Keeps the log writer's thread: log lines still waiting are written when this is dropped,
/// so a command holds it until it returns.
#[must_use = "dropping it stops logging"]
pub(crate) struct Logging {
    _writer: Option<crate::log_writer::LogFlusher>,
}

/// The configuration of a command: the file (or the embedded defaults), then environment
/// overrides, then flags; logging is started.
pub(crate) fn load_config(
    file: Option<&Path>,
    listen: Option<String>,
    data: Option<PathBuf>,
) -> Result<(Config, Logging), ExitCode> {
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
    let logging = init_logging(&config);
    Ok((config, logging))
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

/// Log lines are formatted on the thread that logs them and written by a thread of their own,
/// in batches every 100 ms (`log_writer`): a request's log line costs neither a write system
/// call nor a thread wake-up on the thread that answers it.
fn init_logging(config: &Config) -> Logging {
    // TUILERIE_LOG (already in config.log.level) wins; else RUST_LOG; else the file's level.
    let filter = if std::env::var_os("TUILERIE_LOG").is_none() {
        EnvFilter::try_from_default_env().ok()
    } else {
        None
    }
    .or_else(|| EnvFilter::try_new(&config.log.level).ok())
    .unwrap_or_else(|| EnvFilter::new("info"));
    let Some((writer, flusher)) = crate::log_writer::batch_writer(std::io::stderr()) else {
        eprintln!("warning: logging not initialised: cannot start the log writer thread");
        return Logging { _writer: None };
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_timer(crate::log_writer::LogTime)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.event_format(crate::log_writer::LogLine).try_init(),
    };
    if let Err(error) = result {
        eprintln!("warning: logging not initialised: {error}");
        return Logging { _writer: None };
    }
    Logging {
        _writer: Some(flusher),
    }
}
