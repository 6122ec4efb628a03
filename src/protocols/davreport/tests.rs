//! Table tests of CalDAV REPORT bodies: RFC 4791's own examples (§7.8.1-§7.8.9, §7.9.1,
//! §7.10.1) and bodies as Apple Calendar, Thunderbird and DAVx5 send them (other prefixes,
//! default namespaces, whitespace), each parsed and, where a filter results, run against
//! small objects to show the parse means what the RFC says.

use calcard::common::timezone::Tz;

use super::{parse, Report};
use crate::protocols::caldav::filter::{CompFilter, CompTest, Evaluator, TimeRange};
use crate::protocols::caldav::report::{
    CalendarData, CalendarQuery, CompSelect, PropSelect, QueryZone, Select,
};
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::protocols::webdav::report::{ReportError, CALDAV, CARDDAV};
use crate::protocols::webdav::request::Propfind;
use crate::protocols::webdav::xml::DAV;
use crate::protocols::webdav::PropName;

/// 2006-01-04 10:00-11:00 UTC, with an attendee who has not answered.
const EVENT: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Example Corp.//CalDAV Client//EN\r\n\
BEGIN:VEVENT\r\n\
UID:DC6C50A017428C5216A2F1CD@example.com\r\n\
DTSTAMP:20060206T001102Z\r\n\
DTSTART:20060104T100000Z\r\n\
DURATION:PT1H\r\n\
SUMMARY:Event #1\r\n\
ORGANIZER:mailto:cyrus@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:lisa@example.com\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// A to-do due 2006-01-08 with an alarm a day before (2006-01-07 09:00 UTC), not
/// completed.
const TODO: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Example Corp.//CalDAV Client//EN\r\n\
BEGIN:VTODO\r\n\
UID:E10BA47467C5C69BB74E8720@example.com\r\n\
DTSTAMP:20060205T235300Z\r\n\
DUE:20060108T090000Z\r\n\
STATUS:NEEDS-ACTION\r\n\
SUMMARY:Task #2\r\n\
BEGIN:VALARM\r\n\
ACTION:AUDIO\r\n\
TRIGGER;RELATED=START:-P1D\r\n\
END:VALARM\r\n\
END:VTODO\r\n\
END:VCALENDAR\r\n";

/// A cancelled to-do.
const CANCELLED_TODO: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Example Corp.//CalDAV Client//EN\r\n\
BEGIN:VTODO\r\n\
UID:E10BA47467C5C69BB74E8725@example.com\r\n\
DTSTAMP:20060205T235600Z\r\n\
DUE:20060108T090000Z\r\n\
STATUS:CANCELLED\r\n\
SUMMARY:Task #4\r\n\
END:VTODO\r\n\
END:VCALENDAR\r\n";

fn t(y: i32, mo: u32, d: u32, h: u32) -> i64 {
    match chrono::NaiveDate::from_ymd_opt(y, mo, d).and_then(|d| d.and_hms_opt(h, 0, 0)) {
        Some(t) => t.and_utc().timestamp(),
        None => panic!("bad test date"),
    }
}

fn range(start: i64, end: i64) -> TimeRange {
    TimeRange {
        start: Some(start),
        end: Some(end),
    }
}

fn query(body: &str) -> CalendarQuery {
    match parse(body.as_bytes()) {
        Ok(Report::CalendarQuery(q)) => q,
        other => panic!("not a calendar-query: {other:?}"),
    }
}

fn matches(data: &str, filter: &CompFilter) -> bool {
    let object = match validate_calendar(data, &ComponentKind::ALL, 1 << 20) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    match Evaluator::new(&object.calendar, Tz::UTC) {
        Ok(ev) => ev.matches(filter),
        Err(e) => panic!("{e}"),
    }
}

/// Which of EVENT, TODO, CANCELLED_TODO a query selects.
fn selected(q: &CalendarQuery) -> [bool; 3] {
    [
        matches(EVENT, &q.filter),
        matches(TODO, &q.filter),
        matches(CANCELLED_TODO, &q.filter),
    ]
}

fn prop(name: &str) -> PropSelect {
    PropSelect {
        name: name.into(),
        novalue: false,
    }
}

fn caldav(local: &str) -> PropName {
    PropName {
        ns: CALDAV.into(),
        local: local.into(),
    }
}

const RFC_7_8_1: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:calendar-query xmlns:D="DAV:"
                 xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:prop>
       <C:calendar-data>
         <C:comp name="VCALENDAR">
           <C:prop name="VERSION"/>
           <C:comp name="VEVENT">
             <C:prop name="SUMMARY"/>
             <C:prop name="UID"/>
             <C:prop name="DTSTART"/>
             <C:prop name="DTEND"/>
             <C:prop name="DURATION"/>
             <C:prop name="RRULE"/>
             <C:prop name="RDATE"/>
             <C:prop name="EXRULE"/>
             <C:prop name="EXDATE"/>
             <C:prop name="RECURRENCE-ID"/>
           </C:comp>
           <C:comp name="VTIMEZONE"/>
         </C:comp>
       </C:calendar-data>
     </D:prop>
     <C:filter>
       <C:comp-filter name="VCALENDAR">
         <C:comp-filter name="VEVENT">
           <C:time-range start="20060104T000000Z"
                         end="20060105T000000Z"/>
         </C:comp-filter>
       </C:comp-filter>
     </C:filter>
   </C:calendar-query>"#;

#[test]
fn rfc4791_7_8_1_partial_retrieval_by_time_range() {
    let q = query(RFC_7_8_1);
    let event_props = [
        "SUMMARY",
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXRULE",
        "EXDATE",
        "RECURRENCE-ID",
    ];
    let expected = CompSelect {
        name: "VCALENDAR".into(),
        props: Select::Only(vec![prop("VERSION")]),
        comps: Select::Only(vec![
            CompSelect {
                name: "VEVENT".into(),
                props: Select::Only(event_props.iter().map(|p| prop(p)).collect()),
                comps: Select::Only(vec![]),
            },
            CompSelect {
                name: "VTIMEZONE".into(),
                props: Select::Only(vec![]),
                comps: Select::Only(vec![]),
            },
        ]),
    };
    assert_eq!(
        q.calendar_data,
        Some(CalendarData {
            comp: Some(expected),
            ..CalendarData::default()
        })
    );
    assert_eq!(q.props, Some(Propfind::Prop(vec![caldav("calendar-data")])));
    assert_eq!(
        q.filter,
        CompFilter {
            name: "VCALENDAR".into(),
            test: CompTest::Match {
                time_range: None,
                props: vec![],
                comps: vec![CompFilter {
                    name: "VEVENT".into(),
                    test: CompTest::Match {
                        time_range: Some(range(t(2006, 1, 4, 0), t(2006, 1, 5, 0))),
                        props: vec![],
                        comps: vec![],
                    },
                }],
            },
        }
    );
    assert_eq!(q.timezone, None);
    assert_eq!(selected(&q), [true, false, false]);
}

/// §7.8.2-§7.8.4: limit-recurrence-set, expand and limit-freebusy-set.
#[test]
fn rfc4791_7_8_2_to_4_calendar_data_ranges() {
    let body = |inner: &str, comp: &str, start: &str, end: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:calendar-query xmlns:D="DAV:"
                     xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:prop>
       <C:calendar-data>
         {inner}
       </C:calendar-data>
     </D:prop>
     <C:filter>
       <C:comp-filter name="VCALENDAR">
         <C:comp-filter name="{comp}">
           <C:time-range start="{start}"
                         end="{end}"/>
         </C:comp-filter>
       </C:comp-filter>
     </C:filter>
   </C:calendar-query>"#
        )
    };
    let days = range(t(2006, 1, 3, 0), t(2006, 1, 5, 0));
    let q = query(&body(
        r#"<C:limit-recurrence-set start="20060103T000000Z" end="20060105T000000Z"/>"#,
        "VEVENT",
        "20060103T000000Z",
        "20060105T000000Z",
    ));
    let data = q.calendar_data.clone().unwrap_or_default();
    assert_eq!((data.limit_recurrence_set, data.expand), (Some(days), None));
    assert_eq!(selected(&q), [true, false, false]);

    let q = query(&body(
        r#"<C:expand start="20060103T000000Z" end="20060105T000000Z"/>"#,
        "VEVENT",
        "20060103T000000Z",
        "20060105T000000Z",
    ));
    let data = q.calendar_data.unwrap_or_default();
    assert_eq!((data.expand, data.limit_recurrence_set), (Some(days), None));

    let q = query(&body(
        r#"<C:limit-freebusy-set start="20060102T000000Z" end="20060103T000000Z"/>"#,
        "VFREEBUSY",
        "20060102T000000Z",
        "20060103T000000Z",
    ));
    let data = q.calendar_data.clone().unwrap_or_default();
    assert_eq!(
        data.limit_freebusy_set,
        Some(range(t(2006, 1, 2, 0), t(2006, 1, 3, 0)))
    );
    assert_eq!(selected(&q), [false, false, false]);
}

fn rfc_query(prop: &str, filter: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:prop xmlns:D="DAV:">
       {prop}
     </D:prop>
     <C:filter>
       <C:comp-filter name="VCALENDAR">
         {filter}
       </C:comp-filter>
     </C:filter>
   </C:calendar-query>"#
    )
}

/// §7.8.5-§7.8.9 (filters of alarms, UID, PARTSTAT, component type, pending to-dos), each
/// with the objects it selects among EVENT, TODO and CANCELLED_TODO.
#[test]
fn rfc4791_7_8_5_to_9_filters_select_what_the_rfc_says() {
    let cases: &[(&str, &str, &str, [bool; 3])] = &[
        (
            "7.8.5 to-dos by alarm time range",
            "<C:calendar-data/>",
            r#"<C:comp-filter name="VTODO">
           <C:comp-filter name="VALARM">
             <C:time-range start="20060106T100000Z"
                           end="20060107T100000Z"/>
           </C:comp-filter>
         </C:comp-filter>"#,
            [false, true, false],
        ),
        (
            "7.8.6 event by UID",
            "<D:getetag/>\n<C:calendar-data/>",
            r#"<C:comp-filter name="VEVENT">
           <C:prop-filter name="UID">
             <C:text-match collation="i;octet"
             >DC6C50A017428C5216A2F1CD@example.com</C:text-match>
           </C:prop-filter>
         </C:comp-filter>"#,
            [true, false, false],
        ),
        (
            "7.8.7 events by PARTSTAT",
            "<D:getetag/>\n<C:calendar-data/>",
            r#"<C:comp-filter name="VEVENT">
           <C:prop-filter name="ATTENDEE">
             <C:text-match collation="i;ascii-casemap"
              >mailto:lisa@example.com</C:text-match>
             <C:param-filter name="PARTSTAT">
               <C:text-match collation="i;ascii-casemap"
                >NEEDS-ACTION</C:text-match>
             </C:param-filter>
           </C:prop-filter>
         </C:comp-filter>"#,
            [true, false, false],
        ),
        (
            "7.8.8 events only",
            "<D:getetag/>\n<C:calendar-data/>",
            r#"<C:comp-filter name="VEVENT"/>"#,
            [true, false, false],
        ),
        (
            "7.8.9 all pending to-dos",
            "<C:calendar-data/>",
            r#"<C:comp-filter name="VTODO">
           <C:prop-filter name="COMPLETED">
             <C:is-not-defined/>
           </C:prop-filter>
           <C:prop-filter name="STATUS">
             <C:text-match
                negate-condition="yes">CANCELLED</C:text-match>
           </C:prop-filter>
         </C:comp-filter>"#,
            [false, true, false],
        ),
    ];
    for (name, prop, filter, expected) in cases {
        let q = query(&rfc_query(prop, filter));
        assert_eq!(&selected(&q), expected, "{name}");
        assert_eq!(
            q.calendar_data,
            Some(CalendarData::default()),
            "{name}: an empty calendar-data asks for the whole object"
        );
    }
}

/// A text-match's case follows its collation: i;octet is exact, the default folds ASCII.
#[test]
fn collations_change_what_matches() {
    let filter = |attr: &str| {
        rfc_query(
            "<C:calendar-data/>",
            &format!(
                r#"<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY">
                <C:text-match{attr}>event #1</C:text-match></C:prop-filter></C:comp-filter>"#
            ),
        )
    };
    assert_eq!(selected(&query(&filter(""))), [true, false, false]);
    assert_eq!(
        selected(&query(&filter(r#" collation="i;octet""#))),
        [false, false, false]
    );
    assert_eq!(
        selected(&query(&filter(r#" collation="i;unicode-casemap""#))),
        [true, false, false]
    );
    assert_eq!(
        parse(filter(r#" collation="i;ascii-numeric""#).as_bytes()),
        Err(ReportError::UnsupportedCollation {
            ns: CALDAV,
            name: "i;ascii-numeric".into()
        })
    );
    let e = ReportError::UnsupportedCollation {
        ns: CALDAV,
        name: String::new(),
    };
    assert_eq!(
        (e.status(), e.precondition()),
        (403, Some((CALDAV, "supported-collation")))
    );
}

/// §7.9.1's body with the collection of its hrefs renamed (`calendar`).
#[test]
fn rfc4791_7_9_1_multiget_and_7_10_1_free_busy() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:calendar-multiget xmlns:D="DAV:"
                    xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:prop>
       <D:getetag/>
       <C:calendar-data/>
     </D:prop>
     <D:href>/bernard/calendar/abcd1.ics</D:href>
     <D:href>/bernard/calendar/mtg1.ics</D:href>
   </C:calendar-multiget>"#;
    match parse(body.as_bytes()) {
        Ok(Report::CalendarMultiget(m)) => {
            assert_eq!(
                m.hrefs,
                vec!["/bernard/calendar/abcd1.ics", "/bernard/calendar/mtg1.ics"]
            );
            assert_eq!(
                m.props,
                Some(Propfind::Prop(vec![
                    PropName::dav("getetag"),
                    caldav("calendar-data")
                ]))
            );
            assert_eq!(m.calendar_data, Some(CalendarData::default()));
        }
        other => panic!("{other:?}"),
    }
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
     <C:time-range start="20060104T140000Z"
                     end="20060105T220000Z"/>
   </C:free-busy-query>"#;
    assert_eq!(
        parse(body.as_bytes()),
        Ok(Report::FreeBusyQuery(range(
            t(2006, 1, 4, 14),
            t(2006, 1, 5, 22)
        )))
    );
}

/// Bodies as clients send them: Apple's B:/A: prefixes with an open-ended range,
/// Thunderbird's default CalDAV namespace, DAVx5's default DAV: namespace, and a
/// timezone element.
#[test]
fn client_bodies_parse_alike() {
    let apple = r#"<?xml version="1.0" encoding="UTF-8"?>
<B:calendar-query xmlns:B="urn:ietf:params:xml:ns:caldav">
  <A:prop xmlns:A="DAV:">
    <A:getetag/>
    <A:getcontenttype/>
  </A:prop>
  <B:filter>
    <B:comp-filter name="VCALENDAR">
      <B:comp-filter name="VEVENT">
        <B:time-range start="20060104T103000Z"/>
      </B:comp-filter>
    </B:comp-filter>
  </B:filter>
</B:calendar-query>"#;
    let q = query(apple);
    assert_eq!(
        q.props,
        Some(Propfind::Prop(vec![
            PropName::dav("getetag"),
            PropName::dav("getcontenttype")
        ]))
    );
    assert_eq!(q.calendar_data, None);
    assert_eq!(selected(&q), [true, false, false]);

    let thunderbird = r#"<?xml version="1.0" encoding="UTF-8"?>
<calendar-query xmlns:D="DAV:" xmlns="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><filter><comp-filter name="VCALENDAR"><comp-filter name="VTODO"/></comp-filter></filter></calendar-query>"#;
    assert_eq!(selected(&query(thunderbird)), [false, true, true]);

    let davx5 = "<?xml version='1.0' encoding='UTF-8' ?><CAL:calendar-query \
        xmlns=\"DAV:\" xmlns:CAL=\"urn:ietf:params:xml:ns:caldav\"><prop><getetag /></prop>\
        <CAL:filter><CAL:comp-filter name=\"VCALENDAR\"><CAL:comp-filter name=\"VEVENT\">\
        <CAL:time-range start=\"20060101T000000Z\" end=\"20060104T100000Z\" />\
        </CAL:comp-filter></CAL:comp-filter></CAL:filter>\
        <CAL:timezone>BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n</CAL:timezone></CAL:calendar-query>";
    let q = query(davx5);
    assert_eq!(
        q.props,
        Some(Propfind::Prop(vec![PropName::dav("getetag")]))
    );
    // The event starts at the range's end: not in it.
    assert_eq!(selected(&q), [false, false, false]);
    // XML's end-of-line handling (XML 1.0 §2.11) turns the CRLFs into LFs; iCalendar
    // parsing accepts either.
    assert_eq!(
        q.timezone,
        Some(QueryZone::Calendar(
            "BEGIN:VCALENDAR\nEND:VCALENDAR\n".into()
        ))
    );
    let with_id = apple.replace(
        "</B:filter>",
        "</B:filter><B:timezone-id>Europe/Berlin</B:timezone-id>",
    );
    assert_eq!(
        query(&with_id).timezone,
        Some(QueryZone::Id("Europe/Berlin".into()))
    );
}

#[test]
fn refusals_name_their_precondition() {
    let q = |filter: &str| rfc_query("<C:calendar-data/>", filter);
    let invalid = |body: &str| match parse(body.as_bytes()) {
        Err(e @ ReportError::InvalidFilter(_)) => {
            assert_eq!(e.precondition(), Some((CALDAV, "valid-filter")));
            assert_eq!(e.status(), 403);
        }
        other => panic!("{body}: {other:?}"),
    };
    invalid(&q(
        r#"<C:comp-filter name="VEVENT"><C:time-range/></C:comp-filter>"#,
    ));
    invalid(&q(
        r#"<C:comp-filter name="VEVENT"><C:time-range start="2006-01-04"/></C:comp-filter>"#,
    ));
    invalid(&q(
        r#"<C:comp-filter name="VEVENT"><C:time-range start="20060104T000000"/></C:comp-filter>"#,
    ));
    invalid(&q(
        r#"<C:comp-filter name="VEVENT"><C:time-range start="20060105T000000Z" end="20060104T000000Z"/></C:comp-filter>"#,
    ));
    invalid(&q(
        r#"<C:comp-filter name="VEVENT"><C:time-range start="20061304T000000Z"/></C:comp-filter>"#,
    ));
    // Not rooted at VCALENDAR, or two roots.
    invalid(
        r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VEVENT"/></C:filter></C:calendar-query>"#,
    );
    invalid(
        r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:filter><C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#,
    );
    // expand needs both ends.
    invalid(&rfc_query(
        r#"<C:calendar-data><C:expand start="20060103T000000Z"/></C:calendar-data>"#,
        r#"<C:comp-filter name="VEVENT"/>"#,
    ));
    // A prop-filter is a time-range or a text-match, not both (§9.7.2).
    invalid(&q(
        r#"<C:comp-filter name="VEVENT"><C:prop-filter name="DTSTAMP"><C:time-range start="20060104T000000Z"/><C:text-match>x</C:text-match></C:prop-filter></C:comp-filter>"#,
    ));
    // free-busy-query needs both ends.
    invalid(
        r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060104T140000Z"/></C:free-busy-query>"#,
    );

    let bad_xml = |body: &str| match parse(body.as_bytes()) {
        Err(e @ ReportError::BadXml(_)) => assert_eq!((e.status(), e.precondition()), (400, None)),
        other => panic!("{body}: {other:?}"),
    };
    bad_xml("");
    bad_xml(r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#);
    bad_xml("<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\">");
    bad_xml(r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#);
    bad_xml(r#"<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#);
    bad_xml(&q(r#"<C:comp-filter><C:is-not-defined/></C:comp-filter>"#));
    bad_xml(&q(
        r#"<C:comp-filter name="VEVENT"><C:prop-filter name="X"><C:text-match negate-condition="maybe">x</C:text-match></C:prop-filter></C:comp-filter>"#,
    ));

    for (ns, local) in [
        (DAV, "expand-property"),
        (DAV, "principal-property-search"),
        (CALDAV, "calendar-search"),
        (CARDDAV, "calendar-query"),
    ] {
        let body = format!("<x:{local} xmlns:x=\"{ns}\"/>");
        let e = parse(body.as_bytes());
        assert_eq!(
            e,
            Err(ReportError::UnsupportedReport(PropName {
                ns: ns.into(),
                local: local.into()
            }))
        );
        if let Err(e) = e {
            assert_eq!(e.precondition(), Some((DAV, "supported-report")));
        }
    }
}

/// is-not-defined on a component, and novalue/allprop/allcomp in calendar-data.
#[test]
fn is_not_defined_and_selection_keywords() {
    let q = query(&rfc_query(
        r#"<C:calendar-data content-type="text/calendar" version="2.0">
          <C:comp name="VCALENDAR"><C:allprop/><C:allcomp/></C:comp>
        </C:calendar-data>"#,
        r#"<C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:is-not-defined/></C:comp-filter></C:comp-filter>"#,
    ));
    assert_eq!(selected(&q), [false, false, true]);
    assert_eq!(
        q.calendar_data,
        Some(CalendarData {
            content_type: Some("text/calendar".into()),
            version: Some("2.0".into()),
            comp: Some(CompSelect {
                name: "VCALENDAR".into(),
                props: Select::All,
                comps: Select::All,
            }),
            ..CalendarData::default()
        })
    );
    let q = query(&rfc_query(
        r#"<C:calendar-data><C:comp name="VCALENDAR"><C:comp name="VEVENT"><C:prop name="ATTACH" novalue="yes"/></C:comp></C:comp></C:calendar-data>"#,
        r#"<C:comp-filter name="VEVENT"><C:prop-filter name="RRULE"><C:is-not-defined/></C:prop-filter></C:comp-filter>"#,
    ));
    assert_eq!(selected(&q), [true, false, false]);
    let comp = q.calendar_data.and_then(|d| d.comp);
    let Some(CompSelect {
        comps: Select::Only(inner),
        ..
    }) = comp
    else {
        panic!("no comp selection");
    };
    assert_eq!(
        inner[0].props,
        Select::Only(vec![PropSelect {
            name: "ATTACH".into(),
            novalue: true
        }])
    );
    // A whole filter: allprop at the top.
    let q = query(
        &rfc_query("", r#"<C:comp-filter name="VEVENT"/>"#)
            .replace("<D:prop xmlns:D=\"DAV:\">", "<D:allprop xmlns:D=\"DAV:\">")
            .replace("</D:prop>", "</D:allprop>"),
    );
    assert_eq!(q.props, Some(Propfind::AllProp { include: vec![] }));
    let q = query(
        &rfc_query("", "")
            .replace(
                "<D:prop xmlns:D=\"DAV:\">",
                "<D:allprop xmlns:D=\"DAV:\"/><D:include xmlns:D=\"DAV:\"><D:getetag/>",
            )
            .replace("</D:prop>", "</D:include>")
            .replace(
                "<C:comp-filter name=\"VCALENDAR\">\n         \n       </C:comp-filter>",
                "<C:comp-filter name=\"VCALENDAR\"/>",
            ),
    );
    assert_eq!(
        q.props,
        Some(Propfind::AllProp {
            include: vec![PropName::dav("getetag")]
        })
    );
}

/// param-filter's three tests and a time-range on a date property (§9.7.2, §9.7.3).
#[test]
fn param_filters_and_property_time_ranges() {
    let cases: &[(&str, [bool; 3])] = &[
        (
            r#"<C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"/></C:prop-filter></C:comp-filter>"#,
            [true, false, false],
        ),
        (
            r#"<C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter>"#,
            [false, false, false],
        ),
        (
            r#"<C:comp-filter name="VEVENT"><C:prop-filter name="ORGANIZER"><C:param-filter name="CN"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter>"#,
            [true, false, false],
        ),
        (
            r#"<C:comp-filter name="VTODO"><C:prop-filter name="DTSTAMP"><C:time-range start="20060205T235500Z" end="20060206T000000Z"/></C:prop-filter></C:comp-filter>"#,
            [false, false, true],
        ),
    ];
    for (filter, expected) in cases {
        let q = query(&rfc_query("<C:calendar-data/>", filter));
        assert_eq!(&selected(&q), expected, "{filter}");
    }
}
