//! The tiles of vector layers, made on demand: vector tiles (MVT, made per tile) and images
//! (rendered in metatiles and cached), offered together on one Web Mercator tile matrix set
//! link, as WMTS needs one link per layer whatever the format.

use std::ops::RangeInclusive;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::Response;

use crate::layers::{Layer, Layers};
use crate::services::tile_cache::{
    CacheFormat, CachedTileRequest, TileCache, TILE_MATRIX_SET as SET,
};
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
    /// The formats a vector layer's tiles are offered in, images first (WMTS clients such as
    /// GDAL take the first tile ResourceURL).
    pub fn formats(&self, layer: &Layer) -> Vec<OnDemandFormat> {
        [
            OnDemandFormat::Image(CacheFormat::Png),
            OnDemandFormat::Image(CacheFormat::Jpeg),
            OnDemandFormat::Mvt,
        ]
        .into_iter()
        .filter(|f| self.offers(layer, *f))
        .collect()
    }

    /// Whether a vector layer's tiles are offered in a format (no allocation: the tile path).
    pub fn offers(&self, layer: &Layer, format: OnDemandFormat) -> bool {
        match format {
            OnDemandFormat::Mvt => {
                self.vector.enabled() && vector_tiles::vector_source(layer).is_some()
            }
            OnDemandFormat::Image(_) => self.images.serves(layer),
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

    /// The zoom levels of a format.
    pub fn zooms_of(&self, format: OnDemandFormat) -> RangeInclusive<u32> {
        match format {
            OnDemandFormat::Mvt => self.vector.zooms(),
            OnDemandFormat::Image(_) => self.images.zooms(),
        }
    }

    /// The zoom levels of every offered format together.
    pub fn zooms(&self) -> RangeInclusive<u32> {
        let ranges = [
            self.vector.enabled().then(|| self.vector.zooms()),
            self.images.enabled().then(|| self.images.zooms()),
        ];
        let min = ranges.iter().flatten().map(|r| *r.start()).min();
        let max = ranges.iter().flatten().map(|r| *r.end()).max();
        min.unwrap_or(0)..=max.unwrap_or(0)
    }

    /// The Web Mercator set and the id vector layers link to: `PM` when every matrix of it is
    /// served, else `PM_{min}_{max}` (a subset, as for pyramids).
    pub fn link(&self) -> Option<(&pyramid::TileMatrixSet, String)> {
        let set = self.images.tile_matrix_set()?;
        let zooms = self.zooms();
        let whole = *zooms.start() == 0 && *zooms.end() as usize + 1 == set.matrices().len();
        let id = if whole {
            SET.to_owned()
        } else {
            format!("{SET}_{}_{}", zooms.start(), zooms.end())
        };
        Some((set, id))
    }

    /// Whether a tile matrix set id designates the vector layers' link.
    pub fn accepts_tile_matrix_set(&self, id: &str) -> bool {
        id == SET || self.link().is_some_and(|(_, link)| link == id)
    }

    /// A tile address of a format from request numbers (rows from the top).
    pub fn address(
        &self,
        format: OnDemandFormat,
        z: u32,
        x: i64,
        y: i64,
    ) -> Result<TileAddress, AddressError> {
        match format {
            OnDemandFormat::Mvt => self.vector.address(z, x, y),
            OnDemandFormat::Image(_) => self.images.address(z, x, y),
        }
    }

    /// The answer for a tile of a vector layer.
    #[allow(clippy::too_many_arguments)]
    pub async fn response(
        &self,
        layers: &Layers,
        layer: &Arc<Layer>,
        style: usize,
        format: OnDemandFormat,
        tile: TileAddress,
        request_headers: &HeaderMap,
        cache_control: &str,
    ) -> Result<Response, OnDemandTileError> {
        match format {
            OnDemandFormat::Mvt => {
                self.vector
                    .response(layers, layer, tile, request_headers, cache_control)
                    .await
            }
            OnDemandFormat::Image(format) => {
                let request = CachedTileRequest {
                    style,
                    format,
                    tile,
                };
                self.images
                    .response(layer, request, request_headers, cache_control)
                    .await
            }
        }
    }
}
