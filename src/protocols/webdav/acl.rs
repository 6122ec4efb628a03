//! WebDAV access control (RFC 3744) as far as calendars and address books use it: the
//! ACL method's body (§8.1) parsed into [`Ace`]s, the privileges an IMAP-style rights
//! string (RFC 4314 letters, the store's ACL model) grants and back, and the XML of the
//! `acl`, `supported-privilege-set` and `acl-restrictions` properties.
//!
//! The mapping (both ways): "r" (with "l") is `read`, "w" `write-content`, "i" `bind`,
//! "t" `unbind`, "a" `read-acl`; `write` is "wit", `all` "lrwita" (everything a sharee
//! can hold). `write-acl` is the owner's alone (only the owner may use the ACL method), so
//! no grant shows it and granting it to anyone is refused (`not-supported-privilege`).
//! The other letters ("s", "k", "x", "e", "p") have no DAV privilege: the ACL method
//! leaves them as they were ([`KEPT_RIGHTS`]). The server grants only (no deny ACEs, no `invert`):
//! [`ACL_RESTRICTIONS`] says so.

use super::xml::{self, Element, DAV};
use super::{PropName, WebDavError};

/// Who an ACE is for (§5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcePrincipal {
    Href(String),
    All,
    Authenticated,
    Unauthenticated,
    /// `self`, `property` or anything else: not one the server grants to.
    Other(String),
}

/// One ACE of an ACL request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    pub principal: AcePrincipal,
    /// `invert` around the principal.
    pub invert: bool,
    /// `grant` (true) or `deny`.
    pub grant: bool,
    pub privileges: Vec<PropName>,
    /// Marked `protected` by the client (a copy of a protected ACE it read).
    pub protected: bool,
}

/// Parses an ACL request body (`<!ELEMENT acl (ace*)>`).
pub fn parse_acl(body: &[u8]) -> Result<Vec<Ace>, WebDavError> {
    let root = xml::parse(body)?
        .ok_or_else(|| WebDavError::BadXml("the ACL method needs an acl body".into()))?;
    if !root.is(DAV, "acl") {
        return Err(WebDavError::BadXml(format!(
            "expected DAV:acl, found {{{}}}{}",
            root.ns, root.local
        )));
    }
    root.elements()
        .filter(|e| e.is(DAV, "ace"))
        .map(parse_ace)
        .collect()
}

fn parse_ace(ace: &Element) -> Result<Ace, WebDavError> {
    let (holder, invert) = match ace.child(DAV, "invert") {
        Some(inv) => (inv, true),
        None => (ace, false),
    };
    let principal = holder
        .child(DAV, "principal")
        .ok_or_else(|| WebDavError::BadXml("an ace without a principal".into()))?;
    let principal = match principal.elements().next() {
        Some(p) if p.is(DAV, "href") => AcePrincipal::Href(p.text().trim().to_string()),
        Some(p) if p.is(DAV, "all") => AcePrincipal::All,
        Some(p) if p.is(DAV, "authenticated") => AcePrincipal::Authenticated,
        Some(p) if p.is(DAV, "unauthenticated") => AcePrincipal::Unauthenticated,
        Some(p) => AcePrincipal::Other(format!("{{{}}}{}", p.ns, p.local)),
        None => return Err(WebDavError::BadXml("an empty principal".into())),
    };
    let (list, grant) = match (ace.child(DAV, "grant"), ace.child(DAV, "deny")) {
        (Some(g), None) => (g, true),
        (None, Some(d)) => (d, false),
        _ => {
            return Err(WebDavError::BadXml(
                "an ace needs one grant or one deny".into(),
            ))
        }
    };
    let privileges = list
        .elements()
        .filter(|p| p.is(DAV, "privilege"))
        .filter_map(|p| p.elements().next().map(PropName::of))
        .collect();
    Ok(Ace {
        principal,
        invert,
        grant,
        privileges,
        protected: ace.child(DAV, "protected").is_some(),
    })
}

/// Why an ACL request is refused: the precondition of §8.1.1 (all 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclRefusal {
    /// A deny ACE.
    GrantOnly,
    /// An `invert`.
    NoInvert,
    /// A privilege the server does not have (its name).
    NotSupportedPrivilege(String),
    /// An abstract privilege granted alone.
    NoAbstract(String),
    /// A principal that is not one of the server's.
    RecognizedPrincipal(String),
    /// A change to the protected (owner's) ACE.
    NoProtectedAceConflict,
}

impl AclRefusal {
    /// The precondition element's local name (in `DAV:`).
    pub fn element(&self) -> &'static str {
        match self {
            AclRefusal::GrantOnly => "grant-only",
            AclRefusal::NoInvert => "no-invert",
            AclRefusal::NotSupportedPrivilege(_) => "not-supported-privilege",
            AclRefusal::NoAbstract(_) => "no-abstract",
            AclRefusal::RecognizedPrincipal(_) => "recognized-principal",
            AclRefusal::NoProtectedAceConflict => "no-protected-ace-conflict",
        }
    }

    /// A sentence for people.
    pub fn message(&self) -> String {
        match self {
            AclRefusal::GrantOnly => "only grant ACEs are supported".into(),
            AclRefusal::NoInvert => "invert is not supported".into(),
            AclRefusal::NotSupportedPrivilege(p) => format!("privilege {p} is not supported"),
            AclRefusal::NoAbstract(p) => format!("privilege {p} is abstract"),
            AclRefusal::RecognizedPrincipal(p) => format!("{p} is not a known principal"),
            AclRefusal::NoProtectedAceConflict => "the owner's ACE cannot be changed".into(),
        }
    }
}

/// The rights letters without a DAV privilege: an ACL method keeps them on every entry.
pub const KEPT_RIGHTS: &str = "skxep";

/// The privileges (in `DAV:`) a rights string grants, in [`SUPPORTED_PRIVILEGES`] order.
pub fn privileges_of_rights(rights: &str) -> Vec<&'static str> {
    let has = |c| rights.contains(c);
    let mut out = Vec::new();
    if has('r') {
        out.push("read");
    }
    if has('w') {
        out.push("write-content");
    }
    if has('i') {
        out.push("bind");
    }
    if has('t') {
        out.push("unbind");
    }
    if has('a') {
        out.push("read-acl");
    }
    out
}

/// The rights letters `privileges` grant (unnormalised). `write-acl` is refused: it stays
/// the owner's (module comment).
pub fn rights_of_privileges(privileges: &[PropName]) -> Result<String, AclRefusal> {
    let mut out = String::new();
    for p in privileges {
        if p.ns != DAV {
            return Err(AclRefusal::NotSupportedPrivilege(format!(
                "{{{}}}{}",
                p.ns, p.local
            )));
        }
        match p.local.as_str() {
            "all" => out.push_str("lrwita"),
            "read" => out.push_str("lr"),
            "write" => out.push_str("wit"),
            "write-content" => out.push('w'),
            "bind" => out.push('i'),
            "unbind" => out.push('t'),
            "read-acl" => out.push('a'),
            "write-acl" => {
                return Err(AclRefusal::NotSupportedPrivilege(
                    "DAV:write-acl (only the owner changes the ACL)".into(),
                ))
            }
            "read-current-user-privilege-set" => {
                return Err(AclRefusal::NoAbstract(p.local.clone()))
            }
            other => return Err(AclRefusal::NotSupportedPrivilege(format!("DAV:{other}"))),
        }
    }
    Ok(out)
}

/// The privileges this server has, as `supported-privilege-set`'s value (§5.3).
pub const SUPPORTED_PRIVILEGES: &str = "<D:supported-privilege><D:privilege><D:all/></D:privilege>\
<D:description xml:lang=\"en\">Everything</D:description>\
<D:supported-privilege><D:privilege><D:read/></D:privilege>\
<D:description xml:lang=\"en\">Read objects and properties</D:description>\
<D:supported-privilege><D:privilege><D:read-current-user-privilege-set/></D:privilege><D:abstract/>\
<D:description xml:lang=\"en\">Read your own privileges</D:description></D:supported-privilege>\
</D:supported-privilege>\
<D:supported-privilege><D:privilege><D:write/></D:privilege>\
<D:description xml:lang=\"en\">Write objects</D:description>\
<D:supported-privilege><D:privilege><D:write-content/></D:privilege>\
<D:description xml:lang=\"en\">Change objects</D:description></D:supported-privilege>\
<D:supported-privilege><D:privilege><D:bind/></D:privilege>\
<D:description xml:lang=\"en\">Add objects</D:description></D:supported-privilege>\
<D:supported-privilege><D:privilege><D:unbind/></D:privilege>\
<D:description xml:lang=\"en\">Remove objects</D:description></D:supported-privilege>\
</D:supported-privilege>\
<D:supported-privilege><D:privilege><D:read-acl/></D:privilege>\
<D:description xml:lang=\"en\">Read the ACL</D:description></D:supported-privilege>\
<D:supported-privilege><D:privilege><D:write-acl/></D:privilege>\
<D:description xml:lang=\"en\">Change the ACL</D:description></D:supported-privilege>\
</D:supported-privilege>";

/// `acl-restrictions`' value (§5.6): grant only, no invert.
pub const ACL_RESTRICTIONS: &str = "<D:grant-only/><D:no-invert/>";

/// One ACE of the `acl` property: `principal` is the principal's content (`<D:href>…`,
/// `<D:authenticated/>`), `privileges` names in `DAV:`.
pub fn ace_xml(principal: &str, privileges: &[&str], protected: bool) -> String {
    let mut out = format!("<D:ace><D:principal>{principal}</D:principal><D:grant>");
    for p in privileges {
        out.push_str(&format!("<D:privilege><D:{p}/></D:privilege>"));
    }
    out.push_str("</D:grant>");
    if protected {
        out.push_str("<D:protected/>");
    }
    out.push_str("</D:ace>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acl_body_parses_into_aces() {
        let body = br#"<?xml version="1.0"?><A:acl xmlns:A="DAV:">
<A:ace><A:principal><A:href> /dav/principals/eve@example.com/ </A:href></A:principal>
<A:grant><A:privilege><A:read/></A:privilege><A:privilege><A:bind/></A:privilege></A:grant></A:ace>
<A:ace><A:invert><A:principal><A:authenticated/></A:principal></A:invert>
<A:deny><A:privilege><A:all/></A:privilege></A:deny><A:protected/></A:ace>
<A:ace><A:principal><A:property><A:owner/></A:property></A:principal><A:grant/></A:ace>
</A:acl>"#;
        let aces = parse_acl(body).unwrap();
        assert_eq!(aces.len(), 3);
        assert_eq!(
            aces[0].principal,
            AcePrincipal::Href("/dav/principals/eve@example.com/".into())
        );
        assert!(aces[0].grant && !aces[0].invert && !aces[0].protected);
        assert_eq!(
            aces[0].privileges,
            vec![PropName::dav("read"), PropName::dav("bind")]
        );
        assert_eq!(aces[1].principal, AcePrincipal::Authenticated);
        assert!(!aces[1].grant && aces[1].invert && aces[1].protected);
        assert_eq!(
            aces[2].principal,
            AcePrincipal::Other("{DAV:}property".into())
        );
        assert!(parse_acl(b"<D:prop xmlns:D=\"DAV:\"/>").is_err());
        assert!(parse_acl(b"").is_err());
        assert!(parse_acl(
            b"<D:acl xmlns:D=\"DAV:\"><D:ace><D:principal><D:all/></D:principal></D:ace></D:acl>"
        )
        .is_err());
    }

    #[test]
    fn rights_and_privileges_map_both_ways() {
        assert_eq!(privileges_of_rights("lr"), ["read"]);
        assert_eq!(
            privileges_of_rights("lrwita"),
            ["read", "write-content", "bind", "unbind", "read-acl",]
        );
        assert!(privileges_of_rights("lskxe").is_empty());
        let names = |l: &[&str]| l.iter().map(|n| PropName::dav(n)).collect::<Vec<_>>();
        assert_eq!(rights_of_privileges(&names(&["read"])).unwrap(), "lr");
        assert_eq!(rights_of_privileges(&names(&["write"])).unwrap(), "wit");
        // A sharee's "a" is read-acl; write-acl stays the owner's.
        assert_eq!(rights_of_privileges(&names(&["read-acl"])).unwrap(), "a");
        assert_eq!(
            rights_of_privileges(&names(&["read-acl", "write-acl"]))
                .unwrap_err()
                .element(),
            "not-supported-privilege"
        );
        assert_eq!(
            rights_of_privileges(&names(&["write-properties"]))
                .unwrap_err()
                .element(),
            "not-supported-privilege"
        );
        assert_eq!(
            rights_of_privileges(&names(&["read-current-user-privilege-set"]))
                .unwrap_err()
                .element(),
            "no-abstract"
        );
        let other = PropName {
            ns: "urn:x".into(),
            local: "read".into(),
        };
        assert!(rights_of_privileges(&[other]).is_err());
    }
}
