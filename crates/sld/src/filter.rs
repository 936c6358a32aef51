//! Filter Encoding 1.0 / 1.1 / 2.0 as found in styles, and its evaluation.
//!
//! Filters decide which rule draws which feature, so their semantics must match GeoServer's or
//! a style that worked there draws nothing here: comparisons coerce numbers and text as
//! [`Value::compare`] explains, `matchCase` defaults to true, a comparison involving a missing
//! attribute is false (and its `Not` true), and `PropertyIsLike` patterns are matched without
//! regular expressions (so a hostile pattern cannot blow up).

use std::cmp::Ordering;

use crate::expr::Expression;
use crate::{Attributes, Pos};

/// A binary comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompareOp {
    /// `PropertyIsEqualTo`.
    Equal,
    /// `PropertyIsNotEqualTo`.
    NotEqual,
    /// `PropertyIsLessThan`.
    Less,
    /// `PropertyIsLessThanOrEqualTo`.
    LessOrEqual,
    /// `PropertyIsGreaterThan`.
    Greater,
    /// `PropertyIsGreaterThanOrEqualTo`.
    GreaterOrEqual,
}

impl CompareOp {
    /// The element's local name.
    pub fn element_name(self) -> &'static str {
        match self {
            CompareOp::Equal => "PropertyIsEqualTo",
            CompareOp::NotEqual => "PropertyIsNotEqualTo",
            CompareOp::Less => "PropertyIsLessThan",
            CompareOp::LessOrEqual => "PropertyIsLessThanOrEqualTo",
            CompareOp::Greater => "PropertyIsGreaterThan",
            CompareOp::GreaterOrEqual => "PropertyIsGreaterThanOrEqualTo",
        }
    }

    pub(crate) fn from_element(name: &str) -> Option<CompareOp> {
        Some(match name {
            "PropertyIsEqualTo" => CompareOp::Equal,
            "PropertyIsNotEqualTo" => CompareOp::NotEqual,
            "PropertyIsLessThan" => CompareOp::Less,
            "PropertyIsLessThanOrEqualTo" => CompareOp::LessOrEqual,
            "PropertyIsGreaterThan" => CompareOp::Greater,
            "PropertyIsGreaterThanOrEqualTo" => CompareOp::GreaterOrEqual,
            _ => return None,
        })
    }
}

/// A `PropertyIsLike` pattern with its three special characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    /// The pattern as written.
    pub pattern: String,
    /// `wildCard` (any run of characters).
    pub wild_card: char,
    /// `singleChar` (exactly one character).
    pub single_char: char,
    /// `escapeChar` (`escape` in FE 1.0).
    pub escape_char: char,
}

/// A filter.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// A binary comparison.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Expression,
        /// Right operand.
        right: Expression,
        /// `matchCase` (default true).
        match_case: bool,
        /// Where the element starts.
        pos: Pos,
    },
    /// `PropertyIsLike`.
    Like {
        /// The tested expression.
        expression: Expression,
        /// The pattern.
        pattern: LikePattern,
        /// `matchCase` (default true).
        match_case: bool,
        /// Where the element starts.
        pos: Pos,
    },
    /// `PropertyIsNull` (FES 2.0 `PropertyIsNil` too).
    IsNull {
        /// The tested expression.
        expression: Expression,
        /// Where the element starts.
        pos: Pos,
    },
    /// `PropertyIsBetween` (bounds inclusive).
    Between {
        /// The tested expression.
        expression: Expression,
        /// `LowerBoundary`.
        lower: Expression,
        /// `UpperBoundary`.
        upper: Expression,
        /// Where the element starts.
        pos: Pos,
    },
    /// `And`.
    And {
        /// The operands.
        filters: Vec<Filter>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `Or`.
    Or {
        /// The operands.
        filters: Vec<Filter>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `Not`.
    Not {
        /// The operand.
        filter: Box<Filter>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `FeatureId fid`, `GmlObjectId gml:id`, `ResourceId rid`: one or more identifiers.
    Id {
        /// The identifiers.
        ids: Vec<String>,
        /// Where the element starts.
        pos: Pos,
    },
    /// `BBOX`: the feature's envelope intersects this one.
    Bbox {
        /// The geometry property (`None`: the default geometry).
        property: Option<String>,
        /// `[min_x, min_y, max_x, max_y]` in the envelope's CRS, as written.
        envelope: [f64; 4],
        /// `srsName`, if given.
        crs: Option<String>,
        /// Where the element starts.
        pos: Pos,
    },
    /// A spatial operator (`Intersects`, `Within`, `DWithin`…) against a GML geometry: only
    /// in filters read by [`crate::parse_filter`] (styles refuse them); evaluated by
    /// [`crate::Attributes::relate`].
    Spatial {
        /// The operator.
        op: SpatialOp,
        /// The geometry property (`None`: the default geometry).
        property: Option<String>,
        /// The operand, coordinates as written (in the axis order of `crs`).
        geometry: GmlGeometry,
        /// `DWithin` / `Beyond`: the distance, in the units of the CRS.
        distance: Option<f64>,
        /// `srsName` of the geometry, if given.
        crs: Option<String>,
        /// Where the element starts.
        pos: Pos,
    },
    /// A filter element that could not be read; it matches nothing (validation says why).
    Invalid {
        /// Where the element starts.
        pos: Pos,
    },
}

/// The spatial operators of Filter Encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    /// `Intersects`.
    Intersects,
    /// `Disjoint`.
    Disjoint,
    /// `Within`: the feature lies within the operand.
    Within,
    /// `Contains`: the feature contains the operand.
    Contains,
    /// `DWithin`: within the distance of the operand.
    DWithin,
    /// `Beyond`: farther than the distance.
    Beyond,
    /// `Touches`.
    Touches,
    /// `Crosses`.
    Crosses,
    /// `Overlaps`.
    Overlaps,
    /// `Equals`.
    Equals,
}

impl SpatialOp {
    /// The operator of an element name.
    pub fn from_element(name: &str) -> Option<SpatialOp> {
        Some(match name {
            "Intersects" => SpatialOp::Intersects,
            "Disjoint" => SpatialOp::Disjoint,
            "Within" => SpatialOp::Within,
            "Contains" => SpatialOp::Contains,
            "DWithin" => SpatialOp::DWithin,
            "Beyond" => SpatialOp::Beyond,
            "Touches" => SpatialOp::Touches,
            "Crosses" => SpatialOp::Crosses,
            "Overlaps" => SpatialOp::Overlaps,
            "Equals" => SpatialOp::Equals,
            _ => return None,
        })
    }
}

/// A geometry read from GML, coordinates as written (in the axis order of its CRS).
#[derive(Debug, Clone, PartialEq)]
pub enum GmlGeometry {
    /// `Point`.
    Point([f64; 2]),
    /// `LineString` (or a `Curve` of one segment).
    LineString(Vec<[f64; 2]>),
    /// `Polygon`: the exterior ring, then the interior ones.
    Polygon(Vec<Vec<[f64; 2]>>),
    /// `Envelope` / `Box`: `[x1, y1, x2, y2]`, lower corner first.
    Envelope([f64; 4]),
    /// `MultiPoint`, `MultiCurve`, `MultiSurface`, `MultiGeometry`…
    Multi(Vec<GmlGeometry>),
}

impl GmlGeometry {
    /// The same geometry with every coordinate pair mapped (axis swaps, reprojection).
    #[must_use]
    pub fn map_coords(&self, f: &mut dyn FnMut([f64; 2]) -> [f64; 2]) -> GmlGeometry {
        let line = |points: &Vec<[f64; 2]>, f: &mut dyn FnMut([f64; 2]) -> [f64; 2]| {
            points.iter().map(|p| f(*p)).collect::<Vec<_>>()
        };
        match self {
            GmlGeometry::Point(p) => GmlGeometry::Point(f(*p)),
            GmlGeometry::LineString(points) => GmlGeometry::LineString(line(points, f)),
            GmlGeometry::Polygon(rings) => {
                GmlGeometry::Polygon(rings.iter().map(|r| line(r, f)).collect())
            }
            GmlGeometry::Envelope([x1, y1, x2, y2]) => {
                let [low_x, low_y] = f([*x1, *y1]);
                let [high_x, high_y] = f([*x2, *y2]);
                GmlGeometry::Envelope([
                    low_x.min(high_x),
                    low_y.min(high_y),
                    low_x.max(high_x),
                    low_y.max(high_y),
                ])
            }
            GmlGeometry::Multi(parts) => {
                GmlGeometry::Multi(parts.iter().map(|g| g.map_coords(f)).collect())
            }
        }
    }
}

impl Filter {
    /// Where the filter starts.
    pub fn pos(&self) -> Pos {
        match self {
            Filter::Compare { pos, .. }
            | Filter::Like { pos, .. }
            | Filter::IsNull { pos, .. }
            | Filter::Between { pos, .. }
            | Filter::And { pos, .. }
            | Filter::Or { pos, .. }
            | Filter::Not { pos, .. }
            | Filter::Id { pos, .. }
            | Filter::Bbox { pos, .. }
            | Filter::Spatial { pos, .. }
            | Filter::Invalid { pos } => *pos,
        }
    }

    /// Whether the feature passes the filter.
    pub fn matches(&self, feature: &dyn Attributes) -> bool {
        match self {
            Filter::Compare {
                op,
                left,
                right,
                match_case,
                ..
            } => {
                let ordering = left
                    .evaluate(feature)
                    .compare(&right.evaluate(feature), *match_case);
                match (op, ordering) {
                    (_, None) => false,
                    (CompareOp::Equal, Some(o)) => o == Ordering::Equal,
                    (CompareOp::NotEqual, Some(o)) => o != Ordering::Equal,
                    (CompareOp::Less, Some(o)) => o == Ordering::Less,
                    (CompareOp::LessOrEqual, Some(o)) => o != Ordering::Greater,
                    (CompareOp::Greater, Some(o)) => o == Ordering::Greater,
                    (CompareOp::GreaterOrEqual, Some(o)) => o != Ordering::Less,
                }
            }
            Filter::Like {
                expression,
                pattern,
                match_case,
                ..
            } => expression
                .evaluate(feature)
                .as_text()
                .is_some_and(|text| like(&text, pattern, *match_case)),
            Filter::IsNull { expression, .. } => expression.evaluate(feature).is_null(),
            Filter::Between {
                expression,
                lower,
                upper,
                ..
            } => {
                let value = expression.evaluate(feature);
                value
                    .compare(&lower.evaluate(feature), true)
                    .is_some_and(|o| o != Ordering::Less)
                    && value
                        .compare(&upper.evaluate(feature), true)
                        .is_some_and(|o| o != Ordering::Greater)
            }
            Filter::And { filters, .. } => filters.iter().all(|f| f.matches(feature)),
            Filter::Or { filters, .. } => filters.iter().any(|f| f.matches(feature)),
            Filter::Not { filter, .. } => !filter.matches(feature),
            Filter::Id { ids, .. } => feature
                .id()
                .is_some_and(|id| ids.iter().any(|wanted| same_id(wanted, id))),
            Filter::Bbox { envelope, .. } => feature.envelope().is_some_and(|e| {
                e[0] <= envelope[2]
                    && e[2] >= envelope[0]
                    && e[1] <= envelope[3]
                    && e[3] >= envelope[1]
            }),
            Filter::Spatial {
                op,
                geometry,
                distance,
                ..
            } => feature.relate(*op, geometry, *distance),
            Filter::Invalid { .. } => false,
        }
    }

    /// Calls `visit` on every expression of the filter.
    pub fn walk_expressions<'a>(&'a self, visit: &mut dyn FnMut(&'a Expression)) {
        match self {
            Filter::Compare { left, right, .. } => {
                left.walk(visit);
                right.walk(visit);
            }
            Filter::Like { expression, .. } | Filter::IsNull { expression, .. } => {
                expression.walk(visit);
            }
            Filter::Between {
                expression,
                lower,
                upper,
                ..
            } => {
                expression.walk(visit);
                lower.walk(visit);
                upper.walk(visit);
            }
            Filter::And { filters, .. } | Filter::Or { filters, .. } => {
                for filter in filters {
                    filter.walk_expressions(visit);
                }
            }
            Filter::Not { filter, .. } => filter.walk_expressions(visit),
            Filter::Id { .. }
            | Filter::Bbox { .. }
            | Filter::Spatial { .. }
            | Filter::Invalid { .. } => {}
        }
    }
}

/// Feature ids are often written `layer.12` in styles and stored as `12` (or the reverse).
fn same_id(wanted: &str, id: &str) -> bool {
    wanted == id
        || wanted.rsplit_once('.').is_some_and(|(_, tail)| tail == id)
        || id.rsplit_once('.').is_some_and(|(_, tail)| tail == wanted)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    Any,
    One,
}

/// Matches `text` against a `PropertyIsLike` pattern (iterative, linear-memory glob matching).
pub(crate) fn like(text: &str, pattern: &LikePattern, match_case: bool) -> bool {
    let fold = |c: char| -> char {
        if match_case {
            c
        } else {
            c.to_lowercase().next().unwrap_or(c)
        }
    };
    let mut tokens = Vec::new();
    let mut chars = pattern.pattern.chars();
    while let Some(c) = chars.next() {
        if c == pattern.escape_char {
            if let Some(next) = chars.next() {
                tokens.push(Token::Char(fold(next)));
            }
        } else if c == pattern.wild_card {
            if tokens.last() != Some(&Token::Any) {
                tokens.push(Token::Any);
            }
        } else if c == pattern.single_char {
            tokens.push(Token::One);
        } else {
            tokens.push(Token::Char(fold(c)));
        }
    }
    let text: Vec<char> = text.chars().map(fold).collect();
    // Classic wildcard matching with one backtrack point: O(n·m) worst case, no recursion.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                t += 1;
                p += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|token| *token == Token::Any)
}

/// Convenience for tests and callers: a filter matching `value` against a property.
impl Filter {
    /// `PropertyIsEqualTo(property, literal)` at an unknown position.
    pub fn equal(property: &str, literal: impl Into<String>) -> Filter {
        Filter::Compare {
            op: CompareOp::Equal,
            left: Expression::property(property),
            right: Expression::literal(literal),
            match_case: true,
            pos: Pos::default(),
        }
    }
}
