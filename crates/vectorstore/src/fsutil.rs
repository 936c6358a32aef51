//! Crash-safe file system steps: fsync files and directories, write then rename.

use std::fs::File;
use std::path::Path;

use crate::VectorError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VectorError + '_ {
    move |source| VectorError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Flushes a file's data and metadata to disk.
pub(crate) fn sync_file(path: &Path) -> Result<(), VectorError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Flushes a directory entry list (so that renames inside it survive a crash).
pub(crate) fn sync_dir(path: &Path) -> Result<(), VectorError> {
    #[cfg(unix)]
    {
        File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(io(path))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Writes `bytes` to `path` and fsyncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), VectorError> {
    std::fs::write(path, bytes).map_err(io(path))?;
    sync_file(path)
}

/// Removes a directory tree if it exists.
pub(crate) fn remove_tree(path: &Path) -> Result<(), VectorError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Creates a directory and its parents.
pub(crate) fn create_dir_all(path: &Path) -> Result<(), VectorError> {
    std::fs::create_dir_all(path).map_err(io(path))
}

/// Renames, fsyncing the parent directory afterwards.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), VectorError> {
    std::fs::rename(from, to).map_err(io(to))?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}
