//! Tuilerie's vector rasterizer: styled features into map images.
//!
//! WMS GetMap hands this crate features (from `vectorstore`, already in the map's CRS), the
//! layer's SLD style (from `sld`) and the map's extent and size; it answers an RGBA [`Image`],
//! which [`encode`] turns into PNG, palette PNG, JPEG or WebP. Drawing is anti-aliased
//! (tiny-skia), text is shaped (rustybuzz) with a bundled open font (DejaVu Sans), labels never
//! overlap, and nothing a client or a producer can send makes it panic: degenerate geometry is
//! skipped or drawn sanely, coordinates are clipped to the map plus a margin before drawing.
//!
//! It also styles raster pixels ([`style_raster`], for WMS over pyramids) and draws legends
//! ([`Renderer::legend`], for GetLegendGraphic).
//!
//! Rendering follows SLD/SE: rules are chosen per feature by scale (0.28 mm standard pixel,
//! DPI-aware) and filter; feature type styles are drawn in order (each a pass over the
//! features), symbolizers in order, layers in order; labels last, over everything, by priority.
//! Sizes are in pixels at 90.714 DPI (scaled by the request's DPI) or, with `uom` metre or foot,
//! on the ground.
#![forbid(unsafe_code)]

mod clip;
mod draw;
mod encode;
mod fonts;
mod labels;
mod legend;
mod raster;
mod symbol;

use std::path::PathBuf;

use geo_types::Geometry;

pub use crate::encode::{encode, ImageFormat};
pub use crate::legend::LegendOptions;
pub use crate::raster::style_raster;

/// The OGC standard pixel: 0.28 mm, i.e. 90.714 DPI.
pub const STANDARD_DPI: f64 = 25.4 / 0.28;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The image size is zero or too large to allocate.
    #[error("cannot draw a {width}×{height} image")]
    Size {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A font file could not be read.
    #[error("cannot read font {}", path.display())]
    Font {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Pixels do not match the size.
    #[error("{len} bytes are not {width}×{height} RGBA pixels")]
    Pixels {
        /// Bytes given.
        len: usize,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A legend was asked for a rule the style does not have.
    #[error("the style has no rule '{rule}'; its rules are {known}")]
    UnknownRule {
        /// The rule asked for.
        rule: String,
        /// The style's rule names.
        known: String,
    },
    /// Band data do not match the size.
    #[error("raster bands hold {len} values for {width}×{height} pixels")]
    Bands {
        /// Values per band.
        len: usize,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// Encoding failed.
    #[error("cannot encode the image as {format}: {reason}")]
    Encode {
        /// The format.
        format: &'static str,
        /// Why.
        reason: String,
    },
}

/// What to draw: the map's extent, CRS and size.
#[derive(Debug, Clone)]
pub struct MapRequest {
    /// The extent in the map CRS, x/y (east/north) order.
    pub extent: crs::Bbox,
    /// The map CRS (for its units).
    pub crs: crs::Crs,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Resolution of symbol sizes: 90.714 is the OGC standard pixel.
    pub dpi: f64,
    /// Background colour, RGBA, straight alpha.
    pub background: [u8; 4],
    /// A fully transparent background.
    pub transparent: bool,
    /// Where labels may go, in pixels from the image's edges: 0 (WMS) keeps every label whole
    /// inside the image; a positive buffer lets labels cross the edges (each neighbour places
    /// them from the same features); a negative one keeps labels that far inside — a metatile
    /// drawn with a margin cuts the margin away, and no label may be cut with it.
    pub buffer: i32,
}

impl MapRequest {
    /// Map units per pixel (along x).
    pub fn resolution(&self) -> f64 {
        self.extent.width() / f64::from(self.width.max(1))
    }

    /// The scale denominator of the map, OGC-style: ground size of a pixel divided by the
    /// pixel's physical size at the request's DPI. So a map drawn at twice the DPI over twice
    /// the pixels has the same scale (QGIS's high-DPI requests), and at 90.714 DPI it is the
    /// standard 0.28 mm-pixel scale of WMTS.
    pub fn scale_denominator(&self) -> f64 {
        let dpi = if self.dpi.is_finite() && self.dpi > 0.0 {
            self.dpi
        } else {
            STANDARD_DPI
        };
        self.resolution() * self.crs.metres_per_unit() / (0.0254 / dpi)
    }

    /// Pixels per symbol pixel: sizes in the style are at the standard DPI.
    pub fn symbol_scale(&self) -> f64 {
        if self.dpi.is_finite() && self.dpi > 0.0 {
            self.dpi / STANDARD_DPI
        } else {
            1.0
        }
    }

    /// Ground metres per image pixel.
    pub fn metres_per_pixel(&self) -> f64 {
        self.resolution() * self.crs.metres_per_unit()
    }
}

/// A feature as the renderer needs it.
pub trait RenderFeature {
    /// The geometry, in the map CRS.
    fn geometry(&self) -> &Geometry<f64>;
    /// The value of an attribute that filters and expressions read (`None`: no such attribute).
    fn attribute(&self, name: &str) -> Option<sld::Value>;
    /// The feature id.
    fn id(&self) -> i64;
}

impl RenderFeature for vectorstore::Feature {
    fn geometry(&self) -> &Geometry<f64> {
        &self.geometry
    }

    fn attribute(&self, name: &str) -> Option<sld::Value> {
        let value = self
            .properties
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .or_else(|| {
                self.properties
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|(_, v)| v)?;
        Some(match value {
            vectorstore::Value::Null | vectorstore::Value::Blob(_) => sld::Value::Null,
            vectorstore::Value::Bool(b) => sld::Value::Bool(*b),
            vectorstore::Value::Integer(i) => sld::Value::Number(*i as f64),
            vectorstore::Value::Real(r) => sld::Value::Number(*r),
            vectorstore::Value::Text(t) => sld::Value::Text(t.clone()),
        })
    }

    fn id(&self) -> i64 {
        self.fid
    }
}

/// A feature seen by SLD filters and expressions.
pub(crate) struct Attrs<'a, F: ?Sized>(pub &'a F);

impl<F: RenderFeature + ?Sized> sld::Attributes for Attrs<'_, F> {
    fn attribute(&self, name: &str) -> Option<sld::Value> {
        self.0.attribute(name)
    }
}

/// How many features a render draws between two questions to its `stop` callback.
pub const FEATURES_BETWEEN_STOPS: usize = 256;

/// One layer to draw: its features and its style.
#[derive(Debug)]
pub struct RenderLayer<'a, F: RenderFeature> {
    /// The features, in the map CRS.
    pub features: &'a [F],
    /// The style.
    pub style: &'a sld::UserStyle,
}

/// Options of a [`Renderer`].
#[derive(Debug, Clone, Default)]
pub struct RendererOptions {
    /// A folder of extra `.ttf` / `.otf` fonts (SLD `font-family` names them).
    pub font_dir: Option<PathBuf>,
    /// Base folder of relative `ExternalGraphic` hrefs (local files only, never the network).
    pub graphics_dir: Option<PathBuf>,
}

/// Draws maps and legends. Cheap to share: `Send + Sync`, immutable after creation except
/// for its cache of external graphics.
#[derive(Debug)]
pub struct Renderer {
    fonts: fonts::Fonts,
    graphics: symbol::Graphics,
}

impl Renderer {
    /// A renderer with the bundled font, the fonts of `font_dir`, and graphics from
    /// `graphics_dir`.
    pub fn new(options: RendererOptions) -> Result<Renderer, RenderError> {
        Ok(Renderer {
            fonts: fonts::Fonts::load(options.font_dir.as_deref())?,
            graphics: symbol::Graphics::new(options.graphics_dir),
        })
    }

    /// Draws `layers` in order over the background.
    pub fn render<F: RenderFeature>(
        &self,
        request: &MapRequest,
        layers: &[RenderLayer<'_, F>],
    ) -> Result<Image, RenderError> {
        let [r, g, b, a] = request.background;
        let mut image = Image::new(
            request.width,
            request.height,
            [r, g, b, if request.transparent { 0 } else { a }],
        )?;
        self.render_onto(&mut image, request, layers);
        Ok(image)
    }

    /// Draws `layers` in order over what `image` holds (it must be `request`'s size): several
    /// groups of layers, with rasters between them, compose one map without copies.
    pub fn render_onto<F: RenderFeature>(
        &self,
        image: &mut Image,
        request: &MapRequest,
        layers: &[RenderLayer<'_, F>],
    ) {
        self.render_onto_until(image, request, layers, &|| false);
    }

    /// [`Renderer::render_onto`], asking `stop` between layers and every
    /// [`FEATURES_BETWEEN_STOPS`] features; `false` when it stopped (the image is then
    /// unfinished).
    pub fn render_onto_until<F: RenderFeature>(
        &self,
        image: &mut Image,
        request: &MapRequest,
        layers: &[RenderLayer<'_, F>],
        stop: &dyn Fn() -> bool,
    ) -> bool {
        let mut until_stop_check = FEATURES_BETWEEN_STOPS;
        let pixmap = &mut image.pixmap;
        let context = draw::Context::new(request, &self.graphics);
        let mut labels = labels::Labeler::new(request, &self.fonts);
        let scale = request.scale_denominator();
        for (layer_index, layer) in layers.iter().enumerate() {
            for fts in &layer.style.feature_type_styles {
                let active: Vec<&sld::Rule> =
                    fts.rules.iter().filter(|r| r.applies_at(scale)).collect();
                if active.is_empty() {
                    continue;
                }
                if stop() {
                    return false;
                }
                for feature in layer.features {
                    until_stop_check -= 1;
                    if until_stop_check == 0 {
                        until_stop_check = FEATURES_BETWEEN_STOPS;
                        if stop() {
                            return false;
                        }
                    }
                    let attrs = Attrs(feature);
                    let attributes: &dyn sld::Attributes = &attrs;
                    let mut matched = false;
                    for rule in active.iter().filter(|r| !r.else_filter) {
                        if rule.matches(attributes) {
                            matched = true;
                            context.draw_rule(pixmap, rule, feature, &mut labels, layer_index);
                        }
                    }
                    if !matched {
                        for rule in active.iter().filter(|r| r.else_filter) {
                            context.draw_rule(pixmap, rule, feature, &mut labels, layer_index);
                        }
                    }
                }
                context.flush(pixmap);
            }
        }
        if stop() {
            return false;
        }
        labels.draw(pixmap);
        true
    }

    /// A legend: one swatch per rule with its title, or the one rule asked for.
    pub fn legend(
        &self,
        style: &sld::UserStyle,
        options: &LegendOptions,
    ) -> Result<Image, RenderError> {
        legend::legend(self, style, options)
    }
}

pub(crate) fn new_pixmap(width: u32, height: u32) -> Result<tiny_skia::Pixmap, RenderError> {
    // 16k × 16k at most: beyond, a client mistake or an attack, not a map.
    if width == 0 || height == 0 || width > 16_384 || height > 16_384 {
        return Err(RenderError::Size { width, height });
    }
    tiny_skia::Pixmap::new(width, height).ok_or(RenderError::Size { width, height })
}

/// An RGBA image.
#[derive(Clone, PartialEq)]
pub struct Image {
    pixmap: tiny_skia::Pixmap,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}×{})", self.width(), self.height())
    }
}

impl Image {
    /// An image of one colour (RGBA, straight alpha).
    pub fn new(width: u32, height: u32, color: [u8; 4]) -> Result<Image, RenderError> {
        let mut pixmap = new_pixmap(width, height)?;
        pixmap.fill(tiny_skia::Color::from_rgba8(
            color[0], color[1], color[2], color[3],
        ));
        Ok(Image { pixmap })
    }

    /// Draws `other` (same size) over this image.
    pub fn draw_over(&mut self, other: &Image) {
        self.pixmap.draw_pixmap(
            0,
            0,
            other.pixmap.as_ref(),
            &tiny_skia::PixmapPaint::default(),
            tiny_skia::Transform::identity(),
            None,
        );
    }

    /// Whether every pixel is opaque.
    pub fn is_opaque(&self) -> bool {
        // AND of the alpha bytes, block by block: no early exit inside a block, so it vectorizes.
        self.pixmap
            .data()
            .chunks(4096)
            .all(|block| block.chunks_exact(4).fold(255u8, |a, p| a & p[3]) == 255)
    }

    /// The RGB bytes of an opaque image (premultiplied and straight colours are equal there);
    /// other pixels are flattened over white.
    pub fn to_rgb8(&self) -> Vec<u8> {
        let data = self.pixmap.data();
        let mut out = vec![0u8; data.len() / 4 * 3];
        if self.is_opaque() {
            for (o, p) in out.chunks_exact_mut(3).zip(data.chunks_exact(4)) {
                o.copy_from_slice(&p[..3]);
            }
            return out;
        }
        for (o, p) in out.chunks_exact_mut(3).zip(data.chunks_exact(4)) {
            // Premultiplied colour over white: c + (255 − a).
            let white = 255 - p[3];
            o[0] = p[0].saturating_add(white);
            o[1] = p[1].saturating_add(white);
            o[2] = p[2].saturating_add(white);
        }
        out
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.pixmap.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.pixmap.height()
    }

    /// The pixels, RGBA with straight (not premultiplied) alpha, rows top to bottom.
    pub fn to_rgba8(&self) -> Vec<u8> {
        let mut out = self.pixmap.data().to_vec();
        for p in out.chunks_exact_mut(4) {
            let a = u16::from(p[3]);
            if a != 255 && a != 0 {
                for c in &mut p[..3] {
                    *c = ((u16::from(*c) * 255 + a / 2) / a).min(255) as u8;
                }
            }
        }
        out
    }

    /// An image from straight-alpha RGBA pixels.
    pub fn from_rgba8(width: u32, height: u32, rgba: Vec<u8>) -> Result<Image, RenderError> {
        let expected = width as usize * height as usize * 4;
        if rgba.len() != expected {
            return Err(RenderError::Pixels {
                len: rgba.len(),
                width,
                height,
            });
        }
        let mut data = rgba;
        for p in data.chunks_exact_mut(4) {
            let a = u16::from(p[3]);
            if a < 255 {
                for c in &mut p[..3] {
                    *c = ((u16::from(*c) * a + 127) / 255) as u8;
                }
            }
        }
        let size = tiny_skia::IntSize::from_wh(width, height)
            .ok_or(RenderError::Size { width, height })?;
        let pixmap =
            tiny_skia::Pixmap::from_vec(data, size).ok_or(RenderError::Size { width, height })?;
        Ok(Image { pixmap })
    }

    /// The part of the image at (`x`, `y`) of `width` × `height` pixels (inside it), copied
    /// row by row as stored: no colour conversion (cutting metatiles into tiles).
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Image, RenderError> {
        if x.saturating_add(width) > self.width() || y.saturating_add(height) > self.height() {
            return Err(RenderError::Size { width, height });
        }
        let mut pixmap = new_pixmap(width, height)?;
        let stride = self.width() as usize * 4;
        let row = width as usize * 4;
        let source = self.pixmap.data();
        for (r, out) in pixmap.data_mut().chunks_exact_mut(row).enumerate() {
            let start = (y as usize + r) * stride + x as usize * 4;
            out.copy_from_slice(&source[start..start + row]);
        }
        Ok(Image { pixmap })
    }

    /// Whether every pixel is `color` (straight RGBA): nothing was drawn on a background of
    /// it. A fully transparent colour matches every fully transparent pixel.
    pub fn is_filled_with(&self, color: [u8; 4]) -> bool {
        let data = self.pixmap.data();
        if color[3] == 0 {
            // OR of the alpha bytes, block by block (vectorizes).
            return data
                .chunks(4096)
                .all(|block| block.chunks_exact(4).fold(0u8, |a, p| a | p[3]) == 0);
        }
        let premultiplied =
            tiny_skia::ColorU8::from_rgba(color[0], color[1], color[2], color[3]).premultiply();
        let expected = [
            premultiplied.red(),
            premultiplied.green(),
            premultiplied.blue(),
            premultiplied.alpha(),
        ];
        data.chunks_exact(4).all(|p| p == expected)
    }

    pub(crate) fn from_pixmap(pixmap: tiny_skia::Pixmap) -> Image {
        Image { pixmap }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(width: u32, dpi: f64) -> MapRequest {
        MapRequest {
            extent: crs::Bbox::new(0.0, 0.0, 2560.0, 2560.0).unwrap(),
            crs: crs::Crs::from_epsg(3857).unwrap(),
            width,
            height: width,
            dpi,
            background: [255, 255, 255, 255],
            transparent: false,
            buffer: 0,
        }
    }

    #[test]
    fn a_crop_copies_the_pixels_and_blank_tiles_are_told() {
        let mut pixels = vec![0u8; 4 * 4 * 4];
        // One half-transparent red pixel at (2, 1).
        pixels[(4 + 2) * 4..(4 + 2) * 4 + 4].copy_from_slice(&[255, 0, 0, 128]);
        let image = Image::from_rgba8(4, 4, pixels).unwrap();
        let part = image.crop(2, 1, 2, 2).unwrap();
        assert_eq!((part.width(), part.height()), (2, 2));
        let back = part.to_rgba8();
        assert_eq!(&back[..4], &[255, 0, 0, 128]);
        assert!(!part.is_filled_with([0, 0, 0, 0]));
        assert!(image.crop(0, 2, 4, 2).unwrap().is_filled_with([0, 0, 0, 0]));
        assert!(image.crop(3, 3, 2, 1).is_err());
        let white = Image::new(3, 3, [255, 255, 255, 255]).unwrap();
        assert!(white.is_filled_with([255, 255, 255, 255]));
        assert!(!white.is_filled_with([255, 255, 254, 255]));
        let veil = Image::new(2, 2, [10, 20, 30, 100]).unwrap();
        assert!(veil.is_filled_with([10, 20, 30, 100]));
    }

    #[test]
    fn scale_is_dpi_aware() {
        // 10 m per pixel at 0.28 mm: 1:35 714.
        let standard = request(256, STANDARD_DPI);
        assert!((standard.scale_denominator() - 10.0 / 0.000_28).abs() < 1e-6);
        // Twice the pixels at twice the DPI: the same scale, symbols twice as large.
        let hidpi = request(512, STANDARD_DPI * 2.0);
        assert!((hidpi.scale_denominator() - standard.scale_denominator()).abs() < 1e-6);
        assert!((hidpi.symbol_scale() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn images_compose_source_over_and_flatten_over_white() {
        let mut blue = Image::new(2, 1, [0, 0, 255, 255]).unwrap();
        let red = Image::from_rgba8(2, 1, vec![255, 0, 0, 128, 0, 0, 0, 0]).unwrap();
        blue.draw_over(&red);
        let px = blue.to_rgba8();
        assert!(
            px[0].abs_diff(128) <= 1 && px[2].abs_diff(127) <= 1 && px[3] == 255,
            "{px:?}"
        );
        assert_eq!(&px[4..8], &[0, 0, 255, 255]);
        assert!(blue.is_opaque());
        let half = Image::from_rgba8(1, 1, vec![0, 0, 0, 128]).unwrap();
        assert!(!half.is_opaque());
        assert!(half.to_rgb8()[0].abs_diff(127) <= 1);
    }

    #[test]
    fn rgba_round_trips_through_premultiplication() {
        let pixels = vec![
            255, 0, 0, 255, 0, 255, 0, 128, 10, 20, 30, 0, 200, 100, 50, 255,
        ];
        let image = Image::from_rgba8(2, 2, pixels.clone()).unwrap();
        let back = image.to_rgba8();
        assert_eq!(&back[0..4], &pixels[0..4]);
        assert!(back[5].abs_diff(255) <= 2 && back[7] == 128);
        assert_eq!(back[11], 0);
        assert!(Image::from_rgba8(2, 2, vec![0; 3]).is_err());
    }

    struct Square(Geometry<f64>);

    impl RenderFeature for Square {
        fn geometry(&self) -> &Geometry<f64> {
            &self.0
        }
        fn attribute(&self, _: &str) -> Option<sld::Value> {
            None
        }
        fn id(&self) -> i64 {
            0
        }
    }

    #[test]
    fn a_render_asked_to_stop_stops_between_features() {
        let text = r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld"><NamedLayer><Name>t</Name><UserStyle><FeatureTypeStyle><Rule><PolygonSymbolizer><Fill><CssParameter name="fill">#FF0000</CssParameter></Fill></PolygonSymbolizer></Rule></FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>"#;
        let style = sld::parse(text).unwrap().default_style().unwrap().clone();
        let square = geo_types::Rect::new(
            geo_types::Coord { x: 0.0, y: 0.0 },
            geo_types::Coord {
                x: 2560.0,
                y: 2560.0,
            },
        );
        let features: Vec<Square> = (0..3 * FEATURES_BETWEEN_STOPS)
            .map(|_| Square(Geometry::Polygon(square.to_polygon())))
            .collect();
        let layers = [RenderLayer {
            features: &features,
            style: &style,
        }];
        let renderer = Renderer::new(RendererOptions::default()).unwrap();
        let request = request(8, STANDARD_DPI);
        let asked = std::cell::Cell::new(0);
        let stop_at_second = || {
            asked.set(asked.get() + 1);
            asked.get() >= 2
        };
        let mut image = Image::new(8, 8, [255, 255, 255, 255]).unwrap();
        assert!(!renderer.render_onto_until(&mut image, &request, &layers, &stop_at_second));
        assert_eq!(asked.get(), 2, "asked before the layer, then after a batch");
        let mut image = Image::new(8, 8, [255, 255, 255, 255]).unwrap();
        assert!(renderer.render_onto_until(&mut image, &request, &layers, &|| false));
        assert_eq!(&image.to_rgba8()[..4], &[255, 0, 0, 255]);
    }
}
