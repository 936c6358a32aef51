#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vectorstore::{IngestOptions, Level, Report};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/gpkg")
        .join(name)
}

pub fn options(srs: Option<u32>) -> IngestOptions {
    IngestOptions {
        declared_srs: srs.map(|c| crs::Crs::from_epsg(c).expect("known CRS")),
        ..IngestOptions::default()
    }
}

pub fn ingest(name: &str, data: &Path, id: &str, srs: Option<u32>) -> Report {
    vectorstore::ingest(&fixture(name), data, id, &options(srs), &mut |_, _| {})
        .expect("ingest runs")
}

pub fn messages(report: &Report, level: Level) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.level == level)
        .map(ToString::to_string)
        .collect()
}

/// Lists every path under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                out.push(
                    p.strip_prefix(base)
                        .expect("under base")
                        .display()
                        .to_string(),
                );
                if p.is_dir() {
                    walk(base, &p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
