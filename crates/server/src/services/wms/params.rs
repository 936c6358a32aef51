//! GetMap parameters (also the map part of GetFeatureInfo), parsed and checked in the order a
//! client needs to hear about them, each error naming the parameter and the fix.

use std::sync::Arc;

use crs::{Bbox, Crs};

use super::protocol::{name_list, Code, Version, WmsError};
use crate::config::WmsConfig;
use crate::layers::{Layer, Layers};
use crate::services::ogc::Kvp;

/// The OGC standard pixel: 0.28 mm, i.e. 90.714 DPI.
pub const STANDARD_DPI: f64 = 25.4 / 0.28;

/// An image format of GetMap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapFormat {
    /// PNG, 32-bit.
    Png,
    /// Palette PNG (`image/png; mode=8bit`).
    Png8,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
    /// GeoTIFF of the pixel values (raster layers).
    Tiff,
}

impl MapFormat {
    /// Formats in the order capabilities list them.
    pub const ALL: [MapFormat; 5] = [
        MapFormat::Png,
        MapFormat::Png8,
        MapFormat::Jpeg,
        MapFormat::Webp,
        MapFormat::Tiff,
    ];

    /// The MIME type advertised and answered.
    pub fn mime(self) -> &'static str {
        match self {
            MapFormat::Png => "image/png",
            MapFormat::Png8 => "image/png; mode=8bit",
            MapFormat::Jpeg => "image/jpeg",
            MapFormat::Webp => "image/webp",
            MapFormat::Tiff => "image/tiff",
        }
    }

    /// The format of a FORMAT value (case and spacing tolerant; `image/png8` accepted).
    pub fn from_mime(text: &str) -> Option<MapFormat> {
        let essence = text.split(';').next().unwrap_or("").trim();
        if ["image/tiff", "image/geotiff"]
            .iter()
            .any(|t| essence.eq_ignore_ascii_case(t))
        {
            return Some(MapFormat::Tiff);
        }
        Some(match render::ImageFormat::from_mime(text)? {
            render::ImageFormat::Png => MapFormat::Png,
            render::ImageFormat::Png8 => MapFormat::Png8,
            render::ImageFormat::Jpeg { .. } => MapFormat::Jpeg,
            render::ImageFormat::Webp => MapFormat::Webp,
        })
    }

    /// The encoder of an image format (`None` for TIFF, which holds values, not colours).
    pub fn image_format(self, jpeg_quality: u8) -> Option<render::ImageFormat> {
        match self {
            MapFormat::Png => Some(render::ImageFormat::Png),
            MapFormat::Png8 => Some(render::ImageFormat::Png8),
            MapFormat::Jpeg => Some(render::ImageFormat::Jpeg {
                quality: jpeg_quality,
            }),
            MapFormat::Webp => Some(render::ImageFormat::Webp),
            MapFormat::Tiff => None,
        }
    }

    /// Whether the format can hold transparency.
    pub fn has_alpha(self) -> bool {
        !matches!(self, MapFormat::Jpeg)
    }
}

/// How GetMap errors are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionMode {
    /// An exception report.
    Xml,
    /// An image with the message drawn in it.
    InImage,
    /// A blank image.
    Blank,
}

/// A checked GetMap request.
#[derive(Debug)]
pub struct MapParams {
    /// The layers, in drawing order, with the index of their style.
    pub layers: Vec<(Arc<Layer>, usize)>,
    /// The map CRS.
    pub crs: Crs,
    /// The extent in `crs`, x/y order.
    pub bbox: Bbox,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Output format.
    pub format: MapFormat,
    /// Transparent background.
    pub transparent: bool,
    /// Background colour (RGB).
    pub bgcolor: [u8; 3],
    /// Resolution for symbol sizes.
    pub dpi: f64,
    /// Where labels may go ([`render::MapRequest::buffer`]): 0 for WMS, negative for
    /// metatiles drawn with a margin.
    pub label_buffer: i32,
}

impl MapParams {
    /// The normalised request, for the image cache.
    pub fn cache_key(&self, sequence: u64) -> String {
        use std::fmt::Write as _;
        let mut key = format!("{sequence}|");
        for (layer, style) in &self.layers {
            let _ = write!(key, "{}:{style},", layer.name);
        }
        let _ = write!(
            key,
            "|{}|{:?},{:?},{:?},{:?}|{}x{}|{:?}|{}|{:02x}{:02x}{:02x}|{}",
            self.crs.code(),
            self.bbox.min_x(),
            self.bbox.min_y(),
            self.bbox.max_x(),
            self.bbox.max_y(),
            self.width,
            self.height,
            self.format,
            self.transparent,
            self.bgcolor[0],
            self.bgcolor[1],
            self.bgcolor[2],
            self.dpi
        );
        key
    }

    /// Map units per pixel along x.
    pub fn resolution(&self) -> f64 {
        self.bbox.width() / f64::from(self.width)
    }
}

/// The EXCEPTIONS parameter (unknown values fall back to XML, as the standard allows).
pub fn exception_mode(kvp: &Kvp) -> ExceptionMode {
    let Some(value) = kvp.non_empty("EXCEPTIONS") else {
        return ExceptionMode::Xml;
    };
    let lower = value.to_ascii_lowercase();
    if lower.ends_with("inimage") {
        ExceptionMode::InImage
    } else if lower.ends_with("blank") {
        ExceptionMode::Blank
    } else {
        ExceptionMode::Xml
    }
}

/// Parses and checks the map parameters of GetMap / GetFeatureInfo.
pub fn parse_map(
    kvp: &Kvp,
    version: Version,
    layers: &Layers,
    config: &WmsConfig,
    layers_param: &'static str,
) -> Result<MapParams, WmsError> {
    let names = kvp.non_empty(layers_param).ok_or_else(|| {
        WmsError::missing(
            layers_param,
            "name the layers to draw, separated by commas (see GetCapabilities)",
        )
    })?;
    let names: Vec<&str> = names.split(',').map(str::trim).collect();
    if names.len() > config.layer_limit as usize {
        return Err(WmsError::invalid(
            layers_param,
            format!(
                "{} layers were asked for; this server draws at most {} per request (LayerLimit)",
                names.len(),
                config.layer_limit
            ),
        ));
    }
    let mut resolved = Vec::with_capacity(names.len());
    for name in &names {
        let layer = layers.get(name).ok_or_else(|| {
            WmsError::new(
                Code::LayerNotDefined,
                layers_param,
                format!(
                    "layer '{name}' is not published here; the layers are {}",
                    name_list(layers.iter().map(|l| l.name.as_str()))
                ),
            )
        })?;
        resolved.push(Arc::clone(layer));
    }
    // STYLES: empty or absent = default styles; otherwise one entry per layer.
    let styles: Vec<&str> = match kvp.get("STYLES").map(str::trim) {
        None | Some("") => vec![""; resolved.len()],
        Some(text) => text.split(',').map(str::trim).collect(),
    };
    if styles.len() != resolved.len() {
        return Err(WmsError::new(
            Code::StyleNotDefined,
            "STYLES",
            format!(
                "STYLES has {} entries for {} layers: give one per layer (empty entries for default styles, e.g. STYLES={})",
                styles.len(),
                resolved.len(),
                vec![""; resolved.len()].join(",")
            ),
        ));
    }
    let mut with_styles = Vec::with_capacity(resolved.len());
    for (layer, style) in resolved.into_iter().zip(&styles) {
        let index = if style.is_empty() || style.eq_ignore_ascii_case("default") {
            0
        } else {
            layer
                .styles()
                .iter()
                .position(|s| s.name == *style)
                .ok_or_else(|| {
                    WmsError::new(
                        Code::StyleNotDefined,
                        "STYLES",
                        format!(
                            "layer '{}' has no style '{style}'; its styles are {}",
                            layer.name,
                            name_list(layer.styles().iter().map(|s| s.name.as_str()))
                        ),
                    )
                })?
        };
        with_styles.push((layer, index));
    }
    let crs = parse_crs(kvp, version)?;
    let bbox = parse_bbox(kvp, version, &crs)?;
    let width = dimension(kvp, "WIDTH", config.max_width, "MaxWidth")?;
    let height = dimension(kvp, "HEIGHT", config.max_height, "MaxHeight")?;
    let format_text = kvp.non_empty("FORMAT").ok_or_else(|| {
        WmsError::missing(
            "FORMAT",
            "add FORMAT=image/png (or image/jpeg, image/png; mode=8bit, image/webp)",
        )
    })?;
    let format = MapFormat::from_mime(format_text).ok_or_else(|| {
        WmsError::new(
            Code::InvalidFormat,
            "FORMAT",
            format!(
                "FORMAT={format_text} is not offered; use one of {}",
                MapFormat::ALL.map(MapFormat::mime).join(", ")
            ),
        )
    })?;
    let transparent = match kvp.non_empty("TRANSPARENT") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(WmsError::invalid(
                "TRANSPARENT",
                format!("TRANSPARENT={v} is neither TRUE nor FALSE"),
            ))
        }
    };
    let bgcolor = match kvp.non_empty("BGCOLOR") {
        None => [255, 255, 255],
        Some(text) => parse_bgcolor(text).ok_or_else(|| {
            WmsError::invalid(
                "BGCOLOR",
                format!("BGCOLOR={text} is not a colour: write it 0xRRGGBB, e.g. BGCOLOR=0xFFFFFF"),
            )
        })?,
    };
    let dpi = parse_dpi(kvp)?;
    Ok(MapParams {
        layers: with_styles,
        crs,
        bbox,
        width,
        height,
        format,
        transparent,
        bgcolor,
        dpi,
        label_buffer: 0,
    })
}

fn parse_crs(kvp: &Kvp, version: Version) -> Result<Crs, WmsError> {
    let param = version.crs_param();
    // Lenient: a 1.3.0 request with SRS (or 1.1.1 with CRS) is understood.
    let other = match version {
        Version::V111 => "CRS",
        Version::V130 => "SRS",
    };
    let text = kvp
        .non_empty(param)
        .or_else(|| kvp.non_empty(other))
        .ok_or_else(|| {
            WmsError::missing(
                param,
                &format!("add {param}=EPSG:3857 (or another CRS of the capabilities)"),
            )
        })?;
    Crs::parse(text).map_err(|e| {
        WmsError::new(
            Code::InvalidCrs,
            param,
            format!("{param}={text} is not a CRS this server knows ({e}); use one of the capabilities, e.g. EPSG:3857, EPSG:4326, CRS:84, EPSG:2154"),
        )
    })
}

fn parse_bbox(kvp: &Kvp, version: Version, crs: &Crs) -> Result<Bbox, WmsError> {
    let text = kvp
        .non_empty("BBOX")
        .ok_or_else(|| WmsError::missing("BBOX", "add BBOX=minx,miny,maxx,maxy"))?;
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            WmsError::invalid(
                "BBOX",
                format!("BBOX={text} is not four numbers separated by commas"),
            )
        })?;
    let [a, b, c, d] = values[..] else {
        return Err(WmsError::invalid(
            "BBOX",
            format!(
                "BBOX={text} has {} values; it needs four: minx,miny,maxx,maxy",
                values.len()
            ),
        ));
    };
    if values.iter().any(|v| !v.is_finite()) {
        return Err(WmsError::invalid(
            "BBOX",
            format!("BBOX={text} holds a value that is not a finite number"),
        ));
    }
    if !(c - a).is_finite() || !(d - b).is_finite() {
        return Err(WmsError::invalid(
            "BBOX",
            format!(
                "BBOX={text} is wider than numbers can hold: give the area in the CRS's own units"
            ),
        ));
    }
    if a >= c || b >= d {
        return Err(WmsError::invalid(
            "BBOX",
            format!("BBOX={text} is empty or inverted: the first corner must be below and left of the second (minx < maxx, miny < maxy)"),
        ));
    }
    let order_note = match version {
        Version::V130 if crs.axis_order() != crs::AxisOrder::EastNorth => format!(
            " (WMS 1.3.0 takes {} in its axis order: latitude first)",
            crs.code()
        ),
        _ => String::new(),
    };
    let result = match version {
        Version::V130 => Bbox::from_ogc([a, b, c, d], crs),
        Version::V111 => Bbox::new(a, b, c, d),
    };
    result.map_err(|e| {
        WmsError::invalid(
            "BBOX",
            format!("BBOX={text} is not usable: {e}{order_note}"),
        )
    })
}

fn dimension(kvp: &Kvp, name: &'static str, max: u32, limit: &str) -> Result<u32, WmsError> {
    let text = kvp.non_empty(name).ok_or_else(|| {
        WmsError::missing(
            name,
            "give the image size in pixels, e.g. WIDTH=256&HEIGHT=256",
        )
    })?;
    let value: u32 = text.trim().parse().map_err(|_| {
        WmsError::invalid(
            name,
            format!("{name}={text} is not a whole number of pixels"),
        )
    })?;
    if value == 0 {
        return Err(WmsError::invalid(
            name,
            format!("{name} must be at least 1 pixel"),
        ));
    }
    if value > max {
        return Err(WmsError::invalid(
            name,
            format!("{name}={value} is larger than this server draws ({limit} {max}); ask for a smaller image or tile the map"),
        ));
    }
    Ok(value)
}

fn parse_bgcolor(text: &str) -> Option<[u8; 3]> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .or_else(|| text.strip_prefix('#'))
        .unwrap_or(text);
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some([(v >> 16) as u8, (v >> 8) as u8, v as u8])
}

/// DPI from `FORMAT_OPTIONS=dpi:N` (GeoServer, QGIS), `DPI=N` (QGIS) or `MAP_RESOLUTION=N`
/// (QGIS, MapServer); QGIS sends all three with one value.
fn parse_dpi(kvp: &Kvp) -> Result<f64, WmsError> {
    let from_options = kvp.non_empty("FORMAT_OPTIONS").and_then(|options| {
        options.split(';').find_map(|option| {
            let (k, v) = option.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("dpi")
                .then(|| v.trim().to_owned())
        })
    });
    let (name, text): (&'static str, Option<String>) = if from_options.is_some() {
        ("FORMAT_OPTIONS", from_options)
    } else if let Some(v) = kvp.non_empty("DPI") {
        ("DPI", Some(v.to_owned()))
    } else {
        (
            "MAP_RESOLUTION",
            kvp.non_empty("MAP_RESOLUTION").map(str::to_owned),
        )
    };
    let Some(text) = text else {
        return Ok(STANDARD_DPI);
    };
    match text.parse::<f64>() {
        Ok(dpi) if (1.0..=2400.0).contains(&dpi) => Ok(dpi),
        _ => Err(WmsError::invalid(
            name,
            format!("dpi '{text}' is not a resolution from 1 to 2400 dots per inch"),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_leniently() {
        assert_eq!(MapFormat::from_mime("image/png"), Some(MapFormat::Png));
        assert_eq!(
            MapFormat::from_mime("image/png; mode=8bit"),
            Some(MapFormat::Png8)
        );
        assert_eq!(
            MapFormat::from_mime("image/png;mode=8bit"),
            Some(MapFormat::Png8)
        );
        assert_eq!(MapFormat::from_mime("IMAGE/PNG8"), Some(MapFormat::Png8));
        assert_eq!(MapFormat::from_mime("image/jpeg"), Some(MapFormat::Jpeg));
        assert_eq!(MapFormat::from_mime("image/webp"), Some(MapFormat::Webp));
        assert_eq!(MapFormat::from_mime("image/tiff"), Some(MapFormat::Tiff));
        assert_eq!(MapFormat::from_mime("image/gif"), None);
        for f in MapFormat::ALL {
            assert_eq!(MapFormat::from_mime(f.mime()), Some(f));
        }
    }

    #[test]
    fn bgcolor_and_dpi() {
        assert_eq!(parse_bgcolor("0xFF8000"), Some([255, 128, 0]));
        assert_eq!(parse_bgcolor("#00ff00"), Some([0, 255, 0]));
        assert_eq!(parse_bgcolor("red"), None);
        assert_eq!(parse_bgcolor("0xFFF"), None);
        let kvp = Kvp::parse(Some("DPI=180&MAP_RESOLUTION=180&FORMAT_OPTIONS=dpi:180"));
        assert!((parse_dpi(&kvp).unwrap() - 180.0).abs() < 1e-9);
        let kvp = Kvp::parse(Some("FORMAT_OPTIONS=antialias:full;dpi:72"));
        assert!((parse_dpi(&kvp).unwrap() - 72.0).abs() < 1e-9);
        let kvp = Kvp::parse(Some("MAP_RESOLUTION=96"));
        assert!((parse_dpi(&kvp).unwrap() - 96.0).abs() < 1e-9);
        assert!((parse_dpi(&Kvp::parse(None)).unwrap() - STANDARD_DPI).abs() < 1e-9);
        assert!(parse_dpi(&Kvp::parse(Some("DPI=0"))).is_err());
        assert!(parse_dpi(&Kvp::parse(Some("DPI=abc"))).is_err());
    }

    #[test]
    fn axis_order_of_1_3_0_bboxes() {
        let kvp = Kvp::parse(Some("BBOX=40,-5,50,10"));
        let wgs84 = Crs::parse("EPSG:4326").unwrap();
        let v130 = parse_bbox(&kvp, Version::V130, &wgs84).unwrap();
        assert!((v130.min_x() - -5.0).abs() < 1e-12 && (v130.min_y() - 40.0).abs() < 1e-12);
        let v111 = parse_bbox(&kvp, Version::V111, &wgs84).unwrap();
        assert!((v111.min_x() - 40.0).abs() < 1e-12 && (v111.min_y() - -5.0).abs() < 1e-12);
        let crs84 = Crs::crs84();
        let b = parse_bbox(&kvp, Version::V130, &crs84).unwrap();
        assert!((b.min_x() - 40.0).abs() < 1e-12);
        assert!(parse_bbox(&Kvp::parse(Some("BBOX=1,2,3")), Version::V130, &crs84).is_err());
        assert!(parse_bbox(&Kvp::parse(Some("BBOX=3,2,1,4")), Version::V130, &crs84).is_err());
        assert!(parse_bbox(&Kvp::parse(Some("BBOX=a,2,3,4")), Version::V130, &crs84).is_err());
        assert!(parse_bbox(&Kvp::parse(Some("BBOX=1,2,inf,4")), Version::V130, &crs84).is_err());
    }
}
