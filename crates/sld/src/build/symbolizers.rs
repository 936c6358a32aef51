//! What a rule draws for vector features: the point, line, polygon and text symbolizers, and
//! the pieces they are made of (fill, stroke, graphic, mark, font, halo, label placement).
//! The raster symbolizer is in `raster`; the children every symbolizer shares are here.

use super::{text_at, text_of, Builder};
use crate::model::{
    Common, ExternalGraphic, Fill, Font, Graphic, GraphicSource, GraphicSymbol, Halo,
    LabelPlacement, LineSymbolizer, Mark, Point2, PointSymbolizer, PolygonSymbolizer, Stroke,
    Symbolizer, TextSymbolizer,
};
use crate::suggest::did_you_mean;
use crate::value::Uom;
use crate::xml::Element;

/// The children every symbolizer may have, before its own.
const COMMON_CHILDREN: [&str; 4] = ["Name", "Description", "Geometry", "VendorOption"];

impl Builder {
    /// A symbolizer, or `None` when `element` is not one.
    pub(super) fn symbolizer(&mut self, element: &Element) -> Option<Symbolizer> {
        let common = self.common(element);
        self.stray_text(element);
        Some(match element.name.as_str() {
            "PointSymbolizer" => Symbolizer::Point(self.point_symbolizer(element, common)),
            "LineSymbolizer" => Symbolizer::Line(self.line_symbolizer(element, common)),
            "PolygonSymbolizer" => Symbolizer::Polygon(self.polygon_symbolizer(element, common)),
            "TextSymbolizer" => Symbolizer::Text(self.text_symbolizer(element, common)),
            "RasterSymbolizer" => Symbolizer::Raster(self.raster_symbolizer(element, common)),
            _ => return None,
        })
    }

    /// What every symbolizer has: its unit of measure, and (filled by
    /// [`Builder::symbolizer_children`]) its name, geometry and vendor options.
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

    /// The children of a symbolizer: those every symbolizer may have go to `common`, the others
    /// to `take`; `own` names the symbolizer's own children, for the hint of unexpected ones.
    pub(super) fn symbolizer_children<'e>(
        &mut self,
        element: &'e Element,
        common: &mut Common,
        own: &[&str],
        mut take: impl FnMut(&mut Self, &'e Element) -> bool,
    ) {
        let expected = [COMMON_CHILDREN.as_slice(), own].concat();
        self.style_children(element, &expected, |builder, child| {
            builder.common_child(common, child) || take(builder, child)
        });
    }

    /// Handles the children every symbolizer may have (`child` is a style element); false when
    /// it is not one of them.
    fn common_child(&mut self, common: &mut Common, child: &Element) -> bool {
        match child.name.as_str() {
            "Name" => common.name = text_of(child),
            "Description" => {}
            "Geometry" => common.geometry = self.content(child),
            "VendorOption" => common.vendor_options.push(self.vendor_option(child)),
            _ => return false,
        }
        true
    }

    fn point_symbolizer(&mut self, element: &Element, common: Common) -> PointSymbolizer {
        let mut point = PointSymbolizer {
            common,
            graphic: None,
        };
        let own = ["Graphic"];
        self.symbolizer_children(element, &mut point.common, &own, |builder, child| {
            let graphic = child.name == "Graphic";
            if graphic {
                point.graphic = Some(builder.graphic(child));
            }
            graphic
        });
        point
    }

    fn line_symbolizer(&mut self, element: &Element, common: Common) -> LineSymbolizer {
        let mut line = LineSymbolizer {
            common,
            stroke: None,
            perpendicular_offset: None,
        };
        let own = ["Stroke", "PerpendicularOffset"];
        self.symbolizer_children(element, &mut line.common, &own, |builder, child| {
            match child.name.as_str() {
                "Stroke" => line.stroke = Some(builder.stroke(child)),
                "PerpendicularOffset" => line.perpendicular_offset = builder.content(child),
                _ => return false,
            }
            true
        });
        line
    }

    fn polygon_symbolizer(&mut self, element: &Element, common: Common) -> PolygonSymbolizer {
        let mut polygon = PolygonSymbolizer {
            common,
            fill: None,
            stroke: None,
            displacement: None,
            perpendicular_offset: None,
        };
        let own = ["Fill", "Stroke", "Displacement", "PerpendicularOffset"];
        self.symbolizer_children(element, &mut polygon.common, &own, |builder, child| {
            match child.name.as_str() {
                "Fill" => polygon.fill = Some(builder.fill(child)),
                "Stroke" => polygon.stroke = Some(builder.stroke(child)),
                "Displacement" => polygon.displacement = builder.point2(child, "Displacement"),
                "PerpendicularOffset" => polygon.perpendicular_offset = builder.content(child),
                _ => return false,
            }
            true
        });
        polygon
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
        let own = [
            "Label",
            "Font",
            "LabelPlacement",
            "Halo",
            "Fill",
            "Priority",
        ];
        self.symbolizer_children(element, &mut text.common, &own, |builder, child| {
            match child.name.as_str() {
                "Label" => text.label = builder.content(child),
                "Font" => text.font = Some(builder.font(child)),
                "LabelPlacement" => text.placement = builder.label_placement(child),
                "Halo" => text.halo = Some(builder.halo(child)),
                "Fill" => text.fill = Some(builder.fill(child)),
                "Priority" => text.priority = builder.content(child),
                "Graphic" => builder.warning(
                    child.pos,
                    "label shields (<Graphic> in <TextSymbolizer>) are not drawn",
                    Some("add a PointSymbolizer for the symbol".to_owned()),
                ),
                _ => return false,
            }
            true
        });
        text
    }

    /// The children of a `Fill`, `Stroke` or `Font`: its `CssParameter`s / `SvgParameter`s,
    /// and the elements named in `others`. `take` gets each parameter with its name and each
    /// other child with `None`. What it does not take is reported: a parameter as unknown
    /// (the parameters of the element are `known`), any other child as unexpected. A parameter
    /// without a name is reported here and not handed on.
    fn parameter_children<'e>(
        &mut self,
        element: &'e Element,
        known: &[&str],
        others: &[&str],
        mut take: impl FnMut(&mut Self, &'e Element, Option<&'e str>) -> bool,
    ) {
        let expected = [["CssParameter", "SvgParameter"].as_slice(), others].concat();
        self.style_children(element, &expected, |builder, child| {
            if !matches!(child.name.as_str(), "CssParameter" | "SvgParameter") {
                return take(builder, child, None);
            }
            if let Some(name) = builder.parameter_name(child, element) {
                if !take(builder, child, Some(name)) {
                    builder.unknown_parameter(child, element, name, known);
                }
            }
            true
        });
    }

    /// The `name` of a `CssParameter` / `SvgParameter`; `None` (reported) when it has none.
    fn parameter_name<'a>(&mut self, child: &'a Element, parent: &Element) -> Option<&'a str> {
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
        let known = ["fill", "fill-opacity"];
        self.parameter_children(element, &known, &["GraphicFill"], |builder, child, name| {
            match name {
                Some("fill") => fill.color = builder.content(child),
                Some("fill-opacity") => fill.opacity = builder.content(child),
                None if child.name == "GraphicFill" => {
                    fill.graphic_fill = builder.inner_graphic(child).map(Box::new);
                }
                _ => return false,
            }
            true
        });
        fill
    }

    fn stroke(&mut self, element: &Element) -> Stroke {
        let mut stroke = Stroke {
            pos: element.pos,
            ..Stroke::default()
        };
        self.stray_text(element);
        let known = [
            "stroke",
            "stroke-width",
            "stroke-opacity",
            "stroke-linejoin",
            "stroke-linecap",
            "stroke-dasharray",
            "stroke-dashoffset",
        ];
        let others = ["GraphicStroke", "GraphicFill"];
        self.parameter_children(element, &known, &others, |builder, child, name| {
            let slot = match name {
                Some("stroke") => &mut stroke.color,
                Some("stroke-width") => &mut stroke.width,
                Some("stroke-opacity") => &mut stroke.opacity,
                Some("stroke-linejoin") => &mut stroke.line_join,
                Some("stroke-linecap") => &mut stroke.line_cap,
                Some("stroke-dasharray") => &mut stroke.dash_array,
                Some("stroke-dashoffset") => &mut stroke.dash_offset,
                Some(_) => return false,
                None => {
                    let slot = match child.name.as_str() {
                        "GraphicStroke" => &mut stroke.graphic_stroke,
                        "GraphicFill" => &mut stroke.graphic_fill,
                        _ => return false,
                    };
                    *slot = builder.inner_graphic(child).map(Box::new);
                    return true;
                }
            };
            *slot = builder.content(child);
            true
        });
        stroke
    }

    fn font(&mut self, element: &Element) -> Font {
        let mut font = Font {
            pos: element.pos,
            ..Font::default()
        };
        self.stray_text(element);
        let known = ["font-family", "font-style", "font-weight", "font-size"];
        self.parameter_children(element, &known, &[], |builder, child, name| {
            match name {
                Some("font-family") => font.family.extend(builder.content(child)),
                Some("font-style") => font.style = builder.content(child),
                Some("font-weight") => font.weight = builder.content(child),
                Some("font-size") => font.size = builder.content(child),
                _ => return false,
            }
            true
        });
        font
    }

    /// The `Graphic` inside `GraphicFill` / `GraphicStroke`.
    fn inner_graphic(&mut self, element: &Element) -> Option<Graphic> {
        let mut graphic = None;
        self.style_children(element, &["Graphic"], |builder, child| {
            match child.name.as_str() {
                "Graphic" => graphic = Some(builder.graphic(child)),
                "InitialGap" | "Gap" => {}
                _ => return false,
            }
            true
        });
        if graphic.is_none() {
            self.error(
                element.pos,
                format!("<{}> has no <Graphic>", element.display_name()),
                Some("add a <Graphic> with a <Mark> or an <ExternalGraphic>".to_owned()),
            );
        }
        graphic
    }

    /// A point given by its `{kind}X` and `{kind}Y` children (`AnchorPoint`, `Displacement`).
    fn point2(&mut self, element: &Element, kind: &str) -> Option<Point2> {
        let (x_name, y_name) = (format!("{kind}X"), format!("{kind}Y"));
        let (mut x, mut y) = (None, None);
        let expected = [x_name.as_str(), y_name.as_str()];
        self.style_children(element, &expected, |builder, child| {
            if child.name == x_name {
                x = builder.content(child);
            } else if child.name == y_name {
                y = builder.content(child);
            } else {
                return false;
            }
            true
        });
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
        let expected = [
            "Mark",
            "ExternalGraphic",
            "Opacity",
            "Size",
            "Rotation",
            "AnchorPoint",
            "Displacement",
        ];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "Mark" => {
                    let mark = builder.mark(child);
                    graphic.symbols.push(GraphicSymbol::Mark(mark));
                }
                "ExternalGraphic" => {
                    let external = builder.external_graphic(child);
                    graphic.symbols.push(GraphicSymbol::External(external));
                }
                "Opacity" => graphic.opacity = builder.content(child),
                "Size" => graphic.size = builder.content(child),
                "Rotation" => graphic.rotation = builder.content(child),
                "AnchorPoint" => graphic.anchor_point = builder.point2(child, "AnchorPoint"),
                "Displacement" => graphic.displacement = builder.point2(child, "Displacement"),
                _ => return false,
            }
            true
        });
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
        let expected = ["WellKnownName", "Fill", "Stroke"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "WellKnownName" => mark.well_known_name = text_at(child),
                "Fill" => mark.fill = Some(builder.fill(child)),
                "Stroke" => mark.stroke = Some(builder.stroke(child)),
                "OnlineResource" | "InlineContent" | "Format" | "MarkIndex" => builder.error(
                    child.pos,
                    format!(
                        "<Mark> with <{}> (a font or file mark) is not supported",
                        child.name
                    ),
                    Some("use a <WellKnownName> or an <ExternalGraphic> SVG".to_owned()),
                ),
                _ => return false,
            }
            true
        });
        mark
    }

    fn external_graphic(&mut self, element: &Element) -> ExternalGraphic {
        let mut external = ExternalGraphic {
            source: GraphicSource::Missing,
            format: None,
            pos: element.pos,
        };
        self.stray_text(element);
        let expected = ["OnlineResource", "InlineContent", "Format"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "OnlineResource" => match child.xlink("href").or_else(|| child.attr("href")) {
                    Some(href) => external.source = GraphicSource::Href(href.trim().to_owned()),
                    None => builder.error(
                        child.pos,
                        "<OnlineResource> has no xlink:href attribute",
                        Some(
                            "write <OnlineResource xlink:type=\"simple\" \
                             xlink:href=\"symbols/icon.svg\"/> with \
                             xmlns:xlink=\"http://www.w3.org/1999/xlink\""
                                .to_owned(),
                        ),
                    ),
                },
                "InlineContent" => {
                    let encoding = child.attr("encoding").unwrap_or("xml").trim().to_owned();
                    let content = if encoding == "base64" {
                        child.text().split_whitespace().collect()
                    } else {
                        child.text().trim().to_owned()
                    };
                    external.source = GraphicSource::Inline { encoding, content };
                }
                "Format" => external.format = text_at(child),
                _ => return false,
            }
            true
        });
        external
    }

    fn halo(&mut self, element: &Element) -> Halo {
        let mut halo = Halo {
            radius: None,
            fill: None,
            pos: element.pos,
        };
        self.style_children(element, &["Radius", "Fill"], |builder, child| {
            match child.name.as_str() {
                "Radius" => halo.radius = builder.content(child),
                "Fill" => halo.fill = Some(builder.fill(child)),
                _ => return false,
            }
            true
        });
        halo
    }

    fn label_placement(&mut self, element: &Element) -> Option<LabelPlacement> {
        let mut placement = None;
        let expected = ["PointPlacement", "LinePlacement"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "PointPlacement" => placement = Some(builder.point_placement(child)),
                "LinePlacement" => placement = Some(builder.line_placement(child)),
                _ => return false,
            }
            true
        });
        placement
    }

    fn point_placement(&mut self, element: &Element) -> LabelPlacement {
        let (mut anchor_point, mut displacement, mut rotation) = (None, None, None);
        let expected = ["AnchorPoint", "Displacement", "Rotation"];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "AnchorPoint" => anchor_point = builder.point2(child, "AnchorPoint"),
                "Displacement" => displacement = builder.point2(child, "Displacement"),
                "Rotation" => rotation = builder.content(child),
                _ => return false,
            }
            true
        });
        LabelPlacement::Point {
            anchor_point,
            displacement,
            rotation,
            pos: element.pos,
        }
    }

    fn line_placement(&mut self, element: &Element) -> LabelPlacement {
        let (mut perpendicular_offset, mut repeated, mut aligned) = (None, false, true);
        let expected = [
            "PerpendicularOffset",
            "IsRepeated",
            "InitialGap",
            "Gap",
            "IsAligned",
            "GeneralizeLine",
        ];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "PerpendicularOffset" => perpendicular_offset = builder.content(child),
                "IsRepeated" => repeated = text_of(child).is_some_and(|t| t == "true" || t == "1"),
                "IsAligned" => aligned = !text_of(child).is_some_and(|t| t == "false" || t == "0"),
                "InitialGap" | "Gap" | "GeneralizeLine" => {}
                _ => return false,
            }
            true
        });
        LabelPlacement::Line {
            perpendicular_offset,
            repeated,
            aligned,
            pos: element.pos,
        }
    }
}
