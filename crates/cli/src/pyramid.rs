//! `tuilerie pyramid build`: cut georeferenced rasters into a ROK4-compatible pyramid, or
//! render a configured vector layer into one (the precomputed tiles a WMS layer lacks).
//!
//! ```text
//! tuilerie pyramid build --input A.tif [--input B.tif …] --tms PM --bottom 14 --top 0 \
//!     --format TIFF_JPG_UINT8 [--interpolation bicubic] [--nodata 255,255,255] --out DIR
//! tuilerie pyramid build --config tuilerie.toml --layer countries --tms PM --bottom 8 --top 0 \
//!     --format TIFF_PNG_UINT8 [--buffer 64] --out DIR
//! tuilerie pyramid build --config tuilerie.toml --layer parcels --tms PM --bottom 16 --top 0 \
//!     --format TIFF_PBF_MVT --out DIR
//! ```
//! `TIFF_PBF_MVT` cuts the layer into Mapbox Vector Tiles (a ROK4 vector pyramid) with the
//! `[vector_tiles]` settings: every table, every attribute, on every level.
//! A rendered layer is drawn level by level with its SLD (each level at its own scale, so
//! rules by scale and label sizes are right at every level), each tile drawn with a margin of
//! `--buffer` pixels that is then cut away: labels and symbols crossing a tile edge are drawn
//! in both tiles and meet.
//! Progress shows on stderr; an interrupted build restarted with the same arguments skips the
//! slabs already written. Exit status: 0 built, 1 failed, 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use pyramid::{BuildOptions, GeoTiff, Interpolation, TileFormat, TileMatrixSet, TileMatrixSets};
use server::{BakeError, BakeOptions, MAX_BUFFER};

use server::error_chain;

/// `tuilerie pyramid …`
#[derive(clap::Subcommand, Debug)]
pub(crate) enum PyramidCommand {
    /// Build a pyramid from GeoTIFF files.
    Build(BuildArgs),
}

/// Arguments of `tuilerie pyramid build`.
#[derive(clap::Args, Debug)]
pub(crate) struct BuildArgs {
    /// Input GeoTIFF (repeat for a mosaic; the first input with a value wins where they overlap).
    #[arg(long = "input", short = 'i', value_name = "FILE", num_args = 1.., required_unless_present = "layer", conflicts_with = "layer")]
    pub inputs: Vec<PathBuf>,
    /// A vector layer of the configuration to render into the pyramid (instead of --input).
    #[arg(long, value_name = "NAME", requires = "config")]
    pub layer: Option<String>,
    /// The configuration file that declares --layer.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With --layer: pixels drawn around each tile and cut away, so labels are not cut.
    #[arg(long, value_name = "PX", default_value_t = 64)]
    pub buffer: u32,
    /// Tile matrix set id (PM, WebMercatorQuad, WorldCRS84Quad, WGS84G, LAMB93, LAMB93_10cm…).
    #[arg(long, value_name = "ID")]
    pub tms: String,
    /// Finest level (tile matrix id).
    #[arg(long, value_name = "LEVEL")]
    pub bottom: String,
    /// Coarsest level (tile matrix id).
    #[arg(long, value_name = "LEVEL")]
    pub top: String,
    /// Tile format: TIFF_JPG_UINT8, TIFF_JPG90_UINT8, TIFF_PNG_UINT8, TIFF_ZIP_UINT8,
    /// TIFF_RAW_UINT8, TIFF_ZIP_FLOAT32 or TIFF_RAW_FLOAT32.
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// Resampling of the bottom level: nearest (exact values), bilinear, bicubic or lanczos.
    #[arg(long, value_name = "KIND", default_value = "bicubic")]
    pub interpolation: String,
    /// No-data value, one per band or one for all (default: the input's, else 255 / -99999).
    #[arg(long, value_name = "V[,V…]")]
    pub nodata: Option<String>,
    /// CRS of inputs whose GeoKeys name none (e.g. EPSG:2154).
    #[arg(long, value_name = "CRS")]
    pub srs: Option<String>,
    /// Tiles per slab, across and down.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub slab_size: u32,
    /// A folder of extra tile matrix set files.
    #[arg(long, value_name = "DIR")]
    pub tile_matrix_sets: Option<PathBuf>,
    /// Output folder (pyramid.json, pyramid.list, pyramid/DATA/…), or s3://bucket/key in
    /// object storage (pyramid.json, pyramid.list, pyramid/DATA_{level}_{col}_{row}, as ROK4
    /// lays them out; endpoint from --config's [object_storage] or ROK4_S3_URL, ROK4_S3_KEY,
    /// ROK4_S3_SECRETKEY).
    #[arg(long, value_name = "DIR|s3://BUCKET/KEY")]
    pub out: String,
}

/// Runs `tuilerie pyramid …`.
pub(crate) fn run(command: &PyramidCommand) -> ExitCode {
    match command {
        PyramidCommand::Build(args) => build(args),
    }
}

pub(crate) fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn build(args: &BuildArgs) -> ExitCode {
    let format: TileFormat = match args.format.parse() {
        Ok(f) => f,
        Err(e) => return usage(&format!("--format: {e}")),
    };
    let interpolation: Interpolation = match args.interpolation.parse() {
        Ok(i) => i,
        Err(e) => return usage(&format!("--interpolation: {e}")),
    };
    let nodata = match &args.nodata {
        None => None,
        Some(text) => match text
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(values) => Some(values),
            Err(_) => {
                return usage(&format!(
                    "--nodata '{text}': give numbers separated by commas, e.g. 255,255,255"
                ))
            }
        },
    };
    let srs = match args.srs.as_deref().map(crs::Crs::parse).transpose() {
        Ok(s) => s,
        Err(e) => return usage(&format!("--srs: {e}")),
    };
    if args.slab_size == 0 || args.slab_size > 64 {
        return usage("--slab-size: use 1 to 64 tiles");
    }
    let out = match pyramid::Location::parse(&args.out) {
        Ok(out) => out,
        Err(e) => return usage(&format!("--out: {e}")),
    };
    let storage = match object_storage(args.config.as_deref()) {
        Ok(storage) => std::sync::Arc::new(storage),
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut sets = TileMatrixSets::builtin();
    if let Some(dir) = &args.tile_matrix_sets {
        if let Err(e) = sets.extend_from_dir(dir) {
            eprintln!("error: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    }
    let Some(tms) = sets.get(&args.tms).cloned() else {
        let known: Vec<&str> = sets.iter().map(pyramid::TileMatrixSet::id).collect();
        return usage(&format!(
            "--tms '{}' is unknown: use one of {}",
            args.tms,
            known.join(", ")
        ));
    };
    if let Some(layer) = &args.layer {
        return bake(args, layer, format, &tms, (&out, &storage));
    }
    if format.is_vector() {
        return usage(
            "--format TIFF_PBF_MVT cuts a vector layer into vector tiles: use --layer NAME --config FILE, not --input",
        );
    }
    let mut inputs = Vec::with_capacity(args.inputs.len());
    // Inputs GDAL reads but the GeoTIFF reader does not are copied here (feature `gdal`).
    let scratch = match &out {
        pyramid::Location::File(dir) => dir.join(".gdal-inputs"),
        pyramid::Location::Object(_) => {
            std::env::temp_dir().join(format!("tuilerie-gdal-inputs-{}", std::process::id()))
        }
    };
    for path in &args.inputs {
        match GeoTiff::open_any(path, srs.as_ref(), &scratch) {
            Ok(input) => inputs.push(input),
            Err(e) => {
                eprintln!("error: {}", error_chain(&e));
                return ExitCode::FAILURE;
            }
        }
    }
    let options = BuildOptions {
        tms,
        bottom: args.bottom.clone(),
        top: args.top.clone(),
        format,
        interpolation,
        nodata,
        slab_size: (args.slab_size, args.slab_size),
    };
    let bar = crate::progress::slabs();
    let started = Instant::now();
    let result = pyramid::build_at(&inputs, &out, &storage, &options, &progress(&bar));
    bar.finish_and_clear();
    drop(inputs);
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(report) => built(
            &report.descriptor,
            (
                report.tiles_written,
                report.slabs_written,
                report.slabs_skipped,
            ),
            started,
        ),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// `--layer NAME`: a vector layer of the configuration rendered into the pyramid.
fn bake(
    args: &BuildArgs,
    layer: &str,
    format: TileFormat,
    tms: &TileMatrixSet,
    (out, storage): (&pyramid::Location, &std::sync::Arc<pyramid::ObjectStorage>),
) -> ExitCode {
    let Some(config_path) = &args.config else {
        return usage("--layer needs --config FILE: the configuration that declares the layer");
    };
    let config = match server::Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = BakeOptions {
        layer,
        tms,
        top: &args.top,
        bottom: &args.bottom,
        format,
        slab_size: args.slab_size,
        buffer: args.buffer,
        out,
        storage,
        composition: None,
    };
    let bar = crate::progress::slabs();
    let started = Instant::now();
    let result = server::bake(&config, &options, &progress(&bar));
    bar.finish_and_clear();
    match result {
        Ok(report) => built(
            &report.descriptor,
            (report.tiles, report.slabs_written, report.slabs_kept),
            started,
        ),
        Err(BakeError::NotColours { format }) => usage(&format!(
            "--format {format}: a rendered layer is colours; use TIFF_PNG_UINT8 (transparent), TIFF_JPG_UINT8, or TIFF_PBF_MVT for vector tiles"
        )),
        Err(BakeError::Buffer(_)) => usage(&format!("--buffer: use 0 to {MAX_BUFFER} pixels")),
        Err(BakeError::UnknownLayer { layer, known }) => usage(&format!(
            "--layer '{layer}' is not in {} (its layers: {})",
            config_path.display(),
            known.join(", ")
        )),
        Err(BakeError::NotVector(layer)) => usage(&format!(
            "--layer '{layer}' is a pyramid already; --layer renders vector layers"
        )),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Object storage from `--config`'s `[object_storage]` and ROK4's variables (the variables
/// alone without `--config`).
fn object_storage(config: Option<&std::path::Path>) -> Result<pyramid::ObjectStorage, String> {
    let settings = match config {
        Some(path) => {
            server::Config::load(path)
                .map_err(|e| e.to_string())?
                .object_storage
        }
        None => server::ObjectStorageConfig::default(),
    };
    settings.storage().map_err(|e| error_chain(&e))
}

/// The progress callback of a build, moving `bar`.
fn progress(bar: &indicatif::ProgressBar) -> impl Fn(u64, u64) + Sync + '_ {
    move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// Reports a finished build: (tiles written, slabs written, slabs kept).
fn built(
    descriptor: &std::path::Path,
    (tiles, written, kept): (u64, u64, u64),
    started: Instant,
) -> ExitCode {
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "built {}: {tiles} tiles in {written} slabs written, {kept} slabs kept from an earlier run, in {seconds:.1} s ({:.0} tiles/s)",
        descriptor.display(),
        tiles as f64 / seconds.max(1e-9)
    );
    ExitCode::SUCCESS
}
