//! `FILTER=`: Filter Encoding (FES 2.0, FE 1.1) read by `sld::parse_filter`, checked against
//! the feature type (every property it names must exist), brought into the CRS the features
//! are read in (each envelope and geometry from its `srsName`, or the type's CRS, in that
//! CRS's axis order), and evaluated per feature with `geo`'s DE-9IM relations.

use std::cell::RefCell;
use std::collections::HashMap;

use crs::{AxisOrder, Bbox, Crs, Transformer};
use geo::{BoundingRect, Distance, Euclidean, Relate};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use sld::{Filter, GmlGeometry, SpatialOp};
use vectorstore::{Record, Value};

use super::schema::{FeatureType, GEOMETRY_PROPERTY};
use crate::services::ogc::{OwsCode, OwsException};

/// Reads `FILTER`.
pub fn parse(text: &str) -> Result<Filter, OwsException> {
    sld::parse_filter(text).map_err(|error| {
        let problem = error.to_problem();
        let hint = problem.hint.map(|h| format!(" ({h})")).unwrap_or_default();
        OwsException::new(
            OwsCode::OperationParsingFailed,
            "FILTER",
            format!(
                "FILTER, line {} column {}: {}{hint}",
                problem.line, problem.column, problem.message
            ),
        )
    })
}

/// Refuses a filter naming a property the feature type lacks.
pub fn check_properties(
    filter: &Filter,
    feature_type: &FeatureType<'_>,
) -> Result<(), OwsException> {
    let mut unknown = None;
    filter.walk_expressions(&mut |expression| {
        expression.walk(&mut |e| {
            if let sld::Expression::Property { name, .. } = e {
                let local = name.rsplit_once(':').map_or(name.as_str(), |(_, l)| l);
                if unknown.is_none()
                    && local != GEOMETRY_PROPERTY
                    && feature_type.meta.attribute(local).is_none()
                {
                    unknown = Some(local.to_owned());
                }
            }
        });
    });
    spatial_properties(filter, &mut |property| {
        let local = property.rsplit_once(':').map_or(property, |(_, l)| l);
        if unknown.is_none() && local != GEOMETRY_PROPERTY {
            unknown = Some(local.to_owned());
        }
    });
    match unknown {
        None => Ok(()),
        Some(name) => Err(OwsException::invalid(
            "FILTER",
            format!(
                "FILTER names '{name}', which {} does not have: its properties are {GEOMETRY_PROPERTY}, {}",
                feature_type.qualified_name(),
                feature_type.attribute_list()
            ),
        )),
    }
}

fn spatial_properties(filter: &Filter, visit: &mut dyn FnMut(&str)) {
    match filter {
        Filter::Spatial {
            property: Some(p), ..
        }
        | Filter::Bbox {
            property: Some(p), ..
        } => visit(p),
        Filter::And { filters, .. } | Filter::Or { filters, .. } => {
            for f in filters {
                spatial_properties(f, visit);
            }
        }
        Filter::Not { filter, .. } => spatial_properties(filter, visit),
        _ => {}
    }
}

/// The filter with every envelope and geometry in `to`, x then y (`default` is the CRS of
/// those without `srsName`).
pub fn localize(filter: &Filter, default: &Crs, to: &Crs) -> Result<Filter, OwsException> {
    let crs_of = |name: &Option<String>| -> Result<Crs, OwsException> {
        match name {
            None => Ok(default.clone()),
            Some(name) => Crs::parse(name).map_err(|e| {
                OwsException::invalid("FILTER", format!("FILTER: srsName {name}: {e}"))
            }),
        }
    };
    let failed = |e: crs::CrsError| {
        OwsException::invalid(
            "FILTER",
            format!(
                "FILTER: a geometry cannot be brought into {}: {e}",
                to.code()
            ),
        )
    };
    Ok(match filter {
        Filter::And { filters, pos } => Filter::And {
            filters: filters
                .iter()
                .map(|f| localize(f, default, to))
                .collect::<Result<_, _>>()?,
            pos: *pos,
        },
        Filter::Or { filters, pos } => Filter::Or {
            filters: filters
                .iter()
                .map(|f| localize(f, default, to))
                .collect::<Result<_, _>>()?,
            pos: *pos,
        },
        Filter::Not { filter, pos } => Filter::Not {
            filter: Box::new(localize(filter, default, to)?),
            pos: *pos,
        },
        Filter::Bbox {
            property,
            envelope,
            crs,
            pos,
        } => {
            let from = crs_of(crs)?;
            let bbox = Bbox::from_ogc(*envelope, &from).map_err(failed)?;
            let bbox = if from.equivalent(to) {
                bbox
            } else {
                match Transformer::new(&from, to).and_then(|t| t.transform_bbox(&bbox)) {
                    Ok(b) => b,
                    // Wholly outside the target's domain: an empty box far away.
                    Err(crs::CrsError::OutsideValidArea { .. }) => {
                        Bbox::new(f64::MAX, f64::MAX, f64::MAX, f64::MAX).map_err(failed)?
                    }
                    Err(e) => return Err(failed(e)),
                }
            };
            Filter::Bbox {
                property: property.clone(),
                envelope: [bbox.min_x(), bbox.min_y(), bbox.max_x(), bbox.max_y()],
                crs: None,
                pos: *pos,
            }
        }
        Filter::Spatial {
            op,
            property,
            geometry,
            distance,
            crs,
            pos,
        } => {
            let from = crs_of(crs)?;
            let swap = from.axis_order() == AxisOrder::NorthEast;
            let transformer = if from.equivalent(to) {
                None
            } else {
                Some(Transformer::new(&from, to).map_err(failed)?)
            };
            let mut error = None;
            let geometry = geometry.map_coords(&mut |[a, b]| {
                let (x, y) = if swap { (b, a) } else { (a, b) };
                match &transformer {
                    None => [x, y],
                    Some(t) => match t.transform_point(x, y) {
                        Ok((x, y)) => [x, y],
                        Err(e) => {
                            error.get_or_insert(e);
                            [f64::NAN, f64::NAN]
                        }
                    },
                }
            });
            if let Some(e) = error {
                return Err(failed(e));
            }
            Filter::Spatial {
                op: *op,
                property: property.clone(),
                geometry,
                distance: *distance,
                crs: None,
                pos: *pos,
            }
        }
        other => other.clone(),
    })
}

/// A filter operand as a `geo` geometry (coordinates already x/y in the features' CRS).
fn to_geo(geometry: &GmlGeometry) -> Geometry<f64> {
    let line = |points: &[[f64; 2]]| {
        LineString::from(
            points
                .iter()
                .map(|[x, y]| Coord { x: *x, y: *y })
                .collect::<Vec<_>>(),
        )
    };
    match geometry {
        GmlGeometry::Point([x, y]) => Geometry::Point(Point::new(*x, *y)),
        GmlGeometry::LineString(points) => Geometry::LineString(line(points)),
        GmlGeometry::Polygon(rings) => Geometry::Polygon(Polygon::new(
            line(&rings[0]),
            rings[1..].iter().map(|r| line(r)).collect(),
        )),
        GmlGeometry::Envelope([x1, y1, x2, y2]) => Geometry::Rect(geo_types::Rect::new(
            Coord { x: *x1, y: *y1 },
            Coord { x: *x2, y: *y2 },
        )),
        GmlGeometry::Multi(parts) => {
            let parts: Vec<Geometry<f64>> = parts.iter().map(to_geo).collect();
            if parts.iter().all(|p| matches!(p, Geometry::Polygon(_))) {
                Geometry::MultiPolygon(MultiPolygon(
                    parts
                        .into_iter()
                        .filter_map(|p| match p {
                            Geometry::Polygon(p) => Some(p),
                            _ => None,
                        })
                        .collect(),
                ))
            } else {
                Geometry::GeometryCollection(geo_types::GeometryCollection(parts))
            }
        }
    }
}

/// Operands converted once per answer (keyed by their address in the filter).
#[derive(Debug, Default)]
pub struct Operands(RefCell<HashMap<usize, Geometry<f64>>>);

/// A record as filters see it.
pub struct Candidate<'a> {
    /// The record.
    pub record: &'a Record,
    /// Its identifier, `type.fid`.
    pub id: String,
    /// The converted operands.
    pub operands: &'a Operands,
}

impl sld::Attributes for Candidate<'_> {
    fn attribute(&self, name: &str) -> Option<sld::Value> {
        let local = name.rsplit_once(':').map_or(name, |(_, l)| l);
        let value = self.record.property(local)?;
        Some(match value {
            Value::Null | Value::Blob(_) => sld::Value::Null,
            Value::Bool(b) => sld::Value::Bool(*b),
            Value::Integer(i) => sld::Value::Number(*i as f64),
            Value::Real(r) => sld::Value::Number(*r),
            Value::Text(t) => sld::Value::Text(t.clone()),
        })
    }

    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }

    fn envelope(&self) -> Option<[f64; 4]> {
        let rect = self.record.geometry.as_ref()?.bounding_rect()?;
        Some([rect.min().x, rect.min().y, rect.max().x, rect.max().y])
    }

    fn relate(&self, op: SpatialOp, geometry: &GmlGeometry, distance: Option<f64>) -> bool {
        let Some(feature) = &self.record.geometry else {
            return op == SpatialOp::Disjoint || op == SpatialOp::Beyond;
        };
        let key = std::ptr::from_ref(geometry) as usize;
        let mut operands = self.operands.0.borrow_mut();
        let operand = operands.entry(key).or_insert_with(|| to_geo(geometry));
        match op {
            SpatialOp::DWithin => Euclidean.distance(feature, &*operand) <= distance.unwrap_or(0.0),
            SpatialOp::Beyond => Euclidean.distance(feature, &*operand) > distance.unwrap_or(0.0),
            _ => {
                let matrix = feature.relate(&*operand);
                match op {
                    SpatialOp::Intersects => matrix.is_intersects(),
                    SpatialOp::Disjoint => matrix.is_disjoint(),
                    SpatialOp::Within => matrix.is_within(),
                    SpatialOp::Contains => matrix.is_contains(),
                    SpatialOp::Touches => matrix.is_touches(),
                    SpatialOp::Crosses => matrix.is_crosses(),
                    SpatialOp::Overlaps => matrix.is_overlaps(),
                    SpatialOp::Equals => matrix.is_equal_topo(),
                    SpatialOp::DWithin | SpatialOp::Beyond => false,
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sld::Attributes;
    use std::sync::Arc;

    fn square(x: f64, y: f64, size: f64) -> Record {
        Record {
            fid: 1,
            geometry: Some(Geometry::Polygon(Polygon::new(
                LineString::from(vec![
                    (x, y),
                    (x + size, y),
                    (x + size, y + size),
                    (x, y + size),
                    (x, y),
                ]),
                vec![],
            ))),
            properties: vec![(Arc::from("population"), Value::Integer(60_000))],
        }
    }

    #[test]
    fn spatial_operators_follow_de9im() {
        let operands = Operands::default();
        let inside = square(1.0, 1.0, 1.0);
        let candidate = Candidate {
            record: &inside,
            id: "t.1".to_owned(),
            operands: &operands,
        };
        let big = GmlGeometry::Envelope([0.0, 0.0, 10.0, 10.0]);
        let far = GmlGeometry::Point([20.0, 20.0]);
        assert!(candidate.relate(SpatialOp::Within, &big, None));
        assert!(candidate.relate(SpatialOp::Intersects, &big, None));
        assert!(!candidate.relate(SpatialOp::Contains, &big, None));
        assert!(candidate.relate(SpatialOp::Disjoint, &far, None));
        assert!(!candidate.relate(SpatialOp::DWithin, &far, Some(10.0)));
        assert!(candidate.relate(SpatialOp::DWithin, &far, Some(30.0)));
        assert!(candidate.relate(SpatialOp::Beyond, &far, Some(10.0)));
        assert_eq!(
            candidate.attribute("tuilerie:population"),
            Some(sld::Value::Number(60_000.0))
        );
        assert_eq!(candidate.id(), Some("t.1"));
    }

    #[test]
    fn geometries_are_brought_into_the_features_crs_in_x_y_order() {
        let filter = parse(
            r#"<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"><fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>48.85 2.35</gml:pos></gml:Point></fes:Intersects></fes:Filter>"#,
        )
        .unwrap();
        let lambert = Crs::from_epsg(2154).unwrap();
        let Filter::Spatial {
            geometry: GmlGeometry::Point([x, y]),
            crs,
            ..
        } = localize(&filter, &lambert, &lambert).unwrap()
        else {
            panic!();
        };
        assert!(crs.is_none());
        // Paris in Lambert-93.
        assert!(
            (x - 652_000.0).abs() < 2_000.0 && (y - 6_862_000.0).abs() < 2_000.0,
            "{x} {y}"
        );
        assert!(parse("<fes:Filter").is_err());
    }
}
