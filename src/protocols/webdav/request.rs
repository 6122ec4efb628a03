//! The request bodies of PROPFIND (RFC 4918 §9.1, §14.20), PROPPATCH (§9.2, §14.19) and
//! LOCK (§9.10, §14.11), parsed from the [`super::xml`] tree into typed requests.

use super::xml::{self, Element, Node, DAV};
use super::{PropName, WebDavError};

/// What a PROPFIND asks for (RFC 4918 §14.20):
/// `<!ELEMENT propfind ( propname | (allprop, include?) | prop ) >`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Propfind {
    /// Every dead property and the live ones the server defines for allprop, plus the
    /// `include`d names. An empty body means this too (§9.1).
    AllProp { include: Vec<PropName> },
    /// The names only.
    PropName,
    /// These properties.
    Prop(Vec<PropName>),
}

/// One instruction of a PROPPATCH, in document order (§9.2: applied in order, all or
/// nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOp {
    /// Set a property to this value: the element as the client sent it (its content is
    /// the value; [`xml::write_children`] writes it back).
    Set(PropName, Element),
    Remove(PropName),
}

/// Lock scope (§14.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    Exclusive,
    Shared,
}

/// A LOCK body (§14.11): scope, write type, and the owner as XML to give back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub scope: LockScope,
    /// The `owner` element's content, written back verbatim in `lockdiscovery`.
    pub owner: Option<String>,
}

fn root_named(el: Option<Element>, local: &str) -> Result<Option<Element>, WebDavError> {
    match el {
        None => Ok(None),
        Some(e) if e.is(DAV, local) => Ok(Some(e)),
        Some(e) => Err(WebDavError::BadXml(format!(
            "expected DAV:{local}, found {{{}}}{}",
            e.ns, e.local
        ))),
    }
}

fn names(prop: &Element) -> Vec<PropName> {
    prop.elements().map(PropName::of).collect()
}

/// Parses a PROPFIND body (empty: allprop).
pub fn parse_propfind(body: &[u8]) -> Result<Propfind, WebDavError> {
    let Some(root) = root_named(xml::parse(body)?, "propfind")? else {
        return Ok(Propfind::AllProp {
            include: Vec::new(),
        });
    };
    if root.child(DAV, "propname").is_some() {
        return Ok(Propfind::PropName);
    }
    if root.child(DAV, "allprop").is_some() {
        let include = root.child(DAV, "include").map(names).unwrap_or_default();
        return Ok(Propfind::AllProp { include });
    }
    match root.child(DAV, "prop") {
        Some(prop) => Ok(Propfind::Prop(names(prop))),
        None => Err(WebDavError::BadXml(
            "propfind needs propname, allprop or prop".into(),
        )),
    }
}

/// Parses a PROPPATCH body (§14.19 `propertyupdate`: `(remove | set)+`).
pub fn parse_proppatch(body: &[u8]) -> Result<Vec<PatchOp>, WebDavError> {
    let Some(root) = root_named(xml::parse(body)?, "propertyupdate")? else {
        return Err(WebDavError::BadXml("PROPPATCH needs a body".into()));
    };
    let mut ops = Vec::new();
    for step in root.elements() {
        let set = if step.is(DAV, "set") {
            true
        } else if step.is(DAV, "remove") {
            false
        } else {
            continue;
        };
        for prop in step.elements().filter(|e| e.is(DAV, "prop")) {
            for p in prop.elements() {
                ops.push(if set {
                    PatchOp::Set(PropName::of(p), p.clone())
                } else {
                    PatchOp::Remove(PropName::of(p))
                });
            }
        }
    }
    if ops.is_empty() {
        return Err(WebDavError::BadXml("propertyupdate changes nothing".into()));
    }
    Ok(ops)
}

/// Parses a LOCK body; `None` for an empty body (a refresh, §9.10.2).
pub fn parse_lockinfo(body: &[u8]) -> Result<Option<LockInfo>, WebDavError> {
    let Some(root) = root_named(xml::parse(body)?, "lockinfo")? else {
        return Ok(None);
    };
    let scope = match root.child(DAV, "lockscope") {
        Some(s) if s.child(DAV, "exclusive").is_some() => LockScope::Exclusive,
        Some(s) if s.child(DAV, "shared").is_some() => LockScope::Shared,
        _ => return Err(WebDavError::BadXml("lockinfo needs a lockscope".into())),
    };
    match root.child(DAV, "locktype") {
        Some(t) if t.child(DAV, "write").is_some() => {}
        _ => return Err(WebDavError::BadXml("only write locks exist".into())),
    }
    let owner = root.child(DAV, "owner").map(|o| {
        let mut s = String::new();
        xml::write_children(&mut s, &o.children, 0);
        s
    });
    Ok(Some(LockInfo { scope, owner }))
}

/// The value a PROPPATCH set: the element's content, written self-contained.
pub fn value_of(el: &Element) -> String {
    let mut s = String::new();
    xml::write_children(&mut s, &el.children, 0);
    s
}

/// Whether a value written by [`value_of`] is plain text (no elements).
pub fn is_text(children: &[Node]) -> bool {
    children.iter().all(|n| matches!(n, Node::Text(_)))
}
