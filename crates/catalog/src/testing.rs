//! Helpers of the unit tests: a catalog in a temporary folder, uploads made from the fixtures,
//! processings run in the test's thread, configuration bodies, and a publisher that records what
//! it was asked to publish (and can be told to refuse).
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use crate::model::{ConfigurationBody, StoredData, Upload, UploadStatus, UploadType};
use crate::{
    Catalog, CatalogError, CatalogOptions, KeyGrant, NewExecution, NewUpload, Publication,
    Publisher, Swap,
};

pub(crate) const DS: &str = crate::DEFAULT_DATASTORE;

/// A file of the repository's `fixtures/`.
pub(crate) fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path)
}

/// A catalog in a temporary folder (dropped with the folder).
pub(crate) struct TestCatalog {
    pub(crate) catalog: Arc<Catalog>,
    /// Kept to remove the folder when the test ends.
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestCatalog {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        &self.catalog
    }
}

impl TestCatalog {
    /// Opens the data directory again, as a restarted server would: the job queue is lost.
    pub(crate) fn restart(&mut self) {
        let options = self.catalog.options().clone();
        self.catalog = Catalog::open(options).unwrap();
    }
}

pub(crate) fn catalog() -> TestCatalog {
    catalog_with_limit(1 << 30)
}

/// The engine the tests' catalogs use: SQLite, or PostgreSQL (a database per catalog on a
/// cluster the test process starts) when `TUILERIE_TEST_CATALOG=postgres` — CI runs this
/// module's tests both ways.
pub(crate) fn test_database() -> crate::CatalogDatabase {
    match std::env::var("TUILERIE_TEST_CATALOG").as_deref() {
        Ok("postgres") => {
            let cluster = pgtest::Cluster::shared()
                .unwrap_or_else(|reason| panic!("TUILERIE_TEST_CATALOG=postgres: {reason}"));
            crate::CatalogDatabase::Postgres {
                url: cluster.new_database().unwrap(),
                pool_size: 4,
                ca_file: None,
            }
        }
        Ok("sqlite") | Err(_) => crate::CatalogDatabase::Sqlite,
        Ok(other) => panic!("TUILERIE_TEST_CATALOG is sqlite or postgres, not {other}"),
    }
}

pub(crate) fn catalog_with_limit(max_upload_bytes: u64) -> TestCatalog {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(CatalogOptions {
        data_dir: dir.path().to_owned(),
        tile_matrix_sets: pyramid::TileMatrixSets::builtin(),
        max_upload_bytes,
        zip_limits: vectorstore::ZipLimits::default(),
        pyramid_store: None,
        object_storage: std::sync::Arc::new(pyramid::ObjectStorage::new(
            pyramid::ObjectSettings::default(),
        )),
        database: test_database(),
    })
    .unwrap();
    TestCatalog { catalog, _dir: dir }
}

/// An OPEN upload.
pub(crate) fn open_upload(catalog: &Catalog, kind: UploadType, srs: &str) -> Upload {
    catalog
        .create_upload(
            DS,
            NewUpload {
                name: "test upload".into(),
                description: String::new(),
                kind,
                srs: srs.into(),
            },
        )
        .unwrap()
}

/// Pushes a fixture into an upload under `name`.
pub(crate) fn push(catalog: &Catalog, upload: &str, name: &str, fixture_path: &str) {
    let mut reader = std::fs::File::open(fixture(fixture_path)).unwrap();
    catalog
        .add_upload_file(DS, upload, name, &mut reader)
        .unwrap();
}

/// An upload of one fixture, closed and checked (CLOSED or UNSTABLE).
pub(crate) fn checked_upload(
    catalog: &Catalog,
    kind: UploadType,
    srs: &str,
    fixture_path: &str,
) -> Upload {
    let upload = open_upload(catalog, kind, srs);
    let name = Path::new(fixture_path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    push(catalog, &upload.id, name, fixture_path);
    catalog.close_upload(DS, &upload.id).unwrap();
    catalog.run_jobs();
    catalog.upload(DS, &upload.id).unwrap()
}

/// The CLOSED vector upload of `communes_2154.gpkg` (tables `Communes-IDF` and `Écoles`).
pub(crate) fn communes_upload(catalog: &Catalog) -> Upload {
    let upload = checked_upload(
        catalog,
        UploadType::Vector,
        "EPSG:2154",
        "gpkg/communes_2154.gpkg",
    );
    assert_eq!(upload.status, UploadStatus::Closed);
    upload
}

/// The CLOSED raster upload of `rgb_4326.tif`.
pub(crate) fn rgb_upload(catalog: &Catalog) -> Upload {
    let upload = checked_upload(
        catalog,
        UploadType::Raster,
        "EPSG:4326",
        "rasters/rgb_4326.tif",
    );
    assert_eq!(upload.status, UploadStatus::Closed);
    upload
}

/// A new execution as a client writes it.
pub(crate) fn new_execution(processing: &str, upload: &str, parameters: Json) -> NewExecution {
    serde_json::from_value(json!({
        "processing": processing,
        "inputs": {"upload": [upload]},
        "output": {"stored_data": {"name": "out"}},
        "parameters": parameters,
    }))
    .unwrap()
}

/// Creates, launches and runs an execution; (execution id, its stored data).
pub(crate) fn process(
    catalog: &Catalog,
    processing: &str,
    upload: &str,
    parameters: Json,
) -> (String, StoredData) {
    let execution = catalog
        .create_execution(DS, new_execution(processing, upload, parameters))
        .unwrap();
    catalog.launch_execution(DS, &execution.id).unwrap();
    catalog.run_jobs();
    let stored = catalog
        .stored_data(DS, &execution.output.stored_data.id)
        .unwrap();
    (execution.id, stored)
}

/// The GENERATED VECTOR-DB of `communes_2154.gpkg`.
pub(crate) fn communes_stored(catalog: &Catalog) -> StoredData {
    let upload = communes_upload(catalog);
    let (_, stored) = process(
        catalog,
        crate::INTEGRATION_PROCESSING,
        &upload.id,
        json!({}),
    );
    assert_eq!(stored.status, crate::StoredDataStatus::Generated);
    stored
}

/// The GENERATED pyramid of `rgb_4326.tif`, PM levels 8 to 10.
pub(crate) fn rgb_pyramid(catalog: &Catalog) -> StoredData {
    let upload = rgb_upload(catalog);
    let (_, stored) = process(
        catalog,
        crate::PYRAMID_PROCESSING,
        &upload.id,
        json!({"tms": "PM", "bottom_level": "10", "top_level": "8", "compression": "png", "interpolation": "nearest"}),
    );
    assert_eq!(stored.status, crate::StoredDataStatus::Generated);
    stored
}

/// Stores an SLD of the fixtures (or given text) as a static; its id.
pub(crate) fn style(catalog: &Catalog, sld: &str) -> String {
    catalog
        .create_static(DS, "style", "GEOSERVER-STYLE", "", sld.as_bytes())
        .unwrap()
        .id
}

/// `fixtures/wms/communes.sld`: NamedLayer `communes_idf`, properties `departement` and
/// `nom_de_la_commune`.
pub(crate) fn communes_sld() -> String {
    std::fs::read_to_string(fixture("wms/communes.sld")).unwrap()
}

pub(crate) fn body(value: Json) -> ConfigurationBody {
    serde_json::from_value(value).unwrap()
}

/// A WMS-VECTOR configuration drawing one table with one style.
pub(crate) fn wms_vector(layer: &str, stored: &str, table: &str, style: &str) -> ConfigurationBody {
    body(json!({
        "type": "WMS-VECTOR",
        "name": format!("{layer} config"),
        "layer_name": layer,
        "type_infos": {
            "title": "Communes",
            "used_data": [{"stored_data": stored, "relations": [{"name": table, "style": style}]}]
        }
    }))
}

/// A pyramid configuration (WMS-RASTER or WMTS-TMS).
pub(crate) fn pyramid_config(
    kind: &str,
    layer: &str,
    stored: &str,
    top: &str,
    bottom: &str,
) -> ConfigurationBody {
    body(json!({
        "type": kind,
        "name": format!("{layer} {kind}"),
        "layer_name": layer,
        "type_infos": {
            "title": "Scan",
            "used_data": [{"stored_data": stored, "top_level": top, "bottom_level": bottom}]
        }
    }))
}

/// The message of an `Invalid` refusal.
pub(crate) fn invalid<T: std::fmt::Debug>(result: Result<T, CatalogError>) -> String {
    match result {
        Err(CatalogError::Invalid(message)) => message,
        other => panic!("expected an Invalid refusal, got {other:?}"),
    }
}

/// The message of a `Conflict` refusal.
pub(crate) fn conflict<T: std::fmt::Debug>(result: Result<T, CatalogError>) -> String {
    match result {
        Err(CatalogError::Conflict(message)) => message,
        other => panic!("expected a Conflict refusal, got {other:?}"),
    }
}

/// The (kind, id) of a `NotFound` refusal.
pub(crate) fn not_found<T: std::fmt::Debug>(
    result: Result<T, CatalogError>,
) -> (&'static str, String) {
    match result {
        Err(CatalogError::NotFound { kind, id }) => (kind, id),
        other => panic!("expected a NotFound refusal, got {other:?}"),
    }
}

/// What a [`RecordingPublisher`] has made live.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Live {
    /// The publications of the last swap.
    pub(crate) publications: Vec<Publication>,
    /// The grants of the last swap.
    pub(crate) grants: Vec<KeyGrant>,
    /// How many swaps happened.
    pub(crate) swaps: usize,
}

/// A publisher that records what it prepares and what it swaps in, and refuses while `refuse`
/// holds a reason.
#[derive(Debug, Default)]
pub(crate) struct RecordingPublisher {
    pub(crate) refuse: Mutex<Option<String>>,
    pub(crate) prepared: Mutex<usize>,
    pub(crate) live: Arc<Mutex<Live>>,
}

impl RecordingPublisher {
    pub(crate) fn live(&self) -> Live {
        self.live.lock().unwrap().clone()
    }

    pub(crate) fn refuse(&self, reason: Option<&str>) {
        *self.refuse.lock().unwrap() = reason.map(str::to_owned);
    }
}

impl Publisher for RecordingPublisher {
    fn prepare(
        &self,
        publications: &[Publication],
        grants: &[KeyGrant],
    ) -> Result<Swap, crate::PublishRefused> {
        *self.prepared.lock().unwrap() += 1;
        if let Some(reason) = self.refuse.lock().unwrap().clone() {
            return Err(reason.into());
        }
        let live = Arc::clone(&self.live);
        let publications = publications.to_vec();
        let grants = grants.to_vec();
        Ok(Box::new(move || {
            let mut live = live.lock().unwrap();
            live.publications = publications;
            live.grants = grants;
            live.swaps += 1;
        }))
    }
}

/// Sets a recording publisher on the catalog (which publishes the current state through it).
pub(crate) fn publisher(catalog: &Catalog) -> Arc<RecordingPublisher> {
    let publisher = Arc::new(RecordingPublisher::default());
    catalog
        .set_publisher(Arc::clone(&publisher) as Arc<dyn Publisher>)
        .unwrap();
    publisher
}
