//! Processings (integration of a vector upload, pyramid generation from rasters), their
//! executions, and the stored data they make.
//!
//! Creating an execution creates its output stored data (GENERATING), as the Entrepôt does, so
//! a script knows the stored data id at once. Launching queues it; the job integrates or builds
//! into `stored/{id}/` and marks the stored data GENERATED (or UNSTABLE with the reason in the
//! execution's logs). Both kinds resume after a crash: integration starts over in a staging
//! folder renamed into place at the end, pyramid generation keeps the slabs already written.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::db::{self, Kind};
use crate::jobs::Job;
use crate::model::{
    Configuration, Execution, ExecutionInputs, ExecutionOutput, ExecutionStatus, InputTypes,
    OutputType, Processing, ProcessingParameter, Reference, StoredData, StoredDataReference,
    StoredDataStatus, StoredDataStorage, StoredDataType, Upload, UploadStatus, UploadType,
};
use vectorstore::error_chain;

use crate::uploads::{is_raster_file, is_vector_file, without_prefix};
use crate::vector_pyramid::{vector_pyramid_processing, VECTOR_PYRAMID_PROCESSING};
use crate::{check_datastore, event, new_id, now, Catalog, CatalogError};

/// Id of the vector integration processing.
pub const INTEGRATION_PROCESSING: &str = "integration-vector-db";
/// Id of the pyramid generation processing.
pub const PYRAMID_PROCESSING: &str = "generation-pyramid-raster";
/// Id of the Géoplateforme's newer raster pyramid processing, "Calcul ou mise à jour de
/// pyramide raster" (the one IGN's SDK workflows name): the same generation, with its
/// `parallelization` parameter.
pub const PYRAMID_UPDATE_PROCESSING: &str = "generation-update-pyramid-raster";

/// Whether a processing id builds a raster pyramid.
fn is_pyramid(id: &str) -> bool {
    id == PYRAMID_PROCESSING || id == PYRAMID_UPDATE_PROCESSING
}

/// A new execution, as a client sends it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewExecution {
    /// Processing id.
    pub processing: String,
    /// Inputs: `{"upload": ["id"]}`.
    pub inputs: NewInputs,
    /// Output: `{"stored_data": {"name": "…"}}`.
    pub output: NewOutput,
    /// Parameters of the processing.
    #[serde(default)]
    pub parameters: Map<String, Json>,
}

/// Inputs of a new execution.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct NewInputs {
    /// Upload ids.
    #[serde(default)]
    pub upload: Vec<String>,
    /// Stored data ids (no processing here takes any).
    #[serde(default)]
    pub stored_data: Vec<String>,
}

/// Output of a new execution.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewOutput {
    /// The stored data to make.
    pub stored_data: NewStoredData,
}

/// The stored data an execution makes.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewStoredData {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// An existing stored data to update instead (not supported yet: refused with a message).
    #[serde(default, rename = "_id", alias = "id")]
    pub id: Option<String>,
    /// Storage tags the Géoplateforme uses to choose a storage (accepted; one storage here).
    #[serde(default)]
    pub storage_tags: Vec<String>,
}

fn parameter(
    name: &str,
    description: &str,
    mandatory: bool,
    default: Option<Json>,
) -> ProcessingParameter {
    ProcessingParameter {
        name: name.to_owned(),
        description: description.to_owned(),
        mandatory,
        default_value: default,
    }
}

/// The processings this server runs.
pub fn processings() -> Vec<Processing> {
    vec![
        Processing {
            id: INTEGRATION_PROCESSING.to_owned(),
            name: "Intégration de données vecteur livrées en base".to_owned(),
            description: "Integrates the GeoPackage of a CLOSED VECTOR upload: one stored table per layer, with an R-tree index and normalised attribute names".to_owned(),
            input_types: InputTypes {
                upload: vec![UploadType::Vector],
                stored_data: Vec::new(),
            },
            output_type: OutputType {
                stored_data: StoredDataType::VectorDb.as_str().to_owned(),
            },
            parameters: Vec::new(),
        },
        pyramid_processing(PYRAMID_PROCESSING, "Calcul de pyramide raster"),
        pyramid_processing(
            PYRAMID_UPDATE_PROCESSING,
            "Calcul ou mise à jour de pyramide raster",
        ),
        vector_pyramid_processing(),
    ]
}

/// A raster pyramid processing (the two names the Géoplateforme gives it).
fn pyramid_processing(id: &str, name: &str) -> Processing {
    Processing {
        id: id.to_owned(),
        name: name.to_owned(),
        description: "Builds a ROK4 raster pyramid from the GeoTIFFs of CLOSED RASTER uploads; its samples follow the input's (8-bit images, or float for elevations and wider samples)".to_owned(),
        input_types: InputTypes {
            upload: vec![UploadType::Raster],
            stored_data: Vec::new(),
        },
        output_type: OutputType {
            stored_data: StoredDataType::PyramidRaster.as_str().to_owned(),
        },
        parameters: vec![
            parameter("tms", "tile matrix set id (PM, WGS84G, LAMB93…)", true, None),
            parameter("bottom_level", "finest level (tile matrix id); alias bottom", true, None),
            parameter("top_level", "coarsest level (tile matrix id); alias top", false, Some(json!("0"))),
            parameter("compression", "jpg, jpg90, png, zip or raw; default jpg for 8-bit images, zip for wider samples (which jpg and png would truncate)", false, None),
            parameter("format", "ROK4 format, e.g. TIFF_ZIP_FLOAT32 (wins over compression)", false, None),
            parameter("interpolation", "nearest, bilinear, bicubic or lanczos", false, Some(json!("bicubic"))),
            parameter("nodata", "no-data per band, e.g. \"255,255,255\"", false, None),
            parameter("parallelization", "accepted for the Géoplateforme's workflows; this server's api.job_workers and build threads decide", false, None),
        ],
    }
}

/// Pyramid generation settings, read from an execution's parameters.
struct PyramidParameters {
    tms: pyramid::TileMatrixSet,
    bottom: String,
    top: String,
    format: pyramid::TileFormat,
    interpolation: pyramid::Interpolation,
    nodata: Option<Vec<f64>>,
}

impl Catalog {
    /// The processings.
    pub fn processings(&self) -> Vec<Processing> {
        processings()
    }

    /// One processing by id.
    pub fn processing(&self, id: &str) -> Result<Processing, CatalogError> {
        processings()
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| CatalogError::NotFound {
                kind: "processing",
                id: id.to_owned(),
            })
    }

    /// Creates an execution (CREATED) and its output stored data (GENERATING).
    pub fn create_execution(
        &self,
        datastore: &str,
        new: NewExecution,
    ) -> Result<Execution, CatalogError> {
        check_datastore(datastore)?;
        let processing = processings()
            .into_iter()
            .find(|p| p.id == new.processing)
            .ok_or_else(|| {
                CatalogError::Invalid(format!(
                    "processing '{}' does not exist: use {INTEGRATION_PROCESSING} (vector upload → VECTOR-DB) or {PYRAMID_PROCESSING} (raster upload → ROK4-PYRAMID-RASTER); GET …/processings lists them",
                    new.processing
                ))
            })?;
        if let Some(id) = &new.output.stored_data.id {
            return Err(CatalogError::Invalid(format!(
                "output.stored_data._id '{id}': updating an existing stored data is not supported yet; give output.stored_data.name to make a new one"
            )));
        }
        if new.output.stored_data.name.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "output.stored_data.name is empty: name the stored data to make".to_owned(),
            ));
        }
        let (inputs, kind, srs) = if processing.id == VECTOR_PYRAMID_PROCESSING {
            self.vector_pyramid_inputs(datastore, &new)?
        } else {
            self.upload_inputs(datastore, &new, &processing)?
        };
        let stored = StoredData {
            id: new_id(),
            name: new.output.stored_data.name.clone(),
            kind,
            status: StoredDataStatus::Generating,
            srs,
            extent: None,
            size: 0,
            type_infos: json!({}),
            tags: std::collections::BTreeMap::new(),
            storage: StoredDataStorage::Filesystem,
            creation: now(),
            last_event: event("created by a processing execution"),
        };
        let stored = StoredData {
            storage: self.new_storage(kind, &stored.id),
            ..stored
        };
        let execution = Execution {
            id: new_id(),
            processing: Reference {
                id: processing.id.clone(),
                name: processing.name.clone(),
            },
            status: ExecutionStatus::Created,
            inputs,
            output: ExecutionOutput {
                stored_data: StoredDataReference {
                    id: stored.id.clone(),
                    name: stored.name.clone(),
                    kind,
                },
            },
            parameters: new.parameters,
            creation: now(),
            launch: None,
            start: None,
            finish: None,
        };
        self.change(false, |tx| {
            db::put(
                tx,
                Kind::StoredData,
                datastore,
                &stored.id,
                &stored.creation,
                &stored,
            )?;
            db::put(
                tx,
                Kind::Execution,
                datastore,
                &execution.id,
                &execution.creation,
                &execution,
            )
        })?;
        Ok(execution)
    }

    /// The upload inputs of an execution of an integration or raster pyramid processing,
    /// checked: (inputs, output type, SRS).
    fn upload_inputs(
        &self,
        datastore: &str,
        new: &NewExecution,
        processing: &Processing,
    ) -> Result<(ExecutionInputs, StoredDataType, Option<String>), CatalogError> {
        if !new.inputs.stored_data.is_empty() {
            return Err(CatalogError::Invalid(format!(
                "processing '{}' takes uploads as inputs, not stored data",
                processing.id
            )));
        }
        let expected = processing.input_types.upload[0];
        let mut uploads = Vec::new();
        for id in &new.inputs.upload {
            let upload = self.upload(datastore, id)?;
            if upload.kind != expected {
                return Err(CatalogError::Invalid(format!(
                    "upload '{id}' is {:?}; processing '{}' takes {:?} uploads",
                    upload.kind, processing.id, expected
                )));
            }
            if upload.status != UploadStatus::Closed {
                return Err(CatalogError::Conflict(format!(
                    "upload '{id}' is {:?}: only a CLOSED upload (checks passed) can be processed{}",
                    upload.status,
                    if upload.status == UploadStatus::Unstable { "; read its checks' logs" } else { "" }
                )));
            }
            uploads.push(upload);
        }
        match (processing.id.as_str(), uploads.len()) {
            (_, 0) => {
                return Err(CatalogError::Invalid(
                    "inputs.upload is empty: give the id of a CLOSED upload".to_owned(),
                ))
            }
            (INTEGRATION_PROCESSING, n) if n > 1 => {
                return Err(CatalogError::Invalid(
                    "the integration takes one upload: run one execution per upload".to_owned(),
                ))
            }
            _ => {}
        }
        let kind = if is_pyramid(&processing.id) {
            // Refused now rather than at launch: the parameters name what is wrong.
            let input = self.input_sample_type(&uploads)?;
            self.pyramid_parameters(&new.parameters, input)?;
            StoredDataType::PyramidRaster
        } else {
            if let Some(name) = new.parameters.keys().next() {
                return Err(CatalogError::Invalid(format!(
                    "processing '{}' takes no parameter ('{name}' given)",
                    processing.id
                )));
            }
            StoredDataType::VectorDb
        };
        let inputs = ExecutionInputs {
            upload: uploads
                .iter()
                .map(|u| Reference {
                    id: u.id.clone(),
                    name: u.name.clone(),
                })
                .collect(),
            stored_data: Vec::new(),
        };
        Ok((inputs, kind, uploads.first().map(|u| u.srs.clone())))
    }

    /// Launches a CREATED execution (WAITING, queued).
    pub fn launch_execution(&self, datastore: &str, id: &str) -> Result<Execution, CatalogError> {
        let execution = self.change(false, |tx| {
            let mut execution: Execution = db::get(tx, Kind::Execution, datastore, id)?;
            if execution.status != ExecutionStatus::Created {
                return Err(CatalogError::Conflict(format!(
                    "processing execution '{id}' is {:?}: only a CREATED execution can be launched",
                    execution.status
                )));
            }
            execution.status = ExecutionStatus::Waiting;
            execution.launch = Some(now());
            db::put(
                tx,
                Kind::Execution,
                datastore,
                id,
                &execution.creation,
                &execution,
            )?;
            db::log(tx, id, &[format!("{} launched", now())])?;
            Ok(execution)
        })?;
        self.enqueue(Job::Execution {
            datastore: datastore.to_owned(),
            execution: id.to_owned(),
        })?;
        Ok(execution)
    }

    /// An execution.
    pub fn execution(&self, datastore: &str, id: &str) -> Result<Execution, CatalogError> {
        self.resource(Kind::Execution, datastore, id)
    }

    /// Every execution.
    pub fn executions(&self, datastore: &str) -> Result<Vec<Execution>, CatalogError> {
        self.resources(Kind::Execution, datastore)
    }

    /// Processing executions and upload checks by status, in every datastore: `("processing",
    /// "SUCCESS", 3)`… (for `/metrics`).
    pub fn job_counts(&self) -> Result<Vec<(&'static str, String, u64)>, CatalogError> {
        self.read(|sql| {
            let mut counts = Vec::new();
            for (kind, name) in [(Kind::Execution, "processing"), (Kind::Check, "check")] {
                for (status, count) in db::count_by_status(sql, kind)? {
                    counts.push((name, status, count));
                }
            }
            Ok(counts)
        })
    }

    /// The log of an execution.
    pub fn execution_logs(&self, datastore: &str, id: &str) -> Result<Vec<String>, CatalogError> {
        self.execution(datastore, id)?;
        self.read(|sql| db::logs(sql, id))
    }

    /// A stored data.
    pub fn stored_data(&self, datastore: &str, id: &str) -> Result<StoredData, CatalogError> {
        self.resource(Kind::StoredData, datastore, id)
    }

    /// Every stored data.
    pub fn stored_datas(&self, datastore: &str) -> Result<Vec<StoredData>, CatalogError> {
        self.resources(Kind::StoredData, datastore)
    }

    /// Deletes a stored data and its files; refused while a configuration uses it or a
    /// processing is making it.
    pub fn delete_stored_data(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        let stored = self.change(false, |tx| {
            let stored: StoredData = db::get(tx, Kind::StoredData, datastore, id)?;
            let configurations: Vec<Configuration> = db::list(tx, Kind::Configuration, datastore)?;
            if let Some(user) = configurations
                .iter()
                .find(|c| c.body.type_infos.used_data.iter().any(|u| u.stored_data == id))
            {
                return Err(CatalogError::Conflict(format!(
                    "stored data '{id}' ({}) is used by configuration '{}' (layer '{}'): delete or change that configuration first",
                    stored.name, user.id, user.body.layer_name
                )));
            }
            if stored.status == StoredDataStatus::Generating {
                return Err(CatalogError::Conflict(format!(
                    "stored data '{id}' is being generated: delete it when its processing is over"
                )));
            }
            db::delete(tx, id)?;
            Ok(stored)
        })?;
        self.remove_stored_content(id, &stored)
    }

    /// Removes what a stored data holds, on disk and in object storage: when it is deleted, and
    /// when its processing failed (nothing can resume it: the space is given back at once).
    fn remove_stored_content(&self, id: &str, stored: &StoredData) -> Result<(), CatalogError> {
        let dir = self.stored_dir(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| CatalogError::io(&dir, e))?;
        }
        if let pyramid::Location::Object(prefix) = self.pyramid_root(stored)? {
            // Objects left by a failure here are only wasted space: said, not fatal.
            match self.options.object_storage.delete_all(&prefix) {
                Ok(removed) => tracing::info!(stored_data = id, removed, "objects removed"),
                Err(error) => tracing::warn!(
                    stored_data = id,
                    error = %vectorstore::error_chain(&error),
                    "objects of a stored data are left in object storage"
                ),
            }
        }
        Ok(())
    }

    /// The sample type of the rasters of `uploads`: `Float32` when any holds more than 8-bit
    /// samples (the pyramid must keep their values), else `Uint8`.
    fn input_sample_type(&self, uploads: &[Upload]) -> Result<pyramid::SampleType, CatalogError> {
        let mut types = Vec::new();
        for upload in uploads {
            let declared = crs::Crs::parse(&upload.srs).ok();
            let scratch = self.upload_dir(&upload.id).join(".gdal-sample-type");
            for file in self
                .upload_files(upload)
                .iter()
                .filter(|f| is_raster_file(f))
            {
                let opened = pyramid::GeoTiff::open_any(file, declared.as_ref(), &scratch);
                let _ = std::fs::remove_dir_all(&scratch);
                let tiff = opened.map_err(|e| {
                    let reason =
                        without_prefix(vec![error_chain(&e)], &self.upload_dir(&upload.id));
                    CatalogError::Invalid(format!("upload '{}': {}", upload.id, reason.concat()))
                })?;
                types.push(tiff.sample_type());
            }
        }
        Ok(widest_sample_type(types))
    }

    /// The parameters of a pyramid generation, for inputs of `input` samples: the format
    /// follows the input (a compression of float inputs gives a FLOAT32 format), and a format
    /// that would lose the inputs' values is refused, naming those that keep them.
    fn pyramid_parameters(
        &self,
        parameters: &Map<String, Json>,
        input: pyramid::SampleType,
    ) -> Result<PyramidParameters, CatalogError> {
        let invalid = |m: String| CatalogError::Invalid(m);
        let text = |names: &[&str]| -> Option<String> {
            names
                .iter()
                .find_map(|n| parameters.get(*n))
                .map(|v| match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                })
        };
        let known = [
            "tms",
            "bottom_level",
            "bottom",
            "top_level",
            "top",
            "compression",
            "format",
            "interpolation",
            "nodata",
            "parallelization",
        ];
        if let Some(unknown) = parameters.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(format!(
                "parameter '{unknown}' is unknown to {PYRAMID_PROCESSING}: use {}",
                known.join(", ")
            )));
        }
        let sets = &self.options.tile_matrix_sets;
        let tms_id = text(&["tms"]).ok_or_else(|| {
            invalid("parameter 'tms' is missing: give a tile matrix set id such as PM, WGS84G or LAMB93".to_owned())
        })?;
        let tms = sets.get(&tms_id).cloned().ok_or_else(|| {
            let ids: Vec<&str> = sets.iter().map(pyramid::TileMatrixSet::id).collect();
            invalid(format!(
                "tms '{tms_id}' is unknown: use one of {}",
                ids.join(", ")
            ))
        })?;
        let level = |names: &[&str], default: Option<&str>| -> Result<String, CatalogError> {
            let id = text(names).or_else(|| default.map(str::to_owned)).ok_or_else(|| {
                invalid(format!("parameter '{}' is missing: give the finest level, a tile matrix id of {tms_id}", names[0]))
            })?;
            if tms.matrix(&id).is_none() {
                let ids: Vec<&str> = tms.matrices().iter().map(pyramid::TileMatrix::id).collect();
                return Err(invalid(format!(
                    "{} '{id}' is not a level of {tms_id} (levels: {})",
                    names[0],
                    ids.join(", ")
                )));
            }
            Ok(id)
        };
        let first = tms.matrices().first().map(|m| m.id().to_owned());
        let bottom = level(&["bottom_level", "bottom"], None)?;
        let top = level(&["top_level", "top"], first.as_deref())?;
        let (Some(b), Some(t)) = (tms.matrix(&bottom), tms.matrix(&top)) else {
            return Err(invalid("levels not found".to_owned()));
        };
        if t.level() > b.level() {
            return Err(invalid(format!(
                "top_level '{top}' is finer than bottom_level '{bottom}': the top is the coarsest level"
            )));
        }
        let format = match (text(&["format"]), text(&["compression"])) {
            (Some(format), _) => {
                let format = format
                    .parse::<pyramid::TileFormat>()
                    .map_err(|e| invalid(format!("format: {e}")))?;
                if input == pyramid::SampleType::Float32
                    && format.sample_type() != pyramid::SampleType::Float32
                {
                    return Err(invalid(format!(
                        "format {} holds 8-bit samples but the input rasters hold wider values \
                         (elevations, 16-bit or float samples), which it would truncate: use {}",
                        format.name(),
                        float_formats()
                    )));
                }
                format
            }
            (None, compression) => {
                let compression = compression.as_deref().map(str::to_ascii_lowercase);
                let float = input == pyramid::SampleType::Float32;
                let name = match (compression.as_deref(), float) {
                    (None | Some("jpg" | "jpeg"), false) => "TIFF_JPG_UINT8",
                    (Some("jpg90"), false) => "TIFF_JPG90_UINT8",
                    (Some("png"), false) => "TIFF_PNG_UINT8",
                    (Some("zip" | "deflate"), false) => "TIFF_ZIP_UINT8",
                    (Some("raw" | "none"), false) => "TIFF_RAW_UINT8",
                    // Float inputs keep their values: lossless compressions only.
                    (None | Some("zip" | "deflate"), true) => "TIFF_ZIP_FLOAT32",
                    (Some("raw" | "none"), true) => "TIFF_RAW_FLOAT32",
                    (Some(lossy @ ("jpg" | "jpeg" | "jpg90" | "png")), true) => {
                        return Err(invalid(format!(
                            "compression '{lossy}' holds 8-bit images but the input rasters hold \
                             wider values (elevations, 16-bit or float samples), which it would \
                             truncate: use compression zip or raw (format {})",
                            float_formats()
                        )))
                    }
                    (Some(other), _) => {
                        return Err(invalid(format!(
                            "compression '{other}' is unknown: use jpg, jpg90, png, zip or raw (or give format, e.g. TIFF_ZIP_FLOAT32)"
                        )))
                    }
                };
                name.parse::<pyramid::TileFormat>()
                    .map_err(|e| invalid(format!("compression: {e}")))?
            }
        };
        let interpolation = text(&["interpolation"])
            .unwrap_or_else(|| "bicubic".to_owned())
            .parse::<pyramid::Interpolation>()
            .map_err(|e| invalid(format!("interpolation: {}", error_chain(&e))))?;
        let nodata = match parameters.get("nodata") {
            None | Some(Json::Null) => None,
            Some(Json::Array(values)) => Some(
                values
                    .iter()
                    .map(Json::as_f64)
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| {
                        invalid("nodata: give numbers, e.g. [255, 255, 255]".to_owned())
                    })?,
            ),
            Some(Json::Number(n)) => Some(vec![n.as_f64().unwrap_or(0.0)]),
            Some(Json::String(s)) => Some(
                s.split(',')
                    .map(|v| v.trim().parse::<f64>())
                    .collect::<Result<Vec<f64>, _>>()
                    .map_err(|_| {
                        invalid(format!(
                            "nodata '{s}': give numbers separated by commas, e.g. \"255,255,255\""
                        ))
                    })?,
            ),
            Some(_) => {
                return Err(invalid(
                    "nodata: give numbers, e.g. \"255,255,255\"".to_owned(),
                ))
            }
        };
        Ok(PyramidParameters {
            tms,
            bottom,
            top,
            format,
            interpolation,
            nodata,
        })
    }

    /// Runs a launched execution (a job).
    pub(crate) fn run_execution(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        let mut execution = self.execution(datastore, id)?;
        if execution.status.is_final() || execution.status == ExecutionStatus::Created {
            return Ok(());
        }
        execution.status = ExecutionStatus::Progress;
        execution.start = Some(now());
        self.save_execution(datastore, &execution, &format!("{} started", now()))?;
        let stored_id = execution.output.stored_data.id.clone();
        let outcome = match execution.processing.id.as_str() {
            INTEGRATION_PROCESSING => self.integrate(datastore, &execution, &stored_id),
            VECTOR_PYRAMID_PROCESSING => {
                self.generate_vector_pyramid(datastore, &execution, &stored_id)
            }
            _ => self.generate_pyramid(datastore, &execution, &stored_id),
        };
        let (status, stored_status, line) = match outcome {
            Ok(Outcome {
                type_infos,
                srs,
                extent,
            }) => {
                let size = self
                    .stored_data(datastore, &stored_id)
                    .and_then(|stored| self.stored_size(&stored))
                    .unwrap_or_else(|error| {
                        tracing::warn!(stored_data = %stored_id, %error, "size unknown");
                        0
                    });
                self.change(false, |tx| {
                    let mut stored: StoredData =
                        db::get(tx, Kind::StoredData, datastore, &stored_id)?;
                    stored.status = StoredDataStatus::Generated;
                    stored.type_infos = type_infos;
                    stored.srs = srs.or(stored.srs.take());
                    stored.extent = extent;
                    stored.size = size;
                    stored.last_event = event("generated");
                    db::put(
                        tx,
                        Kind::StoredData,
                        datastore,
                        &stored_id,
                        &stored.creation,
                        &stored,
                    )
                })?;
                (
                    ExecutionStatus::Success,
                    None,
                    format!("{} done: stored data {stored_id} is GENERATED", now()),
                )
            }
            Err(reason) => {
                // The log is for the API's users: names as they uploaded them, never where
                // this server keeps them.
                let mut lines = vec![reason];
                for upload in &execution.inputs.upload {
                    lines = without_prefix(lines, &self.upload_dir(&upload.id));
                }
                lines = without_prefix(lines, &self.stored_dir(&stored_id));
                lines = without_prefix(lines, &self.options.data_dir);
                (
                    ExecutionStatus::Failure,
                    Some(StoredDataStatus::Unstable),
                    format!("{} FAILED: {}", now(), lines.concat()),
                )
            }
        };
        if let Some(stored_status) = stored_status {
            let failed = self.change(false, |tx| {
                let Ok(mut stored) =
                    db::get::<StoredData>(tx, Kind::StoredData, datastore, &stored_id)
                else {
                    return Ok(None);
                };
                stored.status = stored_status;
                stored.size = 0;
                stored.last_event = event("its processing failed: read the execution's logs");
                db::put(
                    tx,
                    Kind::StoredData,
                    datastore,
                    &stored_id,
                    &stored.creation,
                    &stored,
                )?;
                Ok(Some(stored))
            })?;
            if let Some(stored) = failed {
                if let Err(error) = self.remove_stored_content(&stored_id, &stored) {
                    tracing::warn!(
                        stored_data = stored_id,
                        error = %error,
                        "cannot remove what a failed processing left"
                    );
                }
            }
        }
        execution.status = status;
        execution.finish = Some(now());
        self.save_execution(datastore, &execution, &line)
    }

    fn save_execution(
        &self,
        datastore: &str,
        execution: &Execution,
        line: &str,
    ) -> Result<(), CatalogError> {
        self.change(false, |tx| {
            db::put(
                tx,
                Kind::Execution,
                datastore,
                &execution.id,
                &execution.creation,
                execution,
            )?;
            db::log(tx, &execution.id, &[line.to_owned()])
        })
    }

    pub(crate) fn log(&self, id: &str, line: String) {
        if let Err(e) = self.read(|sql| db::log(sql, id, &[line])) {
            tracing::warn!(error = %e, "cannot write a job log line");
        }
    }

    /// The uploads of an execution, still CLOSED, with their files.
    fn execution_uploads(
        &self,
        datastore: &str,
        execution: &Execution,
    ) -> Result<Vec<(Upload, Vec<PathBuf>)>, String> {
        let mut found = Vec::new();
        for reference in &execution.inputs.upload {
            let upload = self.upload(datastore, &reference.id).map_err(|e| {
                format!(
                    "input upload {} is gone ({e}): the execution cannot run",
                    reference.id
                )
            })?;
            let files = self.upload_files(&upload);
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                return Err(format!(
                    "file {} of upload {} is gone",
                    missing.display(),
                    upload.id
                ));
            }
            found.push((upload, files));
        }
        Ok(found)
    }

    fn integrate(
        &self,
        datastore: &str,
        execution: &Execution,
        stored_id: &str,
    ) -> Result<Outcome, String> {
        let uploads = self.execution_uploads(datastore, execution)?;
        let (upload, files) = uploads.first().ok_or("no input upload")?;
        let file = files
            .iter()
            .find(|f| is_vector_file(f))
            .ok_or("the upload holds no GeoPackage, Shapefile, CSV or zip archive")?;
        let options = vectorstore::IngestOptions {
            declared_srs: crs::Crs::parse(&upload.srs).ok(),
            zip_limits: self.options.zip_limits,
        };
        self.log(
            &execution.id,
            format!(
                "{} integrating {}",
                now(),
                file.file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default()
            ),
        );
        let mut last_tenth = 0;
        let report = vectorstore::ingest(
            file,
            &self.options.data_dir,
            stored_id,
            &options,
            &mut |done, total| {
                self.report("features", done, total);
                let tenth = (done * 10).checked_div(total).unwrap_or(10);
                if tenth > last_tenth {
                    last_tenth = tenth;
                    self.log(&execution.id, format!("{} {done}/{total} features", now()));
                }
            },
        )
        .map_err(|e| error_chain(&e))?;
        for finding in &report.findings {
            self.log(&execution.id, finding.to_string());
        }
        if report.is_refused() {
            return Err("the data was refused: see the findings above".to_owned());
        }
        let relations: Vec<Json> = report
            .layers
            .iter()
            .map(|layer| {
                let attributes: Map<String, Json> = layer
                    .attributes
                    .iter()
                    .map(|a| (a.name.clone(), json!(a.ty)))
                    .collect();
                json!({
                    "name": layer.name,
                    "source_name": layer.source_name,
                    "type": "TABLE",
                    "geometry_type": layer.geometry_type,
                    "srs": layer.srs,
                    "features": layer.features,
                    "attributes": attributes,
                    "primary_key": ["fid"],
                })
            })
            .collect();
        let bbox = report
            .layers
            .iter()
            .filter_map(|l| l.bbox_wgs84)
            .reduce(|a, b| {
                [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ]
            });
        Ok(Outcome {
            type_infos: json!({ "relations": relations }),
            srs: report.layers.first().map(|l| l.srs.clone()),
            extent: bbox.map(extent_polygon),
        })
    }

    fn generate_pyramid(
        &self,
        datastore: &str,
        execution: &Execution,
        stored_id: &str,
    ) -> Result<Outcome, String> {
        let uploads = self.execution_uploads(datastore, execution)?;
        let stored = self
            .stored_data(datastore, stored_id)
            .map_err(|e| e.to_string())?;
        let out = self.pyramid_root(&stored).map_err(|e| e.to_string())?;
        // Inputs only GDAL reads are copied here for the build (feature `gdal`).
        let scratch = self.stored_dir(stored_id).join(".gdal-inputs");
        let mut inputs = Vec::new();
        for (upload, files) in &uploads {
            let declared = crs::Crs::parse(&upload.srs).ok();
            for file in files.iter().filter(|f| is_raster_file(f)) {
                inputs.push(
                    pyramid::GeoTiff::open_any(file, declared.as_ref(), &scratch)
                        .map_err(|e| error_chain(&e))?,
                );
            }
        }
        let input = widest_sample_type(inputs.iter().map(pyramid::GeoTiff::sample_type));
        let params = self
            .pyramid_parameters(&execution.parameters, input)
            .map_err(|e| e.to_string())?;
        let options = pyramid::BuildOptions {
            tms: params.tms.clone(),
            bottom: params.bottom.clone(),
            top: params.top.clone(),
            format: params.format,
            interpolation: params.interpolation,
            nodata: params.nodata.clone(),
            slab_size: (16, 16),
        };
        self.log(
            &execution.id,
            format!(
                "{} building levels {} to {} of {} from {} GeoTIFF(s)",
                now(),
                params.top,
                params.bottom,
                params.tms.id(),
                inputs.len()
            ),
        );
        let last_tenth = std::sync::atomic::AtomicU64::new(0);
        let storage = &self.options.object_storage;
        let report = pyramid::build_at(&inputs, &out, storage, &options, &|done, total| {
            self.report("slabs", done, total);
            let tenth = (done * 10).checked_div(total).unwrap_or(10);
            if tenth > last_tenth.fetch_max(tenth, std::sync::atomic::Ordering::Relaxed) {
                self.log(&execution.id, format!("{} {done}/{total} slabs", now()));
            }
        })
        .map_err(|e| error_chain(&e))?;
        drop(inputs);
        let _ = std::fs::remove_dir_all(&scratch);
        if matches!(out, pyramid::Location::Object(_)) {
            // Only the scratch folder was there.
            let _ = std::fs::remove_dir(self.stored_dir(stored_id));
        }
        self.log(
            &execution.id,
            format!(
                "{} {} tiles in {} slabs written, {} slabs kept from an earlier run",
                now(),
                report.tiles_written,
                report.slabs_written,
                report.slabs_skipped
            ),
        );
        pyramid_outcome(
            &out.join(&format!("{}.json", pyramid::PYRAMID_NAME)),
            &self.options.tile_matrix_sets,
            storage,
            &params,
        )
    }
}

pub(crate) struct Outcome {
    pub(crate) type_infos: Json,
    pub(crate) srs: Option<String>,
    pub(crate) extent: Option<Json>,
}

fn pyramid_outcome(
    descriptor: &pyramid::Location,
    sets: &pyramid::TileMatrixSets,
    storage: &Arc<pyramid::ObjectStorage>,
    params: &PyramidParameters,
) -> Result<Outcome, String> {
    let opened =
        pyramid::Pyramid::open_at(descriptor, sets, pyramid::CacheLimits::default(), storage)
            .map_err(|e| error_chain(&e))?;
    let levels: Vec<&str> = opened.levels().iter().map(pyramid::Level::id).collect();
    let tms = opened.tile_matrix_set();
    let extent = opened
        .levels()
        .last()
        .and_then(|level| {
            let native = opened.level_bbox(level)?;
            let to_wgs84 = crs::Transformer::new(tms.crs(), &crs::Crs::crs84()).ok()?;
            to_wgs84.transform_bbox(&native).ok()
        })
        .map(|b| extent_polygon([b.min_x(), b.min_y(), b.max_x(), b.max_y()]));
    let nodata: Vec<String> = opened.nodata().iter().map(ToString::to_string).collect();
    Ok(Outcome {
        type_infos: json!({
            "tms": tms.id(),
            "levels": levels,
            "format": params.format.to_string(),
            "channels_number": opened.channels(),
            "nodata_value": nodata.join(","),
            "interpolation": params.interpolation,
        }),
        srs: Some(tms.crs().to_string()),
        extent,
    })
}

/// A GeoJSON polygon of a lon/lat box.
pub(crate) fn extent_polygon([x0, y0, x1, y1]: [f64; 4]) -> Json {
    json!({
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    })
}

/// The sample type a pyramid of several inputs needs: `Float32` when any input is wider than
/// 8 bits, else `Uint8`.
fn widest_sample_type(types: impl IntoIterator<Item = pyramid::SampleType>) -> pyramid::SampleType {
    if types.into_iter().any(|t| t == pyramid::SampleType::Float32) {
        pyramid::SampleType::Float32
    } else {
        pyramid::SampleType::Uint8
    }
}

/// The ROK4 formats that keep float values, for messages.
fn float_formats() -> String {
    pyramid::TileFormat::all()
        .iter()
        .filter(|f| f.sample_type() == pyramid::SampleType::Float32)
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;
    use crate::testing::{
        catalog, checked_upload, communes_upload, conflict, fixture, invalid, new_execution,
        not_found, open_upload, process, push, rgb_upload, DS,
    };

    #[test]
    fn an_integration_goes_created_waiting_progress_success_and_its_stored_data_is_generated() {
        let catalog = catalog();
        let upload = communes_upload(&catalog);
        let execution = catalog
            .create_execution(
                DS,
                new_execution(INTEGRATION_PROCESSING, &upload.id, json!({})),
            )
            .unwrap();
        assert_eq!(execution.status, ExecutionStatus::Created);
        assert_eq!(execution.processing.id, INTEGRATION_PROCESSING);
        assert_eq!(execution.inputs.upload[0].id, upload.id);
        assert_eq!(execution.output.stored_data.kind, StoredDataType::VectorDb);
        assert!(execution.launch.is_none() && execution.start.is_none());
        let stored_id = execution.output.stored_data.id.clone();
        // The stored data exists at once, GENERATING, so a script knows its id.
        let stored = catalog.stored_data(DS, &stored_id).unwrap();
        assert_eq!(
            (
                stored.kind,
                stored.status,
                stored.name.as_str(),
                stored.srs.as_deref()
            ),
            (
                StoredDataType::VectorDb,
                StoredDataStatus::Generating,
                "out",
                Some("EPSG:2154")
            )
        );

        let launched = catalog.launch_execution(DS, &execution.id).unwrap();
        assert_eq!(launched.status, ExecutionStatus::Waiting);
        assert!(launched.launch.is_some());
        let logs = catalog.execution_logs(DS, &execution.id).unwrap();
        assert!(
            logs.len() == 1 && logs[0].ends_with(" launched"),
            "{logs:?}"
        );

        // While it runs: PROGRESS, its stored data GENERATING.
        let seen = Arc::new(Mutex::new(Vec::new()));
        {
            let weak = Arc::downgrade(&catalog.catalog);
            let seen = Arc::clone(&seen);
            let (execution, stored) = (execution.id.clone(), stored_id.clone());
            catalog.set_progress(Arc::new(move |what, _, _| {
                let catalog = weak.upgrade().unwrap();
                seen.lock().unwrap().push((
                    what.to_owned(),
                    catalog.execution(DS, &execution).unwrap().status,
                    catalog.stored_data(DS, &stored).unwrap().status,
                ));
            }));
        }
        catalog.run_jobs();
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|s| *s
                == (
                    "features".to_owned(),
                    ExecutionStatus::Progress,
                    StoredDataStatus::Generating
                )),
            "{seen:?}"
        );

        let done = catalog.execution(DS, &execution.id).unwrap();
        assert_eq!(done.status, ExecutionStatus::Success);
        assert!(done.start.is_some() && done.finish.is_some());
        let logs = catalog
            .execution_logs(DS, &execution.id)
            .unwrap()
            .join("\n");
        for expected in [
            " started",
            " integrating communes_2154.gpkg",
            " features",
            &format!(" done: stored data {stored_id} is GENERATED"),
        ] {
            assert!(logs.contains(expected), "{expected} in {logs}");
        }
        let stored = catalog.stored_data(DS, &stored_id).unwrap();
        assert_eq!(stored.status, StoredDataStatus::Generated);
        assert_eq!(stored.last_event.title, "generated");
        let tables: Vec<(&str, &str)> = stored.type_infos["relations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap(),
                    r["source_name"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(
            tables.contains(&("communes_idf", "Communes-IDF")),
            "{tables:?}"
        );
        assert!(tables.contains(&("ecoles", "Écoles")), "{tables:?}");
        let ring = &stored.extent.as_ref().unwrap()["coordinates"][0];
        let (lon, lat) = (ring[0][0].as_f64().unwrap(), ring[0][1].as_f64().unwrap());
        assert!(
            (1.0..4.0).contains(&lon) && (48.0..50.0).contains(&lat),
            "{ring}"
        );
        let dir = catalog.stored_dir(&stored_id);
        assert!(dir.join("data.gpkg").is_file());
        assert_eq!(stored.size, crate::disk_size(&dir));
        assert!(stored.size > 0);
    }

    #[test]
    fn a_pyramid_generation_makes_a_rok4_pyramid_raster_with_its_levels() {
        let catalog = catalog();
        let upload = rgb_upload(&catalog);
        let (execution, stored) = process(
            &catalog,
            PYRAMID_PROCESSING,
            &upload.id,
            json!({"tms": "PM", "bottom_level": "10", "top_level": "8", "compression": "png"}),
        );
        assert_eq!(
            catalog.execution(DS, &execution).unwrap().status,
            ExecutionStatus::Success
        );
        assert_eq!(stored.kind, StoredDataType::PyramidRaster);
        assert_eq!(stored.status, StoredDataStatus::Generated);
        assert_eq!(stored.srs.as_deref(), Some("EPSG:3857"));
        assert_eq!(stored.type_infos["tms"], "PM");
        assert_eq!(stored.type_infos["levels"], json!(["8", "9", "10"]));
        assert_eq!(stored.type_infos["format"], "TIFF_PNG_UINT8");
        assert_eq!(stored.type_infos["channels_number"], 3);
        assert!(stored.extent.is_some());
        assert!(catalog
            .stored_dir(&stored.id)
            .join(format!("{}.json", pyramid::PYRAMID_NAME))
            .is_file());
        let logs = catalog.execution_logs(DS, &execution).unwrap().join("\n");
        assert!(
            logs.contains("building levels 8 to 10 of PM from 1 GeoTIFF(s)")
                && logs.contains("slabs"),
            "{logs}"
        );
    }

    /// An elevation model (float32 samples) keeps its values: a compression gives a FLOAT32
    /// format, a format or compression that would truncate them is refused naming those that
    /// keep them, and the pyramid's values are the source's at 20 points.
    #[test]
    #[allow(clippy::float_cmp)] // exact: the pyramid keeps the source's samples
    fn a_float_raster_makes_a_float_pyramid_that_keeps_its_values() {
        let catalog = catalog();
        let dem = checked_upload(
            &catalog,
            UploadType::Raster,
            "EPSG:2154",
            "rasters/dem_2154.tif",
        );
        assert_eq!(dem.status, UploadStatus::Closed);
        let levels = json!({"tms": "LAMB93", "bottom_level": "13", "top_level": "11",
            "interpolation": "nearest"});
        let with = |extra: Json| {
            let mut parameters = levels.clone();
            parameters
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            parameters
        };
        for refused in [
            json!({"compression": "jpg"}),
            json!({"compression": "png"}),
            json!({"format": "TIFF_PNG_UINT8"}),
        ] {
            let message = invalid(catalog.create_execution(
                DS,
                new_execution(PYRAMID_PROCESSING, &dem.id, with(refused)),
            ));
            assert!(
                message.contains("truncate") && message.contains("TIFF_ZIP_FLOAT32"),
                "{message}"
            );
        }
        let (execution, stored) = process(
            &catalog,
            PYRAMID_PROCESSING,
            &dem.id,
            with(json!({"compression": "zip"})),
        );
        assert_eq!(
            catalog.execution(DS, &execution).unwrap().status,
            ExecutionStatus::Success
        );
        assert_eq!(stored.type_infos["format"], "TIFF_ZIP_FLOAT32");
        // No compression given: lossless float too.
        let (_, default) = process(&catalog, PYRAMID_PROCESSING, &dem.id, levels.clone());
        assert_eq!(default.type_infos["format"], "TIFF_ZIP_FLOAT32");

        let source = pyramid::GeoTiff::open(&fixture("rasters/dem_2154.tif"), None).unwrap();
        let built = pyramid::Pyramid::open(
            &catalog
                .stored_dir(&stored.id)
                .join(format!("{}.json", pyramid::PYRAMID_NAME)),
            &catalog.options().tile_matrix_sets,
            pyramid::CacheLimits::default(),
        )
        .unwrap();
        let lamb93 = crs::Crs::parse("EPSG:2154").unwrap();
        let mut compared = 0;
        for k in 0..20_i64 {
            // Source pixel centres spread over the raster, outside the no-data corner.
            let (col, row) = (25 + (k * 37) % 170, 25 + (k * 53) % 130);
            let expected = source.window(col, row, 1, 1).unwrap().data[0];
            let (x, y) = (
                640_000.0 + (col as f64 + 0.5) * 100.0,
                6_876_000.0 - (row as f64 + 0.5) * 100.0,
            );
            let bbox = crs::Bbox::new(x - 6.0, y - 6.0, x + 6.0, y + 6.0).unwrap();
            let request = pyramid::WarpRequest {
                crs: &lamb93,
                bbox: &bbox,
                width: 1,
                height: 1,
                interpolation: pyramid::Interpolation::Nearest,
                levels: 0..=u32::MAX,
            };
            let value = built.value_at(&request, 0, 0).unwrap().unwrap();
            assert_eq!(value.values[0] as f32, expected, "pixel {col},{row}");
            assert!(expected.fract() != 0.0 || expected.abs() > 255.0 || expected < 0.0);
            compared += 1;
        }
        assert_eq!(compared, 20);
    }

    /// The Géoplateforme's newer name of the processing, with the parameters IGN's SDK
    /// tutorial sends (`top`, `bottom`, `parallelization`, `storage_tags`).
    #[test]
    fn the_sdk_tutorial_pyramid_runs_under_its_geoplateforme_name() {
        let catalog = catalog();
        let upload = rgb_upload(&catalog);
        let processing = catalog.processing(PYRAMID_UPDATE_PROCESSING).unwrap();
        assert_eq!(processing.name, "Calcul ou mise à jour de pyramide raster");
        let parameters = json!({"parallelization": 4, "top": "8", "bottom": "9", "tms": "PM",
            "compression": "jpg", "interpolation": "bicubic"});
        let new: NewExecution = serde_json::from_value(json!({
            "processing": PYRAMID_UPDATE_PROCESSING,
            "inputs": {"upload": [upload.id]},
            "output": {"stored_data": {"name": "pyramide", "storage_tags": ["PYRAMIDE"]}},
            "parameters": parameters,
        }))
        .unwrap();
        let execution = catalog.create_execution(DS, new).unwrap();
        catalog.launch_execution(DS, &execution.id).unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.execution(DS, &execution.id).unwrap().status,
            ExecutionStatus::Success
        );
        let update: NewExecution = serde_json::from_value(json!({
            "processing": PYRAMID_UPDATE_PROCESSING,
            "inputs": {"upload": [upload.id]},
            "output": {"stored_data": {"_id": execution.output.stored_data.id}},
            "parameters": parameters,
        }))
        .unwrap();
        let message = invalid(catalog.create_execution(DS, update));
        assert!(message.contains("not supported yet"), "{message}");
        assert!(matches!(
            catalog.processing("nope"),
            Err(CatalogError::NotFound { .. })
        ));
    }

    #[test]
    fn only_a_closed_upload_can_be_processed_and_a_refusal_makes_no_stored_data() {
        let catalog = catalog();
        let open = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        let message = conflict(catalog.create_execution(
            DS,
            new_execution(INTEGRATION_PROCESSING, &open.id, json!({})),
        ));
        assert!(
            message.contains(&format!("upload '{}' is Open", open.id))
                && message.contains("only a CLOSED upload (checks passed) can be processed"),
            "{message}"
        );
        push(
            &catalog,
            &open.id,
            "communes.gpkg",
            "gpkg/communes_2154.gpkg",
        );
        catalog.close_upload(DS, &open.id).unwrap();
        let message = conflict(catalog.create_execution(
            DS,
            new_execution(INTEGRATION_PROCESSING, &open.id, json!({})),
        ));
        assert!(message.contains("is Checking"), "{message}");

        let unstable = checked_upload(
            &catalog,
            UploadType::Vector,
            "EPSG:4326",
            "gpkg/communes_2154.gpkg",
        );
        let message = conflict(catalog.create_execution(
            DS,
            new_execution(INTEGRATION_PROCESSING, &unstable.id, json!({})),
        ));
        assert!(
            message.contains("is Unstable") && message.contains("read its checks' logs"),
            "{message}"
        );
        assert!(catalog.stored_datas(DS).unwrap().is_empty());
        assert!(catalog.executions(DS).unwrap().is_empty());
    }

    #[test]
    fn inputs_and_outputs_of_an_execution_are_checked_before_anything_is_created() {
        let catalog = catalog();
        let vector = communes_upload(&catalog);
        let raster = rgb_upload(&catalog);
        let execution =
            |value: serde_json::Value| -> NewExecution { serde_json::from_value(value).unwrap() };

        let message = invalid(
            catalog.create_execution(DS, new_execution("tiling-vector", &vector.id, json!({}))),
        );
        assert!(
            message.contains("processing 'tiling-vector' does not exist")
                && message.contains(INTEGRATION_PROCESSING)
                && message.contains(PYRAMID_PROCESSING),
            "{message}"
        );
        let message = invalid(catalog.create_execution(
            DS,
            new_execution(INTEGRATION_PROCESSING, &raster.id, json!({})),
        ));
        assert!(message.contains("takes Vector uploads"), "{message}");
        let message = invalid(catalog.create_execution(
            DS,
            execution(json!({"processing": INTEGRATION_PROCESSING, "inputs": {}, "output": {"stored_data": {"name": "x"}}})),
        ));
        assert!(
            message.contains("give the id of a CLOSED upload"),
            "{message}"
        );
        let message = invalid(catalog.create_execution(
            DS,
            execution(json!({"processing": INTEGRATION_PROCESSING, "inputs": {"upload": [vector.id, vector.id]}, "output": {"stored_data": {"name": "x"}}})),
        ));
        assert!(
            message.contains("run one execution per upload"),
            "{message}"
        );
        let message = invalid(catalog.create_execution(
            DS,
            execution(json!({"processing": INTEGRATION_PROCESSING, "inputs": {"upload": [vector.id], "stored_data": ["s"]}, "output": {"stored_data": {"name": "x"}}})),
        ));
        assert!(
            message.contains("takes uploads as inputs, not stored data"),
            "{message}"
        );
        let message = invalid(catalog.create_execution(
            DS,
            execution(json!({"processing": INTEGRATION_PROCESSING, "inputs": {"upload": [vector.id]}, "output": {"stored_data": {"name": " "}}})),
        ));
        assert!(
            message.contains("name the stored data to make"),
            "{message}"
        );
        assert_eq!(
            not_found(
                catalog
                    .create_execution(DS, new_execution(INTEGRATION_PROCESSING, "nope", json!({})))
            ),
            ("upload", "nope".to_owned())
        );
        assert!(catalog.stored_datas(DS).unwrap().is_empty());
        assert!(catalog.executions(DS).unwrap().is_empty());
    }

    #[test]
    fn unknown_or_wrong_processing_parameters_are_refused_naming_the_choices() {
        let catalog = catalog();
        let vector = communes_upload(&catalog);
        let raster = rgb_upload(&catalog);
        let message = invalid(catalog.create_execution(
            DS,
            new_execution(INTEGRATION_PROCESSING, &vector.id, json!({"tms": "PM"})),
        ));
        assert!(
            message.contains("takes no parameter ('tms' given)"),
            "{message}"
        );

        let pyramid = |parameters: serde_json::Value| {
            invalid(catalog.create_execution(
                DS,
                new_execution(PYRAMID_PROCESSING, &raster.id, parameters),
            ))
        };
        for (parameters, expected) in [
            (
                json!({"tms": "PM", "bottom_level": "10", "zoom": 3}),
                "parameter 'zoom' is unknown to generation-pyramid-raster: use tms, bottom_level",
            ),
            (
                json!({"bottom_level": "10"}),
                "parameter 'tms' is missing: give a tile matrix set id such as PM",
            ),
            (
                json!({"tms": "NOPE", "bottom_level": "10"}),
                "tms 'NOPE' is unknown: use one of",
            ),
            (
                json!({"tms": "PM"}),
                "parameter 'bottom_level' is missing: give the finest level",
            ),
            (
                json!({"tms": "PM", "bottom_level": "33"}),
                "bottom_level '33' is not a level of PM (levels: 0, 1,",
            ),
            (
                json!({"tms": "PM", "bottom_level": "8", "top_level": "10"}),
                "top_level '10' is finer than bottom_level '8': the top is the coarsest level",
            ),
            (
                json!({"tms": "PM", "bottom_level": "10", "compression": "gif"}),
                "compression 'gif' is unknown: use jpg, jpg90, png, zip or raw",
            ),
            (
                json!({"tms": "PM", "bottom_level": "10", "nodata": "255,x"}),
                "nodata '255,x': give numbers separated by commas",
            ),
            (
                json!({"tms": "PM", "bottom_level": "10", "interpolation": "smooth"}),
                "interpolation: ",
            ),
        ] {
            let message = pyramid(parameters.clone());
            assert!(message.contains(expected), "{parameters}: {message}");
        }
        assert!(catalog.stored_datas(DS).unwrap().is_empty());
        // The tms is listed among the choices.
        assert!(pyramid(json!({"tms": "NOPE", "bottom_level": "1"})).contains("PM"));
    }

    #[test]
    fn an_execution_runs_only_once_launched_and_is_launched_once() {
        let catalog = catalog();
        let upload = communes_upload(&catalog);
        let execution = catalog
            .create_execution(
                DS,
                new_execution(INTEGRATION_PROCESSING, &upload.id, json!({})),
            )
            .unwrap();
        let stored = execution.output.stored_data.id.clone();
        catalog.run_jobs();
        catalog.resume_interrupted().unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.execution(DS, &execution.id).unwrap().status,
            ExecutionStatus::Created
        );
        // Its stored data is not deleted while it may still be made.
        let message = conflict(catalog.delete_stored_data(DS, &stored));
        assert!(
            message.contains("delete it when its processing is over"),
            "{message}"
        );

        catalog.launch_execution(DS, &execution.id).unwrap();
        let message = conflict(catalog.launch_execution(DS, &execution.id));
        assert!(
            message.contains("is Waiting: only a CREATED execution can be launched"),
            "{message}"
        );
        catalog.run_jobs();
        let message = conflict(catalog.launch_execution(DS, &execution.id));
        assert!(message.contains("is Success"), "{message}");
        assert_eq!(
            not_found(catalog.launch_execution(DS, "nope")),
            ("processing execution", "nope".to_owned())
        );
        let logs = catalog.execution_logs(DS, &execution.id).unwrap();
        assert_eq!(
            logs.iter().filter(|l| l.ends_with(" started")).count(),
            1,
            "{logs:?}"
        );

        // Over and unused: deleted with its files.
        catalog.delete_stored_data(DS, &stored).unwrap();
        assert!(!catalog.stored_dir(&stored).exists());
        assert_eq!(
            not_found(catalog.stored_data(DS, &stored)),
            ("stored data", stored.clone())
        );
    }

    #[test]
    fn a_failed_integration_ends_failure_with_its_reason_and_leaves_unstable_stored_data() {
        let catalog = catalog();
        let upload = communes_upload(&catalog);
        // The checked file is damaged before it is integrated.
        std::fs::write(
            catalog.upload_dir(&upload.id).join("communes_2154.gpkg"),
            b"not a geopackage",
        )
        .unwrap();
        let (execution, stored) = process(&catalog, INTEGRATION_PROCESSING, &upload.id, json!({}));
        let execution = catalog.execution(DS, &execution).unwrap();
        assert_eq!(execution.status, ExecutionStatus::Failure);
        assert!(execution.finish.is_some());
        let logs = catalog.execution_logs(DS, &execution.id).unwrap();
        let last = logs.last().unwrap();
        assert!(last.contains(" FAILED: "), "{logs:?}");
        assert_eq!(stored.status, StoredDataStatus::Unstable);
        assert_eq!(
            stored.last_event.title,
            "its processing failed: read the execution's logs"
        );
        assert!(!catalog.stored_dir(&stored.id).join("data.gpkg").exists());
        // An UNSTABLE stored data can be deleted.
        catalog.delete_stored_data(DS, &stored.id).unwrap();
        assert!(catalog.stored_datas(DS).unwrap().is_empty());
    }
}
