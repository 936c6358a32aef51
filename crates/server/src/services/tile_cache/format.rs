//! The image formats of cached tiles, and what each means for rendering and storage.

pub use crate::config::CacheFormat;
use crate::services::wms::MapFormat;

impl CacheFormat {
    /// The MIME type (PNG8 is `image/png` too, as GeoServer and MapProxy name it in WMTS
    /// capabilities where it is the layer's only PNG; with both, `image/png; mode=8bit`).
    pub fn mime(self) -> &'static str {
        match self {
            CacheFormat::Png => "image/png",
            CacheFormat::Png8 => "image/png; mode=8bit",
            CacheFormat::Jpeg => "image/jpeg",
            CacheFormat::Webp => "image/webp",
        }
    }

    /// The file extension of RESTful URLs.
    pub fn extension(self) -> &'static str {
        match self {
            CacheFormat::Png => "png",
            CacheFormat::Png8 => "png8",
            CacheFormat::Jpeg => "jpeg",
            CacheFormat::Webp => "webp",
        }
    }

    /// The `Content-Type` of a tile.
    pub fn content_type(self) -> &'static str {
        match self {
            CacheFormat::Png | CacheFormat::Png8 => "image/png",
            other => other.mime(),
        }
    }

    /// The format of a MIME type (`image/jpg`, `image/png8`, `image/png; mode=8bit` too).
    pub fn from_mime(mime: &str) -> Option<CacheFormat> {
        let normalised = mime.to_ascii_lowercase().replace(' ', "");
        let (essence, parameters) = normalised.split_once(';').unwrap_or((&normalised, ""));
        match essence {
            "image/png" if parameters == "mode=8bit" => Some(CacheFormat::Png8),
            "image/png" => Some(CacheFormat::Png),
            "image/png8" => Some(CacheFormat::Png8),
            "image/jpeg" | "image/jpg" => Some(CacheFormat::Jpeg),
            "image/webp" => Some(CacheFormat::Webp),
            _ => None,
        }
    }

    /// The format of a RESTful extension (`png`, `png8`, `jpeg`, `jpg`, `webp`).
    pub fn from_extension(extension: &str) -> Option<CacheFormat> {
        CacheFormat::from_name(extension).filter(|_| !extension.trim().is_empty())
    }

    pub(super) fn map_format(self) -> MapFormat {
        match self {
            CacheFormat::Jpeg => MapFormat::Jpeg,
            _ => MapFormat::Png,
        }
    }

    pub(super) fn transparent(self) -> bool {
        self != CacheFormat::Jpeg
    }

    pub(super) fn encoder(self) -> render::ImageFormat {
        match self {
            CacheFormat::Png => render::ImageFormat::Png,
            CacheFormat::Png8 => render::ImageFormat::Png8,
            CacheFormat::Jpeg => render::ImageFormat::Jpeg { quality: 85 },
            CacheFormat::Webp => render::ImageFormat::Webp,
        }
    }

    pub(super) fn tile_format(self) -> pyramid::TileFormat {
        match self {
            CacheFormat::Png | CacheFormat::Png8 => pyramid::TileFormat::PngUint8,
            CacheFormat::Jpeg => pyramid::TileFormat::JpgUint8,
            CacheFormat::Webp => pyramid::TileFormat::WebpUint8,
        }
    }

    pub(super) fn channels(self) -> u8 {
        match self {
            CacheFormat::Jpeg => 3,
            _ => 4,
        }
    }
}
