//! Tile pixels: encoding a tile's samples into a slab tile and decoding it back.
//!
//! Pixels are interleaved (`RGBRGB…`), rows top to bottom, as ROK4 stores RAW and ZIP tiles.
//! JPEG and PNG tiles are whole image files, produced and read with the `image` crate; ZIP is
//! zlib (TIFF's Adobe Deflate) through `flate2`.

use std::io::{Read as _, Write as _};

use image::{ExtendedColorType, ImageEncoder as _, ImageFormat};

use crate::format::{SampleType, TileFormat};

/// A tile's samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// 8-bit samples.
    U8(Vec<u8>),
    /// 32-bit float samples.
    F32(Vec<f32>),
}

/// The decoded pixels of one tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TileImage {
    width: u32,
    height: u32,
    channels: u8,
    samples: Samples,
}

impl TileImage {
    /// A tile from interleaved samples; `None` if their count is not width × height × channels.
    pub fn new(width: u32, height: u32, channels: u8, samples: Samples) -> Option<TileImage> {
        let expected = width as usize * height as usize * usize::from(channels);
        let len = match &samples {
            Samples::U8(v) => v.len(),
            Samples::F32(v) => v.len(),
        };
        (len == expected && channels > 0).then_some(TileImage {
            width,
            height,
            channels,
            samples,
        })
    }

    /// A tile filled with one value per channel.
    pub fn filled(width: u32, height: u32, sample_type: SampleType, values: &[f64]) -> TileImage {
        let pixels = width as usize * height as usize;
        let channels = values.len().clamp(1, 4) as u8;
        let samples = match sample_type {
            SampleType::Uint8 => Samples::U8(
                values
                    .iter()
                    .map(|v| v.round().clamp(0.0, 255.0) as u8)
                    .cycle()
                    .take(pixels * usize::from(channels))
                    .collect(),
            ),
            SampleType::Float32 => Samples::F32(
                values
                    .iter()
                    .map(|v| *v as f32)
                    .cycle()
                    .take(pixels * usize::from(channels))
                    .collect(),
            ),
        };
        TileImage {
            width,
            height,
            channels,
            samples,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Samples per pixel.
    pub fn channels(&self) -> u8 {
        self.channels
    }
    /// The samples.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// The samples of pixel (i, j) (column, row from the top), as f64; `None` outside.
    pub fn pixel(&self, i: u32, j: u32) -> Option<Vec<f64>> {
        if i >= self.width || j >= self.height {
            return None;
        }
        let c = usize::from(self.channels);
        let start = (j as usize * self.width as usize + i as usize) * c;
        Some(match &self.samples {
            Samples::U8(v) => v
                .get(start..start + c)?
                .iter()
                .map(|s| f64::from(*s))
                .collect(),
            Samples::F32(v) => v
                .get(start..start + c)?
                .iter()
                .map(|s| f64::from(*s))
                .collect(),
        })
    }
}

/// The 8-bit colour type of 1 to 4 channels.
fn color_type(channels: u8) -> ExtendedColorType {
    match channels {
        1 => ExtendedColorType::L8,
        2 => ExtendedColorType::La8,
        3 => ExtendedColorType::Rgb8,
        _ => ExtendedColorType::Rgba8,
    }
}

/// Encodes a tile for a slab of `format`.
pub fn encode(format: TileFormat, tile: &TileImage) -> Result<Vec<u8>, String> {
    match (format, &tile.samples) {
        (TileFormat::JpgUint8 | TileFormat::Jpg90Uint8, Samples::U8(samples)) => {
            if tile.channels != 3 {
                return Err(format!("JPEG tiles need 3 channels, got {}", tile.channels));
            }
            let mut out = Vec::with_capacity(samples.len() / 8);
            let quality = format.jpeg_quality().unwrap_or(75);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(samples, tile.width, tile.height, ExtendedColorType::Rgb8)
                .map_err(|e| format!("JPEG encoding failed: {e}"))?;
            Ok(out)
        }
        (TileFormat::PngUint8, Samples::U8(samples)) => {
            let color = color_type(tile.channels);
            let mut out = Vec::with_capacity(samples.len() / 2);
            image::codecs::png::PngEncoder::new_with_quality(
                &mut out,
                image::codecs::png::CompressionType::Fast,
                image::codecs::png::FilterType::Adaptive,
            )
            .write_image(samples, tile.width, tile.height, color)
            .map_err(|e| format!("PNG encoding failed: {e}"))?;
            Ok(out)
        }
        (TileFormat::WebpUint8, Samples::U8(samples)) => {
            let color = color_type(tile.channels);
            let mut out = Vec::with_capacity(samples.len() / 2);
            image::codecs::webp::WebPEncoder::new_lossless(&mut out)
                .write_image(samples, tile.width, tile.height, color)
                .map_err(|e| format!("WebP encoding failed: {e}"))?;
            Ok(out)
        }
        (TileFormat::RawUint8, Samples::U8(samples)) => Ok(samples.clone()),
        (TileFormat::ZipUint8, Samples::U8(samples)) => zlib(samples),
        (TileFormat::RawFloat32, Samples::F32(samples)) => Ok(f32_bytes(samples)),
        (TileFormat::ZipFloat32, Samples::F32(samples)) => zlib(&f32_bytes(samples)),
        _ => Err(format!(
            "{format} cannot hold these samples (wrong sample type)"
        )),
    }
}

/// Decodes a slab tile of `format` into its pixels.
pub fn decode(
    format: TileFormat,
    channels: u8,
    width: u32,
    height: u32,
    bytes: &[u8],
) -> Result<TileImage, String> {
    let samples = match format {
        TileFormat::JpgUint8
        | TileFormat::Jpg90Uint8
        | TileFormat::PngUint8
        | TileFormat::WebpUint8 => {
            let image_format = match format {
                TileFormat::PngUint8 => ImageFormat::Png,
                TileFormat::WebpUint8 => ImageFormat::WebP,
                _ => ImageFormat::Jpeg,
            };
            let image = image::load_from_memory_with_format(bytes, image_format)
                .map_err(|e| format!("cannot decode the stored image: {e}"))?;
            if (image.width(), image.height()) != (width, height) {
                return Err(format!(
                    "stored image is {}×{}, the tile matrix says {width}×{height}",
                    image.width(),
                    image.height()
                ));
            }
            Samples::U8(match channels {
                1 => image.into_luma8().into_raw(),
                2 => image.into_luma_alpha8().into_raw(),
                3 => image.into_rgb8().into_raw(),
                _ => image.into_rgba8().into_raw(),
            })
        }
        TileFormat::RawUint8 => Samples::U8(bytes.to_vec()),
        TileFormat::ZipUint8 => Samples::U8(unzlib(bytes)?),
        TileFormat::RawFloat32 => Samples::F32(f32_samples(bytes)?),
        TileFormat::ZipFloat32 => Samples::F32(f32_samples(&unzlib(bytes)?)?),
        TileFormat::PbfMvt => {
            return Err("a vector tile (TIFF_PBF_MVT) has no pixels: serve it as stored".to_owned())
        }
    };
    TileImage::new(width, height, channels, samples).ok_or_else(|| {
        format!("stored tile does not hold {width}×{height} pixels of {channels} channel(s)")
    })
}

/// A float tile as a single-image, uncompressed TIFF (1 or 3 bands) carrying the no-data value
/// in GDAL's tag, so that GDAL and QGIS read WMTS tiles of elevation pyramids with their values.
pub fn encode_float_tiff(tile: &TileImage, nodata: Option<f64>) -> Result<Vec<u8>, String> {
    use tiff::encoder::{colortype, TiffEncoder};
    let Samples::F32(samples) = &tile.samples else {
        return Err("only float tiles are written as float TIFF".to_owned());
    };
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(samples.len() * 4 + 512));
    let mut encoder =
        TiffEncoder::new(&mut cursor).map_err(|e| format!("TIFF encoding failed: {e}"))?;
    let nodata = nodata.map(|v| format!("{v}"));
    let result = match tile.channels {
        1 => encoder
            .new_image::<colortype::Gray32Float>(tile.width, tile.height)
            .and_then(|mut image| {
                if let Some(nodata) = &nodata {
                    image
                        .encoder()
                        .write_tag(tiff::tags::Tag::GdalNodata, nodata.as_str())?;
                }
                image.write_data(samples)
            }),
        3 => encoder
            .new_image::<colortype::RGB32Float>(tile.width, tile.height)
            .and_then(|image| image.write_data(samples)),
        n => return Err(format!("float TIFF tiles hold 1 or 3 bands, not {n}")),
    };
    result.map_err(|e| format!("TIFF encoding failed: {e}"))?;
    Ok(cursor.into_inner())
}

fn zlib(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(bytes.len() / 2),
        flate2::Compression::new(6),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("deflate failed: {e}"))
}

fn unzlib(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::ZlibDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("inflate failed: {e}"))?;
    Ok(out)
}

fn f32_bytes(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn f32_samples(bytes: &[u8]) -> Result<Vec<f32>, String> {
    if !bytes.len().is_multiple_of(4) {
        return Err(format!(
            "{} bytes is not a whole number of float32 samples",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn gradient(channels: u8) -> TileImage {
        let samples = (0..16 * 8 * u32::from(channels))
            .map(|k| (k % 251) as u8)
            .collect();
        TileImage::new(16, 8, channels, Samples::U8(samples)).unwrap()
    }

    #[test]
    fn lossless_formats_round_trip_exactly() {
        for channels in 1..=4 {
            let tile = gradient(channels);
            for format in [
                TileFormat::PngUint8,
                TileFormat::WebpUint8,
                TileFormat::ZipUint8,
                TileFormat::RawUint8,
            ] {
                let bytes = encode(format, &tile).unwrap();
                assert_eq!(
                    decode(format, channels, 16, 8, &bytes).unwrap(),
                    tile,
                    "{format}"
                );
            }
        }
        let floats: Vec<f32> = (0..16 * 8).map(|k| k as f32 * 0.125 - 3.0).collect();
        let tile = TileImage::new(16, 8, 1, Samples::F32(floats)).unwrap();
        for format in [TileFormat::ZipFloat32, TileFormat::RawFloat32] {
            let bytes = encode(format, &tile).unwrap();
            assert_eq!(decode(format, 1, 16, 8, &bytes).unwrap(), tile, "{format}");
        }
    }

    #[test]
    fn jpeg_round_trips_within_tolerance() {
        let tile = TileImage::filled(16, 16, SampleType::Uint8, &[200.0, 120.0, 40.0]);
        let bytes = encode(TileFormat::JpgUint8, &tile).unwrap();
        assert_eq!(&bytes[0..2], &[0xFF, 0xD8]);
        let back = decode(TileFormat::JpgUint8, 3, 16, 16, &bytes).unwrap();
        let pixel = back.pixel(5, 5).unwrap();
        for (got, want) in pixel.iter().zip([200.0, 120.0, 40.0]) {
            assert!((got - want).abs() <= 3.0, "{pixel:?}");
        }
    }

    #[test]
    fn wrong_sizes_are_errors_not_panics() {
        assert!(decode(TileFormat::RawUint8, 3, 16, 16, &[1, 2, 3]).is_err());
        assert!(decode(TileFormat::RawFloat32, 1, 1, 1, &[1, 2, 3]).is_err());
        assert!(decode(TileFormat::ZipUint8, 1, 1, 1, b"not zlib").is_err());
        assert!(decode(TileFormat::PngUint8, 1, 1, 1, b"not png").is_err());
        assert!(TileImage::new(2, 2, 1, Samples::U8(vec![0; 3])).is_none());
    }
}
