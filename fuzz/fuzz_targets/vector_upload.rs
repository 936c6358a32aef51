//! Feeds arbitrary bytes to the upload checks as a GeoPackage, or as a zip archive of them
//! when the bytes start as one: the SQLite and GeoPackage readers, the geometry blob decoder
//! and the archive unpacker (zip bombs, traversal, entry limits) must refuse bad input with a
//! report or an error, never panic. Seed corpus: `fixtures/gpkg/` (GeoPackages, hostile and
//! plain zips).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let name = if data.starts_with(b"PK") {
        "upload.zip"
    } else {
        "upload.gpkg"
    };
    let path = dir.path().join(name);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let mut progress = |_: u64, _: u64| {};
    let _ = vectorstore::check(&path, &vectorstore::IngestOptions::default(), &mut progress);
    // The geometry blob decoder on its own.
    let _ = vectorstore::decode(data);
});
