//! Feeds arbitrary bytes to the upload checks as a GeoPackage, or as a zip archive when the
//! bytes start as one; other bytes are, by their first byte, a GeoPackage, a CSV, or a
//! Shapefile (the rest cut in a `.shp` and a `.dbf` at a point the next two bytes give): the
//! SQLite and GeoPackage readers, the Shapefile and dBase readers, the CSV/WKT reader, the
//! geometry blob decoder and the archive unpacker (zip bombs, traversal, entry limits) must
//! refuse bad input with a report or an error, never panic. Seed corpus: `fixtures/gpkg/`
//! (GeoPackages, hostile and plain zips) and `fixtures/ogr/` (a Shapefile, as `\x02` + split
//! + .shp + .dbf), and small CSVs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).is_ok().then_some(path)
    };
    let written = if data.starts_with(b"PK") {
        write("upload.zip", data)
    } else if data.starts_with(b"SQLite") {
        write("upload.gpkg", data)
    } else {
        match data.first().map(|b| b % 3) {
            Some(1) => write("upload.csv", &data[1..]),
            Some(2) if data.len() >= 3 => {
                let rest = &data[3..];
                let split = usize::from(u16::from_le_bytes([data[1], data[2]])).min(rest.len());
                write("upload.dbf", &rest[split..]).and_then(|_| write("upload.shp", &rest[..split]))
            }
            _ => write("upload.gpkg", data),
        }
    };
    let Some(path) = written else {
        return;
    };
    let mut progress = |_: u64, _: u64| {};
    let _ = vectorstore::check(&path, &vectorstore::IngestOptions::default(), &mut progress);
    // The geometry blob decoder on its own.
    let _ = vectorstore::decode(data);
});
