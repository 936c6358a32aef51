//! Filter Encoding 1.0 / 1.1 and FES 2.0, as far as styles use it: comparisons, `Like`,
//! `Null`, `Between`, the logical operators, identifiers and `BBOX`. Other spatial operators
//! are refused with a reason; their operands are expressions (`expressions`).

use super::{is_filter, Builder};
use crate::expr::Expression;
use crate::filter::{CompareOp, Filter, GmlGeometry, LikePattern, SpatialOp};
use crate::suggest::did_you_mean;
use crate::xml::Element;

/// The filter elements a style may use, for the hint on any other.
const FILTERS: &[&str] = &[
    "PropertyIsEqualTo",
    "PropertyIsNotEqualTo",
    "PropertyIsLessThan",
    "PropertyIsLessThanOrEqualTo",
    "PropertyIsGreaterThan",
    "PropertyIsGreaterThanOrEqualTo",
    "PropertyIsLike",
    "PropertyIsNull",
    "PropertyIsBetween",
    "And",
    "Or",
    "Not",
    "FeatureId",
    "GmlObjectId",
    "ResourceId",
    "BBOX",
];

impl Builder {
    /// `Filter`: one condition, or a list of identifiers.
    pub(super) fn filter(&mut self, element: &Element) -> Filter {
        let children: Vec<&Element> = element.elements().collect();
        self.stray_text(element);
        if children.is_empty() {
            self.error(
                element.pos,
                "<Filter> is empty",
                Some(
                    "add a condition such as <ogc:PropertyIsEqualTo>, or remove the Filter"
                        .to_owned(),
                ),
            );
            return Filter::Invalid { pos: element.pos };
        }
        let all_ids = children.iter().all(|c| {
            c.ns.is_filter()
                && matches!(c.name.as_str(), "FeatureId" | "GmlObjectId" | "ResourceId")
        });
        if all_ids {
            let ids = children.iter().filter_map(|c| self.id_of(c)).collect();
            return Filter::Id {
                ids,
                pos: children[0].pos,
            };
        }
        if children.len() > 1 {
            self.error(
                children[1].pos,
                "a <Filter> holds one condition",
                Some("combine the conditions with <ogc:And> or <ogc:Or>".to_owned()),
            );
            return Filter::And {
                filters: children.iter().map(|c| self.filter_op(c)).collect(),
                pos: element.pos,
            };
        }
        self.filter_op(children[0])
    }

    /// The identifier of a `FeatureId`, `GmlObjectId` or `ResourceId`.
    fn id_of(&mut self, element: &Element) -> Option<String> {
        let attr = match element.name.as_str() {
            "FeatureId" => "fid",
            "GmlObjectId" => "id",
            _ => "rid",
        };
        let id = element.attr(attr).map(|id| id.trim().to_owned());
        if id.is_none() {
            self.error(
                element.pos,
                format!("<{}> has no {attr} attribute", element.display_name()),
                Some(format!(
                    "write <{} {attr}=\"layer.12\"/>",
                    element.display_name()
                )),
            );
        }
        id
    }

    /// One condition.
    fn filter_op(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        if !element.ns.is_filter() {
            self.unexpected(element, element, &[]);
            return Filter::Invalid { pos };
        }
        let name = element.name.as_str();
        if let Some(op) = CompareOp::from_element(name) {
            return self.compare(element, op);
        }
        match name {
            "And" | "Or" => {
                let filters: Vec<Filter> = element.elements().map(|c| self.filter_op(c)).collect();
                if filters.is_empty() {
                    self.error(
                        pos,
                        format!("<{}> is empty", element.display_name()),
                        Some("put two or more conditions inside it".to_owned()),
                    );
                }
                if name == "And" {
                    Filter::And { filters, pos }
                } else {
                    Filter::Or { filters, pos }
                }
            }
            "Not" => self.not(element),
            "PropertyIsLike" => self.like(element),
            "PropertyIsNull" | "PropertyIsNil" => self.is_null(element),
            "PropertyIsBetween" => self.between(element),
            "FeatureId" | "GmlObjectId" | "ResourceId" => Filter::Id {
                ids: self.id_of(element).into_iter().collect(),
                pos,
            },
            "BBOX" => self.bbox(element),
            "Equals" | "Disjoint" | "Touches" | "Within" | "Overlaps" | "Crosses"
            | "Intersects" | "Contains" | "DWithin" | "Beyond"
                if self.spatial =>
            {
                self.spatial_op(element)
            }
            "Equals" | "Disjoint" | "Touches" | "Within" | "Overlaps" | "Crosses"
            | "Intersects" | "Contains" | "DWithin" | "Beyond" => {
                self.error(
                    pos,
                    format!(
                        "the spatial filter <{}> is not supported in styles",
                        element.display_name()
                    ),
                    Some("use <ogc:BBOX>, or a scale range, or prepare the data".to_owned()),
                );
                Filter::Invalid { pos }
            }
            _ => {
                let hint = did_you_mean(name, FILTERS).map_or_else(
                    || format!("the filters allowed in styles are: {}", FILTERS.join(", ")),
                    |guess| format!("did you mean <{guess}>?"),
                );
                self.error(
                    pos,
                    format!("<{}> is not a filter", element.display_name()),
                    Some(hint),
                );
                Filter::Invalid { pos }
            }
        }
    }

    /// Whether the filter matches case-sensitively (`matchCase`, true unless false or 0).
    fn match_case(element: &Element) -> bool {
        !element
            .attr("matchCase")
            .is_some_and(|t| matches!(t.trim(), "false" | "0"))
    }

    /// `PropertyIsEqualTo` and the other comparisons.
    fn compare(&mut self, element: &Element, op: CompareOp) -> Filter {
        let pos = element.pos;
        let hint = format!(
            "write <{0}><ogc:PropertyName>attribute</ogc:PropertyName><ogc:Literal>value\
             </ogc:Literal></{0}>",
            element.display_name()
        );
        let needs = "two operands (a PropertyName and a Literal)";
        let Some((left, right)) = self.two_operands(element, needs, hint) else {
            return Filter::Invalid { pos };
        };
        Filter::Compare {
            op,
            left,
            right,
            match_case: Self::match_case(element),
            pos,
        }
    }

    fn not(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let mut filters: Vec<Filter> = element.elements().map(|c| self.filter_op(c)).collect();
        if filters.len() != 1 {
            self.error(
                pos,
                format!(
                    "<{}> needs exactly one condition, got {}",
                    element.display_name(),
                    filters.len()
                ),
                Some("put exactly one condition inside <ogc:Not>; combine several with <ogc:And> or <ogc:Or> inside it".to_owned()),
            );
            return Filter::Invalid { pos };
        }
        match filters.pop() {
            Some(filter) => Filter::Not {
                filter: Box::new(filter),
                pos,
            },
            None => Filter::Invalid { pos },
        }
    }

    fn like(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let wild = element.attr("wildCard");
        let single = element.attr("singleChar");
        let escape = element
            .attr("escapeChar")
            .or_else(|| element.attr("escape"));
        let mut operands = self.operands(element);
        let mut missing = Vec::new();
        let mut one_char = |value: Option<&str>, attr: &'static str| -> char {
            let mut chars = value.unwrap_or_default().chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => {
                    missing.push(attr);
                    '\0'
                }
            }
        };
        let pattern = LikePattern {
            pattern: String::new(),
            wild_card: one_char(wild, "wildCard"),
            single_char: one_char(single, "singleChar"),
            escape_char: one_char(escape, "escapeChar"),
        };
        if !missing.is_empty() {
            self.error(
                pos,
                format!(
                    "<{}> needs the attributes wildCard, singleChar and escapeChar, each one \
                     character (missing or wrong: {})",
                    element.display_name(),
                    missing.join(", ")
                ),
                Some(
                    "write <ogc:PropertyIsLike wildCard=\"*\" singleChar=\".\" \
                     escapeChar=\"!\"> (escape=\"!\" in Filter 1.0)"
                        .to_owned(),
                ),
            );
            return Filter::Invalid { pos };
        }
        if operands.len() != 2 {
            self.error(
                pos,
                format!(
                    "<{}> needs a PropertyName and a Literal pattern",
                    element.display_name()
                ),
                Some("write <ogc:PropertyName>attribute</ogc:PropertyName><ogc:Literal>pattern*</ogc:Literal> inside it".to_owned()),
            );
            return Filter::Invalid { pos };
        }
        let (Some(literal), Some(expression)) = (operands.pop(), operands.pop()) else {
            return Filter::Invalid { pos };
        };
        let Some(text) = literal.as_literal() else {
            self.error(
                literal.pos(),
                "the pattern of a PropertyIsLike must be an <ogc:Literal>",
                Some("write the pattern as <ogc:Literal>pattern*</ogc:Literal>".to_owned()),
            );
            return Filter::Invalid { pos };
        };
        Filter::Like {
            expression,
            pattern: LikePattern {
                pattern: text.to_owned(),
                ..pattern
            },
            match_case: Self::match_case(element),
            pos,
        }
    }

    /// `PropertyIsNull` (FES 2.0 also `PropertyIsNil`).
    fn is_null(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let mut operands = self.operands(element);
        match (operands.pop(), operands.is_empty()) {
            (Some(expression), true) => Filter::IsNull { expression, pos },
            _ => {
                self.error(
                    pos,
                    format!(
                        "<{}> needs exactly one PropertyName",
                        element.display_name()
                    ),
                    Some(
                        "write <ogc:PropertyName>attribute</ogc:PropertyName> inside it".to_owned(),
                    ),
                );
                Filter::Invalid { pos }
            }
        }
    }

    fn between(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let (mut expression, mut lower, mut upper) = (None, None, None);
        for child in element.elements() {
            if is_filter(child, "LowerBoundary") {
                lower = self.content(child);
            } else if is_filter(child, "UpperBoundary") {
                upper = self.content(child);
            } else {
                expression = Some(self.expression(child));
            }
        }
        match (expression, lower, upper) {
            (Some(expression), Some(lower), Some(upper)) => Filter::Between {
                expression,
                lower,
                upper,
                pos,
            },
            _ => {
                self.error(
                    pos,
                    format!(
                        "<{}> needs a PropertyName, a <LowerBoundary> and an <UpperBoundary>",
                        element.display_name()
                    ),
                    Some(
                        "write <ogc:PropertyIsBetween><ogc:PropertyName>a\
                         </ogc:PropertyName><ogc:LowerBoundary><ogc:Literal>1\
                         </ogc:Literal></ogc:LowerBoundary><ogc:UpperBoundary>…\
                         </ogc:UpperBoundary></ogc:PropertyIsBetween>"
                            .to_owned(),
                    ),
                );
                Filter::Invalid { pos }
            }
        }
    }

    /// `Intersects`, `Within`, `DWithin`…: a property, a GML geometry, and for `DWithin` /
    /// `Beyond` a `Distance`.
    fn spatial_op(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let Some(op) = SpatialOp::from_element(&element.name) else {
            return Filter::Invalid { pos };
        };
        let mut property = None;
        let mut geometry = None;
        let mut crs = None;
        let mut distance = None;
        for child in element.elements() {
            if is_filter(child, "PropertyName") || is_filter(child, "ValueReference") {
                if let Expression::Property { name, .. } = self.expression(child) {
                    property = Some(name);
                }
            } else if is_filter(child, "Distance") {
                match child.text().trim().parse::<f64>() {
                    Ok(d) if d.is_finite() && d >= 0.0 => distance = Some(d),
                    _ => self.error(
                        child.pos,
                        format!("<Distance> '{}' is not a distance", child.text().trim()),
                        Some(
                            "write a non-negative number in the units of the geometry's CRS"
                                .to_owned(),
                        ),
                    ),
                }
            } else {
                crs = child.attr("srsName").map(str::to_owned);
                geometry = self.gml_geometry(child);
                if geometry.is_none() {
                    return Filter::Invalid { pos };
                }
            }
        }
        let Some(geometry) = geometry else {
            self.error(
                pos,
                format!("<{}> has no geometry", element.display_name()),
                Some("add a GML geometry such as <gml:Polygon> or <gml:Envelope>".to_owned()),
            );
            return Filter::Invalid { pos };
        };
        if matches!(op, SpatialOp::DWithin | SpatialOp::Beyond) && distance.is_none() {
            self.error(
                pos,
                format!("<{}> has no <Distance>", element.display_name()),
                Some("add <fes:Distance uom=\"m\">100</fes:Distance>".to_owned()),
            );
            return Filter::Invalid { pos };
        }
        Filter::Spatial {
            op,
            property,
            geometry,
            distance,
            crs,
            pos,
        }
    }

    /// Coordinate pairs of a `pos`, `posList` or `coordinates` element (`srsDimension` 2 or 3:
    /// a third ordinate is dropped).
    fn positions(&mut self, element: &Element, dimension: usize) -> Option<Vec<[f64; 2]>> {
        let text = element.text();
        let numbers: Option<Vec<f64>> = if element.name == "coordinates" {
            text.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect()
        } else {
            text.split_whitespace()
                .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect()
        };
        let dimension = element
            .attr("srsDimension")
            .and_then(|d| d.trim().parse::<usize>().ok())
            .filter(|d| (2..=3).contains(d))
            .unwrap_or(dimension);
        match numbers {
            Some(numbers) if !numbers.is_empty() && numbers.len() % dimension == 0 => {
                Some(numbers.chunks(dimension).map(|c| [c[0], c[1]]).collect())
            }
            _ => {
                self.error(
                    element.pos,
                    format!(
                        "<{}> does not hold coordinate pairs",
                        element.display_name()
                    ),
                    Some(
                        "write finite numbers, x and y of each position in the CRS's axis order"
                            .to_owned(),
                    ),
                );
                None
            }
        }
    }

    /// The positions of a GML element: its `pos`, `posList` or `coordinates` children.
    fn points_of(&mut self, element: &Element) -> Option<Vec<[f64; 2]>> {
        let dimension = element
            .attr("srsDimension")
            .and_then(|d| d.trim().parse::<usize>().ok())
            .unwrap_or(2);
        let mut points = Vec::new();
        for child in element.elements() {
            if matches!(child.name.as_str(), "pos" | "posList" | "coordinates") {
                points.extend(self.positions(child, dimension)?);
            }
        }
        if points.is_empty() {
            self.error(
                element.pos,
                format!("<{}> has no positions", element.display_name()),
                Some("add <gml:posList> (or <gml:pos>)".to_owned()),
            );
            return None;
        }
        Some(points)
    }

    /// A GML 3.1 / 3.2 (or 2) geometry.
    fn gml_geometry(&mut self, element: &Element) -> Option<GmlGeometry> {
        let members = |builder: &mut Builder, element: &Element| -> Option<Vec<GmlGeometry>> {
            let mut parts = Vec::new();
            for member in element.elements() {
                for part in member.elements() {
                    parts.push(builder.gml_geometry(part)?);
                }
            }
            Some(parts)
        };
        match element.name.as_str() {
            "Point" => {
                let points = self.points_of(element)?;
                Some(GmlGeometry::Point(points[0]))
            }
            "LineString" | "LinearRing" => Some(GmlGeometry::LineString(self.points_of(element)?)),
            "Curve" => {
                // segments/LineStringSegment…
                let mut points = Vec::new();
                for segments in element.elements() {
                    for segment in segments.elements() {
                        points.extend(self.points_of(segment)?);
                    }
                }
                Some(GmlGeometry::LineString(points))
            }
            "Polygon" | "Surface" => {
                let mut rings = Vec::new();
                for boundary in element.elements() {
                    for ring in boundary.elements() {
                        match self.gml_geometry(ring)? {
                            GmlGeometry::LineString(points) => rings.push(points),
                            _ => {
                                self.error(
                                    ring.pos,
                                    "a polygon boundary is a <gml:LinearRing>",
                                    None,
                                );
                                return None;
                            }
                        }
                    }
                }
                if rings.is_empty() {
                    self.error(
                        element.pos,
                        "<Polygon> has no exterior ring",
                        Some("add <gml:exterior><gml:LinearRing><gml:posList>…".to_owned()),
                    );
                    return None;
                }
                Some(GmlGeometry::Polygon(rings))
            }
            "Envelope" | "Box" => self.envelope(element).map(GmlGeometry::Envelope),
            "MultiPoint" | "MultiCurve" | "MultiLineString" | "MultiSurface" | "MultiPolygon"
            | "MultiGeometry" => Some(GmlGeometry::Multi(members(self, element)?)),
            _ => {
                self.error(
                    element.pos,
                    format!("<{}> is not a GML geometry", element.display_name()),
                    Some(
                        "use gml:Point, LineString, Polygon, Envelope or their Multi forms"
                            .to_owned(),
                    ),
                );
                None
            }
        }
    }

    fn bbox(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let mut property = None;
        let mut envelope = None;
        let mut crs = None;
        // Not only filter elements: the envelope is GML.
        let expected = ["PropertyName", "Envelope", "Box"];
        self.children(element, &expected, |builder, child| {
            if is_filter(child, "PropertyName") || is_filter(child, "ValueReference") {
                if let Expression::Property { name, .. } = builder.expression(child) {
                    property = Some(name);
                }
            } else if matches!(child.name.as_str(), "Box" | "Envelope") {
                crs = child.attr("srsName").map(str::to_owned);
                // A wrong envelope leaves an earlier right one in place.
                if let Some(found) = builder.envelope(child) {
                    envelope = Some(found);
                }
            } else {
                return false;
            }
            true
        });
        match envelope {
            Some(envelope) => Filter::Bbox {
                property,
                envelope,
                crs,
                pos,
            },
            None => {
                if !self
                    .issues
                    .iter()
                    .any(|p| p.line > pos.line || (p.line == pos.line && p.column >= pos.column))
                {
                    self.error(
                        pos,
                        "<BBOX> has no envelope",
                        Some("add a <gml:Envelope>".to_owned()),
                    );
                }
                Filter::Invalid { pos }
            }
        }
    }

    /// A GML `Envelope` or `Box`: `[min_x, min_y, max_x, max_y]`, `None` (reported) unless it
    /// holds four numbers, lower corner first.
    fn envelope(&mut self, element: &Element) -> Option<[f64; 4]> {
        let mut numbers = Vec::new();
        for part in element.elements() {
            match part.name.as_str() {
                "coordinates" => numbers.extend(
                    part.text()
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|s| !s.is_empty())
                        .map(|s| s.parse::<f64>().ok()),
                ),
                "lowerCorner" | "upperCorner" | "pos" => numbers.extend(
                    part.text()
                        .split_whitespace()
                        .map(|s| s.parse::<f64>().ok()),
                ),
                "coord" => {
                    for xy in part.elements() {
                        numbers.push(xy.text().trim().parse::<f64>().ok());
                    }
                }
                _ => {}
            }
        }
        let numbers: Option<Vec<f64>> = numbers.into_iter().collect();
        match numbers.as_deref() {
            Some(&[x1, y1, x2, y2]) if x1 <= x2 && y1 <= y2 => Some([x1, y1, x2, y2]),
            _ => {
                self.error(
                    element.pos,
                    "the envelope of a BBOX needs four numbers, lower corner first",
                    Some(
                        "write <gml:Envelope><gml:lowerCorner>xmin ymin</gml:lowerCorner>\
                         <gml:upperCorner>xmax ymax</gml:upperCorner></gml:Envelope>"
                            .to_owned(),
                    ),
                );
                None
            }
        }
    }
}
