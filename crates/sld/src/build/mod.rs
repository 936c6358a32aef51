//! From the element tree to the style model, SLD 1.0.0 and SE 1.1 alike.
//!
//! Elements are matched on namespace + local name: style elements in the SLD or SE namespace
//! (or none), filter elements in the OGC or FES 2.0 namespace (or none). Anything the model
//! has no place for is recorded as a problem at its position — an error when it looks like a
//! mistake (a misspelled or misplaced element, with a "did you mean"), a warning when it is a
//! foreign extension that is merely ignored — and building carries on, so that validation can
//! report every problem at once.
//!
//! One file per family of elements, each adding its methods to the one `Builder`: `style`
//! (the document down to the rules), `symbolizers` (vector symbolizers and what draws them),
//! `raster`, `expressions` and `filters`. This file holds the entry point and what they all
//! share: reporting problems, and walking the children of an element.
// `match` with a fallback arm reads better than `if let … else` for the many "element or
// report" cases below.
#![allow(clippy::single_match_else)]

mod expressions;
mod filters;
mod raster;
mod style;
mod symbolizers;

use crate::model::{Sld, Text, VendorOption};
use crate::suggest::did_you_mean;
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

/// A standalone `<Filter>` (WFS): spatial operators allowed; the first error refuses it.
pub(crate) fn build_filter(root: &Element) -> Result<crate::Filter, SldError> {
    if root.name != "Filter" || !root.ns.is_filter() {
        return Err(SldError::Invalid(Problem {
            line: root.pos.line,
            column: root.pos.column,
            severity: crate::Severity::Error,
            message: format!("<{}> is not a filter", root.display_name()),
            hint: Some(
                "send <fes:Filter xmlns:fes=\"http://www.opengis.net/fes/2.0\"> (or ogc:Filter)"
                    .to_owned(),
            ),
        }));
    }
    let mut builder = Builder {
        spatial: true,
        ..Builder::default()
    };
    let filter = builder.filter(root);
    match builder.issues.into_iter().find(Problem::is_error) {
        Some(problem) => Err(SldError::Invalid(problem)),
        None => Ok(filter),
    }
}

/// Builds the model and collects the problems met on the way.
#[derive(Default)]
struct Builder {
    issues: Vec<Problem>,
    /// Whether spatial operators other than BBOX are read (filters, not styles).
    spatial: bool,
}

/// Whether `element` is the style element (SLD or SE namespace, or none) `name`.
fn is(element: &Element, name: &str) -> bool {
    element.ns.is_style() && element.name == name
}

/// Whether `element` is the filter element (OGC or FES namespace, or none) `name`.
fn is_filter(element: &Element, name: &str) -> bool {
    element.ns.is_filter() && element.name == name
}

/// Trimmed text, `None` when empty.
fn text_of(element: &Element) -> Option<String> {
    let text = element.text();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Trimmed text with the element's position, `None` when empty.
fn text_at(element: &Element) -> Option<Text> {
    text_of(element).map(|value| Text {
        value,
        pos: element.pos,
    })
}

/// `text` cut to 40 characters, for messages.
fn shorten(text: &str) -> String {
    if text.chars().count() > 40 {
        let mut short: String = text.chars().take(40).collect();
        short.push('…');
        short
    } else {
        text.to_owned()
    }
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

    /// Hands every child element of `element` to `take`, in document order; each one it does
    /// not take (it returns false) is reported as unexpected, with `expected` in the hint.
    fn children<'e>(
        &mut self,
        element: &'e Element,
        expected: &[&str],
        mut take: impl FnMut(&mut Self, &'e Element) -> bool,
    ) {
        for child in element.elements() {
            if !take(self, child) {
                self.unexpected(child, element, expected);
            }
        }
    }

    /// [`Builder::children`] for an element whose children are all style elements: `take`
    /// only sees those in the SLD or SE namespace (or none), and can match on the name alone.
    fn style_children<'e>(
        &mut self,
        element: &'e Element,
        expected: &[&str],
        mut take: impl FnMut(&mut Self, &'e Element) -> bool,
    ) {
        self.children(element, expected, |builder, child| {
            child.ns.is_style() && take(builder, child)
        });
    }

    /// `VendorOption` (in a `FeatureTypeStyle` or a symbolizer).
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
}
