//! Pyramid tile formats, named as ROK4 names them (`TIFF_JPG_UINT8`, `TIFF_ZIP_FLOAT32`…).
//!
//! The name says how a tile is stored inside its slab: JPEG and PNG tiles are whole image
//! files (served as they are), RAW tiles are bare pixel-interleaved samples, ZIP tiles are the
//! same samples compressed with zlib (TIFF's Adobe Deflate). It also fixes the TIFF tags of the
//! slab header, so that GDAL and ROK4 read our slabs.

use std::fmt;
use std::str::FromStr;

use crate::PyramidError;

/// How a tile is encoded in a slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileFormat {
    /// `TIFF_JPG_UINT8`: JPEG files (quality 75 as ROK4 writes them), 3 channels.
    JpgUint8,
    /// `TIFF_JPG90_UINT8`: JPEG files, quality 90.
    Jpg90Uint8,
    /// `TIFF_PNG_UINT8`: PNG files, 1 to 4 channels.
    PngUint8,
    /// `TIFF_ZIP_UINT8`: zlib-compressed 8-bit samples.
    ZipUint8,
    /// `TIFF_RAW_UINT8`: uncompressed 8-bit samples.
    RawUint8,
    /// `TIFF_ZIP_FLOAT32`: zlib-compressed little-endian 32-bit floats.
    ZipFloat32,
    /// `TIFF_RAW_FLOAT32`: uncompressed little-endian 32-bit floats.
    RawFloat32,
    /// `TIFF_WEBP_UINT8`: lossless WebP files, 1 to 4 channels (TIFF compression 50001, as
    /// libtiff names WebP). A Tuilerie extension: ROK4 does not read it.
    WebpUint8,
    /// `TIFF_PBF_MVT`: Mapbox Vector Tiles (protobuf), a vector pyramid. Tiles are served as
    /// stored; they have no pixels.
    PbfMvt,
}

/// The type of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleType {
    /// Unsigned 8-bit integer.
    Uint8,
    /// IEEE 754 32-bit float.
    Float32,
}

impl SampleType {
    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            SampleType::Uint8 => 1,
            SampleType::Float32 => 4,
        }
    }
}

const ALL: [TileFormat; 9] = [
    TileFormat::JpgUint8,
    TileFormat::Jpg90Uint8,
    TileFormat::PngUint8,
    TileFormat::WebpUint8,
    TileFormat::ZipUint8,
    TileFormat::RawUint8,
    TileFormat::ZipFloat32,
    TileFormat::RawFloat32,
    TileFormat::PbfMvt,
];

impl TileFormat {
    /// Every supported format.
    pub fn all() -> &'static [TileFormat] {
        &ALL
    }

    /// The ROK4 name.
    pub fn name(self) -> &'static str {
        match self {
            TileFormat::JpgUint8 => "TIFF_JPG_UINT8",
            TileFormat::Jpg90Uint8 => "TIFF_JPG90_UINT8",
            TileFormat::PngUint8 => "TIFF_PNG_UINT8",
            TileFormat::WebpUint8 => "TIFF_WEBP_UINT8",
            TileFormat::ZipUint8 => "TIFF_ZIP_UINT8",
            TileFormat::RawUint8 => "TIFF_RAW_UINT8",
            TileFormat::ZipFloat32 => "TIFF_ZIP_FLOAT32",
            TileFormat::RawFloat32 => "TIFF_RAW_FLOAT32",
            TileFormat::PbfMvt => "TIFF_PBF_MVT",
        }
    }

    /// Whether this is a vector pyramid (MVT tiles).
    pub fn is_vector(self) -> bool {
        self == TileFormat::PbfMvt
    }

    /// The sample type.
    pub fn sample_type(self) -> SampleType {
        match self {
            TileFormat::ZipFloat32 | TileFormat::RawFloat32 => SampleType::Float32,
            _ => SampleType::Uint8,
        }
    }

    /// The Content-Type of a tile served as stored.
    pub fn mime_type(self) -> &'static str {
        match self {
            TileFormat::JpgUint8 | TileFormat::Jpg90Uint8 => "image/jpeg",
            TileFormat::PngUint8 => "image/png",
            TileFormat::WebpUint8 => "image/webp",
            TileFormat::PbfMvt => "application/vnd.mapbox-vector-tile",
            _ => "image/tiff",
        }
    }

    /// The file extension of a tile served as stored (`jpeg`, `png`, `webp`, `tiff`, `pbf`).
    pub fn extension(self) -> &'static str {
        match self {
            TileFormat::JpgUint8 | TileFormat::Jpg90Uint8 => "jpeg",
            TileFormat::PngUint8 => "png",
            TileFormat::WebpUint8 => "webp",
            TileFormat::PbfMvt => "pbf",
            _ => "tiff",
        }
    }

    /// Whether tiles are whole image files that can be served as they are stored.
    pub fn is_image_file(self) -> bool {
        matches!(
            self,
            TileFormat::JpgUint8
                | TileFormat::Jpg90Uint8
                | TileFormat::PngUint8
                | TileFormat::WebpUint8
        )
    }

    /// Whether the stored values differ from the source (JPEG).
    pub fn is_lossy(self) -> bool {
        matches!(self, TileFormat::JpgUint8 | TileFormat::Jpg90Uint8)
    }

    /// JPEG quality, for JPEG formats.
    pub fn jpeg_quality(self) -> Option<u8> {
        match self {
            TileFormat::JpgUint8 => Some(75),
            TileFormat::Jpg90Uint8 => Some(90),
            _ => None,
        }
    }

    /// The TIFF `Compression` tag value of the slab (as ROK4 writes it).
    pub fn tiff_compression(self) -> u16 {
        match self {
            TileFormat::JpgUint8 | TileFormat::Jpg90Uint8 => 7,
            TileFormat::PngUint8 | TileFormat::ZipUint8 | TileFormat::ZipFloat32 => 8,
            TileFormat::RawUint8 | TileFormat::RawFloat32 | TileFormat::PbfMvt => 1,
            TileFormat::WebpUint8 => 50001,
        }
    }

    /// Checks a channel count against what the format can hold.
    pub fn check_channels(self, channels: u8) -> Result<(), String> {
        match (self, channels) {
            (_, 0 | 5..) => Err(format!("{channels} channels: use 1 to 4")),
            (TileFormat::PbfMvt, c) if c != 1 => Err(format!(
                "{c} channels: a vector pyramid has no pixels, use 1"
            )),
            (TileFormat::JpgUint8 | TileFormat::Jpg90Uint8, c) if c != 3 => Err(format!(
                "{} holds 3 channels (RGB), not {c}: use TIFF_PNG_UINT8 or TIFF_ZIP_UINT8",
                self.name()
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for TileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TileFormat {
    type Err = PyramidError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .find(|f| f.name().eq_ignore_ascii_case(text.trim()))
            .copied()
            .ok_or_else(|| PyramidError::UnsupportedFormat {
                format: text.to_owned(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_formats_are_refused() {
        for format in TileFormat::all() {
            assert_eq!(format.name().parse::<TileFormat>().unwrap(), *format);
        }
        assert!("TIFF_LZW_UINT8".parse::<TileFormat>().is_err());
    }

    #[test]
    fn jpeg_needs_three_channels() {
        assert!(TileFormat::JpgUint8.check_channels(3).is_ok());
        assert!(TileFormat::JpgUint8.check_channels(1).is_err());
        assert!(TileFormat::PngUint8.check_channels(4).is_ok());
        assert!(TileFormat::RawFloat32.check_channels(0).is_err());
    }
}
