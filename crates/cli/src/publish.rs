//! `tuilerie publish vector|raster` and `tuilerie demo`: the publication workflow from the
//! command line, through the same catalog operations as the API (upload, checks, processing,
//! static, configuration, offering), with progress bars.
//!
//! ```text
//! tuilerie publish vector FILE.gpkg --style FILE.sld [--tables a,b] --layer-name NAME [--restricted]
//! tuilerie publish raster A.tif [B.tif…] --tms PM --levels 0-14 --layer-name NAME [--wms]
//! tuilerie demo                       publish the bundled sample data (once), then serve
//! ```
//! The catalog is the data directory's (`--data`, `data.dir`); a server running on the same
//! data directory publishes the change within two seconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use catalog::{
    Catalog, ConfigurationBody, ConfigurationType, NewExecution, NewOffering, NewUpload, TypeInfos,
    UploadStatus, UploadType, UsedData,
};
use serde_json::{json, Map, Value as Json};

use server::{error_chain, Config};

/// Why a publication stopped. Each message is one line for the producer (the checks' and the
/// processing's logs follow on their own lines); causes are part of it, not sources.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    /// The catalog refused a step, or failed.
    #[error("{}", error_chain(.0))]
    Catalog(catalog::CatalogError),
    /// The data directory's catalog cannot be opened.
    #[error("{}", error_chain(.0))]
    Open(server::PublishError),
    /// A file cannot be read, written or created.
    #[error("cannot {action} {}: {cause}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The upload's checks failed: their logs.
    #[error("the upload was refused:\n{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// The processing failed: its logs.
    #[error("the processing failed:\n  {}", .0.join("\n  "))]
    Failed(Vec<String>),
    /// A style file is refused.
    #[error("{}: {}", path.display(), error_chain(cause))]
    Style {
        path: PathBuf,
        cause: catalog::CatalogError,
    },
    /// A vector file cannot be read.
    #[error("{}", error_chain(.0))]
    Vector(vectorstore::VectorError),
    /// A raster file cannot be read.
    #[error("{}", error_chain(.0))]
    Raster(pyramid::PyramidError),
    /// A vector file has no layer to take the SRS from.
    #[error("{} holds no readable layer: give --srs or check it with `tuilerie ingest`", .0.display())]
    NoLayer(PathBuf),
    /// `--levels` is not TOP-BOTTOM.
    #[error("--levels '{0}': write TOP-BOTTOM, e.g. 0-14")]
    Levels(String),
    /// No input file was given.
    #[error("no input file")]
    NoInput,
    /// The processing request could not be formed.
    #[error("{0}")]
    Request(serde_json::Error),
}

type Outcome<T> = Result<T, PublishError>;

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.to_owned();
    move |cause| PublishError::File {
        action,
        path,
        cause,
    }
}

/// `tuilerie publish …`
#[derive(clap::Subcommand, Debug)]
pub enum PublishCommand {
    /// Publish a GeoPackage, a Shapefile or a CSV (or a zip of them) as a WMS layer styled by an SLD.
    Vector(VectorArgs),
    /// Publish GeoTIFFs as a pyramid served by WMTS and TMS (and WMS with --wms).
    Raster(RasterArgs),
}

/// Where the catalog is.
#[derive(clap::Args, Debug)]
pub struct CatalogArgs {
    /// Configuration file (its data.dir and tile matrix sets).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides data.dir).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// How a published layer is named, described and offered.
#[derive(clap::Args, Debug)]
pub struct LayerArgs {
    /// The layer name in the services.
    #[arg(long, value_name = "NAME")]
    pub layer_name: String,
    /// Title (default: the layer name).
    #[arg(long)]
    pub title: Option<String>,
    /// Abstract.
    #[arg(long = "abstract", default_value = "")]
    pub abstract_text: String,
    /// Restrict the layer to API keys; a key granted it is created and printed.
    #[arg(long)]
    pub restricted: bool,
}

/// Arguments of `tuilerie publish vector`.
#[derive(clap::Args, Debug)]
pub struct VectorArgs {
    /// The GeoPackage, the Shapefile (its `.dbf`, `.shx`, `.prj`, `.cpg` beside it are sent
    /// with it) or the zip.
    pub file: PathBuf,
    /// The SLD style (its NamedLayer names the table; one NamedLayer per table for several).
    #[arg(long, value_name = "FILE.sld")]
    pub style: PathBuf,
    /// Tables to draw, in drawing order (default: every table).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub tables: Vec<String>,
    #[command(flatten)]
    pub layer: LayerArgs,
    /// Declared SRS (default: the file's).
    #[arg(long, value_name = "CRS")]
    pub srs: Option<String>,
    /// Publish WMS only: no WFS handing out the features themselves.
    #[arg(long)]
    pub no_wfs: bool,
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

/// Arguments of `tuilerie publish raster`.
#[derive(clap::Args, Debug)]
pub struct RasterArgs {
    /// The GeoTIFFs (a mosaic when several).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Tile matrix set id (PM, WGS84G, LAMB93…).
    #[arg(long, value_name = "ID")]
    pub tms: String,
    /// Levels, top-bottom (coarsest to finest), e.g. 0-14.
    #[arg(long, value_name = "TOP-BOTTOM")]
    pub levels: String,
    #[command(flatten)]
    pub layer: LayerArgs,
    /// Tile compression: jpg, jpg90, png, zip or raw. Default: jpg for 8-bit images, zip for
    /// wider samples (elevations, 16-bit scans), whose values jpg and png would truncate.
    #[arg(long)]
    pub compression: Option<String>,
    /// ROK4 format instead of --compression (e.g. TIFF_ZIP_FLOAT32 for elevations).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Resampling: nearest, bilinear, bicubic or lanczos.
    #[arg(long, default_value = "bicubic")]
    pub interpolation: String,
    /// No-data per band, e.g. 255,255,255.
    #[arg(long, value_name = "V,V…")]
    pub nodata: Option<String>,
    /// Declared SRS (default: the files').
    #[arg(long, value_name = "CRS")]
    pub srs: Option<String>,
    /// Also publish the pyramid on WMS (a WMS-RASTER configuration of the same name).
    #[arg(long)]
    pub wms: bool,
    /// An SLD with a RasterSymbolizer for the WMS layer.
    #[arg(long, value_name = "FILE.sld", requires = "wms")]
    pub wms_style: Option<PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

/// Runs `tuilerie publish …`.
pub fn run(command: &PublishCommand) -> ExitCode {
    let catalog_args = match command {
        PublishCommand::Vector(args) => &args.catalog,
        PublishCommand::Raster(args) => &args.catalog,
    };
    let (config, _logging) = match crate::setup::load_config(
        catalog_args.config.as_deref(),
        None,
        catalog_args.data.clone(),
    ) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let catalog = match open_catalog(&config) {
        Ok(catalog) => catalog,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match command {
        PublishCommand::Vector(args) => publish_vector(&catalog, args),
        PublishCommand::Raster(args) => publish_raster(&catalog, args),
    };
    match outcome {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The data directory's catalog, with progress bars for its jobs.
fn open_catalog(config: &Config) -> Outcome<Arc<Catalog>> {
    let catalog = server::open_catalog(config).map_err(PublishError::Open)?;
    let bar = crate::progress::bar("{msg}");
    catalog.set_progress(Arc::new(move |what: &str, done, total| {
        if bar.message() != what {
            bar.reset();
            bar.set_message(what.to_owned());
        }
        bar.set_length(total);
        bar.set_position(done);
        if done >= total {
            bar.finish_and_clear();
        }
    }));
    Ok(catalog)
}

fn step(message: &str) {
    eprintln!("• {message}");
}

const DS: &str = catalog::DEFAULT_DATASTORE;

/// Uploads files, closes the upload and runs its checks; the upload id.
fn upload(
    catalog: &Catalog,
    kind: UploadType,
    srs: &str,
    name: &str,
    files: &[PathBuf],
) -> Outcome<String> {
    let created = catalog
        .create_upload(
            DS,
            NewUpload {
                name: name.to_owned(),
                description: format!("published with tuilerie publish ({})", files.len()),
                kind,
                srs: srs.to_owned(),
            },
        )
        .map_err(PublishError::Catalog)?;
    for file in files {
        let name = file
            .file_name()
            .map_or_else(|| "data".to_owned(), |n| n.to_string_lossy().into_owned());
        step(&format!("uploading {}", file.display()));
        let mut reader = std::fs::File::open(file).map_err(file_error("read", file))?;
        catalog
            .add_upload_file(DS, &created.id, &name, &mut reader)
            .map_err(PublishError::Catalog)?;
    }
    step("checking");
    catalog
        .close_upload(DS, &created.id)
        .map_err(PublishError::Catalog)?;
    catalog.run_jobs();
    let checked = catalog
        .upload(DS, &created.id)
        .map_err(PublishError::Catalog)?;
    if checked.status != UploadStatus::Closed {
        let checks = catalog
            .upload_checks(DS, &created.id)
            .map_err(PublishError::Catalog)?;
        let mut lines = Vec::new();
        for failed in checks.failed {
            lines.push(format!("{} failed:", failed.check.name));
            lines.extend(
                catalog
                    .check_logs(DS, &failed.id)
                    .map_err(PublishError::Catalog)?
                    .into_iter()
                    .map(|l| format!("  {l}")),
            );
        }
        return Err(PublishError::Refused(lines));
    }
    Ok(created.id)
}

/// Runs a processing on an upload; the stored data id.
fn process(
    catalog: &Catalog,
    processing: &str,
    upload: &str,
    name: &str,
    parameters: &Map<String, Json>,
) -> Outcome<String> {
    let new: NewExecution = serde_json::from_value(json!({
        "processing": processing,
        "inputs": {"upload": [upload]},
        "output": {"stored_data": {"name": name}},
        "parameters": parameters,
    }))
    .map_err(PublishError::Request)?;
    let execution = catalog
        .create_execution(DS, new)
        .map_err(PublishError::Catalog)?;
    step(&format!("running {}", execution.processing.name));
    catalog
        .launch_execution(DS, &execution.id)
        .map_err(PublishError::Catalog)?;
    catalog.run_jobs();
    let done = catalog
        .execution(DS, &execution.id)
        .map_err(PublishError::Catalog)?;
    if done.status != catalog::ExecutionStatus::Success {
        let logs = catalog
            .execution_logs(DS, &execution.id)
            .map_err(PublishError::Catalog)?;
        return Err(PublishError::Failed(logs));
    }
    Ok(done.output.stored_data.id)
}

fn style(catalog: &Catalog, path: &Path) -> Outcome<String> {
    let content = std::fs::read(path).map_err(file_error("read", path))?;
    let name = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    catalog
        .create_static(DS, &name, "GEOSERVER-STYLE", "", &content)
        .map(|s| s.id)
        .map_err(|cause| PublishError::Style {
            path: path.to_owned(),
            cause,
        })
}

/// Creates the configuration and its offering; lines to print.
/// Creates a configuration and its offering on `endpoint`: the line saying so, and the
/// offering's id.
fn configure_and_offer(
    catalog: &Catalog,
    body: ConfigurationBody,
    endpoint: &str,
    restricted: bool,
) -> Outcome<(String, String)> {
    let layer = body.layer_name.clone();
    let kind = body.kind;
    let configuration = catalog
        .create_configuration(DS, body)
        .map_err(PublishError::Catalog)?;
    for warning in &configuration.warnings {
        eprintln!("warning: {warning}");
    }
    let (offering, _) = catalog
        .create_offering(
            DS,
            &configuration.id,
            &NewOffering {
                endpoint: endpoint.to_owned(),
                open: !restricted,
            },
        )
        .map_err(PublishError::Catalog)?;
    let line = format!(
        "published '{layer}' ({}) as offering {}: {}",
        kind.as_str(),
        offering.id,
        offering
            .urls
            .iter()
            .map(|u| format!("{} {}", u.kind, u.url))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((line, offering.id))
}

/// The lines of published offerings, and for restricted ones the API key that grants them all.
fn granted(
    catalog: &Catalog,
    layer: &str,
    published: Vec<(String, String)>,
    restricted: bool,
) -> Outcome<Vec<String>> {
    let (mut lines, offerings): (Vec<String>, Vec<String>) = published.into_iter().unzip();
    if restricted {
        let permission = catalog
            .create_permission(
                DS,
                catalog::NewPermission {
                    licence: String::new(),
                    end_date: None,
                    offerings,
                },
            )
            .map_err(PublishError::Catalog)?;
        let (_, key) = catalog
            .create_key(catalog::NewKey {
                name: format!("{layer} (tuilerie publish)"),
                accesses: vec![catalog::KeyAccess {
                    permission: permission.id,
                    offerings: Vec::new(),
                }],
            })
            .map_err(PublishError::Catalog)?;
        lines.push(format!(
            "restricted: send this API key as ?apikey= or X-Api-Key: {key}"
        ));
    }
    Ok(lines)
}

fn publish_vector(catalog: &Catalog, args: &VectorArgs) -> Outcome<Vec<String>> {
    let srs = match &args.srs {
        Some(srs) => srs.clone(),
        None => detect_vector_srs(&args.file)?,
    };
    // A Shapefile or a CSV travels with its other parts, as the API's clients upload them.
    let mut files = vec![args.file.clone()];
    if args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp") || e.eq_ignore_ascii_case("csv"))
    {
        for part in [
            "shx", "dbf", "prj", "cpg", "csvt", "SHX", "DBF", "PRJ", "CPG", "CSVT",
        ] {
            let path = args.file.with_extension(part);
            if path.is_file() && !files.contains(&path) {
                files.push(path);
            }
        }
    }
    let upload = upload(
        catalog,
        UploadType::Vector,
        &srs,
        &args.layer.layer_name,
        &files,
    )?;
    let stored = process(
        catalog,
        catalog::INTEGRATION_PROCESSING,
        &upload,
        &args.layer.layer_name,
        &Map::new(),
    )?;
    let style = style(catalog, &args.style)?;
    let tables: Vec<String> = if args.tables.is_empty() {
        let stored = catalog
            .stored_data(DS, &stored)
            .map_err(PublishError::Catalog)?;
        stored.type_infos["relations"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        args.tables.clone()
    };
    let layer = &args.layer.layer_name;
    let title = args.layer.title.clone().unwrap_or_else(|| layer.clone());
    // A configuration of one stored data's tables (WMS-VECTOR or WFS).
    let vector_body =
        |kind, name: String, title: String, abstract_text: String, relations| ConfigurationBody {
            kind,
            name,
            layer_name: layer.clone(),
            type_infos: TypeInfos {
                title,
                abstract_text,
                keywords: Vec::new(),
                used_data: vec![UsedData {
                    stored_data: stored.clone(),
                    relations,
                    bottom_level: None,
                    top_level: None,
                }],
                getfeatureinfo: None,
                styles: None,
            },
            metadata: Vec::new(),
            attribution: None,
            getfeatureinfo: None,
        };
    let drawn = tables
        .iter()
        .map(|name| catalog::Relation {
            name: name.clone(),
            style: style.clone(),
            ..catalog::Relation::default()
        })
        .collect();
    let mut published = vec![configure_and_offer(
        catalog,
        vector_body(
            ConfigurationType::WmsVector,
            layer.clone(),
            title.clone(),
            args.layer.abstract_text.clone(),
            drawn,
        ),
        "wms-vector",
        args.layer.restricted,
    )?];
    if !args.no_wfs {
        // One feature type per table: the layer's name for one, `layer.table` for several.
        let relations = tables
            .iter()
            .map(|table| catalog::Relation {
                native_name: Some(table.clone()),
                public_name: Some(if tables.len() == 1 {
                    layer.clone()
                } else {
                    format!("{layer}.{table}")
                }),
                title: Some(title.clone()),
                abstract_text: Some(args.layer.abstract_text.clone()),
                ..catalog::Relation::default()
            })
            .collect();
        let wfs = vector_body(
            ConfigurationType::Wfs,
            format!("{layer} (WFS)"),
            String::new(),
            String::new(),
            relations,
        );
        published.push(configure_and_offer(
            catalog,
            wfs,
            "wfs",
            args.layer.restricted,
        )?);
    }
    granted(catalog, layer, published, args.layer.restricted)
}

fn detect_vector_srs(file: &Path) -> Outcome<String> {
    let report = vectorstore::check(file, &vectorstore::IngestOptions::default(), &mut |_, _| {})
        .map_err(PublishError::Vector)?;
    report
        .layers
        .first()
        .map(|l| l.srs.clone())
        .ok_or_else(|| PublishError::NoLayer(file.to_owned()))
}

fn publish_raster(catalog: &Catalog, args: &RasterArgs) -> Outcome<Vec<String>> {
    let (top, bottom) = args
        .levels
        .split_once('-')
        .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        .ok_or_else(|| PublishError::Levels(args.levels.clone()))?;
    let srs = if let Some(srs) = &args.srs {
        srs.clone()
    } else {
        let first = args.files.first().ok_or(PublishError::NoInput)?;
        let scratch = std::env::temp_dir().join(format!("tuilerie-srs-{}", std::process::id()));
        let opened = pyramid::GeoTiff::open_any(first, None, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        opened.map_err(PublishError::Raster)?.crs().to_string()
    };
    let upload = upload(
        catalog,
        UploadType::Raster,
        &srs,
        &args.layer.layer_name,
        &args.files,
    )?;
    let mut parameters = Map::new();
    parameters.insert("tms".to_owned(), json!(args.tms));
    parameters.insert("top_level".to_owned(), json!(top));
    parameters.insert("bottom_level".to_owned(), json!(bottom));
    if let Some(compression) = &args.compression {
        parameters.insert("compression".to_owned(), json!(compression));
    }
    parameters.insert("interpolation".to_owned(), json!(args.interpolation));
    if let Some(format) = &args.format {
        parameters.insert("format".to_owned(), json!(format));
    }
    if let Some(nodata) = &args.nodata {
        parameters.insert("nodata".to_owned(), json!(nodata));
    }
    let stored = process(
        catalog,
        catalog::PYRAMID_PROCESSING,
        &upload,
        &args.layer.layer_name,
        &parameters,
    )?;
    let title = args
        .layer
        .title
        .clone()
        .unwrap_or_else(|| args.layer.layer_name.clone());
    let body = |kind: ConfigurationType, styles: Option<Vec<String>>| ConfigurationBody {
        kind,
        name: format!("{} {}", args.layer.layer_name, kind.as_str()),
        layer_name: args.layer.layer_name.clone(),
        type_infos: TypeInfos {
            title: title.clone(),
            abstract_text: args.layer.abstract_text.clone(),
            keywords: Vec::new(),
            used_data: vec![UsedData {
                stored_data: stored.clone(),
                relations: Vec::new(),
                bottom_level: Some(bottom.clone()),
                top_level: Some(top.clone()),
            }],
            getfeatureinfo: Some(catalog::GetFeatureInfo { stored_data: true }),
            styles,
        },
        metadata: Vec::new(),
        attribution: None,
        getfeatureinfo: None,
    };
    let mut published = vec![configure_and_offer(
        catalog,
        body(ConfigurationType::WmtsTms, None),
        "wmts-tms",
        args.layer.restricted,
    )?];
    if args.wms {
        let styles = args
            .wms_style
            .as_deref()
            .map(|s| style(catalog, s))
            .transpose()?
            .map(|id| vec![id]);
        published.push(configure_and_offer(
            catalog,
            body(ConfigurationType::WmsRaster, styles),
            "wms-raster",
            args.layer.restricted,
        )?);
    }
    granted(
        catalog,
        &args.layer.layer_name,
        published,
        args.layer.restricted,
    )
}

const DEMO_GPKG: &[u8] = include_bytes!("../../../fixtures/gpkg/communes_2154.gpkg");
const DEMO_SLD: &[u8] = include_bytes!("../../../fixtures/wms/communes.sld");
const DEMO_RGB: &[u8] = include_bytes!("../../../fixtures/rasters/rgb_4326.tif");
const DEMO_DEM: &[u8] = include_bytes!("../../../fixtures/rasters/dem_2154.tif");
const DEMO_DEM_SLD: &[u8] = include_bytes!("../../../fixtures/wms/dem.sld");

/// Publishes the bundled sample data into the catalog of `config` when nothing is published
/// yet (`tuilerie demo`, before it serves).
pub(crate) fn demo(config: &Config) -> ExitCode {
    let catalog = match open_catalog(config) {
        Ok(catalog) => catalog,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    match catalog.offerings(DS) {
        Ok(offerings) if offerings.is_empty() => {
            eprintln!(
                "publishing the sample data into {} (once)…",
                config.data.dir.display()
            );
            if let Err(message) = publish_demo(&catalog) {
                eprintln!("error: {message}");
                return ExitCode::FAILURE;
            }
        }
        Ok(_) => eprintln!(
            "layers are already published in {}: serving them",
            config.data.dir.display()
        ),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn publish_demo(catalog: &Catalog) -> Outcome<()> {
    let dir = tempfile_dir()?;
    let write = |name: &str, bytes: &[u8]| -> Outcome<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(file_error("write", &path))?;
        Ok(path)
    };
    let result = (|| {
        let quiet = |lines: Vec<String>| {
            for line in lines {
                eprintln!("  {line}");
            }
        };
        let sample = |name: &str, title: &str, abstract_text: &str| LayerArgs {
            layer_name: name.to_owned(),
            title: Some(title.to_owned()),
            abstract_text: abstract_text.to_owned(),
            restricted: false,
        };
        let no_config = || CatalogArgs {
            config: None,
            data: None,
        };
        quiet(publish_vector(
            catalog,
            &VectorArgs {
                file: write("communes.gpkg", DEMO_GPKG)?,
                style: write("communes.sld", DEMO_SLD)?,
                tables: vec!["communes_idf".to_owned()],
                layer: sample(
                    "communes",
                    "Communes d'Île-de-France (sample)",
                    "Synthetic communes in Lambert-93, drawn by département",
                ),
                srs: Some("EPSG:2154".to_owned()),
                no_wfs: false,
                catalog: no_config(),
            },
        )?);
        // (file, bytes, tile matrix set, levels, layer, compression, format, interpolation, style)
        let rasters = [
            (
                "rgb.tif",
                DEMO_RGB,
                "PM",
                "8-13",
                sample(
                    "ortho",
                    "Colour raster (sample)",
                    "A synthetic RGB image in WGS84, cut into a Web Mercator pyramid",
                ),
                "png",
                None,
                "bilinear",
                None,
            ),
            (
                "dem.tif",
                DEMO_DEM,
                "LAMB93",
                "6-10",
                sample(
                    "altitude",
                    "Elevation (sample)",
                    "A synthetic elevation grid in Lambert-93 (float32): GetFeatureInfo answers metres",
                ),
                "zip",
                Some("TIFF_ZIP_FLOAT32"),
                "nearest",
                Some(("dem.sld", DEMO_DEM_SLD)),
            ),
        ];
        for (file, bytes, tms, levels, layer, compression, format, interpolation, style) in rasters
        {
            quiet(publish_raster(
                catalog,
                &RasterArgs {
                    files: vec![write(file, bytes)?],
                    tms: tms.to_owned(),
                    levels: levels.to_owned(),
                    layer,
                    compression: Some(compression.to_owned()),
                    format: format.map(str::to_owned),
                    interpolation: interpolation.to_owned(),
                    nodata: None,
                    srs: None,
                    wms: true,
                    wms_style: style.map(|(name, sld)| write(name, sld)).transpose()?,
                    catalog: no_config(),
                },
            )?);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> Outcome<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tuilerie-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(file_error("create", &dir))?;
    Ok(dir)
}
