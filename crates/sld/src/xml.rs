//! The XML layer: a bounded, namespace-resolved element tree read with quick-xml's `NsReader`.
//!
//! Styles are small (kilobytes, rarely a few megabytes), so the reader streams the document once
//! into a compact tree whose names are already resolved to a namespace URI + local name (never
//! a prefix) and whose nodes keep their line and column. Building the style model from that
//! tree can then look ahead, report every problem, and keep going after the first one.
//!
//! Hostile input stops here: a `<!DOCTYPE …>` is refused outright (so no external entity is
//! ever resolved and no entity can expand into a billion laughs), only the five predefined
//! entities and character references are expanded, and the size, nesting depth and number of
//! elements are bounded by [`Limits`].

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::{Limits, Pos, SldError};

/// Namespaces the style model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    /// `http://www.opengis.net/sld` (SLD 1.0.0 and the SLD 1.1.0 wrapper).
    Sld,
    /// `http://www.opengis.net/se` (Symbology Encoding 1.1).
    Se,
    /// `http://www.opengis.net/ogc` (Filter Encoding 1.0 / 1.1).
    Ogc,
    /// `http://www.opengis.net/fes/2.0` (Filter Encoding 2.0).
    Fes,
    /// `http://www.opengis.net/gml` or `http://www.opengis.net/gml/3.2`.
    Gml,
    /// `http://www.w3.org/1999/xlink`.
    Xlink,
    /// No namespace (hand-written styles without `xmlns`).
    None,
    /// Any other namespace.
    Other,
}

impl Ns {
    fn from_uri(uri: &[u8]) -> Ns {
        match uri {
            b"http://www.opengis.net/sld" => Ns::Sld,
            b"http://www.opengis.net/se" => Ns::Se,
            b"http://www.opengis.net/ogc" => Ns::Ogc,
            b"http://www.opengis.net/fes/2.0" => Ns::Fes,
            b"http://www.opengis.net/gml" | b"http://www.opengis.net/gml/3.2" => Ns::Gml,
            b"http://www.w3.org/1999/xlink" => Ns::Xlink,
            _ => Ns::Other,
        }
    }

    /// Elements of the style vocabulary (SLD, SE, or no namespace).
    pub(crate) fn is_style(self) -> bool {
        matches!(self, Ns::Sld | Ns::Se | Ns::None)
    }

    /// Elements of the filter vocabulary (OGC, FES 2.0, or no namespace).
    pub(crate) fn is_filter(self) -> bool {
        matches!(self, Ns::Ogc | Ns::Fes | Ns::None)
    }
}

/// An attribute with its resolved namespace (attributes without a prefix have none).
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub ns: Ns,
    pub name: String,
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    /// Character data; `cdata` says it came from a CDATA section (whitespace then matters).
    Text {
        text: String,
        cdata: bool,
        pos: Pos,
    },
}

/// An element with its resolved name, attributes, children and position.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub ns: Ns,
    /// The namespace URI as written (for messages about foreign elements).
    pub uri: String,
    pub name: String,
    /// The name as written, prefix included (for messages).
    pub qname: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    pub pos: Pos,
}

impl Element {
    /// Child elements, in document order.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text { .. } => None,
        })
    }

    /// The value of an attribute without namespace (or in any namespace when `name` is unique).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name && a.ns != Ns::Xlink)
            .or_else(|| self.attrs.iter().find(|a| a.name == name))
            .map(|a| a.value.as_str())
    }

    /// The value of an `xlink:` attribute.
    pub(crate) fn xlink(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name && a.ns == Ns::Xlink)
            .map(|a| a.value.as_str())
    }

    /// All character data of the element's direct children, concatenated.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            if let Node::Text { text, .. } = node {
                out.push_str(text);
            }
        }
        out
    }

    /// The name as written in the document (`se:Stroke`, `ogc:Filter`, `Rule`), for messages.
    pub(crate) fn display_name(&self) -> &str {
        &self.qname
    }
}

/// Maps byte offsets to 1-based line and column (columns count characters, not bytes).
/// Offsets mostly grow, so the last answer is kept and counting resumes from it: a document
/// on one long line stays linear.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    last: (usize, Pos),
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text,
            starts,
            last: (0, Pos::new(1, 1)),
        }
    }

    pub(crate) fn pos(&mut self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line.saturating_sub(1)];
        let (last_offset, last_pos) = self.last;
        let from = if last_offset >= start && last_offset <= offset && last_pos.line == line as u32
        {
            (last_offset, last_pos.column)
        } else {
            (start, 1)
        };
        let counted = self
            .text
            .get(from.0..offset)
            .map_or(offset - from.0, |s| s.chars().count());
        let pos = Pos::new(line as u32, from.1 + counted as u32);
        self.last = (offset, pos);
        pos
    }
}

/// Reads the whole document into a tree, enforcing `limits`.
pub(crate) fn read(text: &str, limits: &Limits) -> Result<Element, SldError> {
    if text.len() > limits.max_bytes {
        return Err(SldError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    let mut index = LineIndex::new(text);
    let mut reader = NsReader::from_str(text);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let offset = reader.buffer_position() as usize;
        let pos = index.pos(offset);
        let (ns, uri, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => {
                let (ns, uri) = match resolved {
                    ResolveResult::Bound(namespace) => {
                        (Ns::from_uri(namespace.0.as_bytes()), namespace.0.to_owned())
                    }
                    ResolveResult::Unbound => (Ns::None, String::new()),
                    ResolveResult::Unknown(prefix) => return Err(undeclared(pos, prefix)),
                };
                (ns, uri, event)
            }
            Err(error) => {
                return Err(SldError::Xml {
                    pos: index.pos(reader.error_position() as usize),
                    message: error.to_string(),
                })
            }
        };
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(SldError::TooManyElements {
                        pos,
                        limit: limits.max_elements,
                    });
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(SldError::TooDeep {
                        pos,
                        limit: limits.max_depth,
                    });
                }
                if stack.is_empty() && root.is_some() {
                    return Err(SldError::Xml {
                        pos,
                        message: "a second root element: an XML document has exactly one"
                            .to_owned(),
                    });
                }
                let mut attrs = Vec::new();
                for attr in tag.attributes() {
                    let attr = attr.map_err(|error| SldError::Xml {
                        pos,
                        message: error.to_string(),
                    })?;
                    if attr.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (resolved, local) = reader.resolver().resolve_attribute(attr.key);
                    let attr_ns = match resolved {
                        ResolveResult::Bound(namespace) => Ns::from_uri(namespace.0.as_bytes()),
                        ResolveResult::Unbound => Ns::None,
                        ResolveResult::Unknown(prefix) => return Err(undeclared(pos, prefix)),
                    };
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|error| SldError::Xml {
                            pos,
                            message: format!(
                                "{error} (only the five predefined entities and character \
                                 references are allowed)"
                            ),
                        })?;
                    attrs.push(Attr {
                        ns: attr_ns,
                        name: AsRef::<str>::as_ref(&local).to_owned(),
                        value: value.into_owned(),
                    });
                }
                let element = Element {
                    ns,
                    uri,
                    name: AsRef::<str>::as_ref(&tag.local_name()).to_owned(),
                    qname: AsRef::<str>::as_ref(&tag.name()).to_owned(),
                    attrs,
                    children: Vec::new(),
                    pos,
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::End(_) => {
                if let Some(element) = stack.pop() {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::Text(text) => {
                push_text(&mut stack, &text.xml10_content(), false, pos);
            }
            Event::CData(data) => {
                push_text(&mut stack, &data.xml10_content(), true, pos);
            }
            Event::GeneralRef(reference) => {
                let resolved = entity_text(&reference.xml10_content());
                match resolved {
                    Some(text) => push_text(&mut stack, &text, false, pos),
                    None => {
                        return Err(SldError::Entity {
                            pos,
                            name: reference.xml10_content().into_owned(),
                        })
                    }
                }
            }
            Event::DocType(_) => return Err(SldError::Doctype { pos }),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(SldError::Xml {
            pos: index.pos(text.len()),
            message: format!(
                "the document ends before <{}> (opened at {}) is closed",
                open.display_name(),
                open.pos
            ),
        });
    }
    root.ok_or(SldError::Empty)
}

/// A namespace prefix used without its `xmlns:` declaration.
fn undeclared(pos: Pos, prefix: impl std::fmt::Display) -> SldError {
    SldError::Xml {
        pos,
        message: format!(
            "namespace prefix '{prefix}' is not declared: add xmlns:{prefix}=\"…\" to the root \
             element"
        ),
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

/// The text of an entity reference `&name;` (`name` without `&` and `;`): one of the five
/// predefined entities or a character reference (`#233`, `#xE9`); `None` for anything else,
/// which a hardened reader refuses.
pub fn entity_text(name: &str) -> Option<String> {
    let predefined = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    };
    let character = predefined.or_else(|| {
        let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
            u32::from_str_radix(hex, 16).ok()?
        } else {
            name.strip_prefix('#')?.parse::<u32>().ok()?
        };
        char::from_u32(code).filter(|c| *c != '\0')
    })?;
    Some(character.to_string())
}

fn push_text(stack: &mut [Element], text: &str, cdata: bool, pos: Pos) {
    let Some(parent) = stack.last_mut() else {
        return; // whitespace around the root element
    };
    if let Some(Node::Text {
        text: previous,
        cdata: previous_cdata,
        ..
    }) = parent.children.last_mut()
    {
        previous.push_str(text);
        *previous_cdata |= cdata;
        return;
    }
    parent.children.push(Node::Text {
        text: text.to_owned(),
        cdata,
        pos,
    });
}
