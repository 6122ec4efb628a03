//! Table tests with objects shaped as Google, Apple and Outlook write them: RRULE with
//! EXDATE and overridden instances, all-day events, floating times, a VTODO with DUE only,
//! alarms, a VFREEBUSY.

use calcard::common::timezone::Tz;

use super::filter::{
    CompFilter, CompTest, Evaluator, ParamFilter, ParamTest, PropFilter, PropTest, TimeRange,
};
use super::freebusy::{self, Busy, BusyKind};
use super::validate::{validate_calendar, CalendarPrecondition, ComponentKind};
use crate::protocols::carddav::text::{Collation, MatchType, TextMatch};

const ALL: &[ComponentKind] = &ComponentKind::ALL;
const MAX: usize = 1 << 20;

/// Google: a weekly meeting in New York with a VTIMEZONE, one date excluded and one
/// instance moved.
const GOOGLE_WEEKLY: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
VERSION:2.0\r\n\
CALSCALE:GREGORIAN\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:America/New_York\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:-0500\r\n\
TZOFFSETTO:-0400\r\n\
TZNAME:EDT\r\n\
DTSTART:19700308T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:-0400\r\n\
TZOFFSETTO:-0500\r\n\
TZNAME:EST\r\n\
DTSTART:19701101T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
DTSTART;TZID=America/New_York:20260105T100000\r\n\
DTEND;TZID=America/New_York:20260105T110000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\n\
EXDATE;TZID=America/New_York:20260119T100000\r\n\
DTSTAMP:20251220T120000Z\r\n\
UID:4vbc9mq1t2@google.com\r\n\
SUMMARY:Team sync\r\n\
ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED:mailto:ann@example.com\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
DESCRIPTION:Reminder\r\n\
TRIGGER:-PT10M\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
DTSTART;TZID=America/New_York:20260128T150000\r\n\
DTEND;TZID=America/New_York:20260128T160000\r\n\
RECURRENCE-ID;TZID=America/New_York:20260126T100000\r\n\
DTSTAMP:20251220T120000Z\r\n\
UID:4vbc9mq1t2@google.com\r\n\
SUMMARY:Team sync (moved)\r\n\
STATUS:TENTATIVE\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// Apple: an all-day event, no VTIMEZONE needed.
const APPLE_ALL_DAY: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Apple Inc.//macOS 14.0//EN\r\n\
BEGIN:VEVENT\r\n\
UID:5E8F1B3C-0D3A-4C1E-9F57-0A1B2C3D4E5F\r\n\
DTSTART;VALUE=DATE:20260214\r\n\
DTEND;VALUE=DATE:20260215\r\n\
SUMMARY:Valentine's day\r\n\
TRANSP:TRANSPARENT\r\n\
DTSTAMP:20260101T000000Z\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// Outlook: a daily event with an IANA-named TZID it does not define (Outlook writes Windows
/// names with a VTIMEZONE; the IANA fallback is what the resolver must still find), ending
/// by UNTIL.
const OUTLOOK_DAILY: &str = "BEGIN:VCALENDAR\r\n\
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n\
VERSION:2.0\r\n\
BEGIN:VEVENT\r\n\
UID:040000008200E00074C5B7101A82E00800000000\r\n\
DTSTART;TZID=Europe/Berlin:20260301T090000\r\n\
DTEND;TZID=Europe/Berlin:20260301T093000\r\n\
RRULE:FREQ=DAILY;UNTIL=20260305T080000Z\r\n\
SUMMARY:Stand-up\r\n\
DTSTAMP:20260201T000000Z\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// A floating event (no zone: 09:00 wherever the calendar is).
const FLOATING: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\n\
UID:floating-1\r\n\
DTSTART:20260410T090000\r\n\
DTEND:20260410T100000\r\n\
SUMMARY:Breakfast\r\n\
DTSTAMP:20260101T000000Z\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// A task with DUE only (Apple Reminders writes these).
const TODO_DUE: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Apple Inc.//iOS 17.0//EN\r\n\
BEGIN:VTODO\r\n\
UID:todo-due-1\r\n\
DUE:20260501T170000Z\r\n\
SUMMARY:File taxes\r\n\
STATUS:NEEDS-ACTION\r\n\
DTSTAMP:20260101T000000Z\r\n\
END:VTODO\r\n\
END:VCALENDAR\r\n";

/// A task with no date at all.
const TODO_UNDATED: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//test//EN\r\n\
BEGIN:VTODO\r\n\
UID:todo-undated\r\n\
SUMMARY:Someday\r\n\
END:VTODO\r\n\
END:VCALENDAR\r\n";

/// A daily rule without end.
const ENDLESS: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\n\
UID:endless\r\n\
DTSTART:20200101T080000Z\r\n\
DURATION:PT15M\r\n\
RRULE:FREQ=DAILY\r\n\
SUMMARY:Pills\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_opt(h, mi, 0))
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default()
}

fn range(start: i64, end: i64) -> TimeRange {
    TimeRange {
        start: Some(start),
        end: Some(end),
    }
}

/// `VCALENDAR > <comp> [time-range]`
fn comp_in(comp: &str, r: Option<TimeRange>) -> CompFilter {
    comp_with(comp, r, vec![], vec![])
}

fn comp_with(
    comp: &str,
    time_range: Option<TimeRange>,
    props: Vec<PropFilter>,
    comps: Vec<CompFilter>,
) -> CompFilter {
    CompFilter {
        name: "VCALENDAR".into(),
        test: CompTest::Match {
            time_range: None,
            props: vec![],
            comps: vec![CompFilter {
                name: comp.into(),
                test: CompTest::Match {
                    time_range,
                    props,
                    comps,
                },
            }],
        },
    }
}

fn matches(data: &str, zone: Tz, filter: &CompFilter) -> bool {
    let object = match validate_calendar(data, ALL, MAX) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    // As the server asks: expanded only as far as the filter's ranges reach, and the same
    // answer as the whole expansion.
    let whole = match Evaluator::new(&object.calendar, zone) {
        Ok(ev) => ev.matches(filter),
        Err(e) => panic!("{e}"),
    };
    let capped = match Evaluator::for_filter(&object.calendar, zone, Some(filter)) {
        Ok(ev) => ev.matches(filter),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(whole, capped, "{data}");
    capped
}

#[test]
fn real_world_objects_validate_with_their_facts() {
    let cases: &[(&str, &str, ComponentKind)] = &[
        (GOOGLE_WEEKLY, "4vbc9mq1t2@google.com", ComponentKind::Event),
        (
            APPLE_ALL_DAY,
            "5E8F1B3C-0D3A-4C1E-9F57-0A1B2C3D4E5F",
            ComponentKind::Event,
        ),
        (
            OUTLOOK_DAILY,
            "040000008200E00074C5B7101A82E00800000000",
            ComponentKind::Event,
        ),
        (FLOATING, "floating-1", ComponentKind::Event),
        (TODO_DUE, "todo-due-1", ComponentKind::Todo),
        (TODO_UNDATED, "todo-undated", ComponentKind::Todo),
        (ENDLESS, "endless", ComponentKind::Event),
    ];
    for (data, uid, kind) in cases {
        let o = validate_calendar(data, ALL, MAX).unwrap_or_else(|e| panic!("{uid}: {e}"));
        assert_eq!(o.uid, *uid);
        assert_eq!(o.kind, *kind, "{uid}");
    }
}

#[test]
fn deeply_nested_components_are_refused_without_recursion() {
    // Code that walks the tree recursively (calendar-data output) must never see this.
    let depth = 1_000;
    let mut data = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:deep\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\n",
    );
    for _ in 0..depth {
        data.push_str("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\n");
    }
    for _ in 0..depth {
        data.push_str("END:VALARM\r\n");
    }
    data.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    match validate_calendar(&data, ALL, usize::MAX) {
        Err(CalendarPrecondition::ValidCalendarData(why)) => {
            assert!(why.contains("nested"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn index_span_covers_every_instance_widened_and_knows_unbounded_rules() {
    let widen = super::timerange::WIDEST_OFFSET;
    let o = validate_calendar(GOOGLE_WEEKLY, ALL, MAX).unwrap_or_else(|e| panic!("{e}"));
    // First instance 2026-01-05 10:00 EST = 15:00 UTC; the tenth Monday is 2026-03-09,
    // 10:00 EDT = 14:00 UTC, ending 15:00 UTC.
    assert_eq!(o.first, Some(utc(2026, 1, 5, 15, 0) - widen));
    assert_eq!(o.last, Some(utc(2026, 3, 9, 15, 0) + widen));
    let endless = validate_calendar(ENDLESS, ALL, MAX).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(endless.first, Some(utc(2020, 1, 1, 8, 0) - widen));
    assert_eq!(endless.last, None);
    let undated = validate_calendar(TODO_UNDATED, ALL, MAX).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((undated.first, undated.last), (None, None));
}

#[test]
fn refusals_name_the_rfc_precondition() {
    let two_objects = format!("{APPLE_ALL_DAY}{FLOATING}");
    let with_method = FLOATING.replace("PRODID:-//test//EN\r\n", "PRODID:x\r\nMETHOD:REQUEST\r\n");
    let two_uids = GOOGLE_WEEKLY.replace(
        "UID:4vbc9mq1t2@google.com\r\nSUMMARY:Team sync (moved)",
        "UID:other@google.com\r\nSUMMARY:Team sync (moved)",
    );
    let no_uid = FLOATING.replace("UID:floating-1\r\n", "");
    let mixed = TODO_DUE.replace(
        "END:VTODO\r\n",
        "END:VTODO\r\nBEGIN:VEVENT\r\nUID:todo-due-1\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\n",
    );
    let two_masters = FLOATING.replace(
        "END:VEVENT\r\n",
        "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:floating-1\r\nDTSTART:20260411T090000\r\nEND:VEVENT\r\n",
    );
    let no_version = FLOATING.replace("VERSION:2.0\r\n", "");
    // An escaped newline in the UID: it could pass for a schedule inbox key.
    let control_uid = FLOATING.replace(
        "UID:floating-1\r\n",
        "UID:floating-1\\ncounter:bob@example.com\r\n",
    );
    let vcard = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nUID:x\r\nEND:VCARD\r\n".to_string();
    let cases: Vec<(&str, String, &str)> = vec![
        ("two objects", two_objects, "valid-calendar-object-resource"),
        ("METHOD", with_method, "valid-calendar-object-resource"),
        ("two UIDs", two_uids, "valid-calendar-object-resource"),
        ("no UID", no_uid, "valid-calendar-object-resource"),
        ("two types", mixed, "valid-calendar-object-resource"),
        ("two masters", two_masters, "valid-calendar-object-resource"),
        ("no VERSION", no_version, "valid-calendar-data"),
        (
            "a control character in the UID",
            control_uid,
            "valid-calendar-data",
        ),
        ("a vCard", vcard, "valid-calendar-data"),
        ("empty", String::new(), "valid-calendar-data"),
        ("garbage", "hello\r\n".into(), "valid-calendar-data"),
    ];
    for (what, data, want) in cases {
        match validate_calendar(&data, ALL, MAX) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => assert_eq!(e.element(), want, "{what}: {e}"),
        }
    }
    let todo_in_events = validate_calendar(TODO_DUE, &[ComponentKind::Event], MAX);
    assert_eq!(
        todo_in_events.map(|_| ()),
        Err(CalendarPrecondition::SupportedCalendarComponent(
            "VTODO".into()
        ))
    );
    let limit = FLOATING.len();
    assert!(validate_calendar(FLOATING, ALL, limit).is_ok());
    assert_eq!(
        validate_calendar(FLOATING, ALL, limit - 1).map(|_| ()),
        Err(CalendarPrecondition::MaxResourceSize {
            size: limit,
            limit: limit - 1
        })
    );
}

#[test]
fn time_ranges_follow_rfc4791_9_9() {
    let ny = Tz::UTC;
    let cases: Vec<(&str, &str, &str, TimeRange, bool)> = vec![
        // Recurrence expanded: the second Monday (Jan 12, 15:00 UTC).
        (
            "weekly 2nd",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 1, 12, 14, 0), utc(2026, 1, 12, 16, 0)),
            true,
        ),
        // EXDATE Jan 19: no instance that day.
        (
            "weekly exdate",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 1, 19, 0, 0), utc(2026, 1, 20, 0, 0)),
            false,
        ),
        // Jan 26 was moved to Jan 28 20:00 UTC: nothing on the 26th, something on the 28th.
        (
            "moved away",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 1, 26, 0, 0), utc(2026, 1, 27, 0, 0)),
            false,
        ),
        (
            "moved to",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 1, 28, 19, 0), utc(2026, 1, 28, 21, 0)),
            true,
        ),
        // After COUNT=10 ends (Mar 9).
        (
            "after count",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 3, 10, 0, 0), utc(2026, 12, 31, 0, 0)),
            false,
        ),
        // Summer time: Mar 9 10:00 EDT is 14:00 UTC, not 15:00.
        (
            "dst",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 3, 9, 14, 0), utc(2026, 3, 9, 14, 30)),
            true,
        ),
        // Ranges touching an instance's end do not overlap it.
        (
            "touching end",
            GOOGLE_WEEKLY,
            "VEVENT",
            range(utc(2026, 1, 5, 16, 0), utc(2026, 1, 5, 17, 0)),
            false,
        ),
        (
            "all day in",
            APPLE_ALL_DAY,
            "VEVENT",
            range(utc(2026, 2, 14, 12, 0), utc(2026, 2, 14, 13, 0)),
            true,
        ),
        (
            "all day out",
            APPLE_ALL_DAY,
            "VEVENT",
            range(utc(2026, 2, 15, 0, 0), utc(2026, 2, 16, 0, 0)),
            false,
        ),
        // Berlin: 09:00 CET is 08:00 UTC; UNTIL Mar 5 08:00Z includes the 5th.
        (
            "outlook until",
            OUTLOOK_DAILY,
            "VEVENT",
            range(utc(2026, 3, 5, 8, 0), utc(2026, 3, 5, 8, 10)),
            true,
        ),
        (
            "outlook after",
            OUTLOOK_DAILY,
            "VEVENT",
            range(utc(2026, 3, 6, 0, 0), utc(2026, 3, 7, 0, 0)),
            false,
        ),
        (
            "todo due inside",
            TODO_DUE,
            "VTODO",
            range(utc(2026, 5, 1, 0, 0), utc(2026, 5, 1, 17, 0)),
            true,
        ),
        (
            "todo due at start",
            TODO_DUE,
            "VTODO",
            range(utc(2026, 5, 1, 17, 0), utc(2026, 5, 2, 0, 0)),
            false,
        ),
        (
            "todo undated",
            TODO_UNDATED,
            "VTODO",
            range(utc(1999, 1, 1, 0, 0), utc(1999, 1, 2, 0, 0)),
            true,
        ),
        (
            "endless far",
            ENDLESS,
            "VEVENT",
            range(utc(2027, 6, 1, 8, 5), utc(2027, 6, 1, 8, 6)),
            true,
        ),
        (
            "endless gap",
            ENDLESS,
            "VEVENT",
            range(utc(2027, 6, 1, 9, 0), utc(2027, 6, 1, 10, 0)),
            false,
        ),
        (
            "wrong comp",
            TODO_DUE,
            "VEVENT",
            range(utc(2026, 5, 1, 0, 0), utc(2026, 5, 2, 0, 0)),
            false,
        ),
    ];
    for (what, data, comp, r, want) in cases {
        assert_eq!(matches(data, ny, &comp_in(comp, Some(r))), want, "{what}");
    }
}

#[test]
fn floating_times_take_the_query_zone() {
    let r = range(utc(2026, 4, 10, 9, 0), utc(2026, 4, 10, 10, 0));
    assert!(matches(FLOATING, Tz::UTC, &comp_in("VEVENT", Some(r))));
    // In Tokyo 09:00 is 00:00 UTC: the 09:00 UTC range misses it.
    let tokyo = Tz::Tz(chrono_tz::Asia::Tokyo);
    assert!(!matches(FLOATING, tokyo, &comp_in("VEVENT", Some(r))));
    let tokyo_r = range(utc(2026, 4, 10, 0, 0), utc(2026, 4, 10, 1, 0));
    assert!(matches(FLOATING, tokyo, &comp_in("VEVENT", Some(tokyo_r))));
}

#[test]
fn alarms_match_by_trigger_time() {
    // Jan 12's instance starts 15:00 UTC; its alarm fires 14:50.
    let alarm = |r: TimeRange| {
        comp_with(
            "VEVENT",
            None,
            vec![],
            vec![CompFilter {
                name: "VALARM".into(),
                test: CompTest::Match {
                    time_range: Some(r),
                    props: vec![],
                    comps: vec![],
                },
            }],
        )
    };
    let at = utc(2026, 1, 12, 14, 50);
    assert!(matches(GOOGLE_WEEKLY, Tz::UTC, &alarm(range(at, at + 60))));
    assert!(!matches(
        GOOGLE_WEEKLY,
        Tz::UTC,
        &alarm(range(at + 60, at + 120))
    ));
    assert!(!matches(APPLE_ALL_DAY, Tz::UTC, &alarm(range(0, i64::MAX))));
}

fn text(value: &str) -> TextMatch {
    TextMatch {
        value: value.into(),
        collation: Collation::AsciiCasemap,
        match_type: MatchType::Contains,
        negate: false,
    }
}

fn prop(name: &str, test: PropTest) -> PropFilter {
    PropFilter {
        name: name.into(),
        test,
    }
}

fn prop_text(name: &str, t: TextMatch, params: Vec<ParamFilter>) -> PropFilter {
    prop(
        name,
        PropTest::Match {
            time_range: None,
            text: Some(t),
            params,
        },
    )
}

#[test]
fn property_and_parameter_filters() {
    let f = |props: Vec<PropFilter>| comp_with("VEVENT", None, props, vec![]);
    let negated = TextMatch {
        negate: true,
        ..text("sync")
    };
    let octet = TextMatch {
        collation: Collation::Octet,
        ..text("TEAM")
    };
    let partstat = |v: &str| ParamFilter {
        name: "PARTSTAT".into(),
        test: ParamTest::Text(TextMatch {
            match_type: MatchType::Equals,
            ..text(v)
        }),
    };
    let cases: Vec<(&str, &str, Vec<PropFilter>, bool)> = vec![
        (
            "summary contains",
            GOOGLE_WEEKLY,
            vec![prop_text("SUMMARY", text("SYNC"), vec![])],
            true,
        ),
        (
            "summary negated",
            GOOGLE_WEEKLY,
            vec![prop_text("SUMMARY", negated.clone(), vec![])],
            false,
        ),
        (
            "negated elsewhere",
            APPLE_ALL_DAY,
            vec![prop_text("SUMMARY", negated, vec![])],
            true,
        ),
        (
            "octet is exact",
            GOOGLE_WEEKLY,
            vec![prop_text("SUMMARY", octet, vec![])],
            false,
        ),
        (
            "attendee uri",
            GOOGLE_WEEKLY,
            vec![prop_text("ATTENDEE", text("ann@example.com"), vec![])],
            true,
        ),
        (
            "partstat accepted",
            GOOGLE_WEEKLY,
            vec![prop_text(
                "ATTENDEE",
                text("ann"),
                vec![partstat("ACCEPTED")],
            )],
            true,
        ),
        (
            "partstat declined",
            GOOGLE_WEEKLY,
            vec![prop_text(
                "ATTENDEE",
                text("ann"),
                vec![partstat("DECLINED")],
            )],
            false,
        ),
        (
            "no location",
            GOOGLE_WEEKLY,
            vec![prop("LOCATION", PropTest::IsNotDefined)],
            true,
        ),
        (
            "has summary",
            APPLE_ALL_DAY,
            vec![prop("SUMMARY", PropTest::IsNotDefined)],
            false,
        ),
        (
            "cn param exists",
            GOOGLE_WEEKLY,
            vec![prop(
                "ATTENDEE",
                PropTest::Match {
                    time_range: None,
                    text: None,
                    params: vec![ParamFilter {
                        name: "CN".into(),
                        test: ParamTest::Exists,
                    }],
                },
            )],
            true,
        ),
        (
            "dtstamp in range",
            APPLE_ALL_DAY,
            vec![prop(
                "DTSTAMP",
                PropTest::Match {
                    time_range: Some(range(utc(2026, 1, 1, 0, 0), utc(2026, 1, 2, 0, 0))),
                    text: None,
                    params: vec![],
                },
            )],
            true,
        ),
    ];
    for (what, data, props, want) in cases {
        assert_eq!(matches(data, Tz::UTC, &f(props)), want, "{what}");
    }
    let not_todo = CompFilter {
        name: "VCALENDAR".into(),
        test: CompTest::Match {
            time_range: None,
            props: vec![],
            comps: vec![CompFilter {
                name: "VTODO".into(),
                test: CompTest::IsNotDefined,
            }],
        },
    };
    assert!(matches(FLOATING, Tz::UTC, &not_todo));
    assert!(!matches(TODO_DUE, Tz::UTC, &not_todo));
}

#[test]
fn free_busy_skips_transparent_and_marks_tentative() {
    let periods = |data: &str, s: i64, e: i64| {
        let o = validate_calendar(data, ALL, MAX).unwrap_or_else(|e| panic!("{e}"));
        freebusy::busy_periods(&o.calendar, Tz::UTC, s, e).unwrap_or_else(|e| panic!("{e}"))
    };
    let jan = (utc(2026, 1, 1, 0, 0), utc(2026, 2, 1, 0, 0));
    let mut all = periods(GOOGLE_WEEKLY, jan.0, jan.1);
    all.extend(periods(APPLE_ALL_DAY, jan.0, jan.1));
    let merged = freebusy::merge(all);
    let busy = |d: u32, h: u32| Busy {
        kind: BusyKind::Busy,
        start: utc(2026, 1, d, h, 0),
        end: utc(2026, 1, d, h + 1, 0),
    };
    assert_eq!(
        merged,
        vec![
            busy(5, 15),
            busy(12, 15),
            Busy {
                kind: BusyKind::BusyTentative,
                start: utc(2026, 1, 28, 20, 0),
                end: utc(2026, 1, 28, 21, 0),
            },
        ]
    );
    // Clipped to the range.
    let part = periods(
        GOOGLE_WEEKLY,
        utc(2026, 1, 5, 15, 30),
        utc(2026, 1, 6, 0, 0),
    );
    assert_eq!(part.len(), 1);
    assert_eq!(part[0].start, utc(2026, 1, 5, 15, 30));
    let vfb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\n\
DTSTAMP:20260101T000000Z\r\nFREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260102T100000Z/PT2H\r\n\
FREEBUSY;FBTYPE=FREE:20260102T130000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        periods(vfb, jan.0, jan.1),
        vec![Busy {
            kind: BusyKind::BusyUnavailable,
            start: utc(2026, 1, 2, 10, 0),
            end: utc(2026, 1, 2, 12, 0),
        }]
    );
}

#[test]
fn an_override_replaces_its_occurrence_whatever_the_sequences() {
    // Clients give a moved instance a higher SEQUENCE than its master (Thunderbird: 0 and
    // 1); the occurrence it replaces must not come back beside it.
    for (master, moved) in [
        ("", ""),
        ("SEQUENCE:1\r\n", "SEQUENCE:1\r\n"),
        ("SEQUENCE:0\r\n", "SEQUENCE:2\r\n"),
        ("", "SEQUENCE:1\r\n"),
        ("SEQUENCE:3\r\n", ""),
    ] {
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x\r\n\
             DTSTART:20270114T120000Z\r\nDTEND:20270114T130000Z\r\nDTSTAMP:20240429T181103Z\r\n\
             {master}RRULE:FREQ=MONTHLY;COUNT=4\r\nSUMMARY:m\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n\
             UID:x\r\nRECURRENCE-ID:20270214T120000Z\r\nDTSTART:20270214T150000Z\r\n\
             DTEND:20270214T160000Z\r\nDTSTAMP:20240429T181103Z\r\n{moved}SUMMARY:o\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let cal = super::validate::parse_calendar(&text).unwrap();
        let (list, _) = super::timerange::instances(&cal, Tz::UTC).unwrap();
        let starts: Vec<(i64, u32)> = list.iter().map(|i| (i.start, i.comp_id)).collect();
        assert_eq!(list.len(), 4, "{master:?} {moved:?}: {starts:?}");
        assert!(
            !starts.iter().any(|(s, _)| *s == utc(2027, 2, 14, 12, 0)),
            "{master:?} {moved:?}: the replaced occurrence is back: {starts:?}"
        );
        assert!(
            starts.contains(&(utc(2027, 2, 14, 15, 0), 2)),
            "{master:?} {moved:?}: {starts:?}"
        );
    }
}

#[test]
fn endless_rules_capped_at_a_questions_end_give_the_same_answers() {
    use super::timerange::{instances, instances_until};
    let wrap = |body: &str| {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n")
    };
    let berlin = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n\
        DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n\
        DTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
        RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
    let objects = [
        wrap("BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T233000Z\r\n\
              DURATION:PT2H\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"),
        wrap(&format!(
            "{berlin}BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART;TZID=Europe/Berlin:20260105T235000\r\nDTEND;TZID=Europe/Berlin:20260106T001000\r\n\
             RRULE:FREQ=WEEKLY;BYDAY=MO,FR\r\nEND:VEVENT\r\n"
        )),
        wrap("BEGIN:VEVENT\r\nUID:c\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260630\r\n\
              RRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n"),
        wrap("BEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260131T120000\r\n\
              DTEND:20260131T130000\r\nSEQUENCE:0\r\nRRULE:FREQ=MONTHLY;BYMONTHDAY=-1\r\n\
              END:VEVENT\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20260101T000000Z\r\n\
              RECURRENCE-ID:20260630T120000\r\nDTSTART:20260701T090000\r\nDTEND:20260701T100000\r\n\
              SEQUENCE:1\r\nEND:VEVENT\r\n"),
        wrap("BEGIN:VTODO\r\nUID:e\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T080000Z\r\n\
              DUE:20260101T090000Z\r\nRRULE:FREQ=WEEKLY;INTERVAL=2\r\nEND:VTODO\r\n"),
    ];
    let months = [
        (utc(2026, 1, 1, 0, 0), utc(2026, 2, 1, 0, 0)),
        (utc(2026, 6, 30, 22, 0), utc(2026, 7, 1, 2, 0)),
        (utc(2026, 6, 1, 0, 0), utc(2026, 7, 1, 0, 0)),
        (utc(2029, 12, 31, 23, 0), utc(2030, 1, 1, 1, 0)),
        (utc(2031, 3, 1, 0, 0), utc(2031, 4, 1, 0, 0)),
    ];
    for text in &objects {
        let cal = super::validate::parse_calendar(text).unwrap();
        for zone in [Tz::UTC, Tz::Floating] {
            let (whole, _) = instances(&cal, zone).unwrap();
            for (start, end) in months {
                let (capped, truncated) = instances_until(&cal, zone, Some(end)).unwrap();
                assert!(!truncated, "{text}");
                let pick = |list: &[super::timerange::Instance]| {
                    let mut v: Vec<_> = list
                        .iter()
                        .filter(|i| i.overlaps(Some(start), Some(end)))
                        .copied()
                        .map(|i| (i.start, i.end, i.comp_id))
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(pick(&whole), pick(&capped), "{start}..{end}: {text}");
                assert!(
                    capped.len() < whole.len(),
                    "not capped ({} of {}) for {start}..{end} in {zone:?}: {text}",
                    capped.len(),
                    whole.len()
                );
            }
        }
    }
    // A filter's latest end, and none for an open range or an alarm question.
    let f = comp_in(
        "VEVENT",
        Some(range(utc(2026, 6, 1, 0, 0), utc(2026, 7, 1, 0, 0))),
    );
    assert_eq!(super::filter::latest_end(&f), Some(utc(2026, 7, 1, 0, 0)));
    let open = comp_in(
        "VEVENT",
        Some(TimeRange {
            start: Some(utc(2026, 6, 1, 0, 0)),
            end: None,
        }),
    );
    assert_eq!(super::filter::latest_end(&open), None);
    let alarm = comp_with(
        "VEVENT",
        None,
        vec![],
        vec![CompFilter {
            name: "VALARM".into(),
            test: CompTest::Match {
                time_range: Some(range(utc(2026, 6, 1, 0, 0), utc(2026, 7, 1, 0, 0))),
                props: vec![],
                comps: vec![],
            },
        }],
    );
    assert_eq!(super::filter::latest_end(&alarm), None);
}
