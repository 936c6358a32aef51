//! From the element tree to the style model, SLD 1.0.0 and SE 1.1 alike.
//!
//! Elements are matched on namespace + local name: style elements in the SLD or SE namespace
//! (or none), filter elements in the OGC or FES 2.0 namespace (or none). Anything the model
//! has no place for is recorded as a problem at its position — an error when it looks like a
//! mistake (a misspelled or misplaced element, with a "did you mean"), a warning when it is a
//! foreign extension that is merely ignored — and building carries on, so that validation can
//! report every problem at once.
// `match` with a fallback arm reads better than `if let … else` for the many "element or
// report" cases below.
#![allow(clippy::single_match_else)]

use crate::expr::{ArithmeticOp, Expression};
use crate::filter::{CompareOp, Filter, LikePattern};
use crate::model::{
    ChannelSelection, ColorMap, ColorMapEntry, ColorMapKind, Common, ContrastEnhancement,
    ContrastMethod, ExternalGraphic, FeatureTypeStyle, Fill, Font, Graphic, GraphicSource,
    GraphicSymbol, Halo, LabelPlacement, LineSymbolizer, Mark, NamedLayer, Point2, PointSymbolizer,
    PolygonSymbolizer, RasterSymbolizer, Rule, SelectedChannel, Sld, Stroke, Symbolizer, Text,
    TextSymbolizer, UserStyle, VendorOption, Version,
};
use crate::value::Uom;
use crate::xml::{Element, Node, Ns};
use crate::{Pos, Problem, SldError};

pub(crate) fn build(root: &Element) -> Result<Sld, SldError> {
    if root.name != "StyledLayerDescriptor" || !matches!(root.ns, Ns::Sld | Ns::Se | Ns::None) {
        let found = if root.uri.is_empty() {
            root.name.clone()
        } else {
            format!("{} xmlns=\"{}\"", root.name, root.uri)
        };
        return Err(SldError::NotSld {
            pos: root.pos,
            found,
        });
    }
    let mut builder = Builder::default();
    let sld = builder.sld(root);
    Ok(Sld {
        issues: builder.issues,
        ..sld
    })
}

#[derive(Default)]
struct Builder {
    issues: Vec<Problem>,
}

fn is(element: &Element, name: &str) -> bool {
    element.ns.is_style() && element.name == name
}

fn is_filter(element: &Element, name: &str) -> bool {
    element.ns.is_filter() && element.name == name
}

/// Trimmed text, `None` when empty.
fn text_of(element: &Element) -> Option<String> {
    let text = element.text();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

/// The closest candidate within a small edit distance.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let close = candidates
        .iter()
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    // A truncated name (`strToUpper` for `strToUpperCase`).
    let lower = word.to_lowercase();
    close.or_else(|| {
        (lower.len() >= 4)
            .then(|| {
                candidates
                    .iter()
                    .find(|c| c.to_lowercase().starts_with(&lower))
                    .copied()
            })
            .flatten()
    })
}

impl Builder {
    fn error(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.issues.push(Problem::error(pos, message, hint.into()));
    }

    fn warning(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<Option<String>>) {
        self.issues
            .push(Problem::warning(pos, message, hint.into()));
    }

    /// An element the model has no place for here.
    fn unexpected(&mut self, element: &Element, parent: &Element, expected: &[&str]) {
        if matches!(element.ns, Ns::Other | Ns::Gml | Ns::Xlink) {
            self.warning(
                element.pos,
                format!(
                    "<{}> (namespace {}) is not part of SLD and is ignored",
                    element.name, element.uri
                ),
                Some("remove it, or check its namespace URI".to_owned()),
            );
            return;
        }
        let known = expected.contains(&element.name.as_str());
        let message = if known {
            format!(
                "<{}> is in the wrong namespace for <{}>",
                element.display_name(),
                parent.display_name()
            )
        } else {
            format!(
                "<{}> is not allowed in <{}>",
                element.display_name(),
                parent.display_name()
            )
        };
        let hint = if known {
            Some(format!(
                "style elements belong to the sld or se namespace, filters and expressions to \
                 the ogc (or fes 2.0) namespace; check the prefix of <{}>",
                element.display_name()
            ))
        } else if let Some(guess) = did_you_mean(&element.name, expected) {
            Some(format!("did you mean <{guess}>?"))
        } else if expected.is_empty() {
            Some("remove it".to_owned())
        } else {
            Some(format!("expected here: {}", expected.join(", ")))
        };
        self.error(element.pos, message, hint);
    }

    /// Warns about non-whitespace text directly inside a structural element.
    fn stray_text(&mut self, element: &Element) {
        for node in &element.children {
            if let Node::Text { text, pos, .. } = node {
                if !text.trim().is_empty() {
                    self.error(
                        *pos,
                        format!(
                            "text '{}' is not allowed directly inside <{}>",
                            shorten(text.trim()),
                            element.display_name()
                        ),
                        Some("put it inside the element it belongs to, or remove it".to_owned()),
                    );
                }
            }
        }
    }

    fn sld(&mut self, root: &Element) -> Sld {
        let version = match root.attr("version").map(str::trim) {
            Some("1.0.0") => Some(Version::V1_0_0),
            Some("1.1.0" | "1.1") => Some(Version::V1_1_0),
            Some(other) => {
                self.error(
                    root.pos,
                    format!("SLD version {other} is not supported: use 1.0.0 or 1.1.0"),
                    Some(
                        "write version=\"1.0.0\" for CssParameter styles (GeoServer) or \
                         version=\"1.1.0\" for se: styles (QGIS)"
                            .to_owned(),
                    ),
                );
                None
            }
            None => {
                self.error(
                    root.pos,
                    "<StyledLayerDescriptor> has no version attribute",
                    Some(
                        "add version=\"1.0.0\" (CssParameter, GeoServer) or version=\"1.1.0\" \
                         (se: elements, QGIS)"
                            .to_owned(),
                    ),
                );
                None
            }
        };
        let mut sld = Sld {
            version,
            name: None,
            layers: Vec::new(),
            pos: root.pos,
            issues: Vec::new(),
        };
        self.stray_text(root);
        for child in root.elements() {
            match child.name.as_str() {
                "Name" if is(child, "Name") => sld.name = text_of(child),
                "Title" | "Abstract" | "Description" if child.ns.is_style() => {}
                "NamedLayer" if is(child, "NamedLayer") => sld.layers.push(self.named_layer(child)),
                "UserLayer" if is(child, "UserLayer") => self.error(
                    child.pos,
                    "<UserLayer> (inline or remote data) is not supported",
                    Some(
                        "publish the data as a layer and style it with <NamedLayer><Name>layer\
                         </Name>…"
                            .to_owned(),
                    ),
                ),
                _ => self.unexpected(
                    child,
                    root,
                    &["Name", "Title", "Abstract", "Description", "NamedLayer"],
                ),
            }
        }
        sld
    }

    fn named_layer(&mut self, element: &Element) -> NamedLayer {
        let mut layer = NamedLayer {
            name: None,
            styles: Vec::new(),
            pos: element.pos,
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "Name" if is(child, "Name") => {
                    layer.name = text_of(child).map(|value| Text {
                        value,
                        pos: child.pos,
                    });
                }
                "Description" | "LayerFeatureConstraints" if child.ns.is_style() => {}
                "UserStyle" if is(child, "UserStyle") => layer.styles.push(self.user_style(child)),
                "NamedStyle" if is(child, "NamedStyle") => self.error(
                    child.pos,
                    "<NamedStyle> refers to a style stored elsewhere, which is not supported",
                    Some("write the style inline as a <UserStyle>".to_owned()),
                ),
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Name",
                        "Description",
                        "LayerFeatureConstraints",
                        "UserStyle",
                    ],
                ),
            }
        }
        layer
    }

    /// `Description` (SE): its `Title` and `Abstract`.
    fn description(child: &Element, title: &mut Option<String>, abstract_: &mut Option<String>) {
        for part in child.elements() {
            if is(part, "Title") {
                *title = text_of(part);
            } else if is(part, "Abstract") {
                *abstract_ = text_of(part);
            }
        }
    }

    fn user_style(&mut self, element: &Element) -> UserStyle {
        let mut style = UserStyle {
            name: None,
            title: None,
            abstract_: None,
            is_default: false,
            feature_type_styles: Vec::new(),
            pos: element.pos,
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "Name" if is(child, "Name") => style.name = text_of(child),
                "Title" if is(child, "Title") => style.title = text_of(child),
                "Abstract" if is(child, "Abstract") => style.abstract_ = text_of(child),
                "Description" if is(child, "Description") => {
                    Self::description(child, &mut style.title, &mut style.abstract_);
                }
                "IsDefault" if is(child, "IsDefault") => {
                    let text = text_of(child).unwrap_or_default();
                    style.is_default = match text.to_ascii_lowercase().as_str() {
                        "1" | "true" => true,
                        "0" | "false" => false,
                        _ => {
                            self.error(
                                child.pos,
                                format!("IsDefault must be 1, 0, true or false, got '{text}'"),
                                Some("write <IsDefault>1</IsDefault>".to_owned()),
                            );
                            false
                        }
                    };
                }
                "FeatureTypeStyle" | "CoverageStyle" if child.ns.is_style() => {
                    style
                        .feature_type_styles
                        .push(self.feature_type_style(child));
                }
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Name",
                        "Title",
                        "Abstract",
                        "Description",
                        "IsDefault",
                        "FeatureTypeStyle",
                        "CoverageStyle",
                    ],
                ),
            }
        }
        style
    }

    fn feature_type_style(&mut self, element: &Element) -> FeatureTypeStyle {
        let mut fts = FeatureTypeStyle {
            name: None,
            feature_type_name: None,
            rules: Vec::new(),
            vendor_options: Vec::new(),
            pos: element.pos,
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "Name" if is(child, "Name") => fts.name = text_of(child),
                "Title"
                | "Abstract"
                | "Description"
                | "SemanticTypeIdentifier"
                | "CoverageName"
                | "OnlineResource"
                    if child.ns.is_style() => {}
                "FeatureTypeName" if is(child, "FeatureTypeName") => {
                    fts.feature_type_name = text_of(child);
                }
                "Rule" if is(child, "Rule") => fts.rules.push(self.rule(child)),
                "VendorOption" if is(child, "VendorOption") => {
                    fts.vendor_options.push(self.vendor_option(child));
                }
                "Transformation" if child.ns.is_style() => self.warning(
                    child.pos,
                    "rendering transformations are not supported and are ignored",
                    Some("prepare the data instead (e.g. a heatmap raster)".to_owned()),
                ),
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Name",
                        "Title",
                        "Abstract",
                        "Description",
                        "FeatureTypeName",
                        "SemanticTypeIdentifier",
                        "Rule",
                        "VendorOption",
                    ],
                ),
            }
        }
        fts
    }

    fn vendor_option(&mut self, element: &Element) -> VendorOption {
        let name = element.attr("name").unwrap_or_default().to_owned();
        if name.is_empty() {
            self.error(
                element.pos,
                "<VendorOption> has no name attribute",
                Some("write <VendorOption name=\"group\">yes</VendorOption>".to_owned()),
            );
        }
        VendorOption {
            name,
            value: element.text().trim().to_owned(),
            pos: element.pos,
        }
    }

    fn scale(&mut self, element: &Element) -> Option<f64> {
        let text = element.text();
        match text.trim().parse::<f64>() {
            Ok(n) if n >= 0.0 && !n.is_nan() => Some(n),
            _ => {
                self.error(
                    element.pos,
                    format!(
                        "{} must be a positive number, got '{}'",
                        element.name,
                        shorten(text.trim())
                    ),
                    Some(format!(
                        "write the scale denominator as a plain number: <{}>25000</{}>",
                        element.display_name(),
                        element.display_name()
                    )),
                );
                None
            }
        }
    }

    fn rule(&mut self, element: &Element) -> Rule {
        let mut rule = Rule {
            name: None,
            title: None,
            abstract_: None,
            filter: None,
            else_filter: false,
            min_scale: None,
            max_scale: None,
            symbolizers: Vec::new(),
            pos: element.pos,
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "Name" if is(child, "Name") => rule.name = text_of(child),
                "Title" if is(child, "Title") => rule.title = text_of(child),
                "Abstract" if is(child, "Abstract") => rule.abstract_ = text_of(child),
                "Description" if is(child, "Description") => {
                    Self::description(child, &mut rule.title, &mut rule.abstract_);
                }
                "LegendGraphic" if child.ns.is_style() => {}
                "Filter" if is_filter(child, "Filter") => {
                    if rule.filter.is_some() {
                        self.error(
                            child.pos,
                            "a rule has at most one <Filter>",
                            Some("combine the conditions with <ogc:And> or <ogc:Or>".to_owned()),
                        );
                    }
                    rule.filter = Some(self.filter(child));
                }
                "ElseFilter" if child.ns.is_style() || child.ns.is_filter() => {
                    rule.else_filter = true;
                }
                "MinScaleDenominator" if is(child, "MinScaleDenominator") => {
                    rule.min_scale = self.scale(child);
                }
                "MaxScaleDenominator" if is(child, "MaxScaleDenominator") => {
                    rule.max_scale = self.scale(child);
                }
                "PointSymbolizer" | "LineSymbolizer" | "PolygonSymbolizer" | "TextSymbolizer"
                | "RasterSymbolizer"
                    if child.ns.is_style() =>
                {
                    if let Some(symbolizer) = self.symbolizer(child) {
                        rule.symbolizers.push(symbolizer);
                    }
                }
                "Filter" if child.ns.is_style() => self.error(
                    child.pos,
                    format!("<{}> is in the style namespace", child.display_name()),
                    Some(
                        "a Filter belongs to the ogc namespace: write <ogc:Filter> with \
                         xmlns:ogc=\"http://www.opengis.net/ogc\""
                            .to_owned(),
                    ),
                ),
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Name",
                        "Title",
                        "Abstract",
                        "Description",
                        "LegendGraphic",
                        "Filter",
                        "ElseFilter",
                        "MinScaleDenominator",
                        "MaxScaleDenominator",
                        "PointSymbolizer",
                        "LineSymbolizer",
                        "PolygonSymbolizer",
                        "TextSymbolizer",
                        "RasterSymbolizer",
                    ],
                ),
            }
        }
        rule
    }

    fn common(&mut self, element: &Element) -> Common {
        let uom = match element.attr("uom") {
            None => Uom::Pixel,
            Some(text) => Uom::parse(text).unwrap_or_else(|| {
                self.error(
                    element.pos,
                    format!("unknown unit of measure '{text}'"),
                    Some(
                        "use http://www.opengeospatial.org/se/units/pixel, …/metre or …/foot"
                            .to_owned(),
                    ),
                );
                Uom::Pixel
            }),
        };
        Common {
            name: None,
            geometry: None,
            uom,
            vendor_options: Vec::new(),
            pos: element.pos,
        }
    }

    /// Handles the children every symbolizer may have; false when `child` is not one of them.
    fn common_child(&mut self, common: &mut Common, child: &Element) -> bool {
        match child.name.as_str() {
            "Name" if is(child, "Name") => common.name = text_of(child),
            "Description" if is(child, "Description") => {}
            "Geometry" if is(child, "Geometry") => common.geometry = self.content(child),
            "VendorOption" if is(child, "VendorOption") => {
                common.vendor_options.push(self.vendor_option(child));
            }
            _ => return false,
        }
        true
    }

    fn symbolizer(&mut self, element: &Element) -> Option<Symbolizer> {
        let mut common = self.common(element);
        self.stray_text(element);
        let base = ["Name", "Description", "Geometry", "VendorOption"];
        let expected = |extra: &[&'static str]| -> Vec<&'static str> {
            base.iter().chain(extra.iter()).copied().collect()
        };
        match element.name.as_str() {
            "PointSymbolizer" => {
                let mut graphic = None;
                for child in element.elements() {
                    if self.common_child(&mut common, child) {
                    } else if is(child, "Graphic") {
                        graphic = Some(self.graphic(child));
                    } else {
                        self.unexpected(child, element, &expected(&["Graphic"]));
                    }
                }
                Some(Symbolizer::Point(PointSymbolizer { common, graphic }))
            }
            "LineSymbolizer" => {
                let mut line = LineSymbolizer {
                    common: common.clone(),
                    stroke: None,
                    perpendicular_offset: None,
                };
                for child in element.elements() {
                    if self.common_child(&mut line.common, child) {
                    } else if is(child, "Stroke") {
                        line.stroke = Some(self.stroke(child));
                    } else if is(child, "PerpendicularOffset") {
                        line.perpendicular_offset = self.content(child);
                    } else {
                        self.unexpected(
                            child,
                            element,
                            &expected(&["Stroke", "PerpendicularOffset"]),
                        );
                    }
                }
                Some(Symbolizer::Line(line))
            }
            "PolygonSymbolizer" => {
                let mut polygon = PolygonSymbolizer {
                    common: common.clone(),
                    fill: None,
                    stroke: None,
                    displacement: None,
                    perpendicular_offset: None,
                };
                for child in element.elements() {
                    if self.common_child(&mut polygon.common, child) {
                    } else if is(child, "Fill") {
                        polygon.fill = Some(self.fill(child));
                    } else if is(child, "Stroke") {
                        polygon.stroke = Some(self.stroke(child));
                    } else if is(child, "Displacement") {
                        polygon.displacement = self.point2(child, "Displacement");
                    } else if is(child, "PerpendicularOffset") {
                        polygon.perpendicular_offset = self.content(child);
                    } else {
                        self.unexpected(
                            child,
                            element,
                            &expected(&["Fill", "Stroke", "Displacement", "PerpendicularOffset"]),
                        );
                    }
                }
                Some(Symbolizer::Polygon(polygon))
            }
            "TextSymbolizer" => Some(Symbolizer::Text(self.text_symbolizer(element, common))),
            "RasterSymbolizer" => Some(Symbolizer::Raster(self.raster_symbolizer(element, common))),
            _ => None,
        }
    }

    /// The `name` of a `CssParameter` / `SvgParameter`, or `None` (reported) when `child` is
    /// not one.
    fn parameter_name<'a>(&mut self, child: &'a Element, parent: &Element) -> Option<&'a str> {
        if !(is(child, "CssParameter") || is(child, "SvgParameter")) {
            return None;
        }
        let name = child.attr("name");
        if name.is_none() {
            self.error(
                child.pos,
                format!("<{}> has no name attribute", child.display_name()),
                Some(format!(
                    "write <{} name=\"…\">; the names allowed in <{}> are listed in the SLD \
                     specification (fill, stroke, stroke-width…)",
                    child.display_name(),
                    parent.display_name()
                )),
            );
        }
        name
    }

    fn unknown_parameter(&mut self, child: &Element, parent: &Element, name: &str, known: &[&str]) {
        let hint = match did_you_mean(name, known) {
            Some(guess) => format!("did you mean '{guess}'?"),
            None => format!(
                "the parameters of <{}> are: {}",
                parent.display_name(),
                known.join(", ")
            ),
        };
        self.error(
            child.pos,
            format!("unknown parameter '{name}' in <{}>", parent.display_name()),
            Some(hint),
        );
    }

    fn fill(&mut self, element: &Element) -> Fill {
        let mut fill = Fill {
            pos: element.pos,
            ..Fill::default()
        };
        self.stray_text(element);
        for child in element.elements() {
            if let Some(name) = self.parameter_name(child, element) {
                match name {
                    "fill" => fill.color = self.content(child),
                    "fill-opacity" => fill.opacity = self.content(child),
                    _ => self.unknown_parameter(child, element, name, &["fill", "fill-opacity"]),
                }
            } else if is(child, "CssParameter") || is(child, "SvgParameter") {
            } else if is(child, "GraphicFill") {
                fill.graphic_fill = self.inner_graphic(child).map(Box::new);
            } else {
                self.unexpected(
                    child,
                    element,
                    &["CssParameter", "SvgParameter", "GraphicFill"],
                );
            }
        }
        fill
    }

    /// The `Graphic` inside `GraphicFill` / `GraphicStroke`.
    fn inner_graphic(&mut self, element: &Element) -> Option<Graphic> {
        let mut graphic = None;
        for child in element.elements() {
            if is(child, "Graphic") {
                graphic = Some(self.graphic(child));
            } else if child.ns.is_style() && matches!(child.name.as_str(), "InitialGap" | "Gap") {
            } else {
                self.unexpected(child, element, &["Graphic"]);
            }
        }
        if graphic.is_none() {
            self.error(
                element.pos,
                format!("<{}> has no <Graphic>", element.display_name()),
                Some("add a <Graphic> with a <Mark> or an <ExternalGraphic>".to_owned()),
            );
        }
        graphic
    }

    fn stroke(&mut self, element: &Element) -> Stroke {
        const KNOWN: &[&str] = &[
            "stroke",
            "stroke-width",
            "stroke-opacity",
            "stroke-linejoin",
            "stroke-linecap",
            "stroke-dasharray",
            "stroke-dashoffset",
        ];
        let mut stroke = Stroke {
            pos: element.pos,
            ..Stroke::default()
        };
        self.stray_text(element);
        for child in element.elements() {
            if let Some(name) = self.parameter_name(child, element) {
                let slot = match name {
                    "stroke" => &mut stroke.color,
                    "stroke-width" => &mut stroke.width,
                    "stroke-opacity" => &mut stroke.opacity,
                    "stroke-linejoin" => &mut stroke.line_join,
                    "stroke-linecap" => &mut stroke.line_cap,
                    "stroke-dasharray" => &mut stroke.dash_array,
                    "stroke-dashoffset" => &mut stroke.dash_offset,
                    _ => {
                        self.unknown_parameter(child, element, name, KNOWN);
                        continue;
                    }
                };
                *slot = self.content(child);
            } else if is(child, "CssParameter") || is(child, "SvgParameter") {
            } else if is(child, "GraphicStroke") {
                stroke.graphic_stroke = self.inner_graphic(child).map(Box::new);
            } else if is(child, "GraphicFill") {
                stroke.graphic_fill = self.inner_graphic(child).map(Box::new);
            } else {
                self.unexpected(
                    child,
                    element,
                    &[
                        "CssParameter",
                        "SvgParameter",
                        "GraphicStroke",
                        "GraphicFill",
                    ],
                );
            }
        }
        stroke
    }

    fn point2(&mut self, element: &Element, kind: &str) -> Option<Point2> {
        let (x_name, y_name) = (format!("{kind}X"), format!("{kind}Y"));
        let (mut x, mut y) = (None, None);
        for child in element.elements() {
            if is(child, &x_name) {
                x = self.content(child);
            } else if is(child, &y_name) {
                y = self.content(child);
            } else {
                self.unexpected(child, element, &[x_name.as_str(), y_name.as_str()]);
            }
        }
        match (x, y) {
            (Some(x), Some(y)) => Some(Point2 {
                x,
                y,
                pos: element.pos,
            }),
            _ => {
                self.error(
                    element.pos,
                    format!(
                        "<{}> needs both <{x_name}> and <{y_name}>",
                        element.display_name()
                    ),
                    Some(format!(
                        "write <{kind}><{x_name}>0</{x_name}><{y_name}>0</{y_name}></{kind}>"
                    )),
                );
                None
            }
        }
    }

    fn graphic(&mut self, element: &Element) -> Graphic {
        let mut graphic = Graphic {
            pos: element.pos,
            ..Graphic::default()
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "Mark" if is(child, "Mark") => {
                    let mark = self.mark(child);
                    graphic.symbols.push(GraphicSymbol::Mark(mark));
                }
                "ExternalGraphic" if is(child, "ExternalGraphic") => {
                    let external = self.external_graphic(child);
                    graphic.symbols.push(GraphicSymbol::External(external));
                }
                "Opacity" if is(child, "Opacity") => graphic.opacity = self.content(child),
                "Size" if is(child, "Size") => graphic.size = self.content(child),
                "Rotation" if is(child, "Rotation") => graphic.rotation = self.content(child),
                "AnchorPoint" if is(child, "AnchorPoint") => {
                    graphic.anchor_point = self.point2(child, "AnchorPoint");
                }
                "Displacement" if is(child, "Displacement") => {
                    graphic.displacement = self.point2(child, "Displacement");
                }
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Mark",
                        "ExternalGraphic",
                        "Opacity",
                        "Size",
                        "Rotation",
                        "AnchorPoint",
                        "Displacement",
                    ],
                ),
            }
        }
        graphic
    }

    fn mark(&mut self, element: &Element) -> Mark {
        let mut mark = Mark {
            well_known_name: None,
            fill: None,
            stroke: None,
            pos: element.pos,
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "WellKnownName" if is(child, "WellKnownName") => {
                    mark.well_known_name = text_of(child).map(|value| Text {
                        value,
                        pos: child.pos,
                    });
                }
                "Fill" if is(child, "Fill") => mark.fill = Some(self.fill(child)),
                "Stroke" if is(child, "Stroke") => mark.stroke = Some(self.stroke(child)),
                "OnlineResource" | "InlineContent" | "Format" | "MarkIndex"
                    if child.ns.is_style() =>
                {
                    self.error(
                        child.pos,
                        format!(
                            "<Mark> with <{}> (a font or file mark) is not supported",
                            child.name
                        ),
                        Some("use a <WellKnownName> or an <ExternalGraphic> SVG".to_owned()),
                    );
                }
                _ => self.unexpected(child, element, &["WellKnownName", "Fill", "Stroke"]),
            }
        }
        mark
    }

    fn external_graphic(&mut self, element: &Element) -> ExternalGraphic {
        let mut external = ExternalGraphic {
            source: GraphicSource::Missing,
            format: None,
            pos: element.pos,
        };
        self.stray_text(element);
        for child in element.elements() {
            match child.name.as_str() {
                "OnlineResource" if is(child, "OnlineResource") => {
                    match child.xlink("href").or_else(|| child.attr("href")) {
                        Some(href) => external.source = GraphicSource::Href(href.trim().to_owned()),
                        None => self.error(
                            child.pos,
                            "<OnlineResource> has no xlink:href attribute",
                            Some(
                                "write <OnlineResource xlink:type=\"simple\" \
                                 xlink:href=\"symbols/icon.svg\"/> with \
                                 xmlns:xlink=\"http://www.w3.org/1999/xlink\""
                                    .to_owned(),
                            ),
                        ),
                    }
                }
                "InlineContent" if is(child, "InlineContent") => {
                    let encoding = child.attr("encoding").unwrap_or("xml").trim().to_owned();
                    let content = if encoding == "base64" {
                        child.text().split_whitespace().collect()
                    } else {
                        child.text().trim().to_owned()
                    };
                    external.source = GraphicSource::Inline { encoding, content };
                }
                "Format" if is(child, "Format") => {
                    external.format = text_of(child).map(|value| Text {
                        value,
                        pos: child.pos,
                    });
                }
                _ => self.unexpected(
                    child,
                    element,
                    &["OnlineResource", "InlineContent", "Format"],
                ),
            }
        }
        external
    }

    fn font(&mut self, element: &Element) -> Font {
        let mut font = Font {
            pos: element.pos,
            ..Font::default()
        };
        self.stray_text(element);
        for child in element.elements() {
            if let Some(name) = self.parameter_name(child, element) {
                match name {
                    "font-family" => font.family.extend(self.content(child)),
                    "font-style" => font.style = self.content(child),
                    "font-weight" => font.weight = self.content(child),
                    "font-size" => font.size = self.content(child),
                    _ => self.unknown_parameter(
                        child,
                        element,
                        name,
                        &["font-family", "font-style", "font-weight", "font-size"],
                    ),
                }
            } else if is(child, "CssParameter") || is(child, "SvgParameter") {
            } else {
                self.unexpected(child, element, &["CssParameter", "SvgParameter"]);
            }
        }
        font
    }

    fn text_symbolizer(&mut self, element: &Element, common: Common) -> TextSymbolizer {
        let mut text = TextSymbolizer {
            common,
            label: None,
            font: None,
            placement: None,
            halo: None,
            fill: None,
            priority: None,
        };
        for child in element.elements() {
            if self.common_child(&mut text.common, child) {
                continue;
            }
            match child.name.as_str() {
                "Label" if is(child, "Label") => text.label = self.content(child),
                "Font" if is(child, "Font") => text.font = Some(self.font(child)),
                "LabelPlacement" if is(child, "LabelPlacement") => {
                    text.placement = self.label_placement(child);
                }
                "Halo" if is(child, "Halo") => {
                    let mut halo = Halo {
                        radius: None,
                        fill: None,
                        pos: child.pos,
                    };
                    for part in child.elements() {
                        if is(part, "Radius") {
                            halo.radius = self.content(part);
                        } else if is(part, "Fill") {
                            halo.fill = Some(self.fill(part));
                        } else {
                            self.unexpected(part, child, &["Radius", "Fill"]);
                        }
                    }
                    text.halo = Some(halo);
                }
                "Fill" if is(child, "Fill") => text.fill = Some(self.fill(child)),
                "Priority" if is(child, "Priority") => text.priority = self.content(child),
                "Graphic" if is(child, "Graphic") => self.warning(
                    child.pos,
                    "label shields (<Graphic> in <TextSymbolizer>) are not drawn",
                    Some("add a PointSymbolizer for the symbol".to_owned()),
                ),
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Name",
                        "Description",
                        "Geometry",
                        "VendorOption",
                        "Label",
                        "Font",
                        "LabelPlacement",
                        "Halo",
                        "Fill",
                        "Priority",
                    ],
                ),
            }
        }
        text
    }

    fn label_placement(&mut self, element: &Element) -> Option<LabelPlacement> {
        let mut placement = None;
        for child in element.elements() {
            if is(child, "PointPlacement") {
                let (mut anchor_point, mut displacement, mut rotation) = (None, None, None);
                for part in child.elements() {
                    if is(part, "AnchorPoint") {
                        anchor_point = self.point2(part, "AnchorPoint");
                    } else if is(part, "Displacement") {
                        displacement = self.point2(part, "Displacement");
                    } else if is(part, "Rotation") {
                        rotation = self.content(part);
                    } else {
                        self.unexpected(part, child, &["AnchorPoint", "Displacement", "Rotation"]);
                    }
                }
                placement = Some(LabelPlacement::Point {
                    anchor_point,
                    displacement,
                    rotation,
                    pos: child.pos,
                });
            } else if is(child, "LinePlacement") {
                let (mut perpendicular_offset, mut repeated, mut aligned) = (None, false, true);
                for part in child.elements() {
                    match part.name.as_str() {
                        "PerpendicularOffset" if part.ns.is_style() => {
                            perpendicular_offset = self.content(part);
                        }
                        "IsRepeated" if part.ns.is_style() => {
                            repeated = text_of(part).is_some_and(|t| t == "true" || t == "1");
                        }
                        "IsAligned" if part.ns.is_style() => {
                            aligned = !text_of(part).is_some_and(|t| t == "false" || t == "0");
                        }
                        "InitialGap" | "Gap" | "GeneralizeLine" if part.ns.is_style() => {}
                        _ => self.unexpected(
                            part,
                            child,
                            &[
                                "PerpendicularOffset",
                                "IsRepeated",
                                "InitialGap",
                                "Gap",
                                "IsAligned",
                                "GeneralizeLine",
                            ],
                        ),
                    }
                }
                placement = Some(LabelPlacement::Line {
                    perpendicular_offset,
                    repeated,
                    aligned,
                    pos: child.pos,
                });
            } else {
                self.unexpected(child, element, &["PointPlacement", "LinePlacement"]);
            }
        }
        placement
    }

    fn raster_symbolizer(&mut self, element: &Element, common: Common) -> RasterSymbolizer {
        let mut raster = RasterSymbolizer {
            common,
            opacity: None,
            channel_selection: None,
            color_map: None,
            contrast_enhancement: None,
        };
        for child in element.elements() {
            if self.common_child(&mut raster.common, child) {
                continue;
            }
            match child.name.as_str() {
                "Opacity" if is(child, "Opacity") => raster.opacity = self.content(child),
                "ChannelSelection" if is(child, "ChannelSelection") => {
                    raster.channel_selection = self.channel_selection(child);
                }
                "ColorMap" if is(child, "ColorMap") => {
                    raster.color_map = Some(self.color_map(child));
                }
                "ContrastEnhancement" if is(child, "ContrastEnhancement") => {
                    raster.contrast_enhancement = Some(self.contrast(child));
                }
                "OverlapBehavior" if child.ns.is_style() => {}
                "ShadedRelief" | "ImageOutline" if child.ns.is_style() => self.warning(
                    child.pos,
                    format!("<{}> is not supported and is ignored", child.display_name()),
                    Some("remove it".to_owned()),
                ),
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "Name",
                        "Description",
                        "Geometry",
                        "VendorOption",
                        "Opacity",
                        "ChannelSelection",
                        "OverlapBehavior",
                        "ColorMap",
                        "ContrastEnhancement",
                        "ShadedRelief",
                        "ImageOutline",
                    ],
                ),
            }
        }
        raster
    }

    fn contrast(&mut self, element: &Element) -> ContrastEnhancement {
        let mut contrast = ContrastEnhancement {
            method: None,
            gamma: None,
            pos: element.pos,
        };
        for child in element.elements() {
            match child.name.as_str() {
                "Normalize" if is(child, "Normalize") => {
                    contrast.method = Some(ContrastMethod::Normalize);
                }
                "Histogram" if is(child, "Histogram") => {
                    contrast.method = Some(ContrastMethod::Histogram);
                }
                "GammaValue" if is(child, "GammaValue") => {
                    contrast.gamma = self.number(child, "GammaValue");
                }
                _ => self.unexpected(child, element, &["Normalize", "Histogram", "GammaValue"]),
            }
        }
        contrast
    }

    fn number(&mut self, element: &Element, what: &str) -> Option<f64> {
        let text = element.text();
        let parsed = text.trim().parse::<f64>().ok().filter(|n| !n.is_nan());
        if parsed.is_none() {
            self.error(
                element.pos,
                format!("{what} must be a number, got '{}'", shorten(text.trim())),
                Some("write a plain decimal number such as 1.5".to_owned()),
            );
        }
        parsed
    }

    fn channel_selection(&mut self, element: &Element) -> Option<ChannelSelection> {
        let (mut red, mut green, mut blue, mut gray) = (None, None, None, None);
        for child in element.elements() {
            let slot = match child.name.as_str() {
                "RedChannel" if child.ns.is_style() => &mut red,
                "GreenChannel" if child.ns.is_style() => &mut green,
                "BlueChannel" if child.ns.is_style() => &mut blue,
                "GrayChannel" if child.ns.is_style() => &mut gray,
                _ => {
                    self.unexpected(
                        child,
                        element,
                        &["RedChannel", "GreenChannel", "BlueChannel", "GrayChannel"],
                    );
                    continue;
                }
            };
            let mut channel = SelectedChannel {
                name: String::new(),
                contrast_enhancement: None,
                pos: child.pos,
            };
            for part in child.elements() {
                if is(part, "SourceChannelName") {
                    channel.name = text_of(part).unwrap_or_default();
                } else if is(part, "ContrastEnhancement") {
                    channel.contrast_enhancement = Some(self.contrast(part));
                } else {
                    self.unexpected(part, child, &["SourceChannelName", "ContrastEnhancement"]);
                }
            }
            if channel.name.is_empty() {
                self.error(
                    child.pos,
                    format!("<{}> has no <SourceChannelName>", child.display_name()),
                    Some("name the band, e.g. <SourceChannelName>1</SourceChannelName>".to_owned()),
                );
            }
            *slot = Some(channel);
        }
        match (red, green, blue, gray) {
            (Some(red), Some(green), Some(blue), None) => {
                Some(ChannelSelection::Rgb { red, green, blue })
            }
            (None, None, None, Some(gray)) => Some(ChannelSelection::Gray(gray)),
            _ => {
                self.error(
                    element.pos,
                    "<ChannelSelection> needs either a <GrayChannel> or all three of \
                     <RedChannel>, <GreenChannel> and <BlueChannel>",
                    Some("write <GrayChannel><SourceChannelName>1</SourceChannelName></GrayChannel> for one band, or the three colour channels".to_owned()),
                );
                None
            }
        }
    }

    fn color_map(&mut self, element: &Element) -> ColorMap {
        let kind = match element.attr("type").map(str::trim) {
            None | Some("ramp") => ColorMapKind::Ramp,
            Some("intervals") => ColorMapKind::Intervals,
            Some("values") => ColorMapKind::Values,
            Some(other) => {
                self.error(
                    element.pos,
                    format!("unknown ColorMap type '{other}'"),
                    Some("use type=\"ramp\", \"intervals\" or \"values\"".to_owned()),
                );
                ColorMapKind::Ramp
            }
        };
        let mut map = ColorMap {
            kind,
            entries: Vec::new(),
            extended: element.attr("extended").is_some_and(|t| t.trim() == "true"),
            pos: element.pos,
        };
        for child in element.elements() {
            match child.name.as_str() {
                "ColorMapEntry" if is(child, "ColorMapEntry") => {
                    if let Some(entry) = self.color_map_entry(child) {
                        map.entries.push(entry);
                    }
                }
                "Categorize" if is(child, "Categorize") => {
                    map.kind = ColorMapKind::Intervals;
                    self.se_color_map(child, &mut map, "Threshold", true);
                }
                "Interpolate" if is(child, "Interpolate") => {
                    map.kind = ColorMapKind::Ramp;
                    self.se_color_map(child, &mut map, "InterpolationPoint", false);
                }
                _ => self.unexpected(
                    child,
                    element,
                    &["ColorMapEntry", "Categorize", "Interpolate"],
                ),
            }
        }
        map
    }

    fn color_map_entry(&mut self, element: &Element) -> Option<ColorMapEntry> {
        let Some(color) = element.attr("color") else {
            self.error(
                element.pos,
                "<ColorMapEntry> has no color attribute",
                Some("write <ColorMapEntry color=\"#RRGGBB\" quantity=\"…\"/>".to_owned()),
            );
            return None;
        };
        let quantity = match element.attr("quantity").map(str::trim) {
            None => {
                self.error(
                    element.pos,
                    "<ColorMapEntry> has no quantity attribute",
                    Some("add quantity=\"…\" (the pixel value this colour applies to)".to_owned()),
                );
                return None;
            }
            Some(text) => match text.parse::<f64>() {
                Ok(n) if !n.is_nan() => n,
                _ => {
                    self.error(
                        element.pos,
                        format!("ColorMapEntry quantity must be a number, got '{text}'"),
                        Some("write a plain number such as quantity=\"100.5\"".to_owned()),
                    );
                    return None;
                }
            },
        };
        let opacity = match element.attr("opacity").map(str::trim) {
            None => None,
            Some(text) => match text.parse::<f64>() {
                Ok(n) if (0.0..=1.0).contains(&n) => Some(n),
                _ => {
                    self.error(
                        element.pos,
                        format!("ColorMapEntry opacity must be a number from 0 to 1, got '{text}'"),
                        Some(
                            "write opacity=\"0\" (transparent) to opacity=\"1\" (opaque)"
                                .to_owned(),
                        ),
                    );
                    None
                }
            },
        };
        Some(ColorMapEntry {
            color: color.trim().to_owned(),
            opacity,
            quantity,
            label: element.attr("label").map(str::to_owned),
            pos: element.pos,
        })
    }

    /// SE `Categorize` (Value, Threshold, Value…) or `Interpolate` (InterpolationPoint: Data,
    /// Value) inside a `ColorMap`, turned into entries.
    fn se_color_map(&mut self, element: &Element, map: &mut ColorMap, _: &str, categorize: bool) {
        let mut pending_color: Option<(String, Pos)> = None;
        let mut threshold: Option<f64> = None;
        for child in element.elements() {
            match child.name.as_str() {
                "LookupValue" if child.ns.is_style() => {}
                "Value" if categorize && child.ns.is_style() => {
                    let color = text_of(child).unwrap_or_default();
                    if let Some((previous, pos)) = pending_color.take() {
                        // The previous value colours everything below this threshold.
                        map.entries.push(ColorMapEntry {
                            color: previous,
                            opacity: None,
                            quantity: threshold.unwrap_or(f64::NEG_INFINITY),
                            label: None,
                            pos,
                        });
                    }
                    pending_color = Some((color, child.pos));
                }
                "Threshold" if categorize && child.ns.is_style() => {
                    threshold = self.number(child, "Threshold");
                    if let (Some((color, pos)), Some(t)) = (pending_color.take(), threshold) {
                        map.entries.push(ColorMapEntry {
                            color,
                            opacity: None,
                            quantity: t,
                            label: None,
                            pos,
                        });
                    }
                }
                "InterpolationPoint" if !categorize && child.ns.is_style() => {
                    let (mut data, mut value) = (None, None);
                    for part in child.elements() {
                        if is(part, "Data") {
                            data = self.number(part, "Data");
                        } else if is(part, "Value") {
                            value = text_of(part);
                        } else {
                            self.unexpected(part, child, &["Data", "Value"]);
                        }
                    }
                    if let (Some(quantity), Some(color)) = (data, value) {
                        map.entries.push(ColorMapEntry {
                            color,
                            opacity: None,
                            quantity,
                            label: None,
                            pos: child.pos,
                        });
                    }
                }
                _ => self.unexpected(
                    child,
                    element,
                    if categorize {
                        &["LookupValue", "Value", "Threshold"]
                    } else {
                        &["LookupValue", "InterpolationPoint"]
                    },
                ),
            }
        }
        if let Some((color, pos)) = pending_color {
            map.entries.push(ColorMapEntry {
                color,
                opacity: None,
                quantity: f64::INFINITY,
                label: None,
                pos,
            });
        }
    }

    // ---- expressions ----

    /// The expression an element's content holds: plain text, one expression element, or
    /// mixed content (concatenated). `None` when empty.
    fn content(&mut self, element: &Element) -> Option<Expression> {
        let mut parts = Vec::new();
        let count = element.children.len();
        for (index, node) in element.children.iter().enumerate() {
            match node {
                Node::Text { text, cdata, pos } => {
                    if text.trim().is_empty() && !cdata {
                        continue;
                    }
                    let mut value = text.as_str();
                    if !cdata {
                        if index == 0 {
                            value = value.trim_start();
                        }
                        if index + 1 == count {
                            value = value.trim_end();
                        }
                    }
                    parts.push(Expression::Literal {
                        value: value.to_owned(),
                        pos: *pos,
                    });
                }
                Node::Element(child) => parts.push(self.expression(child)),
            }
        }
        match parts.len() {
            0 => None,
            1 => {
                let part = parts.pop()?;
                Some(match part {
                    Expression::Literal { value, pos } => Expression::Literal {
                        value: value.trim().to_owned(),
                        pos: if element.children.len() == 1 {
                            element.pos
                        } else {
                            pos
                        },
                    },
                    other => other,
                })
            }
            _ => Some(Expression::Concat {
                parts,
                pos: element.pos,
            }),
        }
    }

    /// Child elements as expressions (function arguments, operands).
    fn operands(&mut self, element: &Element) -> Vec<Expression> {
        element
            .elements()
            .map(|child| self.expression(child))
            .collect()
    }

    fn expression(&mut self, element: &Element) -> Expression {
        let pos = element.pos;
        let name = element.name.as_str();
        let expression_ns = element.ns.is_filter() || element.ns.is_style();
        if !expression_ns {
            self.unexpected(element, element, &[]);
            return Expression::Literal {
                value: String::new(),
                pos,
            };
        }
        match name {
            "Literal" => Expression::Literal {
                value: if element.elements().next().is_some() {
                    self.error(
                        pos,
                        "<Literal> holds elements",
                        Some("a Literal holds text only".to_owned()),
                    );
                    String::new()
                } else {
                    element.text().trim().to_owned()
                },
                pos,
            },
            "PropertyName" | "ValueReference" => {
                let text = element.text();
                let text = text.trim();
                if text.is_empty() {
                    self.error(
                        pos,
                        format!("<{}> is empty", element.display_name()),
                        Some("write the attribute's name inside it".to_owned()),
                    );
                }
                // `topp:name` and `@name` are the attribute `name`.
                let name = text
                    .rsplit(':')
                    .next()
                    .unwrap_or(text)
                    .trim_start_matches('@');
                Expression::Property {
                    name: name.to_owned(),
                    pos,
                }
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let op = match name {
                    "Add" => ArithmeticOp::Add,
                    "Sub" => ArithmeticOp::Sub,
                    "Mul" => ArithmeticOp::Mul,
                    _ => ArithmeticOp::Div,
                };
                let mut operands = self.operands(element);
                if operands.len() != 2 {
                    self.error(
                        pos,
                        format!(
                            "<{}> needs exactly two operands, got {}",
                            element.display_name(),
                            operands.len()
                        ),
                        Some("write two expressions inside it, e.g. <ogc:PropertyName>a</ogc:PropertyName><ogc:Literal>2</ogc:Literal>".to_owned()),
                    );
                    return Expression::Literal {
                        value: String::new(),
                        pos,
                    };
                }
                let right = operands.pop().map(Box::new);
                let left = operands.pop().map(Box::new);
                match (left, right) {
                    (Some(left), Some(right)) => Expression::Arithmetic {
                        op,
                        left,
                        right,
                        pos,
                    },
                    _ => Expression::Literal {
                        value: String::new(),
                        pos,
                    },
                }
            }
            "Function" => {
                let Some(function) = element.attr("name") else {
                    self.error(
                        pos,
                        "<Function> has no name attribute",
                        Some("write <ogc:Function name=\"strToUpperCase\">…".to_owned()),
                    );
                    return Expression::Literal {
                        value: String::new(),
                        pos,
                    };
                };
                Expression::Function {
                    name: function.trim().to_owned(),
                    args: self.operands(element),
                    pos,
                }
            }
            "Categorize" | "Interpolate" | "Recode" if element.ns.is_style() => {
                self.se_function(element)
            }
            "Concatenate" if element.ns.is_style() => {
                let mut args = Vec::new();
                for child in element.elements() {
                    if is(child, "StringValue") {
                        args.extend(self.content(child));
                    } else {
                        self.unexpected(child, element, &["StringValue"]);
                    }
                }
                Expression::Function {
                    name: "Concatenate".to_owned(),
                    args,
                    pos,
                }
            }
            "ChangeCase" | "Trim" | "StringLength" if element.ns.is_style() => {
                let function = match (name, element.attr("direction")) {
                    ("ChangeCase", Some("toLower")) => "strToLowerCase",
                    ("ChangeCase", _) => "strToUpperCase",
                    ("Trim", _) => "strTrim",
                    _ => "strLength",
                };
                let mut args = Vec::new();
                for child in element.elements() {
                    if is(child, "StringValue") {
                        args.extend(self.content(child));
                    } else {
                        self.unexpected(child, element, &["StringValue"]);
                    }
                }
                Expression::Function {
                    name: function.to_owned(),
                    args,
                    pos,
                }
            }
            "FormatNumber" if element.ns.is_style() => {
                let (mut number, mut pattern) = (None, None);
                for child in element.elements() {
                    if is(child, "NumericValue") {
                        number = self.content(child);
                    } else if is(child, "Pattern") {
                        pattern = self.content(child);
                    } else {
                        self.unexpected(child, element, &["NumericValue", "Pattern"]);
                    }
                }
                Expression::Function {
                    name: "numberFormat".to_owned(),
                    args: pattern.into_iter().chain(number).collect(),
                    pos,
                }
            }
            _ => {
                self.error(
                    pos,
                    format!("<{}> is not an expression", element.display_name()),
                    Some(
                        "use ogc:Literal, ogc:PropertyName, ogc:Function, ogc:Add/Sub/Mul/Div \
                         or an SE function (Categorize, Interpolate, Recode, Concatenate, \
                         FormatNumber, ChangeCase, Trim, StringLength)"
                            .to_owned(),
                    ),
                );
                Expression::Literal {
                    value: String::new(),
                    pos,
                }
            }
        }
    }

    /// SE `Categorize` / `Interpolate` / `Recode` as GeoServer's functions of the same names.
    fn se_function(&mut self, element: &Element) -> Expression {
        let mut args = Vec::new();
        let mut lookup = None;
        for child in element.elements() {
            match child.name.as_str() {
                "LookupValue" if child.ns.is_style() => lookup = self.content(child),
                "Value" | "Threshold" if child.ns.is_style() => args.extend(self.content(child)),
                "InterpolationPoint" | "MapItem" if child.ns.is_style() => {
                    for part in child.elements() {
                        if is(part, "Data") || is(part, "Value") {
                            args.extend(self.content(part));
                        } else {
                            self.unexpected(part, child, &["Data", "Value"]);
                        }
                    }
                }
                _ => self.unexpected(
                    child,
                    element,
                    &[
                        "LookupValue",
                        "Value",
                        "Threshold",
                        "InterpolationPoint",
                        "MapItem",
                    ],
                ),
            }
        }
        let Some(lookup) = lookup else {
            self.error(
                element.pos,
                format!("<{}> has no <LookupValue>", element.display_name()),
                Some(
                    "add <se:LookupValue><ogc:PropertyName>…</ogc:PropertyName></se:LookupValue>"
                        .to_owned(),
                ),
            );
            return Expression::Literal {
                value: String::new(),
                pos: element.pos,
            };
        };
        args.insert(0, lookup);
        match element.name.as_str() {
            "Categorize"
                if element
                    .attr("threshholdsBelongTo")
                    .or_else(|| element.attr("thresholdsBelongTo"))
                    == Some("preceding") =>
            {
                args.push(Expression::literal("preceding"));
            }
            "Interpolate" => {
                args.push(Expression::literal(
                    element.attr("method").unwrap_or("numeric"),
                ));
                args.push(Expression::literal(
                    element.attr("mode").unwrap_or("linear"),
                ));
            }
            _ => {}
        }
        Expression::Function {
            name: element.name.clone(),
            args,
            pos: element.pos,
        }
    }

    // ---- filters ----

    fn filter(&mut self, element: &Element) -> Filter {
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

    fn filter_op(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        if !element.ns.is_filter() {
            self.unexpected(element, element, &[]);
            return Filter::Invalid { pos };
        }
        let match_case = !element
            .attr("matchCase")
            .is_some_and(|t| matches!(t.trim(), "false" | "0"));
        let name = element.name.as_str();
        if let Some(op) = CompareOp::from_element(name) {
            let mut operands = self.operands(element);
            if operands.len() != 2 {
                self.error(
                    pos,
                    format!(
                        "<{}> needs two operands (a PropertyName and a Literal), got {}",
                        element.display_name(),
                        operands.len()
                    ),
                    Some(format!(
                        "write <{0}><ogc:PropertyName>attribute</ogc:PropertyName><ogc:Literal>\
                         value</ogc:Literal></{0}>",
                        element.display_name()
                    )),
                );
                return Filter::Invalid { pos };
            }
            let (Some(right), Some(left)) = (operands.pop(), operands.pop()) else {
                return Filter::Invalid { pos };
            };
            return Filter::Compare {
                op,
                left,
                right,
                match_case,
                pos,
            };
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
            "Not" => {
                let mut filters: Vec<Filter> =
                    element.elements().map(|c| self.filter_op(c)).collect();
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
            "PropertyIsLike" => {
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
                            "<{}> needs the attributes wildCard, singleChar and escapeChar, \
                             each one character (missing or wrong: {})",
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
                    match_case,
                    pos,
                }
            }
            "PropertyIsNull" | "PropertyIsNil" => {
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
                                "write <ogc:PropertyName>attribute</ogc:PropertyName> inside it"
                                    .to_owned(),
                            ),
                        );
                        Filter::Invalid { pos }
                    }
                }
            }
            "PropertyIsBetween" => {
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
                                "<{}> needs a PropertyName, a <LowerBoundary> and an \
                                 <UpperBoundary>",
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
            "FeatureId" | "GmlObjectId" | "ResourceId" => Filter::Id {
                ids: self.id_of(element).into_iter().collect(),
                pos,
            },
            "BBOX" => self.bbox(element),
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
                const KNOWN: &[&str] = &[
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
                let hint = did_you_mean(name, KNOWN).map_or_else(
                    || format!("the filters allowed in styles are: {}", KNOWN.join(", ")),
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

    fn bbox(&mut self, element: &Element) -> Filter {
        let pos = element.pos;
        let mut property = None;
        let mut envelope = None;
        let mut crs = None;
        for child in element.elements() {
            if is_filter(child, "PropertyName") || is_filter(child, "ValueReference") {
                if let Expression::Property { name, .. } = self.expression(child) {
                    property = Some(name);
                }
            } else if matches!(child.name.as_str(), "Box" | "Envelope") {
                crs = child.attr("srsName").map(str::to_owned);
                let mut numbers = Vec::new();
                for part in child.elements() {
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
                    Some(&[x1, y1, x2, y2]) if x1 <= x2 && y1 <= y2 => {
                        envelope = Some([x1, y1, x2, y2]);
                    }
                    _ => self.error(
                        child.pos,
                        "the envelope of a BBOX needs four numbers, lower corner first",
                        Some(
                            "write <gml:Envelope><gml:lowerCorner>xmin ymin</gml:lowerCorner>\
                             <gml:upperCorner>xmax ymax</gml:upperCorner></gml:Envelope>"
                                .to_owned(),
                        ),
                    ),
                }
            } else {
                self.unexpected(child, element, &["PropertyName", "Envelope", "Box"]);
            }
        }
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
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        let mut short: String = text.chars().take(40).collect();
        short.push('…');
        short
    } else {
        text.to_owned()
    }
}
