//! The structure of a style, from `StyledLayerDescriptor` down to `Rule`: which layer, which
//! styles, which rules and when they apply. What a rule draws is in `symbolizers` and
//! `raster`, when it applies is in `filters`.

use super::{is, is_filter, shorten, text_at, text_of, Builder};
use crate::model::{FeatureTypeStyle, NamedLayer, Rule, Sld, UserStyle, Version};
use crate::xml::Element;

/// The descriptive children of a `UserStyle`, a `Rule` (and a `FeatureTypeStyle`, which
/// keeps only its name).
const DESCRIPTION: [&str; 4] = ["Name", "Title", "Abstract", "Description"];

/// The descriptive children of a `UserStyle` or a `Rule`: `Name`, `Title`, `Abstract`, and SE's
/// `Description` (its `Title` and `Abstract`). False when `child` is none of them.
fn described(
    child: &Element,
    name: &mut Option<String>,
    title: &mut Option<String>,
    abstract_: &mut Option<String>,
) -> bool {
    if !child.ns.is_style() {
        return false;
    }
    match child.name.as_str() {
        "Name" => *name = text_of(child),
        "Title" => *title = text_of(child),
        "Abstract" => *abstract_ = text_of(child),
        "Description" => {
            for part in child.elements() {
                if is(part, "Title") {
                    *title = text_of(part);
                } else if is(part, "Abstract") {
                    *abstract_ = text_of(part);
                }
            }
        }
        _ => return false,
    }
    true
}

impl Builder {
    pub(super) fn sld(&mut self, root: &Element) -> Sld {
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
        let expected = ["Name", "Title", "Abstract", "Description", "NamedLayer"];
        self.style_children(root, &expected, |builder, child| {
            match child.name.as_str() {
                "Name" => sld.name = text_of(child),
                "Title" | "Abstract" | "Description" => {}
                "NamedLayer" => sld.layers.push(builder.named_layer(child)),
                "UserLayer" => builder.error(
                    child.pos,
                    "<UserLayer> (inline or remote data) is not supported",
                    Some(
                        "publish the data as a layer and style it with <NamedLayer><Name>layer\
                         </Name>…"
                            .to_owned(),
                    ),
                ),
                _ => return false,
            }
            true
        });
        sld
    }

    fn named_layer(&mut self, element: &Element) -> NamedLayer {
        let mut layer = NamedLayer {
            name: None,
            styles: Vec::new(),
            pos: element.pos,
        };
        self.stray_text(element);
        let expected = [
            "Name",
            "Description",
            "LayerFeatureConstraints",
            "UserStyle",
        ];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "Name" => layer.name = text_at(child),
                "Description" | "LayerFeatureConstraints" => {}
                "UserStyle" => layer.styles.push(builder.user_style(child)),
                "NamedStyle" => builder.error(
                    child.pos,
                    "<NamedStyle> refers to a style stored elsewhere, which is not supported",
                    Some("write the style inline as a <UserStyle>".to_owned()),
                ),
                _ => return false,
            }
            true
        });
        layer
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
        let expected = [
            DESCRIPTION.as_slice(),
            &["IsDefault", "FeatureTypeStyle", "CoverageStyle"],
        ]
        .concat();
        self.style_children(element, &expected, |builder, child| {
            if described(
                child,
                &mut style.name,
                &mut style.title,
                &mut style.abstract_,
            ) {
                return true;
            }
            match child.name.as_str() {
                "IsDefault" => style.is_default = builder.is_default(child),
                "FeatureTypeStyle" | "CoverageStyle" => {
                    let fts = builder.feature_type_style(child);
                    style.feature_type_styles.push(fts);
                }
                _ => return false,
            }
            true
        });
        style
    }

    /// `IsDefault`: 1, 0, true or false.
    fn is_default(&mut self, element: &Element) -> bool {
        let text = text_of(element).unwrap_or_default();
        match text.to_ascii_lowercase().as_str() {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => {
                self.error(
                    element.pos,
                    format!("IsDefault must be 1, 0, true or false, got '{text}'"),
                    Some("write <IsDefault>1</IsDefault>".to_owned()),
                );
                false
            }
        }
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
        let expected = [
            DESCRIPTION.as_slice(),
            &[
                "FeatureTypeName",
                "SemanticTypeIdentifier",
                "Rule",
                "VendorOption",
            ],
        ]
        .concat();
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "Name" => fts.name = text_of(child),
                "Title"
                | "Abstract"
                | "Description"
                | "SemanticTypeIdentifier"
                | "CoverageName"
                | "OnlineResource" => {}
                "FeatureTypeName" => fts.feature_type_name = text_of(child),
                "Rule" => fts.rules.push(builder.rule(child)),
                "VendorOption" => fts.vendor_options.push(builder.vendor_option(child)),
                "Transformation" => builder.warning(
                    child.pos,
                    "rendering transformations are not supported and are ignored",
                    Some("prepare the data instead (e.g. a heatmap raster)".to_owned()),
                ),
                _ => return false,
            }
            true
        });
        fts
    }

    /// `MinScaleDenominator` / `MaxScaleDenominator`.
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
        let own = [
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
        ];
        let expected = [DESCRIPTION.as_slice(), &own].concat();
        // Not only style elements: the filter is in the filter namespace.
        self.children(element, &expected, |builder, child| {
            if described(child, &mut rule.name, &mut rule.title, &mut rule.abstract_) {
                return true;
            }
            let style = child.ns.is_style();
            match child.name.as_str() {
                "LegendGraphic" if style => {}
                "Filter" if is_filter(child, "Filter") => {
                    if rule.filter.is_some() {
                        builder.error(
                            child.pos,
                            "a rule has at most one <Filter>",
                            Some("combine the conditions with <ogc:And> or <ogc:Or>".to_owned()),
                        );
                    }
                    rule.filter = Some(builder.filter(child));
                }
                "ElseFilter" if style || child.ns.is_filter() => rule.else_filter = true,
                "MinScaleDenominator" if style => rule.min_scale = builder.scale(child),
                "MaxScaleDenominator" if style => rule.max_scale = builder.scale(child),
                "PointSymbolizer" | "LineSymbolizer" | "PolygonSymbolizer" | "TextSymbolizer"
                | "RasterSymbolizer"
                    if style =>
                {
                    rule.symbolizers.extend(builder.symbolizer(child));
                }
                "Filter" if style => builder.error(
                    child.pos,
                    format!("<{}> is in the style namespace", child.display_name()),
                    Some(
                        "a Filter belongs to the ogc namespace: write <ogc:Filter> with \
                         xmlns:ogc=\"http://www.opengis.net/ogc\""
                            .to_owned(),
                    ),
                ),
                _ => return false,
            }
            true
        });
        rule
    }
}
