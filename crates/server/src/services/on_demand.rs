//! The tiles of vector layers, made on demand: vector tiles (MVT, made per tile) and images
//! (rendered in metatiles and cached), offered together on one Web Mercator tile matrix set
//! link, as WMTS needs one link per layer whatever the format.

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;

use crate::layers::{Layer, Layers};
use crate::services::tile_cache::{
    hidpi_id, link_id, union, CacheFormat, CachedTileRequest, TileCache,
};
use crate::services::tiles::Caching;
use crate::services::vector_tiles::{
    self, AddressError, OnDemandTileError, TileAddress, VectorTiler,
};

/// A format of on-demand tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDemandFormat {
    /// Mapbox Vector Tiles.
    Mvt,
    /// A rendered image.
    Image(CacheFormat),
}

impl OnDemandFormat {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            OnDemandFormat::Mvt => vector_tiles::MIME,
            OnDemandFormat::Image(format) => format.mime(),
        }
    }

    /// The extension of RESTful URLs.
    pub fn extension(self) -> &'static str {
        match self {
            OnDemandFormat::Mvt => "pbf",
            OnDemandFormat::Image(format) => format.extension(),
        }
    }

    /// The format of a MIME type.
    pub fn from_mime(mime: &str) -> Option<OnDemandFormat> {
        if mime.trim().eq_ignore_ascii_case(vector_tiles::MIME) {
            return Some(OnDemandFormat::Mvt);
        }
        CacheFormat::from_mime(mime).map(OnDemandFormat::Image)
    }

    /// The format of an extension (`pbf`/`mvt`, `png`, `jpeg`/`jpg`).
    pub fn from_extension(extension: &str) -> Option<OnDemandFormat> {
        if extension.eq_ignore_ascii_case("pbf") || extension.eq_ignore_ascii_case("mvt") {
            return Some(OnDemandFormat::Mvt);
        }
        CacheFormat::from_extension(extension).map(OnDemandFormat::Image)
    }
}

/// Where tiles are asked: a tile matrix set of the tile cache (0: Web Mercator) at a scale
/// (1, or 2 for HiDPI images).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePlace {
    /// The set's index in the tile cache.
    pub set: usize,
    /// Pixels per standard pixel.
    pub scale: u32,
}

impl TilePlace {
    /// Web Mercator at `scale`.
    pub fn web_mercator(scale: u32) -> TilePlace {
        TilePlace { set: 0, scale }
    }
}

/// A tile matrix set link of a vector layer.
#[derive(Debug)]
pub struct Link<'a> {
    /// The set (the HiDPI variant for scale 2).
    pub set: &'a pyramid::TileMatrixSet,
    /// The id the layer links to.
    pub id: String,
    /// Where its tiles are.
    pub place: TilePlace,
}

/// Vector tiles and rendered images of vector layers.
#[derive(Debug)]
pub struct OnDemandTiles {
    /// Vector tiles.
    pub vector: Arc<VectorTiler>,
    /// Rendered, cached images.
    pub images: Arc<TileCache>,
}

impl OnDemandTiles {
    /// The formats a vector layer's tiles are offered in: its images (the preferred first:
    /// WMTS clients such as GDAL take the first tile ResourceURL), then vector tiles.
    pub fn formats(&self, layer: &Layer) -> Vec<OnDemandFormat> {
        let images = if self.images.serves(layer) {
            self.images.formats_of(layer)
        } else {
            &[]
        };
        images
            .iter()
            .map(|f| OnDemandFormat::Image(*f))
            .chain(self.vector.serves(layer).then_some(OnDemandFormat::Mvt))
            .collect()
    }

    /// Whether a vector layer is tiled in some format.
    pub fn tiled(&self, layer: &Layer) -> bool {
        self.vector.serves(layer) || self.images.serves(layer)
    }

    /// The message for a vector layer that is not tiled.
    pub fn untiled_message(layer: &Layer) -> String {
        format!(
            "layer '{}' has no tiles: it is served by WMS only, ask /wms for it",
            layer.name
        )
    }

    /// Whether a vector layer's tiles are offered in a format (no allocation: the tile path).
    pub fn offers(&self, layer: &Layer, format: OnDemandFormat) -> bool {
        match format {
            OnDemandFormat::Mvt => self.vector.serves(layer),
            OnDemandFormat::Image(image) => {
                self.images.serves(layer) && self.images.formats_of(layer).contains(&image)
            }
        }
    }

    /// The offered formats of a layer as a message lists them: `FORMAT=image/png or …` (by
    /// MIME type) or `.png or …` (by extension).
    pub fn offered_list(&self, layer: &Layer, by_mime: bool) -> String {
        self.formats(layer)
            .iter()
            .map(|f| {
                if by_mime {
                    format!("FORMAT={}", f.mime())
                } else {
                    format!(".{}", f.extension())
                }
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// The zoom levels of a layer's tiles in a format.
    pub fn zooms_of(&self, layer: &Layer, format: OnDemandFormat) -> RangeInclusive<u32> {
        match format {
            OnDemandFormat::Mvt => self.vector.zooms_of(layer),
            OnDemandFormat::Image(_) => self.images.zooms_of(layer),
        }
    }

    /// The zoom levels of a layer's tiles in any of its formats.
    pub fn layer_zooms(&self, layer: &Layer) -> RangeInclusive<u32> {
        union(&[
            self.vector
                .serves(layer)
                .then(|| self.vector.zooms_of(layer)),
            self.images
                .serves(layer)
                .then(|| self.images.zooms_of(layer)),
        ])
    }

    /// The zoom levels of every offered format together.
    pub fn zooms(&self) -> RangeInclusive<u32> {
        union(&[
            self.vector.enabled().then(|| self.vector.zooms()),
            self.images.enabled().then(|| self.images.zooms()),
        ])
    }

    /// The link id of a set: for Web Mercator (`PM`, index 0, shared with vector tiles),
    /// `PM` when every matrix is served, else `PM_{min}_{max}`; for another set, the same over
    /// the levels of rendered tiles.
    pub fn link_of(&self, set: usize) -> Option<(&pyramid::TileMatrixSet, String)> {
        let tile_matrix_set = self.images.set_at(set, 1)?;
        let zooms = if set == 0 {
            self.zooms()
        } else {
            self.images.zooms()
        };
        Some((tile_matrix_set, link_id(tile_matrix_set, &zooms)))
    }

    /// The tile matrix set links of a vector layer: Web Mercator when it has vector tiles or
    /// images there, each other set of its images, then the HiDPI variants of its images'
    /// sets.
    pub fn links(&self, layer: &Layer) -> Vec<Link<'_>> {
        let images = self.images.serves(layer);
        let mut links = Vec::new();
        for scale in [1, 2] {
            if scale == 2 && !(images && self.images.hidpi()) {
                break;
            }
            for set in 0..self.images.set_count() {
                let on_images = images && self.images.offers_set(layer, set);
                let on_vectors = set == 0 && scale == 1 && self.vector.serves(layer);
                if !(on_images || on_vectors) {
                    continue;
                }
                let (Some(tile_matrix_set), Some((_, id))) =
                    (self.images.set_at(set, scale), self.link_of(set))
                else {
                    continue;
                };
                links.push(Link {
                    set: tile_matrix_set,
                    id: if scale == 2 { hidpi_id(&id) } else { id },
                    place: TilePlace { set, scale },
                });
            }
        }
        links
    }

    /// Where a tile matrix set id of a request puts a vector layer's tiles: a set by its id
    /// or link id, `@2x` for its HiDPI variant; `None` when the layer is not tiled there.
    pub fn place(&self, layer: &Layer, id: &str) -> Option<TilePlace> {
        let (base, scale) = match id.strip_suffix("@2x") {
            Some(base) => (base, 2),
            None => (id, 1),
        };
        let set = (0..self.images.set_count()).find(|&set| self.is_link(set, base))?;
        let on_images = self.images.serves(layer)
            && self.images.offers_set(layer, set)
            && (scale == 1 || self.images.hidpi());
        let on_vectors = set == 0 && self.vector.serves(layer);
        (on_images || on_vectors).then_some(TilePlace { set, scale })
    }

    /// Whether `name` is a set's id or its link id ([`OnDemandTiles::link_of`]), without
    /// allocating (the tile path).
    fn is_link(&self, set: usize, name: &str) -> bool {
        let Some(tile_matrix_set) = self.images.set_at(set, 1) else {
            return false;
        };
        if name == tile_matrix_set.id() {
            return true;
        }
        let zooms = if set == 0 {
            self.zooms()
        } else {
            self.images.zooms()
        };
        let (Some(first), Some(last)) = (
            tile_matrix_set.matrix_at(*zooms.start()),
            tile_matrix_set.matrix_at(*zooms.end()),
        ) else {
            return false;
        };
        name.strip_prefix(tile_matrix_set.id())
            .and_then(|r| r.strip_prefix('_'))
            .and_then(|r| r.strip_prefix(first.id()))
            .and_then(|r| r.strip_prefix('_'))
            == Some(last.id())
    }

    /// The link ids of a vector layer, for messages: `'PM_0_18', 'LAMB93_0_18'…`.
    pub fn link_list(&self, layer: &Layer) -> String {
        self.links(layer)
            .iter()
            .map(|l| format!("'{}'", l.id))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A tile address of a layer's format on a set from request numbers (rows from the top).
    pub fn address(
        &self,
        layer: &Layer,
        (format, place): (OnDemandFormat, TilePlace),
        z: u32,
        x: i64,
        y: i64,
    ) -> Result<TileAddress, AddressError> {
        match format {
            OnDemandFormat::Mvt => self.vector.address(layer, z, x, y),
            OnDemandFormat::Image(_) => self.images.address(layer, place.set, z, x, y),
        }
    }

    /// The answer for a tile of a vector layer; images on the place's set and scale (vector
    /// tiles have no pixels: the same at any scale).
    #[allow(clippy::too_many_arguments)]
    pub async fn response(
        &self,
        layers: &Layers,
        layer: &Arc<Layer>,
        style: usize,
        (format, place): (OnDemandFormat, TilePlace),
        tile: TileAddress,
        request_headers: &HeaderMap,
        caching: Caching<'_>,
    ) -> Result<Response, OnDemandTileError> {
        match format {
            OnDemandFormat::Mvt => {
                self.vector
                    .response(layers, layer, tile, request_headers, caching)
                    .await
            }
            OnDemandFormat::Image(format) => {
                let request = CachedTileRequest {
                    style,
                    format,
                    tile,
                    set: place.set,
                    scale: place.scale,
                };
                self.images
                    .response(layer, request, request_headers, caching)
                    .await
            }
        }
    }
}
