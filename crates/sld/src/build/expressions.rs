//! Expressions: the values of parameters, labels and filter operands. Plain text, Filter
//! Encoding's `Literal`, `PropertyName`, arithmetic and `Function`, and SE's functions
//! (`Categorize`, `Interpolate`, `Recode`, `Concatenate`, `FormatNumber`, `ChangeCase`, `Trim`,
//! `StringLength`), the latter turned into the GeoServer functions of the same meaning.

use super::Builder;
use crate::expr::{ArithmeticOp, Expression};
use crate::xml::{Element, Node};
use crate::Pos;

/// What stands for an expression that could not be read (its problem is reported).
fn invalid(pos: Pos) -> Expression {
    Expression::Literal {
        value: String::new(),
        pos,
    }
}

impl Builder {
    /// The expression an element's content holds: plain text, one expression element, or
    /// mixed content (concatenated). `None` when empty.
    pub(super) fn content(&mut self, element: &Element) -> Option<Expression> {
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
    pub(super) fn operands(&mut self, element: &Element) -> Vec<Expression> {
        element
            .elements()
            .map(|child| self.expression(child))
            .collect()
    }

    pub(super) fn expression(&mut self, element: &Element) -> Expression {
        let pos = element.pos;
        let name = element.name.as_str();
        let expression_ns = element.ns.is_filter() || element.ns.is_style();
        if !expression_ns {
            self.unexpected(element, element, &[]);
            return invalid(pos);
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
            "PropertyName" | "ValueReference" => self.property(element),
            "Add" | "Sub" | "Mul" | "Div" => self.arithmetic(element),
            "Function" => {
                let Some(function) = element.attr("name") else {
                    self.error(
                        pos,
                        "<Function> has no name attribute",
                        Some("write <ogc:Function name=\"strToUpperCase\">…".to_owned()),
                    );
                    return invalid(pos);
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
            "Concatenate" | "ChangeCase" | "Trim" | "StringLength" if element.ns.is_style() => {
                let function = match (name, element.attr("direction")) {
                    ("Concatenate", _) => "Concatenate",
                    ("ChangeCase", Some("toLower")) => "strToLowerCase",
                    ("ChangeCase", _) => "strToUpperCase",
                    ("Trim", _) => "strTrim",
                    _ => "strLength",
                };
                Expression::Function {
                    name: function.to_owned(),
                    args: self.string_values(element),
                    pos,
                }
            }
            "FormatNumber" if element.ns.is_style() => self.format_number(element),
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
                invalid(pos)
            }
        }
    }

    /// `PropertyName` / `ValueReference`.
    fn property(&mut self, element: &Element) -> Expression {
        let text = element.text();
        let text = text.trim();
        if text.is_empty() {
            self.error(
                element.pos,
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
            pos: element.pos,
        }
    }

    /// `Add`, `Sub`, `Mul` or `Div`.
    fn arithmetic(&mut self, element: &Element) -> Expression {
        let pos = element.pos;
        let op = match element.name.as_str() {
            "Add" => ArithmeticOp::Add,
            "Sub" => ArithmeticOp::Sub,
            "Mul" => ArithmeticOp::Mul,
            _ => ArithmeticOp::Div,
        };
        let hint = "write two expressions inside it, e.g. <ogc:PropertyName>a</ogc:PropertyName>\
                    <ogc:Literal>2</ogc:Literal>";
        match self.two_operands(element, "exactly two operands", hint.to_owned()) {
            Some((left, right)) => Expression::Arithmetic {
                op,
                left: Box::new(left),
                right: Box::new(right),
                pos,
            },
            None => invalid(pos),
        }
    }

    /// The two operands (left, right) of an arithmetic or comparison element; `None` unless it
    /// has exactly two, reported as needing `needs` (with `hint`).
    pub(super) fn two_operands(
        &mut self,
        element: &Element,
        needs: &str,
        hint: String,
    ) -> Option<(Expression, Expression)> {
        let mut operands = self.operands(element);
        if operands.len() != 2 {
            self.error(
                element.pos,
                format!(
                    "<{}> needs {needs}, got {}",
                    element.display_name(),
                    operands.len()
                ),
                Some(hint),
            );
            return None;
        }
        let right = operands.pop()?;
        let left = operands.pop()?;
        Some((left, right))
    }

    /// The `StringValue`s of SE's string functions.
    fn string_values(&mut self, element: &Element) -> Vec<Expression> {
        let mut args = Vec::new();
        self.style_children(element, &["StringValue"], |builder, child| {
            let taken = child.name == "StringValue";
            if taken {
                args.extend(builder.content(child));
            }
            taken
        });
        args
    }

    /// SE `FormatNumber` as GeoServer's `numberFormat(pattern, number)`.
    fn format_number(&mut self, element: &Element) -> Expression {
        let (mut number, mut pattern) = (None, None);
        self.style_children(element, &["NumericValue", "Pattern"], |builder, child| {
            match child.name.as_str() {
                "NumericValue" => number = builder.content(child),
                "Pattern" => pattern = builder.content(child),
                _ => return false,
            }
            true
        });
        Expression::Function {
            name: "numberFormat".to_owned(),
            args: pattern.into_iter().chain(number).collect(),
            pos: element.pos,
        }
    }

    /// SE `Categorize` / `Interpolate` / `Recode` as GeoServer's functions of the same names.
    fn se_function(&mut self, element: &Element) -> Expression {
        let mut args = Vec::new();
        let mut lookup = None;
        let expected = [
            "LookupValue",
            "Value",
            "Threshold",
            "InterpolationPoint",
            "MapItem",
        ];
        self.style_children(element, &expected, |builder, child| {
            match child.name.as_str() {
                "LookupValue" => lookup = builder.content(child),
                "Value" | "Threshold" => args.extend(builder.content(child)),
                "InterpolationPoint" | "MapItem" => {
                    builder.style_children(child, &["Data", "Value"], |builder, part| {
                        let taken = matches!(part.name.as_str(), "Data" | "Value");
                        if taken {
                            args.extend(builder.content(part));
                        }
                        taken
                    });
                }
                _ => return false,
            }
            true
        });
        let Some(lookup) = lookup else {
            self.error(
                element.pos,
                format!("<{}> has no <LookupValue>", element.display_name()),
                Some(
                    "add <se:LookupValue><ogc:PropertyName>…</ogc:PropertyName></se:LookupValue>"
                        .to_owned(),
                ),
            );
            return invalid(element.pos);
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
}
