//! COUNTERs kept one per (UID, attendee), a DECLINECOUNTER (local or by mail) until the next
//! REQUEST, and an organizer that is a list alias (only the member holding the organizer's
//! copy answers COUNTER and REFRESH), on a fresh store of each backend (PostgreSQL when
//! `FERRYMAIL_TEST_PG_URL` is set; a loud skip otherwise).

use super::deliver::{
    counter_key, declined_counter, imip_message, pending_counters, process_local, Applied,
};
use super::inbound::{process_message, process_message_to, Trust};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, counter, Message, Method};
use crate::storage::davstore::{Condition, NewObject};
use crate::storage::Store;

const NOW: i64 = 1_800_000_000;

/// The check on a sled store and, when the test database is set, a PostgreSQL one.
fn on_both(name: &str, check: fn(&Store)) {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _w) = Store::open(dir.path()).expect("sled store");
    check(&setup(store));
    if let Some(url) = crate::storage::pg_testing::url(name) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _w) = crate::storage::pg_testing::open(&url, dir.path()).expect("pg store");
        check(&setup(store));
    }
}

fn setup(store: Store) -> Store {
    store.add_domain("example.com").unwrap();
    for a in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        store.add_account(a, "pw", false).unwrap();
    }
    store
}

fn event(organizer: &str, summary: &str, seq: u32) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ev2\r\n\
         DTSTAMP:20270101T000000Z\r\nDTSTART:20270110T100000Z\r\nDTEND:20270110T110000Z\r\n\
         SUMMARY:{summary}\r\nSEQUENCE:{seq}\r\nORGANIZER:mailto:{organizer}\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@example.com\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:dave@remote.test\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    )
}

fn put_copy(store: &Store, account: &str, data: &str) {
    let cal = store.dav_collection(account, "calendar").unwrap().unwrap();
    let new = NewObject {
        name: "ev2.ics".into(),
        uid: "ev2".into(),
        data: data.into(),
        component: "VEVENT".into(),
        first: None,
        last: None,
    };
    store.dav_put(cal.id, &new, &Condition::Any).unwrap();
}

/// `attendee`'s COUNTER to `to` moving the event to `start` (its copy = `data`).
fn counter_from(data: &str, attendee: &str, to: &str, start: &str) -> Message {
    let proposed = parse_calendar(&data.replace("DTSTART:20270110T100000Z", start)).unwrap();
    let mut m = counter::counter(&proposed, attendee, NOW).unwrap();
    m.recipient = to.to_string();
    m.calendar = counter::for_inbox(&m.calendar, attendee);
    m
}

fn proposers(store: &Store, account: &str) -> Vec<(String, String)> {
    let (_, waiting) = pending_counters(store, account, "ev2").unwrap().unwrap();
    let mut got: Vec<(String, String)> = waiting
        .iter()
        .map(|(_, c)| {
            let start = c
                .to_string()
                .lines()
                .find(|l| l.starts_with("DTSTART"))
                .unwrap()
                .to_string();
            (itip::reply_attendee(c).unwrap().address, start)
        })
        .collect();
    got.sort();
    got
}

#[test]
fn every_attendees_counter_waits_apart_until_answered() {
    on_both("every_attendees_counter_waits_apart", |store| {
        let data = event("alice@example.com", "Planning", 0);
        put_copy(store, "alice@example.com", &data);
        let to = "alice@example.com";
        for (who, start) in [
            ("bob@example.com", "DTSTART:20270110T140000Z"),
            ("carol@example.com", "DTSTART:20270110T080000Z"),
        ] {
            let m = counter_from(&data, who, to, start);
            assert_eq!(
                process_local(store, to, &m, NOW).unwrap(),
                Applied::InboxOnly
            );
        }
        assert_eq!(
            proposers(store, to),
            [
                ("bob@example.com".into(), "DTSTART:20270110T140000Z".into()),
                (
                    "carol@example.com".into(),
                    "DTSTART:20270110T080000Z".into()
                ),
            ]
        );
        // bob's second proposal replaces his first only; a REPLY leaves both.
        let m = counter_from(&data, "bob@example.com", to, "DTSTART:20270110T160000Z");
        process_local(store, to, &m, NOW).unwrap();
        let accepted = data.replace(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com",
        );
        let reply = itip::attendee_reply(
            Some(&parse_calendar(&data).unwrap()),
            Some(&parse_calendar(&accepted).unwrap()),
            "bob@example.com",
            NOW,
        )
        .expect("bob's REPLY");
        assert_eq!(
            process_local(store, to, &reply, NOW).unwrap(),
            Applied::Done
        );
        assert_eq!(
            proposers(store, to),
            [
                ("bob@example.com".into(), "DTSTART:20270110T160000Z".into()),
                (
                    "carol@example.com".into(),
                    "DTSTART:20270110T080000Z".into()
                ),
            ]
        );
        // The inbox holds the two COUNTERs under their own names.
        let (inbox, waiting) = pending_counters(store, to, "ev2").unwrap().unwrap();
        assert_eq!(waiting.len(), 2);
        assert_ne!(waiting[0].0.name, waiting[1].0.name);
        assert!(store.dav_objects(inbox.id).unwrap().len() >= 2);
    });
}

#[test]
fn a_declinecounter_is_kept_until_the_next_request() {
    on_both("a_declinecounter_is_kept_until_the_next_request", |store| {
        let data = event("alice@example.com", "Planning", 0);
        put_copy(store, "alice@example.com", &data);
        let copy = parse_calendar(&data).unwrap();
        // bob's copy, as the REQUEST made it.
        let request = itip::organizer_messages(None, Some(&copy), "alice@example.com", NOW)
            .into_iter()
            .find(|m| m.recipient == "bob@example.com")
            .unwrap();
        assert_eq!(
            process_local(store, "bob@example.com", &request, NOW).unwrap(),
            Applied::Done
        );
        assert!(declined_counter(store, "bob@example.com", "ev2")
            .unwrap()
            .is_none());
        let proposal = counter_from(
            &data,
            "bob@example.com",
            "alice@example.com",
            "DTSTART:20270110T140000Z",
        );
        let decline = counter::decline_counter(
            &copy,
            &proposal.calendar,
            "alice@example.com",
            "bob@example.com",
            NOW,
        )
        .unwrap();
        assert_eq!(
            process_local(store, "bob@example.com", &decline, NOW).unwrap(),
            Applied::InboxOnly
        );
        let (cal, when) = declined_counter(store, "bob@example.com", "ev2")
            .unwrap()
            .expect("the DECLINECOUNTER is kept");
        assert_eq!(
            itip::organizer(&cal).map(|o| o.0).as_deref(),
            Some("alice@example.com")
        );
        assert!(when > 0, "when it arrived");
        // The organizer's next REQUEST replaces it.
        let moved = parse_calendar(&event("alice@example.com", "Planning (moved)", 1)).unwrap();
        let request = itip::organizer_messages(Some(&copy), Some(&moved), "alice@example.com", NOW)
            .into_iter()
            .find(|m| m.recipient == "bob@example.com")
            .unwrap();
        assert_eq!(
            process_local(store, "bob@example.com", &request, NOW).unwrap(),
            Applied::Done
        );
        assert!(declined_counter(store, "bob@example.com", "ev2")
            .unwrap()
            .is_none());
        // The same by mail (iMIP from alice, a logged-in sender): shown again.
        let moved_copy =
            parse_calendar(&event("alice@example.com", "Planning (moved)", 1)).unwrap();
        let decline = counter::decline_counter(
            &moved_copy,
            &proposal.calendar,
            "alice@example.com",
            "bob@example.com",
            NOW,
        )
        .unwrap();
        let mail = imip_message(&decline, "mx.example.com", NOW).unwrap();
        let done = process_message(store, "bob@example.com", &mail, &Trust::Login, NOW).unwrap();
        assert_eq!(done, Some((Method::DeclineCounter, Applied::InboxOnly)));
        let (cal, _) = declined_counter(store, "bob@example.com", "ev2")
            .unwrap()
            .expect("the DECLINECOUNTER by mail is kept");
        assert_eq!(Method::of(&cal), Some(Method::DeclineCounter));
    });
}

#[test]
fn a_list_alias_organizer_is_answered_only_by_the_member_holding_its_copy() {
    on_both(
        "a_list_alias_organizer_is_answered_only_by_the_holder",
        |store| {
            // team@ leads to alice and bob; alice holds the organizer's copy, bob (an
            // attendee too) holds his attendee copy, older than alice's.
            store
                .add_alias("team@example.com", "alice@example.com")
                .unwrap();
            store
                .add_alias("team@example.com", "bob@example.com")
                .unwrap();
            assert_eq!(
                store.resolve_recipient("team@example.com").unwrap().len(),
                2
            );
            let organizers = event("team@example.com", "Team day", 3);
            put_copy(store, "alice@example.com", &organizers);
            put_copy(
                store,
                "bob@example.com",
                &event("team@example.com", "Team day (old)", 2),
            );
            let to = "team@example.com";
            let m = counter_from(
                &organizers,
                "carol@example.com",
                to,
                "DTSTART:20270110T140000Z",
            );
            assert_eq!(
                process_local(store, "alice@example.com", &m, NOW).unwrap(),
                Applied::InboxOnly
            );
            assert!(matches!(
                process_local(store, "bob@example.com", &m, NOW).unwrap(),
                Applied::Ignored(_)
            ));
            assert_eq!(proposers(store, "alice@example.com").len(), 1);
            assert!(pending_counters(store, "bob@example.com", "ev2")
                .unwrap()
                .is_none_or(|(_, w)| w.is_empty()));

            let carols = parse_calendar(&organizers).unwrap();
            let mut refresh = counter::refresh(&carols, "carol@example.com", NOW).unwrap();
            refresh.recipient = to.into();
            match process_local(store, "alice@example.com", &refresh, NOW).unwrap() {
                Applied::Answered(answer) => {
                    assert_eq!(answer.method, Method::Request);
                    assert_eq!(answer.recipient, "carol@example.com");
                    let t = answer.calendar.to_string();
                    assert!(t.contains("SUMMARY:Team day\r\n"), "{t}");
                }
                other => panic!("alice answers: {other:?}"),
            }
            assert!(matches!(
                process_local(store, "bob@example.com", &refresh, NOW).unwrap(),
                Applied::Ignored(_)
            ));
        },
    );
}

#[test]
fn a_counter_by_mail_to_a_list_alias_is_kept_by_the_member_holding_the_copy() {
    on_both("a_counter_by_mail_to_a_list_alias", |store| {
        store
            .add_alias("team@example.com", "alice@example.com")
            .unwrap();
        store
            .add_alias("team@example.com", "bob@example.com")
            .unwrap();
        let organizers = event("team@example.com", "Team day", 3);
        put_copy(store, "alice@example.com", &organizers);
        put_copy(
            store,
            "bob@example.com",
            &event("team@example.com", "Team day", 3),
        );
        let m = counter_from(
            &organizers,
            "carol@example.com",
            "team@example.com",
            "DTSTART:20270110T140000Z",
        );
        let mail = imip_message(&m, "mx.example.com", NOW).unwrap();
        // Local delivery gives each member the RCPT TO address it was reached through.
        let mut kept = 0;
        for member in ["alice@example.com", "bob@example.com"] {
            let done =
                process_message_to(store, member, "team@example.com", &mail, &Trust::Login, NOW)
                    .unwrap();
            match done {
                Some((Method::Counter, Applied::InboxOnly)) => kept += 1,
                Some((Method::Counter, Applied::Ignored(_))) => {}
                other => panic!("{member}: {other:?}"),
            }
        }
        assert_eq!(kept, 1, "exactly one member answers");
        assert_eq!(proposers(store, "alice@example.com").len(), 1);
        // Addressed to the account (the old way), the alias organizer is not found.
        let done = process_message(store, "alice@example.com", &mail, &Trust::Login, NOW).unwrap();
        assert!(matches!(done, Some((_, Applied::Ignored(_)))), "{done:?}");
    });
}

#[test]
fn a_forged_uid_cannot_pass_for_a_counter_key() {
    on_both("a_forged_uid_cannot_pass_for_a_counter_key", |store| {
        let data = event("alice@example.com", "Planning", 0);
        put_copy(store, "alice@example.com", &data);
        let m = counter_from(
            &data,
            "bob@example.com",
            "alice@example.com",
            "DTSTART:20270110T140000Z",
        );
        assert_eq!(
            process_local(store, "alice@example.com", &m, NOW).unwrap(),
            Applied::InboxOnly
        );
        // A CANCEL of a "new" event (no copy: kept in the inbox under its UID) whose UID,
        // escaped in iCalendar text (calcard unescapes \\n), is the COUNTER's key.
        let forged_uid = counter_key("ev2", "bob@example.com", &[]);
        let text = event("eve@remote.test", "X", 0)
            .replace("UID:ev2", "UID:ev2\\ncounter:bob@example.com")
            .replace("VERSION:2.0", "VERSION:2.0\r\nMETHOD:CANCEL");
        let cal = parse_calendar(&text).unwrap();
        assert_eq!(itip::uid(&cal).as_deref(), Some(forged_uid.as_str()));
        let forged = Message {
            method: Method::Cancel,
            recipient: "alice@example.com".into(),
            sender: "eve@remote.test".into(),
            uid: forged_uid,
            calendar: cal,
        };
        assert!(matches!(
            process_local(store, "alice@example.com", &forged, NOW).unwrap(),
            Applied::Ignored(_)
        ));
        let mail = imip_message(&forged, "mx.example.com", NOW).unwrap();
        let done = process_message(store, "alice@example.com", &mail, &Trust::Login, NOW).unwrap();
        assert!(matches!(done, Some((_, Applied::Ignored(_)))), "{done:?}");
        assert_eq!(
            proposers(store, "alice@example.com"),
            [("bob@example.com".into(), "DTSTART:20270110T140000Z".into())]
        );
    });
}

#[test]
fn counters_for_two_instances_from_one_attendee_both_wait() {
    on_both("counters_for_two_instances_both_wait", |store| {
        let data = event("alice@example.com", "Weekly", 0)
            .replace("SEQUENCE:0", "SEQUENCE:0\r\nRRULE:FREQ=WEEKLY;COUNT=4");
        put_copy(store, "alice@example.com", &data);
        let instance = |rid: &str, start: &str| {
            let one = data
                .replace("RRULE:FREQ=WEEKLY;COUNT=4", &format!("RECURRENCE-ID:{rid}"))
                .replace("DTSTART:20270110T100000Z", start);
            let mut m =
                counter::counter(&parse_calendar(&one).unwrap(), "bob@example.com", NOW).unwrap();
            m.calendar = counter::for_inbox(&m.calendar, "bob@example.com");
            m
        };
        for m in [
            instance("20270117T100000Z", "DTSTART:20270117T140000Z"),
            instance("20270124T100000Z", "DTSTART:20270124T140000Z"),
        ] {
            assert_eq!(
                process_local(store, "alice@example.com", &m, NOW).unwrap(),
                Applied::InboxOnly
            );
        }
        assert_eq!(
            proposers(store, "alice@example.com"),
            [
                ("bob@example.com".into(), "DTSTART:20270117T140000Z".into()),
                ("bob@example.com".into(), "DTSTART:20270124T140000Z".into()),
            ]
        );
    });
}
