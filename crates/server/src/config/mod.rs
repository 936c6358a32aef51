//! The configuration file (`tuilerie.toml`), its defaults and its validation.
//!
//! Operators edit this file by hand, so a mistake must be found at once and explained well:
//! the file is parsed into a span-carrying TOML tree and walked key by key, so that *every*
//! problem (syntax error, unknown key, wrong type, bad value, missing file) is reported with its
//! line, column and a hint, instead of stopping at the first one as plain serde would.
//!
//! Precedence: command-line flags > environment (`TUILERIE_…`) > file > embedded defaults.
//! Relative paths in the file are resolved against the directory that holds the file.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

mod check;

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// The whole configuration, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[data]`
    pub data: DataConfig,
    /// `[catalog]`
    pub catalog: CatalogConfig,
    /// `[api]`
    pub api: ApiConfig,
    /// `[tiles]`
    pub tiles: TilesConfig,
    /// `[wms]`
    pub wms: WmsConfig,
    /// `[wfs]`
    pub wfs: WfsConfig,
    /// `[vector_tiles]`
    pub vector_tiles: VectorTilesConfig,
    /// `[rate_limits]`
    pub rate_limits: RateLimitsConfig,
    /// `[tile_cache]`
    pub tile_cache: TileCacheConfig,
    /// `[object_storage]`
    pub object_storage: ObjectStorageConfig,
    /// `[[layers]]`
    pub layers: Vec<LayerConfig>,
}

/// `[server]`: the HTTP listener and its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Base URL advertised in capabilities (None: derived from the request's Host).
    pub public_url: Option<String>,
    /// `Access-Control-Allow-Origin` value.
    pub cors_allow_origin: String,
    /// Longest accepted request target (path + query), in bytes.
    pub max_url_length: usize,
    /// Largest accepted request head (request line + headers), in bytes.
    pub max_header_bytes: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: u64,
    /// Time allowed to answer one request.
    pub request_timeout: Duration,
    /// Time given to in-flight requests on shutdown.
    pub shutdown_grace: Duration,
    /// Worker threads (0: one per CPU).
    pub workers: usize,
    /// Connections served at once; past it, new ones wait until one closes (logged).
    pub max_connections: usize,
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Filter directive (`info`, `debug`, `tuilerie=debug,tower_http=info`…).
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[data]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataConfig {
    /// Where the catalog, uploads, stored data and statics live.
    pub dir: PathBuf,
}

/// `[catalog]`: where the publication catalog's tables live.
#[derive(Clone, PartialEq, Eq)]
pub struct CatalogConfig {
    /// `postgresql://user:password@host:port/database` for a catalog that several servers
    /// share; `None`: `catalog.sqlite` in the data directory.
    pub url: Option<String>,
    /// Most PostgreSQL connections one server opens.
    pub pool_size: u32,
    /// PEM file of the authorities that may sign PostgreSQL's TLS certificate, besides the
    /// system's (used when the URL says `sslmode=require`).
    pub ca_file: Option<PathBuf>,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        CatalogConfig {
            url: None,
            pool_size: 8,
            ca_file: None,
        }
    }
}

// By hand: the URL may hold a password, which must stay out of logs.
impl fmt::Debug for CatalogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogConfig")
            .field("url", &self.url.as_deref().map(redact_password))
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

pub use catalog::redact_password;

/// `[api]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Bearer token of the publication API (None: one is generated into `{data}/api-token`).
    pub token: Option<String>,
    /// Threads running checks, integrations and pyramid generations.
    pub job_workers: usize,
    /// Most bytes one upload may hold.
    pub max_upload_bytes: u64,
    /// Origins whose web pages may call the API (`Access-Control-Allow-Origin`); empty: none.
    pub cors_allow_origin: String,
    /// Lifetime of the bearer tokens `POST /api/auth/token` issues to users.
    pub token_lifetime: std::time::Duration,
    /// Where pyramid processings put new pyramids: `None` in the data directory, else as
    /// objects under this `s3://bucket/prefix` (through `[object_storage]`).
    pub pyramid_store: Option<pyramid::ObjectUrl>,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            token: None,
            job_workers: 1,
            max_upload_bytes: 4 * 1024 * 1024 * 1024,
            cors_allow_origin: String::new(),
            token_lifetime: std::time::Duration::from_hours(1),
            pyramid_store: None,
        }
    }
}

/// `[tiles]`: how pyramids are read and tiles answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TilesConfig {
    /// Extra tile matrix set files (added to the built-in ones, replacing same ids).
    pub tile_matrix_sets_dir: Option<PathBuf>,
    /// `Cache-Control` of tile answers.
    pub cache_control: String,
    /// Bytes of slab indexes cached per pyramid.
    pub index_cache_bytes: usize,
    /// Slab files kept open per pyramid.
    pub open_slabs: usize,
}

impl Default for TilesConfig {
    fn default() -> Self {
        TilesConfig {
            tile_matrix_sets_dir: None,
            cache_control: "public, max-age=86400".to_owned(),
            index_cache_bytes: 16 * 1024 * 1024,
            open_slabs: 256,
        }
    }
}

/// `[object_storage]`: the S3 endpoint (S3, Ceph RGW, MinIO, Garage…) that `s3://bucket/key`
/// pyramids are read from and written to. ROK4's variables `ROK4_S3_URL`, `ROK4_S3_KEY`,
/// `ROK4_S3_SECRETKEY` (comma-separated lists for several clusters, named `bucket@host`) add
/// clusters after this one.
#[derive(Clone, PartialEq, Eq)]
pub struct ObjectStorageConfig {
    /// Endpoint URL (`None`: only the clusters of the environment).
    pub url: Option<String>,
    /// Access key.
    pub key: String,
    /// Secret key.
    pub secret: String,
    /// Region used in request signatures.
    pub region: String,
    /// Longest wait for one request.
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Retries of a failed request, with exponential backoff.
    pub retries: u32,
}

impl fmt::Debug for ObjectStorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorageConfig")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("secret", &"…")
            .field("region", &self.region)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

impl Default for ObjectStorageConfig {
    fn default() -> Self {
        ObjectStorageConfig {
            url: None,
            key: String::new(),
            secret: String::new(),
            region: "us-east-1".to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
        }
    }
}

impl ObjectStorageConfig {
    /// The object storage these settings and ROK4's environment variables describe.
    pub fn storage(&self) -> Result<pyramid::ObjectStorage, pyramid::PyramidError> {
        let mut clusters = Vec::new();
        if let Some(url) = &self.url {
            clusters.push(pyramid::S3Cluster {
                url: url.clone(),
                key: self.key.clone(),
                secret: self.secret.clone(),
                region: self.region.clone(),
            });
        }
        clusters.extend(pyramid::ObjectSettings::clusters_from_env()?);
        Ok(pyramid::ObjectStorage::new(pyramid::ObjectSettings {
            clusters,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            retries: self.retries as usize,
        }))
    }
}

/// `[wfs]`: the feature service (WFS 2.0.0 and 1.1.0). Its provider is `[wms]`'s contact.
#[derive(Debug, Clone, PartialEq)]
pub struct WfsConfig {
    /// Service title.
    pub title: String,
    /// Service abstract.
    pub abstract_text: String,
    /// Service keywords.
    pub keywords: Vec<String>,
    /// Most features one GetFeature answers (`CountDefault`): a larger or absent COUNT is
    /// cut to it, and the answer says how many matched.
    pub count_default: u64,
}

impl Default for WfsConfig {
    fn default() -> Self {
        WfsConfig {
            title: "Tuilerie WFS".to_owned(),
            abstract_text: String::new(),
            keywords: Vec::new(),
            count_default: 1_000_000,
        }
    }
}

/// `[vector_tiles]`: Mapbox Vector Tiles made on the fly from every vector layer, on the Web
/// Mercator grid (WebMercatorQuad / PM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorTilesConfig {
    /// Whether vector layers are served as vector tiles.
    pub enabled: bool,
    /// Coarsest zoom level served.
    pub min_zoom: u32,
    /// Finest zoom level served (clients overzoom beyond it).
    pub max_zoom: u32,
    /// Tile units across a tile (MVT `extent`).
    pub extent: u32,
    /// Tile units kept around each tile.
    pub buffer: u32,
    /// Bytes a tile may not exceed: larger tiles are simplified more, then lose their smallest
    /// features (logged).
    pub max_tile_bytes: usize,
    /// Bytes of encoded tiles kept in memory (0: none).
    pub cache_bytes: usize,
    /// URL template of SDF glyphs (`…/{fontstack}/{range}.pbf`) that the generated GL styles
    /// name for their labels; empty: none, and the styles leave labels out.
    pub glyphs_url: String,
}

impl Default for VectorTilesConfig {
    fn default() -> Self {
        VectorTilesConfig {
            enabled: true,
            min_zoom: 0,
            max_zoom: 16,
            extent: 4096,
            buffer: 64,
            max_tile_bytes: 500_000,
            cache_bytes: 64 * 1024 * 1024,
            glyphs_url: String::new(),
        }
    }
}

/// `[rate_limits]`: requests per second per client (its API key, else its address) on each
/// layer published through the API, by the configuration's type; 0: no limit. `[[layers]]` set
/// their own (`rate_limit`, none by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitsConfig {
    /// WMS-VECTOR layers, through WMS (the Géoplateforme's 50).
    pub wms_vector: u32,
    /// WMS-RASTER layers, through WMS (the Géoplateforme's 40).
    pub wms_raster: u32,
    /// Tiles (WMTS, TMS) of any layer.
    pub tiles: u32,
    /// Features (WFS, OGC API – Features).
    pub features: u32,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            wms_vector: 50,
            wms_raster: 40,
            tiles: 0,
            features: 0,
        }
    }
}

/// `[tile_cache]`: every vector layer is a WMTS/TMS image layer too, its tiles rendered in
/// metatiles on first request and kept as a ROK4 pyramid per layer, style and format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileCacheConfig {
    /// Whether vector layers are served as image tiles.
    pub enabled: bool,
    /// Where the cached pyramids go (`None`: `tile-cache` in the data directory).
    pub dir: Option<PathBuf>,
    /// Coarsest zoom level of the Web Mercator set served.
    pub min_zoom: u32,
    /// Finest zoom level served.
    pub max_zoom: u32,
    /// Tiles across and down one metatile (one render, one slab).
    pub metatile: u32,
    /// Pixels drawn around a metatile and cut away: symbols of features beyond its edge.
    pub buffer: u32,
    /// Bytes of slabs the cache may hold; the least recently used go first (0: no cap).
    pub max_bytes: u64,
    /// Slab files each cache (layer, style, format) keeps open: a slab is a metatile, so a
    /// cache has 16 times the files of a pyramid of 16×16-tile slabs.
    pub open_slabs: usize,
    /// Image formats tiles are offered in, the preferred first (a layer may narrow them).
    pub formats: Vec<CacheFormat>,
    /// Whether tiles are also offered at twice the pixels (`@2x`: 512-pixel tiles drawn at
    /// twice the DPI, for HiDPI screens).
    pub hidpi: bool,
    /// Tile matrix sets tiles are offered on: each Web Mercator one for every layer, each
    /// other one for the layers in its CRS (their native set).
    pub sets: Vec<String>,
}

/// An image format of rendered tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheFormat {
    /// PNG, 32-bit with transparency.
    Png,
    /// PNG with a palette of at most 256 colours (smaller files; transparency kept).
    Png8,
    /// JPEG on white.
    Jpeg,
    /// Lossless WebP with transparency.
    Webp,
}

impl CacheFormat {
    /// Every format, in the order capabilities list them.
    pub const ALL: [CacheFormat; 4] = [
        CacheFormat::Png,
        CacheFormat::Jpeg,
        CacheFormat::Png8,
        CacheFormat::Webp,
    ];

    /// The name used in the config file (`png`, `png8`, `jpeg`, `webp`).
    pub fn name(self) -> &'static str {
        match self {
            CacheFormat::Png => "png",
            CacheFormat::Png8 => "png8",
            CacheFormat::Jpeg => "jpeg",
            CacheFormat::Webp => "webp",
        }
    }

    /// The format of a config name (`jpg` too).
    pub fn from_name(name: &str) -> Option<CacheFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "png" => Some(CacheFormat::Png),
            "png8" => Some(CacheFormat::Png8),
            "jpeg" | "jpg" => Some(CacheFormat::Jpeg),
            "webp" => Some(CacheFormat::Webp),
            _ => None,
        }
    }
}

impl LayerTilesConfig {
    /// A served zoom range narrowed to the layer's own (empty when they do not meet).
    pub fn narrow(&self, zooms: std::ops::RangeInclusive<u32>) -> std::ops::RangeInclusive<u32> {
        let start = self
            .min_zoom
            .map_or(*zooms.start(), |z| z.max(*zooms.start()));
        let end = self.max_zoom.map_or(*zooms.end(), |z| z.min(*zooms.end()));
        start..=end
    }

    /// Whether the layer is tiled (not turned off).
    pub fn tiled(&self) -> bool {
        self.enabled != Some(false)
    }
}

/// A layer's own tile settings: `cache_control` on any layer, `[layers.tiles]` on a vector
/// layer. Each unset one is the server's (`[tiles]`, `[tile_cache]`, `[vector_tiles]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerTilesConfig {
    /// `Cache-Control` of the layer's tiles.
    pub cache_control: Option<String>,
    /// Whether the layer is tiled at all (WMTS, TMS); `false`: WMS only.
    pub enabled: Option<bool>,
    /// Image formats of its rendered tiles (empty: none).
    pub formats: Option<Vec<CacheFormat>>,
    /// Whether it is offered as vector tiles (`"mvt"` among `formats`).
    pub vector_tiles: Option<bool>,
    /// Tile matrix sets its rendered tiles are offered on (any CRS: the data are reprojected).
    pub sets: Option<Vec<String>>,
    /// Coarsest level served (within the server's range).
    pub min_zoom: Option<u32>,
    /// Finest level served (within the server's range).
    pub max_zoom: Option<u32>,
}

impl Default for TileCacheConfig {
    fn default() -> Self {
        TileCacheConfig {
            enabled: true,
            dir: None,
            min_zoom: 0,
            max_zoom: 18,
            metatile: 4,
            buffer: 64,
            max_bytes: 2 << 30,
            open_slabs: 1024,
            formats: vec![CacheFormat::Png, CacheFormat::Jpeg],
            hidpi: true,
            sets: vec!["PM".to_owned(), "LAMB93".to_owned()],
        }
    }
}

/// `[wms]`: the on-demand image service.
#[derive(Debug, Clone, PartialEq)]
pub struct WmsConfig {
    /// Service title.
    pub title: String,
    /// Service abstract.
    pub abstract_text: String,
    /// Service keywords.
    pub keywords: Vec<String>,
    /// Contact person.
    pub contact_person: String,
    /// Contact organisation.
    pub contact_organization: String,
    /// Contact position.
    pub contact_position: String,
    /// Contact e-mail.
    pub contact_email: String,
    /// Contact telephone.
    pub contact_phone: String,
    /// Fees.
    pub fees: String,
    /// Access constraints.
    pub access_constraints: String,
    /// Most layers one GetMap may ask for.
    pub layer_limit: u32,
    /// Largest GetMap width, in pixels.
    pub max_width: u32,
    /// Largest GetMap height, in pixels.
    pub max_height: u32,
    /// CRSs advertised for every layer besides its native one.
    pub crs: Vec<String>,
    /// Rendering threads (0: one per CPU).
    pub render_threads: usize,
    /// Renders waiting for a thread before requests are refused with 503.
    pub render_queue: usize,
    /// Bytes of encoded images kept in the response cache (0: no cache).
    pub cache_bytes: usize,
    /// Extra fonts for labels.
    pub font_dir: Option<PathBuf>,
    /// GetFeatureInfo search radius around the clicked pixel, in pixels.
    pub info_tolerance_px: u32,
}

impl Default for WmsConfig {
    fn default() -> Self {
        WmsConfig {
            title: "Tuilerie WMS".to_owned(),
            abstract_text: String::new(),
            keywords: Vec::new(),
            contact_person: String::new(),
            contact_organization: String::new(),
            contact_position: String::new(),
            contact_email: String::new(),
            contact_phone: String::new(),
            fees: "none".to_owned(),
            access_constraints: "none".to_owned(),
            layer_limit: 16,
            max_width: 4096,
            max_height: 4096,
            crs: DEFAULT_WMS_CRS.iter().map(|c| (*c).to_owned()).collect(),
            render_threads: 0,
            render_queue: 64,
            cache_bytes: 64 * 1024 * 1024,
            font_dir: None,
            info_tolerance_px: 4,
        }
    }
}

/// CRSs every WMS layer is offered in by default, besides its own.
pub const DEFAULT_WMS_CRS: &[&str] = &["EPSG:3857", "EPSG:4326", "CRS:84", "EPSG:2154"];

/// Metadata shared by every kind of layer: links and attribution for capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerMetadataConfig {
    /// Metadata record URLs (ISO 19139 / INSPIRE).
    pub metadata_urls: Vec<String>,
    /// Attribution title.
    pub attribution: String,
    /// Attribution link.
    pub attribution_url: String,
}

/// What a tile request inside the tile matrix but without stored data is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyTile {
    /// A tile filled with the pyramid's no-data value (transparent where the format allows).
    Nodata,
    /// `204 No Content`.
    NoContent,
    /// `404 Not Found`.
    NotFound,
}

/// One `[[layers]]` table: a layer published from the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerConfig {
    /// Layer name used in requests (`LAYERS=`, `LAYER=`).
    pub name: String,
    /// Human-readable title (default: the name).
    pub title: String,
    /// Longer description.
    pub abstract_text: String,
    /// Keywords listed in capabilities.
    pub keywords: Vec<String>,
    /// Metadata links and attribution.
    pub metadata: LayerMetadataConfig,
    /// Its own tile settings.
    pub tiles: LayerTilesConfig,
    /// Requests per second per client on it, through any service (0: no limit).
    pub rate_limit: u32,
    /// What the layer serves.
    pub kind: LayerKind,
}

/// The source of a configured layer.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerKind {
    /// Vector data rendered on demand by WMS.
    Vector {
        /// GeoPackage file.
        source: PathBuf,
        /// Table inside the GeoPackage.
        table: String,
        /// SLD file.
        style: PathBuf,
        /// Whether GetFeatureInfo answers the features under a point.
        queryable: bool,
        /// Whether WFS (and OGC API – Features) hands out the features themselves.
        wfs: bool,
    },
    /// A ROK4-compatible pyramid served by WMTS, TMS and WMS.
    Pyramid {
        /// The pyramid descriptor (`pyramid.json`), a file or an `s3://bucket/key` object.
        pyramid: pyramid::Location,
        /// Whether GetFeatureInfo answers the stored pixel values.
        getfeatureinfo: bool,
        /// Answer to tiles without data.
        empty_tile: EmptyTile,
        /// Finest tile matrix served (None: the pyramid's finest).
        bottom_level: Option<String>,
        /// Coarsest tile matrix served (None: the pyramid's coarsest).
        top_level: Option<String>,
        /// SLD with a RasterSymbolizer for WMS (None: the pixels as they are).
        style: Option<PathBuf>,
        /// Resampling of WMS maps.
        interpolation: pyramid::Interpolation,
    },
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                public_url: None,
                cors_allow_origin: "*".to_owned(),
                max_url_length: 8 * 1024,
                max_header_bytes: 16 * 1024,
                max_body_bytes: 1024 * 1024 * 1024,
                request_timeout: Duration::from_mins(1),
                shutdown_grace: Duration::from_secs(30),
                workers: 0,
                max_connections: 8192,
            },
            log: LogConfig {
                level: "info".to_owned(),
                format: LogFormat::Text,
            },
            data: DataConfig {
                dir: PathBuf::from(DEFAULT_DATA_DIR),
            },
            catalog: CatalogConfig::default(),
            api: ApiConfig::default(),
            tiles: TilesConfig::default(),
            wms: WmsConfig::default(),
            wfs: WfsConfig::default(),
            vector_tiles: VectorTilesConfig::default(),
            tile_cache: TileCacheConfig::default(),
            object_storage: ObjectStorageConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            layers: Vec::new(),
        }
    }
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// 1-based line (0 when the problem has no position, e.g. an environment variable).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The dotted key the problem is about (`server.listen`, `layers[2].source`).
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Every problem of a config file, with the file they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The file (or `environment`).
    pub origin: String,
    /// All problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, p) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            if p.line > 0 {
                write!(f, "{}:{}:{}: ", self.origin, p.line, p.column)?;
            } else {
                write!(f, "{}: ", self.origin)?;
            }
            if p.key.is_empty() {
                write!(f, "{}", p.message)?;
            } else {
                write!(f, "{}: {}", p.key, p.message)?;
            }
            if let Some(hint) = &p.hint {
                write!(f, "\n    hint: {hint}")?;
            }
        }
        Ok(())
    }
}

/// Errors of loading a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file (or the environment) holds problems.
    #[error("{count} problem(s) in the configuration:\n{0}", count = .0.problems.len())]
    Invalid(Problems),
}

/// Overrides that take precedence over the file (from flags or the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--listen` / `TUILERIE_LISTEN`.
    pub listen: Option<String>,
    /// `--data` / `TUILERIE_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `TUILERIE_API_TOKEN`.
    pub api_token: Option<String>,
    /// `TUILERIE_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// `TUILERIE_LOG`.
    pub log_level: Option<String>,
    /// `TUILERIE_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `TUILERIE_CATALOG_URL`.
    pub catalog_url: Option<String>,
}

impl Overrides {
    /// Reads the `TUILERIE_…` environment variables.
    pub fn from_env() -> Overrides {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Overrides {
            listen: var("TUILERIE_LISTEN"),
            data_dir: var("TUILERIE_DATA_DIR").map(PathBuf::from),
            api_token: var("TUILERIE_API_TOKEN"),
            public_url: var("TUILERIE_PUBLIC_URL"),
            log_level: var("TUILERIE_LOG"),
            log_format: var("TUILERIE_LOG_FORMAT"),
            catalog_url: var("TUILERIE_CATALOG_URL"),
        }
    }

    /// Layers `other` over `self`: values set in `other` win.
    #[must_use]
    pub fn then(self, other: Overrides) -> Overrides {
        Overrides {
            listen: other.listen.or(self.listen),
            data_dir: other.data_dir.or(self.data_dir),
            api_token: other.api_token.or(self.api_token),
            public_url: other.public_url.or(self.public_url),
            log_level: other.log_level.or(self.log_level),
            log_format: other.log_format.or(self.log_format),
            catalog_url: other.catalog_url.or(self.catalog_url),
        }
    }
}

impl Config {
    /// Applies flag and environment overrides, validating their values.
    pub fn apply(&mut self, overrides: &Overrides) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String, hint: &str| {
            problems.push(Problem {
                line: 0,
                column: 0,
                key: key.to_owned(),
                message,
                hint: Some(hint.to_owned()),
            });
        };
        if let Some(listen) = &overrides.listen {
            match parse_listen(listen) {
                Ok(addr) => self.server.listen = addr,
                Err(hint) => problem(
                    "listen (--listen / TUILERIE_LISTEN)",
                    format!("'{listen}' is not an address and port"),
                    hint,
                ),
            }
        }
        if let Some(dir) = &overrides.data_dir {
            self.data.dir.clone_from(dir);
        }
        if let Some(token) = &overrides.api_token {
            self.api.token = Some(token.clone());
        }
        if let Some(url) = &overrides.public_url {
            match check_public_url(url) {
                Ok(url) => self.server.public_url = Some(url),
                Err(hint) => problem(
                    "TUILERIE_PUBLIC_URL",
                    format!("'{url}' is not an http(s) URL"),
                    hint,
                ),
            }
        }
        if let Some(level) = &overrides.log_level {
            self.log.level.clone_from(level);
        }
        if let Some(url) = &overrides.catalog_url {
            match check_catalog_url(url) {
                Ok(()) => self.catalog.url = Some(url.clone()),
                Err(hint) => problem(
                    "TUILERIE_CATALOG_URL",
                    format!("'{}' is not a PostgreSQL URL", redact_password(url)),
                    hint,
                ),
            }
        }
        if let Some(format) = &overrides.log_format {
            match parse_log_format(format) {
                Some(f) => self.log.format = f,
                None => problem(
                    "TUILERIE_LOG_FORMAT",
                    format!("unknown log format '{format}'"),
                    "use \"text\" or \"json\"",
                ),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(Problems {
                origin: "command line / environment".to_owned(),
                problems,
            }))
        }
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, &'static str> {
    let text = text.trim();
    if let Some(port) = text.strip_prefix("localhost:") {
        return port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .map_err(|_| LISTEN_HINT);
    }
    text.parse::<SocketAddr>().map_err(|_| LISTEN_HINT)
}

const LISTEN_HINT: &str =
    "write an IP address and a port: \"127.0.0.1:8080\", \"0.0.0.0:8080\" or \"[::]:8080\"";

fn check_public_url(text: &str) -> Result<String, &'static str> {
    let trimmed = text.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_owned())
        }
        _ => Err(
            "write the URL clients reach the server at, e.g. \"https://maps.example.org/tuilerie\"",
        ),
    }
}

fn parse_log_format(text: &str) -> Option<LogFormat> {
    match text {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

/// Whether a layer name is acceptable in every service (WMS, WMTS, TMS URLs).
pub fn is_valid_layer_name(name: &str) -> bool {
    static NAME: OnceLock<Option<Regex>> = OnceLock::new();
    NAME.get_or_init(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_\-.]*$").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(name))
}

/// Whether a catalog URL names PostgreSQL; the hint when not.
pub(crate) fn check_catalog_url(url: &str) -> Result<(), &'static str> {
    if url.starts_with("postgresql://") || url.starts_with("postgres://") {
        Ok(())
    } else {
        Err("give \"postgresql://USER:PASSWORD@HOST:PORT/DATABASE\", or leave it unset for catalog.sqlite in the data directory")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::check::line_column;
    use std::path::Path;

    use super::*;

    fn problems(text: &str, base: &Path) -> Vec<Problem> {
        match Config::parse(text, "test.toml", base) {
            Err(ConfigError::Invalid(p)) => p.problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn empty_file_gives_embedded_defaults() {
        let config = Config::parse("", "empty", Path::new(".")).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn shipped_config_file_is_valid_and_equals_defaults() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/tuilerie.toml"
        ));
        let config = Config::load(path).unwrap();
        let defaults = Config::default();
        assert_eq!(config.server, defaults.server);
        assert_eq!(config.log, defaults.log);
        assert_eq!(config.api, defaults.api);
        assert_eq!(config.tiles, defaults.tiles);
        assert_eq!(config.wfs, defaults.wfs);
        assert_eq!(config.vector_tiles, defaults.vector_tiles);
        assert_eq!(config.tile_cache, defaults.tile_cache);
        assert_eq!(config.rate_limits, defaults.rate_limits);
        assert_eq!(config.object_storage, defaults.object_storage);
        assert_eq!(config.catalog, defaults.catalog);
        assert!(config.layers.is_empty());
        assert!(config.data.dir.ends_with("data"));
    }

    #[test]
    fn the_catalog_url_is_checked_and_its_password_kept_out_of_debug() {
        let text =
            "[catalog]\nurl = \"postgresql://tuilerie:hush-hush@db:5432/catalog\"\npool_size = 3\n";
        let config = Config::parse(text, "t", Path::new(".")).unwrap();
        assert_eq!(
            config.catalog.url.as_deref(),
            Some("postgresql://tuilerie:hush-hush@db:5432/catalog")
        );
        assert_eq!(config.catalog.pool_size, 3);
        let debug = format!("{config:?}");
        assert!(!debug.contains("hush-hush"), "{debug}");
        assert!(debug.contains("tuilerie:***@db"), "{debug}");

        let found = problems(
            "[catalog]\nurl = \"mysql://u:secret@db/x\"\npool_size = 0\n",
            Path::new("."),
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["catalog.url", "catalog.pool_size"], "{found:?}");
        assert!(!format!("{found:?}").contains("secret"), "{found:?}");

        let mut config = Config::default();
        let refused = config.apply(&Overrides {
            catalog_url: Some("sqlite:///tmp/x".to_owned()),
            ..Overrides::default()
        });
        assert!(refused.is_err());
        config
            .apply(&Overrides {
                catalog_url: Some("postgres://db/catalog".to_owned()),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(config.catalog.url.as_deref(), Some("postgres://db/catalog"));
    }

    #[test]
    fn object_storage_is_read_checked_and_keeps_its_secret_out_of_debug() {
        let text = "[object_storage]\nurl = \"http://127.0.0.1:9000\"\nkey = \"ak\"\nsecret = \"hush-hush\"\nregion = \"eu-west-3\"\ntimeout_secs = 7\nconnect_timeout_secs = 2\nretries = 0\n\n[[layers]]\nname = \"ortho\"\nkind = \"pyramid\"\npyramid = \"s3://pyramids/ortho/pyramid.json\"\n";
        let config = Config::parse(text, "t", Path::new(".")).unwrap();
        let storage = &config.object_storage;
        assert_eq!(storage.url.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(
            (storage.key.as_str(), storage.secret.as_str()),
            ("ak", "hush-hush")
        );
        assert_eq!(storage.region, "eu-west-3");
        assert_eq!(storage.timeout, Duration::from_secs(7));
        assert_eq!(storage.connect_timeout, Duration::from_secs(2));
        assert_eq!(storage.retries, 0);
        assert!(!format!("{config:?}").contains("hush-hush"));
        let LayerKind::Pyramid { pyramid, .. } = &config.layers[0].kind else {
            panic!("not a pyramid layer");
        };
        assert_eq!(pyramid.to_string(), "s3://pyramids/ortho/pyramid.json");

        let found = problems(
            "[object_storage]\nurl = \"s3.example.org\"\nretries = -1\n\n[[layers]]\nname = \"a\"\nkind = \"pyramid\"\npyramid = \"ceph://pool/a.json\"\n",
            Path::new("."),
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "object_storage.url",
                "object_storage.retries",
                "layers[0].pyramid"
            ],
            "{found:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[server]\nlisten = \"nowhere\"\nlisen = 3\n\n[[layers]]\nname = \"roads\"\nkind = \"vector\"\nsource = \"missing.gpkg\"\ntable = \"roads\"\nstyle = \"missing.sld\"\n";
        let found = problems(text, dir.path());
        let lines: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert_eq!(
            lines,
            vec![
                (2, "server.listen"),
                (3, "server.lisen"),
                (8, "layers[0].source"),
                (10, "layers[0].style")
            ]
        );
        assert_eq!(
            found[1]
                .hint
                .as_deref()
                .map(|h| h.starts_with("did you mean 'listen'?")),
            Some(true)
        );
    }

    #[test]
    fn syntax_errors_have_positions_and_do_not_hide_other_problems() {
        let found = problems(
            "[server]\nlisten = 127.0.0.1:8080\n[log]\nformat = \"xml\"\n",
            Path::new("."),
        );
        assert!(
            found
                .iter()
                .any(|p| p.line == 2 && p.message.contains("syntax")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.line == 4 && p.key == "log.format"),
            "{found:?}"
        );
    }

    #[test]
    fn layers_are_parsed_with_paths_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("world.gpkg"), b"x").unwrap();
        std::fs::write(dir.path().join("world.sld"), b"x").unwrap();
        std::fs::write(dir.path().join("pyramid.json"), b"{}").unwrap();
        let text = "[[layers]]\nname = \"countries\"\nkind = \"vector\"\nsource = \"world.gpkg\"\ntable = \"countries\"\nstyle = \"world.sld\"\nkeywords = [\"world\"]\n\n[[layers]]\nname = \"elevation\"\ntitle = \"Elevation\"\nkind = \"pyramid\"\npyramid = \"pyramid.json\"\ngetfeatureinfo = true\n";
        let config = Config::parse(text, "t", dir.path()).unwrap();
        assert_eq!(config.layers.len(), 2);
        assert_eq!(config.layers[0].title, "countries");
        assert_eq!(config.layers[0].keywords, vec!["world".to_owned()]);
        assert_eq!(
            config.layers[1].kind,
            LayerKind::Pyramid {
                pyramid: pyramid::Location::File(dir.path().join("pyramid.json")),
                getfeatureinfo: true,
                empty_tile: EmptyTile::Nodata,
                bottom_level: None,
                top_level: None,
                style: None,
                interpolation: pyramid::Interpolation::Bilinear,
            }
        );
    }

    #[test]
    fn layers_choose_their_tile_settings_and_mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w.gpkg"), b"x").unwrap();
        std::fs::write(dir.path().join("w.sld"), b"x").unwrap();
        let layer = "[[layers]]\nname = \"w\"\nkind = \"vector\"\nsource = \"w.gpkg\"\ntable = \"t\"\nstyle = \"w.sld\"\ncache_control = \"no-cache\"\n";
        let text = format!("[tile_cache]\nformats = [\"webp\", \"jpg\"]\n{layer}[layers.tiles]\nformats = [\"png8\", \"mvt\"]\nmax_zoom = 12\n");
        let config = Config::parse(&text, "t", dir.path()).unwrap();
        assert_eq!(
            config.tile_cache.formats,
            [CacheFormat::Webp, CacheFormat::Jpeg]
        );
        let tiles = &config.layers[0].tiles;
        assert_eq!(tiles.cache_control.as_deref(), Some("no-cache"));
        assert_eq!(tiles.formats.as_deref(), Some(&[CacheFormat::Png8][..]));
        assert_eq!(tiles.vector_tiles, Some(true));
        assert_eq!((tiles.min_zoom, tiles.max_zoom), (None, Some(12)));
        assert_eq!(tiles.narrow(0..=18), 0..=12);
        assert!(tiles.tiled());
        let text = format!("[tile_cache]\nformats = [\"gif\"]\n{layer}[layers.tiles]\nformats = [\"mvt\", \"tiff\"]\nmin_zoom = 9\nmax_zoom = 3\nenabled = \"no\"\nlevels = []\nsets = [\"PM\", \"Mars\"]\n");
        let found = problems(&text, dir.path());
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "tile_cache.formats",
                "layers[0].tiles.formats",
                "layers[0].tiles.min_zoom",
                "layers[0].tiles.enabled",
                "layers[0].tiles.levels",
                "layers[0].tiles.sets"
            ],
            "{found:?}"
        );
        assert!(found[1].message.contains("'tiff'"), "{found:?}");
        assert!(found[5].message.contains("Mars"), "{found:?}");
        assert!(
            found[5].hint.as_deref().unwrap_or("").contains("LAMB93"),
            "{found:?}"
        );
    }

    #[test]
    fn layer_names_must_be_valid_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.json"), b"{}").unwrap();
        let text = "[[layers]]\nname = \"9lives\"\nkind = \"pyramid\"\npyramid = \"p.json\"\n[[layers]]\nname = \"a\"\nkind = \"pyramid\"\npyramid = \"p.json\"\n[[layers]]\nname = \"a\"\nkind = \"pyramid\"\npyramid = \"p.json\"\nsource = \"x\"\n";
        let found = problems(text, dir.path());
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["layers[0].name", "layers[2].name", "layers[2].source"],
            "{found:?}"
        );
    }

    #[test]
    fn wrong_types_and_ranges_are_explained() {
        let found = problems(
            "[server]\nmax_url_length = \"big\"\nrequest_timeout_secs = 0\n[api]\ntoken = 5\nextra = 1\n[log]\nlevel = \"info,=[\"\n",
            Path::new("."),
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "server.max_url_length",
                "server.request_timeout_secs",
                "api.token",
                "api.extra",
                "log.level"
            ]
        );
    }

    #[test]
    fn overrides_win_over_the_file_and_are_validated() {
        let mut config = Config::default();
        config
            .apply(&Overrides {
                listen: Some("0.0.0.0:9000".to_owned()),
                data_dir: Some(PathBuf::from("/srv/tiles")),
                api_token: Some("secret".to_owned()),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.data.dir, PathBuf::from("/srv/tiles"));
        assert_eq!(config.api.token.as_deref(), Some("secret"));
        let bad = config.apply(&Overrides {
            listen: Some("nope".to_owned()),
            ..Overrides::default()
        });
        assert!(matches!(bad, Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn layer_name_pattern() {
        for ok in ["a", "_x", "BDORTHO.2024", "plan-ign_v2"] {
            assert!(is_valid_layer_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a b", "a/b", "é", "-a"] {
            assert!(!is_valid_layer_name(bad), "{bad}");
        }
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("ab\ncé=d", 6), (2, 3));
        assert_eq!(line_column("", 0), (1, 1));
    }
}
