//! The Schedule-Tag merge rule (RFC 6638 §3.2.10): an organizer's client that writes its
//! object with `If-Schedule-Tag-Match` naming the current tag may hold a copy from before
//! an attendee's REPLY was merged by the server (the ETag moved, the tag did not). Its
//! write must not undo those replies: the parameters a reply owns are taken from the
//! stored copy, attendee by attendee and instance by instance.
//!
//! Reply-owned parameters ([`REPLY_OWNED`]): PARTSTAT, DELEGATED-TO, DELEGATED-FROM (what
//! an attendee's REPLY sets, RFC 5546 §3.2.3) and SCHEDULE-STATUS (what the server wrote
//! back on processing it). The organizer's own ATTENDEE entry is the organizer's: left as
//! sent. An attendee the stored copy does not have (just added) is left as sent; an
//! instance the stored copy does not override takes the stored master's values (a reply to
//! an instance not overridden is merged into the master, `apply_reply`).

use calcard::icalendar::{ICalendar, ICalendarParameterName, ICalendarProperty};

use calcard::icalendar::ICalendarComponent;

use super::{entry_address, key_of, organizer, param_text, sched_components, Key};

/// The properties whose change moves a component in time (module comment).
pub const TIMING: [ICalendarProperty; 7] = [
    ICalendarProperty::Dtstart,
    ICalendarProperty::Dtend,
    ICalendarProperty::Due,
    ICalendarProperty::Duration,
    ICalendarProperty::Rrule,
    ICalendarProperty::Rdate,
    ICalendarProperty::Exdate,
];

/// The timing entries of `c` as written by calcard, sorted (order carries no meaning).
fn timing(c: &ICalendarComponent) -> Vec<String> {
    let mut out: Vec<String> = c
        .entries
        .iter()
        .filter(|e| TIMING.contains(&e.name))
        .map(|e| {
            let mut s = String::new();
            let _ = e.write_to(&mut s);
            s
        })
        .collect();
    out.sort();
    out
}

/// Whether the organizer asks this attendee again: PARTSTAT=NEEDS-ACTION and RSVP=TRUE.
fn asked_again(e: &calcard::icalendar::ICalendarEntry) -> bool {
    param_text(e, &ICalendarParameterName::Partstat).as_deref() == Some("NEEDS-ACTION")
        && param_text(e, &ICalendarParameterName::Rsvp).as_deref() == Some("TRUE")
}

/// The parameters an attendee's reply owns (module comment).
pub const REPLY_OWNED: [ICalendarParameterName; 4] = [
    ICalendarParameterName::Partstat,
    ICalendarParameterName::DelegatedTo,
    ICalendarParameterName::DelegatedFrom,
    ICalendarParameterName::ScheduleStatus,
];

fn owned(name: &ICalendarParameterName) -> bool {
    REPLY_OWNED.contains(name)
}

/// `incoming` (the organizer's write) with every attendee's reply-owned parameters as
/// `stored` has them (module comment), but for attendees the organizer asks again on a
/// component it moved in time. Whether anything changed is `out != incoming`.
pub fn keep_replies(stored: &ICalendar, incoming: &ICalendar) -> ICalendar {
    let me = organizer(incoming).map(|(a, _)| a);
    let stored_by_key: Vec<(Key, usize)> = sched_components(stored)
        .into_iter()
        .map(|(i, c)| (key_of(c), i))
        .collect();
    let find = |k: &Key| {
        stored_by_key
            .iter()
            .find(|(sk, _)| sk == k)
            .or_else(|| stored_by_key.iter().find(|(sk, _)| sk.is_none()))
            .map(|(_, i)| *i)
    };
    let targets: Vec<(usize, Option<usize>)> = sched_components(incoming)
        .into_iter()
        .map(|(i, c)| (i, find(&key_of(c))))
        .collect();
    let mut out = incoming.clone();
    for (i, from) in targets {
        let Some(from) = from else { continue };
        let source = &stored.components[from];
        let moved = timing(source) != timing(&out.components[i]);
        for e in out.components[i].entries.iter_mut() {
            if e.name != ICalendarProperty::Attendee {
                continue;
            }
            let Some(who) = entry_address(e) else {
                continue;
            };
            if me.as_deref() == Some(who.as_str()) || (moved && asked_again(e)) {
                continue;
            }
            let Some(old) = source
                .properties(&ICalendarProperty::Attendee)
                .find(|o| entry_address(o).as_deref() == Some(who.as_str()))
            else {
                continue;
            };
            e.params.retain(|p| !owned(&p.name));
            e.params
                .extend(old.params.iter().filter(|p| owned(&p.name)).cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::caldav::validate::parse_calendar;

    fn event(alice: &str, carol: &str, summary: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\n\
DTSTAMP:20270101T090000Z\r\nDTSTART:20270110T100000Z\r\nDTEND:20270110T110000Z\r\n\
SUMMARY:{summary}\r\nORGANIZER:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
ATTENDEE;{alice}:mailto:alice@example.com\r\n\
ATTENDEE;{carol}:mailto:carol@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    fn partstats(cal: &ICalendar) -> Vec<(String, String)> {
        super::super::attendees(cal)
            .into_iter()
            .map(|(a, (att, _))| (a, att.partstat))
            .collect()
    }

    #[test]
    fn the_stored_replies_win_over_the_organizers_stale_copy() {
        let stored = parse_calendar(&event(
            "PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0",
            "PARTSTAT=DECLINED;DELEGATED-TO=\"mailto:dan@example.com\"",
            "Sync",
        ))
        .unwrap();
        let incoming = parse_calendar(&event(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            "Sync (moved)",
        ))
        .unwrap();
        let out = keep_replies(&stored, &incoming);
        assert_eq!(
            partstats(&out),
            vec![
                ("alice@example.com".into(), "ACCEPTED".into()),
                ("bob@example.com".into(), "ACCEPTED".into()),
                ("carol@example.com".into(), "DECLINED".into()),
            ]
        );
        let text = out.to_string().replace("\r\n ", "");
        assert!(text.contains("SUMMARY:Sync (moved)"), "{text}");
        assert!(text.contains("DELEGATED-TO="), "{text}");
        assert!(text.contains("SCHEDULE-STATUS=2.0"), "{text}");
        // What the organizer owns stays as sent (RSVP).
        assert!(text.contains("RSVP=TRUE"), "{text}");
    }

    #[test]
    fn a_new_attendee_and_the_organizers_own_entry_stay_as_sent() {
        let stored = parse_calendar(&event("PARTSTAT=ACCEPTED", "PARTSTAT=DECLINED", "S")).unwrap();
        let incoming_text = event("PARTSTAT=NEEDS-ACTION", "PARTSTAT=NEEDS-ACTION", "S").replace(
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com",
            "ATTENDEE;PARTSTAT=TENTATIVE:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:erin@example.com",
        );
        let incoming = parse_calendar(&incoming_text).unwrap();
        let out = keep_replies(&stored, &incoming);
        let got = partstats(&out);
        assert!(
            got.contains(&("bob@example.com".into(), "TENTATIVE".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("erin@example.com".into(), "NEEDS-ACTION".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("alice@example.com".into(), "ACCEPTED".into())),
            "{got:?}"
        );
    }

    #[test]
    fn a_moved_event_keeps_the_organizers_reset_partstats() {
        let stored = parse_calendar(&event(
            "PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0",
            "PARTSTAT=DECLINED",
            "Sync",
        ))
        .unwrap();
        // Moved by an hour; alice asked again, carol's entry as the stale copy had it.
        let incoming = parse_calendar(
            &event(
                "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
                "PARTSTAT=NEEDS-ACTION",
                "Sync",
            )
            .replace("DTSTART:20270110T100000Z", "DTSTART:20270110T110000Z")
            .replace("DTEND:20270110T110000Z", "DTEND:20270110T120000Z"),
        )
        .unwrap();
        let out = keep_replies(&stored, &incoming);
        assert_eq!(
            partstats(&out),
            vec![
                ("alice@example.com".into(), "NEEDS-ACTION".into()),
                ("bob@example.com".into(), "ACCEPTED".into()),
                ("carol@example.com".into(), "DECLINED".into()),
            ]
        );
        let text = out.to_string().replace("\r\n ", "");
        assert!(!text.contains("SCHEDULE-STATUS"), "{text}");
        assert!(text.contains("DTSTART:20270110T110000Z"), "{text}");
    }

    #[test]
    fn a_new_rule_or_exception_is_a_move_too() {
        let stored = parse_calendar(&event("PARTSTAT=ACCEPTED", "PARTSTAT=DECLINED", "S")).unwrap();
        let moved = event(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            "S",
        )
        .replace("SUMMARY:S", "SUMMARY:S\r\nRRULE:FREQ=WEEKLY;COUNT=4");
        let out = keep_replies(&stored, &parse_calendar(&moved).unwrap());
        assert_eq!(
            partstats(&out),
            vec![
                ("alice@example.com".into(), "NEEDS-ACTION".into()),
                ("bob@example.com".into(), "ACCEPTED".into()),
                ("carol@example.com".into(), "NEEDS-ACTION".into()),
            ]
        );
        // The same reset without a move is a stale copy: the replies stay.
        let same = event(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
            "S",
        );
        let out = keep_replies(&stored, &parse_calendar(&same).unwrap());
        assert_eq!(
            partstats(&out),
            vec![
                ("alice@example.com".into(), "ACCEPTED".into()),
                ("bob@example.com".into(), "ACCEPTED".into()),
                ("carol@example.com".into(), "DECLINED".into()),
            ]
        );
    }
}
