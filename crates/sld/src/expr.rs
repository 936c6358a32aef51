//! Expressions: literals, property names, arithmetic and functions, evaluated per feature.
//!
//! A style's values can be computed from the feature (`<ogc:PropertyName>`, `<ogc:Function
//! name="Categorize">`, SE's `<se:Interpolate>`…). Only the functions real styles use are
//! known ([`FUNCTIONS`]); validation names any other one instead of letting it draw nothing.

use std::fmt;

use crate::value::{Color, Value};
use crate::{Attributes, Pos};

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArithmeticOp {
    /// `Add`.
    Add,
    /// `Sub`.
    Sub,
    /// `Mul`.
    Mul,
    /// `Div`.
    Div,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Expression {
    /// A `Literal` (or plain text).
    Literal {
        /// The text as written (trimmed).
        value: String,
        /// Where it starts.
        pos: Pos,
    },
    /// A `PropertyName` (FES 2.0 `ValueReference`).
    Property {
        /// The attribute name (a namespace prefix such as `topp:` is dropped).
        name: String,
        /// Where it starts.
        pos: Pos,
    },
    /// `Add`, `Sub`, `Mul`, `Div`.
    Arithmetic {
        /// The operator.
        op: ArithmeticOp,
        /// Left operand.
        left: Box<Expression>,
        /// Right operand.
        right: Box<Expression>,
        /// Where it starts.
        pos: Pos,
    },
    /// `Function name="…"` or an SE function element (`Categorize`, `Interpolate`, `Recode`,
    /// `Concatenate`, `FormatNumber`, `ChangeCase`, `Trim`, `StringLength`, `Substring`).
    Function {
        /// The function name as GeoServer spells it.
        name: String,
        /// The arguments.
        args: Vec<Expression>,
        /// Where it starts.
        pos: Pos,
    },
    /// Mixed content (`<Label>km <PropertyName>pk</PropertyName></Label>`): the parts
    /// concatenated as text.
    Concat {
        /// The parts.
        parts: Vec<Expression>,
        /// Where it starts.
        pos: Pos,
    },
}

/// The functions this crate evaluates, with the number of arguments they take (`None` =
/// variadic). Names compare case-insensitively.
pub const FUNCTIONS: &[(&str, Option<usize>)] = &[
    ("strConcat", None),
    ("Concatenate", None),
    ("strToUpperCase", Some(1)),
    ("strToLowerCase", Some(1)),
    ("strCapitalize", Some(1)),
    ("strTrim", Some(1)),
    ("strLength", Some(1)),
    ("strSubstring", Some(3)),
    ("strSubstringStart", Some(2)),
    ("strReplace", Some(4)),
    ("strStartsWith", Some(2)),
    ("strEndsWith", Some(2)),
    ("strIndexOf", Some(2)),
    ("strAbbreviate", Some(4)),
    ("if_then_else", Some(3)),
    ("equalTo", Some(2)),
    ("notEqualTo", Some(2)),
    ("greaterThan", Some(2)),
    ("greaterEqualThan", Some(2)),
    ("lessThan", Some(2)),
    ("lessEqualThan", Some(2)),
    ("not", Some(1)),
    ("and", Some(2)),
    ("or", Some(2)),
    ("isNull", Some(1)),
    ("in", None),
    ("Categorize", None),
    ("Interpolate", None),
    ("Recode", None),
    ("numberFormat", Some(2)),
    ("FormatNumber", Some(2)),
    ("abs", Some(1)),
    ("round", Some(1)),
    ("floor", Some(1)),
    ("ceil", Some(1)),
    ("sqrt", Some(1)),
    ("log", Some(1)),
    ("min", Some(2)),
    ("max", Some(2)),
    ("property", Some(1)),
    ("env", None),
    ("toDegrees", Some(1)),
    ("toRadians", Some(1)),
];

/// Whether `name` is one of [`FUNCTIONS`] (with the arity it takes).
pub fn known_function(name: &str) -> Option<Option<usize>> {
    let name = canonical_name(name);
    FUNCTIONS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, arity)| *arity)
}

/// GeoServer's `in2`…`in10` are `in` with a fixed arity.
fn canonical_name(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("in") && lower.len() > 2 && lower[2..].bytes().all(|b| b.is_ascii_digit())
    {
        "in"
    } else {
        name
    }
}

impl Expression {
    /// A literal at an unknown position (for building styles in code).
    pub fn literal(value: impl Into<String>) -> Expression {
        Expression::Literal {
            value: value.into(),
            pos: Pos::default(),
        }
    }

    /// A property name at an unknown position.
    pub fn property(name: impl Into<String>) -> Expression {
        Expression::Property {
            name: name.into(),
            pos: Pos::default(),
        }
    }

    /// Where the expression starts.
    pub fn pos(&self) -> Pos {
        match self {
            Expression::Literal { pos, .. }
            | Expression::Property { pos, .. }
            | Expression::Arithmetic { pos, .. }
            | Expression::Function { pos, .. }
            | Expression::Concat { pos, .. } => *pos,
        }
    }

    /// The text of a literal; `None` for anything computed.
    pub fn as_literal(&self) -> Option<&str> {
        match self {
            Expression::Literal { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Calls `visit` on this expression and every sub-expression.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Expression)) {
        visit(self);
        match self {
            Expression::Arithmetic { left, right, .. } => {
                left.walk(visit);
                right.walk(visit);
            }
            Expression::Function { args: parts, .. } | Expression::Concat { parts, .. } => {
                for part in parts {
                    part.walk(visit);
                }
            }
            Expression::Literal { .. } | Expression::Property { .. } => {}
        }
    }

    /// Evaluates the expression for a feature. Missing attributes and unknown functions give
    /// [`Value::Null`] (validation reports unknown functions before anything is drawn).
    pub fn evaluate(&self, feature: &dyn Attributes) -> Value {
        match self {
            Expression::Literal { value, .. } => Value::Text(value.clone()),
            Expression::Property { name, .. } => feature.attribute(name).unwrap_or(Value::Null),
            Expression::Arithmetic {
                op, left, right, ..
            } => {
                let (Some(a), Some(b)) = (
                    left.evaluate(feature).as_number(),
                    right.evaluate(feature).as_number(),
                ) else {
                    return Value::Null;
                };
                let n = match op {
                    ArithmeticOp::Add => a + b,
                    ArithmeticOp::Sub => a - b,
                    ArithmeticOp::Mul => a * b,
                    ArithmeticOp::Div => a / b,
                };
                if n.is_finite() {
                    Value::Number(n)
                } else {
                    Value::Null
                }
            }
            Expression::Concat { parts, .. } => {
                let mut text = String::new();
                for part in parts {
                    if let Some(t) = part.evaluate(feature).as_text() {
                        text.push_str(&t);
                    }
                }
                Value::Text(text)
            }
            Expression::Function { name, args, .. } => call(name, args, feature),
        }
    }

    /// Evaluates to a number, if it is one.
    pub fn evaluate_number(&self, feature: &dyn Attributes) -> Option<f64> {
        self.evaluate(feature).as_number()
    }

    /// Evaluates to a colour, if it is one.
    pub fn evaluate_color(&self, feature: &dyn Attributes) -> Option<Color> {
        Color::parse(&self.evaluate(feature).as_text()?)
    }
}

impl fmt::Display for Expression {
    /// A compact, CQL-like rendering for messages: `'a'`, `nom`, `(a + 1)`, `strToUpperCase(nom)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expression::Literal { value, .. } => write!(f, "'{value}'"),
            Expression::Property { name, .. } => f.write_str(name),
            Expression::Arithmetic {
                op, left, right, ..
            } => {
                let op = match op {
                    ArithmeticOp::Add => "+",
                    ArithmeticOp::Sub => "-",
                    ArithmeticOp::Mul => "*",
                    ArithmeticOp::Div => "/",
                };
                write!(f, "({left} {op} {right})")
            }
            Expression::Function { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            Expression::Concat { parts, .. } => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" || ")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        }
    }
}

fn text_of(value: &Value) -> String {
    value.as_text().unwrap_or_default()
}

fn call(name: &str, args: &[Expression], feature: &dyn Attributes) -> Value {
    let arg = |i: usize| args.get(i).map_or(Value::Null, |a| a.evaluate(feature));
    let num = |i: usize| arg(i).as_number();
    let text = |i: usize| arg(i).as_text();
    let number = |n: Option<f64>| {
        n.filter(|n| n.is_finite())
            .map_or(Value::Null, Value::Number)
    };
    let compare = |i: usize, j: usize| arg(i).compare(&arg(j), true);
    let lower = canonical_name(name).to_ascii_lowercase();
    match lower.as_str() {
        "strconcat" | "concatenate" => {
            Value::Text(args.iter().map(|a| text_of(&a.evaluate(feature))).collect())
        }
        "strtouppercase" => text(0).map_or(Value::Null, |t| Value::Text(t.to_uppercase())),
        "strtolowercase" => text(0).map_or(Value::Null, |t| Value::Text(t.to_lowercase())),
        "strcapitalize" => text(0).map_or(Value::Null, |t| Value::Text(capitalize(&t))),
        "strtrim" => text(0).map_or(Value::Null, |t| Value::Text(t.trim().to_owned())),
        "strlength" => text(0).map_or(Value::Null, |t| Value::Number(t.chars().count() as f64)),
        "strsubstring" | "strsubstringstart" => {
            let Some(t) = text(0) else {
                return Value::Null;
            };
            let chars: Vec<char> = t.chars().collect();
            let start = (num(1).unwrap_or(0.0).max(0.0) as usize).min(chars.len());
            let end = if lower == "strsubstring" {
                (num(2).unwrap_or(0.0).max(0.0) as usize).clamp(start, chars.len())
            } else {
                chars.len()
            };
            Value::Text(chars[start..end].iter().collect())
        }
        "strreplace" => {
            let (Some(t), Some(from), Some(to)) = (text(0), text(1), text(2)) else {
                return Value::Null;
            };
            let all = arg(3).as_bool().unwrap_or(false);
            if from.is_empty() {
                Value::Text(t)
            } else if all {
                Value::Text(t.replace(&from, &to))
            } else {
                Value::Text(t.replacen(&from, &to, 1))
            }
        }
        "strstartswith" => match (text(0), text(1)) {
            (Some(a), Some(b)) => Value::Bool(a.starts_with(&b)),
            _ => Value::Null,
        },
        "strendswith" => match (text(0), text(1)) {
            (Some(a), Some(b)) => Value::Bool(a.ends_with(&b)),
            _ => Value::Null,
        },
        "strindexof" => match (text(0), text(1)) {
            (Some(a), Some(b)) => {
                Value::Number(a.find(&b).map_or(-1.0, |i| a[..i].chars().count() as f64))
            }
            _ => Value::Null,
        },
        "strabbreviate" => {
            let Some(t) = text(0) else {
                return Value::Null;
            };
            let upper = num(2).unwrap_or(f64::MAX).max(0.0) as usize;
            if t.chars().count() <= upper {
                Value::Text(t)
            } else {
                let mut out: String = t.chars().take(upper).collect();
                out.push_str(&text(3).unwrap_or_default());
                Value::Text(out)
            }
        }
        "if_then_else" => {
            if arg(0).as_bool().unwrap_or(false) {
                arg(1)
            } else {
                arg(2)
            }
        }
        "equalto" => Value::Bool(compare(0, 1) == Some(std::cmp::Ordering::Equal)),
        "notequalto" => Value::Bool(compare(0, 1) != Some(std::cmp::Ordering::Equal)),
        "greaterthan" => Value::Bool(compare(0, 1).is_some_and(std::cmp::Ordering::is_gt)),
        "greaterequalthan" => Value::Bool(compare(0, 1).is_some_and(std::cmp::Ordering::is_ge)),
        "lessthan" => Value::Bool(compare(0, 1).is_some_and(std::cmp::Ordering::is_lt)),
        "lessequalthan" => Value::Bool(compare(0, 1).is_some_and(std::cmp::Ordering::is_le)),
        "not" => arg(0).as_bool().map_or(Value::Null, |b| Value::Bool(!b)),
        "and" => Value::Bool(arg(0).as_bool() == Some(true) && arg(1).as_bool() == Some(true)),
        "or" => Value::Bool(arg(0).as_bool() == Some(true) || arg(1).as_bool() == Some(true)),
        "isnull" => Value::Bool(arg(0).is_null()),
        "in" => {
            let needle = arg(0);
            Value::Bool(
                (1..args.len())
                    .any(|i| needle.compare(&arg(i), true) == Some(std::cmp::Ordering::Equal)),
            )
        }
        "categorize" => categorize(args, feature),
        "interpolate" => interpolate(args, feature),
        "recode" => {
            let needle = arg(0);
            let mut i = 1;
            while i + 1 < args.len() {
                if needle.compare(&arg(i), true) == Some(std::cmp::Ordering::Equal) {
                    return arg(i + 1);
                }
                i += 2;
            }
            Value::Null
        }
        "numberformat" | "formatnumber" => {
            // GeoServer's order is numberFormat(pattern, number); SE FormatNumber is
            // (number, pattern) once built, so accept both.
            let (pattern, n) = match (text(0), num(1)) {
                (Some(p), Some(n)) if !p.trim().parse::<f64>().is_ok_and(f64::is_finite) => (p, n),
                _ => match (num(0), text(1)) {
                    (Some(n), Some(p)) => (p, n),
                    _ => return Value::Null,
                },
            };
            Value::Text(number_format(&pattern, n))
        }
        "abs" => number(num(0).map(f64::abs)),
        "round" => number(num(0).map(f64::round)),
        "floor" => number(num(0).map(f64::floor)),
        "ceil" => number(num(0).map(f64::ceil)),
        "sqrt" => number(num(0).map(f64::sqrt)),
        "log" => number(num(0).map(f64::ln)),
        "todegrees" => number(num(0).map(f64::to_degrees)),
        "toradians" => number(num(0).map(f64::to_radians)),
        "min" => match (num(0), num(1)) {
            (Some(a), Some(b)) => Value::Number(a.min(b)),
            _ => Value::Null,
        },
        "max" => match (num(0), num(1)) {
            (Some(a), Some(b)) => Value::Number(a.max(b)),
            _ => Value::Null,
        },
        "property" => text(0).map_or(Value::Null, |n| {
            feature.attribute(&n).unwrap_or(Value::Null)
        }),
        // No environment at this level: the default value, if any.
        "env" => arg(1),
        _ => Value::Null,
    }
}

fn capitalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c.is_whitespace();
    }
    out
}

/// `Categorize(value, v0, t1, v1, t2, v2, …[, 'succeeding'|'preceding'])`.
fn categorize(args: &[Expression], feature: &dyn Attributes) -> Value {
    let Some(lookup) = args.first().and_then(|a| a.evaluate(feature).as_number()) else {
        return Value::Null;
    };
    let mut rest: Vec<&Expression> = args.iter().skip(1).collect();
    let mut preceding = false;
    if rest.len().is_multiple_of(2) {
        if let Some(last) = rest.last().and_then(|e| e.as_literal()) {
            preceding = last.eq_ignore_ascii_case("preceding");
            rest.pop();
        }
    }
    let Some(first) = rest.first() else {
        return Value::Null;
    };
    let mut result = first.evaluate(feature);
    let mut i = 1;
    while i + 1 < rest.len() {
        let Some(threshold) = rest[i].evaluate(feature).as_number() else {
            return Value::Null;
        };
        let above = if preceding {
            lookup > threshold
        } else {
            lookup >= threshold
        };
        if !above {
            break;
        }
        result = rest[i + 1].evaluate(feature);
        i += 2;
    }
    result
}

/// `Interpolate(value, d1, v1, d2, v2, …[, 'numeric'|'color'][, 'linear'|'cosine'|'cubic'])`:
/// linear between points (colours channel by channel), clamped outside.
fn interpolate(args: &[Expression], feature: &dyn Attributes) -> Value {
    let Some(lookup) = args.first().and_then(|a| a.evaluate(feature).as_number()) else {
        return Value::Null;
    };
    let mut points = Vec::new();
    let mut mode_color = false;
    let mut i = 1;
    while i < args.len() {
        if i + 1 >= args.len() || is_mode(&args[i]) {
            if let Some(word) = args[i].as_literal() {
                mode_color |= word.eq_ignore_ascii_case("color");
            }
            i += 1;
            continue;
        }
        let data = args[i].evaluate(feature).as_number();
        let value = args[i + 1].evaluate(feature);
        if let Some(data) = data {
            points.push((data, value));
        }
        i += 2;
    }
    let Some((first, last)) = points.first().zip(points.last()) else {
        return Value::Null;
    };
    if lookup <= first.0 {
        return first.1.clone();
    }
    if lookup >= last.0 {
        return last.1.clone();
    }
    for pair in points.windows(2) {
        let ((d0, v0), (d1, v1)) = (&pair[0], &pair[1]);
        if lookup >= *d0 && lookup <= *d1 {
            let t = if d1 > d0 {
                (lookup - d0) / (d1 - d0)
            } else {
                0.0
            };
            let colors = v0
                .as_text()
                .and_then(|t| Color::parse(&t))
                .zip(v1.as_text().and_then(|t| Color::parse(&t)));
            if let (Some((c0, c1)), true) = (colors, mode_color || v0.as_number().is_none()) {
                let mix =
                    |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
                let color = Color {
                    r: mix(c0.r, c1.r),
                    g: mix(c0.g, c1.g),
                    b: mix(c0.b, c1.b),
                    a: mix(c0.a, c1.a),
                };
                return Value::Text(color.to_string());
            }
            return match (v0.as_number(), v1.as_number()) {
                (Some(a), Some(b)) => Value::Number(a + (b - a) * t),
                _ => v0.clone(),
            };
        }
    }
    Value::Null
}

fn is_mode(expression: &Expression) -> bool {
    expression.as_literal().is_some_and(|word| {
        matches!(
            word.to_ascii_lowercase().as_str(),
            "numeric" | "color" | "linear" | "cosine" | "cubic"
        )
    })
}

/// A small subset of Java's DecimalFormat: `0`, `0.0`, `#,##0.00`, `0.###`.
fn number_format(pattern: &str, n: f64) -> String {
    let pattern = pattern.trim();
    let (int_part, frac_part) = pattern.split_once('.').unwrap_or((pattern, ""));
    let min_frac = frac_part.chars().filter(|&c| c == '0').count();
    let max_frac = frac_part.chars().filter(|&c| c == '0' || c == '#').count();
    let grouping = int_part.contains(',');
    let mut text = format!("{n:.max_frac$}");
    if text.contains('.') {
        while text.ends_with('0') && text.split_once('.').map_or(0, |(_, f)| f.len()) > min_frac {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    if grouping {
        let (sign, digits) = text
            .strip_prefix('-')
            .map_or(("", text.as_str()), |rest| ("-", rest));
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        text = if frac.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}.{frac}")
        };
    }
    if text == "-0" {
        "0".clone_into(&mut text);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::number_format;

    #[test]
    fn number_format_follows_the_decimal_format_patterns_styles_use() {
        assert_eq!(number_format("0", 12.6), "13");
        assert_eq!(number_format("0.0", 12.0), "12.0");
        assert_eq!(number_format("0.##", 12.5), "12.5");
        assert_eq!(number_format("#,##0", 1_234_567.0), "1,234,567");
        assert_eq!(number_format("#,##0.00", -1234.5), "-1,234.50");
    }
}
