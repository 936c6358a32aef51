//! `tuilerie ingest FILE.gpkg|FILE.zip [--srs EPSG:n] [--data DIR] [--id ID] [--json]`: checks a
//! producer's GeoPackage and integrates it as `{data}/stored/{id}/`, the way the platform's
//! upload does, from a terminal or a script. Exit status: 0 integrated, 1 refused or failed,
//! 2 usage error (an unknown `--srs`).

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::ProgressDrawTarget;
use vectorstore::{IngestOptions, Report};

use server::error_chain;

/// Arguments of `tuilerie ingest`.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// The GeoPackage, the Shapefile (`.shp`, its `.dbf`/`.shx`/`.prj`/`.cpg` beside it), the CSV
    /// (its `.csvt`/`.prj` beside it), or a zip of them.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The SRS the data is declared in (e.g. EPSG:2154): every layer must be in it, and it is
    /// used for layers whose SRS the file does not say.
    #[arg(long, value_name = "CRS")]
    pub srs: Option<String>,
    /// Data directory; the result goes to DIR/stored/ID/.
    #[arg(
        long,
        value_name = "DIR",
        env = "TUILERIE_DATA_DIR",
        default_value = "./data"
    )]
    pub data: PathBuf,
    /// Stored data id (default: the file name without extension, normalised).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tuilerie ingest` and returns the exit status.
pub fn ingest(args: &IngestArgs) -> ExitCode {
    let declared_srs = match args.srs.as_deref().map(crs::Crs::parse).transpose() {
        Ok(crs) => crs,
        Err(error) => {
            eprintln!("error: --srs: {error}");
            return ExitCode::from(2);
        }
    };
    let id = args.id.clone().unwrap_or_else(|| {
        let stem = args
            .file
            .file_stem()
            .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned());
        vectorstore::normalize_name(&stem)
    });
    let options = IngestOptions {
        declared_srs,
        ..IngestOptions::default()
    };
    let bar = crate::progress::bar("{msg} (features)");
    if args.json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_message(format!("ingesting {}", args.file.display()));
    let result = vectorstore::ingest(&args.file, &args.data, &id, &options, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if args.json {
                println!("{:#}", json_report(&report));
            } else {
                print_report(&report);
            }
            if report.stored.is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            if args.json {
                let document = serde_json::json!({
                    "status": "failed",
                    "error": error_chain(&error),
                    "findings": [],
                    "layers": [],
                });
                println!("{document:#}");
            } else {
                eprintln!("error: {}", error_chain(&error));
            }
            ExitCode::FAILURE
        }
    }
}

/// The `--json` document.
fn json_report(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "status": if report.stored.is_some() { "integrated" } else { "refused" },
        "stored": report.stored.as_ref().map(|p| p.display().to_string()),
        "findings": report.findings.iter().map(|f| serde_json::json!({
            "level": f.level,
            "layer": f.layer,
            "feature": f.feature,
            "message": f.message,
        })).collect::<Vec<_>>(),
        "layers": report.layers.iter().map(|l| serde_json::json!({
            "name": l.name,
            "source_name": l.source_name,
            "srs": l.srs,
            "geometry_type": l.geometry_type,
            "features": l.features,
            "bbox": l.bbox,
            "bbox_wgs84": l.bbox_wgs84,
            "attributes": l.attributes.iter().map(|a| serde_json::json!({
                "name": a.name,
                "source_name": a.source_name,
                "type": a.ty,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn print_report(report: &Report) {
    for finding in &report.findings {
        println!("{finding}");
    }
    for layer in &report.layers {
        println!(
            "layer {} ({}): {} {} features in {}, attributes: {}",
            layer.name,
            layer.source_name,
            layer.features,
            layer.geometry_type,
            layer.srs,
            layer
                .attributes
                .iter()
                .map(|a| format!("{} {}", a.name, a.ty.sql()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match &report.stored {
        Some(dir) => println!("integrated into {}", dir.display()),
        None => println!("refused: {} errors", report.errors().count()),
    }
}
