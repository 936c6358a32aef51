//! The configuration file (`tuilerie.toml`), its defaults and its validation.
//!
//! Operators edit this file by hand, so a mistake must be found at once and explained well:
//! the file is parsed into a span-carrying TOML tree and walked key by key, so that *every*
//! problem (syntax error, unknown key, wrong type, bad value, missing file) is reported with its
//! line, column and a hint, instead of stopping at the first one as plain serde would.
//!
//! Precedence: command-line flags > environment (`TUILERIE_…`) > file > embedded defaults.
//! Relative paths in the file are resolved against the directory that holds the file.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
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
    /// `[api]`
    pub api: ApiConfig,
    /// `[tiles]`
    pub tiles: TilesConfig,
    /// `[wms]`
    pub wms: WmsConfig,
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

/// `[api]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Bearer token of the publication API (None: one is generated into `{data}/api-token`).
    pub token: Option<String>,
    /// Threads running checks, integrations and pyramid generations.
    pub job_workers: usize,
    /// Most bytes one upload may hold.
    pub max_upload_bytes: u64,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            token: None,
            job_workers: 1,
            max_upload_bytes: 4 * 1024 * 1024 * 1024,
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
    },
    /// A ROK4-compatible pyramid served by WMTS, TMS and WMS.
    Pyramid {
        /// The pyramid descriptor (`pyramid.json`).
        pyramid: PathBuf,
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
            },
            log: LogConfig {
                level: "info".to_owned(),
                format: LogFormat::Text,
            },
            data: DataConfig {
                dir: PathBuf::from(DEFAULT_DATA_DIR),
            },
            api: ApiConfig::default(),
            tiles: TilesConfig::default(),
            wms: WmsConfig::default(),
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
        }
    }
}

impl Config {
    /// Reads and validates a config file; relative paths resolve against its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and validates config text; `origin` names it in messages, `base` resolves paths.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut walker = Walker {
            source: text,
            base,
            problems: Vec::new(),
        };
        let config = walker.document();
        if walker.problems.is_empty() {
            Ok(config)
        } else {
            walker.problems.sort_by_key(|p| (p.line, p.column));
            Err(ConfigError::Invalid(Problems {
                origin: origin.to_owned(),
                problems: walker.problems,
            }))
        }
    }

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

/// Walks the span-carrying TOML tree, building the config and collecting problems.
struct Walker<'a> {
    source: &'a str,
    base: &'a Path,
    problems: Vec<Problem>,
}

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &["server", "log", "data", "api", "tiles", "wms", "layers"];
const WMS_KEYS: &[&str] = &[
    "title",
    "abstract",
    "keywords",
    "contact_person",
    "contact_organization",
    "contact_position",
    "contact_email",
    "contact_phone",
    "fees",
    "access_constraints",
    "layer_limit",
    "max_width",
    "max_height",
    "crs",
    "render_threads",
    "render_queue",
    "cache_bytes",
    "font_dir",
    "info_tolerance_px",
];
const TILES_KEYS: &[&str] = &[
    "tile_matrix_sets_dir",
    "cache_control",
    "index_cache_bytes",
    "open_slabs",
];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "cors_allow_origin",
    "max_url_length",
    "max_header_bytes",
    "max_body_bytes",
    "request_timeout_secs",
    "shutdown_grace_secs",
    "workers",
];
const LOG_KEYS: &[&str] = &["level", "format"];
const DATA_KEYS: &[&str] = &["dir"];
const API_KEYS: &[&str] = &["token", "job_workers", "max_upload_bytes"];
const LAYER_COMMON_KEYS: &[&str] = &[
    "name",
    "title",
    "abstract",
    "keywords",
    "kind",
    "metadata_urls",
    "attribution",
    "attribution_url",
];
const LAYER_VECTOR_KEYS: &[&str] = &["source", "table", "style", "queryable"];
const LAYER_PYRAMID_KEYS: &[&str] = &[
    "pyramid",
    "getfeatureinfo",
    "empty_tile",
    "bottom_level",
    "top_level",
    "style",
    "interpolation",
];

impl Walker<'_> {
    fn document(&mut self) -> Config {
        let mut config = Config::default();
        let (root, errors) = DeTable::parse_recoverable(self.source);
        for error in errors {
            let offset = error.span().map_or(0, |s| s.start);
            self.push(
                offset,
                "",
                format!("TOML syntax error: {}", error.message().trim()),
                Some("see https://toml.io for the syntax; strings need double quotes".to_owned()),
            );
        }
        let root = root.into_inner();
        self.unknown_keys(&root, "", TOP_KEYS);
        if let Some(table) = self.table(&root, "server", "") {
            self.server(table, &mut config.server);
        }
        if let Some(table) = self.table(&root, "log", "") {
            self.unknown_keys(table, "log", LOG_KEYS);
            if let Some((level, offset)) = self.string_at(table, "level", "log") {
                if tracing_subscriber::EnvFilter::try_new(&level).is_ok() {
                    config.log.level = level;
                } else {
                    self.push(
                        offset,
                        "log.level",
                        format!("'{level}' is not a log filter"),
                        Some(
                            "use a level (error, warn, info, debug, trace) or directives such as \"info,tuilerie=debug\""
                                .to_owned(),
                        ),
                    );
                }
            }
            if let Some((format, offset)) = self.string_at(table, "format", "log") {
                match parse_log_format(&format) {
                    Some(f) => config.log.format = f,
                    None => self.push(
                        offset,
                        "log.format",
                        format!("unknown log format '{format}'"),
                        Some("use \"text\" or \"json\"".to_owned()),
                    ),
                }
            }
        }
        if let Some(table) = self.table(&root, "data", "") {
            self.unknown_keys(table, "data", DATA_KEYS);
            if let Some(dir) = self.string(table, "dir", "data") {
                config.data.dir = self.base.join(dir);
            }
        }
        if let Some(table) = self.table(&root, "api", "") {
            self.unknown_keys(table, "api", API_KEYS);
            if let Some(token) = self.string(table, "token", "api") {
                config.api.token = Some(token).filter(|t| !t.is_empty());
            }
            if let Some(n) = self.integer(table, "job_workers", "api", 1, 64) {
                config.api.job_workers = n as usize;
            }
            if let Some(n) = self.integer(table, "max_upload_bytes", "api", 1, i64::MAX) {
                config.api.max_upload_bytes = n as u64;
            }
        }
        if let Some(table) = self.table(&root, "tiles", "") {
            self.tiles(table, &mut config.tiles);
        }
        if let Some(table) = self.table(&root, "wms", "") {
            self.wms(table, &mut config.wms);
        }
        if let Some(layers) = root.get("layers") {
            config.layers = self.layers(layers);
        }
        config
    }

    fn server(&mut self, table: &Table<'_>, server: &mut ServerConfig) {
        const P: &str = "server";
        self.unknown_keys(table, P, SERVER_KEYS);
        if let Some((listen, offset)) = self.string_at(table, "listen", P) {
            match parse_listen(&listen) {
                Ok(addr) => server.listen = addr,
                Err(hint) => self.push(
                    offset,
                    "server.listen",
                    format!("'{listen}' is not an address and port"),
                    Some(hint.to_owned()),
                ),
            }
        }
        if let Some((url, offset)) = self.string_at(table, "public_url", P) {
            if !url.is_empty() {
                match check_public_url(&url) {
                    Ok(url) => server.public_url = Some(url),
                    Err(hint) => self.push(
                        offset,
                        "server.public_url",
                        format!("'{url}' is not an http(s) URL"),
                        Some(hint.to_owned()),
                    ),
                }
            }
        }
        if let Some(origin) = self.string(table, "cors_allow_origin", P) {
            server.cors_allow_origin = origin;
        }
        if let Some(n) = self.integer(table, "max_url_length", P, 256, 1 << 20) {
            server.max_url_length = n as usize;
        }
        if let Some(n) = self.integer(table, "max_header_bytes", P, 8192, 1 << 24) {
            server.max_header_bytes = n as usize;
        }
        if let Some(n) = self.integer(table, "max_body_bytes", P, 1024, i64::MAX) {
            server.max_body_bytes = n as u64;
        }
        if let Some(n) = self.integer(table, "request_timeout_secs", P, 1, 86_400) {
            server.request_timeout = Duration::from_secs(n as u64);
        }
        if let Some(n) = self.integer(table, "shutdown_grace_secs", P, 0, 3600) {
            server.shutdown_grace = Duration::from_secs(n as u64);
        }
        if let Some(n) = self.integer(table, "workers", P, 0, 1024) {
            server.workers = n as usize;
        }
    }

    fn tiles(&mut self, table: &Table<'_>, tiles: &mut TilesConfig) {
        const P: &str = "tiles";
        self.unknown_keys(table, P, TILES_KEYS);
        if let Some((dir, offset)) = self.string_at(table, "tile_matrix_sets_dir", P) {
            if !dir.is_empty() {
                let resolved = self.base.join(&dir);
                if resolved.is_dir() {
                    tiles.tile_matrix_sets_dir = Some(resolved);
                } else {
                    self.push(
                        offset,
                        "tiles.tile_matrix_sets_dir",
                        format!("'{}' is not a directory", resolved.display()),
                        Some("give a folder of tile matrix set JSON files, or \"\" for the built-in ones only".to_owned()),
                    );
                }
            }
        }
        if let Some(value) = self.string(table, "cache_control", P) {
            tiles.cache_control = value;
        }
        if let Some(n) = self.integer(table, "index_cache_bytes", P, 4096, i64::MAX) {
            tiles.index_cache_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.integer(table, "open_slabs", P, 1, 65_536) {
            tiles.open_slabs = n as usize;
        }
    }

    fn wms(&mut self, table: &Table<'_>, wms: &mut WmsConfig) {
        const P: &str = "wms";
        self.unknown_keys(table, P, WMS_KEYS);
        for (key, field) in [
            ("title", &mut wms.title),
            ("abstract", &mut wms.abstract_text),
            ("contact_person", &mut wms.contact_person),
            ("contact_organization", &mut wms.contact_organization),
            ("contact_position", &mut wms.contact_position),
            ("contact_email", &mut wms.contact_email),
            ("contact_phone", &mut wms.contact_phone),
            ("fees", &mut wms.fees),
            ("access_constraints", &mut wms.access_constraints),
        ] {
            if let Some(value) = self.string(table, key, P) {
                *field = value;
            }
        }
        if table.contains_key("keywords") {
            wms.keywords = self.string_list(table, "keywords", P);
        }
        if let Some(n) = self.integer(table, "layer_limit", P, 1, 1000) {
            wms.layer_limit = n as u32;
        }
        if let Some(n) = self.integer(table, "max_width", P, 16, 65_536) {
            wms.max_width = n as u32;
        }
        if let Some(n) = self.integer(table, "max_height", P, 16, 65_536) {
            wms.max_height = n as u32;
        }
        if let Some(value) = table.get("crs") {
            let offset = value.span().start;
            let list = self.string_list(table, "crs", P);
            let mut crs = Vec::new();
            for code in list {
                match crs::Crs::parse(&code) {
                    Ok(_) => crs.push(code),
                    Err(error) => self.push(
                        offset,
                        "wms.crs",
                        format!("'{code}' is not a CRS this server knows: {error}"),
                        Some("use codes such as \"EPSG:3857\", \"EPSG:4326\", \"CRS:84\" or \"EPSG:2154\"".to_owned()),
                    ),
                }
            }
            wms.crs = crs;
        }
        if let Some(n) = self.integer(table, "render_threads", P, 0, 1024) {
            wms.render_threads = n as usize;
        }
        if let Some(n) = self.integer(table, "render_queue", P, 0, 1_000_000) {
            wms.render_queue = n as usize;
        }
        if let Some(n) = self.integer(table, "cache_bytes", P, 0, i64::MAX) {
            wms.cache_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.integer(table, "info_tolerance_px", P, 0, 100) {
            wms.info_tolerance_px = n as u32;
        }
        if let Some((dir, offset)) = self.string_at(table, "font_dir", P) {
            if !dir.is_empty() {
                let resolved = self.base.join(&dir);
                if resolved.is_dir() {
                    wms.font_dir = Some(resolved);
                } else {
                    self.push(
                        offset,
                        "wms.font_dir",
                        format!("'{}' is not a directory", resolved.display()),
                        Some(
                            "give a folder of .ttf / .otf files, or \"\" for the bundled font only"
                                .to_owned(),
                        ),
                    );
                }
            }
        }
    }

    fn layers(&mut self, value: &Value<'_>) -> Vec<LayerConfig> {
        let DeValue::Array(items) = value.get_ref() else {
            self.push(
                value.span().start,
                "layers",
                format!(
                    "expected an array of tables, found {}",
                    value.get_ref().type_str()
                ),
                Some("declare each layer with a [[layers]] header".to_owned()),
            );
            return Vec::new();
        };
        let mut layers = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (index, item) in items.iter().enumerate() {
            let path = format!("layers[{index}]");
            let DeValue::Table(table) = item.get_ref() else {
                self.push(
                    item.span().start,
                    &path,
                    format!("expected a table, found {}", item.get_ref().type_str()),
                    Some("declare each layer with a [[layers]] header".to_owned()),
                );
                continue;
            };
            if let Some(layer) = self.layer(table, &path, item.span().start) {
                if seen.insert(layer.name.clone()) {
                    layers.push(layer);
                } else {
                    let offset = table
                        .get("name")
                        .map_or(item.span().start, |v| v.span().start);
                    self.push(
                        offset,
                        &format!("{path}.name"),
                        format!(
                            "layer name '{}' is already used by another layer",
                            layer.name
                        ),
                        Some("layer names must be unique: rename one of them".to_owned()),
                    );
                }
            }
        }
        layers
    }

    fn layer(&mut self, table: &Table<'_>, path: &str, start: usize) -> Option<LayerConfig> {
        let name = self.required_string(table, "name", path, start);
        if let Some((name, offset)) = &name {
            if !is_valid_layer_name(name) {
                self.push(
                    *offset,
                    &format!("{path}.name"),
                    format!("'{name}' is not a valid layer name"),
                    Some(
                        "start with a letter or '_', then letters, digits, '_', '-' or '.' \
                         (pattern ^[A-Za-z_][A-Za-z0-9_\\-.]*$)"
                            .to_owned(),
                    ),
                );
            }
        }
        let title = self.string(table, "title", path);
        let abstract_text = self.string(table, "abstract", path).unwrap_or_default();
        let keywords = self.string_list(table, "keywords", path);
        let metadata = LayerMetadataConfig {
            metadata_urls: self.string_list(table, "metadata_urls", path),
            attribution: self.string(table, "attribution", path).unwrap_or_default(),
            attribution_url: self
                .string(table, "attribution_url", path)
                .unwrap_or_default(),
        };
        let kind = self.required_string(table, "kind", path, start);
        let kind = match kind.as_ref().map(|(k, o)| (k.as_str(), *o)) {
            Some(("vector", _)) => {
                self.unknown_keys_of_two(
                    table,
                    path,
                    LAYER_COMMON_KEYS,
                    LAYER_VECTOR_KEYS,
                    "vector",
                );
                let source = self.existing_file(table, "source", path, start);
                let table_name = self.required_string(table, "table", path, start);
                let style = self.existing_file(table, "style", path, start);
                let queryable = self.boolean(table, "queryable", path).unwrap_or(true);
                match (source, table_name, style) {
                    (Some(source), Some((table_name, _)), Some(style)) => Some(LayerKind::Vector {
                        source,
                        table: table_name,
                        style,
                        queryable,
                    }),
                    _ => None,
                }
            }
            Some(("pyramid", _)) => {
                self.unknown_keys_of_two(
                    table,
                    path,
                    LAYER_COMMON_KEYS,
                    LAYER_PYRAMID_KEYS,
                    "pyramid",
                );
                let pyramid = self.existing_file(table, "pyramid", path, start);
                let getfeatureinfo = self.boolean(table, "getfeatureinfo", path).unwrap_or(false);
                let empty_tile = match self.string_at(table, "empty_tile", path) {
                    None => EmptyTile::Nodata,
                    Some((value, offset)) => match value.as_str() {
                        "nodata" => EmptyTile::Nodata,
                        "204" => EmptyTile::NoContent,
                        "404" => EmptyTile::NotFound,
                        other => {
                            self.push(
                                offset,
                                &format!("{path}.empty_tile"),
                                format!("unknown empty tile answer '{other}'"),
                                Some(
                                    "use \"nodata\" (a tile of no-data), \"204\" or \"404\""
                                        .to_owned(),
                                ),
                            );
                            EmptyTile::Nodata
                        }
                    },
                };
                let bottom_level = self.string(table, "bottom_level", path);
                let top_level = self.string(table, "top_level", path);
                let style = if table.contains_key("style") {
                    self.existing_file(table, "style", path, start)
                } else {
                    None
                };
                let interpolation = match self.string_at(table, "interpolation", path) {
                    None => pyramid::Interpolation::Bilinear,
                    Some((value, offset)) => match value.parse::<pyramid::Interpolation>() {
                        Ok(i) if i != pyramid::Interpolation::Lanczos => i,
                        _ => {
                            self.push(
                                offset,
                                &format!("{path}.interpolation"),
                                format!("unknown interpolation '{value}'"),
                                Some("use \"nearest\", \"bilinear\" or \"bicubic\"".to_owned()),
                            );
                            pyramid::Interpolation::Bilinear
                        }
                    },
                };
                pyramid.map(|pyramid| LayerKind::Pyramid {
                    pyramid,
                    getfeatureinfo,
                    empty_tile,
                    bottom_level,
                    top_level,
                    style,
                    interpolation,
                })
            }
            Some((other, offset)) => {
                self.push(
                    offset,
                    &format!("{path}.kind"),
                    format!("unknown layer kind '{other}'"),
                    Some("use kind = \"vector\" (GeoPackage + SLD, served by WMS) or kind = \"pyramid\" (served by WMTS, TMS and WMS)".to_owned()),
                );
                None
            }
            None => None,
        };
        let (name, _) = name?;
        Some(LayerConfig {
            title: title.unwrap_or_else(|| name.clone()),
            name,
            abstract_text,
            keywords,
            metadata,
            kind: kind?,
        })
    }

    // --- typed accessors, each reporting its own problems -------------------------------

    fn push(&mut self, offset: usize, key: &str, message: String, hint: Option<String>) {
        let (line, column) = line_column(self.source, offset);
        self.problems.push(Problem {
            line,
            column,
            key: key.to_owned(),
            message,
            hint,
        });
    }

    fn unknown_keys(&mut self, table: &Table<'_>, path: &str, allowed: &[&str]) {
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.unknown_key(key, path, allowed, "");
            }
        }
    }

    fn unknown_keys_of_two(
        &mut self,
        table: &Table<'_>,
        path: &str,
        common: &[&str],
        specific: &[&str],
        kind: &str,
    ) {
        let allowed: Vec<&str> = common.iter().chain(specific).copied().collect();
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.unknown_key(key, path, &allowed, &format!(" for a {kind} layer"));
            }
        }
    }

    fn unknown_key(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        path: &str,
        allowed: &[&str],
        context: &str,
    ) {
        let name = key.get_ref().as_ref();
        let full = join(path, name);
        let hint = match closest(name, allowed) {
            Some(close) => format!(
                "did you mean '{close}'? known keys{context}: {}",
                allowed.join(", ")
            ),
            None => format!("known keys{context}: {}", allowed.join(", ")),
        };
        self.push(
            key.span().start,
            &full,
            format!("unknown key '{name}'"),
            Some(hint),
        );
    }

    fn table<'t, 'i>(
        &mut self,
        parent: &'t Table<'i>,
        key: &str,
        path: &str,
    ) -> Option<&'t Table<'i>> {
        let value = parent.get(key)?;
        if let DeValue::Table(table) = value.get_ref() {
            Some(table)
        } else {
            self.push(
                value.span().start,
                &join(path, key),
                format!("expected a table, found {}", value.get_ref().type_str()),
                Some(format!("write it as a [{}] section", join(path, key))),
            );
            None
        }
    }

    fn string_at(&mut self, table: &Table<'_>, key: &str, path: &str) -> Option<(String, usize)> {
        let value = table.get(key)?;
        if let DeValue::String(s) = value.get_ref() {
            Some((s.to_string(), value.span().start))
        } else {
            self.push(
                value.span().start,
                &join(path, key),
                format!("expected a string, found {}", value.get_ref().type_str()),
                Some("put the value in double quotes".to_owned()),
            );
            None
        }
    }

    fn string(&mut self, table: &Table<'_>, key: &str, path: &str) -> Option<String> {
        self.string_at(table, key, path).map(|(s, _)| s)
    }

    fn required_string(
        &mut self,
        table: &Table<'_>,
        key: &str,
        path: &str,
        start: usize,
    ) -> Option<(String, usize)> {
        if table.get(key).is_none() {
            self.push(
                start,
                &join(path, key),
                format!("missing required key '{key}'"),
                Some(format!("add {key} = \"…\" to this table")),
            );
            return None;
        }
        self.string_at(table, key, path)
    }

    fn existing_file(
        &mut self,
        table: &Table<'_>,
        key: &str,
        path: &str,
        start: usize,
    ) -> Option<PathBuf> {
        let (value, offset) = self.required_string(table, key, path, start)?;
        let resolved = self.base.join(&value);
        if resolved.is_file() {
            Some(resolved)
        } else {
            let what = if resolved.exists() {
                "is not a file"
            } else {
                "does not exist"
            };
            self.push(
                offset,
                &join(path, key),
                format!("file '{}' {what}", resolved.display()),
                Some(
                    "relative paths are resolved against the directory of the config file"
                        .to_owned(),
                ),
            );
            None
        }
    }

    fn integer(
        &mut self,
        table: &Table<'_>,
        key: &str,
        path: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let value = table.get(key)?;
        let parsed = match value.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.push(
                    value.span().start,
                    &join(path, key),
                    format!("{n} is out of range"),
                    Some(format!("use a whole number from {min} to {max}")),
                );
                None
            }
            None => {
                self.push(
                    value.span().start,
                    &join(path, key),
                    format!(
                        "expected a whole number, found {}",
                        value.get_ref().type_str()
                    ),
                    Some(format!(
                        "use a whole number from {min} to {max}, without quotes"
                    )),
                );
                None
            }
        }
    }

    fn boolean(&mut self, table: &Table<'_>, key: &str, path: &str) -> Option<bool> {
        let value = table.get(key)?;
        if let Some(b) = value.get_ref().as_bool() {
            Some(b)
        } else {
            self.push(
                value.span().start,
                &join(path, key),
                format!(
                    "expected true or false, found {}",
                    value.get_ref().type_str()
                ),
                Some("write true or false, without quotes".to_owned()),
            );
            None
        }
    }

    fn string_list(&mut self, table: &Table<'_>, key: &str, path: &str) -> Vec<String> {
        let Some(value) = table.get(key) else {
            return Vec::new();
        };
        let items = match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .map(|item| item.get_ref().as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        items.unwrap_or_else(|| {
            self.push(
                value.span().start,
                &join(path, key),
                format!(
                    "expected a list of strings, found {}",
                    value.get_ref().type_str()
                ),
                Some("write it as [\"first\", \"second\"]".to_owned()),
            );
            Vec::new()
        })
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
fn closest<'k>(name: &str, allowed: &[&'k str]) -> Option<&'k str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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
        assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
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
        assert!(config.layers.is_empty());
        assert!(config.data.dir.ends_with("data"));
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
                pyramid: dir.path().join("pyramid.json"),
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
