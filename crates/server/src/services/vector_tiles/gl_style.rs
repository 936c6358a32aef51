//! A MapLibre / Mapbox GL style (version 8) for a vector layer's tiles, translated from the
//! layer's SLD, so that MapLibre pages, OpenLayers (`ol-mapbox-style`) and QGIS draw the
//! vector tiles as WMS draws the map.
//!
//! Each SLD rule becomes one GL layer per symbolizer, in drawing order: polygons are a `fill`
//! layer (and a `line` layer for their stroke, whose width GL fills cannot set), lines a
//! `line` layer (dashes in GL's units of line width), marks a `circle` layer, labels a
//! `symbol` layer; filters become GL expressions (an `ElseFilter` rule matches what no other
//! rule of its feature type style matched), scale denominators become zoom limits (GL zoom
//! `z` is the scale of a 512-pixel world: 279 541 132 / 2^z at 0.28 mm pixels). Values that
//! read attributes become data-driven properties. What has no GL counterpart (external
//! graphics, graphic fills, spatial filters, most functions) is listed in the style's
//! `metadata["tuilerie:warnings"]` — approximated where it can be (a square mark drawn as a
//! circle), never dropped silently.

use serde_json::{json, Value};
use sld::{
    ArithmeticOp, CompareOp, Expression, Filter, Graphic, GraphicSymbol, LabelPlacement, Rule,
    Stroke, Symbolizer, Uom, UserStyle,
};

use crate::layers::{Layer, VectorLayer};

/// GL's zoom 0: the scale denominator of a 512-pixel world at 0.28 mm pixels.
const ZOOM0_SCALE: f64 = 279_541_132.014_358;

/// A translated style.
#[derive(Debug, Clone, PartialEq)]
pub struct GlStyle {
    /// The style document.
    pub json: Value,
    /// What could not be translated exactly.
    pub warnings: Vec<String>,
}

/// The GL style of a vector layer for its WMS style `style` (empty: each table's default),
/// its tiles described by the TileJSON at `tilejson_url`. `glyphs` is the glyphs URL
/// template text labels need (a GL style with labels and no glyphs is invalid): without
/// one, labels are left out, with a warning.
pub fn gl_style(
    layer: &Layer,
    vector: &VectorLayer,
    style: &str,
    tilejson_url: &str,
    glyphs: Option<&str>,
) -> GlStyle {
    let mut context = Context {
        warnings: Vec::new(),
        types: Vec::new(),
        labels: glyphs.is_some(),
    };
    let mut layers = Vec::new();
    for relation in &vector.relations {
        let Some(user_style) = relation.user_style(style) else {
            continue;
        };
        let metadata = relation.metadata();
        context.types = metadata
            .map(|m| {
                m.attributes
                    .iter()
                    .map(|a| (a.name.clone(), a.ty))
                    .collect()
            })
            .unwrap_or_default();
        translate_style(
            &mut context,
            &layer.name,
            &relation.table,
            user_style,
            &mut layers,
        );
    }
    let b = vector.wgs84_bbox;
    let (cx, cy) = b.center();
    let mut json = json!({
        "version": 8,
        "name": layer.title,
        "metadata": {
            "tuilerie:layer": layer.name,
            "tuilerie:warnings": context.warnings,
        },
        "center": [cx, cy],
        // The zoom at which the data's width fills about 1024 pixels.
        "zoom": (720.0 / b.width().max(1e-9)).log2().floor().clamp(0.0, 20.0),
        "sources": {
            layer.name.clone(): {"type": "vector", "url": tilejson_url},
        },
        "layers": layers,
    });
    if let Some(glyphs) = glyphs {
        json["glyphs"] = Value::from(glyphs);
    }
    GlStyle {
        json,
        warnings: context.warnings,
    }
}

struct Context {
    warnings: Vec<String>,
    /// The table's attribute types, to type literals as the tiles type values.
    types: Vec<(String, vectorstore::AttributeType)>,
    /// Whether labels can be drawn (a glyphs URL is configured).
    labels: bool,
}

impl Context {
    fn warn(&mut self, where_: &str, what: impl Into<String>) {
        let text = format!("{where_}: {}", what.into());
        if !self.warnings.contains(&text) {
            self.warnings.push(text);
        }
    }

    fn is_numeric(&self, property: &str) -> bool {
        self.types.iter().any(|(name, ty)| {
            name == property
                && matches!(
                    ty,
                    vectorstore::AttributeType::Integer | vectorstore::AttributeType::Real
                )
        })
    }

    fn is_boolean(&self, property: &str) -> bool {
        self.types
            .iter()
            .any(|(name, ty)| name == property && *ty == vectorstore::AttributeType::Boolean)
    }
}

fn translate_style(
    context: &mut Context,
    source: &str,
    table: &str,
    style: &UserStyle,
    out: &mut Vec<Value>,
) {
    for (f, fts) in style.feature_type_styles.iter().enumerate() {
        // What the rules with a filter match, for the ElseFilter rules.
        let mut others = Vec::new();
        for rule in &fts.rules {
            if rule.else_filter {
                continue;
            }
            let where_ = format!("{table}, rule '{}'", rule_name(rule));
            match &rule.filter {
                Some(filter) => others.push(translate_filter(context, &where_, filter)),
                None => others.push(Value::Bool(true)),
            }
        }
        for (r, rule) in fts.rules.iter().enumerate() {
            let where_ = format!("{table}, rule '{}'", rule_name(rule));
            let filter = if rule.else_filter {
                Some(json!(["!", any(others.clone())]))
            } else {
                rule.filter
                    .as_ref()
                    .map(|filter| translate_filter(context, &where_, filter))
            };
            for (k, symbolizer) in rule.symbolizers.iter().enumerate() {
                let id = format!("{table}-{f}-{r}-{k}");
                let mut layers = translate_symbolizer(context, &where_, &id, symbolizer);
                for layer in &mut layers {
                    layer["source"] = Value::from(source);
                    layer["source-layer"] = Value::from(table);
                    if let Some(filter) = &filter {
                        layer["filter"] = filter.clone();
                    }
                    // MaxScaleDenominator (exclusive) bounds the coarse side, MinScale the fine.
                    if let Some(max_scale) = rule.max_scale {
                        layer["minzoom"] = json!(zoom_of(max_scale));
                    }
                    if let Some(min_scale) = rule.min_scale.filter(|s| *s > 0.0) {
                        layer["maxzoom"] = json!(zoom_of(min_scale));
                    }
                    out.push(layer.take());
                }
            }
        }
    }
}

fn rule_name(rule: &Rule) -> String {
    rule.name
        .clone()
        .or_else(|| rule.title.clone())
        .unwrap_or_default()
}

fn any(mut filters: Vec<Value>) -> Value {
    if filters.len() == 1 {
        return filters.remove(0);
    }
    let mut out = vec![Value::from("any")];
    out.extend(filters);
    Value::Array(out)
}

/// The GL zoom of a scale denominator, rounded to a hundredth.
fn zoom_of(scale: f64) -> f64 {
    ((ZOOM0_SCALE / scale).log2() * 100.0).round() / 100.0
}

fn translate_symbolizer(
    context: &mut Context,
    where_: &str,
    id: &str,
    symbolizer: &Symbolizer,
) -> Vec<Value> {
    let uom = symbolizer.common().uom;
    let mut out = Vec::new();
    match symbolizer {
        Symbolizer::Polygon(polygon) => {
            if let Some(fill) = &polygon.fill {
                let mut paint = serde_json::Map::new();
                paint.insert(
                    "fill-color".into(),
                    color(context, where_, fill.color.as_ref(), "#808080"),
                );
                if let Some(opacity) = &fill.opacity {
                    paint.insert("fill-opacity".into(), number(context, where_, opacity));
                }
                if fill.graphic_fill.is_some() {
                    context.warn(
                        where_,
                        "a GraphicFill has no GL counterpart without sprites: filled with its color",
                    );
                }
                paint.insert("fill-antialias".into(), Value::Bool(true));
                out.push(json!({"id": format!("{id}-fill"), "type": "fill", "paint": paint}));
            }
            if let Some(stroke) = &polygon.stroke {
                out.push(line_layer(
                    context,
                    where_,
                    &format!("{id}-stroke"),
                    stroke,
                    uom,
                ));
            }
            if polygon.displacement.is_some() || polygon.perpendicular_offset.is_some() {
                context.warn(where_, "polygon displacement and offset are not translated");
            }
        }
        Symbolizer::Line(line) => {
            if let Some(stroke) = &line.stroke {
                let mut layer = line_layer(context, where_, id, stroke, uom);
                if let Some(offset) = &line.perpendicular_offset {
                    layer["paint"]["line-offset"] = length(context, where_, offset, uom);
                }
                out.push(layer);
            }
        }
        Symbolizer::Point(point) => {
            if let Some(graphic) = &point.graphic {
                out.push(circle_layer(context, where_, id, graphic, uom));
            }
        }
        Symbolizer::Text(text) => {
            if let Some(layer) = symbol_layer(context, where_, id, text, uom) {
                out.push(layer);
            }
        }
        Symbolizer::Raster(_) => {
            context.warn(where_, "a RasterSymbolizer does not apply to vector tiles");
        }
        _ => context.warn(where_, "a symbolizer of an unknown kind is not translated"),
    }
    out
}

fn line_layer(context: &mut Context, where_: &str, id: &str, stroke: &Stroke, uom: Uom) -> Value {
    let mut paint = serde_json::Map::new();
    let mut layout = serde_json::Map::new();
    paint.insert(
        "line-color".into(),
        color(context, where_, stroke.color.as_ref(), "#000000"),
    );
    let width = stroke
        .width
        .as_ref()
        .map_or(json!(1.0), |w| length(context, where_, w, uom));
    paint.insert("line-width".into(), width.clone());
    if let Some(opacity) = &stroke.opacity {
        paint.insert("line-opacity".into(), number(context, where_, opacity));
    }
    if let Some(dashes) = &stroke.dash_array {
        // GL dashes are in units of the line width.
        let width = width.as_f64().unwrap_or(1.0).max(1e-6);
        match literal(dashes) {
            Some(text) => {
                let parts: Option<Vec<f64>> = text
                    .split([' ', ','])
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse::<f64>().ok().map(|v| v / width))
                    .collect();
                match parts {
                    Some(parts) if !parts.is_empty() => {
                        paint.insert("line-dasharray".into(), json!(parts));
                    }
                    _ => context.warn(where_, format!("dash array '{text}' is not numbers")),
                }
            }
            None => context.warn(
                where_,
                "a dash array read from attributes is not translated",
            ),
        }
    }
    for (key, name, known) in [
        (
            "line-join",
            &stroke.line_join,
            &["miter", "round", "bevel"][..],
        ),
        (
            "line-cap",
            &stroke.line_cap,
            &["butt", "round", "square"][..],
        ),
    ] {
        if let Some(value) = name.as_ref().and_then(literal) {
            let value = value.trim().to_ascii_lowercase();
            let value = if value == "mitre" {
                "miter".to_owned()
            } else {
                value
            };
            if known.contains(&value.as_str()) {
                layout.insert(key.into(), Value::from(value));
            }
        }
    }
    if stroke.graphic_stroke.is_some() || stroke.graphic_fill.is_some() {
        context.warn(
            where_,
            "a GraphicStroke or GraphicFill has no GL counterpart without sprites: drawn as a plain line",
        );
    }
    json!({"id": id, "type": "line", "layout": layout, "paint": paint})
}

fn circle_layer(
    context: &mut Context,
    where_: &str,
    id: &str,
    graphic: &Graphic,
    uom: Uom,
) -> Value {
    let size = graphic
        .size
        .as_ref()
        .map_or(json!(6.0), |s| length(context, where_, s, uom));
    let radius = match size.as_f64() {
        Some(size) => json!(size / 2.0),
        None => json!(["/", size, 2]),
    };
    let mut paint = serde_json::Map::new();
    paint.insert("circle-radius".into(), radius);
    match graphic.symbols.first() {
        Some(GraphicSymbol::Mark(mark)) => {
            let shape = mark
                .well_known_name
                .as_ref()
                .map_or("square", |t| t.value.as_str());
            if !shape.eq_ignore_ascii_case("circle") {
                context.warn(
                    where_,
                    format!(
                        "mark '{shape}' is drawn as a circle (GL circles only, without sprites)"
                    ),
                );
            }
            match &mark.fill {
                Some(fill) => {
                    paint.insert(
                        "circle-color".into(),
                        color(context, where_, fill.color.as_ref(), "#808080"),
                    );
                    if let Some(opacity) = &fill.opacity {
                        paint.insert("circle-opacity".into(), number(context, where_, opacity));
                    }
                }
                None => {
                    paint.insert("circle-opacity".into(), json!(0));
                }
            }
            if let Some(stroke) = &mark.stroke {
                paint.insert(
                    "circle-stroke-color".into(),
                    color(context, where_, stroke.color.as_ref(), "#000000"),
                );
                paint.insert(
                    "circle-stroke-width".into(),
                    stroke
                        .width
                        .as_ref()
                        .map_or(json!(1.0), |w| length(context, where_, w, uom)),
                );
            }
        }
        Some(GraphicSymbol::External(_)) => {
            context.warn(
                where_,
                "an ExternalGraphic needs a sprite sheet, which is not published: drawn as a grey circle",
            );
            paint.insert("circle-color".into(), json!("#808080"));
        }
        _ => {
            paint.insert("circle-color".into(), json!("#808080"));
        }
    }
    if let Some(opacity) = &graphic.opacity {
        let opacity = number(context, where_, opacity);
        paint.insert("circle-opacity".into(), opacity.clone());
        paint.insert("circle-stroke-opacity".into(), opacity);
    }
    if graphic.rotation.is_some() {
        context.warn(where_, "a rotation does not change a circle");
    }
    json!({"id": id, "type": "circle", "paint": paint})
}

fn symbol_layer(
    context: &mut Context,
    where_: &str,
    id: &str,
    text: &sld::TextSymbolizer,
    uom: Uom,
) -> Option<Value> {
    let Some(label) = &text.label else {
        context.warn(where_, "a TextSymbolizer without Label draws nothing");
        return None;
    };
    if !context.labels {
        context.warn(
            where_,
            "labels are left out: GL styles need glyphs, set [vector_tiles] glyphs_url to a glyphs server",
        );
        return None;
    }
    let mut layout = serde_json::Map::new();
    let mut paint = serde_json::Map::new();
    layout.insert("text-field".into(), text_value(context, where_, label));
    if let Some(font) = &text.font {
        let families: Vec<String> = font.family.iter().filter_map(literal).collect();
        let weight = font.weight.as_ref().and_then(literal).unwrap_or_default();
        let style = font.style.as_ref().and_then(literal).unwrap_or_default();
        let suffix = match (
            weight.eq_ignore_ascii_case("bold"),
            style.eq_ignore_ascii_case("italic") || style.eq_ignore_ascii_case("oblique"),
        ) {
            (true, true) => " Bold Italic",
            (true, false) => " Bold",
            (false, true) => " Italic",
            (false, false) => " Regular",
        };
        if !families.is_empty() {
            let fonts: Vec<String> = families.iter().map(|f| format!("{f}{suffix}")).collect();
            layout.insert("text-font".into(), json!(fonts));
        }
        if let Some(size) = &font.size {
            layout.insert("text-size".into(), length(context, where_, size, uom));
        }
    }
    if let Some(fill) = &text.fill {
        paint.insert(
            "text-color".into(),
            color(context, where_, fill.color.as_ref(), "#000000"),
        );
        if let Some(opacity) = &fill.opacity {
            paint.insert("text-opacity".into(), number(context, where_, opacity));
        }
    }
    if let Some(halo) = &text.halo {
        let halo_color = halo.fill.as_ref().and_then(|f| f.color.as_ref());
        paint.insert(
            "text-halo-color".into(),
            color(context, where_, halo_color, "#FFFFFF"),
        );
        paint.insert(
            "text-halo-width".into(),
            halo.radius
                .as_ref()
                .map_or(json!(1.0), |r| length(context, where_, r, uom)),
        );
    }
    match &text.placement {
        Some(LabelPlacement::Line {
            perpendicular_offset,
            ..
        }) => {
            layout.insert("symbol-placement".into(), json!("line"));
            if perpendicular_offset.is_some() {
                context.warn(where_, "a label's perpendicular offset is not translated");
            }
        }
        Some(LabelPlacement::Point {
            anchor_point,
            displacement,
            rotation,
            ..
        }) => {
            if let Some(anchor) = anchor_point {
                let (x, y) = (literal_f64(&anchor.x), literal_f64(&anchor.y));
                if let (Some(x), Some(y)) = (x, y) {
                    let horizontal = if x < 0.25 {
                        "left"
                    } else if x > 0.75 {
                        "right"
                    } else {
                        ""
                    };
                    let vertical = if y < 0.25 {
                        "bottom"
                    } else if y > 0.75 {
                        "top"
                    } else {
                        ""
                    };
                    let anchor = match (vertical, horizontal) {
                        ("", "") => "center".to_owned(),
                        ("", h) => h.to_owned(),
                        (v, "") => v.to_owned(),
                        (v, h) => format!("{v}-{h}"),
                    };
                    layout.insert("text-anchor".into(), Value::from(anchor));
                }
            }
            if let Some(displacement) = displacement {
                if let (Some(x), Some(y)) =
                    (literal_f64(&displacement.x), literal_f64(&displacement.y))
                {
                    let size = layout
                        .get("text-size")
                        .and_then(Value::as_f64)
                        .unwrap_or(16.0)
                        .max(1.0);
                    // GL offsets are in ems, y down; SLD displacements in pixels, y up.
                    layout.insert("text-offset".into(), json!([x / size, -y / size]));
                }
            }
            if let Some(rotation) = rotation {
                layout.insert("text-rotate".into(), number(context, where_, rotation));
            }
        }
        _ => {}
    }
    Some(json!({"id": id, "type": "symbol", "layout": layout, "paint": paint}))
}

/// The text of a literal expression.
fn literal(expression: &Expression) -> Option<String> {
    match expression {
        Expression::Literal { value, .. } => Some(value.clone()),
        _ => None,
    }
}

fn literal_f64(expression: &Expression) -> Option<f64> {
    literal(expression).and_then(|v| v.trim().parse().ok())
}

/// A colour: a literal as written (GL reads CSS colours), or a data-driven expression.
fn color(
    context: &mut Context,
    where_: &str,
    expression: Option<&Expression>,
    default: &str,
) -> Value {
    match expression {
        None => Value::from(default),
        Some(Expression::Literal { value, .. }) => Value::from(value.trim()),
        Some(other) => value(context, where_, other).unwrap_or_else(|| Value::from(default)),
    }
}

/// A number: a literal, or a data-driven expression.
fn number(context: &mut Context, where_: &str, expression: &Expression) -> Value {
    if let Some(v) = literal_f64(expression) {
        return json!(v);
    }
    match value(context, where_, expression) {
        Some(v) => json!(["to-number", v, 1]),
        None => json!(1),
    }
}

/// A length in pixels; ground units (`uom` metre or foot) become a zoom-driven size.
fn length(context: &mut Context, where_: &str, expression: &Expression, uom: Uom) -> Value {
    let pixels = number(context, where_, expression);
    let metres_per_unit = match uom {
        Uom::Metre => 1.0,
        Uom::Foot => 0.3048,
        _ => return pixels,
    };
    let Some(ground) = pixels.as_f64() else {
        context.warn(
            where_,
            "a ground-unit size read from attributes is drawn in pixels",
        );
        return pixels;
    };
    // Pixels of a ground length at zoom z: length / (metres per pixel at z), 512-px world.
    let at = |z: f64| ground * metres_per_unit / (40_075_016.685_578_5 / 512.0 / 2f64.powf(z));
    json!([
        "interpolate",
        ["exponential", 2],
        ["zoom"],
        0,
        at(0.0),
        24,
        at(24.0)
    ])
}

/// A text expression: labels concatenate their parts as text.
fn text_value(context: &mut Context, where_: &str, expression: &Expression) -> Value {
    match expression {
        Expression::Literal { value, .. } => Value::from(value.clone()),
        other => match value(context, where_, other) {
            Some(v) => json!(["to-string", v]),
            None => Value::from(""),
        },
    }
}

/// A data-driven value; `None` (with a warning) when it has no GL counterpart.
fn value(context: &mut Context, where_: &str, expression: &Expression) -> Option<Value> {
    Some(match expression {
        Expression::Literal { value, .. } => value
            .trim()
            .parse::<f64>()
            .map_or_else(|_| Value::from(value.clone()), |n| json!(n)),
        Expression::Property { name, .. } => json!(["get", name]),
        Expression::Arithmetic {
            op, left, right, ..
        } => {
            let op = match op {
                ArithmeticOp::Add => "+",
                ArithmeticOp::Sub => "-",
                ArithmeticOp::Mul => "*",
                ArithmeticOp::Div => "/",
                _ => {
                    context.warn(where_, "an arithmetic operator is not translated");
                    return None;
                }
            };
            let left = value(context, where_, left)?;
            let right = value(context, where_, right)?;
            json!([op, ["to-number", left, 0], ["to-number", right, 0]])
        }
        Expression::Concat { parts, .. } => {
            let mut out = vec![Value::from("concat")];
            for part in parts {
                out.push(json!(["to-string", value(context, where_, part)?]));
            }
            Value::Array(out)
        }
        Expression::Function { name, args, .. } => function(context, where_, name, args)?,
        _ => {
            context.warn(where_, "an expression of an unknown kind is not translated");
            return None;
        }
    })
}

fn function(context: &mut Context, where_: &str, name: &str, args: &[Expression]) -> Option<Value> {
    let mut values = Vec::with_capacity(args.len());
    for arg in args {
        values.push(value(context, where_, arg)?);
    }
    let lower = name.to_ascii_lowercase();
    Some(match (lower.as_str(), values.as_slice()) {
        ("concatenate" | "strconcat", _) => {
            let mut out = vec![Value::from("concat")];
            out.extend(values.iter().map(|v| json!(["to-string", v])));
            Value::Array(out)
        }
        ("strtouppercase", [v]) => json!(["upcase", ["to-string", v]]),
        ("strtolowercase", [v]) => json!(["downcase", ["to-string", v]]),
        // Recode(input, key1, value1, key2, value2…): a match with the input as fallback.
        ("recode", [input, rest @ ..]) if rest.len() >= 2 => {
            let mut out = vec![Value::from("match"), input.clone()];
            for pair in rest.chunks_exact(2) {
                out.push(pair[0].clone());
                out.push(pair[1].clone());
            }
            out.push(input.clone());
            Value::Array(out)
        }
        // Categorize(input, value0, threshold1, value1, …): a step.
        ("categorize", [input, first, rest @ ..]) => {
            let mut out = vec![
                Value::from("step"),
                json!(["to-number", input, 0]),
                first.clone(),
            ];
            let rest: Vec<&Value> = rest
                .iter()
                .filter(|v| {
                    v.as_str().is_none_or(|s| {
                        !s.eq_ignore_ascii_case("succeeding")
                            && !s.eq_ignore_ascii_case("preceding")
                    })
                })
                .collect();
            for pair in rest.chunks_exact(2) {
                out.push(pair[0].clone());
                out.push(pair[1].clone());
            }
            Value::Array(out)
        }
        // Interpolate(input, data1, value1, …[, mode, method]): linear.
        ("interpolate", [input, rest @ ..]) => {
            let mut out = vec![
                Value::from("interpolate"),
                json!(["linear"]),
                json!(["to-number", input, 0]),
            ];
            let points: Vec<&Value> = rest
                .iter()
                .take_while(|v| v.is_number() || v.as_str().is_some_and(|s| s.starts_with('#')))
                .collect();
            for pair in points.chunks_exact(2) {
                out.push(pair[0].clone());
                out.push(pair[1].clone());
            }
            if out.len() < 5 {
                context.warn(
                    where_,
                    "an Interpolate without data points is not translated",
                );
                return None;
            }
            Value::Array(out)
        }
        _ => {
            context.warn(
                where_,
                format!("function '{name}' has no GL counterpart here and is not translated"),
            );
            return None;
        }
    })
}

fn translate_filter(context: &mut Context, where_: &str, filter: &Filter) -> Value {
    match filter {
        Filter::Compare {
            op,
            left,
            right,
            match_case,
            ..
        } => {
            let (property, literal_side, flipped) = match (left, right) {
                (Expression::Property { name, .. }, other) => (Some(name.as_str()), other, false),
                (other, Expression::Property { name, .. }) => (Some(name.as_str()), other, true),
                _ => (None, right, false),
            };
            let numeric = property.is_some_and(|p| context.is_numeric(p));
            let boolean = property.is_some_and(|p| context.is_boolean(p));
            let typed = |context: &mut Context, e: &Expression| -> Option<Value> {
                match e {
                    Expression::Literal { value, .. } if numeric => value
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .map(|n| json!(n))
                        .or_else(|| Some(Value::from(value.clone()))),
                    Expression::Literal { value, .. } if boolean => {
                        let v = value.trim();
                        Some(Value::Bool(v == "1" || v.eq_ignore_ascii_case("true")))
                    }
                    Expression::Literal { value, .. } => Some(Value::from(value.clone())),
                    other => value(context, where_, other),
                }
            };
            let (Some(a), Some(b)) = (
                typed(context, if flipped { literal_side } else { left }),
                typed(context, if flipped { right } else { literal_side }),
            ) else {
                context.warn(
                    where_,
                    "a comparison is not translated: it matches everything",
                );
                return Value::Bool(true);
            };
            let (a, b) = if *match_case || numeric || boolean {
                (a, b)
            } else {
                (
                    json!(["downcase", ["to-string", a]]),
                    json!(["downcase", ["to-string", b]]),
                )
            };
            let op = match op {
                CompareOp::Equal => "==",
                CompareOp::NotEqual => "!=",
                CompareOp::Less => "<",
                CompareOp::LessOrEqual => "<=",
                CompareOp::Greater => ">",
                CompareOp::GreaterOrEqual => ">=",
                _ => {
                    context.warn(
                        where_,
                        "a comparison operator is not translated: it matches everything",
                    );
                    return Value::Bool(true);
                }
            };
            if matches!(op, "<" | "<=" | ">" | ">=") {
                if numeric {
                    return json!([op, ["to-number", a, 0], ["to-number", b, 0]]);
                }
                return json!([op, ["to-string", a], ["to-string", b]]);
            }
            json!([op, a, b])
        }
        Filter::Like {
            expression,
            pattern,
            match_case,
            ..
        } => {
            let Some(subject) = value(context, where_, expression) else {
                return Value::Bool(true);
            };
            let text = &pattern.pattern;
            let starts = text.starts_with(pattern.wild_card);
            let ends = text.ends_with(pattern.wild_card);
            let core: String = text
                .trim_start_matches(pattern.wild_card)
                .trim_end_matches(pattern.wild_card)
                .to_owned();
            if core.contains(pattern.wild_card)
                || core.contains(pattern.single_char)
                || core.contains(pattern.escape_char)
            {
                context.warn(
                    where_,
                    format!("pattern '{text}' has wildcards inside: GL has no pattern matching, the rule matches everything"),
                );
                return Value::Bool(true);
            }
            let (subject, core) = if *match_case {
                (json!(["to-string", subject]), core)
            } else {
                (
                    json!(["downcase", ["to-string", subject]]),
                    core.to_lowercase(),
                )
            };
            let n = core.chars().count();
            match (starts, ends) {
                (true, true) => json!(["in", core, subject]),
                (false, true) => json!(["==", ["slice", subject, 0, n], core]),
                (true, false) => json!([
                    "all",
                    [">=", ["length", subject.clone()], n],
                    [
                        "==",
                        ["slice", subject.clone(), ["-", ["length", subject], n]],
                        core
                    ]
                ]),
                (false, false) => json!(["==", subject, core]),
            }
        }
        Filter::IsNull { expression, .. } => match expression {
            Expression::Property { name, .. } => json!(["!", ["has", name]]),
            _ => Value::Bool(false),
        },
        Filter::Between {
            expression,
            lower,
            upper,
            ..
        } => {
            let (Some(v), Some(lo), Some(hi)) = (
                value(context, where_, expression),
                value(context, where_, lower),
                value(context, where_, upper),
            ) else {
                return Value::Bool(true);
            };
            json!([
                "all",
                [">=", ["to-number", v.clone(), 0], ["to-number", lo, 0]],
                ["<=", ["to-number", v, 0], ["to-number", hi, 0]]
            ])
        }
        Filter::And { filters, .. } => {
            let mut out = vec![Value::from("all")];
            out.extend(filters.iter().map(|f| translate_filter(context, where_, f)));
            Value::Array(out)
        }
        Filter::Or { filters, .. } => {
            let mut out = vec![Value::from("any")];
            out.extend(filters.iter().map(|f| translate_filter(context, where_, f)));
            Value::Array(out)
        }
        Filter::Not { filter, .. } => json!(["!", translate_filter(context, where_, filter)]),
        Filter::Id { ids, .. } => {
            let numbers: Vec<u64> = ids
                .iter()
                .filter_map(|id| id.rsplit('.').next()?.parse().ok())
                .collect();
            json!(["in", ["id"], ["literal", numbers]])
        }
        Filter::Bbox { .. } | Filter::Spatial { .. } => {
            context.warn(
                where_,
                "a spatial filter has no GL counterpart: the rule matches everything",
            );
            Value::Bool(true)
        }
        _ => {
            context.warn(where_, "an unreadable filter matches nothing");
            Value::Bool(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(rules: &str) -> (Vec<Value>, Vec<String>) {
        let sld = format!(
            r#"<StyledLayerDescriptor version="1.0.0" xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc">
  <NamedLayer><Name>t</Name><UserStyle><FeatureTypeStyle>{rules}</FeatureTypeStyle></UserStyle></NamedLayer>
</StyledLayerDescriptor>"#
        );
        let parsed = sld::parse(&sld).expect("a valid SLD");
        let style = &parsed.layers[0].styles[0];
        let mut context = Context {
            warnings: Vec::new(),
            types: vec![
                ("pop".to_owned(), vectorstore::AttributeType::Integer),
                ("name".to_owned(), vectorstore::AttributeType::Text),
                ("open".to_owned(), vectorstore::AttributeType::Boolean),
            ],
            labels: true,
        };
        let mut layers = Vec::new();
        translate_style(&mut context, "src", "t", style, &mut layers);
        (layers, context.warnings)
    }

    #[test]
    fn filters_become_typed_expressions_and_else_matches_the_rest() {
        let (layers, warnings) = translate(
            r#"<Rule><ogc:Filter><ogc:And>
                 <ogc:PropertyIsGreaterThan><ogc:PropertyName>pop</ogc:PropertyName><ogc:Literal>1000</ogc:Literal></ogc:PropertyIsGreaterThan>
                 <ogc:PropertyIsLike wildCard="*" singleChar="." escape="!"><ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>Saint*</ogc:Literal></ogc:PropertyIsLike>
                 <ogc:Not><ogc:PropertyIsNull><ogc:PropertyName>open</ogc:PropertyName></ogc:PropertyIsNull></ogc:Not>
                 <ogc:PropertyIsEqualTo><ogc:PropertyName>open</ogc:PropertyName><ogc:Literal>1</ogc:Literal></ogc:PropertyIsEqualTo>
               </ogc:And></ogc:Filter>
               <LineSymbolizer><Stroke><CssParameter name="stroke">#ff0000</CssParameter><CssParameter name="stroke-width">2</CssParameter><CssParameter name="stroke-dasharray">4 2</CssParameter></Stroke></LineSymbolizer></Rule>
             <Rule><ElseFilter/><MinScaleDenominator>1000</MinScaleDenominator><MaxScaleDenominator>1000000</MaxScaleDenominator>
               <LineSymbolizer uom="http://www.opengeospatial.org/se/units/metre"><Stroke><CssParameter name="stroke-width">10</CssParameter></Stroke></LineSymbolizer></Rule>"#,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let filter = &layers[0]["filter"];
        assert_eq!(
            filter,
            &json!([
                "all",
                [
                    ">",
                    ["to-number", ["get", "pop"], 0],
                    ["to-number", 1000.0, 0]
                ],
                [
                    "==",
                    ["slice", ["to-string", ["get", "name"]], 0, 5],
                    "Saint"
                ],
                ["!", ["!", ["has", "open"]]],
                ["==", ["get", "open"], true]
            ])
        );
        // Dashes in units of the line width.
        assert_eq!(layers[0]["paint"]["line-dasharray"], json!([2.0, 1.0]));
        // The else rule: what the first did not match, between zooms 8.13 and 18.09.
        assert_eq!(layers[1]["filter"], json!(["!", filter]));
        assert_eq!(layers[1]["minzoom"], json!(8.13));
        assert_eq!(layers[1]["maxzoom"], json!(18.09));
        // 10 metres: a width that doubles with each zoom.
        let width = &layers[1]["paint"]["line-width"];
        assert_eq!(width[0], "interpolate");
        let (at0, at24) = (
            width[4].as_f64().expect("a number"),
            width[6].as_f64().expect("a number"),
        );
        assert!((at24 / at0 - 2f64.powi(24)).abs() < 1.0);
    }

    #[test]
    fn what_gl_cannot_draw_is_approximated_and_listed() {
        let (layers, warnings) = translate(
            r#"<Rule><PointSymbolizer><Graphic><Mark><WellKnownName>triangle</WellKnownName><Fill><CssParameter name="fill">#00ff00</CssParameter></Fill></Mark><Size>8</Size></Graphic></PointSymbolizer>
               <PointSymbolizer><Graphic><ExternalGraphic><OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="icon.png"/><Format>image/png</Format></ExternalGraphic></Graphic></PointSymbolizer></Rule>
             <Rule><ogc:Filter><ogc:PropertyIsLike wildCard="*" singleChar="." escape="!"><ogc:PropertyName>name</ogc:PropertyName><ogc:Literal>a*b</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>
               <PolygonSymbolizer><Fill><CssParameter name="fill">#0000ff</CssParameter></Fill></PolygonSymbolizer></Rule>"#,
        );
        assert_eq!(layers[0]["type"], "circle");
        assert_eq!(layers[0]["paint"]["circle-radius"], json!(4.0));
        assert_eq!(layers[0]["paint"]["circle-color"], "#00ff00");
        assert_eq!(layers[1]["type"], "circle");
        assert_eq!(layers[2]["filter"], json!(true));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        for expected in ["triangle", "ExternalGraphic", "a*b"] {
            assert!(
                warnings.iter().any(|w| w.contains(expected)),
                "{expected}: {warnings:?}"
            );
        }
    }
}
