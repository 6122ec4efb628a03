//! WebDAV (RFC 4918) as a pure codec: request bodies and headers in, typed requests out;
//! typed answers in, `multistatus` XML out. No IO, no storage: `http::dav` drives it.
//!
//! Implementation notes:
//!
//! - Bodies are parsed whole ([`xml::parse`]): the HTTP layer bounds them (a property
//!   update or a PROPFIND is small), so there is no incremental state to split; the
//!   headers are single values.
//! - Names are `{namespace}local` ([`PropName`]); prefixes are the client's and are not
//!   kept. A dead property's value is its element's content, written back with its
//!   namespaces declared on the elements that use them ([`xml::write_children`]), so
//!   `<x:a xmlns:x="urn:y"/>` comes back as the same element under another prefix.
//! - DOCTYPE is refused (RFC 4918 §20.6 warns of entity expansion).
//! - The If header ([`headers::if_header`]) is parsed into lists; evaluating them
//!   against locks and ETags is the server's (it knows both).
//!
//! RFCs: 4918 (WebDAV; the XML elements of §14, the headers of §10, multistatus §13),
//! 4331 (quota property names), 5397 (`current-user-principal`), 3744 (the privilege
//! names of `current-user-privilege-set`), 6578 (the sync-collection REPORT body, with what
//! every REPORT body shares in [`report`]).

pub mod acl;
pub mod conditional;
pub mod headers;
pub mod multistatus;
pub mod principal_search;
pub mod report;
pub mod request;
#[cfg(test)]
mod tests;
pub mod xml;

/// Why a request could not be read: both are 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebDavError {
    #[error("malformed XML body: {0}")]
    BadXml(String),
    #[error("malformed header {0}")]
    BadHeader(String),
}

/// A property name: namespace URI (empty for none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    pub ns: String,
    pub local: String,
}

impl PropName {
    /// The name of `el`.
    pub fn of(el: &xml::Element) -> PropName {
        PropName {
            ns: el.ns.clone(),
            local: el.local.clone(),
        }
    }

    /// A name in the `DAV:` namespace.
    pub fn dav(local: &str) -> PropName {
        PropName {
            ns: xml::DAV.to_string(),
            local: local.to_string(),
        }
    }
}
