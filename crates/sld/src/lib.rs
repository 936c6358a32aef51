//! Styled Layer Descriptor styles for Tuilerie: SLD 1.0.0 and SLD 1.1.0 / SE 1.1 into one typed
//! model, Filter Encoding, and a validation that explains every problem.
//!
//! Producers bring styles from QGIS (SLD 1.1.0 with `se:` elements), from GeoServer (SLD 1.0.0,
//! often with vendor options) and by hand, and a WMS layer cannot be published without one.
//! Platforms that answer "invalid style" with no line and no reason, refuse SLD 1.1.0, or let a
//! filter silently match nothing, leave producers guessing. So this crate accepts every
//! reasonable SLD and, for every unreasonable one, says where (line:column), what, and how to
//! fix it. It is pure: no I/O, no rendering (the `render` crate draws what it produces).
//!
//! Three layers, each usable alone:
//! - [`parse`] reads the document (namespace-aware, streaming, DTDs refused, bounded by
//!   [`Limits`]) into an [`Sld`]; it fails only when the text is not a well-formed, safe XML
//!   `StyledLayerDescriptor` ([`SldError`], always with a position).
//! - [`Sld::validate`] returns *every* [`Problem`] of the model; [`Sld::check_layer`] and
//!   [`Sld::check_attributes`] add the publication checks (the `NamedLayer` is the layer, every
//!   property exists). [`check`] does all of it from text.
//! - Evaluation: [`Filter::matches`], [`Rule::applies_at`], [`UserStyle::rules_for`] and
//!   [`Expression::evaluate`] over any feature implementing the small [`Attributes`] trait.
//!
//! ```
//! use std::collections::HashMap;
//! use sld::{parse, Value};
//!
//! let sld = parse(r##"<StyledLayerDescriptor version="1.0.0"
//!     xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc">
//!   <NamedLayer><Name>roads</Name><UserStyle><FeatureTypeStyle>
//!     <Rule><ogc:Filter><ogc:PropertyIsGreaterThan>
//!         <ogc:PropertyName>lanes</ogc:PropertyName><ogc:Literal>2</ogc:Literal>
//!       </ogc:PropertyIsGreaterThan></ogc:Filter>
//!       <LineSymbolizer><Stroke><CssParameter name="stroke">#ff0000</CssParameter></Stroke></LineSymbolizer>
//!     </Rule>
//!     <Rule><ElseFilter/><LineSymbolizer/></Rule>
//!   </FeatureTypeStyle></UserStyle></NamedLayer>
//! </StyledLayerDescriptor>"##)?;
//! assert!(sld.validate().is_empty());
//! assert!(sld.check_layer("roads").is_empty());
//! let problems = sld.check_attributes(&["name", "lanes_count"]);
//! assert_eq!(problems[0].line, 5); // the <ogc:PropertyName>lanes</ogc:PropertyName>
//!
//! let style = sld.default_style().expect("one style");
//! let motorway = HashMap::from([("lanes".to_owned(), Value::Number(4.0))]);
//! let rules = style.rules_for(&motorway, 25_000.0);
//! assert_eq!(rules.len(), 1);
//! assert!(rules[0].filter.is_some());
//! # Ok::<(), sld::SldError>(())
//! ```
#![forbid(unsafe_code)]

mod build;
mod eval;
mod expr;
mod filter;
mod model;
mod suggest;
mod validate;
mod value;
mod xml;

use std::fmt;

pub use crate::expr::{known_function, ArithmeticOp, Expression, FUNCTIONS};
pub use crate::filter::{CompareOp, Filter, GmlGeometry, LikePattern, SpatialOp};
pub use crate::model::{
    ChannelSelection, ColorMap, ColorMapEntry, ColorMapKind, Common, ContrastEnhancement,
    ContrastMethod, ExternalGraphic, FeatureTypeStyle, Fill, Font, Graphic, GraphicSource,
    GraphicSymbol, Halo, LabelPlacement, LineSymbolizer, Mark, NamedLayer, Point2, PointSymbolizer,
    PolygonSymbolizer, RasterSymbolizer, Rule, SelectedChannel, Sld, Stroke, Symbolizer, Text,
    TextSymbolizer, UserStyle, VendorOption, Version,
};
pub use crate::suggest::did_you_mean;
pub use crate::validate::WELL_KNOWN_NAMES;
pub use crate::value::{Color, Uom, Value};
pub use crate::xml::entity_text;

/// A position in the document: 1-based line and column (columns count characters).
/// `0:0` means "unknown" (a value built in code).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Pos {
    /// A position.
    pub const fn new(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl fmt::Debug for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Bounds on what [`parse_with`] reads, so that hostile input finishes fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes (default 8 MiB).
    pub max_bytes: usize,
    /// Deepest element nesting (default 64; real styles stay under 20).
    pub max_depth: usize,
    /// Most elements (default 200 000).
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 8 * 1024 * 1024,
            max_depth: 64,
            max_elements: 200_000,
        }
    }
}

/// Why a document could not be read at all. Every variant with a position says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SldError {
    /// Not well-formed XML.
    #[error("{pos}: malformed XML: {message}")]
    Xml {
        /// Where the reader stopped.
        pos: Pos,
        /// What the reader said.
        message: String,
    },
    /// A `<!DOCTYPE …>`: refused, never resolved.
    #[error(
        "{pos}: a DOCTYPE declaration is not allowed in a style (DTDs and external entities \
         are refused for safety)"
    )]
    Doctype {
        /// Where it starts.
        pos: Pos,
    },
    /// An entity reference other than the five predefined ones.
    #[error(
        "{pos}: entity '&{name};' is not defined: only &lt; &gt; &amp; &apos; &quot; and \
         character references (&#233;) are allowed"
    )]
    Entity {
        /// Where it starts.
        pos: Pos,
        /// The entity's name.
        name: String,
    },
    /// Larger than [`Limits::max_bytes`].
    #[error("the style is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`Limits::max_depth`].
    #[error("{pos}: elements are nested more than {limit} deep")]
    TooDeep {
        /// The element that went too deep.
        pos: Pos,
        /// The limit.
        limit: usize,
    },
    /// More elements than [`Limits::max_elements`].
    #[error("{pos}: more than {limit} elements")]
    TooManyElements {
        /// The first element over the limit.
        pos: Pos,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8 text.
    #[error(
        "byte {offset} is not UTF-8 (line {line}): save the style as UTF-8 (QGIS and \
         GeoServer do)"
    )]
    Encoding {
        /// Offset of the first invalid byte.
        offset: usize,
        /// Its 1-based line.
        line: u32,
    },
    /// No element at all.
    #[error("the document is empty: a style starts with <StyledLayerDescriptor>")]
    Empty,
    /// A root element other than `StyledLayerDescriptor`.
    #[error(
        "{pos}: the root element is <{found}>, not <StyledLayerDescriptor> in namespace \
         http://www.opengis.net/sld"
    )]
    NotSld {
        /// Where the root starts.
        pos: Pos,
        /// What it is.
        found: String,
    },
    /// A standalone filter ([`parse_filter`]) with a problem.
    #[error("{0}")]
    Invalid(Problem),
}

impl SldError {
    /// Where the error is, when it has a place.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            SldError::Xml { pos, .. }
            | SldError::Doctype { pos }
            | SldError::Entity { pos, .. }
            | SldError::TooDeep { pos, .. }
            | SldError::TooManyElements { pos, .. }
            | SldError::NotSld { pos, .. } => Some(*pos),
            SldError::Encoding { line, .. } => Some(Pos::new(*line, 1)),
            SldError::Invalid(problem) => Some(Pos::new(problem.line, problem.column)),
            SldError::TooLarge { .. } | SldError::Empty => None,
        }
    }

    /// The error as a [`Problem`] (for reports that list everything the same way).
    pub fn to_problem(&self) -> Problem {
        if let SldError::Invalid(problem) = self {
            return problem.clone();
        }
        let pos = self.pos().unwrap_or_default();
        let text = self.to_string();
        let prefix = format!("{pos}: ");
        let message = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
        let hint = match self {
            SldError::Xml { .. } => Some(
                "fix the XML at that position (an unclosed or misspelled tag, a stray '&' \
                 written instead of &amp;…)"
                    .to_owned(),
            ),
            SldError::TooLarge { .. }
            | SldError::TooDeep { .. }
            | SldError::TooManyElements { .. } => Some("split the style or simplify it".to_owned()),
            SldError::Doctype { .. } => Some(
                "delete the <!DOCTYPE …> declaration; write special characters as themselves \
                 (the file is UTF-8) or as &#NNN;"
                    .to_owned(),
            ),
            SldError::Entity { name, .. } => Some(format!(
                "replace &{name}; by the character itself (the file is UTF-8) or by a \
                 character reference such as &#160;"
            )),
            SldError::Encoding { .. } => {
                Some("re-save the file as UTF-8 (QGIS and GeoServer do)".to_owned())
            }
            SldError::Invalid(problem) => problem.hint.clone(),
            SldError::Empty | SldError::NotSld { .. } => Some(
                "a style starts with <StyledLayerDescriptor version=\"1.0.0\" \
                 xmlns=\"http://www.opengis.net/sld\">"
                    .to_owned(),
            ),
        };
        Problem {
            line: pos.line,
            column: pos.column,
            severity: Severity::Error,
            message,
            hint,
        }
    }
}

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The style cannot be used as written.
    Error,
    /// The style works, but probably not as meant (an ignored element, a name matched only
    /// after normalisation).
    Warning,
}

/// One problem of a style: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line (0: the whole document).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Problem {
    pub(crate) fn error(pos: Pos, message: impl Into<String>, hint: Option<String>) -> Problem {
        Problem {
            line: pos.line,
            column: pos.column,
            severity: Severity::Error,
            message: message.into(),
            hint,
        }
    }

    pub(crate) fn warning(pos: Pos, message: impl Into<String>, hint: Option<String>) -> Problem {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(pos, message, hint)
        }
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    /// `line:column: message` (with `warning: ` before warnings), then the hint on its own
    /// indented line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// What a feature offers to filters and expressions. One required method.
///
/// ```
/// use sld::{Attributes, Value};
/// struct Road { lanes: i64 }
/// impl Attributes for Road {
///     fn attribute(&self, name: &str) -> Option<Value> {
///         (name == "lanes").then(|| Value::from(self.lanes))
///     }
/// }
/// assert_eq!(Road { lanes: 2 }.attribute("lanes"), Some(Value::Number(2.0)));
/// ```
pub trait Attributes {
    /// The value of an attribute; `None` when the feature has no such attribute.
    fn attribute(&self, name: &str) -> Option<Value>;

    /// The feature's identifier, for `FeatureId` / `ResourceId` filters (none by default:
    /// such filters then match nothing).
    fn id(&self) -> Option<&str> {
        None
    }

    /// The feature's envelope `[min_x, min_y, max_x, max_y]`, for `BBOX` filters (none by
    /// default: such filters then match nothing).
    fn envelope(&self) -> Option<[f64; 4]> {
        None
    }

    /// Whether the feature's geometry stands in `op` to `geometry` (within `distance` for
    /// `DWithin` / `Beyond`), for spatial filters (false by default: they then match
    /// nothing).
    fn relate(&self, _op: SpatialOp, _geometry: &GmlGeometry, _distance: Option<f64>) -> bool {
        false
    }
}

impl<S: std::hash::BuildHasher> Attributes for std::collections::HashMap<String, Value, S> {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl Attributes for std::collections::BTreeMap<String, Value> {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl Attributes for [(&str, Value)] {
    fn attribute(&self, name: &str) -> Option<Value> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Reads a style with the default [`Limits`].
pub fn parse(text: &str) -> Result<Sld, SldError> {
    parse_with(text, &Limits::default())
}

/// Reads a style from bytes: UTF-8 (a byte-order mark is skipped), else [`SldError::Encoding`].
pub fn parse_bytes(bytes: &[u8]) -> Result<Sld, SldError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.len() > Limits::default().max_bytes {
        return Err(SldError::TooLarge {
            size: bytes.len(),
            limit: Limits::default().max_bytes,
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(error) => {
            let offset = error.valid_up_to();
            let line = String::from_utf8_lossy(&bytes[..offset])
                .lines()
                .count()
                .max(1) as u32;
            Err(SldError::Encoding { offset, line })
        }
    }
}

/// Reads a standalone filter, as WFS `FILTER=` sends it: a `<Filter>` of Filter Encoding 1.1
/// (`ogc:`) or FES 2.0 (`fes:`), with the spatial operators styles do not allow. The same
/// hardened reader as styles (no DOCTYPE, bounded size and depth); any problem is an error
/// naming its line and the fix.
pub fn parse_filter(text: &str) -> Result<Filter, SldError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = xml::read(text, &Limits::default())?;
    build::build_filter(&root)
}

/// Reads a style within `limits`.
pub fn parse_with(text: &str, limits: &Limits) -> Result<Sld, SldError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = xml::read(text, limits)?;
    build::build(&root)
}

/// Parses and validates a style from text, with the publication checks when given: the
/// `NamedLayer` must be `layer`, every property must be one of `attributes`. Returns every
/// problem, errors and warnings, in document order (a document that cannot be read gives one).
pub fn check(text: &str, layer: Option<&str>, attributes: Option<&[&str]>) -> Vec<Problem> {
    match parse(text) {
        Ok(sld) => {
            let mut problems = sld.validate();
            if let Some(layer) = layer {
                problems.extend(sld.check_layer(layer));
            }
            if let Some(attributes) = attributes {
                problems.extend(sld.check_attributes(attributes));
            }
            sort_problems(&mut problems);
            problems
        }
        Err(error) => vec![error.to_problem()],
    }
}

pub(crate) fn sort_problems(problems: &mut Vec<Problem>) {
    problems.sort_by_key(|p| (p.line, p.column));
    problems.dedup();
}
