//! MKCALENDAR (RFC 4791 §5.3.1), extended MKCOL (RFC 5689) and DELETE of a calendar or
//! address book.
//!
//! A new collection is made only directly in the caller's home of its kind: MKCALENDAR
//! makes a calendar in the calendar home; MKCOL makes a calendar or an address book as
//! its `resourcetype` says, in the home of that kind (a plain collection has no place in
//! a home: 403). 405 when the name is taken, 409 deeper than a home's child, 403 for the
//! names scheduling keeps (`inbox`, `outbox`).
//!
//! Properties set with the request: `displayname`, `calendar-description` /
//! `addressbook-description`, Apple's `calendar-color`, `supported-calendar-component-set`
//! (default: VEVENT, VTODO, VJOURNAL). `calendar-timezone` and Apple's `calendar-order`,
//! which clients send on creation, are accepted and not kept (times are stored with their
//! own zones). Anything else fails the request (RFC 4791 §5.3.1.2, RFC 5689 §3: 403 for
//! that property, 424 for the rest, in a `mkcalendar-response` / `mkcol-response`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::calcommon::{kind_ns, ICAL};
use super::{blocking, xml_body, Ctx, DavError, Target};
use crate::protocols::caldav::validate::ComponentKind;
use crate::protocols::webdav::multistatus::{reason, write_prop, Prop};
use crate::protocols::webdav::report::{CALDAV, CARDDAV};
use crate::protocols::webdav::xml::{self, Element, DAV};
use crate::protocols::webdav::PropName;
use crate::storage::davstore::{CollectionKind, CollectionProps, NewCollection};
use crate::storage::StorageError;

/// The components of a calendar made without a supported-calendar-component-set.
const DEFAULT_COMPONENTS: [&str; 3] = ["VEVENT", "VTODO", "VJOURNAL"];

/// A property value of at most this many bytes (names, colours, descriptions).
pub(crate) const MAX_PROP: usize = 64 * 1024;

/// MKCALENDAR (`calendar`) or MKCOL on `target`.
pub(crate) async fn make(
    ctx: &Ctx,
    payload: web::Payload,
    target: &Target,
    calendar: bool,
) -> Result<HttpResponse, DavError> {
    let body = xml_body(payload).await?;
    let (owner, home_kind, name) = match target {
        Target::Collection { owner, kind, name } => (owner, *kind, name),
        Target::Home { .. } => {
            return Err(DavError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "the home exists",
            ))
        }
        Target::Object { .. } => {
            return Err(DavError::new(
                StatusCode::CONFLICT,
                "collections are made directly in a home, not in another collection",
            ))
        }
        _ => {
            return Err(DavError::new(
                StatusCode::FORBIDDEN,
                "collections are made in a home",
            ))
        }
    };
    let root = xml::parse(&body)?;
    let (root_ns, root_local) = if calendar {
        (CALDAV, "mkcalendar")
    } else {
        (DAV, "mkcol")
    };
    if let Some(r) = &root {
        if !r.is(root_ns, root_local) {
            return Err(DavError::new(
                StatusCode::BAD_REQUEST,
                format!("the body must be {{{root_ns}}}{root_local}"),
            ));
        }
    }
    let props: Vec<&Element> = root
        .iter()
        .flat_map(|r| r.elements())
        .filter(|e| e.is(DAV, "set"))
        .flat_map(|s| s.elements().filter(|e| e.is(DAV, "prop")))
        .flat_map(|p| p.elements())
        .collect();
    // What is being made: MKCALENDAR a calendar; MKCOL what resourcetype says.
    let kind = if calendar {
        CollectionKind::Calendar
    } else {
        let rt = props.iter().find(|p| p.is(DAV, "resourcetype"));
        match rt {
            Some(rt) if rt.child(CALDAV, "calendar").is_some() => CollectionKind::Calendar,
            Some(rt) if rt.child(CARDDAV, "addressbook").is_some() => {
                CollectionKind::AddressBook
            }
            _ => {
                return Err(DavError::new(
                    StatusCode::FORBIDDEN,
                    "only calendars and address books are made here (extended MKCOL with their resourcetype)",
                ))
            }
        }
    };
    if kind != home_kind {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            format!("a {} is made in the {} home", kind.as_str(), kind.as_str()),
        ));
    }
    // Collection names are unique per account across both kinds, so an address book may
    // not take scheduling's names either.
    if crate::scheduling::reserved(name) {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            "this name is kept for scheduling",
        ));
    }
    let mut new = NewCollection {
        owner: owner.clone(),
        name: name.clone(),
        kind,
        props: CollectionProps::default(),
        components: match kind {
            CollectionKind::Calendar => DEFAULT_COMPONENTS.iter().map(|c| c.to_string()).collect(),
            CollectionKind::AddressBook => Vec::new(),
        },
    };
    let mut failed = Vec::new();
    let mut ok = Vec::new();
    for p in &props {
        let pname = PropName::of(p);
        if apply(&mut new, p) {
            ok.push(pname);
        } else {
            failed.push(pname);
        }
    }
    if !failed.is_empty() {
        return Ok(refused(calendar, failed, ok));
    }
    let (c, o, n) = (ctx.get_ref().clone(), owner.clone(), name.clone());
    blocking(move || {
        if c.store.dav_collection(&o, &n)?.is_some() {
            return Err(DavError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "a collection of this name exists",
            ));
        }
        match c.store.dav_create_collection(&new) {
            Ok(_) => {}
            Err(StorageError::Exists(_)) => {
                return Err(DavError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "a collection of this name exists",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        c.store.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().finish())
}

/// A property's text value, bounded.
pub(crate) fn text_value(el: &Element) -> Option<String> {
    let t = el.text();
    let t = t.trim();
    (t.len() <= MAX_PROP).then(|| t.to_string())
}

/// Whether `#RRGGBB` or `#RRGGBBAA`.
pub(crate) fn is_color(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|h| (h.len() == 6 || h.len() == 8) && h.bytes().all(|b| b.is_ascii_hexdigit()))
        || s.is_empty()
}

/// Sets the collection property `p` on `props` (`kind`: the collection's); false when it
/// is not one a client sets.
pub(crate) fn set_prop(props: &mut CollectionProps, kind: CollectionKind, p: &Element) -> bool {
    // Sent by clients on creation and by Apple Calendar when calendars are reordered;
    // accepted and not kept (module comment), so neither fails the whole request.
    if kind == CollectionKind::Calendar
        && (p.is(CALDAV, "calendar-timezone") || p.is(ICAL, "calendar-order"))
    {
        return true;
    }
    let Some(v) = text_value(p) else { return false };
    if p.is(DAV, "displayname") {
        props.display_name = v;
    } else if p.is(ICAL, "calendar-color") && kind == CollectionKind::Calendar && is_color(&v) {
        props.color = v;
    } else if p.is(kind_ns(kind), &description(kind)) {
        props.description = v;
    } else {
        return false;
    }
    true
}

/// The local name of `kind`'s description property.
pub(crate) fn description(kind: CollectionKind) -> String {
    format!("{}-description", kind.as_str())
}

fn apply(new: &mut NewCollection, p: &Element) -> bool {
    if p.is(DAV, "resourcetype") {
        return true;
    }
    if new.kind == CollectionKind::Calendar && p.is(CALDAV, "supported-calendar-component-set") {
        let mut comps = Vec::new();
        for c in p.elements().filter(|e| e.is(CALDAV, "comp")) {
            let name = c
                .attrs
                .iter()
                .find(|(ns, l, _)| ns.is_empty() && l == "name")
                .map(|(_, _, v)| v.as_str());
            match name.and_then(ComponentKind::parse) {
                Some(k) if !comps.contains(&k.as_str().to_string()) => {
                    comps.push(k.as_str().to_string())
                }
                Some(_) => {}
                None => return false,
            }
        }
        if comps.is_empty() {
            return false;
        }
        new.components = comps;
        return true;
    }
    set_prop(&mut new.props, new.kind, p)
}

/// The 403/424 answer of a creation that could not set every property.
fn refused(calendar: bool, failed: Vec<PropName>, ok: Vec<PropName>) -> HttpResponse {
    let (ns, root) = if calendar {
        (CALDAV, "mkcalendar-response")
    } else {
        (DAV, "mkcol-response")
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    if ns == DAV {
        out.push_str(&format!("<D:{root} xmlns:D=\"DAV:\">"));
    } else {
        out.push_str(&format!("<C:{root} xmlns:D=\"DAV:\" xmlns:C=\"{ns}\">"));
    }
    for (code, names) in [(403u16, failed), (424, ok)] {
        if names.is_empty() {
            continue;
        }
        out.push_str("<D:propstat><D:prop>");
        for name in names {
            write_prop(&mut out, &Prop { name, value: None });
        }
        out.push_str(&format!(
            "</D:prop><D:status>HTTP/1.1 {code} {}</D:status></D:propstat>",
            reason(code)
        ));
    }
    if ns == DAV {
        out.push_str(&format!("</D:{root}>"));
    } else {
        out.push_str(&format!("</C:{root}>"));
    }
    HttpResponse::Forbidden()
        .content_type("application/xml; charset=utf-8")
        .body(out)
}

/// DELETE of a collection with everything in it. Names are unique per account across
/// both kinds, so the collection must be of the home's kind (an address-book URL never
/// deletes a calendar).
pub(crate) async fn delete(
    ctx: &Ctx,
    owner: &str,
    kind: CollectionKind,
    name: &str,
) -> Result<HttpResponse, DavError> {
    let (c, o, n) = (ctx.get_ref().clone(), owner.to_string(), name.to_string());
    blocking(move || {
        match c.store.dav_collection(&o, &n)? {
            Some(col) if col.kind == kind => {}
            _ => return Err(DavError::not_found()),
        }
        c.store.dav_delete_collection(&o, &n)?;
        c.store.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_and_kinds() {
        assert!(is_color("#FF00AA"));
        assert!(is_color("#ff00aaff"));
        assert!(is_color(""));
        assert!(!is_color("red"));
        assert!(!is_color("#12345"));
    }
}
