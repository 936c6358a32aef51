//! Tiles of every vector layer (WMTS, TMS): rendered on demand by the WMS renderer in
//! metatiles, cut, and kept as a ROK4 pyramid per layer, style and format — what GeoWebCache
//! and MapCache do, on the storage precomputed pyramids use.
//!
//! One metatile (default 4×4 tiles) is one render and one slab: the slab's existence says the
//! metatile was rendered, and a tile of size 0 in it is an empty tile (answered blank, never
//! rendered again). The metatile is drawn with a margin (`buffer` pixels) so that symbols of
//! features beyond its edge reach into it, and its labels must lie whole inside the metatile
//! proper: a label is never cut at a metatile edge (it may be left out there, as GeoWebCache
//! leaves it); inside a metatile labels cross tile edges freely, being one image.
//!
//! Requests for tiles of a metatile being rendered wait for that render (single flight). A
//! cached tile is one slab-index lookup and one positioned read, as for precomputed pyramids.
//! Each cache folder is named by a fingerprint of the layer's content (stored data, SLD
//! style, tile settings), so a republished or restyled layer is never answered from its old
//! tiles, across restarts too; folders no layer names any more are removed in the
//! background after each publication change. A size cap removes the least recently used
//! slabs. When the cache folder cannot be written, tiles are rendered and kept in a memory
//! LRU instead, and the log says why once.

mod cache;
mod format;
mod jobs;
mod layer_cache;
mod metatile;
mod seed;
mod storage;

pub use self::cache::{CachedTileRequest, TileCache};
pub use self::format::CacheFormat;
pub use self::jobs::{seed_now, NewSeed, SeedJob, SeedJobs, SeedProgress, SeedStatus, SeedView};
pub use self::layer_cache::{hidpi_id, link_id, style_index, union};
pub use self::seed::{seed, SeedError, SeedOptions, SeedReport};
