//! Safe unpacking of a zip holding GeoPackages.
//!
//! An uploaded zip is hostile until proven otherwise: entries named `../../etc/x` or absolute
//! paths, symlinks, a million tiny entries, or a few kilobytes that inflate to terabytes. We
//! refuse all of those before writing, never trust the sizes the archive declares (the bytes
//! actually inflated are counted), refuse when the disk would fill, and write only the `.gpkg`
//! entries, flat, under names we choose.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Limits applied when unpacking a zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Most entries an archive may hold.
    pub max_entries: usize,
    /// Most bytes all `.gpkg` entries may inflate to together.
    pub max_total_bytes: u64,
    /// Highest inflated/compressed ratio of an entry larger than 1 MiB.
    pub max_ratio: u64,
    /// Bytes that must stay free on the disk after unpacking.
    pub keep_free_bytes: u64,
}

impl Default for ZipLimits {
    /// 10 000 entries, 16 GiB, ratio 200 (SQLite pages compress well, bombs reach 1000+),
    /// 256 MiB kept free.
    fn default() -> ZipLimits {
        ZipLimits {
            max_entries: 10_000,
            max_total_bytes: 16 << 30,
            max_ratio: 200,
            keep_free_bytes: 256 << 20,
        }
    }
}

const RATIO_FLOOR: u64 = 1 << 20;

/// Why a zip was refused, phrased for the producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZipRefusal(pub(crate) String);

/// Whether the file starts like a zip archive.
pub(crate) fn looks_like_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"PK\x03\x04" || &head == b"PK\x05\x06")
}

/// The unpacked GeoPackages (path on disk, name in the archive) and the ignored entry names.
pub(crate) type Unpacked = (Vec<(PathBuf, String)>, Vec<String>);

/// Unpacks the `.gpkg` entries, Shapefiles and CSVs of `zip` into `dest` (which must exist) and
/// returns the paths of the GeoPackages, `.shp` and `.csv` files with their names in the archive
/// (their other parts are written beside them). Other entries are listed, unread.
pub(crate) fn unpack(zip: &Path, dest: &Path, limits: &ZipLimits) -> Result<Unpacked, ZipRefusal> {
    let refuse = |m: String| Err(ZipRefusal(m));
    let file = File::open(zip).map_err(|e| ZipRefusal(format!("cannot open the archive: {e}")))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| ZipRefusal(format!("not a readable zip archive: {e}")))?;
    if archive.len() > limits.max_entries {
        return refuse(format!(
            "the archive holds {} entries, more than the {} allowed",
            archive.len(),
            limits.max_entries
        ));
    }
    // First pass: names, kinds and declared sizes, before anything is written.
    let mut wanted = Vec::new();
    let mut ignored = Vec::new();
    let mut declared_total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| ZipRefusal(format!("entry {i} is unreadable: {e}")))?;
        let name = entry
            .name()
            .map_or_else(|_| format!("#{i}"), std::borrow::Cow::into_owned);
        if escapes(&name) || entry.enclosed_name().is_none() {
            return refuse(format!(
                "entry '{name}' points outside the archive (path traversal)"
            ));
        }
        if entry.is_symlink() {
            return refuse(format!("entry '{name}' is a symbolic link"));
        }
        if entry.is_dir() {
            continue;
        }
        if !is_data_entry(&name) {
            ignored.push(name);
            continue;
        }
        if entry.encrypted() {
            return refuse(format!("entry '{name}' is encrypted"));
        }
        let (size, compressed) = (entry.size(), entry.compressed_size());
        if size > RATIO_FLOOR && size / compressed.max(1) > limits.max_ratio {
            return refuse(format!(
                "entry '{name}' inflates {size} bytes from {compressed} (ratio over {}): a zip bomb?",
                limits.max_ratio
            ));
        }
        declared_total = declared_total.saturating_add(size);
        wanted.push((i, name, size, compressed));
    }
    if declared_total > limits.max_total_bytes {
        return refuse(format!(
            "the data files inflate to {declared_total} bytes, more than the {} allowed",
            limits.max_total_bytes
        ));
    }
    if let Some(available) = available_bytes(dest) {
        if declared_total.saturating_add(limits.keep_free_bytes) > available {
            return refuse(format!(
                "unpacking needs {declared_total} bytes but only {available} are free on the data disk"
            ));
        }
    }
    // Second pass: inflate, counting real bytes against the declared size and the limits.
    let mut out = Vec::with_capacity(wanted.len());
    let mut folders: Vec<String> = Vec::new();
    let mut written_total: u64 = 0;
    for (n, (i, name, size, compressed)) in wanted.into_iter().enumerate() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| ZipRefusal(format!("entry '{name}' is unreadable: {e}")))?;
        let base = Path::new(&name).file_name().map_or_else(
            || "data.gpkg".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let target = match companion_part(&name) {
            // The parts of one Shapefile must keep one stem in one folder: a folder per folder
            // of the archive, the stem normalised the same way for each part.
            Some((folder, stem, extension)) => {
                let index = folders
                    .iter()
                    .position(|f| *f == folder)
                    .unwrap_or_else(|| {
                        folders.push(folder);
                        folders.len() - 1
                    });
                let dir = dest.join(format!("shp{index}"));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| ZipRefusal(format!("cannot write '{}': {e}", dir.display())))?;
                dir.join(format!("{}.{extension}", crate::normalize_name(&stem)))
            }
            None => dest.join(format!("{n}_{}", crate::normalize_name(&base))),
        };
        let cap = size
            .min(limits.max_total_bytes.saturating_sub(written_total))
            .min(if size > RATIO_FLOOR {
                compressed.saturating_mul(limits.max_ratio)
            } else {
                u64::MAX
            });
        let mut file = File::create(&target)
            .map_err(|e| ZipRefusal(format!("cannot write '{}': {e}", target.display())))?;
        let copied = io::copy(&mut (&mut entry).take(cap.saturating_add(1)), &mut file)
            .map_err(|e| ZipRefusal(format!("entry '{name}' cannot be inflated: {e}")))?;
        if copied > cap {
            drop(file);
            let _ = std::fs::remove_file(&target);
            return refuse(format!(
                "entry '{name}' inflates beyond its declared size or the limits: a zip bomb?"
            ));
        }
        file.flush()
            .map_err(|e| ZipRefusal(format!("cannot write '{}': {e}", target.display())))?;
        written_total += copied;
        // Shapefiles and CSVs are named by their .shp and .csv; their other parts are beside.
        if companion_part(&name)
            .is_none_or(|(_, _, extension)| extension == "shp" || extension == "csv")
        {
            out.push((target, name));
        }
    }
    Ok((out, ignored))
}

/// Whether an entry is data this server reads: a GeoPackage, or a part of a Shapefile or CSV.
fn is_data_entry(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".gpkg") || companion_part(name).is_some()
}

/// A Shapefile's or a CSV's part: its folder in the archive, stem and lowercase extension
/// (`shp`, `shx`, `dbf`, `prj`, `cpg`; `csv`, `csvt`, `prj`).
fn companion_part(name: &str) -> Option<(String, String, String)> {
    let path = Path::new(name);
    let extension = path.extension()?.to_string_lossy().to_ascii_lowercase();
    if !["shp", "shx", "dbf", "prj", "cpg", "csv", "csvt"].contains(&extension.as_str()) {
        return None;
    }
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let folder = path
        .parent()
        .map_or_else(String::new, |p| p.to_string_lossy().into_owned());
    Some((folder, stem, extension))
}

/// Whether an entry name is absolute or climbs out with `..` (checked on both separators).
fn escapes(name: &str) -> bool {
    let unified = name.replace('\\', "/");
    if unified.starts_with('/') || unified.get(1..2) == Some(":") {
        return true;
    }
    Path::new(&unified).components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    })
}

/// Free bytes for an unprivileged user on the filesystem holding `dir`.
#[cfg(unix)]
pub(crate) fn available_bytes(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Free space is not checked on this platform.
#[cfg(not(unix))]
pub(crate) fn available_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_absolute_names_escape() {
        assert!(escapes("../x.gpkg"));
        assert!(escapes("a/../../x.gpkg"));
        assert!(escapes("..\\x.gpkg"));
        assert!(escapes("/etc/x.gpkg"));
        assert!(escapes("C:/x.gpkg"));
        assert!(!escapes("data/x.gpkg"));
        assert!(!escapes("x..y.gpkg"));
    }
}
