//! Checks and integration of an upload, in one pass.
//!
//! The platform's four steps (load, standard checks, vector checks, integration) read the file
//! several times and "can take a few minutes". Here every feature is read once: decoded,
//! checked, and — when integrating — written into a staging GeoPackage with its R-tree entry.
//! The staging directory (`stored/.{id}.partial`) is renamed into place only when no ERROR was
//! found, so a refused or interrupted upload leaves no stored data, and a rerun simply starts
//! over (idempotent: integrating the same id again replaces the previous result atomically).

use std::path::{Path, PathBuf};

use crs::{Bbox, Crs, Transformer};

use crate::archive::{self, ZipLimits};
use crate::geom::{self, DeclaredType, Fit};
use crate::gpkg::{GeoPackage, SourceLayer, GPKG_APPLICATION_ID};
use crate::names::UniqueNames;
use crate::report::{AttributeMetadata, Findings, LayerMetadata, Level, Report};
use crate::srs::SrsDetection;
use crate::value::{AttributeType, Value};
use crate::writer::StoreWriter;
use crate::{fsutil, VectorError};

/// Most distinct values kept per attribute (see [`AttributeMetadata::distinct_values`]).
pub const DISTINCT_VALUES_LIMIT: usize = 32;

/// The stored data's metadata file, beside `data.gpkg`.
pub const METADATA_FILE: &str = "metadata.json";

/// The stored GeoPackage's file name.
pub const DATA_FILE: &str = "data.gpkg";

/// Options of [`check`] and [`ingest`].
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// The SRS the producer declared for the upload (`--srs`); every layer must be in it, and
    /// it is used for layers whose SRS the file does not say.
    pub declared_srs: Option<Crs>,
    /// Limits for zip archives.
    pub zip_limits: ZipLimits,
}

/// The metadata persisted as `metadata.json` beside `data.gpkg`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredMetadata {
    /// Format version of this file (1).
    pub format: u32,
    /// The stored data id.
    pub id: String,
    /// The uploaded file's name.
    pub source: String,
    /// The layers.
    pub layers: Vec<LayerMetadata>,
}

/// Progress: features read so far, and in all.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Runs every check on an upload (`.gpkg` or `.zip`) without storing anything.
pub fn check(
    input: &Path,
    options: &IngestOptions,
    progress: Progress<'_>,
) -> Result<Report, VectorError> {
    let work = std::env::temp_dir().join(format!(
        "tuilerie-check-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let _guard = RemoveOnDrop(work.clone());
    run(input, options, &work, None, progress)
}

/// Checks an upload and, when no ERROR is found, integrates it as `{data_dir}/stored/{id}/`
/// (`data.gpkg` + `metadata.json`). The returned report's `stored` says where.
pub fn ingest(
    input: &Path,
    data_dir: &Path,
    id: &str,
    options: &IngestOptions,
    progress: Progress<'_>,
) -> Result<Report, VectorError> {
    validate_id(id)?;
    let stored = data_dir.join("stored");
    fsutil::create_dir_all(&stored)?;
    let staging = stored.join(format!(".{id}.partial"));
    // A leftover of an interrupted run: start over.
    fsutil::remove_tree(&staging)?;
    fsutil::create_dir_all(&staging)?;
    let guard = RemoveOnDrop(staging.clone());
    let mut report = run(
        input,
        options,
        &staging.join("unpacked"),
        Some((&staging, id)),
        progress,
    )?;
    if report.is_refused() {
        return Ok(report);
    }
    fsutil::remove_tree(&staging.join("unpacked"))?;
    fsutil::sync_dir(&staging)?;
    let target = stored.join(id);
    let old = stored.join(format!(".{id}.old"));
    fsutil::remove_tree(&old)?;
    if target.exists() {
        fsutil::rename(&target, &old)?;
    }
    fsutil::rename(&staging, &target)?;
    guard.disarm();
    fsutil::remove_tree(&old)?;
    report.stored = Some(target);
    Ok(report)
}

/// Stored data ids: 1–128 of `A-Z a-z 0-9 _ - .`, not starting with a dot.
fn validate_id(id: &str) -> Result<(), VectorError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(VectorError::InvalidId(id.to_owned()))
    }
}

/// Removes a staging folder unless disarmed (the folder was moved into place).
#[derive(Debug)]
struct RemoveOnDrop(PathBuf);

impl RemoveOnDrop {
    /// Keeps the folder (without leaking the guard, as `mem::forget` would).
    fn disarm(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The shared pass. `unpack_dir` receives the GeoPackages of a zip; `store` is the staging
/// directory and id when integrating.
fn run(
    input: &Path,
    options: &IngestOptions,
    unpack_dir: &Path,
    store: Option<(&Path, &str)>,
    progress: Progress<'_>,
) -> Result<Report, VectorError> {
    let mut findings = Findings::default();
    let source_name = file_name(input);
    let Some(sources) = load(input, options, unpack_dir, &mut findings)? else {
        return Ok(finish(findings, Vec::new()));
    };

    // Standard and structural checks of each file.
    let mut packages = Vec::new();
    for (path, name) in &sources {
        if let Some(opened) = open_package(path, name, &mut findings) {
            packages.push((opened.0, opened.1, name.clone()));
        }
    }
    if packages.iter().all(|(_, layers, _)| layers.is_empty())
        && !findings.list.iter().any(|f| f.level == Level::Error)
    {
        findings.error(
            None,
            "the upload holds no vector layer (no 'features' table in gpkg_contents)",
        );
    }
    if let Some((staging, _)) = store {
        let needed: u64 = sources
            .iter()
            .filter_map(|(p, _)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        if let Some(available) = archive::available_bytes(staging) {
            let wanted = needed
                .saturating_mul(2)
                .saturating_add(options.zip_limits.keep_free_bytes);
            if wanted > available {
                findings.error(
                    None,
                    format!("integration needs about {wanted} bytes but only {available} are free on the data disk"),
                );
            }
        }
    }

    let total: u64 = packages
        .iter()
        .flat_map(|(gpkg, layers, _)| layers.iter().map(move |l| gpkg.count(l).unwrap_or(0)))
        .sum();
    let mut done = 0u64;
    progress(0, total);

    let mut writer = match store {
        Some((staging, _)) if !has_error(&findings) => {
            Some(StoreWriter::create(&staging.join(DATA_FILE))?)
        }
        _ => None,
    };
    let mut layer_names = UniqueNames::with_reserved(&[]);
    let mut layers = Vec::new();
    for (gpkg, source_layers, file) in &packages {
        for layer in source_layers {
            if has_error(&findings) {
                writer = None;
            }
            let mut ctx = LayerRun {
                findings: &mut findings,
                writer: writer.as_mut(),
                options,
                done: &mut done,
                total,
                progress: &mut *progress,
            };
            if let Some(meta) = ctx.layer(gpkg, layer, file, &mut layer_names)? {
                layers.push(meta);
            }
        }
    }
    progress(done, total);

    if let (Some(writer), Some((staging, id))) = (writer, store) {
        if !has_error(&findings) {
            writer.finish()?;
            let metadata = StoredMetadata {
                format: 1,
                id: id.to_owned(),
                source: source_name,
                layers: layers.clone(),
            };
            let json =
                serde_json::to_vec_pretty(&metadata).map_err(|source| VectorError::Json {
                    path: staging.join(METADATA_FILE),
                    source,
                })?;
            fsutil::write_synced(&staging.join(METADATA_FILE), &json)?;
        }
    }
    Ok(finish(findings, layers))
}

fn has_error(findings: &Findings) -> bool {
    findings.list.iter().any(|f| f.level == Level::Error)
}

fn finish(findings: Findings, layers: Vec<LayerMetadata>) -> Report {
    Report {
        findings: findings.list,
        layers,
        stored: None,
    }
}

/// Step 1, load: the file itself, unpacked when it is a zip. `None` when refused.
fn load(
    input: &Path,
    options: &IngestOptions,
    unpack_dir: &Path,
    findings: &mut Findings,
) -> Result<Option<Vec<(PathBuf, String)>>, VectorError> {
    match std::fs::metadata(input) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            findings.error(None, format!("'{}' is not a file", input.display()));
            return Ok(None);
        }
        Err(e) => {
            findings.error(None, format!("cannot read '{}': {e}", input.display()));
            return Ok(None);
        }
    }
    if crate::shp::is_shapefile(input) || crate::delimited::is_csv(input) {
        fsutil::create_dir_all(unpack_dir)?;
        return Ok(converted(input, &file_name(input), unpack_dir, findings)
            .map(|path| vec![(path, file_name(input))]));
    }
    if !archive::looks_like_zip(input) {
        #[cfg(feature = "gdal")]
        if !looks_like_sqlite(input) {
            return Ok(through_ogr(input, unpack_dir, findings)?
                .map(|path| vec![(path, file_name(input))]));
        }
        return Ok(Some(vec![(input.to_owned(), file_name(input))]));
    }
    fsutil::create_dir_all(unpack_dir)?;
    match archive::unpack(input, unpack_dir, &options.zip_limits) {
        Err(refusal) => {
            findings.error(None, format!("zip archive refused: {}", refusal.0));
            Ok(None)
        }
        Ok((entries, ignored)) => {
            if !ignored.is_empty() {
                findings.warning(
                    None,
                    format!(
                        "entries that are neither GeoPackages nor Shapefiles were ignored: {}",
                        ignored.join(", ")
                    ),
                );
            }
            if entries.is_empty() {
                findings.error(
                    None,
                    "the zip archive holds no .gpkg file and no Shapefile (.shp)",
                );
                return Ok(None);
            }
            let mut gpkgs = Vec::with_capacity(entries.len());
            for (path, name) in entries {
                if crate::shp::is_shapefile(&path) || crate::delimited::is_csv(&path) {
                    let Some(copy) = converted(&path, &name, unpack_dir, findings) else {
                        return Ok(None);
                    };
                    gpkgs.push((copy, name));
                } else {
                    gpkgs.push((path, name));
                }
            }
            Ok(Some(gpkgs))
        }
    }
}

/// A Shapefile or a CSV (`name` as uploaded) copied into a GeoPackage beside the unpacked files
/// (`None`, with an error finding, when it cannot be read).
fn converted(
    input: &Path,
    name: &str,
    unpack_dir: &Path,
    findings: &mut Findings,
) -> Option<PathBuf> {
    let stem = input
        .file_stem()
        .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned());
    let mut output = unpack_dir.join(format!("{stem}.gpkg"));
    let mut n = 1;
    while output.exists() {
        output = unpack_dir.join(format!("{stem}_{n}.gpkg"));
        n += 1;
    }
    let copied = if crate::delimited::is_csv(input) {
        crate::delimited::convert(input, &output)
    } else {
        crate::shp::convert(input, &output)
    };
    match copied {
        Ok(converted) => {
            if let Some(note) = converted.encoding_note {
                findings.warning(None, format!("'{name}' {note}"));
            }
            if !converted.has_prj {
                findings.warning(
                    None,
                    format!(
                        "'{name}' has no .prj naming an EPSG code: its CRS is the one the upload declares"
                    ),
                );
            }
            Some(output)
        }
        Err(reason) => {
            findings.error(None, reason);
            None
        }
    }
}

/// Whether a file starts as an SQLite database does.
#[cfg(feature = "gdal")]
fn looks_like_sqlite(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == crate::gpkg::SQLITE_MAGIC)
}

/// A file of another format, copied into a GeoPackage by OGR (`None`, with an error finding,
/// when GDAL cannot read it).
#[cfg(feature = "gdal")]
fn through_ogr(
    input: &Path,
    unpack_dir: &Path,
    findings: &mut Findings,
) -> Result<Option<PathBuf>, VectorError> {
    fsutil::create_dir_all(unpack_dir)?;
    let stem = input
        .file_stem()
        .map_or_else(|| "data".to_owned(), |s| s.to_string_lossy().into_owned());
    let output = unpack_dir.join(format!("{stem}.gpkg"));
    let _ = std::fs::remove_file(&output);
    match crate::ogr::convert(input, &output) {
        Ok(layers) => {
            findings.warning(
                None,
                format!(
                    "'{}' is not a GeoPackage: its {layers} layer(s) were read through GDAL/OGR",
                    file_name(input)
                ),
            );
            Ok(Some(output))
        }
        Err(reason) => {
            findings.error(
                None,
                format!(
                    "'{}' is neither a GeoPackage nor a zip, and {reason}",
                    file_name(input)
                ),
            );
            Ok(None)
        }
    }
}

/// Opens one GeoPackage and runs the file-level checks. `None` when it cannot be used.
fn open_package(
    path: &Path,
    name: &str,
    findings: &mut Findings,
) -> Option<(GeoPackage, Vec<SourceLayer>)> {
    let gpkg = match GeoPackage::open(path) {
        Ok(g) => g,
        Err(VectorError::NotSqlite { .. }) => {
            findings.error(
                None,
                format!("'{name}' is not a GeoPackage: it is not an SQLite database"),
            );
            return None;
        }
        Err(e) => {
            findings.error(
                None,
                format!("'{name}' cannot be opened: {}", error_chain(&e)),
            );
            return None;
        }
    };
    match gpkg.integrity_problems() {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => {
            for p in problems {
                findings.error(
                    None,
                    format!("'{name}' is damaged (SQLite integrity check): {p}"),
                );
            }
            return None;
        }
        Err(e) => {
            findings.error(
                None,
                format!("'{name}' is damaged or truncated: {}", error_chain(&e)),
            );
            return None;
        }
    }
    for table in [
        "gpkg_spatial_ref_sys",
        "gpkg_contents",
        "gpkg_geometry_columns",
    ] {
        match gpkg.has_table(table) {
            Ok(true) => {}
            Ok(false) => {
                findings.error(
                    None,
                    format!("'{name}' is not a GeoPackage: table {table} is missing"),
                );
                return None;
            }
            Err(e) => {
                findings.error(
                    None,
                    format!("'{name}' cannot be read: {}", error_chain(&e)),
                );
                return None;
            }
        }
    }
    match gpkg.application_id() {
        // GPKG (1.2+), GP10 and GP11 (1.0, 1.1).
        Ok(GPKG_APPLICATION_ID | 0x4750_3130 | 0x4750_3131) => {}
        Ok(other) => findings.warning(
            None,
            format!("'{name}' has application_id {other:#010x}, not 'GPKG'; read as a GeoPackage anyway"),
        ),
        Err(e) => findings.warning(None, format!("'{name}': application_id unreadable: {}", error_chain(&e))),
    }
    match gpkg.layers_without_geometry_column() {
        Ok(tables) => {
            for t in tables {
                findings.error(
                    Some(&t),
                    format!(
                        "layer '{t}' is a 'features' table without a row in gpkg_geometry_columns"
                    ),
                );
            }
        }
        Err(e) => findings.error(
            None,
            format!("'{name}': gpkg_contents unreadable: {}", error_chain(&e)),
        ),
    }
    match gpkg.layers() {
        Ok(layers) => Some((gpkg, layers)),
        Err(e) => {
            findings.error(
                None,
                format!("'{name}': layers unreadable: {}", error_chain(&e)),
            );
            None
        }
    }
}

/// An error and its causes, joined by ": " — the one formatter of cause chains in the
/// workspace (the catalog's job logs and the server's messages use it too).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

struct LayerRun<'a> {
    findings: &'a mut Findings,
    writer: Option<&'a mut StoreWriter>,
    options: &'a IngestOptions,
    done: &'a mut u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

const KIND_UNREADABLE: &str = "unreadable geometry";
const KIND_MISMATCH: &str = "geometry type differs from the column's";
const KIND_SINGLE: &str = "single geometry in a multi-geometry column";
const KIND_INVALID: &str = "invalid geometry";
const KIND_SRS_ID: &str = "blob srs_id differs from the column's";

fn kind_level(kind: &'static str) -> Level {
    match kind {
        KIND_UNREADABLE | KIND_MISMATCH => Level::Error,
        _ => Level::Warning,
    }
}

impl LayerRun<'_> {
    /// Checks (and writes) one layer; `None` when its setup is unusable.
    fn layer(
        &mut self,
        gpkg: &GeoPackage,
        layer: &SourceLayer,
        file: &str,
        layer_names: &mut UniqueNames,
    ) -> Result<Option<LayerMetadata>, VectorError> {
        let table = layer.table.as_str();
        let t = Some(table);
        let declared = self.options.declared_srs.as_ref();
        let crs = match (&layer.srs, declared) {
            (SrsDetection::Known(found), Some(declared)) if !found.equivalent(declared) => {
                self.findings.error(
                    t,
                    format!(
                        "layer '{table}' is in {} but the upload declares {}",
                        found.code(),
                        declared.code()
                    ),
                );
                Some(found.clone())
            }
            (SrsDetection::Known(found), _) => Some(found.clone()),
            (SrsDetection::Unsupported(code), _) => {
                self.findings.error(
                    t,
                    format!("layer '{table}' is in {code}, a CRS Tuilerie does not know; reproject it (e.g. to EPSG:2154 or EPSG:4326)"),
                );
                None
            }
            (other, Some(declared)) => {
                self.findings.warning(
                    t,
                    format!(
                        "layer '{table}' has no usable SRS ({}); using the declared {}",
                        other.describe(),
                        declared.code()
                    ),
                );
                Some(declared.clone())
            }
            (other, None) => {
                self.findings.error(
                    t,
                    format!(
                        "the SRS of layer '{table}' cannot be detected ({}); declare it (e.g. --srs EPSG:2154)",
                        other.describe()
                    ),
                );
                None
            }
        };
        let declared_type = DeclaredType::parse(&layer.geometry_type);
        if declared_type.is_none() {
            self.findings.error(
                t,
                format!(
                    "layer '{table}' has geometry type {}, which is not supported (only points, lines, polygons, their multi forms and collections)",
                    layer.geometry_type
                ),
            );
        }
        let name = claim_layer_name(layer_names, table);
        if name != table {
            self.findings
                .warning(t, format!("layer '{table}' is stored as '{name}'"));
        }
        let mut columns = UniqueNames::with_reserved(&["fid", "geom"]);
        let attributes: Vec<(String, AttributeType)> = layer
            .attributes
            .iter()
            .map(|a| (columns.claim(&a.name), a.ty))
            .collect();
        let renamed: Vec<String> = layer
            .attributes
            .iter()
            .zip(&attributes)
            .filter(|(a, (n, _))| &a.name != n)
            .map(|(a, (n, _))| format!("'{}' → '{n}'", a.name))
            .collect();
        if !renamed.is_empty() {
            self.findings.warning(
                t,
                format!(
                    "attributes of layer '{table}' renamed: {}",
                    renamed.join(", ")
                ),
            );
        }
        let (Some(crs), Some(declared_type)) = (crs, declared_type) else {
            return Ok(None);
        };
        let srs_id = crs.epsg().map_or(layer.srs_id, i64::from);
        let geometry_type = declared_type.name();
        if let Some(writer) = self.writer.as_deref_mut() {
            writer.ensure_srs(
                srs_id,
                crs.code(),
                crs.name(),
                layer.srs_definition.as_deref().unwrap_or("undefined"),
            )?;
            writer.begin_layer(&name, geometry_type, srs_id, &attributes)?;
        }

        let mut stats = LayerStats::new(attributes.len());
        // The extent in longitude/latitude is read off the reprojected vertices: the data's
        // true extent, not the native box's conservative image.
        stats.to_wgs84 = Transformer::new(&crs, &Crs::crs84()).ok();
        let mut since_progress = 0u32;
        let result = gpkg.for_each_feature(layer, |raw| {
            stats.features += 1;
            *self.done += 1;
            since_progress += 1;
            if since_progress == 4096 {
                since_progress = 0;
                (self.progress)(*self.done, self.total);
            }
            let (blob, envelope) = match raw.blob {
                None => {
                    stats.nulls += 1;
                    (None, None)
                }
                Some(b) => self.feature_geometry(
                    table,
                    layer,
                    raw.fid,
                    b,
                    declared_type,
                    srs_id,
                    &mut stats,
                ),
            };
            stats.track_values(&raw.values);
            if let Some(writer) = self.writer.as_deref_mut() {
                writer.insert(raw.fid, blob.as_deref(), envelope, &raw.values)?;
            }
            Ok::<(), VectorError>(())
        });
        match result {
            Ok(Ok(())) => {}
            Ok(Err(write)) => return Err(write),
            Err(read) => self.findings.error(
                t,
                format!(
                    "layer '{table}' cannot be read to the end: {}",
                    error_chain(&read)
                ),
            ),
        }
        if let Some(writer) = self.writer.as_deref_mut() {
            writer.end_layer(stats.bbox)?;
        }
        self.findings.summarize(table, kind_level);
        if stats.features == 0 {
            self.findings
                .warning(t, format!("layer '{table}' is empty"));
        }
        if stats.nulls > 0 {
            self.findings.warning(
                t,
                format!(
                    "{} features of layer '{table}' have no geometry (kept, never drawn)",
                    stats.nulls
                ),
            );
        }
        if stats.empties > 0 {
            self.findings.warning(
                t,
                format!(
                    "{} features of layer '{table}' have an empty geometry (kept, never drawn)",
                    stats.empties
                ),
            );
        }
        let invalid = self.findings.count(table, KIND_INVALID);
        if invalid > 0 {
            self.findings.warning(
                t,
                format!("layer '{table}' has {invalid} invalid geometries (kept; fix them for exact rendering and queries)"),
            );
        }
        let bbox_wgs84 = stats
            .wgs84
            .or_else(|| stats.bbox.and_then(|b| to_wgs84(&crs, b)));
        Ok(Some(LayerMetadata {
            name,
            source_name: table.to_owned(),
            source_file: file.to_owned(),
            srs: crs.code().to_owned(),
            srs_id,
            geometry_type: geometry_type.to_owned(),
            features: stats.features,
            bbox: stats.bbox,
            bbox_wgs84,
            attributes: attributes
                .into_iter()
                .zip(&layer.attributes)
                .zip(stats.distinct)
                .map(|(((name, ty), source), distinct)| AttributeMetadata {
                    name,
                    source_name: source.name.clone(),
                    ty,
                    distinct_values: if ty == AttributeType::Blob {
                        None
                    } else {
                        distinct
                    },
                })
                .collect(),
            geometry_bytes: stats.geometry_bytes,
            invalid_geometries: invalid,
        }))
    }

    /// Decodes and checks one geometry; returns the blob to store and its envelope.
    #[allow(clippy::too_many_arguments)]
    fn feature_geometry(
        &mut self,
        table: &str,
        layer: &SourceLayer,
        fid: i64,
        blob: &[u8],
        declared: DeclaredType,
        srs_id: i64,
        stats: &mut LayerStats,
    ) -> (Option<Vec<u8>>, Option<[f64; 4]>) {
        let decoded = match geom::decode(blob) {
            Ok(d) => d,
            Err(e) => {
                self.findings.feature(
                    Level::Error,
                    table,
                    fid,
                    KIND_UNREADABLE,
                    format!("unreadable geometry: {e}"),
                );
                return (None, None);
            }
        };
        if i64::from(decoded.header.srs_id) != layer.srs_id {
            self.findings.feature(
                Level::Warning,
                table,
                fid,
                KIND_SRS_ID,
                format!(
                    "geometry blob says srs_id {} but the column says {}; the column wins",
                    decoded.header.srs_id, layer.srs_id
                ),
            );
        }
        match declared.fit(decoded.kind) {
            Fit::Exact => {}
            Fit::SingleInMulti => self.findings.feature(
                Level::Warning,
                table,
                fid,
                KIND_SINGLE,
                format!("a {} in a {} column", decoded.kind.name(), declared.name()),
            ),
            Fit::Mismatch => self.findings.feature(
                Level::Error,
                table,
                fid,
                KIND_MISMATCH,
                format!("a {} in a {} column", decoded.kind.name(), declared.name()),
            ),
        }
        let Some(geometry) = decoded.geometry else {
            stats.empties += 1;
            return (None, None);
        };
        if let Some(problem) = decoded.raw_defect.or_else(|| geom::invalidity(&geometry)) {
            self.findings.feature(
                Level::Warning,
                table,
                fid,
                KIND_INVALID,
                format!("invalid geometry: {problem}"),
            );
        }
        let envelope = geom::envelope(&geometry);
        if let Some(e) = envelope {
            stats.bbox = Some(match stats.bbox {
                None => e,
                Some(b) => [
                    b[0].min(e[0]),
                    b[1].min(e[1]),
                    b[2].max(e[2]),
                    b[3].max(e[3]),
                ],
            });
        }
        stats.extend_wgs84(&geometry);
        let stored = geom::encode(&geometry, srs_id as i32);
        stats.geometry_bytes += stored.len() as u64;
        (Some(stored), envelope)
    }
}

/// Layer names must not collide with each other nor with GeoPackage or SQLite tables.
fn claim_layer_name(names: &mut UniqueNames, table: &str) -> String {
    let normalized = crate::normalize_name(table);
    if ["gpkg_", "rtree_", "sqlite_"]
        .iter()
        .any(|p| normalized.starts_with(p))
    {
        names.claim(&format!("layer_{normalized}"))
    } else {
        names.claim(table)
    }
}

fn to_wgs84(crs: &Crs, b: [f64; 4]) -> Option<[f64; 4]> {
    let bbox = Bbox::new(b[0], b[1], b[2], b[3]).ok()?;
    let t = Transformer::new(crs, &Crs::crs84()).ok()?;
    let w = t.transform_bbox(&bbox).ok()?;
    Some([w.min_x(), w.min_y(), w.max_x(), w.max_y()])
}

struct LayerStats {
    features: u64,
    nulls: u64,
    empties: u64,
    geometry_bytes: u64,
    bbox: Option<[f64; 4]>,
    /// The layer CRS to CRS:84, when it can be made.
    to_wgs84: Option<Transformer>,
    /// The extent of the reprojected vertices.
    wgs84: Option<[f64; 4]>,
    distinct: Vec<Option<Vec<Value>>>,
}

impl LayerStats {
    fn new(attributes: usize) -> LayerStats {
        LayerStats {
            features: 0,
            nulls: 0,
            empties: 0,
            geometry_bytes: 0,
            bbox: None,
            to_wgs84: None,
            wgs84: None,
            distinct: vec![Some(Vec::new()); attributes],
        }
    }

    /// Widens the longitude/latitude extent with the vertices of `geometry` (those that have
    /// an image in CRS:84).
    fn extend_wgs84(&mut self, geometry: &geo_types::Geometry<f64>) {
        use geo::CoordsIter;
        let Some(to) = &self.to_wgs84 else { return };
        let mut extent = self.wgs84;
        for c in geometry.coords_iter() {
            if let Ok((x, y)) = to.transform_point(c.x, c.y) {
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                extent = Some(match extent {
                    None => [x, y, x, y],
                    Some(e) => [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)],
                });
            }
        }
        self.wgs84 = extent;
    }

    fn track_values(&mut self, values: &[Value]) {
        for (slot, value) in self.distinct.iter_mut().zip(values) {
            let Some(seen) = slot else { continue };
            if matches!(value, Value::Null | Value::Blob(_)) || seen.contains(value) {
                continue;
            }
            if seen.len() == DISTINCT_VALUES_LIMIT {
                *slot = None;
            } else {
                seen.push(value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_the_data_dir_are_refused() {
        for bad in ["", "..", ".hidden", "a/b", "a\\b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
        for good in ["cantons", "x-1.2_b"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn distinct_values_stop_being_tracked_past_the_limit() {
        let mut stats = LayerStats::new(2);
        for i in 0..100 {
            stats.track_values(&[Value::Integer(i), Value::Text(format!("c{}", i % 3))]);
        }
        assert_eq!(stats.distinct[0], None);
        assert_eq!(stats.distinct[1].as_ref().map(Vec::len), Some(3));
    }
}
