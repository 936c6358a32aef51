//! CQL2 (OGC API – Features Part 3 `filter=`), text or JSON, read by the `cql2` crate and
//! mapped onto the filter model WFS uses (`sld::Filter`), so that one evaluator answers both:
//! comparisons (`casei` for case-insensitive ones), `LIKE`, `BETWEEN`, `IN`, `IS NULL`,
//! `AND`/`OR`/`NOT`, and the spatial functions `S_INTERSECTS`, `S_WITHIN`, `S_CONTAINS`,
//! `S_DISJOINT`, `S_TOUCHES`, `S_CROSSES`, `S_OVERLAPS`, `S_EQUALS` over WKT / GeoJSON
//! geometries and `BBOX`. Temporal, array and arithmetic operators are refused by name.

use cql2::Expr;
use geo::CoordsIter;
use sld::{CompareOp, Expression, Filter, GmlGeometry, LikePattern, Pos, SpatialOp};
use wkt::TryFromWkt;

/// Reads `filter` in `filter-lang` (`cql2-text`, the default, or `cql2-json`); geometries are
/// in `crs` (the `filter-crs`).
pub fn parse(text: &str, lang: Option<&str>, crs: &str) -> Result<Filter, String> {
    let expr: Expr = match lang.map(str::to_ascii_lowercase).as_deref() {
        None | Some("cql2-text") => cql2::parse_text(text).map_err(|e| format!("filter: {e}"))?,
        Some("cql2-json") => cql2::parse_json(text).map_err(|e| format!("filter: {e}"))?,
        Some(other) => return Err(format!("filter-lang={other}: use cql2-text or cql2-json")),
    };
    filter(expr, crs)
}

fn unsupported(op: &str) -> String {
    format!(
        "filter: the operator '{op}' is not supported: use comparisons, LIKE, BETWEEN, IN, IS NULL, AND/OR/NOT, CASEI and the S_ spatial functions"
    )
}

fn filter(expr: Expr, crs: &str) -> Result<Filter, String> {
    let pos = Pos::default();
    let Expr::Operation { op, args } = expr else {
        return Err("filter: a condition is expected (e.g. population > 1000)".to_owned());
    };
    let mut args: Vec<Expr> = args.into_iter().map(|a| *a).collect();
    let lower = op.to_ascii_lowercase();
    let compare = match lower.as_str() {
        "=" => Some(CompareOp::Equal),
        "<>" => Some(CompareOp::NotEqual),
        "<" => Some(CompareOp::Less),
        "<=" => Some(CompareOp::LessOrEqual),
        ">" => Some(CompareOp::Greater),
        ">=" => Some(CompareOp::GreaterOrEqual),
        _ => None,
    };
    if let Some(op) = compare {
        let [left, right] = two(args, &lower)?;
        let (left, left_casei) = uncased(left);
        let (right, right_casei) = uncased(right);
        return Ok(Filter::Compare {
            op,
            left: expression(left)?,
            right: expression(right)?,
            match_case: !(left_casei || right_casei),
            pos,
        });
    }
    Ok(match lower.as_str() {
        "and" | "or" => {
            let filters = args
                .into_iter()
                .map(|a| filter(a, crs))
                .collect::<Result<Vec<_>, _>>()?;
            if lower == "and" {
                Filter::And { filters, pos }
            } else {
                Filter::Or { filters, pos }
            }
        }
        "not" => {
            let inner = args.pop().ok_or_else(|| unsupported("not"))?;
            Filter::Not {
                filter: Box::new(filter(inner, crs)?),
                pos,
            }
        }
        "like" => {
            let [value, pattern] = two(args, "like")?;
            let (value, value_casei) = uncased(value);
            let (pattern, pattern_casei) = uncased(pattern);
            let Expr::Literal(pattern) = pattern else {
                return Err("filter: LIKE takes a text pattern ('Par%')".to_owned());
            };
            Filter::Like {
                expression: expression(value)?,
                pattern: LikePattern {
                    pattern,
                    wild_card: '%',
                    single_char: '_',
                    escape_char: '\\',
                },
                match_case: !(value_casei || pattern_casei),
                pos,
            }
        }
        "between" => {
            if args.len() != 3 {
                return Err("filter: BETWEEN takes a value and two bounds".to_owned());
            }
            let upper = args.pop().map(expression).transpose()?;
            let lower_bound = args.pop().map(expression).transpose()?;
            let value = args.pop().map(expression).transpose()?;
            match (value, lower_bound, upper) {
                (Some(expression), Some(lower), Some(upper)) => Filter::Between {
                    expression,
                    lower,
                    upper,
                    pos,
                },
                _ => return Err("filter: BETWEEN takes a value and two bounds".to_owned()),
            }
        }
        "in" => {
            let [value, list] = two(args, "in")?;
            let Expr::Array(items) = list else {
                return Err("filter: IN takes a list ('a', 'b')".to_owned());
            };
            let value = expression(value)?;
            Filter::Or {
                filters: items
                    .into_iter()
                    .map(|item| {
                        Ok(Filter::Compare {
                            op: CompareOp::Equal,
                            left: value.clone(),
                            right: expression(*item)?,
                            match_case: true,
                            pos,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                pos,
            }
        }
        "isnull" => {
            let value = args.pop().ok_or_else(|| unsupported("isNull"))?;
            Filter::IsNull {
                expression: expression(value)?,
                pos,
            }
        }
        name if name.starts_with("s_") => {
            let op = match name {
                "s_intersects" => SpatialOp::Intersects,
                "s_disjoint" => SpatialOp::Disjoint,
                "s_within" => SpatialOp::Within,
                "s_contains" => SpatialOp::Contains,
                "s_touches" => SpatialOp::Touches,
                "s_crosses" => SpatialOp::Crosses,
                "s_overlaps" => SpatialOp::Overlaps,
                "s_equals" => SpatialOp::Equals,
                _ => return Err(unsupported(&op)),
            };
            let [first, second] = two(args, name)?;
            let ((Expr::Property { property }, operand) | (operand, Expr::Property { property })) =
                (first, second)
            else {
                return Err(format!(
                    "filter: {op:?} compares the geometry property with a geometry"
                ));
            };
            Filter::Spatial {
                op,
                property: Some(property),
                geometry: geometry(operand)?,
                distance: None,
                crs: Some(crs.to_owned()),
                pos,
            }
        }
        _ => return Err(unsupported(&op)),
    })
}

/// The two operands of a binary operator.
fn two(args: Vec<Expr>, op: &str) -> Result<[Expr; 2], String> {
    <[Expr; 2]>::try_from(args).map_err(|_| format!("filter: '{op}' takes two operands"))
}

/// `casei(x)` → (x, true).
fn uncased(expr: Expr) -> (Expr, bool) {
    match expr {
        Expr::Operation { op, mut args } if op.eq_ignore_ascii_case("casei") && args.len() == 1 => {
            (*args.remove(0), true)
        }
        other => (other, false),
    }
}

fn expression(expr: Expr) -> Result<Expression, String> {
    Ok(match expr {
        Expr::Property { property } => Expression::property(&property),
        Expr::Literal(text) => Expression::literal(text),
        Expr::Float(number) => Expression::literal(number.to_string()),
        Expr::Bool(b) => Expression::literal(b.to_string()),
        Expr::Date { date } | Expr::Timestamp { timestamp: date } => match *date {
            Expr::Literal(text) => Expression::literal(text),
            _ => return Err("filter: a DATE or TIMESTAMP holds text".to_owned()),
        },
        Expr::Operation { op, .. } => return Err(unsupported(&op)),
        _ => return Err("filter: a property or a value is expected".to_owned()),
    })
}

/// A CQL2 geometry (WKT or GeoJSON) or BBOX as the filter model's geometry, coordinates as
/// written (x/y, in `filter-crs`).
fn geometry(expr: Expr) -> Result<GmlGeometry, String> {
    match expr {
        Expr::BBox { bbox } => {
            let numbers: Vec<f64> = bbox
                .into_iter()
                .map(|b| match *b {
                    Expr::Float(f) => Ok(f),
                    _ => Err("filter: BBOX holds numbers".to_owned()),
                })
                .collect::<Result<_, _>>()?;
            match numbers.as_slice() {
                [a, b, c, d] | [a, b, _, c, d, _] => Ok(GmlGeometry::Envelope([*a, *b, *c, *d])),
                _ => Err("filter: BBOX holds four (or six) numbers".to_owned()),
            }
        }
        Expr::Geometry(geometry) => {
            let text = geometry.to_wkt().map_err(|e| format!("filter: {e}"))?;
            let parsed: geo_types::Geometry<f64> = geo_types::Geometry::try_from_wkt_str(&text)
                .map_err(|e| format!("filter: the geometry {text}: {e}"))?;
            Ok(from_geo(&parsed))
        }
        _ => Err("filter: a geometry (WKT or GeoJSON) or BBOX is expected".to_owned()),
    }
}

fn points(line: &geo_types::LineString<f64>) -> Vec<[f64; 2]> {
    line.coords_iter().map(|c| [c.x, c.y]).collect()
}

fn from_geo(geometry: &geo_types::Geometry<f64>) -> GmlGeometry {
    use geo_types::Geometry as G;
    let polygon = |p: &geo_types::Polygon<f64>| {
        let mut rings = vec![points(p.exterior())];
        rings.extend(p.interiors().iter().map(points));
        GmlGeometry::Polygon(rings)
    };
    match geometry {
        G::Point(p) => GmlGeometry::Point([p.x(), p.y()]),
        G::Line(l) => GmlGeometry::LineString(vec![[l.start.x, l.start.y], [l.end.x, l.end.y]]),
        G::LineString(l) => GmlGeometry::LineString(points(l)),
        G::Polygon(p) => polygon(p),
        G::MultiPoint(m) => GmlGeometry::Multi(
            m.0.iter()
                .map(|p| GmlGeometry::Point([p.x(), p.y()]))
                .collect(),
        ),
        G::MultiLineString(m) => GmlGeometry::Multi(
            m.0.iter()
                .map(|l| GmlGeometry::LineString(points(l)))
                .collect(),
        ),
        G::MultiPolygon(m) => GmlGeometry::Multi(m.0.iter().map(polygon).collect()),
        G::GeometryCollection(c) => GmlGeometry::Multi(c.0.iter().map(from_geo).collect()),
        G::Rect(r) => GmlGeometry::Envelope([r.min().x, r.min().y, r.max().x, r.max().y]),
        G::Triangle(t) => polygon(&t.to_polygon()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_read_into_the_filter_model() {
        let crs84 = "CRS:84";
        let f = parse(
            "population > 50000 AND departement = 'Évry' AND NOT actif = false",
            None,
            crs84,
        )
        .unwrap();
        assert!(
            matches!(f, Filter::And { ref filters, .. } if filters.len() == 3),
            "{f:?}"
        );
        let f = parse(
            "nom LIKE 'Par%' OR code IN ('75001', '75002')",
            Some("cql2-text"),
            crs84,
        )
        .unwrap();
        assert!(matches!(f, Filter::Or { .. }), "{f:?}");
        let f = parse(
            r#"{"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [2.35, 48.85]}]}"#,
            Some("cql2-json"),
            crs84,
        )
        .unwrap();
        assert!(
            matches!(&f, Filter::Spatial { op: SpatialOp::Intersects, geometry: GmlGeometry::Point(_), crs: Some(c), .. } if c == "CRS:84"),
            "{f:?}"
        );
        let f = parse("S_WITHIN(geom, BBOX(2, 48, 3, 49))", None, crs84).unwrap();
        assert!(
            matches!(
                f,
                Filter::Spatial {
                    geometry: GmlGeometry::Envelope(_),
                    ..
                }
            ),
            "{f:?}"
        );
        let f = parse("CASEI(departement) = casei('PARIS')", None, crs84).unwrap();
        assert!(
            matches!(
                f,
                Filter::Compare {
                    match_case: false,
                    ..
                }
            ),
            "{f:?}"
        );
        for bad in [
            "population >",
            "T_BEFORE(built, TIMESTAMP('2020-01-01T00:00:00Z'))",
            "population + 1 > 3",
        ] {
            assert!(parse(bad, None, crs84).is_err(), "{bad}");
        }
        assert!(parse("a = 1", Some("sql"), crs84).is_err());
    }
}
