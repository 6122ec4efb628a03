//! What every DAV REPORT body shares (RFC 3253 §3.6 gives REPORT; CalDAV, CardDAV and
//! collection synchronisation define the bodies): the error a body can fail with, the
//! property selection (`DAV:allprop | DAV:propname | DAV:prop`), `DAV:href` lists, and
//! RFC 6578's `sync-collection` (§6.1), which is a WebDAV report of its own.
//!
//! Implementation notes:
//!
//! - Unknown child elements are ignored (RFC 4918 §17: extensibility); a required one
//!   missing is a malformed body.
//! - The CalDAV and CardDAV namespaces live here, not in their modules, so that this
//!   error can name their preconditions without those modules depending on each other.

use super::request::Propfind;
use super::xml::{Element, DAV};
use super::{PropName, WebDavError};

/// The CalDAV namespace (RFC 4791 §4.1 of the XML, "urn:ietf:params:xml:ns:caldav").
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// The CardDAV namespace (RFC 6352 §10).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";

/// Why a REPORT body cannot be answered. [`ReportError::precondition`] names the element
/// the error body carries; [`ReportError::status`] the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not XML, or a required element missing: 400.
    #[error("malformed REPORT body: {0}")]
    BadXml(String),
    /// A root element naming no report this server knows (RFC 3253 §3.6,
    /// `DAV:supported-report`).
    #[error("unsupported report {{{}}}{}", .0.ns, .0.local)]
    UnsupportedReport(PropName),
    /// A text-match collation not supported: `{ns}supported-collation` with `ns` the
    /// CalDAV (RFC 4791 §7.5.1) or CardDAV (RFC 6352 §8.3.1) namespace.
    #[error("unsupported collation {name:?}")]
    UnsupportedCollation { ns: &'static str, name: String },
    /// A CalDAV filter that is not valid (RFC 4791 §7.8 `CALDAV:valid-filter`): a bad
    /// time-range, a filter not rooted at VCALENDAR.
    #[error("invalid calendar filter: {0}")]
    InvalidFilter(String),
    /// A CardDAV filter using what is not supported (RFC 6352 §8.6
    /// `CARDDAV:supported-filter`): an unknown match-type or test.
    #[error("unsupported address book filter: {0}")]
    UnsupportedFilter(String),
}

impl From<WebDavError> for ReportError {
    fn from(e: WebDavError) -> ReportError {
        match e {
            WebDavError::BadXml(m) | WebDavError::BadHeader(m) => ReportError::BadXml(m),
        }
    }
}

impl ReportError {
    /// The precondition element (namespace, local name) for the error body; `None` for a
    /// malformed body (a plain 400).
    pub fn precondition(&self) -> Option<(&'static str, &'static str)> {
        match self {
            ReportError::BadXml(_) => None,
            ReportError::UnsupportedReport(_) => Some((DAV, "supported-report")),
            ReportError::UnsupportedCollation { ns, .. } => Some((ns, "supported-collation")),
            ReportError::InvalidFilter(_) => Some((CALDAV, "valid-filter")),
            ReportError::UnsupportedFilter(_) => Some((CARDDAV, "supported-filter")),
        }
    }

    /// 400 for a malformed body, 403 for a failed precondition (RFC 3253 §3.6, RFC 4791
    /// §7.8, RFC 6352 §8.6).
    pub fn status(&self) -> u16 {
        match self {
            ReportError::BadXml(_) => 400,
            _ => 403,
        }
    }
}

/// The property selection of a report body, as PROPFIND's (RFC 4918 §14.20); absent means
/// none asked (RFC 4791 §7.8: the response then carries no properties, only hrefs).
pub fn prop_request(root: &Element) -> Option<Propfind> {
    if root.child(DAV, "propname").is_some() {
        return Some(Propfind::PropName);
    }
    if root.child(DAV, "allprop").is_some() {
        let include = root
            .child(DAV, "include")
            .map(|i| i.elements().map(PropName::of).collect())
            .unwrap_or_default();
        return Some(Propfind::AllProp { include });
    }
    root.child(DAV, "prop")
        .map(|p| Propfind::Prop(p.elements().map(PropName::of).collect()))
}

/// The `DAV:href`s of a multiget, trimmed; at least one is required (RFC 4791 §9.10,
/// RFC 6352 §10.7).
pub fn hrefs(root: &Element) -> Result<Vec<String>, ReportError> {
    let list: Vec<String> = root
        .elements()
        .filter(|e| e.is(DAV, "href"))
        .map(|e| e.text().trim().to_string())
        .collect();
    if list.is_empty() || list.iter().any(String::is_empty) {
        return Err(ReportError::BadXml(
            "a multiget needs DAV:href elements".into(),
        ));
    }
    Ok(list)
}

/// The number in a `limit` element's `nresults` child (`ns`: DAV for sync-collection,
/// CardDAV for addressbook-query).
pub fn nresults(limit: &Element, ns: &str) -> Result<u32, ReportError> {
    limit
        .child(ns, "nresults")
        .and_then(|n| n.text().trim().parse::<u32>().ok())
        .ok_or_else(|| ReportError::BadXml("limit needs a numeric nresults".into()))
}

/// RFC 6578 `DAV:sync-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    /// Members only.
    One,
    /// Every descendant.
    Infinite,
}

/// A `DAV:sync-collection` body (RFC 6578 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCollection {
    /// The token of the last sync; `None` for the initial one (an empty element, §3.4).
    pub sync_token: Option<String>,
    pub level: SyncLevel,
    /// `DAV:limit`'s nresults (§3.7).
    pub limit: Option<u32>,
    /// The properties wanted for changed members (`DAV:prop` is required by §6.1, but an
    /// absent one reads as none, as clients that send only getetag expect).
    pub props: Option<Propfind>,
}

/// Reads a sync-collection root element.
pub fn sync_collection(root: &Element) -> Result<SyncCollection, ReportError> {
    let token = root
        .child(DAV, "sync-token")
        .ok_or_else(|| ReportError::BadXml("sync-collection needs a sync-token".into()))?
        .text();
    let token = token.trim();
    let level = match root.child(DAV, "sync-level").map(|l| l.text()) {
        Some(l) if l.trim() == "1" => SyncLevel::One,
        Some(l) if l.trim() == "infinite" => SyncLevel::Infinite,
        Some(l) => {
            return Err(ReportError::BadXml(format!(
                "sync-level {:?} is neither 1 nor infinite",
                l.trim()
            )))
        }
        // Required by §6.1, but clients written to the drafts before it omit it; they
        // meant the members (as SabreDAV also reads it).
        None => SyncLevel::One,
    };
    let limit = match root.child(DAV, "limit") {
        Some(l) => Some(nresults(l, DAV)?),
        None => None,
    };
    Ok(SyncCollection {
        sync_token: (!token.is_empty()).then(|| token.to_string()),
        level,
        limit,
        props: prop_request(root),
    })
}

/// An unqualified attribute's value (the DTDs of RFC 4791 and 6352 declare them so).
pub fn attr<'e>(el: &'e Element, name: &str) -> Option<&'e str> {
    el.attrs
        .iter()
        .find(|(ns, local, _)| ns.is_empty() && local == name)
        .map(|(_, _, v)| v.as_str())
}

/// The required `name` attribute of a filter or selection element.
pub fn required_name(el: &Element) -> Result<String, ReportError> {
    attr(el, "name")
        .map(str::to_string)
        .ok_or_else(|| ReportError::BadXml(format!("{} needs a name attribute", el.local)))
}

/// text-match's `negate-condition`: "yes" or "no" (the default) in both RFC 4791 §9.7.5
/// and RFC 6352 §10.5.4.
pub fn negate(el: &Element) -> Result<bool, ReportError> {
    match attr(el, "negate-condition") {
        None | Some("no") => Ok(false),
        Some("yes") => Ok(true),
        Some(other) => Err(ReportError::BadXml(format!(
            "negate-condition {other:?} is neither yes nor no"
        ))),
    }
}
