//! The scheduling properties, resource types and the outbox's free/busy answer, on a fresh
//! store.

use super::*;
use crate::storage::davstore::{Condition, NewObject};

fn store() -> (tempfile::TempDir, Store) {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _writers) = Store::open(dir.path()).expect("store");
    store.add_domain("example.com").unwrap();
    store.add_account("alice@example.com", "pw", false).unwrap();
    store.add_account("bob@example.com", "pw", false).unwrap();
    (dir, store)
}

#[test]
fn principal_properties_name_the_inbox_outbox_and_address() {
    let props = principal_props("bob@example.com");
    let get = |l: &str| {
        props
            .iter()
            .find(|p| p.name.local == l && p.name.ns == CALDAV)
            .and_then(|p| p.value.clone())
            .unwrap()
    };
    assert_eq!(
        get("schedule-inbox-URL"),
        "<D:href>/dav/calendars/bob@example.com/inbox/</D:href>"
    );
    assert_eq!(
        get("schedule-outbox-URL"),
        "<D:href>/dav/calendars/bob@example.com/outbox/</D:href>"
    );
    assert_eq!(
        get("calendar-user-address-set"),
        "<D:href>mailto:bob@example.com</D:href>"
    );
    assert_eq!(get("calendar-user-type"), "INDIVIDUAL");
    assert!(resourcetype("inbox").unwrap().contains("schedule-inbox"));
    assert!(resourcetype("outbox").unwrap().contains("schedule-outbox"));
    assert_eq!(resourcetype("calendar"), None);
}

#[test]
fn the_outbox_answers_local_free_busy_and_refuses_the_rest() {
    let (_dir, store) = store();
    let cal = store
        .dav_collections("bob@example.com")
        .unwrap()
        .into_iter()
        .find(|c| c.name == "calendar")
        .unwrap();
    let ev = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n\
              UID:busy1\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270110T100000Z\r\n\
              DTEND:20270110T110000Z\r\nSUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let parsed = parse_calendar(ev).unwrap();
    let (first, last) = crate::protocols::caldav::timerange::index_span(&parsed).unwrap();
    store
        .dav_put(
            cal.id,
            &NewObject {
                name: "busy1.ics".into(),
                uid: "busy1".into(),
                data: ev.into(),
                component: "VEVENT".into(),
                first,
                last,
            },
            &Condition::Absent,
        )
        .unwrap();
    let request = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n\
                   BEGIN:VFREEBUSY\r\nUID:fb1\r\nDTSTAMP:20270101T000000Z\r\n\
                   DTSTART:20270110T000000Z\r\nDTEND:20270111T000000Z\r\n\
                   ORGANIZER:mailto:alice@example.com\r\n\
                   ATTENDEE:mailto:bob@example.com\r\nATTENDEE:mailto:carol@remote.test\r\n\
                   ATTENDEE:mailto:nobody@example.com\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let req = parse_request(request).unwrap();
    assert_eq!(req.organizer, "alice@example.com");
    let xml = schedule_response(&store, &req, 1_800_000_000).unwrap();
    // The body is well-formed XML in the CalDAV namespace.
    let root = crate::protocols::webdav::xml::parse(xml.as_bytes())
        .unwrap()
        .unwrap();
    assert!(root.is(CALDAV, "schedule-response"));
    let responses: Vec<_> = root.elements().collect();
    assert_eq!(responses.len(), 3);
    let status = |i: usize| responses[i].child(CALDAV, "request-status").unwrap().text();
    assert_eq!(status(0), "2.0;Success");
    assert_eq!(status(1), "5.3;No scheduling support for user");
    assert_eq!(status(2), "3.7;Invalid calendar user");
    let data = responses[0].child(CALDAV, "calendar-data").unwrap().text();
    let reply = parse_calendar(&data).unwrap();
    assert_eq!(
        crate::protocols::itip::Method::of(&reply),
        Some(crate::protocols::itip::Method::Reply)
    );
    assert!(
        data.contains("FREEBUSY;FBTYPE=BUSY:20270110T100000Z/20270110T110000Z"),
        "{data}"
    );
    // A request that is no VFREEBUSY REQUEST is refused.
    assert!(parse_request(&request.replace("METHOD:REQUEST\r\n", "")).is_err());
}
