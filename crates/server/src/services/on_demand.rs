//! The tiles of vector layers, made on demand: vector tiles (MVT, made per tile) and images
//! (rendered in metatiles and cached), offered together on one Web Mercator tile matrix set
//! link, as WMTS needs one link per layer whatever the format.

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;

use crate::layers::{Layer, Layers};
use crate::services::tile_cache::{
    hidpi_id, link_id, union, CacheFormat, CachedTileRequest, TileCache, TILE_MATRIX_SET as SET,
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

    /// The Web Mercator set and the id vector layers link to: `PM` when every matrix of it is
    /// served, else `PM_{min}_{max}` (a subset, as for pyramids).
    pub fn link(&self) -> Option<(&pyramid::TileMatrixSet, String)> {
        let set = self.images.tile_matrix_set()?;
        Some((set, link_id(set, &self.zooms())))
    }

    /// The scale of the tiles a tile matrix set id designates for vector layers: 1 for the
    /// link (or `PM`), 2 for its HiDPI variant (`{link}@2x`, `PM@2x`) when offered.
    pub fn tile_matrix_set_scale(&self, id: &str) -> Option<u32> {
        let named = |id: &str| id == SET || self.link().is_some_and(|(_, link)| link == id);
        if named(id) {
            return Some(1);
        }
        id.strip_suffix("@2x")
            .filter(|base| self.images.hidpi() && named(base))
            .map(|_| 2)
    }

    /// The HiDPI variant of the link, when offered: its set (512-pixel tiles) and id.
    pub fn hidpi_link(&self) -> Option<(&pyramid::TileMatrixSet, String)> {
        let set = self.images.tile_matrix_set_at(2)?;
        let (_, link) = self.link()?;
        Some((set, hidpi_id(&link)))
    }

    /// A tile address of a layer's format from request numbers (rows from the top).
    pub fn address(
        &self,
        layer: &Layer,
        format: OnDemandFormat,
        z: u32,
        x: i64,
        y: i64,
    ) -> Result<TileAddress, AddressError> {
        match format {
            OnDemandFormat::Mvt => self.vector.address(layer, z, x, y),
            OnDemandFormat::Image(_) => self.images.address(layer, z, x, y),
        }
    }

    /// The answer for a tile of a vector layer; images at `scale` pixels per standard pixel
    /// (vector tiles have no pixels: the same at any scale).
    #[allow(clippy::too_many_arguments)]
    pub async fn response(
        &self,
        layers: &Layers,
        layer: &Arc<Layer>,
        style: usize,
        (format, scale): (OnDemandFormat, u32),
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
                    scale,
                };
                self.images
                    .response(layer, request, request_headers, caching)
                    .await
            }
        }
    }
}
