//! The image formats of cached tiles, and what each means for rendering and storage.

use crate::services::wms::MapFormat;

/// An image format of cached tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheFormat {
    /// PNG with transparency.
    Png,
    /// JPEG on white.
    Jpeg,
}

impl CacheFormat {
    /// The formats, in the order capabilities list them.
    pub const ALL: [CacheFormat; 2] = [CacheFormat::Png, CacheFormat::Jpeg];

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            CacheFormat::Png => "image/png",
            CacheFormat::Jpeg => "image/jpeg",
        }
    }

    /// The file extension of RESTful URLs.
    pub fn extension(self) -> &'static str {
        match self {
            CacheFormat::Png => "png",
            CacheFormat::Jpeg => "jpeg",
        }
    }

    /// The format of a MIME type (`image/jpg` too; parameters ignored).
    pub fn from_mime(mime: &str) -> Option<CacheFormat> {
        let essence = mime.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "image/png" => Some(CacheFormat::Png),
            "image/jpeg" | "image/jpg" => Some(CacheFormat::Jpeg),
            _ => None,
        }
    }

    /// The format of a RESTful extension (`png`, `jpeg`, `jpg`).
    pub fn from_extension(extension: &str) -> Option<CacheFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "png" => Some(CacheFormat::Png),
            "jpeg" | "jpg" => Some(CacheFormat::Jpeg),
            _ => None,
        }
    }

    pub(super) fn map_format(self) -> MapFormat {
        match self {
            CacheFormat::Png => MapFormat::Png,
            CacheFormat::Jpeg => MapFormat::Jpeg,
        }
    }

    pub(super) fn transparent(self) -> bool {
        self == CacheFormat::Png
    }

    pub(super) fn encoder(self) -> render::ImageFormat {
        match self {
            CacheFormat::Png => render::ImageFormat::Png,
            CacheFormat::Jpeg => render::ImageFormat::Jpeg { quality: 85 },
        }
    }

    pub(super) fn tile_format(self) -> pyramid::TileFormat {
        match self {
            CacheFormat::Png => pyramid::TileFormat::PngUint8,
            CacheFormat::Jpeg => pyramid::TileFormat::JpgUint8,
        }
    }

    pub(super) fn channels(self) -> u8 {
        match self {
            CacheFormat::Png => 4,
            CacheFormat::Jpeg => 3,
        }
    }
}
