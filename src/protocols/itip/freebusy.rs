//! Free/busy requests to a schedule outbox (RFC 6638 §5, RFC 5546 §3.3): the VFREEBUSY
//! request a client POSTs, and the VFREEBUSY REPLY for one attendee built from busy periods
//! (`protocols::caldav::freebusy`).

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFreeBusyType,
    ICalendarMethod, ICalendarParameter, ICalendarPeriod, ICalendarProperty, ICalendarValue,
};

use super::{address, PRODID};
use crate::protocols::caldav::freebusy::{Busy, BusyKind};
use crate::protocols::caldav::validate::parse_calendar;

/// At most this many attendees in one request (a bound on work).
pub const MAX_ATTENDEES: usize = 100;

/// A parsed VFREEBUSY request.
#[derive(Clone, Debug)]
pub struct FreeBusyRequest {
    pub organizer: String,
    pub attendees: Vec<String>,
    /// `[start, end)`, Unix seconds.
    pub start: i64,
    pub end: i64,
    pub uid: Option<String>,
    /// The request's ORGANIZER property as sent (copied into replies).
    organizer_entry: ICalendarEntry,
}

/// Parses a POSTed `METHOD:REQUEST` VFREEBUSY, or says what is wrong (the caller answers
/// 400 with CALDAV:valid-calendar-data).
pub fn parse_request(text: &str) -> Result<FreeBusyRequest, String> {
    let cal = parse_calendar(text).map_err(|e| format!("{e:?}"))?;
    if super::Method::of(&cal) != Some(super::Method::Request) {
        return Err("METHOD:REQUEST is required".into());
    }
    let comp = cal
        .components
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::VFreebusy)
        .ok_or("no VFREEBUSY")?;
    let organizer_entry = comp
        .property(&ICalendarProperty::Organizer)
        .ok_or("no ORGANIZER")?
        .clone();
    let organizer = organizer_entry
        .values
        .first()
        .and_then(|v| v.as_text())
        .and_then(address)
        .ok_or("ORGANIZER is no address")?;
    let time = |p: ICalendarProperty| -> Result<i64, String> {
        comp.property(&p)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_partial_date_time())
            .and_then(|d| d.to_date_time_with_tz(Tz::UTC))
            .map(|d| d.timestamp())
            .ok_or_else(|| format!("no {} date-time", p.as_str()))
    };
    let (start, end) = (
        time(ICalendarProperty::Dtstart)?,
        time(ICalendarProperty::Dtend)?,
    );
    if end <= start {
        return Err("DTEND is not after DTSTART".into());
    }
    let attendees: Vec<String> = comp
        .properties(&ICalendarProperty::Attendee)
        .filter_map(|e| e.values.first().and_then(|v| v.as_text()).and_then(address))
        .collect();
    if attendees.is_empty() {
        return Err("no ATTENDEE".into());
    }
    if attendees.len() > MAX_ATTENDEES {
        return Err(format!("more than {MAX_ATTENDEES} attendees"));
    }
    Ok(FreeBusyRequest {
        organizer,
        attendees,
        start,
        end,
        uid: comp.uid().map(str::to_string),
        organizer_entry,
    })
}

/// The VFREEBUSY REPLY of `attendee` for `req`, with its busy periods (merged, clipped).
pub fn reply(req: &FreeBusyRequest, attendee: &str, busy: &[Busy], now: i64) -> ICalendar {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Method, ICalendarMethod::Reply);
    root.add_property(ICalendarProperty::Prodid, PRODID.to_string());
    root.add_property(ICalendarProperty::Version, "2.0".to_string());
    let mut fb = ICalendarComponent::new(ICalendarComponentType::VFreebusy);
    if let Some(uid) = &req.uid {
        fb.add_uid(uid);
    }
    fb.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
    let at =
        |t: i64| ICalendarValue::PartialDateTime(Box::new(PartialDateTime::from_utc_timestamp(t)));
    fb.add_property(ICalendarProperty::Dtstart, at(req.start));
    fb.add_property(ICalendarProperty::Dtend, at(req.end));
    fb.entries.push(req.organizer_entry.clone());
    fb.add_property(
        ICalendarProperty::Attendee,
        ICalendarValue::Text(format!("mailto:{attendee}")),
    );
    for b in busy {
        let kind = match b.kind {
            BusyKind::Busy => ICalendarFreeBusyType::Busy,
            BusyKind::BusyTentative => ICalendarFreeBusyType::BusyTentative,
            BusyKind::BusyUnavailable => ICalendarFreeBusyType::BusyUnavailable,
        };
        fb.add_property_with_params(
            ICalendarProperty::Freebusy,
            [ICalendarParameter::fbtype(kind)],
            ICalendarValue::Period(ICalendarPeriod::Range {
                start: PartialDateTime::from_utc_timestamp(b.start),
                end: PartialDateTime::from_utc_timestamp(b.end),
            }),
        );
    }
    ICalendar {
        components: vec![
            ICalendarComponent {
                component_ids: vec![1],
                ..root
            },
            fb,
        ],
    }
}
