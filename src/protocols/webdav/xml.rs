//! A small namespace-resolved XML tree for WebDAV request bodies, and its writer.
//!
//! Request bodies are read whole (they are bounded by the HTTP layer) into [`Element`]s
//! whose names carry their namespace URI, not the prefix the client chose (RFC 4918 §17:
//! names are compared by namespace and local name). Dead property values keep their XML
//! content: [`Element::children`] is written back by [`write_children`] with every
//! namespace declared where it is used, so a value moved into a response (where other
//! prefixes are in force) means the same elements.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::WebDavError;

/// The DAV: namespace (RFC 4918 §21.1).
pub const DAV: &str = "DAV:";

/// Elements nested deeper than this are refused: a bound on recursion and on work.
const MAX_DEPTH: usize = 64;

/// An element with its namespace (empty for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: String,
    pub local: String,
    /// Attributes as (namespace, local name, value); namespace declarations left out.
    pub attrs: Vec<(String, String, String)>,
    pub children: Vec<Node>,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The child elements, text and whitespace left out.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The element's text content (its text children joined).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }
}

fn namespace(r: &ResolveResult<'_>, prefixed: bool) -> Result<String, WebDavError> {
    match r {
        // `xmlns:p=""` is not allowed in XML 1.0 namespaces (only the default namespace may
        // be undeclared).
        ResolveResult::Bound(ns) if ns.as_ref().is_empty() && prefixed => Err(WebDavError::BadXml(
            "a prefix bound to the empty namespace".into(),
        )),
        ResolveResult::Bound(ns) => Ok(ns.as_ref().to_string()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(WebDavError::BadXml(format!(
            "undeclared namespace prefix {p:?}"
        ))),
    }
}

/// Parses a whole document into its root element. An empty (or whitespace-only) body
/// is `Ok(None)`: RFC 4918 gives several methods a meaning for "no body".
pub fn parse(body: &[u8]) -> Result<Option<Element>, WebDavError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| WebDavError::BadXml("the body is not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    let bad = |e: &dyn std::fmt::Display| WebDavError::BadXml(e.to_string());
    // The open elements; the root ends up alone in `done`.
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| bad(&e))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let mut el = Element {
                    ns: namespace(&resolved, s.name().prefix().is_some())?,
                    local: s.local_name().as_ref().to_string(),
                    ..Element::default()
                };
                for a in s.attributes() {
                    let a = a.map_err(|e| bad(&e))?;
                    if a.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (r, local) = reader.resolver().resolve_attribute(a.key);
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| bad(&e))?;
                    el.attrs.push((
                        namespace(&r, a.key.prefix().is_some())?,
                        local.as_ref().to_string(),
                        value.into_owned(),
                    ));
                }
                if root.is_some() {
                    return Err(WebDavError::BadXml("content after the root element".into()));
                }
                if matches!(event, Event::Start(_)) {
                    if stack.len() >= MAX_DEPTH {
                        return Err(WebDavError::BadXml("elements nested too deep".into()));
                    }
                    stack.push(el);
                } else {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => match stack.pop() {
                Some(el) => close(&mut stack, &mut root, el),
                None => return Err(WebDavError::BadXml("unbalanced end tag".into())),
            },
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => {
                let raw = c.into_inner();
                push_text(&mut stack, &raw)?;
            }
            Event::GeneralRef(r) => {
                let ch = r.resolve_char_ref().map_err(|e| bad(&e))?;
                let name = AsRef::<str>::as_ref(&r).to_string();
                let s = match ch {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&name)
                        .ok_or_else(|| WebDavError::BadXml(format!("unknown entity &{name};")))?
                        .to_string(),
                };
                push_text(&mut stack, &s)?;
            }
            Event::DocType(_) => {
                // No DTDs: entities they declare are how XML bombs are made.
                return Err(WebDavError::BadXml("DOCTYPE is not accepted".into()));
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(WebDavError::BadXml(
            "the document ends inside an element".into(),
        ));
    }
    root.map(Some)
        .ok_or_else(|| WebDavError::BadXml("no root element".into()))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), WebDavError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_string()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(WebDavError::BadXml("text outside the root element".into())),
    }
}

/// Writes `el` with every namespace declared on the element that uses it (prefix `x0`,
/// `x1`… by depth), so the fragment means the same wherever it is put. Elements in no
/// namespace are written unprefixed: the writers of this module never declare a default
/// namespace around them.
pub fn write_element(out: &mut String, el: &Element, depth: usize) {
    let prefix = format!("x{depth}");
    let name = if el.ns.is_empty() {
        el.local.clone()
    } else {
        format!("{prefix}:{}", el.local)
    };
    out.push('<');
    out.push_str(&name);
    if !el.ns.is_empty() {
        out.push_str(&format!(" xmlns:{prefix}=\"{}\"", escape(el.ns.as_str())));
    }
    for (i, (ns, local, value)) in el.attrs.iter().enumerate() {
        if ns.is_empty() {
            out.push_str(&format!(" {local}=\"{}\"", escape(value.as_str())));
        } else {
            let p = format!("a{depth}_{i}");
            out.push_str(&format!(
                " xmlns:{p}=\"{}\" {p}:{local}=\"{}\"",
                escape(ns.as_str()),
                escape(value.as_str())
            ));
        }
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    write_children(out, &el.children, depth + 1);
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

/// Writes `children` as [`write_element`] writes an element's content.
pub fn write_children(out: &mut String, children: &[Node], depth: usize) {
    for n in children {
        match n {
            Node::Text(t) => out.push_str(&escape(t.as_str())),
            Node::Element(e) => write_element(out, e, depth),
        }
    }
}
