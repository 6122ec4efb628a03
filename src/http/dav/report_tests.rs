//! REPORT through actix-web's test service on a fresh store, objects put through the store
//! with the facts `protocols::caldav::validate` computes (as a PUT will): time-range
//! queries over a weekly event with an EXDATE and a moved instance, expand parsed back
//! with calcard, multiget, free-busy, addressbook-query with text-match and limit,
//! sync-collection through change and delete, and the refusals.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty, ICalendarValue};
use calcard::{Entry, Parser};

use super::report::{parse_sync_point, parse_sync_token, sync_point_uri, sync_token_uri, Sink};
use super::tests::{call, service};
use crate::http::server::{app, routes, Front, Listener};
use crate::http::tests::{peer, world, World};
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::protocols::carddav::validate::validate_card;
use crate::protocols::webdav::xml::{self, Element, DAV};
use crate::storage::davstore::{CollectionKind, Condition, NewObject, PutOutcome};

const ALICE: &str = "alice@example.com";
const CAL: &str = "/dav/calendars/alice@example.com/calendar/";
const BOOK: &str = "/dav/addressbooks/alice@example.com/contacts/";
const C: &str = "urn:ietf:params:xml:ns:caldav";
const CARD: &str = "urn:ietf:params:xml:ns:carddav";

/// Weekly on Mondays 11:00 Berlin (10:00 UTC) from 5 Jan 2026, ten times; 19 Jan
/// excluded; the 26 Jan instance moved to Tuesday 27 Jan 16:00 Berlin (15:00 UTC).
const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZNAME:CET\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260105T110000\r\nDTEND;TZID=Europe/Berlin:20260105T120000\r\n\
RRULE:FREQ=WEEKLY;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:20260119T110000\r\n\
SUMMARY:Team meeting\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20260126T110000\r\n\
DTSTART;TZID=Europe/Berlin:20260127T160000\r\nDTEND;TZID=Europe/Berlin:20260127T170000\r\n\
SUMMARY:Team meeting (moved)\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

fn single(uid: &str, start: &str, end: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn card(uid: &str, name: &str, email: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL:{email}\r\n\
TEL:+49 30 1234\r\nEND:VCARD\r\n"
    )
}

fn collection_id(w: &World, name: &str) -> u64 {
    w.ctx
        .store
        .dav_collections(ALICE)
        .expect("collections")
        .into_iter()
        .find(|c| c.name == name)
        .expect("default collection")
        .id
}

/// Puts a calendar object as a PUT will: the facts from validation.
fn put_event(w: &World, name: &str, data: &str) {
    let obj = validate_calendar(data, &ComponentKind::ALL, usize::MAX).expect("valid");
    let new = NewObject {
        name: name.into(),
        uid: obj.uid,
        data: data.into(),
        component: obj.kind.as_str().into(),
        first: obj.first,
        last: obj.last,
    };
    let out = w
        .ctx
        .store
        .dav_put(collection_id(w, "calendar"), &new, &Condition::Any)
        .expect("put");
    assert!(matches!(out, PutOutcome::Stored { .. }), "{out:?}");
}

fn put_card(w: &World, name: &str, data: &str) {
    let obj = validate_card(data, usize::MAX).expect("valid card");
    let new = NewObject {
        name: name.into(),
        uid: obj.uid,
        data: data.into(),
        component: "VCARD".into(),
        first: None,
        last: None,
    };
    let out = w
        .ctx
        .store
        .dav_put(collection_id(w, "contacts"), &new, &Condition::Any)
        .expect("put");
    assert!(matches!(out, PutOutcome::Stored { .. }), "{out:?}");
}

/// One `response` of a multistatus: its href, whole-response status, and its
/// properties (namespace, local name) → (propstat status, text).
#[derive(Debug)]
struct Resp {
    href: String,
    status: Option<String>,
    props: Vec<((String, String), String, String)>,
    error: Option<String>,
}

impl Resp {
    fn prop(&self, ns: &str, local: &str) -> Option<(&str, &str)> {
        self.props
            .iter()
            .find(|((n, l), _, _)| n == ns && l == local)
            .map(|(_, s, t)| (s.as_str(), t.as_str()))
    }
}

fn multistatus(body: &str) -> (Vec<Resp>, Option<String>) {
    let root = xml::parse(body.as_bytes()).expect("xml").expect("root");
    assert!(root.is(DAV, "multistatus"), "{body}");
    let text = |e: &Element, local: &str| e.child(DAV, local).map(|c| c.text().trim().to_string());
    let mut out = Vec::new();
    for r in root.elements().filter(|e| e.is(DAV, "response")) {
        let mut props = Vec::new();
        for ps in r.elements().filter(|e| e.is(DAV, "propstat")) {
            let status = text(ps, "status").unwrap_or_default();
            for p in ps.child(DAV, "prop").into_iter().flat_map(|p| p.elements()) {
                props.push(((p.ns.clone(), p.local.clone()), status.clone(), p.text()));
            }
        }
        out.push(Resp {
            href: text(r, "href").unwrap_or_default(),
            status: text(r, "status"),
            props,
            error: r
                .child(DAV, "error")
                .and_then(|e| e.elements().next())
                .map(|e| e.local.clone()),
        });
    }
    (out, text(&root, "sync-token"))
}

fn parse_ical(text: &str) -> ICalendar {
    match Parser::new(text).entry() {
        Entry::ICalendar(c) => c,
        other => panic!("not iCalendar: {other:?} in {text}"),
    }
}

/// (DTSTART, RECURRENCE-ID, SUMMARY) of each VEVENT, values as written.
fn events(cal: &ICalendar) -> Vec<(String, Option<String>, String)> {
    let mut out = Vec::new();
    for c in &cal.components {
        if c.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let text = |p: ICalendarProperty| {
            c.property(&p).map(|e| {
                let mut s = String::new();
                e.write_to(&mut s).unwrap();
                s.trim_end().split_once(':').unwrap().1.to_string()
            })
        };
        out.push((
            text(ICalendarProperty::Dtstart).unwrap(),
            text(ICalendarProperty::RecurrenceId),
            text(ICalendarProperty::Summary).unwrap(),
        ));
    }
    out.sort();
    out
}

fn query(start: &str, end: &str, expand: bool) -> String {
    let expand = if expand {
        format!("<C:expand start=\"{start}\" end=\"{end}\"/>")
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\"?><C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"{C}\">\
<D:prop><D:getetag/><C:calendar-data>{expand}</C:calendar-data><D:displayname/></D:prop>\
<C:filter><C:comp-filter name=\"VCALENDAR\"><C:comp-filter name=\"VEVENT\">\
<C:time-range start=\"{start}\" end=\"{end}\"/></C:comp-filter></C:comp-filter></C:filter>\
</C:calendar-query>"
    )
}

fn calendar_world() -> World {
    let w = world("");
    put_event(&w, "weekly.ics", WEEKLY);
    put_event(
        &w,
        "single.ics",
        &single(
            "single-1",
            "20260120T090000Z",
            "20260120T100000Z",
            "Dentist",
        ),
    );
    put_event(
        &w,
        "later.ics",
        &single("later-1", "20260301T090000Z", "20260301T100000Z", "Later"),
    );
    w
}

#[actix_rt::test]
async fn calendar_query_time_range_over_recurrences_and_expand() {
    let w = calendar_world();
    let svc = service!(w);

    // 12 Jan - 2 Feb: the weekly event (12 Jan, moved 26 Jan) and the single one.
    let (s, h, body) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "1")],
        query("20260112T000000Z", "20260202T000000Z", true).as_bytes()
    );
    assert_eq!(s, StatusCode::MULTI_STATUS, "{body}");
    assert!(h
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let (resps, token) = multistatus(&body);
    assert_eq!(token, None);
    let mut hrefs: Vec<&str> = resps.iter().map(|r| r.href.as_str()).collect();
    hrefs.sort();
    assert_eq!(
        hrefs,
        [format!("{CAL}single.ics"), format!("{CAL}weekly.ics")]
    );
    let weekly = resps
        .iter()
        .find(|r| r.href.ends_with("weekly.ics"))
        .unwrap();
    let (status, etag) = weekly.prop(DAV, "getetag").unwrap();
    assert!(
        status.contains("200") && etag.starts_with('"'),
        "{weekly:?}"
    );
    assert!(weekly.prop(DAV, "displayname").unwrap().0.contains("404"));
    let (_, data) = weekly.prop(C, "calendar-data").unwrap();
    let cal = parse_ical(data);
    // Expanded: instances in UTC with RECURRENCE-ID, no RRULE/EXDATE/VTIMEZONE.
    assert_eq!(
        events(&cal),
        vec![
            (
                "20260112T100000Z".to_string(),
                Some("20260112T100000Z".to_string()),
                "Team meeting".to_string()
            ),
            (
                "20260127T150000Z".to_string(),
                Some("20260126T100000Z".to_string()),
                "Team meeting (moved)".to_string()
            ),
        ]
    );
    assert!(cal
        .components
        .iter()
        .all(|c| c.component_type != ICalendarComponentType::VTimezone));
    for c in &cal.components {
        for p in [
            ICalendarProperty::Rrule,
            ICalendarProperty::Exdate,
            ICalendarProperty::Rdate,
        ] {
            assert!(!c.has_property(&p), "{data}");
        }
    }
    // The master's alarm comes with its instance.
    assert_eq!(
        cal.components
            .iter()
            .filter(|c| c.component_type == ICalendarComponentType::VAlarm)
            .count(),
        1,
        "{data}"
    );
    let single = resps
        .iter()
        .find(|r| r.href.ends_with("single.ics"))
        .unwrap();
    let cal = parse_ical(single.prop(C, "calendar-data").unwrap().1);
    assert_eq!(
        events(&cal),
        vec![("20260120T090000Z".to_string(), None, "Dentist".to_string())]
    );

    // Without expand the stored object comes back whole.
    let (_, _, body) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "1")],
        query("20260112T000000Z", "20260113T000000Z", false).as_bytes()
    );
    let (resps, _) = multistatus(&body);
    assert_eq!(resps.len(), 1, "{body}");
    assert_eq!(resps[0].prop(C, "calendar-data").unwrap().1, WEEKLY);

    // The excluded 19 Jan and the moved-away 26 Jan slot match nothing of the series;
    // 27 Jan (where the instance went) does.
    for (start, end, want) in [
        ("20260119T000000Z", "20260120T000000Z", 0),
        ("20260126T000000Z", "20260127T000000Z", 0),
        ("20260127T000000Z", "20260128T000000Z", 1),
        ("20260302T000000Z", "20260310T000000Z", 1),
    ] {
        let (s, _, body) = call!(
            svc,
            "REPORT",
            CAL,
            [("Depth", "1")],
            query(start, end, false).as_bytes()
        );
        assert_eq!(s, StatusCode::MULTI_STATUS);
        let (resps, _) = multistatus(&body);
        let weekly = resps
            .iter()
            .filter(|r| r.href.ends_with("weekly.ics"))
            .count();
        assert_eq!(weekly, want, "{start}-{end}: {body}");
    }

    // Depth 0 on one object: only it; a component selection keeps what was named.
    let sel = format!(
        "<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"{C}\"><D:prop><C:calendar-data>\
<C:comp name=\"VCALENDAR\"><C:prop name=\"VERSION\"/><C:comp name=\"VEVENT\">\
<C:prop name=\"SUMMARY\"/><C:prop name=\"UID\"/></C:comp></C:comp></C:calendar-data></D:prop>\
<C:filter><C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>"
    );
    let (s, _, body) = call!(
        svc,
        "REPORT",
        format!("{CAL}single.ics"),
        [("Depth", "0")],
        sel.as_bytes()
    );
    assert_eq!(s, StatusCode::MULTI_STATUS);
    let (resps, _) = multistatus(&body);
    assert_eq!(resps.len(), 1);
    let cal = parse_ical(resps[0].prop(C, "calendar-data").unwrap().1);
    let ev = cal
        .components
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::VEvent)
        .unwrap();
    let names: Vec<&str> = ev.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["UID", "SUMMARY"]);
    assert!(cal.components[0].has_property(&ICalendarProperty::Version));
    assert!(!cal.components[0].has_property(&ICalendarProperty::Prodid));
}

#[actix_rt::test]
async fn multiget_free_busy_and_refusals() {
    let w = calendar_world();
    let svc = service!(w);
    let body = format!(
        "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"{C}\"><D:prop><D:getetag/>\
<C:calendar-data/></D:prop><D:href>{CAL}single.ics</D:href><D:href>{CAL}missing.ics</D:href>\
<D:href>http://example.com{CAL}later.ics</D:href>\
<D:href>/dav/calendars/root@example.com/calendar/x.ics</D:href>\
<D:href>/dav/calendars/alice@example.com/tasks/x.ics</D:href></C:calendar-multiget>"
    );
    let (s, _, text) = call!(svc, "REPORT", CAL, [], body.as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
    let (resps, _) = multistatus(&text);
    assert_eq!(resps.len(), 5);
    assert!(resps[0]
        .prop(C, "calendar-data")
        .unwrap()
        .1
        .contains("Dentist"));
    assert!(resps[2]
        .prop(C, "calendar-data")
        .unwrap()
        .1
        .contains("Later"));
    assert_eq!(resps[2].href, format!("http://example.com{CAL}later.ics"));
    for i in [1, 3, 4] {
        assert!(
            resps[i].status.as_deref().unwrap().contains("404"),
            "{:?}",
            resps[i]
        );
    }

    // free-busy over 12 Jan - 2 Feb: three busy hours, merged and clipped.
    let fb = format!(
        "<C:free-busy-query xmlns:C=\"{C}\"><C:time-range start=\"20260112T000000Z\" \
end=\"20260202T000000Z\"/></C:free-busy-query>"
    );
    let (s, h, text) = call!(svc, "REPORT", CAL, [("Depth", "1")], fb.as_bytes());
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(h
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let cal = parse_ical(&text);
    let vfb = cal
        .components
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::VFreebusy)
        .expect("VFREEBUSY");
    let mut periods = Vec::new();
    for e in vfb.properties(&ICalendarProperty::Freebusy) {
        for v in &e.values {
            let ICalendarValue::Period(p) = v else {
                panic!("{v:?}")
            };
            periods.push(p.to_string());
        }
    }
    assert_eq!(
        periods,
        [
            "20260112T100000Z/20260112T110000Z",
            "20260120T090000Z/20260120T100000Z",
            "20260127T150000Z/20260127T160000Z"
        ]
    );

    // Another account's calendar: 404, as if it did not exist.
    let (s, _, _) = call!(
        svc,
        "REPORT",
        "/dav/calendars/root@example.com/calendar/",
        [("Depth", "1")],
        query("20260112T000000Z", "20260202T000000Z", false).as_bytes()
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A calendar-query on an address book: 403 supported-report.
    let (s, _, text) = call!(
        svc,
        "REPORT",
        BOOK,
        [("Depth", "1")],
        query("20260112T000000Z", "20260202T000000Z", false).as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(text.contains("supported-report"), "{text}");
    // A bad time-range: 403 CALDAV:valid-filter in the CalDAV namespace.
    let (s, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "1")],
        query("20260112", "20260202T000000Z", false).as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(text.contains(C) && text.contains("valid-filter"), "{text}");
    // Unknown report: 403 supported-report; not XML: 400.
    let (s, _, _) = call!(svc, "REPORT", CAL, [], b"<x:nope xmlns:x=\"urn:x\"/>");
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call!(svc, "REPORT", CAL, [], b"<not xml");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // calendar-data in a version this server does not write.
    let body = format!(
        "<C:calendar-multiget xmlns:D=\"DAV:\" xmlns:C=\"{C}\"><D:prop>\
<C:calendar-data content-type=\"application/calendar+json\"/></D:prop>\
<D:href>{CAL}single.ics</D:href></C:calendar-multiget>"
    );
    let (s, _, text) = call!(svc, "REPORT", CAL, [], body.as_bytes());
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(text.contains("supported-calendar-data"), "{text}");
}

fn book_query(value: &str, limit: Option<u32>, props: &str) -> String {
    let limit = limit
        .map(|n| format!("<CR:limit><CR:nresults>{n}</CR:nresults></CR:limit>"))
        .unwrap_or_default();
    format!(
        "<CR:addressbook-query xmlns:D=\"DAV:\" xmlns:CR=\"{CARD}\"><D:prop><D:getetag/>\
<CR:address-data version=\"3.0\">{props}</CR:address-data></D:prop><CR:filter>\
<CR:prop-filter name=\"FN\"><CR:text-match match-type=\"contains\">{value}</CR:text-match>\
</CR:prop-filter></CR:filter>{limit}</CR:addressbook-query>"
    )
}

#[actix_rt::test]
async fn addressbook_query_text_match_limit_and_address_data() {
    let w = world("");
    put_card(&w, "a.vcf", &card("c-a", "Anna Smith", "anna@example.net"));
    put_card(
        &w,
        "b.vcf",
        &card("c-b", "Bert Smithers", "bert@example.net"),
    );
    put_card(
        &w,
        "c.vcf",
        &card("c-c", "Carla Jones", "carla@example.net"),
    );
    let svc = service!(w);
    let props = "<CR:prop name=\"FN\"/><CR:prop name=\"EMAIL\"/><CR:prop name=\"UID\"/>";
    let (s, _, text) = call!(
        svc,
        "REPORT",
        BOOK,
        [("Depth", "1")],
        book_query("smith", None, props).as_bytes()
    );
    assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
    let (resps, _) = multistatus(&text);
    let mut hrefs: Vec<&str> = resps.iter().map(|r| r.href.as_str()).collect();
    hrefs.sort();
    assert_eq!(hrefs, [format!("{BOOK}a.vcf"), format!("{BOOK}b.vcf")]);
    // vCard 4.0 stored, 3.0 asked for, TEL not selected.
    let data = resps[0].prop(CARD, "address-data").unwrap().1;
    let parsed = match Parser::new(data).entry() {
        Entry::VCard(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(parsed.version(), Some(calcard::vcard::VCardVersion::V3_0));
    let names: Vec<&str> = parsed
        .entries
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| *n != "VERSION")
        .collect();
    assert_eq!(names, ["UID", "FN", "EMAIL"], "{data}");

    // limit 1 of 2 matches: one card and a 507 for the collection.
    let (s, _, text) = call!(
        svc,
        "REPORT",
        BOOK,
        [("Depth", "1")],
        book_query("smith", Some(1), "").as_bytes()
    );
    assert_eq!(s, StatusCode::MULTI_STATUS);
    let (resps, _) = multistatus(&text);
    assert_eq!(resps.len(), 2, "{text}");
    assert!(resps[0].href.ends_with(".vcf"));
    assert_eq!(resps[1].href, BOOK);
    assert!(resps[1].status.as_deref().unwrap().contains("507"));
    assert_eq!(
        resps[1].error.as_deref(),
        Some("number-of-matches-within-limits")
    );
    // A limit the matches fit in: no 507.
    let (_, _, text) = call!(
        svc,
        "REPORT",
        BOOK,
        [("Depth", "1")],
        book_query("smith", Some(2), "").as_bytes()
    );
    assert_eq!(multistatus(&text).0.len(), 2);

    // addressbook-multiget with a missing card; a version that cannot be written.
    let mg = format!(
        "<CR:addressbook-multiget xmlns:D=\"DAV:\" xmlns:CR=\"{CARD}\"><D:prop><D:getetag/>\
<CR:address-data/></D:prop><D:href>{BOOK}c.vcf</D:href><D:href>{BOOK}zz.vcf</D:href>\
</CR:addressbook-multiget>"
    );
    let (s, _, text) = call!(svc, "REPORT", BOOK, [], mg.as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS);
    let (resps, _) = multistatus(&text);
    assert!(resps[0]
        .prop(CARD, "address-data")
        .unwrap()
        .1
        .contains("FN:Carla Jones"));
    assert!(resps[1].status.as_deref().unwrap().contains("404"));
    let bad = mg.replace("<CR:address-data/>", "<CR:address-data version=\"2.1\"/>");
    let (s, _, text) = call!(svc, "REPORT", BOOK, [], bad.as_bytes());
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        text.contains(CARD) && text.contains("supported-address-data"),
        "{text}"
    );
}

fn sync_body(token: &str, limit: Option<u32>) -> String {
    let limit = limit
        .map(|n| format!("<D:limit><D:nresults>{n}</D:nresults></D:limit>"))
        .unwrap_or_default();
    format!(
        "<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>{token}</D:sync-token>\
<D:sync-level>1</D:sync-level>{limit}<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
}

/// (href, etag or status) of each response, sorted.
fn summary(resps: &[Resp]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = resps
        .iter()
        .map(|r| {
            let what = match r.prop(DAV, "getetag") {
                Some((_, etag)) => etag.to_string(),
                None => r.status.clone().unwrap_or_default(),
            };
            (r.href.rsplit('/').next().unwrap().to_string(), what)
        })
        .collect();
    out.sort();
    out
}

#[actix_rt::test]
async fn sync_collection_initial_change_delete_and_expired() {
    let w = calendar_world();
    let svc = service!(w);
    let sync = |token: &str| sync_body(token, None);

    // Initial: every member with its ETag, and a token.
    let (s, _, text) = call!(svc, "REPORT", CAL, [("Depth", "0")], sync("").as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
    let (resps, token) = multistatus(&text);
    let first = token.expect("sync-token");
    assert_eq!(parse_sync_token(&first), Some(3));
    let names: Vec<String> = summary(&resps).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["later.ics", "single.ics", "weekly.ics"]);
    assert!(summary(&resps).iter().all(|(_, e)| e.starts_with('"')));

    // Nothing since: no responses, the same token.
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&first).as_bytes()
    );
    let (resps, token) = multistatus(&text);
    assert!(resps.is_empty(), "{text}");
    assert_eq!(token.as_deref(), Some(first.as_str()));

    // One change: exactly that member, with its new ETag.
    let changed = single(
        "single-1",
        "20260121T090000Z",
        "20260121T100000Z",
        "Dentist moved",
    );
    put_event(&w, "single.ics", &changed);
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&first).as_bytes()
    );
    let (resps, token) = multistatus(&text);
    let second = token.unwrap();
    assert_eq!(
        summary(&resps),
        [(
            "single.ics".to_string(),
            crate::storage::davstore::etag_of(&changed)
        )]
    );

    // One delete: exactly that member, 404.
    let coll = collection_id(&w, "calendar");
    w.ctx
        .store
        .dav_delete(coll, "later.ics", &Condition::Any)
        .expect("delete");
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&second).as_bytes()
    );
    let (resps, token) = multistatus(&text);
    let third = token.unwrap();
    assert_eq!(resps.len(), 1, "{text}");
    assert_eq!(resps[0].href, format!("{CAL}later.ics"));
    assert!(resps[0].status.as_deref().unwrap().contains("404"));
    // From the first token: both.
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&first).as_bytes()
    );
    let (resps, _) = multistatus(&text);
    assert_eq!(summary(&resps).len(), 2);

    // Truncation: limit 1 of (1 change + 1 delete) since the first token: the delete,
    // a 507 for the collection, and a token from which the change is still reported.
    put_event(
        &w,
        "weekly.ics",
        &WEEKLY.replace("SUMMARY:Team meeting\r\n", "SUMMARY:Standup\r\n"),
    );
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync_body(&third, Some(1)).as_bytes()
    );
    let (resps, _) = multistatus(&text);
    assert_eq!(resps.len(), 1, "one change fits: {text}");
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync_body(&first, Some(2)).as_bytes()
    );
    let (resps, token) = multistatus(&text);
    assert_eq!(resps.len(), 3, "{text}");
    assert!(resps[2].status.as_deref().unwrap().contains("507"));
    assert_eq!(
        resps[2].error.as_deref(),
        Some("number-of-matches-within-limits")
    );
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&token.unwrap()).as_bytes()
    );
    let (resps, _) = multistatus(&text);
    assert!(
        resps.iter().any(|r| r.href.ends_with("weekly.ics")),
        "the change left out is reported next: {text}"
    );

    // Invalid and expired tokens: 403 valid-sync-token.
    for bad in [
        "nonsense".to_string(),
        sync_token_uri(999),
        format!("{}x", sync_token_uri(1)),
    ] {
        let (s, _, text) = call!(svc, "REPORT", CAL, [("Depth", "0")], sync(&bad).as_bytes());
        assert_eq!(s, StatusCode::FORBIDDEN, "{bad}");
        assert!(text.contains("valid-sync-token"), "{text}");
    }
    w.ctx.store.dav_prune_tombstones(coll, 0).expect("prune");
    let (s, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&first).as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(text.contains("valid-sync-token"), "{text}");
    // sync-collection takes Depth 0 (1, as the python caldav library sends, counts as 0;
    // infinity is refused) and a collection.
    let (s, _, text) = call!(svc, "REPORT", CAL, [("Depth", "1")], sync("").as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
    assert!(text.contains("<D:sync-token>"), "{text}");
    let (s, _, _) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "infinity")],
        sync("").as_bytes()
    );
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call!(
        svc,
        "REPORT",
        format!("{CAL}weekly.ics"),
        [("Depth", "0")],
        sync("").as_bytes()
    );
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call!(
        svc,
        "REPORT",
        "/dav/addressbooks/root@example.com/contacts/",
        [("Depth", "0")],
        sync("").as_bytes()
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A continuation of a paged initial sync carries its floor (`…/<token>-<floor>`); a
/// plain token is its own floor, and a floor not above the token is not ours.
#[test]
fn sync_points_round_trip() {
    for (t, f) in [(1, 2), (3, 700), (0, u64::MAX)] {
        assert_eq!(parse_sync_point(&sync_point_uri(t, f)), Some((t, f)));
        assert_eq!(parse_sync_token(&sync_point_uri(t, f)), None);
    }
    assert_eq!(sync_point_uri(5, 5), sync_token_uri(5));
    assert_eq!(sync_point_uri(7, 3), sync_token_uri(7));
    assert_eq!(parse_sync_point(&sync_token_uri(42)), Some((42, 42)));
    for bad in ["5-5", "7-3", "-3", "3-", "3-4-5", "3--4", "a-4"] {
        let token = format!("{}{bad}", sync_token_uri(0).trim_end_matches('0'));
        assert_eq!(parse_sync_point(&token), None, "{token}");
    }
}

#[test]
fn sync_tokens_round_trip() {
    for n in [0, 1, 42, u64::MAX] {
        assert_eq!(parse_sync_token(&sync_token_uri(n)), Some(n));
    }
    for bad in [
        "",
        "42",
        "http://ferrymail.invalid/sync/",
        "http://ferrymail.invalid/sync/-1",
    ] {
        assert_eq!(parse_sync_token(bad), None, "{bad}");
    }
}

/// The writers run without HTTP and hand output on in bounded chunks: a query over many
/// objects never builds the whole answer.
#[actix_rt::test]
async fn writers_stream_in_bounded_chunks() {
    let w = world("");
    let coll = collection_id(&w, "calendar");
    for i in 0..300 {
        let data = single(
            &format!("u{i}"),
            "20260120T090000Z",
            "20260120T100000Z",
            &"x".repeat(1000),
        );
        let obj = validate_calendar(&data, &ComponentKind::ALL, usize::MAX).unwrap();
        w.ctx
            .store
            .dav_put(
                coll,
                &NewObject {
                    name: format!("{i}.ics"),
                    uid: obj.uid,
                    data,
                    component: "VEVENT".into(),
                    first: obj.first,
                    last: obj.last,
                },
                &Condition::Any,
            )
            .unwrap();
    }
    let q = match crate::protocols::davreport::parse(
        query("20260101T000000Z", "20260201T000000Z", false).as_bytes(),
    )
    .unwrap()
    {
        crate::protocols::davreport::Report::CalendarQuery(q) => q,
        other => panic!("{other:?}"),
    };
    let objects = w.ctx.store.dav_objects(coll).unwrap();
    let base = (
        ALICE.to_string(),
        CollectionKind::Calendar,
        "calendar".into(),
    );
    let mut chunks = Vec::new();
    let mut emit = |s: String| {
        chunks.push(s.len());
        true
    };
    let mut sink = Sink::new(&mut emit);
    super::report::calendar_query(
        &base,
        objects.into_iter().map(Ok),
        &q,
        calcard::common::timezone::Tz::UTC,
        &mut sink,
    );
    sink.finish();
    let total: usize = chunks.iter().sum();
    assert!(total > 300 * 1000, "{total}");
    assert!(chunks.len() > 4, "{chunks:?}");
    assert!(
        chunks.iter().all(|c| *c < 64 * 1024 + 16 * 1024),
        "{chunks:?}"
    );
}

/// Resident memory in KiB: (current, peak) from /proc/self/status.
fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// One measurement (run alone: `cargo test --lib report_memory -- --ignored
/// --nocapture`): a calendar-query answering every one of 10,000 objects of about 2 KiB
/// raises the process's peak resident memory by less than one more copy of the
/// collection, because the answer is handed on in chunks and each object dropped once
/// written. Measured on Linux through VmHWM (peak reset through clear_refs); on
/// 2026-12-05 (debug build): a 19,412 KiB collection, a 23,874 KiB answer, the peak grew
/// by 3,184 KiB.
#[actix_rt::test]
#[ignore]
async fn report_memory_10k() {
    use crate::storage::davstore::DavObject;
    let Some(_) = rss_kib() else {
        eprintln!("SKIP: no /proc/self/status to measure memory with");
        return;
    };
    let objects: Vec<DavObject> = (0..10_000)
        .map(|i| {
            let data = single(
                &format!("u{i}"),
                "20260120T090000Z",
                "20260120T100000Z",
                &"x".repeat(1800),
            );
            DavObject {
                name: format!("{i}.ics"),
                uid: format!("u{i}"),
                etag: crate::storage::davstore::etag_of(&data),
                data,
                component: "VEVENT".into(),
                first: None,
                last: None,
                changed: 1,
                schedule_tag: 1,
                modified: 0,
            }
        })
        .collect();
    let collection_kib = objects.iter().map(|o| o.data.len()).sum::<usize>() as u64 / 1024;
    let q = match crate::protocols::davreport::parse(
        query("20260101T000000Z", "20260201T000000Z", false).as_bytes(),
    )
    .unwrap()
    {
        crate::protocols::davreport::Report::CalendarQuery(q) => q,
        other => panic!("{other:?}"),
    };
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let (before, _) = rss_kib().unwrap();
    let base = (
        ALICE.to_string(),
        CollectionKind::Calendar,
        "calendar".into(),
    );
    let mut written = 0usize;
    let mut emit = |s: String| {
        written += s.len();
        true
    };
    let mut sink = Sink::new(&mut emit);
    super::report::calendar_query(
        &base,
        objects.into_iter().map(Ok),
        &q,
        calcard::common::timezone::Tz::UTC,
        &mut sink,
    );
    sink.finish();
    let (_, peak) = rss_kib().unwrap();
    let grew = peak.saturating_sub(before);
    eprintln!(
        "report_memory_10k: collection {collection_kib} KiB, answer {} KiB, peak grew by \
{grew} KiB (peak reset: {reset})",
        written / 1024
    );
    assert!(written / 1024 > collection_kib as usize);
    if reset {
        assert!(grew < collection_kib, "peak grew by {grew} KiB");
    }
}

/// limit-recurrence-set keeps the master whole and only the overridden instances in the
/// range; limit-freebusy-set drops the periods outside it (RFC 4791 §9.6.6, §9.6.7).
#[test]
fn limit_recurrence_and_freebusy_sets() {
    use crate::protocols::caldav::caldata;
    use crate::protocols::caldav::filter::TimeRange;
    use crate::protocols::caldav::report::CalendarData;
    use crate::protocols::caldav::validate::parse_calendar;
    use calcard::common::timezone::Tz;
    let utc = |s: &str| {
        chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc()
            .timestamp()
    };
    let range = |a: &str, b: &str| TimeRange {
        start: Some(utc(a)),
        end: Some(utc(b)),
    };
    let cal = parse_calendar(WEEKLY).unwrap();
    for (r, moved_kept) in [
        (range("20260105T000000Z", "20260113T000000Z"), false),
        (range("20260127T000000Z", "20260128T000000Z"), true),
    ] {
        let sel = CalendarData {
            limit_recurrence_set: Some(r),
            ..CalendarData::default()
        };
        let out = parse_ical(&caldata::shape(&cal, &sel, Tz::UTC).unwrap());
        let evs: Vec<_> = out
            .components
            .iter()
            .filter(|c| c.component_type == ICalendarComponentType::VEvent)
            .collect();
        assert!(evs[0].has_property(&ICalendarProperty::Rrule));
        assert_eq!(evs.len(), if moved_kept { 2 } else { 1 });
        assert!(out
            .components
            .iter()
            .any(|c| c.component_type == ICalendarComponentType::VTimezone));
    }

    let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VFREEBUSY\r\n\
UID:fb-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T000000Z\r\nDTEND:20260301T000000Z\r\n\
FREEBUSY:20260105T100000Z/20260105T110000Z,20260210T100000Z/PT1H\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260220T100000Z/20260220T110000Z\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let cal = parse_calendar(fb).unwrap();
    let sel = CalendarData {
        limit_freebusy_set: Some(range("20260201T000000Z", "20260215T000000Z")),
        ..CalendarData::default()
    };
    let out = parse_ical(&caldata::shape(&cal, &sel, Tz::UTC).unwrap());
    let periods: Vec<String> = out
        .components
        .iter()
        .flat_map(|c| c.properties(&ICalendarProperty::Freebusy))
        .flat_map(|e| e.values.iter())
        .map(|v| match v {
            ICalendarValue::Period(p) => p.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(periods, ["20260210T100000Z/PT1H"]);
}
