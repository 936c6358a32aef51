//! Validation: every problem of a style model, each with its position, plain words and the fix.
//!
//! A separate pass over the typed model (parsing already recorded what did not fit the model),
//! so that one run lists everything a producer must fix, not the first thing only. The
//! publication checks ([`Sld::check_layer`], [`Sld::check_attributes`]) live here too: they
//! compare the style with the layer it will be published on.

use crate::expr::{known_function, Expression, FUNCTIONS};
use crate::filter::Filter;
use crate::model::{
    ColorMap, ColorMapKind, ExternalGraphic, FeatureTypeStyle, Fill, Font, Graphic, GraphicSource,
    GraphicSymbol, LabelPlacement, Mark, NamedLayer, Point2, Rule, Sld, Stroke, Symbolizer,
    UserStyle, VendorOption,
};
use crate::suggest::did_you_mean;
use crate::value::Color;
use crate::{sort_problems, Pos, Problem};

/// Shapes a `Mark` can name.
pub const WELL_KNOWN_NAMES: &[&str] = &[
    "square",
    "circle",
    "triangle",
    "star",
    "cross",
    "x",
    "shape://vertline",
    "shape://horline",
    "shape://slash",
    "shape://backslash",
    "shape://dot",
    "shape://plus",
    "shape://times",
    "shape://oarrow",
    "shape://carrow",
];

/// Vendor options the renderer knows (others are kept but warned about).
const VENDOR_OPTIONS: &[&str] = &[
    "group",
    "maxDisplacement",
    "followLine",
    "repeat",
    "spaceAround",
    "autoWrap",
    "maxAngleDelta",
    "conflictResolution",
    "goodnessOfFit",
    "partials",
    "labelAllGroup",
    "polygonAlign",
    "charSpacing",
    "wordSpacing",
    "underlineText",
    "strikethroughText",
    "graphic-margin",
    "graphic-resize",
    "forceLeftToRight",
    "composite",
    "composite-base",
    "sortBy",
    "firstMatch",
    "inclusion",
];

/// What a style cannot do without, or do twice: the error when it does, and the fix.
type Need = (&'static str, &'static str);

const NO_LAYER_NAME: Need = (
    "<NamedLayer> has no <Name>",
    "add <Name>…</Name> with the name of the layer the style is for",
);
const NO_USER_STYLE: Need = (
    "<NamedLayer> has no <UserStyle>",
    "add a <UserStyle> with a <FeatureTypeStyle> and rules",
);
const NO_FEATURE_TYPE_STYLE: Need = (
    "<UserStyle> has no <FeatureTypeStyle>",
    "add <FeatureTypeStyle> with at least one <Rule>",
);
const NO_RULE: Need = (
    "<FeatureTypeStyle> has no <Rule>",
    "add a <Rule> with a symbolizer",
);
const FILTER_AND_ELSE: Need = (
    "a rule has both a <Filter> and an <ElseFilter>",
    "keep one of them",
);
const NO_COLOR_MAP_ENTRY: Need = (
    "<ColorMap> has no entries",
    "add <ColorMapEntry color=\"#RRGGBB\" quantity=\"…\"/> elements",
);
const NO_NAMED_LAYER: Need = (
    "the style has no <NamedLayer>",
    "wrap the style in <NamedLayer><Name>layer</Name><UserStyle>…</UserStyle></NamedLayer>",
);

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.problems.push(Problem::error(pos, message, hint));
    }

    fn warning(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.problems.push(Problem::warning(pos, message, hint));
    }

    fn named_layer(&mut self, layer: &NamedLayer) {
        self.require(layer.name.is_some(), layer.pos, NO_LAYER_NAME);
        self.require(!layer.styles.is_empty(), layer.pos, NO_USER_STYLE);
        for style in &layer.styles {
            self.user_style(style);
        }
    }

    fn user_style(&mut self, style: &UserStyle) {
        self.require(
            !style.feature_type_styles.is_empty(),
            style.pos,
            NO_FEATURE_TYPE_STYLE,
        );
        for fts in &style.feature_type_styles {
            self.feature_type_style(fts);
        }
    }

    fn feature_type_style(&mut self, fts: &FeatureTypeStyle) {
        self.require(!fts.rules.is_empty(), fts.pos, NO_RULE);
        self.vendor_options(&fts.vendor_options, |_| Some("remove it".to_owned()));
        for rule in &fts.rules {
            self.rule(rule);
        }
    }

    fn rule(&mut self, rule: &Rule) {
        if let (Some(min), Some(max)) = (rule.min_scale, rule.max_scale) {
            if min >= max {
                self.error(
                    rule.pos,
                    format!(
                        "MinScaleDenominator {min} is not below MaxScaleDenominator {max}: the \
                         rule never applies"
                    ),
                    Some(
                        "MinScaleDenominator is the most detailed scale (the smaller number); \
                         swap the two values"
                            .to_owned(),
                    ),
                );
            }
        }
        self.require(
            !(rule.else_filter && rule.filter.is_some()),
            rule.pos,
            FILTER_AND_ELSE,
        );
        if rule.symbolizers.is_empty() {
            self.warning(
                rule.pos,
                "the rule has no symbolizer: it draws nothing",
                Some(
                    "add a PointSymbolizer, LineSymbolizer, PolygonSymbolizer, TextSymbolizer or \
                     RasterSymbolizer"
                        .to_owned(),
                ),
            );
        }
        if let Some(filter) = &rule.filter {
            self.filter(filter);
        }
        for symbolizer in &rule.symbolizers {
            self.symbolizer(symbolizer);
        }
    }

    /// An error unless `present`: a part the structure needs is missing (or two exclude each
    /// other).
    fn require(&mut self, present: bool, pos: Pos, (message, hint): Need) {
        if !present {
            self.error(pos, message, Some(hint.to_owned()));
        }
    }

    /// A warning for each vendor option the renderer does not know; `hint` tells what to do
    /// about the one named.
    fn vendor_options(&mut self, options: &[VendorOption], hint: impl Fn(&str) -> Option<String>) {
        for option in options {
            if !VENDOR_OPTIONS.contains(&option.name.as_str()) && !option.name.is_empty() {
                self.warning(
                    option.pos,
                    format!(
                        "vendor option '{}' is not supported and is ignored",
                        option.name
                    ),
                    hint(&option.name),
                );
            }
        }
    }

    /// Functions anywhere in an expression must be known, with a usable number of arguments.
    fn functions(&mut self, expression: &Expression) {
        expression.walk(&mut |e| {
            if let Expression::Function { name, args, pos } = e {
                match known_function(name) {
                    None => {
                        let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
                        let hint = match did_you_mean(name, &names) {
                            Some(guess) => format!("did you mean '{guess}'?"),
                            None => format!("the functions available are: {}", names.join(", ")),
                        };
                        self.problems.push(Problem::error(
                            *pos,
                            format!("function '{name}' is not supported"),
                            Some(hint),
                        ));
                    }
                    Some(Some(arity)) if args.len() != arity => {
                        self.problems.push(Problem::error(
                            *pos,
                            format!(
                                "function '{name}' takes {arity} argument{}, got {}",
                                if arity == 1 { "" } else { "s" },
                                args.len()
                            ),
                            Some(
                                "check the arguments against the function's documentation"
                                    .to_owned(),
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        });
    }

    /// A parameter that must be a number (when literal) within `range`.
    fn number(&mut self, what: &str, expression: Option<&Expression>, min: f64, max: Option<f64>) {
        let Some(expression) = expression else {
            return;
        };
        self.functions(expression);
        let Some(text) = expression.as_literal() else {
            return;
        };
        match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => {
                if n < min || max.is_some_and(|max| n > max) {
                    let range = match max {
                        Some(max) => format!("from {min} to {max}"),
                        None => format!("at least {min}"),
                    };
                    self.error(
                        expression.pos(),
                        format!("{what} must be {range}, got {text}"),
                        Some(format!("write a number {range}")),
                    );
                }
            }
            _ => self.error(
                expression.pos(),
                format!("{what} must be a number, got '{text}'"),
                Some(format!(
                    "write a plain number such as {}",
                    if max == Some(1.0) { "0.5" } else { "2" }
                )),
            ),
        }
    }

    fn color(&mut self, what: &str, expression: Option<&Expression>) {
        let Some(expression) = expression else {
            return;
        };
        self.functions(expression);
        if let Some(text) = expression.as_literal() {
            if Color::parse(text).is_none() {
                self.error(
                    expression.pos(),
                    format!("{what} must be a colour like #RRGGBB, got '{text}'"),
                    Some(
                        "write #RRGGBB (e.g. #ff8800), #RGB or #AARRGGBB; named colours are not \
                         allowed in SLD"
                            .to_owned(),
                    ),
                );
            }
        }
    }

    fn keyword(&mut self, what: &str, expression: Option<&Expression>, allowed: &[&str]) {
        let Some(expression) = expression else {
            return;
        };
        self.functions(expression);
        if let Some(text) = expression.as_literal() {
            if !allowed.contains(&text.trim()) {
                self.error(
                    expression.pos(),
                    format!("{what} must be one of {}, got '{text}'", allowed.join(", ")),
                    Some(did_you_mean(text, allowed).map_or_else(
                        || format!("write one of: {}", allowed.join(", ")),
                        |g| format!("did you mean '{g}'?"),
                    )),
                );
            }
        }
    }

    fn fill(&mut self, fill: &Fill) {
        self.color("fill", fill.color.as_ref());
        self.number("fill-opacity", fill.opacity.as_ref(), 0.0, Some(1.0));
        if let Some(graphic) = &fill.graphic_fill {
            self.graphic(graphic);
        }
    }

    fn stroke(&mut self, stroke: &Stroke) {
        self.color("stroke", stroke.color.as_ref());
        self.number("stroke-width", stroke.width.as_ref(), 0.0, None);
        self.number("stroke-opacity", stroke.opacity.as_ref(), 0.0, Some(1.0));
        self.keyword(
            "stroke-linejoin",
            stroke.line_join.as_ref(),
            &["mitre", "miter", "round", "bevel"],
        );
        self.keyword(
            "stroke-linecap",
            stroke.line_cap.as_ref(),
            &["butt", "round", "square"],
        );
        self.number(
            "stroke-dashoffset",
            stroke.dash_offset.as_ref(),
            f64::MIN,
            None,
        );
        if let Some(dashes) = &stroke.dash_array {
            self.functions(dashes);
            if let Some(text) = dashes.as_literal() {
                let ok = text
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|s| !s.is_empty())
                    .all(|s| s.parse::<f64>().is_ok_and(|n| n >= 0.0 && n.is_finite()));
                if !ok || text.trim().is_empty() {
                    self.error(
                        dashes.pos(),
                        format!(
                            "stroke-dasharray must be lengths separated by spaces, got '{text}'"
                        ),
                        Some("write e.g. \"5 2\" (5 drawn, 2 blank)".to_owned()),
                    );
                }
            }
        }
        for graphic in [&stroke.graphic_stroke, &stroke.graphic_fill]
            .into_iter()
            .flatten()
        {
            self.graphic(graphic);
        }
    }

    fn point2(&mut self, what: &str, point: Option<&Point2>) {
        if let Some(point) = point {
            self.number(&format!("{what}X"), Some(&point.x), f64::MIN, None);
            self.number(&format!("{what}Y"), Some(&point.y), f64::MIN, None);
        }
    }

    fn graphic(&mut self, graphic: &Graphic) {
        self.number("Opacity", graphic.opacity.as_ref(), 0.0, Some(1.0));
        self.number("Size", graphic.size.as_ref(), 0.0, None);
        self.number("Rotation", graphic.rotation.as_ref(), f64::MIN, None);
        self.point2("AnchorPoint", graphic.anchor_point.as_ref());
        self.point2("Displacement", graphic.displacement.as_ref());
        if graphic.symbols.is_empty() {
            self.warning(
                graphic.pos,
                "<Graphic> has no <Mark> or <ExternalGraphic>: a square is drawn",
                Some("add <Mark><WellKnownName>circle</WellKnownName>…</Mark>".to_owned()),
            );
        }
        for symbol in &graphic.symbols {
            match symbol {
                GraphicSymbol::Mark(mark) => self.mark(mark),
                GraphicSymbol::External(external) => self.external(external),
            }
        }
    }

    fn mark(&mut self, mark: &Mark) {
        if let Some(name) = &mark.well_known_name {
            let value = name.value.as_str();
            let known = WELL_KNOWN_NAMES
                .iter()
                .any(|k| k.eq_ignore_ascii_case(value));
            if !known {
                let hint = if value.starts_with("ttf://") {
                    "font glyph marks are not supported: use an SVG ExternalGraphic".to_owned()
                } else if let Some(guess) = did_you_mean(value, WELL_KNOWN_NAMES) {
                    format!("did you mean '{guess}'?")
                } else {
                    format!("use one of: {}", WELL_KNOWN_NAMES.join(", "))
                };
                self.error(
                    name.pos,
                    format!("unknown WellKnownName '{value}'"),
                    Some(hint),
                );
            }
        }
        if let Some(fill) = &mark.fill {
            self.fill(fill);
        }
        if let Some(stroke) = &mark.stroke {
            self.stroke(stroke);
        }
    }

    fn external(&mut self, external: &ExternalGraphic) {
        const FORMATS: &[&str] = &["image/png", "image/svg+xml", "image/svg"];
        match &external.format {
            None => self.error(
                external.pos,
                "<ExternalGraphic> has no <Format>",
                Some("add <Format>image/svg+xml</Format> or <Format>image/png</Format>".to_owned()),
            ),
            Some(format) if !FORMATS.contains(&format.value.to_ascii_lowercase().as_str()) => {
                self.error(
                    format.pos,
                    format!("graphic format '{}' is not supported", format.value),
                    Some("use image/png or image/svg+xml".to_owned()),
                );
            }
            Some(_) => {}
        }
        match &external.source {
            GraphicSource::Href(href) => {
                let lower = href.to_ascii_lowercase();
                if lower.starts_with("http://") || lower.starts_with("https://") {
                    self.error(
                        external.pos,
                        format!("remote graphic '{href}' is not fetched"),
                        Some(
                            "download it, upload it with the style and refer to it by a \
                             relative path (e.g. symbols/icon.svg)"
                                .to_owned(),
                        ),
                    );
                } else if href.trim().is_empty() {
                    self.error(external.pos, "the graphic's xlink:href is empty", Some("write the path of the image next to the style, e.g. xlink:href=\"symbols/icon.svg\"".to_owned()));
                }
            }
            GraphicSource::Inline { encoding, content } => {
                if encoding != "base64" && encoding != "xml" {
                    self.error(
                        external.pos,
                        format!("InlineContent encoding must be base64 or xml, got '{encoding}'"),
                        Some(
                            "write encoding=\"base64\" (PNG) or encoding=\"xml\" (SVG)".to_owned(),
                        ),
                    );
                } else if content.is_empty() {
                    self.error(external.pos, "<InlineContent> is empty", Some("put the base64 PNG or the SVG inside it, or refer to a file with <OnlineResource>".to_owned()));
                } else if encoding == "base64"
                    && !content
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                {
                    self.error(
                        external.pos,
                        "<InlineContent encoding=\"base64\"> is not base64",
                        Some(
                            "encode the image with base64 (letters, digits, + / and =)".to_owned(),
                        ),
                    );
                }
            }
            GraphicSource::Missing => self.error(
                external.pos,
                "<ExternalGraphic> has neither <OnlineResource> nor <InlineContent>",
                Some(
                    "add <OnlineResource xlink:type=\"simple\" xlink:href=\"icon.svg\"/>"
                        .to_owned(),
                ),
            ),
        }
    }

    fn font(&mut self, font: &Font) {
        for family in &font.family {
            self.functions(family);
        }
        self.keyword(
            "font-style",
            font.style.as_ref(),
            &["normal", "italic", "oblique"],
        );
        if let Some(weight) = &font.weight {
            let numeric = weight
                .as_literal()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .is_some_and(|n| (100..=900).contains(&n));
            if !numeric {
                self.keyword("font-weight", Some(weight), &["normal", "bold"]);
            }
        }
        self.number("font-size", font.size.as_ref(), 0.0, None);
    }

    fn color_map(&mut self, map: &ColorMap) {
        self.require(!map.entries.is_empty(), map.pos, NO_COLOR_MAP_ENTRY);
        if map.entries.len() > 255 && !map.extended {
            self.warning(
                map.pos,
                format!("<ColorMap> has {} entries", map.entries.len()),
                Some("add extended=\"true\" for more than 255 entries".to_owned()),
            );
        }
        let mut previous: Option<f64> = None;
        for entry in &map.entries {
            if Color::parse(&entry.color).is_none() {
                self.error(
                    entry.pos,
                    format!(
                        "ColorMapEntry color must be a colour like #RRGGBB, got '{}'",
                        entry.color
                    ),
                    Some("write #RRGGBB (e.g. #ff8800)".to_owned()),
                );
            }
            if let Some(p) = previous {
                if map.kind != ColorMapKind::Values && entry.quantity < p {
                    self.error(
                        entry.pos,
                        format!(
                            "ColorMapEntry quantities must increase: {} comes after {}",
                            entry.quantity, p
                        ),
                        Some("sort the entries by quantity".to_owned()),
                    );
                }
            }
            previous = Some(entry.quantity);
        }
    }

    /// A `PerpendicularOffset`: any number.
    fn perpendicular_offset(&mut self, offset: Option<&Expression>) {
        self.number("PerpendicularOffset", offset, f64::MIN, None);
    }

    fn placement(&mut self, placement: &LabelPlacement) {
        match placement {
            LabelPlacement::Point {
                anchor_point,
                displacement,
                rotation,
                ..
            } => {
                self.point2("AnchorPoint", anchor_point.as_ref());
                self.point2("Displacement", displacement.as_ref());
                self.number("Rotation", rotation.as_ref(), f64::MIN, None);
            }
            LabelPlacement::Line {
                perpendicular_offset,
                ..
            } => self.perpendicular_offset(perpendicular_offset.as_ref()),
        }
    }

    fn filter(&mut self, filter: &Filter) {
        let mut tops: Vec<&Expression> = Vec::new();
        collect_top_expressions(filter, &mut tops);
        for expression in tops {
            self.functions(expression);
        }
        if let Filter::Like { pattern, pos, .. } = filter {
            if pattern.wild_card == pattern.single_char
                || pattern.wild_card == pattern.escape_char
                || pattern.single_char == pattern.escape_char
            {
                self.error(
                    *pos,
                    "wildCard, singleChar and escapeChar must be three different characters",
                    Some("write wildCard=\"*\" singleChar=\".\" escapeChar=\"!\"".to_owned()),
                );
            }
        }
        match filter {
            Filter::And { filters, .. } | Filter::Or { filters, .. } => {
                for f in filters {
                    self.filter(f);
                }
            }
            Filter::Not { filter, .. } => self.filter(filter),
            _ => {}
        }
    }

    fn symbolizer(&mut self, symbolizer: &Symbolizer) {
        let common = symbolizer.common();
        if let Some(geometry) = &common.geometry {
            self.functions(geometry);
        }
        self.vendor_options(&common.vendor_options, |name| {
            did_you_mean(name, VENDOR_OPTIONS).map(|g| format!("did you mean '{g}'?"))
        });
        match symbolizer {
            Symbolizer::Point(point) => match &point.graphic {
                Some(graphic) => self.graphic(graphic),
                None => self.warning(
                    common.pos,
                    "<PointSymbolizer> has no <Graphic>: a 6-pixel grey square is drawn",
                    Some("add a <Graphic> with a <Mark> and a <Size>".to_owned()),
                ),
            },
            Symbolizer::Line(line) => {
                if let Some(stroke) = &line.stroke {
                    self.stroke(stroke);
                }
                self.perpendicular_offset(line.perpendicular_offset.as_ref());
            }
            Symbolizer::Polygon(polygon) => {
                if let Some(fill) = &polygon.fill {
                    self.fill(fill);
                }
                if let Some(stroke) = &polygon.stroke {
                    self.stroke(stroke);
                }
                self.point2("Displacement", polygon.displacement.as_ref());
                self.perpendicular_offset(polygon.perpendicular_offset.as_ref());
            }
            Symbolizer::Text(text) => {
                match &text.label {
                    Some(label) => self.functions(label),
                    None => self.warning(
                        common.pos,
                        "<TextSymbolizer> has no <Label>: nothing is written",
                        Some(
                            "add <Label><ogc:PropertyName>name</ogc:PropertyName></Label>"
                                .to_owned(),
                        ),
                    ),
                }
                if let Some(font) = &text.font {
                    self.font(font);
                }
                if let Some(halo) = &text.halo {
                    self.number("Halo Radius", halo.radius.as_ref(), 0.0, None);
                    if let Some(fill) = &halo.fill {
                        self.fill(fill);
                    }
                }
                if let Some(fill) = &text.fill {
                    self.fill(fill);
                }
                self.number("Priority", text.priority.as_ref(), f64::MIN, None);
                if let Some(placement) = &text.placement {
                    self.placement(placement);
                }
            }
            Symbolizer::Raster(raster) => {
                self.number("Opacity", raster.opacity.as_ref(), 0.0, Some(1.0));
                if let Some(map) = &raster.color_map {
                    self.color_map(map);
                }
            }
        }
    }
}

fn collect_top_expressions<'a>(filter: &'a Filter, out: &mut Vec<&'a Expression>) {
    match filter {
        Filter::Compare { left, right, .. } => out.extend([left, right]),
        Filter::Like { expression, .. } | Filter::IsNull { expression, .. } => out.push(expression),
        Filter::Between {
            expression,
            lower,
            upper,
            ..
        } => out.extend([expression, lower, upper]),
        _ => {}
    }
}

/// Lower-case, non-alphanumerics as `_`: how integration normalises table and column names.
fn normalise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                '_'
            }
        })
        .collect()
}

fn list(names: &[&str]) -> String {
    const SHOWN: usize = 12;
    let mut text = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(", …");
    }
    text
}

impl Sld {
    /// Every problem of the style, in document order: what parsing could not place, and what
    /// the model holds that cannot be drawn (bad colours and numbers, unknown functions and
    /// marks, inverted scale ranges, missing names…). Warnings included; a style is usable
    /// when no problem [`is_error`](Problem::is_error).
    pub fn validate(&self) -> Vec<Problem> {
        let mut v = Validator {
            problems: self.issues.clone(),
        };
        v.require(!self.layers.is_empty(), self.pos, NO_NAMED_LAYER);
        for layer in &self.layers {
            v.named_layer(layer);
        }
        let mut problems = v.problems;
        sort_problems(&mut problems);
        problems
    }

    /// The publication check of the layer name: some `NamedLayer` must be named `layer`.
    /// A name equal after normalisation (case, `-` and spaces as `_`, as integration renames
    /// tables) is a warning; any other name is an error at the `Name`.
    pub fn check_layer(&self, layer: &str) -> Vec<Problem> {
        let names: Vec<&crate::Text> = self.layers.iter().filter_map(|l| l.name.as_ref()).collect();
        if names.iter().any(|n| n.value == layer) {
            return Vec::new();
        }
        if let Some(name) = names
            .iter()
            .find(|n| normalise(&n.value) == normalise(layer))
        {
            return vec![Problem::warning(
                name.pos,
                format!(
                    "NamedLayer name '{}' matches the layer '{layer}' only after normalisation",
                    name.value
                ),
                Some(format!("write <Name>{layer}</Name>")),
            )];
        }
        match names.first() {
            Some(name) => vec![Problem::error(
                name.pos,
                format!(
                    "NamedLayer name '{}' does not match the layer '{layer}'",
                    name.value
                ),
                Some(format!(
                    "write <Name>{layer}</Name> in the NamedLayer, or publish the style on the \
                     layer '{}'",
                    name.value
                )),
            )],
            None => vec![Problem::error(
                self.layers.first().map_or(self.pos, |l| l.pos),
                format!("the style names no layer: it must be written for '{layer}'"),
                Some(format!("add <NamedLayer><Name>{layer}</Name>…")),
            )],
        }
    }

    /// Every attribute the style uses (`PropertyName`s in filters, labels, parameters,
    /// geometries), with the position of each use, in document order.
    pub fn properties(&self) -> Vec<(&str, Pos)> {
        let mut found: Vec<(&str, Pos)> = Vec::new();
        for rule in self.rules() {
            let mut expressions: Vec<&Expression> = Vec::new();
            if let Some(filter) = &rule.filter {
                filter.walk_expressions(&mut |e| expressions.push(e));
                collect_filter_property(filter, &mut found);
            }
            for symbolizer in &rule.symbolizers {
                for expression in symbolizer_expressions(symbolizer) {
                    expression.walk(&mut |e| expressions.push(e));
                }
            }
            for e in expressions {
                if let Expression::Property { name, pos } = e {
                    found.push((name.as_str(), *pos));
                }
            }
        }
        found.sort_by_key(|(_, pos)| *pos);
        found.dedup();
        found
    }

    /// The publication check of attributes: every property the style uses must be one of
    /// `attributes`. A name equal after normalisation (`NAME_1` for `name_1`) is a warning;
    /// any other is an error naming the attributes there are.
    pub fn check_attributes(&self, attributes: &[&str]) -> Vec<Problem> {
        let layer = self
            .layers
            .first()
            .and_then(|l| l.name.as_ref())
            .map_or_else(|| "the layer".to_owned(), |n| format!("'{}'", n.value));
        let mut problems = Vec::new();
        for (name, pos) in self.properties() {
            if attributes.contains(&name) {
                continue;
            }
            if let Some(actual) = attributes.iter().find(|a| normalise(a) == normalise(name)) {
                problems.push(Problem::warning(
                    pos,
                    format!("PropertyName '{name}' matches the attribute '{actual}' only after normalisation"),
                    Some(format!("write <ogc:PropertyName>{actual}</ogc:PropertyName>")),
                ));
                continue;
            }
            let hint = match did_you_mean(name, attributes) {
                Some(guess) => format!("did you mean '{guess}'?"),
                None => {
                    "use one of the attributes listed, or add the attribute to the data".to_owned()
                }
            };
            problems.push(Problem::error(
                pos,
                format!(
                    "PropertyName '{name}' is not an attribute of {layer} (attributes: {})",
                    list(attributes)
                ),
                Some(hint),
            ));
        }
        problems
    }
}

fn collect_filter_property<'a>(filter: &'a Filter, found: &mut Vec<(&'a str, Pos)>) {
    match filter {
        Filter::Bbox {
            property: Some(name),
            pos,
            ..
        } => found.push((name.as_str(), *pos)),
        Filter::And { filters, .. } | Filter::Or { filters, .. } => {
            for f in filters {
                collect_filter_property(f, found);
            }
        }
        Filter::Not { filter, .. } => collect_filter_property(filter, found),
        _ => {}
    }
}

fn fill_expressions<'a>(fill: &'a Fill, out: &mut Vec<&'a Expression>) {
    out.extend(fill.color.iter().chain(fill.opacity.iter()));
    if let Some(graphic) = &fill.graphic_fill {
        graphic_expressions(graphic, out);
    }
}

fn stroke_expressions<'a>(stroke: &'a Stroke, out: &mut Vec<&'a Expression>) {
    out.extend(
        [
            &stroke.color,
            &stroke.width,
            &stroke.opacity,
            &stroke.line_join,
            &stroke.line_cap,
            &stroke.dash_array,
            &stroke.dash_offset,
        ]
        .into_iter()
        .flatten(),
    );
    for graphic in [&stroke.graphic_stroke, &stroke.graphic_fill]
        .into_iter()
        .flatten()
    {
        graphic_expressions(graphic, out);
    }
}

fn point_expressions<'a>(point: Option<&'a Point2>, out: &mut Vec<&'a Expression>) {
    if let Some(point) = point {
        out.extend([&point.x, &point.y]);
    }
}

fn graphic_expressions<'a>(graphic: &'a Graphic, out: &mut Vec<&'a Expression>) {
    out.extend(
        [&graphic.opacity, &graphic.size, &graphic.rotation]
            .into_iter()
            .flatten(),
    );
    point_expressions(graphic.anchor_point.as_ref(), out);
    point_expressions(graphic.displacement.as_ref(), out);
    for symbol in &graphic.symbols {
        if let GraphicSymbol::Mark(mark) = symbol {
            if let Some(fill) = &mark.fill {
                fill_expressions(fill, out);
            }
            if let Some(stroke) = &mark.stroke {
                stroke_expressions(stroke, out);
            }
        }
    }
}

/// Every top-level expression of a symbolizer.
fn symbolizer_expressions(symbolizer: &Symbolizer) -> Vec<&Expression> {
    let mut out = Vec::new();
    out.extend(symbolizer.common().geometry.iter());
    match symbolizer {
        Symbolizer::Point(point) => {
            if let Some(graphic) = &point.graphic {
                graphic_expressions(graphic, &mut out);
            }
        }
        Symbolizer::Line(line) => {
            if let Some(stroke) = &line.stroke {
                stroke_expressions(stroke, &mut out);
            }
            out.extend(line.perpendicular_offset.iter());
        }
        Symbolizer::Polygon(polygon) => {
            if let Some(fill) = &polygon.fill {
                fill_expressions(fill, &mut out);
            }
            if let Some(stroke) = &polygon.stroke {
                stroke_expressions(stroke, &mut out);
            }
            point_expressions(polygon.displacement.as_ref(), &mut out);
            out.extend(polygon.perpendicular_offset.iter());
        }
        Symbolizer::Text(text) => {
            out.extend(text.label.iter().chain(text.priority.iter()));
            if let Some(font) = &text.font {
                out.extend(font.family.iter());
                out.extend(
                    [&font.style, &font.weight, &font.size]
                        .into_iter()
                        .flatten(),
                );
            }
            if let Some(halo) = &text.halo {
                out.extend(halo.radius.iter());
                if let Some(fill) = &halo.fill {
                    fill_expressions(fill, &mut out);
                }
            }
            if let Some(fill) = &text.fill {
                fill_expressions(fill, &mut out);
            }
            match &text.placement {
                Some(LabelPlacement::Point {
                    anchor_point,
                    displacement,
                    rotation,
                    ..
                }) => {
                    point_expressions(anchor_point.as_ref(), &mut out);
                    point_expressions(displacement.as_ref(), &mut out);
                    out.extend(rotation.iter());
                }
                Some(LabelPlacement::Line {
                    perpendicular_offset,
                    ..
                }) => out.extend(perpendicular_offset.iter()),
                None => {}
            }
        }
        Symbolizer::Raster(raster) => out.extend(raster.opacity.iter()),
    }
    out
}
