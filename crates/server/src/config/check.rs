//! The key-by-key checker of a configuration file: walks the span-carrying TOML tree, builds
//! the [`Config`] and collects *every* problem (unknown key with a "did you mean", wrong type,
//! bad value, missing file) with its line, column and a hint.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{
    check_public_url, is_valid_layer_name, parse_listen, parse_log_format, CacheFormat, Config,
    ConfigError, EmptyTile, LayerConfig, LayerKind, LayerMetadataConfig, LayerTilesConfig,
    ObjectStorageConfig, Problem, Problems, ServerConfig, TileCacheConfig, TilesConfig,
    VectorTilesConfig, WfsConfig, WmsConfig,
};

/// Walks the span-carrying TOML tree, building the config and collecting problems.
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
            sets: None,
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
}

pub(super) struct Walker<'a> {
    pub(super) source: &'a str,
    pub(super) base: &'a Path,
    pub(super) problems: Vec<Problem>,
    /// The tile matrix sets known (built-in and `[tiles] tile_matrix_sets_dir`), once read.
    pub(super) sets: Option<pyramid::TileMatrixSets>,
}

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &[
    "server",
    "log",
    "data",
    "catalog",
    "api",
    "tiles",
    "wms",
    "wfs",
    "vector_tiles",
    "tile_cache",
    "object_storage",
    "rate_limits",
    "layers",
];
const OBJECT_STORAGE_KEYS: &[&str] = &[
    "url",
    "key",
    "secret",
    "region",
    "timeout_secs",
    "connect_timeout_secs",
    "retries",
];
const RATE_LIMITS_KEYS: &[&str] = &["wms_vector", "wms_raster", "tiles", "features"];
const TILE_CACHE_KEYS: &[&str] = &[
    "enabled",
    "dir",
    "min_zoom",
    "max_zoom",
    "metatile",
    "buffer",
    "max_bytes",
    "open_slabs",
    "formats",
    "hidpi",
    "sets",
];
const LAYER_TILES_KEYS: &[&str] = &["enabled", "formats", "min_zoom", "max_zoom", "sets"];
const VECTOR_TILES_KEYS: &[&str] = &[
    "enabled",
    "min_zoom",
    "max_zoom",
    "extent",
    "buffer",
    "max_tile_bytes",
    "cache_bytes",
    "glyphs_url",
];
const WFS_KEYS: &[&str] = &["title", "abstract", "keywords", "count_default"];
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
    "max_connections",
];
const LOG_KEYS: &[&str] = &["level", "format"];
const DATA_KEYS: &[&str] = &["dir"];
const CATALOG_KEYS: &[&str] = &["url", "pool_size", "ca_file"];
const API_KEYS: &[&str] = &[
    "token",
    "job_workers",
    "max_upload_bytes",
    "cors_allow_origin",
    "token_lifetime_secs",
    "pyramid_storage",
];
const LAYER_COMMON_KEYS: &[&str] = &[
    "name",
    "cache_control",
    "rate_limit",
    "title",
    "abstract",
    "keywords",
    "kind",
    "metadata_urls",
    "attribution",
    "attribution_url",
];
const LAYER_VECTOR_KEYS: &[&str] = &["source", "table", "style", "queryable", "wfs", "tiles"];
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
    pub(super) fn document(&mut self) -> Config {
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
        if let Some(table) = self.table(&root, "catalog", "") {
            self.unknown_keys(table, "catalog", CATALOG_KEYS);
            if let Some((url, offset)) = self.string_at(table, "url", "catalog") {
                if url.is_empty() {
                    config.catalog.url = None;
                } else if let Err(hint) = super::check_catalog_url(&url) {
                    self.push(
                        offset,
                        "catalog.url",
                        format!("'{}' is not a PostgreSQL URL", super::redact_password(&url)),
                        Some(hint.to_owned()),
                    );
                } else {
                    config.catalog.url = Some(url);
                }
            }
            if let Some(n) = self.integer(table, "pool_size", "catalog", 1, 1000) {
                config.catalog.pool_size = n as u32;
            }
            if let Some(file) = self.string(table, "ca_file", "catalog") {
                config.catalog.ca_file = (!file.is_empty()).then(|| self.base.join(file));
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
            if let Some(origin) = self.string(table, "cors_allow_origin", "api") {
                config.api.cors_allow_origin = origin;
            }
            if let Some(n) = self.integer(table, "token_lifetime_secs", "api", 60, 31_536_000) {
                config.api.token_lifetime = std::time::Duration::from_secs(n as u64);
            }
            if let Some((text, offset)) = self.string_at(table, "pyramid_storage", "api") {
                match pyramid::Location::parse(&text) {
                    _ if text.is_empty() => config.api.pyramid_store = None,
                    Ok(pyramid::Location::Object(prefix)) => {
                        config.api.pyramid_store = Some(prefix);
                    }
                    Ok(pyramid::Location::File(_)) => self.push(
                        offset,
                        "api.pyramid_storage",
                        format!("'{text}' is not an s3:// URL"),
                        Some("leave it empty (pyramids in the data directory) or give \"s3://BUCKET/PREFIX\"".to_owned()),
                    ),
                    Err(error) => self.push(
                        offset,
                        "api.pyramid_storage",
                        error.to_string(),
                        Some("leave it empty (pyramids in the data directory) or give \"s3://BUCKET/PREFIX\"".to_owned()),
                    ),
                }
            }
        }
        if let Some(table) = self.table(&root, "tiles", "") {
            self.tiles(table, &mut config.tiles);
        }
        if let Some(dir) = &config.tiles.tile_matrix_sets_dir {
            let mut sets = pyramid::TileMatrixSets::builtin();
            // A folder that does not load is reported when the server reads it.
            if sets.extend_from_dir(dir).is_ok() {
                self.sets = Some(sets);
            }
        }
        if let Some(table) = self.table(&root, "wms", "") {
            self.wms(table, &mut config.wms);
        }
        if let Some(table) = self.table(&root, "wfs", "") {
            self.wfs(table, &mut config.wfs);
        }
        if let Some(table) = self.table(&root, "vector_tiles", "") {
            self.vector_tiles(table, &mut config.vector_tiles);
        }
        if let Some(table) = self.table(&root, "tile_cache", "") {
            self.tile_cache(table, &mut config.tile_cache);
        }
        if let Some(table) = self.table(&root, "object_storage", "") {
            self.object_storage(table, &mut config.object_storage);
        }
        if let Some(table) = self.table(&root, "rate_limits", "") {
            const P: &str = "rate_limits";
            self.unknown_keys(table, P, RATE_LIMITS_KEYS);
            let limits = &mut config.rate_limits;
            for (key, field) in [
                ("wms_vector", &mut limits.wms_vector),
                ("wms_raster", &mut limits.wms_raster),
                ("tiles", &mut limits.tiles),
                ("features", &mut limits.features),
            ] {
                if let Some(n) = self.integer(table, key, P, 0, 1_000_000) {
                    *field = n as u32;
                }
            }
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
        if let Some(n) = self.integer(table, "max_connections", P, 1, 1_000_000) {
            server.max_connections = n as usize;
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

    fn object_storage(&mut self, table: &Table<'_>, storage: &mut ObjectStorageConfig) {
        const P: &str = "object_storage";
        self.unknown_keys(table, P, OBJECT_STORAGE_KEYS);
        if let Some((url, offset)) = self.string_at(table, "url", P) {
            if url.is_empty() {
                storage.url = None;
            } else if url.starts_with("http://") || url.starts_with("https://") {
                storage.url = Some(url);
            } else {
                self.push(
                    offset,
                    "object_storage.url",
                    format!("'{url}' is not an http(s) URL"),
                    Some("give the S3 endpoint, e.g. \"https://s3.example.org\" or \"http://127.0.0.1:9000\"".to_owned()),
                );
            }
        }
        if let Some(key) = self.string(table, "key", P) {
            storage.key = key;
        }
        if let Some(secret) = self.string(table, "secret", P) {
            storage.secret = secret;
        }
        if let Some(region) = self.string(table, "region", P) {
            storage.region = region;
        }
        if let Some(n) = self.integer(table, "timeout_secs", P, 1, 3600) {
            storage.timeout = Duration::from_secs(n as u64);
        }
        if let Some(n) = self.integer(table, "connect_timeout_secs", P, 1, 600) {
            storage.connect_timeout = Duration::from_secs(n as u64);
        }
        if let Some(n) = self.integer(table, "retries", P, 0, 20) {
            storage.retries = n as u32;
        }
    }

    fn wfs(&mut self, table: &Table<'_>, wfs: &mut WfsConfig) {
        const P: &str = "wfs";
        self.unknown_keys(table, P, WFS_KEYS);
        if let Some(title) = self.string(table, "title", P) {
            wfs.title = title;
        }
        if let Some(text) = self.string(table, "abstract", P) {
            wfs.abstract_text = text;
        }
        if table.contains_key("keywords") {
            wfs.keywords = self.string_list(table, "keywords", P);
        }
        if let Some(n) = self.integer(table, "count_default", P, 1, i64::MAX) {
            wfs.count_default = n as u64;
        }
    }

    fn vector_tiles(&mut self, table: &Table<'_>, tiles: &mut VectorTilesConfig) {
        const P: &str = "vector_tiles";
        self.unknown_keys(table, P, VECTOR_TILES_KEYS);
        if let Some(enabled) = self.boolean(table, "enabled", P) {
            tiles.enabled = enabled;
        }
        self.zoom_range(table, P, 30, (&mut tiles.min_zoom, &mut tiles.max_zoom));
        if let Some(n) = self.integer(table, "extent", P, 256, 65_536) {
            tiles.extent = n as u32;
        }
        if let Some(n) = self.integer(table, "buffer", P, 0, 4096) {
            tiles.buffer = n as u32;
        }
        if let Some(n) = self.integer(table, "max_tile_bytes", P, 1024, i64::from(u32::MAX)) {
            tiles.max_tile_bytes = n as usize;
        }
        if let Some(n) = self.integer(table, "cache_bytes", P, 0, i64::MAX) {
            tiles.cache_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(url) = self.string(table, "glyphs_url", P) {
            tiles.glyphs_url = url;
        }
    }

    /// `min_zoom` and `max_zoom` of a section (0 to `finest`), the first at most the second.
    fn zoom_range(
        &mut self,
        table: &Table<'_>,
        section: &str,
        finest: i64,
        (min, max): (&mut u32, &mut u32),
    ) {
        if let Some(n) = self.integer(table, "min_zoom", section, 0, finest) {
            *min = n as u32;
        }
        if let Some(n) = self.integer(table, "max_zoom", section, 0, finest) {
            *max = n as u32;
        }
        if *min > *max {
            let offset = table
                .get("min_zoom")
                .or_else(|| table.get("max_zoom"))
                .map_or(0, |v| v.span().start);
            self.push(
                offset,
                &format!("{section}.min_zoom"),
                format!("min_zoom {min} is above max_zoom {max}"),
                Some("make min_zoom at most max_zoom".to_owned()),
            );
        }
    }

    fn tile_cache(&mut self, table: &Table<'_>, cache: &mut TileCacheConfig) {
        const P: &str = "tile_cache";
        self.unknown_keys(table, P, TILE_CACHE_KEYS);
        if let Some(enabled) = self.boolean(table, "enabled", P) {
            cache.enabled = enabled;
        }
        if let Some(dir) = self.string(table, "dir", P) {
            cache.dir = (!dir.is_empty()).then(|| self.base.join(dir));
        }
        self.zoom_range(table, P, 24, (&mut cache.min_zoom, &mut cache.max_zoom));
        if let Some(n) = self.integer(table, "metatile", P, 1, 16) {
            cache.metatile = n as u32;
        }
        if let Some(n) = self.integer(table, "buffer", P, 0, 512) {
            cache.buffer = n as u32;
        }
        if let Some(n) = self.integer(table, "max_bytes", P, 0, i64::MAX) {
            cache.max_bytes = n as u64;
        }
        if let Some(n) = self.integer(table, "open_slabs", P, 1, 1_000_000) {
            cache.open_slabs = n as usize;
        }
        if let Some((formats, _)) = self.tile_formats(table, P, false) {
            cache.formats = formats;
        }
        if let Some(hidpi) = self.boolean(table, "hidpi", P) {
            cache.hidpi = hidpi;
        }
        if let Some(sets) = self.tile_matrix_set_ids(table, P) {
            cache.sets = sets;
        }
    }

    /// A `formats` list of tile formats (`png`, `png8`, `jpeg`, `webp`, and `mvt` where
    /// `with_mvt`): the image formats, and whether `mvt` was listed.
    fn tile_formats(
        &mut self,
        table: &Table<'_>,
        path: &str,
        with_mvt: bool,
    ) -> Option<(Vec<CacheFormat>, bool)> {
        let value = table.get("formats")?;
        let names = self.string_list(table, "formats", path);
        let mut formats = Vec::new();
        let mut mvt = false;
        for name in names {
            if with_mvt && (name.eq_ignore_ascii_case("mvt") || name.eq_ignore_ascii_case("pbf")) {
                mvt = true;
                continue;
            }
            match CacheFormat::from_name(&name) {
                Some(format) if !formats.contains(&format) => formats.push(format),
                Some(_) => {}
                None => self.push(
                    value.span().start,
                    &join(path, "formats"),
                    format!("unknown tile format '{name}'"),
                    Some(format!(
                        "use some of \"png\", \"png8\", \"jpeg\", \"webp\"{}",
                        if with_mvt { ", \"mvt\"" } else { "" }
                    )),
                ),
            }
        }
        Some((formats, mvt))
    }

    /// A `sets` list of tile matrix set ids, each known (built-in or from
    /// `[tiles] tile_matrix_sets_dir`).
    fn tile_matrix_set_ids(&mut self, table: &Table<'_>, path: &str) -> Option<Vec<String>> {
        let value = table.get("sets")?;
        let ids = self.string_list(table, "sets", path);
        let known = self
            .sets
            .get_or_insert_with(pyramid::TileMatrixSets::builtin);
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| known.get(id).is_none())
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let mut names: Vec<String> = known.iter().map(|s| s.id().to_owned()).collect();
            names.sort_unstable();
            self.push(
                value.span().start,
                &join(path, "sets"),
                format!("unknown tile matrix set(s): {}", unknown.join(", ")),
                Some(format!("use some of: {}", names.join(", "))),
            );
        }
        Some(ids)
    }

    /// `[layers.tiles]` of a vector layer.
    fn layer_tiles(&mut self, table: &Table<'_>, path: &str, tiles: &mut LayerTilesConfig) {
        let path = join(path, "tiles");
        self.unknown_keys(table, &path, LAYER_TILES_KEYS);
        tiles.enabled = self.boolean(table, "enabled", &path);
        if let Some((formats, mvt)) = self.tile_formats(table, &path, true) {
            tiles.formats = Some(formats);
            tiles.vector_tiles = Some(mvt);
        }
        tiles.sets = self.tile_matrix_set_ids(table, &path);
        let (mut min, mut max) = (0, 30);
        self.zoom_range(table, &path, 30, (&mut min, &mut max));
        tiles.min_zoom = table.contains_key("min_zoom").then_some(min);
        tiles.max_zoom = table.contains_key("max_zoom").then_some(max);
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
        let mut tiles = LayerTilesConfig {
            cache_control: self.string(table, "cache_control", path),
            ..LayerTilesConfig::default()
        };
        let rate_limit = self
            .integer(table, "rate_limit", path, 0, 1_000_000)
            .map_or(0, |n| n as u32);
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
                let wfs = self.boolean(table, "wfs", path).unwrap_or(false);
                if let Some(tiles_table) = self.table(table, "tiles", path) {
                    self.layer_tiles(tiles_table, path, &mut tiles);
                }
                match (source, table_name, style) {
                    (Some(source), Some((table_name, _)), Some(style)) => Some(LayerKind::Vector {
                        source,
                        table: table_name,
                        style,
                        queryable,
                        wfs,
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
                let pyramid = self.pyramid_location(table, path, start);
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
            tiles,
            rate_limit,
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
        let hint = match sld::did_you_mean(name, allowed) {
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

    /// `pyramid = "…"`: a descriptor file, or an `s3://bucket/key` object (read at start).
    fn pyramid_location(
        &mut self,
        table: &Table<'_>,
        path: &str,
        start: usize,
    ) -> Option<pyramid::Location> {
        let (value, offset) = self.string_at(table, "pyramid", path)?;
        if !value.contains("://") {
            return self
                .existing_file(table, "pyramid", path, start)
                .map(pyramid::Location::File);
        }
        match pyramid::Location::parse(&value) {
            Ok(pyramid::Location::File(file)) => {
                Some(pyramid::Location::File(self.base.join(file)))
            }
            Ok(object) => Some(object),
            Err(error) => {
                self.push(
                    offset,
                    &join(path, "pyramid"),
                    error.to_string(),
                    Some(
                        "give a descriptor file, or s3://bucket/key.json with [object_storage] set"
                            .to_owned(),
                    ),
                );
                None
            }
        }
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
pub(super) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}
