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
        check_datastore(datastore)?;
        db::get(&self.db(), Kind::Upload, datastore, id)
    }

    /// Every upload.
    pub fn uploads(&self, datastore: &str) -> Result<Vec<Upload>, CatalogError> {
        check_datastore(datastore)?;
        db::list(&self.db(), Kind::Upload, datastore)
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
        self.jobs.push(Job::Checks {
            datastore: datastore.to_owned(),
            upload: id.to_owned(),
        });
        Ok(upload)
    }

    /// The checks of an upload, by state.
    pub fn upload_checks(&self, datastore: &str, id: &str) -> Result<UploadChecks, CatalogError> {
        self.upload(datastore, id)?;
        let checks: Vec<CheckExecution> = db::list(&self.db(), Kind::Check, datastore)?;
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
        check_datastore(datastore)?;
        db::get(&self.db(), Kind::Check, datastore, id)
    }

    /// The log of a check execution.
    pub fn check_logs(&self, datastore: &str, id: &str) -> Result<Vec<String>, CatalogError> {
        self.check_execution(datastore, id)?;
        db::logs(&self.db(), id)
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
        let checks: Vec<CheckExecution> = db::list(&self.db(), Kind::Check, datastore)?;
        let mut checks: Vec<CheckExecution> =
            checks.into_iter().filter(|c| c.upload == id).collect();
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
                    "ERROR a VECTOR upload holds one GeoPackage (.gpkg) or one zip archive of GeoPackages; this one holds {} ({})",
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
                lines.push(format!(
                    "WARNING {}: not a GeoTIFF, ignored",
                    path.display()
                ));
                continue;
            }
            rasters += 1;
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            match pyramid::GeoTiff::open_any(path, declared.as_ref(), &scratch) {
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

pub(crate) fn is_vector_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gpkg") || e.eq_ignore_ascii_case("zip"))
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
