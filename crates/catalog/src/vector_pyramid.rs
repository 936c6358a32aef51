//! Vector pyramids (`TIFF_PBF_MVT`, ROK4's): tables of stored vector data cut into Mapbox
//! Vector Tiles, level by level, each table on its own levels with the attributes chosen (the
//! Géoplateforme's `composition`), the slabs written crash-safe and skipped when a restarted
//! build finds them, the descriptor last with each level's tables (name, geometry type,
//! attributes with their types and small domains). Used by `tuilerie pyramid build --format
//! TIFF_PBF_MVT` and by the processing "Calcul ou mise à jour de pyramide vecteur".

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crs::{Bbox, Transformer};
use serde_json::{json, Map, Value as Json};

use crate::model::{
    Execution, ExecutionInputs, InputTypes, OutputType, Processing, ProcessingParameter, Reference,
    StoredDataStatus, StoredDataType,
};
use crate::processing::{extent_polygon, NewExecution, Outcome};
use crate::{Catalog, CatalogError};
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
    /// Where the pyramid goes: a folder, or a folder key in object storage.
    pub out: &'a pyramid::Location,
    /// Object storage, for an `out` there.
    pub storage: &'a std::sync::Arc<pyramid::ObjectStorage>,
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
    let mut writer = PyramidWriter::create(options.out, tms.clone(), spec, options.storage)?;
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
        if writer.slab_exists(matrix.id(), sc, sr)? {
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

/// Id of the processing "Calcul ou mise à jour de pyramide vecteur".
pub const VECTOR_PYRAMID_PROCESSING: &str = "generation-pyramid-vector";

/// The processing that cuts VECTOR-DB stored data into a ROK4 vector pyramid.
pub(crate) fn vector_pyramid_processing() -> Processing {
    let parameter = |name: &str, description: &str, mandatory: bool, default: Option<Json>| {
        ProcessingParameter {
            name: name.to_owned(),
            description: description.to_owned(),
            mandatory,
            default_value: default,
        }
    };
    Processing {
        id: VECTOR_PYRAMID_PROCESSING.to_owned(),
        name: "Calcul ou mise à jour de pyramide vecteur".to_owned(),
        description: "Cuts the tables of a GENERATED VECTOR-DB stored data into a ROK4 vector pyramid (TIFF_PBF_MVT): Mapbox Vector Tiles, each table on the levels and with the attributes its composition gives".to_owned(),
        input_types: InputTypes {
            upload: Vec::new(),
            stored_data: vec![StoredDataType::VectorDb.as_str().to_owned()],
        },
        output_type: OutputType {
            stored_data: StoredDataType::PyramidVector.as_str().to_owned(),
        },
        parameters: vec![
            parameter("tms", "tile matrix set id", false, Some(json!("PM"))),
            parameter("bottom_level", "finest level (tile matrix id)", true, None),
            parameter("top_level", "coarsest level (tile matrix id)", false, Some(json!("0"))),
            parameter(
                "composition",
                "[{table, bottom_level, top_level, attributes}]: the tables, each on its levels with the attributes to keep (a list, or names separated by commas); default: every table on every level with every attribute",
                false,
                None,
            ),
        ],
    }
}

/// What a vector pyramid execution cuts: the set, its levels, and each table.
struct Plan {
    tms: pyramid::TileMatrixSet,
    top: u32,
    bottom: u32,
    tables: Vec<PlannedTable>,
}

struct PlannedTable {
    table: String,
    attributes: Vec<String>,
    top: u32,
    bottom: u32,
}

impl Catalog {
    /// The stored-data input of a vector pyramid execution, checked with its parameters:
    /// (inputs, output type, SRS).
    pub(crate) fn vector_pyramid_inputs(
        &self,
        datastore: &str,
        new: &NewExecution,
    ) -> Result<(ExecutionInputs, StoredDataType, Option<String>), CatalogError> {
        if !new.inputs.upload.is_empty() {
            return Err(CatalogError::Invalid(format!(
                "processing '{VECTOR_PYRAMID_PROCESSING}' takes a VECTOR-DB stored data as input (inputs.stored_data), not uploads"
            )));
        }
        let [id] = new.inputs.stored_data.as_slice() else {
            return Err(CatalogError::Invalid(
                "inputs.stored_data: give the id of one GENERATED VECTOR-DB stored data".to_owned(),
            ));
        };
        let stored = self.stored_data(datastore, id)?;
        if stored.kind != StoredDataType::VectorDb {
            return Err(CatalogError::Invalid(format!(
                "stored data '{id}' is {}: a vector pyramid is cut from VECTOR-DB stored data",
                stored.kind.as_str()
            )));
        }
        if stored.status != StoredDataStatus::Generated {
            return Err(CatalogError::Conflict(format!(
                "stored data '{id}' is {:?}: only GENERATED stored data can be processed",
                stored.status
            )));
        }
        let metadata = self.vector_metadata(id)?;
        self.vector_pyramid_plan(&new.parameters, &metadata)?;
        let inputs = ExecutionInputs {
            upload: Vec::new(),
            stored_data: vec![Reference {
                id: stored.id.clone(),
                name: stored.name.clone(),
            }],
        };
        Ok((
            inputs,
            StoredDataType::PyramidVector,
            Some("EPSG:3857".to_owned()),
        ))
    }

    /// Reads and checks the parameters against the stored data's tables and attributes.
    fn vector_pyramid_plan(
        &self,
        parameters: &Map<String, Json>,
        metadata: &vectorstore::StoredMetadata,
    ) -> Result<Plan, CatalogError> {
        let invalid = |m: String| CatalogError::Invalid(m);
        let known = [
            "tms",
            "bottom_level",
            "top_level",
            "composition",
            "parallelization",
        ];
        if let Some(unknown) = parameters.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(format!(
                "parameter '{unknown}' is unknown to {VECTOR_PYRAMID_PROCESSING}: use {}",
                known.join(", ")
            )));
        }
        let text = |value: &Json| match value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let sets = &self.options.tile_matrix_sets;
        let tms_id = parameters.get("tms").map_or_else(|| "PM".to_owned(), text);
        let tms = sets.get(&tms_id).cloned().ok_or_else(|| {
            let ids: Vec<&str> = sets.iter().map(pyramid::TileMatrixSet::id).collect();
            invalid(format!(
                "tms '{tms_id}' is unknown: use one of {}",
                ids.join(", ")
            ))
        })?;
        let level = |value: Option<&Json>, name: &str, default: Option<&str>| {
            let id = value
                .map(text)
                .or_else(|| default.map(str::to_owned))
                .ok_or_else(|| {
                    invalid(format!(
                        "parameter '{name}' is missing: give a tile matrix id of {tms_id}"
                    ))
                })?;
            tms.matrix(&id)
                .map(pyramid::TileMatrix::level)
                .ok_or_else(|| {
                    let ids: Vec<&str> =
                        tms.matrices().iter().map(pyramid::TileMatrix::id).collect();
                    invalid(format!(
                        "{name} '{id}' is not a level of {tms_id} (levels: {})",
                        ids.join(", ")
                    ))
                })
        };
        let bottom = level(parameters.get("bottom_level"), "bottom_level", None)?;
        let top = level(parameters.get("top_level"), "top_level", Some("0"))?;
        if top > bottom {
            return Err(invalid(
                "top_level is finer than bottom_level: the top is the coarsest level".to_owned(),
            ));
        }
        let table_names: Vec<&str> = metadata.layers.iter().map(|l| l.name.as_str()).collect();
        let mut tables = Vec::new();
        match parameters.get("composition") {
            None | Some(Json::Null) => {
                for layer in &metadata.layers {
                    tables.push(PlannedTable {
                        table: layer.name.clone(),
                        attributes: layer.attributes.iter().map(|a| a.name.clone()).collect(),
                        top,
                        bottom,
                    });
                }
            }
            Some(Json::Array(items)) => {
                for (k, item) in items.iter().enumerate() {
                    let Some(item) = item.as_object() else {
                        return Err(invalid(format!("composition[{k}] is not an object {{table, bottom_level, top_level, attributes}}")));
                    };
                    let name = item.get("table").map(text).ok_or_else(|| {
                        invalid(format!(
                            "composition[{k}].table is missing: name one of {}",
                            table_names.join(", ")
                        ))
                    })?;
                    let layer = metadata
                        .layers
                        .iter()
                        .find(|l| l.name == name || l.source_name == name)
                        .ok_or_else(|| {
                            invalid(format!(
                                "composition[{k}].table '{name}' is not in the stored data (tables: {})",
                                table_names.join(", ")
                            ))
                        })?;
                    let names: Vec<String> = match item.get("attributes") {
                        None | Some(Json::Null) => {
                            layer.attributes.iter().map(|a| a.name.clone()).collect()
                        }
                        Some(Json::Array(list)) => list.iter().map(text).collect(),
                        Some(Json::String(list)) => list
                            .split(',')
                            .map(|a| a.trim().to_owned())
                            .filter(|a| !a.is_empty())
                            .collect(),
                        Some(_) => {
                            return Err(invalid(format!(
                                "composition[{k}].attributes: give a list of attribute names"
                            )));
                        }
                    };
                    let mut attributes = Vec::new();
                    for attribute in &names {
                        match layer.attribute(attribute) {
                            Some(found) => attributes.push(found.name.clone()),
                            None if GEOMETRY_NAMES
                                .contains(&attribute.to_ascii_lowercase().as_str()) => {}
                            None => {
                                let known: Vec<&str> =
                                    layer.attributes.iter().map(|a| a.name.as_str()).collect();
                                return Err(invalid(format!(
                                    "composition[{k}]: table '{}' has no attribute '{attribute}' (attributes: {})",
                                    layer.name,
                                    known.join(", ")
                                )));
                            }
                        }
                    }
                    let t = level(
                        item.get("top_level"),
                        &format!("composition[{k}].top_level"),
                        Some(&text(&json!(top))),
                    )?;
                    let b = level(
                        item.get("bottom_level"),
                        &format!("composition[{k}].bottom_level"),
                        Some(&text(&json!(bottom))),
                    )?;
                    if t > b {
                        return Err(invalid(format!(
                            "composition[{k}]: top_level is finer than bottom_level"
                        )));
                    }
                    tables.push(PlannedTable {
                        table: layer.name.clone(),
                        attributes,
                        top: t.max(top),
                        bottom: b.min(bottom),
                    });
                }
            }
            Some(_) => {
                return Err(invalid(
                    "composition: give a list of {table, bottom_level, top_level, attributes}"
                        .to_owned(),
                ));
            }
        }
        if tables.is_empty() {
            return Err(invalid(
                "composition is empty: name at least one table".to_owned(),
            ));
        }
        Ok(Plan {
            tms,
            top,
            bottom,
            tables,
        })
    }

    /// Runs a vector pyramid execution: cuts into `stored/{id}/`, keeping slabs an earlier
    /// run wrote.
    pub(crate) fn generate_vector_pyramid(
        &self,
        datastore: &str,
        execution: &Execution,
        stored_id: &str,
    ) -> Result<Outcome, String> {
        let input = execution
            .inputs
            .stored_data
            .first()
            .ok_or_else(|| "the execution has no input stored data".to_owned())?;
        let source = self
            .stored_data(datastore, &input.id)
            .map_err(|e| format!("input stored data {} is gone ({e})", input.id))?;
        let metadata = self
            .vector_metadata(&source.id)
            .map_err(|e| e.to_string())?;
        let plan = self
            .vector_pyramid_plan(&execution.parameters, &metadata)
            .map_err(|e| e.to_string())?;
        let store = vectorstore::Store::open(
            &self.stored_dir(&source.id),
            vectorstore::StoreOptions::default(),
        )
        .map_err(|e| vectorstore::error_chain(&e))?;
        let tables: Vec<SourceTable<'_>> = plan
            .tables
            .iter()
            .map(|t| SourceTable {
                store: &store,
                table: t.table.clone(),
                attributes: t.attributes.clone(),
                top: t.top,
                bottom: t.bottom,
            })
            .collect();
        self.log(
            &execution.id,
            format!(
                "{} cutting {} table(s) into levels {} to {} of {}",
                crate::now(),
                tables.len(),
                plan.top,
                plan.bottom,
                plan.tms.id()
            ),
        );
        let stored = self
            .stored_data(datastore, stored_id)
            .map_err(|e| e.to_string())?;
        let out = self.pyramid_root(&stored).map_err(|e| e.to_string())?;
        let storage = self.options.object_storage.clone();
        let last_tenth = AtomicU64::new(0);
        let report = build_vector_pyramid(
            &tables,
            &VectorPyramidOptions {
                tms: &plan.tms,
                slab_size: 16,
                settings: mvt::TileSettings::default(),
                out: &out,
                storage: &storage,
            },
            &|done, total| {
                self.report("slabs", done, total);
                let tenth = (done * 10).checked_div(total).unwrap_or(10);
                if tenth > last_tenth.fetch_max(tenth, Ordering::Relaxed) {
                    self.log(
                        &execution.id,
                        format!("{} {done}/{total} slabs", crate::now()),
                    );
                }
            },
        )
        .map_err(|e| vectorstore::error_chain(&e))?;
        self.log(
            &execution.id,
            format!(
                "{} {} tiles in {} slabs written, {} slabs kept from an earlier run, {} thinned to fit 500 kB",
                crate::now(),
                report.tiles,
                report.slabs_written,
                report.slabs_kept,
                report.thinned
            ),
        );
        // The levels written (a level no table reaches has no slab and is left out).
        let opened = pyramid::Pyramid::open_at(
            &out.join(&format!("{}.json", pyramid::PYRAMID_NAME)),
            &self.options.tile_matrix_sets,
            pyramid::CacheLimits::default(),
            &storage,
        )
        .map_err(|e| vectorstore::error_chain(&e))?;
        let levels: Vec<String> = opened.levels().iter().map(|l| l.id().to_owned()).collect();
        let tables_info: Vec<Json> = plan
            .tables
            .iter()
            .map(|t| {
                let id = |z: u32| plan.tms.matrix_at(z).map_or(String::new(), |m| m.id().to_owned());
                json!({"name": t.table, "attributes": t.attributes, "top_level": id(t.top), "bottom_level": id(t.bottom)})
            })
            .collect();
        Ok(Outcome {
            type_infos: json!({
                "tms": plan.tms.id(),
                "levels": levels,
                "format": "TIFF_PBF_MVT",
                "tables": tables_info,
            }),
            srs: Some(plan.tms.crs().code().to_owned()),
            extent: report
                .wgs84_bbox
                .map(|b| extent_polygon([b.min_x(), b.min_y(), b.max_x(), b.max_y()])),
        })
    }
}
