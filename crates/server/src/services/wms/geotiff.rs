//! GetMap `image/tiff`: the pixel values of a pyramid layer as a georeferenced float32 TIFF,
//! so that GDAL and QGIS read elevations (or any measure) rather than colours.
//!
//! Georeferencing is GeoTIFF 1.0: ModelPixelScale + ModelTiepoint (the map's top-left corner)
//! and a GeoKey directory naming the EPSG code (projected or geographic); no data is NaN,
//! declared in GDAL's no-data tag.

use crs::{Bbox, Crs};
use tiff::encoder::{colortype, TiffEncoder};
use tiff::tags::Tag;

/// Encodes a raster (1, 3 or 4 bands) as a float32 GeoTIFF of `bbox` in `crs`.
pub fn encode(raster: &pyramid::Raster, crs: &Crs, bbox: &Bbox) -> Result<Vec<u8>, String> {
    let epsg = crs.epsg().unwrap_or(4326);
    let geographic = crs.is_geographic();
    let scale = [
        bbox.width() / f64::from(raster.width),
        bbox.height() / f64::from(raster.height),
        0.0,
    ];
    let tiepoint = [0.0, 0.0, 0.0, bbox.min_x(), bbox.max_y(), 0.0];
    // GeoKeyDirectory: header (version 1.1.0, N keys), then (key, location, count, value).
    let keys: [u16; 16] = [
        1,
        1,
        0,
        3,
        1024, // GTModelTypeGeoKey
        0,
        1,
        if geographic { 2 } else { 1 },
        1025, // GTRasterTypeGeoKey: PixelIsArea
        0,
        1,
        1,
        if geographic { 2048 } else { 3072 }, // GeographicType / ProjectedCSType
        0,
        1,
        u16::try_from(epsg)
            .map_err(|_| format!("EPSG:{epsg} cannot be written in a GeoTIFF key"))?,
    ];
    let mut cursor = std::io::Cursor::new(Vec::with_capacity(raster.data.len() * 4 + 1024));
    let mut encoder = TiffEncoder::new(&mut cursor).map_err(|e| e.to_string())?;
    macro_rules! write_image {
        ($color:ty) => {{
            let mut image = encoder
                .new_image::<$color>(raster.width, raster.height)
                .map_err(|e| e.to_string())?;
            let tags = image.encoder();
            tags.write_tag(Tag::ModelPixelScaleTag, &scale[..])
                .map_err(|e| e.to_string())?;
            tags.write_tag(Tag::ModelTiepointTag, &tiepoint[..])
                .map_err(|e| e.to_string())?;
            tags.write_tag(Tag::GeoKeyDirectoryTag, &keys[..])
                .map_err(|e| e.to_string())?;
            tags.write_tag(Tag::GdalNodata, "nan")
                .map_err(|e| e.to_string())?;
            image.write_data(&raster.data).map_err(|e| e.to_string())?;
        }};
    }
    match raster.channels {
        1 => write_image!(colortype::Gray32Float),
        3 => write_image!(colortype::RGB32Float),
        4 => write_image!(colortype::RGBA32Float),
        n => {
            return Err(format!(
                "image/tiff holds 1, 3 or 4 bands; this pyramid has {n}: use image/png"
            ))
        }
    }
    Ok(cursor.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_georeferenced_float_tiff() {
        let raster = pyramid::Raster {
            width: 4,
            height: 2,
            channels: 1,
            data: vec![1.5, 2.0, f32::NAN, 4.0, 5.0, 6.0, 7.0, 8.25],
            level: "0".into(),
        };
        let crs = Crs::from_epsg(2154).unwrap();
        let bbox = Bbox::new(600_000.0, 6_800_000.0, 600_400.0, 6_800_200.0).unwrap();
        let bytes = encode(&raster, &crs, &bbox).unwrap();
        let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(decoder.dimensions().unwrap(), (4, 2));
        let scale = decoder.get_tag_f64_vec(Tag::ModelPixelScaleTag).unwrap();
        assert_eq!(&scale[..2], &[100.0, 100.0]);
        let tie = decoder.get_tag_f64_vec(Tag::ModelTiepointTag).unwrap();
        assert_eq!(&tie[3..5], &[600_000.0, 6_800_200.0]);
        let keys = decoder.get_tag_u16_vec(Tag::GeoKeyDirectoryTag).unwrap();
        assert_eq!(keys[15], 2154);
        let tiff::decoder::DecodingResult::F32(values) = decoder.read_image().unwrap() else {
            panic!("not float");
        };
        assert_eq!(values[0], 1.5);
        assert!(values[2].is_nan());
        assert_eq!(values[7], 8.25);
    }
}
