//! COUNTER, DECLINECOUNTER and REFRESH (`counter`'s module comment) on small objects.

use super::counter::*;
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

const COPY: &str = "BEGIN:VEVENT\nUID:ev1@example.com\nDTSTAMP:20270101T000000Z\n\
DTSTART:20270110T100000Z\nDTEND:20270110T110000Z\nSUMMARY:Planning\nSEQUENCE:2\n\
ORGANIZER:mailto:bob@example.com\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@remote.test\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dave@remote.test\nEND:VEVENT\n";

fn text(c: &ICalendar) -> String {
    c.to_string().replace("\r\n ", "")
}

#[test]
fn an_attendee_counters_with_the_whole_proposed_event() {
    let proposed = cal(&COPY.replace("DTSTART:20270110T100000Z", "DTSTART:20270110T140000Z"));
    let m = counter(&proposed, "carol@remote.test", NOW).expect("a COUNTER");
    assert_eq!(m.method, Method::Counter);
    assert_eq!(m.recipient, "bob@example.com");
    assert_eq!(m.sender, "carol@remote.test");
    assert_eq!(Method::of(&m.calendar), Some(Method::Counter));
    let t = text(&m.calendar);
    assert!(t.contains("METHOD:COUNTER"), "{t}");
    assert!(t.contains("DTSTART:20270110T140000Z"), "{t}");
    assert!(t.contains("SEQUENCE:2"), "the revision countered: {t}");
    // The organizer does not counter its own event; a stranger cannot.
    assert!(counter(&proposed, "bob@example.com", NOW).is_none());
    assert!(counter(&proposed, "eve@remote.test", NOW).is_none());
}

#[test]
fn a_counter_is_checked_kept_accepted_and_declined() {
    let copy = cal(COPY);
    let incoming = cal(&format!(
        "METHOD:COUNTER\n{}",
        COPY.replace("DTSTART:20270110T100000Z", "DTSTART:20270110T140000Z")
            .replace("DTEND:20270110T110000Z", "DTEND:20270110T153000Z")
    ));
    assert!(from_attendee(&copy, &incoming, "carol@remote.test").is_ok());
    assert!(matches!(
        from_attendee(&copy, &incoming, "eve@remote.test"),
        Err(Refusal::NotInvited(_))
    ));
    let other = cal(&COPY.replace("UID:ev1@example.com", "UID:other"));
    assert!(matches!(
        from_attendee(&copy, &other, "carol@remote.test"),
        Err(Refusal::Mismatch(_))
    ));

    // The inbox keeps the proposer as the only attendee.
    let kept = for_inbox(&incoming, "carol@remote.test");
    assert_eq!(reply_attendee(&kept).unwrap().address, "carol@remote.test");

    // Accepted: the proposed times, SEQUENCE raised, everything else as it was.
    let accepted = accept_counter(&copy, &kept).unwrap();
    let t = text(&accepted);
    assert!(t.contains("DTSTART:20270110T140000Z"), "{t}");
    assert!(t.contains("DTEND:20270110T153000Z"), "{t}");
    assert!(t.contains("SEQUENCE:3"), "{t}");
    assert!(t.contains("mailto:dave@remote.test"), "{t}");
    assert!(material(&copy, &accepted));
    // The organizer's write then sends every attendee a REQUEST.
    let msgs = organizer_messages(Some(&copy), Some(&accepted), "bob@example.com", NOW);
    let mut to: Vec<_> = msgs
        .iter()
        .map(|m| (m.recipient.as_str(), m.method))
        .collect();
    to.sort_by_key(|(r, _)| *r);
    assert_eq!(
        to,
        [
            ("carol@remote.test", Method::Request),
            ("dave@remote.test", Method::Request)
        ]
    );

    // Declined: a DECLINECOUNTER to the proposer, UID, ORGANIZER, SEQUENCE, its ATTENDEE.
    let m = decline_counter(&copy, &kept, "bob@example.com", "carol@remote.test", NOW).unwrap();
    assert_eq!(m.method, Method::DeclineCounter);
    assert_eq!(m.recipient, "carol@remote.test");
    let t = text(&m.calendar);
    assert!(t.contains("METHOD:DECLINECOUNTER"), "{t}");
    assert!(t.contains("UID:ev1@example.com"), "{t}");
    assert!(t.contains("SEQUENCE:2"), "{t}");
    assert!(t.contains("mailto:carol@remote.test"), "{t}");
    assert!(!t.contains("dave@remote.test"), "{t}");
    assert!(!t.contains("DTSTART"), "{t}");

    // A COUNTER without a start proposes nothing.
    let no_start = cal(&COPY.replace("DTSTART:20270110T100000Z\n", ""));
    assert!(accept_counter(&copy, &no_start).is_err());
}

#[test]
fn a_refresh_is_asked_and_answered_with_the_current_event() {
    let copy = cal(COPY);
    let ask = refresh(&copy, "carol@remote.test", NOW).expect("a REFRESH");
    assert_eq!(ask.method, Method::Refresh);
    assert_eq!(ask.recipient, "bob@example.com");
    let t = text(&ask.calendar);
    assert!(t.contains("METHOD:REFRESH"), "{t}");
    assert!(!t.contains("DTSTART") && !t.contains("SUMMARY"), "{t}");
    assert!(!t.contains("dave@remote.test"), "{t}");
    let answer = refresh_answer(&copy, "bob@example.com", "carol@remote.test", NOW).unwrap();
    assert_eq!(answer.method, Method::Request);
    assert_eq!(answer.recipient, "carol@remote.test");
    let t = text(&answer.calendar);
    assert!(t.contains("METHOD:REQUEST"), "{t}");
    assert!(t.contains("DTSTART:20270110T100000Z"), "{t}");
    assert!(refresh_answer(&copy, "bob@example.com", "eve@remote.test", NOW).is_none());
}

#[test]
fn accepting_takes_the_proposed_times_place_title_and_description_and_nothing_else() {
    let copy = cal(&COPY.replace(
        "SUMMARY:Planning\n",
        "SUMMARY:Planning\nLOCATION:Room 1\nDESCRIPTION:Agenda\nRRULE:FREQ=WEEKLY;COUNT=3\n",
    ));
    // A DURATION instead of DTEND, a new place, title and description; the proposer's own
    // PARTSTAT, a COMMENT and no RRULE, none of which the organizer's copy takes.
    let proposal = cal(
        "METHOD:COUNTER\nBEGIN:VEVENT\nUID:ev1@example.com\nDTSTAMP:20270102T000000Z\n\
DTSTART:20270111T080000Z\nDURATION:PT2H\nSUMMARY:Planning (moved)\nLOCATION:Room 7\n\
DESCRIPTION:Agenda v2\nSEQUENCE:2\nORGANIZER:mailto:bob@example.com\n\
ATTENDEE;PARTSTAT=TENTATIVE:mailto:carol@remote.test\nCOMMENT:Mornings are better\n\
END:VEVENT\n",
    );
    let accepted = accept_counter(&copy, &proposal).unwrap();
    let t = text(&accepted);
    for want in [
        "DTSTART:20270111T080000Z",
        "DURATION:PT2H",
        "SUMMARY:Planning (moved)",
        "LOCATION:Room 7",
        "DESCRIPTION:Agenda v2",
        "RRULE:FREQ=WEEKLY;COUNT=3",
        "SEQUENCE:3",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@remote.test",
        "mailto:dave@remote.test",
    ] {
        assert!(t.contains(want), "{want} missing: {t}");
    }
    for gone in ["DTEND", "Room 1", "Agenda\r\n", "COMMENT", "TENTATIVE"] {
        assert!(!t.contains(gone), "{gone} kept: {t}");
    }
    assert_eq!(t.matches("SUMMARY").count(), 1, "{t}");

    // A COUNTER of the times only keeps the organizer's place, title and description.
    let times_only = cal(
        "METHOD:COUNTER\nBEGIN:VEVENT\nUID:ev1@example.com\nDTSTAMP:20270102T000000Z\n\
DTSTART:20270111T080000Z\nDTEND:20270111T090000Z\nSEQUENCE:2\n\
ORGANIZER:mailto:bob@example.com\nATTENDEE:mailto:carol@remote.test\nEND:VEVENT\n",
    );
    let t = text(&accept_counter(&copy, &times_only).unwrap());
    for want in [
        "DTEND:20270111T090000Z",
        "LOCATION:Room 1",
        "SUMMARY:Planning\r\n",
        "DESCRIPTION:Agenda\r\n",
    ] {
        assert!(t.contains(want), "{want} missing: {t}");
    }
}

#[test]
fn a_stale_counter_brings_no_old_texts_and_an_empty_text_wipes_nothing() {
    // The organizer renamed the event (SEQUENCE 3) after carol countered revision 2 with
    // the old title and a place.
    let copy = cal(&COPY
        .replace("SUMMARY:Planning", "SUMMARY:Planning (v3)\nLOCATION:Room 9")
        .replace("SEQUENCE:2", "SEQUENCE:3"));
    let old = cal(&format!(
        "METHOD:COUNTER\n{}",
        COPY.replace("DTSTART:20270110T100000Z", "DTSTART:20270110T140000Z")
            .replace("SUMMARY:Planning", "SUMMARY:Planning\nLOCATION:Room 1")
    ));
    assert!(stale(&old, &copy), "revision 2 against 3");
    let t = text(&accept_counter(&copy, &old).expect("times taken"));
    assert!(t.contains("DTSTART:20270110T140000Z"), "{t}");
    assert!(t.contains("SUMMARY:Planning (v3)"), "{t}");
    assert!(t.contains("LOCATION:Room 9"), "{t}");
    assert!(!t.contains("Room 1"), "{t}");
    // Of the same revision, an empty SUMMARY or LOCATION leaves the organizer's.
    let empty = cal(&format!(
        "METHOD:COUNTER\n{}",
        COPY.replace(
            "SUMMARY:Planning",
            "SUMMARY:\nLOCATION:\nDESCRIPTION:Bring slides"
        )
        .replace("SEQUENCE:2", "SEQUENCE:3")
    ));
    assert!(!stale(&empty, &copy));
    let t = text(&accept_counter(&copy, &empty).expect("accepted"));
    assert!(t.contains("SUMMARY:Planning (v3)"), "{t}");
    assert!(t.contains("LOCATION:Room 9"), "{t}");
    assert!(t.contains("DESCRIPTION:Bring slides"), "{t}");
    assert!(t.contains("SEQUENCE:4"), "{t}");
}

#[test]
fn the_countered_instances_are_named_by_their_recurrence_ids() {
    let master = cal(COPY);
    assert!(countered_instances(&master).is_empty());
    let one =
        |rid: &str| cal(&COPY.replace("SEQUENCE:2", &format!("SEQUENCE:2\nRECURRENCE-ID:{rid}")));
    let a = countered_instances(&one("20270117T100000Z"));
    let b = countered_instances(&one("20270124T100000Z"));
    assert_eq!(a.len(), 1);
    assert_ne!(a, b);
}
