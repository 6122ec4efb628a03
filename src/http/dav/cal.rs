//! CalDAV (RFC 4791) and CardDAV (RFC 6352) over HTTP: the calendar and address-book
//! homes (`/dav/calendars/<address>/`, `/dav/addressbooks/<address>/`), their collections
//! and objects. This file dispatches by method and holds what the handlers share: access,
//! the OPTIONS answer, the namespaces and the error bodies of CalDAV/CardDAV
//! preconditions. PROPFIND/PROPPATCH are in [`super::calprops`], objects (GET, PUT,
//! DELETE, COPY, MOVE) in [`super::calobjects`], MKCALENDAR, extended MKCOL and a
//! collection's DELETE in [`super::mkcalendar`].
//!
//! Implementation notes:
//!
//! - Access is decided in one place, [`access`]: the owner only for now (another account's
//!   home, collection or object answers 404, as for an address that does not exist).
//!   Sharing will widen it there.
//! - The names `inbox` and `outbox` in a calendar home are kept for scheduling (RFC 6638):
//!   a client cannot make collections of those names.
//! - Storage calls run on the blocking pool; every write is committed (durable) before the
//!   answer.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::{calobjects, calprops, mkcalendar, Ctx, DavError, Target};
use crate::protocols::webdav::report::{CALDAV, CARDDAV};
use crate::protocols::webdav::xml::DAV;
use crate::storage::davstore::CollectionKind;

/// Apple's calendar server namespace (`getctag`).
pub(crate) const CALSERVER: &str = "http://calendarserver.org/ns/";
/// Apple's iCal namespace (`calendar-color`).
pub(crate) const ICAL: &str = "http://apple.com/ns/ical/";

/// Collection names in a calendar home that scheduling (RFC 6638) owns.
pub(crate) const RESERVED: [&str; 2] = ["inbox", "outbox"];

/// The DAV compliance classes announced on the DAV resources (RFC 4918 §10.1, RFC 4791
/// §5.1, RFC 6352 §6.1, RFC 5689 §3).
/// `calendar-auto-schedule`: RFC 6638 §2 (scheduling, `super::schedule`).
const DAV_CLASSES: &str =
    "1, 2, 3, calendar-access, calendar-auto-schedule, addressbook, extended-mkcol";

/// What the Allow header lists on calendars and address books.
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, \
COPY, MOVE, REPORT";

/// What a caller may do with a home or collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Privileges {
    pub read: bool,
    pub write: bool,
}

/// Whether `me` reaches `owner`'s home or its collection `collection`: the owner only for
/// now (everything); anyone else gets 404 (nothing told about what exists).
pub(crate) fn access(
    _ctx: &Ctx,
    me: &str,
    owner: &str,
    _collection: Option<&str>,
) -> Result<Privileges, DavError> {
    if me == owner {
        Ok(Privileges {
            read: true,
            write: true,
        })
    } else {
        Err(DavError::not_found())
    }
}

/// OPTIONS on the DAV resources (the root, principals, homes, collections, objects).
pub(crate) fn options() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("DAV", DAV_CLASSES))
        .insert_header((header::ALLOW, ALLOW))
        .insert_header(("MS-Author-Via", "DAV"))
        .finish()
}

fn not_allowed(why: &str) -> Result<HttpResponse, DavError> {
    Err(DavError::new(StatusCode::METHOD_NOT_ALLOWED, why))
}

/// A request on a home, collection or object (`target` is one of those three).
pub(crate) async fn handle(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    target: &Target,
) -> Result<HttpResponse, DavError> {
    let (owner, collection) = match target {
        Target::Home { owner, .. } => (owner, None),
        Target::Collection { owner, name, .. } => (owner, Some(name.as_str())),
        Target::Object {
            owner, collection, ..
        } => (owner, Some(collection.as_str())),
        _ => return Err(DavError::not_found()),
    };
    let rights = access(ctx, me, owner, collection)?;
    let method = req.method().as_str();
    if !rights.write
        && matches!(
            method,
            "PUT" | "DELETE" | "PROPPATCH" | "MKCOL" | "MKCALENDAR" | "MOVE"
        )
    {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "need-privileges",
        ));
    }
    match (method, target) {
        ("OPTIONS", _) => Ok(options()),
        ("PROPFIND", _) => calprops::propfind(ctx, req, payload, me, target).await,
        ("PROPPATCH", _) => calprops::proppatch(ctx, payload, target).await,
        ("MKCALENDAR", _) => mkcalendar::make(ctx, payload, target, true).await,
        ("MKCOL", _) => mkcalendar::make(ctx, payload, target, false).await,
        (
            "POST",
            Target::Collection {
                owner,
                kind: CollectionKind::Calendar,
                name,
            },
        ) if name == crate::scheduling::OUTBOX => {
            let body = payload
                .to_bytes_limited(super::schedule::POST_LIMIT)
                .await
                .map_err(|_| DavError::new(StatusCode::PAYLOAD_TOO_LARGE, "too large"))?
                .map_err(|_| DavError::new(StatusCode::BAD_REQUEST, "unreadable body"))?;
            super::schedule::post_outbox(ctx.get_ref(), me, owner, &body).await
        }
        ("REPORT", _) => super::report::report(ctx, req, payload, me, target).await,
        ("DELETE", Target::Collection { owner, name, .. }) => {
            mkcalendar::delete(ctx, owner, name).await
        }
        ("DELETE", Target::Home { .. }) => Err(DavError::new(
            StatusCode::FORBIDDEN,
            "a home cannot be deleted",
        )),
        (
            "GET" | "HEAD" | "PUT" | "DELETE" | "COPY" | "MOVE",
            Target::Object {
                owner,
                kind,
                collection,
                name,
            },
        ) => {
            let at = calobjects::At {
                owner: owner.clone(),
                kind: *kind,
                collection: collection.clone(),
                name: name.clone(),
            };
            match method {
                "GET" | "HEAD" => calobjects::get(ctx, req, &at).await,
                "PUT" => calobjects::put(ctx, req, payload, me, &at).await,
                "DELETE" => calobjects::delete(ctx, req, me, &at).await,
                "COPY" => calobjects::copy_or_move(ctx, req, me, &at, false).await,
                _ => calobjects::copy_or_move(ctx, req, me, &at, true).await,
            }
        }
        ("GET" | "HEAD", _) => not_allowed("a collection has no body; use PROPFIND or REPORT"),
        _ => Ok(HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, ALLOW))
            .finish()),
    }
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
