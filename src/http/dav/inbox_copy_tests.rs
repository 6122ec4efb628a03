//! A COUNTER copied out of the schedule inbox over DAV takes the event's UID, not the key
//! the inbox keeps it under (one COUNTER per attendee: `scheduling::deliver::counter_key`).

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::tests::{call, service};
use crate::http::server::{app, routes, Front, Listener};
use crate::http::tests::{peer, world};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::counter;
use crate::scheduling::deliver::{counter_key, process_local, Applied};
use crate::storage::davstore::{Condition, NewObject};

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n\
UID:copy-ev\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270110T100000Z\r\n\
DTEND:20270110T110000Z\r\nSUMMARY:Planning\r\nORGANIZER:mailto:alice@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:root@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[actix_rt::test]
async fn a_counter_copied_out_of_the_inbox_takes_the_events_uid() {
    let w = world("");
    let svc = service!(w);
    let store = w.ctx.store.clone();
    let cal = store
        .dav_collection("alice@example.com", "calendar")
        .unwrap()
        .unwrap();
    let new = NewObject {
        name: "copy-ev.ics".into(),
        uid: "copy-ev".into(),
        data: EVENT.into(),
        component: "VEVENT".into(),
        first: None,
        last: None,
    };
    store.dav_put(cal.id, &new, &Condition::Absent).unwrap();
    let proposed =
        parse_calendar(&EVENT.replace("DTSTART:20270110T100000Z", "DTSTART:20270110T140000Z"))
            .unwrap();
    let mut m = counter::counter(&proposed, "root@example.com", 0).unwrap();
    m.calendar = counter::for_inbox(&m.calendar, "root@example.com");
    assert_eq!(
        process_local(&store, "alice@example.com", &m, 0).unwrap(),
        Applied::InboxOnly
    );
    let inbox = store
        .dav_collection("alice@example.com", crate::scheduling::INBOX)
        .unwrap()
        .unwrap();
    let held = store.dav_objects(inbox.id).unwrap().remove(0);
    assert_eq!(held.uid, counter_key("copy-ev", "root@example.com", &[]));

    let cal_path = "/dav/calendars/alice@example.com";
    let (s, _, _) = call!(svc, "MKCALENDAR", format!("{cal_path}/kept/"), [], b"");
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, body) = call!(
        svc,
        "COPY",
        format!("{cal_path}/inbox/{}", held.name),
        [("Destination", format!("{cal_path}/kept/proposal.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let kept = store
        .dav_collection("alice@example.com", "kept")
        .unwrap()
        .unwrap();
    let copied = store.dav_get(kept.id, "proposal.ics").unwrap().unwrap();
    assert_eq!(copied.uid, "copy-ev");
    assert_eq!(copied.data, held.data);
}

/// A MOVE within the inbox keeps the COUNTER's key: taking the event's UID there would
/// collide with the event's other message, and the COUNTER would be lost.
#[actix_rt::test]
async fn a_counter_moved_within_the_inbox_keeps_its_key() {
    let w = world("");
    let svc = service!(w);
    let store = w.ctx.store.clone();
    let cal = store
        .dav_collection("alice@example.com", "calendar")
        .unwrap()
        .unwrap();
    let event = NewObject {
        name: "copy-ev.ics".into(),
        uid: "copy-ev".into(),
        data: EVENT.into(),
        component: "VEVENT".into(),
        first: None,
        last: None,
    };
    store.dav_put(cal.id, &event, &Condition::Absent).unwrap();
    let proposed =
        parse_calendar(&EVENT.replace("DTSTART:20270110T100000Z", "DTSTART:20270110T140000Z"))
            .unwrap();
    let mut m = counter::counter(&proposed, "root@example.com", 0).unwrap();
    m.calendar = counter::for_inbox(&m.calendar, "root@example.com");
    assert_eq!(
        process_local(&store, "alice@example.com", &m, 0).unwrap(),
        Applied::InboxOnly
    );
    let inbox = store
        .dav_collection("alice@example.com", crate::scheduling::INBOX)
        .unwrap()
        .unwrap();
    // The event's other message, under its plain UID.
    let other = NewObject {
        name: "other.ics".into(),
        ..event
    };
    store.dav_put(inbox.id, &other, &Condition::Absent).unwrap();
    let key = counter_key("copy-ev", "root@example.com", &[]);
    let held = store
        .dav_objects(inbox.id)
        .unwrap()
        .into_iter()
        .find(|o| o.uid == key)
        .unwrap();
    let inbox_path = "/dav/calendars/alice@example.com/inbox";
    let (s, _, body) = call!(
        svc,
        "MOVE",
        format!("{inbox_path}/{}", held.name),
        [("Destination", format!("{inbox_path}/renamed.ics"))],
        b""
    );
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let moved = store.dav_get(inbox.id, "renamed.ics").unwrap().unwrap();
    assert_eq!(moved.uid, key);
    assert_eq!(moved.data, held.data);
    assert!(store.dav_get(inbox.id, &held.name).unwrap().is_none());
    assert_eq!(
        store.dav_get(inbox.id, "other.ics").unwrap().unwrap().uid,
        "copy-ev"
    );
}
