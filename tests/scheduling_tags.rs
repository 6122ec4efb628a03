//! CalDAV scheduling's loose ends (issue 15), against the server on loopback:
//!
//! - Schedule-Tag (RFC 6638 §3.2.10, §8.2-8.3): the organizer's and the attendee's copies
//!   carry one on GET, PUT and as the `schedule-tag` property; an attendee's own PARTSTAT
//!   change and the server merging its REPLY into the organizer's copy keep it (the ETag
//!   moves); the organizer's real change moves both copies' tags, and written from a copy
//!   older than the merged REPLY under a matching If-Schedule-Tag-Match it keeps the
//!   attendee's PARTSTAT (the merge rule; but a write that moves the event and asks the
//!   attendee again keeps the organizer's NEEDS-ACTION); If-Schedule-Tag-Match on PUT and DELETE
//!   answers 412 unless it names the current tag; an event without an ORGANIZER has none.
//! - Invitations to an alias of a local account: delivered to the account's schedule
//!   inbox and calendar (SCHEDULE-STATUS 1.2, nothing queued as iMIP), the account's answer
//!   as the alias reaches the organizer, and the alias's free/busy is the account's.

mod common;

use std::net::SocketAddr;

use common::{http, TestServer, PASSWORD};
use ferrymail::protocols::caldav::validate::parse_calendar;
use ferrymail::protocols::itip;
use ferrymail::storage::Store;

const BOB: &str = "bob@example.com";
const ALICE: &str = "alice@example.com";
const BOB_EV: &str = "/dav/calendars/bob@example.com/calendar/sync.ics";

fn event(uid: &str, summary: &str, attendee: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test client//EN\r\nBEGIN:VEVENT\r\n\
UID:{uid}\r\nDTSTAMP:20270101T090000Z\r\nDTSTART:20270110T100000Z\r\n\
DTEND:20270110T110000Z\r\nSUMMARY:{summary}\r\nORGANIZER:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn req(
    web: SocketAddr,
    who: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response {
    let auth = http::basic(who, PASSWORD);
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    http::request(web, false, method, path, &all, body)
}

fn put(
    web: SocketAddr,
    who: &str,
    path: &str,
    data: &str,
    extra: &[(&str, &str)],
) -> http::Response {
    let mut h = vec![("Content-Type", "text/calendar; charset=utf-8")];
    h.extend_from_slice(extra);
    req(web, who, "PUT", path, &h, data.as_bytes())
}

/// (ETag, Schedule-Tag, body) of a GET (200).
fn get(web: SocketAddr, who: &str, path: &str) -> (String, Option<String>, String) {
    let r = req(web, who, "GET", path, &[], b"");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    (
        r.header("etag").expect("an ETag").to_string(),
        r.header("schedule-tag").map(str::to_string),
        r.text(),
    )
}

/// The path of `uid`'s copy in `owner`'s calendar.
fn copy_path(store: &Store, owner: &str, uid: &str) -> String {
    let (coll, obj) = ferrymail::scheduling::deliver::find_by_uid(store, owner, uid)
        .unwrap()
        .unwrap_or_else(|| panic!("{owner} has no copy of {uid}"));
    format!("/dav/calendars/{owner}/{}/{}", coll.name, obj.name)
}

fn partstat(data: &str, who: &str) -> Option<String> {
    let cal = parse_calendar(data).ok()?;
    itip::attendees(&cal)
        .get(who)
        .map(|(a, _)| a.partstat.clone())
}

/// `data` with `who`'s PARTSTAT set to `to` (the line as `event` writes it).
fn answered(data: &str, who: &str, to: &str) -> String {
    let unfolded = data.replace("\r\n ", "");
    let mut out = String::new();
    for line in unfolded.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("ATTENDEE") && line.ends_with(&format!("mailto:{who}")) {
            out.push_str(&format!("ATTENDEE;PARTSTAT={to}:mailto:{who}\r\n"));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

#[test]
fn schedule_tags_move_only_on_significant_changes() {
    let server = TestServer::start();
    let store = server.store();
    let web = server.addr("http");
    let uid = "sync-2027@example.com";

    let r = put(
        web,
        BOB,
        BOB_EV,
        &event(uid, "Sync", ALICE),
        &[("If-None-Match", "*")],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let put_tag = r
        .header("schedule-tag")
        .expect("Schedule-Tag on PUT")
        .to_string();
    let (etag1, tag1, _) = get(web, BOB, BOB_EV);
    assert_eq!(tag1.as_deref(), Some(put_tag.as_str()));
    let tag1 = tag1.unwrap();

    // The property, on the object and in a REPORT-free PROPFIND.
    let r = req(
        web,
        BOB,
        "PROPFIND",
        BOB_EV,
        &[("Depth", "0")],
        br#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-tag/></D:prop></D:propfind>"#,
    );
    assert_eq!(r.status, 207, "{}", r.text());
    assert!(
        r.text().contains(&tag1.replace('"', "&quot;")) || r.text().contains(&tag1),
        "{}",
        r.text()
    );

    // alice answers in her copy, guarded by its tag: her tag stays (only her PARTSTAT).
    let alice_path = copy_path(&store, ALICE, uid);
    let (_, alice_tag, alice_data) = get(web, ALICE, &alice_path);
    let alice_tag = alice_tag.expect("the attendee's copy is a scheduling object");
    let r = put(
        web,
        ALICE,
        &alice_path,
        &answered(&alice_data, ALICE, "ACCEPTED"),
        &[("If-Schedule-Tag-Match", alice_tag.as_str())],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("schedule-tag"), Some(alice_tag.as_str()));
    let (_, after, _) = get(web, ALICE, &alice_path);
    assert_eq!(after.as_deref(), Some(alice_tag.as_str()));

    // Her REPLY was merged into bob's copy: new ETag, same Schedule-Tag.
    let (etag2, tag2, bob_data) = get(web, BOB, BOB_EV);
    assert_eq!(partstat(&bob_data, ALICE).as_deref(), Some("ACCEPTED"));
    assert_ne!(etag2, etag1);
    assert_eq!(tag2.as_deref(), Some(tag1.as_str()));

    // bob changes the event: a stale or wrong tag is 412, the right one moves it.
    let changed = event(uid, "Sync (moved room)", ALICE);
    for bad in ["\"nope\"", "\"0\""] {
        let r = put(
            web,
            BOB,
            BOB_EV,
            &changed,
            &[("If-Schedule-Tag-Match", bad)],
        );
        assert_eq!(r.status, 412, "{bad}: {}", r.text());
    }
    let (_, _, unchanged) = get(web, BOB, BOB_EV);
    assert!(unchanged.contains("SUMMARY:Sync\r\n"), "{unchanged}");
    let r = put(
        web,
        BOB,
        BOB_EV,
        &changed,
        &[("If-Schedule-Tag-Match", tag1.as_str())],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let (_, tag3, bob_data) = get(web, BOB, BOB_EV);
    let tag3 = tag3.unwrap();
    assert_ne!(tag3, tag1);
    // bob's client wrote from its copy before alice's REPLY (NEEDS-ACTION); the tag
    // matched, so her answer merged meanwhile is kept (RFC 6638 §3.2.10), his change
    // taken.
    assert!(bob_data.contains("moved room"), "{bob_data}");
    assert_eq!(
        partstat(&bob_data, ALICE).as_deref(),
        Some("ACCEPTED"),
        "{bob_data}"
    );
    let r = put(
        web,
        BOB,
        BOB_EV,
        &changed,
        &[("If-Schedule-Tag-Match", tag1.as_str())],
    );
    assert_eq!(r.status, 412, "the old tag no longer holds");
    // The organizer's update moved alice's copy's tag too.
    let (_, alice_now, alice_data) = get(web, ALICE, &alice_path);
    assert!(alice_data.contains("moved room"), "{alice_data}");
    assert_ne!(alice_now.as_deref(), Some(alice_tag.as_str()));

    // The organizer moves the event and asks alice again (NEEDS-ACTION, RSVP=TRUE): a
    // reschedule, not a stale copy, so his values stay.
    let moved = changed
        .replace("DTSTART:20270110T100000Z", "DTSTART:20270111T100000Z")
        .replace("DTEND:20270110T110000Z", "DTEND:20270111T110000Z");
    assert_ne!(moved, changed);
    let r = put(
        web,
        BOB,
        BOB_EV,
        &moved,
        &[("If-Schedule-Tag-Match", tag3.as_str())],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let (_, tag4, bob_data) = get(web, BOB, BOB_EV);
    assert_eq!(
        partstat(&bob_data, ALICE).as_deref(),
        Some("NEEDS-ACTION"),
        "{bob_data}"
    );
    let tag4 = tag4.unwrap();
    assert_ne!(tag4, tag3);

    // DELETE honours it too.
    let r = req(
        web,
        BOB,
        "DELETE",
        BOB_EV,
        &[("If-Schedule-Tag-Match", tag1.as_str())],
        b"",
    );
    assert_eq!(r.status, 412, "{}", r.text());
    let r = req(
        web,
        BOB,
        "DELETE",
        BOB_EV,
        &[("If-Schedule-Tag-Match", tag3.as_str())],
        b"",
    );
    assert_eq!(r.status, 412, "{}", r.text());
    let r = req(
        web,
        BOB,
        "DELETE",
        BOB_EV,
        &[("If-Schedule-Tag-Match", tag4.as_str())],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());

    // No ORGANIZER: no Schedule-Tag, and If-Schedule-Tag-Match cannot hold.
    let plain = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test client//EN\r\nBEGIN:VEVENT\r\n\
UID:plain-1\r\nDTSTAMP:20270101T090000Z\r\nDTSTART:20270110T100000Z\r\nSUMMARY:Alone\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";
    let path = "/dav/calendars/bob@example.com/calendar/plain.ics";
    let r = put(web, BOB, path, plain, &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("schedule-tag"), None);
    assert_eq!(get(web, BOB, path).1, None);
    let r = put(web, BOB, path, plain, &[("If-Schedule-Tag-Match", "\"1\"")]);
    assert_eq!(r.status, 412, "{}", r.text());
}

#[test]
fn an_invitation_to_an_alias_is_local() {
    let server = TestServer::start();
    let store = server.store();
    store.add_alias("ali@example.com", ALICE).unwrap();
    store.commit().unwrap();
    let web = server.addr("http");
    let uid = "alias-2027@example.com";

    let r = put(
        web,
        BOB,
        BOB_EV,
        &event(uid, "Alias", "ali@example.com"),
        &[("If-None-Match", "*")],
    );
    assert_eq!(r.status, 201, "{}", r.text());

    // Delivered to alice: her schedule inbox and calendar; nothing queued for the outside.
    let inbox = store
        .dav_collection(ALICE, ferrymail::scheduling::INBOX)
        .unwrap()
        .expect("alice's schedule inbox");
    assert_eq!(store.dav_objects(inbox.id).unwrap().len(), 1);
    let alice_path = copy_path(&store, ALICE, uid);
    let (_, _, bob_data) = get(web, BOB, BOB_EV);
    let unfolded = bob_data.replace("\r\n ", "");
    assert!(
        unfolded.contains("SCHEDULE-STATUS=1.2:mailto:ali@example.com"),
        "{unfolded}"
    );
    for q in ferrymail::storage::QueueName::ALL {
        assert_eq!(
            store.queue_depth(q).unwrap(),
            0,
            "nothing sent as iMIP ({q:?})"
        );
    }

    // alice accepts in her copy (where she is ali@): bob's copy takes the answer.
    let (_, _, alice_data) = get(web, ALICE, &alice_path);
    assert_eq!(
        partstat(&alice_data, "ali@example.com").as_deref(),
        Some("NEEDS-ACTION")
    );
    let r = put(
        web,
        ALICE,
        &alice_path,
        &answered(&alice_data, "ali@example.com", "ACCEPTED"),
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let (_, _, bob_data) = get(web, BOB, BOB_EV);
    assert_eq!(
        partstat(&bob_data, "ali@example.com").as_deref(),
        Some("ACCEPTED"),
        "{bob_data}"
    );

    // The alias's free/busy is alice's.
    let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test client//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20270101T090000Z\r\nDTSTART:20270110T000000Z\r\n\
DTEND:20270111T000000Z\r\nORGANIZER:mailto:bob@example.com\r\nATTENDEE:mailto:ali@example.com\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let r = req(
        web,
        BOB,
        "POST",
        "/dav/calendars/bob@example.com/outbox/",
        &[("Content-Type", "text/calendar")],
        fb.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text().replace("\r\n ", "");
    assert!(text.contains("2.0;Success"), "{text}");
    assert!(
        text.contains("FBTYPE=BUSY:20270110T100000Z/20270110T110000Z"),
        "{text}"
    );
}
