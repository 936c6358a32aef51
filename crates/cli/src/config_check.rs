//! `tuilerie config check FILE [--json]`: every problem of a configuration file, each with its
//! line, column and hint; exit 1 if there is any.

use std::path::Path;
use std::process::ExitCode;

use server::{error_chain, Config, ConfigError};

use crate::setup::report_config_error;

/// Runs `tuilerie config check`.
pub(crate) fn run(file: &Path, json: bool) -> ExitCode {
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
