//! Uploads: create, push files, close, then checks (standard, then vector or raster) as a job.
//!
//! Files are written under `uploads/{id}/` through a temporary file that is renamed when the
//! whole body arrived, so an interrupted transfer leaves nothing behind. Paths given by the
//! client are relative, without `..` or hidden parts.

use std::io::{Read, Write as _};
use std::path::{Component, Path, PathBuf};

use md5::{Digest as _, Md5};
use serde::Deserialize;
use vectorstore::error_chain;

use crate::db::{self, Kind};
use crate::jobs::Job;
use crate::model::{
    CheckExecution, ExecutionStatus, Reference, Upload, UploadChecks, UploadFile, UploadStatus,
    UploadType,
};
use crate::{check_datastore, event, new_id, now, Catalog, CatalogError};

/// A new upload, as a client sends it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewUpload {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// VECTOR or RASTER.
    #[serde(rename = "type")]
    pub kind: UploadType,
    /// Declared SRS.
    pub srs: String,
}

const STANDARD_CHECK: (&str, &str) = ("standard", "Standard checks (files, MD5)");
const VECTOR_CHECK: (&str, &str) = ("vector", "Vector checks (GeoPackage, SRS, geometries)");
const RASTER_CHECK: (&str, &str) = ("raster", "Raster checks (GeoTIFF, georeferencing, SRS)");

impl Catalog {
    /// Creates an upload (OPEN).
    pub fn create_upload(&self, datastore: &str, new: NewUpload) -> Result<Upload, CatalogError> {
        check_datastore(datastore)?;
        if new.name.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "name is empty: give the upload a name".to_owned(),
            ));
        }
        let srs = crs::Crs::parse(&new.srs).map_err(|e| {
            CatalogError::Invalid(format!(
                "srs '{}' is not a known CRS ({e}): write it as EPSG:2154, EPSG:4326…",
                new.srs
            ))
        })?;
        let upload = Upload {
            id: new_id(),
            name: new.name,
            description: new.description,
            kind: new.kind,
            srs: srs.to_string(),
            status: UploadStatus::Open,
            size: 0,
            files: Vec::new(),
            declared_md5: std::collections::BTreeMap::new(),
            tags: std::collections::BTreeMap::new(),
            creation: now(),
            last_event: event("created"),
        };
        self.change(false, |tx| {
            db::put(
                tx,
                Kind::Upload,
                datastore,
                &upload.id,
                &upload.creation,
                &upload,
            )
        })?;
        Ok(upload)
    }

    /// An upload.
    pub fn upload(&self, datastore: &str, id: &str) -> Result<Upload, CatalogError> {
        self.resource(Kind::Upload, datastore, id)
    }

    /// Every upload.
    pub fn uploads(&self, datastore: &str) -> Result<Vec<Upload>, CatalogError> {
        self.resources(Kind::Upload, datastore)
    }

    /// Adds a file to an OPEN upload, streaming it from `body`. A file of the same path is
    /// replaced.
    pub fn add_upload_file(
        &self,
        datastore: &str,
        id: &str,
        path: &str,
        body: &mut dyn Read,
    ) -> Result<UploadFile, CatalogError> {
        let upload = self.upload(datastore, id)?;
        require_open(&upload)?;
        let relative = safe_relative_path(path)?;
        let target = self.upload_dir(id).join(&relative);
        let dir = target.parent().unwrap_or(&target).to_owned();
        std::fs::create_dir_all(&dir).map_err(|e| CatalogError::io(&dir, e))?;
        let temporary = dir.join(format!(".{}.partial", new_id()));
        let written = write_stream(
            &temporary,
            body,
            self.options.max_upload_bytes - upload.size.min(self.options.max_upload_bytes),
        );
        let (size, md5) = match written {
            Ok(done) => done,
            Err(error) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(error);
            }
        };
        std::fs::rename(&temporary, &target).map_err(|e| CatalogError::io(&target, e))?;
        let file = UploadFile {
            path: relative.to_string_lossy().replace('\\', "/"),
            size,
            md5,
        };
        let stored = file.clone();
        self.change(false, |tx| {
            let mut upload: Upload = db::get(tx, Kind::Upload, datastore, id)?;
            require_open(&upload)?;
            upload.files.retain(|f| f.path != stored.path);
            upload.files.push(stored);
            upload.size = upload.files.iter().map(|f| f.size).sum();
            upload.last_event = event("file added");
            db::put(tx, Kind::Upload, datastore, id, &upload.creation, &upload)
        })?;
        Ok(file)
    }

    /// Records MD5 sums declared by the producer: lines of `hash  path` (as `md5sum` writes).
    pub fn declare_upload_md5(
        &self,
        datastore: &str,
        id: &str,
        text: &str,
    ) -> Result<Upload, CatalogError> {
        let mut declared = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.splitn(2, char::is_whitespace);
            let hash = parts.next().unwrap_or_default().to_ascii_lowercase();
            let path = parts
                .next()
                .unwrap_or_default()
                .trim()
                .trim_start_matches('*');
            if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || path.is_empty() {
                return Err(CatalogError::Invalid(format!(
                    "line {} of the MD5 file is not 'hash  path' (as md5sum writes it)",
                    n + 1
                )));
            }
            let path = safe_relative_path(path)?
                .to_string_lossy()
                .replace('\\', "/");
            declared.push((path, hash));
        }
        self.change(false, |tx| {
            let mut upload: Upload = db::get(tx, Kind::Upload, datastore, id)?;
            require_open(&upload)?;
            upload.declared_md5.extend(declared);
            upload.last_event = event("MD5 sums declared");
            db::put(tx, Kind::Upload, datastore, id, &upload.creation, &upload)?;
            Ok(upload)
        })
    }

    /// Closes an OPEN upload: its checks are queued (CHECKING).
    pub fn close_upload(&self, datastore: &str, id: &str) -> Result<Upload, CatalogError> {
        let upload = self.change(false, |tx| {
            let mut upload: Upload = db::get(tx, Kind::Upload, datastore, id)?;
            require_open(&upload)?;
            if upload.files.is_empty() {
                return Err(CatalogError::Conflict(format!(
                    "upload '{id}' holds no file: push one with POST …/uploads/{id}/data?path=NAME before closing it"
                )));
            }
            upload.status = UploadStatus::Checking;
            upload.last_event = event("closed: checks queued");
            db::put(tx, Kind::Upload, datastore, id, &upload.creation, &upload)?;
            let specific = match upload.kind {
                UploadType::Vector => VECTOR_CHECK,
                UploadType::Raster => RASTER_CHECK,
            };
            for (check, name) in [STANDARD_CHECK, specific] {
                let execution = CheckExecution {
                    id: new_id(),
                    check: Reference {
                        id: check.to_owned(),
                        name: name.to_owned(),
                    },
                    upload: id.to_owned(),
                    status: ExecutionStatus::Waiting,
                    creation: now(),
                    start: None,
                    finish: None,
                };
                db::put(tx, Kind::Check, datastore, &execution.id, &execution.creation, &execution)?;
            }
            Ok(upload)
        })?;
        self.enqueue(Job::Checks {
            datastore: datastore.to_owned(),
            upload: id.to_owned(),
        })?;
        Ok(upload)
    }

    /// The checks of an upload, by state.
    pub fn upload_checks(&self, datastore: &str, id: &str) -> Result<UploadChecks, CatalogError> {
        self.upload(datastore, id)?;
        let checks: Vec<CheckExecution> = self.read(|sql| db::list(sql, Kind::Check, datastore))?;
        let mut answer = UploadChecks::default();
        for check in checks.into_iter().filter(|c| c.upload == id) {
            match check.status {
                ExecutionStatus::Created | ExecutionStatus::Waiting => answer.asked.push(check),
                ExecutionStatus::Progress => answer.in_progress.push(check),
                ExecutionStatus::Success => answer.passed.push(check),
                ExecutionStatus::Failure | ExecutionStatus::Aborted => answer.failed.push(check),
            }
        }
        Ok(answer)
    }

    /// A check execution.
    pub fn check_execution(
        &self,
        datastore: &str,
        id: &str,
    ) -> Result<CheckExecution, CatalogError> {
        self.resource(Kind::Check, datastore, id)
    }

    /// The log of a check execution.
    pub fn check_logs(&self, datastore: &str, id: &str) -> Result<Vec<String>, CatalogError> {
        self.check_execution(datastore, id)?;
        self.read(|sql| db::logs(sql, id))
    }

    /// Deletes an upload and its files (not while it is being checked or processed).
    pub fn delete_upload(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        self.change(false, |tx| {
            let upload: Upload = db::get(tx, Kind::Upload, datastore, id)?;
            if upload.status == UploadStatus::Checking {
                return Err(CatalogError::Conflict(format!(
                    "upload '{id}' is being checked: delete it once its checks are over"
                )));
            }
            let executions: Vec<crate::model::Execution> =
                db::list(tx, Kind::Execution, datastore)?;
            if let Some(running) = executions
                .iter()
                .find(|e| !e.status.is_final() && e.inputs.upload.iter().any(|u| u.id == id))
            {
                return Err(CatalogError::Conflict(format!(
                    "upload '{id}' is the input of processing execution '{}', which is not over",
                    running.id
                )));
            }
            let checks: Vec<CheckExecution> = db::list(tx, Kind::Check, datastore)?;
            for check in checks.iter().filter(|c| c.upload == id) {
                db::delete(tx, &check.id)?;
            }
            db::delete(tx, id)
        })?;
        let dir = self.upload_dir(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| CatalogError::io(&dir, e))?;
        }
        Ok(())
    }

    /// The files of a CLOSED upload, on disk.
    pub(crate) fn upload_files(&self, upload: &Upload) -> Vec<PathBuf> {
        let dir = self.upload_dir(&upload.id);
        upload.files.iter().map(|f| dir.join(&f.path)).collect()
    }

    /// Runs the checks of an upload (a job).
    pub(crate) fn run_checks(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        let upload = self.upload(datastore, id)?;
        if upload.status != UploadStatus::Checking {
            return Ok(());
        }
        let checks: Vec<CheckExecution> = self.read(|sql| db::list(sql, Kind::Check, datastore))?;
        let mut checks: Vec<CheckExecution> =
            checks.into_iter().filter(|c| c.upload == id).collect();
        // The standard check first: the listing's order (creation second, then random id) is
        // not the order the checks were queued in.
        checks.sort_by_key(|c| c.check.id != STANDARD_CHECK.0);
        let mut all_passed = true;
        for check in &mut checks {
            if check.status.is_final() {
                all_passed &= check.status == ExecutionStatus::Success;
                continue;
            }
            if !all_passed {
                check.status = ExecutionStatus::Aborted;
                check.finish = Some(now());
                self.save_check(
                    datastore,
                    check,
                    &["not run: an earlier check failed".to_owned()],
                )?;
                continue;
            }
            check.status = ExecutionStatus::Progress;
            check.start = Some(now());
            self.save_check(datastore, check, &[])?;
            let (passed, lines) = match check.check.id.as_str() {
                "standard" => self.standard_check(&upload),
                "vector" => self.vector_check(&upload),
                _ => self.raster_check(&upload),
            };
            // The logs are for the API's users: file names as they uploaded them, never where
            // this server keeps them.
            let lines = without_prefix(lines, &self.upload_dir(&upload.id));
            check.status = if passed {
                ExecutionStatus::Success
            } else {
                ExecutionStatus::Failure
            };
            check.finish = Some(now());
            self.save_check(datastore, check, &lines)?;
            all_passed &= passed;
        }
        self.change(false, |tx| {
            let mut upload: Upload = db::get(tx, Kind::Upload, datastore, id)?;
            upload.status = if all_passed {
                UploadStatus::Closed
            } else {
                UploadStatus::Unstable
            };
            upload.last_event = event(if all_passed {
                "checks passed"
            } else {
                "a check failed: read its logs"
            });
            db::put(tx, Kind::Upload, datastore, id, &upload.creation, &upload)
        })
    }

    fn save_check(
        &self,
        datastore: &str,
        check: &CheckExecution,
        lines: &[String],
    ) -> Result<(), CatalogError> {
        self.change(false, |tx| {
            db::put(
                tx,
                Kind::Check,
                datastore,
                &check.id,
                &check.creation,
                check,
            )?;
            db::log(tx, &check.id, lines)
        })
    }

    fn standard_check(&self, upload: &Upload) -> (bool, Vec<String>) {
        let mut lines = Vec::new();
        let mut passed = true;
        let dir = self.upload_dir(&upload.id);
        for file in &upload.files {
            let path = dir.join(&file.path);
            match md5_of(&path) {
                Ok((size, md5)) if size == file.size && md5 == file.md5 => {
                    lines.push(format!("{}: {size} bytes, MD5 {md5}", file.path));
                }
                Ok((size, md5)) => {
                    passed = false;
                    lines.push(format!(
                        "ERROR {}: changed on disk since it was uploaded ({size} bytes, MD5 {md5}; uploaded: {} bytes, MD5 {}): upload it again",
                        file.path, file.size, file.md5
                    ));
                }
                Err(e) => {
                    passed = false;
                    lines.push(format!(
                        "ERROR {}: cannot be read ({e}): upload it again",
                        file.path
                    ));
                }
            }
            if let Some(declared) = upload.declared_md5.get(&file.path) {
                if *declared == file.md5 {
                    lines.push(format!("{}: MD5 matches the declared sum", file.path));
                } else {
                    passed = false;
                    lines.push(format!(
                        "ERROR {}: MD5 {} differs from the declared {declared}: the file was damaged in transfer, upload it again",
                        file.path, file.md5
                    ));
                }
            }
        }
        for path in upload.declared_md5.keys() {
            if !upload.files.iter().any(|f| &f.path == path) {
                passed = false;
                lines.push(format!(
                    "ERROR {path}: an MD5 sum was declared for it but no such file was uploaded"
                ));
            }
        }
        (passed, lines)
    }

    fn vector_check(&self, upload: &Upload) -> (bool, Vec<String>) {
        let files = self.upload_files(upload);
        let data: Vec<&PathBuf> = files.iter().filter(|f| is_vector_file(f)).collect();
        let [file] = data.as_slice() else {
            return (
                false,
                vec![format!(
                    "ERROR a VECTOR upload holds one GeoPackage (.gpkg), one Shapefile (.shp with its .dbf, .shx, .prj, .cpg), one CSV (.csv with its .csvt, .prj) or one zip archive of them; this one holds {} ({})",
                    data.len(),
                    upload.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ")
                )],
            );
        };
        let options = vectorstore::IngestOptions {
            declared_srs: crs::Crs::parse(&upload.srs).ok(),
            zip_limits: self.options.zip_limits,
        };
        match vectorstore::check(file, &options, &mut |_, _| {}) {
            Ok(report) => {
                let mut lines: Vec<String> =
                    report.findings.iter().map(ToString::to_string).collect();
                for layer in &report.layers {
                    lines.push(format!(
                        "table '{}' ({} in the file): {} {} features in {}, {} attributes",
                        layer.name,
                        layer.source_name,
                        layer.features,
                        layer.geometry_type,
                        layer.srs,
                        layer.attributes.len()
                    ));
                }
                (!report.is_refused(), lines)
            }
            Err(e) => (false, vec![format!("ERROR {}", error_chain(&e))]),
        }
    }

    fn raster_check(&self, upload: &Upload) -> (bool, Vec<String>) {
        let files = self.upload_files(upload);
        let declared = crs::Crs::parse(&upload.srs).ok();
        // Files only GDAL reads are copied here to be checked (feature `gdal`).
        let scratch = self.upload_dir(&upload.id).join(".gdal-check");
        let mut lines = Vec::new();
        let mut passed = true;
        let mut rasters = 0;
        for path in &files {
            if !is_raster_file(path) {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                lines.push(format!("WARNING {name}: not a GeoTIFF, ignored"));
                continue;
            }
            rasters += 1;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            match pyramid::GeoTiff::open_any(path, declared.as_ref(), &scratch)
                .and_then(|tiff| tiff.verify().map(|()| tiff))
            {
                Ok(tiff) => {
                    let (w, h) = tiff.size();
                    if declared.as_ref().is_some_and(|d| !d.equivalent(tiff.crs())) {
                        passed = false;
                        lines.push(format!(
                            "ERROR {name} is in {} but the upload declares {}: declare the file's SRS, or reproject the file",
                            tiff.crs(),
                            upload.srs
                        ));
                    } else {
                        lines.push(format!(
                            "{name}: {w}×{h} pixels, {} band(s), {}",
                            tiff.channels(),
                            tiff.crs()
                        ));
                    }
                }
                Err(e) => {
                    passed = false;
                    lines.push(format!("ERROR {name}: {}", error_chain(&e)));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&scratch);
        if rasters == 0 {
            passed = false;
            lines.push(
                "ERROR a RASTER upload holds GeoTIFF files (.tif, .tiff): none was uploaded"
                    .to_owned(),
            );
        }
        (passed, lines)
    }
}

/// `lines` with every mention of `dir` (and the separator after it) removed.
pub(crate) fn without_prefix(lines: Vec<String>, dir: &Path) -> Vec<String> {
    let shown = dir.display().to_string();
    let with_separator = format!("{shown}{}", std::path::MAIN_SEPARATOR);
    lines
        .into_iter()
        .map(|line| line.replace(&with_separator, "").replace(&shown, "."))
        .collect()
}

fn require_open(upload: &Upload) -> Result<(), CatalogError> {
    if upload.status == UploadStatus::Open {
        Ok(())
    } else {
        Err(CatalogError::Conflict(format!(
            "upload '{}' is {:?}, not OPEN: files can only be added to an open upload; create a new upload",
            upload.id, upload.status
        )))
    }
}

/// A VECTOR upload's data file: a GeoPackage, a zip archive, a Shapefile's `.shp` (its `.dbf`,
/// `.shx`, `.prj` and `.cpg` are read beside it) or a CSV (its `.csvt` and `.prj` beside it).
pub(crate) fn is_vector_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        ["gpkg", "zip", "shp", "csv"]
            .iter()
            .any(|known| e.eq_ignore_ascii_case(known))
    })
}

pub(crate) fn is_raster_file(path: &Path) -> bool {
    // GeoTIFF; with the `gdal` feature also the common formats GDAL reads.
    let accepted: &[&str] = if cfg!(feature = "gdal") {
        &[
            "tif", "tiff", "jp2", "ecw", "png", "jpg", "jpeg", "vrt", "img", "asc",
        ]
    } else {
        &["tif", "tiff"]
    };
    path.extension()
        .is_some_and(|e| accepted.iter().any(|a| e.eq_ignore_ascii_case(a)))
}

/// A client path made safe: relative, no `..`, no hidden or empty parts, at most 8 levels.
fn safe_relative_path(path: &str) -> Result<PathBuf, CatalogError> {
    let bad = || {
        CatalogError::Invalid(format!(
            "path '{path}' is not a relative file path: use names like data/file.gpkg, without '..', a leading '/' or hidden parts"
        ))
    };
    if path.is_empty() || path.len() > 512 || path.contains('\\') || path.contains('\0') {
        return Err(bad());
    }
    let mut clean = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => {
                let text = part.to_string_lossy();
                if text.starts_with('.') {
                    return Err(bad());
                }
                clean.push(part);
            }
            Component::CurDir => {}
            _ => return Err(bad()),
        }
    }
    if clean.as_os_str().is_empty() || clean.components().count() > 8 {
        return Err(bad());
    }
    Ok(clean)
}

/// Streams `body` into `path` (fsynced), refusing more than `limit` bytes; (size, md5 hex).
fn write_stream(
    path: &Path,
    body: &mut dyn Read,
    limit: u64,
) -> Result<(u64, String), CatalogError> {
    let mut file = std::fs::File::create(path).map_err(|e| CatalogError::io(path, e))?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = match body.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(CatalogError::Invalid(format!(
                    "the file transfer broke off ({e}): send it again"
                )))
            }
        };
        size += read as u64;
        if size > limit {
            return Err(CatalogError::Invalid(format!(
                "the upload would exceed {limit} more bytes (api.max_upload_bytes): split the data or raise the limit"
            )));
        }
        hasher.update(&buffer[..read]);
        file.write_all(&buffer[..read])
            .map_err(|e| CatalogError::io(path, e))?;
    }
    file.sync_all().map_err(|e| CatalogError::io(path, e))?;
    Ok((size, hex(&hasher.finalize())))
}

fn md5_of(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((size, hex(&hasher.finalize())))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{
        catalog, catalog_with_limit, checked_upload, conflict, fixture, invalid, new_execution,
        not_found, open_upload, push, DS,
    };
    use crate::{NewUpload, INTEGRATION_PROCESSING};

    /// The check ids of a list, sorted.
    fn check_ids(checks: &[CheckExecution]) -> Vec<&str> {
        let mut ids: Vec<&str> = checks.iter().map(|c| c.check.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    /// The check `id` of a list.
    fn find<'a>(checks: &'a [CheckExecution], id: &str) -> &'a CheckExecution {
        checks.iter().find(|c| c.check.id == id).unwrap()
    }

    /// The log of the check `id` of a list, one string.
    fn log_of(catalog: &Catalog, checks: &[CheckExecution], id: &str) -> String {
        catalog
            .check_logs(DS, &find(checks, id).id)
            .unwrap()
            .join("\n")
    }

    #[test]
    fn an_upload_is_open_then_checking_then_closed_with_passed_checks_and_their_logs() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        assert_eq!(upload.status, UploadStatus::Open);
        assert!(upload.files.is_empty());

        push(
            &catalog,
            &upload.id,
            "data/communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        let bytes = std::fs::read(fixture("gpkg/communes_2154.gpkg")).unwrap();
        let open = catalog.upload(DS, &upload.id).unwrap();
        assert_eq!(open.status, UploadStatus::Open);
        assert_eq!(open.files.len(), 1);
        assert_eq!(open.files[0].path, "data/communes.gpkg");
        assert_eq!(open.files[0].size, bytes.len() as u64);
        assert_eq!(open.files[0].md5, hex(&Md5::digest(&bytes)));
        assert_eq!(open.size, bytes.len() as u64);
        assert!(catalog
            .options()
            .data_dir
            .join("uploads")
            .join(&upload.id)
            .join("data/communes.gpkg")
            .is_file());

        let closed = catalog.close_upload(DS, &upload.id).unwrap();
        assert_eq!(closed.status, UploadStatus::Checking);
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.asked), ["standard", "vector"]);
        assert!(checks
            .asked
            .iter()
            .all(|c| c.status == ExecutionStatus::Waiting));
        assert!(checks.in_progress.is_empty() && checks.passed.is_empty());
        assert!(checks.failed.is_empty());

        catalog.run_jobs();
        let upload = catalog.upload(DS, &upload.id).unwrap();
        assert_eq!(upload.status, UploadStatus::Closed);
        assert_eq!(upload.last_event.title, "checks passed");
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert!(checks.asked.is_empty() && checks.in_progress.is_empty());
        assert!(checks.failed.is_empty());
        assert_eq!(check_ids(&checks.passed), ["standard", "vector"]);
        for check in &checks.passed {
            assert!(check.start.is_some() && check.finish.is_some(), "{check:?}");
        }
        let standard = log_of(&catalog, &checks.passed, "standard");
        assert!(
            standard.contains(&format!("data/communes.gpkg: {} bytes, MD5", bytes.len())),
            "{standard}"
        );
        let vector = log_of(&catalog, &checks.passed, "vector");
        assert!(
            vector.contains("table 'communes_idf' (Communes-IDF in the file)"),
            "{vector}"
        );
    }

    #[test]
    fn a_vector_upload_declared_in_another_srs_is_unstable_and_the_failed_check_says_why() {
        let catalog = catalog();
        let upload = checked_upload(
            &catalog,
            UploadType::Vector,
            "EPSG:4326",
            "gpkg/communes_2154.gpkg",
        );
        assert_eq!(upload.status, UploadStatus::Unstable);
        assert_eq!(upload.last_event.title, "a check failed: read its logs");
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.passed), ["standard"]);
        assert_eq!(check_ids(&checks.failed), ["vector"]);
        assert_eq!(checks.failed[0].status, ExecutionStatus::Failure);
        let logs = log_of(&catalog, &checks.failed, "vector");
        assert!(
            logs.contains("EPSG:2154") && logs.contains("declares EPSG:4326"),
            "{logs}"
        );
    }

    #[test]
    fn a_raster_upload_is_closed_and_its_raster_check_describes_the_geotiff() {
        let catalog = catalog();
        let upload = checked_upload(
            &catalog,
            UploadType::Raster,
            "EPSG:4326",
            "rasters/rgb_4326.tif",
        );
        assert_eq!(upload.status, UploadStatus::Closed);
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.passed), ["raster", "standard"]);
        let logs = log_of(&catalog, &checks.passed, "raster");
        assert!(
            logs.contains("rgb_4326.tif: 400×300 pixels, 3 band(s)"),
            "{logs}"
        );
    }

    #[test]
    fn a_raster_upload_in_the_wrong_srs_or_without_geotiff_is_unstable_with_the_fix_in_the_log() {
        let catalog = catalog();
        let wrong_srs = checked_upload(
            &catalog,
            UploadType::Raster,
            "EPSG:2154",
            "rasters/rgb_4326.tif",
        );
        assert_eq!(wrong_srs.status, UploadStatus::Unstable);
        let checks = catalog.upload_checks(DS, &wrong_srs.id).unwrap();
        assert_eq!(check_ids(&checks.failed), ["raster"]);
        let logs = log_of(&catalog, &checks.failed, "raster");
        assert!(
            logs.contains("but the upload declares EPSG:2154")
                && logs.contains("declare the file's SRS, or reproject the file"),
            "{logs}"
        );

        let no_tiff = checked_upload(
            &catalog,
            UploadType::Raster,
            "EPSG:4326",
            "rasters/README.md",
        );
        assert_eq!(no_tiff.status, UploadStatus::Unstable);
        let checks = catalog.upload_checks(DS, &no_tiff.id).unwrap();
        let logs = log_of(&catalog, &checks.failed, "raster");
        assert!(
            logs.contains("WARNING") && logs.contains("not a GeoTIFF, ignored"),
            "{logs}"
        );
        assert!(logs.contains("none was uploaded"), "{logs}");

        // A GeoTIFF whose header is sound but whose pixels are damaged (as the SDK's own
        // sample raster is): refused by the check, not in the middle of a pyramid build.
        let mut bytes = std::fs::read(fixture("rasters/rgb_4326.tif")).unwrap();
        let middle = bytes.len() / 2;
        for byte in &mut bytes[middle..middle + 64] {
            *byte = !*byte;
        }
        let damaged = open_upload(&catalog, UploadType::Raster, "EPSG:4326");
        catalog
            .add_upload_file(DS, &damaged.id, "damaged.tif", &mut bytes.as_slice())
            .unwrap();
        catalog.close_upload(DS, &damaged.id).unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &damaged.id).unwrap().status,
            UploadStatus::Unstable
        );
        let checks = catalog.upload_checks(DS, &damaged.id).unwrap();
        let logs = log_of(&catalog, &checks.failed, "raster");
        assert!(
            logs.contains("damaged.tif") && logs.contains("the file is damaged"),
            "{logs}"
        );

        // A file that is not what its name says: the error names it as uploaded, never where
        // the server keeps it.
        let fake = open_upload(&catalog, UploadType::Raster, "EPSG:4326");
        push(&catalog, &fake.id, "sub/fake.tif", "rasters/README.md");
        catalog.close_upload(DS, &fake.id).unwrap();
        catalog.run_jobs();
        let checks = catalog.upload_checks(DS, &fake.id).unwrap();
        let logs = log_of(&catalog, &checks.failed, "raster");
        let data_dir = catalog.options().data_dir.display().to_string();
        assert!(logs.contains("fake.tif"), "{logs}");
        assert!(!logs.contains(&data_dir), "{logs}");
    }

    #[test]
    fn a_vector_upload_of_two_geopackages_fails_its_vector_check_naming_the_files() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(&catalog, &upload.id, "a.gpkg", "gpkg/communes_2154.gpkg");
        push(&catalog, &upload.id, "b.gpkg", "gpkg/communes_2154.gpkg");
        catalog.close_upload(DS, &upload.id).unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &upload.id).unwrap().status,
            UploadStatus::Unstable
        );
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.failed), ["vector"]);
        let logs = log_of(&catalog, &checks.failed, "vector");
        assert!(
            logs.contains("one GeoPackage (.gpkg), one Shapefile")
                && logs.contains("this one holds 2 (a.gpkg, b.gpkg)"),
            "{logs}"
        );
    }

    #[test]
    fn the_standard_check_runs_first_and_its_failure_aborts_the_next_one() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &upload.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        let declared = catalog
            .declare_upload_md5(
                DS,
                &upload.id,
                "0123456789abcdef0123456789abcdef  communes.gpkg\n",
            )
            .unwrap();
        assert_eq!(declared.declared_md5.len(), 1);
        catalog.close_upload(DS, &upload.id).unwrap();
        // Checks created in the same second are listed by id, which is random: give the vector
        // check the smaller one. The standard check still runs first.
        let asked = catalog.upload_checks(DS, &upload.id).unwrap().asked;
        let creation = find(&asked, "standard").creation.clone();
        catalog
            .change(false, |tx| {
                for (id, check) in [("0", "vector"), ("1", "standard")] {
                    let mut check = find(&asked, check).clone();
                    db::delete(tx, &check.id)?;
                    check.id = id.to_owned();
                    check.creation.clone_from(&creation);
                    db::put(tx, Kind::Check, DS, id, &creation, &check)?;
                }
                Ok(())
            })
            .unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &upload.id).unwrap().status,
            UploadStatus::Unstable
        );
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert!(checks.passed.is_empty());
        assert_eq!(check_ids(&checks.failed), ["standard", "vector"]);
        assert_eq!(
            find(&checks.failed, "standard").status,
            ExecutionStatus::Failure
        );
        assert_eq!(
            find(&checks.failed, "vector").status,
            ExecutionStatus::Aborted
        );
        let standard = log_of(&catalog, &checks.failed, "standard");
        assert!(
            standard.contains("differs from the declared 0123456789abcdef0123456789abcdef")
                && standard.contains("upload it again"),
            "{standard}"
        );
        let vector = catalog
            .check_logs(DS, &find(&checks.failed, "vector").id)
            .unwrap();
        assert_eq!(vector, ["not run: an earlier check failed"]);
    }

    #[test]
    fn a_declared_md5_for_a_file_never_uploaded_or_a_file_changed_on_disk_fails_the_standard_check()
    {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &upload.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog
            .declare_upload_md5(
                DS,
                &upload.id,
                "0123456789abcdef0123456789abcdef *missing.gpkg",
            )
            .unwrap();
        catalog.close_upload(DS, &upload.id).unwrap();
        // The file is damaged on disk before its checks run.
        std::fs::write(
            catalog.upload_dir(&upload.id).join("communes.gpkg"),
            b"not what was uploaded",
        )
        .unwrap();
        catalog.run_jobs();
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.failed), ["standard", "vector"]);
        assert!(checks.passed.is_empty());
        let logs = log_of(&catalog, &checks.failed, "standard");
        assert!(
            logs.contains("communes.gpkg: changed on disk since it was uploaded"),
            "{logs}"
        );
        assert!(
            logs.contains(
                "missing.gpkg: an MD5 sum was declared for it but no such file was uploaded"
            ),
            "{logs}"
        );
    }

    #[test]
    fn a_malformed_md5_file_is_refused_naming_the_line() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        let message = invalid(catalog.declare_upload_md5(
            DS,
            &upload.id,
            "0123456789abcdef0123456789abcdef  a.gpkg\nnot-a-hash  b.gpkg\n",
        ));
        assert!(
            message.contains("line 2") && message.contains("as md5sum writes it"),
            "{message}"
        );
        assert!(catalog
            .upload(DS, &upload.id)
            .unwrap()
            .declared_md5
            .is_empty());
    }

    #[test]
    fn files_can_only_be_added_to_an_open_upload() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &upload.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog.close_upload(DS, &upload.id).unwrap();
        // CHECKING, then CLOSED: refused alike, nothing written.
        for expected in ["Checking", "Closed"] {
            let message =
                conflict(catalog.add_upload_file(DS, &upload.id, "more.gpkg", &mut &b"more"[..]));
            assert!(
                message.contains(&format!("is {expected}, not OPEN"))
                    && message.contains("create a new upload"),
                "{message}"
            );
            let message = conflict(catalog.declare_upload_md5(
                DS,
                &upload.id,
                "0123456789abcdef0123456789abcdef  more.gpkg",
            ));
            assert!(message.contains("create a new upload"), "{message}");
            assert!(conflict(catalog.close_upload(DS, &upload.id)).contains("not OPEN"));
            catalog.run_jobs();
        }
        let upload = catalog.upload(DS, &upload.id).unwrap();
        assert_eq!(upload.files.len(), 1);
        assert!(!catalog.upload_dir(&upload.id).join("more.gpkg").exists());
    }

    #[test]
    fn an_empty_upload_cannot_be_closed_and_the_message_says_how_to_push_a_file() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        let message = conflict(catalog.close_upload(DS, &upload.id));
        assert!(
            message.contains(&format!("POST …/uploads/{}/data?path=NAME", upload.id)),
            "{message}"
        );
        let upload = catalog.upload(DS, &upload.id).unwrap();
        assert_eq!(upload.status, UploadStatus::Open);
        assert_eq!(
            catalog.upload_checks(DS, &upload.id).unwrap(),
            UploadChecks::default()
        );
    }

    #[test]
    fn a_file_pushed_again_replaces_the_first_and_the_upload_size_follows() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Raster, "EPSG:4326");
        catalog
            .add_upload_file(DS, &upload.id, "a.tif", &mut &[0u8; 100][..])
            .unwrap();
        catalog
            .add_upload_file(DS, &upload.id, "b.tif", &mut &[0u8; 10][..])
            .unwrap();
        catalog
            .add_upload_file(DS, &upload.id, "a.tif", &mut &[1u8; 30][..])
            .unwrap();
        let upload = catalog.upload(DS, &upload.id).unwrap();
        let files: Vec<(&str, u64)> = upload
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.size))
            .collect();
        assert_eq!(files, [("b.tif", 10), ("a.tif", 30)]);
        assert_eq!(upload.size, 40);
        assert_eq!(
            std::fs::read(catalog.upload_dir(&upload.id).join("a.tif")).unwrap(),
            [1u8; 30]
        );
    }

    #[test]
    fn an_upload_over_the_size_limit_or_outside_its_folder_is_refused_and_leaves_nothing() {
        let catalog = catalog_with_limit(1000);
        let upload = open_upload(&catalog, UploadType::Raster, "EPSG:4326");
        catalog
            .add_upload_file(DS, &upload.id, "a.tif", &mut &[0u8; 600][..])
            .unwrap();
        let message =
            invalid(catalog.add_upload_file(DS, &upload.id, "b.tif", &mut &[0u8; 600][..]));
        assert!(
            message.contains("exceed 400 more bytes (api.max_upload_bytes)")
                && message.contains("split the data or raise the limit"),
            "{message}"
        );
        let message =
            invalid(catalog.add_upload_file(DS, &upload.id, "../escape.tif", &mut &b"x"[..]));
        assert!(message.contains("without '..'"), "{message}");
        let upload = catalog.upload(DS, &upload.id).unwrap();
        assert_eq!(upload.files.len(), 1);
        assert_eq!(upload.size, 600);
        let left: Vec<_> = std::fs::read_dir(catalog.upload_dir(&upload.id))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["a.tif"], "no partial file is left behind");
        assert!(!catalog
            .options()
            .data_dir
            .join("uploads/escape.tif")
            .exists());
    }

    #[test]
    fn a_new_upload_needs_a_name_a_known_srs_and_the_default_datastore() {
        let catalog = catalog();
        let new = |name: &str, srs: &str| NewUpload {
            name: name.into(),
            description: String::new(),
            kind: UploadType::Vector,
            srs: srs.into(),
        };
        let message = invalid(catalog.create_upload(DS, new(" ", "EPSG:2154")));
        assert!(message.contains("give the upload a name"), "{message}");
        let message = invalid(catalog.create_upload(DS, new("x", "EPSG:999999")));
        assert!(
            message.contains("srs 'EPSG:999999' is not a known CRS")
                && message.contains("write it as EPSG:2154"),
            "{message}"
        );
        assert_eq!(
            not_found(catalog.create_upload("other", new("x", "EPSG:2154"))),
            ("datastore", "other".to_owned())
        );
        assert_eq!(
            not_found(catalog.upload(DS, "nope")),
            ("upload", "nope".to_owned())
        );
        assert!(catalog.uploads(DS).unwrap().is_empty());
    }

    #[test]
    fn an_upload_is_not_deleted_while_checked_or_processed_then_goes_with_its_files_and_checks() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &upload.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog.close_upload(DS, &upload.id).unwrap();
        let message = conflict(catalog.delete_upload(DS, &upload.id));
        assert!(
            message.contains("delete it once its checks are over"),
            "{message}"
        );
        catalog.run_jobs();

        let execution = catalog
            .create_execution(
                DS,
                new_execution(INTEGRATION_PROCESSING, &upload.id, serde_json::json!({})),
            )
            .unwrap();
        catalog.launch_execution(DS, &execution.id).unwrap();
        let message = conflict(catalog.delete_upload(DS, &upload.id));
        assert!(
            message.contains(&format!(
                "processing execution '{}', which is not over",
                execution.id
            )),
            "{message}"
        );
        catalog.run_jobs();

        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        catalog.delete_upload(DS, &upload.id).unwrap();
        assert!(!catalog.upload_dir(&upload.id).exists());
        not_found(catalog.upload(DS, &upload.id));
        not_found(catalog.check_execution(DS, &checks.passed[0].id));
        assert_eq!(
            not_found(catalog.delete_upload(DS, &upload.id)),
            ("upload", upload.id.clone())
        );
    }

    #[test]
    fn a_check_cut_by_a_crash_is_listed_in_progress_and_runs_again_on_resume() {
        let mut catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        push(
            &catalog,
            &upload.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog.close_upload(DS, &upload.id).unwrap();
        // The server dies in the middle of the standard check.
        let asked = catalog.upload_checks(DS, &upload.id).unwrap().asked;
        let mut standard = find(&asked, "standard").clone();
        standard.status = ExecutionStatus::Progress;
        standard.start = Some(now());
        catalog.save_check(DS, &standard, &[]).unwrap();
        catalog.restart();

        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.in_progress), ["standard"]);
        assert_eq!(check_ids(&checks.asked), ["vector"]);
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &upload.id).unwrap().status,
            UploadStatus::Checking
        );

        catalog.resume_interrupted().unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &upload.id).unwrap().status,
            UploadStatus::Closed
        );
        let checks = catalog.upload_checks(DS, &upload.id).unwrap();
        assert_eq!(check_ids(&checks.passed), ["standard", "vector"]);
    }

    #[test]
    fn client_paths_are_kept_inside_the_upload() {
        assert_eq!(
            safe_relative_path("data/a.gpkg").unwrap(),
            PathBuf::from("data/a.gpkg")
        );
        assert_eq!(
            safe_relative_path("./a.gpkg").unwrap(),
            PathBuf::from("a.gpkg")
        );
        for bad in [
            "",
            "/etc/passwd",
            "../a",
            "a/../../b",
            ".hidden",
            "a/.b/c",
            "a\\b",
            ".",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
    }
}
