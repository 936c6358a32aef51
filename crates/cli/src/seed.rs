//! `tuilerie seed`: render a vector layer's tiles into its tile cache ahead of time, so that
//! the server answers them at once.
//!
//! ```text
//! tuilerie seed --config tuilerie.toml --layer communes --levels 0-14 [--style S] [--tms PM] \
//!     [--bbox 2.2,48.8,2.5,48.9 | --within-data] [--format png|png8|jpeg|webp] [--threads N] [--refresh]
//! ```
//! The tiles are the server's own (same metatiles, same folder, named by the layer's content),
//! so the configuration and data directory must be the server's. Progress shows on stderr; an
//! interrupted seed restarted with the same arguments skips the metatiles already stored
//! (`--refresh` draws them again). Exit status: 0 seeded, 1 failed (unknown layer, style, set
//! or levels included), 2 usage error.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use server::{error_chain, CacheFormat, SeedOptions};

/// Arguments of `tuilerie seed`.
#[derive(clap::Args, Debug)]
pub(crate) struct SeedArgs {
    /// The configuration file that declares the layer (the server's).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The data directory (default: the configuration's), as `serve --data`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The vector layer.
    #[arg(long, value_name = "NAME")]
    pub layer: String,
    /// Its style (default: its default style).
    #[arg(long, value_name = "NAME")]
    pub style: Option<String>,
    /// The tile matrix set: PM (Web Mercator), or the PM_{min}_{max} id of the capabilities.
    #[arg(long, value_name = "ID", default_value = "PM")]
    pub tms: String,
    /// Zoom levels: `N` or `FIRST-LAST`.
    #[arg(long, value_name = "LEVELS")]
    pub levels: String,
    /// Only the tiles meeting this extent: min lon, min lat, max lon, max lat (CRS:84).
    #[arg(long, value_name = "W,S,E,N", conflicts_with = "within_data")]
    pub bbox: Option<String>,
    /// Every tile meeting the data's extent (the default).
    #[arg(long)]
    pub within_data: bool,
    /// Image format: png, png8, jpeg or webp.
    #[arg(long, value_name = "FORMAT", default_value = "png")]
    pub format: String,
    /// Threads drawing (default: one per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Draw metatiles already stored again.
    #[arg(long)]
    pub refresh: bool,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `N` or `FIRST-LAST`.
fn parse_levels(text: &str) -> Option<RangeInclusive<u32>> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    (first <= last).then_some(first..=last)
}

/// `W,S,E,N` in degrees.
fn parse_bbox(text: &str) -> Option<crs::Bbox> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<_>>()?;
    let [w, s, e, n] = values[..] else {
        return None;
    };
    let inside = (-180.0..=180.0).contains(&w)
        && (-180.0..=180.0).contains(&e)
        && (-90.0..=90.0).contains(&s)
        && (-90.0..=90.0).contains(&n);
    if !inside || w >= e || s >= n {
        return None;
    }
    crs::Bbox::new(w, s, e, n).ok()
}

/// Runs `tuilerie seed`.
pub(crate) fn run(args: &SeedArgs) -> ExitCode {
    let Some(levels) = parse_levels(&args.levels) else {
        return usage(&format!(
            "--levels {}: give a level (12) or a range, coarsest first (0-14)",
            args.levels
        ));
    };
    let bbox = match &args.bbox {
        None => None,
        Some(text) => match parse_bbox(text) {
            Some(bbox) => Some(bbox),
            None => {
                return usage(&format!(
                    "--bbox {text}: give west,south,east,north in degrees (CRS:84), west < east and south < north"
                ))
            }
        },
    };
    let Some(format) = CacheFormat::from_extension(&args.format) else {
        return usage(&format!(
            "--format {}: use png, png8, jpeg or webp",
            args.format
        ));
    };
    let (config, _logging) =
        match crate::setup::load_config(Some(&args.config), None, args.data.clone()) {
            Ok(loaded) => loaded,
            Err(code) => return code,
        };
    let options = SeedOptions {
        layer: &args.layer,
        style: args.style.as_deref(),
        tms: &args.tms,
        levels,
        bbox,
        format,
        threads: args.threads,
        refresh: args.refresh,
    };
    let bar = crate::progress::bar("metatiles");
    let started = Instant::now();
    let result = server::seed(&config, &options, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "seeded {}: {} metatiles drawn ({} tiles), {} kept from an earlier run, in {seconds:.1} s ({:.0} tiles/s)",
                report.dir.display(),
                report.rendered,
                report.tiles,
                report.kept,
                report.tiles as f64 / seconds.max(1e-9)
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_extents_are_read_or_refused() {
        assert_eq!(parse_levels("12"), Some(12..=12));
        assert_eq!(parse_levels("0-14"), Some(0..=14));
        assert_eq!(parse_levels("14-0"), None);
        assert_eq!(parse_levels("a-3"), None);
        assert!(parse_bbox("2.2,48.8,2.5,48.9").is_some());
        assert!(parse_bbox("2.5,48.8,2.2,48.9").is_none());
        assert!(parse_bbox("2.2,48.8,2.5").is_none());
        assert!(parse_bbox("2.2,48.8,2.5,inf").is_none());
        assert!(parse_bbox("-200,0,10,10").is_none());
    }
}
