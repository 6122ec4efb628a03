//! The HTTP side of CalDAV scheduling (RFC 6638; the effects are `crate::scheduling`): the
//! principal properties a client discovers scheduling by, the resource types of the schedule
//! inbox and outbox, POST of a free/busy request to the outbox, and the OPTIONS token.
//!
//! - [`principal_props`]: `schedule-inbox-URL`, `schedule-outbox-URL` (§2.1.1, §2.2.1;
//!   the calendar home's reserved `inbox` and `outbox`), `calendar-user-address-set`
//!   (RFC 6638 §2.4.1: the account's `mailto:` address) and `calendar-user-type`
//!   (`INDIVIDUAL`). The principal PROPFIND adds them to its answers.
//! - [`resourcetype`]: `<D:collection/><C:schedule-inbox/>` or `…<C:schedule-outbox/>`
//!   for the two names (§2.1, §2.2).
//! - [`post_outbox`]: a `METHOD:REQUEST` VFREEBUSY POSTed to the owner's outbox (§5) is
//!   answered with a `schedule-response`: per ATTENDEE, for accounts of this server
//!   `2.0;Success` and a VFREEBUSY REPLY of their busy time in every calendar (inbox and
//!   outbox left out; `protocols::caldav::freebusy`), `3.7;Invalid calendar user` for
//!   unknown local addresses, `5.3;No scheduling support for user` for outside ones.
//!   The ORGANIZER must be the authenticated account (403 `organizer-allowed`); a body
//!   that is not such a request is 400 `valid-calendar-data`.
//! - OPTIONS on the DAV resources lists `calendar-auto-schedule` in its `DAV` header
//!   (`calcommon::options`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use quick_xml::escape::escape;

use super::{collection_href, DavError};
use crate::actors::ServerContext;
use crate::protocols::caldav::freebusy::{busy_periods, merge, Busy};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::freebusy::{parse_request, reply, FreeBusyRequest};
use crate::protocols::webdav::multistatus::Prop;
use crate::protocols::webdav::PropName;
use crate::scheduling::{reserved, INBOX, OUTBOX};
use crate::storage::davstore::CollectionKind;
use crate::storage::{RecipientKind, Store};

pub(crate) use crate::protocols::webdav::report::CALDAV;

/// At most this many bytes of a POSTed request.
pub(crate) const POST_LIMIT: usize = 256 * 1024;

fn caldav(local: &str) -> PropName {
    PropName {
        ns: CALDAV.to_string(),
        local: local.to_string(),
    }
}

fn href(h: &str) -> String {
    format!("<D:href>{}</D:href>", escape(h))
}

/// The scheduling properties of `owner`'s principal (module comment), with values.
pub(crate) fn principal_props(owner: &str) -> Vec<Prop> {
    vec![
        Prop {
            name: caldav("schedule-inbox-URL"),
            value: Some(href(&collection_href(
                owner,
                CollectionKind::Calendar,
                INBOX,
            ))),
        },
        Prop {
            name: caldav("schedule-outbox-URL"),
            value: Some(href(&collection_href(
                owner,
                CollectionKind::Calendar,
                OUTBOX,
            ))),
        },
        Prop {
            name: caldav("calendar-user-address-set"),
            value: Some(href(&format!("mailto:{owner}"))),
        },
        Prop {
            name: caldav("calendar-user-type"),
            value: Some("INDIVIDUAL".into()),
        },
    ]
}

/// The principal property `name` of `owner` when it is one of [`principal_props`] that the
/// principal does not answer already (calendar-user-address-set is `calcommon`'s).
pub(crate) fn principal_value(name: &PropName, owner: &str) -> Option<String> {
    principal_props(owner)
        .into_iter()
        .find(|p| &p.name == name && p.name.local != "calendar-user-address-set")
        .and_then(|p| p.value)
}

/// The names [`principal_value`] answers (for allprop/propname).
pub(crate) fn principal_names() -> Vec<PropName> {
    principal_props("")
        .into_iter()
        .map(|p| p.name)
        .filter(|n| n.local != "calendar-user-address-set")
        .collect()
}

/// The `resourcetype` value of a calendar-home child named `name` when it is the schedule
/// inbox or outbox.
pub(crate) fn resourcetype(name: &str) -> Option<String> {
    let which = match name {
        INBOX => "schedule-inbox",
        OUTBOX => "schedule-outbox",
        _ => return None,
    };
    Some(format!("<D:collection/><C:{which} xmlns:C=\"{CALDAV}\"/>"))
}

fn caldav_error(status: StatusCode, condition: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/xml; charset=utf-8")
        .body(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\" \
             xmlns:C=\"{CALDAV}\"><C:{condition}/></D:error>"
        ))
}

/// POST to `owner`'s outbox by `me` with `body` (module comment).
pub(crate) async fn post_outbox(
    ctx: &Arc<ServerContext>,
    me: &str,
    owner: &str,
    body: &[u8],
) -> Result<HttpResponse, DavError> {
    if me != owner {
        return Err(DavError::not_found());
    }
    if body.len() > POST_LIMIT {
        return Err(DavError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request is too large",
        ));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Ok(caldav_error(StatusCode::BAD_REQUEST, "valid-calendar-data"));
    };
    let req = match parse_request(text) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("outbox POST refused: {e}");
            return Ok(caldav_error(StatusCode::BAD_REQUEST, "valid-calendar-data"));
        }
    };
    if req.organizer != me {
        return Ok(caldav_error(StatusCode::FORBIDDEN, "organizer-allowed"));
    }
    let (store, now) = (ctx.store.clone(), ctx.clock.now());
    let xml = tokio::task::spawn_blocking(move || schedule_response(&store, &req, now))
        .await
        .map_err(|e| DavError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(xml))
}

/// The `schedule-response` body for a parsed request.
pub(crate) fn schedule_response(
    store: &Store,
    req: &FreeBusyRequest,
    now: i64,
) -> Result<String, DavError> {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:schedule-response xmlns:D=\"DAV:\" \
         xmlns:C=\"{CALDAV}\">"
    );
    for who in &req.attendees {
        out.push_str("<C:response><C:recipient>");
        out.push_str(&href(&format!("mailto:{who}")));
        out.push_str("</C:recipient>");
        let kind = store
            .check_recipient(who)
            .unwrap_or(RecipientKind::UnknownLocal);
        // An account, or an alias leading to exactly one (RFC 6638 §3.2.1: a calendar user
        // address the server knows).
        let account = match store.get_account(who)? {
            Some(a) => Some(a.address.to_ascii_lowercase()),
            None => match store.resolve_recipient(who).ok().as_deref() {
                Some([crate::storage::Destination::Local(a)]) => Some(a.to_ascii_lowercase()),
                _ => None,
            },
        };
        match (kind, account) {
            (RecipientKind::Local, Some(account)) => {
                let busy = busy_of(store, &account, req.start, req.end)?;
                let cal = reply(req, who, &busy, now);
                out.push_str("<C:request-status>2.0;Success</C:request-status>");
                out.push_str("<C:calendar-data>");
                out.push_str(&escape(cal.to_string().as_str()));
                out.push_str("</C:calendar-data>");
            }
            (RecipientKind::Remote, _) => out.push_str(
                "<C:request-status>5.3;No scheduling support for user</C:request-status>",
            ),
            _ => out.push_str("<C:request-status>3.7;Invalid calendar user</C:request-status>"),
        }
        out.push_str("</C:response>");
    }
    out.push_str("</C:schedule-response>");
    Ok(out)
}

/// `account`'s busy periods in `[start, end)` over its calendars.
fn busy_of(store: &Store, account: &str, start: i64, end: i64) -> Result<Vec<Busy>, DavError> {
    let mut all = Vec::new();
    for c in store.dav_collections(account)? {
        if c.kind != CollectionKind::Calendar || reserved(&c.name) {
            continue;
        }
        for o in store.dav_objects_in_range(c.id, start, end)? {
            let Ok(cal) = parse_calendar(&o.data) else {
                continue;
            };
            if let Ok(b) = busy_periods(&cal, calcard::common::timezone::Tz::UTC, start, end) {
                all.extend(b);
            }
        }
    }
    Ok(merge(all))
}

#[cfg(test)]
mod tests;
