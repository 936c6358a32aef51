//! Object storage for pyramids: S3 and the servers that speak it (Ceph RGW, MinIO, Garage).
//!
//! The Géoplateforme keeps its pyramids in object storage, one object per slab, so that many
//! stateless servers read the same pyramid. This module is the one door to it: where a pyramid
//! is ([`Location`]: a path, or `s3://bucket/key` as ROK4 writes it, `bucket@host` naming one
//! of several clusters), which clusters exist ([`S3Cluster`], from the config or from ROK4's
//! `ROK4_S3_URL` / `ROK4_S3_KEY` / `ROK4_S3_SECRETKEY` variables), and blocking calls over the
//! `object_store` crate ([`ObjectStorage`]): ranged reads, whole reads, puts, listing.
//!
//! Why blocking: the pyramid code is synchronous (rayon builds, tile reads from handlers that
//! answer file tiles with one `pread`). The requests run on one small runtime owned by this
//! module, never dropped, so callers may be rayon threads, plain threads or tokio workers (a
//! tokio worker that waits should do it in `block_in_place` or `spawn_blocking`). Timeouts and
//! retries with backoff are `object_store`'s own, set from [`ObjectSettings`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt as _,
    PutPayload, RetryConfig,
};

use crate::PyramidError;

/// Where a pyramid, or one of its files, is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path on a file system.
    File(PathBuf),
    /// An object of an S3 bucket.
    Object(ObjectUrl),
}

impl Location {
    /// Reads a path or a URL: `s3://bucket/key`, `s3://bucket@host/key`, `file:///path`, or a
    /// plain path. Any other scheme (`ceph://`, `swift://`, `http://`…) is refused: a path that
    /// looked like a URL would otherwise become a local folder named `s3:`.
    pub fn parse(text: &str) -> Result<Location, PyramidError> {
        let fail = |reason: String| PyramidError::Location {
            text: text.to_owned(),
            reason,
        };
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Location::File(PathBuf::from(text)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => ObjectUrl::parse(rest).map(Location::Object).map_err(fail),
            "file" => Ok(Location::File(PathBuf::from(rest))),
            "ceph" | "rados" => Err(fail(
                "Ceph's rados storage is not supported: serve the pool through Ceph's S3 \
                 gateway (RGW) and write s3://bucket/key"
                    .to_owned(),
            )),
            other => Err(fail(format!(
                "the scheme '{other}://' is not a storage: give a path or s3://bucket/key"
            ))),
        }
    }

    /// The location of `name` inside this one, taken as a folder.
    #[must_use]
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::File(path) => Location::File(path.join(name)),
            Location::Object(url) => Location::Object(url.join(name)),
        }
    }

    /// A path for messages and errors (`s3://…` for objects).
    pub fn display_path(&self) -> PathBuf {
        match self {
            Location::File(path) => path.clone(),
            Location::Object(url) => PathBuf::from(url.to_string()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Object(url) => write!(f, "{url}"),
        }
    }
}

/// An object: bucket, optional cluster host (ROK4's `bucket@host`) and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectUrl {
    /// The host of the cluster (`None`: the first cluster configured).
    pub cluster: Option<String>,
    /// The bucket.
    pub bucket: String,
    /// The key, without a leading `/` (empty for the bucket itself).
    pub key: String,
}

impl ObjectUrl {
    /// Reads `bucket[@host]/key` (the part after `s3://`).
    pub fn parse(text: &str) -> Result<ObjectUrl, String> {
        let (bucket, key) = text.split_once('/').unwrap_or((text, ""));
        let (bucket, cluster) = match bucket.split_once('@') {
            Some((bucket, host)) => (bucket, Some(host.to_owned())),
            None => (bucket, None),
        };
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(format!(
                "'{bucket}' is not a bucket name (3 to 63 lowercase letters, digits, '-' or '.')"
            ));
        }
        let key = key.trim_matches('/').to_owned();
        if key.split('/').any(|part| part == "." || part == "..") {
            return Err("a key may not hold '.' or '..' parts".to_owned());
        }
        Ok(ObjectUrl {
            cluster: cluster.filter(|c| !c.is_empty()),
            bucket: bucket.to_owned(),
            key,
        })
    }

    /// The object `name` under this key, taken as a folder.
    #[must_use]
    pub fn join(&self, name: &str) -> ObjectUrl {
        let name = name.trim_matches('/');
        ObjectUrl {
            key: if self.key.is_empty() {
                name.to_owned()
            } else {
                format!("{}/{name}", self.key)
            },
            ..self.clone()
        }
    }

    /// The same bucket and cluster, another key.
    #[must_use]
    pub fn with_key(&self, key: &str) -> ObjectUrl {
        ObjectUrl {
            key: key.trim_matches('/').to_owned(),
            ..self.clone()
        }
    }

    /// The bucket as ROK4 writes it in descriptors and lists: `bucket` or `bucket@host`.
    pub fn bucket_name(&self) -> String {
        match &self.cluster {
            Some(host) => format!("{}@{host}", self.bucket),
            None => self.bucket.clone(),
        }
    }
}

impl fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket_name(), self.key)
    }
}

/// One S3 endpoint and its credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Cluster {
    /// Endpoint URL (`https://s3.example.org`, `http://127.0.0.1:9000`).
    pub url: String,
    /// Access key.
    pub key: String,
    /// Secret key.
    pub secret: String,
    /// Region used in signatures (`us-east-1` unless the provider says otherwise).
    pub region: String,
}

impl fmt::Debug for S3Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Cluster")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("secret", &"…")
            .field("region", &self.region)
            .finish()
    }
}

impl S3Cluster {
    /// The host (and port) of the endpoint: the name `bucket@host` refers to.
    pub fn host(&self) -> &str {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        rest.trim_end_matches('/')
    }
}

/// How object storage is reached.
#[derive(Debug, Clone)]
pub struct ObjectSettings {
    /// The clusters; the first one serves buckets named without `@host`.
    pub clusters: Vec<S3Cluster>,
    /// Longest wait for one request (connection and answer).
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Retries of a failed request (with exponential backoff).
    pub retries: usize,
}

impl Default for ObjectSettings {
    fn default() -> Self {
        ObjectSettings {
            clusters: Vec::new(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
        }
    }
}

impl ObjectSettings {
    /// The clusters ROK4's variables name: `ROK4_S3_URL`, `ROK4_S3_KEY`, `ROK4_S3_SECRETKEY`
    /// (comma-separated lists of the same length for several clusters) and `ROK4_S3_REGION`
    /// (optional, one for all). None set: no cluster.
    pub fn clusters_from_env() -> Result<Vec<S3Cluster>, PyramidError> {
        let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (Some(urls), Some(keys), Some(secrets)) = (
            read("ROK4_S3_URL"),
            read("ROK4_S3_KEY"),
            read("ROK4_S3_SECRETKEY"),
        ) else {
            return Ok(Vec::new());
        };
        let region = read("ROK4_S3_REGION").unwrap_or_else(|| "us-east-1".to_owned());
        let split = |v: &str| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        };
        let (urls, keys, secrets) = (split(&urls), split(&keys), split(&secrets));
        if urls.len() != keys.len() || urls.len() != secrets.len() {
            return Err(PyramidError::Location {
                text: "ROK4_S3_URL".to_owned(),
                reason: format!(
                    "ROK4_S3_URL, ROK4_S3_KEY and ROK4_S3_SECRETKEY list {}, {} and {} values: \
                     give one of each per cluster",
                    urls.len(),
                    keys.len(),
                    secrets.len()
                ),
            });
        }
        Ok(urls
            .into_iter()
            .zip(keys)
            .zip(secrets)
            .map(|((url, key), secret)| S3Cluster {
                url,
                key,
                secret,
                region: region.clone(),
            })
            .collect())
    }
}

/// What a ranged read brought back.
#[derive(Debug, Clone)]
pub struct RangeRead {
    /// The bytes of the range (fewer when the object ends first).
    pub bytes: Bytes,
    /// The size of the whole object.
    pub size: u64,
    /// Changes whenever the object is rewritten (from its date and ETag).
    pub stamp: u64,
}

/// Requests sent, by kind (for tests, benches and metrics).
#[derive(Debug, Default)]
pub struct ObjectCounters {
    /// GET requests (whole or ranged).
    pub gets: AtomicU64,
    /// PUT requests (a multipart upload counts once).
    pub puts: AtomicU64,
    /// HEAD and LIST requests.
    pub others: AtomicU64,
}

/// Blocking access to object storage (see the module documentation).
pub struct ObjectStorage {
    settings: ObjectSettings,
    /// One client per (cluster, bucket).
    stores: Mutex<HashMap<(usize, String), Arc<dyn ObjectStore>>>,
    counters: ObjectCounters,
}

impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Objects this size or smaller are sent in one PUT; larger ones in parts.
const SINGLE_PUT_LIMIT: usize = 16 * 1024 * 1024;
/// Size of the parts of a multipart upload.
const PART_SIZE: usize = 8 * 1024 * 1024;

impl ObjectStorage {
    /// Object storage with these settings.
    pub fn new(settings: ObjectSettings) -> ObjectStorage {
        ObjectStorage {
            settings,
            stores: Mutex::new(HashMap::new()),
            counters: ObjectCounters::default(),
        }
    }

    /// Object storage with the clusters of ROK4's environment variables.
    pub fn from_env() -> Result<ObjectStorage, PyramidError> {
        Ok(ObjectStorage::new(ObjectSettings {
            clusters: ObjectSettings::clusters_from_env()?,
            ..ObjectSettings::default()
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &ObjectSettings {
        &self.settings
    }

    /// Requests sent so far.
    pub fn counters(&self) -> &ObjectCounters {
        &self.counters
    }

    fn store(&self, url: &ObjectUrl) -> Result<Arc<dyn ObjectStore>, PyramidError> {
        let fail = |reason: String| PyramidError::Object {
            url: url.to_string(),
            reason,
        };
        let clusters = &self.settings.clusters;
        let index = match &url.cluster {
            None if clusters.is_empty() => {
                return Err(fail(
                    "no S3 cluster is configured: set [object_storage] in the config, or \
                     ROK4_S3_URL, ROK4_S3_KEY and ROK4_S3_SECRETKEY"
                        .to_owned(),
                ))
            }
            None => 0,
            Some(host) => clusters
                .iter()
                .position(|c| c.host() == host)
                .ok_or_else(|| {
                    let known: Vec<&str> = clusters.iter().map(S3Cluster::host).collect();
                    fail(format!(
                        "no S3 cluster has the host '{host}' (configured: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ))
                })?,
        };
        let key = (index, url.bucket.clone());
        if let Some(store) = self.stores.lock().ok().and_then(|s| s.get(&key).cloned()) {
            return Ok(store);
        }
        let cluster = &clusters[index];
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: self.settings.retries,
            retry_timeout: self.settings.timeout * 2,
        };
        let options = ClientOptions::new()
            .with_allow_http(cluster.url.starts_with("http://"))
            .with_timeout(self.settings.timeout)
            .with_connect_timeout(self.settings.connect_timeout)
            .with_pool_max_idle_per_host(64);
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(cluster.url.trim_end_matches('/'))
                .with_access_key_id(&cluster.key)
                .with_secret_access_key(&cluster.secret)
                .with_region(&cluster.region)
                .with_bucket_name(&url.bucket)
                .with_virtual_hosted_style_request(false)
                .with_client_options(options)
                .with_retry(retry)
                .build()
                .map_err(|e| fail(format!("cannot configure the S3 client: {e}")))?,
        );
        if let Ok(mut stores) = self.stores.lock() {
            stores.insert(key, Arc::clone(&store));
        }
        Ok(store)
    }

    fn path(url: &ObjectUrl) -> Result<ObjectPath, PyramidError> {
        ObjectPath::parse(&url.key).map_err(|e| PyramidError::Object {
            url: url.to_string(),
            reason: format!("not a valid key: {e}"),
        })
    }

    /// Bytes `range` of an object; `Ok(None)` when it does not exist. A range that ends
    /// beyond the object gives what there is.
    pub fn get_range(
        &self,
        url: &ObjectUrl,
        range: Range<u64>,
    ) -> Result<Option<RangeRead>, PyramidError> {
        let store = self.store(url)?;
        let path = ObjectStorage::path(url)?;
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..GetOptions::default()
            };
            let result = store.get_opts(&path, options).await?;
            let size = result.meta.size;
            let modified = result
                .meta
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or_default() as u64;
            let tag = result.meta.e_tag.as_deref().map_or(0, |tag| {
                tag.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                })
            });
            Ok(RangeRead {
                bytes: result.bytes().await?,
                size,
                stamp: modified ^ tag ^ size.rotate_left(32),
            })
        })?;
        found(url, answer)
    }

    /// A whole object; `Ok(None)` when it does not exist.
    pub fn get(&self, url: &ObjectUrl) -> Result<Option<Bytes>, PyramidError> {
        let store = self.store(url)?;
        let path = ObjectStorage::path(url)?;
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move { store.get(&path).await?.bytes().await })?;
        found(url, answer)
    }

    /// Whether an object exists (a HEAD request).
    pub fn exists(&self, url: &ObjectUrl) -> Result<bool, PyramidError> {
        let store = self.store(url)?;
        let path = ObjectStorage::path(url)?;
        self.counters.others.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move { store.head(&path).await })?;
        Ok(found(url, answer)?.is_some())
    }

    /// Writes an object whole: it appears only once complete (one PUT, or a multipart upload
    /// for large objects, aborted on failure).
    pub fn put(&self, url: &ObjectUrl, bytes: Bytes) -> Result<(), PyramidError> {
        let store = self.store(url)?;
        let path = ObjectStorage::path(url)?;
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move {
            if bytes.len() <= SINGLE_PUT_LIMIT {
                store.put(&path, PutPayload::from(bytes)).await.map(|_| ())
            } else {
                let mut upload = store.put_multipart(&path).await?;
                for start in (0..bytes.len()).step_by(PART_SIZE) {
                    let part = bytes.slice(start..(start + PART_SIZE).min(bytes.len()));
                    if let Err(error) = upload.put_part(PutPayload::from(part)).await {
                        let _ = upload.abort().await;
                        return Err(error);
                    }
                }
                match upload.complete().await {
                    Ok(_) => Ok(()),
                    Err(error) => {
                        let _ = upload.abort().await;
                        Err(error)
                    }
                }
            }
        })?;
        answer.map_err(|e| object_error(url, &e))
    }

    /// Removes an object (no error when it does not exist).
    pub fn delete(&self, url: &ObjectUrl) -> Result<(), PyramidError> {
        let store = self.store(url)?;
        let path = ObjectStorage::path(url)?;
        self.counters.others.fetch_add(1, Ordering::Relaxed);
        match run(async move { store.delete(&path).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(object_error(url, &error)),
        }
    }

    /// Every object under `prefix` (a key taken as a folder, at any depth): its key and size.
    pub fn list_all(&self, prefix: &ObjectUrl) -> Result<Vec<(String, u64)>, PyramidError> {
        let store = self.store(prefix)?;
        let path = ObjectStorage::path(prefix)?;
        self.counters.others.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move { store.list(Some(&path)).try_collect::<Vec<_>>().await })?;
        let listed = answer.map_err(|e| object_error(prefix, &e))?;
        Ok(listed
            .into_iter()
            .map(|o| (o.location.to_string(), o.size))
            .collect())
    }

    /// Removes every object under `prefix` (batched deletes where the store has them);
    /// returns how many were removed.
    pub fn delete_all(&self, prefix: &ObjectUrl) -> Result<usize, PyramidError> {
        let store = self.store(prefix)?;
        let path = ObjectStorage::path(prefix)?;
        self.counters.others.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move {
            let locations = store.list(Some(&path)).map_ok(|o| o.location).boxed();
            store.delete_stream(locations).try_collect::<Vec<_>>().await
        })?;
        answer
            .map(|removed| removed.len())
            .map_err(|e| object_error(prefix, &e))
    }

    /// The names of the objects directly under `folder` (a key taken as a folder).
    pub fn list(&self, folder: &ObjectUrl) -> Result<Vec<String>, PyramidError> {
        let store = self.store(folder)?;
        let path = ObjectStorage::path(folder)?;
        self.counters.others.fetch_add(1, Ordering::Relaxed);
        let answer = run(async move { store.list_with_delimiter(Some(&path)).await })?;
        let listed = answer.map_err(|e| object_error(folder, &e))?;
        Ok(listed
            .objects
            .into_iter()
            .filter_map(|o| o.location.filename().map(str::to_owned))
            .collect())
    }
}

fn found<T>(url: &ObjectUrl, answer: object_store::Result<T>) -> Result<Option<T>, PyramidError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(error) => Err(object_error(url, &error)),
    }
}

fn object_error(url: &ObjectUrl, error: &object_store::Error) -> PyramidError {
    // The whole chain: object_store's top message alone hides the HTTP status and the cause.
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    PyramidError::Object {
        url: url.to_string(),
        reason,
    }
}

/// The runtime object requests run on: built once, never dropped (dropping a runtime inside
/// another one's context panics, and pyramids are dropped anywhere).
fn runtime() -> Result<&'static tokio::runtime::Runtime, PyramidError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("object-storage")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| PyramidError::Object {
            url: "s3://".to_owned(),
            reason: format!("cannot start the object storage runtime: {reason}"),
        })
}

/// Runs `future` on the object storage runtime and waits for it, from any thread.
fn run<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T, PyramidError> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().map_err(|_| PyramidError::Object {
        url: "s3://".to_owned(),
        reason: "an object storage request was dropped before it answered".to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_paths_or_s3_urls_and_other_schemes_are_refused() {
        assert_eq!(
            Location::parse("out/pyr").unwrap(),
            Location::File(PathBuf::from("out/pyr"))
        );
        assert_eq!(
            Location::parse("file:///srv/pyr").unwrap(),
            Location::File(PathBuf::from("/srv/pyr"))
        );
        let Location::Object(url) = Location::parse("s3://pyramids@s3.example.org/a/b/").unwrap()
        else {
            panic!("an object")
        };
        assert_eq!(url.bucket, "pyramids");
        assert_eq!(url.cluster.as_deref(), Some("s3.example.org"));
        assert_eq!(url.key, "a/b");
        assert_eq!(
            url.join("pyramid.json").to_string(),
            "s3://pyramids@s3.example.org/a/b/pyramid.json"
        );
        for refused in [
            "ceph://pool/pyr",
            "swift://c/pyr",
            "http://host/pyr",
            "s3://B/x",
            "s3://ab/x",
            "s3://bucket/../x",
        ] {
            let error = Location::parse(refused).unwrap_err().to_string();
            assert!(error.contains(refused), "{error}");
        }
    }

    #[test]
    fn rok4_hosts_name_clusters_and_secrets_stay_out_of_logs() {
        let cluster = S3Cluster {
            url: "https://s3.example.org/".to_owned(),
            key: "k".to_owned(),
            secret: "very-secret".to_owned(),
            region: "us-east-1".to_owned(),
        };
        assert_eq!(cluster.host(), "s3.example.org");
        assert!(!format!("{cluster:?}").contains("very-secret"));
        let storage = ObjectStorage::new(ObjectSettings::default());
        let error = storage
            .get(&ObjectUrl::parse("bucket/key").unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("no S3 cluster is configured"), "{error}");
    }
}
