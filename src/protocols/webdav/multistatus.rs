//! The `207 Multi-Status` body (RFC 4918 §13, §14.16) and the other XML bodies the server
//! writes (`prop` for LOCK answers, `error` with a precondition). `DAV:` is bound to the
//! prefix `D` on the root; every other namespace is declared on the property element
//! that uses it, so dead properties keep their namespace whatever the client called it.

use quick_xml::escape::escape;

use super::xml::DAV;
use super::PropName;

/// The XML declaration every body starts with.
const DECL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// One property in a `propstat`: its name and, unless only names were asked for or it
/// failed, its value as XML content (already escaped; elements in `DAV:` use `D:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    pub name: PropName,
    pub value: Option<String>,
}

/// One `response`: either properties grouped by status, or a status for the whole href.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Props {
        href: String,
        /// (status code, properties); empty groups are left out.
        propstats: Vec<(u16, Vec<Prop>)>,
    },
    Status {
        href: String,
        status: u16,
    },
}

/// The reason phrase written in a `status` line.
pub fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        423 => "Locked",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => "Error",
    }
}

fn status_line(code: u16) -> String {
    format!("<D:status>HTTP/1.1 {code} {}</D:status>", reason(code))
}

/// Writes a property element: `<D:name>` for DAV:, else with its namespace declared on it
/// (or unprefixed for the empty namespace, which no enclosing default namespace changes).
pub fn write_prop(out: &mut String, p: &Prop) {
    let (open, close) = if p.name.ns == DAV {
        (format!("D:{}", p.name.local), format!("D:{}", p.name.local))
    } else if p.name.ns.is_empty() {
        (p.name.local.clone(), p.name.local.clone())
    } else {
        (
            format!(
                "P:{} xmlns:P=\"{}\"",
                p.name.local,
                escape(p.name.ns.as_str())
            ),
            format!("P:{}", p.name.local),
        )
    };
    match &p.value {
        Some(v) if !v.is_empty() => {
            out.push_str(&format!("<{open}>{v}</{close}>"));
        }
        _ => out.push_str(&format!("<{open}/>")),
    }
}

/// A whole multistatus body.
pub fn multistatus(responses: &[Response]) -> String {
    let mut out = String::from(DECL);
    out.push_str("<D:multistatus xmlns:D=\"DAV:\">");
    for r in responses {
        write_response(&mut out, r);
    }
    out.push_str("</D:multistatus>");
    out
}

/// One `response` element (for writers that stream a multistatus).
pub fn write_response(out: &mut String, r: &Response) {
    out.push_str("<D:response>");
    match r {
        Response::Status { href, status } => {
            out.push_str(&format!("<D:href>{}</D:href>", escape(href.as_str())));
            out.push_str(&status_line(*status));
        }
        Response::Props { href, propstats } => {
            out.push_str(&format!("<D:href>{}</D:href>", escape(href.as_str())));
            for (code, props) in propstats.iter().filter(|(_, p)| !p.is_empty()) {
                out.push_str("<D:propstat><D:prop>");
                for p in props {
                    write_prop(out, p);
                }
                out.push_str("</D:prop>");
                out.push_str(&status_line(*code));
                out.push_str("</D:propstat>");
            }
        }
    }
    out.push_str("</D:response>");
}

/// A `prop` body holding these properties (the answer to LOCK, §9.10.1).
pub fn prop_body(props: &[Prop]) -> String {
    let mut out = String::from(DECL);
    out.push_str("<D:prop xmlns:D=\"DAV:\">");
    for p in props {
        write_prop(&mut out, p);
    }
    out.push_str("</D:prop>");
    out
}

/// An `error` body naming a precondition or postcondition (§16), e.g.
/// `propfind-finite-depth`, `lock-token-submitted`.
pub fn error_body(condition: &str) -> String {
    format!("{DECL}<D:error xmlns:D=\"DAV:\"><D:{condition}/></D:error>")
}

/// An `error` body naming a condition in namespace `ns` (CalDAV's `valid-filter`,
/// CardDAV's `supported-address-data`, …); `DAV:` ones as [`error_body`].
pub fn error_body_in(ns: &str, condition: &str) -> String {
    if ns == DAV {
        return error_body(condition);
    }
    format!(
        "{DECL}<D:error xmlns:D=\"DAV:\" xmlns:C=\"{}\"><C:{condition}/></D:error>",
        escape(ns)
    )
}

/// The start of a multistatus body written a `response` at a time ([`write_response`]).
pub fn multistatus_open() -> String {
    format!("{DECL}<D:multistatus xmlns:D=\"DAV:\">")
}

/// The end of a streamed multistatus body, with RFC 6578's `sync-token` when given.
pub fn multistatus_close(out: &mut String, sync_token: Option<&str>) {
    if let Some(t) = sync_token {
        out.push_str(&format!("<D:sync-token>{}</D:sync-token>", escape(t)));
    }
    out.push_str("</D:multistatus>");
}

/// A `response` for `href` with a status and an `error` naming a `DAV:` condition
/// (RFC 6578 §3.6 and RFC 6352 §8.6.1: 507 with `number-of-matches-within-limits` for a
/// truncated answer).
pub fn write_status_error(out: &mut String, href: &str, status: u16, condition: &str) {
    out.push_str("<D:response>");
    out.push_str(&format!("<D:href>{}</D:href>", escape(href)));
    out.push_str(&status_line(status));
    out.push_str(&format!("<D:error><D:{condition}/></D:error>"));
    out.push_str("</D:response>");
}
