//! What the CalDAV/CardDAV handlers share (a leaf under them, so they import it and not
//! each other): the namespaces, the names scheduling keeps, the OPTIONS answer, the error
//! bodies of preconditions outside `DAV:`, and the calendar and address-book properties
//! of a principal.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use quick_xml::escape::escape;

use super::{encode_segment, home_href, DavError};
use crate::protocols::webdav::report::{CALDAV, CARDDAV};
use crate::protocols::webdav::xml::DAV;
use crate::protocols::webdav::PropName;
use crate::storage::davstore::{CollectionKind, DavCollection, DavObject};
use crate::storage::Store;

/// Apple's calendar server namespace (`getctag`).
pub(crate) const CALSERVER: &str = "http://calendarserver.org/ns/";
/// Apple's iCal namespace (`calendar-color`).
pub(crate) const ICAL: &str = "http://apple.com/ns/ical/";

/// The DAV compliance classes announced on the DAV resources (RFC 4918 §10.1, RFC 4791
/// §5.1, RFC 6352 §6.1, RFC 5689 §3).
/// `calendar-auto-schedule`: RFC 6638 §2 (scheduling, `super::schedule`);
/// `access-control`: RFC 3744 §7.2 (`super::acl`).
/// Class 2: locks (`super::callocks`).
const DAV_CLASSES: &str =
    "1, 2, 3, access-control, calendar-access, calendar-auto-schedule, addressbook, extended-mkcol";

/// What the Allow header lists on calendars and address books.
pub(crate) const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, \
COPY, MOVE, REPORT, ACL, LOCK, UNLOCK";

/// OPTIONS on the DAV resources (the root, principals, homes, collections, objects).
pub(crate) fn options() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("DAV", DAV_CLASSES))
        .insert_header((header::ALLOW, ALLOW))
        .insert_header(("MS-Author-Via", "DAV"))
        .finish()
}

/// The namespace of `kind`'s preconditions and properties.
pub(crate) fn kind_ns(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => CALDAV,
        CollectionKind::AddressBook => CARDDAV,
    }
}

/// An error with a precondition element `{ns}local` holding `inner` (already XML).
pub(crate) fn precondition(
    status: StatusCode,
    ns: &'static str,
    local: &'static str,
    inner: &str,
    message: impl Into<String>,
) -> DavError {
    let mut e = DavError::new(status, message);
    e.condition = Some(local);
    let body = if ns == DAV {
        format!("<D:{local}>{inner}</D:{local}>")
    } else {
        format!("<P:{local} xmlns:P=\"{ns}\">{inner}</P:{local}>")
    };
    e.xml = Some(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\">{body}\
<D:responsedescription>{}</D:responsedescription></D:error>",
        quick_xml::escape::escape(e.message.as_str())
    ));
    e
}

fn href(h: &str) -> String {
    format!("<D:href>{}</D:href>", escape(h))
}

/// The CalDAV/CardDAV properties of `me`'s principal (`None`: not one of them). The home
/// sets name `me`'s own homes only (RFC 4791 §6.2.1: the homes of collections the
/// principal owns; clients such as python's `caldav` take exactly one); what others share
/// with `me` is listed in those homes (`calprops`).
pub(crate) fn principal_value(name: &PropName, me: &str) -> Option<String> {
    match (name.ns.as_str(), name.local.as_str()) {
        (CALDAV, "calendar-home-set") => Some(href(&home_href(me, CollectionKind::Calendar))),
        (CARDDAV, "addressbook-home-set") => {
            Some(href(&home_href(me, CollectionKind::AddressBook)))
        }
        (CALDAV, "calendar-user-address-set") => Some(format!(
            "{}{}",
            href(&format!("mailto:{me}")),
            href(&format!("/dav/principals/{}/", encode_segment(me)))
        )),
        _ => super::schedule::principal_value(name, me),
    }
}

/// The names [`principal_value`] answers.
pub(crate) fn principal_names() -> Vec<PropName> {
    [
        (CALDAV, "calendar-home-set"),
        (CARDDAV, "addressbook-home-set"),
        (CALDAV, "calendar-user-address-set"),
    ]
    .iter()
    .map(|(ns, l)| PropName {
        ns: ns.to_string(),
        local: l.to_string(),
    })
    .chain(super::schedule::principal_names())
    .collect()
}

/// `owner`'s collection `name` if it is of `kind` (`None` otherwise), for every handler
/// that addresses one. Through the listing, which gives an account its default
/// collections the first time (a client that goes straight to `…/calendar/` finds it);
/// the schedule inbox and outbox the principal names exist from the first ask. Runs on the
/// blocking pool.
pub(crate) fn find_collection(
    store: &Store,
    owner: &str,
    kind: CollectionKind,
    name: &str,
) -> Result<Option<DavCollection>, DavError> {
    match store
        .dav_collections(owner)?
        .into_iter()
        .find(|c| c.name == name)
    {
        Some(c) => Ok((c.kind == kind).then_some(c)),
        None if kind == CollectionKind::Calendar && crate::scheduling::reserved(name) => {
            crate::scheduling::deliver::schedule_box(store, owner, name)
                .map(Some)
                .map_err(|e| DavError::new(StatusCode::SERVICE_UNAVAILABLE, format!("{name}: {e}")))
        }
        None => Ok(None),
    }
}

/// The Schedule-Tag (RFC 6638 §3.2.10) of `obj` in a calendar, when it is a scheduling
/// object resource (one with an ORGANIZER).
pub(crate) fn schedule_tag(kind: CollectionKind, obj: &DavObject) -> Option<String> {
    if kind != CollectionKind::Calendar {
        return None;
    }
    let cal = crate::protocols::caldav::validate::parse_calendar(&obj.data).ok()?;
    crate::protocols::itip::organizer(&cal)?;
    Some(format!("\"{}\"", obj.schedule_tag))
}
