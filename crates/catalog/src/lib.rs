//! The publication catalog: what producers uploaded, what was made of it, and what is
//! published where — the resources of the Géoplateforme's Entrepôt API (uploads, processing
//! executions, stored data, statics, configurations, offerings, permissions and keys), with
//! their states and validations, persisted in SQLite (one server, the default) or PostgreSQL
//! (several servers sharing one catalog: changes announced to all by `LISTEN/NOTIFY`).
//!
//! Why a crate of its own: the request path never reads this database. The server asks
//! [`Catalog::publications`] for the published layers, builds an immutable snapshot from them
//! and swaps it in; the catalog calls its [`Publisher`] inside the transaction that changes a
//! publication, *before* committing, so a publication that cannot be served is refused and
//! nothing is ever half-published.
//!
//! Slow work (checks of an upload, integration of a GeoPackage, pyramid generation) runs as
//! jobs on a bounded pool of worker threads ([`Catalog::start_workers`]), with a log per job.
//! Job state lives in the resources themselves, and who runs a job is a claim with a heartbeat
//! in the database, so a restart — or another server, when one dies — finds interrupted jobs
//! and runs them again: integration starts over in a staging folder, pyramid generation skips
//! the slabs already written.

#![forbid(unsafe_code)]

mod access;
mod annotations;
mod configs;
mod db;
mod jobs;
mod model;
mod processing;
/// Where the pyramid of `stored` is (see [`Catalog::pyramid_root`]).
pub(crate) fn pyramid_root(
    data_dir: &Path,
    stored: &StoredData,
) -> Result<pyramid::Location, CatalogError> {
    match &stored.storage {
        StoredDataStorage::Filesystem => Ok(pyramid::Location::File(
            data_dir.join("stored").join(&stored.id),
        )),
        StoredDataStorage::S3 { location } => pyramid::Location::parse(location)
            .map_err(|e| CatalogError::Internal(format!("stored data {}: {e}", stored.id))),
    }
}

#[cfg(test)]
mod testing;
mod uploads;
mod users;
mod vector_pyramid;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use access::{hash_key, random_secret, KeyGrant, NewKey, NewPermission};
pub use annotations::{Annotated, Comment, NewComment};
pub use configs::{
    NewOffering, Publication, PublicationKind, PublishedFeatureType, PublishedRelation,
};
pub use db::{redact_password, ChangeListener, DatabaseError};
pub use model::*;
pub use processing::{
    NewExecution, INTEGRATION_PROCESSING, PYRAMID_PROCESSING, PYRAMID_UPDATE_PROCESSING,
};
pub use uploads::NewUpload;
pub use users::{IssuedToken, User};
pub use vector_pyramid::{
    build_vector_pyramid, SourceTable, VectorPyramidOptions, VectorPyramidReport, GEOMETRY_NAMES,
};

/// The datastore every catalog has.
pub const DEFAULT_DATASTORE: &str = "default";

/// Errors of the catalog. `NotFound`, `Invalid` and `Conflict` are the client's to fix (their
/// messages say how); the others are internal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// No such resource.
    #[error("{kind} '{id}' does not exist")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The request is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("catalog database error")]
    Database(#[source] db::DatabaseError),
    /// The database cannot be reached (PostgreSQL down or restarting): retry later.
    #[error("the catalog database is unavailable: {0}")]
    Unavailable(String),
    /// A file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something else went wrong inside.
    #[error("{0}")]
    Internal(String),
}

impl CatalogError {
    /// Whether the client caused it (and should see the message).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. } | Self::Invalid(_) | Self::Conflict(_)
        )
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// What the catalog needs to know of its surroundings.
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// The data directory (`catalog.sqlite`, `uploads/`, `stored/`, `statics/`).
    pub data_dir: PathBuf,
    /// The tile matrix sets pyramids may use.
    pub tile_matrix_sets: pyramid::TileMatrixSets,
    /// Most bytes one upload may hold.
    pub max_upload_bytes: u64,
    /// Zip limits for vector uploads.
    pub zip_limits: vectorstore::ZipLimits,
    /// Where pyramid processings put new pyramids: `None` in the data directory
    /// (`stored/{id}/`), else as objects under this S3 prefix (`{prefix}/{id}/pyramid.json`).
    pub pyramid_store: Option<pyramid::ObjectUrl>,
    /// The object storage `s3://` pyramids are read from and written to.
    pub object_storage: std::sync::Arc<pyramid::ObjectStorage>,
    /// Where the catalog's tables live.
    pub database: CatalogDatabase,
}

/// The catalog's database engine.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum CatalogDatabase {
    /// `catalog.sqlite` in the data directory: the embedded default.
    #[default]
    Sqlite,
    /// A PostgreSQL database that several servers may share.
    Postgres {
        /// `postgresql://user:password@host:port/database` (or libpq's `key=value` form).
        url: String,
        /// Most connections this process opens.
        pool_size: u32,
        /// PEM file of authorities the server's TLS certificate may be signed by, besides
        /// the system's (for `sslmode=require`).
        ca_file: Option<PathBuf>,
    },
}

// By hand: the URL may hold a password.
impl std::fmt::Debug for CatalogDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogDatabase::Sqlite => f.write_str("Sqlite"),
            CatalogDatabase::Postgres {
                url,
                pool_size,
                ca_file,
            } => f
                .debug_struct("Postgres")
                .field("url", &redact_password(url))
                .field("pool_size", pool_size)
                .field("ca_file", ca_file)
                .finish(),
        }
    }
}

/// Builds and swaps the server's layers; called by the catalog inside the transaction that
/// changes publications.
pub trait Publisher: Send + Sync {
    /// Builds the layers of `publications` (every publication of the catalog after the
    /// change) and the keys' grants; on success returns the swap that makes them live, on
    /// failure why, for the producer (the change is then rolled back).
    fn prepare(
        &self,
        publications: &[Publication],
        grants: &[KeyGrant],
    ) -> Result<Swap, PublishRefused>;
}

/// Why a publisher refused a change (its cause chain is the producer's message).
pub type PublishRefused = Box<dyn std::error::Error + Send + Sync>;

/// Makes a prepared publication live.
pub type Swap = Box<dyn FnOnce() + Send>;

/// The catalog. Cheap to share (`Arc`); every method is blocking (SQLite or PostgreSQL,
/// files): call them from a blocking context.
pub struct Catalog {
    database: Arc<db::Database>,
    options: CatalogOptions,
    publisher: Mutex<Option<Arc<dyn Publisher>>>,
    jobs: jobs::Queue,
    progress: Mutex<Option<Arc<ProgressHook>>>,
}

/// Progress of jobs: (what, done, total), e.g. ("features", 1200, 5000) or ("slabs", 3, 40).
pub type ProgressHook = dyn Fn(&str, u64, u64) + Send + Sync;

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("data_dir", &self.options.data_dir)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Opens the catalog of a data directory, creating and migrating its database. Jobs left
    /// unfinished by a previous server are resumed by [`Catalog::start_workers`] (the server's
    /// call), not by a mere open: `tuilerie publish` opens the catalog of a running server and
    /// must not run that server's jobs a second time.
    pub fn open(options: CatalogOptions) -> Result<Arc<Catalog>, CatalogError> {
        for dir in ["uploads", "stored", "statics"] {
            let path = options.data_dir.join(dir);
            std::fs::create_dir_all(&path).map_err(|e| CatalogError::io(&path, e))?;
        }
        let database = match &options.database {
            CatalogDatabase::Sqlite => {
                db::Database::open_sqlite(&options.data_dir.join("catalog.sqlite"))?
            }
            CatalogDatabase::Postgres {
                url,
                pool_size,
                ca_file,
            } => db::Database::open_postgres(url, *pool_size, ca_file.as_deref())?,
        };
        let catalog = Arc::new(Catalog {
            database: Arc::new(database),
            options,
            publisher: Mutex::new(None),
            jobs: jobs::Queue::new(),
            progress: Mutex::new(None),
        });
        Ok(catalog)
    }

    /// Reports the progress of jobs to `hook` (the CLI's progress bars).
    pub fn set_progress(&self, hook: Arc<ProgressHook>) {
        *self
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hook);
    }

    pub(crate) fn report(&self, what: &str, done: u64, total: u64) {
        let hook = self
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(hook) = hook {
            hook(what, done, total);
        }
    }

    /// A listener of the publication changes other servers make, where the database can
    /// announce them (PostgreSQL); `None` means: check [`Catalog::generation`] periodically.
    pub fn change_listener(&self) -> Option<ChangeListener> {
        self.database.listener()
    }

    /// The options it was opened with.
    pub fn options(&self) -> &CatalogOptions {
        &self.options
    }

    /// Sets the publisher called on publication changes, and publishes the current state
    /// through it.
    pub fn set_publisher(&self, publisher: Arc<dyn Publisher>) -> Result<(), CatalogError> {
        *self
            .publisher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(publisher);
        self.republish()
    }

    /// Publishes the current state through the publisher again (after a change made by
    /// another process).
    pub fn republish(&self) -> Result<(), CatalogError> {
        // Read, prepared and swapped under the database lock, as `change` does: swaps happen
        // in the order of the changes, so an older state never replaces a newer one.
        self.database.snapshot(|sql| {
            self.prepare(sql)?.map_err(|reason| {
                CatalogError::Internal(format!("the published layers cannot be served: {reason}"))
            })
        })
    }

    /// The publisher's swap for the publications and grants `tx` sees (`None` without a
    /// publisher); the inner error is the publisher's refusal.
    fn prepare(&self, tx: &db::Sql<'_>) -> Result<Result<Option<Swap>, String>, CatalogError> {
        // The refusal as one line (its cause chain), for the messages of `change` and
        // `republish`.
        let publisher = self
            .publisher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(publisher) = publisher else {
            return Ok(Ok(None));
        };
        let publications = configs::publications(tx, &self.options.data_dir)?;
        let grants = access::grants(tx)?;
        Ok(publisher
            .prepare(&publications, &grants)
            .map(Some)
            .map_err(|refused| vectorstore::error_chain(&*refused)))
    }

    /// A resource of a datastore.
    pub(crate) fn resource<T: serde::de::DeserializeOwned>(
        &self,
        kind: db::Kind,
        datastore: &str,
        id: &str,
    ) -> Result<T, CatalogError> {
        check_datastore(datastore)?;
        self.read(|sql| db::get(sql, kind, datastore, id))
    }

    /// Every resource of a kind in a datastore.
    pub(crate) fn resources<T: serde::de::DeserializeOwned>(
        &self,
        kind: db::Kind,
        datastore: &str,
    ) -> Result<Vec<T>, CatalogError> {
        check_datastore(datastore)?;
        self.read(|sql| db::list(sql, kind, datastore))
    }

    /// Runs a read on the database.
    pub(crate) fn read<T>(
        &self,
        work: impl FnOnce(&db::Sql<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        self.database.read(work)
    }

    /// The publication generation: changes with every published change, also one made by
    /// another process (the CLI) on the same data directory.
    pub fn generation(&self) -> Result<u64, CatalogError> {
        self.read(db::generation)
    }

    /// A datastore and its endpoints.
    pub fn datastore(&self, datastore: &str) -> Result<Datastore, CatalogError> {
        check_datastore(datastore)?;
        let offerings: Vec<Offering> =
            self.read(|sql| db::list(sql, db::Kind::Offering, datastore))?;
        let endpoints = endpoints()
            .into_iter()
            .map(|endpoint| DatastoreEndpoint {
                use_count: offerings
                    .iter()
                    .filter(|o| {
                        o.endpoint.id == endpoint.id && o.status == OfferingStatus::Published
                    })
                    .count() as u64,
                endpoint,
            })
            .collect();
        Ok(Datastore {
            id: DEFAULT_DATASTORE.to_owned(),
            name: "Default datastore".to_owned(),
            endpoints,
        })
    }

    /// Where a stored data's files are.
    pub fn stored_dir(&self, id: &str) -> PathBuf {
        self.options.data_dir.join("stored").join(id)
    }

    /// Where a stored data's pyramid is: its folder (objects under its prefix in object
    /// storage), holding `pyramid.json`.
    pub fn pyramid_root(&self, stored: &StoredData) -> Result<pyramid::Location, CatalogError> {
        pyramid_root(&self.options.data_dir, stored)
    }

    /// The storage a new stored data of `kind` gets: object storage for pyramids when the
    /// server puts them there, else the data directory.
    fn new_storage(&self, kind: StoredDataType, id: &str) -> StoredDataStorage {
        match (&self.options.pyramid_store, kind) {
            (Some(prefix), StoredDataType::PyramidRaster | StoredDataType::PyramidVector) => {
                StoredDataStorage::S3 {
                    location: prefix.join(id).to_string(),
                }
            }
            _ => StoredDataStorage::Filesystem,
        }
    }

    /// Bytes a stored data takes: its folder on disk, or its objects.
    fn stored_size(&self, stored: &StoredData) -> Result<u64, CatalogError> {
        match self.pyramid_root(stored)? {
            pyramid::Location::File(_) => Ok(disk_size(&self.stored_dir(&stored.id))),
            pyramid::Location::Object(prefix) => Ok(self
                .options
                .object_storage
                .list_all(&prefix)
                .map_err(|e| CatalogError::Internal(vectorstore::error_chain(&e)))?
                .iter()
                .map(|(_, size)| size)
                .sum()),
        }
    }

    fn static_path(&self, id: &str) -> PathBuf {
        self.options
            .data_dir
            .join("statics")
            .join(format!("{id}.sld"))
    }

    fn upload_dir(&self, id: &str) -> PathBuf {
        self.options.data_dir.join("uploads").join(id)
    }

    /// Runs a change in a transaction; when `publish` is set the publisher prepares the new
    /// layers before the commit (a refusal rolls everything back) and swaps them after it.
    pub(crate) fn change<T>(
        &self,
        publish: bool,
        work: impl FnOnce(&db::Sql<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        self.database.change(|sql| {
            let value = work(sql)?;
            let mut swap = None;
            if publish {
                db::bump_generation(sql)?;
                swap = self.prepare(sql)?.map_err(|reason| {
                    CatalogError::Invalid(format!("this change cannot be published: {reason}"))
                })?;
            }
            Ok((value, swap))
        })
    }
}

/// The endpoints of the default datastore.
pub fn endpoints() -> Vec<Endpoint> {
    let url = |kind: &str, url: &str| OfferingUrl {
        kind: kind.to_owned(),
        url: url.to_owned(),
    };
    vec![
        Endpoint {
            id: "wms-vector".to_owned(),
            technical_name: "gpf-geoserver-wms-v".to_owned(),
            name: "WMS (vector)".to_owned(),
            kind: ConfigurationType::WmsVector,
            open: true,
            urls: vec![url("WMS", "/wms")],
        },
        Endpoint {
            id: "wfs".to_owned(),
            technical_name: "gpf-geoserver-wfs".to_owned(),
            name: "WFS".to_owned(),
            kind: ConfigurationType::Wfs,
            open: true,
            urls: vec![url("WFS", "/wfs")],
        },
        Endpoint {
            id: "wms-raster".to_owned(),
            technical_name: "gpf-rok4-server-wms-r".to_owned(),
            name: "WMS (raster)".to_owned(),
            kind: ConfigurationType::WmsRaster,
            open: true,
            urls: vec![url("WMS", "/wms")],
        },
        Endpoint {
            id: "wmts-tms".to_owned(),
            technical_name: "gpf-rok4-server-wmts-tms".to_owned(),
            name: "WMTS and TMS".to_owned(),
            kind: ConfigurationType::WmtsTms,
            open: true,
            urls: vec![url("WMTS", "/wmts"), url("TMS", "/tms/1.0.0")],
        },
    ]
}

pub(crate) fn check_datastore(datastore: &str) -> Result<(), CatalogError> {
    if datastore == DEFAULT_DATASTORE {
        Ok(())
    } else {
        Err(CatalogError::NotFound {
            kind: "datastore",
            id: datastore.to_owned(),
        })
    }
}

/// A new resource id (UUID v4, as the Entrepôt's).
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now, RFC 3339 in UTC to the second.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

pub(crate) fn event(title: impl Into<String>) -> Event {
    Event {
        title: title.into(),
        date: now(),
    }
}

/// Writes a file crash-safely: temporary file, fsync, rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
    let temporary = path.with_extension("partial");
    let mut file =
        std::fs::File::create(&temporary).map_err(|e| CatalogError::io(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CatalogError::io(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| CatalogError::io(path, e))?;
    Ok(())
}

/// Size of a file or of a folder's files.
pub(crate) fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| disk_size(&e.path()))
            .sum()
    })
}
