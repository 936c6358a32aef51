//! The typed style model: one shape for SLD 1.0.0 and SLD 1.1.0 / SE 1.1.
//!
//! Names follow Symbology Encoding 1.1 (which SLD 1.1.0 uses and which subsumes SLD 1.0.0's
//! symbolizers); SLD 1.0.0's `CssParameter` and SE's `SvgParameter` both land in the same typed
//! fields. Parameter values stay [`Expression`]s — SE allows a property or a function wherever a
//! value goes — and keep their position, so that validation can say "stroke-width must be a
//! number, got 'thin'" at the right line, and the renderer can evaluate them per feature.

use std::fmt;

use crate::expr::Expression;
use crate::filter::Filter;
use crate::value::Uom;
use crate::{Pos, Problem};

/// The SLD version a document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Version {
    /// SLD 1.0.0 (`CssParameter`, GeoServer's usual form).
    V1_0_0,
    /// SLD 1.1.0 with Symbology Encoding 1.1 (`se:` elements, `SvgParameter`, QGIS's export).
    V1_1_0,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1_0_0 => "1.0.0",
            Version::V1_1_0 => "1.1.0",
        })
    }
}

/// A parsed `StyledLayerDescriptor` document.
#[derive(Debug, Clone, PartialEq)]
pub struct Sld {
    /// The declared version (`None` when the attribute is missing or unsupported; validation
    /// reports it).
    pub version: Option<Version>,
    /// The document's `Name`, if any.
    pub name: Option<String>,
    /// The `NamedLayer`s, in document order.
    pub layers: Vec<NamedLayer>,
    /// Where the root element starts.
    pub pos: Pos,
    /// Problems found while building the model (unknown elements, malformed numbers…);
    /// [`Sld::validate`] returns them with the rest.
    pub(crate) issues: Vec<Problem>,
}

/// A `NamedLayer`: styles for one published layer.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedLayer {
    /// The layer name the style is written for.
    pub name: Option<Text>,
    /// Its `UserStyle`s.
    pub styles: Vec<UserStyle>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A string with the position it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The trimmed text.
    pub value: String,
    /// Where its element starts.
    pub pos: Pos,
}

/// A `UserStyle`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserStyle {
    /// `Name`.
    pub name: Option<String>,
    /// `Title` (SLD 1.0.0) or `Description/Title` (SE 1.1).
    pub title: Option<String>,
    /// `Abstract`.
    pub abstract_: Option<String>,
    /// `IsDefault` (`1` or `true`).
    pub is_default: bool,
    /// The feature type styles, drawn in order (each one over the previous).
    pub feature_type_styles: Vec<FeatureTypeStyle>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `FeatureTypeStyle` (or SE `CoverageStyle`): an ordered list of rules.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTypeStyle {
    /// `Name`.
    pub name: Option<String>,
    /// `FeatureTypeName`, if given.
    pub feature_type_name: Option<String>,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// GeoServer vendor options (`composite`, `sortBy`…).
    pub vendor_options: Vec<VendorOption>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `Rule`: which features (filter, scale range) get which symbolizers.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `Name`.
    pub name: Option<String>,
    /// `Title` (or SE `Description/Title`).
    pub title: Option<String>,
    /// `Abstract`.
    pub abstract_: Option<String>,
    /// The filter; `None` means every feature.
    pub filter: Option<Filter>,
    /// `ElseFilter`: the rule applies to features no other rule of its feature type style took.
    pub else_filter: bool,
    /// `MinScaleDenominator` (inclusive).
    pub min_scale: Option<f64>,
    /// `MaxScaleDenominator` (exclusive).
    pub max_scale: Option<f64>,
    /// The symbolizers, drawn in order.
    pub symbolizers: Vec<Symbolizer>,
    /// Where the element starts.
    pub pos: Pos,
}

/// One of the five symbolizers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // few per style; boxing would only add noise
pub enum Symbolizer {
    /// `PointSymbolizer`.
    Point(PointSymbolizer),
    /// `LineSymbolizer`.
    Line(LineSymbolizer),
    /// `PolygonSymbolizer`.
    Polygon(PolygonSymbolizer),
    /// `TextSymbolizer`.
    Text(TextSymbolizer),
    /// `RasterSymbolizer`.
    Raster(RasterSymbolizer),
}

impl Symbolizer {
    /// The parts every symbolizer has.
    pub fn common(&self) -> &Common {
        match self {
            Symbolizer::Point(s) => &s.common,
            Symbolizer::Line(s) => &s.common,
            Symbolizer::Polygon(s) => &s.common,
            Symbolizer::Text(s) => &s.common,
            Symbolizer::Raster(s) => &s.common,
        }
    }
}

/// What every symbolizer has.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    /// SE `Name`.
    pub name: Option<String>,
    /// `Geometry` (a property name or a function of one).
    pub geometry: Option<Expression>,
    /// The `uom` attribute: the unit of sizes and widths (pixels by default).
    pub uom: Uom,
    /// GeoServer `VendorOption`s.
    pub vendor_options: Vec<VendorOption>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A GeoServer `VendorOption name="…"`.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorOption {
    /// The option's name (`group`, `maxDisplacement`…).
    pub name: String,
    /// Its value as written.
    pub value: String,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `Fill`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fill {
    /// `fill`: the colour.
    pub color: Option<Expression>,
    /// `fill-opacity`.
    pub opacity: Option<Expression>,
    /// `GraphicFill`: a graphic repeated over the area.
    pub graphic_fill: Option<Box<Graphic>>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `Stroke`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stroke {
    /// `stroke`: the colour.
    pub color: Option<Expression>,
    /// `stroke-width`.
    pub width: Option<Expression>,
    /// `stroke-opacity`.
    pub opacity: Option<Expression>,
    /// `stroke-linejoin` (`mitre`, `round`, `bevel`).
    pub line_join: Option<Expression>,
    /// `stroke-linecap` (`butt`, `round`, `square`).
    pub line_cap: Option<Expression>,
    /// `stroke-dasharray`: lengths separated by spaces.
    pub dash_array: Option<Expression>,
    /// `stroke-dashoffset`.
    pub dash_offset: Option<Expression>,
    /// `GraphicStroke`: a graphic repeated along the line.
    pub graphic_stroke: Option<Box<Graphic>>,
    /// `GraphicFill`: a graphic filling the stroke's area.
    pub graphic_fill: Option<Box<Graphic>>,
    /// Where the element starts.
    pub pos: Pos,
}

/// An `(x, y)` pair of expressions: `AnchorPoint` or `Displacement`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point2 {
    /// `AnchorPointX` / `DisplacementX`.
    pub x: Expression,
    /// `AnchorPointY` / `DisplacementY`.
    pub y: Expression,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `Graphic`: marks and external graphics (the first one the renderer can draw wins).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graphic {
    /// `Mark`s and `ExternalGraphic`s, in order.
    pub symbols: Vec<GraphicSymbol>,
    /// `Opacity`.
    pub opacity: Option<Expression>,
    /// `Size`: the height in `uom` units.
    pub size: Option<Expression>,
    /// `Rotation` in degrees, clockwise.
    pub rotation: Option<Expression>,
    /// `AnchorPoint` (fractions of the graphic, 0.5 0.5 = centre).
    pub anchor_point: Option<Point2>,
    /// `Displacement` in `uom` units.
    pub displacement: Option<Point2>,
    /// Where the element starts.
    pub pos: Pos,
}

/// One choice inside a [`Graphic`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // few per style; boxing would only add noise
pub enum GraphicSymbol {
    /// A `Mark`.
    Mark(Mark),
    /// An `ExternalGraphic`.
    External(ExternalGraphic),
}

/// A `Mark`: a well-known shape filled and stroked.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// `WellKnownName` (`square` when absent, as the standards say).
    pub well_known_name: Option<Text>,
    /// `Fill`.
    pub fill: Option<Fill>,
    /// `Stroke`.
    pub stroke: Option<Stroke>,
    /// Where the element starts.
    pub pos: Pos,
}

/// An `ExternalGraphic`: a PNG or SVG file next to the style, or inline content.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalGraphic {
    /// Where the image comes from.
    pub source: GraphicSource,
    /// `Format` (MIME type: `image/png`, `image/svg+xml`).
    pub format: Option<Text>,
    /// Where the element starts.
    pub pos: Pos,
}

/// The source of an [`ExternalGraphic`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphicSource {
    /// `OnlineResource xlink:href="…"`.
    Href(String),
    /// SE `InlineContent encoding="base64|xml"`.
    Inline {
        /// `base64` or `xml`.
        encoding: String,
        /// The content, as written (base64 text or the SVG markup's text).
        content: String,
    },
    /// Neither was given.
    Missing,
}

/// A `PointSymbolizer`.
#[derive(Debug, Clone, PartialEq)]
pub struct PointSymbolizer {
    /// Name, geometry, uom, vendor options.
    pub common: Common,
    /// `Graphic`.
    pub graphic: Option<Graphic>,
}

/// A `LineSymbolizer`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSymbolizer {
    /// Name, geometry, uom, vendor options.
    pub common: Common,
    /// `Stroke`.
    pub stroke: Option<Stroke>,
    /// `PerpendicularOffset` (positive = left of the line's direction).
    pub perpendicular_offset: Option<Expression>,
}

/// A `PolygonSymbolizer`.
#[derive(Debug, Clone, PartialEq)]
pub struct PolygonSymbolizer {
    /// Name, geometry, uom, vendor options.
    pub common: Common,
    /// `Fill`.
    pub fill: Option<Fill>,
    /// `Stroke` (the outline).
    pub stroke: Option<Stroke>,
    /// `Displacement`.
    pub displacement: Option<Point2>,
    /// `PerpendicularOffset`.
    pub perpendicular_offset: Option<Expression>,
}

/// A `Font`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Font {
    /// `font-family` (several are allowed: the first available wins).
    pub family: Vec<Expression>,
    /// `font-style` (`normal`, `italic`, `oblique`).
    pub style: Option<Expression>,
    /// `font-weight` (`normal`, `bold`).
    pub weight: Option<Expression>,
    /// `font-size` in `uom` units.
    pub size: Option<Expression>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `LabelPlacement`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // few per style; boxing would only add noise
pub enum LabelPlacement {
    /// `PointPlacement`.
    Point {
        /// `AnchorPoint`.
        anchor_point: Option<Point2>,
        /// `Displacement`.
        displacement: Option<Point2>,
        /// `Rotation`.
        rotation: Option<Expression>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `LinePlacement`.
    Line {
        /// `PerpendicularOffset`.
        perpendicular_offset: Option<Expression>,
        /// SE `IsRepeated`.
        repeated: bool,
        /// SE `IsAligned` (default true).
        aligned: bool,
        /// Where the element starts.
        pos: Pos,
    },
}

/// A `Halo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Halo {
    /// `Radius` (1 when absent).
    pub radius: Option<Expression>,
    /// `Fill` (white when absent).
    pub fill: Option<Fill>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `TextSymbolizer`.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSymbolizer {
    /// Name, geometry, uom, vendor options (`group`, `maxDisplacement`, `followLine`,
    /// `repeat`, `spaceAround`, `autoWrap`…).
    pub common: Common,
    /// `Label`: literals, properties and functions, mixed content concatenated.
    pub label: Option<Expression>,
    /// `Font`.
    pub font: Option<Font>,
    /// `LabelPlacement`.
    pub placement: Option<LabelPlacement>,
    /// `Halo`.
    pub halo: Option<Halo>,
    /// `Fill` of the glyphs (black when absent).
    pub fill: Option<Fill>,
    /// GeoServer `Priority`.
    pub priority: Option<Expression>,
}

/// A `RasterSymbolizer`.
#[derive(Debug, Clone, PartialEq)]
pub struct RasterSymbolizer {
    /// Name, geometry, uom, vendor options.
    pub common: Common,
    /// `Opacity`.
    pub opacity: Option<Expression>,
    /// `ChannelSelection`.
    pub channel_selection: Option<ChannelSelection>,
    /// `ColorMap`.
    pub color_map: Option<ColorMap>,
    /// `ContrastEnhancement` of the whole image.
    pub contrast_enhancement: Option<ContrastEnhancement>,
}

/// A `ChannelSelection`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChannelSelection {
    /// `RedChannel`, `GreenChannel`, `BlueChannel`.
    Rgb {
        /// Red.
        red: SelectedChannel,
        /// Green.
        green: SelectedChannel,
        /// Blue.
        blue: SelectedChannel,
    },
    /// `GrayChannel`.
    Gray(SelectedChannel),
}

/// One selected channel.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedChannel {
    /// `SourceChannelName` (a 1-based band number as text, usually).
    pub name: String,
    /// Its own `ContrastEnhancement`.
    pub contrast_enhancement: Option<ContrastEnhancement>,
    /// Where the element starts.
    pub pos: Pos,
}

/// A `ContrastEnhancement`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastEnhancement {
    /// `Normalize` or `Histogram` (or none: gamma only).
    pub method: Option<ContrastMethod>,
    /// `GammaValue`.
    pub gamma: Option<f64>,
    /// Where the element starts.
    pub pos: Pos,
}

/// How contrast is enhanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContrastMethod {
    /// Stretch to the full range.
    Normalize,
    /// Equalise the histogram.
    Histogram,
}

/// A `ColorMap`, from SLD 1.0.0 entries or SE 1.1 `Categorize` / `Interpolate` (both become
/// entries: `Interpolate` is a ramp, `Categorize` intervals).
#[derive(Debug, Clone, PartialEq)]
pub struct ColorMap {
    /// How values between entries are coloured.
    pub kind: ColorMapKind,
    /// The entries, in document order.
    pub entries: Vec<ColorMapEntry>,
    /// GeoServer `extended="true"` (more than 256 entries).
    pub extended: bool,
    /// Where the element starts.
    pub pos: Pos,
}

/// The `type` of a [`ColorMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColorMapKind {
    /// `ramp` (default): colours interpolated between entries.
    Ramp,
    /// `intervals`: each entry colours the values below its quantity (and above the previous).
    Intervals,
    /// `values`: exact values only.
    Values,
}

/// A `ColorMapEntry`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorMapEntry {
    /// `color` as written.
    pub color: String,
    /// `opacity` (1 when absent).
    pub opacity: Option<f64>,
    /// `quantity` (for SE `Categorize`, the threshold; `-inf` for the first value).
    pub quantity: f64,
    /// `label`.
    pub label: Option<String>,
    /// Where the element starts.
    pub pos: Pos,
}

impl Sld {
    /// Every `UserStyle` of every layer, in document order.
    pub fn styles(&self) -> impl Iterator<Item = &UserStyle> {
        self.layers.iter().flat_map(|layer| layer.styles.iter())
    }

    /// Every rule of every style, in document order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.styles()
            .flat_map(|style| style.feature_type_styles.iter())
            .flat_map(|fts| fts.rules.iter())
    }

    /// The style to draw with: the `IsDefault` one, else the first.
    pub fn default_style(&self) -> Option<&UserStyle> {
        self.styles()
            .find(|style| style.is_default)
            .or_else(|| self.styles().next())
    }
}
