//! Local delivery of scheduling messages and inbound iMIP, on a fresh store (no server).

use super::deliver::{find_by_uid, imip_message, process_local, Applied};
use super::inbound::{process_message, results_say_dmarc_pass, Trust};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, Message, Method};
use crate::storage::davstore::{Condition, NewObject};
use crate::storage::Store;

const NOW: i64 = 1_800_000_000;

fn store() -> (tempfile::TempDir, Store) {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _writers) = Store::open(dir.path()).expect("store");
    store.add_domain("example.com").unwrap();
    for a in ["alice@example.com", "bob@example.com"] {
        store.add_account(a, "pw", false).unwrap();
    }
    (dir, store)
}

fn event(attendees: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ev1\r\n\
         DTSTAMP:20270101T000000Z\r\nDTSTART:20270110T100000Z\r\nDTEND:20270110T110000Z\r\n\
         SUMMARY:Planning\r\nORGANIZER:mailto:bob@example.com\r\n{attendees}END:VEVENT\r\n\
         END:VCALENDAR\r\n"
    )
}

const ATTENDEES: &str = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
                         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice@example.com\r\n\
                         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@remote.test\r\n";

/// bob's own copy, as a client would have PUT it.
fn organizer_copy(store: &Store) {
    let cal = store
        .dav_collections("bob@example.com")
        .unwrap()
        .into_iter()
        .find(|c| c.name == "calendar")
        .unwrap();
    store
        .dav_put(
            cal.id,
            &NewObject {
                name: "ev1.ics".into(),
                uid: "ev1".into(),
                data: event(ATTENDEES),
                component: "VEVENT".into(),
                first: None,
                last: None,
            },
            &Condition::Absent,
        )
        .unwrap();
}

fn request_for(to: &str) -> Message {
    let cal = parse_calendar(&event(ATTENDEES)).unwrap();
    itip::organizer_messages(None, Some(&cal), "bob@example.com", NOW)
        .into_iter()
        .find(|m| m.recipient == to)
        .unwrap()
}

#[test]
fn a_request_lands_in_the_inbox_and_the_calendar_with_needs_action() {
    let (_dir, store) = store();
    let msg = request_for("alice@example.com");
    assert_eq!(
        process_local(&store, "alice@example.com", &msg, NOW).unwrap(),
        Applied::Done
    );
    let inbox = store
        .dav_collection("alice@example.com", super::INBOX)
        .unwrap()
        .expect("inbox made on demand");
    let items = store.dav_objects(inbox.id).unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].data.contains("METHOD:REQUEST"));
    let (coll, copy) = find_by_uid(&store, "alice@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert_eq!(coll.name, "calendar");
    assert!(!copy.data.contains("METHOD"), "{}", copy.data);
    let cal = parse_calendar(&copy.data).unwrap();
    assert_eq!(
        itip::attendees(&cal)["alice@example.com"].0.partstat,
        "NEEDS-ACTION"
    );
    // The cancel marks the copy cancelled; the inbox keeps one item per UID.
    let cancel = itip::organizer_messages(Some(&cal), None, "bob@example.com", NOW)
        .into_iter()
        .find(|m| m.recipient == "alice@example.com")
        .unwrap();
    assert_eq!(
        process_local(&store, "alice@example.com", &cancel, NOW).unwrap(),
        Applied::Done
    );
    let (_, copy) = find_by_uid(&store, "alice@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert!(copy.data.contains("STATUS:CANCELLED"), "{}", copy.data);
    let items = store.dav_objects(inbox.id).unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].data.contains("METHOD:CANCEL"));
}

#[test]
fn a_request_not_from_the_organizer_or_to_a_stranger_is_ignored() {
    let (_dir, store) = store();
    let mut msg = request_for("alice@example.com");
    msg.sender = "mallory@remote.test".into();
    assert!(matches!(
        process_local(&store, "alice@example.com", &msg, NOW).unwrap(),
        Applied::Ignored(_)
    ));
    // An account the REQUEST does not invite (neither by its address nor by the one it
    // was sent to).
    store.add_account("dave@example.com", "pw", false).unwrap();
    let msg = request_for("alice@example.com");
    let mut msg2 = msg.clone();
    msg2.recipient = "dave@example.com".into();
    assert!(matches!(
        process_local(&store, "dave@example.com", &msg2, NOW).unwrap(),
        Applied::Ignored(_)
    ));
    assert!(find_by_uid(&store, "dave@example.com", "ev1")
        .unwrap()
        .is_none());
    assert!(store
        .dav_collection("dave@example.com", super::INBOX)
        .unwrap()
        .is_none());
    assert!(store
        .dav_collection("alice@example.com", super::INBOX)
        .unwrap()
        .is_none());
}

/// carol's REPLY as her mail program would send it, built as our own iMIP.
fn reply_mail(from: &str, partstat: &str) -> Vec<u8> {
    let copy = parse_calendar(&event(ATTENDEES)).unwrap();
    let accepted = parse_calendar(&event(&ATTENDEES.replace(
        "PARTSTAT=NEEDS-ACTION:mailto:carol",
        &format!("PARTSTAT={partstat}:mailto:carol"),
    )))
    .unwrap();
    let mut reply =
        itip::attendee_reply(Some(&copy), Some(&accepted), "carol@remote.test", NOW).unwrap();
    reply.sender = from.to_string();
    imip_message(&reply, "remote.test", NOW).unwrap()
}

#[test]
fn an_imip_reply_by_mail_updates_the_organizers_copy() {
    let (_dir, store) = store();
    organizer_copy(&store);
    let mail = reply_mail("carol@remote.test", "ACCEPTED");
    let text = String::from_utf8_lossy(&mail).into_owned();
    assert!(text.contains("multipart/alternative"), "{text}");
    assert!(
        text.contains("method=REPLY") || text.contains("method=\"REPLY\""),
        "{text}"
    );
    let done = process_message(&store, "bob@example.com", &mail, &Trust::Login, NOW)
        .unwrap()
        .unwrap();
    assert_eq!(done, (Method::Reply, Applied::Done));
    let (_, copy) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    let cal = parse_calendar(&copy.data).unwrap();
    assert_eq!(
        itip::attendees(&cal)["carol@remote.test"].0.partstat,
        "ACCEPTED"
    );
}

#[test]
fn a_reply_from_another_sender_or_someone_not_invited_is_ignored() {
    let (_dir, store) = store();
    organizer_copy(&store);
    // From: is not the attendee the REPLY names.
    let mail = reply_mail("mallory@remote.test", "ACCEPTED");
    let (_, applied) = process_message(&store, "bob@example.com", &mail, &Trust::Login, NOW)
        .unwrap()
        .unwrap();
    assert!(matches!(applied, Applied::Ignored(_)), "{applied:?}");
    // An attendee not on bob's copy.
    let copy = parse_calendar(&event(ATTENDEES)).unwrap();
    let mut reply = itip::attendee_reply(
        Some(&copy),
        Some(
            &parse_calendar(&event(&ATTENDEES.replace(
                "PARTSTAT=NEEDS-ACTION:mailto:carol",
                "PARTSTAT=ACCEPTED:mailto:carol",
            )))
            .unwrap(),
        ),
        "carol@remote.test",
        NOW,
    )
    .unwrap();
    let text = reply
        .text()
        .replace("carol@remote.test", "dave@remote.test");
    reply.calendar = parse_calendar(&text).unwrap();
    reply.sender = "dave@remote.test".into();
    let mail = imip_message(&reply, "remote.test", NOW).unwrap();
    let (_, applied) = process_message(&store, "bob@example.com", &mail, &Trust::Login, NOW)
        .unwrap()
        .unwrap();
    assert!(matches!(applied, Applied::Ignored(_)), "{applied:?}");
    let (_, copy) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert!(
        !copy.data.contains("ACCEPTED:mailto:carol"),
        "{}",
        copy.data
    );
    // Mail without a calendar part is not looked at.
    assert_eq!(
        process_message(
            &store,
            "bob@example.com",
            b"Subject: hi\r\n\r\nhello\r\n",
            &Trust::Login,
            NOW
        )
        .unwrap(),
        None
    );
}

#[test]
fn a_reply_by_mail_counts_only_from_an_authenticated_sender() {
    let (_dir, store) = store();
    organizer_copy(&store);
    let mail = reply_mail("carol@remote.test", "ACCEPTED");
    let dmarc = Trust::Dmarc("mx.example.com".into());
    let with = |header: &str| {
        let mut m = header.as_bytes().to_vec();
        m.extend_from_slice(&mail);
        m
    };
    let refused = [
        // No checks made, or none by this server.
        (mail.clone(), Trust::Unverified),
        (mail.clone(), dmarc.clone()),
        (
            with("Authentication-Results: mx.other.test; dmarc=pass\r\n"),
            dmarc.clone(),
        ),
        // Ours, but not a pass; a pass hidden in a quoted MAIL FROM or a comment.
        (
            with("Authentication-Results: mx.example.com; spf=pass; dmarc=fail (p=reject)\r\n"),
            dmarc.clone(),
        ),
        (
            with(
                "Authentication-Results: mx.example.com;\r\n\tspf=fail \
                 smtp.mailfrom=\"x; dmarc=pass @remote.test\";\r\n\tdmarc=none (p=none)\r\n",
            ),
            dmarc.clone(),
        ),
        (
            with("Authentication-Results: mx.example.com; dmarc=none (; dmarc=pass)\r\n"),
            dmarc.clone(),
        ),
    ];
    for (m, trust) in &refused {
        let (_, applied) = process_message(&store, "bob@example.com", m, trust, NOW)
            .unwrap()
            .unwrap();
        assert!(
            matches!(applied, Applied::Ignored(_)),
            "{trust:?}: {applied:?}"
        );
    }
    let (_, copy) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert!(
        !copy.data.contains("ACCEPTED:mailto:carol"),
        "{}",
        copy.data
    );

    // This server's own result, as `mailauth::results::format_header` writes it.
    let passed = with(
        "Authentication-Results: mx.example.com;\r\n\tspf=pass smtp.mailfrom=carol@remote.test;\r\n\t\
         dkim=none (no signatures);\r\n\tarc=none;\r\n\t\
         dmarc=pass (p=none) header.from=remote.test\r\n",
    );
    let done = process_message(&store, "bob@example.com", &passed, &dmarc, NOW)
        .unwrap()
        .unwrap();
    assert_eq!(done, (Method::Reply, Applied::Done));
}

#[test]
fn only_our_own_dmarc_pass_counts() {
    assert!(results_say_dmarc_pass(
        "MX.example.com; spf=pass smtp.mailfrom=a@b.test; dmarc=pass (p=reject) header.from=b.test",
        "mx.example.com"
    ));
    assert!(results_say_dmarc_pass(
        "(comment) mx.example.com 1; dmarc=pass",
        "mx.example.com"
    ));
    for (value, why) in [
        (
            "mx.example.com.evil.test; dmarc=pass",
            "another authserv-id",
        ),
        (
            "evil.test; dmarc=pass (mx.example.com)",
            "another authserv-id",
        ),
        ("mx.example.com; dmarc=passed", "not the pass result"),
        ("mx.example.com; dmarc=fail", "a fail"),
        (
            "mx.example.com; spf=none smtp.mailfrom=\"a;dmarc=pass b\"@x.test",
            "quoted",
        ),
        (
            "mx.example.com; dkim=none (x; dmarc=pass); dmarc=none",
            "a comment",
        ),
        ("mx.example.com", "no results"),
    ] {
        assert!(
            !results_say_dmarc_pass(value, "mx.example.com"),
            "{why}: {value}"
        );
    }
}

#[test]
fn a_late_request_or_reply_of_an_older_revision_changes_nothing() {
    let (_dir, store) = store();
    let revision = |seq: u32, when: &str| {
        let text = event(ATTENDEES).replace(
            "SUMMARY:Planning",
            &format!("SUMMARY:{when}\r\nSEQUENCE:{seq}"),
        );
        let cal = parse_calendar(&text).unwrap();
        itip::organizer_messages(None, Some(&cal), "bob@example.com", NOW)
            .into_iter()
            .find(|m| m.recipient == "alice@example.com")
            .unwrap()
    };
    let (newer, older) = (revision(2, "Moved"), revision(1, "First"));
    assert_eq!(
        process_local(&store, "alice@example.com", &newer, NOW).unwrap(),
        Applied::Done
    );
    // The first invitation arrives late: ignored, the copy keeps the newer revision.
    assert!(matches!(
        process_local(&store, "alice@example.com", &older, NOW).unwrap(),
        Applied::Ignored(why) if why.contains("older revision")
    ));
    let (_, copy) = find_by_uid(&store, "alice@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert!(copy.data.contains("SUMMARY:Moved"), "{}", copy.data);

    // The organizer's copy is at SEQUENCE 0 here; a reply to revision 0 counts, and after
    // the organizer moves to revision 3 a late reply to revision 0 no longer does.
    organizer_copy(&store);
    let (coll, obj) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    let bumped = obj
        .data
        .replace("SUMMARY:Planning", "SUMMARY:Planning\r\nSEQUENCE:3");
    store
        .dav_put(
            coll.id,
            &NewObject {
                name: obj.name.clone(),
                uid: obj.uid.clone(),
                data: bumped,
                component: "VEVENT".into(),
                first: None,
                last: None,
            },
            &Condition::Match(obj.etag.clone()),
        )
        .unwrap();
    let before = parse_calendar(&event(ATTENDEES)).unwrap();
    let after = parse_calendar(&event(ATTENDEES).replace(
        "PARTSTAT=NEEDS-ACTION:mailto:alice",
        "PARTSTAT=ACCEPTED:mailto:alice",
    ))
    .unwrap();
    let reply = itip::attendee_reply(Some(&before), Some(&after), "alice@example.com", NOW);
    let reply = reply.expect("a reply");
    assert!(matches!(
        process_local(&store, "bob@example.com", &reply, NOW).unwrap(),
        Applied::Ignored(why) if why.contains("older revision")
    ));
    let (_, obj) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert!(
        !obj.data.contains("PARTSTAT=ACCEPTED:mailto:alice"),
        "{}",
        obj.data
    );
}

/// The organizer is listed among its own attendees (ATTENDEES): a REFRESH in its name is
/// ignored, nothing is answered and its copy stays as it was; one from a real attendee is
/// answered.
#[test]
fn a_refresh_from_the_organizer_itself_is_ignored() {
    let (_dir, store) = store();
    organizer_copy(&store);
    let (_, before) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    let copy = parse_calendar(&event(ATTENDEES)).unwrap();
    for sender in ["bob@example.com", "BOB@example.com"] {
        let mut msg = itip::counter::refresh(&copy, sender, NOW).expect("a REFRESH");
        msg.sender = sender.to_string();
        msg.recipient = "bob@example.com".into();
        let applied = process_local(&store, "bob@example.com", &msg, NOW).unwrap();
        // (The upper-case form is refused earlier, as no attendee's address.)
        assert!(
            matches!(applied, Applied::Ignored(ref why)
                if why.contains("organizer") || sender != "bob@example.com"),
            "{sender}: {applied:?}"
        );
    }
    let (_, after) = find_by_uid(&store, "bob@example.com", "ev1")
        .unwrap()
        .unwrap();
    assert_eq!(after.data, before.data);
    assert_eq!(after.etag, before.etag);

    let mut msg = itip::counter::refresh(&copy, "alice@example.com", NOW).unwrap();
    msg.sender = "alice@example.com".into();
    msg.recipient = "bob@example.com".into();
    let applied = process_local(&store, "bob@example.com", &msg, NOW).unwrap();
    assert!(matches!(applied, Applied::Answered(_)), "{applied:?}");
}
