//! Vector pyramids (`TIFF_PBF_MVT`, ROK4's): tables of stored vector data cut into Mapbox
//! Vector Tiles, level by level, each table on its own levels with the attributes chosen (the
//! Géoplateforme's `composition`), the slabs written crash-safe and skipped when a restarted
//! build finds them, the descriptor last with each level's tables (name, geometry type,
//! attributes with their types and small domains). Used by `tuilerie pyramid build --format
//! TIFF_PBF_MVT` and by the processing "Calcul ou mise à jour de pyramide vecteur".

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crs::{Bbox, Transformer};
use pyramid::{
    PyramidError, PyramidSpec, PyramidWriter, TileFormat, TileLimits, TileMatrix, TileMatrixSet,
    VectorAttribute, VectorTable,
};

/// One table of a vector pyramid.
#[derive(Debug, Clone)]
pub struct SourceTable<'a> {
    /// The stored data holding it.
    pub store: &'a vectorstore::Store,
    /// The table's stored name.
    pub table: String,
    /// The attributes to keep (stored names).
    pub attributes: Vec<String>,
    /// Its coarsest level (tile matrix index).
    pub top: u32,
    /// Its finest level (tile matrix index).
    pub bottom: u32,
}

/// Where and how to cut.
#[derive(Debug, Clone)]
pub struct VectorPyramidOptions<'a> {
    /// The tile matrix set.
    pub tms: &'a TileMatrixSet,
    /// Tiles per slab, across and down.
    pub slab_size: u32,
    /// How tiles are written.
    pub settings: mvt::TileSettings,
    /// The output folder.
    pub out: &'a Path,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct VectorPyramidReport {
    /// Tiles written.
    pub tiles: u64,
    /// Slabs written.
    pub slabs_written: u64,
    /// Slabs kept from an earlier run.
    pub slabs_kept: u64,
    /// Tiles that had to be thinned to fit the byte budget.
    pub thinned: u64,
    /// The descriptor written.
    pub descriptor: PathBuf,
    /// The extent in CRS:84 of the tables.
    pub wgs84_bbox: Option<Bbox>,
}

/// Cuts `tables` into a vector pyramid; `progress(done, total)` as slabs are done.
pub fn build_vector_pyramid(
    tables: &[SourceTable<'_>],
    options: &VectorPyramidOptions<'_>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VectorPyramidReport, PyramidError> {
    let fail = |reason: String| PyramidError::Build { reason };
    let tms = options.tms;
    if tables.is_empty() {
        return Err(fail("no table to put in the pyramid".to_owned()));
    }
    let top = tables.iter().map(|t| t.top).min().unwrap_or(0);
    let bottom = tables.iter().map(|t| t.bottom).max().unwrap_or(0);
    // The union of the tables' extents, in the set's CRS and in CRS:84.
    let mut extent: Option<Bbox> = None;
    let mut wgs84: Option<Bbox> = None;
    for source in tables {
        let index = source
            .store
            .metadata()
            .layers
            .iter()
            .position(|l| l.name == source.table)
            .ok_or_else(|| {
                fail(format!(
                    "table '{}' is not in its stored data",
                    source.table
                ))
            })?;
        let layer = &source.store.metadata().layers[index];
        let Some([a, b, c, d]) = layer.bbox_wgs84 else {
            continue;
        };
        let Ok(geographic) = Bbox::new(a, b, c, d) else {
            continue;
        };
        let to_tms =
            Transformer::new(&crs::Crs::crs84(), tms.crs()).map_err(|e| fail(e.to_string()))?;
        let Ok(projected) = to_tms.transform_bbox(&geographic) else {
            continue;
        };
        extent = Some(extent.map_or(projected, |e| e.union(&projected)));
        wgs84 = Some(wgs84.map_or(geographic, |e| e.union(&geographic)));
    }
    let Some(extent) = extent else {
        return Err(fail(format!(
            "the tables have no extent in {}: are they empty?",
            tms.crs()
        )));
    };
    let spec = PyramidSpec {
        format: TileFormat::PbfMvt,
        channels: 1,
        nodata: Vec::new(),
        interpolation: "nn".to_owned(),
        slab_size: (options.slab_size, options.slab_size),
        path_depth: 2,
    };
    let mut writer = PyramidWriter::new(options.out, tms.clone(), spec)?;
    let mut levels: Vec<(&TileMatrix, TileLimits, Vec<&SourceTable<'_>>)> = Vec::new();
    for (level, limits) in writer.add_levels_over(top..=bottom, &extent)? {
        let Some(matrix) = tms.matrix_at(level) else {
            continue;
        };
        let chosen: Vec<&SourceTable<'_>> = tables
            .iter()
            .filter(|t| (t.top..=t.bottom).contains(&level))
            .collect();
        writer.set_level_tables(matrix.id(), descriptor_tables(&chosen))?;
        levels.push((matrix, limits, chosen));
    }
    let slabs: Vec<(&TileMatrix, u32, u32, &[&SourceTable<'_>])> = levels
        .iter()
        .flat_map(|(matrix, l, chosen)| {
            let n = options.slab_size;
            (l.min_row / n..=l.max_row / n).flat_map(move |sr| {
                (l.min_col / n..=l.max_col / n).map(move |sc| (*matrix, sc, sr, chosen.as_slice()))
            })
        })
        .collect();
    let total = slabs.len() as u64;
    progress(0, total);
    let (mut written, mut kept) = (0u64, 0u64);
    let counted = AtomicU64::new(0);
    let thinned = AtomicU64::new(0);
    for (done, (matrix, sc, sr, chosen)) in (1..).zip(slabs) {
        if chosen.is_empty() {
            progress(done, total);
            continue;
        }
        if writer.slab_file(matrix.id(), sc, sr).is_file() {
            kept += 1;
        } else if writer.write_slab_bytes(matrix.id(), sc, sr, |col, row| {
            let coord = matrix.tile(i64::from(col), i64::from(row))?;
            let b = matrix.tile_bbox(coord);
            let mut tile = mvt::Tile::new(mvt::TileOptions::with(
                [b.min_x(), b.min_y(), b.max_x(), b.max_y()],
                options.settings,
            ));
            for source in chosen {
                let attributes: Vec<&str> = source.attributes.iter().map(String::as_str).collect();
                source
                    .store
                    .add_to_tile(&source.table, &attributes, &mut tile, tms.crs(), &|| false)
                    .map_err(|e| {
                        fail(format!(
                            "tile {}/{col}/{row}: {}",
                            matrix.id(),
                            vectorstore::error_chain(&e)
                        ))
                    })?;
            }
            if tile.is_empty() {
                return Ok(None);
            }
            let encoded = tile.encode();
            if encoded.features == 0 {
                return Ok(None);
            }
            if let Some(thinning) = &encoded.thinning {
                thinned.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    level = matrix.id(),
                    col,
                    row,
                    original_bytes = thinning.original_bytes,
                    bytes = encoded.bytes.len(),
                    dropped = thinning.dropped,
                    "vector tile thinned to fit its byte budget"
                );
            }
            counted.fetch_add(1, Ordering::Relaxed);
            Ok(Some(encoded.bytes))
        })? {
            written += 1;
        }
        progress(done, total);
    }
    let descriptor = writer.finish()?;
    Ok(VectorPyramidReport {
        tiles: counted.load(Ordering::Relaxed),
        slabs_written: written,
        slabs_kept: kept,
        thinned: thinned.load(Ordering::Relaxed),
        descriptor,
        wgs84_bbox: wgs84,
    })
}

/// The descriptor's tables of a level: name, geometry type, attributes with their types and,
/// for small domains, their values.
fn descriptor_tables(chosen: &[&SourceTable<'_>]) -> Vec<VectorTable> {
    chosen
        .iter()
        .filter_map(|source| {
            let metadata = source
                .store
                .metadata()
                .layers
                .iter()
                .find(|l| l.name == source.table)?;
            let attributes = metadata
                .attributes
                .iter()
                .filter(|a| source.attributes.contains(&a.name))
                .map(|a| {
                    let values: Option<Vec<String>> = a
                        .distinct_values
                        .as_ref()
                        .map(|values| values.iter().map(ToString::to_string).collect());
                    VectorAttribute {
                        name: a.name.clone(),
                        ty: a.ty.sql().to_ascii_lowercase(),
                        count: values.as_ref().map(|v| v.len() as u64),
                        values,
                    }
                })
                .collect();
            Some(VectorTable {
                name: source.table.clone(),
                geometry: metadata.geometry_type.clone(),
                attributes,
            })
        })
        .collect()
}

/// Names a composition may give for the geometry, which is always in the tiles (the
/// Géoplateforme's workflows list the geometry column among the attributes).
pub const GEOMETRY_NAMES: &[&str] = &["geom", "geometry", "the_geom", "wkb_geometry", "shape"];
