//! The tilesets of a layer, by kind of data and style, as OGC API – Tiles offers them: which
//! tile matrix set, which levels, which formats, and where the tiles come from (a pyramid, the
//! tile cache, vector tiles).

use std::ops::RangeInclusive;
use std::sync::Arc;

use pyramid::{TileFormat, TileMatrixSet, TileMatrixSets};

use crate::layers::{Layer, LayerSource, PyramidLayer};
use crate::services::on_demand::{OnDemandFormat, OnDemandTiles, TilePlace};
use crate::services::tile_cache::CacheFormat;
use crate::services::tiles::{self as tile_answers, ServedFormat};
use crate::services::vector_tiles;

/// The id OGC clients know a set by: `WebMercatorQuad` for ROK4's `PM`.
pub fn ogc_id(set: &TileMatrixSet) -> &str {
    if set.id() == "PM" {
        "WebMercatorQuad"
    } else {
        set.id()
    }
}

/// What the tiles of the OGC API draw on: the tiles of WMTS/TMS and the known sets.
#[derive(Debug)]
pub struct OgcTiles {
    /// Vector tiles and rendered images of vector (and styled raster) layers.
    pub on_demand: Arc<OnDemandTiles>,
    /// The tile matrix sets known (built in, and `[tiles] tile_matrix_sets_dir`).
    pub registry: TileMatrixSets,
}

/// The kind of data of a tileset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Images.
    Map,
    /// Vector tiles.
    Vector,
    /// Values (float32 TIFF).
    Coverage,
}

impl DataType {
    /// Its name (`dataType`).
    pub fn name(self) -> &'static str {
        match self {
            DataType::Map => "map",
            DataType::Vector => "vector",
            DataType::Coverage => "coverage",
        }
    }

    /// The path segment(s) before `/{set}` under a collection.
    pub fn path(self) -> &'static str {
        match self {
            DataType::Map => "map/tiles",
            DataType::Vector => "tiles",
            DataType::Coverage => "coverage/tiles",
        }
    }

    /// The relation from a collection to its tilesets of this kind.
    pub fn rel(self) -> &'static str {
        match self {
            DataType::Map => "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map",
            DataType::Vector => "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
            DataType::Coverage => "http://www.opengis.net/def/rel/ogc/1.0/tilesets-coverage",
        }
    }

    /// Every kind.
    pub const ALL: [DataType; 3] = [DataType::Map, DataType::Vector, DataType::Coverage];
}

/// A format a tileset's tiles come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A pyramid's tiles as stored (or converted as WMTS converts them).
    Stored(ServedFormat),
    /// A tile made on demand.
    OnDemand(OnDemandFormat),
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Stored(served) => served.mime,
            Format::OnDemand(format) => format.mime(),
        }
    }

    /// The `f` value naming it.
    pub fn short(self) -> &'static str {
        match self.mime() {
            "image/png" | "image/png; mode=8bit" => "png",
            "image/jpeg" => "jpeg",
            "image/webp" => "webp",
            "image/tiff" => "tiff",
            m if m == vector_tiles::MIME => "mvt",
            _ => "bil",
        }
    }
}

/// Where a tileset's tiles come from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A pyramid, read as WMTS reads it.
    Pyramid(&'a PyramidLayer),
    /// Made on demand (vector layers) on a set of the tile cache.
    OnDemand(TilePlace),
    /// A raster layer drawn in one of its SLD styles by the tile cache on set `set`.
    Styled { set: usize },
}

/// One tileset of a collection.
#[derive(Debug, Clone)]
pub struct Tileset<'a> {
    /// Its kind of data.
    pub data_type: DataType,
    /// The set its tiles are cut on.
    pub set: &'a TileMatrixSet,
    /// Its id in URLs: the OGC id of the set, or the level subset the layer links to when
    /// it does not start at the set's first level.
    pub id: String,
    /// The id of the set WMTS links the layer to (the set's, or a level subset's).
    pub link: String,
    /// The levels it has.
    pub levels: RangeInclusive<u32>,
    /// The formats its tiles come in, the preferred first.
    pub formats: Vec<Format>,
    /// Where its tiles come from.
    pub source: Source<'a>,
}

impl Tileset<'_> {
    /// Whether a request's set id designates this tileset.
    pub fn answers_to(&self, id: &str) -> bool {
        id == self.id
            || id == self.link
            || id == self.set.id()
            || id == ogc_id(self.set)
            || (self.set.id() == "PM" && id == "WebMercatorQuad")
    }
}

/// The id a layer's link is known by in OGC API: the set's OGC id (`WebMercatorQuad` for PM)
/// when the levels start at its first (limits say where they end), else the link's subset
/// (a client's grid must start at a level the layer has).
fn tileset_id(set: &TileMatrixSet, link: &str, levels: &RangeInclusive<u32>) -> String {
    if link == set.id() || *levels.start() == 0 {
        ogc_id(set).to_owned()
    } else {
        link.to_owned()
    }
}

impl OgcTiles {
    /// The map tilesets of a vector layer in its default style (for the subsets its links
    /// make).
    pub fn vector_layer_sets<'a>(&'a self, layer: &'a Layer) -> Vec<Tileset<'a>> {
        self.tilesets(layer, DataType::Map, None)
    }

    /// The tilesets of a layer of one kind, in a style (an index of its styles; `None`: the
    /// default, a pyramid's tiles as stored).
    pub fn tilesets<'a>(
        &'a self,
        layer: &'a Layer,
        data_type: DataType,
        style: Option<usize>,
    ) -> Vec<Tileset<'a>> {
        let tiles = &self.on_demand;
        match &layer.source {
            LayerSource::Pyramid(pyramid) => {
                let stored = pyramid.pyramid.format();
                let natural = match stored {
                    TileFormat::PbfMvt => DataType::Vector,
                    TileFormat::ZipFloat32 | TileFormat::RawFloat32 => DataType::Coverage,
                    _ => DataType::Map,
                };
                let set = pyramid.tile_matrix_set();
                let base = Tileset {
                    data_type,
                    set,
                    id: tileset_id(set, &pyramid.link, &pyramid.levels),
                    link: pyramid.link.clone(),
                    levels: pyramid.levels.clone(),
                    formats: Vec::new(),
                    source: Source::Pyramid(pyramid),
                };
                let Some(style) = style else {
                    if data_type != natural {
                        return Vec::new();
                    }
                    let formats = tile_answers::served_formats(stored)
                        .iter()
                        .filter(|f| f.extension != "bil")
                        .map(|f| Format::Stored(*f))
                        .collect();
                    return vec![Tileset { formats, ..base }];
                };
                let styled = data_type == DataType::Map && tiles.images.renders_style(layer, style);
                match tiles.images.set_index(set.id()) {
                    Some(index) if styled => vec![Tileset {
                        formats: vec![Format::OnDemand(OnDemandFormat::Image(CacheFormat::Png))],
                        source: Source::Styled { set: index },
                        ..base
                    }],
                    _ => Vec::new(),
                }
            }
            LayerSource::Vector(_) => match data_type {
                DataType::Vector if style.is_none() && tiles.vector.serves(layer) => {
                    let Some(set) = tiles.images.set_at(0, 1) else {
                        return Vec::new();
                    };
                    let levels = tiles.vector.zooms_of(layer);
                    let link = tiles
                        .link_of(0)
                        .map_or_else(|| set.id().to_owned(), |(_, id)| id);
                    vec![Tileset {
                        data_type,
                        set,
                        id: tileset_id(set, &link, &levels),
                        link,
                        levels,
                        formats: vec![Format::OnDemand(OnDemandFormat::Mvt)],
                        source: Source::OnDemand(TilePlace::web_mercator(1)),
                    }]
                }
                DataType::Map if tiles.images.serves(layer) => {
                    let formats: Vec<Format> = tiles
                        .images
                        .formats_of(layer)
                        .iter()
                        .map(|f| Format::OnDemand(OnDemandFormat::Image(*f)))
                        .collect();
                    tiles
                        .links(layer)
                        .into_iter()
                        .filter(|l| {
                            l.place.scale == 1 && tiles.images.offers_set(layer, l.place.set)
                        })
                        .map(|l| Tileset {
                            data_type,
                            set: l.set,
                            id: tileset_id(l.set, &l.id, &tiles.images.zooms_of(layer)),
                            link: l.id,
                            levels: tiles.images.zooms_of(layer),
                            formats: formats.clone(),
                            source: Source::OnDemand(l.place),
                        })
                        .collect()
                }
                _ => Vec::new(),
            },
        }
    }

    /// The styles (index, name) of a layer drawn as map tiles besides its default.
    pub fn map_styles<'a>(&self, layer: &'a Layer) -> Vec<(usize, &'a str)> {
        layer
            .styles()
            .iter()
            .enumerate()
            .filter(|(index, _)| !self.tilesets(layer, DataType::Map, Some(*index)).is_empty())
            .map(|(index, style)| (index, style.name.as_str()))
            .collect()
    }
}
