//! CalDAV and CardDAV over HTTP through actix-web's test service on a fresh store:
//! discovery properties, MKCALENDAR and extended MKCOL, PROPFIND/PROPPATCH on homes,
//! collections and objects, PUT/GET/DELETE with their preconditions, COPY/MOVE between
//! calendars, another account's 404s, and a depth-1 PROPFIND over 10,000 events.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::tests::{call, call_as, service};
use crate::http::server::{app, routes, Front, Listener};
use crate::http::tests::{peer, world};
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::storage::davstore::{Condition, NewObject, PutOutcome};

const CAL: &str = "/dav/calendars/alice@example.com";
const BOOK: &str = "/dav/addressbooks/alice@example.com";

fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\n\
SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn todo(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nSUMMARY:do it\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
}

const PROPS: &[u8] = br#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/" xmlns:i="http://apple.com/ns/ical/"><d:prop><d:resourcetype/><d:displayname/><d:getetag/><d:getcontenttype/><d:sync-token/><cs:getctag/><c:supported-calendar-component-set/><c:max-resource-size/><c:calendar-description/><i:calendar-color/><cr:supported-address-data/><d:supported-report-set/><d:current-user-privilege-set/><d:owner/><d:quota-used-bytes/><c:calendar-timezone/></d:prop></d:propfind>"#;

#[actix_rt::test]
async fn discovery_homes_and_collections() {
    let w = world("");
    let svc = service!(w);
    // OPTIONS anywhere under the DAV root announces CalDAV and CardDAV.
    for path in [
        "/dav/",
        "/dav/principals/alice@example.com/",
        &format!("{CAL}/calendar/"),
    ] {
        let (s, h, _) = call!(svc, "OPTIONS", path, [], b"");
        assert_eq!(s, StatusCode::OK, "{path}");
        let dav = h.get("DAV").unwrap().to_str().unwrap();
        assert!(
            dav.contains("calendar-access") && dav.contains("addressbook"),
            "{dav}"
        );
        assert!(dav.contains("extended-mkcol"), "{dav}");
        let allow = h.get("Allow").unwrap().to_str().unwrap();
        assert!(
            allow.contains("REPORT") && allow.contains("MKCALENDAR"),
            "{allow}"
        );
    }
    // The principal names its homes and its address.
    let ask = br#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav"><d:prop><c:calendar-home-set/><cr:addressbook-home-set/><c:calendar-user-address-set/><d:principal-URL/></d:prop></d:propfind>"#;
    let (s, _, body) = call!(
        svc,
        "PROPFIND",
        "/dav/principals/alice@example.com/",
        [("Depth", "0")],
        ask
    );
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert!(
        body.contains("<D:href>/dav/calendars/alice@example.com/</D:href>"),
        "{body}"
    );
    assert!(
        body.contains("<D:href>/dav/addressbooks/alice@example.com/</D:href>"),
        "{body}"
    );
    assert!(
        body.contains("<D:href>mailto:alice@example.com</D:href>"),
        "{body}"
    );
    assert!(!body.contains("404"), "{body}");

    // The calendar home lists the default calendar and task list with their properties.
    let (s, _, body) = call!(svc, "PROPFIND", format!("{CAL}/"), [("Depth", "1")], PROPS);
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert!(
        body.contains(&format!("<D:href>{CAL}/calendar/</D:href>")),
        "{body}"
    );
    assert!(
        body.contains(&format!("<D:href>{CAL}/tasks/</D:href>")),
        "{body}"
    );
    assert!(!body.contains("/contacts/"), "{body}");
    assert!(
        body.contains("<X:calendar xmlns:X=\"urn:ietf:params:xml:ns:caldav\"/>"),
        "{body}"
    );
    assert!(body.contains("name=\"VTODO\""), "{body}");
    assert!(body.contains("http://ferrymail.invalid/sync/0"), "{body}");
    assert!(body.contains("calendar-query"), "{body}");
    assert!(body.contains("sync-collection"), "{body}");
    assert!(!body.contains("addressbook-query"), "{body}");
    assert!(
        body.contains("<D:owner><D:href>/dav/principals/alice@example.com/</D:href>"),
        "{body}"
    );
    // calendar-timezone is not kept: 404 in its propstat.
    assert!(body.contains("HTTP/1.1 404 Not Found"), "{body}");

    // The address-book home lists the address book.
    let (s, _, body) = call!(svc, "PROPFIND", format!("{BOOK}/"), [("Depth", "1")], PROPS);
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert!(
        body.contains(&format!("<D:href>{BOOK}/contacts/</D:href>")),
        "{body}"
    );
    assert!(body.contains("version=\"4.0\""), "{body}");
    assert!(body.contains("addressbook-multiget"), "{body}");

    // propname and allprop.
    let (s, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/calendar/"),
        [("Depth", "0")],
        br#"<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>"#
    );
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert!(body.contains("getctag"), "{body}");
    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/calendar/"),
        [("Depth", "0")],
        b""
    );
    assert!(
        body.contains("<D:displayname>Calendar</D:displayname>"),
        "{body}"
    );
    // Depth infinity is refused.
    let (s, _, _) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/"),
        [("Depth", "infinity")],
        b""
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[actix_rt::test]
async fn mkcalendar_mkcol_proppatch_and_delete() {
    let w = world("");
    let svc = service!(w);
    let mk = br#"<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:i="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>Work</d:displayname><c:calendar-description>the office</c:calendar-description><i:calendar-color>#FF8800</i:calendar-color><c:supported-calendar-component-set><c:comp name="VEVENT"/></c:supported-calendar-component-set><c:calendar-timezone>BEGIN:VCALENDAR</c:calendar-timezone></d:prop></d:set></c:mkcalendar>"#;
    let (s, _, body) = call!(svc, "MKCALENDAR", format!("{CAL}/work/"), [], mk);
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{CAL}/work/"), [], b"");
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    for reserved in ["inbox", "outbox"] {
        let (s, _, _) = call!(svc, "MKCALENDAR", format!("{CAL}/{reserved}/"), [], b"");
        assert_eq!(s, StatusCode::FORBIDDEN, "{reserved}");
    }
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{BOOK}/cal/"), [], b"");
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{CAL}/work/deeper/"), [], b"");
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = call!(
        svc,
        "MKCALENDAR",
        "/dav/files/alice@example.com/c/",
        [],
        b""
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    for outside in ["/dav/", "/dav/principals/alice@example.com/"] {
        let (s, _, _) = call!(svc, "MKCALENDAR", outside, [], b"");
        assert_eq!(s, StatusCode::FORBIDDEN, "{outside}");
    }
    // A property that cannot be set fails the whole creation (403 / 424).
    let bad = br#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>X</d:displayname><d:getetag>x</d:getetag></d:prop></d:set></c:mkcalendar>"#;
    let (s, _, body) = call!(svc, "MKCALENDAR", format!("{CAL}/bad/"), [], bad);
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body.contains("mkcalendar-response") && body.contains("424"),
        "{body}"
    );
    let (s, _, _) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/bad/"),
        [("Depth", "0")],
        b""
    );
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/work/"),
        [("Depth", "0")],
        PROPS
    );
    assert!(
        body.contains("<D:displayname>Work</D:displayname>"),
        "{body}"
    );
    assert!(body.contains(">the office<"), "{body}");
    assert!(body.contains(">#FF8800<"), "{body}");
    assert!(
        body.contains("name=\"VEVENT\"") && !body.contains("VTODO"),
        "{body}"
    );

    // Extended MKCOL (RFC 5689): an address book; a plain collection has no place here.
    let mkcol = br#"<d:mkcol xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype><d:displayname>Friends</d:displayname></d:prop></d:set></d:mkcol>"#;
    let (s, _, body) = call!(svc, "MKCOL", format!("{BOOK}/friends/"), [], mkcol);
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _, _) = call!(svc, "MKCOL", format!("{CAL}/friends/"), [], mkcol);
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call!(svc, "MKCOL", format!("{BOOK}/plain/"), [], b"");
    assert_eq!(s, StatusCode::FORBIDDEN);
    let mkcal = br#"<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype></d:prop></d:set></d:mkcol>"#;
    let (s, _, _) = call!(svc, "MKCOL", format!("{CAL}/viamkcol/"), [], mkcal);
    assert_eq!(s, StatusCode::CREATED);
    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{BOOK}/friends/"),
        [("Depth", "0")],
        PROPS
    );
    assert!(
        body.contains("<D:displayname>Friends</D:displayname>"),
        "{body}"
    );
    assert!(body.contains("addressbook xmlns:X"), "{body}");

    // PROPPATCH: settable ones together; a protected one fails all (nothing changed).
    let patch = br#"<d:propertyupdate xmlns:d="DAV:" xmlns:i="http://apple.com/ns/ical/"><d:set><d:prop><d:displayname>Office</d:displayname><i:calendar-color>#00FF00FF</i:calendar-color></d:prop></d:set></d:propertyupdate>"#;
    let (s, _, body) = call!(svc, "PROPPATCH", format!("{CAL}/work/"), [], patch);
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert!(body.contains("200 OK") && !body.contains("403"), "{body}");
    let patch = br#"<d:propertyupdate xmlns:d="DAV:" xmlns:z="urn:z"><d:set><d:prop><d:displayname>Nope</d:displayname><z:dead>x</z:dead><d:getetag>"x"</d:getetag></d:prop></d:set></d:propertyupdate>"#;
    let (_, _, body) = call!(svc, "PROPPATCH", format!("{CAL}/work/"), [], patch);
    assert!(
        body.contains("403 Forbidden") && body.contains("424"),
        "{body}"
    );
    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/work/"),
        [("Depth", "0")],
        PROPS
    );
    assert!(
        body.contains("<D:displayname>Office</D:displayname>"),
        "{body}"
    );
    assert!(body.contains(">#00FF00FF<"), "{body}");

    // A calendar's name under the address-book home is no collection there: DELETE of it
    // is 404 and the calendar stays.
    let (s, _, _) = call!(svc, "DELETE", format!("{BOOK}/work/"), [], b"");
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Scheduling's names are refused for address books too.
    for name in ["inbox", "outbox"] {
        let (s, _, body) = call!(
            svc,
            "MKCOL",
            format!("{BOOK}/{name}/"),
            [("Content-Type", "application/xml")],
            br#"<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>"#
        );
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}: {body}");
    }
    // Apple Calendar's calendar-order in a PROPPATCH is taken (and not kept).
    let (s, _, body) = call!(
        svc,
        "PROPPATCH",
        format!("{CAL}/work/"),
        [("Content-Type", "application/xml")],
        br#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><A:calendar-order>3</A:calendar-order></D:prop></D:set></D:propertyupdate>"#
    );
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert!(body.contains("200 OK") && !body.contains("403"), "{body}");

    // DELETE of a collection; the home stays.
    let (s, _, _) = call!(svc, "DELETE", format!("{CAL}/work/"), [], b"");
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/work/"),
        [("Depth", "0")],
        b""
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call!(svc, "DELETE", format!("{CAL}/"), [], b"");
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[actix_rt::test]
async fn objects_put_get_delete_with_preconditions() {
    let w = world("");
    let svc = service!(w);
    let url = format!("{CAL}/calendar/e1.ics");
    let ev = event("uid-1", "first");
    let (s, h, body) = call!(
        svc,
        "PUT",
        url.clone(),
        [("Content-Type", "text/calendar")],
        ev.as_bytes()
    );
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let etag = h.get("ETag").unwrap().to_str().unwrap().to_string();
    let (s, h, body) = call!(svc, "GET", url.clone(), [], b"");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, ev);
    assert_eq!(h.get("ETag").unwrap().to_str().unwrap(), etag);
    assert_eq!(
        h.get("Content-Type").unwrap(),
        "text/calendar; charset=utf-8; component=vevent"
    );
    let (s, _, _) = call!(
        svc,
        "GET",
        url.clone(),
        [("If-None-Match", etag.as_str())],
        b""
    );
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    // If-None-Match: * on an existing object, a stale If-Match: 412, nothing changed.
    let ev2 = event("uid-1", "second");
    let (s, _, _) = call!(
        svc,
        "PUT",
        url.clone(),
        [("If-None-Match", "*")],
        ev2.as_bytes()
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call!(
        svc,
        "PUT",
        url.clone(),
        [("If-Match", "\"stale\"")],
        ev2.as_bytes()
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, h, _) = call!(
        svc,
        "PUT",
        url.clone(),
        [("If-Match", etag.as_str())],
        ev2.as_bytes()
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let etag2 = h.get("ETag").unwrap().to_str().unwrap().to_string();
    assert_ne!(etag, etag2);
    // The PROPFIND of the object agrees.
    let (_, _, body) = call!(svc, "PROPFIND", url.clone(), [("Depth", "0")], PROPS);
    assert!(body.contains(&etag2.replace('"', "&quot;")), "{body}");
    // The same UID under another name: no-uid-conflict naming the holder.
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{CAL}/calendar/other.ics"),
        [],
        ev.as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("no-uid-conflict"), "{body}");
    assert!(body.contains(&format!("<D:href>{url}</D:href>")), "{body}");
    // Not iCalendar, the wrong component, the wrong media type.
    let (s, _, body) = call!(svc, "PUT", format!("{CAL}/calendar/bad.ics"), [], b"hello");
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body.contains("valid-calendar-data") && body.contains("urn:ietf:params:xml:ns:caldav"),
        "{body}"
    );
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{CAL}/calendar/t.ics"),
        [],
        todo("t1").as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("supported-calendar-component"), "{body}");
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{CAL}/tasks/t.ics"),
        [],
        todo("t1").as_bytes()
    );
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{CAL}/calendar/x.ics"),
        [("Content-Type", "text/plain")],
        ev.as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("supported-calendar-data"), "{body}");
    // No collection: 409.
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{CAL}/nowhere/e.ics"),
        [],
        ev.as_bytes()
    );
    assert_eq!(s, StatusCode::CONFLICT);

    // vCard 3 and 4; 2.1 is not supported.
    let v3 = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nUID:card-3\r\nEMAIL:ann@example.net\r\nEND:VCARD\r\n";
    let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo Example\r\nUID:urn:uuid:card-4\r\nEND:VCARD\r\n";
    let v21 = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nUID:card-21\r\nEND:VCARD\r\n";
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{BOOK}/contacts/a.vcf"),
        [("Content-Type", "text/vcard")],
        v3.as_bytes()
    );
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{BOOK}/contacts/b.vcf"),
        [],
        v4.as_bytes()
    );
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{BOOK}/contacts/c.vcf"),
        [],
        v21.as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body.contains("supported-address-data") && body.contains("carddav"),
        "{body}"
    );
    let (s, h, body) = call!(svc, "GET", format!("{BOOK}/contacts/a.vcf"), [], b"");
    assert_eq!((s, body.as_str()), (StatusCode::OK, v3));
    assert_eq!(h.get("Content-Type").unwrap(), "text/vcard; charset=utf-8");
    // An event is no contact.
    let (s, _, body) = call!(
        svc,
        "PUT",
        format!("{BOOK}/contacts/e.vcf"),
        [],
        ev.as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("valid-address-data"), "{body}");

    // COPY and MOVE between calendars.
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{CAL}/work/"), [], b"");
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(
        svc,
        "COPY",
        url.clone(),
        [("Destination", format!("{CAL}/work/copy.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(
        svc,
        "MOVE",
        url.clone(),
        [
            ("Destination", format!("{CAL}/work/copy.ics")),
            ("Overwrite", "F")
        ],
        b""
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call!(
        svc,
        "MOVE",
        url.clone(),
        [("Destination", format!("{CAL}/work/copy.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call!(svc, "GET", url.clone(), [], b"");
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, body) = call!(svc, "GET", format!("{CAL}/work/copy.ics"), [], b"");
    assert_eq!((s, body.as_str()), (StatusCode::OK, ev2.as_str()));
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/copy.ics"),
        [("Destination", format!("{CAL}/tasks/e.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/copy.ics"),
        [("Destination", format!("{BOOK}/contacts/e.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/copy.ics"),
        [("Destination", format!("{CAL}/gone/e.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::CONFLICT);
    // A rename within one calendar: the UID moves with the object.
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/copy.ics"),
        [("Destination", format!("{CAL}/work/renamed.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(svc, "GET", format!("{CAL}/work/copy.ics"), [], b"");
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, body) = call!(svc, "GET", format!("{CAL}/work/renamed.ics"), [], b"");
    assert_eq!((s, body.as_str()), (StatusCode::OK, ev2.as_str()));
    // Onto another event without Overwrite: refused, and the source stays as it was.
    let other = event("other-uid", "Other");
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{CAL}/work/other.ics"),
        [],
        other.as_bytes()
    );
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/renamed.ics"),
        [
            ("Destination", format!("{CAL}/work/other.ics")),
            ("Overwrite", "F")
        ],
        b""
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, body) = call!(svc, "GET", format!("{CAL}/work/renamed.ics"), [], b"");
    assert_eq!((s, body.as_str()), (StatusCode::OK, ev2.as_str()));
    // With Overwrite, the other event is replaced.
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/renamed.ics"),
        [("Destination", format!("{CAL}/work/other.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, body) = call!(svc, "GET", format!("{CAL}/work/other.ics"), [], b"");
    assert_eq!((s, body.as_str()), (StatusCode::OK, ev2.as_str()));
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{CAL}/work/other.ics"),
        [("Destination", format!("{CAL}/work/copy.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::CREATED);

    // DELETE: a stale If-Match is 412; then 204, then 404.
    let obj = format!("{CAL}/work/copy.ics");
    let (s, _, _) = call!(svc, "DELETE", obj.clone(), [("If-Match", "\"stale\"")], b"");
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call!(svc, "DELETE", obj.clone(), [], b"");
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call!(svc, "DELETE", obj.clone(), [], b"");
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn another_account_gets_404() {
    let w = world("");
    let svc = service!(w);
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{CAL}/calendar/e.ics"),
        [],
        event("u", "s").as_bytes()
    );
    assert_eq!(s, StatusCode::CREATED);
    let other = "dom@example.com";
    for (method, path) in [
        ("PROPFIND", format!("{CAL}/")),
        ("PROPFIND", format!("{CAL}/calendar/")),
        ("GET", format!("{CAL}/calendar/e.ics")),
        ("DELETE", format!("{CAL}/calendar/e.ics")),
        ("PUT", format!("{CAL}/calendar/f.ics")),
        ("MKCALENDAR", format!("{CAL}/new/")),
        ("PROPFIND", format!("{BOOK}/contacts/")),
        ("PROPFIND", "/dav/principals/alice@example.com/".to_string()),
    ] {
        let (s, _, _) = call_as!(
            svc,
            other,
            method,
            path.clone(),
            [("Depth", "0")],
            event("v", "t").as_bytes()
        );
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let (s, _, _) = call!(svc, "GET", format!("{CAL}/calendar/e.ics"), [], b"");
    assert_eq!(s, StatusCode::OK);
}

/// A depth-1 PROPFIND over 10,000 events answers every one (streamed; see calprops).
/// Stores `n` events `PREFIX-I.ics` in alice's collection `coll` straight through the store.
fn seed(ctx: &crate::actors::ServerContext, coll: &str, prefix: &str, n: usize) {
    let col = ctx
        .store
        .dav_collection("alice@example.com", coll)
        .unwrap()
        .unwrap();
    for i in 0..n {
        let data = event(&format!("{prefix}-{i}"), &format!("event {i}"));
        let o = validate_calendar(&data, &[ComponentKind::Event], 1 << 20).unwrap();
        let put = ctx
            .store
            .dav_put(
                col.id,
                &NewObject {
                    name: format!("{prefix}-{i:05}.ics"),
                    uid: o.uid,
                    data,
                    component: "VEVENT".into(),
                    first: o.first,
                    last: o.last,
                },
                &Condition::Absent,
            )
            .unwrap();
        assert!(matches!(put, PutOutcome::Stored { created: true, .. }));
    }
}

/// A Depth 1 listing reads the store a page at a time as the body goes out (so it never
/// holds the whole collection): an object stored after the first chunk was sent, under a
/// name that sorts last, is in the listing; a snapshot taken up front would miss it.
#[actix_rt::test]
async fn propfind_listing_reads_the_store_page_by_page() {
    use actix_web::body::MessageBody;
    use std::pin::Pin;
    let w = world("");
    let svc = service!(w);
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{CAL}/paged/"), [], b"");
    assert_eq!(s, StatusCode::CREATED);
    seed(&w.ctx, "paged", "a", 1_000);
    let req = TestRequest::default()
        .method(actix_web::http::Method::from_bytes(b"PROPFIND").unwrap())
        .uri(&format!("{CAL}/paged/"))
        .peer_addr(peer())
        .insert_header(("Authorization", super::tests::auth_as("alice@example.com")))
        .insert_header(("Depth", "1"))
        .set_payload(
            &br#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#[..],
        )
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::MULTI_STATUS);
    let mut body = res.into_body().boxed();
    let mut text = String::new();
    let mut chunks = 0;
    // The head and the first page, then a late object, then the rest (bounded: 1,000
    // objects come in at most a few dozen chunks).
    for _ in 0..2 {
        let c = futures_util::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await;
        text.push_str(std::str::from_utf8(&c.expect("a chunk").expect("no error")).unwrap());
        chunks += 1;
    }
    assert!(
        !text.contains("</D:multistatus>"),
        "not all in the first chunks"
    );
    seed(&w.ctx, "paged", "z", 1);
    for _ in 0..200 {
        let Some(c) = futures_util::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await
        else {
            break;
        };
        text.push_str(std::str::from_utf8(&c.expect("no error")).unwrap());
        chunks += 1;
    }
    assert!(text.ends_with("</D:multistatus>"), "the listing ended");
    assert_eq!(text.matches("<D:response>").count(), 1 + 1_000 + 1);
    assert!(text.contains(&format!("<D:href>{CAL}/paged/z-00000.ics</D:href>")));
    assert!(chunks > 2, "{chunks} chunks");
}

#[actix_rt::test]
async fn propfind_depth_one_over_ten_thousand_events() {
    let w = world("");
    let svc = service!(w);
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{CAL}/big/"), [], b"");
    assert_eq!(s, StatusCode::CREATED);
    let ctx = w.ctx.clone();
    let n = 10_000;
    seed(&ctx, "big", "big", n);
    ctx.store.commit().unwrap();
    let ask = br#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#;
    let started = std::time::Instant::now();
    let (s, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{CAL}/big/"),
        [("Depth", "1")],
        ask
    );
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert_eq!(body.matches("<D:response>").count(), n + 1);
    assert!(body.contains(&format!("<D:href>{CAL}/big/big-09999.ics</D:href>")));
    assert!(body.ends_with("</D:multistatus>"));
    // A measurement, not an assertion.
    eprintln!(
        "PROPFIND depth 1 over {n} events: {} bytes in {:?}",
        body.len(),
        started.elapsed()
    );
}

#[actix_rt::test]
async fn schedule_inbox_and_outbox_answer_before_any_invitation() {
    let w = world("");
    let svc = service!(w);
    let ask = br#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:sync-token/></d:prop></d:propfind>"#;
    for (name, kind) in [("inbox", "schedule-inbox"), ("outbox", "schedule-outbox")] {
        let (s, _, body) = call!(
            svc,
            "PROPFIND",
            format!("{CAL}/{name}/"),
            [("Depth", "0")],
            ask
        );
        assert_eq!(s, StatusCode::MULTI_STATUS, "{name}: {body}");
        assert!(body.contains(kind), "{name}: {body}");
    }
    // An empty inbox answers a sync-collection REPORT too.
    let sync = br#"<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;
    let (s, _, body) = call!(svc, "REPORT", format!("{CAL}/inbox/"), [], sync);
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert!(body.contains("sync-token"), "{body}");
    // Only under the calendar home, and only for an account.
    let (s, _, _) = call!(
        svc,
        "PROPFIND",
        format!("{BOOK}/inbox/"),
        [("Depth", "0")],
        ask
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call!(
        svc,
        "PROPFIND",
        "/dav/calendars/nobody@example.com/inbox/",
        [("Depth", "0")],
        ask
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn principal_property_search_finds_only_oneself() {
    let w = world("");
    let svc = service!(w);
    let search = |name: &str| {
        format!(
            r#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:property-search><D:prop><D:displayname/></D:prop><D:match>{name}</D:match></D:property-search><D:prop><D:displayname/><C:calendar-home-set/></D:prop></D:principal-property-search>"#
        )
    };
    for at in ["/dav/", "/dav/principals/alice@example.com/"] {
        let (s, _, body) = call!(svc, "REPORT", at, [], search("ALICE").as_bytes());
        assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
        assert!(
            body.contains("<D:href>/dav/principals/alice@example.com/</D:href>"),
            "{body}"
        );
        assert!(
            body.contains("<D:href>/dav/calendars/alice@example.com/</D:href>"),
            "{body}"
        );
    }
    // Another account is not found (nor told to exist), and listing all gives oneself.
    let (s, _, body) = call!(svc, "REPORT", "/dav/", [], search("root").as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert!(!body.contains("<D:response>"), "{body}");
    let all = br#"<D:principal-property-search xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:principal-property-search>"#;
    let (s, _, body) = call!(svc, "REPORT", "/dav/", [], all);
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert_eq!(body.matches("<D:response>").count(), 1, "{body}");
    // Other reports are not spoken here; a malformed search is a 400.
    let expand = br#"<D:expand-property xmlns:D="DAV:"><D:property name="principal-URL"/></D:expand-property>"#;
    let (s, _, body) = call!(svc, "REPORT", "/dav/", [], expand);
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body.contains("supported-report"), "{body}");
    let bad = br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:match>x</D:match></D:property-search></D:principal-property-search>"#;
    let (s, _, _) = call!(svc, "REPORT", "/dav/", [], bad);
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
