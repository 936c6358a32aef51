//! `tuilerie style check FILE.sld [--layer NAME] [--attributes a,b,c] [--json]`: validates a
//! style the way publishing it does, so producers fix it before uploading. Every problem is
//! printed as `file:line:column: message` with a hint; with `--layer` and `--attributes` the
//! style must name that layer and use only those attributes. Exit status: 0 valid (warnings
//! allowed), 1 invalid or unreadable.

use std::path::PathBuf;
use std::process::ExitCode;

use sld::{Problem, Severity};

/// `tuilerie style …`.
#[derive(clap::Subcommand, Debug)]
pub enum StyleCommand {
    /// Print every problem of an SLD style; exit 1 if there is any error.
    Check(StyleCheckArgs),
}

/// Arguments of `tuilerie style check`.
#[derive(clap::Args, Debug)]
pub struct StyleCheckArgs {
    /// The SLD file (SLD 1.0.0 or SLD 1.1.0 / SE 1.1).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The layer the style is for: its NamedLayer must have this name.
    #[arg(long, value_name = "NAME")]
    pub layer: Option<String>,
    /// The layer's attributes, comma-separated: every PropertyName must be one of them.
    #[arg(long, value_name = "A,B,C", value_delimiter = ',')]
    pub attributes: Option<Vec<String>>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `tuilerie style` command and returns the exit status.
pub fn run(command: &StyleCommand) -> ExitCode {
    match command {
        StyleCommand::Check(args) => style_check(args),
    }
}

/// Runs `tuilerie style check` and returns the exit status.
pub fn style_check(args: &StyleCheckArgs) -> ExitCode {
    let name = args.file.display().to_string();
    let problems = match std::fs::read(&args.file) {
        Ok(bytes) => check_bytes(&bytes, args),
        Err(error) => vec![Problem {
            line: 0,
            column: 0,
            severity: Severity::Error,
            message: format!("cannot read the file: {error}"),
            hint: Some("check the path and the permissions".to_owned()),
        }],
    };
    let valid = !problems.iter().any(Problem::is_error);
    if args.json {
        let problems: Vec<serde_json::Value> = problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "line": p.line,
                    "column": p.column,
                    "severity": match p.severity {
                        Severity::Warning => "warning",
                        _ => "error",
                    },
                    "message": p.message,
                    "hint": p.hint,
                })
            })
            .collect();
        let document = serde_json::json!({
            "file": name,
            "valid": valid,
            "problems": problems,
        });
        println!("{document:#}");
    } else {
        for problem in &problems {
            if problem.line > 0 {
                eprintln!("{name}:{problem}");
            } else {
                // Problem's Display starts with "0:0: " when it has no position.
                let text = problem.to_string();
                eprintln!("{name}: {}", text.strip_prefix("0:0: ").unwrap_or(&text));
            }
        }
        let errors = problems.iter().filter(|p| p.is_error()).count();
        let warnings = problems.len() - errors;
        if valid {
            if warnings == 0 {
                println!("{name}: valid");
            } else {
                println!(
                    "{name}: valid ({warnings} warning{})",
                    if warnings == 1 { "" } else { "s" }
                );
            }
        } else {
            eprintln!(
                "{} problem{} found",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
        }
    }
    if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_bytes(bytes: &[u8], args: &StyleCheckArgs) -> Vec<Problem> {
    let attributes: Option<Vec<&str>> = args.attributes.as_ref().map(|list| {
        list.iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty())
            .collect()
    });
    // Decode first so that a non-UTF-8 file is reported like any other problem.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => sld::check(text, args.layer.as_deref(), attributes.as_deref()),
        Err(_) => sld::parse_bytes(bytes)
            .err()
            .map(|error| vec![error.to_problem()])
            .unwrap_or_default(),
    }
}
