//! Values: what expressions evaluate to, colours and units of measure.
//!
//! Attribute values come from GeoPackages typed (numbers, text) while literals in a style are
//! always text, so comparisons must coerce the way GeoServer does or filters that work there
//! "suddenly break" here: see [`Value::compare`].

use std::cmp::Ordering;
use std::fmt;

/// A value: an attribute of a feature or the result of an expression.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// Missing or SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (integers included).
    Number(f64),
    /// Text.
    Text(String),
}

impl Value {
    /// The value as a number: numbers, text that reads as one (`" 12.5 "`), booleans as 0/1.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Null => None,
        }
    }

    /// The value as text: numbers without a trailing `.0` (`3`, `2.5`), `true`/`false`.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(format_number(*n)),
            Value::Text(text) => Some(text.clone()),
        }
    }

    /// The value as a boolean: booleans, `true`/`false`/`1`/`0` text, non-zero numbers.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => Some(*n != 0.0),
            Value::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            },
            Value::Null => None,
        }
    }

    /// Whether the value is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Compares two values as GeoServer does: when either side is a number (or a boolean) and
    /// the other reads as one, as numbers; two texts that both read as numbers, as numbers
    /// (`"9" < "10"`); otherwise as texts, case-insensitively when `match_case` is false.
    /// `None` when either side is `Null` (a comparison with NULL is never true).
    pub fn compare(&self, other: &Value, match_case: bool) -> Option<Ordering> {
        if self.is_null() || other.is_null() {
            return None;
        }
        if let (Value::Bool(a), Value::Bool(b)) = (self, other) {
            return Some(a.cmp(b));
        }
        if let (Value::Bool(a), other) | (other, Value::Bool(a)) = (self, other) {
            let b = other.as_bool()?;
            let ordering = a.cmp(&b);
            return Some(if matches!(self, Value::Bool(_)) {
                ordering
            } else {
                ordering.reverse()
            });
        }
        if let (Some(a), Some(b)) = (self.as_number(), other.as_number()) {
            return a.partial_cmp(&b);
        }
        let (a, b) = (self.as_text()?, other.as_text()?);
        Some(if match_case {
            a.cmp(&b)
        } else {
            a.to_lowercase().cmp(&b.to_lowercase())
        })
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_text() {
            Some(text) => f.write_str(&text),
            None => f.write_str("NULL"),
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// Writes a number without a useless fraction: `3`, `2.5`, `-0.125`.
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// An sRGB colour with alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Alpha (255 = opaque).
    pub a: u8,
}

impl Color {
    /// Reads `#RRGGBB`, `#RGB` and `#AARRGGBB` (8 digits are alpha first: Qt's `HexArgb`, the
    /// order QGIS writes; GeoServer reads them the same way). Case-insensitive; `0x` works
    /// for `#`, as GeoServer allows. `None` for anything else (named colours are not SLD).
    pub fn parse(text: &str) -> Option<Color> {
        let text = text.trim();
        let hex = text
            .strip_prefix('#')
            .or_else(|| text.strip_prefix("0x"))
            .or_else(|| text.strip_prefix("0X"))?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        let nibble = |i: usize| u8::from_str_radix(hex.get(i..=i)?, 16).ok().map(|n| n * 17);
        match hex.len() {
            6 => Some(Color {
                r: byte(0)?,
                g: byte(2)?,
                b: byte(4)?,
                a: 255,
            }),
            3 => Some(Color {
                r: nibble(0)?,
                g: nibble(1)?,
                b: nibble(2)?,
                a: 255,
            }),
            8 => Some(Color {
                a: byte(0)?,
                r: byte(2)?,
                g: byte(4)?,
                b: byte(6)?,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.a == 255 {
            write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
        } else {
            write!(
                f,
                "#{:02x}{:02x}{:02x}{:02x}",
                self.a, self.r, self.g, self.b
            )
        }
    }
}

/// Unit of measure of a symbolizer's sizes (`uom` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Uom {
    /// Pixels (the default).
    #[default]
    Pixel,
    /// Metres on the ground.
    Metre,
    /// Feet on the ground.
    Foot,
}

impl Uom {
    /// Reads the SE URIs (`http://www.opengeospatial.org/se/units/metre`, `…/foot`,
    /// `…/pixel`; GeoServer's `meter` spelling too).
    pub fn parse(text: &str) -> Option<Uom> {
        let unit = text
            .trim()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match unit.as_str() {
            "pixel" | "px" => Some(Uom::Pixel),
            "metre" | "meter" | "m" => Some(Uom::Metre),
            "foot" | "ft" => Some(Uom::Foot),
            _ => None,
        }
    }

    /// Pixels per unit at a scale denominator, with the 0.28 mm standard pixel.
    pub fn pixels_per_unit(self, scale_denominator: f64) -> f64 {
        match self {
            Uom::Pixel => 1.0,
            Uom::Metre => 1.0 / (scale_denominator * 0.000_28),
            Uom::Foot => 0.3048 / (scale_denominator * 0.000_28),
        }
    }
}
