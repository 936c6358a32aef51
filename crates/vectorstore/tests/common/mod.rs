#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vectorstore::{
    AttributeType, Feature, IngestOptions, LayerMetadata, Level, Report, Store, StoreOptions,
};

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

/// A layer's attributes as (stored name, type), in table order.
pub fn columns(layer: &LayerMetadata) -> Vec<(&str, AttributeType)> {
    layer
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.ty))
        .collect()
}

/// Every feature of the report's first layer with a geometry (over France in a projected CRS,
/// the world in a geographic one), with the `names` attributes, in feature id order.
pub fn all_features(report: &Report, names: &[&str]) -> Vec<Feature> {
    let store = Store::open(
        report.stored.as_ref().expect("stored"),
        StoreOptions::default(),
    )
    .expect("store opens");
    let layer = &report.layers[0];
    let crs = crs::Crs::parse(&layer.srs).expect("known CRS");
    let everywhere = if crs.is_geographic() {
        crs::Bbox::new(-180.0, -90.0, 180.0, 90.0)
    } else {
        crs::Bbox::new(0.0, 6.0e6, 1.3e6, 7.2e6)
    }
    .expect("a box");
    let mut found: Vec<_> = store
        .features(&layer.name, &everywhere, &crs, 0.0, names)
        .expect("features")
        .collect();
    found.sort_by_key(|f| f.fid);
    found
}
