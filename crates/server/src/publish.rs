//! Wiring the catalog to the request path: the publisher that builds and swaps snapshots, the
//! API token, and a watcher that picks up changes made by another process (the CLI) on the
//! same data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::error::error_chain;
use crate::layers::{LayerError, LayerFactory, Snapshot};
use crate::state::Published;

/// Why the published layers cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The configured layers (or the tile matrix sets) cannot be built.
    #[error(transparent)]
    Layers(#[from] LayerError),
    /// The catalog cannot be opened.
    #[error("cannot open the catalog in {}", dir.display())]
    Open {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: catalog::CatalogError,
    },
    /// The catalog's publications cannot be served, or its workers cannot start.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// The API token cannot be stored.
    #[error("cannot write the API token to {}", path.display())]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Builds snapshots from publications and swaps them into the live state.
#[derive(Debug)]
struct SnapshotPublisher {
    factory: LayerFactory,
    live: Arc<ArcSwap<Snapshot>>,
}

impl SnapshotPublisher {
    /// A publisher over the configured layers.
    fn new(factory: LayerFactory, live: Arc<ArcSwap<Snapshot>>) -> SnapshotPublisher {
        SnapshotPublisher { factory, live }
    }
}

impl catalog::Publisher for SnapshotPublisher {
    fn prepare(
        &self,
        publications: &[catalog::Publication],
        grants: &[catalog::KeyGrant],
    ) -> Result<catalog::Swap, catalog::PublishRefused> {
        let snapshot = self.factory.snapshot(publications, grants)?;
        let live = Arc::clone(&self.live);
        Ok(Box::new(move || {
            tracing::info!(
                layers = snapshot.len(),
                "published layers changed: new snapshot live"
            );
            live.store(Arc::new(snapshot));
        }))
    }
}

/// Options of the catalog for a configuration.
fn catalog_options(config: &Config, factory: &LayerFactory) -> catalog::CatalogOptions {
    catalog::CatalogOptions {
        data_dir: config.data.dir.clone(),
        tile_matrix_sets: factory.tile_matrix_sets().clone(),
        max_upload_bytes: config.api.max_upload_bytes,
        zip_limits: vectorstore::ZipLimits::default(),
        pyramid_store: config.api.pyramid_store.clone(),
        object_storage: factory.object_storage().clone(),
        database: match &config.catalog.url {
            Some(url) => catalog::CatalogDatabase::Postgres {
                url: url.clone(),
                pool_size: config.catalog.pool_size,
                ca_file: config.catalog.ca_file.clone(),
            },
            None => catalog::CatalogDatabase::Sqlite,
        },
    }
}

/// Everything published for `tuilerie serve`: the configured layers, the catalog's
/// publications, the job workers, the API token, and the watcher.
pub fn open(config: &Config) -> Result<Published, PublishError> {
    let factory = LayerFactory::new(config)?;
    let catalog = open_with(config, &factory)?;
    let live = Arc::new(ArcSwap::from_pointee(Snapshot::default()));
    let publisher = Arc::new(SnapshotPublisher::new(factory, Arc::clone(&live)));
    catalog.set_publisher(publisher)?;
    catalog.start_workers(config.api.job_workers)?;
    let api_token = Some(api_token(config)?);
    watch(&catalog);
    Ok(Published {
        layers: live,
        catalog: Some(catalog),
        api_token,
    })
}

/// The catalog of the data directory, without publisher or job workers: what `tuilerie
/// publish` and `tuilerie demo` change while a server may be running on the same directory
/// (that server publishes the change and runs the jobs).
pub fn open_catalog(config: &Config) -> Result<Arc<catalog::Catalog>, PublishError> {
    open_with(config, &LayerFactory::new(config)?)
}

fn open_with(
    config: &Config,
    factory: &LayerFactory,
) -> Result<Arc<catalog::Catalog>, PublishError> {
    catalog::Catalog::open(catalog_options(config, factory)).map_err(|source| PublishError::Open {
        dir: config.data.dir.clone(),
        source,
    })
}

/// The API token: configured, else read from (or generated into) `{data}/api-token`.
fn api_token(config: &Config) -> Result<String, PublishError> {
    if let Some(token) = &config.api.token {
        return Ok(token.clone());
    }
    let path = config.data.dir.join("api-token");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim().to_owned();
        if !token.is_empty() {
            tracing::info!(file = %path.display(), "publication API token read from the data directory");
            return Ok(token);
        }
    }
    let token = catalog::random_secret();
    write_secret(&path, &token).map_err(|source| PublishError::Token {
        path: path.clone(),
        source,
    })?;
    tracing::info!(
        file = %path.display(),
        "no api.token configured: generated one for the publication API; read it from this file (mode 0600)"
    );
    Ok(token)
}

fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let temporary: PathBuf = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Polls the catalog's publication generation: a change made by another process (`tuilerie
/// publish` on the same data directory) is published here within two seconds.
fn watch(catalog: &Arc<catalog::Catalog>) {
    let catalog = Arc::clone(catalog);
    let spawned = std::thread::Builder::new()
        .name("tuilerie-catalog-watch".to_owned())
        .spawn(move || {
            let mut last = catalog.generation().unwrap_or(0);
            // PostgreSQL announces changes at once; the generation is still read every
            // 2 s, in case an announcement is lost with a connection.
            let mut listener = catalog.change_listener();
            loop {
                match listener.as_mut() {
                    Some(listener) => {
                        listener.wait(Duration::from_secs(2));
                    }
                    None => std::thread::sleep(Duration::from_secs(2)),
                }
                match catalog.generation() {
                    Ok(current) if current != last => {
                        last = current;
                        if let Err(error) = catalog.republish() {
                            tracing::error!(error = %error_chain(&error), "cannot publish the catalog's changes");
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "cannot read the catalog's generation");
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the catalog watcher: changes made by the CLI show after a restart");
    }
}
