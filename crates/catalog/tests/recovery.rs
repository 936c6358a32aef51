//! Jobs interrupted by a crash run again when the catalog is opened next, and end SUCCESS (or
//! FAILURE with a reason, their stored data UNSTABLE); nothing is left half-made.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::path::{Path, PathBuf};

use catalog::{
    Catalog, CatalogOptions, ExecutionStatus, NewExecution, NewUpload, StoredDataStatus,
    UploadStatus, UploadType,
};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

fn open(dir: &Path) -> std::sync::Arc<Catalog> {
    Catalog::open(CatalogOptions {
        data_dir: dir.to_owned(),
        tile_matrix_sets: pyramid::TileMatrixSets::builtin(),
        max_upload_bytes: 1 << 30,
        zip_limits: vectorstore::ZipLimits::default(),
        pyramid_store: None,
        object_storage: std::sync::Arc::new(pyramid::ObjectStorage::new(
            pyramid::ObjectSettings::default(),
        )),
        database: catalog::CatalogDatabase::Sqlite,
    })
    .unwrap()
}

const DS: &str = catalog::DEFAULT_DATASTORE;

fn closed_upload(catalog: &Catalog, kind: UploadType, srs: &str, file: &Path) -> String {
    let upload = catalog
        .create_upload(
            DS,
            NewUpload {
                name: "u".into(),
                description: String::new(),
                kind,
                srs: srs.into(),
            },
        )
        .unwrap();
    let mut reader = std::fs::File::open(file).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    catalog
        .add_upload_file(DS, &upload.id, &name, &mut reader)
        .unwrap();
    catalog.close_upload(DS, &upload.id).unwrap();
    upload.id
}

fn launch(
    catalog: &Catalog,
    processing: &str,
    upload: &str,
    parameters: serde_json::Value,
) -> (String, String) {
    let new: NewExecution = serde_json::from_value(serde_json::json!({
        "processing": processing, "inputs": {"upload": [upload]},
        "output": {"stored_data": {"name": "out"}}, "parameters": parameters,
    }))
    .unwrap();
    let execution = catalog.create_execution(DS, new).unwrap();
    catalog.launch_execution(DS, &execution.id).unwrap();
    (execution.id, execution.output.stored_data.id)
}

#[test]
fn checks_and_an_integration_cut_by_a_crash_run_again_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let (upload, execution, stored);
    {
        let catalog = open(dir.path());
        upload = closed_upload(
            &catalog,
            UploadType::Vector,
            "EPSG:2154",
            &fixture("gpkg/communes_2154.gpkg"),
        );
        // The process dies before the checks ran: the upload stays CHECKING.
        assert_eq!(
            catalog.upload(DS, &upload).unwrap().status,
            UploadStatus::Checking
        );
    }
    {
        let catalog = open(dir.path());
        // Opening alone (as `tuilerie publish` does beside a running server) runs nobody's
        // jobs: only the server resumes them.
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &upload).unwrap().status,
            UploadStatus::Checking
        );
        catalog.resume_interrupted().unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.upload(DS, &upload).unwrap().status,
            UploadStatus::Closed
        );
        (execution, stored) = launch(
            &catalog,
            catalog::INTEGRATION_PROCESSING,
            &upload,
            serde_json::json!({}),
        );
        // The process dies mid-integration: a staging folder is left half-written.
        let staging = dir.path().join("stored").join(format!(".{stored}.partial"));
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("data.gpkg"), b"half a file").unwrap();
    }
    let catalog = open(dir.path());
    catalog.resume_interrupted().unwrap();
    catalog.run_jobs();
    let done = catalog.execution(DS, &execution).unwrap();
    assert_eq!(done.status, ExecutionStatus::Success);
    assert!(catalog
        .execution_logs(DS, &execution)
        .unwrap()
        .iter()
        .any(|l| l.contains("resumed")));
    let stored_data = catalog.stored_data(DS, &stored).unwrap();
    assert_eq!(stored_data.status, StoredDataStatus::Generated);
    assert!(dir
        .path()
        .join("stored")
        .join(&stored)
        .join("data.gpkg")
        .is_file());
    assert!(!dir
        .path()
        .join("stored")
        .join(format!(".{stored}.partial"))
        .exists());
}

#[test]
fn a_job_whose_input_vanished_during_the_crash_fails_with_a_reason_and_its_stored_data_is_unstable()
{
    let dir = tempfile::tempdir().unwrap();
    let (execution, stored);
    {
        let catalog = open(dir.path());
        let upload = closed_upload(
            &catalog,
            UploadType::Raster,
            "EPSG:4326",
            &fixture("rasters/rgb_4326.tif"),
        );
        catalog.run_jobs();
        (execution, stored) = launch(
            &catalog,
            catalog::PYRAMID_PROCESSING,
            &upload,
            serde_json::json!({"tms": "PM", "bottom_level": "10", "top_level": "8"}),
        );
        std::fs::remove_dir_all(dir.path().join("uploads").join(&upload)).unwrap();
    }
    let catalog = open(dir.path());
    catalog.resume_interrupted().unwrap();
    catalog.run_jobs();
    assert_eq!(
        catalog.execution(DS, &execution).unwrap().status,
        ExecutionStatus::Failure
    );
    let logs = catalog.execution_logs(DS, &execution).unwrap().join("\n");
    assert!(logs.contains("is gone"), "{logs}");
    assert_eq!(
        catalog.stored_data(DS, &stored).unwrap().status,
        StoredDataStatus::Unstable
    );
}
