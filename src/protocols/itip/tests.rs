//! The iTIP rules of the module comment, on small objects.

use std::collections::BTreeMap;

use super::*;
use crate::protocols::caldav::validate::parse_calendar;

const NOW: i64 = 1_800_000_000;

fn cal(body: &str) -> ICalendar {
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n",
        body.replace('\n', "\r\n")
    );
    parse_calendar(&text).expect("test object parses")
}

fn event(extra: &str, attendees: &[&str]) -> String {
    let mut s = String::from(
        "BEGIN:VEVENT\nUID:ev1@example.com\nDTSTAMP:20270101T000000Z\nDTSTART:20270110T100000Z\n\
         DTEND:20270110T110000Z\nSUMMARY:Planning\nSEQUENCE:0\n\
         ORGANIZER:mailto:bob@example.com\n",
    );
    s.push_str(extra);
    for a in attendees {
        s.push_str(a);
        s.push('\n');
    }
    s.push_str("END:VEVENT\n");
    s
}

fn att(addr: &str) -> String {
    format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{addr}")
}

fn by_recipient(msgs: &[Message]) -> BTreeMap<String, Method> {
    msgs.iter()
        .map(|m| (m.recipient.clone(), m.method))
        .collect()
}

#[test]
fn a_new_event_invites_every_attendee_but_the_organizer() {
    let new = cal(&event(
        "",
        &[
            &att("bob@example.com"),
            &att("alice@example.com"),
            &att("carol@remote.test"),
        ],
    ));
    let msgs = organizer_messages(None, Some(&new), "bob@example.com", NOW);
    assert_eq!(
        by_recipient(&msgs),
        BTreeMap::from([
            ("alice@example.com".to_string(), Method::Request),
            ("carol@remote.test".to_string(), Method::Request),
        ])
    );
    let text = msgs[0].text();
    assert!(text.contains("METHOD:REQUEST"), "{text}");
    assert!(text.contains("UID:ev1@example.com"), "{text}");
    assert!(text.contains(&format!("PRODID:{PRODID}")), "{text}");
    // What was written parses again, with its METHOD.
    let back = parse_calendar(&text).unwrap();
    assert_eq!(Method::of(&back), Some(Method::Request));
    assert_eq!(attendees(&back).len(), 3);
}

#[test]
fn adding_and_removing_attendees_invites_and_cancels_only_them() {
    let a = att("alice@example.com");
    let c = att("carol@remote.test");
    let d = att("dave@remote.test");
    let old = cal(&event("", &[&a, &c]));
    let new = cal(&event("", &[&a, &d]));
    let msgs = organizer_messages(Some(&old), Some(&new), "bob@example.com", NOW);
    // The attendee list changed, which is material: alice hears of it too.
    assert_eq!(
        by_recipient(&msgs),
        BTreeMap::from([
            ("alice@example.com".to_string(), Method::Request),
            ("carol@remote.test".to_string(), Method::Cancel),
            ("dave@remote.test".to_string(), Method::Request),
        ])
    );
    let cancel = msgs.iter().find(|m| m.method == Method::Cancel).unwrap();
    let text = cancel.text();
    assert!(text.contains("METHOD:CANCEL"), "{text}");
    assert!(text.contains("STATUS:CANCELLED"), "{text}");
    assert!(text.contains("SEQUENCE:1"), "{text}");
}

#[test]
fn an_unchanged_save_sends_nothing_and_a_time_change_reinvites() {
    let a = att("alice@example.com");
    let old = cal(&event("", &[&a]));
    // Only DTSTAMP, SEQUENCE and the attendee's PARTSTAT differ: not material.
    let same = cal(
        &event("", &["ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com"])
            .replace("DTSTAMP:20270101T000000Z", "DTSTAMP:20270102T000000Z")
            .replace("SEQUENCE:0", "SEQUENCE:3"),
    );
    assert!(organizer_messages(Some(&old), Some(&same), "bob@example.com", NOW).is_empty());
    let moved = cal(&event("", &[&a]).replace("T100000Z", "T120000Z"));
    let msgs = organizer_messages(Some(&old), Some(&moved), "bob@example.com", NOW);
    assert_eq!(
        by_recipient(&msgs).get("alice@example.com"),
        Some(&Method::Request)
    );
}

#[test]
fn deleting_the_event_cancels_every_attendee() {
    let old = cal(&event(
        "",
        &[&att("alice@example.com"), &att("carol@remote.test")],
    ));
    let msgs = organizer_messages(Some(&old), None, "bob@example.com", NOW);
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().all(|m| m.method == Method::Cancel));
}

#[test]
fn schedule_agent_client_and_none_are_left_to_the_client() {
    let new = cal(&event(
        "",
        &[
            "ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:alice@example.com",
            "ATTENDEE;SCHEDULE-AGENT=NONE:mailto:dave@remote.test",
            &att("carol@remote.test"),
        ],
    ));
    let msgs = organizer_messages(None, Some(&new), "bob@example.com", NOW);
    assert_eq!(
        by_recipient(&msgs),
        BTreeMap::from([("carol@remote.test".to_string(), Method::Request)])
    );
    // The message itself carries no SCHEDULE-AGENT parameter (RFC 6638 §3.2.3).
    assert!(
        !msgs[0].text().contains("SCHEDULE-AGENT"),
        "{}",
        msgs[0].text()
    );
    // An organizer with SCHEDULE-AGENT=CLIENT gets no REPLY from the server.
    let copy = cal(
        &event("", &["ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com"]).replace(
            "ORGANIZER:mailto:bob@example.com",
            "ORGANIZER;SCHEDULE-AGENT=CLIENT:mailto:bob@example.com",
        ),
    );
    assert!(attendee_reply(None, Some(&copy), "alice@example.com", NOW).is_none());
}

#[test]
fn a_partstat_change_replies_to_the_organizer_with_that_attendee_only() {
    let old = cal(&event(
        "",
        &[&att("alice@example.com"), &att("carol@remote.test")],
    ));
    let new = cal(&event(
        "",
        &[
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com",
            &att("carol@remote.test"),
        ],
    ));
    let reply = attendee_reply(Some(&old), Some(&new), "alice@example.com", NOW).unwrap();
    assert_eq!(reply.method, Method::Reply);
    assert_eq!(reply.recipient, "bob@example.com");
    let text = reply.text();
    assert!(text.contains("METHOD:REPLY"), "{text}");
    assert!(text.contains("PARTSTAT=ACCEPTED"), "{text}");
    assert!(!text.contains("carol"), "{text}");
    // Saving again without a change replies nothing.
    assert!(attendee_reply(Some(&new), Some(&new), "alice@example.com", NOW).is_none());
    // Deleting the copy declines.
    let decline = attendee_reply(Some(&new), None, "alice@example.com", NOW).unwrap();
    assert!(
        decline.text().contains("PARTSTAT=DECLINED"),
        "{}",
        decline.text()
    );

    // The organizer's copy takes the reply.
    let reply_cal = parse_calendar(&text).unwrap();
    let updated = apply_reply(&old, &reply_cal).unwrap();
    let list = attendees(&updated);
    assert_eq!(list["alice@example.com"].0.partstat, "ACCEPTED");
    assert_eq!(list["carol@remote.test"].0.partstat, "NEEDS-ACTION");
}

#[test]
fn a_reply_from_someone_not_invited_is_refused() {
    let copy = cal(&event("", &[&att("alice@example.com")]));
    let reply = cal(&format!(
        "METHOD:REPLY\n{}",
        event(
            "",
            &["ATTENDEE;PARTSTAT=ACCEPTED:mailto:mallory@remote.test"]
        )
    ));
    assert_eq!(
        apply_reply(&copy, &reply).unwrap_err(),
        Refusal::NotInvited("mallory@remote.test".into())
    );
}

#[test]
fn a_recurring_event_with_an_override_invites_per_instance() {
    // alice is on every instance; carol only on the overridden one.
    let master = event("RRULE:FREQ=WEEKLY;COUNT=5\n", &[&att("alice@example.com")]);
    let over = event(
        "RECURRENCE-ID:20270117T100000Z\n",
        &[&att("alice@example.com"), &att("carol@remote.test")],
    )
    .replace("DTSTART:20270110T100000Z", "DTSTART:20270117T140000Z")
    .replace("DTEND:20270110T110000Z", "DTEND:20270117T150000Z");
    let new = cal(&format!("{master}{over}"));
    let msgs = organizer_messages(None, Some(&new), "bob@example.com", NOW);
    let carol = msgs
        .iter()
        .find(|m| m.recipient == "carol@remote.test")
        .unwrap();
    let text = carol.text();
    assert!(text.contains("RECURRENCE-ID"), "{text}");
    assert!(
        !text.contains("RRULE"),
        "carol hears of her instance only: {text}"
    );
    let alice = msgs
        .iter()
        .find(|m| m.recipient == "alice@example.com")
        .unwrap();
    assert_eq!(alice.text().matches("BEGIN:VEVENT").count(), 2);

    // carol dropped from the instance: a CANCEL of that instance only, alice re-invited.
    let over2 = over.replace(&format!("{}\n", att("carol@remote.test")), "");
    let newer = cal(&format!("{master}{over2}"));
    let msgs = organizer_messages(Some(&new), Some(&newer), "bob@example.com", NOW);
    let cancel = msgs
        .iter()
        .find(|m| m.recipient == "carol@remote.test")
        .unwrap();
    assert_eq!(cancel.method, Method::Cancel);
    assert!(cancel.text().contains("RECURRENCE-ID"), "{}", cancel.text());

    // The attendee's copy: a cancel of the instance marks that override only.
    let copy = attendee_copy(&new, "alice@example.com", None);
    let cancel_cal = parse_calendar(&cancel.text()).unwrap();
    let after = apply_cancel(&copy, &cancel_cal).unwrap();
    let text = after.to_string();
    assert_eq!(text.matches("STATUS:CANCELLED").count(), 1, "{text}");
    // A REPLY for the instance updates the override, not the master.
    let reply = cal(&format!(
        "METHOD:REPLY\n{}",
        event(
            "RECURRENCE-ID:20270117T100000Z\n",
            &["ATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.com"]
        )
    ));
    let updated = apply_reply(&new, &reply).unwrap().to_string();
    assert_eq!(updated.matches("PARTSTAT=DECLINED").count(), 1, "{updated}");
}

#[test]
fn the_attendee_copy_has_no_method_and_needs_action() {
    let req = cal(&format!(
        "METHOD:REQUEST\n{}",
        event("", &["ATTENDEE:mailto:alice@example.com"])
    ));
    let copy = attendee_copy(&req, "alice@example.com", None);
    let text = copy.to_string();
    assert!(!text.contains("METHOD"), "{text}");
    assert!(text.contains("PARTSTAT=NEEDS-ACTION"), "{text}");
    // It passes the stored-object checks.
    crate::protocols::caldav::validate::validate_calendar(
        &text,
        &[crate::protocols::caldav::validate::ComponentKind::Event],
        1 << 20,
    )
    .unwrap();
}

#[test]
fn schedule_status_is_set_on_the_named_attendees() {
    let mut c = cal(&event(
        "",
        &[&att("alice@example.com"), &att("carol@remote.test")],
    ));
    let statuses = BTreeMap::from([
        ("alice@example.com".to_string(), "1.2".to_string()),
        ("carol@remote.test".to_string(), "1.1".to_string()),
    ]);
    assert!(set_schedule_status(&mut c, &statuses));
    assert!(
        !set_schedule_status(&mut c, &statuses),
        "second time: no change"
    );
    let text = c.to_string();
    assert!(text.contains("SCHEDULE-STATUS=1.2"), "{text}");
    assert!(text.contains("SCHEDULE-STATUS=1.1"), "{text}");
}

#[test]
fn addresses_compare_without_mailto_and_case() {
    assert_eq!(
        address("MAILTO:Alice@Example.COM").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(address("urn:uuid:1234"), None);
}

#[test]
fn an_older_revision_is_stale_the_same_or_a_newer_is_not() {
    let at = |seq: &str| cal(&event("", &[]).replace("SEQUENCE:0", &format!("SEQUENCE:{seq}")));
    assert!(stale(&at("1"), &at("2")));
    assert!(!stale(&at("2"), &at("2")));
    assert!(!stale(&at("3"), &at("2")));
    // No SEQUENCE counts as 0.
    let none = cal(&event("", &[]).replace("SEQUENCE:0\n", ""));
    assert!(stale(&none, &at("1")));
    assert!(!stale(&at("1"), &none));
    // An instance without an override of its own compares with the master.
    let instance =
        cal(&event("RECURRENCE-ID:20270117T100000Z\n", &[]).replace("SEQUENCE:0", "SEQUENCE:1"));
    assert!(stale(&instance, &at("2")));
    assert!(!stale(&instance, &at("1")));
}
